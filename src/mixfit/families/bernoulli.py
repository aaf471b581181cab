"""The Bernoulli family: binary features, independent within a component.

A component k gives feature j the probability ``p_kj`` of being 1, so

    log p(x | k) = Σ_j x_j log p_kj + (1 − x_j) log(1 − p_kj)
                 = x · (log p_k − log(1 − p_k)) + Σ_j log(1 − p_kj),

one GEMM for all rows and components (``../shared/MODELS.md`` §6). The
family assumes validated input: every entry of X is 0 or 1 (the estimators
check that).

Probabilities of exactly 0 or 1 are legal (a pseudocount of 0, or given
parameters): a row with a 1 where ``p_kj = 0``, or a 0 where ``p_kj = 1``, is
impossible under component k and gets a log-density of exactly ``-inf``;
every other row gets the finite sum of its possible terms. The GEMM never sees
an infinite weight, so ``0 · (−inf)`` never makes a NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixfit.families.column_sums import (
    ColumnSumStats,
    column_sum_stats,
    empty_column_sum_stats,
)

__all__ = ["BernoulliFamily", "BernoulliParams", "BernoulliStats"]


@dataclass(frozen=True)
class BernoulliParams:
    """Parameters of K Bernoulli components, in the data's dtype.

    Attributes
    ----------
    probabilities : ndarray of shape (n_components, n_features)
        ``probabilities[k, j]`` is the probability that feature j is 1 in
        component k, in [0, 1].
    """

    probabilities: np.ndarray


#: Their statistics: the mass and the weighted column sums of each component.
BernoulliStats = ColumnSumStats


def _open_interval(values, dtype):
    """``values`` (float64 in [0, 1]) in ``dtype``, where rounding moves none onto 0 or 1.

    An entry strictly inside (0, 1) stays strictly inside after the cast (a
    float32 ``1 − 1e-9`` would otherwise round to 1 and make rows with a 0
    there impossible); entries that are exactly 0 or 1 stay exactly so.
    """
    dtype = np.dtype(dtype)
    low = np.finfo(dtype).tiny
    high = np.nextafter(dtype.type(1), dtype.type(0))
    interior = (values > 0) & (values < 1)
    return np.where(interior, np.clip(values, low, high), values).astype(dtype)


class BernoulliFamily:
    """Components that are products of independent Bernoulli distributions.

    For binary data (0/1 features, e.g. binarised images). Each component has
    one probability per feature; its statistics are the responsibility mass
    ``n_k`` and the responsibility-weighted column sums ``Σ z x``.

    Parameters
    ----------
    pseudocount : float, default=1.0
        ``a`` in the M-step ``p = (Σ z x + a) / (n_k + 2a)``: ``a`` imaginary
        ones and ``a`` imaginary zeros added to every component and feature
        (Laplace's rule at the default, as scikit-learn's
        ``BernoulliNB(alpha=1.0)``). It is the posterior mode under a
        Beta(a + 1, a + 1) prior, so EM then raises the log-likelihood plus
        ``a Σ log p(1 − p)``. Any ``a > 0`` keeps every probability strictly
        inside (0, 1), so no new row is impossible. ``0`` gives the maximum
        likelihood estimate, with probabilities of exactly 0 or 1 where a
        component's rows agree on a feature.

    Examples
    --------
    >>> import numpy as np
    >>> family = BernoulliFamily(pseudocount=0.0)
    >>> X = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> params = family.m_step(family.stats(X, np.ones((2, 1))), dtype=X.dtype)
    >>> params.probabilities
    array([[1. , 0.5]])
    >>> family.log_prob(np.array([[1.0, 1.0], [0.0, 1.0]]), params)
    array([[-0.69314718],
           [       -inf]])
    """

    def __init__(self, pseudocount=1.0):
        self.pseudocount = pseudocount

    def _checked_pseudocount(self):
        # Validated where it is used (scikit-learn's convention: __init__ stores).
        a = self.pseudocount
        if isinstance(a, bool) or not isinstance(a, (int, float, np.integer, np.floating)):
            raise TypeError(f"pseudocount must be a number, got {type(a).__name__}.")
        a = float(a)
        if not np.isfinite(a) or a < 0:
            raise ValueError(
                f"pseudocount must be a finite number >= 0, got {a!r}; use 0 for the "
                "maximum likelihood estimate."
            )
        return a

    def log_prob(self, X, params):
        """Log-probability of each sample under each component, shape (n, K), X's dtype.

        ``-inf`` exactly where a row is impossible under a component (a 1
        where its probability is 0, or a 0 where it is 1); never NaN. The
        GEMM runs in X's dtype: in float32, probabilities very near 0 or 1
        make its two terms large and nearly cancelling, so the relative
        accuracy is float32's times their size over the result's.
        """
        p = np.asarray(params.probabilities, dtype=np.float64)
        zero = p == 0
        one = p == 1
        with np.errstate(divide="ignore"):
            log_p = np.log(p)
            log_q = np.log1p(-p)
        # Where p is 0 or 1 the possible value of x contributes log 1 = 0 and
        # the other is handled by the mask below, so both terms are zeroed
        # there and the GEMM sees only finite weights.
        degenerate = zero | one
        slope = np.where(degenerate, 0.0, log_p - log_q)
        offset = np.where(degenerate, 0.0, log_q).sum(axis=1)
        out = X @ slope.T.astype(X.dtype)
        out += offset.astype(X.dtype)
        if degenerate.any():
            # Count of impossible entries per (row, component): x = 1 where
            # p = 0, plus x = 0 where p = 1: integers, exact in float32 up
            # to 2**24 features.
            sign = (zero.astype(np.float64) - one).T.astype(X.dtype)
            impossible = X @ sign + one.sum(axis=1).astype(X.dtype) > 0.5
            out[impossible] = -np.inf
        return out

    def stats(self, X, resp, sample_weight=None):
        """Statistics of a block of samples: ``column_sum_stats``, float64."""
        return column_sum_stats(X, resp, sample_weight)

    def empty_stats(self, n_components, n_features):
        """The zero of ``+``: statistics of no samples."""
        return empty_column_sum_stats(n_components, n_features)

    def m_step(self, stats, dtype=np.float64, previous=None):
        """Probabilities ``(Σ z x + a) / (n_k + 2a)`` from summed statistics.

        A component with no mass at all (``n_k = 0``, possible only with
        ``pseudocount=0``) gets 0.5 everywhere, the formula's limit as
        ``a → 0``. Entries strictly inside (0, 1) stay so in ``dtype`` (see
        :func:`_open_interval`). ``previous`` is accepted for the engine's
        protocol and unused: this M-step is closed-form.
        """
        a = self._checked_pseudocount()
        numerator = stats.x_sum + a
        denominator = stats.resp_sum + 2 * a
        empty = denominator <= 0
        p = numerator / np.where(empty, 1.0, denominator)[:, None]
        p[empty] = 0.5
        # x_sum ≤ n_k holds exactly; summed in another order it may exceed
        # n_k by an ulp, which must not give p > 1.
        p = np.clip(p, 0.0, 1.0)
        return BernoulliParams(_open_interval(p, dtype))

    def params_from_probabilities(self, probabilities, dtype=np.float64):
        """Parameters from given probabilities, shape (n_components, n_features), in [0, 1]."""
        p = np.asarray(probabilities, dtype=np.float64)
        if p.ndim != 2:
            raise ValueError(
                f"probabilities must have shape (n_components, n_features), got {p.shape}."
            )
        if not (np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()):
            raise ValueError("probabilities must lie in [0, 1] (and not be NaN).")
        return BernoulliParams(p.astype(dtype))

    def n_parameters(self, n_components, n_features):
        """Free parameters of the components (probabilities, not weights): K·d."""
        return n_components * n_features

    def sample(self, params, component, n_samples, rng):
        """Draw ``n_samples`` 0/1 rows from one component, in the parameters' dtype."""
        p = np.asarray(params.probabilities[component], dtype=np.float64)
        draws = rng.random((n_samples, p.shape[0])) < p
        return draws.astype(params.probabilities.dtype)
