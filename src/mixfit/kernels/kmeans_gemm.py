"""numba kernels of the K-means E-step by GEMM: one call per block of rows.

The distance GEMM of :mod:`mixfit.kernels.kmeans` runs on chunks small enough
to stay in cache (a few hundred rows, sometimes under 200 where BLAS's
small-matrix kernel pays). Driven from Python, every chunk cost a slice, a
shift, a GEMM call, a transposed copy and a kernel call, about 20 µs of
interpreter time each, with the GIL held: at 100,000 × 160 × 32 (float32) that
was a third of the fit, and it kept a second thread from helping. These
kernels take a whole block of rows instead: they loop over its chunks, call
BLAS themselves (numba's ``np.dot``, scipy's BLAS, into buffers allocated once
per block) and run the fused passes of :mod:`mixfit.kernels.kmeans` on each
chunk, with the GIL released throughout.

The arithmetic is that of the Python-driven chunks: rows shifted in X's dtype,
``(x − shift) · (−2c)`` by one GEMM per chunk in X's dtype, the same
orientation (X·Cᵀ for few clusters and many features, else C·Xᵀ), then the
argmin and statistics of :func:`~mixfit.kernels.kmeans.lloyd_chunk` or
:func:`~mixfit.kernels.kmeans.hamerly_full`. Chunks are fixed row ranges of
the block, so the thread count changes no rounding.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from mixfit.kernels.checks import check_blocks, require
from mixfit.kernels.kmeans import (add_row, hamerly_full, hamerly_row_test, labels_in_range,
                                   lloyd_chunk, lloyd_chunk_norms)

__all__ = ["hamerly_gemm_block", "hamerly_gemm_blocks", "lloyd_gemm_block", "lloyd_gemm_blocks"]

_OPTIONS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")


@njit(**_OPTIONS)
def _partial(X_rows, shift, C_neg2, C_neg2_t, rows_first, shifted_buffer, wide, partial_flat):
    """``(−2C) · (x − shift)`` for a chunk, as a contiguous ``(n_clusters, rows)`` array.

    ``C_neg2_t`` non-empty selects the X·Cᵀ orientation (written to ``wide``,
    then transposed into the result); ``shift`` empty means none. The rows are
    copied (shifted) into ``shifted_buffer`` when shifted or not contiguous:
    BLAS needs contiguous operands.
    """
    m, n_features = X_rows.shape
    n_clusters = C_neg2.shape[0]
    Xc = X_rows
    if shift.shape[0] > 0 or not X_rows.flags.c_contiguous:
        Xc = shifted_buffer[:m]
        if shift.shape[0] > 0:
            for i in range(m):
                for j in range(n_features):
                    Xc[i, j] = X_rows[i, j] - shift[j]
        else:
            Xc[:, :] = X_rows
    partial_t = partial_flat[:n_clusters * m].reshape((n_clusters, m))
    if rows_first:
        product = wide[:m]
        np.dot(Xc, C_neg2_t, product)
        for k in range(n_clusters):
            for i in range(m):
                partial_t[k, i] = product[i, k]
    else:
        np.dot(C_neg2, Xc.T, partial_t)
    return partial_t


@njit(**_OPTIONS)
def gather_row(X, x_sq, i, w, weighted, gathered, gathered_sq, gathered_weight, gathered_rows,
               n_gathered):
    """Row ``i`` (its norm, weight and index) copied to slot ``n_gathered``; returns the count."""
    gathered[n_gathered] = X[i]
    gathered_sq[n_gathered] = x_sq[i]
    if weighted:
        gathered_weight[n_gathered] = w
    gathered_rows[n_gathered] = i
    return n_gathered + 1


@njit(**_OPTIONS)
def gemm_buffers(X, shift, rows, n_clusters, rows_first):
    """The buffers :func:`_partial` writes into, for chunks of up to ``rows`` rows of X.

    Rows are copied only to shift them or make them contiguous (X's layout is
    the same for every chunk, and gathered rows are contiguous); otherwise BLAS
    reads them in place. Returns ``(shifted_buffer, wide, partial_flat)``.
    """
    copies = shift.shape[0] > 0 or not X.flags.c_contiguous
    return (np.empty((rows if copies else 0, X.shape[1]), dtype=X.dtype),
            np.empty((rows if rows_first else 0, n_clusters), dtype=X.dtype),
            np.empty(n_clusters * rows, dtype=X.dtype))


@njit(**_OPTIONS)
def lloyd_gemm_block(X, shift, C_neg2, C_neg2_t, c_sq, x_sq, weight, labels, min_sq_dist,
                     sums, counts, chunk_size, changes_only=False):
    """Labels and statistics of a block of rows, chunk by chunk: GEMM then fused pass.

    Parameters
    ----------
    X : ndarray of shape (m, n_features)
        The block's rows (unshifted).
    shift : ndarray of shape (n_features,) or (0,), X's dtype
        Subtracted from the rows before the GEMM; empty for none.
    C_neg2 : ndarray of shape (n_clusters, n_features), X's dtype
        ``−2 (c − shift)``.
    C_neg2_t : ndarray of shape (n_features, n_clusters) or (0, 0), X's dtype
        Its transpose, contiguous, to run the GEMM as X·Cᵀ; empty for C·Xᵀ.
    c_sq : ndarray of shape (n_clusters,), X's dtype
        ``‖c − shift‖²``.
    x_sq : ndarray of shape (m,) or (0,), X's dtype
        ``‖x − shift‖²``; empty to have each chunk compute it in float64
        (:func:`~mixfit.kernels.kmeans.lloyd_chunk_norms`).
    weight, labels, min_sq_dist, sums, counts
        As for :func:`~mixfit.kernels.kmeans.lloyd_chunk`, for the whole block
        (``sums`` of shape ``(0, n_features)``: none wanted).
    chunk_size : int
        Rows per GEMM.
    changes_only : bool
        ``labels`` hold every row's previous label, and ``sums`` and ``counts``
        get the change of the statistics (see :func:`~mixfit.kernels.kmeans.lloyd_chunk`).

    Returns
    -------
    inertia : float
    n_changed : int
    """
    m, n_features = X.shape
    n_clusters = C_neg2.shape[0]
    rows_first = C_neg2_t.shape[0] > 0
    with_norms = x_sq.shape[0] > 0
    weighted = weight.shape[0] > 0
    keep_dist = min_sq_dist.shape[0] > 0
    require(chunk_size >= 1 and C_neg2.shape[1] == n_features
            and (shift.shape[0] == 0 or shift.shape[0] == n_features)
            and (not rows_first or (C_neg2_t.shape[0] == n_features
                                    and C_neg2_t.shape[1] == n_clusters))
            and (not with_norms or x_sq.shape[0] == m) and labels.shape[0] == m
            and (not weighted or weight.shape[0] == m)
            and (not keep_dist or min_sq_dist.shape[0] == m), "lloyd_gemm_block",
            "C_neg2 (K, d), C_neg2_t (d, K) or empty, shift (d,) or empty, and x_sq, "
            "labels, weight, min_sq_dist of X's m rows")
    require(not changes_only or labels_in_range(labels, n_clusters), "lloyd_gemm_block",
            "with changes_only, every row's previous label in [0, n_clusters)")
    rows = min(chunk_size, m)
    shifted_buffer, wide, partial_flat = gemm_buffers(X, shift, rows, n_clusters, rows_first)
    shift64 = np.empty(shift.shape[0])
    for j in range(shift.shape[0]):
        shift64[j] = shift[j]
    inertia = 0.0
    n_changed = 0
    for start in range(0, m, chunk_size):
        stop = min(start + chunk_size, m)
        X_rows = X[start:stop]
        partial_t = _partial(X_rows, shift, C_neg2, C_neg2_t, rows_first, shifted_buffer,
                             wide, partial_flat)
        chunk_weight = weight[start:stop] if weighted else weight
        chunk_dist = min_sq_dist[start:stop] if keep_dist else min_sq_dist
        if with_norms:
            chunk_inertia, chunk_changed = lloyd_chunk(
                partial_t, c_sq, x_sq[start:stop], X_rows, chunk_weight, labels[start:stop],
                chunk_dist, sums, counts, changes_only)
        else:
            chunk_inertia, chunk_changed = lloyd_chunk_norms(
                partial_t, c_sq, shift64, X_rows, chunk_weight, labels[start:stop],
                chunk_dist, sums, counts, changes_only)
        inertia += chunk_inertia
        n_changed += chunk_changed
    return inertia, n_changed


@njit(**_OPTIONS)
def _full_rows(X_rows, weight_rows, x_sq_rows, rows, shift, C_neg2, C_neg2_t, c_sq,
               tau_coef, c_max_sq, labels, lower, sums, counts, shifted_buffer, wide,
               partial_flat):
    """GEMM and :func:`~mixfit.kernels.kmeans.hamerly_full` for some rows (``rows`` index them)."""
    partial_t = _partial(X_rows, shift, C_neg2, C_neg2_t, C_neg2_t.shape[0] > 0,
                         shifted_buffer, wide, partial_flat)
    return hamerly_full(partial_t, c_sq, x_sq_rows, X_rows, weight_rows, rows, tau_coef,
                        c_max_sq, labels, lower, sums, counts)


@njit(**_OPTIONS)
def hamerly_gemm_block(X, weight, x_sq, centers, labels, lower, half_gap, drift,
                       drift_argmax, drift_second, tau_coef, c_max_sq, shift, C_neg2,
                       C_neg2_t, c_sq, sums, counts, chunk_size):
    """Hamerly's E-step for a block: the bound test, then a GEMM for the rows that fail it.

    The block is taken ``chunk_size`` rows at a time, so that a chunk is still
    in cache when it is used again (at 784 features X does not fit, and a
    separate screening pass read it from memory twice). Each row gets
    :func:`~mixfit.kernels.kmeans.hamerly_row_test`. When most of a chunk
    fails (early iterations, while centres move far), the whole chunk goes
    through the GEMM as it lies: no copies, and every row's bound is renewed.
    Otherwise the rows that keep their centre are accumulated and the others
    gathered, the gathered rows going through the GEMM ``chunk_size`` at a
    time. Either way :func:`~mixfit.kernels.kmeans.hamerly_full` finishes the
    GEMM's rows, which are the only rows whose label can change. Arguments are
    those of :func:`~mixfit.kernels.kmeans.hamerly_screen` (``x_sq`` required,
    ``gamma`` 0) and, for the GEMM, of :func:`lloyd_gemm_block`.

    Returns
    -------
    inertia : float
    n_changed : int
    n_computed : int
        Rows whose distances were computed (the GEMM's rows): what the bounds
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
            and labels.shape[0] == m and lower.shape[0] == m
            and (not weighted or weight.shape[0] == m) and half_gap.shape[0] == n_clusters
            and sums.shape[0] == n_clusters and sums.shape[1] == n_features
            and counts.shape[0] == n_clusters
            and (drift.shape[0] == 0 or (drift.shape[0] == n_clusters
                                         and 0 <= drift_argmax < n_clusters)),
            "hamerly_gemm_block", "x_sq, labels, lower, weight of X's m rows; centers, sums "
            "and C_neg2 (K, d), C_neg2_t (d, K) or empty, shift (d,) or empty; half_gap, "
            "counts (K,); drift empty or (K,) with drift_argmax a centre")
    # A label out of range would index centers, half_gap, sums and counts outside them.
    require(labels_in_range(labels, n_clusters), "hamerly_gemm_block",
            "labels must lie in [0, K)")
    drift_max = drift[drift_argmax] if drift.shape[0] > 0 else 0.0
    rows = max(1, min(chunk_size, m))
    keeps = np.empty(rows, dtype=np.bool_)
    own_sq = np.empty(rows)
    chunk_rows = np.empty(rows, dtype=np.int64)
    gathered = np.empty((rows, n_features), dtype=X.dtype)
    gathered_sq = np.empty(rows, dtype=x_sq.dtype)
    gathered_weight = np.empty(rows if weighted else 0)
    gathered_rows = np.empty(rows, dtype=np.int64)
    shifted_buffer, wide, partial_flat = gemm_buffers(X, shift, rows, n_clusters, rows_first)
    inertia = 0.0
    n_changed = 0
    n_gathered = 0
    n_computed = 0
    for start in range(0, m, chunk_size):
        stop = min(start + chunk_size, m)
        count = stop - start
        n_fail = 0
        for r in range(count):
            i = start + r
            keep, d2 = hamerly_row_test(X, i, labels[i], x_sq, centers, lower, half_gap,
                                        drift_argmax, drift_max, drift_second, tau_coef,
                                        c_max_sq, 0.0)
            keeps[r] = keep
            own_sq[r] = d2
            n_fail += not keep
        if 2 * n_fail > count:
            n_computed += count
            for r in range(count):
                chunk_rows[r] = start + r
            chunk_inertia, chunk_changed = _full_rows(
                X[start:stop], weight[start:stop] if weighted else weight, x_sq[start:stop],
                chunk_rows[:count], shift, C_neg2, C_neg2_t, c_sq, tau_coef, c_max_sq,
                labels, lower, sums, counts, shifted_buffer, wide, partial_flat)
            inertia += chunk_inertia
            n_changed += chunk_changed
            continue
        n_computed += n_fail
        for r in range(count):
            i = start + r
            w = weight[i] if weighted else 1.0
            if keeps[r]:
                a = labels[i]
                counts[a] += w
                inertia += w * own_sq[r]
                add_row(sums, a, X, i, w, weighted)
                continue
            n_gathered = gather_row(X, x_sq, i, w, weighted, gathered, gathered_sq,
                                    gathered_weight, gathered_rows, n_gathered)
            if n_gathered == rows:
                chunk_inertia, chunk_changed = _full_rows(
                    gathered, gathered_weight, gathered_sq, gathered_rows, shift, C_neg2,
                    C_neg2_t, c_sq, tau_coef, c_max_sq, labels, lower, sums, counts,
                    shifted_buffer, wide, partial_flat)
                inertia += chunk_inertia
                n_changed += chunk_changed
                n_gathered = 0
    if n_gathered > 0:
        chunk_inertia, chunk_changed = _full_rows(
            gathered[:n_gathered], gathered_weight[:n_gathered] if weighted else gathered_weight,
            gathered_sq[:n_gathered], gathered_rows[:n_gathered], shift, C_neg2, C_neg2_t,
            c_sq, tau_coef, c_max_sq, labels, lower, sums, counts, shifted_buffer, wide,
            partial_flat)
        inertia += chunk_inertia
        n_changed += chunk_changed
    return inertia, n_changed, n_computed


