"""The hard-assignment engine: Lloyd's algorithm over additive statistics.

Pure functions on arrays that already went through :mod:`mixfit._validation`
(2-D, finite, float32 or float64, weights float64 or None). Rows are processed in
chunks so that memory beyond the data is ``O(chunk_size × n_clusters)``.

The E-step of K-means is :func:`assign` (nearest centre by GEMM); its sufficient
statistics are :class:`KMeansStats` (weighted counts, weighted sums, inertia),
which add over chunks; the M-step is ``sums / counts``.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from threadpoolctl import threadpool_limits

from mixfit import _kmeans_kernels as kernels
from mixfit._parallel import shared_pool
from mixfit._validation import DEFAULT_CHUNK_SIZE, check_chunk_size, row_chunks

__all__ = [
    "ALGORITHMS",
    "KMeansResult",
    "KMeansStats",
    "assign",
    "kmeans_stats",
    "lloyd",
    "squared_distances",
]


#: Values of ``algorithm`` for :func:`lloyd`.
ALGORITHMS = ("auto", "lloyd", "hamerly")

#: From this many clusters on, ``algorithm="auto"`` prunes with Hamerly's bounds.
HAMERLY_MIN_CLUSTERS = 32

#: Rows per thread task: a fixed multiple of the chunk, so that the order in which
#: partial statistics are summed (hence every rounding) never depends on n_jobs.
_BLOCK_ROWS = 16384

#: Centres per block when Hamerly measures the gaps between centres.
_CENTRE_BLOCK = 128


#: Multiply-adds per GEMM up to which OpenBLAS (0.3.x, SkylakeX and other
#: kernels with SMALL_MATRIX_OPT) runs its small-matrix kernel, which skips
#: packing: for a skinny X·Cᵀ (d=784, K=10) 127-row chunks run 1.7× faster
#: (float32) and 2.1× (float64) than 128-row ones, which cross the threshold.
_SMALL_GEMM = 1_000_000

#: Fewest rows per chunk worth a GEMM call of their own (Python overhead per chunk).
_MIN_SMALL_GEMM_ROWS = 32


def _rows_first(n_clusters, n_features):
    """Whether the distance GEMM runs as X·Cᵀ (few clusters, many features), see _Gemm."""
    return n_features >= 4 * n_clusters


def auto_chunk_size(n_clusters, itemsize, n_features=None):
    """Rows per chunk such that a ``(chunk, n_clusters)`` distance block is ~128 KiB.

    Small enough to stay in L2 between the GEMM and the fused kernel, clipped to
    [256, 4096] rows so that the GEMM stays efficient and per-chunk overhead small.
    For the X·Cᵀ orientation (``n_features`` ≥ 4 ``n_clusters``) a chunk is
    rather the most rows whose GEMM stays within BLAS's small-matrix kernel
    (:data:`_SMALL_GEMM` multiply-adds), when that is at least 32 rows: the rows
    then also stay in L2 while the kernel sums them.
    """
    if n_features is not None and _rows_first(n_clusters, n_features):
        small = _SMALL_GEMM // (n_clusters * n_features)
        if small >= _MIN_SMALL_GEMM_ROWS:
            return int(min(DEFAULT_CHUNK_SIZE, small))
    rows = (1 << 17) // max(1, n_clusters * itemsize)
    return int(min(DEFAULT_CHUNK_SIZE, max(256, 1 << max(0, rows.bit_length() - 1))))


def _resolve_chunk_size(chunk_size, n_clusters, X):
    if chunk_size is None:
        return auto_chunk_size(n_clusters, X.dtype.itemsize, X.shape[1])
    return check_chunk_size(chunk_size)


def _effective_shift(shift):
    """None for no shift or an all-zero one: subtracting zero is a wasted pass."""
    return None if shift is None or not np.any(shift) else shift


def _shifted(X_chunk, shift):
    """Subtract ``shift`` (or nothing) from a chunk, staying in the chunk's dtype."""
    if shift is None:
        return X_chunk
    return X_chunk - shift.astype(X_chunk.dtype, copy=False)


