"""Hamerly's pruned E-step, and "auto"'s turns between it and Lloyd's.

Each row keeps its label and a lower bound on its distance to every other
centre; a row whose bounds prove its centre stays the nearest is not computed
(Hamerly, "Making k-means even faster", SDM 2010). The pruning is exact, so
the labels are those of Lloyd's E-step (:mod:`mixfit.engine.kmeans_steps`),
whose GEMM kernels compute the rows that are not pruned.
"""

from __future__ import annotations

import numpy as np

from mixfit.kernels import kmeans as kernels
from mixfit.kernels import kmeans_direct as direct
from mixfit.kernels import kmeans_gemm as gemm_kernels
from mixfit._validation import row_chunks
from mixfit.engine.kmeans_steps import _NOTHING, _Gemm, _LloydEStep, _blocks, _c_rows

#: Centres per block when Hamerly measures the gaps between centres.
_CENTRE_BLOCK = 128


#: The first pruned call computes the centres' gaps (a K × K × d float64 GEMM)
#: only where K times this is at most the number of rows, i.e. where the GEMM
#: costs at most about 1/16 of the call's own pass (float32 GEMMs run twice as
#: fast as float64's).
_GAP_COST = {np.float32: 32, np.float64: 16}


def centre_drift(centers64, previous):
    """How far each centre moved from ``previous`` (an upper bound despite rounding)."""
    drift = np.sqrt(((centers64 - previous) ** 2).sum(axis=1))
    drift *= 1 + 1e-12
    return drift


