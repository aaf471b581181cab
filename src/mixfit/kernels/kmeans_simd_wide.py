"""The nearest of at most 3 centres for long rows: features along the vectors.

Why: the paired micro-kernel (:mod:`mixfit.kernels.kmeans_simd_pairs`) holds 4
centres × 2 features a vector, so every two features of a row cost a load, a
broadcast (a shuffle) and a multiply-add. At 64 features and 3 clusters in
float64 that took 14.8 ns a row from L2 on one thread, and an E-step over a
million rows (512 MB, read from memory) about 26 ns a row on two. Here each
centre's running sums run along the row's features (vectors of consecutive
features, no shuffle in the loop).

The sums are written as vectors in LLVM IR (:func:`dots_1_row`,
:func:`dots_2_rows`, :func:`dots_4_rows`): feature j goes to lane ``j mod L``
of one of two running sums, whose lanes are added in a fixed order at the end.
A row's values thus depend on its features alone, not on whether it is
computed alone or next to other rows, nor on its place in a chunk, block or
thread, so the kernel may take rows 1, 2 or 4 at a time as their length and
the memory they come from favour (:func:`nearest_by_feature`), and a fit's
labels and ``predict``'s agree. The loop it replaced (numba's, "reassoc"
fast-math over 4 rows at once) left the vectorising to LLVM, which rounded
1-row and 4-row loops differently, and it ran 78 ns a row from memory at
160 × 3 float64 (one thread) against 43 now.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.core.extending import intrinsic

from mixfit.kernels.simd_ir import prefetch_row_into_l2

__all__ = ["MIN_FEATURES_FLOAT32", "MIN_FEATURES_FLOAT64", "by_feature_operands", "dots_1_row",
           "dots_2_rows", "dots_4_rows", "nearest_by_feature", "takes_by_feature"]

_OPTIONS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")

#: Features from which rows take this kernel instead of the paired one (at
#: most 3 centres), float64 and float32 (see :func:`takes_by_feature`).
MIN_FEATURES_FLOAT64 = 64
MIN_FEATURES_FLOAT32 = 128

#: How many rows are computed at once (each centre's vector loaded once for
#: all of them; a row's values are the same whichever): 4 for rows shorter
#: than ``FOUR_ROWS_BELOW_BYTES``, else 2 for rows shorter than
#: ``TWO_ROWS_BELOW_BYTES`` or when all the rows fit in :data:`IN_CACHE_BYTES`,
#: else 1. Several rows' interleaved streams from memory left long rows
#: waiting. Whole fits, 20 iterations, 2 threads, ms, 4 / 2 rows at a time
#: below 1 KiB: 1e6 × 64 × 3 float64 425 / 463-474, 1e6 × 128 × 3 float32
#: 420-431 / 472-484, 1e5 × 64 × 3 float64 41-42 / 46-47; 4 rows up to 2 KiB /
#: 2 rows from 1 KiB: 1e5 × 128 × 3 float64 91-114 / 65-80, 160 × 3 float64
#: 64-68 / 45-54, 1e6 × 160 × 3 float64 533-547 / 429-452, 1e5 × 256 × 3
#: float32 96-104 / 62-69, 384 × 3 float32 121-136 / 82-107. Distances only,
#: 2 threads, ns a row, 1 / 2 rows at a time: from memory (100,000 rows)
#: float64 256 features 55.6 / 81.1, float32 784 features 88-92 / 109-118; from
#: cache (10,000 × 160 float64) 21.0 / 15.5.
FOUR_ROWS_BELOW_BYTES = 1024
TWO_ROWS_BELOW_BYTES = 2048
#: ... (see :data:`FOUR_ROWS_BELOW_BYTES`): rows that all fit here are taken
#: to be in cache (half of the 32 MiB L3 of the AMD EPYC measured on).
IN_CACHE_BYTES = 16 << 20

#: Bytes of rows ahead that are asked for into L2 (at least 2 rows): the
#: hardware's prefetcher alone left the rows waiting (64 × 3 float64 from
#: memory, 2 threads: 23.8 against 8.8 ns a row two at a time; 4, 8, 16, 32 and
#: 64 KB ahead: 11.2, 8.8, 9.3, 9.3, 10.0).
AHEAD_BYTES = 16384

#: Lanes of a vector of sums: 64 bytes (one AVX-512 register; two AVX2 ones).
_VECTOR_BYTES = 64


@njit(inline="always", **_OPTIONS)
def takes_by_feature(n_features, itemsize, c_sq_p):
    """Whether rows of ``n_features`` values of ``itemsize`` bytes, nearest of
    the centres whose paired norms are ``c_sq_p``, go through this kernel.

    From 64 features (float64) or 128 (float32, whose paired vectors hold half
    as many bytes); below, the paired kernel was faster (whole fits, 20
    iterations, 2 threads, ms, paired / this kernel: 1e5 × 32 × 3 float64
    18.5-19.2 / 40-42, 48 × 3 float64 27-31 / 43-45, 1e6 × 48 × 3 float64
    361-390 / 430-436, 1e5 × 64 × 3 float32 20-22 / 38-39, 96 × 3 float32
    33-34 / 42-49), and at the threshold about even (1e5 × 64 × 3 float64 43-44 /
    45-47, 128 × 3 float32 40-48 / 49), while beyond it this kernel won (1e5
    × 96 × 3 float64 69-71 / 54-57, 192 × 3 float32 78-83 / 50-54, 1e6 × 64 ×
    3 float64 514-529 / 461-467, 128 × 3 float32 549-568 / 475-481). A fourth
    centre (lane 6 of ``c_sq_p`` finite) keeps the paired kernel.
    """
    if c_sq_p[6] < np.inf:  # lane 2k: centre k's norm, +inf for padding
        return False
    return n_features >= (MIN_FEATURES_FLOAT64 if itemsize == 8 else MIN_FEATURES_FLOAT32)


def _dots_typing(rows, i, shift, C_f, out):
    """The signature of a dots intrinsic, or None where the types do not fit."""
    arrays = (rows, shift, C_f, out)
    if not (all(isinstance(a, types.Array) and a.layout == "C" and a.dtype == rows.dtype
                for a in arrays)
            and rows.dtype in (types.float32, types.float64) and rows.ndim == 2
            and shift.ndim == 1 and C_f.ndim == 2 and out.ndim == 1
            and isinstance(i, types.Integer)):
        return None
    return types.void(rows, types.intp, shift, C_f, out)


def _dots_codegen(n_rows):
    """The LLVM IR of the dots of ``n_rows`` rows (see :func:`dots_1_row`)."""

    def codegen(context, builder, signature, args):
        rows_ty, _, shift_ty, cf_ty, out_ty = signature.args
        rows = context.make_array(rows_ty)(context, builder, args[0])
        shift = context.make_array(shift_ty)(context, builder, args[2])
        C_f = context.make_array(cf_ty)(context, builder, args[3])
        out = context.make_array(out_ty)(context, builder, args[4])
        row0 = args[1]
        i32, i64 = ir.IntType(32), ir.IntType(64)
        fty = context.get_value_type(rows_ty.dtype)
        itemsize = 4 if rows_ty.dtype == types.float32 else 8
        lanes = _VECTOR_BYTES // itemsize
        vty = ir.VectorType(fty, lanes)
        fma = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vty, [vty, vty, vty]),
            "llvm.fma.v%d%s" % (lanes, "f32" if itemsize == 4 else "f64"))
        n_features = cgutils.unpack_tuple(builder, rows.shape, 2)[1]
        padded = cgutils.unpack_tuple(builder, C_f.shape, 2)[1]
        starts = [builder.gep(rows.data, [builder.mul(builder.add(row0, ir.Constant(i64, r)),
                                                       n_features)]) for r in range(n_rows)]
        centres = [builder.gep(C_f.data, [builder.mul(ir.Constant(i64, k), padded)])
                   for k in range(3)]
        zero = ir.Constant(vty, [0.0] * lanes)
        # Two running sums per row and centre (vectors of features j ≡ u mod 2
        # vectors): the FMA's latency is hidden; allocas live in registers.
        sums = [[[cgutils.alloca_once_value(builder, zero) for _ in range(2)]
                 for _ in range(3)] for _ in range(n_rows)]

        def vector_at(pointer, offset):
            return builder.load(builder.bitcast(builder.gep(pointer, [offset]),
                                                vty.as_pointer()), align=itemsize)

        def accumulate(offset, u, xs):
            s = vector_at(shift.data, offset)
            for k in range(3):
                c = vector_at(centres[k], offset)
                for r in range(n_rows):
                    total = sums[r][k][u]
                    builder.store(builder.call(fma, [builder.fsub(xs[r], s), c,
                                                     builder.load(total)]), total)

        n_full = builder.udiv(n_features, ir.Constant(i64, lanes))
        with cgutils.for_range(builder, builder.udiv(n_full, ir.Constant(i64, 2))) as loop:
            for u in range(2):
                offset = builder.mul(builder.add(builder.mul(loop.index, ir.Constant(i64, 2)),
                                                 ir.Constant(i64, u)), ir.Constant(i64, lanes))
                accumulate(offset, u, [vector_at(start, offset) for start in starts])
        odd = builder.icmp_unsigned("!=", builder.urem(n_full, ir.Constant(i64, 2)),
                                    ir.Constant(i64, 0))
        with builder.if_then(odd):
            offset = builder.mul(builder.sub(n_full, ir.Constant(i64, 1)), ir.Constant(i64, lanes))
            accumulate(offset, 0, [vector_at(start, offset) for start in starts])
        offset = builder.mul(n_full, ir.Constant(i64, lanes))
        partial = builder.icmp_unsigned("<", offset, n_features)
        with builder.if_then(partial):
            # The last features: each lane read alone (its index clamped to the
            # row, zero past it); shift and centres are zero-padded there.
            last = builder.sub(n_features, ir.Constant(i64, 1))
            xs = []
            for start in starts:
                x = zero
                for lane in range(lanes):
                    j = builder.add(offset, ir.Constant(i64, lane))
                    inside = builder.icmp_unsigned("<", j, n_features)
                    value = builder.load(builder.gep(start, [builder.select(inside, j, last)]))
                    value = builder.select(inside, value, ir.Constant(fty, 0.0))
                    x = builder.insert_element(x, value, ir.Constant(i32, lane))
                xs.append(x)
            accumulate(offset, 1, xs)
        for r in range(n_rows):
            for k in range(3):
                total = builder.fadd(builder.load(sums[r][k][0]), builder.load(sums[r][k][1]))
                width = lanes
                while width > 1:  # halves added, in this order whatever the row count
                    width //= 2
                    low = builder.shuffle_vector(total, total, ir.Constant(
                        ir.VectorType(i32, width), list(range(width))))
                    high = builder.shuffle_vector(total, total, ir.Constant(
                        ir.VectorType(i32, width), list(range(width, 2 * width))))
                    total = builder.fadd(low, high)
                builder.store(builder.extract_element(total, ir.Constant(i32, 0)),
                              builder.gep(out.data, [ir.Constant(i64, 3 * r + k)]))
        return context.get_dummy_value()

    return codegen


def _dots_intrinsic(n_rows, doc):
    """A numba intrinsic ``(rows, i, shift, C_f, out)`` of :func:`_dots_codegen`."""
    def dots(typingctx, rows, i, shift, C_f, out):
        sig = _dots_typing(rows, i, shift, C_f, out)
        return None if sig is None else (sig, _dots_codegen(n_rows))

    dots.__doc__ = doc
    dots.__name__ = dots.__qualname__ = f"dots_{n_rows}_rows"
    return intrinsic(dots)


dots_1_row = _dots_intrinsic(1, """``out[k] = Σ_j (rows[i, j] − shift[j]) C_f[k, j]`` for k < 3.

    In X's dtype, lane by lane: feature j goes to lane ``j mod L`` (L = 64
    bytes of values) of one of two running sums (vectors ``2p`` and ``2p + 1``),
    an odd last full vector to the first, the last partial vector (lanes read
    one by one) to the second; then the two sums are added and their lanes in
    halves. So a row's values depend on its features alone: the dots of 2 or
    4 rows at once (each centre's vector loaded once for all of them; ``out[3r
    + k]``) are the same to the bit. Unchecked: ``shift`` and ``C_f``'s rows
    hold at least ``ceil(d / L) · L`` values, zero past the d features.
    """)
dots_2_rows = _dots_intrinsic(2, "Rows i and i + 1 (see :func:`dots_1_row`).")
dots_4_rows = _dots_intrinsic(4, "Rows i to i + 3 (see :func:`dots_1_row`).")


@njit(inline="always", **_OPTIONS)
def _take(v, k, value, runner_up, label):
    """Fold centre ``k``'s value ``v`` into the running (smallest, second, label):
    strict ``<``, so the lowest index keeps a tie, whose value is then the
    second smallest too. Selects, not branches: labels of real data are
    unpredictable (branches took 7 of 18 ns a row at 64 × 3)."""
    smaller = v < value
    runner_up = value if smaller else (v if v < runner_up else runner_up)
    return (v if smaller else value), runner_up, (k if smaller else label)


@njit(inline="always", **_OPTIONS)
def _store(row, value, runner_up, label, best, labels, second):
    second[row] = runner_up  # first: ``second`` may be ``best`` (no runner-up wanted)
    best[row] = value
    labels[row] = label


@njit(inline="always", **_OPTIONS)
def _nearest_of_3(c_sq_p, a0, a1, a2, best, labels, second, row):
    value, runner_up, label = c_sq_p[0] + a0, np.inf, 0  # lane 2k: centre k's norm
    value, runner_up, label = _take(c_sq_p[2] + a1, 1, value, runner_up, label)
    value, runner_up, label = _take(c_sq_p[4] + a2, 2, value, runner_up, label)
    _store(row, value, runner_up, label, best, labels, second)


@njit(**_OPTIONS)
def by_feature_operands(C_p, shift, n_features):
    """The operands of :func:`nearest_by_feature` for rows of ``n_features``:
    ``(C_f, shift_f)``, the paired layout's centres
    (:func:`~mixfit.kernels.kmeans_simd_pairs.paired_centres`) as 3 rows and the
    shift (``shift`` empty: zeros), both zero-padded to a whole vector."""
    lanes = _VECTOR_BYTES // C_p.itemsize
    padded = -(-n_features // lanes) * lanes
    C_f = np.zeros((3, padded), dtype=C_p.dtype)
    for p in range(n_features // 2):
        for k in range(3):
            C_f[k, 2 * p] = C_p[p, 2 * k]
            C_f[k, 2 * p + 1] = C_p[p, 2 * k + 1]
    if n_features % 2:
        for k in range(3):
            C_f[k, n_features - 1] = C_p[n_features // 2, 2 * k]
    shift_f = np.zeros(padded, dtype=C_p.dtype)
    for j in range(shift.shape[0]):
        shift_f[j] = shift[j]
    return C_f, shift_f


@njit(**_OPTIONS)
def nearest_by_feature(rows, n_rows, shift_f, C_f, c_sq_p, best, labels, second, dots,
                       in_cache):
    """``best``, ``labels`` and ``second`` (the smallest value over the other
    centres) of the first ``n_rows`` rows of ``rows − shift`` (``rows``
    C-contiguous), from at most 3 centres.

    Unchecked beyond what :func:`mixfit.kernels.kmeans_simd._nearest_in_chunk`
    checks. ``C_f`` and ``shift_f`` from :func:`by_feature_operands`; the
    shift is subtracted as the rows are read, so they are never copied to be
    shifted. ``second`` is always an array: ``best`` where no runner-up is
    wanted. ``dots`` is scratch of at least 12 values of X's dtype;
    ``in_cache``: whether the rows being labelled all fit in cache (which
    only chooses how many rows are computed at once: see
    :data:`FOUR_ROWS_BELOW_BYTES`). A padding centre (norm ``+inf``) never wins.
    """
    row_bytes = rows.shape[1] * rows.itemsize
    ahead = max(2, -(-AHEAD_BYTES // row_bytes))
    i = 0
    if row_bytes < FOUR_ROWS_BELOW_BYTES:
        while i + 3 < n_rows:
            for r in range(4):
                prefetch_row_into_l2(rows, i + ahead + r)
            dots_4_rows(rows, i, shift_f, C_f, dots)
            for r in range(4):
                _nearest_of_3(c_sq_p, dots[3 * r], dots[3 * r + 1], dots[3 * r + 2], best,
                              labels, second, i + r)
            i += 4
    if in_cache or row_bytes < TWO_ROWS_BELOW_BYTES:
        while i + 1 < n_rows:
            prefetch_row_into_l2(rows, i + ahead)
            prefetch_row_into_l2(rows, i + ahead + 1)
            dots_2_rows(rows, i, shift_f, C_f, dots)
            _nearest_of_3(c_sq_p, dots[0], dots[1], dots[2], best, labels, second, i)
            _nearest_of_3(c_sq_p, dots[3], dots[4], dots[5], best, labels, second, i + 1)
            i += 2
    while i < n_rows:
        prefetch_row_into_l2(rows, i + ahead)
        dots_1_row(rows, i, shift_f, C_f, dots)
        _nearest_of_3(c_sq_p, dots[0], dots[1], dots[2], best, labels, second, i)
        i += 1
