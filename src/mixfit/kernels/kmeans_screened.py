"""Float64 rows labelled by the float32 micro-kernel, screened by a rounding bound.

Why: the SIMD micro-kernel (:mod:`mixfit.kernels.kmeans_simd`) sweeps twice
as many centres a vector in float32 as in float64, and float64 MiniBatchKMeans
labelling took 1.6-1.8 times its float32 time at 784 × 64 and 160 × 256. Each
chunk of float64 rows is therefore rounded to float32 (shifted) and labelled
with its nearest and second nearest centre in float32; a row whose margin
between the two is not wider than the two precisions' rounding can explain is
labelled again by the float64 micro-kernel. Every label is thus the one the
float64 micro-kernel gives (:func:`mixfit.kernels.kmeans_simd.lloyd_simd_block`
on the same shifted rows and centres), on any data.

The bound. The micro-kernel computes ``v_k = ‖c_k‖² + Σ_j x_j (−2 c_kj)`` (x
and c shifted) by ``d`` fused multiply-adds from ``‖c_k‖²``, each rounded once;
with unit roundoff ``u``, inputs rounded to float32 (relative ``u`` each) and
no overflow, ``|v̂_k − v_k| ≤ (d + 3) u (1 + d u) B`` where ``B = ‖c_k‖² + 2
Σ_j |x_j c_kj| ≤ 2 max‖c‖² + ‖x‖²``. Below float32's normal range the error
of a rounding is at most ``2⁻¹⁵⁰`` absolute rather than relative, whence a
term ``2⁻¹⁴⁰ (d + √d (2 max‖c‖ + ‖x‖))``, ``‖x‖`` taken as ``(1 + ‖x‖²) / 2``.
A row keeps its float32 label when the second smallest value exceeds the
smallest by more than twice the sum of
both precisions' bounds, itself doubled (:func:`screen_margin`): the float64
value of every other centre is then above the label's, so the float64 kernel
picks the same centre. Rows with ``‖x‖² + max‖c‖² > 2¹²⁰`` (where a float32
sum could overflow) and rows whose values are not finite are labelled in
float64. The caller keeps centres within :data:`LARGEST_CENTRE_SQ`.

The distances (inertia, ``min_sq_dist``) are ``Σ_j (x_j − c_j)²`` in float64
to the label's centre (unshifted; vectorised, the order of the additions
depends on the machine's vectors only); counts and sums in float64, rows in
order, but a row labelled again joins them when 8 such rows have gathered
(or at the block's end): an order fixed by the block's rows and centres, so
the thread count changes no rounding.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from mixfit.kernels.checks import check_blocks, require
from mixfit.kernels.kmeans import labels_in_range
from mixfit.kernels.kmeans_simd import (LANES, ROWS, _nearest_8_rows, _nearest_in_chunk,
                                        chunk_rows_for, padded_operands)
from mixfit.kernels.simd_ir import prefetch_row

__all__ = ["LARGEST_CENTRE_SQ", "labelled_again", "lloyd_screened_block",
           "lloyd_screened_blocks", "screen_margin", "screened_operands"]

_OPTIONS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")

#: Largest ``‖x‖² + max‖c‖²`` labelled in float32: every partial sum of the
#: micro-kernel is then below 2¹²¹, far from float32's overflow at 2¹²⁸.
LARGEST_ROW_SQ = 2.0 ** 120

#: Largest ``max‖c‖²`` (shifted) for which the caller may screen at all.
LARGEST_CENTRE_SQ = 2.0 ** 118

_UNIT32 = 2.0 ** -24
_UNIT64 = 2.0 ** -53
_TINY = 2.0 ** -140


@njit(inline="always", **_OPTIONS)
def screen_margin(n_features, row_sq, centre_max_sq):
    """The smallest float32 margin that keeps a row's float32 label (see the module).

    ``√‖x‖²`` of the tiny term is bounded by ``(1 + ‖x‖²) / 2``: no square root a row.
    """
    relative = (n_features + 3) * (_UNIT32 + _UNIT64) * (1.0 + n_features * _UNIT32)
    tiny = _TINY * (n_features + np.sqrt(n_features)
                    * (2.0 * np.sqrt(centre_max_sq) + 0.5 * (1.0 + row_sq)))
    return 4.0 * (relative * (2.0 * centre_max_sq + row_sq) + tiny)


@njit(inline="always", **_OPTIONS)
def labelled_again(n_features, best, second, row_sq, centre_max_sq):
    """Whether a row whose float32 values are ``best`` ≤ ``second`` goes to float64."""
    if not row_sq + centre_max_sq <= LARGEST_ROW_SQ:
        return True
    if not (np.isfinite(best) and np.isfinite(second)):
        return True
    return not (second - best > screen_margin(n_features, row_sq, centre_max_sq))


@njit(nogil=True, cache=True, error_model="numpy", fastmath={"reassoc"})
def _round_row(row, shift, shifted, out):
    """``out = float32(row − shift)``; returns ``‖row − shift‖²`` in float64, the
    additions in the order the compiler vectorises them (``reassoc``; no label
    depends on it, only the screen's margin, which holds for any order)."""
    total = 0.0
    for j in range(row.shape[0]):
        t = row[j] - shift[j] if shifted else row[j]
        out[j] = np.float32(t)
        total += t * t
    return total


@njit(nogil=True, cache=True, error_model="numpy", fastmath={"reassoc"})
def _add_row_at_distance(sums, label, row, centre, w, weighted):
    """``sums[label] += w · row`` (none for ``sums`` of no rows) and returns
    ``‖row − centre‖²`` in float64: one read of the row for both. The sums add
    one value to each entry, so ``reassoc`` changes only the distance's order."""
    total = 0.0
    if sums.shape[0] == 0:
        for j in range(row.shape[0]):
            t = row[j] - centre[j]
            total += t * t
    elif weighted:
        for j in range(row.shape[0]):
            sums[label, j] += w * row[j]
            t = row[j] - centre[j]
            total += t * t
    else:
        for j in range(row.shape[0]):
            sums[label, j] += row[j]
            t = row[j] - centre[j]
            total += t * t
    return total


@njit(inline="always", **_OPTIONS)
def _account_row(i, source, label, X, centers, weight, labels, min_sq_dist, sums, counts):
    """Row ``i`` of the block (``X[source]``) joins centre ``label``: its label,
    distance, count and sum; returns ``(w · distance, changed)``."""
    weighted = weight.shape[0] > 0
    w = weight[i] if weighted else 1.0
    dist = _add_row_at_distance(sums, label, X[source], centers[label], w, weighted)
    counts[label] += w
    changed = (labels[i] != label) & (w > 0.0)
    labels[i] = label
    if min_sq_dist.shape[0] > 0:
        min_sq_dist[i] = dist
    return w * dist, changed


@njit(**_OPTIONS)
def _label_again(again, again_at, n_waiting, best, again_labels, C_t64, c_sq64, X, row_index,
                 centers, weight, labels, min_sq_dist, sums, counts):
    """The float64 micro-kernel's labels for the ``n_waiting`` rows waiting in
    ``again`` (8 rows, zeros beyond them), accounted as :func:`_account_row`."""
    _nearest_8_rows(again, 0, C_t64, c_sq64, best, again_labels, None)
    inertia = 0.0
    n_changed = 0
    for r in range(n_waiting):
        i = again_at[r]
        add_inertia, add_changed = _account_row(
            i, i if row_index is None else row_index[i], again_labels[r], X, centers, weight,
            labels, min_sq_dist, sums, counts)
        inertia += add_inertia
        n_changed += add_changed
    return inertia, n_changed


@njit(**_OPTIONS)
def screened_operands(centers, shift, C_t64, c_sq64, C_t32, c_sq32):
    """Both precisions' micro-kernel operands of the centres; returns
    ``max_k ‖c_k − shift‖²``.

    ``C_t64``, ``c_sq64`` by :func:`mixfit.kernels.kmeans_simd.padded_operands`,
    ``C_t32`` and ``c_sq32`` the same rounded to float32 in the same pass.
    """
    return padded_operands(centers, shift, C_t64, c_sq64, C_t32, c_sq32)


@njit(**_OPTIONS)
def lloyd_screened_block(X, shift, C_t32, c_sq32, C_t64, c_sq64, centers, centre_max_sq,
                         weight, labels, min_sq_dist, sums, counts, row_index=None):
    """Labels and statistics of a block of float64 rows, screened in float32.

    Parameters
    ----------
    X : ndarray of shape (m, n_features), float64
        The block's rows (unshifted), or with ``row_index`` the rows it indexes.
    shift : ndarray of shape (n_features,) or (0,), float64
        Subtracted from the rows before the distances; empty for none.
    C_t32, c_sq32 : ndarray, float32
        The padded ``(−2 (c − shift))ᵀ`` and ``‖c − shift‖²`` rounded to float32
        (:func:`mixfit.kernels.kmeans_simd.padded_centres`).
    C_t64, c_sq64 : ndarray, float64
        The same in float64: the float64 micro-kernel's operands.
    centers : ndarray of shape (n_clusters, n_features), float64, C-contiguous
        The centres (unshifted), for the distances.
    centre_max_sq : float
        ``max_k ‖c_k − shift‖²`` (at most :data:`LARGEST_CENTRE_SQ`).
    weight, labels, min_sq_dist, sums, counts
        As for :func:`mixfit.kernels.kmeans_simd.lloyd_simd_block` (no
        ``changes_only``).
    row_index : ndarray of shape (m,), int64, or None
        The block's rows are ``X[row_index]``, read where they lie.

    Returns
    -------
    inertia : float
    n_changed : int
        Positively weighted rows whose label differs from what ``labels`` held.
    n_again : int
        Rows labelled again in float64.
    """
    n_clusters, n_features = centers.shape
    m = X.shape[0] if row_index is None else row_index.shape[0]
    n_padded = C_t64.shape[1]
    shifted = shift.shape[0] > 0
    weighted = weight.shape[0] > 0
    keep_dist = min_sq_dist.shape[0] > 0
    require(X.shape[1] == n_features and centers.flags.c_contiguous
            and C_t32.shape == C_t64.shape and c_sq32.shape == c_sq64.shape
            and C_t64.shape[0] == n_features and n_padded % LANES == 0
            and 1 <= n_clusters <= n_padded
            and c_sq64.shape[0] == n_padded and (not shifted or shift.shape[0] == n_features)
            and labels.shape[0] == m and (not weighted or weight.shape[0] == m)
            and (not keep_dist or min_sq_dist.shape[0] == m)
            and (sums.shape[0] == 0 or sums.shape[0] == n_clusters)
            and sums.shape[1] == n_features and counts.shape[0] == n_clusters
            and 0.0 <= centre_max_sq <= LARGEST_CENTRE_SQ, "lloyd_screened_block",
            "float32 and float64 padded operands of one shape (d, 8j), not the paired layout; "
            "centers (K, d) C-contiguous, "
            "labels, weight, min_sq_dist of the block's m rows, sums (K, d) or (0, d), "
            "counts (K,), centre_max_sq within LARGEST_CENTRE_SQ")
    if row_index is not None:
        require(X.flags.c_contiguous and labels_in_range(row_index, X.shape[0]),
                "lloyd_screened_block", "row_index within X's rows, X C-contiguous")
    chunk_rows = chunk_rows_for(n_features, X.itemsize)
    rows32 = np.empty((chunk_rows, n_features), dtype=np.float32)
    best32 = np.empty(chunk_rows, dtype=np.float32)
    second32 = np.empty(chunk_rows, dtype=np.float32)
    chunk_labels = np.empty(chunk_rows, dtype=np.int32)
    tail32 = np.empty((ROWS, n_features), dtype=np.float32)
    tail_best32 = np.empty(ROWS, dtype=np.float32)
    tail_second32 = np.empty(ROWS, dtype=np.float32)
    tail_labels = np.empty(ROWS, dtype=np.int32)
    # Rows labelled again wait here, shifted, until 8 fill the float64
    # micro-kernel (one at a time, each took a whole group's time).
    again = np.zeros((ROWS, n_features))
    again_at = np.empty(ROWS, dtype=np.int64)
    again_best = np.empty(ROWS)
    again_labels = np.empty(ROWS, dtype=np.int32)
    row_sq = np.empty(chunk_rows)
    inertia = 0.0
    n_changed = 0
    n_again = 0
    n_waiting = 0
    for start in range(0, m, chunk_rows):
        n_rows = min(chunk_rows, m - start)
        for i in range(n_rows):
            source = start + i if row_index is None else row_index[start + i]
            row_sq[i] = _round_row(X[source], shift, shifted, rows32[i])
        if n_rows == chunk_rows and start + n_rows < m:
            # Whole groups of 8 (chunk_rows is a multiple of 8). Between them,
            # the next chunk's rows are asked for, 8 after each group: they
            # come from memory while this chunk's distances are computed.
            ahead = start + n_rows
            for group in range(0, n_rows, ROWS):
                _nearest_8_rows(rows32, group, C_t32, c_sq32, best32, chunk_labels, second32)
                for r in range(ahead + group, min(m, ahead + group + ROWS)):
                    prefetch_row(X, r if row_index is None else row_index[r])
        else:
            _nearest_in_chunk(rows32, n_rows, C_t32, c_sq32, best32, chunk_labels, tail32,
                              tail_best32, tail_labels, second32, tail_second32)
        for i in range(n_rows):
            source = start + i if row_index is None else row_index[start + i]
            if labelled_again(n_features, np.float64(best32[i]), np.float64(second32[i]),
                              row_sq[i], centre_max_sq):
                for j in range(n_features):
                    again[n_waiting, j] = X[source, j] - shift[j] if shifted else X[source, j]
                again_at[n_waiting] = start + i
                n_waiting += 1
                if n_waiting == ROWS:
                    n_again += n_waiting
                    add_inertia, add_changed = _label_again(
                        again, again_at, n_waiting, again_best, again_labels, C_t64, c_sq64,
                        X, row_index, centers, weight, labels, min_sq_dist, sums, counts)
                    inertia += add_inertia
                    n_changed += add_changed
                    n_waiting = 0
                continue
            add_inertia, add_changed = _account_row(
                start + i, source, chunk_labels[i], X, centers, weight, labels, min_sq_dist,
                sums, counts)
            inertia += add_inertia
            n_changed += add_changed
    if n_waiting > 0:
        n_again += n_waiting
        again[n_waiting:] = 0.0
        add_inertia, add_changed = _label_again(
            again, again_at, n_waiting, again_best, again_labels, C_t64, c_sq64, X, row_index,
            centers, weight, labels, min_sq_dist, sums, counts)
        inertia += add_inertia
        n_changed += add_changed
    return inertia, n_changed, n_again


@njit(parallel=True, **_OPTIONS)
def lloyd_screened_blocks(X, starts, shift, C_t32, c_sq32, C_t64, c_sq64, centers,
                          centre_max_sq, weight, labels, min_sq_dist, sums, counts, inertia,
                          n_changed, n_again, row_index):
    """:func:`lloyd_screened_block` for the blocks ``starts[b]:starts[b + 1]`` on numba's threads.

    As :func:`mixfit.kernels.kmeans_simd.lloyd_simd_blocks`: block ``b`` writes
    its own ``sums[b]``, ``counts[b]``, ``inertia[b]``, ``n_changed[b]`` and
    ``n_again[b]``.
    ``row_index`` of length 0: the blocks are X's rows; else the rows
    ``X[row_index]`` (``labels``, ``weight``, ``min_sq_dist`` then the indexed
    rows').
    """
    indexed = row_index.shape[0] > 0
    n_rows = row_index.shape[0] if indexed else X.shape[0]
    check_blocks("lloyd_screened_blocks", n_rows, starts, sums, counts, inertia, n_changed)
    require(n_again.shape[0] == starts.shape[0] - 1, "lloyd_screened_blocks",
            "n_again with one slot a block")
    for b in prange(starts.shape[0] - 1):
        lo, hi = starts[b], starts[b + 1]
        if indexed:
            block_inertia, block_changed, block_again = lloyd_screened_block(
                X, shift, C_t32, c_sq32, C_t64, c_sq64, centers, centre_max_sq, weight[lo:hi],
                labels[lo:hi], min_sq_dist[lo:hi], sums[b], counts[b], row_index[lo:hi])
        else:
            block_inertia, block_changed, block_again = lloyd_screened_block(
                X[lo:hi], shift, C_t32, c_sq32, C_t64, c_sq64, centers, centre_max_sq,
                weight[lo:hi], labels[lo:hi], min_sq_dist[lo:hi], sums[b], counts[b])
        inertia[b] = block_inertia
        n_changed[b] = block_changed
        n_again[b] = block_again
