"""``BernoulliMixture`` and ``PoissonMixture``: mixtures of binary and of count features.

Both run the EM engine (:func:`mixfit.engine.em.fit_em`) on a family from
:mod:`mixfit.families` — :class:`~mixfit.families.bernoulli.BernoulliFamily`
and :class:`~mixfit.families.poisson.PoissonFamily` — and share everything
but the family, the input check and the name of the fitted parameter, which
is what :class:`_DiscreteMixture` leaves to them.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning

from mixfit._validation import (
    DEFAULT_CHUNK_SIZE,
    MAX_COUNT,
    check_n_samples_at_least,
    check_nonnegative_float,
    check_positive_int,
    check_sample_weight,
    check_seed,
    check_verbose,
    column_label,
    row_chunks,
)
from mixfit.engine import em
from mixfit.engine.init import initial_mixture_params
from mixfit.estimators._data_checks import check_data
from mixfit.estimators._discrete_queries import DiscreteQueries
from mixfit.estimators._fit_state import keeps_state_on_failure
from mixfit.estimators._sklearn_compat import MixtureProgress
from mixfit.families.bernoulli import BernoulliFamily, BernoulliParams
from mixfit.families.poisson import PoissonFamily, PoissonParams

__all__ = ["BernoulliMixture", "PoissonMixture"]

#: The starts these estimators take (a subset of GaussianMixture's).
DISCRETE_INITS = ("random", "kmeans")

#: Iterations between two ``verbose`` progress lines (GaussianMixture's default).
_VERBOSE_INTERVAL = 10


class _DiscreteMixture(DiscreteQueries, DensityMixin, BaseEstimator):
    """What the discrete mixtures share: fit by EM with restarts, and the queries.

    A subclass sets ``_component_name`` (the fitted attribute holding the
    (K, d) component parameters), ``_params_class`` (the family's parameter
    class, built from that attribute) and ``_impossible_hint`` (the end of the
    error for rows impossible under every component), and defines
    ``_family(weight_scale)``, ``_parameter_of(components)`` and
    ``_check_values(X, names)``.
    """

    _component_name = None
    _params_class = None

    # ------------------------------------------------------------------ fitting

    @keeps_state_on_failure
    def fit(self, X, y=None, sample_weight=None):
        """Fit the mixture by EM: estimate the weights and the components' parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, one row per sample (a NumPy array or a DataFrame,
            whose column names are then remembered); float32 stays float32,
            anything else becomes float64.
        y : ignored
            Present for scikit-learn's API.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights; weight 2 is equivalent to a duplicated row.

        Returns
        -------
        self
        """
        self._fit(X, sample_weight)
        return self

    @keeps_state_on_failure
    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit the mixture and return the most probable component of each sample.

        Equals ``fit(X).predict(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, as for :meth:`fit`.
        y : ignored
            Present for scikit-learn's API.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights, as for :meth:`fit`.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        X = self._fit(X, sample_weight)
        return self._weighted_log_prob(X, self._params(), labels=True)

    def _fit(self, X, sample_weight):
        """Fit and return the validated X (for :meth:`fit_predict`)."""
        X = check_data(self, X, reset=True)
        self._check_values(X, getattr(self, "feature_names_in_", None))
        sample_weight, weight_scale = check_sample_weight(sample_weight, X.shape[0],
                                                          return_scale=True)
        settings = self._check_settings()
        n_components = settings["n_components"]
        check_n_samples_at_least(X, n_components, sample_weight=sample_weight)
        # The weights come divided by weight_scale (a power of two, see
        # check_sample_weight); a family's prior counts (the pseudocount) are in
        # units of one row, so they are divided too: the fit is then the one in
        # the user's units, and a row of weight 2 counts as two rows.
        family = self._family(weight_scale)
        rows = X
        if sample_weight is not None and not sample_weight.all():
            # A row of weight 0 adds nothing to the fit, but under a component
            # with a probability of exactly 0 or 1 (pseudocount=0) it may be
            # impossible under every component, and the engine's E-step would
            # then compute −inf − (−inf) for it: leave it out.
            keep = sample_weight > 0
            rows, sample_weight = X[keep], sample_weight[keep]
        rng = check_seed(self.random_state)
        progress = (MixtureProgress(settings["verbose"], _VERBOSE_INTERVAL)
                    if settings["verbose"] else None)
        callback = self._iteration_callback(progress)
        best = None
        for restart in range(settings["n_init"]):
            if progress is not None:
                progress.start(restart)
            params = initial_mixture_params(
                family, rows, n_components, self.init_params,
                sample_weight=sample_weight, random_state=rng,
            )
            if settings["max_iter"] == 0:
                result = em.EMResult(params, -np.inf, [], 0, False)
            else:
                result = em.fit_em(
                    family, rows, params, sample_weight=sample_weight,
                    tol=settings["tol"], max_iter=settings["max_iter"],
                    chunk_size=DEFAULT_CHUNK_SIZE, callback=callback, kernel="numpy",
                )
                if progress is not None:
                    progress.end(result.lower_bound, result.converged)
            if best is None or result.lower_bound > best.lower_bound:
                best = result
        if not best.converged and settings["max_iter"] > 0:
            warnings.warn(
                # GaussianMixture's (and scikit-learn's) wording, which users' filters match.
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data. "
                f"It stopped after max_iter={best.n_iter} iterations.",
                ConvergenceWarning,
                stacklevel=4,  # the caller of fit: _fit, fit, keeps_state_on_failure
            )
        # Fitted state is set only here, once nothing can fail any more.
        self.weights_ = best.params.weights
        setattr(self, self._component_name, self._parameter_of(best.params.components))
        self.converged_ = best.converged
        self.n_iter_ = best.n_iter
        self.lower_bound_ = best.lower_bound
        self.lower_bounds_ = list(best.lower_bounds)
        return X

    def _iteration_callback(self, progress):
        """The engine's callback: progress lines and the user's callback."""
        user = self.callback
        if user is None and progress is None:
            return None

        def on_iteration(iteration, params, log_likelihood):
            if progress is not None:
                progress.iteration(iteration, log_likelihood)
            if user is not None:
                user(iteration, params, log_likelihood)

        return on_iteration

    def _check_settings(self):
        """Validate the constructor's arguments; return the scalar ones resolved."""
        settings = {
            "n_components": check_positive_int(self.n_components, "n_components"),
            "tol": check_nonnegative_float(self.tol, "tol"),
            "max_iter": check_positive_int(
                self.max_iter, "max_iter", minimum=0, maximum=MAX_COUNT
            ),
            "n_init": check_positive_int(self.n_init, "n_init", maximum=MAX_COUNT),
            "verbose": check_verbose(self.verbose),
        }
        if not isinstance(self.init_params, str) or self.init_params not in DISCRETE_INITS:
            raise ValueError(
                f"init_params must be one of {list(DISCRETE_INITS)} for "
                f"{type(self).__name__}, got {self.init_params!r}."
            )
        if self.callback is not None and not callable(self.callback):
            raise TypeError(f"callback must be callable, got {type(self.callback).__name__}.")
        check_seed(self.random_state)
        return settings


