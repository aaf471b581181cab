"""The K-means E-step for few features × clusters by the SIMD micro-kernel.

Where the distance GEMM is skinny, :mod:`mixfit.kernels.kmeans_simd` computes
the distances and the argmin with the accumulators in vector registers, and
the statistics in the same pass (see there for the arithmetic).
:func:`uses_simd` is the one place the shapes are chosen, so that a fit, its
``nearest`` pass and ``predict`` always compute distances the same way and
agree on every label.
"""

from __future__ import annotations

import numpy as np

from mixfit.engine.kmeans_common import _row_sq_norms, _shifted_centers
from mixfit.kernels import kmeans_simd as simd
from mixfit.kernels import kmeans_simd_wide as wide

#: Shapes of the micro-kernel: clusters, features and features × clusters
#: within these bounds (see :func:`uses_simd` for the measurements).
SIMD_CLUSTERS = (8, 1024)
SIMD_MAX_FEATURES = 64
SIMD_WORK = (16, 1024)
#: ... but with at most this many features, up to this many terms: the GEMM's
#: inner dimension is then too short for BLAS (see :func:`uses_simd`).
SIMD_NARROW_WORK = (16, 16384)
#: Fewer clusters (3 to 7, most of the 8 lanes padding) only with at least this
#: many features, where BLAS's skinny GEMM was slower still.
SIMD_FEW_CLUSTERS = (3, 16)
#: ... but 3 or 4 clusters, which the paired layout holds (4 centres × 2
#: features per vector, :mod:`mixfit.kernels.kmeans_simd_pairs`), from this
#: many features. Whole fits, 100,000 rows, 20 iterations, 2 threads, paired
#: micro-kernel / GEMM path (identical labels): float32 0.76 at 8 × 3, 0.85 at
#: 8 × 4, 0.89 at 6 × 3, 0.94 at 4 × 3; float64 0.90 at 8 × 3, 0.95 at 6 × 3,
#: 0.98 at 4 × 3; 10,000 rows, 0.78 at 8 × 3 float32. At 3 features it was
#: even (0.99), and float64 below 4 features runs the direct kernels.
SIMD_PAIRED_MIN_FEATURES = 4

#: ... and up to this many (beyond :data:`SIMD_MAX_FEATURES`): with 3 or 4
#: output columns BLAS's GEMM stays skinny however long its rows. Whole fits,
#: 100,000 rows, 20 iterations, 2 threads, micro-kernel / GEMM path (identical
#: labels and inertia): float64 0.65 at 160 × 3, 0.70 at 160 × 4, 0.68 at
#: 256 × 3; float32 0.88-0.95 at 160 × 3, 0.95 at 100 × 3, 0.98 at 256 × 3;
#: 10,000 rows even at 160 × {3, 4}. Not beyond: at 784 × {3, 4} and 300 × 3
#: it was 0.88-1.06, and 1.21 at 400 × 4 float64 (305 MiB, where the GEMM
#: path's two bounds ran; with them here too it was 0.97). (That was before
#: the long-row kernel; 2 or 3 clusters: :data:`BY_FEATURE_CLUSTERS`.)
SIMD_PAIRED_MAX_FEATURES = 256

#: ... and 2 or 3 clusters however long the rows, from the features where
#: :func:`mixfit.kernels.kmeans_simd_wide.takes_by_feature` (features along
#: the vectors, its dots written as vectors so that a row's values do not
#: depend on how many rows are computed at once). Whole fits, 20 iterations
#: (fewer where the labels settled), 2 threads, ms, GEMM path (or, up to 256
#: features and 3 clusters, the kernel this one replaced) / this kernel:
#: 100,000 rows, float32 784 × 3 116-117 / 82-94, 784 × 2 88-89 / 73, 128 × 2
#: 49-50 / 36-37; float64 784 × 3 187 / 170-175, 320 × 3 99-102 / 69, 160 × 2
#: 123-127 / 77-84, 64 × 2 47 / 36, 160 × 3 75 / 52-56, 256 × 3 189-191 /
#: 130-134; 10,000 rows, 784 × 3 float32 9.6-9.8 / 6.5-7.4; but 10,000 rows in
#: cache lost at 2 clusters (160 × 2 float64 4.4-4.7 / 5.7-6.1, 64 × 2 3.2-3.3
#: / 4.2-4.3: BLAS's skinny GEMM from L3 beat it there), kept for a rule by
#: shape alone, which fit and ``predict`` must share.
BY_FEATURE_CLUSTERS = (2, 3)

