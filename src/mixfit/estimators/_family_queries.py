"""What a fitted family mixture answers: labels, posteriors, densities, samples, BIC/AIC.

A mixin of :class:`~mixfit.estimators._family_mixture.FamilyMixture`
(which keeps the fitting, this module the queries, as
:mod:`mixfit.estimators._gmm_queries` does for GaussianMixture). It reads
``weights_`` and the ``{name}_`` attribute of each of the family's
``parameter_names``, and the base's ``_prepare``, ``_fitted_family`` and
``_impossible_hint``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from sklearn.utils.validation import check_is_fitted

from mixfit._validation import (
    DEFAULT_CHUNK_SIZE,
    check_n_draws,
    check_sample_weight,
    check_seed,
    row_chunks,
)
from mixfit.engine import em
from mixfit.engine.constraints import check_fixed
from mixfit.estimators._far_rows import criterion, mean_log_likelihood
from mixfit.estimators._fit_state import check_consistent_fit
from mixfit.families.categorical import CategoricalFamily
from mixfit.families.product import ProductFamily
from mixfit.families.values import parameter_names, params_from_values

__all__ = ["FamilyQueries"]


class FamilyQueries:
    """``predict``, ``predict_proba``, ``score_samples``, ``score``, ``sample``, ``bic``
    and ``aic`` of a fitted family mixture."""

    #: The fitted attribute with one row per component and one column per
    #: feature, checked against ``n_features_in_`` (None where there is none).
    _consistency_attribute = None

    def _params(self, family=None):
        check_is_fitted(self, "weights_")
        if self._consistency_attribute is not None:
            check_consistent_fit(self, self._consistency_attribute)
        if family is None:
            family = self._fitted_family()
        values = {name: getattr(self, name + "_") for name in parameter_names(family)}
        dtype = np.asarray(self.weights_).dtype
        return em.MixtureParams(np.asarray(self.weights_),
                                params_from_values(family, values, dtype))

    def _validated(self, X):
        check_is_fitted(self, "weights_")
        X, family, _ = self._prepare(X, reset=False)
        return X, family, self._params(family)

    def _log_prob(self, family, X, params):
        # The family's kernels where it has them (as the engine's "numba" path).
        compute = getattr(family, "kernel_log_prob", family.log_prob)
        return compute(X, params)

    def _weighted_log_prob(self, X, family, params, *, labels=False):
        """Labels, or ``(log_resp, log p(x))``, chunk by chunk.

        A row impossible under every component (only possible with
        probabilities of exactly 0, or rates of 0) is refused before the
        normalisation, which would otherwise compute −inf − (−inf).
        """
        with np.errstate(divide="ignore"):
            log_weights = np.log(np.asarray(params.weights, dtype=np.float64))
        n_samples, n_components = X.shape[0], params.weights.shape[0]
        if labels:
            out = np.empty(n_samples, dtype=np.intp)
        else:
            out = np.empty((n_samples, n_components), dtype=X.dtype)
            norm = np.empty(n_samples, dtype=X.dtype)
        for rows in row_chunks(n_samples, DEFAULT_CHUNK_SIZE):
            weighted = self._log_prob(family, np.ascontiguousarray(X[rows]),
                                      params.components)
            weighted += log_weights.astype(weighted.dtype)
            best = weighted.max(axis=1)
            impossible = np.flatnonzero(best == -np.inf)
            if impossible.size:
                self._refuse_impossible(rows.start + impossible)
            if labels:
                out[rows] = weighted.argmax(axis=1)
                continue
            block_norm = logsumexp(weighted, axis=1)
            out[rows] = weighted - block_norm[:, None]
            norm[rows] = block_norm
        return out if labels else (out, norm)

    def _refuse_impossible(self, rows):
        """Refuse rows of probability 0 under every component, naming the first."""
        raise ValueError(
            f"row {rows[0]} of X (the first such row) is impossible under every "
            f"component of this {type(self).__name__} (probability exactly 0): "
            f"{self._impossible_hint}"
        )

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
        X, family, params = self._validated(X)
        return self._weighted_log_prob(X, family, params, labels=True)

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
        X, family, params = self._validated(X)
        return np.exp(self._weighted_log_prob(X, family, params)[0])

    def score_samples(self, X):
        """Log-likelihood ``log p(x)`` of each sample under the mixture.

        Missing values are skipped: a row's density is that of its observed
        values (their marginal).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data with the columns the model was fitted on.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)

        Raises
        ------
        ValueError
            If a row is impossible under every component (it names the row),
            or holds a category not seen in fit (it names the column).
        """
        X, family, params = self._validated(X)
        return self._weighted_log_prob(X, family, params)[1]

    def score(self, X, y=None, sample_weight=None):
        """Mean per-sample log-likelihood of X (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data with the columns the model was fitted on.
        y : ignored
            Present for scikit-learn's API.
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the mean.

        Returns
        -------
        score : float
        """
        log_lik = self.score_samples(X).astype(np.float64)
        sample_weight = check_sample_weight(sample_weight, log_lik.shape[0])
        return mean_log_likelihood(log_lik, sample_weight)

    def sample(self, n_samples=1):
        """Draw new samples from the fitted mixture, grouped by component.

        Each draw picks a component with probability ``weights_``, then a row
        from that component; ``random_state`` seeds the draws. Categorical
        columns come back as their categories (an object array then).

        Parameters
        ----------
        n_samples : int, default=1

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            In the model's dtype, or object where columns are categorical.
        y : ndarray of shape (n_samples,)
            Component of each draw.
        """
        family = self._fitted_family()
        params = self._params(family)
        n_samples = check_n_draws(n_samples)
        X, y = em.sample_mixture(family, params, n_samples, check_seed(self.random_state),
                                 np.asarray(self.weights_).dtype)
        categories = getattr(self, "categories_", None)
        if categories is None:
            return X, y
        out = X.astype(object)
        for column, levels in zip(self._categorical_columns(self._groups_of(family)),
                                  categories):
            out[:, column] = levels[X[:, column].astype(np.intp)]
        return out, y

    @staticmethod
    def _groups_of(family):
        if isinstance(family, ProductFamily):
            return family.groups
        if isinstance(family, CategoricalFamily):
            return [(family, np.arange(len(family.n_levels)))]
        return []

    def _n_parameters(self):
        family = self._fitted_family()
        fixed = check_fixed(family, self.fixed_params)
        own = fixed - {"weights"}
        n_components = np.asarray(self.weights_).shape[0]
        if own:
            count = family.n_parameters(n_components, self.n_features_in_, own)
        else:
            count = family.n_parameters(n_components, self.n_features_in_)
        return count + (0 if "weights" in fixed else n_components - 1)

    def bic(self, X):
        """Bayesian information criterion on X (lower is better).

        ``BIC = −2 log L + p log n``, with ``p`` the free parameters: the
        family's (``family.n_parameters``) plus ``K − 1`` weights, less those
        held by ``fixed_params``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        bic : float
        """
        n_samples = self._validated(X)[0].shape[0]
        return criterion("bic", self.score(X), n_samples,
                         self._n_parameters() * np.log(n_samples))

    def aic(self, X):
        """Akaike information criterion on X (lower is better): ``−2 log L + 2p``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        aic : float
        """
        n_samples = self._validated(X)[0].shape[0]
        return criterion("aic", self.score(X), n_samples, 2 * self._n_parameters())
