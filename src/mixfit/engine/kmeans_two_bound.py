"""Hamerly's bounds that spare the read of X, and "auto"'s turns between them and Lloyd's.

Where an E-step is one read of X from memory (few clusters, tens to hundreds
of features), pruning pays only if the pruned rows are not read.
:class:`_TwoBoundHamerly` keeps an upper bound per row besides Hamerly's lower one,
so that such rows are skipped (:mod:`mixfit.kernels.kmeans_two_bound`), and keeps
the statistics of the current labels across calls, adding to them the change
that each call makes: the rows that changed cluster, taken out of one and
added to the other, in float64.

The inertia of a call then comes from per-cluster statistics rather than per
row: with ``x' = x − shift`` and ``c' = c − shift``,
``Σ_{i∈k} w_i‖x'_i − c'_k‖² = Q_k − 2 c'_k·S'_k + W_k‖c'_k‖²``, where ``W_k``
is the weight, ``S'_k`` the weighted sum of ``x'`` and ``Q_k`` that of
``‖x'‖²`` (the fit's kept norms). Its rounding is of the order of
``eps·Q_k``, the same order as the GEMM path's per-row distances
``‖x'‖² + ‖c'‖² − 2x'·c'`` in float64, and far below it for float32 data,
whose kept norms are float32 as the GEMM path's are.
"""

from __future__ import annotations

import numpy as np

from mixfit.engine.kmeans_common import KMeansStats
from mixfit.engine.kmeans_hamerly import _AutoHamerly, _Hamerly
from mixfit.engine.kmeans_simd import padded_operands
from mixfit.engine.kmeans_steps import _NOTHING, _Gemm, _c_rows, _e_step_kernel
from mixfit.kernels import kmeans_two_bound