#: Float64 from 8 clusters and from this many features (beyond
#: :data:`SIMD_MAX_FEATURES`) up to this many, and up to this many terms:
#: BLAS's double-precision GEMM with 8 to 16 output columns is slower still.
#: Whole fits, 20 iterations, 2 threads, time with the micro-kernel / as
#: before ("auto"): 0.68 at 100,000 × 160 × 8 (0.84 at 1e6), 0.69 at
#: 100,000 × 100 × 12, 0.76 at 100,000 × 128 × 10; but 1.07 at 250,000 × 160
#: × 16. 80 × 16 gained too (0.79), but from 65 to 95 features the GEMM path
#: stays, as measured and tested before. Float32 gained less or lost: 0.92
#: at 100,000 × 80 × 16 and 160 × 8, 0.98 at 10,000 × 160 × 8, 1.09 at
#: 100,000 × 128 × 10.
SIMD_WIDE_FLOAT64 = (96, 256, 1280)

#: Float32 from 8 clusters up to ``clusters``, with up to ``features``
#: features and ``work`` features × clusters (beyond :data:`SIMD_WORK` and
#: :data:`SIMD_MAX_FEATURES`): since the micro-kernel's passes can run under
#: the two bounds (:data:`mixfit.engine.kmeans.TWO_BOUND_SIMD`, from 32
#: clusters here), it beat the GEMM path (that path's two bounds, or Lloyd's
#: E-step) at every such shape measured but 10,000 rows of 160 features.
#: Whole fits, "auto", 20 iterations, 2 threads, micro-kernel / GEMM path
#: (identical labels): 100,000 rows, 0.69 at 64 × 32, 0.77 at 64 × 64, 0.80 at
#: 32 × 64, 0.79 at 48 × 42, 0.77 at 40 × 32, 0.80 at 32 × 48, 0.76 at 24 ×
#: 64, 0.71 at 100 × 32, 0.91 at 160 × 32, 0.84 at 64 × 20, 0.82 at 64 × 24,
#: 0.71 at 128 × 10, 0.82 at 100 × 12 and 80 × 16, 0.81 at 72 × 8, 0.72 at
#: 160 × 8, 0.93-0.94 at 160 × {16, 24}; 1e6 rows, 0.63 at 64 × 32, 0.74 at
#: 40 × 32, 0.78 at 48 × 42, 0.79 at 64 × 20, 0.80 at 160 × 32, 0.86-0.89 at
#: 160 × {8, 16, 24}; 10,000 rows, 0.74 at 64 × 32, 0.77 at 40 × 32, 0.86 at
#: 48 × 42, 0.85 at 160 × 16, but 1.03 at 160 × 32 and 1.06 at 160 × 8.
#: Without the bounds from 32 clusters it took 1.07-1.48 times as long at
#: 100,000 × {32 × 64, 48 × 42, 64 × 64, 100 × 32, 160 × 32}.
SIMD_FLOAT32 = {"clusters": 64, "features": 160, "work": 5120}