class _Hamerly(_LloydEStep):
    """Hamerly's pruned E-step: per row a label and a lower bound, kept across iterations.

    Gives the labels of the unpruned pass (see :mod:`mixfit.kernels.kmeans`
    for why the pruning is exact); distances of rows that keep their centre are
    computed directly rather than by the GEMM, so they and the inertia agree
    with the unpruned path to rounding. The bounds are float32 rounded down:
    4 bytes per row instead of 8, and a smaller lower bound only prunes less.
    """

    def __init__(self, X, sample_weight, chunk_size, shift, runner, n_clusters, x_sq=None):
        super().__init__(X, sample_weight, chunk_size, shift, runner, n_clusters, x_sq=x_sq)
        n_samples = X.shape[0]
        self.labels[:] = 0
        self.lower = np.full(n_samples, -np.inf, dtype=np.float32)  # every row is computed
        self.previous = None
        self.blocks = _blocks(n_samples, chunk_size, row_work=X.shape[1] * n_clusters)
        # Rows whose distances each block computed in the last call (what the
        # bounds did not save), in block order.
        self.block_of = {rows.start: index for index, rows in enumerate(self.blocks)}
        self.computed = np.zeros(len(self.blocks), dtype=np.int64)

    def _centre_geometry(self, centers64):
        """The centres' drifts since the last call and half the gap to each one's nearest.

        Returns ``drift`` (K,), the index of the largest drift, the second
        largest, and ``half_gap`` (K,): lower bounds on half the distance from
        each centre to its nearest other one.
        """
        n_clusters = centers64.shape[0]
        drift = np.zeros(n_clusters)
        if self.previous is not None:
            drift = centre_drift(centers64, self.previous)
        order = np.argsort(drift)
        drift_argmax = int(order[-1])
        drift_second = float(drift[order[-2]]) if n_clusters > 1 else 0.0
        if n_clusters == 1:
            return drift, drift_argmax, drift_second, np.full(1, np.inf)
        if self.previous is None and n_clusters * _GAP_COST[self.X.dtype.type] > self.X.shape[0]:
            # No bounds yet, so every row is computed but for those the gaps alone
            # would save; here the gaps' K × K GEMM would cost more than 1/16 of
            # the pass (27 of 94 ms at 10,000 × 784 × 1024 float32). Zero is a
            # valid lower bound on every half-gap: it only prunes less.
            return drift, drift_argmax, drift_second, np.zeros(n_clusters)
        C = centers64 - centers64.mean(axis=0)
        c_sq = np.einsum("ij,ij->i", C, C)
        # Squared distance to the nearest other centre, by blocks of centres: the
        # whole K × K matrix would be 8 MiB at K = 1024, more than the bounds.
        # The blocks go to the runner's threads: alone, this GEMM took 27 ms at
        # 1024 × 784, more than a quarter of an E-step at 10,000 rows.
        nearest = np.empty(n_clusters)
        centre_blocks = list(row_chunks(n_clusters, _CENTRE_BLOCK))

        def nearest_other(block):
            sl = centre_blocks[block]
            between = C[sl] @ C.T
            between *= -2.0
            between += c_sq[sl, None]
            between += c_sq[None, :]
            between[np.arange(between.shape[0]), np.arange(sl.start, sl.stop)] = np.inf
            nearest[sl] = between.min(axis=1)

        self.runner.for_each(nearest_other, len(centre_blocks))
        # A lower bound despite the GEMM's float64 rounding.
        slack = 4.0 * (C.shape[1] + 8) * np.finfo(np.float64).eps * 2.0 * c_sq.max()
        nearest = np.maximum(nearest - slack, 0.0)
        return drift, drift_argmax, drift_second, 0.5 * np.sqrt(nearest)

    def __call__(self, centers):
        n_features = self.X.shape[1]
        n_clusters = centers.shape[0]
        centers64 = np.asarray(centers, dtype=np.float64)
        geometry = self._centre_geometry(centers64)
        kernel = self._direct_kernels if self.direct else self._gemm_kernels
        block, driver = kernel(centers, centers64, *geometry)
        result = self.runner.sum_blocks(self.blocks, n_clusters, n_features, block, driver)
        self.previous = centers64
        return result

    def _direct_kernels(self, centers, centers64, drift, drift_argmax, drift_second, half_gap):
        """The pool's per-block function and the numba driver, by the direct kernels."""
        X, labels, lower = self.X, self.labels, self.lower
        weight = _NOTHING if self.weight is None else self.weight
        n_clusters, n_features = centers64.shape
        gamma = direct.direct_rounding(n_features)

        def block(rows):
            counts = np.zeros(n_clusters)
            sums = np.zeros((n_clusters, n_features))
            X_rows = X[rows]
            w = weight[rows] if weight.shape[0] else weight
            block_labels, block_lower = labels[rows], lower[rows]
            todo = np.empty(rows.stop - rows.start, dtype=np.int64)
            inertia, n_todo = kernels.hamerly_screen(
                X_rows, w, _NOTHING, centers64, block_labels, block_lower, half_gap,
                drift, drift_argmax, drift_second, 0.0, 0.0, gamma, sums, counts, todo,
            )
            full_inertia, n_changed = direct.hamerly_direct_full(
                X_rows, w, todo, n_todo, centers64, gamma, block_labels, block_lower,
                sums, counts,
            )
            self.computed[self.block_of[rows.start]] = n_todo
            return counts, sums, inertia + full_inertia, n_changed

        def driver(starts, sums, counts, inertia, n_changed):
            direct.hamerly_direct_blocks(
                X, starts, weight, _NOTHING, centers64, labels, lower, half_gap, drift,
                drift_argmax, drift_second, gamma, sums, counts, inertia, n_changed,
                self.computed,
            )

        return block, driver

    def _gemm_kernels(self, centers, centers64, drift, drift_argmax, drift_second, half_gap):
        """The pool's per-block function and the numba driver, by GEMMs."""
        X, labels, lower, x_sq = self.X, self.labels, self.lower, self.x_sq
        chunk_size = self.chunk_size
        weight = _NOTHING if self.weight is None else self.weight
        n_clusters, n_features = centers64.shape
        gemm = _Gemm(centers, self.shift, X.dtype, bounds=True)

        def block(rows):
            counts = np.zeros(n_clusters)
            sums = np.zeros((n_clusters, n_features))
            inertia, n_changed, n_computed = gemm_kernels.hamerly_gemm_block(
                _c_rows(X, rows), weight[rows] if weight.shape[0] else weight, x_sq[rows],
                centers64, labels[rows], lower[rows], half_gap, drift, drift_argmax,
                drift_second, gemm.tau_coef, gemm.c_max_sq, gemm.shift_or_nothing,
                gemm.C_neg2, gemm.C_neg2_t, gemm.c_sq, sums, counts, chunk_size,
            )
            self.computed[self.block_of[rows.start]] = n_computed
            return counts, sums, inertia, n_changed

        def driver(starts, sums, counts, inertia, n_changed):
            gemm_kernels.hamerly_gemm_blocks(
                X, starts, weight, x_sq, centers64, labels, lower, half_gap, drift,
                drift_argmax, drift_second, gemm.tau_coef, gemm.c_max_sq,
                gemm.shift_or_nothing, gemm.C_neg2, gemm.C_neg2_t, gemm.c_sq, sums, counts,
                inertia, n_changed, self.computed, chunk_size,
            )

        return block, driver


