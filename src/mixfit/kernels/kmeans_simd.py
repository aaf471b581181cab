"""The K-means E-step for few features × clusters by an explicit SIMD micro-kernel.

Why: with few features and clusters the distance GEMM of
:mod:`mixfit.kernels.kmeans_gemm` is skinny: BLAS packs its operands for every
chunk and runs its micro-kernel on shapes it is not made for (5-20 GFLOP/s),
and the ``(n_clusters, rows)`` block it writes is read again by the argmin.
numba does not vectorise across centres by itself (its superword vectoriser is
off, and a running sum per centre in an array goes through memory every step),
so :func:`_nearest_8_rows` writes the vector code in LLVM IR (a numba
intrinsic): the accumulators of 8 rows × 8 or 16 centres (32 for float32 rows
of :data:`QUAD_MIN_FEATURES` or more) stay in vector registers while the
features stream past, then the 8 × 8 blocks are transposed in registers so
that the argmin (and, for the two-bound E-step, the runner-up) runs down the
centres for 8 rows at once. Per
100,000-row E-step of one thread this took 0.47-0.6× the time of the GEMM and
argmin at 16 × 8, 8 × 8 and 3 × 8 (float32), 0.4-0.55× for float64 up to
32 clusters (see :data:`mixfit.engine.kmeans_steps.SIMD_SHAPES`).

The arithmetic is the GEMM path's: in X's dtype, rows shifted first where the
fit shifts them, ``‖c − shift‖² + Σ_j (x_j − shift_j)(−2c_j)`` with the
features in order and each step a fused multiply-add. It rounds differently
from BLAS, so a row almost equidistant from two centres may be labelled
differently by the two paths; every caller of a given shape uses this kernel,
so a fit's labels and ``predict`` agree. Labels are the lowest index on ties
(strict ``<``, centres in increasing order). The statistics (counts, sums,
inertia) are those of :func:`mixfit.kernels.kmeans.lloyd_chunk`: float64, rows
in order. The vectors are 8 lanes wide in both dtypes (float32 sweeps two of
them as one of 16 lanes, lane by lane the same arithmetic); LLVM splits them
where the machine's are narrower, so the results are the same on any x86
machine.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.core.extending import intrinsic

from mixfit.kernels.checks import check_blocks, require
from mixfit.kernels.kmeans import (add_row, add_rows_in_order, labels_in_range, row_sq_norm,
                                   subtract_row)
from mixfit.kernels.kmeans_simd_pairs import MAX_CLUSTERS as MAX_PAIRED_CLUSTERS
from mixfit.kernels.kmeans_simd_pairs import nearest_8_rows_paired, paired_centres
from mixfit.kernels.kmeans_simd_wide import (IN_CACHE_BYTES, by_feature_operands,
                                              nearest_by_feature, takes_by_feature)
from mixfit.kernels.simd_ir import (nearest_arrays, nearest_signature,
                                     prefetch_rows, take_nearer, transpose_8x8)

__all__ = ["CHUNK_BYTES", "LANES", "ROWS", "chunk_rows_for", "lloyd_simd_block",
           "lloyd_simd_blocks", "lloyd_simd_rows_blocks", "padded_centres", "padded_operands"]

_OPTIONS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")

#: Centres per vector (the padded ones have ``+inf`` norms and never win).
LANES = 8

#: Rows whose accumulators are held at once: 8 independent chains of
#: multiply-adds keep both FMA units busy despite their 4-cycle latency.
ROWS = 8

#: Float32 rows of at least this many features sweep 32 centres at a time (two
#: 16-lane vectors of accumulators per row) rather than 16. One thread, ns a
#: row in cache / from memory (1e6 rows): 23.5 → 21.4 / 26.4 → 23.5 at 32 × 32,
#: 38.5 → 36.9 / 56.9 → 43.4 at 64 × 32, 104 → 93 / 131 → 119 at 160 × 32;
#: but at 8 × 64 19.4 → 22.4 (the argmin's shuffles dominate short rows, and
#: twice the accumulators crowd the registers), 16 × 64 even.
QUAD_MIN_FEATURES = 32

#: Rows per chunk: shifted into a buffer when the fit shifts them, and summed
#: into the statistics while in cache.
_CHUNK_ROWS = 256

#: Most bytes of rows per chunk (wide rows make shorter chunks): a chunk is
#: read from memory once, into the buffer (shifted, or through an index), and
#: again from cache for its norms and sums, so it and its copy must stay in
#: L2. 256 rows of 784 float64 features (1.6 MB) did not: a labelling pass
#: over 100,000 rows took 70 rather than 77-79 ms at 784 × 16 float64 and 117
#: rather than 131-135 at 784 × 64 (even at 784 × 32 float32 and 160 × 64
#: float64). A MiniBatchKMeans pass (rows read through an index) at 2¹⁶,
#: 2¹⁷, 2¹⁸, 2¹⁹ bytes: 180, 182, 178, 183 ms at 784 × 16 float64; 219, 216,
#: 224, 244 at 784 × 32 float64; 171, 174, 184, 189 at 784 × 64 float32; 68,
#: 70, 70, 79 at 160 × 64 float64.
CHUNK_BYTES = 1 << 17


@njit(inline="always", **_OPTIONS)
def chunk_rows_for(n_features, itemsize):
    """Rows per chunk: :data:`CHUNK_BYTES` of them, in whole groups of
    :data:`ROWS`, at most :data:`_CHUNK_ROWS` (no label depends on it)."""
    rows = CHUNK_BYTES // max(1, n_features * itemsize)
    return max(ROWS, min(_CHUNK_ROWS, rows - rows % ROWS))


def padded_centres(C_neg2, c_sq):
    """``((−2C)ᵀ, ‖c‖²)`` padded to a multiple of :data:`LANES` centres, C-contiguous.

    Padding centres are zero with a norm of ``+inf``: their distance is
    ``+inf``, never below a real one, so they change no label. At most
    :data:`~mixfit.kernels.kmeans_simd_pairs.MAX_CLUSTERS` centres and two
    features or more take the paired layout instead
    (:func:`~mixfit.kernels.kmeans_simd_pairs.paired_centres`, ``ceil(d / 2)``
    rows), which :func:`_nearest_in_chunk` recognises by its row count.
    """
    n_clusters, n_features = C_neg2.shape
    if n_clusters <= MAX_PAIRED_CLUSTERS and n_features >= 2:
        return paired_centres(C_neg2, c_sq)
    padded = -(-n_clusters // LANES) * LANES
    C_t = np.zeros((n_features, padded), dtype=C_neg2.dtype)
    C_t[:, :n_clusters] = C_neg2.T
    c_sq_pad = np.full(padded, np.inf, dtype=c_sq.dtype)
    c_sq_pad[:n_clusters] = c_sq
    return C_t, c_sq_pad



@njit(**_OPTIONS)
def padded_operands(centers, shift, C_t, c_sq, C_t_low=None, c_sq_low=None):
    """The micro-kernel's centres in one pass, in ``C_t``'s dtype: returns ``max_k c_sq[k]``.

    ``C_t[j, k] = −2 r_kj`` and ``c_sq[k] = ‖r_k‖²`` (summed in float64, the
    order vectorised, rounded once), where ``r_k = c_k − shift`` is computed in
    float64 and rounded to ``C_t``'s dtype; the padding columns beyond the
    centres are zero with norms ``+inf`` (as :func:`padded_centres`, whose
    layout this is for more than
    :data:`~mixfit.kernels.kmeans_simd_pairs.MAX_CLUSTERS` centres). Numpy's
    shift, transposing copy, padding and casts took 1.4 ms a mini-batch step
    at 256 × 784 float64, 0.1 ms at 64 × 784 float32. ``C_t_low`` and
    ``c_sq_low`` (unless None): the same rounded to their (lower) dtype, in
    the same pass (a pass of its own took 0.1 ms at 256 × 784).
    """
    n_clusters, n_features = centers.shape
    n_padded = C_t.shape[1]
    shifted = shift.shape[0] > 0
    require(C_t.shape[0] == n_features and c_sq.shape[0] == n_padded
            and n_clusters <= n_padded and n_padded % LANES == 0
            and (not shifted or shift.shape[0] == n_features), "padded_operands",
            "C_t (d, 8j) for at most 8j centres, c_sq (8j,), shift (d,) or empty")
    if C_t_low is not None:
        require(C_t_low.shape == C_t.shape and c_sq_low.shape == c_sq.shape,
                "padded_operands", "C_t_low and c_sq_low of C_t's and c_sq's shapes")
    row = np.empty(n_features, dtype=C_t.dtype)
    largest = 0.0
    for k in range(n_clusters):
        for j in range(n_features):
            row[j] = centers[k, j] - shift[j] if shifted else centers[k, j]
        total = _sq_norm64(row)
        c_sq[k] = total
        largest = max(largest, np.float64(c_sq[k]))
    for k in range(n_clusters, n_padded):
        c_sq[k] = np.inf
    if c_sq_low is not None:
        for k in range(n_padded):
            c_sq_low[k] = c_sq[k]
    # Feature by feature: the writes run along C_t's rows (centre by centre
    # they went to d different cache lines each: 1 ms at 256 × 784).
    for j in range(n_features):
        at = shift[j] if shifted else 0.0
        for k in range(n_clusters):
            C_t[j, k] = centers[k, j] - at
            C_t[j, k] *= -2
        for k in range(n_clusters, n_padded):
            C_t[j, k] = 0
        if C_t_low is not None:
            for k in range(n_padded):
                C_t_low[j, k] = C_t[j, k]
    return largest


@njit(nogil=True, cache=True, error_model="numpy", fastmath={"reassoc"})
def _sq_norm64(row):
    """``‖row‖²`` in float64, the additions in the order the compiler vectorises them."""
    total = 0.0
    for j in range(row.shape[0]):
        value = np.float64(row[j])
        total += value * value
    return total


@intrinsic
def _nearest_8_rows(typingctx, X, row0, C_t, c_sq, best, labels, second):
    """``best[row0 + r]``, ``labels[row0 + r]`` for the 8 rows ``row0 …`` of ``X``.

    ``best`` gets the smallest ``c_sq[k] + Σ_j X[row0 + r, j] C_t[j, k]`` over
    the padded centres and ``labels`` (int32) its ``k``, the lowest on ties;
    ``second`` (unless None) the smallest over the other centres.
    Unchecked: the caller guarantees ``row0 + 8 ≤`` the rows of ``X``,
    ``best`` and ``labels``, ``C_t`` of shape ``(n_features, Kp)`` with ``Kp``
    a multiple of :data:`LANES` and ``c_sq`` of ``Kp`` values, all C-contiguous
    and of X's dtype.
    """
    sig = nearest_signature(X, row0, C_t, c_sq, best, labels, second)
    if sig is None:
        return None

    def codegen(context, builder, signature, args):
        x_ty = signature.args[0]
        xa, cta, csqa, besta, laba, row0, seconda = nearest_arrays(context, builder, signature,
                                                                   args)
        i32, i64 = ir.IntType(32), ir.IntType(64)
        fty = context.get_value_type(x_ty.dtype)
        vty = ir.VectorType(fty, LANES)
        lvty = ir.VectorType(i32, ROWS)
        n_features = cgutils.unpack_tuple(builder, xa.shape, 2)[1]
        n_padded = cgutils.unpack_tuple(builder, cta.shape, 2)[1]
        n_vectors = builder.udiv(n_padded, ir.Constant(i64, LANES))
        labels_undef = ir.Constant(lvty, ir.Undefined)
        splat = ir.Constant(ir.VectorType(i32, LANES), [0] * LANES)
        suffix = "f32" if x_ty.dtype == types.float32 else "f64"

        def fma(vector_ty):
            return cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vector_ty, [vector_ty] * 3),
                "llvm.fma.v%d%s" % (vector_ty.count, suffix))

        def load(pointer, vector_ty):
            return builder.load(builder.bitcast(pointer, vector_ty.as_pointer()), align=4)

        # Float32 sweeps two vectors of centres as one of 16 lanes (one AVX-512
        # register where there are: half the broadcasts and multiply-adds, the
        # same sums). One thread, 1e6 rows, distances only: 11.0 -> 10.4 ns a
        # row at 32 × 16, 19.4 -> 17.3 in cache at 64 × 16; whole fits 0.95-0.99.
        wide = x_ty.dtype == types.float32
        wide_ty = ir.VectorType(fty, 2 * LANES)

        def lane(value):
            return ir.Constant(i32, value)

        def mask(values):
            return ir.Constant(ir.VectorType(i32, len(values)), list(values))

        # Allocas in the entry block: LLVM keeps them in registers (mem2reg).
        sums = [[cgutils.alloca_once(builder, vty) for _ in range(ROWS)] for _ in range(2)]
        wide_sums = [[cgutils.alloca_once(builder, wide_ty) for _ in range(ROWS)]
                     for _ in range(2)]
        best_value = cgutils.alloca_once(builder, vty)
        best_label = cgutils.alloca_once(builder, lvty)
        second_value = cgutils.alloca_once(builder, vty)
        builder.store(ir.Constant(vty, [float("inf")] * ROWS), best_value)
        builder.store(ir.Constant(vty, [float("inf")] * ROWS), second_value)
        builder.store(ir.Constant(lvty, [0] * ROWS), best_label)
        rows = [builder.gep(xa.data, [builder.mul(builder.add(row0, ir.Constant(i64, r)),
                                                   n_features)]) for r in range(ROWS)]
        prefetch_rows(builder, xa.data, row0, ROWS, n_features)

        def broadcast(r, j, vector_ty):
            x = builder.load(builder.gep(rows[r], [j]))
            vector_undef = ir.Constant(vector_ty, ir.Undefined)
            return builder.shuffle_vector(builder.insert_element(vector_undef, x, lane(0)),
                                          vector_undef, mask([0] * vector_ty.count))

        def accumulate(first, groups):
            """Each row's sums for the centres from ``first``: ``groups[g][r]``, row
            ``r``'s vector of the g-th run of as many centres as the vector has lanes."""
            vector_ty = groups[0][0].type.pointee
            width = vector_ty.count
            for g, group in enumerate(groups):
                norms = load(builder.gep(csqa.data, [
                    builder.add(first, ir.Constant(i64, g * width))]), vector_ty)
                for total in group:
                    builder.store(norms, total)
            with cgutils.for_range(builder, n_features) as features:
                j = features.index
                row_of_centres = builder.add(builder.mul(j, n_padded), first)
                centres = [load(builder.gep(cta.data, [
                    builder.add(row_of_centres, ir.Constant(i64, g * width))]), vector_ty)
                    for g in range(len(groups))]
                for r in range(ROWS):
                    x = broadcast(r, j, vector_ty)
                    for g, group in enumerate(groups):
                        total = group[r]
                        builder.store(builder.call(fma(vector_ty), [
                            x, centres[g], builder.load(total)]), total)

        def sweep(first, n_groups):
            """Centres ``first …`` (n_groups vectors): sums over the features, then the argmin."""
            if wide and n_groups % 2 == 0:
                accumulate(first, wide_sums[:n_groups // 2])
                # Each row's 16 sums as the two 8-lane vectors of its groups.
                wide_undef = ir.Constant(wide_ty, ir.Undefined)
                halves = [[builder.shuffle_vector(builder.load(total), wide_undef,
                                                  mask(range(h * LANES, (h + 1) * LANES)))
                           for total in group] for group in wide_sums[:n_groups // 2]
                          for h in range(2)]
            else:
                accumulate(first, sums[:n_groups])
                halves = [[builder.load(total) for total in group]
                          for group in sums[:n_groups]]
            value = builder.load(best_value)
            label = builder.load(best_label)
            runner_up = None if seconda is None else builder.load(second_value)
            for g, group in enumerate(halves):
                # Column k: centre k of this vector for the 8 rows.
                columns = transpose_8x8(builder, group)
                start = builder.trunc(builder.add(first, ir.Constant(i64, g * LANES)), i32)
                for k, column in enumerate(columns):
                    smaller, value, runner_up = take_nearer(builder, column, value, runner_up)
                    k_label = builder.add(start, ir.Constant(i32, k))
                    k_labels = builder.shuffle_vector(
                        builder.insert_element(labels_undef, k_label, lane(0)), labels_undef,
                        splat)
                    label = builder.select(smaller, k_labels, label)
            builder.store(value, best_value)
            builder.store(label, best_label)
            if seconda is not None:
                builder.store(runner_up, second_value)

        # Two vectors of centres per sweep where there are (each row's value is
        # then loaded and broadcast once for 16 centres), the odd one alone.
        if wide:
            # Float32 from QUAD_MIN_FEATURES features on: 32 centres a sweep (two
            # 16-lane vectors a row, 16 accumulators), each row's value broadcast
            # once for all of them.
            long_rows = builder.icmp_unsigned(">=", n_features,
                                              ir.Constant(i64, QUAD_MIN_FEATURES))
            n_quads = builder.select(long_rows, builder.udiv(n_vectors, ir.Constant(i64, 4)),
                                     ir.Constant(i64, 0))
            with cgutils.for_range(builder, n_quads) as quads:
                sweep(builder.mul(quads.index, ir.Constant(i64, 4 * LANES)), 4)
            done = builder.mul(n_quads, ir.Constant(i64, 4))
        else:
            done = ir.Constant(i64, 0)
        n_pairs = builder.udiv(builder.sub(n_vectors, done), ir.Constant(i64, 2))
        with cgutils.for_range(builder, n_pairs) as pairs:
            sweep(builder.add(builder.mul(done, ir.Constant(i64, LANES)),
                              builder.mul(pairs.index, ir.Constant(i64, 2 * LANES))), 2)
        odd = builder.icmp_unsigned("!=", builder.urem(n_vectors, ir.Constant(i64, 2)),
                                    ir.Constant(i64, 0))
        with builder.if_then(odd):
            sweep(builder.mul(builder.sub(n_vectors, ir.Constant(i64, 1)),
                              ir.Constant(i64, LANES)), 1)
        builder.store(builder.load(best_value),
                      builder.bitcast(builder.gep(besta.data, [row0]), vty.as_pointer()), align=4)
        builder.store(builder.load(best_label),
                      builder.bitcast(builder.gep(laba.data, [row0]), lvty.as_pointer()), align=4)
        if seconda is not None:
            builder.store(builder.load(second_value), builder.bitcast(
                builder.gep(seconda.data, [row0]), vty.as_pointer()), align=4)
        return context.get_dummy_value()

    return sig, codegen


@njit(**_OPTIONS)
def _nearest_in_chunk(rows, n_rows, C_t, c_sq_pad, best, chunk_labels, tail, tail_best,
                      tail_labels, second, tail_second):
    """:func:`_nearest_8_rows` for the first ``n_rows`` rows of ``rows`` (C-contiguous).

    A last group of fewer than 8 rows is copied into ``tail`` (8 × d, zeros
    beyond them) so that it gets the same arithmetic (results via ``tail_best``
    and ``tail_labels``, 8 each). ``second`` (with ``tail_second``, 8 values)
    gets each row's second smallest value, unless None. Long rows nearest of
    at most 3 centres in the paired layout go to
    :func:`~mixfit.kernels.kmeans_simd_wide.nearest_by_feature` (its
    :func:`~mixfit.kernels.kmeans_simd_wide.takes_by_feature`).
    """
    # The paired layout (at most 4 centres) has ceil(d / 2) rows, the other d.
    paired = C_t.shape[0] != rows.shape[1]
    require(C_t.shape[1] == LANES and c_sq_pad.shape[0] == LANES
            and C_t.shape[0] == (rows.shape[1] + 1) // 2 and rows.shape[1] >= 2
            if paired else C_t.shape[1] % LANES == 0 and c_sq_pad.shape[0] == C_t.shape[1],
            "_nearest_in_chunk", "C_t (d, 8j) and c_sq_pad (8j,), or the paired (ceil(d/2), 8) "
            "and (8,)")
    if paired and takes_by_feature(rows.shape[1], rows.itemsize, c_sq_pad):
        # Long rows: each centre's features along the vectors (no broadcast a pair).
        # Rows already shifted (no shift here); tail's first row (d >= 64
        # values) is the scratch for the dots.
        C_f, shift_f = by_feature_operands(C_t, tail_best[:0], rows.shape[1])
        nearest_by_feature(rows, n_rows, shift_f, C_f, c_sq_pad, best, chunk_labels,
                           best if second is None else second, tail[0], False)
        return
    full = n_rows - n_rows % ROWS
    for i in range(0, full, ROWS):
        if paired:
            nearest_8_rows_paired(rows, i, C_t, c_sq_pad, best, chunk_labels, second)
        else:
            _nearest_8_rows(rows, i, C_t, c_sq_pad, best, chunk_labels, second)
    if full < n_rows:
        tail[:, :] = 0
        tail[:n_rows - full] = rows[full:n_rows]
        if paired:
            nearest_8_rows_paired(tail, 0, C_t, c_sq_pad, tail_best, tail_labels, tail_second)
        else:
            _nearest_8_rows(tail, 0, C_t, c_sq_pad, tail_best, tail_labels, tail_second)
        for r in range(n_rows - full):
            best[full + r] = tail_best[r]
            chunk_labels[full + r] = tail_labels[r]
        if second is not None:
            for r in range(n_rows - full):
                second[full + r] = tail_second[r]


@njit(**_OPTIONS)
def lloyd_simd_block(X, shift, C_t, c_sq_pad, n_clusters, x_sq, weight, labels, min_sq_dist,
                     sums, counts, changes_only=False, row_index=None, rows_in_cache=False):
    """Labels and statistics of a block of rows by the SIMD micro-kernel.

    Parameters
    ----------
    X : ndarray of shape (m, n_features)
        The block's rows (unshifted).
    shift : ndarray of shape (n_features,) or (0,), X's dtype
        Subtracted from the rows (in a buffer) before the distances; empty for none.
    C_t, c_sq_pad : ndarray, X's dtype
        ``(−2 (c − shift))ᵀ`` and ``‖c − shift‖²`` padded (:func:`padded_centres`).
    n_clusters : int
        The real centres (the first columns of ``C_t``).
    x_sq : ndarray of shape (m,) or (0,), X's dtype
        ``‖x − shift‖²``; empty to compute each in float64 from the row.
    weight, labels, min_sq_dist, sums, counts
        As for :func:`mixfit.kernels.kmeans.lloyd_chunk`, for the whole block
        (``sums`` of shape ``(0, n_features)``: none wanted).
    changes_only : bool
        ``labels`` hold every row's previous label (none negative), and
        ``counts`` and ``sums`` get the change of the statistics instead of
        the statistics (as :func:`mixfit.kernels.kmeans.lloyd_chunk`'s), rows in
        order. A row that keeps its label costs no addition (see
        :class:`mixfit.engine.kmeans_steps._LloydEStep`, which carries the
        statistics from one E-step to the next).
    row_index : ndarray of shape (m,), int64, or None
        The block's rows are ``X[row_index]`` (X C-contiguous): read where they
        lie, never copied out whole (a chunk at a time, which stays in cache
        for the norms and sums). Every other array is the block's, as when the
        rows are given. The arithmetic is the same either way, so
        ``X[row_index]`` given as X gets the same labels and statistics.
    rows_in_cache : bool
        Whether all the rows being labelled (this block's and the others')
        fit in cache: how many rows at a time
        :func:`~mixfit.kernels.kmeans_simd_wide.nearest_by_feature` computes,
        which changes no value.

    Rows that :func:`~mixfit.kernels.kmeans_simd_wide.takes_by_feature` are
    read in place (C-contiguous X) or copied unshifted, and the shift is
    subtracted as they are read: one pass over the rows rather than a copy
    and a pass (100,000 × 64 × 3 float64, one thread: 38.5 → 25.4 ns a row).

    Returns
    -------
    inertia : float
    n_changed : int
    """
    n_features = X.shape[1]
    m = X.shape[0] if row_index is None else row_index.shape[0]
    n_padded = C_t.shape[1]
    shifted = shift.shape[0] > 0
    with_norms = x_sq.shape[0] > 0
    weighted = weight.shape[0] > 0
    keep_dist = min_sq_dist.shape[0] > 0
    with_sums = sums.shape[0] > 0
    require(n_padded % LANES == 0 and 1 <= n_clusters <= n_padded
            and (C_t.shape[0] == n_features
                 or (C_t.shape[0] == (n_features + 1) // 2 and n_features >= 2
                     and n_padded == LANES and n_clusters <= MAX_PAIRED_CLUSTERS))
            and c_sq_pad.shape[0] == n_padded
            and (not shifted or shift.shape[0] == n_features)
            and (not with_norms or x_sq.shape[0] == m) and labels.shape[0] == m
            and (not weighted or weight.shape[0] == m)
            and (not keep_dist or min_sq_dist.shape[0] == m)
            and (not with_sums or sums.shape[0] == n_clusters) and sums.shape[1] == n_features
            and counts.shape[0] == n_clusters, "lloyd_simd_block",
            "C_t (d, 8j) with c_sq_pad (8j,), and x_sq, labels, weight, min_sq_dist of X's "
            "m rows; sums (K, d) or (0, d), counts (K,)")
    require(not changes_only or labels_in_range(labels, n_clusters), "lloyd_simd_block",
            "with changes_only, every row's previous label in [0, n_clusters)")
    if row_index is not None:
        require(X.flags.c_contiguous and labels_in_range(row_index, X.shape[0]),
                "lloyd_simd_block", "row_index within X's rows, X C-contiguous")
    # The micro-kernel reads rows contiguously: shifted, non-contiguous or
    # indexed rows are copied (X's layout is the same for every chunk).
    # Long rows nearest of at most 3 centres subtract the shift as they read
    # (:func:`~mixfit.kernels.kmeans_simd_wide.nearest_by_feature`): copied, if
    # at all, unshifted.
    by_feature = (C_t.shape[0] != n_features
                  and takes_by_feature(n_features, X.itemsize, c_sq_pad))
    copies = (shifted and not by_feature) or not X.flags.c_contiguous or row_index is not None
    chunk_rows = chunk_rows_for(n_features, X.itemsize)
    buffer = np.empty((chunk_rows if copies else 0, n_features), dtype=X.dtype)
    tail = np.empty((ROWS, n_features), dtype=X.dtype)
    tail_best = np.empty(ROWS, dtype=X.dtype)
    tail_labels = np.empty(ROWS, dtype=np.int32)
    best = np.empty(chunk_rows, dtype=X.dtype)
    chunk_labels = np.empty(chunk_rows, dtype=np.int32)
    origin = np.zeros((1, n_features))  # the shift as a float64 "centre" for the norms
    norm_scratch = np.empty(n_features, dtype=X.dtype)
    for j in range(shift.shape[0]):
        origin[0, j] = shift[j]
    inertia = 0.0
    n_changed = 0
    # by_feature's centres as rows and the shift (zeros for none), padded.
    C_f, shift_f = (by_feature_operands(C_t, shift, n_features) if by_feature
                    else (np.zeros((3, 0), dtype=X.dtype), np.zeros(0, dtype=X.dtype)))
    for start in range(0, m, chunk_rows):
        n_rows = min(chunk_rows, m - start)
        if by_feature and copies:
            for i in range(n_rows):
                source = start + i if row_index is None else row_index[start + i]
                for j in range(n_features):
                    buffer[i, j] = X[source, j]
            # Copied: in cache whatever X; tail's first row: scratch for the dots.
            nearest_by_feature(buffer, n_rows, shift_f, C_f, c_sq_pad, best, chunk_labels, best,
                               tail[0], True)
        elif by_feature:
            nearest_by_feature(np.ascontiguousarray(X[start:start + n_rows]), n_rows, shift_f,
                               C_f, c_sq_pad, best, chunk_labels, best, tail[0], rows_in_cache)
        elif copies:
            for i in range(n_rows):
                source = start + i if row_index is None else row_index[start + i]
                for j in range(n_features):
                    buffer[i, j] = X[source, j] - shift[j] if shifted else X[source, j]
            _nearest_in_chunk(buffer, n_rows, C_t, c_sq_pad, best, chunk_labels, tail,
                              tail_best, tail_labels, None, None)
        else:
            # A view for C-ordered X (the copy is compiled for other layouts,
            # which take the branch above).
            rows = np.ascontiguousarray(X[start:start + n_rows])
            _nearest_in_chunk(rows, n_rows, C_t, c_sq_pad, best, chunk_labels, tail, tail_best,
                              tail_labels, None, None)
        for t in range(n_rows):
            i = start + t
            source = i if row_index is None else row_index[i]
            label = chunk_labels[t]
            norm = (np.float64(x_sq[i]) if with_norms
                    else row_sq_norm(X, source, origin, norm_scratch))
            dist = np.float64(best[t]) + norm
            if dist < 0.0:
                dist = 0.0
            w = weight[i] if weighted else 1.0
            previous = labels[i]
            n_changed += (previous != label) & (w > 0.0)
            labels[i] = label
            if keep_dist:
                min_sq_dist[i] = dist
            inertia += w * dist
            if changes_only and previous != label:
                counts[previous] -= w
                counts[label] += w
                if with_sums:
                    subtract_row(sums, previous, X, source, w, weighted)
                    add_row(sums, label, X, source, w, weighted)
        if not changes_only:
            if row_index is None:
                add_rows_in_order(X[start:start + n_rows], chunk_labels[:n_rows],
                                  weight[start:start + n_rows], sums, counts)
            else:
                add_rows_in_order(X, chunk_labels[:n_rows], weight[start:start + n_rows],
                                  sums, counts, row_index[start:start + n_rows])
    return inertia, n_changed


@njit(parallel=True, **_OPTIONS)
def lloyd_simd_blocks(X, starts, shift, C_t, c_sq_pad, n_clusters, x_sq, weight, labels,
                      min_sq_dist, sums, counts, inertia, n_changed, changes_only=False):
    """:func:`lloyd_simd_block` for the blocks ``starts[b]:starts[b + 1]``, on numba's threads.

    A numba parallel region starts its threads in about 2 µs where the Python
    pool took 40-100 µs, a third of an E-step at 10,000 rows. Block ``b``
    writes its own ``sums[b]`` (zeros; shape ``(n_blocks, 0, d)`` for none),
    ``counts[b]`` (zeros), ``inertia[b]`` and ``n_changed[b]``; the caller adds
    them in an order fixed by the blocks alone, so the thread count changes no
    rounding. ``x_sq``, ``weight`` and ``min_sq_dist`` are X's rows or empty,
    and ``changes_only`` as for :func:`lloyd_simd_block`.
    """
    n_blocks = starts.shape[0] - 1
    check_blocks("lloyd_simd_blocks", X.shape[0], starts, sums, counts, inertia, n_changed)
    in_cache = X.shape[0] * X.shape[1] * X.itemsize <= IN_CACHE_BYTES
    for b in prange(n_blocks):
        lo, hi = starts[b], starts[b + 1]
        block_inertia, block_changed = lloyd_simd_block(
            X[lo:hi], shift, C_t, c_sq_pad, n_clusters, x_sq[lo:hi], weight[lo:hi],
            labels[lo:hi], min_sq_dist[lo:hi], sums[b], counts[b], changes_only, None,
            in_cache)
        inertia[b] = block_inertia
        n_changed[b] = block_changed


@njit(parallel=True, **_OPTIONS)
def lloyd_simd_rows_blocks(X, row_index, starts, shift, C_t, c_sq_pad, n_clusters, labels,
                           sums, counts, inertia, n_changed):
    """:func:`lloyd_simd_blocks` for the rows ``X[row_index]``, read where they lie.

    Block ``b`` is ``row_index[starts[b]:starts[b + 1]]`` (``labels`` is the
    indexed rows'); unweighted, norms computed in the kernel, every row's
    statistics (:func:`lloyd_simd_block` with a ``row_index``).
    """
    n_blocks = starts.shape[0] - 1
    check_blocks("lloyd_simd_rows_blocks", row_index.shape[0], starts, sums, counts, inertia,
                 n_changed)
    require(X.flags.c_contiguous and labels.shape[0] == row_index.shape[0]
            and labels_in_range(row_index, X.shape[0]), "lloyd_simd_rows_blocks",
            "X C-contiguous, row_index within its rows, labels of row_index's length")
    no_values = np.empty(0, dtype=X.dtype)
    for b in prange(n_blocks):
        lo, hi = starts[b], starts[b + 1]
        block_inertia, block_changed = lloyd_simd_block(
            X, shift, C_t, c_sq_pad, n_clusters, no_values, np.empty(0), labels[lo:hi],
            no_values, sums[b], counts[b], False, row_index[lo:hi])
        inertia[b] = block_inertia
        n_changed[b] = block_changed
