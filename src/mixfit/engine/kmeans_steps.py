"""The E-steps of Lloyd's algorithm: numpy reference and fused numba.

Each E-step object is called with the current centres and returns
``(n_changed, KMeansStats)``, holding the labels across iterations (see
:func:`mixfit.engine.kmeans.lloyd`). Distances come from GEMMs on chunks of
rows, each followed by a fused numba pass, all inside one numba call per block
(:mod:`mixfit.kernels.kmeans_gemm`), or, for few features × clusters, from one
numba pass per block with no GEMM: the SIMD micro-kernel
(:func:`~mixfit.engine.kmeans_simd.uses_simd`) or the direct kernels
(:func:`_uses_direct`). Row
blocks run on the shared thread pool (threads only where the work pays,
:func:`_runner`) with BLAS at one thread; their statistics are summed in an
order fixed by the number of blocks alone, so the thread count never changes a
rounding (:mod:`mixfit.engine.kmeans_runner`). The pruned
E-steps build on these (:mod:`mixfit.engine.kmeans_hamerly`).
"""

from __future__ import annotations

import functools

import numpy as np

from mixfit.kernels import kmeans as kernels
from mixfit.kernels import kmeans_direct as direct
from mixfit.kernels import kmeans_gemm as gemm_kernels
from mixfit.kernels.parallel import numba_threads_usable
from mixfit._parallel import map_ranges
from mixfit._validation import row_chunks
from mixfit.engine.kmeans_projected import uses_projection
from mixfit.engine.kmeans_screened import screened_e_step, screens_in_float32
from mixfit.engine.kmeans_simd import simd_e_step, uses_simd, uses_simd_for_labelling
from mixfit.engine.kmeans_runner import _Runner
from mixfit.engine.kmeans_common import (
    _e_step,
    _row_sq_norms,
    _rows_first,
    _shifted,
    _shifted_centers,
)

#: Rows per block of work: a fixed multiple of the chunk, so that the order in
#: which partial statistics are summed (hence every rounding) never depends on n_jobs.
_BLOCK_ROWS = 16384

#: The direct kernels (:mod:`mixfit.kernels.kmeans_direct`, no GEMM) run for
#: float64 data with at most this many features ...
DIRECT_MAX_FEATURES = 3

#: ... and ``n_features × n_clusters`` in this range (both ends included).
#: Measured on the E-step of 16,384 rows, one thread, against the block GEMM
#: kernels (:mod:`mixfit.kernels.kmeans_gemm`), direct / GEMM time: float64
#: 0.77-0.97 at d = 2 for K 16-256 and 0.82-0.96 at d = 3 for K 16-256 (1.05 at
#: K = 128), and 0.98-1.37 at d = 4, 1.3-3.7 beyond. Below 32 terms it lost
#: (1.11-1.28) until its rows were transposed column by column and the
#: statistics carried (:mod:`mixfit.engine.kmeans_carried`): whole fits then
#: took 0.61-0.98 of the GEMM path's time from 2 to 16 terms (1 to 3
#: features × 2 to 7 clusters, and 1 × 16; 1e4 to 1e6 rows, 0.98 at
#: 1e6 × 3 × 3);
#: float32 1.10-4.2 everywhere (d 2-16, K 2-256): BLAS does one FMA on 16 lanes
#: where the direct kernel does three flops on 4 float64 lanes. Whole fits (1e5
#: rows, 20 iterations, 2 threads) agreed: GEMM / direct 1.02 at 3 × 12 and 1.11
#: at 3 × 64 float64; 0.67-0.93 for float32 (2 × 3 to 16 × 3) and for float64
#: at 8 × 16 and 16 × 8. (Before the block kernels moved the GEMM path's chunk
#: loop out of Python, the direct kernels won far more shapes.)
DIRECT_WORK = (1, 2048)

#: Fewest distance terms (rows × n_features × n_clusters) per thread for an
#: E-step to be worth a second thread: with the calling thread taking a share
#: itself, two threads ran 20 iterations of 20,000 × 2 × 3 (float64, 1.2e5 terms)
#: in 0.96 of one thread's time, 40,000 × 2 × 3 in 0.79, 40,000 × 3 × 12 in 0.71
#: (the Python pool). On numba's threads, 10,000 × 8 × 3 and 3 × 8 (2.4e5
#: terms, E-steps of ~60 µs) took 1.2-1.4× one thread's time, 2 × 16 (3.2e5)
#: 0.85, 16 × 3 (4.8e5) 0.82-0.92.
MIN_THREAD_WORK = 125_000


