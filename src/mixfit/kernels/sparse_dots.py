"""A CSR row's dot products with every centre, the accumulators in vector registers.

Why: each stored value ``x_j`` of a row adds ``x_j · centers_t[j]`` (a K-vector)
to the row's K dot products. Written as a numba loop over the K products, the
running sums live in an array and go through memory at every stored value (a
store, then a load of it for the next value), and the loop over centres is
remade for every value. :func:`_row_dots_vectors` writes the loop over the
row's stored values in LLVM IR (a numba intrinsic, as
:mod:`mixfit.kernels.kmeans_simd` does for dense rows): 8 centres per vector,
up to 4 vectors of running sums held in registers while the row's values
stream past. Labelling 50,000 text-like rows (d = 50,000, about 45 stored
values a row), one thread: 8.4 → 6.8 ns per stored value at K = 20, 42 → 32 at
K = 100 (float64); where the centre copy fits in cache, 4.6 → 3.3 at K = 20
and 9.8 → 4.8 at K = 50.

The arithmetic is the scalar loop's, lane by lane: the value and the centre
taken to float64, a multiply then an add (no fused multiply-add), the values
in their stored order. The products are therefore bit for bit those of
``dots[k] += float64(x_j) * float64(centers_t[j, k])``, which Hamerly's own-centre
product in :mod:`mixfit.kernels.kmeans_sparse` relies on.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.core.extending import intrinsic

from mixfit.kernels.checks import require

__all__ = ["LANES", "VECTOR_MIN_CLUSTERS", "padded_width", "row_dots"]

_OPTIONS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")

#: Centres per vector.
LANES = 8

#: Vectors of running sums per pass over a row's values (32 centres).
_MAX_VECTORS = 4

#: Below this many centres the scalar loop runs: a vector of 8 would read more
#: than twice the centre bytes a row needs (K = 3: 3.0 → 3.65 ns per value).
VECTOR_MIN_CLUSTERS = 8


def padded_width(n_clusters):
    """Columns of the transposed centres: K rounded up to :data:`LANES` where the
    vector loop runs (from :data:`VECTOR_MIN_CLUSTERS` centres), else K."""
    if n_clusters < VECTOR_MIN_CLUSTERS:
        return n_clusters
    return -(-n_clusters // LANES) * LANES


def _vector_dots(n_vectors):
    """The intrinsic for ``n_vectors`` vectors of 8 centres (a factory: one per count)."""

    @intrinsic
    def vector_dots(typingctx, data, indices, start, stop, centers_t, first, dots):
        """``dots[first + i] = Σ_p data[p] · centers_t[indices[p], first + i]`` for
        ``i < 8 · n_vectors``, ``p`` from ``start`` to ``stop − 1`` in order, float64.

        Unchecked: the caller guarantees the indices of those values lie in
        ``[0, n_features)``, ``first + 8 · n_vectors`` ≤ the columns of
        ``centers_t`` (C-contiguous) and the length of ``dots`` (float64).
        """
        if not (isinstance(data, types.Array) and data.ndim == 1
                and data.dtype in (types.float32, types.float64)
                and isinstance(indices, types.Array) and indices.ndim == 1
                and indices.dtype in (types.int32, types.int64)
                and isinstance(centers_t, types.Array) and centers_t.ndim == 2
                and centers_t.layout == "C" and centers_t.dtype in (types.float32, types.float64)
                and isinstance(dots, types.Array) and dots.ndim == 1 and dots.layout == "C"
                and dots.dtype == types.float64):
            return None
        sig = types.void(data, indices, types.intp, types.intp, centers_t, types.intp, dots)

        def codegen(context, builder, signature, args):
            data_ty, indices_ty, _, _, centres_ty, _, dots_ty = signature.args
            values = context.make_array(data_ty)(context, builder, args[0])
            columns = context.make_array(indices_ty)(context, builder, args[1])
            centres = context.make_array(centres_ty)(context, builder, args[4])
            out = context.make_array(dots_ty)(context, builder, args[6])
            start, stop, first = args[2], args[3], args[5]
            i32, i64, f64 = ir.IntType(32), ir.IntType(64), ir.DoubleType()
            centre_ty = context.get_value_type(centres_ty.dtype)
            vty = ir.VectorType(f64, LANES)
            centre_vty = ir.VectorType(centre_ty, LANES)
            n_padded = cgutils.unpack_tuple(builder, centres.shape, 2)[1]
            undef = ir.Constant(vty, ir.Undefined)
            splat = ir.Constant(ir.VectorType(i32, LANES), [0] * LANES)
            # Allocas in the entry block: LLVM keeps them in registers (mem2reg).
            sums = [cgutils.alloca_once(builder, vty) for _ in range(n_vectors)]
            for total in sums:
                builder.store(ir.Constant(vty, [0.0] * LANES), total)
            with cgutils.for_range(builder, builder.sub(stop, start)) as loop:
                p = builder.add(loop.index, start)
                j = builder.load(builder.gep(columns.data, [p]))
                if j.type != i64:
                    j = builder.sext(j, i64)
                value = builder.load(builder.gep(values.data, [p]))
                if value.type != f64:
                    value = builder.fpext(value, f64)
                value = builder.shuffle_vector(
                    builder.insert_element(undef, value, ir.Constant(i32, 0)), undef, splat)
                row = builder.add(builder.mul(j, n_padded), first)
                for g, total in enumerate(sums):
                    pointer = builder.gep(centres.data, [builder.add(row, ir.Constant(i64, g * LANES))])
                    centre = builder.load(builder.bitcast(pointer, centre_vty.as_pointer()), align=4)
                    if centre_ty != f64:
                        centre = builder.fpext(centre, vty)
                    builder.store(builder.fadd(builder.load(total), builder.fmul(value, centre)),
                                  total)
            for g, total in enumerate(sums):
                pointer = builder.gep(out.data, [builder.add(first, ir.Constant(i64, g * LANES))])
                builder.store(builder.load(total), builder.bitcast(pointer, vty.as_pointer()),
                              align=8)
            return context.get_dummy_value()

        return sig, codegen

    return vector_dots


_DOTS_1, _DOTS_2, _DOTS_3, _DOTS_4 = (_vector_dots(n) for n in range(1, _MAX_VECTORS + 1))


@njit(**_OPTIONS)
def row_dots(data, indices, start, stop, centers_t, n_clusters, dots, kernel):
    """``dots[k] = Σ_p data[p] · centers_t[indices[p], k]`` for ``k < n_clusters``, float64.

    ``centers_t`` is ``(n_features, width)`` with ``width ≥ n_clusters``
    (:func:`padded_width`; padding columns are read and ignored); ``dots``
    holds ``width`` values. Whole vectors of 8 columns run in registers from
    :data:`VECTOR_MIN_CLUSTERS` centres, the columns after the last whole
    vector in the scalar loop. The row's column indices are checked first
    (one minimum and maximum, not a branch per value).
    """
    n_features, width = centers_t.shape
    require(start <= stop, kernel, "indptr non-decreasing")
    require(n_clusters <= width and dots.shape[0] >= width, kernel,
            "centers_t (d, width ≥ K) and dots of width values")
    if stop > start:
        lowest, highest = n_features, -1
        for p in range(start, stop):
            j = indices[p]
            lowest = min(lowest, j)
            highest = max(highest, j)
        require(lowest >= 0 and highest < n_features, kernel,
                "column indices in [0, n_features)")
    vectorised = 0
    if n_clusters >= VECTOR_MIN_CLUSTERS:
        vectorised = width - width % LANES
        first = 0
        while first + _MAX_VECTORS * LANES <= vectorised:
            _DOTS_4(data, indices, start, stop, centers_t, first, dots)
            first += _MAX_VECTORS * LANES
        left = (vectorised - first) // LANES
        if left == 3:
            _DOTS_3(data, indices, start, stop, centers_t, first, dots)
        elif left == 2:
            _DOTS_2(data, indices, start, stop, centers_t, first, dots)
        elif left == 1:
            _DOTS_1(data, indices, start, stop, centers_t, first, dots)
    if vectorised < n_clusters:
        for k in range(vectorised, n_clusters):
            dots[k] = 0.0
        for p in range(start, stop):
            value = np.float64(data[p])
            column = centers_t[indices[p]]
            for k in range(vectorised, n_clusters):
                dots[k] += value * np.float64(column[k])
