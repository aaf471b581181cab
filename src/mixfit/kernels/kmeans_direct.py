"""numba kernels of the K-means E-step without a GEMM, for few features × clusters.

When ``n_features × n_clusters`` is small the distance GEMM of
:mod:`mixfit.kernels.kmeans` is skinny: BLAS spends its time packing, and the
``(n_clusters, rows)`` block it writes is read again by a second pass. These
kernels do everything in one call per block of rows: distances, argmin, the
per-row minimum distance when asked, and the weighted counts, sums and inertia,
with the GIL released throughout (one Python call per block, not per chunk).

How the distance is computed, and why: directly as ``Σ_j (x_j − c_j)²`` in
float64, features in order (``x`` converted exactly to float64, centres in
float64, no fused multiply-add: ``fastmath=False``). Each term is a rounded
difference squared, so the computed distance is within ``(n_features + 2)``
units of float64 rounding of the exact one *relative to the distance itself*;
the GEMM form ``‖x‖² − 2x·c + ‖c‖²`` in X's dtype is only accurate relative to
``‖x − shift‖² + ‖c − shift‖²`` and needs the shift to keep data far from the
origin usable. The direct form needs no shift and no row norms, and is at least
as accurate as the GEMM path for float64 data and far more for float32 data.
Its cost, a subtraction, a product and a sum per feature and centre on 4 lanes
of float64, beats the GEMM path only for float64 data with at most three
features and up to 2,048 features × clusters (see
:data:`mixfit.engine.kmeans_steps.DIRECT_WORK`).

How it vectorises: a tile of rows (at most 16 KiB) is copied transposed to
feature-major ``(n_features, tile)`` float64, so the inner loops run along rows
with no dependency between lanes; four features are taken per sweep of the tile (one
load and store of the running sums per four features), and the last sweep of a
centre also compares with the best so far. Labels are the lowest index on ties
(strict ``<``, centres in increasing order).

Hamerly's pruning on these distances (:func:`hamerly_direct_full` and the
``gamma`` argument of :func:`mixfit.kernels.kmeans.hamerly_screen`): with ``γ``
(:func:`direct_rounding`) bounding the relative error of a computed distance, a
row is skipped only when ``l²(1 − γ) > u²(1 + γ)`` for its distance ``u`` to its
centre (computed by the screen with the same arithmetic as here) and a lower
bound ``l`` on the exact distances to the others; then every other centre's
computed distance is at least ``l²(1 − γ)``, more than the computed distance to
its own centre, so the unpruned kernel picks the same centre. The lower bound a
computed row gets is ``sqrt((1 − γ) ×`` its second smallest computed distance``)``,
rounded down. Unlike the GEMM path's ``tau`` the test is relative to the
distances themselves: it needs neither the row norms nor the largest centre.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from mixfit.kernels.checks import check_blocks, require
# Bounds are stored in float32 rounded down, as on the GEMM path.
from mixfit.kernels.kmeans import (_round_down_f32, add_row, add_rows_in_order, hamerly_screen,
                                   labels_in_range, subtract_row)

__all__ = ["direct_rounding", "hamerly_direct_blocks", "hamerly_direct_full", "lloyd_direct",
           "lloyd_direct_blocks"]

_OPTIONS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")

#: Most rows per transposed tile; fewer for many features (see :func:`_tile_rows`).
TILE_ROWS = 512


def direct_rounding(n_features):
    """Bound ``γ`` on the relative rounding of a direct distance, with a safety factor.

    Each computed ``Σ_j (x_j − c_j)²`` is within ``(n_features + 2) · 2**-53``
    of the exact value relative to it; doubled, plus 8 features' worth of slack
    for the bounds' own float64 arithmetic.
    """
    return 2.0 * (n_features + 10) * 2.0 ** -53


@njit(**_OPTIONS)
def _tile_rows(n_features):
    """Rows per tile: its float64 transpose at most 16 KiB, so that it stays in L1
    (32 features took 3× longer with 256-row tiles, 64 KiB, than with 64 rows)."""
    return max(32, min(TILE_ROWS, 2048 // n_features))


@njit(**_OPTIONS)
def _transpose_tile(X, rows, m, xt):
    """``xt[j, i] = float64(X[rows[i], j])`` for the first ``m`` of ``rows``.

    Column by column: with at most 3 features a row-by-row copy stores 3
    scattered values per row (2.3 ns a row at 3 features, against 1.7 here).
    """
    for j in range(X.shape[1]):
        column = xt[j]
        for i in range(m):
            column[i] = np.float64(X[rows[i], j])


@njit(**_OPTIONS)
def _transpose_rows(X, start, m, xt):
    """``xt[j, i] = float64(X[start + i, j])`` for ``i < m``: contiguous rows, which
    vectorise (0.8 ns a row at 3 features, against 2.3 gathered by row)."""
    for j in range(X.shape[1]):
        column = xt[j]
        for i in range(m):
            column[i] = np.float64(X[start + i, j])


@njit(**_OPTIONS)
def _nearest_in_tile(xt, m, centers, acc, best, second, tile_labels, want_second):
    """Nearest centre of each of the first ``m`` columns of ``xt``, and its distance.

    ``best`` gets the smallest ``Σ_j (x_j − c_j)²`` (features summed in order),
    ``tile_labels`` its centre (lowest index on ties) and, with ``want_second``,
    ``second`` the next smallest. ``acc`` is scratch of at least ``m``.
    """
    n_features = xt.shape[0]
    n_clusters = centers.shape[0]
    # Sweeps of four features store the running sums; the last one (1 to 4
    # features) is fused with the comparison.
    n_full = (n_features - 1) // 4
    tail = n_features - 4 * n_full
    for i in range(m):
        best[i] = np.inf
        second[i] = np.inf
        tile_labels[i] = 0
        acc[i] = 0.0
    for k in range(n_clusters):
        for g in range(n_full):
            j = 4 * g
            c0, c1, c2, c3 = centers[k, j], centers[k, j + 1], centers[k, j + 2], centers[k, j + 3]
            x0, x1, x2, x3 = xt[j], xt[j + 1], xt[j + 2], xt[j + 3]
            for i in range(m):
                t0 = x0[i] - c0
                t1 = x1[i] - c1
                t2 = x2[i] - c2
                t3 = x3[i] - c3
                acc[i] = (((acc[i] + t0 * t0) + t1 * t1) + t2 * t2) + t3 * t3
        j = 4 * n_full
        if tail == 1:
            c0 = centers[k, j]
            x0 = xt[j]
            for i in range(m):
                t0 = x0[i] - c0
                value = acc[i] + t0 * t0
                current = best[i]
                smaller = value < current
                if want_second:
                    second[i] = current if smaller else min(value, second[i])
                best[i] = value if smaller else current
                tile_labels[i] = k if smaller else tile_labels[i]
        elif tail == 2:
            c0, c1 = centers[k, j], centers[k, j + 1]
            x0, x1 = xt[j], xt[j + 1]
            for i in range(m):
                t0 = x0[i] - c0
                t1 = x1[i] - c1
                value = (acc[i] + t0 * t0) + t1 * t1
                current = best[i]
                smaller = value < current
                if want_second:
                    second[i] = current if smaller else min(value, second[i])
                best[i] = value if smaller else current
                tile_labels[i] = k if smaller else tile_labels[i]
        elif tail == 3:
            c0, c1, c2 = centers[k, j], centers[k, j + 1], centers[k, j + 2]
            x0, x1, x2 = xt[j], xt[j + 1], xt[j + 2]
            for i in range(m):
                t0 = x0[i] - c0
                t1 = x1[i] - c1
                t2 = x2[i] - c2
                value = ((acc[i] + t0 * t0) + t1 * t1) + t2 * t2
                current = best[i]
                smaller = value < current
                if want_second:
                    second[i] = current if smaller else min(value, second[i])
                best[i] = value if smaller else current
                tile_labels[i] = k if smaller else tile_labels[i]
        else:
            c0, c1, c2, c3 = centers[k, j], centers[k, j + 1], centers[k, j + 2], centers[k, j + 3]
            x0, x1, x2, x3 = xt[j], xt[j + 1], xt[j + 2], xt[j + 3]
            for i in range(m):
                t0 = x0[i] - c0
                t1 = x1[i] - c1
                t2 = x2[i] - c2
                t3 = x3[i] - c3
                value = (((acc[i] + t0 * t0) + t1 * t1) + t2 * t2) + t3 * t3
                current = best[i]
                smaller = value < current
                if want_second:
                    second[i] = current if smaller else min(value, second[i])
                best[i] = value if smaller else current
                tile_labels[i] = k if smaller else tile_labels[i]
        if n_full > 0:
            for i in range(m):
                acc[i] = 0.0


@njit(**_OPTIONS)
def lloyd_direct(X, centers, weight, labels, min_sq_dist, sums, counts, changes_only=False):
    """Nearest centres and statistics of a block of rows, in one pass, no GEMM.

    Parameters
    ----------
    X : ndarray of shape (m, n_features), float32 or float64
        The rows (unshifted: the direct distance needs no shift).
    centers : ndarray of shape (n_clusters, n_features), float64
    weight : ndarray of shape (m,) or (0,), float64
        Sample weights; empty means all ones.
    labels : ndarray of shape (m,), int32 or int64
        Previous labels on entry (any value where there were none), the new
        ones on exit.
    min_sq_dist : ndarray of shape (m,) or (0,), float64
        Squared distance to the nearest centre, written unless empty.
    sums, counts : ndarray of shape (n_clusters, n_features) / (n_clusters,), float64
        Accumulated into, rows in order.
    changes_only : bool
        ``labels`` hold every row's previous label, and ``counts`` and ``sums``
        get the change of the statistics instead of the statistics (as
        :func:`mixfit.kernels.kmeans_simd.lloyd_simd_block`'s): a row that
        changed cluster is taken out of the old one and added to the new one.

    Returns
    -------
    inertia : float
        Weighted sum of the block's squared distances, rows in order.
    n_changed : int
        Rows with positive weight whose label changed.
    """
    m, n_features = X.shape
    n_clusters = centers.shape[0]
    weighted = weight.shape[0] > 0
    keep_dist = min_sq_dist.shape[0] > 0
    require(n_clusters >= 1 and n_features >= 1 and centers.shape[1] == n_features
            and labels.shape[0] == m and (not weighted or weight.shape[0] == m)
            and (not keep_dist or min_sq_dist.shape[0] == m), "lloyd_direct",
            "centers (K, d) for X's d features; labels, weight, min_sq_dist of X's m rows")
    require(sums.shape[0] == n_clusters and sums.shape[1] == n_features
            and counts.shape[0] == n_clusters, "lloyd_direct", "sums (K, d) and counts (K,)")
    require(not changes_only or labels_in_range(labels, n_clusters), "lloyd_direct",
            "with changes_only, every row's previous label in [0, n_clusters)")
    step = _tile_rows(n_features)
    tile = min(step, m)
    xt = np.empty((n_features, tile))
    acc = np.empty(tile)
    best = np.empty(tile)
    second = np.empty(tile)
    tile_labels = np.empty(tile, dtype=np.int32)
    inertia = 0.0
    n_changed = 0
    for start in range(0, m, step):
        size = min(step, m - start)
        _transpose_rows(X, start, size, xt)
        _nearest_in_tile(xt, size, centers, acc, best, second, tile_labels, False)
        for t in range(size):
            i = start + t
            label = tile_labels[t]
            dist = best[t]
            w = weight[i] if weighted else 1.0
            previous = labels[i]
            n_changed += (previous != label) & (w > 0.0)
            labels[i] = label
            if keep_dist:
                min_sq_dist[i] = dist
            inertia += w * dist
            # The row itself: contiguous, unlike xt's column.
            if changes_only and previous != label:
                counts[previous] -= w
                counts[label] += w
                subtract_row(sums, previous, X, i, w, weighted)
                add_row(sums, label, X, i, w, weighted)
        if not changes_only:
            add_rows_in_order(X[start:start + size], tile_labels[:size],
                              weight[start:start + size], sums, counts)
    return inertia, n_changed


@njit(**_OPTIONS)
def hamerly_direct_full(X, weight, todo, n_todo, centers, gamma, labels, lower, sums, counts):
    """:func:`lloyd_direct` for the rows Hamerly's bounds could not skip, setting their bounds.

    Parameters
    ----------
    X : ndarray of shape (m, n_features)
        The block's rows; ``todo[:n_todo]`` are the local indices to compute.
    weight : ndarray of shape (m,) or (0,), float64
    todo : ndarray of shape (≥ n_todo,), int64
    centers : ndarray of shape (n_clusters, n_features), float64
    gamma : float
        :func:`direct_rounding`: the lower bound is the second smallest computed
        distance lowered by ``gamma`` relative.
    labels, lower : ndarray of shape (m,), int32 / float32
        The block's labels and lower bounds, written for the computed rows.
    sums, counts : accumulated into.

    Returns
    -------
    inertia : float
    n_changed : int
        Rows with positive weight whose label changed.
    """
    m, n_features = X.shape
    n_clusters = centers.shape[0]
    weighted = weight.shape[0] > 0
    require(n_clusters >= 1 and n_features >= 1 and centers.shape[1] == n_features
            and labels.shape[0] == m and lower.shape[0] == m
            and (not weighted or weight.shape[0] == m) and 0 <= n_todo <= todo.shape[0]
            and sums.shape[0] == n_clusters and sums.shape[1] == n_features
            and counts.shape[0] == n_clusters, "hamerly_direct_full",
            "centers and sums (K, d) for X's d features, counts (K,), labels, lower, "
            "weight of X's m rows")
    for r in range(n_todo):
        require(0 <= todo[r] < m, "hamerly_direct_full", "todo must index X's rows")
    step = _tile_rows(n_features)
    tile = max(1, min(step, n_todo))
    xt = np.empty((n_features, tile))
    acc = np.empty(tile)
    best = np.empty(tile)
    second = np.empty(tile)
    tile_labels = np.empty(tile, dtype=np.int32)
    lower_factor = 1.0 - gamma
    inertia = 0.0
    n_changed = 0
    for start in range(0, n_todo, step):
        size = min(step, n_todo - start)
        _transpose_tile(X, todo[start:], size, xt)
        _nearest_in_tile(xt, size, centers, acc, best, second, tile_labels, True)
        for t in range(size):
            i = todo[start + t]
            label = tile_labels[t]
            dist = best[t]
            w = weight[i] if weighted else 1.0
            n_changed += (labels[i] != label) & (w > 0.0)
            labels[i] = label
            low_sq = second[t] * lower_factor
            if low_sq > 0.0 and low_sq < np.inf:
                lower[i] = _round_down_f32(math.sqrt(low_sq))
            elif low_sq > 0.0:
                lower[i] = np.float32(np.inf)  # one centre: no other to move to
            else:
                lower[i] = np.float32(0.0)
            counts[label] += w
            inertia += w * dist
            add_row(sums, label, X, i, w, weighted)
    return inertia, n_changed


@njit(parallel=True, **_OPTIONS)
def lloyd_direct_blocks(X, starts, centers, weight, labels, min_sq_dist, sums, counts, inertia,
                        n_changed, changes_only=False):
    """:func:`lloyd_direct` for the blocks ``starts[b]:starts[b + 1]``, on numba's threads.

    As :func:`mixfit.kernels.kmeans_simd.lloyd_simd_blocks`: block ``b``'s
    statistics (or with ``changes_only`` their change) go to ``sums[b]``,
    ``counts[b]`` (zeros), ``inertia[b]`` and ``n_changed[b]``, which the
    caller adds in a fixed order.
    """
    n_blocks = starts.shape[0] - 1
    check_blocks("lloyd_direct_blocks", X.shape[0], starts, sums, counts, inertia, n_changed)
    for b in prange(n_blocks):
        lo, hi = starts[b], starts[b + 1]
        block_inertia, block_changed = lloyd_direct(
            X[lo:hi], centers, weight[lo:hi], labels[lo:hi], min_sq_dist[lo:hi], sums[b],
            counts[b], changes_only)
        inertia[b] = block_inertia
        n_changed[b] = block_changed


@njit(parallel=True, **_OPTIONS)
def hamerly_direct_blocks(X, starts, weight, no_norms, centers, labels, lower, half_gap, drift,
                          drift_argmax, drift_second, gamma, sums, counts, inertia, n_changed,
                          n_computed):
    """Hamerly's E-step by the direct kernels for the blocks ``starts[b]:starts[b + 1]``.

    Per block, :func:`mixfit.kernels.kmeans.hamerly_screen` then
    :func:`hamerly_direct_full` for the rows it leaves, on numba's threads; the
    outputs as :func:`lloyd_direct_blocks`, with ``n_computed[b]`` the rows
    block ``b`` computed. ``no_norms``: an empty float64 array (the direct
    arithmetic needs no row norms).
    """
    n_blocks = starts.shape[0] - 1
    check_blocks("hamerly_direct_blocks", X.shape[0], starts, sums, counts, inertia, n_changed)
    require(n_computed.shape[0] == n_blocks and labels.shape[0] == X.shape[0]
            and labels_in_range(labels, centers.shape[0]), "hamerly_direct_blocks",
            "n_computed with one entry per block; labels of X's rows in [0, K)")
    for b in prange(n_blocks):
        lo, hi = starts[b], starts[b + 1]
        todo = np.empty(hi - lo, dtype=np.int64)
        screened, n_todo = hamerly_screen(
            X[lo:hi], weight[lo:hi], no_norms, centers, labels[lo:hi], lower[lo:hi], half_gap,
            drift, drift_argmax, drift_second, 0.0, 0.0, gamma, sums[b], counts[b], todo)
        full, block_changed = hamerly_direct_full(
            X[lo:hi], weight[lo:hi], todo, n_todo, centers, gamma, labels[lo:hi], lower[lo:hi],
            sums[b], counts[b])
        inertia[b] = screened + full
        n_changed[b] = block_changed
        n_computed[b] = n_todo
