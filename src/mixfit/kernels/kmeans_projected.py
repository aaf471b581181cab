"""numba kernel that labels rows by exact distances to the few centres a projection leaves.

For many centres in many dimensions the labelling GEMM computes every row's
distance to every centre, though almost all centres are plainly far. With an
orthonormal basis ``P`` (``m × d``, rows) of a subspace in which the centres
spread out (their leading principal directions), the squared distance of a
row ``x`` to a centre ``c``, both shifted by the same ``s``, splits exactly as

    ``‖x − c‖² = ‖P(x − c)‖² + ‖Q(x − c)‖²``,   ``Q = I − PᵀP``,

and the reverse triangle inequality bounds the second term below by
``(r_x − r_c)²`` with the residual norms ``r_v = ‖Qv‖``. The first term comes
from an ``m``-column GEMM (``m`` much less than ``d``), the residual norms from
``‖v‖² − ‖Pv‖²``. A row's exact distance is computed, as ``Σ_j (x_j − c_j)²``,
only to the centres whose lower bound does not exceed the best exact distance
found so far (the centre with the smallest bound first). On clustered data
that leaves one to a few dozen centres of 1,024 (1.6% at 784 × 1,024 on 64
Gaussian blobs with 32 directions, 0.7% on MNIST).

Why the labels are those of the exact distances: every bound is lowered by
``tau × (‖x − s‖² + ‖c − s‖²)`` (the residual norms widened to intervals by
``tau × ‖v‖²``), with ``tau`` (:func:`bound_rounding`) covering the rounding
of the shift, of both GEMMs in the bounds' dtype (the basis's: the data's, or
float32 for float64 data, whose shifted rows and centres are then rounded
once to it, as float32 data's shift is) and of ``P``'s rounding to it;
and a centre is skipped only when its lowered bound exceeds the best computed
distance times ``1 + 2γ``, ``γ`` the relative rounding of a computed distance
(:func:`mixfit.kernels.kmeans_direct.direct_rounding` in the dtype). A skipped
centre's computed distance is then more than the best one: the label is the
argmin of the computed distances over all centres (the lowest index on ties),
whatever the block of rows or the number of threads.

The exact distances run in the data's dtype with reassociation allowed (so
that they vectorise): a sum of non-negative terms in any order stays within
``(n_features + 2)`` units of rounding of the exact one, relative to the
distance itself.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from mixfit.kernels.checks import require

__all__ = ["bound_rounding", "centre_state", "centre_terms", "label_block", "label_blocks",
           "label_by_bounds", "rows_in_range"]

_OPTIONS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")
#: Relative lowering of a bound before it is stored in the dots' dtype (more
#: than float32's rounding).
_DOWN = 2.0 ** -20


def bound_rounding(n_features, n_components, dtype):
    """The relative slack ``tau`` of the lower bounds (see the module docstring).

    Each rounded quantity (the shifted rows, their ``m`` projections, a
    projected dot product, ``P`` itself) errs by at most ``(d + m + 4) u``
    relative to the norms involved, times ``√m`` where a vector of ``m`` such
    errors enters a norm; the factor 8 covers the products of those terms.
    """
    unit = float(np.finfo(dtype).eps) / 2
    return 8.0 * math.sqrt(max(1, n_components)) * (n_features + n_components + 4) * unit


@njit(**_OPTIONS)
def _residual_interval(v_sq, p_sq, tau):
    """Lower and upper bounds of ``‖Qv‖`` from the computed ``‖v‖²``, ``‖Pv‖²``."""
    r_sq = max(v_sq - p_sq, 0.0)
    slack = tau * v_sq
    return math.sqrt(max(r_sq - slack, 0.0)), math.sqrt(r_sq + slack)


@njit(**_OPTIONS)
def centre_terms(shifted, projected, tau, out):
    """Per-centre terms of the bounds, into ``out`` of shape (3, n_clusters), float64.

    ``out[0]``: ``‖Pc‖² − tau ‖c‖²``; ``out[1]``, ``out[2]``: the interval of
    the residual norm ``‖Qc‖`` (``c`` a shifted centre).
    """
    require(out.shape[0] == 3 and out.shape[1] == shifted.shape[0] == projected.shape[0],
            "centre_terms", "out of shape (3, K) for the K shifted and projected centres")
    for k in range(shifted.shape[0]):
        c_sq = _sq_norm(shifted[k])
        p_sq = _sq_norm(projected[k])
        low, high = _residual_interval(c_sq, p_sq, tau)
        out[0, k] = p_sq - tau * c_sq
        out[1, k] = low
        out[2, k] = high
    return out


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"}, error_model="numpy")
def _sq_distance(x, c):
    """``Σ_j (x_j − c_j)²`` in the arrays' dtype, in whatever order vectorises."""
    total = x[0] - x[0]
    for j in range(x.shape[0]):
        diff = x[j] - c[j]
        total += diff * diff
    return total


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"}, error_model="numpy")
def _sq_norm(v):
    """``Σ_j v_j²`` in float64, in whatever order vectorises."""
    total = 0.0
    for j in range(v.shape[0]):
        total += float(v[j]) * float(v[j])
    return total