#: From ``features`` features (above :data:`SIMD_NARROW_WORK`'s) to
#: :data:`SIMD_MAX_FEATURES`, 8 to 1,024 clusters in both dtypes, but from
#: ``group_bounds_clusters`` clusters only below ``group_bounds_features``
#: features (by dtype), where ``algorithm="auto"`` takes Yinyang's group bounds
#: over the GEMM (:data:`mixfit.engine.kmeans.YINYANG_MIN_CLUSTERS`, ``..._FEATURES``).
#: Once BLAS was held at one thread while our threads ran (its threads had
#: spun on our cores after the bounds' K × K GEMM), the micro-kernel's passes
#: under the two bounds (:data:`mixfit.engine.kmeans.TWO_BOUND_SIMD`) beat
#: the GEMM path's "auto" at every such shape measured. Whole fits, 2 threads,
#: "auto" with the micro-kernel / as before, 20 iterations: 100,000 rows,
#: float32 0.84 at 32 × 256, 0.85 at 32 × 1024, 0.75 at 24 × 128, 0.86 at
#: 48 × 512, 0.76 at 20 × 256, 0.77 at 17 × 512, 0.87 at 60 × 1024, 0.84 at
#: 32 × 96, 0.87 at 48 × 100, 0.85 at 64 × 100; float64 0.66 at 64 × 32,
#: 0.77 at 48 × 64, 0.85 at 32 × 100, 0.79 at 64 × 64, 0.78 at 24 × 64,
#: 0.85 at 24 × 128, 0.81 at 24 × 256, 0.81 at 24 × 1024; 1e6 rows, float32
#: 0.76 at 32 × 256, float64 0.60 at 64 × 32; 10,000 rows 0.80-0.84 at
#: 32 × 256 float32 and 24 × 1024 float64. To convergence (tol 1e-4): 0.75
#: at 1e6 × 32 × 256 float32 (11.8 against 15.8 s), 0.71 at 100,000 × 32 ×
#: 1024, 0.66-0.77 at 100,000 × {24 × 128, 48 × 512, 20 × 256} float32 and
#: 24 × 256 float64. Lloyd's E-step alone by the micro-kernel took 0.67-0.83
#: of the GEMM path's at 100,000 × {48 × 64, 32 × 100, 64 × 64, 24 × 1024}
#: float64 and {64 × 100, 32 × 256} float32. Where Yinyang runs it lost:
#: 1.2-1.9 at 100,000 × {32 × 256, 32 × 1024, 64 × 256} float64 and
#: {64 × 256, 64 × 1024} float32.
SIMD_MANY_CLUSTERS = {"features": 17, "group_bounds_clusters": 128,
                      "group_bounds_features": {np.dtype(np.float32): 64,
                                                np.dtype(np.float64): 32}}

_NOTHING = np.empty(0)


