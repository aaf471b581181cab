"""The Poisson family: counts, independent within a component.

A component k gives feature j the rate ``λ_kj``, so

    log p(x | k) = Σ_j x_j log λ_kj − λ_kj − log Γ(x_j + 1)
                 = x · log λ_k − Σ_j λ_kj − Σ_j log Γ(x_j + 1),

one GEMM for the first term (``../shared/MODELS.md`` §6). The family assumes
validated input: every entry of X is a non-negative integer (the estimators
check that).

A rate of exactly 0 is legal in given parameters: a count of 0 then has
probability exactly 1 (log 0 · 0 is taken as 0, never NaN) and a positive
count is impossible, with a log-density of exactly ``-inf``. The M-step never
produces one: its rates are at least the dtype's smallest normal number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from mixfit.families.column_sums import (
    ColumnSumStats,
    column_sum_stats,
    empty_column_sum_stats,
)

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

    For count data (non-negative integers per feature). Each component has one
    rate per feature; its statistics are the responsibility mass ``n_k`` and
    the responsibility-weighted column sums ``Σ z x``; the M-step is
    ``λ = Σ z x / n_k``.

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

    def log_prob(self, X, params):
        """Log-probability of each sample under each component, shape (n, K), X's dtype.

        ``-inf`` exactly where a row has a positive count at a rate of 0;
        never NaN. In float32 the three terms are summed in float32, so for
        large counts (where they nearly cancel) the relative accuracy is that
        of float32 times their size over the result's.
        """
        rates = np.asarray(params.rates, dtype=np.float64)
        zero = rates == 0
        with np.errstate(divide="ignore"):
            log_rates = np.log(rates)
        # A zero rate contributes x · log 0 = 0 for x = 0; positive x are
        # masked below, so the GEMM sees only finite weights.
        slope = np.where(zero, 0.0, log_rates)
        out = X @ slope.T.astype(X.dtype)
        out -= rates.sum(axis=1).astype(X.dtype)
        log_factorial = gammaln(np.asarray(X, dtype=np.float64) + 1.0).sum(axis=1)
        out -= log_factorial.astype(X.dtype)[:, None]
        if zero.any():
            impossible = X @ zero.T.astype(X.dtype) > 0
            out[impossible] = -np.inf
        return out

    def stats(self, X, resp, sample_weight=None):
        """Statistics of a block of samples: ``column_sum_stats``, float64."""
        return column_sum_stats(X, resp, sample_weight)

    def empty_stats(self, n_components, n_features):
        """The zero of ``+``: statistics of no samples."""
        return empty_column_sum_stats(n_components, n_features)

    def m_step(self, stats, dtype=np.float64, previous=None):
        """Rates ``Σ z x / n_k`` from summed statistics, at least ``finfo(dtype).tiny``.

        The floor keeps the log-density of a component whose rows are all 0
        in a feature finite (about −708 per unit count in float64, −87 in
        float32) instead of −inf; it moves the expected log-likelihood by
        about ``n_k · tiny``, far below rounding. A component with no mass at
        all (``n_k = 0``) gets the pooled rate of all components, a neutral
        start should it regain rows. ``previous`` is accepted for the engine's
        protocol and unused: this M-step is closed-form.
        """
        counts = stats.resp_sum
        empty = counts <= 0
        rates = stats.x_sum / np.where(empty, 1.0, counts)[:, None]
        if empty.any():
            total = counts.sum()
            pooled = stats.x_sum.sum(axis=0) / total if total > 0 else 0.0
            rates[empty] = pooled
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

    def n_parameters(self, n_components, n_features):
        """Free parameters of the components (rates, not weights): K·d."""
        return n_components * n_features

    def sample(self, params, component, n_samples, rng):
        """Draw ``n_samples`` rows of counts from one component, in the parameters' dtype."""
        rates = np.asarray(params.rates[component], dtype=np.float64)
        return rng.poisson(rates, size=(n_samples, rates.shape[0])).astype(params.rates.dtype)