@njit(parallel=True, **_OPTIONS)
def lloyd_gemm_blocks(X, starts, shift, C_neg2, C_neg2_t, c_sq, x_sq, weight, labels,
                      min_sq_dist, sums, counts, inertia, n_changed, chunk_size,
                      changes_only=False):
    """:func:`lloyd_gemm_block` for the blocks ``starts[b]:starts[b + 1]``, on numba's threads.

    As :func:`mixfit.kernels.kmeans_simd.lloyd_simd_blocks` (block ``b``'s
    statistics into ``sums[b]``, ``counts[b]``, ``inertia[b]``,
    ``n_changed[b]``, ``changes_only`` as there); each block's rows are made
    C-contiguous for BLAS, which runs on one thread per block (the caller
    limits it).
    """
    n_blocks = starts.shape[0] - 1
    check_blocks("lloyd_gemm_blocks", X.shape[0], starts, sums, counts, inertia, n_changed)
    for b in prange(n_blocks):
        lo, hi = starts[b], starts[b + 1]
        block_inertia, block_changed = lloyd_gemm_block(
            np.ascontiguousarray(X[lo:hi]), shift, C_neg2, C_neg2_t, c_sq, x_sq[lo:hi],
            weight[lo:hi], labels[lo:hi], min_sq_dist[lo:hi], sums[b], counts[b], chunk_size,
            changes_only)
        inertia[b] = block_inertia
        n_changed[b] = block_changed


