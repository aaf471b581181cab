"""numba kernels of the K-means M-step side: the blocks' statistics added up in a
fixed order, the centres from them, and how far the centres moved.

Split from :mod:`mixfit.kernels.kmeans` (the E-step's passes over rows): these
work on ``K × d`` arrays, once per iteration.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from mixfit.kernels.checks import require

__all__ = ["add_blocks_in_order", "add_rows_by_label_parallel", "squared_shift",
           "update_centers"]

_OPTIONS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")


@njit(**_OPTIONS)
def update_centers(sums, counts, centers):
    """The M-step for the clusters with weight: ``centers[k] = sums[k] / counts[k]``.

    The division is done in float64 and rounded once to ``centers``' dtype.
    Clusters without weight are left as they are, for the caller to re-seed.

    Returns
    -------
    n_empty : int
        Clusters with no weight.
    """
    require(counts.shape[0] == sums.shape[0] and centers.shape[0] == sums.shape[0]
            and centers.shape[1] == sums.shape[1], "update_centers",
            "sums and centers (K, d), counts (K,)")
    n_empty = 0
    for k in range(sums.shape[0]):
        count = counts[k]
        if count > 0.0:
            for j in range(sums.shape[1]):
                centers[k, j] = sums[k, j] / count
        else:
            n_empty += 1
    return n_empty


@njit(parallel=True, **_OPTIONS)
def add_blocks_in_order(sums, counts, inertia, n_changed):
    """Per-block statistics added up in block order, block 0 first.

    The additions (and so the roundings) of ``engine.kmeans_runner._add_parts``
    over the blocks one by one, in one call: per E-step of a small fit, the
    Python loop over blocks cost about 25 µs, a tenth of an iteration at
    10,000 rows.

    Parameters
    ----------
    sums : ndarray of shape (n_blocks, rows, n_features), float64
    counts : ndarray of shape (n_blocks, n_clusters), float64
    inertia : ndarray of shape (n_blocks,), float64
    n_changed : ndarray of shape (n_blocks,), int64

    Returns
    -------
    counts, sums, inertia, n_changed : the totals (new arrays, a float, an int).

    Runs on numba's threads (call it under
    :func:`mixfit.kernels.parallel.run_on_threads`); the thread count changes
    no rounding.
    """
    n_blocks = sums.shape[0]
    require(n_blocks >= 1 and counts.shape[0] == n_blocks and inertia.shape[0] == n_blocks
            and n_changed.shape[0] == n_blocks, "add_blocks_in_order",
            "sums (B, rows, d), counts (B, K), inertia and n_changed (B,) for B >= 1 blocks")
    total_sums = np.empty(sums.shape[1:])
    total_counts = counts[0].copy()
    total_inertia = inertia[0]
    total_changed = n_changed[0]
    for b in range(1, n_blocks):
        for k in range(counts.shape[1]):
            total_counts[k] += counts[b, k]
        total_inertia += inertia[b]
        total_changed += n_changed[b]
    # Row by row, every block into it while it is in cache (the same additions
    # in the same order), rows shared among the threads: block by block on one
    # thread, a (K, d) total larger than the cache went through memory once per
    # block (6 ms an E-step at 1024 × 784, 8 blocks).
    for k in prange(sums.shape[1]):
        row = total_sums[k]
        row[:] = sums[0, k]
        for b in range(1, n_blocks):
            for j in range(sums.shape[2]):
                row[j] += sums[b, k, j]
    return total_counts, total_sums, total_inertia, total_changed


@njit(**_OPTIONS)
def squared_shift(new_centers, centers):
    """``Σ_kj (new_centers[k, j] − centers[k, j])²`` in float64, in row order.

    What the stopping rule compares with ``tol``, without the ``K × d``
    difference numpy would make (1 ms of a sparse iteration at K × d = 1e6).
    """
    require(new_centers.shape[0] == centers.shape[0]
            and new_centers.shape[1] == centers.shape[1], "squared_shift",
            "new_centers and centers of the same shape (K, d)")
    total = 0.0
    for k in range(centers.shape[0]):
        for j in range(centers.shape[1]):
            moved = np.float64(new_centers[k, j]) - np.float64(centers[k, j])
            total += moved * moved
    return total


@njit(**_OPTIONS)
def move_centres(centers, weight_sums, counts, sums):
    """The mini-batch update of the centres a batch reached, in place, in one call.

    For every k with ``counts[k] > 0``: ``W' = weight_sums[k] + counts[k]``,
    ``centers[k] = centers[k] · (weight_sums[k] / W') + sums[k] · (1 / W')``
    (each product rounded, then their sum) and ``weight_sums[k] = W'``; the
    other centres stay exactly where they are (see
    :func:`mixfit.engine.minibatch.update_centers`). Numpy's arithmetic
    element for element, without its index arrays, temporaries and calls: an
    update took 13 rather than 61 µs at 64 × 784 with every centre reached,
    and the fancy-indexed path 0.14 ms where a centre was left out.
    """
    n_clusters, n_features = centers.shape
    require(sums.shape[0] == n_clusters and sums.shape[1] == n_features
            and weight_sums.shape[0] == n_clusters and counts.shape[0] == n_clusters,
            "move_centres", "centers and sums (K, d), weight_sums and counts (K,)")
    for k in range(n_clusters):
        if not counts[k] > 0.0:
            continue
        new_sum = weight_sums[k] + counts[k]
        kept = weight_sums[k] / new_sum
        step = 1.0 / new_sum
        for j in range(n_features):
            scaled = centers[k, j] * kept
            added = sums[k, j] * step
            centers[k, j] = scaled + added
        weight_sums[k] = new_sum


@njit(**_OPTIONS)
def move_centres_by_triples(centers_t, factor, rows, cols, values, rate):
    """The mini-batch update of sparse data's centres, in place, in one call.

    ``centers_t`` is the ``(n_features, n_clusters)`` C-ordered view of the
    Fortran-ordered centres. Every centre ``k`` is scaled by ``factor[k]``,
    then each triple adds ``values[i] · rate[rows[i]]`` at ``(rows[i], cols[i])``,
    in order (repeated coordinates add up): numpy's tiled scaling and
    ``np.add.at`` element for element, without the index arrays, the products'
    temporary and the calls around them.
    """
    n_features, n_clusters = centers_t.shape
    n_values = values.shape[0]
    bad = 0
    for i in range(n_values):
        bad += ((rows[i] < 0) | (rows[i] >= n_clusters)
                | (cols[i] < 0) | (cols[i] >= n_features))
    require(bad == 0 and rows.shape[0] == n_values and cols.shape[0] == n_values
            and factor.shape[0] == n_clusters and rate.shape[0] == n_clusters,
            "move_centres_by_triples", "rows within the centres, cols within the features, "
            "one row and col per value, factor and rate (n_clusters,)")
    for j in range(n_features):
        for k in range(n_clusters):
            centers_t[j, k] *= factor[k]
    for i in range(n_values):
        k = rows[i]
        centers_t[cols[i], k] += values[i] * rate[k]


@njit(parallel=True, **_OPTIONS)
def add_rows_by_label_parallel(X, labels, sums, row_index, n_parts):
    """``sums[labels[i]] += X[row_index[i]]`` for every row, the centres shared out
    in ``n_parts`` ranges on numba's threads, each range's rows in row order.

    The unweighted sums of a mini-batch labelled without them (see
    :func:`mixfit.kernels.kmeans.add_rows_by_label`, whose additions these are,
    in the same order: the same sums to the last bit for any ``n_parts``).
    Each part scans every label and reads only its centres' rows, so the
    batch is read once in all, where one thread took 0.64 ms a step at
    1,024 rows × 784 float64 features, 256 clusters.
    """
    n_clusters, n_features = sums.shape
    m = row_index.shape[0]
    bad = 0
    for i in range(m):
        bad += ((labels[i] < 0) | (labels[i] >= n_clusters)
                | (row_index[i] < 0) | (row_index[i] >= X.shape[0]))
    require(bad == 0 and labels.shape[0] == m and X.shape[1] == n_features and n_parts >= 1,
            "add_rows_by_label_parallel", "labels in [0, K) and row_index within X's rows, "
            "one each a row; sums (K, d); n_parts at least 1")
    for part in prange(n_parts):
        first = part * n_clusters // n_parts
        last = (part + 1) * n_clusters // n_parts
        for i in range(m):
            label = labels[i]
            if first <= label < last:
                source = row_index[i]
                for j in range(n_features):
                    sums[label, j] += np.float64(X[source, j])
