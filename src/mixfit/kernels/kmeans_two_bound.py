"""Hamerly's E-step with both bounds kept, reading only the rows it computes, by
GEMM or by the SIMD micro-kernel.

Why: with few clusters and tens to hundreds of features an E-step is little
arithmetic per byte of X, so its time is one read of X from memory (100,000 ×
64 float64, 51 MB, took 5 ms an iteration here, and scikit-learn's pass reads
it the same way). :func:`mixfit.kernels.kmeans_gemm.hamerly_gemm_block` saves
the GEMM for rows whose bounds hold, but still reads each of them: it computes
the row's distance to its own centre and adds the row into the sums. This pass
keeps an upper bound per row too (Hamerly, "Making k-means even faster", SDM
2010), so a row whose bounds hold is not read at all, and it returns the
*change* of the statistics instead of the statistics: a row that changed
cluster leaves its old one and joins the new one. The caller adds the change
to the statistics of its last call; the inertia then follows from them (see
:class:`mixfit.engine.kmeans_two_bound._TwoBoundHamerly`).

The labels are those of the unpruned pass of the same shape (GEMM, or the
SIMD micro-kernel where Lloyd's E-step runs it), as for
:func:`~mixfit.kernels.kmeans_gemm.hamerly_gemm_block`: a row keeps its label
only when its bounds beat the rounding bound ``tau`` (which covers either
kernel's arithmetic), and the other rows go through the same kernel, whose
nearest and second nearest values give their labels and both bounds: the
upper one is the smallest distance plus ``tau``, stored in float32 rounded
*up*, and raised by the move of the row's centre each call.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from mixfit.kernels.checks import check_blocks, require
from mixfit.kernels.kmeans import _round_down_f32, labels_in_range, nearest_two_columns
from mixfit.kernels.kmeans_gemm import _partial, gather_row, gemm_buffers
from mixfit.kernels.kmeans_simd import ROWS, _nearest_in_chunk
from mixfit.kernels.kmeans_simd_pairs import MAX_CLUSTERS as MAX_PAIRED_CLUSTERS

__all__ = ["two_bound_block", "two_bound_blocks"]

_OPTIONS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")

# As kmeans._DOWN, the other way: float32 rounds within 6e-8 relative.
_UP = 1e-6


@njit(**_OPTIONS)
def _round_up_f32(value):
    """A float32 not below ``value`` (non-negative; within 1e-6 relative of it)."""
    return np.float32(value * (1.0 + _UP))


@njit(inline="always", **_OPTIONS)
def _holds(lo, u, half_gap_a, tau):
    """Whether the bounds prove the GEMM picks the row's centre: Hamerly's test
    with the margin ``tau`` on squared distances (see ``hamerly_row_test``)."""
    bound = max(lo, 2.0 * half_gap_a - u)
    return bound > u and (bound - u) * (bound + u) > tau


@njit(**_OPTIONS)
def _two_bound_update(nearest, own, other, x_sq, X, weight, rows, old, tau_coef, c_max_sq,
                      labels, lower, upper, has_stats, change, counts):
    """Labels and both bounds of computed rows, and the change of statistics.

    Row ``r`` (``rows[r]`` of the block) is nearest to centre ``nearest[r]``,
    at ``own[r]`` and to the nearest other one at ``other[r]`` (``‖c‖² − 2x·c``
    as the GEMM or the micro-kernel computed it, in X's dtype). The bounds come
    from those values and the rounding bound ``tau``: the upper one from ``own``
    plus ``tau``, the lower one from ``other`` less ``tau``. ``old`` holds the
    rows' labels before. A row whose label changed leaves ``old`` (when
    ``has_stats``: the caller holds statistics of the old labels) and joins its
    new cluster: ``counts`` and ``change[:, :d]`` take its weight and weighted
    values, ``change[:, d]`` its weighted ``‖x − shift‖²``. Without
    ``has_stats`` every row joins its cluster.

    Returns
    -------
    n_changed : int
        Rows with positive weight whose label changed.
    """
    m = nearest.shape[0]
    n_clusters = counts.shape[0]
    n_features = X.shape[1]
    weighted = weight.shape[0] > 0
    require(own.shape[0] >= m and other.shape[0] >= m and x_sq.shape[0] >= m
            and X.shape[0] >= m and rows.shape[0] >= m and old.shape[0] >= m
            and (not weighted or weight.shape[0] >= m) and change.shape[0] == n_clusters
            and change.shape[1] == n_features + 1,
            "_two_bound_update", "own, other, x_sq, X, rows, old (and weight) of the m "
            "computed rows; change (K, d + 1) and counts (K,)")
    for r in range(m):
        require(0 <= rows[r] < labels.shape[0] and rows[r] < lower.shape[0]
                and rows[r] < upper.shape[0] and 0 <= nearest[r] < n_clusters,
                "_two_bound_update", "rows must index labels and bounds; labels in [0, K)")
    n_changed = 0
    for r in range(m):
        new = nearest[r]
        xx = np.float64(x_sq[r])
        tau = tau_coef * (xx + c_max_sq)
        low_sq = np.float64(other[r]) + xx - tau
        up_sq = np.float64(own[r]) + xx + tau
        i = rows[r]
        w = weight[r] if weighted else 1.0
        a = old[r]
        n_changed += (a != new) & (w > 0.0)
        labels[i] = new
        lower[i] = _round_down_f32(math.sqrt(low_sq)) if low_sq > 0.0 else np.float32(0.0)
        upper[i] = _round_up_f32(math.sqrt(max(up_sq, 0.0)))
        if has_stats and new == a:
            continue
        wxx = w * xx
        if has_stats:
            counts[a] -= w
            change[a, n_features] -= wxx
            for j in range(n_features):
                change[a, j] -= w * np.float64(X[r, j])
        counts[new] += w
        change[new, n_features] += wxx
        for j in range(n_features):
            change[new, j] += w * np.float64(X[r, j])
    return n_changed


@njit(**_OPTIONS)
def _two_bound_rows(X_rows, weight_rows, x_sq_rows, rows, old, shift, C_neg2, C_neg2_t, c_sq,
                    tau_coef, c_max_sq, C_t, c_sq_pad, labels, lower, upper, has_stats, change,
                    counts, shifted_buffer, wide, partial_flat, simd_best, simd_second,
                    simd_labels, tail, tail_best, tail_second, tail_labels):
    """The computed rows (``rows`` index them): their nearest and second nearest
    centres by the GEMM (its argmin, as :func:`mixfit.kernels.kmeans.hamerly_full`'s),
    or with ``C_t`` not empty by the SIMD micro-kernel, then
    :func:`_two_bound_update`."""
    m = X_rows.shape[0]
    if C_t.shape[0] > 0:
        # The rows as the GEMM would read them: shifted into the buffer, else in place.
        rows_in = X_rows
        if shift.shape[0] > 0:
            rows_in = shifted_buffer[:m]
            for i in range(m):
                for j in range(X_rows.shape[1]):
                    rows_in[i, j] = X_rows[i, j] - shift[j]
        _nearest_in_chunk(np.ascontiguousarray(rows_in), m, C_t, c_sq_pad, simd_best,
                          simd_labels, tail, tail_best, tail_labels, simd_second, tail_second)
        return _two_bound_update(simd_labels[:m], simd_best, simd_second, x_sq_rows, X_rows,
                                 weight_rows, rows, old, tau_coef, c_max_sq, labels, lower,
                                 upper, has_stats, change, counts)
    partial_t = _partial(X_rows, shift, C_neg2, C_neg2_t, C_neg2_t.shape[0] > 0,
                         shifted_buffer, wide, partial_flat)
    require(partial_t.shape[0] == counts.shape[0] and c_sq.shape[0] == counts.shape[0],
            "_two_bound_rows", "C_neg2 and c_sq of the K centres")
    nearest, best, second = nearest_two_columns(partial_t, c_sq)
    return _two_bound_update(nearest, best, second, x_sq_rows, X_rows, weight_rows, rows, old,
                             tau_coef, c_max_sq, labels, lower, upper, has_stats, change,
                             counts)


@njit(**_OPTIONS)
def two_bound_block(X, weight, x_sq, centers, labels, lower, upper, half_gap, drift,
                    drift_argmax, drift_second, tau_coef, c_max_sq, shift, C_neg2, C_neg2_t,
                    c_sq, C_t, c_sq_pad, has_stats, change, counts, chunk_size):
    """The two-bound Hamerly E-step for a block: bound tests, then a GEMM for the rows that fail.

    Per row, with the bounds alone (no read of X): the lower bound lowered by
    the largest move of the other centres, the upper bound raised by the move
    of the row's own centre. Rows that fail are gathered and go through the
    GEMM ``chunk_size`` at a time; a chunk that mostly fails goes through as
    it lies, uncopied.

    Parameters
    ----------
    X, weight, x_sq, centers, labels, lower, half_gap, drift, drift_argmax,
    drift_second, tau_coef, c_max_sq, shift, C_neg2, C_neg2_t, c_sq, chunk_size
        As for :func:`mixfit.kernels.kmeans_gemm.hamerly_gemm_block`.
    C_t, c_sq_pad : ndarray, X's dtype
        Empty (shapes ``(0, 0)`` and ``(0,)``), or the SIMD micro-kernel's
        padded centres (:func:`mixfit.kernels.kmeans_simd.padded_centres`):
        then the computed rows go through that kernel instead of the GEMM (its
        labels, and its smallest and second smallest values for the bounds),
        as Lloyd's E-step does at these shapes. Its rounding has the GEMM's
        bound (a sum of ``d`` products in X's dtype, rows shifted alike; the
        paired layout's two sums of ``d / 2`` products and their total round
        less), so ``tau`` covers it.
    upper : ndarray of shape (m,), float32
        Upper bounds on each row's distance to its centre (``+inf``: unknown),
        raised in place.
    has_stats : bool
        Whether the caller holds the statistics of the labels as they were:
        then ``change`` receives their change, else the statistics themselves.
    change : ndarray of shape (n_clusters, n_features + 1), float64
        Accumulated into: weighted sums of the rows (columns ``:d``) and of
        their ``‖x − shift‖²`` (column ``d``).
    counts : ndarray of shape (n_clusters,), float64
        Accumulated into: weights.

    Returns
    -------
    n_changed : int
        Rows with positive weight whose label changed.
    n_computed : int
        Rows that went through the GEMM, the only rows read: what the bounds
        did not save, which ``algorithm="auto"`` watches.
    """
    m, n_features = X.shape
    n_clusters = C_neg2.shape[0]
    weighted = weight.shape[0] > 0
    rows_first = C_neg2_t.shape[0] > 0
    require(chunk_size >= 1 and x_sq.shape[0] == m and centers.shape[0] == n_clusters
            and centers.shape[1] == n_features and C_neg2.shape[1] == n_features
            and (shift.shape[0] == 0 or shift.shape[0] == n_features)
            and (not rows_first or (C_neg2_t.shape[0] == n_features
                                    and C_neg2_t.shape[1] == n_clusters))
            and labels.shape[0] == m and lower.shape[0] == m and upper.shape[0] == m
            and (not weighted or weight.shape[0] == m) and half_gap.shape[0] == n_clusters
            and change.shape[0] == n_clusters and change.shape[1] == n_features + 1
            and counts.shape[0] == n_clusters
            and (drift.shape[0] == 0 or (drift.shape[0] == n_clusters
                                         and 0 <= drift_argmax < n_clusters)),
            "two_bound_block", "x_sq, labels, lower, upper, weight of X's m rows; "
            "centers and C_neg2 (K, d), C_neg2_t (d, K) or empty, shift (d,) or empty; "
            "change (K, d + 1); half_gap, counts (K,); drift empty or (K,) with "
            "drift_argmax a centre")
    require(labels_in_range(labels, n_clusters), "two_bound_block",
            "labels must lie in [0, K)")
    moved = drift.shape[0] > 0
    drift_max = drift[drift_argmax] if moved else 0.0
    rows = max(1, min(chunk_size, m))
    fails = np.empty(rows, dtype=np.bool_)
    chunk_rows = np.empty(rows, dtype=np.int64)
    old = np.empty(rows, dtype=np.int32)
    gathered = np.empty((rows, n_features), dtype=X.dtype)
    gathered_sq = np.empty(rows, dtype=x_sq.dtype)
    gathered_weight = np.empty(rows if weighted else 0)
    gathered_rows = np.empty(rows, dtype=np.int64)
    gathered_old = np.empty(rows, dtype=np.int32)
    shifted_buffer, wide, partial_flat = gemm_buffers(X, shift, rows, n_clusters, rows_first)
    simd = C_t.shape[0] > 0
    # The micro-kernel's layouts: (d, 8j), or for at most 4 centres the paired (ceil(d/2), 8).
    paired = (C_t.shape[0] == (n_features + 1) // 2 and n_features >= 2
              and C_t.shape[1] == ROWS and n_clusters <= MAX_PAIRED_CLUSTERS)
    require(not simd or ((C_t.shape[0] == n_features or paired) and C_t.shape[1] % ROWS == 0
                         and C_t.shape[1] >= n_clusters and c_sq_pad.shape[0] == C_t.shape[1]),
            "two_bound_block", "C_t (d, 8j) or paired (ceil(d/2), 8) with c_sq_pad of its "
            "columns, or both empty")
    simd_best = np.empty(rows if simd else 0, dtype=X.dtype)
    simd_second = np.empty(rows if simd else 0, dtype=X.dtype)
    simd_labels = np.empty(rows if simd else 0, dtype=np.int32)
    tail = np.empty((ROWS if simd else 0, n_features), dtype=X.dtype)
    tail_best = np.empty(ROWS if simd else 0, dtype=X.dtype)
    tail_second = np.empty(ROWS if simd else 0, dtype=X.dtype)
    tail_labels = np.empty(ROWS if simd else 0, dtype=np.int32)
    n_changed = 0
    n_gathered = 0
    n_computed = 0
    for start in range(0, m, chunk_size):
        stop = min(start + chunk_size, m)
        count = stop - start
        n_fail = 0
        for r in range(count):
            i = start + r
            a = labels[i]
            lo = np.float64(lower[i]) - (drift_second if a == drift_argmax else drift_max)
            lower[i] = _round_down_f32(lo)
            u = np.float64(upper[i]) + (drift[a] if moved else 0.0)
            tau = tau_coef * (np.float64(x_sq[i]) + c_max_sq)
            # No second test with the row's exact distance (Hamerly's tightening):
            # computed here in float64 it cost about what the row's GEMM does, and
            # saved few rows (at 100,000 × 64 × 16 float32, 26,026 rows went to the
            # GEMM either way, and the call took 3.3 ms against 2.7 without).
            holds = _holds(lo, u, half_gap[a], tau)
            upper[i] = _round_up_f32(u)
            fails[r] = not holds
            n_fail += not holds
        if 2 * n_fail > count:
            n_computed += count
            for r in range(count):
                chunk_rows[r] = start + r
                old[r] = labels[start + r]
            w_rows = weight[start:stop] if weighted else weight
            n_changed += _two_bound_rows(
                X[start:stop], w_rows, x_sq[start:stop], chunk_rows[:count], old, shift, C_neg2,
                C_neg2_t, c_sq, tau_coef, c_max_sq, C_t, c_sq_pad, labels, lower, upper,
                has_stats, change, counts, shifted_buffer, wide, partial_flat, simd_best,
                simd_second, simd_labels, tail, tail_best, tail_second, tail_labels)
            continue
        n_computed += n_fail
        for r in range(count):
            if not fails[r]:
                continue
            i = start + r
            gathered_old[n_gathered] = labels[i]
            n_gathered = gather_row(X, x_sq, i, weight[i] if weighted else 1.0, weighted,
                                    gathered, gathered_sq, gathered_weight, gathered_rows,
                                    n_gathered)
            if n_gathered == rows:
                n_changed += _two_bound_rows(
                    gathered, gathered_weight, gathered_sq, gathered_rows, gathered_old, shift,
                    C_neg2, C_neg2_t, c_sq, tau_coef, c_max_sq, C_t, c_sq_pad, labels, lower,
                    upper, has_stats, change, counts, shifted_buffer, wide, partial_flat,
                    simd_best, simd_second, simd_labels, tail, tail_best, tail_second,
                    tail_labels)
                n_gathered = 0
    if n_gathered > 0:
        w_rows = gathered_weight[:n_gathered] if weighted else gathered_weight
        n_changed += _two_bound_rows(
            gathered[:n_gathered], w_rows, gathered_sq[:n_gathered], gathered_rows[:n_gathered],
            gathered_old, shift, C_neg2, C_neg2_t, c_sq, tau_coef, c_max_sq, C_t, c_sq_pad,
            labels, lower, upper, has_stats, change, counts, shifted_buffer, wide, partial_flat,
            simd_best, simd_second, simd_labels, tail, tail_best, tail_second, tail_labels)
    return n_changed, n_computed


@njit(parallel=True, **_OPTIONS)
def two_bound_blocks(X, starts, weight, x_sq, centers, labels, lower, upper, half_gap,
                     drift, drift_argmax, drift_second, tau_coef, c_max_sq, shift, C_neg2,
                     C_neg2_t, c_sq, C_t, c_sq_pad, has_stats, change, counts, inertia,
                     n_changed, n_computed, chunk_size):
    """:func:`two_bound_block` for the blocks ``starts[b]:starts[b + 1]``, on numba's threads.

    Block ``b``'s change goes to ``change[b]``, ``counts[b]``, ``n_changed[b]``
    and ``n_computed[b]``; ``inertia`` (the runner's) is left at zero: the
    caller computes it from the statistics.
    """
    n_blocks = starts.shape[0] - 1
    check_blocks("two_bound_blocks", X.shape[0], starts, change, counts, inertia, n_changed)
    require(n_computed.shape[0] == n_blocks and labels.shape[0] == X.shape[0]
            and labels_in_range(labels, C_neg2.shape[0]), "two_bound_blocks",
            "n_computed with one entry per block; labels of X's rows in [0, K)")
    for b in prange(n_blocks):
        lo, hi = starts[b], starts[b + 1]
        block_changed, block_computed = two_bound_block(
            np.ascontiguousarray(X[lo:hi]), weight[lo:hi], x_sq[lo:hi], centers, labels[lo:hi],
            lower[lo:hi], upper[lo:hi], half_gap, drift, drift_argmax, drift_second, tau_coef,
            c_max_sq, shift, C_neg2, C_neg2_t, c_sq, C_t, c_sq_pad, has_stats, change[b],
            counts[b], chunk_size)
        n_changed[b] = block_changed
        n_computed[b] = block_computed
