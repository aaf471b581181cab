"""What a fitted discrete mixture answers: labels, posteriors, densities, samples, BIC/AIC.

A mixin of :class:`~mixfit.BernoulliMixture` and :class:`~mixfit.PoissonMixture`
(:mod:`mixfit.estimators.discrete_mixtures` keeps the fitting, this module the
queries, as :mod:`mixfit.estimators._gmm_queries` does for GaussianMixture). It
reads ``weights_``, the component attribute named by ``_component_name`` and
the subclass's ``_family()``, ``_params_class``, ``_check_values`` and
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
from mixfit.estimators._data_checks import check_data
from mixfit.estimators._far_rows import criterion, mean_log_likelihood
from mixfit.estimators._fit_state import check_consistent_fit

__all__ = ["DiscreteQueries"]


class DiscreteQueries:
    """``predict``, ``predict_proba``, ``score_samples``, ``score``, ``sample``, ``bic``
    and ``aic`` of a fitted discrete mixture."""

    def _params(self):
        check_is_fitted(self, self._component_name)
        check_consistent_fit(self, self._component_name)
        components = self._params_class(getattr(self, self._component_name))
        return em.MixtureParams(self.weights_, components)

    def _validated(self, X):
        params = self._params()
        X = check_data(self, X, reset=False)
        self._check_values(X, getattr(self, "feature_names_in_", None))
        return X, params

    def _weighted_log_prob(self, X, params, *, labels=False):
        """Labels, or ``(log_resp, log p(x))``, chunk by chunk.

        A row impossible under every component (only possible with
        probabilities of exactly 0 or 1, or rates of 0) is refused before the
        normalisation, which would otherwise compute −inf − (−inf).
        """
        family = self._family()
        with np.errstate(divide="ignore"):
            log_weights = np.log(np.asarray(params.weights, dtype=np.float64))
        n_samples, n_components = X.shape[0], params.weights.shape[0]
        if labels:
            out = np.empty(n_samples, dtype=np.intp)
        else:
            out = np.empty((n_samples, n_components), dtype=X.dtype)
            norm = np.empty(n_samples, dtype=X.dtype)
        for rows in row_chunks(n_samples, DEFAULT_CHUNK_SIZE):
            weighted = family.log_prob(X[rows], params.components)
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
        X, params = self._validated(X)
        return self._weighted_log_prob(X, params, labels=True)

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
        X, params = self._validated(X)
        return np.exp(self._weighted_log_prob(X, params)[0])

    def score_samples(self, X):
        """Log-likelihood ``log p(x)`` of each sample under the mixture.

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
            If a row is impossible under every component (it names the row).
        """
        X, params = self._validated(X)
        return self._weighted_log_prob(X, params)[1]

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
        from that component; ``random_state`` seeds the draws.

        Parameters
        ----------
        n_samples : int, default=1

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), the model's dtype
        y : ndarray of shape (n_samples,)
            Component of each draw.
        """
        params = self._params()
        n_samples = check_n_draws(n_samples)
        return em.sample_mixture(self._family(), params, n_samples,
                                 check_seed(self.random_state),
                                 getattr(self, self._component_name).dtype)

    def _n_parameters(self):
        n_components, n_features = getattr(self, self._component_name).shape
        return self._family().n_parameters(n_components, n_features) + n_components - 1

    def bic(self, X):
        """Bayesian information criterion on X (lower is better).

        ``BIC = −2 log L + p log n``, with ``p = K·d + K − 1`` free parameters
        (one per component and feature, and the weights).

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
