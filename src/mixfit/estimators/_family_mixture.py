"""``FamilyMixture``: a mixture of any component family, fitted by EM with restarts.

The base of :class:`~mixfit.MixtureModel` and of its named shortcuts
(:class:`~mixfit.BernoulliMixture`, :class:`~mixfit.PoissonMixture`,
:class:`~mixfit.CategoricalMixture`). A subclass says which family models
which columns (``_family_templates`` and ``_resolve_groups``) and which
initial values the user gave (``_given_values``); this class does the rest:
data checks and encoding (:mod:`mixfit.estimators._family_data`), fixed
parameters, partial labels, restarts, warnings, and fitted attributes named
after the family's ``parameter_names`` (``probabilities_``, ``rates_``,
``means_``…, plus ``weights_``). The queries are in
:mod:`mixfit.estimators._family_queries`.
"""

from __future__ import annotations


import numpy as np
from sklearn.base import BaseEstimator, DensityMixin

from mixfit._parallel import check_n_jobs
from mixfit._validation import (
    DEFAULT_CHUNK_SIZE,
    MAX_COUNT,
    check_n_samples_at_least,
    check_nonnegative_float,
    check_positive_int,
    check_sample_weight,
    check_seed,
    check_verbose,
)
from mixfit.engine import em
from mixfit.engine.constraints import check_fixed, labelled_start, partial_labels
from mixfit.engine.init import initial_mixture_params, kmeans_labels, params_from_labels
from mixfit.estimators._family_data import (
    check_no_empty_rows,
    check_numeric,
    check_values,
    encode_categories,
    numeric_columns,
    object_table,
    skips_missing,
)
from mixfit.estimators._family_queries import FamilyQueries
from mixfit.estimators._fit_state import keeps_state_on_failure
from mixfit.estimators._sklearn_compat import MixtureProgress, warn_not_converged
from mixfit.families.bernoulli import BernoulliFamily
from mixfit.families.categorical import CategoricalFamily
from mixfit.families.poisson import PoissonFamily
from mixfit.families.product import ProductFamily
from mixfit.families.values import (
    parameter_names,
    parameter_values,
    params_from_values,
    with_weight_scale,
)

__all__ = ["FAMILY_INITS", "FamilyMixture"]

#: The starts these estimators take (a subset of GaussianMixture's).
FAMILY_INITS = ("random", "kmeans")

#: Iterations between two ``verbose`` progress lines (GaussianMixture's default).
_VERBOSE_INTERVAL = 10


