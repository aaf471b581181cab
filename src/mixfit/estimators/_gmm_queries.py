"""What a fitted ``GaussianMixture`` answers: labels, posteriors, densities, samples, BIC/AIC.

A mixin, so that :mod:`mixfit.estimators.gaussian_mixture` keeps the fitting
(validation, restarts, state) and this module the queries on a fitted model;
both work on the same attributes (``weights_``, ``means_``, ``covariances_``,
``precisions_cholesky_``, ``_family``, ``_scale``).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from mixfit.engine import em as em
from mixfit.engine.constraints import check_fixed
from mixfit._parallel import check_n_jobs
from mixfit._validation import (
    check_chunk_size,
    check_n_draws,
    check_sample_weight,
    check_seed,
    row_chunks,
)
from mixfit.estimators._dask_data import check_dask_sample_weight, is_dask_array, lazy_query
from mixfit.estimators._data_checks import check_data, check_magnitude
from mixfit.estimators._far_rows import (
    check_log_likelihoods,
    criterion,
    fix_far_labels,
    fix_far_rows,
    may_be_far,
    mean_log_likelihood,
)
from mixfit.estimators._fit_state import check_consistent_fit
from mixfit.estimators._gmm_missing import (check_observed, has_missing, missing_log_resp,
                                             observed_counts)

__all__ = ["MixtureQueries", "rescaled_params"]


#: Rows per block beyond which :meth:`MixtureQueries.score` goes block by block
#: (the (n, K) responsibilities of a memory-mapped file need not fit in memory).
SCORE_BLOCK_ROWS = 65536


class MixtureQueries:
    """``predict``, ``predict_proba``, ``score_samples``, ``score``, ``sample``,
    ``bic`` and ``aic`` of a fitted :class:`~mixfit.GaussianMixture`."""

    def __sklearn_tags__(self):
        # NaN are missing values: fit and the queries use the observed ones.
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _mixture_params(self):
        check_is_fitted(self, "precisions_cholesky_")
        from mixfit.families import GaussianParams

        return em.MixtureParams(
            self.weights_,
            GaussianParams(self.means_, self.covariances_, self.precisions_cholesky_),
        )

    def _scaled_data_and_params(self, X):
        params = self._mixture_params()
        # Models fitted before scaling existed have no _scale: they are in data units.
        scale = getattr(self, "_scale", 1.0)
        if scale != 1.0:
            X = X.astype(self.means_.dtype) / scale
            params = rescaled_params(params, 1.0 / scale)
        return X, params, scale

    def _labels(self, X, column_largest=None):
        """``_log_resp(X)[0].argmax(axis=1)``, chunk by chunk (no (n, K) array).

        ``column_largest``, the largest magnitude of each column of X where the
        caller has it, saves a pass over X.
        """
        X, params, scale = self._scaled_data_and_params(X)
        if has_missing(X):
            # Marginal densities of the observed values; argmax of the posteriors.
            return self._scaled_log_resp(X, params)[0].argmax(axis=1)
        if column_largest is not None:
            column_largest = column_largest / scale
        if may_be_far(X, params, self._family.structure.layout, column_largest):
            # Some row may lie where the kernels' rounding decides the argmax:
            # log p(x) finds those rows, whose labels are then taken exactly.
            labels, log_norm = em.labels_and_log_norm(
                self._family, X, params, check_chunk_size(self.chunk_size),
                n_jobs=check_n_jobs(getattr(self, "n_jobs", None)),
            )
            fix_far_labels(X, params, self._family.structure.layout, labels, log_norm)
            return labels
        return em.predict_labels(
            self._family,
            X,
            params,
            check_chunk_size(self.chunk_size),
            n_jobs=check_n_jobs(getattr(self, "n_jobs", None)),
        )

    def _log_resp(self, X):
        X, params, scale = self._scaled_data_and_params(X)
        log_resp, log_norm = self._scaled_log_resp(X, params)
        if scale != 1.0:
            # A row's density is of its observed values: |o| of them where X has NaN.
            observed = observed_counts(X) if has_missing(X) else X.shape[1]
            log_norm -= (observed * np.log(scale)).astype(log_norm.dtype, copy=False)
        return log_resp, log_norm

    def _scaled_log_resp(self, X, params):
        """The kernels' log-posteriors and log p(x), with far rows recomputed exactly.

        Rows with NaN: those of the marginal densities of their observed values
        (:mod:`mixfit.estimators._gmm_missing`), computed in float64 from
        differences, so no far-row correction applies.
        """
        if has_missing(X):
            return missing_log_resp(self._family, X, params, check_chunk_size(self.chunk_size),
                                    check_n_jobs(getattr(self, "n_jobs", None)))
        log_resp, log_norm = em.log_resp(
            self._family,
            X,
            params,
            check_chunk_size(self.chunk_size),
            n_jobs=check_n_jobs(getattr(self, "n_jobs", None)),
        )
        fix_far_rows(X, params, self._family.structure.layout, log_resp, log_norm)
        return log_resp, log_norm

    def _validated(self, X):
        return self._validated_with_magnitude(X)[0]

    def _validated_with_magnitude(self, X):
        """Checked data and its columns' largest magnitudes (refused beyond what fit accepts)."""
        check_is_fitted(self, "precisions_cholesky_")
        check_consistent_fit(self, "means_")
        # NaN are missing values, which the marginal densities handle; a row
        # with no observed value has no density and is refused with its index.
        X, columns = check_data(self, X, reset=False, magnitudes=True, allow_nan=True)
        if has_missing(X):
            check_observed(X, columns=False)
        return X, check_magnitude(X, per_column=True, columns=columns,
                                  names=getattr(self, "feature_names_in_", None))

    # ---------------------------------------------------------------- inference

    def predict(self, X):
        """Most probable component of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data with the columns the model was fitted on, in the same order.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component index (0 to n_components − 1) of each sample.
        """
        if is_dask_array(X):
            return lazy_query(self, "predict", X, dtype=np.intp)
        return self._labels(*self._validated_with_magnitude(X))

    def predict_proba(self, X):
        """Probability that each sample belongs to each component (its responsibilities).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data with the columns the model was fitted on.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_components)
            Each row sums to 1.
        """
        if is_dask_array(X):
            return lazy_query(self, "predict_proba", X, n_columns=self.weights_.shape[0],
                              dtype=self.means_.dtype)
        return np.exp(self._log_resp(self._validated(X))[0])

    def score_samples(self, X):
        """Log-likelihood ``log p(x)`` of each sample: the log of the mixture's density there.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data with the columns the model was fitted on.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)
            Higher where the model finds the sample more typical.

        Raises
        ------
        ValueError
            If a sample lies so far from every component that its log-likelihood
            is below the range of the output dtype (its posteriors, from
            ``predict_proba``, are still available).
        """
        if is_dask_array(X):
            return lazy_query(self, "score_samples", X, dtype=self.means_.dtype)
        return check_log_likelihoods(self._log_resp(self._validated(X))[1])

    def score(self, X, y=None, sample_weight=None):
        """Mean per-sample log-likelihood of X (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data with the columns the model was fitted on.
        y : ignored
            Present for scikit-learn's API.
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the mean, as for :meth:`fit`.

        Returns
        -------
        score : float
            The (weighted) mean of :meth:`score_samples`.
        """
        if not is_dask_array(X) and getattr(X, "shape", (0,))[0] > SCORE_BLOCK_ROWS:
            return self._blockwise_score(X, sample_weight)
        log_lik = self.score_samples(X).astype(np.float64)
        if is_dask_array(log_lik):
            # A number, not a Dask scalar, as for data in memory: the sum of the
            # blocks' log-likelihoods comes back, not the log-likelihoods.
            if sample_weight is None:
                return float(log_lik.mean().compute())
            weight = check_dask_sample_weight(sample_weight, X)[0]
            return float((weight * log_lik).sum().compute() / weight.sum().compute())
        sample_weight = check_sample_weight(sample_weight, log_lik.shape[0])
        return mean_log_likelihood(log_lik, sample_weight)

    def _blockwise_score(self, X, sample_weight):
        """:meth:`score` a block of rows at a time: no (n, K) array for large X.

        The block means are combined by their weights; the result differs from
        one mean over all rows by rounding only.
        """
        X = self._validated(X)
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        total = weight = 0.0
        for rows in row_chunks(X.shape[0], SCORE_BLOCK_ROWS):
            block_weight = None if sample_weight is None else sample_weight[rows]
            block_total = (rows.stop - rows.start if block_weight is None
                           else float(block_weight.sum()))
            if block_total == 0:
                continue
            log_lik = check_log_likelihoods(self._log_resp(X[rows])[1]).astype(np.float64)
            total += mean_log_likelihood(log_lik, block_weight) * block_total
            weight += block_total
        return float(total / weight)

    def sample(self, n_samples=1):
        """Draw new samples from the fitted mixture.

        Each draw picks a component with probability ``weights_``, then a point
        from that component's Gaussian; draws come grouped by component.
        ``random_state`` seeds the draws.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to draw.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), the model's dtype
        y : ndarray of shape (n_samples,)
            Component of each draw.
        """
        params = self._mixture_params()
        n_samples = check_n_draws(n_samples)
        return em.sample_mixture(self._family, params, n_samples,
                                 check_seed(self.random_state), self.means_.dtype)

    def _n_parameters(self):
        """Free parameters: those not held by ``fixed_params`` (see :meth:`bic`)."""
        n_components, n_features = self.means_.shape
        fixed = check_fixed(type(self._family), getattr(self, "fixed_params", None))
        n_weights = 0 if "weights" in fixed else n_components - 1
        return self._family.n_parameters(n_components, n_features, fixed) + n_weights

    def bic(self, X):
        """Bayesian information criterion on X (lower is better).

        ``BIC = −2 log L + p log n``, where n is the number of rows of X, log L is
        the total log-likelihood of X under the model (n times :meth:`score`) and
        p the number of free parameters: n_components − 1 weights,
        n_components × n_features means, and the covariance parameters of
        ``covariance_type`` (K·d(d+1)/2 for "full", d(d+1)/2 for "tied", K·d for
        "diag", K for "spherical", none for "identity"; K components, d features;
        for mclust's 14 models the counts of Celeux & Govaert, e.g. K + d − 1 for
        "VEI"). Parameters held by ``fixed_params`` are not counted.
        Compare fits with different ``n_components`` on the same data: BIC
        penalises parameters more than AIC does (for n > 7, where log n > 2), and
        so tends to pick fewer components.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to evaluate the model on, with the columns it was fitted on.

        Returns
        -------
        bic : float
        """
        n_samples = X.shape[0] if is_dask_array(X) else self._validated(X).shape[0]
        return criterion(
            "bic", self.score(X), n_samples, self._n_parameters() * np.log(n_samples)
        )

    def aic(self, X):
        """Akaike information criterion on X (lower is better).

        ``AIC = −2 log L + 2p``, with log L the total log-likelihood of X under
        the model (its number of rows times :meth:`score`) and p the number of
        free parameters, as in :meth:`bic`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to evaluate the model on, with the columns it was fitted on.

        Returns
        -------
        aic : float
        """
        n_samples = X.shape[0] if is_dask_array(X) else self._validated(X).shape[0]
        return criterion("aic", self.score(X), n_samples, 2 * self._n_parameters())

    def icl(self, X):
        """Integrated completed likelihood on X (lower is better; Biernacki et al. 2000).

        ``ICL = BIC − 2 Σ_i log q(ĉ_i | x_i)``, where ``ĉ_i`` is the component
        row i is assigned to (:meth:`predict`) and ``q`` its posterior
        probability (:meth:`predict_proba`): BIC plus a penalty for assignments
        that are uncertain, so ICL prefers well-separated clusters where BIC
        prefers the best density. In scikit-learn's sign, as :meth:`bic` (mclust
        reports ``−ICL``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to evaluate the model on, with the columns it was fitted on.

        Returns
        -------
        icl : float
        """
        bic = self.bic(X)
        if is_dask_array(X):
            log_resp = lazy_query(self, "_best_log_resp", X, dtype=np.float64)
            return float(bic - 2.0 * log_resp.sum().compute())
        return float(bic - 2.0 * self._best_log_resp(X).sum())

    def _best_log_resp(self, X):
        """Each row's largest log-responsibility, float64 (ICL's penalty terms)."""
        return self._log_resp(X)[0].max(axis=1).astype(np.float64)


def rescaled_params(params, factor):
    """Mixture parameters for data multiplied by ``factor`` (weights do not change)."""
    if factor == 1.0:
        return params
    return em.MixtureParams(params.weights, params.components.rescaled(factor))
