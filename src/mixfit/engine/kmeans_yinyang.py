"""Yinyang's pruned E-step: a lower bound per row per group of centres.

Ding, Zhao, Shen, Musuvathi and Mytkowicz, "Yinyang K-Means: A Drop-In
Replacement of the Classic K-Means with Consistent Speedup", ICML 2015. The
centres are cut once, at the first call, into about K / 10 groups (K / 5 where
rows are long, see :func:`group_count`) by a few Lloyd iterations over the
centres themselves; each row then keeps a float32 lower bound per group (see
:mod:`mixfit.kernels.kmeans_yinyang` for the filters and why the labels are
Lloyd's). Where Hamerly's one bound per row
(:mod:`mixfit.engine.kmeans_hamerly`) is undone by any near centre, the group
bounds still rule out the far groups, so a row computes the distances to the
centres of its own region only.
"""

from __future__ import annotations

import numpy as np

from mixfit.kernels import kmeans_yinyang as yinyang_kernels
from mixfit.kernels.kmeans import add_rows_by_label
from mixfit.engine.kmeans_hamerly import centre_drift
from mixfit.engine.kmeans_steps import _NOTHING, _Gemm, _LloydEStep, _blocks, _c_rows

#: Centres per group (Ding et al. use K / 10 groups) ...
CENTRES_PER_GROUP = 10

#: ... or this many where that makes at most a third as many groups as
#: features, and at most :data:`MOST_FEW_GROUPS` (:func:`group_count`): where a
#: row is long, a bound more per row costs little against the distances a
#: smaller failing group saves. 20 iterations at 100,000 rows, time with 5 (or
#: 4, 3) centres a group / with 10: float32 0.83-0.87 at 784 × 256 (float64
#: 0.78 with 4), 0.91 at 160 × 256; but 1.20 at 160 × 1024 (205 bounds a row
#: of 160 features), 1.06 at 64 × 256, and at 784 × 1,024 (205 groups) 0.99
#: and 0.96 (float64) at 100,000 rows but 1.43 and 1.05 at 10,000.
FEW_CENTRES_PER_GROUP = 5
MOST_FEW_GROUPS = 64