def uses_simd(n_features, n_clusters, dtype):
    """Whether E-steps of this shape run the SIMD micro-kernel rather than a GEMM.

    Measured side by side (100,000 rows, 20 iterations, 2 threads, the fit's
    time with the micro-kernel / with the GEMM path): float32 0.84 at 16 × 8,
    0.77 at 32 × 8, 0.85 at 16 × 32, 0.89 at 32 × 16, 0.76 at 2 × 16, 0.95 at
    8 × 8; float64 0.77 at 16 × 8, 0.72 at 32 × 16, 0.79 at 16 × 32, 0.85 at
    64 × 8 (a second run: 0.73-1.04 and 0.73-1.01, 1.0 at 8 × 8 and 64 × 8).
    Not below 16 features × clusters: from 16 to 31 (8 to 10 clusters at 2 or
    3 features), once the kernels' plain pass no longer paid for their
    ``changes_only`` flag (:func:`mixfit.kernels.kmeans.add_rows_in_order`),
    the micro-kernel took 0.76-0.91 of the GEMM path's time (1e4 to 1e6 rows,
    both dtypes) and 0.83-1.02 of the direct kernels' (float64), though 1.05-1.08
    at 1 feature × 8 or 16 clusters (there, as for 3 to 7 clusters at 1 to 3
    features, float64 runs the direct kernels). Nor beyond
    1,024: once both paths carried the clusters' statistics between
    iterations (:mod:`mixfit.engine.kmeans_carried`), the micro-kernel took
    0.55-0.93 of the fit's time at 64 × 16, 32 × 32, 64 × 12, 48 × 20 and
    40 × 24 (both dtypes; 0.76-0.89 at 10,000 rows, 0.94 at 1e6 × 64 × 16
    float32), but 1.07-1.14 at {40, 48} × 32 float32 against the GEMM path's
    two bounds (0.57-0.89 at 64 × 24 and 64 × 32: not kept, for a rule by
    size alone). Below 8 clusters (3 to
    7: 8 lanes, most of them padding) only from 16 features on, where BLAS's
    GEMM with 3 to 5 output columns ran at 1-2 GFLOP/s (14.5 ns a row at
    32 × 3 float64): 10,000 rows, 0.60-0.96 at 16-64 features × 3 and 5
    clusters, but 1.00-1.06 at 32 × 3 and 0.97-1.11 at 8 × 3. Up to 256
    clusters within the 1,024 terms: against the GEMM path's two bounds or
    Hamerly's ("auto"), 20 iterations, 0.42-0.77 of the time at 8 × 64 and
    16 × 64 (1e4 to 1e6 rows, both dtypes), 0.49-0.60 at 8 × 128, 4 × 256 and
    3 × 256; run on to 150 iterations, where the bounds skip most rows,
    0.83-1.02 (8 × 64, 16 × 64 float32, 8 × 128, 4 × 256). "auto" runs
    Lloyd's E-step at these shapes below 16 features (from 16 on, the two
    bounds of :data:`mixfit.engine.kmeans.TWO_BOUND_SIMD`: 100,000 × 16 × 256
    float64 and 16 × 1,024 float32 even over 20 iterations, 0.58-0.85 of the
    time to convergence), and float64 with at most 3
    features and over 32 clusters stays on the direct kernels
    (:data:`mixfit.engine.kmeans_steps.DIRECT_OVER_SIMD_CLUSTERS`). Beyond
    1,024 terms only with at most 16 features (:data:`SIMD_NARROW_WORK`), up
    to 1,024 clusters: 0.48-0.77 of the time at 8 × 256 and 16 × 128 (1e4 to
    1e6 rows, both dtypes; 0.81-0.99 run on to 150 iterations), 0.36-0.78 at
    3, 8 and 16 × 1,024 and 12 × 512 (1e4 and 1e5 rows; 0.60-0.69 run on to
    100), where at 32 to 48 features × 32 or 64 clusters it took 1.08-1.29
    times as long as the GEMM path's two bounds (though 0.51-0.94 at 64 × 32).
    And 2 or 3 clusters from 64 features (float64) or 128 (float32), however
    many: see :data:`BY_FEATURE_CLUSTERS`.
    """
    low, high = SIMD_WORK
    few_clusters, few_min_features = SIMD_FEW_CLUSTERS
    if np.dtype(dtype) not in (np.float32, np.float64):
        return False
    if (few_clusters <= n_clusters <= simd.MAX_PAIRED_CLUSTERS
            and SIMD_PAIRED_MIN_FEATURES <= n_features <= SIMD_PAIRED_MAX_FEATURES):
        return True
    if BY_FEATURE_CLUSTERS[0] <= n_clusters <= BY_FEATURE_CLUSTERS[1] and n_features >= (
            wide.MIN_FEATURES_FLOAT64 if np.dtype(dtype) == np.float64
            else wide.MIN_FEATURES_FLOAT32):
        return True
    if (np.dtype(dtype) == np.float32 and SIMD_CLUSTERS[0] <= n_clusters <= SIMD_FLOAT32["clusters"]
            and n_features <= SIMD_FLOAT32["features"]
            and low <= n_features * n_clusters <= SIMD_FLOAT32["work"]):
        return True
    many = SIMD_MANY_CLUSTERS
    if (many["features"] <= n_features <= SIMD_MAX_FEATURES
            and SIMD_CLUSTERS[0] <= n_clusters <= SIMD_CLUSTERS[1]
            and (n_clusters < many["group_bounds_clusters"]
                 or n_features < many["group_bounds_features"][np.dtype(dtype)])):
        return True
    if n_features > SIMD_MAX_FEATURES:
        wide_min, wide_max, wide_work = SIMD_WIDE_FLOAT64
        return (np.dtype(dtype) == np.float64 and wide_min <= n_features <= wide_max
                and SIMD_CLUSTERS[0] <= n_clusters and n_features * n_clusters <= wide_work)
    clusters_fit = (SIMD_CLUSTERS[0] <= n_clusters <= SIMD_CLUSTERS[1]
                    or (few_clusters <= n_clusters < SIMD_CLUSTERS[0]
                        and n_features >= few_min_features))
    narrow_features, narrow_high = SIMD_NARROW_WORK
    if n_features <= narrow_features:
        high = max(high, narrow_high)
    return clusters_fit and low <= n_features * n_clusters <= high