def _first_bad(X, bad_of):
    """``(row, column)`` of the first entry (row-major) where ``bad_of(block)`` holds, or None."""
    for rows in row_chunks(X.shape[0], DEFAULT_CHUNK_SIZE):
        bad = bad_of(X[rows])
        if bad.any():
            row, column = np.argwhere(bad)[0]
            return rows.start + int(row), int(column)
    return None


def _negative(value):
    """The prefix of a refusal of a negative value: scikit-learn's words, which its
    checks (and users' code written for its estimators) look for."""
    return "Negative values in data: " if value < 0 else ""


class BernoulliMixture(_DiscreteMixture):
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
    init_params : {"random", "kmeans"}, default="random"
        "random": random memberships (uniform, normalised per row); "kmeans":
        memberships from one K-means fit (k-means++ seeded).
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisations and ``sample``; an int makes ``fit`` reproducible.
    callback : callable, optional
        ``callback(iteration, params, log_likelihood)`` after every EM iteration
        (``params`` is a :class:`mixfit.engine.em.MixtureParams`).
    verbose : int, default=0
        GaussianMixture's progress lines (every 10th iteration).

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

    _component_name = "probabilities_"
    _params_class = BernoulliParams
    _impossible_hint = (
        "a 1 where a component's probability is 0, or a 0 where it is 1. Fit with "
        "pseudocount > 0 to keep every probability strictly between 0 and 1."
    )

    def __init__(self, n_components=1, *, pseudocount=1.0, tol=1e-3, max_iter=100,
                 n_init=1, init_params="random", random_state=None, callback=None,
                 verbose=0):
        self.n_components = n_components
        self.pseudocount = pseudocount
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.callback = callback
        self.verbose = verbose

    def _family(self, weight_scale=1.0):
        """The components' family; ``weight_scale``: what the sample weights were divided by."""
        pseudocount = BernoulliFamily(self.pseudocount)._checked_pseudocount()
        return BernoulliFamily(pseudocount / weight_scale)

    def _check_settings(self):
        settings = super()._check_settings()
        self._family()
        return settings

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags

    @staticmethod
    def _parameter_of(components):
        return components.probabilities

    @staticmethod
    def _check_values(X, names=None):
        """Refuse any value but 0 and 1, naming its column and row."""
        found = _first_bad(X, lambda block: block < 0) or _first_bad(
            X, lambda block: (block != 0) & (block != 1))
        if found is not None:
            row, column = found
            raise ValueError(
                f"{_negative(X[row, column])}column {column_label(column, names)} holds "
                f"{float(X[row, column])!r} (row {row}); BernoulliMixture takes 0/1 "
                "features: binarise first, e.g. X > threshold."
            )