def group_count(n_clusters, n_features):
    """How many groups Yinyang cuts ``n_clusters`` centres into, for rows of ``n_features``."""
    few = -(-n_clusters // FEW_CENTRES_PER_GROUP)
    if 3 * few <= n_features and few <= MOST_FEW_GROUPS:
        return few
    return -(-n_clusters // CENTRES_PER_GROUP)


#: Lloyd iterations that group the centres (Ding et al. use 5).
GROUPING_ITERATIONS = 5

#: What one distance computed by the group filter costs, in distance terms of
#: the GEMM: a chunk whose failing rows would need more than ``1 / DIRECT_COST``
#: of its GEMM's distances goes through the GEMM. Measured on the Xeon, float32:
#: 5 ns against 1.25 at 64 features, 48 against 13 at 784 (256 clusters); 4
#: rather than 8 took 0.81 of the time of "auto" over 20 iterations at
#: 100,000 × 784 × 256 float32 (0.89 float64; 0.99-1.02 at 64 and 160).
DIRECT_COST = 4.0


def group_centres(centers64, n_groups):
    """Cut the centres into at most ``n_groups`` groups of near centres.

    Lloyd's algorithm on the centres, from evenly spaced ones among them (the
    centres come in no particular order), for :data:`GROUPING_ITERATIONS`
    iterations; groups that end empty are dropped. Deterministic.

    Returns
    -------
    group_of : ndarray of shape (n_clusters,), int64
        Each centre's group, numbered from 0 without gaps.
    """
    n_clusters = centers64.shape[0]
    n_groups = max(1, min(n_groups, n_clusters))
    seeds = np.linspace(0, n_clusters - 1, n_groups).round().astype(np.int64)
    means = centers64[seeds].copy()
    # The groups steer the pruning only, never a label: their distances are
    # float32 (half the GEMM's time), without each centre's constant ‖c‖², the
    # −2 on the small side. With float64, a K × d temporary and np.add.at the
    # grouping took 20 ms at 1024 × 784, most of a 3-iteration fit's overhead.
    centers32 = centers64.astype(np.float32)
    group_of = np.zeros(n_clusters, dtype=np.int64)
    for _ in range(GROUPING_ITERATIONS):
        sq = (centers32 @ (-2.0 * means).astype(np.float32).T
              + np.einsum("ij,ij->i", means, means))
        group_of = np.argmin(sq, axis=1)
        counts = np.bincount(group_of, minlength=means.shape[0])
        sums = np.zeros_like(means)
        add_rows_by_label(centers64, group_of, _NOTHING, sums)
        filled = counts > 0
        means[filled] = sums[filled] / counts[filled, None]
    # Number the groups that kept a centre 0, 1, ... in order.
    used = np.unique(group_of)
    renumber = np.full(means.shape[0], -1, dtype=np.int64)
    renumber[used] = np.arange(used.shape[0])
    return renumber[group_of]


class _Yinyang(_LloydEStep):
    """Yinyang's pruned E-step on the GEMM kernels: labels and group bounds kept across calls.

    Gives the labels of the unpruned pass; the distances the group filter
    computes are rounded far less than the GEMM's, so the inertia agrees with
    the unpruned path to rounding. The bounds are ``n × G`` float32
    (:func:`group_count`: G ≈ K / 10, or K / 5 when that is at most d / 3 and 64).
    """

    def __init__(self, X, sample_weight, chunk_size, shift, runner, n_clusters, x_sq=None):
        super().__init__(X, sample_weight, chunk_size, shift, runner, n_clusters, x_sq=x_sq)
        self.labels[:] = 0
        self.n_clusters = n_clusters
        self.lower = None  # (n, G) once the groups are known, at the first call
        self.previous = None
        self.blocks = _blocks(X.shape[0], chunk_size, row_work=X.shape[1] * n_clusters)
        self.block_of = {rows.start: index for index, rows in enumerate(self.blocks)}
        # What each block computed in the last call: rows through the GEMM and
        # distances one by one.
        self.n_gemm = np.zeros(len(self.blocks), dtype=np.int64)
        self.n_direct = np.zeros(len(self.blocks), dtype=np.int64)

    def _start(self, centers64):
        """Group the centres and make every row's bounds unknown."""
        n_groups = group_count(self.n_clusters, self.X.shape[1])
        self.group_of = group_centres(centers64, n_groups)
        self.members = np.argsort(self.group_of, kind="stable").astype(np.int64)
        sizes = np.bincount(self.group_of)
        self.group_start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.lower = np.full((self.X.shape[0], sizes.shape[0]), -np.inf, dtype=np.float32)
        self.drift_total = np.zeros(sizes.shape[0])

    def group_bounds(self):
        """Each row's lower bound on its distance to each group's centres (but its own), now.

        ``lower`` stores them plus the group's drift total when each was set.
        """
        return self.lower.astype(np.float64) - self.drift_total

    def share_computed(self):
        """The last call's work as a share of an unpruned E-step's distances."""
        direct = self.n_direct.sum() * DIRECT_COST / self.n_clusters
        return (self.n_gemm.sum() + direct) / self.X.shape[0]

    def __call__(self, centers):
        centers64 = np.asarray(centers, dtype=np.float64)
        if self.lower is None:
            self._start(centers64)
        if self.previous is not None:
            group_drift = np.zeros_like(self.drift_total)
            np.maximum.at(group_drift, self.group_of, centre_drift(centers64, self.previous))
            self.drift_total += group_drift
        block, driver = self._kernels(centers, centers64, self.drift_total)
        result = self.runner.sum_blocks(self.blocks, *centers64.shape, block, driver)
        self.previous = centers64
        return result

    def _kernels(self, centers, centers64, drift_total):
        """The pool's per-block function and the numba driver."""
        X, labels, lower, x_sq = self.X, self.labels, self.lower, self.x_sq
        chunk_size = self.chunk_size
        weight = _NOTHING if self.weight is None else self.weight
        n_clusters, n_features = centers64.shape
        gemm = _Gemm(centers, self.shift, X.dtype, bounds=True)
        # The group filter's centres: the GEMM's (shifted, in X's dtype), in group order.
        grouped = np.ascontiguousarray(gemm.C_neg2[self.members] / X.dtype.type(-2))
        fresh = self.previous is None  # no bounds yet: every row through the GEMM
        groups = (grouped, self.members, self.group_start, self.group_of, drift_total)

        def block(rows):
            counts = np.zeros(n_clusters)
            sums = np.zeros((n_clusters, n_features))
            inertia, n_changed, n_gemm, n_direct = yinyang_kernels.yinyang_gemm_block(
                _c_rows(X, rows), weight[rows] if weight.shape[0] else weight, x_sq[rows],
                centers64, *groups, labels[rows], lower[rows], gemm.tau_coef, gemm.c_max_sq,
                gemm.shift_or_nothing, gemm.C_neg2, gemm.C_neg2_t, gemm.c_sq, sums, counts,
                chunk_size, DIRECT_COST, fresh,
            )
            index = self.block_of[rows.start]
            self.n_gemm[index] = n_gemm
            self.n_direct[index] = n_direct
            return counts, sums, inertia, n_changed

        def driver(starts, sums, counts, inertia, n_changed):
            yinyang_kernels.yinyang_gemm_blocks(
                X, starts, weight, x_sq, centers64, *groups, labels, lower, gemm.tau_coef,
                gemm.c_max_sq, gemm.shift_or_nothing, gemm.C_neg2, gemm.C_neg2_t, gemm.c_sq,
                sums, counts, inertia, n_changed, self.n_gemm, self.n_direct, chunk_size,
                DIRECT_COST, fresh,
            )

        return block, driver


#: ``algorithm="auto"`` (:class:`_AutoYinyang`) goes back to Lloyd's E-step
#: when the work of :data:`BAD_CALLS` calls in a row
#: (:meth:`_Yinyang.share_computed`) exceeds this share of an unpruned pass:
#: the bounds then cost more than they save.
PRUNED_SHARE_NEEDED = 0.5

#: Not one call: the first update moves every centre from its starting row to
#: a mean, so the bounds set before it seldom hold after it. Backing off after
#: that one call made "auto" 1.8-2.1× slower than Yinyang throughout at
#: 10,000 × {160, 784} × 256 float32 (the fits converge in a few iterations,
#: and a retry costs a full pass).
BAD_CALLS = 2


class _AutoYinyang(_Yinyang):
    """``algorithm="auto"`` for many clusters and features: Yinyang's E-step while it pays.

    Unlike Hamerly's one bound (:class:`mixfit.engine.kmeans_hamerly._AutoHamerly`),
    the group bounds prune from the second iteration on, while labels still
    change: far groups are ruled out however the near centres move. So a fit
    starts with Yinyang's E-step (its first call is a full GEMM that sets the
    bounds); when :data:`BAD_CALLS` calls in a row each compute more than
    :data:`PRUNED_SHARE_NEEDED` of an unpruned pass, it runs Lloyd's for 2,
    then 4, 8, ... iterations and tries again with fresh bounds. The decisions follow counts, never timings, and
    both E-steps give Lloyd's labels, so a fit is reproducible and independent
    of the thread count.
    """

    def __init__(self, X, sample_weight, chunk_size, shift, runner, n_clusters, x_sq=None):
        super().__init__(X, sample_weight, chunk_size, shift, runner, n_clusters, x_sq=x_sq)
        self.pruning = True
        self.first_pruned_call = True
        self.bad_calls = 0
        self.lloyd_steps_left = 0
        self.backoff = 2

    def __call__(self, centers):
        if not self.pruning:
            result = _LloydEStep.__call__(self, centers)
            self.lloyd_steps_left -= 1
            if self.lloyd_steps_left <= 0:
                self.pruning = self.first_pruned_call = True
                self.lower[:] = -np.inf  # bounds from before Lloyd's steps are stale
                self.drift_total[:] = 0.0
                self.previous = None
            return result
        result = super().__call__(centers)
        if self.first_pruned_call:  # every row was computed, to set the bounds
            self.first_pruned_call = False
            return result
        self.bad_calls = self.bad_calls + 1 if self.share_computed() > PRUNED_SHARE_NEEDED else 0
        if self.bad_calls >= BAD_CALLS:
            self.pruning = False
            self.bad_calls = 0
            self.lloyd_steps_left = self.backoff
            self.backoff *= 2
        return result