@njit(**_OPTIONS)
def _fill_bounds(row_term, low, high, terms, dots):
    """Every centre's lower bound for one row, over its dot products (in place).

    Branch-free so that it vectorises; each bound is lowered by ``_DOWN``
    relative before it is stored, so that it stays a lower bound once
    rounded to float32 dots.
    """
    for k in range(dots.shape[0]):
        below = low - terms[2, k]
        above = terms[1, k] - high
        gap = below if below > above else above
        gap = gap if gap > 0.0 else 0.0
        bound = row_term + terms[0, k] + gap * gap - 2.0 * float(dots[k])
        dots[k] = bound * (1.0 - _DOWN) if bound > 0.0 else bound * (1.0 + _DOWN)


@njit(**_OPTIONS)
def _first_smallest(values):
    """Index of the first smallest of ``values``.

    The minimum over eight running lanes first (a plain loop's ``min`` chain
    does not vectorise: 1 ns a value against 0.27), then a search for it.
    """
    n = values.shape[0]
    l0 = l1 = l2 = l3 = l4 = l5 = l6 = l7 = values[0]
    n8 = n - n % 8
    for k in range(0, n8, 8):
        l0 = values[k] if values[k] < l0 else l0
        l1 = values[k + 1] if values[k + 1] < l1 else l1
        l2 = values[k + 2] if values[k + 2] < l2 else l2
        l3 = values[k + 3] if values[k + 3] < l3 else l3
        l4 = values[k + 4] if values[k + 4] < l4 else l4
        l5 = values[k + 5] if values[k + 5] < l5 else l5
        l6 = values[k + 6] if values[k + 6] < l6 else l6
        l7 = values[k + 7] if values[k + 7] < l7 else l7
    low = min(min(min(l0, l1), min(l2, l3)), min(min(l4, l5), min(l6, l7)))
    for k in range(n8, n):
        low = values[k] if values[k] < low else low
    for k in range(n):
        if values[k] == low:
            return k
    return 0


@njit(**_OPTIONS)
def rows_in_range(rows, n_samples):
    """Whether every row number lies in ``[0, n_samples)``."""
    for i in range(rows.shape[0]):
        if rows[i] < 0 or rows[i] >= n_samples:
            return False
    return True