#: Above this many clusters the direct kernels keep their shapes even where
#: the SIMD micro-kernel could run: with Hamerly's bounds ("auto") they prune,
#: and a fit run on to 150 iterations at 100,000 × 2 × 256 took 1.58 times as
#: long by the micro-kernel (0.66-0.96 at 3 × 64, where pruning pays less).
DIRECT_OVER_SIMD_CLUSTERS = 32


def _uses_direct(n_features, n_clusters, dtype):
    """Whether E-steps of this shape run the direct kernels rather than GEMM + fused pass.

    The one place the choice is made, so that a fit, its ``nearest`` pass and
    :func:`mixfit.engine.kmeans.assign` (``predict``) always compute distances
    the same way, and hence agree on every label. Shapes of the SIMD kernel
    (:func:`~mixfit.engine.kmeans_simd.uses_simd`) up to
    :data:`DIRECT_OVER_SIMD_CLUSTERS` clusters go there: its fits took
    0.87-0.98 of the direct kernels' time at 2 and 3 features with 11 to 32
    clusters (100,000 rows, float64, side by side).
    """
    low, high = DIRECT_WORK
    return (np.dtype(dtype) == np.float64 and n_features <= DIRECT_MAX_FEATURES
            and low <= n_features * n_clusters <= high
            and (n_clusters > DIRECT_OVER_SIMD_CLUSTERS
                 or not uses_simd(n_features, n_clusters, dtype)))


def _e_step_kernel(n_features, n_clusters, dtype, labelling=False):
    """Which kernel an unpruned E-step of this shape runs: "direct", "simd",
    "screened" or "gemm".

    ``labelling=True``: the choice for estimators that label by such passes
    alone (:func:`~mixfit.engine.kmeans_simd.uses_simd_for_labelling`), where
    float64 rows of some shapes are labelled by the float32 micro-kernel,
    screened (:func:`~mixfit.engine.kmeans_screened.screens_in_float32`; the
    same labels as "simd").
    """
    if _uses_direct(n_features, n_clusters, dtype):
        return "direct"
    if labelling and screens_in_float32(n_features, n_clusters, dtype):
        return "screened"
    simd_rule = uses_simd_for_labelling if labelling else uses_simd
    if simd_rule(n_features, n_clusters, dtype):
        return "simd"
    return "gemm"


