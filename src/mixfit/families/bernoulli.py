"""The Bernoulli family: binary features, independent within a component.

A component k gives feature j the probability ``p_kj`` of being 1, so

    log p(x | k) = Σ_j x_j log p_kj + (1 − x_j) log(1 − p_kj)
                 = x · (log p_k − log(1 − p_k)) + Σ_j log(1 − p_kj),

one GEMM for all rows and components (``../shared/MODELS.md`` §6). The
family assumes validated input: every entry of X is 0, 1 or NaN (the
estimators check that). A NaN entry is missing: it is skipped, so a row's
log-density sums only its observed features, and the M-step divides by the
responsibility mass over observed entries of each feature.

Probabilities of exactly 0 or 1 are legal (a pseudocount of 0, or given
parameters): a row with a 1 where ``p_kj = 0``, or a 0 where ``p_kj = 1``, is
impossible under component k and gets a log-density of exactly ``-inf``;
every other row gets the finite sum of its possible terms. The GEMM never sees
an infinite weight, so ``0 · (−inf)`` never makes a NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixfit.families.checks import check_pseudocount
from mixfit.families.column_sums import (
    ColumnSumStats,
    checked_fixed,
    column_sum_stats,
    empty_column_sum_stats,
    fused_e_step,
    kept_previous,
    observed_part,
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

    For binary data (0/1 features, e.g. binarised images; NaN for a missing
    entry). Each component has one probability per feature; its statistics
    are the responsibility mass ``n_k``, the responsibility-weighted column
    sums ``Σ z x`` and, with missing entries, the mass over each feature's
    observed entries ``Σ z o`` (``n_k`` otherwise).

    Parameters
    ----------
    pseudocount : float, default=1.0
        ``a`` in the M-step ``p = (Σ z x + a) / (Σ z o + 2a)``: ``a`` imaginary
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
        return check_pseudocount(self.pseudocount)

    #: The component parameters this family estimates (what ``fixed`` may name).
    parameter_names = ("probabilities",)

    def _scores(self, X, params):
        """The GEMM part of the log-densities and what it leaves out.

        Returns ``(values, observed, scores, offset)``: X with NaN set to 0,
        the mask of observed entries (None if complete), ``scores`` (n, K)
        in X's dtype and ``offset`` (K,) float64 such that ``log p(x | k) =
        scores[:, k] + offset[k]`` (``-inf`` already in ``scores`` where a row
        is impossible). With missing entries the per-row part of the offset
        (the observed features' ``log(1 − p)``) is a second GEMM in
        ``scores``, and ``offset`` is zero.
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
        log_q = np.where(degenerate, 0.0, log_q)
        values, observed = observed_part(X)
        dtype = values.dtype
        scores = values @ slope.T.astype(dtype)
        if observed is None:
            offset = log_q.sum(axis=1)
        else:
            scores += observed @ log_q.T.astype(dtype)
            offset = np.zeros(p.shape[0])
        if degenerate.any():
            # Count of impossible entries per (row, component): x = 1 where
            # p = 0, plus an observed x = 0 where p = 1: integers, exact in
            # float32 up to 2**24 features.
            sign = (zero.astype(np.float64) - one).T.astype(dtype)
            if observed is None:
                ones_observed = one.sum(axis=1).astype(dtype)
            else:
                ones_observed = observed @ one.T.astype(dtype)
            impossible = values @ sign + ones_observed > 0.5
            scores[impossible] = -np.inf
        return values, observed, scores, offset

    def log_prob(self, X, params):
        """Log-probability of each sample under each component, shape (n, K), X's dtype.

        NaN entries of X are skipped (the sum runs over a row's observed
        features). ``-inf`` exactly where a row is impossible under a
        component (a 1 where its probability is 0, or a 0 where it is 1);
        never NaN. The GEMM runs in X's dtype: in float32, probabilities very
        near 0 or 1 make its two terms large and nearly cancelling, so the
        relative accuracy is float32's times their size over the result's.
        """
        _, _, scores, offset = self._scores(X, params)
        scores += offset.astype(scores.dtype)
        return scores

    def kernel_log_prob(self, X, params):
        """:meth:`log_prob` (already one GEMM; the engine's numba path calls this name)."""
        return self.log_prob(X, params)

    def kernel_e_step(self, X, log_weights, params, sample_weight=None):
        """One chunk's E-step and statistics: two GEMMs and a fused normalisation.

        The log-densities are one GEMM in X's dtype (float32 data stays
        float32); :func:`mixfit.kernels.discrete.normalise_scores` adds the
        float64 constants, takes the logsumexp and writes the weighted
        responsibilities per row; the statistics are the GEMM ``respᵀ X``
        (and ``respᵀ o`` where entries are missing, or for float32 X), in
        float64, or for float32 X by sgemms over blocks of 256 rows added in
        float64 (see :func:`mixfit.families.column_sums.weighted_column_sums`).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        log_weights : ndarray of shape (n_components,)
            Log mixture weights (``-inf`` for a zero weight).
        params : BernoulliParams
        sample_weight : ndarray of shape (n_samples,), optional

        Returns
        -------
        log_likelihood, total_weight : float
        resp_sum : ndarray of shape (n_components,)
        stats : BernoulliStats
        """
        values, observed, scores, offset = self._scores(X, params)
        const = np.asarray(log_weights, dtype=np.float64) + offset
        return fused_e_step(values, observed, scores, const, np.empty(0), sample_weight,
                            exact_mass=self._needs_exact_mass())

    def stats(self, X, resp, sample_weight=None):
        """Statistics of a block of samples: ``column_sum_stats``, float64, NaN skipped.

        With ``pseudocount=0`` and float32 X the mass of every feature is
        carried too, summed as ``Σ z x`` is, so that a feature whose rows are
        all 1 gets a probability of exactly 1.
        """
        return column_sum_stats(X, resp, sample_weight, exact_mass=self._needs_exact_mass())

    def _needs_exact_mass(self):
        # Only the maximum likelihood estimate reaches a probability of 1; with
        # a pseudocount the float32 statistics spare the mass's second GEMM.
        return self.pseudocount == 0

    def empty_stats(self, n_components, n_features):
        """The zero of ``+``: statistics of no samples."""
        return empty_column_sum_stats(n_components, n_features)

    def m_step(self, stats, dtype=np.float64, previous=None, fixed=frozenset()):
        """Probabilities ``(Σ z x + a) / (Σ z o + 2a)`` from summed statistics.

        ``Σ z o`` is the responsibility mass over the observed entries of each
        feature (``n_k`` for complete data). An entry with no mass at all
        (possible only with ``pseudocount=0``) gets 0.5, the formula's limit
        as ``a → 0``. Entries strictly inside (0, 1) stay so in ``dtype``
        (see :func:`_open_interval`).

        ``fixed`` containing ``"probabilities"`` returns ``previous`` (the
        parameters of the last E-step) unchanged.
        """
        if checked_fixed(fixed, self.parameter_names):
            return kept_previous(previous, "probabilities")
        a = self._checked_pseudocount()
        numerator = stats.x_sum + a
        denominator = stats.observed_mass() + 2 * a
        empty = denominator <= 0
        p = numerator / np.where(empty, 1.0, denominator)
        p[empty] = 0.5
        # x_sum ≤ Σ z o holds exactly; summed in another order it may exceed
        # it by an ulp, which must not give p > 1.
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

    def n_parameters(self, n_components, n_features, fixed=frozenset()):
        """Free parameters of the components (probabilities, not weights): K·d, 0 if fixed."""
        if checked_fixed(fixed, self.parameter_names):
            return 0
        return n_components * n_features

    def sample(self, params, component, n_samples, rng):
        """Draw ``n_samples`` 0/1 rows from one component, in the parameters' dtype."""
        p = np.asarray(params.probabilities[component], dtype=np.float64)
        draws = rng.random((n_samples, p.shape[0])) < p
        return draws.astype(params.probabilities.dtype)