@njit(**_OPTIONS)
def label_by_bounds(X, rows, shifted, projected, dots, terms, C, tau, gamma, labels,
                    min_sq_dist):
    """Label a block of rows: bounds from the projection, exact distances where needed.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The data, unshifted (the exact distances read it).
    rows : ndarray of shape (b,), int64
        The block's rows of X, in order.
    shifted : ndarray of shape (b, n_features), the bounds' dtype
        Those rows minus the shift (X's dtype, or float32 for float64 X).
    projected : ndarray of shape (b, m), the bounds' dtype
        ``shifted @ P.T``.
    dots : ndarray of shape (b, n_clusters), the bounds' dtype
        ``projected @ (projected centres).T``; overwritten with the bounds.
    terms : ndarray of shape (3, n_clusters), float64
        :func:`centre_terms`.
    C : ndarray of shape (n_clusters, n_features), X's dtype
        The centres, unshifted.
    tau, gamma : float
        :func:`bound_rounding` and the relative rounding of a computed distance.
    labels : ndarray of shape (b,), int64 or int32
    min_sq_dist : ndarray of shape (b,), float64
        Written: each row's label and computed distance to it.

    Returns
    -------
    n_exact : int
        Exact distances computed (the block's cost beyond the GEMMs).

    Two sweeps: the bounds of every row first, then the exact distances with
    the rows taken in order of the centre with their smallest bound, so that
    rows near the same centres follow one another and find those centres' rows
    in cache.
    """
    n_rows = rows.shape[0]
    n_clusters = C.shape[0]
    require(shifted.shape[0] == n_rows and projected.shape[0] == n_rows
            and dots.shape[0] == n_rows and labels.shape[0] == n_rows
            and min_sq_dist.shape[0] == n_rows, "label_by_bounds",
            "shifted, projected, dots, labels and min_sq_dist of the block's rows")
    require(shifted.shape[1] == X.shape[1] == C.shape[1] and n_clusters > 0
            and dots.shape[1] == n_clusters == terms.shape[1] and terms.shape[0] == 3,
            "label_by_bounds", "X, shifted and C of one width, dots and terms (3, K) of K centres")
    require(rows_in_range(rows, X.shape[0]), "label_by_bounds", "rows of X")
    first = np.empty(n_rows, dtype=np.int64)
    for i in range(n_rows):
        x_sq = _sq_norm(shifted[i])
        p_sq = _sq_norm(projected[i])
        low, high = _residual_interval(x_sq, p_sq, tau)
        _fill_bounds(p_sq - tau * x_sq, low, high, terms, dots[i])
        first[i] = _first_smallest(dots[i])
    widen = 1.0 + 2.0 * gamma
    n_exact = 0
    order = np.empty(n_clusters, dtype=np.int64)
    left = np.empty(n_clusters)
    for i in np.argsort(first, kind="mergesort"):
        bounds = dots[i]
        x = X[rows[i]]
        best = first[i]
        best_dist = float(_sq_distance(x, C[best]))
        limit = best_dist * widen
        # The centres the first exact distance leaves, then the smallest bound
        # left (a selection: a few dozen taken of a few dozen to hundreds)
        # until it exceeds the best distance: the best is usually found first.
        n_left = 0
        for k in range(n_clusters):
            if bounds[k] <= limit and k != first[i]:
                order[n_left] = k
                left[n_left] = bounds[k]
                n_left += 1
        n_exact += 1
        while n_left > 0:
            at = 0
            for j in range(1, n_left):
                if left[j] < left[at]:
                    at = j
            if left[at] > limit:
                break
            k = order[at]
            n_left -= 1
            order[at] = order[n_left]
            left[at] = left[n_left]
            dist = float(_sq_distance(x, C[k]))
            n_exact += 1
            if dist < best_dist or (dist == best_dist and k < best):
                best = k
                best_dist = dist
                limit = best_dist * widen
        labels[i] = best
        min_sq_dist[i] = best_dist
    return n_exact