@njit(parallel=True, **_OPTIONS)
def hamerly_gemm_blocks(X, starts, weight, x_sq, centers, labels, lower, half_gap, drift,
                        drift_argmax, drift_second, tau_coef, c_max_sq, shift, C_neg2, C_neg2_t,
                        c_sq, sums, counts, inertia, n_changed, n_computed, chunk_size):
    """:func:`hamerly_gemm_block` for the blocks ``starts[b]:starts[b + 1]``, on numba's threads.

    As :func:`lloyd_gemm_blocks`, with ``n_computed[b]`` the rows block ``b``
    computed (what the bounds did not save).
    """
    n_blocks = starts.shape[0] - 1
    check_blocks("hamerly_gemm_blocks", X.shape[0], starts, sums, counts, inertia, n_changed)
    require(n_computed.shape[0] == n_blocks and labels.shape[0] == X.shape[0]
            and labels_in_range(labels, C_neg2.shape[0]), "hamerly_gemm_blocks",
            "n_computed with one entry per block; labels of X's rows in [0, K)")
    for b in prange(n_blocks):
        lo, hi = starts[b], starts[b + 1]
        block_inertia, block_changed, block_computed = hamerly_gemm_block(
            np.ascontiguousarray(X[lo:hi]), weight[lo:hi], x_sq[lo:hi], centers,
            labels[lo:hi], lower[lo:hi], half_gap, drift, drift_argmax, drift_second, tau_coef,
            c_max_sq, shift, C_neg2, C_neg2_t, c_sq, sums[b], counts[b], chunk_size)
        inertia[b] = block_inertia
        n_changed[b] = block_changed
        n_computed[b] = block_computed
