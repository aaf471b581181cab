"""What the SIMD micro-kernels' numba intrinsics share: the check of their
arguments' types and the unpacking of those arguments in LLVM IR (see
:mod:`mixfit.kernels.kmeans_simd` and :mod:`mixfit.kernels.kmeans_simd_pairs`)."""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.extending import intrinsic

__all__ = ["PREFETCH_AHEAD", "PREFETCH_BYTES", "nearest_arrays", "nearest_signature",
           "prefetch_row", "prefetch_row_into_l2", "prefetch_rows", "take_nearer", "transpose_8x8"]

#: How far ahead of the 8 rows being computed a micro-kernel asks for rows,
#: into L2 (:func:`prefetch_rows`): at least this many rows ...
PREFETCH_AHEAD = 16
#: ... and at least this many bytes. Tuned into L1 first, on an Intel Xeon
#: (100,000 × 64 × 3 float32, mostly in its 480 MB shared cache): 16 rows
#: best, 11.4 ns a row against 13.2-13.8 without; from memory 8 (16.4-17.3 ns
#: a row against 22 at 16), as further lines into L1 evicted the rows being
#: computed. On an AMD EPYC (Zen 4, 32 MB shared cache, 30 GB/s on two
#: threads) into L2, 16 rows ahead, against 8 into L1 (whole fits of 20
#: iterations, 2 threads, two runs side by side, ms): 1e6 × 64 × 3 float64
#: 993-1103 → 538-624, 1e6 × 32 × 3 float64 396-451 → 274-312, 1e6 × 64 × 3
#: float32 374-386 → 293-315, 1e5 × 64 × 3 float64 106-114 → 64-69, 1e5 ×
#: 160 × 8 float32 65-66 → 42-50; even within the noise at 1e6 × 32 × 8
#: float32 and 16 × 16 float64. Short rows then ran ahead of their
#: prefetches (16 rows of 32 float32 features are 2 KB, 110 ns of work, less
#: than memory's latency): 8 KB ahead, distances on two threads from memory,
#: ns a row: 32 × 3 float32 8.4-9.6 → 5.6-6.4, 16 × 8 float32 7.1-7.4 →
#: 5.3-5.7, 16 × 3 float64 7.2-8.3 → 5.9-6.6 (4 and 16 KB no better); fits
#: at 1e6 × 32 × 3 float32 207-353 → 170-342, 1e6 × 16 × 8 float32 193-247
#: → 151-185.
PREFETCH_BYTES = 8192


def _is_float_array(ty, ndim):
    return (isinstance(ty, types.Array) and ty.ndim == ndim and ty.layout == "C"
            and ty.dtype in (types.float32, types.float64))


def nearest_signature(X, row0, C, c_sq, best, labels, second):
    """The signature of a ``(X, row0, C, c_sq, best, labels, second)``
    nearest-centre intrinsic, or None where the types do not fit: C-contiguous
    float arrays of X's dtype (X and C 2-D, c_sq and best 1-D), an integer row,
    int32 labels, and ``second`` None or a 1-D array like ``best``."""
    if not (_is_float_array(X, 2) and isinstance(row0, types.Integer)
            and _is_float_array(C, 2) and _is_float_array(c_sq, 1)
            and _is_float_array(best, 1) and C.dtype == c_sq.dtype == best.dtype == X.dtype
            and isinstance(labels, types.Array) and labels.ndim == 1 and labels.layout == "C"
            and labels.dtype == types.int32
            and (isinstance(second, types.NoneType)
                 or (_is_float_array(second, 1) and second.dtype == X.dtype))):
        return None
    return types.void(X, types.intp, C, c_sq, best, labels, second)


def nearest_arrays(context, builder, signature, args):
    """The arrays of such an intrinsic's arguments, and its row: ``(X, C, c_sq, best,
    labels, row0, second)``, the arrays as numba's array structures (``second``
    None where none is wanted)."""
    x_ty, _, c_ty, csq_ty, best_ty, lab_ty, second_ty = signature.args
    second = (None if isinstance(second_ty, types.NoneType)
              else context.make_array(second_ty)(context, builder, args[6]))
    return (context.make_array(x_ty)(context, builder, args[0]),
            context.make_array(c_ty)(context, builder, args[2]),
            context.make_array(csq_ty)(context, builder, args[3]),
            context.make_array(best_ty)(context, builder, args[4]),
            context.make_array(lab_ty)(context, builder, args[5]),
            args[1], second)