def _shifted_centers(centers, shift, dtype):
    # Centres are shifted in float64 and only then rounded to the working dtype,
    # so float32 centres far from the origin keep their digits.
    if shift is None:
        return np.asarray(centers, dtype=dtype)
    return (np.asarray(centers, dtype=np.float64) - shift).astype(dtype)


def _row_sq_norms(X_chunk):
    """Squared Euclidean norm of each row, in the chunk's dtype."""
    return _vecdot(X_chunk, X_chunk)


def _einsum_sq_norms(X_chunk, _=None):
    return np.einsum("ij,ij->i", X_chunk, X_chunk)


# numpy ≥ 2's vecdot is 1.5× faster than einsum on long rows and 3× on short
# ones (its per-call overhead is what a lecture-sized fit pays).
_vecdot = getattr(np, "vecdot", _einsum_sq_norms)


def squared_distances(X, centers, *, chunk_size, shift=None):
    """Squared Euclidean distances from every row to every centre.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
    centers : ndarray of shape (n_clusters, n_features)
    chunk_size : int
        Rows per GEMM block.
    shift : ndarray of shape (n_features,) or None
        A point subtracted from rows and centres before the GEMM (distances do
        not change, but the cancellation in ``‖x‖² − 2x·c + ‖c‖²`` shrinks when
        the shift is close to the data mean).

    Returns
    -------
    sq_dist : ndarray of shape (n_samples, n_clusters), X's dtype
        Non-negative (rounding can make the formula negative; those are clamped).
    """
    dtype = X.dtype
    shift = _effective_shift(shift)
    C = _shifted_centers(centers, shift, dtype)
    c_sq = _row_sq_norms(C)
    out = np.empty((X.shape[0], C.shape[0]), dtype=dtype)
    for sl in row_chunks(X.shape[0], chunk_size):
        Xc = _shifted(X[sl], shift)
        block = out[sl]
        np.matmul(Xc, C.T, out=block)
        block *= -2
        block += c_sq
        block += _row_sq_norms(Xc)[:, None]
        np.maximum(block, 0, out=block)
    return out


def _assign_chunk(Xc, C_neg2, c_sq, xx):
    """Nearest centre for one (already shifted) chunk.

    ``C_neg2`` is ``-2 * centres`` so that one GEMM plus one broadcast add gives
    ``‖c‖² − 2x·c``; ``‖x‖²`` is constant along a row, so it is only added to the
    winning entry.
    """
    partial = Xc @ C_neg2.T
    partial += c_sq
    labels = np.argmin(partial, axis=1)
    best = np.take_along_axis(partial, labels[:, None], axis=1)[:, 0]
    min_sq = best.astype(np.float64) + xx
    np.maximum(min_sq, 0.0, out=min_sq)
    return labels.astype(np.int64, copy=False), min_sq


def assign(X, centers, *, chunk_size, shift=None, kernel="numba", n_jobs=1):
    """Label each row with its nearest centre (the K-means E-step).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
    centers : ndarray of shape (n_clusters, n_features)
        Cast to X's dtype: the GEMM runs in X's dtype.
    chunk_size : int or None
        Rows per GEMM block (None: chosen from the number of centres).
    shift : ndarray of shape (n_features,) or None
        See :func:`squared_distances`.
    kernel : {"numba", "numpy"}
        The fused numba pass (threaded) or the numpy reference; same labels.
    n_jobs : int
        Threads for the numba kernel.

    Returns
    -------
    labels : ndarray of shape (n_samples,), int64
        Index of the nearest centre (the lowest index on ties).
    min_sq_dist : ndarray of shape (n_samples,), float64
        Squared distance to that centre, clamped at 0.
    """
    shift = _effective_shift(shift)
    n_samples = X.shape[0]
    labels = np.empty(n_samples, dtype=np.int64)
    min_sq_dist = np.empty(n_samples, dtype=np.float64)
    if kernel == "numba":
        chunk_size = _resolve_chunk_size(chunk_size, centers.shape[0], X)
        with _Runner(n_jobs, len(_blocks(n_samples, chunk_size))) as runner:
            _fused_e_step(X, centers, None, chunk_size, None, shift, runner, labels, min_sq_dist)
        return labels, min_sq_dist
    if kernel != "numpy":
        raise ValueError(f"kernel must be 'numba' or 'numpy', got {kernel!r}.")
    for sl, lab, dist in _iter_assign(X, centers, chunk_size, shift):
        labels[sl] = lab
        min_sq_dist[sl] = dist
    return labels, min_sq_dist


