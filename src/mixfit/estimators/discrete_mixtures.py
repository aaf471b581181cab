"""``BernoulliMixture`` and ``PoissonMixture``: mixtures of binary and of count features.

Named shortcuts of :class:`~mixfit.MixtureModel`: both are a
:class:`~mixfit.estimators._family_mixture.FamilyMixture` (EM with restarts,
fixed parameters, partial labels, missing values, the queries) on one family
for every column — :class:`~mixfit.families.bernoulli.BernoulliFamily` and
:class:`~mixfit.families.poisson.PoissonFamily` — and differ only in that
family, its parameter and its initial value.
"""

from __future__ import annotations

import numpy as np

from mixfit.estimators._family_mixture import FamilyMixture
from mixfit.families.bernoulli import BernoulliFamily
from mixfit.families.poisson import PoissonFamily

__all__ = ["BernoulliMixture", "PoissonMixture", "SingleFamilyMixture"]


class SingleFamilyMixture(FamilyMixture):
    """A family mixture whose one family models every column (the named shortcuts).

    A subclass defines ``_template()`` (its family) and ``_init_name`` (the
    parameter its ``{name}_init`` argument gives).
    """

    _init_name = None

    def _family_templates(self):
        return [self._template()]

    def _resolve_groups(self, n_features, names):
        return [(self._template(), np.arange(n_features))]

    def _owner(self, family):
        return type(self).__name__

    def _given_values(self):
        value = getattr(self, f"{self._init_name}_init", None)
        return {} if value is None else {self._init_name: value}


class BernoulliMixture(SingleFamilyMixture):
    """Mixture of products of Bernoulli distributions, for binary (0/1) features.

    Clusters binary rows (e.g. binarised images, presence/absence tables):
    component k gives feature j the probability ``probabilities_[k, j]`` of
    being 1, independently of the other features. Fitted by EM.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components K.
    pseudocount : float, default=1.0
        ``a`` in the M-step ``p = (Σ z x + a) / (n_k + 2a)`` (Laplace's rule at
        the default): ``a`` imaginary ones and zeros per component and feature,
        in units of a row of weight 1. It keeps every probability strictly
        inside (0, 1), so no new row is impossible; 0 gives the maximum
        likelihood estimate. EM then maximises the log-likelihood plus
        ``a Σ log p(1 − p)``, so ``lower_bounds_`` (the log-likelihood alone)
        may fall slightly from one iteration to the next.
    tol : float, default=1e-3
        EM stops when the mean per-sample log-likelihood improves by less than this.
    max_iter : int, default=100
        EM iterations per initialisation (0 keeps the initial parameters).
    n_init : int, default=1
        Initialisations to run; the one with the highest final log-likelihood is kept.
    init_params : {"kmeans", "random"}, default="kmeans"
        "kmeans": memberships from one K-means fit (k-means++ seeded);
        "random": random memberships (uniform, normalised per row), which start
        every component near the data's mean: a saddle point EM may leave too
        slowly for ``tol``, so use several ``n_init`` with it.
    weights_init : array-like of shape (n_components,), optional
        Initial weights (they replace the start's).
    probabilities_init : array-like of shape (n_components, n_features), optional
        Initial probabilities (they replace the start's).
    fixed_params : collection of str, optional
        Parameters held at their initial values (given, or from the start)
        while EM updates the others: any of ``"weights"``, ``"probabilities"``.
        BIC and AIC count only the free parameters.
    semi_supervised : bool, default=False
        Whether ``fit(X, y)`` reads ``y`` as partial labels (component
        indices, −1 for unlabelled rows); scikit-learn's mixtures ignore
        ``y``, so this must be asked for.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisations and ``sample``; an int makes ``fit`` reproducible.
    callback : callable, optional
        ``callback(iteration, params, log_likelihood)`` after every EM iteration
        (``params`` is a :class:`mixfit.engine.em.MixtureParams`).
    verbose : int, default=0
        GaussianMixture's progress lines (every 10th iteration).
    n_jobs : int, default=None
        Threads for the E-step (row chunks); None: every core. The result
        does not depend on it.

    Attributes
    ----------
    probabilities_ : ndarray of shape (n_components, n_features)
        Probability that each feature is 1 in each component.
    weights_ : ndarray of shape (n_components,)
        Share of the data in each component.
    converged_ : bool
        Whether the best run met ``tol`` within ``max_iter`` iterations.
    n_iter_ : int
        EM iterations of the best run.
    lower_bound_ : float
        Mean per-sample log-likelihood of the training data at the last E-step
        of the best run (weighted by ``sample_weight``).
    lower_bounds_ : list of float
        That quantity at every iteration of the best run.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X was a DataFrame with string column names.

    Notes
    -----
    Missing values (NaN) are skipped: a row's log-density is that of its
    observed entries, and the M-step uses each feature's observed entries
    only. With ``semi_supervised=True``, ``fit(X, y)`` fits with partial
    labels: a labelled row belongs to its component.

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit import BernoulliMixture
    >>> X = np.array([[1, 1, 0, 0]] * 5 + [[0, 0, 1, 1]] * 5)
    >>> bm = BernoulliMixture(2, pseudocount=0.0, random_state=0).fit(X)
    >>> bm.probabilities_[np.argsort(bm.probabilities_[:, 0])].round(2)
    array([[0., 0., 1., 1.],
           [1., 1., 0., 0.]])
    """

    _consistency_attribute = "probabilities_"
    _init_name = "probabilities"
    _impossible_hint = (
        "a 1 where a component's probability is 0, or a 0 where it is 1. Fit with "
        "pseudocount > 0 to keep every probability strictly between 0 and 1."
    )

    def __init__(self, n_components=1, *, pseudocount=1.0, tol=1e-3, max_iter=100,
                 n_init=1, init_params="kmeans", weights_init=None,
                 probabilities_init=None, fixed_params=None, semi_supervised=False,
                 random_state=None, callback=None, verbose=0, n_jobs=None):
        self.n_components = n_components
        self.pseudocount = pseudocount
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.probabilities_init = probabilities_init
        self.fixed_params = fixed_params
        self.semi_supervised = semi_supervised
        self.random_state = random_state
        self.callback = callback
        self.verbose = verbose
        self.n_jobs = n_jobs

    def _template(self):
        return BernoulliFamily(self.pseudocount)


