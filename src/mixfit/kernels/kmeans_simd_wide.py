"""The nearest of at most 3 centres for long rows: features along the vectors.

Why: the paired micro-kernel (:mod:`mixfit.kernels.kmeans_simd_pairs`) holds 4
centres × 2 features a vector, so every two features of a row cost a load, a
broadcast (a shuffle) and a multiply-add. At 64 features and 3 clusters in
float64 that took 14.8 ns a row from L2 on one thread, and an E-step over a
million rows (512 MB, read from memory) about 26 ns a row on two. Here each
centre's running sum runs along the row's features (vectors of consecutive
features, no shuffle in the loop), for 4 rows at once so that each vector of a
centre serves 4 rows: 12 running sums, each reduced once at the end; the rows
are asked for into L2 16 rows ahead (4 interleaved row streams left the
hardware's prefetcher behind). Where it lost, the paired kernel stays (see
:func:`takes_by_feature`).

The sums are reassociated (``fastmath`` "reassoc" and "contract": LLVM splits
each sum into vector lanes), so their rounding depends on the machine's
vectors and the number of features, never on a row's place among the 4 or in
its chunk: a last group of fewer than 4 rows is padded with zero rows and goes
through the same compiled loop. Every caller of a shape reaches this kernel
through :func:`mixfit.kernels.kmeans_simd._nearest_in_chunk`, so a fit's labels
and ``predict``'s agree. Reassociation touches nothing else here: the norms
are added to the sums once, and the comparisons carry no fast-math flag.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mixfit.kernels.simd_ir import prefetch_row_into_l2

__all__ = ["FEATURES_FLOAT32", "FEATURES_FLOAT64", "nearest_by_feature", "takes_by_feature"]

_OPTIONS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")
_REASSOCIATED = dict(cache=True, nogil=True, fastmath={"reassoc", "contract"},
                     error_model="numpy")

#: Features for which rows take this kernel instead of the paired one (at
#: most 3 centres), from the first to the second, float64 and float32 (see
#: :func:`takes_by_feature`).
FEATURES_FLOAT64 = (64, 160)
FEATURES_FLOAT32 = (128, 256)

#: Rows computed together: each centre's vector serves 4 rows.
_GROUP = 4

#: Rows ahead that are asked for into L2 (rows from memory; the hardware's
#: prefetcher alone left 4 interleaved row streams waiting: 27.6 against
#: 18.7 ns a row at 64 × 3 float64).
_AHEAD = 16


@njit(inline="always", **_OPTIONS)
def takes_by_feature(n_features, itemsize, c_sq_p):
    """Whether rows of ``n_features`` values of ``itemsize`` bytes, nearest of
    the centres whose paired norms are ``c_sq_p``, go through this kernel.

    Nearest of 3 centres among 4,096 rows in L2, one thread, ns a row, paired
    → this kernel: float64 11.1 → 10.1 at 48 features, 14.8 → 12.5 at 64, 30.4
    → 23.3 at 128, 59.7 → 45.3 at 256; float32 (whose paired vectors hold half
    as many bytes) 5.6 → 7.8 at 48, 7.2 → 8.4 at 64, 15.5 → 12.6 at 128, 30.1
    → 22.8 at 256. Whole fits (20 iterations, 2 threads, ms) where rows come
    from memory: float64 1e6 × 64 × 3 509-545 → 412-434, 1e5 × 64 × 3 43-52 →
    40-43, 1e5 × 160 × 3 79-91 → 72-76, 1e6 × 160 × 3 662-689 → 573-620;
    float32 1e6 × 160 × 3 396-410 → 344-350, 1e5 × 256 × 3 136-150 → 121-124;
    but float64 1e5 × 256 × 3 180-181 → 215-233 (2 KB rows, 4 at a time, from
    memory), and below about 50,000 rows at 64 × 3 float64 (2e4: 6.7 → 8.5 ms,
    1e4: 4.0 → 4.8; 5e4: 17.6 → 20.4). A fourth centre (lane 6 of ``c_sq_p``
    finite) keeps the paired kernel: 16 sums lost from memory (1e5 × 256 × 4
    float64 95-102 → 118-121 ms).
    """
    if c_sq_p[6] < np.inf:  # lane 2k: centre k's norm, +inf for padding
        return False
    low, high = FEATURES_FLOAT64 if itemsize == 8 else FEATURES_FLOAT32
    return low <= n_features <= high


@njit(inline="always", **_OPTIONS)
def _centres_as_rows(C_p, C_f):
    """The paired layout's centres (:func:`~mixfit.kernels.kmeans_simd_pairs.paired_centres`)
    as rows: ``C_f[k, j]`` = centre ``k`` at feature ``j`` (3 × d)."""
    n_features = C_f.shape[1]
    for p in range(n_features // 2):
        for k in range(3):
            C_f[k, 2 * p] = C_p[p, 2 * k]
            C_f[k, 2 * p + 1] = C_p[p, 2 * k + 1]
    if n_features % 2:
        for k in range(3):
            C_f[k, n_features - 1] = C_p[n_features // 2, 2 * k]


@njit(inline="always", **_REASSOCIATED)
def _dots_4_rows(rows, i, shift, C_f):
    """``Σ_j (rows[i + r, j] − shift[j]) C_f[k, j]`` for r < 4 and k < 3 (12 values,
    row-major), each difference rounded as a copied, shifted row's would be."""
    zero = rows.dtype.type(0)
    a00 = a01 = a02 = a10 = a11 = a12 = zero
    a20 = a21 = a22 = a30 = a31 = a32 = zero
    for j in range(rows.shape[1]):
        c0 = C_f[0, j]
        c1 = C_f[1, j]
        c2 = C_f[2, j]
        s = shift[j]
        x = rows[i, j] - s
        a00 += x * c0
        a01 += x * c1
        a02 += x * c2
        x = rows[i + 1, j] - s
        a10 += x * c0
        a11 += x * c1
        a12 += x * c2
        x = rows[i + 2, j] - s
        a20 += x * c0
        a21 += x * c1
        a22 += x * c2
        x = rows[i + 3, j] - s
        a30 += x * c0
        a31 += x * c1
        a32 += x * c2
    return a00, a01, a02, a10, a11, a12, a20, a21, a22, a30, a31, a32