def _iter_assign(X, centers, chunk_size, shift):
    """Yield ``(slice, labels, min_sq_dist)`` per chunk (the numpy reference path)."""
    C = _shifted_centers(centers, shift, X.dtype)
    C_neg2 = -2 * C
    c_sq = _row_sq_norms(C)
    for sl in row_chunks(X.shape[0], chunk_size):
        Xc = _shifted(X[sl], shift)
        labels, min_sq = _assign_chunk(Xc, C_neg2, c_sq, _row_sq_norms(Xc))
        yield sl, labels, min_sq


@dataclass(frozen=True, eq=False)
class KMeansStats:
    """Sufficient statistics of a hard assignment; additive over disjoint row sets.

    Attributes
    ----------
    counts : ndarray of shape (n_clusters,), float64
        Total sample weight per cluster.
    sums : ndarray of shape (n_clusters, n_features), float64
        Weighted sum of the rows per cluster.
    inertia : float
        Weighted sum of squared distances to the assigned centres.
    """

    counts: np.ndarray
    sums: np.ndarray
    inertia: float

    @classmethod
    def zeros(cls, n_clusters, n_features):
        """The statistics of no rows (the identity of ``+``)."""
        return cls(np.zeros(n_clusters), np.zeros((n_clusters, n_features)), 0.0)

    def __add__(self, other):
        if not isinstance(other, KMeansStats):
            return NotImplemented
        if self.sums.shape != other.sums.shape:
            raise ValueError(
                f"Cannot add KMeansStats of shapes {self.sums.shape} and "
                f"{other.sums.shape}: both must come from the same n_clusters and "
                "n_features."
            )
        return KMeansStats(
            self.counts + other.counts,
            self.sums + other.sums,
            float(self.inertia) + float(other.inertia),
        )


def kmeans_stats(X, labels, min_sq_dist, n_clusters, sample_weight=None):
    """Statistics of a block of rows with given labels.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    labels : ndarray of shape (n_samples,), int
        Cluster of each row, in ``[0, n_clusters)``.
    min_sq_dist : ndarray of shape (n_samples,)
        Squared distance of each row to its centre (for the inertia).
    n_clusters : int
    sample_weight : ndarray of shape (n_samples,) or None

    Returns
    -------
    stats : KMeansStats
    """
    n_samples = X.shape[0]
    weight = np.ones(n_samples) if sample_weight is None else sample_weight
    counts = np.bincount(labels, weights=weight, minlength=n_clusters)
    # A (n_clusters, n_samples) one-hot matrix with the weights as values, in CSC
    # form: one entry per column, so it is built without sorting, and its product
    # with X is a single O(n_samples × n_features) pass accumulating in float64.
    one_hot = sparse.csc_array(
        (weight, labels, np.arange(n_samples + 1)), shape=(n_clusters, n_samples)
    )
    sums = np.asarray(one_hot @ X, dtype=np.float64)
    inertia = float(np.dot(weight, min_sq_dist))
    return KMeansStats(counts, sums, inertia)


@dataclass(frozen=True, eq=False)
class KMeansResult:
    """Outcome of :func:`lloyd`.

    Attributes
    ----------
    centers : ndarray of shape (n_clusters, n_features), X's dtype
    labels : ndarray of shape (n_samples,), int64
        Nearest of ``centers`` for each row (computed from the returned centres).
    inertia : float
        Weighted sum of squared distances to ``centers``.
    n_iter : int
        Number of iterations run (E-steps in the loop).
    inertia_history : list of float
        Objective at each iteration, for the centres *before* that iteration's update.
    converged : bool
        False when the loop stopped at ``max_iter``.
    """

    centers: np.ndarray
    labels: np.ndarray
    inertia: float
    n_iter: int
    inertia_history: list = field(default_factory=list)
    converged: bool = False


