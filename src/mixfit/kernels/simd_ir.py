"""What the SIMD micro-kernels' numba intrinsics share: the check of their
arguments' types and the unpacking of those arguments in LLVM IR (see
:mod:`mixfit.kernels.kmeans_simd` and :mod:`mixfit.kernels.kmeans_simd_pairs`)."""

from __future__ import annotations

from numba import types

__all__ = ["nearest_arrays", "nearest_signature"]


def _is_float_array(ty, ndim):
    return (isinstance(ty, types.Array) and ty.ndim == ndim and ty.layout == "C"
            and ty.dtype in (types.float32, types.float64))


def nearest_signature(X, row0, C, c_sq, best, labels):
    """The signature of a ``(X, row0, C, c_sq, best, labels)`` nearest-centre
    intrinsic, or None where the types do not fit: C-contiguous float arrays of
    X's dtype (X and C 2-D, c_sq and best 1-D), an integer row and int32 labels."""
    if not (_is_float_array(X, 2) and isinstance(row0, types.Integer)
            and _is_float_array(C, 2) and _is_float_array(c_sq, 1)
            and _is_float_array(best, 1) and C.dtype == c_sq.dtype == best.dtype == X.dtype
            and isinstance(labels, types.Array) and labels.ndim == 1 and labels.layout == "C"
            and labels.dtype == types.int32):
        return None
    return types.void(X, types.intp, C, c_sq, best, labels)


def nearest_arrays(context, builder, signature, args):
    """The arrays of such an intrinsic's arguments, and its row: ``(X, C, c_sq, best,
    labels, row0)``, the arrays as numba's array structures."""
    x_ty, _, c_ty, csq_ty, best_ty, lab_ty = signature.args
    return (context.make_array(x_ty)(context, builder, args[0]),
            context.make_array(c_ty)(context, builder, args[2]),
            context.make_array(csq_ty)(context, builder, args[3]),
            context.make_array(best_ty)(context, builder, args[4]),
            context.make_array(lab_ty)(context, builder, args[5]),
            args[1])