@njit(inline="always", **_REASSOCIATED)
def _take(v, k, value, runner_up, label):
    """Fold centre ``k``'s value ``v`` into the running (smallest, second, label):
    strict ``<``, so the lowest index keeps a tie, whose value is then the
    second smallest too. Selects, not branches: labels of real data are
    unpredictable (branches took 7 of 18 ns a row at 64 × 3)."""
    smaller = v < value
    runner_up = value if smaller else (v if v < runner_up else runner_up)
    return (v if smaller else value), runner_up, (k if smaller else label)


@njit(inline="always", **_REASSOCIATED)
def _store(row, value, runner_up, label, best, labels, second):
    second[row] = runner_up  # first: ``second`` may be ``best`` (no runner-up wanted)
    best[row] = value
    labels[row] = label


@njit(inline="always", **_REASSOCIATED)
def _nearest_of_3(c_sq_p, a0, a1, a2, best, labels, second, row):
    value, runner_up, label = c_sq_p[0] + a0, np.inf, 0  # lane 2k: centre k's norm
    value, runner_up, label = _take(c_sq_p[2] + a1, 1, value, runner_up, label)
    value, runner_up, label = _take(c_sq_p[4] + a2, 2, value, runner_up, label)
    _store(row, value, runner_up, label, best, labels, second)


@njit(inline="always", **_REASSOCIATED)
def _group(rows, i, shift, C_f, c_sq_p, best, labels, second, out):
    """Rows ``i … i + 3`` of ``rows`` into rows ``out … out + 3`` of the outputs
    (unrolled by hand: a tuple is indexed by constants only)."""
    d = _dots_4_rows(rows, i, shift, C_f)
    _nearest_of_3(c_sq_p, d[0], d[1], d[2], best, labels, second, out)
    _nearest_of_3(c_sq_p, d[3], d[4], d[5], best, labels, second, out + 1)
    _nearest_of_3(c_sq_p, d[6], d[7], d[8], best, labels, second, out + 2)
    _nearest_of_3(c_sq_p, d[9], d[10], d[11], best, labels, second, out + 3)


@njit(**_REASSOCIATED)
def nearest_by_feature(rows, n_rows, shift, C_p, c_sq_p, best, labels, tail, tail_best,
                       tail_labels, second, tail_second):
    """``best``, ``labels`` and ``second`` (the smallest value over the other
    centres) of the first ``n_rows`` rows of ``rows − shift`` (``rows``
    C-contiguous), from at most 3 centres in the paired layout.

    Unchecked beyond what :func:`mixfit.kernels.kmeans_simd._nearest_in_chunk`
    checks. The shift is subtracted in the loop (``shift`` of d values, X's
    dtype; zeros for rows already shifted: ``x − 0`` is ``x``), so rows are
    read where they lie, never copied to be shifted. ``tail`` (8 × d) holds
    the centres as rows (rows 4-6) and the last group of fewer than 4 rows
    (rows 0-3, zeros beyond them), which goes through the same loop as the
    others: one compiled copy of the sums, so the same arithmetic for a row
    wherever it sits. For that too ``second`` is always an array: ``best``
    (and ``tail_best``) where no runner-up is wanted. A padding centre (norm
    ``+inf``) never wins.
    """
    C_f = tail[_GROUP:_GROUP + 3]
    _centres_as_rows(C_p, C_f)
    full = n_rows - n_rows % _GROUP
    if full < n_rows:
        tail[:_GROUP, :] = 0
        tail[:n_rows - full] = rows[full:n_rows]
    for start in range(0, n_rows, _GROUP):
        in_tail = start >= full
        source = tail if in_tail else rows
        i = 0 if in_tail else start
        for r in range(_GROUP):
            prefetch_row_into_l2(source, i + _AHEAD + r)
        _group(source, i, shift, C_f, c_sq_p, tail_best if in_tail else best,
               tail_labels if in_tail else labels, tail_second if in_tail else second, i)
    for r in range(n_rows - full):
        second[full + r] = tail_second[r]
        best[full + r] = tail_best[r]
        labels[full + r] = tail_labels[r]
