"""Lloyd's E-step that carries the clusters' statistics from one iteration to the next.

Once labels settle, most rows keep their cluster, yet a plain E-step adds
every row into its cluster's sums again: at 64 features and 8 clusters
(float32, one thread) that was 8 of the 27 ns a row took, and 20 of 50 at
160 × 3. This E-step instead adds to the statistics of the last call only
their change: each row that changed cluster, taken out of its old one and
added to its new one, in float64 (``changes_only`` in
:func:`mixfit.kernels.kmeans_simd.lloyd_simd_block`,
:func:`mixfit.kernels.kmeans_gemm.lloyd_gemm_block` and
:func:`mixfit.kernels.kmeans_direct.lloyd_direct`; at 3 features and 8
clusters the direct kernel's counts and sums were 3.1 of its 9.7 ns a row).
Labels and inertia are the plain E-step's exactly; the sums are the same up
to rounding (added in another order).

The statistics are summed afresh, as a plain E-step sums them, whenever
carrying would cost more or drift further than that:

- on the first call, and after a call that changed more than
  :data:`CARRY_MAX_CHANGED_SHARE` of the rows (a changed row costs two row
  additions, a fresh sum one per row);
- once the rows changed since the last fresh sum add up to the number of rows
  (the rounding of carried sums then has had as many additions as a fresh
  sum has);
- when a cluster's weight falls below half of what it had at the last fresh
  sum: its sums then are what is left after subtracting most of what they
  held, and carry the rounding of the larger sums they were.

Only for unweighted data: each count is then a whole number, exact in
float64 under any order of additions, so a cluster left without rows holds
exactly zero weight (an empty cluster to relocate), and its sums are reset
to exact zeros.
"""

from __future__ import annotations

import numpy as np

from mixfit.engine.kmeans_common import KMeansStats
from mixfit.engine.kmeans_steps import _fused_e_step, _LloydEStep

#: Statistics are carried only after a call that changed at most this share
#: of the labels.
CARRY_MAX_CHANGED_SHARE = 0.25


class _CarriedLloydEStep(_LloydEStep):
    """Lloyd's E-step with the clusters' statistics carried between calls
    (unweighted data only; see the module)."""

    def __init__(self, X, chunk_size, shift, runner, n_clusters, keep_norms=True, x_sq=None):
        super().__init__(X, None, chunk_size, shift, runner, n_clusters, keep_norms, x_sq)
        self.counts = self.sums = None  # the statistics of self.labels; None: none yet
        self.fresh_counts = None  # the counts at the last fresh sum
        self.changed_since_fresh = 0
        self.n_changed = X.shape[0]

    def _carry(self):
        n_samples = self.X.shape[0]
        return (self.counts is not None
                and self.n_changed <= CARRY_MAX_CHANGED_SHARE * n_samples
                and self.changed_since_fresh + self.n_changed < n_samples
                and not np.any(self.counts < 0.5 * self.fresh_counts))

    def __call__(self, centers):
        if not self._carry():
            n_changed, stats = super().__call__(centers)
            self.counts, self.sums = stats.counts.copy(), stats.sums.copy()
            self.fresh_counts = stats.counts.copy()
            self.changed_since_fresh = 0
        else:
            n_changed, change = _fused_e_step(
                self.X, centers, None, self.chunk_size, self.x_sq, self.shift, self.runner,
                self.labels, fast_norms=self.x_sq is None, changes_only=True)
            self.counts += change.counts
            self.sums += change.sums
            # Whole numbers: a cluster without rows has exactly 0.
            self.sums[self.counts == 0] = 0.0
            self.changed_since_fresh += n_changed
            # Copies: the M-step's relocation of empty clusters edits what it is given.
            stats = KMeansStats(self.counts.copy(), self.sums.copy(), change.inertia)
        self.n_changed = n_changed
        return n_changed, stats
