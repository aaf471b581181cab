"""A Gaussian mixture that chooses its own covariance model and number of components."""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils.validation import check_is_fitted

from mixfit.estimators._data_checks import check_data
from mixfit.estimators._fit_state import forget_data_records, keeps_state_on_failure
from mixfit.selection import (
    CRITERIA,
    Selection,
    SelectionResult,
    resolve_covariance_types,
    resolve_n_components,
    resolve_starts,
    select,
)

__all__ = ["AutoGaussianMixture"]

#: The best fit's attributes that the estimator exposes as its own (and that a
#: model file stores).
_MIRRORED = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_",
             "converged_", "n_iter_", "lower_bound_", "lower_bounds_", "_scale",
             "volumes_", "shapes_", "orientations_")


class AutoGaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture whose covariance model and number of components are chosen by BIC.

    ``fit`` runs :func:`mixfit.select` — every covariance model for every number
    of components, from one hierarchical tree's partitions — and keeps the best
    fit by ``criterion``; ``predict``, ``predict_proba``, ``score``, ``sample``
    and the criteria then answer with that mixture. It is mclust's ``Mclust(X)``
    as a scikit-learn estimator.

    Parameters
    ----------
    n_components : int or iterable of int, default=(1, 2, ..., 9)
        The numbers of components to compare (a tuple by default: scikit-learn's
        conventions want simple default values; ``range(1, 10)`` is the same).
    covariance_types : "mclust", "sklearn", a name, or a list of names, default="mclust"
        The covariance models to compare (see :func:`mixfit.select`).
    criterion : {"bic", "icl", "aic"}, default="bic"
        What the chosen fit minimises.
    init : str or list of str, default="hc"
        Starts of each fit (see :func:`mixfit.select`).
    n_init : int, default=1
        Runs per random start.
    reg_covar : float, default=0.0
        As GaussianMixture's; 0 as mclust, so that collapsing fits fail instead
        of winning.
    tol : float, default=1e-5
        EM's stopping rule of every fit (change of the mean log-likelihood).
    max_iter : int, default=1000
        EM iterations per fit.
    n_jobs : int, optional
        Fits run at once, on threads; None: every core.
    random_state : int, RandomState instance or None, default=None
        Seeds the tree's subsample, the random starts and ``sample``.

    Attributes
    ----------
    selection_ : Selection
        Every fit of the grid and its scores.
    best_estimator_ : GaussianMixture
        The chosen fit.
    covariance_type_ : str
        Its covariance model.
    n_components_ : int
        Its number of components.
    weights_, means_, covariances_, precisions_, precisions_cholesky_ : ndarray
        Its parameters (see :class:`~mixfit.GaussianMixture`).
    converged_, n_iter_, lower_bound_, lower_bounds_ :
        Its convergence record.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X was a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit import AutoGaussianMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (100, 2)), rng.normal(8, 1, (100, 2))])
    >>> model = AutoGaussianMixture(n_components=range(1, 4),
    ...                             covariance_types=["EII", "VVV"]).fit(X)
    >>> model.n_components_, model.covariance_type_
    (2, 'EII')
    """

    def __init__(self, n_components=(1, 2, 3, 4, 5, 6, 7, 8, 9), covariance_types="mclust",
                 criterion="bic", init="hc", n_init=1, reg_covar=0.0, tol=1e-5, max_iter=1000, n_jobs=None,
                 random_state=None):
        self.n_components = n_components
        self.covariance_types = covariance_types
        self.criterion = criterion
        self.init = init
        self.n_init = n_init
        self.reg_covar = reg_covar
        self.tol = tol
        self.max_iter = max_iter
        self.n_jobs = n_jobs
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    def _check_params(self):
        """The parameters' own errors, before any data is read."""
        resolve_n_components(self.n_components)
        resolve_covariance_types(self.covariance_types, 2)
        resolve_starts(self.init)
        if self.criterion not in CRITERIA:
            raise ValueError(
                f"criterion must be one of {list(CRITERIA)}, got {self.criterion!r}.")
        for name in ("reg_covar", "tol"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float, np.floating)) and not isinstance(value, bool)
                    and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")

    @keeps_state_on_failure
    def fit(self, X, y=None, sample_weight=None):
        """Fit every (model, K) of the grid on X and keep the best.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), optional
            Weights counting as copies of the rows.

        Returns
        -------
        self : AutoGaussianMixture
        """
        self._check_params()
        X = check_data(self, X, reset=True, ensure_min_samples=2)
        selection = select(
            X, n_components=self.n_components, covariance_types=self.covariance_types,
            criterion=self.criterion, init=self.init, n_init=self.n_init,
            sample_weight=sample_weight, n_jobs=self.n_jobs, random_state=self.random_state,
            reg_covar=self.reg_covar, tol=self.tol, max_iter=self.max_iter,
        )
        forget_data_records(self)
        self._set_best(selection.best_, selection)
        return self

    def _set_best(self, best, selection):
        """Adopt ``best`` (a fitted GaussianMixture) as this estimator's fit."""
        best.set_params(random_state=self.random_state)  # sample() is seeded by ours
        # This estimator checks the column names and hands the mixture arrays.
        best.__dict__.pop("feature_names_in_", None)
        self.selection_ = selection
        self._selection_records = [_record_to_json(result) for result in selection.results]
        self.best_estimator_ = best
        self.covariance_type_ = best.covariance_type
        self.n_components_ = int(best.n_components)
        for name in _MIRRORED:
            self.__dict__.pop(name, None)
            if hasattr(best, name):
                setattr(self, name, getattr(best, name))

    def _best(self):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_

    def _checked(self, X):
        """X validated against the fit's columns (names included), as an array."""
        check_is_fitted(self, "best_estimator_")
        return check_data(self, X, reset=False)

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the chosen mixture's labels of X."""
        return self.fit(X, sample_weight=sample_weight).predict(X)

    def predict(self, X):
        """Most probable component of each sample under the chosen mixture."""
        return self._best().predict(self._checked(X))

    def predict_proba(self, X):
        """Probability of each component for each sample, under the chosen mixture."""
        return self._best().predict_proba(self._checked(X))

    def score_samples(self, X):
        """Log-density of each sample under the chosen mixture."""
        return self._best().score_samples(self._checked(X))

    def score(self, X, y=None, sample_weight=None):
        """Mean (weighted) log-likelihood of X under the chosen mixture."""
        return self._best().score(self._checked(X), sample_weight=sample_weight)

    def sample(self, n_samples=1):
        """Draw samples from the chosen mixture (seeded by ``random_state``)."""
        return self._best().sample(n_samples)

    def bic(self, X):
        """BIC of the chosen mixture on X (lower is better)."""
        return self._best().bic(self._checked(X))

    def aic(self, X):
        """AIC of the chosen mixture on X (lower is better)."""
        return self._best().aic(self._checked(X))

    def icl(self, X):
        """ICL of the chosen mixture on X (lower is better)."""
        return self._best().icl(self._checked(X))


def _record_to_json(result):
    """A SelectionResult as a JSON object (NaN as None), for model files."""
    record = dict(result.__dict__)
    for key, value in record.items():
        if isinstance(value, float) and not math.isfinite(value):
            record[key] = None
    return record


def selection_from_records(records, criterion, best):
    """The Selection a model file describes (its records and the rebuilt best fit)."""
    nan = float("nan")
    results = [SelectionResult(**{key: (nan if value is None and key in
                                        ("log_likelihood", "bic", "aic", "icl") else value)
                                  for key, value in record.items()})
               for record in records]
    return Selection(results, criterion, best)
