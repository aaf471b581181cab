"""Mini-batch K-means (Sculley, 2010): the update step, functions over arrays.

Each step assigns a small batch of rows to their nearest centres with the same
kernels as Lloyd's E-step (:mod:`mixfit.kernels.kmeans` for dense rows,
:mod:`mixfit.kernels.kmeans_sparse` for CSR rows), which give the batch's
additive statistics: per centre the weight ``m_k`` and the weighted sum ``s_k``
of its rows. A centre then moves to the weighted mean of everything it has
been given so far,

    c_k ← (W_k c_k + s_k) / (W_k + m_k),    W_k ← W_k + m_k,

which is Sculley's per-centre learning rate ``1 / W_k`` applied to the batch
at once (scikit-learn's documented update). Centres whose accumulated weight
falls below ``reassignment_ratio`` times the largest are moved to random rows of
the batch (:func:`reassign`), and :class:`EarlyStopping` is scikit-learn's
stopping rule: an exponentially weighted average of the batch inertia that has
not improved for ``max_no_improvement`` steps, or a squared move of the centres
within ``tol``.

Centres and weights are float64 whatever the data's dtype, and a step updates
them in place (a copy of the K × d centres per step would cost as much as the
step on sparse data); the distances run in the data's dtype, as in
:func:`mixfit.engine.kmeans.lloyd` (CSR batches: float64 products, as there).
Nothing here keeps state between calls but what the caller passes in, so a
stream can be fed batch by batch (``MiniBatchKMeans.partial_fit``).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from mixfit.engine.kmeans_common import KMeansStats
from mixfit.engine.kmeans_common import auto_chunk_size
from mixfit.engine.kmeans_projected import Projection, projected_statistics, uses_projection
from mixfit.engine.kmeans_screened import screened_e_step
from mixfit.engine.kmeans_simd import simd_e_step
from mixfit.engine.kmeans_steps import (_BLOCK_ROWS, _NOTHING, _blocks, _e_step_kernel,
                                        _fused_e_step, _Runner)
from mixfit.engine.minibatch_rows import BatchRows, IndexedRows, RowSampler, reassignment
from mixfit.engine.minibatch_sparse import ScaledCentres
from mixfit.engine.sparse_rows import dense_rows, move_by_sparse_sums
from mixfit.kernels import kmeans as kernels
from mixfit.kernels import kmeans_totals as totals
from mixfit.kernels import kmeans_sparse as sparse_kernels
from mixfit.kernels.parallel import run_on_threads

#: An empty (0, 0) array: "no sums wanted" for the sparse labelling kernel.
_NO_SUMS = np.empty((0, 0))

__all__ = [
    "BatchRows",
    "EarlyStopping",
    "IndexedRows",
    "MiniBatchResult",
    "RowSampler",
    "batch_block_rows",
    "batch_runner",
    "batch_statistics",
    "centres_for",
    "resolve_chunk_size",
    "minibatch_kmeans",
    "minibatch_step",
    "reads_rows_in_place",
    "reassign",
    "update_centers",
]


def resolve_chunk_size(chunk_size, n_clusters, X):
    """Rows per GEMM block: ``chunk_size``, or the K-means engine's choice when None."""
    if chunk_size is not None:
        return int(chunk_size)
    return auto_chunk_size(n_clusters, X.dtype.itemsize, X.shape[1])


#: Fewest distance terms (rows × n_features × n_clusters) in a batch's block of
#: work. A batch is cut into equal blocks holding at least this many, so that
#: a batch of heavy rows runs on every thread: as one 1024-row block it ran on
#: one core, 1.5-2× scikit-learn's time at d = 784, K ≥ 64. Lighter batches
#: stay one block (a thread's hand-off costs microseconds on numba's threads,
#: tens of µs on the Python pool). 2²² rather than 2²⁴ once batches of up to
#: 64 clusters ran the micro-kernel: the E-steps of a pass over 100,000 rows
#: (97 batches of 1,024) took 49 rather than 61 ms at 160 × 64 float64, 55
#: rather than 68 at 64 × 256 float64, 66 rather than 71 at 160 × 256
#: float32, the same at 784 × 64 float32, 32 × 64 float32 and 16 × 64
#: float64 (2²⁰: 49-56, 54, 68 ms).
MIN_BLOCK_WORK = 1 << 22