#: ``algorithm="auto"`` (:class:`_AutoHamerly`) tries Hamerly's bounds once at
#: most this share of the rows changed label in a Lloyd step ...
SETTLED_SHARE = 0.05

#: ... and goes back to Lloyd's E-step when the bounds leave more than this
#: share of the rows to compute: screening every row then costs more than the
#: rows it saves.
PRUNED_SHARE_NEEDED = 0.5

#: ... after this many such calls in a row (the two-bound E-step waits for
#: ``kmeans_two_bound.BAD_CALLS``). Two here took 1.04-1.16 of the time at
#: {10,000, 100,000} × 32 × {256, 1,024} float32, 0.997-1.004 elsewhere.
BAD_CALLS = 1


class _AutoHamerly(_Hamerly):
    """``algorithm="auto"`` from 64 clusters on: Lloyd's E-step while the bounds
    would not pay, Hamerly's while they do.

    Hamerly's screen costs a distance and two bound updates per row, and saves
    only the rows whose bounds hold, which needs centres that have almost
    stopped moving. On the benchmark grid's blobs it saved nothing in the first
    20 iterations even with labels settled (float32 100,000 × 784 × 256:
    8.3 s against Lloyd's 6.1 s; 16 × 256: 288 against 239 ms), while to
    convergence it won (0.70-0.89 of Lloyd's time). So a fit runs Lloyd's
    E-step until at most :data:`SETTLED_SHARE` of the rows change label, then
    Hamerly's (its first call computes every row, renewing the bounds); when
    the bounds leave more than :data:`PRUNED_SHARE_NEEDED` of the rows to
    compute, it goes back to Lloyd for 2, then 4, 8, ... iterations before it
    tries again. Both give the same labels (Hamerly's pruning is exact), and the
    decisions follow counts of rows, never timings, so a fit is reproducible
    and independent of the thread count.
    """

    def __init__(self, X, sample_weight, chunk_size, shift, runner, n_clusters, x_sq=None):
        super().__init__(X, sample_weight, chunk_size, shift, runner, n_clusters, x_sq=x_sq)
        self.labels[:] = -1  # Lloyd's first step counts every row as changed
        self.pruning = False
        self.first_pruned_call = False
        self.lloyd_steps_left = 0
        self.backoff = 2
        self.bad_calls = 0

    #: Pruned calls in a row that compute too many rows before Lloyd's turn.
    bad_calls_allowed = BAD_CALLS

    def __call__(self, centers):
        n_samples = self.X.shape[0]
        if not self.pruning:
            n_changed, stats = _LloydEStep.__call__(self, centers)
            if self.lloyd_steps_left > 0:
                self.lloyd_steps_left -= 1
            elif n_changed <= SETTLED_SHARE * n_samples:
                self.pruning = self.first_pruned_call = True
                self.lower[:] = -np.inf  # bounds from Lloyd's steps are unknown
                self.previous = None
            return n_changed, stats
        result = super().__call__(centers)
        if self.first_pruned_call:  # every row was computed, to set the bounds
            self.first_pruned_call = False
            self.bad_calls = 0
        elif self.computed.sum() > PRUNED_SHARE_NEEDED * n_samples:
            self.bad_calls += 1
            if self.bad_calls >= self.bad_calls_allowed:
                self.pruning = False
                self.lloyd_steps_left = self.backoff
                self.backoff *= 2
        else:
            self.bad_calls = 0
        return result
