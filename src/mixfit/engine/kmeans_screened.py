"""Float64 labelling passes by the float32 micro-kernel, screened (see the kernel).

:mod:`mixfit.kernels.kmeans_screened` labels float64 rows in float32 and
labels again in float64 every row whose float32 margin the rounding could
explain, so its labels are the float64 micro-kernel's. :func:`screens_in_float32`
is where the shapes are chosen, for float64 passes that only label rows
(:func:`mixfit.engine.kmeans_steps._e_step_kernel` with ``labelling=True``
asks it first, before the micro-kernel's own rule).
"""

from __future__ import annotations

import numpy as np

from mixfit.engine.kmeans_simd import LABELLING_CENTRE_BYTES, simd_e_step
from mixfit.kernels import kmeans_screened as screened
from mixfit.kernels import kmeans_simd as simd

__all__ = ["screened_e_step", "screens_in_float32"]

_NOTHING = np.empty(0)
_NO_ROWS = np.empty(0, dtype=np.int64)

#: Fewest features, and features × clusters, labelled through float32. A
#: MiniBatchKMeans fit (100,000 rows, 97 batches of 1,024 and the final
#: labels, 2 threads), screened / float64 micro-kernel: 0.75 at 64 × 1024,
#: 0.84 at 64 × 256 and 160 × 256, 0.86 at 32 × 1024, 0.93-0.98 at 32 × 256,
#: 0.83 at 784 × 64, 0.88 at 784 × 32, 0.97-0.98 at 784 × 16, 0.93-1.0 at
#: 160 × 64. Below, the rounding, the runner-up and the distance to the
#: label's centre cost more than float32 saves: 1.08-1.13 at 160 × 32,
#: 1.07-1.2 at 64 × 64, 1.33-1.38 at 64 × 32, 1.45 at 32 × 64, 1.08 at
#: 16 × 1024, 1.43 at 16 × 256, 1.6 at 8 × 256; 784 × 8 0.95.
SCREEN_MIN_FEATURES = 32
SCREEN_MIN_WORK = 8192
SCREEN_MAX_CLUSTERS = 1024


def screens_in_float32(n_features, n_clusters, dtype):
    """Whether a float64 labelling pass of this shape runs screened in float32.

    Up to 1,024 clusters whose float32 centres take at most
    :data:`~mixfit.engine.kmeans_simd.LABELLING_CENTRE_BYTES` (there they stay
    in L2 while the rows stream past): 784 × 256 and 160 × 1,024, which the
    float64 micro-kernel leaves to the GEMM (their float64 centres spill),
    labelled here too. Every caller of a shape labels alike.
    """
    return (np.dtype(dtype) == np.float64 and simd.LANES <= n_clusters <= SCREEN_MAX_CLUSTERS
            and n_features >= SCREEN_MIN_FEATURES
            and n_features * n_clusters >= SCREEN_MIN_WORK
            and n_features * n_clusters * 4 <= LABELLING_CENTRE_BYTES)


class _Operands:
    """Both precisions' padded centres and the bound's ``max‖c − shift‖²``."""

    def __init__(self, centers, shift):
        n_clusters, n_features = centers.shape
        n_padded = -(-n_clusters // simd.LANES) * simd.LANES
        self.centers = np.ascontiguousarray(centers, dtype=np.float64)
        self.shift = (np.empty(0) if shift is None
                      else np.ascontiguousarray(shift, dtype=np.float64))
        self.C_t64 = np.empty((n_features, n_padded))
        self.c_sq64 = np.empty(n_padded)
        self.C_t32 = np.empty((n_features, n_padded), dtype=np.float32)
        self.c_sq32 = np.empty(n_padded, dtype=np.float32)
        with np.errstate(over="ignore"):  # unusable then (float32 overflows), never read
            self.centre_max_sq = screened.screened_operands(
                self.centers, self.shift, self.C_t64, self.c_sq64, self.C_t32, self.c_sq32)

    @property
    def usable(self):
        """Whether the centres are small enough for float32 sums (else the float64 kernel)."""
        return bool(self.centre_max_sq <= screened.LARGEST_CENTRE_SQ)


def screened_e_step(X, centers, sample_weight, blocks, shift, runner, labels, min_sq_dist,
                    sums=True, row_index=None):
    """A labelling pass by :func:`mixfit.kernels.kmeans_screened.lloyd_screened_block`.

    As :func:`mixfit.engine.kmeans_simd.simd_e_step` (no ``changes_only``, no
    norms given): returns ``(n_changed, stats)``; ``row_index`` (int64, unless
    None) makes the rows ``X[row_index]``, read in place, with ``blocks``,
    ``labels``, ``sample_weight`` and ``min_sq_dist`` the indexed rows'.
    Centres too large for float32's range run the float64 micro-kernel.
    """
    operands = _Operands(centers, shift)
    if not operands.usable:
        if row_index is not None:
            return simd_e_step(X, centers, None, blocks, None, shift, runner, labels, _NOTHING,
                               row_index=row_index)
        return simd_e_step(X, centers, sample_weight, blocks, None, shift, runner, labels,
                           min_sq_dist, sums)
    n_clusters, n_features = centers.shape
    sum_rows = n_clusters if sums else 0
    weight = _NOTHING if sample_weight is None else sample_weight
    keep_dist = min_sq_dist.shape[0] > 0
    if runner.on_numba_threads(len(blocks)):
        def driver(starts, block_sums, counts, inertia, n_changed):
            n_again = np.zeros(len(n_changed), dtype=np.int64)
            screened.lloyd_screened_blocks(
                X, starts, operands.shift, operands.C_t32, operands.c_sq32, operands.C_t64,
                operands.c_sq64, operands.centers, operands.centre_max_sq, weight, labels,
                min_sq_dist if keep_dist else _NOTHING, block_sums, counts, inertia, n_changed,
                n_again, _NO_ROWS if row_index is None else row_index)

        return runner.sum_numba_blocks(blocks, n_clusters, sum_rows, n_features, driver)

    def block(rows):
        counts = np.zeros(n_clusters)
        block_sums = np.zeros((sum_rows, n_features))
        inertia, n_changed, _ = screened.lloyd_screened_block(
            X if row_index is not None else X[rows], operands.shift, operands.C_t32,
            operands.c_sq32, operands.C_t64, operands.c_sq64, operands.centers,
            operands.centre_max_sq, weight[rows] if weight.shape[0] else weight, labels[rows],
            min_sq_dist[rows] if keep_dist else _NOTHING, block_sums, counts,
            None if row_index is None else row_index[rows])
        return counts, block_sums, inertia, n_changed

    return runner.map_sums(block, blocks)