def _e_step(X, centers, sample_weight, chunk_size, shift):
    """Assign all rows and fold their statistics chunk by chunk (numpy reference)."""
    n_clusters, n_features = centers.shape
    labels = np.empty(X.shape[0], dtype=np.int64)
    min_sq_dist = np.empty(X.shape[0], dtype=np.float64)
    stats = KMeansStats.zeros(n_clusters, n_features)
    for sl, lab, dist in _iter_assign(X, centers, chunk_size, shift):
        labels[sl] = lab
        min_sq_dist[sl] = dist
        w = None if sample_weight is None else sample_weight[sl]
        stats = stats + kmeans_stats(X[sl], lab, dist, n_clusters, w)
    return labels, min_sq_dist, stats


class _Runner:
    """Runs per-block functions on the shared thread pool, BLAS at one thread (per fit).

    Blocks are fixed row ranges and their results come back in block order, so
    the thread count never changes a sum. With one thread (or one block) the
    blocks run inline and neither a pool nor threadpoolctl is touched: both cost
    more than a small fit.
    """

    def __init__(self, n_jobs, n_blocks):
        self.n_threads = max(1, min(int(n_jobs), n_blocks))
        self._stack = ExitStack()

    def __enter__(self):
        if self.n_threads > 1:
            self._stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
            # The process-wide pool for this many threads: started once, not per fit.
            self.pool = shared_pool(self.n_threads)
        return self

    def __exit__(self, *exc):
        return self._stack.__exit__(*exc)

    def map_sums(self, function, blocks):
        """Per-block ``(counts, sums, inertia, n_changed)`` summed, as ``_sum_parts``.

        The blocks are cut into at most ``_GROUPS`` runs whose boundaries depend
        on the number of blocks alone; each run is summed in block order, and the
        runs in run order, so the thread count never changes a rounding. A thread
        takes a contiguous share of the runs in one task (one task per block cost
        ~35 µs each, ~8% of an iteration at n=1e6), and only one sum per run is
        held (each is K × d floats).
        """
        n_groups = min(len(blocks), _GROUPS)
        bounds = [len(blocks) * group // n_groups for group in range(n_groups + 1)]

        def run(group):
            return _add_parts(map(function, blocks[bounds[group]:bounds[group + 1]]))

        if self.n_threads == 1 or n_groups == 1:
            return _sum_parts(map(run, range(n_groups)))
        n_tasks = min(self.n_threads, n_groups)
        shares = [range(n_groups * task // n_tasks, n_groups * (task + 1) // n_tasks)
                  for task in range(n_tasks)]
        futures = [self.pool.submit(lambda share: [run(g) for g in share], share)
                   for share in shares]
        return _sum_parts(part for future in futures for part in future.result())


def _blocks(n_samples, chunk_size):
    return list(row_chunks(n_samples, chunk_size * max(1, _BLOCK_ROWS // chunk_size)))


#: Stands for "no sample weights" / "no distances wanted" in the kernels' arguments.
_NOTHING = np.empty(0)


#: Runs of blocks whose sums are kept apart (see ``_Runner.map_sums``).
_GROUPS = 16


def _add_parts(parts):
    """Per-block ``(counts, sums, inertia, n_changed)`` added in block order.

    The first block's arrays (its own) take the sum: the same roundings as
    adding every block to zeros.
    """
    parts = iter(parts)
    counts, sums, inertia, n_changed = next(parts)
    for part_counts, part_sums, part_inertia, part_changed in parts:
        counts += part_counts
        sums += part_sums
        inertia += part_inertia
        n_changed += part_changed
    return counts, sums, inertia, n_changed


def _sum_parts(parts):
    """:func:`_add_parts` as ``(n_changed, KMeansStats)``."""
    counts, sums, inertia, n_changed = _add_parts(parts)
    return n_changed, KMeansStats(counts, sums, inertia)


class _Gemm:
    """The GEMM side of one iteration: ``(x − shift) · (−2c)`` and ``‖c − shift‖²``."""

    def __init__(self, centers, shift, dtype, bounds=False):
        C = _shifted_centers(centers, shift, dtype)
        self.C_neg2 = -2 * C
        self.c_sq = _row_sq_norms(C)
        self.shift = None if shift is None else shift.astype(dtype)
        # BLAS runs a product with few output columns (K) and a long inner
        # dimension (d) about 25% faster as X·Cᵀ than as C·Xᵀ (measured at
        # d=784, K=10); the (K, rows) block the kernels scan is then a small copy.
        self.rows_first = _rows_first(*C.shape)
        if self.rows_first:
            self.C_neg2_t = np.ascontiguousarray(self.C_neg2.T)
        if bounds:
            # Bounds the GEMM's rounding error on a difference of two squared
            # distances: 2 × (n_features + 8) ulps of ‖x − shift‖² + max‖c − shift‖²,
            # doubled for safety, plus a float64 margin for drifting bounds.
            self.c_max_sq = float(np.max(self.c_sq.astype(np.float64)))
            eps = float(np.finfo(dtype).eps)
            self.tau_coef = 4.0 * (C.shape[1] + 8) * eps + 1e-12

    def partial(self, X_rows):
        """``(n_clusters, rows)`` block: centres along the rows, for the kernels' scans."""
        Xc = X_rows if self.shift is None else X_rows - self.shift
        if self.rows_first:
            return np.ascontiguousarray((Xc @ self.C_neg2_t).T)
        return self.C_neg2 @ Xc.T


def _all_row_sq_norms(X, shift, chunk_size):
    """``‖x − shift‖²`` of every row, in X's dtype, computed once per fit."""
    x_sq = np.empty(X.shape[0], dtype=X.dtype)
    for sl in row_chunks(X.shape[0], chunk_size):
        x_sq[sl] = _row_sq_norms(_shifted(X[sl], shift))
    return x_sq


def _fused_e_step(X, centers, sample_weight, chunk_size, x_squared_norms, shift, runner,
                  labels, min_sq_dist=_NOTHING):
    """The E-step by a GEMM and one fused numba pass per chunk, on threads.

    Writes ``labels`` (and ``min_sq_dist`` unless empty) in place and returns
    ``(n_changed, stats)``: how many positively weighted rows changed label
    against what ``labels`` held, and the statistics of the assignment.
    ``x_squared_norms`` (``‖x − shift‖²``) is computed chunk by chunk when None.
    """
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    gemm = _Gemm(centers, shift, X.dtype)
    keep_dist = min_sq_dist.shape[0] > 0

    def block(rows):
        counts = np.zeros(n_clusters)
        sums = np.zeros((n_clusters, n_features))
        inertia = 0.0
        n_changed = 0
        for start in range(rows.start, rows.stop, chunk_size):
            sl = slice(start, min(start + chunk_size, rows.stop))
            X_rows = X[sl]
            if x_squared_norms is None:
                x_sq = _row_sq_norms(_shifted(X_rows, gemm.shift))
            else:
                x_sq = x_squared_norms[sl]
            chunk_inertia, chunk_changed = kernels.lloyd_chunk(
                gemm.partial(X_rows), gemm.c_sq, x_sq, X_rows,
                _NOTHING if sample_weight is None else sample_weight[sl],
                labels[sl], min_sq_dist[sl] if keep_dist else _NOTHING, sums, counts,
            )
            inertia += chunk_inertia
            n_changed += chunk_changed
        return counts, sums, inertia, n_changed

    return runner.map_sums(block, _blocks(n_samples, chunk_size))


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

    def __init__(self, X, sample_weight, chunk_size, shift, runner):
        self.X, self.weight, self.chunk_size = X, sample_weight, chunk_size
        self.shift, self.runner = shift, runner
        # One pass per fit rather than one per iteration: the kernels' reductions
        # run in order (fastmath off) and would not vectorise.
        self.x_sq = _all_row_sq_norms(X, shift, chunk_size)
        self.labels = np.full(X.shape[0], -1, dtype=np.int32)

    def __call__(self, centers):
        return _fused_e_step(
            self.X, centers, self.weight, self.chunk_size, self.x_sq, self.shift,
            self.runner, self.labels,
        )

    def nearest(self, centers):
        """Labels and distances for ``centers``, recomputed (only for empty clusters).

        Recomputed by the unpruned pass so that every E-step variant ranks the
        far points on the same numbers.
        """
        labels = np.empty(self.X.shape[0], dtype=np.int32)
        min_sq_dist = np.empty(self.X.shape[0])
        _fused_e_step(self.X, centers, self.weight, self.chunk_size, self.x_sq,
                      self.shift, self.runner, labels, min_sq_dist)
        return labels, min_sq_dist


class _Hamerly(_LloydEStep):
    """Hamerly's pruned E-step: per row a label and a lower bound, kept across iterations.

    Gives the labels of the unpruned pass (see :mod:`mixfit._kmeans_kernels`
    for why the pruning is exact); distances of rows that keep their centre are
    computed directly rather than by the GEMM, so they and the inertia agree
    with the unpruned path to rounding. The bounds are float32 rounded down:
    4 bytes per row instead of 8, and a smaller lower bound only prunes less.
    """

    def __init__(self, X, sample_weight, chunk_size, shift, runner):
        super().__init__(X, sample_weight, chunk_size, shift, runner)
        n_samples = X.shape[0]
        self.labels[:] = 0
        self.lower = np.full(n_samples, -np.inf, dtype=np.float32)  # every row is computed
        self.previous = None
        self.blocks = _blocks(n_samples, chunk_size)

    def _centre_geometry(self, centers64):
        n_clusters = centers64.shape[0]
        drift = np.zeros(n_clusters)
        if self.previous is not None:
            drift = np.sqrt(((centers64 - self.previous) ** 2).sum(axis=1))
            drift *= 1 + 1e-12  # an upper bound despite its own rounding
        order = np.argsort(drift)
        drift_argmax = int(order[-1])
        drift_second = float(drift[order[-2]]) if n_clusters > 1 else 0.0
        if n_clusters == 1:
            return drift, drift_argmax, drift_second, np.full(1, np.inf)
        C = centers64 - centers64.mean(axis=0)
        c_sq = np.einsum("ij,ij->i", C, C)
        # Squared distance to the nearest other centre, by blocks of centres: the
        # whole K × K matrix would be 8 MiB at K = 1024, more than the bounds.
        nearest = np.empty(n_clusters)
        for sl in row_chunks(n_clusters, _CENTRE_BLOCK):
            between = C[sl] @ C.T
            between *= -2.0
            between += c_sq[sl, None]
            between += c_sq[None, :]
            between[np.arange(between.shape[0]), np.arange(sl.start, sl.stop)] = np.inf
            nearest[sl] = between.min(axis=1)
        # A lower bound despite the GEMM's float64 rounding.
        slack = 4.0 * (C.shape[1] + 8) * np.finfo(np.float64).eps * 2.0 * c_sq.max()
        nearest = np.maximum(nearest - slack, 0.0)
        return drift, drift_argmax, drift_second, 0.5 * np.sqrt(nearest)

    def __call__(self, centers):
        X, weight, chunk_size, x_sq = self.X, self.weight, self.chunk_size, self.x_sq
        n_features = X.shape[1]
        n_clusters = centers.shape[0]
        centers64 = np.asarray(centers, dtype=np.float64)
        drift, drift_argmax, drift_second, half_gap = self._centre_geometry(centers64)
        gemm = _Gemm(centers, self.shift, X.dtype, bounds=True)
        labels, lower = self.labels, self.lower

        def block(rows):
            counts = np.zeros(n_clusters)
            sums = np.zeros((n_clusters, n_features))
            w = _NOTHING if weight is None else weight[rows]
            todo = np.empty(rows.stop - rows.start, dtype=np.int64)
            inertia, n_todo = kernels.hamerly_screen(
                X[rows], w, x_sq[rows], centers64, labels[rows], lower[rows],
                half_gap, drift, drift_argmax, drift_second, gemm.tau_coef,
                gemm.c_max_sq, sums, counts, todo,
            )
            todo = todo[:n_todo] + rows.start
            n_changed = 0
            for start in range(0, n_todo, chunk_size):
                idx = todo[start:start + chunk_size]
                X_rows = X[idx]
                chunk_inertia, chunk_changed = kernels.hamerly_full(
                    gemm.partial(X_rows), gemm.c_sq, x_sq[idx], X_rows,
                    _NOTHING if weight is None else weight[idx], idx,
                    gemm.tau_coef, gemm.c_max_sq, labels, lower, sums, counts,
                )
                inertia += chunk_inertia
                n_changed += chunk_changed
            return counts, sums, inertia, n_changed

        result = self.runner.map_sums(block, self.blocks)
        self.previous = centers64
        return result


def _far_points(X, labels, min_sq_dist, centers, sample_weight, n_wanted):
    """Up to ``n_wanted`` rows of distinct values, farthest from their centres first.

    Only rows with positive weight that do not sit on their centre qualify: a
    zero-weight row is not part of the data, and a row equal to its centre would
    only duplicate that centre. The ranking uses the *unweighted* distance so that
    a row of weight 2 ranks exactly like two copies of the row.
    """
    eligible = min_sq_dist > 0
    if sample_weight is not None:
        eligible &= sample_weight > 0
    candidates = np.flatnonzero(eligible)
    # Stable sort: ties go to the earlier row, so the choice is reproducible.
    candidates = candidates[np.argsort(-min_sq_dist[candidates], kind="stable")]
    chosen = []
    while len(chosen) < n_wanted and candidates.size:
        row = candidates[0]
        # The GEMM formula can leave a rounding residue instead of an exact 0, so
        # "on its centre" is decided by comparing the values themselves.
        if not np.array_equal(X[row], centers[labels[row]]):
            chosen.append(row)
        # Copies of a chosen row would give two identical centres, one of them dead.
        candidates = candidates[~_rows_equal_to(X, candidates, X[row])]
    return chosen


def _rows_equal_to(X, rows, value, block=DEFAULT_CHUNK_SIZE):
    """Mask over ``rows``: whether ``X[rows[i]]`` equals ``value`` (blockwise gather)."""
    mask = np.empty(rows.size, dtype=bool)
    for sl in row_chunks(rows.size, block):
        mask[sl] = np.all(X[rows[sl]] == value, axis=1)
    return mask


def _m_step(X, stats, centers, sample_weight, e_step, kernel):
    """New centres: weighted means, with empty clusters moved to far points.

    A cluster without weight keeps no information, so it is re-seeded at a row
    far from its current centre. This never raises the objective: the other
    centres are the means of the same assignment, and the empty cluster
    contributed nothing to it. When no eligible row is left (every row already
    sits on a centre) the empty centre stays where it was; it is finite.
    """
    nonempty = stats.counts > 0
    if kernel == "numba":
        new = centers.copy()
        n_empty = kernels.update_centers(stats.sums, stats.counts, new)
    else:
        new = np.array(centers, dtype=np.float64)
        new[nonempty] = stats.sums[nonempty] / stats.counts[nonempty, None]
        new = new.astype(X.dtype)
        n_empty = int(np.count_nonzero(~nonempty))
    if n_empty:
        empty = np.flatnonzero(~nonempty)
        # The distances to the centres before the update; the fused E-steps do not
        # keep them (n floats), so they are recomputed here, which is rare.
        labels, min_sq_dist = e_step.nearest(centers)
        far = _far_points(X, labels, min_sq_dist, centers, sample_weight, empty.size)
        for cluster, row in zip(empty, far):
            new[cluster] = X[row]
    return new


def lloyd(
    X,
    centers_init,
    *,
    sample_weight=None,
    max_iter=300,
    tol=1e-4,
    chunk_size=None,
    callback=None,
    shift=None,
    algorithm="auto",
    kernel="numba",
    n_jobs=1,
):
    """Lloyd's algorithm from given initial centres.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        Validated data (finite, 2-D).
    centers_init : ndarray of shape (n_clusters, n_features)
    sample_weight : ndarray of shape (n_samples,), float64, or None
        Non-negative weights (a weight-``w`` row counts as ``w`` copies).
    max_iter : int
        Maximum number of iterations.
    tol : float
        Stop when the relative decrease of the objective,
        ``(previous − current) / current``, falls below ``tol``.
        The loop also stops as soon as the assignment stops changing.
    chunk_size : int or None
        Rows per block (None: see :func:`auto_chunk_size`).
    callback : callable or None
        ``callback(iteration, centers, inertia)`` after each E-step (iterations
        count from 1), with the centres the inertia was measured for.
    shift : ndarray of shape (n_features,) or None
        Subtracted before the distance GEMMs (pass the data mean for float32
        data far from the origin). Pass the same shift to :func:`assign` to
        reproduce the returned labels bit for bit.
    algorithm : {"auto", "lloyd", "hamerly"}
        "lloyd" computes every distance each iteration; "hamerly" keeps a bound
        per row and skips the rows whose centre provably stays the same (same
        labels as "lloyd", inertia equal to rounding; pays off for many
        clusters); "auto" uses "hamerly" from
        :data:`HAMERLY_MIN_CLUSTERS` clusters on (with ``kernel="numba"``).
    kernel : {"numba", "numpy"}
        "numba": a GEMM plus one fused pass per chunk (argmin, distances,
        statistics), on ``n_jobs`` threads. "numpy": the plain reference
        implementation (GEMM, ``np.argmin``, sparse one-hot sums), one thread,
        ``algorithm="lloyd"`` only; kept to test the kernels against.
    n_jobs : int
        Threads (resolved, ≥ 1); results do not depend on it.

    Returns
    -------
    result : KMeansResult
    """
    shift = _effective_shift(shift)
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}.")
    if kernel not in ("numba", "numpy"):
        raise ValueError(f"kernel must be 'numba' or 'numpy', got {kernel!r}.")
    n_clusters = np.shape(centers_init)[0]
    if algorithm == "auto":
        pays = kernel == "numba" and n_clusters >= HAMERLY_MIN_CLUSTERS
        algorithm = "hamerly" if pays else "lloyd"
    if kernel == "numpy" and algorithm == "hamerly":
        raise ValueError("algorithm='hamerly' needs kernel='numba'.")
    # The E-step is built in the call so that _lloyd_loop holds its only reference
    # and can drop its per-row state before the labels are copied out.
    if kernel == "numpy":
        return _lloyd_loop(
            X, centers_init, sample_weight, max_iter, tol, callback,
            _NumpyEStep(X, sample_weight, check_chunk_size(chunk_size), shift), kernel,
        )
    chunk_size = _resolve_chunk_size(chunk_size, n_clusters, X)
    e_step_class = _Hamerly if algorithm == "hamerly" else _LloydEStep
    with _Runner(n_jobs, len(_blocks(X.shape[0], chunk_size))) as runner:
        return _lloyd_loop(
            X, centers_init, sample_weight, max_iter, tol, callback,
            e_step_class(X, sample_weight, chunk_size, shift, runner), kernel,
        )


def _lloyd_loop(X, centers_init, sample_weight, max_iter, tol, callback, e_step, kernel):
    """The loop of :func:`lloyd`, with the E-step it is given (numpy, fused or pruned).

    The E-step holds the labels (updated in place) and reports how many rows
    with positive weight changed label, which is the convergence test.
    """
    centers = np.array(centers_init, dtype=X.dtype)
    history = []
    converged = False
    final_inertia = None  # set when the last E-step used the returned centres
    for iteration in range(max_iter):
        n_changed, stats = e_step(centers)
        history.append(stats.inertia)
        if callback is not None:
            callback(iteration + 1, centers, stats.inertia)
        if iteration > 0 and n_changed == 0:
            # The means of an unchanged assignment are the current centres.
            converged = True
            final_inertia = stats.inertia
            break
        centers = _m_step(X, stats, centers, sample_weight, e_step, kernel)
        if iteration > 0:
            # (previous − current) / current < tol, multiplied out: the objective
            # can reach exactly 0, and a division would then overflow.
            if history[-2] - history[-1] < tol * history[-1]:
                converged = True
                break

    if final_inertia is None:
        # The loop ended after an update: label with the centres actually returned,
        # so that fit_predict(X) equals fit(X).predict(X). The pruned E-step serves
        # here too (its bounds are valid for any centres), sparing a full pass.
        final_inertia = e_step(centers)[1].inertia
    labels = e_step.labels
    del e_step  # its per-row state (bounds, norms) goes before the int64 copy is made
    return KMeansResult(
        centers=centers,
        labels=labels.astype(np.int64, copy=False),
        inertia=final_inertia,
        n_iter=len(history),
        inertia_history=history,
        converged=converged,
    )