def _runner(n_jobs, X, n_clusters, chunk_size, labelling=False):
    """The :class:`_Runner` for E-steps over ``X``: threads only where they pay.

    A second thread is used only when each gets at least :data:`MIN_THREAD_WORK`
    distance terms per iteration, and BLAS is limited only when GEMMs will run.
    """
    n_samples, n_features = X.shape
    work = n_samples * n_features * max(1, n_clusters)
    n_threads = max(1, min(int(n_jobs), work // max(1, MIN_THREAD_WORK)))
    if not numba_threads_usable():
        # Every block then goes to the Python pool, whose hand-off costs tens of
        # µs: a thread needs POOL_THREAD_WORK terms to pay for it.
        n_threads = max(1, min(n_threads, work // POOL_THREAD_WORK))
    n_blocks = len(_blocks(n_samples, chunk_size, row_work=n_features * max(1, n_clusters)))
    blas = (_e_step_kernel(n_features, n_clusters, X.dtype, labelling) == "gemm"
            or labelling and uses_projection(n_features, n_clusters, X.dtype))
    return _Runner(n_threads, n_blocks, blas=blas)


#: Fewest blocks a data set is cut into where each still gets at least
#: :data:`_MIN_BLOCK_WORK` distance terms (rows × features × clusters).
_MIN_BLOCKS = 8
_MIN_BLOCK_WORK = 1 << 17

#: Without numba's threads, fewest distance terms per thread on the Python pool.
POOL_THREAD_WORK = 1 << 20


def _blocks(n_samples, chunk_size, block_rows=None, row_work=1):
    """Row ranges of the blocks of work (the last one may be shorter).

    By default at most :data:`_BLOCK_ROWS` rows, or fewer to make
    :data:`_MIN_BLOCKS` blocks, as long as a block keeps :data:`_MIN_BLOCK_WORK`
    terms of ``row_work`` (features × clusters) per row; the rows are then
    shared equally among that many blocks. Threads take whole blocks: with 16,384-row
    blocks a fit of 10,000 rows ran on one thread (1.06-1.24× scikit-learn's
    time at 64 × 64 and 64 × 3). On the Python pool light fits lost more to
    the hand-off than the threads gained (float64 10,000 × 16 × 3: 1.34× with
    no floor), hence a floor of 2²⁰ terms then; with numba's threads
    (microseconds to start) 2¹⁷ took 0.57-0.94 of 2²⁰'s time at 10,000 rows
    (3 to 256 clusters), 0.94-1.01 at 100,000, but 1.06-1.11 at 2 and 3 × 64
    float64, where Hamerly's E-step still runs on the pool; without numba's
    threads :func:`_runner` keeps light fits on one thread
    (:data:`POOL_THREAD_WORK`). The size depends on the data's shape alone,
    never on the thread count.
    """
    if block_rows is None:
        rows_for_work = -(-_MIN_BLOCK_WORK // max(1, row_work))
        rows = min(_BLOCK_ROWS, max(n_samples // _MIN_BLOCKS, rows_for_work))
        # As many blocks as that takes, of equal size: whole chunks left a short
        # last block (8,192 and 1,808 rows at 10,000 × 32 × 3), and the thread
        # without it waited; equal blocks took 0.76-0.89 of the time there.
        n_blocks = max(1, -(-n_samples // max(1, rows)))
        block_rows = max(1, -(-n_samples // n_blocks))
    return _row_ranges(n_samples, block_rows)


@functools.lru_cache(maxsize=64)
def _row_ranges(n_samples, block_rows):
    """``row_chunks`` as a tuple, made once per shape: every E-step of a fit asks
    for the same blocks (7 µs a call at 10,000 rows, a fit making 21)."""
    return tuple(row_chunks(n_samples, block_rows))


#: Stands for "no sample weights" / "no distances wanted" in the kernels' arguments.
_NOTHING = np.empty(0)


class _Gemm:
    """The GEMM side of one iteration: ``(x − shift) · (−2c)`` and ``‖c − shift‖²``."""

    def __init__(self, centers, shift, dtype, bounds=False):
        C = _shifted_centers(centers, shift, dtype)
        self.c_sq = _row_sq_norms(C)
        # −2C in place where C is a copy of the caller's centres (exact either way).
        self.C_neg2 = np.multiply(C, -2, out=None if np.may_share_memory(C, centers) else C)
        self.shift = None if shift is None else shift.astype(dtype)
        # BLAS runs a product with few output columns (K) and a long inner
        # dimension (d) about 25% faster as X·Cᵀ than as C·Xᵀ (measured at
        # d=784, K=10); the (K, rows) block the kernels scan is then a small copy.
        self.rows_first = _rows_first(*C.shape)
        self.C_neg2_t = (np.ascontiguousarray(self.C_neg2.T) if self.rows_first
                         else np.empty((0, 0), dtype=dtype))
        self.shift_or_nothing = (np.empty(0, dtype=dtype) if self.shift is None
                                 else np.ascontiguousarray(self.shift))
        if bounds:
            # Bounds the GEMM's rounding error on a difference of two squared
            # distances: 2 × (n_features + 8) ulps of ‖x − shift‖² + max‖c − shift‖²,
            # doubled for safety, plus a float64 margin for drifting bounds.
            self.c_max_sq = float(np.max(self.c_sq.astype(np.float64)))
            eps = float(np.finfo(dtype).eps)
            self.tau_coef = 4.0 * (C.shape[1] + 8) * eps + 1e-12


def _c_rows(X, rows):
    """``X[rows]`` C-contiguous, as BLAS wants it (a copy only for other layouts)."""
    return np.ascontiguousarray(X[rows])


#: Most features for which the kept row norms are summed by the numba kernel;
#: beyond, numpy's vecdot (on each thread's share) is faster: per 100,000 rows
#: float32, 0.34 ms against 1.18 at 2 features, 1.9 against 2.8 at 16, 4.8
#: against 1.9 at 64 (one thread each).
_KERNEL_NORM_FEATURES = 16


def _kept_row_sq_norms(X, shift, n_threads, chunk_size):
    """``‖x − shift‖²`` of every row, in X's dtype, computed once per fit on ``n_threads``.

    Few features: in float64 and rounded once (:func:`mixfit.kernels.kmeans.row_sq_norms`);
    more: :func:`_all_row_sq_norms` on each thread's share.
    """
    x_sq = np.empty(X.shape[0], dtype=X.dtype)
    if X.shape[1] <= _KERNEL_NORM_FEATURES:
        shift64 = np.empty(0) if shift is None else np.ascontiguousarray(shift, dtype=np.float64)

        def share(begin, end):
            kernels.row_sq_norms(X, begin, end, shift64, x_sq)
    else:
        def share(begin, end):
            x_sq[begin:end] = _all_row_sq_norms(X[begin:end], shift, chunk_size)
    map_ranges(share, X.shape[0], n_threads, work_per_item=X.shape[1])
    return x_sq


def _all_row_sq_norms(X, shift, chunk_size):
    """``‖x − shift‖²`` of every row, in X's dtype, by numpy chunk by chunk."""
    x_sq = np.empty(X.shape[0], dtype=X.dtype)
    for sl in row_chunks(X.shape[0], chunk_size):
        x_sq[sl] = _row_sq_norms(_shifted(X[sl], shift))
    return x_sq


def _fused_e_step(X, centers, sample_weight, chunk_size, x_squared_norms, shift, runner,
                  labels, min_sq_dist=_NOTHING, fast_norms=False, block_rows=None,
                  sums=True, changes_only=False, kernel=None):
    """The E-step by a GEMM and one fused numba pass per chunk, on threads.

    Writes ``labels`` (and ``min_sq_dist`` unless empty) in place and returns
    ``(n_changed, stats)``: how many positively weighted rows changed label
    against what ``labels`` held, and the statistics of the assignment.
    ``x_squared_norms`` (``‖x − shift‖²``) is computed chunk by chunk when None:
    by numpy's row reduction, or with ``fast_norms`` inside the fused kernel
    (:func:`mixfit.kernels.kmeans.lloyd_chunk_norms`: rounded differently, which
    changes distances by rounding but never a label). ``block_rows``: rows per
    block of work (see :func:`_blocks`), which must not depend on the thread count.
    ``sums=False``: the statistics' ``sums`` are an empty ``(0, n_features)``
    array (the caller adds them up itself; not on the direct path).
    ``changes_only=True``: the statistics returned
    are their change since the labels ``labels`` held (see
    :func:`mixfit.kernels.kmeans.lloyd_chunk`). ``kernel``: "direct", "simd"
    or "gemm" (:func:`_e_step_kernel`'s choice when None).
    """
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    keep_dist = min_sq_dist.shape[0] > 0
    blocks = _blocks(n_samples, chunk_size, block_rows, row_work=n_features * n_clusters)
    if kernel is None:
        kernel = _e_step_kernel(n_features, n_clusters, X.dtype)
    if kernel == "direct":
        return _direct_e_step(X, centers, sample_weight, blocks, runner, labels, min_sq_dist,
                              changes_only)
    if kernel == "simd":
        return simd_e_step(X, centers, sample_weight, blocks, x_squared_norms, shift, runner,
                           labels, min_sq_dist, sums, changes_only)
    if kernel == "screened":
        if changes_only or x_squared_norms is not None:
            raise ValueError("_fused_e_step: the screened kernel takes no changes_only or norms")
        return screened_e_step(X, centers, sample_weight, blocks, shift, runner, labels,
                               min_sq_dist, sums)
    gemm = _Gemm(centers, shift, X.dtype)
    sum_rows = n_clusters if sums else 0
    # Norms computed in the kernel: empty, in X's dtype as a fit's kept norms are,
    # so that predict runs the kernel version the fit compiled.
    no_norms = np.empty(0, X.dtype)
    if runner.on_numba_threads(len(blocks)) and (x_squared_norms is not None or fast_norms):
        def driver(starts, block_sums, counts, inertia, n_changed):
            gemm_kernels.lloyd_gemm_blocks(
                X, starts, gemm.shift_or_nothing, gemm.C_neg2, gemm.C_neg2_t, gemm.c_sq,
                no_norms if x_squared_norms is None else x_squared_norms,
                _NOTHING if sample_weight is None else sample_weight, labels,
                min_sq_dist if keep_dist else _NOTHING, block_sums, counts, inertia, n_changed,
                chunk_size, changes_only,
            )

        return runner.sum_numba_blocks(blocks, n_clusters, sum_rows, n_features, driver)

    def block(rows):
        counts = np.zeros(n_clusters)
        block_sums = np.zeros((sum_rows, n_features))
        if x_squared_norms is not None:
            x_sq = x_squared_norms[rows]
        elif fast_norms:
            x_sq = no_norms
        else:
            x_sq = _all_row_sq_norms(X[rows], gemm.shift, chunk_size)
        inertia, n_changed = gemm_kernels.lloyd_gemm_block(
            _c_rows(X, rows), gemm.shift_or_nothing, gemm.C_neg2, gemm.C_neg2_t, gemm.c_sq, x_sq,
            _NOTHING if sample_weight is None else sample_weight[rows], labels[rows],
            min_sq_dist[rows] if keep_dist else _NOTHING, block_sums, counts, chunk_size,
            changes_only,
        )
        return counts, block_sums, inertia, n_changed

    return runner.map_sums(block, blocks)


def _direct_e_step(X, centers, sample_weight, blocks, runner, labels, min_sq_dist,
                   changes_only=False):
    """:func:`_fused_e_step` by the direct kernel: one numba call per block, no GEMM.

    Distances ``Σ (x − c)²`` in float64 need neither the shift nor row norms
    (see :mod:`mixfit.kernels.kmeans_direct`); blocks and their sum order are
    those of the GEMM path, so the thread count changes nothing.
    """
    n_features = X.shape[1]
    n_clusters = centers.shape[0]
    centers64 = np.ascontiguousarray(centers, dtype=np.float64)
    keep_dist = min_sq_dist.shape[0] > 0
    if runner.on_numba_threads(len(blocks)):
        def driver(starts, sums, counts, inertia, n_changed):
            direct.lloyd_direct_blocks(
                X, starts, centers64, _NOTHING if sample_weight is None else sample_weight,
                labels, min_sq_dist if keep_dist else _NOTHING, sums, counts, inertia, n_changed,
                changes_only,
            )

        return runner.sum_numba_blocks(blocks, n_clusters, n_clusters, n_features, driver)

    def block(rows):
        counts = np.zeros(n_clusters)
        sums = np.zeros((n_clusters, n_features))
        inertia, n_changed = direct.lloyd_direct(
            X[rows], centers64, _NOTHING if sample_weight is None else sample_weight[rows],
            labels[rows], min_sq_dist[rows] if keep_dist else _NOTHING, sums, counts,
            changes_only,
        )
        return counts, sums, inertia, n_changed

    return runner.map_sums(block, blocks)


class _NumpyEStep:
    """The reference E-step (:func:`_e_step`) behind the interface of the fused ones."""

    def __init__(self, X, sample_weight, chunk_size, shift):
        self.X, self.weight, self.chunk_size, self.shift = X, sample_weight, chunk_size, shift
        self.labels = np.full(X.shape[0], -1, dtype=np.int64)
        self.min_sq_dist = None

    def __call__(self, centers):
        labels, self.min_sq_dist, stats = _e_step(
            self.X, centers, self.weight, self.chunk_size, self.shift
        )
        changed = labels != self.labels
        if self.weight is not None:
            changed &= self.weight > 0
        self.labels = labels
        return int(np.count_nonzero(changed)), stats

    def nearest(self, centers):
        """Labels and distances for the centres of the last call."""
        return self.labels, self.min_sq_dist


class _LloydEStep:
    """The fused, unpruned E-step: labels held in int32 across iterations."""

    def __init__(self, X, sample_weight, chunk_size, shift, runner, n_clusters,
                 keep_norms=True, x_sq=None):
        self.X, self.weight, self.chunk_size = X, sample_weight, chunk_size
        self.shift, self.runner = shift, runner
        # One pass per fit rather than one per iteration: the kernels' reductions
        # run in order (fastmath off) and would not vectorise. Data larger than
        # memory recomputes them per chunk instead (keep_norms=False): n floats.
        # The direct kernels need none. ``x_sq``: the norms, already computed
        # by the caller (``‖x − shift‖²`` in X's dtype).
        self.direct = _e_step_kernel(X.shape[1], n_clusters, X.dtype) == "direct"
        keep_norms = keep_norms and not self.direct
        if not keep_norms:
            self.x_sq = None
        elif x_sq is not None:
            self.x_sq = x_sq
        else:
            self.x_sq = _kept_row_sq_norms(X, shift, runner.n_threads, chunk_size)
        self.labels = np.full(X.shape[0], -1, dtype=np.int32)

    def __call__(self, centers):
        return _fused_e_step(
            self.X, centers, self.weight, self.chunk_size, self.x_sq, self.shift,
            self.runner, self.labels, fast_norms=self.x_sq is None,
        )

    def nearest(self, centers):
        """Labels and distances for ``centers``, recomputed (only for empty clusters).

        Recomputed by the unpruned pass so that every E-step variant ranks the
        far points on the same numbers.
        """
        labels = np.empty(self.X.shape[0], dtype=np.int32)
        min_sq_dist = np.empty(self.X.shape[0])
        _fused_e_step(self.X, centers, self.weight, self.chunk_size, self.x_sq,
                      self.shift, self.runner, labels, min_sq_dist,
                      fast_norms=self.x_sq is None)
        return labels, min_sq_dist
