"""``StudentMixture``: a mixture of multivariate t distributions, robust to outliers.

A named shortcut of :class:`~mixfit.MixtureModel`: a
:class:`~mixfit.estimators._family_mixture.FamilyMixture` (EM with restarts,
fixed parameters, partial labels, the queries) on
:class:`~mixfit.families.student.StudentFamily` for every column.
"""

from __future__ import annotations

import numpy as np

from mixfit._validation import check_nonnegative_float
from mixfit.estimators.discrete_mixtures import SingleFamilyMixture
from mixfit.families.student import StudentFamily

__all__ = ["StudentMixture"]


class StudentMixture(SingleFamilyMixture):
    """Mixture of multivariate t distributions: clusters that tolerate outliers.

    Like :class:`~mixfit.GaussianMixture`, but each component is a
    multivariate t with ``degrees_of_freedom_[k]`` degrees of freedom: its
    tails are heavier, so rows far from every cluster (outliers, gross
    errors) pull the locations and scales far less. As ν grows the t tends
    to the Gaussian. Fitted by EM (Peel & McLachlan 2000; ν by the ECM
    equation, within [0.5, 200]).

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit import StudentMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(190, 2)), rng.uniform(20, 30, size=(10, 2))])
    >>> tm = StudentMixture(1, random_state=0).fit(X)
    >>> bool(np.abs(tm.means_).max() < 0.3)  # the 5% outliers barely move it
    True

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components K.
    covariance_type : str, default="full"
        Structure of the scale matrices, as ``GaussianMixture``'s:
        ``"full"``, ``"tied"``, ``"diag"``, ``"spherical"``, ``"identity"`` or
        one of mclust's 14 models (``"VVV"``, ``"EEE"``, ``"VEV"``…).
    degrees_of_freedom : float or None, default=None
        None: ν is estimated per component, within [0.5, 200] (below, a
        component's tails let a handful of rows hold it anywhere; above, it is
        a Gaussian in all but name). A positive number: every component has
        that ν, never estimated (nor counted by BIC/AIC); e.g. 4 is a common
        robust default.
    reg_covar : float, default=1e-6
        Added to the diagonal of every estimated scale matrix, so it stays
        positive definite.
    tol : float, default=1e-3
        EM stops when the mean per-sample log-likelihood improves by less than this.
    max_iter : int, default=100
        EM iterations per initialisation (0 keeps the initial parameters).
    n_init : int, default=1
        Initialisations to run; the one with the highest final log-likelihood is kept.
    init_params : {"kmeans", "random"}, default="kmeans"
        "kmeans": memberships from one K-means fit (k-means++ seeded);
        "random": random memberships. Either way the first M-step gives
        Gaussian moments and ν = 10 (or the fixed ν).
    weights_init : array-like of shape (n_components,), optional
        Initial weights (they replace the start's).
    means_init : array-like of shape (n_components, n_features), optional
        Initial locations.
    covariances_init : array-like, optional
        Initial scale matrices, in the shape of ``covariances_``.
    degrees_of_freedom_init : float or array-like of shape (n_components,), optional
        Initial ν (with ``degrees_of_freedom=None``).
    fixed_params : collection of str, optional
        Parameters held at their initial values (given, or from the start)
        while EM updates the others: any of ``"weights"``, ``"means"``,
        ``"covariances"``, ``"degrees_of_freedom"``. With fixed means the
        scale matrices are estimated about them. BIC and AIC count only the
        free parameters.
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
    means_ : ndarray of shape (n_components, n_features)
        Locations μ_k (each component's mean where ν_k > 1).
    covariances_ : ndarray
        Scale matrices Σ_k (scipy's ``shape`` of ``multivariate_t``), shaped
        as ``GaussianMixture.covariances_`` for ``covariance_type``. They are
        not the covariances: component k's covariance is
        ``Σ_k ν_k / (ν_k − 2)`` when ν_k > 2, and infinite otherwise.
    degrees_of_freedom_ : ndarray of shape (n_components,)
        ν_k, estimated or fixed.
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
    Missing values are refused (use ``GaussianMixture``, which models them,
    or impute first). ``score_samples`` is the log of
    ``Σ_k w_k multivariate_t(μ_k, Σ_k, ν_k).pdf(x)``.
    """

    _consistency_attribute = "means_"
    # A t density is positive everywhere: only a distance that overflowed
    # (float32 values near 1e19) makes a row's log-density −inf.
    _impossible_hint = ("its distance to every component overflowed; pass float64 data "
                        "or rescale it.")

    def __init__(self, n_components=1, *, covariance_type="full", degrees_of_freedom=None,
                 reg_covar=1e-6, tol=1e-3, max_iter=100, n_init=1, init_params="kmeans",
                 weights_init=None, means_init=None, covariances_init=None,
                 degrees_of_freedom_init=None, fixed_params=None, semi_supervised=False,
                 random_state=None, callback=None, verbose=0, n_jobs=None):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.degrees_of_freedom = degrees_of_freedom
        self.reg_covar = reg_covar
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.covariances_init = covariances_init
        self.degrees_of_freedom_init = degrees_of_freedom_init
        self.fixed_params = fixed_params
        self.semi_supervised = semi_supervised
        self.random_state = random_state
        self.callback = callback
        self.verbose = verbose
        self.n_jobs = n_jobs

    def _template(self):
        # Validates covariance_type, reg_covar's use and degrees_of_freedom at fit
        # (the family's constructor checks them), never in __init__.
        reg_covar = check_nonnegative_float(self.reg_covar, "reg_covar")
        return StudentFamily(self.covariance_type, reg_covar, self.degrees_of_freedom)

    def _given_values(self):
        dof = self.degrees_of_freedom_init
        if dof is not None and np.ndim(dof) == 0:
            dof = [dof] * self.n_components  # one ν for every component
        given = {"means": self.means_init, "covariances": self.covariances_init,
                 "degrees_of_freedom": dof}
        return {name: value for name, value in given.items() if value is not None}