class _TwoBoundHamerly(_Hamerly):
    """Hamerly's E-step with upper and lower bounds per row, reading only the rows it
    computes; the statistics are carried from call to call (see the module).

    The labels are those of Lloyd's E-step for the same centres: the computed
    rows go through its kernel (the GEMM, or the SIMD micro-kernel at its
    shapes), and the bounds must beat that kernel's rounding bound. The
    sums are the same up to rounding: they are added up in a different order
    (the statistics of the first call, then each call's changes).
    """

    def __init__(self, X, sample_weight, chunk_size, shift, runner, n_clusters, x_sq=None):
        super().__init__(X, sample_weight, chunk_size, shift, runner, n_clusters, x_sq=x_sq)
        self.upper = np.full(X.shape[0], np.inf, dtype=np.float32)  # unknown: every row computed
        # Weights (K,), and the weighted sums of x (K, d) and of ‖x − shift‖² (K, 1)
        # side by side, of the labels as they stand; None until a call has set them.
        self.counts = self.table = None
        # At the SIMD micro-kernel's shapes its labels are Lloyd's, and so ours.
        self.simd = _e_step_kernel(X.shape[1], n_clusters, X.dtype) == "simd"

    def __call__(self, centers):
        n_features = self.X.shape[1]
        n_clusters = centers.shape[0]
        centers64 = np.asarray(centers, dtype=np.float64)
        # Fresh bounds (first call, or "auto" back from Lloyd's steps) mean fresh statistics.
        has_stats = self.previous is not None and self.counts is not None
        if self.previous is None:
            self.upper[:] = np.inf
        geometry = self._centre_geometry(centers64)
        block, driver = self._two_bound_kernels(centers, centers64, has_stats, *geometry)
        n_changed, change = self.runner.sum_blocks(self.blocks, n_clusters, n_features + 1,
                                                   block, driver)
        if has_stats:
            self.counts = self.counts + change.counts
            self.table = self.table + change.sums
        else:
            self.counts, self.table = change.counts, change.sums
        self.previous = centers64
        # Copies: the M-step moves relocated rows out of the statistics it is given.
        return n_changed, KMeansStats(self.counts.copy(), self.table[:, :n_features].copy(),
                                      self._inertia(centers64))

    def _inertia(self, centers64):
        """``Σ_k Q_k − 2 c'_k·S'_k + W_k‖c'_k‖²`` from the statistics (see the module)."""
        n_features = centers64.shape[1]
        sums, sq = self.table[:, :n_features], self.table[:, n_features]
        C, S = centers64, sums
        if self.shift is not None:
            shift = np.asarray(self.shift, dtype=np.float64)
            C = centers64 - shift
            S = sums - self.counts[:, None] * shift
        per_cluster = (sq - 2.0 * np.einsum("ij,ij->i", C, S)
                       + self.counts * np.einsum("ij,ij->i", C, C))
        # Rounding may leave a tight cluster's value a little below zero.
        return float(np.maximum(per_cluster, 0.0).sum())

    def _two_bound_kernels(self, centers, centers64, has_stats, drift, drift_argmax,
                           drift_second, half_gap):
        """The pool's per-block function and the numba driver."""
        X, labels, lower, upper, x_sq = self.X, self.labels, self.lower, self.upper, self.x_sq
        chunk_size = self.chunk_size
        weight = _NOTHING if self.weight is None else self.weight
        n_clusters, n_features = centers64.shape
        gemm = _Gemm(centers, self.shift, X.dtype, bounds=True)
        if self.simd:
            # Lloyd's E-step labels these shapes by the SIMD micro-kernel: the
            # computed rows go through it too (labels and bounds).
            C_t, c_sq_pad = padded_operands(centers, self.shift, X.dtype)
        else:
            C_t, c_sq_pad = np.empty((0, 0), dtype=X.dtype), np.empty(0, dtype=X.dtype)

        def block(rows):
            counts = np.zeros(n_clusters)
            change = np.zeros((n_clusters, n_features + 1))
            n_changed, n_computed = kmeans_two_bound.two_bound_block(
                _c_rows(X, rows), weight[rows] if weight.shape[0] else weight, x_sq[rows],
                centers64, labels[rows], lower[rows], upper[rows], half_gap, drift, drift_argmax,
                drift_second, gemm.tau_coef, gemm.c_max_sq, gemm.shift_or_nothing, gemm.C_neg2,
                gemm.C_neg2_t, gemm.c_sq, C_t, c_sq_pad, has_stats, change, counts, chunk_size,
            )
            self.computed[self.block_of[rows.start]] = n_computed
            return counts, change, 0.0, n_changed

        def driver(starts, change, counts, inertia, n_changed):
            kmeans_two_bound.two_bound_blocks(
                X, starts, weight, x_sq, centers64, labels, lower, upper, half_gap, drift,
                drift_argmax, drift_second, gemm.tau_coef, gemm.c_max_sq,
                gemm.shift_or_nothing, gemm.C_neg2, gemm.C_neg2_t, gemm.c_sq, C_t, c_sq_pad,
                has_stats, change, counts, inertia, n_changed, self.computed, chunk_size,
            )

        return block, driver


#: :class:`_AutoTwoBound` goes back to Lloyd's E-step only after this many
#: calls in a row compute more than ``PRUNED_SHARE_NEEDED`` of the rows: the
#: second call after the bounds were set often comes while centres still move,
#: and going back then cost a full pass or two of a fit about to settle. Two
#: rather than one: 0.80-0.84 of the time at 1e6 × 160 × 16 (both dtypes),
#: 0.77 at 100,000 × 160 × 32 float32, 0.99-1.02 at 64 × 32, 32 × 32, 784 × 16
#: (100,000 rows), 64 × 16 and 160 × 32 (1e6), 20 iterations, 2 threads.
BAD_CALLS = 2


class _AutoTwoBound(_AutoHamerly, _TwoBoundHamerly):
    """``algorithm="auto"`` where an E-step reads X once for little arithmetic:
    Lloyd's E-step while the bounds would not pay, the two-bound one while
    they do, with :class:`~mixfit.engine.kmeans_hamerly._AutoHamerly`'s rules
    for the turns (which set ``previous`` to None on each turn to the bounds,
    so the first call renews bounds and statistics), but :data:`BAD_CALLS`
    pruned calls that do not pay before Lloyd's turn."""

    bad_calls_allowed = BAD_CALLS
