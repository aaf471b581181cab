"""numba kernels of K-means on CSR data (private; see :mod:`mixfit.engine.kmeans_sparse`).

A CSR matrix is passed as its three arrays (``data``, ``indices``, ``indptr``),
in canonical form (sorted column indices, no duplicates). The centres are
passed transposed, ``centers_t`` of shape ``(n_features, width)`` with
``width ≥ n_clusters`` (float32 for float32 centres, read as float64 exactly;
K is the length of ``c_sq``, and the columns beyond it are padding for the
vector loop of :mod:`mixfit.kernels.sparse_dots`): each stored value ``x_j``
of a row then adds ``x_j · centers_t[j]``, a contiguous K-vector, to the row's
K dot products. Distances are ``‖x‖² − 2 x·c + ‖c‖²`` accumulated in
float64 and clamped at 0; the argmin keeps the lowest index on ties, as
``np.argmin``. Compiled with ``fastmath=False`` so that the arithmetic is the
one written.

:func:`hamerly_rows` prunes with Hamerly's bounds as
:mod:`mixfit.kernels.kmeans` does for dense data: a row whose bounds prove
that the full pass would keep its centre, *including the full pass's rounding*,
costs one dot product (with its own centre) instead of K; since that dot
product is summed exactly as the full pass sums it, labels, distances and
inertia are bit for bit those of :func:`lloyd_rows`.

A fit's M-step sums are not added up in its labelling pass, where each block
of rows would need a ``K × d`` array of its own (zeroed, then added to the
others: 8 MB per block at K = 20, d = 50,000). :func:`label_sums` adds them
in a pass of their own, into one array, each task taking a set of clusters.

Every kernel checks the shapes it indexes (:mod:`mixfit.kernels.checks`),
including each row's ``indptr`` range and each column index, so that a
malformed matrix raises instead of reading outside the arrays.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mixfit.kernels.checks import require
from mixfit.kernels.kmeans import _round_down_f32
from mixfit.kernels.sparse_dots import row_dots

__all__ = ["centres_transposed", "hamerly_rows", "label_sums", "lloyd_rows", "row_sq_norms",
           "sq_dist_to_point", "sq_distances_rows"]

_OPTIONS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")


@njit(**_OPTIONS)
def _check_csr(data, indices, indptr, begin, end, kernel):
    """Rows ``begin … end − 1`` of the CSR arrays lie inside ``data`` and ``indices``."""
    require(0 <= begin <= end and end < indptr.shape[0]
            and data.shape[0] == indices.shape[0], kernel,
            "rows begin..end of a CSR matrix with indptr of n + 1 entries, "
            "data and indices of the same length")
    require(indptr[begin] >= 0 and indptr[end] <= data.shape[0], kernel,
            "indptr within data")


@njit(**_OPTIONS)
def row_sq_norms(data, indptr, out):
    """``out[i] = Σ x_ij²`` in float64 for every row (the stored values only)."""
    n = out.shape[0]
    require(indptr.shape[0] == n + 1 and indptr[n] <= data.shape[0] and indptr[0] >= 0,
            "row_sq_norms", "indptr of n + 1 entries within data, out (n,)")
    for i in range(n):
        start, stop = indptr[i], indptr[i + 1]
        require(start <= stop, "row_sq_norms", "indptr non-decreasing")
        total = 0.0
        for p in range(start, stop):
            value = np.float64(data[p])
            total += value * value
        out[i] = total
    return out


@njit(**_OPTIONS)
def centres_transposed(centers, centers_t, c_sq):
    """The kernels' copy of the centres: ``centers_t[j, k] = centers[k, j]`` rounded
    to ``centers_t``'s dtype, and ``c_sq[k]``, the float64 squared norm of the
    rounded centre ``k`` (added in column order), in one pass. Columns of
    ``centers_t`` beyond K (padding) are not written."""
    n_clusters, n_features = centers.shape
    require(centers_t.shape[0] == n_features and centers_t.shape[1] >= n_clusters
            and c_sq.shape[0] == n_clusters, "centres_transposed",
            "centers (K, d), centers_t (d, width ≥ K), c_sq (K,)")
    c_sq[:] = 0.0
    for j in range(n_features):
        row = centers_t[j]
        for k in range(n_clusters):
            row[k] = centers[k, j]
            value = np.float64(row[k])
            c_sq[k] += value * value


@njit(**_OPTIONS)
def column_sq_norms(centers_t, c_sq):
    """``c_sq[k]``: the float64 squared norm of column ``k`` of ``centers_t``
    (d × K, the centres transposed), added in row order: the norms of
    :func:`centres_transposed` for centres already in that layout (the
    mini-batch steps' Fortran-ordered centres), in one pass without numpy's
    einsum (0.36 against 0.27 ms at 50,000 × 20)."""
    n_features, n_clusters = centers_t.shape
    require(c_sq.shape[0] == n_clusters, "column_sq_norms", "c_sq of K values")
    c_sq[:] = 0.0
    for j in range(n_features):
        for k in range(n_clusters):
            value = np.float64(centers_t[j, k])
            c_sq[k] += value * value
    return c_sq


@njit(**_OPTIONS)
def lloyd_rows(data, indices, indptr, begin, end, centers_t, c_sq, x_sq, weight,
               labels, min_sq_dist, sums, counts):
    """Nearest centre of rows ``begin … end − 1``, with their statistics.

    Parameters
    ----------
    data, indices, indptr : the CSR arrays of X (canonical form).
    begin, end : int
        The rows to process.
    centers_t : ndarray of shape (n_features, width ≥ n_clusters), float32 or float64
        The centres, transposed (each value is taken to float64 exactly); the
        columns beyond ``n_clusters`` are padding.
    c_sq : ndarray of shape (n_clusters,), float64
        ``‖c‖²``; its length is the number of centres K.
    x_sq : ndarray of shape (n_samples,), float64
        ``‖x‖²`` of every row.
    weight : ndarray of shape (n_samples,) or (0,), float64
        Sample weights; empty means all ones.
    labels : ndarray of shape (n_samples,), int32 or int64
        Previous labels on entry (any value where there were none), the new
        ones on exit, for the processed rows.
    min_sq_dist : ndarray of shape (n_samples,) or (0,), float64
        Squared distance to the nearest centre, written unless empty.
    sums, counts : ndarray of shape (n_clusters, n_features) / (n_clusters,), float64
        Accumulated into, unless ``sums`` has no rows (labelling only).

    Returns
    -------
    inertia : float
        Weighted sum of the rows' squared distances.
    n_changed : int
        Rows with positive weight whose label changed.
    """
    n_features, n_clusters = centers_t.shape[0], c_sq.shape[0]
    n_samples = indptr.shape[0] - 1
    weighted = weight.shape[0] > 0
    keep_dist = min_sq_dist.shape[0] > 0
    accumulate = sums.shape[0] > 0
    _check_csr(data, indices, indptr, begin, end, "lloyd_rows")
    require(n_clusters >= 1 and centers_t.shape[1] >= n_clusters and x_sq.shape[0] == n_samples
            and labels.shape[0] == n_samples
            and (not weighted or weight.shape[0] == n_samples)
            and (not keep_dist or min_sq_dist.shape[0] == n_samples), "lloyd_rows",
            "centers_t (d, K) with c_sq (K,), and x_sq, labels, weight, min_sq_dist of n rows")
    require(not accumulate or (sums.shape[0] == n_clusters and sums.shape[1] == n_features
                               and counts.shape[0] == n_clusters), "lloyd_rows",
            "sums (K, d) and counts (K,), or sums empty")
    dots = np.empty(centers_t.shape[1])
    inertia = 0.0
    n_changed = 0
    for i in range(begin, end):
        start, stop = indptr[i], indptr[i + 1]
        row_dots(data, indices, start, stop, centers_t, n_clusters, dots, "lloyd_rows")
        label = 0
        best = c_sq[0] - 2.0 * dots[0]
        for k in range(1, n_clusters):
            value = c_sq[k] - 2.0 * dots[k]
            if value < best:
                best = value
                label = k
        dist = best + x_sq[i]
        if dist < 0.0:
            dist = 0.0
        w = weight[i] if weighted else 1.0
        n_changed += (labels[i] != label) & (w > 0.0)
        labels[i] = label
        if keep_dist:
            min_sq_dist[i] = dist
        inertia += w * dist
        if accumulate:
            counts[label] += w
            for p in range(start, stop):
                sums[label, indices[p]] += w * np.float64(data[p])
    return inertia, n_changed


@njit(**_OPTIONS)
def hamerly_rows(data, indices, indptr, begin, end, centers_t, c_sq, x_sq, weight, labels,
                 lower, half_gap, drift, drift_argmax, drift_second, tau_coef, c_max_sq):
    """:func:`lloyd_rows` for rows ``begin … end − 1``, pruned by Hamerly's bounds.

    Per row: the squared distance ``u²`` to its current centre by the full
    pass's own formula (one dot product), the lower bound on the distance to
    every other centre lowered by their largest move, and the test
    ``max(lower, 2·half_gap − u)² − u² > tau``, ``tau = tau_coef · (‖x‖² +
    c_max_sq)`` bounding the rounding of the compared distances. A row that
    passes keeps its label; the others get the full pass and a new lower bound
    (the second smallest distance less ``tau``).

    Parameters
    ----------
    data, indices, indptr, begin, end, centers_t, c_sq, x_sq, weight, labels :
        As :func:`lloyd_rows` (``labels`` must lie in [0, K)).
    lower : ndarray of shape (n_samples,), float32
        Lower bounds, updated in place (−inf: no bound yet).
    half_gap : ndarray of shape (n_clusters,), float64
        Half the distance from each centre to its nearest other centre (a lower bound).
    drift : ndarray of shape (n_clusters,), float64
        How far each centre moved since the bounds were set (an upper bound).
    drift_argmax : int
        Centre that moved most; ``drift_second`` is the largest move of the others.
    tau_coef, c_max_sq : float

    Returns
    -------
    inertia : float
    n_changed : int
        Rows with positive weight whose label changed.
    n_full : int
        Rows that needed the full pass (the others were pruned).
    """
    n_features, n_clusters = centers_t.shape[0], c_sq.shape[0]
    n_samples = indptr.shape[0] - 1
    weighted = weight.shape[0] > 0
    _check_csr(data, indices, indptr, begin, end, "hamerly_rows")
    require(n_clusters >= 1 and centers_t.shape[1] >= n_clusters and x_sq.shape[0] == n_samples
            and labels.shape[0] == n_samples and lower.shape[0] == n_samples
            and (not weighted or weight.shape[0] == n_samples)
            and half_gap.shape[0] == n_clusters and drift.shape[0] == n_clusters
            and 0 <= drift_argmax < n_clusters, "hamerly_rows",
            "centers_t (d, K), c_sq, half_gap and drift (K,), x_sq, labels, lower, weight (n,)")
    drift_max = drift[drift_argmax]
    dots = np.empty(centers_t.shape[1])
    inertia = 0.0
    n_changed = 0
    n_full = 0
    for i in range(begin, end):
        start, stop = indptr[i], indptr[i + 1]
        require(start <= stop, "hamerly_rows", "indptr non-decreasing")
        a = labels[i]
        require(0 <= a < n_clusters, "hamerly_rows", "labels must lie in [0, K)")
        xx = x_sq[i]
        dot = 0.0
        for p in range(start, stop):
            j = indices[p]
            require(0 <= j < n_features, "hamerly_rows", "column indices in [0, n_features)")
            dot += np.float64(data[p]) * np.float64(centers_t[j, a])
        own = c_sq[a] - 2.0 * dot  # what the full pass computes for centre a
        u_sq = own + xx
        if u_sq < 0.0:
            u_sq = 0.0
        u = math.sqrt(u_sq)
        lo = np.float64(lower[i]) - (drift_second if a == drift_argmax else drift_max)
        lower[i] = _round_down_f32(lo)
        bound = max(lo, 2.0 * half_gap[a] - u)
        tau = tau_coef * (xx + c_max_sq)
        w = weight[i] if weighted else 1.0
        if bound > u and (bound - u) * (bound + u) > tau:
            label = a
            dist = u_sq
        else:
            n_full += 1
            row_dots(data, indices, start, stop, centers_t, n_clusters, dots, "hamerly_rows")
            label = 0
            best = c_sq[0] - 2.0 * dots[0]
            second = np.inf
            for k in range(1, n_clusters):
                value = c_sq[k] - 2.0 * dots[k]
                if value < best:
                    second = best
                    best = value
                    label = k
                elif value < second:
                    second = value
            dist = best + xx
            if dist < 0.0:
                dist = 0.0
            low_sq = second + xx - tau
            lower[i] = _round_down_f32(math.sqrt(low_sq)) if low_sq > 0.0 else np.float32(0.0)
            n_changed += (a != label) & (w > 0.0)
            labels[i] = label
        inertia += w * dist
    return inertia, n_changed, n_full


@njit(**_OPTIONS)
def label_sums(data, indices, indptr, weight, labels, mine, sums, counts):
    """The M-step's statistics of the clusters marked in ``mine``, rows in order.

    For each ``k`` with ``mine[k]``: ``sums[k] = Σ w x`` and ``counts[k] = Σ w``
    over the rows labelled ``k``, added in row order in float64, so that the
    result does not depend on which task took which cluster. The other rows of
    ``sums`` and ``counts`` are not touched. A column index outside
    ``[0, n_features)`` is caught without a branch per stored value (a
    ``require`` there took this pass from 2.9 to 4.1 ns per stored value).

    Parameters
    ----------
    data, indices, indptr : the CSR arrays of X (canonical form).
    weight : ndarray of shape (n_samples,) or (0,), float64
        Sample weights; empty means all ones.
    labels : ndarray of shape (n_samples,), int32 or int64
        In [0, n_clusters).
    mine : ndarray of shape (n_clusters,), bool
    sums, counts : ndarray of shape (n_clusters, n_features) / (n_clusters,), float64
    """
    n_clusters, n_features = sums.shape
    n_samples = indptr.shape[0] - 1
    weighted = weight.shape[0] > 0
    require(counts.shape[0] == n_clusters and mine.shape[0] == n_clusters
            and labels.shape[0] == n_samples and data.shape[0] == indices.shape[0]
            and (not weighted or weight.shape[0] == n_samples), "label_sums",
            "sums (K, d), counts and mine (K,), labels (n,), weight (n,) or empty")
    for k in range(n_clusters):
        if mine[k]:
            sums[k, :] = 0.0
            counts[k] = 0.0
    outside = False
    for i in range(n_samples):
        k = labels[i]
        require(0 <= k < n_clusters, "label_sums", "labels must lie in [0, K)")
        if not mine[k]:
            continue
        start, stop = indptr[i], indptr[i + 1]
        require(0 <= start <= stop <= data.shape[0], "label_sums",
                "indptr non-decreasing and within data")
        w = weight[i] if weighted else 1.0
        counts[k] += w
        row_sums = sums[k]
        for p in range(start, stop):
            j = indices[p]
            inside = (j >= 0) & (j < n_features)
            outside |= ~inside
            row_sums[j if inside else 0] += w * np.float64(data[p])
    require(not outside, "label_sums", "column indices in [0, n_features)")


@njit(**_OPTIONS)
def sq_distances_rows(data, indices, indptr, begin, end, centers_t, c_sq, x_sq, out):
    """``out[i − begin, k] = max(‖x_i‖² − 2 x_i·c_k + ‖c_k‖², 0)`` for rows begin … end − 1.

    ``out`` has shape ``(end − begin, n_clusters)`` in any float dtype (the
    float64 values are rounded once into it).
    """
    n_clusters = c_sq.shape[0]
    _check_csr(data, indices, indptr, begin, end, "sq_distances_rows")
    require(centers_t.shape[1] >= n_clusters and x_sq.shape[0] == indptr.shape[0] - 1
            and out.shape[0] == end - begin and out.shape[1] == n_clusters,
            "sq_distances_rows", "centers_t (d, width ≥ K), c_sq (K,), x_sq (n,), "
            "out (end - begin, K)")
    dots = np.empty(centers_t.shape[1])
    for i in range(begin, end):
        row_dots(data, indices, indptr[i], indptr[i + 1], centers_t, n_clusters, dots,
                 "sq_distances_rows")
        for k in range(n_clusters):
            value = x_sq[i] - 2.0 * dots[k] + c_sq[k]
            out[i - begin, k] = value if value > 0.0 else 0.0
    return out


@njit(**_OPTIONS)
def sq_dist_to_point(data, indices, indptr, point_indices, point_values, out, minimum):
    """``‖x_i − p‖²`` of every row to one point, by differences (exact 0 for a copy of p).

    ``p`` is given by its nonzero entries (``point_indices`` sorted, with
    ``point_values``); each row's sorted indices are merged with them, so every
    column where either is nonzero contributes ``(x_j − p_j)²``, in column order.
    With ``minimum``, ``out`` keeps the smaller of its value and the distance.
    """
    n = out.shape[0]
    n_point = point_indices.shape[0]
    require(indptr.shape[0] == n + 1 and point_values.shape[0] == n_point
            and data.shape[0] == indices.shape[0], "sq_dist_to_point",
            "indptr of n + 1 entries for out (n,), point indices and values alike")
    _check_csr(data, indices, indptr, 0, n, "sq_dist_to_point")
    for i in range(n):
        start, stop = indptr[i], indptr[i + 1]
        require(start <= stop, "sq_dist_to_point", "indptr non-decreasing")
        total = 0.0
        p = start
        q = 0
        while p < stop or q < n_point:
            if q >= n_point or (p < stop and indices[p] < point_indices[q]):
                t = np.float64(data[p])
                p += 1
            elif p >= stop or point_indices[q] < indices[p]:
                t = point_values[q]
                q += 1
            else:
                t = np.float64(data[p]) - point_values[q]
                p += 1
                q += 1
            total += t * t
        if not minimum or total < out[i]:
            out[i] = total
    return out