class PoissonMixture(SingleFamilyMixture):
    """Mixture of products of Poisson distributions, for count features.

    Clusters rows of non-negative integer counts (events, words, reads):
    component k gives feature j the mean count ``rates_[k, j]``,
    independently of the other features. Fitted by EM.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components K.
    tol : float, default=1e-3
        EM stops when the mean per-sample log-likelihood improves by less than this.
    max_iter : int, default=100
        EM iterations per initialisation (0 keeps the initial parameters).
    n_init : int, default=1
        Initialisations to run; the one with the highest final log-likelihood is kept.
    init_params : {"kmeans", "random"}, default="kmeans"
        "kmeans": memberships from one K-means fit (k-means++ seeded);
        "random": random memberships (uniform, normalised per row), which start
        every component near the data's mean: a saddle point EM may leave too
        slowly for ``tol``, so use several ``n_init`` with it.
    weights_init : array-like of shape (n_components,), optional
        Initial weights (they replace the start's).
    rates_init : array-like of shape (n_components, n_features), optional
        Initial rates (they replace the start's).
    fixed_params : collection of str, optional
        Parameters held at their initial values (given, or from the start)
        while EM updates the others: any of ``"weights"``, ``"rates"``.
        BIC and AIC count only the free parameters.
    semi_supervised : bool, default=False
        Whether ``fit(X, y)`` reads ``y`` as partial labels (component
        indices, −1 for unlabelled rows); scikit-learn's mixtures ignore
        ``y``, so this must be asked for.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisations and ``sample``; an int makes ``fit`` reproducible.
    callback : callable, optional
        ``callback(iteration, params, log_likelihood)`` after every EM iteration
        (``params`` is a :class:`mixfit.engine.em.MixtureParams`).
    verbose : int, default=0
        GaussianMixture's progress lines (every 10th iteration).
    n_jobs : int, default=None
        Threads for the E-step (row chunks); None: every core. The result
        does not depend on it.

    Attributes
    ----------
    rates_ : ndarray of shape (n_components, n_features)
        Mean count of each feature in each component (> 0).
    weights_ : ndarray of shape (n_components,)
        Share of the data in each component.
    converged_ : bool
        Whether the best run met ``tol`` within ``max_iter`` iterations.
    n_iter_ : int
        EM iterations of the best run.
    lower_bound_ : float
        Mean per-sample log-likelihood of the training data at the last E-step
        of the best run (weighted by ``sample_weight``).
    lower_bounds_ : list of float
        That quantity at every iteration of the best run.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X was a DataFrame with string column names.

    Notes
    -----
    Missing values (NaN) are skipped: a row's log-density is that of its
    observed entries, and the M-step uses each feature's observed entries
    only. With ``semi_supervised=True``, ``fit(X, y)`` fits with partial
    labels: a labelled row belongs to its component.

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit import PoissonMixture
    >>> X = np.array([[0, 1]] * 5 + [[20, 22]] * 5)
    >>> pm = PoissonMixture(2, random_state=0).fit(X)
    >>> np.sort(pm.rates_[:, 0]).round(1)
    array([ 0., 20.])
    """

    _consistency_attribute = "rates_"
    _init_name = "rates"
    _impossible_hint = "a positive count where a component's rate is 0."

    def __init__(self, n_components=1, *, tol=1e-3, max_iter=100, n_init=1,
                 init_params="kmeans", weights_init=None, rates_init=None,
                 fixed_params=None, semi_supervised=False, random_state=None,
                 callback=None, verbose=0, n_jobs=None):
        self.n_components = n_components
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.rates_init = rates_init
        self.fixed_params = fixed_params
        self.semi_supervised = semi_supervised
        self.random_state = random_state
        self.callback = callback
        self.verbose = verbose
        self.n_jobs = n_jobs

    def _template(self):
        return PoissonFamily()