@njit(**_OPTIONS)
def label_block(X, rows, shift, basis_t, projected_t, terms, C, tau, gamma, labels,
                min_sq_dist):
    """One block from its rows alone: shifted copy, both GEMMs (numba's BLAS), labels.

    Returns the block's number of exact distances (:func:`label_by_bounds`).
    """
    n_rows = rows.shape[0]
    require(rows_in_range(rows, X.shape[0]) and shift.shape[0] == X.shape[1]
            and basis_t.shape[0] == X.shape[1] and projected_t.shape[0] == basis_t.shape[1],
            "label_block", "rows of X, a shift and a basis of X's width")
    # The bounds in the basis's dtype (float32 for float64 data: each shifted
    # value rounded once, as float32 data's shift is; the exact distances read X).
    shifted = np.empty((n_rows, X.shape[1]), dtype=basis_t.dtype)
    for i in range(n_rows):
        x = X[rows[i]]
        for j in range(X.shape[1]):
            shifted[i, j] = x[j] - shift[j]
    projected = np.empty((n_rows, basis_t.shape[1]), dtype=basis_t.dtype)
    np.dot(shifted, basis_t, projected)
    dots = np.empty((n_rows, projected_t.shape[1]), dtype=basis_t.dtype)
    np.dot(projected, projected_t, dots)
    return label_by_bounds(X, rows, shifted, projected, dots, terms, C, tau, gamma, labels,
                           min_sq_dist)


@njit(parallel=True, **_OPTIONS)
def label_blocks(X, rows, starts, shift, basis_t, projected_t, terms, C, tau, gamma, labels,
                 min_sq_dist, n_exact):
    """:func:`label_block` for the blocks ``rows[starts[b]:starts[b + 1]]``, on numba's threads.

    Block ``b``'s exact distances into ``n_exact[b]``; BLAS runs on one thread
    per block (the caller limits it).
    """
    n_blocks = starts.shape[0] - 1
    require(n_exact.shape[0] == n_blocks and starts[0] == 0 and starts[n_blocks] == rows.shape[0]
            and labels.shape[0] == rows.shape[0] == min_sq_dist.shape[0], "label_blocks",
            "block starts from 0 to the rows' end, a count per block, a label per row")
    for b in prange(n_blocks):
        lo, hi = starts[b], starts[b + 1]
        n_exact[b] = label_block(X, rows[lo:hi], shift, basis_t, projected_t, terms, C, tau,
                                 gamma, labels[lo:hi], min_sq_dist[lo:hi])


@njit(parallel=True, **_OPTIONS)
def centre_state(centers, shift, basis_t, tau, C, projected, terms, n_blocks):
    """The centres in the data's dtype, projected, and their terms, in blocks on numba's threads.

    ``C`` gets ``centers`` rounded to its dtype, ``projected`` (K, m) the
    shifted rows of ``C`` times ``basis_t``, ``terms`` (3, K) their
    :func:`centre_terms`. Done once per mini-batch step: as numpy calls on
    one thread (a copy, a shifted copy, a skinny GEMM) it took 1.4 ms at
    1,024 × 784 float32, a seventh of the step.
    """
    n_clusters, n_features = centers.shape
    require(C.shape[0] == n_clusters == projected.shape[0] == terms.shape[1]
            and C.shape[1] == n_features == shift.shape[0] == basis_t.shape[0]
            and projected.shape[1] == basis_t.shape[1] and terms.shape[0] == 3,
            "centre_state", "C (K, d), projected (K, m), terms (3, K) for K centres of d features")
    size = -(-n_clusters // n_blocks)
    for b in prange(n_blocks):
        lo = min(b * size, n_clusters)
        hi = min(lo + size, n_clusters)
        if hi == lo:
            continue
        # In the bounds' dtype (the basis's): float32 bounds for float64 data
        # take each shifted centre rounded once, as a float32 centre's shift is.
        shifted = np.empty((hi - lo, n_features), dtype=basis_t.dtype)
        for k in range(lo, hi):
            for j in range(n_features):
                value = C.dtype.type(centers[k, j])
                C[k, j] = value
                shifted[k - lo, j] = value - shift[j]
        block = np.empty((hi - lo, basis_t.shape[1]), dtype=basis_t.dtype)
        np.dot(shifted, basis_t, block)
        projected[lo:hi] = block
        centre_terms(shifted, block, tau, terms[:, lo:hi])
