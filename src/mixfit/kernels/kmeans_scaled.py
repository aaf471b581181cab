"""numba kernels of mini-batch steps on CSR data whose centres are kept scaled.

A mini-batch step moves every centre it reaches to ``c·W/(W + m) + s/(W + m)``:
done as written, it scales all ``K × d`` values of the centres and then
recomputes their norms, two passes over 8 MB at 20 × 50,000 for a batch
that holds some 50,000 stored values. Kept as ``c_k = scale_k · v_k``
(:class:`mixfit.engine.minibatch_sparse.ScaledCentres`), the scaling is one
number per centre and the batch's values are added to ``v`` divided by it,
each addition also updating ``‖v_k‖²``; the distances multiply each dot
product ``x · v_k`` by ``scale_k``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mixfit.kernels.checks import require
from mixfit.kernels.sparse_dots import row_dots

__all__ = ["add_scaled_rows", "label_rows_scaled"]

_OPTIONS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")


@njit(**_OPTIONS)
def label_rows_scaled(data, indices, indptr, centers_t, scale, c_sq, x_sq, labels,
                      min_sq_dist):
    """Nearest centre of every row of a CSR batch, the centres ``scale[k] · centers_t[:, k]``.

    Parameters
    ----------
    data, indices, indptr : the CSR arrays of the batch (canonical form).
    centers_t : ndarray of shape (n_features, width ≥ n_clusters), float64
        The unscaled centres ``v``, transposed.
    scale, c_sq : ndarray of shape (n_clusters,), float64
        The centres' scales and squared norms ``scale² ‖v‖²``.
    x_sq : ndarray of shape (m,), float64
        The rows' squared norms.
    labels : ndarray of shape (m,), int32
    min_sq_dist : ndarray of shape (m,), float64
        Written: each row's nearest centre (the lowest index on ties) and its
        squared distance, ``‖x‖² − 2 scale_k (x · v_k) + ‖c_k‖²`` clamped at 0.

    Returns
    -------
    inertia : float
        The sum of the rows' squared distances.
    """
    n_rows = indptr.shape[0] - 1
    n_clusters = c_sq.shape[0]
    require(n_clusters >= 1 and centers_t.shape[1] >= n_clusters and scale.shape[0] == n_clusters
            and x_sq.shape[0] == n_rows and labels.shape[0] == n_rows
            and min_sq_dist.shape[0] == n_rows and indptr[0] == 0
            and indptr[n_rows] <= data.shape[0] == indices.shape[0], "label_rows_scaled",
            "centers_t (d, K) with scale and c_sq (K,), x_sq, labels, min_sq_dist of the "
            "batch's rows, indptr within data")
    dots = np.empty(centers_t.shape[1])
    inertia = 0.0
    for i in range(n_rows):
        row_dots(data, indices, indptr[i], indptr[i + 1], centers_t, n_clusters, dots,
                 "label_rows_scaled")
        label = 0
        best = c_sq[0] - 2.0 * (scale[0] * dots[0])
        for k in range(1, n_clusters):
            value = c_sq[k] - 2.0 * (scale[k] * dots[k])
            if value < best:
                best = value
                label = k
        dist = max(best + x_sq[i], 0.0)
        labels[i] = label
        min_sq_dist[i] = dist
        inertia += dist
    return inertia


@njit(**_OPTIONS)
def add_scaled_rows(centers_t, scale, v_sq, rate, labels, data, indices, indptr):
    """``v_k += (rate_k / scale_k) · x`` for every row ``x`` labelled ``k``, rows in order.

    ``v_sq[k]`` follows each change of ``v_k`` (``new² − old²`` as
    ``(new − old)(new + old)``); callers refresh it from time to time, as
    the rounding of these updates adds up.
    """
    n_features, n_clusters = centers_t.shape[0], scale.shape[0]
    n_rows = indptr.shape[0] - 1
    require(labels.shape[0] == n_rows and rate.shape[0] == n_clusters == v_sq.shape[0]
            and centers_t.shape[1] >= n_clusters and indptr[0] == 0
            and indptr[n_rows] <= data.shape[0] == indices.shape[0], "add_scaled_rows",
            "a label per row, rate and v_sq of K centres, indptr within data")
    lowest, highest = n_features, -1
    for p in range(indptr[n_rows]):
        lowest = min(lowest, indices[p])
        highest = max(highest, indices[p])
    require(indptr[n_rows] == 0 or (lowest >= 0 and highest < n_features), "add_scaled_rows",
            "indices within the features")
    for i in range(n_rows):
        k = labels[i]
        require(0 <= k < n_clusters and indptr[i] <= indptr[i + 1], "add_scaled_rows",
                "labels in [0, K), indptr non-decreasing")
        factor = rate[k] / scale[k]
        change = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            old = centers_t[j, k]
            new = old + factor * np.float64(data[p])
            centers_t[j, k] = new
            change += (new - old) * (new + old)
        v_sq[k] += change