#: Passes that only label rows, for estimators whose labels come from such
#: passes alone (:class:`mixfit.MiniBatchKMeans`: its batches and final
#: labels, and its ``predict``): the micro-kernel from 8 clusters whenever its
#: K × d centres take at most this many bytes, where they stay in L2 while the
#: rows stream past. One labelling pass over 100,000 rows, 2 threads,
#: micro-kernel / GEMM path: float64 0.78 at 160 × 64, 0.87 at 160 × 16, 0.88
#: at 160 × 32 and 160 × 256, 0.75 at 64 × 32, 0.73 at 64 × 64, 0.85 at
#: 64 × 256, 0.79 at 32 × 256, 0.74 at 32 × 1024, 0.77 at 784 × 64; float32
#: 0.73 at 160 × 64, 0.89 at 160 × 256, 0.92 at 64 × 256, 0.91 at 784 × 16,
#: 0.84 at 784 × 64, 0.89 at 784 × 256. Beyond, the centres spill from L2:
#: 1.18 at 160 × 1024 float64 (1.3 MiB), 1.39 at 784 × 256 float64, 1.91 at
#: 784 × 1024 float32. (A fit's E-steps keep :func:`uses_simd`: there the
#: GEMM path's bounds and carried statistics weigh in too.) Also float64 0.83
#: at 64 × 1024, 0.93 at 160 × 512, 0.84 at 256 × 256, 0.86 at 784 × 128; but
#: float32 at 1,024 clusters 0.96-1.01 at 32, 64 and 128 features and 1.15 at
#: 160 (0.97-1.01 at 512 clusters), hence :data:`LABELLING_FLOAT32_CLUSTERS`.
LABELLING_CENTRE_BYTES = 1 << 20
#: ... and for float32 data at most this many clusters.
LABELLING_FLOAT32_CLUSTERS = 512


def uses_simd_for_labelling(n_features, n_clusters, dtype):
    """Whether a pass that only labels rows of this shape runs the micro-kernel.

    :func:`uses_simd`'s shapes; 3 to 7 clusters from 16 features on, however
    many (a labelling pass over 100,000 rows, micro-kernel / GEMM path:
    float64 0.85 at 784 × 3, 0.78 at 320 × 3, 0.73 at 160 × 5, 0.92 at
    512 × 4, 0.97 at 784 × 5, 0.99 at 784 × 7; float32 0.96 at 784 × 3, 1.02
    at 784 × 5, 0.98 at 784 × 7, 0.91 at 160 × 7; a MiniBatchKMeans fit, its
    batches read in place, 0.82 at 784 × 3 float64, 0.91 float32, 0.74 at
    320 × 3 float64, 0.89 at 160 × 5); and, from 8 clusters (float32: up to
    :data:`LABELLING_FLOAT32_CLUSTERS`), any shape whose centres take at most
    :data:`LABELLING_CENTRE_BYTES`. An estimator that labels with this rule
    must label its training rows and ``predict``'s with it alike, so that the
    two agree on every label.
    """
    if uses_simd(n_features, n_clusters, dtype):
        return True
    dtype = np.dtype(dtype)
    most_clusters = LABELLING_FLOAT32_CLUSTERS if dtype == np.float32 else SIMD_CLUSTERS[1]
    few_clusters, few_min_features = SIMD_FEW_CLUSTERS
    if few_clusters <= n_clusters < SIMD_CLUSTERS[0]:
        return dtype in (np.float32, np.float64) and n_features >= few_min_features
    return (dtype in (np.float32, np.float64)
            and SIMD_CLUSTERS[0] <= n_clusters <= most_clusters
            and n_clusters * n_features * dtype.itemsize <= LABELLING_CENTRE_BYTES)


def simd_e_step(X, centers, sample_weight, blocks, x_squared_norms, shift, runner, labels,
                min_sq_dist, sums=True, changes_only=False, row_index=None):
    """:func:`mixfit.engine.kmeans_steps._fused_e_step` by the SIMD micro-kernel.

    ``x_squared_norms`` (``‖x − shift‖²``, X's dtype) None: each row's norm is
    computed in float64 in the kernel. Blocks and their sum order are those of
    the GEMM path, so the thread count changes nothing. ``changes_only``: the
    statistics returned are their change since the labels ``labels`` held
    (see :func:`mixfit.kernels.kmeans_simd.lloyd_simd_block`). ``row_index``
    (int64, unless None): the rows are ``X[row_index]`` (X C-contiguous), read
    in place; ``blocks``, ``labels`` are then the indexed rows', and the E-step
    is unweighted, with the norms in the kernel, no distances kept and every
    row's statistics.
    """
    if row_index is not None:
        if (sample_weight is not None or x_squared_norms is not None or changes_only
                or min_sq_dist.shape[0] or not sums):
            raise ValueError("simd_e_step: rows read through row_index take no weights, norms, "
                             "distances or changes_only, and give their sums")
        return _simd_e_step_indexed(X, centers, blocks, shift, runner, labels, row_index)
    n_features = X.shape[1]
    n_clusters = centers.shape[0]
    C_t, c_sq_pad, shift_or_nothing = _kernel_operands(centers, shift, X.dtype)
    no_norms = np.empty(0, dtype=X.dtype)
    keep_dist = min_sq_dist.shape[0] > 0
    sum_rows = n_clusters if sums else 0

    if runner.on_numba_threads(len(blocks)):
        def driver(starts, sums, counts, inertia, n_changed):
            simd.lloyd_simd_blocks(
                X, starts, shift_or_nothing, C_t, c_sq_pad, n_clusters,
                no_norms if x_squared_norms is None else x_squared_norms,
                _NOTHING if sample_weight is None else sample_weight, labels,
                min_sq_dist if keep_dist else _NOTHING, sums, counts, inertia, n_changed,
                changes_only,
            )

        return runner.sum_numba_blocks(blocks, n_clusters, sum_rows, n_features, driver)

    def block(rows):
        counts = np.zeros(n_clusters)
        block_sums = np.zeros((sum_rows, n_features))
        inertia, n_changed = simd.lloyd_simd_block(
            X[rows], shift_or_nothing, C_t, c_sq_pad, n_clusters,
            no_norms if x_squared_norms is None else x_squared_norms[rows],
            _NOTHING if sample_weight is None else sample_weight[rows], labels[rows],
            min_sq_dist[rows] if keep_dist else _NOTHING, block_sums, counts, changes_only,
            None, X.nbytes <= wide.IN_CACHE_BYTES,
        )
        return counts, block_sums, inertia, n_changed

    return runner.map_sums(block, blocks)