class FamilyMixture(FamilyQueries, DensityMixin, BaseEstimator):
    """What every family mixture shares: data checks, fit by EM with restarts, queries.

    A subclass defines ``_family_templates()`` (the families, unconfigured),
    ``_resolve_groups(n_features, names)`` (each family with the integer
    positions of its columns), ``_given_values()`` (initial values by
    parameter name) and ``_owner(family)`` (who takes a column, for messages),
    and may set ``_impossible_hint``.
    """

    _impossible_hint = (
        "it holds a value that every component gives probability 0. Fit with "
        "pseudocount > 0 to keep every probability positive."
    )

    # ------------------------------------------------------------------ the data

    def _prepare(self, X, *, reset):
        """X as the float matrix the family reads, and the family configured for it.

        Categorical columns become codes (``categories_`` are found when
        ``reset``, else used); every column's values are checked against its
        family's support; rows with no observed value are refused.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), float32 or float64
        family : the configured family (a ProductFamily for several groups)
        categories : list of ndarray, or None without categorical columns
        """
        templates = self._family_templates()
        categorical = any(isinstance(f, CategoricalFamily) for f in templates)
        if categorical:
            table = object_table(self, X, reset=reset)
        else:
            table = check_numeric(self, X, reset=reset,
                                  allow_nan=any(skips_missing(f) for f in templates))
        names = self._names()
        groups = self._resolve_groups(table.shape[1], names)
        categories = None
        if categorical:
            columns = self._categorical_columns(groups)
            codes, categories = encode_categories(
                table, columns, names, None if reset else self.categories_)
            X = numeric_columns(table, columns, names)
            if columns:
                X[:, columns] = codes
        else:
            X = table
        for family, columns in groups:
            check_values(family, X, columns, names, self._owner(family))
        if any(skips_missing(f) for f, _ in groups) and np.isnan(X).any():
            check_no_empty_rows(X)
        return X, self._configure(groups, categories), categories

    def _names(self):
        names = getattr(self, "feature_names_in_", None)
        return None if names is None else list(names)

    @staticmethod
    def _categorical_columns(groups):
        return sorted(int(c) for family, columns in groups
                      if isinstance(family, CategoricalFamily) for c in columns)

    def _configure(self, groups, categories):
        """The family for ``groups``, categorical groups given their numbers of levels."""
        levels = {}
        if categories is not None:
            for column, found in zip(self._categorical_columns(groups), categories):
                levels[column] = len(found)
        configured = []
        for family, columns in groups:
            if isinstance(family, CategoricalFamily):
                family = CategoricalFamily([levels[int(c)] for c in columns],
                                           pseudocount=family.pseudocount)
            configured.append((family, columns))
        if len(configured) == 1:
            family, columns = configured[0]
            if np.array_equal(columns, np.arange(columns.shape[0])):
                return family
        return ProductFamily(configured)

    def _fitted_family(self):
        """The family of the fitted model (from ``n_features_in_`` and ``categories_``)."""
        groups = self._resolve_groups(self.n_features_in_, self._names())
        return self._configure(groups, getattr(self, "categories_", None))

    # ------------------------------------------------------------------ fitting

    @keeps_state_on_failure
    def fit(self, X, y=None, sample_weight=None):
        """Fit the mixture by EM: estimate the weights and the components' parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, one row per sample (a NumPy array or a DataFrame,
            whose column names are then remembered). NaN (or None in
            categorical columns) marks a missing value, which the components
            skip; a row with no observed value is refused.
        y : array-like of shape (n_samples,) of int, optional
            With ``semi_supervised=True``, partial labels: ``c`` in ``[0,
            n_components)`` fixes the row to component c (its
            responsibilities are one-hot), ``-1`` leaves it unlabelled.
            Otherwise ignored, as scikit-learn's mixtures do (a ``y`` holding
            ``-1`` is then refused: it was surely meant as labels).
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights; weight 2 is equivalent to a duplicated row.

        Returns
        -------
        self
        """
        self._fit(X, y, sample_weight)
        return self

    @keeps_state_on_failure
    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit the mixture and return the most probable component of each sample.

        Equals ``fit(X, y).predict(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, as for :meth:`fit`.
        y : array-like of shape (n_samples,) of int, optional
            Partial labels (with ``semi_supervised=True``), as for :meth:`fit`.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights, as for :meth:`fit`.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        X, family = self._fit(X, y, sample_weight)
        return self._weighted_log_prob(X, family, self._params(family), labels=True)

    def _fit(self, X, y, sample_weight):
        """Fit; return the prepared X and the family (for :meth:`fit_predict`)."""
        X, family, categories = self._prepare(X, reset=True)
        n_samples = X.shape[0]
        sample_weight, weight_scale = check_sample_weight(sample_weight, n_samples,
                                                          return_scale=True)
        settings = self._check_settings()
        n_components = settings["n_components"]
        fixed = check_fixed(family, self.fixed_params)
        labels = partial_labels(y, self.semi_supervised, n_samples, n_components)
        check_n_samples_at_least(X, n_components, sample_weight=sample_weight)
        weights_init, given = self._checked_given(family, n_components)
        # The weights come divided by weight_scale (a power of two, see
        # check_sample_weight); prior counts (a pseudocount) are in units of one
        # row, so they are divided too: the fit is then the one in the user's
        # units, and a row of weight 2 counts as two rows.
        fit_family = with_weight_scale(family, weight_scale)
        rows = X
        if sample_weight is not None and not sample_weight.all():
            # A row of weight 0 adds nothing to the fit, but under a component
            # with a probability of exactly 0 (pseudocount=0) it may be
            # impossible under every component, and the E-step would then
            # compute −inf − (−inf) for it: leave it out.
            keep = sample_weight > 0
            rows, sample_weight = X[keep], sample_weight[keep]
            labels = None if labels is None else labels[keep]
        rng = check_seed(self.random_state)
        progress = (MixtureProgress(settings["verbose"], _VERBOSE_INTERVAL)
                    if settings["verbose"] else None)
        callback = self._iteration_callback(progress)
        extra = {}
        if fixed:
            extra["fixed"] = fixed
        if labels is not None:
            extra["labels"] = labels
        best = None
        for restart in range(settings["n_init"]):
            if progress is not None:
                progress.start(restart)
            params = self._start(fit_family, rows, n_components, sample_weight, rng)
            params = self._with_given(fit_family, params, weights_init, given, rows.dtype)
            if labels is not None and not fixed:
                # Components matched to the classes first (the start numbers them
                # arbitrarily); with fixed parameters the start is the user's.
                params = labelled_start(fit_family, rows, params, labels,
                                        sample_weight=sample_weight,
                                        chunk_size=DEFAULT_CHUNK_SIZE,
                                        n_jobs=settings["n_jobs"])
            if settings["max_iter"] == 0:
                result = em.EMResult(params, -np.inf, [], 0, False)
            else:
                result = em.fit_em(
                    fit_family, rows, params, sample_weight=sample_weight,
                    tol=settings["tol"], max_iter=settings["max_iter"],
                    chunk_size=DEFAULT_CHUNK_SIZE, callback=callback,
                    n_jobs=settings["n_jobs"], kernel="numba", **extra,
                )
                if progress is not None:
                    progress.end(result.lower_bound, result.converged)
            if best is None or result.lower_bound > best.lower_bound:
                best = result
        if not best.converged and settings["max_iter"] > 0:
            # The caller of fit: _fit, fit, keeps_state_on_failure.
            warn_not_converged(best.n_iter, stacklevel=4)
        # Fitted state is set only here, once nothing can fail any more.
        if categories is not None:
            self.categories_ = categories
        self.weights_ = best.params.weights
        for name, value in parameter_values(family, best.params.components).items():
            setattr(self, name + "_", value)
        self.converged_ = best.converged
        self.n_iter_ = best.n_iter
        self.lower_bound_ = best.lower_bound
        self.lower_bounds_ = list(best.lower_bounds)
        return X, family

    def _start(self, family, X, n_components, sample_weight, rng):
        """The parameters ``init_params`` names.

        K-means runs on the rows as K-means can read them: categorical codes
        one-hot encoded (codes have no order; their one-hot vectors are
        equidistant, so K-means groups rows that share categories) and missing
        values filled with their column's mean. Its labels only seed the first
        M-step, which reads the data as they are.
        """
        categorical = self._categorical_columns(self._groups_of(family))
        if self.init_params != "kmeans" or not (categorical or np.isnan(X).any()):
            return initial_mixture_params(family, X, n_components, self.init_params,
                                          sample_weight=sample_weight, random_state=rng)
        view = _kmeans_view(X, categorical)
        labels = kmeans_labels(view, n_components, sample_weight=sample_weight,
                               random_state=rng, chunk_size=DEFAULT_CHUNK_SIZE)
        return params_from_labels(family, X, labels, n_components,
                                  sample_weight=sample_weight, chunk_size=DEFAULT_CHUNK_SIZE)

    def _checked_given(self, family, n_components):
        """``weights_init`` (checked) and the given initial values by parameter name."""
        weights = self.weights_init
        if weights is not None:
            weights = np.asarray(weights)
            if weights.dtype.kind not in "biuf":
                raise TypeError(f"weights_init must be numeric, got dtype {weights.dtype}.")
            weights = weights.astype(np.float64)
            if weights.shape != (n_components,):
                raise ValueError(
                    f"weights_init must have shape ({n_components},) (n_components), got "
                    f"{weights.shape}."
                )
            if not (np.isfinite(weights).all() and (weights >= 0).all()
                    and np.isclose(weights.sum(), 1.0, rtol=0, atol=1e-6)):
                raise ValueError(
                    "weights_init must be finite, >= 0 and sum to 1; normalise it "
                    "(weights_init / weights_init.sum())."
                )
            weights = weights / weights.sum()
        given = dict(self._given_values())
        valid = parameter_names(family)
        unknown = sorted(set(given) - set(valid))
        if unknown:
            raise ValueError(
                f"initial values for unknown parameter(s) {unknown}; this model's "
                f"parameters are {list(valid)}."
            )
        return weights, given

    @staticmethod
    def _with_given(family, params, weights, given, dtype):
        """``params`` with the user's initial values in place of the start's."""
        if weights is not None:
            params = em.MixtureParams(weights.astype(dtype), params.components)
        if not given:
            return params
        values = dict(parameter_values(family, params.components))
        for name, value in given.items():
            _check_shape_like(name, value, values[name])
            values[name] = value
        return em.MixtureParams(params.weights, params_from_values(family, values, dtype))

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
            "n_jobs": check_n_jobs(self.n_jobs),
        }
        if not isinstance(self.init_params, str) or self.init_params not in FAMILY_INITS:
            raise ValueError(
                f"init_params must be one of {list(FAMILY_INITS)} for "
                f"{type(self).__name__}, got {self.init_params!r}."
            )
        if self.callback is not None and not callable(self.callback):
            raise TypeError(f"callback must be callable, got {type(self.callback).__name__}.")
        check_seed(self.random_state)
        for family in self._family_templates():
            if hasattr(family, "_checked_pseudocount"):
                family._checked_pseudocount()
        return settings

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            templates = self._family_templates()
        except (TypeError, ValueError):
            return tags  # a bad family is refused by fit, with its message
        tags.input_tags.allow_nan = any(skips_missing(f) for f in templates)
        if all(isinstance(f, (BernoulliFamily, PoissonFamily)) for f in templates):
            tags.input_tags.positive_only = True
        if all(isinstance(f, (PoissonFamily, CategoricalFamily)) for f in templates):
            # scikit-learn has no tag for "non-negative integers" (counts, or
            # category codes); "categorical" is the one whose estimator checks
            # pass exactly such data (rounded, shifted to start at 0).
            tags.input_tags.categorical = True
        if any(isinstance(f, CategoricalFamily) for f in templates):
            tags.input_tags.string = True
        return tags