class PoissonMixture(_DiscreteMixture):
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
    init_params : {"random", "kmeans"}, default="random"
        "random": random memberships (uniform, normalised per row); "kmeans":
        memberships from one K-means fit (k-means++ seeded).
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisations and ``sample``; an int makes ``fit`` reproducible.
    callback : callable, optional
        ``callback(iteration, params, log_likelihood)`` after every EM iteration
        (``params`` is a :class:`mixfit.engine.em.MixtureParams`).
    verbose : int, default=0
        GaussianMixture's progress lines (every 10th iteration).

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

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit import PoissonMixture
    >>> X = np.array([[0, 1]] * 5 + [[20, 22]] * 5)
    >>> pm = PoissonMixture(2, random_state=0).fit(X)
    >>> np.sort(pm.rates_[:, 0]).round(1)
    array([ 0., 20.])
    """

    _component_name = "rates_"
    _params_class = PoissonParams
    _impossible_hint = "a positive count where a component's rate is 0."

    def __init__(self, n_components=1, *, tol=1e-3, max_iter=100, n_init=1,
                 init_params="random", random_state=None, callback=None, verbose=0):
        self.n_components = n_components
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.callback = callback
        self.verbose = verbose

    def _family(self, weight_scale=1.0):
        """The components' family (it has no prior counts for ``weight_scale`` to scale)."""
        return PoissonFamily()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        # scikit-learn has no tag for "non-negative integers"; "categorical" is
        # the one whose estimator checks pass exactly such data (rounded, shifted
        # to start at 0), which is what a Poisson mixture takes.
        tags.input_tags.categorical = True
        return tags

    @staticmethod
    def _parameter_of(components):
        return components.rates

    @staticmethod
    def _check_values(X, names=None):
        """Refuse negative or non-integer values, naming their column and row."""
        found = _first_bad(X, lambda block: block < 0) or _first_bad(
            X, lambda block: block != np.floor(block))
        if found is not None:
            row, column = found
            raise ValueError(
                f"{_negative(X[row, column])}column {column_label(column, names)} holds "
                f"{float(X[row, column])!r} (row {row}); PoissonMixture takes non-negative "
                "integer counts: pass counts, or drop or transform that column."
            )