#: Clusters a batch's work is counted for at least: with fewer, a step is the
#: reading of its rows, which pays for a second thread once they are wide
#: (from 512 features). A pass over 100,000 rows, rows read in place, two
#: blocks against one: 149 against 207 ms at 784 × 3 float64, 92 against 121
#: float32, 164 against 222 at 784 × 8 float64. Counting 64 clusters (two
#: blocks from 128 features) gained nothing at 320 × 3 (88-90 ms) and lost
#: at 160 × 5 float64 (59 against 55) and 64 × 3 (29 against 27).
MIN_BLOCK_CLUSTERS = 16

#: Fewest rows in a batch's block (the micro-kernel takes rows 8 at a time).
MIN_BLOCK_ROWS = 64


def batch_block_rows(n_rows, chunk_size, n_features, n_clusters):
    """Rows per block of work for a batch of ``n_rows`` rows of this shape.

    The batch is cut into a power of two of equal blocks (so that they share
    out evenly over 2, 4, ... threads), as many as keep :data:`MIN_BLOCK_WORK`
    distance terms and a GEMM chunk of ``chunk_size`` rows (at least
    :data:`MIN_BLOCK_ROWS`) each, of at most the K-means engine's block.
    Blocks of whole GEMM chunks left a short one at 160 × 32 float32 (chunks
    of 195 rows: blocks of 780 and 244, the batch's E-steps 24.7 ms a pass
    against 21.4 as one block). A function of the shape alone, never of the
    thread count, so that the order in which blocks are summed (hence every
    rounding) is the same for any ``n_jobs``.
    """
    n_rows = max(1, int(n_rows))
    work = n_rows * max(1, n_features) * max(1, n_clusters, MIN_BLOCK_CLUSTERS)
    most = max(1, min(work // MIN_BLOCK_WORK, n_rows // max(MIN_BLOCK_ROWS, chunk_size)))
    n_blocks = 1 << (most.bit_length() - 1)
    n_blocks = max(n_blocks, -(-n_rows // _BLOCK_ROWS))
    return -(-n_rows // n_blocks)


@contextmanager
def batch_runner(n_jobs, batch_size, chunk_size, n_features, n_clusters):
    """The thread runner for batches of ``batch_size`` rows (a context manager).

    A batch with less work than two blocks (:func:`batch_block_rows`) runs
    inline: starting threads would cost more than the batch. BLAS is held at
    one thread throughout: a batch's GEMMs are small, and a threaded BLAS spent
    20 times longer on them (4 ms instead of 0.17 ms for 256 × 64 × 64, on two
    busy cores).
    """
    block_rows = batch_block_rows(batch_size, chunk_size, n_features, n_clusters)
    with _Runner(n_jobs, len(_blocks(batch_size, chunk_size, block_rows))) as runner:
        yield runner


def batch_statistics(X, centers, sample_weight=None, *, shift=None, chunk_size, runner,
                     projection=None):
    """Weights, sums and inertia of a batch assigned to its nearest centres.

    Parameters
    ----------
    X : ndarray, CSR matrix or IndexedRows of shape (m, n_features), float32 or float64
        The batch (validated); an :class:`IndexedRows` is read in place where
        :func:`reads_rows_in_place` holds for its shape, else copied out first.
    centers : ndarray of shape (n_clusters, n_features)
        For CSR batches best float64 in Fortran order (see :func:`centres_for`):
        the sparse kernel reads them as a contiguous ``(n_features, n_clusters)``
        array, which is then not copied.
    sample_weight : ndarray of shape (m,), float64, or None
    shift : ndarray of shape (n_features,) or None
        Subtracted before the dense distance GEMM (see :func:`mixfit.engine.kmeans.lloyd`);
        CSR batches take none.
    chunk_size : int
        Rows per GEMM block (dense batches).
    runner : mixfit.engine.kmeans_runner._Runner
        The threads the dense blocks run on.
    projection : mixfit.engine.kmeans_projected.Projection or None
        Labels dense batches through its bounds while they pay.

    Returns
    -------
    stats : KMeansStats
        ``counts`` (weight per centre), ``sums`` and the batch's inertia, float64.
        For a CSR batch ``sums`` is a COO matrix holding each stored value of
        the batch under its centre (repeated coordinates add up): a dense
        ``n_clusters × n_features`` array would cost more than the batch itself.
    """
    n_samples = X.shape[0]
    labels = np.empty(n_samples, dtype=np.int32)
    if projection is not None and projection.pays and not sparse.issparse(X):
        dense = X.take() if isinstance(X, IndexedRows) else X
        stats = projected_statistics(projection, dense, centers, sample_weight, runner)
        if stats is not None:
            return stats
    if not sparse.issparse(X):
        # Row norms inside the fused kernel: a numpy pass over the batch (a
        # shifted copy, then a reduction) cost a quarter of a fit at d = 784.
        n_clusters, n_features = centers.shape
        block_rows, kernel, sums_in_blocks = _batch_plan(n_samples, chunk_size, n_features,
                                                         n_clusters, X.dtype)
        if isinstance(X, IndexedRows):
            blocks = _blocks(n_samples, chunk_size, block_rows, row_work=n_features * n_clusters)
            if kernel == "screened" and sample_weight is None:
                # Read in place either way (the kernel rounds each chunk into a
                # buffer of its own); without sums in the blocks, one pass adds
                # them up, reading the rows in place too.
                _, stats = screened_e_step(X.data, centers, None, blocks, shift, runner, labels,
                                           _NOTHING, sums=sums_in_blocks, row_index=X.rows)
                if sums_in_blocks:
                    return stats
                sums = np.zeros((n_clusters, n_features))
                if runner.numba_threads:
                    run_on_threads(runner.n_threads, lambda: totals.add_rows_by_label_parallel(
                        X.data, labels, sums, X.rows, len(blocks)))
                else:
                    kernels.add_rows_by_label(X.data, labels, _NOTHING, sums, X.rows)
                return KMeansStats(stats.counts, sums, stats.inertia)
            if kernel == "simd" and sample_weight is None and sums_in_blocks:
                _, stats = simd_e_step(X.data, centers, None, blocks, None, shift, runner,
                                       labels, _NOTHING, row_index=X.rows)
                return stats
            X = X.take()
        if sums_in_blocks:
            _, stats = _fused_e_step(X, centers, sample_weight, chunk_size, None, shift,
                                     runner, labels, fast_norms=True, block_rows=block_rows,
                                     kernel=kernel)
            return stats
        _, stats = _fused_e_step(X, centers, sample_weight, chunk_size, None, shift, runner,
                                 labels, fast_norms=True, block_rows=block_rows, sums=False,
                                 kernel=kernel)
        sums = np.zeros((n_clusters, n_features))
        kernels.add_rows_by_label(X, labels, _NOTHING if sample_weight is None
                                  else sample_weight, sums)
        return KMeansStats(stats.counts, sums, stats.inertia)
    n_clusters = centers.shape[0]
    # The distances use the float64 centres as they are (the kernel multiplies in
    # float64 either way): no rounded copy per step.
    centers_t = np.ascontiguousarray(np.asarray(centers, dtype=np.float64).T)
    c_sq = sparse_kernels.column_sq_norms(centers_t, np.empty(n_clusters))
    x_sq = sparse_kernels.row_sq_norms(X.data, X.indptr, np.empty(n_samples))
    weight = _NOTHING if sample_weight is None else sample_weight
    inertia, _ = sparse_kernels.lloyd_rows(
        X.data, X.indices, X.indptr, 0, n_samples, centers_t, c_sq, x_sq, weight, labels,
        _NOTHING, _NO_SUMS, _NOTHING,
    )
    counts = np.bincount(labels, weights=sample_weight, minlength=n_clusters).astype(
        np.float64, copy=False)
    # The sums as (centre, column, value) triples, one per stored value (a column
    # repeats where rows of one centre share it): no product and no sorting, which
    # took 1.4 ms of a 6 ms step on text-like data; update_centers adds them up.
    row_lengths = np.diff(X.indptr)
    values = X.data.astype(np.float64)
    if sample_weight is not None:
        values *= np.repeat(sample_weight, row_lengths)
    sums = sparse.coo_matrix((values, (np.repeat(labels, row_lengths), X.indices)),
                             shape=(n_clusters, X.shape[1]))
    return KMeansStats(counts, sums, float(inertia))


def _batch_plan(n_rows, chunk_size, n_features, n_clusters, dtype):
    """How a dense batch is labelled: ``(block_rows, kernel, sums_in_blocks)``.

    Batches are labelled as MiniBatchKMeans labels its rows (the kernel rule
    for labelling passes). Sums in the blocks cost each block a zeroed K × d
    array, and their total a pass over them all; once that outweighs half the
    batch's rows, the blocks label the batch without sums and one pass over it
    adds them up (at 784 × 256, 4 blocks of a 1,024-row batch: a fit's steps
    took 0.88-0.93 of the time with the sums in the blocks).
    """
    block_rows = batch_block_rows(n_rows, chunk_size, n_features, n_clusters)
    n_blocks = -(-n_rows // block_rows)
    kernel = _e_step_kernel(n_features, n_clusters, dtype, labelling=True)
    return block_rows, kernel, 2 * n_clusters * n_blocks <= n_rows or kernel == "direct"


def reads_rows_in_place(X, batch_size, chunk_size, n_clusters, n_jobs=1):
    """Whether batches of X are best read where they lie (:class:`IndexedRows`).

    Where the SIMD micro-kernel labels the batch with the sums in its blocks:
    it copies each chunk of rows into a buffer of its own anyway (shifted),
    and reads them through their index as fast as from a copied batch. But
    only where the blocks share the reading out over the threads as the copy
    would (two blocks or more, or a copy on one thread): a pass over 100,000
    rows (97 batches of 1,024), 2 threads, in place against copied, took 176
    against 187 ms at 784 × 16 float64, 212-219 against 224-232 at 784 × 32
    float64, 177 against 185 at 784 × 64 float32, 71 against 82 at 160 × 64
    float64; but as one block 201 against 190 at 784 × 3 float64 and 17-18
    against 15-16 at 32 × 8 float32. On one thread 256 against 300 at
    784 × 3 float64, 369 against 388 at 784 × 32. The choice changes no
    result: both read the same values in the same order. Float64 rows
    screened in float32 are read in place whether or not the blocks hold the
    sums (the kernel rounds each chunk into a buffer; the sums are then
    added by centre, on the threads): a fit at 784 × 256 took 495-503 ms
    against 522-538 copied.
    """
    if sparse.issparse(X) or not BatchRows.copies_by_kernel(X):
        return False
    block_rows, kernel, sums_in_blocks = _batch_plan(batch_size, chunk_size, X.shape[1],
                                                     n_clusters, X.dtype)
    if kernel == "screened":
        return True
    if kernel != "simd" or not sums_in_blocks:
        return False
    return block_rows < batch_size or not BatchRows.copies_in_parallel(X, batch_size, n_jobs)


def centres_for(X, centers):
    """A float64 copy of ``centers`` in the layout the steps on X read fastest.

    Fortran order for CSR data (the sparse kernel reads the transpose, which is
    then contiguous), C order otherwise.
    """
    order = "F" if sparse.issparse(X) else "C"
    return np.array(centers, dtype=np.float64, order=order)


def update_centers(centers, weight_sums, stats):
    """Move each centre to the mean of all the weight it has been given, in place.

    ``c ← c · W / (W + m) + s / (W + m)`` for every centre the batch reached
    (``W`` its weight before the batch, ``m`` and ``s`` the batch's weight and
    sum for it); the others stay exactly where they are.

    Parameters
    ----------
    centers : ndarray of shape (n_clusters, n_features), float64
        Modified in place.
    weight_sums : ndarray of shape (n_clusters,), float64
        Weight each centre has accumulated before this batch; modified in place
        (``+= stats.counts``).
    stats : KMeansStats
        The batch's statistics (:func:`batch_statistics`); ``sums`` dense or a
        scipy sparse matrix (whose repeated coordinates add up).

    Returns
    -------
    centers, weight_sums : the arguments, updated.
    """
    counts = stats.counts
    if not sparse.issparse(stats.sums) and centers.flags.c_contiguous:
        # One numba call, the same roundings as below (see move_centres).
        totals.move_centres(centers, weight_sums, counts, np.ascontiguousarray(stats.sums))
        return centers, weight_sums
    touched = np.flatnonzero(counts > 0)
    if touched.size == 0:
        return centers, weight_sums
    new_sums = weight_sums[touched] + counts[touched]
    keep = weight_sums[touched] / new_sums
    rate = 1.0 / new_sums
    if sparse.issparse(stats.sums):
        move_by_sparse_sums(centers, stats.sums, touched, keep, rate)
    else:
        centers[touched] = (centers[touched] * keep[:, None]
                            + stats.sums[touched] * rate[:, None])
    weight_sums[touched] = new_sums
    return centers, weight_sums


def reassign(centers, weight_sums, X, ratio, rng):
    """Move the centres that got little weight to random rows of the batch.

    A centre is moved when its accumulated weight is below ``ratio`` times the
    largest; at most half the batch's rows are used (the centres with the least
    weight first). Moved centres get the smallest weight among those that stay,
    so that they are not moved again at once.

    Parameters
    ----------
    centers : ndarray of shape (n_clusters, n_features), float64
        Modified in place.
    weight_sums : ndarray of shape (n_clusters,), float64
        Modified in place.
    X : ndarray or CSR matrix of shape (m, n_features)
        The batch.
    ratio : float
    rng : numpy.random.RandomState

    Returns
    -------
    n_reassigned : int
    """
    chosen = reassignment(weight_sums, X.shape[0], ratio, rng)
    if chosen is None:
        return 0
    to_reassign, rows = chosen
    centers[to_reassign] = X.take(rows) if isinstance(X, IndexedRows) else dense_rows(X, rows)
    return rows.shape[0]


class EarlyStopping:
    """scikit-learn's stopping rule for mini-batch K-means.

    Parameters
    ----------
    batch_size : int
        Rows per batch (the batch inertia is divided by it).
    n_samples : int
        Rows of the data set (sets the EWA's smoothing, ``2 · batch / (n + 1)``).
    tol : float
        Absolute tolerance on the centres' summed squared move (0: not used).
    max_no_improvement : int or None
        Steps without a new minimum of the EWA inertia before stopping (None: never).
    log : callable or None
        Called with each progress line (scikit-learn's ``verbose`` lines).
    """

    def __init__(self, batch_size, n_samples, tol, max_no_improvement, log=None):
        self.batch_size, self.n_samples = batch_size, n_samples
        self.tol, self.max_no_improvement, self.log = tol, max_no_improvement, log
        self.ewa_inertia = None
        self.ewa_inertia_min = None
        self.no_improvement = 0

    def __call__(self, step, n_steps, centers_squared_diff, batch_inertia):
        """Whether to stop after ``step`` (counted from 0) of ``n_steps``."""
        batch_inertia /= self.batch_size
        step += 1
        if step == 1:
            # The first batch's inertia measures the initial centres: not tracked.
            if self.log:
                self.log(f"Minibatch step {step}/{n_steps}: mean batch inertia: "
                         f"{batch_inertia}")
            return False
        if self.ewa_inertia is None:
            self.ewa_inertia = batch_inertia
        else:
            alpha = min(self.batch_size * 2.0 / (self.n_samples + 1), 1.0)
            self.ewa_inertia = self.ewa_inertia * (1 - alpha) + batch_inertia * alpha
        if self.log:
            self.log(f"Minibatch step {step}/{n_steps}: mean batch inertia: "
                     f"{batch_inertia}, ewa inertia: {self.ewa_inertia}")
        if self.tol > 0.0 and centers_squared_diff <= self.tol:
            if self.log:
                self.log(f"Converged (small centers change) at step {step}/{n_steps}")
            return True
        if self.ewa_inertia_min is None or self.ewa_inertia < self.ewa_inertia_min:
            self.no_improvement = 0
            self.ewa_inertia_min = self.ewa_inertia
        else:
            self.no_improvement += 1
        if (self.max_no_improvement is not None
                and self.no_improvement >= self.max_no_improvement):
            if self.log:
                self.log(f"Converged (lack of improvement in inertia) at step {step}/{n_steps}")
            return True
        return False


@dataclass
class ReassignClock:
    """When to look for centres to reassign: after every ``10 × n_clusters`` rows seen,
    and at every step while some centre has no weight at all (scikit-learn's rule)."""

    n_clusters: int
    rows_since: int = 0

    def due(self, batch_rows, weight_sums):
        """Count a batch of ``batch_rows`` rows; whether this step reassigns."""
        self.rows_since += batch_rows
        if (weight_sums == 0).any() or self.rows_since >= 10 * self.n_clusters:
            self.rows_since = 0
            return True
        return False


def minibatch_step(X, centers, weight_sums, sample_weight, *, rng, random_reassign,
                   reassignment_ratio, shift, chunk_size, runner, log=None, projection=None):
    """One mini-batch update: assign the batch, move the centres, maybe reassign.

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (m, n_features)
        The batch.
    centers : ndarray of shape (n_clusters, n_features), float64
        Updated in place (see :func:`centres_for` for the layout).
    weight_sums : ndarray of shape (n_clusters,), float64
        Updated in place.
    sample_weight : ndarray of shape (m,) or None
    rng : numpy.random.RandomState
        Draws the rows that reassigned centres move to.
    random_reassign : bool
        Whether this step looks for centres to reassign.
    reassignment_ratio : float
    shift, chunk_size, runner :
        As :func:`batch_statistics`.
    log : callable or None
        Told how many centres were reassigned.
    projection : Projection or None
        As :func:`batch_statistics`.

    Returns
    -------
    batch_inertia : float
        Inertia of the batch for the centres *before* the update.
    """
    stats = batch_statistics(X, centers, sample_weight, shift=shift, chunk_size=chunk_size,
                             runner=runner, projection=projection)
    update_centers(centers, weight_sums, stats)
    if random_reassign and reassignment_ratio > 0:
        n_moved = reassign(centers, weight_sums, X, reassignment_ratio, rng)
        if n_moved and log:
            log(f"[MiniBatchKMeans] Reassigning {n_moved} cluster centers.")
    return stats.inertia


@dataclass
class MiniBatchResult:
    """Outcome of :func:`minibatch_kmeans`.

    Attributes
    ----------
    centers : ndarray of shape (n_clusters, n_features), float64
    weight_sums : ndarray of shape (n_clusters,), float64
        Weight each centre accumulated (the learning rates of later steps).
    n_steps : int
        Batches processed.
    ewa_inertia : float or None
        Last smoothed mean batch inertia (None after a single step).
    last_batch_inertia : float
        Mean inertia of the last batch, before its update.
    rows_since_reassign : int
        Rows seen since the last reassignment check (carried into ``partial_fit``).
    """

    centers: np.ndarray
    weight_sums: np.ndarray
    n_steps: int
    ewa_inertia: float | None
    last_batch_inertia: float
    rows_since_reassign: int


def minibatch_kmeans(X, centers, *, sample_weight=None, batch_size, max_iter, tol,
                     max_no_improvement, reassignment_ratio, rng, shift=None, chunk_size,
                     runner, log=None, n_jobs=1):
    """Mini-batch K-means from given centres: up to ``max_iter`` passes' worth of batches.

    Batches of ``batch_size`` rows are drawn with replacement with probability
    ∝ ``sample_weight`` and processed with unit weights (so that each weight
    counts once), ``max_iter × n_samples // batch_size`` steps at most,
    stopped early by :class:`EarlyStopping`.

    Parameters
    ----------
    X : ndarray or CSR matrix of shape (n_samples, n_features)
    centers : ndarray of shape (n_clusters, n_features)
    sample_weight : ndarray of shape (n_samples,) or None
    batch_size : int
        At most ``n_samples``.
    max_iter : int
    tol : float
        Absolute, on the centres' summed squared move in one step.
    max_no_improvement : int or None
    reassignment_ratio : float
    rng : numpy.random.RandomState
    shift, chunk_size, runner :
        As :func:`batch_statistics`.
    log : callable or None
        Progress lines (scikit-learn's ``verbose``).
    n_jobs : int
        Threads that copy a batch's rows out of X (:class:`BatchRows`).

    Returns
    -------
    result : MiniBatchResult
    """
    n_samples = X.shape[0]
    centers = centres_for(X, centers)
    weight_sums = np.zeros(centers.shape[0])
    sampler = RowSampler(n_samples, sample_weight)
    stopping = EarlyStopping(batch_size, n_samples, tol, max_no_improvement, log)
    clock = ReassignClock(centers.shape[0])
    n_steps = max(1, (max_iter * n_samples) // batch_size)
    take = BatchRows(X, batch_size, n_jobs, in_place=reads_rows_in_place(
        X, batch_size, chunk_size, centers.shape[0], n_jobs))
    # One basis for the whole fit, from the first centres: any basis gives valid
    # bounds, and a new one each step would cost a tenth of the step.
    projection = (Projection(centers, X.dtype) if not sparse.issparse(X)
                  and uses_projection(X.shape[1], centers.shape[0], X.dtype, steps=True) else None)
    # CSR data: the centres kept scaled (a step's cost then follows its stored
    # values, not K × d), unless tol asks for each step's move of the centres.
    scaled = ScaledCentres(centers) if sparse.issparse(X) and tol <= 0.0 else None
    batch_inertia = 0.0
    step = 0
    for step in range(n_steps):
        rows = sampler.draw(rng, batch_size)
        # The centres' move is measured only when tol asks for it (a copy per step).
        previous = centers.copy() if tol > 0.0 else None
        if scaled is not None:
            batch_inertia = scaled.step(
                take(rows), weight_sums, rng=rng,
                random_reassign=clock.due(batch_size, weight_sums),
                reassignment_ratio=reassignment_ratio, log=log)
        else:
            batch_inertia = minibatch_step(
                take(rows), centers, weight_sums, None, rng=rng,
                random_reassign=clock.due(batch_size, weight_sums),
                reassignment_ratio=reassignment_ratio, shift=shift, chunk_size=chunk_size,
                runner=runner, log=log, projection=projection,
            )
        moved = 0.0
        if previous is not None:
            previous -= centers
            moved = float(np.einsum("ij,ij->", previous, previous))
        if stopping(step, n_steps, moved, batch_inertia):
            break
    if scaled is not None:
        centers = scaled.centers()
    return MiniBatchResult(centers, weight_sums, step + 1, stopping.ewa_inertia,
                           batch_inertia / batch_size, clock.rows_since)