def _kmeans_view(X, categorical):
    """X for K-means: categorical codes one-hot, missing values their column's mean."""
    numeric = np.setdiff1d(np.arange(X.shape[1]), categorical)
    blocks = []
    if numeric.size:
        block = X[:, numeric]
        if np.isnan(block).any():
            # A column with no observed value cannot be (rows with none are refused,
            # but a column may be all NaN): its mean is then 0.
            means = np.nan_to_num(np.nanmean(np.where(np.isnan(block).all(axis=0), 0.0, block),
                                             axis=0))
            block = np.where(np.isnan(block), means, block)
        blocks.append(np.asarray(block, dtype=np.float64))
    for column in categorical:
        codes = X[:, column]
        observed = ~np.isnan(codes)
        n_levels = int(np.nanmax(codes)) + 1 if observed.any() else 1
        onehot = np.zeros((X.shape[0], n_levels))
        onehot[np.flatnonzero(observed), codes[observed].astype(np.intp)] = 1.0
        blocks.append(onehot)
    return np.ascontiguousarray(np.hstack(blocks))


def _check_shape_like(name, given, reference):
    """Refuse an initial value whose shape differs from the start's value of that name."""
    if isinstance(reference, (list, tuple)):
        shapes = [np.shape(r) for r in reference]
        got = [np.shape(g) for g in given] if isinstance(given, (list, tuple)) else None
    else:
        shapes, got = np.shape(reference), np.shape(given)
    if got != shapes:
        raise ValueError(f"{name}_init must have shape {shapes}, got {got}.")
