"""The Poisson family: counts, independent within a component.

A component k gives feature j the rate ``λ_kj``, so

    log p(x | k) = Σ_j x_j log λ_kj − λ_kj − log Γ(x_j + 1)
                 = x · log λ_k − Σ_j λ_kj − Σ_j log Γ(x_j + 1),

one GEMM for the first term (``../shared/MODELS.md`` §6). The family assumes
validated input: every entry of X is a non-negative integer or NaN (the
estimators check that). A NaN entry is missing: it is skipped, so a row's
log-density sums only its observed features, and the M-step divides by the
responsibility mass over observed entries of each feature.

A rate of exactly 0 is legal in given parameters: a count of 0 then has
probability exactly 1 (log 0 · 0 is taken as 0, never NaN) and a positive
count is impossible, with a log-density of exactly ``-inf``. The M-step never
produces one: its rates are at least the dtype's smallest normal number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixfit.families.column_sums import (
    ColumnSumStats,
    checked_fixed,
    column_sum_stats,
    empty_column_sum_stats,
    fused_e_step,
    kept_previous,
    observed_part,
)
from mixfit.kernels.discrete import LOG_FACTORIAL, log_factorial_rows

__all__ = ["PoissonFamily", "PoissonParams", "PoissonStats"]


@dataclass(frozen=True)
class PoissonParams:
    """Parameters of K Poisson components, in the data's dtype.

    Attributes
    ----------
    rates : ndarray of shape (n_components, n_features)
        ``rates[k, j]`` is the mean count of feature j in component k, ≥ 0.
    """

    rates: np.ndarray


#: Their statistics: the mass and the weighted column sums of each component.
PoissonStats = ColumnSumStats


class PoissonFamily:
    """Components that are products of independent Poisson distributions.

    For count data (non-negative integers per feature; NaN for a missing
    entry). Each component has one rate per feature; its statistics are the
    responsibility mass ``n_k``, the responsibility-weighted column sums
    ``Σ z x`` and, with missing entries, the mass over each feature's
    observed entries ``Σ z o`` (``n_k`` otherwise); the M-step is
    ``λ = Σ z x / Σ z o``.

    Examples
    --------
    >>> import numpy as np
    >>> family = PoissonFamily()
    >>> X = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> params = family.m_step(family.stats(X, np.ones((2, 1))), dtype=X.dtype)
    >>> params.rates
    array([[1., 2.]])
    >>> family.log_prob(np.array([[0.0, 0.0]]), family.params_from_rates([[0.0, 0.0]]))
    array([[0.]])
    """

    #: The component parameters this family estimates (what ``fixed`` may name).
    parameter_names = ("rates",)

    def _scores(self, X, params):
        """The GEMM part of the log-densities and what it leaves out.

        Returns ``(values, observed, scores, offset, log_factorial)``: X with
        NaN set to 0, the mask of observed entries (None if complete),
        ``scores`` (n, K) in X's dtype, ``offset`` (K,) float64 and
        ``log_factorial`` (n,) float64 such that ``log p(x | k) = scores[:, k]
        + offset[k] − log_factorial`` (``-inf`` already in ``scores`` where a
        row is impossible). With missing entries the per-row part of the
        offset (the observed features' ``−λ``) is a second GEMM in
        ``scores``, and ``offset`` is zero.
        """
        rates = np.asarray(params.rates, dtype=np.float64)
        zero = rates == 0
        with np.errstate(divide="ignore"):
            log_rates = np.log(rates)
        # A zero rate contributes x · log 0 = 0 for x = 0; positive x are
        # masked below, so the GEMM sees only finite weights.
        slope = np.where(zero, 0.0, log_rates)
        values, observed = observed_part(X)
        dtype = values.dtype
        scores = values @ slope.T.astype(dtype)
        if observed is None:
            offset = -rates.sum(axis=1)
        else:
            scores -= observed @ rates.T.astype(dtype)
            offset = np.zeros(rates.shape[0])
        if zero.any():
            impossible = values @ zero.T.astype(dtype) > 0
            scores[impossible] = -np.inf
        # Missing entries are 0 in ``values``, and log 0! = 0.
        log_factorial = np.empty(values.shape[0])
        log_factorial_rows(values, LOG_FACTORIAL, log_factorial)
        return values, observed, scores, offset, log_factorial

    def log_prob(self, X, params):
        """Log-probability of each sample under each component, shape (n, K), X's dtype.

        NaN entries of X are skipped (the sum runs over a row's observed
        features). ``-inf`` exactly where a row has a positive count at a
        rate of 0; never NaN. In float32 the three terms are summed in
        float32, so for large counts (where they nearly cancel) the relative
        accuracy is that of float32 times their size over the result's.
        """
        _, _, scores, offset, log_factorial = self._scores(X, params)
        scores += offset.astype(scores.dtype)
        scores -= log_factorial.astype(scores.dtype)[:, None]
        return scores

    def kernel_log_prob(self, X, params):
        """:meth:`log_prob` (already one GEMM; the engine's numba path calls this name)."""
        return self.log_prob(X, params)

    def kernel_e_step(self, X, log_weights, params, sample_weight=None):
        """One chunk's E-step and statistics: two GEMMs and a fused normalisation.

        The log-densities are one GEMM in X's dtype (float32 data stays
        float32); :func:`mixfit.kernels.discrete.normalise_scores` adds the
        float64 constants and ``−log x!``, takes the logsumexp and writes the
        weighted responsibilities per row; the statistics are the GEMM
        ``respᵀ X`` (and ``respᵀ o`` where entries are missing), in float64,
        or for float32 X by sgemms over blocks of 256 rows added in float64
        (see :func:`mixfit.families.column_sums.weighted_column_sums`).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        log_weights : ndarray of shape (n_components,)
            Log mixture weights (``-inf`` for a zero weight).
        params : PoissonParams
        sample_weight : ndarray of shape (n_samples,), optional

        Returns
        -------
        log_likelihood, total_weight : float
        resp_sum : ndarray of shape (n_components,)
        stats : PoissonStats
        """
        values, observed, scores, offset, log_factorial = self._scores(X, params)
        const = np.asarray(log_weights, dtype=np.float64) + offset
        return fused_e_step(values, observed, scores, const, -log_factorial, sample_weight)

    def stats(self, X, resp, sample_weight=None):
        """Statistics of a block of samples: ``column_sum_stats``, float64, NaN skipped."""
        return column_sum_stats(X, resp, sample_weight)

    def empty_stats(self, n_components, n_features):
        """The zero of ``+``: statistics of no samples."""
        return empty_column_sum_stats(n_components, n_features)

    def m_step(self, stats, dtype=np.float64, previous=None, fixed=frozenset()):
        """Rates ``Σ z x / Σ z o`` from summed statistics, at least ``finfo(dtype).tiny``.

        ``Σ z o`` is the responsibility mass over the observed entries of each
        feature (``n_k`` for complete data). The floor keeps the log-density
        of a component whose rows are all 0 in a feature finite (about −708
        per unit count in float64, −87 in float32) instead of −inf; it moves
        the expected log-likelihood by about ``n_k · tiny``, far below
        rounding. An entry with no mass at all gets the pooled rate of that
        feature over all components, a neutral start should it regain rows.

        ``fixed`` containing ``"rates"`` returns ``previous`` (the parameters
        of the last E-step) unchanged.
        """
        if checked_fixed(fixed, self.parameter_names):
            return kept_previous(previous, "rates")
        mass = stats.observed_mass()
        empty = mass <= 0
        rates = stats.x_sum / np.where(empty, 1.0, mass)
        if empty.any():
            total = mass.sum(axis=0)
            pooled = stats.x_sum.sum(axis=0) / np.where(total > 0, total, 1.0)
            rates = np.where(empty, pooled[None, :], rates)
        rates = np.maximum(rates, np.finfo(np.dtype(dtype)).tiny)
        return PoissonParams(rates.astype(dtype))

    def params_from_rates(self, rates, dtype=np.float64):
        """Parameters from given rates, shape (n_components, n_features), finite and ≥ 0."""
        rates = np.asarray(rates, dtype=np.float64)
        if rates.ndim != 2:
            raise ValueError(
                f"rates must have shape (n_components, n_features), got {rates.shape}."
            )
        if not (np.isfinite(rates).all() and (rates >= 0).all()):
            raise ValueError("rates must be finite and >= 0.")
        return PoissonParams(rates.astype(dtype))

    def n_parameters(self, n_components, n_features, fixed=frozenset()):
        """Free parameters of the components (rates, not weights): K·d, 0 if fixed."""
        if checked_fixed(fixed, self.parameter_names):
            return 0
        return n_components * n_features

    def sample(self, params, component, n_samples, rng):
        """Draw ``n_samples`` rows of counts from one component, in the parameters' dtype."""
        rates = np.asarray(params.rates[component], dtype=np.float64)
        return rng.poisson(rates, size=(n_samples, rates.shape[0])).astype(params.rates.dtype)
