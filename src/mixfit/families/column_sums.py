"""The statistics of families whose M-step needs only weighted column sums.

Bernoulli and Poisson components (independent features, one mean parameter
per feature) are estimated from the responsibility mass ``n_k`` of each
component, its responsibility-weighted column sums ``Σ z x`` and, where
entries are missing (NaN), the responsibility mass over the observed entries
of each feature ``Σ z o_j``: one statistics class and one way of computing it
serve both, as do the pieces their fused E-steps share (:func:`observed_part`,
:func:`fused_e_step`) and the handling of a fixed parameter
(:func:`checked_fixed`, :func:`kept_previous`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixfit.families.checks import check_fixed_names
from mixfit.kernels.discrete import has_nan, normalise_scores

__all__ = [
    "ColumnSumStats",
    "checked_fixed",
    "column_sum_stats",
    "empty_column_sum_stats",
    "fused_e_step",
    "kept_previous",
    "observed_part",
    "weighted_column_sums",
]


@dataclass(frozen=True)
class ColumnSumStats:
    """Weighted count and weighted column sums of each component, float64.

    ``a + b`` is the statistics of the union of the samples behind ``a`` and
    ``b``: every member is a plain sum.

    Attributes
    ----------
    resp_sum : ndarray of shape (n_components,)
        Sum over samples of responsibility × sample weight, ``n_k``.
    x_sum : ndarray of shape (n_components, n_features)
        Sum over samples of responsibility × sample weight × x, ``Σ z x``,
        over the observed entries.
    observed_sum : ndarray of shape (n_components, n_features) or None
        Sum over samples of responsibility × sample weight × ``o_j`` (1 where
        feature j is observed, 0 where it is NaN): the mass behind each entry
        of ``x_sum``. None when every entry was observed, which stands for
        ``resp_sum`` in every column (complete data carries no (K, d) copy).
    """

    resp_sum: np.ndarray
    x_sum: np.ndarray
    observed_sum: np.ndarray | None = None

    def observed_mass(self):
        """``Σ z o_j``, shape (n_components, n_features), whether or not entries were missing."""
        if self.observed_sum is None:
            return np.broadcast_to(self.resp_sum[:, None], self.x_sum.shape)
        return self.observed_sum

    def __add__(self, other):
        if not isinstance(other, ColumnSumStats):
            return NotImplemented
        observed = None
        if self.observed_sum is not None or other.observed_sum is not None:
            observed = self.observed_mass() + other.observed_mass()
        return ColumnSumStats(self.resp_sum + other.resp_sum, self.x_sum + other.x_sum,
                              observed)

    def scaled(self, factor):
        """These statistics with every sample weight multiplied by ``factor``."""
        factor = float(factor)
        observed = None if self.observed_sum is None else self.observed_sum * factor
        return ColumnSumStats(self.resp_sum * factor, self.x_sum * factor, observed)


def observed_part(X):
    """X with NaN entries set to 0, and the mask of observed entries (None if complete).

    The zeros make a missing entry drop out of every sum linear in x; the
    mask (X's dtype, 1 observed, 0 missing) carries the terms that do not
    depend on x. Complete data is returned as is, at the cost of one scan.
    """
    if not has_nan(X):
        return X, None
    observed = ~np.isnan(X)
    return np.where(observed, X, 0).astype(X.dtype, copy=False), observed.astype(X.dtype)


def weighted_column_sums(X, weighted, observed=None, *, exact_mass=False):
    """Statistics from weighted responsibilities, by GEMMs, returned in float64.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Without NaN (see :func:`observed_part`).
    weighted : ndarray of shape (n_samples, n_components), float64
        Responsibility × sample weight.
    observed : ndarray of shape (n_samples, n_features), optional
        The mask of observed entries; None when all are.
    exact_mass : bool, default=False
        For float32 X: also carry the mass of every feature (``observed_sum``)
        when none is missing, computed exactly as ``x_sum`` is, so that a
        column of ones gives ``x_sum == observed_sum`` to the bit (what a
        Bernoulli probability of exactly 1 needs).

    Returns
    -------
    ColumnSumStats
    """
    weighted = np.asarray(weighted, dtype=np.float64)
    resp_sum = weighted.sum(axis=0)
    if X.dtype != np.float32:
        x_sum = weighted.T @ np.asarray(X, dtype=np.float64)
        observed_sum = None
        if observed is not None:
            observed_sum = weighted.T @ np.asarray(observed, dtype=np.float64)
        return ColumnSumStats(resp_sum, x_sum, observed_sum)
    weighted32 = weighted.astype(np.float32)
    # C order for X, its mask and the ones alike: equal columns then meet the
    # same BLAS code (a no-op for the engine's chunks, which are C-ordered).
    x_sum = _blocked_product(weighted32, np.ascontiguousarray(X))
    observed_sum = None
    if observed is not None:
        observed_sum = _blocked_product(weighted32, np.ascontiguousarray(observed))
    elif exact_mass:
        observed_sum = _blocked_product(weighted32, _ones_rows(X.shape[1]), same_block=True)
    return ColumnSumStats(resp_sum, x_sum, observed_sum)


#: Rows per float32 GEMM of :func:`_blocked_product`; the blocks' products
#: are added in float64.
FLOAT32_BLOCK = 256

# One read-only (FLOAT32_BLOCK, d) block of float32 ones per d: the right-hand
# side of the exact mass (a race only builds it twice).
_ONES = {}


def _ones_rows(n_features):
    ones = _ONES.get(n_features)
    if ones is None:
        ones = np.ones((FLOAT32_BLOCK, n_features), dtype=np.float32)
        ones.flags.writeable = False
        _ONES[n_features] = ones
    return ones


def _blocked_product(weighted32, right, same_block=False):
    """``weighted32ᵀ right`` in float64, by float32 GEMMs over blocks of rows.

    ``right`` is X (float32) or the observed mask; with ``same_block`` it is
    one block of ones, whose first rows stand for every block. Casting a
    float32 chunk to float64 for a dgemm would cost more than the whole rest
    of its E-step.
    Each block sums at most 256 float32 products (relative error about
    √256 · 2⁻²⁴ ≈ 1e-6, 1.5e-5 at worst), below the responsibilities' own
    error: they come from float32 log-densities of size ~1e2, good to ~1e-5
    absolute. Two products of the same shapes whose right-hand columns are
    equal give equal columns to the bit (the same BLAS code computes the same
    sums), which ``exact_mass`` relies on.
    """
    n_samples = weighted32.shape[0]
    out = np.zeros((weighted32.shape[1], right.shape[1]))
    for start in range(0, n_samples, FLOAT32_BLOCK):
        stop = min(start + FLOAT32_BLOCK, n_samples)
        block = right[:stop - start] if same_block else right[start:stop]
        out += weighted32[start:stop].T @ block
    return out


def column_sum_stats(X, resp, sample_weight=None, *, exact_mass=False):
    """Statistics of a block of samples (float64 whatever X's dtype); NaN entries skipped.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        May hold NaN for missing entries.
    resp : ndarray of shape (n_samples, n_components)
        Responsibilities (any non-negative weights per component).
    sample_weight : ndarray of shape (n_samples,), optional
    exact_mass : bool, default=False
        See :func:`weighted_column_sums`.

    Returns
    -------
    ColumnSumStats
    """
    X = np.asarray(X)
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    weighted = np.asarray(resp, dtype=np.float64)
    if sample_weight is not None:
        weighted = weighted * np.asarray(sample_weight, dtype=np.float64)[:, None]
    values, observed = observed_part(X)
    return weighted_column_sums(values, weighted, observed, exact_mass=exact_mass)


def empty_column_sum_stats(n_components, n_features):
    """The zero of ``+``: statistics of no samples."""
    return ColumnSumStats(np.zeros(n_components), np.zeros((n_components, n_features)))


def checked_fixed(fixed, names):
    """Whether the family's one parameter is in ``fixed``; unknown names are refused."""
    return bool(check_fixed_names(fixed, names, "this family"))


def kept_previous(previous, name):
    """``previous``, which a fixed parameter requires."""
    if previous is None:
        raise ValueError(
            f"{name!r} is fixed but no previous parameters were given to keep; pass "
            "previous= (the parameters of the last E-step)."
        )
    return previous


def fused_e_step(values, observed, scores, const, row_const, sample_weight, *,
                 exact_mass=False):
    """A chunk's E-step and statistics from its linear scores (the families' ``kernel_e_step``).

    ``log w_k p(x_i | k) = const[k] + scores[i, k] + row_const[i]``;
    :func:`mixfit.kernels.discrete.normalise_scores` turns that into weighted
    responsibilities per row in float64, and :func:`weighted_column_sums`
    into statistics (``exact_mass`` as there). Returns ``(log_likelihood,
    total_weight, resp_sum, stats)``.
    """
    weights = (
        np.empty(0) if sample_weight is None
        else np.ascontiguousarray(sample_weight, dtype=np.float64)
    )
    weighted_resp = np.empty(scores.shape)
    log_likelihood, total_weight, resp_sum = normalise_scores(
        scores, const, row_const, weights, weighted_resp
    )
    stats = weighted_column_sums(values, weighted_resp, observed, exact_mass=exact_mass)
    return log_likelihood, total_weight, resp_sum, stats
