"""K-means results in the user's units, and labels of rows far from every centre.

``KMeans.fit`` works in units where squares cannot overflow — data divided by a
power of two, weights divided by another — and converts what it reports
(``inertia_``, ``score``, what the callback sees) back exactly, refusing a value
that the user's units cannot hold. ``predict`` re-labels rows so far from every
centre that rounding, not distance, would pick their label.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse

from mixfit.engine.kmeans_sparse import dense_rows

__all__ = [
    "callback_in_user_units",
    "far_labels",
    "inertia_in_user_units",
    "weighted_sum_in_user_units",
]

#: Rows whose squared distance exceeds this many squared centre spreads get their
#: label again from centre differences: rounding of ‖x‖² then reaches 2**-12 of
#: the gaps between the centres' distances.
_FAR_RATIO = 2.0**40


def far_labels(X, centers, labels, min_sq_dist):
    """``labels`` with rows far from every centre re-assigned exactly.

    For a row far out, ``‖x − c_k‖²`` is nearly the same for every k and the
    differences that pick the nearest centre drown in its rounding. They are
    ``‖o_k‖² − 2 (x − c_0)·o_k`` with ``o_k = c_k − c_0``, which rounds relative to
    the differences themselves.
    """
    centers = centers.astype(np.float64)
    offsets = centers - centers[0]
    offset_sq = np.einsum("kd,kd->k", offsets, offsets)
    far = np.flatnonzero(min_sq_dist > _FAR_RATIO * offset_sq.max())
    if far.size == 0 or offset_sq.max() == 0:
        return labels
    labels = labels.copy()
    # Sparse rows are densified a bounded block at a time (about 2**20 values).
    step = 4096 if not sparse.issparse(X) else max(1, min(4096, 2**20 // X.shape[1]))
    for start in range(0, far.size, step):
        rows = far[start:start + step]
        relative = dense_rows(X, rows).astype(np.float64) - centers[0]
        labels[rows] = (offset_sq - 2.0 * (relative @ offsets.T)).argmin(axis=1)
    return labels


def inertia_in_user_units(inertia, scale, weight_scale, what="inertia", extra=0):
    """An inertia in the fit's units (data / scale, weights / weight_scale) in the user's.

    Both scales are powers of two (and ``inertia`` may carry ``2**extra`` more),
    so the conversion is exact; a result beyond float64's range is refused
    rather than returned as inf.
    """
    # math's frexp and ldexp: numpy's cost microseconds a call, and this runs once
    # per iteration of the history.
    exponent = 2 * (math.frexp(scale)[1] - 1) + math.frexp(weight_scale)[1] - 1 + extra
    if exponent == 0:
        return float(inertia)
    try:
        return math.ldexp(float(inertia), exponent)
    except OverflowError:
        raise ValueError(
            f"The {what} in the units of X and sample_weight, about "
            f"10**{math.log10(inertia) + exponent * math.log10(2.0):.0f}, is beyond float64's "
            "range (about 1.8e308); divide sample_weight (or X) by a constant."
        ) from None


def weighted_sum_in_user_units(weight, values, scale, weight_scale, what):
    """``Σ weight · values`` (non-negative values in the fit's units) in the user's units."""
    largest = float(values.max()) if values.size else 0.0
    extra = 0
    if largest > 2.0**500:
        # Sum values brought near 1 (exactly, by a power of two): the total may
        # exceed float64 in these units yet be representable in the user's.
        extra = int(np.frexp(largest)[1])
        values = np.ldexp(values.astype(np.float64), -extra)
    # Not np.dot: OpenBLAS runs a dot of over 10,000 values on its threads,
    # which then spin for about 0.1 s, taking a core from whatever runs next (a
    # MiniBatchKMeans fit of 100,000 × 8 rows took 16-23 ms instead of 8-10
    # when fitted again at once, and scikit-learn's fit after it 170 instead of
    # 85). einsum's own loop calls no BLAS.
    total = float(np.einsum("i,i->", weight, values))
    return inertia_in_user_units(total, scale, weight_scale, what, extra)


def callback_in_user_units(callback, scale, weight_scale):
    """The user's callback, given centres and inertia in the data's and weights' units."""
    if callback is None or (scale == 1.0 and weight_scale == 1.0):
        return callback

    def in_user_units(iteration, centers, inertia):
        return callback(
            iteration,
            centers * scale if scale != 1.0 else centers,
            inertia_in_user_units(inertia, scale, weight_scale),
        )

    return in_user_units