def _kernel_operands(centers, shift, dtype):
    """The micro-kernel's centres ``(−2(c − shift))ᵀ`` and ``‖c − shift‖²``, padded,
    and the shift in X's dtype (empty for none)."""
    shift_or_nothing = (np.empty(0, dtype=dtype) if shift is None
                        else np.ascontiguousarray(shift, dtype=dtype))
    return (*padded_operands(centers, shift, dtype), shift_or_nothing)


def padded_operands(centers, shift, dtype):
    """``(C_t, c_sq_pad)``: the micro-kernel's padded centres in ``dtype``, the same
    for every caller (E-steps, their two bounds, labelling passes), so that they
    agree on every label. By :func:`mixfit.kernels.kmeans_simd.padded_operands`
    (one numba pass), in the paired layout for at most 4 centres."""
    n_clusters, n_features = centers.shape
    if n_clusters <= simd.MAX_PAIRED_CLUSTERS and n_features >= 2:
        C = _shifted_centers(centers, shift, dtype)
        return simd.padded_centres(-2 * C, _row_sq_norms(C))
    n_padded = -(-n_clusters // simd.LANES) * simd.LANES
    C_t = np.empty((n_features, n_padded), dtype=dtype)
    c_sq_pad = np.empty(n_padded, dtype=dtype)
    with np.errstate(over="ignore"):  # as numpy's: norms beyond the dtype's range are inf
        simd.padded_operands(np.ascontiguousarray(centers, dtype=np.float64),
                             np.empty(0) if shift is None
                             else np.ascontiguousarray(shift, dtype=np.float64), C_t, c_sq_pad)
    return C_t, c_sq_pad


def _simd_e_step_indexed(X, centers, blocks, shift, runner, labels, row_index):
    """:func:`simd_e_step` for the rows ``X[row_index]``, read where they lie."""
    n_features = X.shape[1]
    n_clusters = centers.shape[0]
    C_t, c_sq_pad, shift_or_nothing = _kernel_operands(centers, shift, X.dtype)
    if runner.on_numba_threads(len(blocks)):
        def driver(starts, sums, counts, inertia, n_changed):
            simd.lloyd_simd_rows_blocks(X, row_index, starts, shift_or_nothing, C_t, c_sq_pad,
                                        n_clusters, labels, sums, counts, inertia, n_changed)

        return runner.sum_numba_blocks(blocks, n_clusters, n_clusters, n_features, driver)

    no_values = np.empty(0, dtype=X.dtype)

    def block(rows):
        counts = np.zeros(n_clusters)
        block_sums = np.zeros((n_clusters, n_features))
        inertia, n_changed = simd.lloyd_simd_block(
            X, shift_or_nothing, C_t, c_sq_pad, n_clusters, no_values, _NOTHING, labels[rows],
            no_values, block_sums, counts, False, row_index[rows])
        return counts, block_sums, inertia, n_changed

    return runner.map_sums(block, blocks)