def take_nearer(builder, column, value, second):
    """Fold one centre's values for 8 rows (``column``) into the running
    smallest ``value`` and, unless ``second`` is None, the running second
    smallest: returns ``(smaller, value, second)``, ``smaller`` the lanes where
    this centre is now the nearest (strict ``<``: the lowest index keeps a tie,
    whose value then becomes the second smallest too)."""
    smaller = builder.fcmp_ordered("<", column, value)
    if second is not None:
        below_second = builder.fcmp_ordered("<", column, second)
        second = builder.select(smaller, value, builder.select(below_second, column, second))
    return smaller, builder.select(smaller, column, value), second


def transpose_8x8(builder, vectors):
    """The columns of the 8 × w matrix whose rows are ``vectors`` (8 vectors of
    w = 8 or 4 lanes): w vectors of 8 lanes.

    Three stages of two-input shuffles (unpack, pair, halves: the textbook
    transpose of 8 AVX registers, 24 shuffles for w = 8), where extracting and
    inserting each element took about 4 times as many instructions, all on the
    one shuffle port. Values are only moved, never computed.
    """
    width = vectors[0].type.count

    def shuffle(a, b, mask):
        return builder.shuffle_vector(
            a, b, ir.Constant(ir.VectorType(ir.IntType(32), len(mask)), mask))

    if width == 4:
        pair_lo, pair_hi = [0, 4, 1, 5], [2, 6, 3, 7]
        quad_lo, quad_hi = [0, 1, 4, 5], [2, 3, 6, 7]
    elif width == 8:
        pair_lo, pair_hi = [0, 8, 1, 9, 4, 12, 5, 13], [2, 10, 3, 11, 6, 14, 7, 15]
        quad_lo, quad_hi = [0, 1, 8, 9, 4, 5, 12, 13], [2, 3, 10, 11, 6, 7, 14, 15]
    else:
        raise ValueError(f"transpose_8x8 takes vectors of 4 or 8 lanes, not {width}")
    # Stage 1: rows 2i and 2i + 1 interleaved (each half's low and high element pairs).
    stage1 = []
    for i in range(0, 8, 2):
        stage1 += [shuffle(vectors[i], vectors[i + 1], pair_lo),
                   shuffle(vectors[i], vectors[i + 1], pair_hi)]
    # Stage 2: 4 rows' element j (and j + 4 in the high half), rows 0-3 and rows 4-7.
    stage2 = []
    for first in (0, 4):
        lo01, hi01, lo23, hi23 = stage1[first:first + 4]
        stage2.append([shuffle(lo01, lo23, quad_lo), shuffle(lo01, lo23, quad_hi),
                       shuffle(hi01, hi23, quad_lo), shuffle(hi01, hi23, quad_hi)])
    # Stage 3: column j of rows 0-3 next to column j of rows 4-7.
    upper, lower = stage2
    if width == 4:
        return [shuffle(upper[j], lower[j], list(range(8))) for j in range(4)]
    columns = [shuffle(upper[j], lower[j], [0, 1, 2, 3, 8, 9, 10, 11]) for j in range(4)]
    columns += [shuffle(upper[j], lower[j], [4, 5, 6, 7, 12, 13, 14, 15]) for j in range(4)]
    return columns


