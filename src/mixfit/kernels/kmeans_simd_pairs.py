"""The SIMD micro-kernel for at most 4 clusters: two features per vector.

Why: :func:`mixfit.kernels.kmeans_simd._nearest_8_rows` holds 8 centres per
vector; with 3 clusters five of its lanes are padding, and a fit at K = 3 cost
what one at K = 8 does (15 ns a row for 32 features float32, one thread).
Here a vector holds 4 centres × 2 features, lanes ``(2k, 2k + 1)`` being
centre ``k`` at features ``2p`` and ``2p + 1``; each row's pair of values is
loaded as one 64-bit (float32) or 128-bit (float64) element and broadcast, so
a row costs one multiply-add per two features instead of one per feature.
The two running sums of each centre (even and odd features, each in feature
order, the first starting from ``‖c‖²``) are added at the end; an odd last
feature is added to the even sum alone. The rounding differs from the
8-centre kernel's and from BLAS's, so :func:`mixfit.kernels.kmeans_simd.padded_centres`
gives every caller of a shape the same layout, and a fit's labels and
``predict`` agree.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.extending import intrinsic

from mixfit.kernels.simd_ir import (nearest_arrays, nearest_signature,
                                     prefetch_rows, take_nearer, transpose_8x8)

__all__ = ["MAX_CLUSTERS", "paired_centres"]

#: Clusters one paired vector holds.
MAX_CLUSTERS = 4

#: Lanes of a vector (as :data:`mixfit.kernels.kmeans_simd.LANES`) and rows per call.
_LANES = 8
_ROWS = 8


def paired_centres(C_neg2, c_sq):
    """``(−2C)`` and ``‖c‖²`` in the paired layout, for at most :data:`MAX_CLUSTERS` centres.

    Returns
    -------
    C_p : ndarray of shape (ceil(d / 2), 8)
        Row ``p``, lanes ``2k`` and ``2k + 1``: centre ``k`` at features ``2p``
        and ``2p + 1`` (zero past the last feature and for padding centres).
    c_sq_p : ndarray of shape (8,)
        Lane ``2k``: ``‖c_k‖²`` (``+inf`` for padding centres, which never
        win); lane ``2k + 1``: 0.
    """
    n_clusters, n_features = C_neg2.shape
    if n_clusters > MAX_CLUSTERS:
        raise ValueError(f"the paired layout holds at most {MAX_CLUSTERS} centres, "
                         f"got {n_clusters}.")
    n_pairs = -(-n_features // 2)
    padded = np.zeros((MAX_CLUSTERS, 2 * n_pairs), dtype=C_neg2.dtype)
    padded[:n_clusters, :n_features] = C_neg2
    # (k, p, feature in pair) -> (p, k, feature in pair)
    C_p = np.ascontiguousarray(
        padded.reshape(MAX_CLUSTERS, n_pairs, 2).transpose(1, 0, 2).reshape(n_pairs, _LANES))
    c_sq_p = np.zeros(_LANES, dtype=c_sq.dtype)
    c_sq_p[0::2] = np.inf
    c_sq_p[0:2 * n_clusters:2] = c_sq
    return C_p, c_sq_p



@intrinsic
def nearest_8_rows_paired(typingctx, X, row0, C_p, c_sq_p, best, labels, second):
    """``best[row0 + r]``, ``labels[row0 + r]`` (and, unless ``second`` is None,
    ``second[row0 + r]``: the smallest over the other centres) for the 8 rows
    ``row0 …`` of ``X``, from centres in the paired layout (:func:`paired_centres`).

    Unchecked: the caller guarantees ``row0 + 8 ≤`` the rows of ``X``,
    ``best`` and ``labels``, ``C_p`` of shape ``(ceil(d / 2), 8)`` and
    ``c_sq_p`` of 8 values, all C-contiguous and of X's dtype.
    """
    sig = nearest_signature(X, row0, C_p, c_sq_p, best, labels, second)
    if sig is None:
        return None

    def codegen(context, builder, signature, args):
        x_ty = signature.args[0]
        xa, cpa, csqa, besta, laba, row0, seconda = nearest_arrays(context, builder, signature,
                                                                   args)
        i32, i64 = ir.IntType(32), ir.IntType(64)
        fty = context.get_value_type(x_ty.dtype)
        vty = ir.VectorType(fty, _LANES)
        pair_ty = ir.VectorType(fty, 2)
        lvty = ir.VectorType(i32, _ROWS)
        n_features = cgutils.unpack_tuple(builder, xa.shape, 2)[1]
        n_full_pairs = builder.udiv(n_features, ir.Constant(i64, 2))
        undef = ir.Constant(vty, ir.Undefined)
        pair_undef = ir.Constant(pair_ty, ir.Undefined)
        wide_ty = ir.DoubleType()
        wide_undef = ir.Constant(ir.VectorType(wide_ty, _LANES // 2), ir.Undefined)
        fma = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vty, [vty, vty, vty]),
            "llvm.fma.v%d%s" % (_LANES, "f32" if x_ty.dtype == types.float32 else "f64"))

        def lane(value):
            return ir.Constant(i32, value)

        def mask(values):
            return ir.Constant(ir.VectorType(i32, len(values)), values)

        # Allocas in the entry block: LLVM keeps them in registers (mem2reg).
        sums = [cgutils.alloca_once(builder, vty) for _ in range(_ROWS)]
        norms = builder.load(builder.bitcast(csqa.data, vty.as_pointer()), align=4)
        for total in sums:
            builder.store(norms, total)
        rows = [builder.gep(xa.data, [builder.mul(builder.add(row0, ir.Constant(i64, r)),
                                                   n_features)]) for r in range(_ROWS)]
        prefetch_rows(builder, xa.data, row0, _ROWS, n_features)

        def centre_row(p):
            pointer = builder.gep(cpa.data, [builder.mul(p, ir.Constant(i64, _LANES))])
            return builder.load(builder.bitcast(pointer, vty.as_pointer()), align=4)

        with cgutils.for_range(builder, n_full_pairs) as pairs:
            p = pairs.index
            centres = centre_row(p)
            feature = builder.mul(p, ir.Constant(i64, 2))
            for r in range(_ROWS):
                pointer = builder.gep(rows[r], [feature])
                if x_ty.dtype == types.float32:
                    # The pair as one double, broadcast: a load, no shuffle.
                    pair = builder.load(builder.bitcast(pointer, wide_ty.as_pointer()), align=4)
                    x = builder.shuffle_vector(
                        builder.insert_element(wide_undef, pair, lane(0)), wide_undef,
                        mask([0] * (_LANES // 2)))
                    x = builder.bitcast(x, vty)
                else:
                    pair = builder.load(builder.bitcast(pointer, pair_ty.as_pointer()), align=4)
                    x = builder.shuffle_vector(pair, pair_undef, mask([0, 1] * (_LANES // 2)))
                builder.store(builder.call(fma, [x, centres, builder.load(sums[r])]), sums[r])
        odd = builder.icmp_unsigned("!=", builder.urem(n_features, ir.Constant(i64, 2)),
                                    ir.Constant(i64, 0))
        with builder.if_then(odd):
            # The last feature alone: its pair's second lane of each centre is zero.
            centres = centre_row(n_full_pairs)
            last = builder.sub(n_features, ir.Constant(i64, 1))
            for r in range(_ROWS):
                value = builder.load(builder.gep(rows[r], [last]))
                x = builder.shuffle_vector(builder.insert_element(undef, value, lane(0)), undef,
                                           mask([0] * _LANES))
                builder.store(builder.call(fma, [x, centres, builder.load(sums[r])]), sums[r])
        value = ir.Constant(vty, [float("inf")] * _ROWS)
        runner_up = None if seconda is None else value
        label = ir.Constant(lvty, [0] * _ROWS)
        # Each row's even sums plus its odd sums (lanes 0-3: centres 0-3), then
        # centre k of the 8 rows gathered across them.
        by_row = []
        for total in sums:
            both = builder.load(total)
            even = builder.shuffle_vector(both, undef, mask([0, 2, 4, 6]))
            odd_sums = builder.shuffle_vector(both, undef, mask([1, 3, 5, 7]))
            by_row.append(builder.fadd(even, odd_sums))
        for k, column in enumerate(transpose_8x8(builder, by_row)):
            smaller, value, runner_up = take_nearer(builder, column, value, runner_up)
            label = builder.select(smaller, ir.Constant(lvty, [k] * _ROWS), label)
        builder.store(value,
                      builder.bitcast(builder.gep(besta.data, [row0]), vty.as_pointer()), align=4)
        builder.store(label,
                      builder.bitcast(builder.gep(laba.data, [row0]), lvty.as_pointer()), align=4)
        if seconda is not None:
            builder.store(runner_up, builder.bitcast(builder.gep(seconda.data, [row0]),
                                                     vty.as_pointer()), align=4)
        return context.get_dummy_value()

    return sig, codegen