def prefetch_rows(builder, X_data, row0, n_rows, n_features):
    """Prefetch ``n_rows`` rows of a C-contiguous array, one cache line (64
    bytes) at a time, :data:`PREFETCH_AHEAD` rows or :data:`PREFETCH_BYTES`
    (whichever is further) past ``row0``, the first row being computed;
    addresses past the array are harmless (a prefetch never faults).

    Why: the micro-kernels read 8 rows at once, a cache line of each every few
    features; from data beyond the L2 cache the hardware's prefetcher left
    them waiting (13.2 ns a row against 9.6 from L2, at 64 × 3 float32). Into
    L2 rather than L1: lines asked for a block or two ahead into L1 evicted
    the rows still being computed, and each waited on one of L1's few
    outstanding misses (see :data:`PREFETCH_AHEAD`).
    """
    i64 = ir.IntType(64)
    i8p = ir.IntType(8).as_pointer()
    itemsize = 4 if isinstance(X_data.type.pointee, ir.FloatType) else 8
    row_bytes = builder.mul(n_features, ir.Constant(i64, itemsize))
    ahead = builder.udiv(builder.add(ir.Constant(i64, PREFETCH_BYTES - 1), row_bytes),
                         row_bytes)  # rows of at least PREFETCH_BYTES (n_features >= 1)
    few = builder.icmp_unsigned("<", ahead, ir.Constant(i64, PREFETCH_AHEAD))
    ahead = builder.select(few, ir.Constant(i64, PREFETCH_AHEAD), ahead)
    first_row = builder.add(row0, ahead)
    prefetch = builder.module.declare_intrinsic(
        "llvm.prefetch", (), ir.FunctionType(ir.VoidType(), [
            i8p, ir.IntType(32), ir.IntType(32), ir.IntType(32)]))
    start = builder.bitcast(builder.gep(X_data, [builder.mul(first_row, n_features)]), i8p)
    n_bytes = builder.mul(builder.mul(ir.Constant(i64, n_rows), n_features),
                          ir.Constant(i64, itemsize))
    n_lines = builder.udiv(builder.add(n_bytes, ir.Constant(i64, 63)), ir.Constant(i64, 64))
    with cgutils.for_range(builder, n_lines) as lines:
        address = builder.gep(start, [builder.mul(lines.index, ir.Constant(i64, 64))])
        # read, locality 2 (prefetcht1: into L2, not L1), data cache
        builder.call(prefetch, [address, ir.Constant(ir.IntType(32), 0),
                                ir.Constant(ir.IntType(32), 2), ir.Constant(ir.IntType(32), 1)])


def _prefetch_row_typing(X, i, locality):
    """The typing and codegen of a one-row prefetch intrinsic (see :func:`prefetch_row`)."""
    if not (isinstance(X, types.Array) and X.ndim == 2
            and X.dtype in (types.float32, types.float64) and isinstance(i, types.Integer)):
        return None
    itemsize = 4 if X.dtype == types.float32 else 8

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        i64, i8p = ir.IntType(64), ir.IntType(8).as_pointer()
        n_features = cgutils.unpack_tuple(builder, array.shape, 2)[1]
        row_stride = cgutils.unpack_tuple(builder, array.strides, 2)[0]
        offset = builder.mul(args[1], row_stride)
        start = builder.gep(builder.bitcast(array.data, i8p), [offset])
        n_lines = builder.udiv(builder.add(builder.mul(n_features, ir.Constant(i64, itemsize)),
                                           ir.Constant(i64, 63)), ir.Constant(i64, 64))
        prefetch = builder.module.declare_intrinsic(
            "llvm.prefetch", (), ir.FunctionType(ir.VoidType(), [
                i8p, ir.IntType(32), ir.IntType(32), ir.IntType(32)]))
        with cgutils.for_range(builder, n_lines) as lines:
            address = builder.gep(start, [builder.mul(lines.index, ir.Constant(i64, 64))])
            builder.call(prefetch, [address, ir.Constant(ir.IntType(32), 0),
                                    ir.Constant(ir.IntType(32), locality),
                                    ir.Constant(ir.IntType(32), 1)])
        return context.get_dummy_value()

    return types.void(X, types.intp), codegen


@intrinsic
def prefetch_row(typingctx, X, i):
    """Ask for the cache lines of row ``i`` of the 2-D float ``X`` (its
    ``n_features`` values from the row's first), from numba code.

    A prefetch never faults, so a row not contiguous or out of range is
    harmless, merely wasted. Kernels that copy a chunk of rows into a buffer
    of their own ask for the next chunk's rows while computing this one's:
    otherwise each chunk's copy waits on memory while the arithmetic waits on
    the copy.
    """
    return _prefetch_row_typing(X, i, 3)  # locality 3: into L1


@intrinsic
def prefetch_row_into_l2(typingctx, X, i):
    """:func:`prefetch_row` into L2 only (as :func:`prefetch_rows`), for rows
    asked for a few rows ahead of their use, which lines into L1 would evict
    from under the rows being computed."""
    return _prefetch_row_typing(X, i, 2)
