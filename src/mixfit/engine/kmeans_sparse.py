"""K-means on sparse (CSR) data without densifying it.

The distances from a row to the centres are ``‖x‖² − 2 x·c + ‖c‖²`` with the
dot products taken over the row's stored values only (one numba pass per block
of rows, :mod:`mixfit.kernels.kmeans_sparse`). The M-step's sums are a second
pass into one dense ``K × d`` array, each task adding up the rows of its own
set of clusters in row order (see :func:`cluster_statistics`).
Nothing of size ``n × d`` is ever made: the largest dense arrays are ``K × d``
(centres, one array of sums) and single rows.

Sparse data are never shifted to their mean (that would make them dense), so
the E-step here takes no shift; :func:`mixfit.engine.kmeans.lloyd`,
:func:`mixfit.engine.kmeans.assign` and :func:`mixfit.engine.kmeans.squared_distances`
dispatch here when X is a ``scipy.sparse`` matrix. Row blocks and clusters
run on the same thread pool as the dense E-steps; the inertia is added in
block order and each cluster's sums in row order, so results do not depend on
the number of threads.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from mixfit.kernels import kmeans_sparse as kernels
from mixfit.kernels.sparse_dots import padded_width
from mixfit.engine.kmeans_common import KMeansStats
from mixfit.engine.kmeans_runner import _Runner
from mixfit.engine.kmeans_steps import _NOTHING
from mixfit._sparse_checks import canonical_csr
from mixfit._validation import DEFAULT_CHUNK_SIZE, row_chunks
from mixfit.engine.kmeans_loop import _lloyd_loop
from mixfit.engine.sparse_rows import dense_row, dense_rows, rows_equal_to  # noqa: F401 (re-exported)

__all__ = [
    "SparseHamerly",
    "SparseLloydEStep",
    "as_csr",
    "assign",
    "cluster_statistics",
    "column_mean_and_variance",
    "dense_row",
    "dense_rows",
    "lloyd",
    "row_blocks",
    "rows_equal_to",
    "sq_dist_to_point",
    "squared_distances",
]

#: An empty (0, 0) float64 array: "no statistics wanted" for the labelling kernel.
_NO_SUMS = np.empty((0, 0))


def as_csr(X):
    """X as a CSR matrix in canonical form (sorted indices, no duplicates).

    Other sparse formats are converted, as scikit-learn's ``accept_sparse="csr"``
    does; a matrix not in canonical form is copied first, so the caller's
    object is never modified. The values keep their dtype.
    """
    if not sparse.issparse(X):
        raise TypeError(f"expected a scipy.sparse matrix, got {type(X).__name__}.")
    return canonical_csr(X)


def _check_no_shift(shift):
    if shift is not None and np.any(shift):
        raise ValueError(
            "sparse X is never shifted to its mean (that would make it dense): "
            "pass shift=None or zeros."
        )


def _centres(centers, dtype, out=None):
    """The centres transposed (d × K, contiguous, in X's dtype) and their squared norms.

    The loop keeps its centres in float64; for float32 data they are rounded to
    float32 here, as the dense GEMM path rounds them, which halves the memory
    traffic of the kernels' scattered reads of the d × K copy (float32 K = 20
    ran 1.2× scikit-learn's time with float64 centres, against 0.9× rounded).
    The kernels convert each value to float64 exactly before multiplying, and
    the squared norms (float64) are those of the rounded centres. One numba
    pass makes both (numpy's three copies of ``K × d`` took 2.8 ms of a 32 ms
    iteration at K × d = 1e6). The copy has
    :func:`~mixfit.kernels.sparse_dots.padded_width` columns (zeros beyond K,
    for the kernels' vector loop); ``out`` is reused if it has that shape and
    dtype.
    """
    centers = np.asarray(centers, dtype=np.float64)
    n_clusters, n_features = centers.shape
    dtype = np.float32 if np.dtype(dtype) == np.float32 else np.float64
    shape = (n_features, padded_width(n_clusters))
    if out is None or out.shape != shape or out.dtype != dtype:
        # Zeros: the padding columns (for the kernels' vector loop) stay zero.
        out = np.zeros(shape, dtype=dtype)
    c_sq = np.empty(n_clusters)
    kernels.centres_transposed(centers, out, c_sq)
    return out, c_sq


def _x_sq(X):
    return kernels.row_sq_norms(X.data, X.indptr, np.empty(X.shape[0]))


#: Rows per block of the labelling passes (at least), and at most this many blocks.
_SPARSE_BLOCK_ROWS = 2048
_SPARSE_MAX_BLOCKS = 64


def row_blocks(n_samples):
    """Row ranges of the threaded labelling passes: fixed by ``n_samples`` alone.

    A block holds no ``K × d`` sums (see :func:`cluster_statistics`), so blocks
    can be small enough for the threads to share a pass evenly: at n = 50,000
    the four blocks of 16,384 rows left one thread waiting for a quarter of it.
    """
    size = max(_SPARSE_BLOCK_ROWS, -(-n_samples // _SPARSE_MAX_BLOCKS))
    return list(row_chunks(n_samples, size))


def _labels_pass(X, centers, x_sq, runner, labels, min_sq_dist):
    """Labels (and distances) of every row, on the runner's threads; no statistics."""
    centers_t, c_sq = _centres(centers, X.dtype)

    def block(rows):
        return kernels.lloyd_rows(X.data, X.indices, X.indptr, rows.start, rows.stop,
                                  centers_t, c_sq, x_sq, _NOTHING, labels, min_sq_dist,
                                  _NO_SUMS, _NOTHING)

    _map_blocks(runner, block, row_blocks(X.shape[0]))


def _map_blocks(runner, function, blocks):
    """``function(rows)`` for every block, on the runner's threads; results in block order."""
    results = [None] * len(blocks)

    def keep(index):
        results[index] = function(blocks[index])

    runner.for_each(keep, len(blocks))
    return results


def _cluster_tasks(work, n_threads):
    """Clusters in groups for the runner's threads: the heaviest first, about two
    groups per thread (each cluster's sums are one task's, whatever the grouping)."""
    n_clusters = work.shape[0]
    if n_threads == 1 or n_clusters == 1:
        return [np.arange(n_clusters)]
    heaviest_first = np.argsort(-work, kind="stable")
    # A cluster joins the group in which its first unit of work falls.
    begins = np.cumsum(work[heaviest_first]) - work[heaviest_first]
    size = max(1.0, float(work.sum()) / (2 * n_threads))
    group = (begins / size).astype(np.int64)
    cuts = np.flatnonzero(np.diff(group)) + 1
    return np.split(heaviest_first, cuts)


def cluster_statistics(X, labels, weight, n_clusters, runner):
    """The M-step's ``counts`` (K,) and ``sums`` (K, d), float64, of CSR X by label.

    One ``K × d`` array, each task adding up the rows of its own set of
    clusters, in row order (:func:`~mixfit.kernels.kmeans_sparse.label_sums`):
    the sums do not depend on the threads, and no block of rows needs an array
    of its own. Adding each row into a per-block array as it was labelled
    cost 15.7 against 12.2 ns per stored value for labelling alone (one
    thread, 50,000 × 50,000 text-like rows, K = 20), plus zeroing and adding
    up a ``K × d`` array per block; this pass costs 2.9. ``weight`` is the
    sample weights or an empty array.
    """
    row_lengths = np.diff(X.indptr)
    # A cluster's work: its stored values, and a row's own cost for empty rows.
    work = np.bincount(labels, weights=row_lengths + 1.0, minlength=n_clusters)
    tasks = _cluster_tasks(work[:n_clusters], runner.n_threads)
    sums = np.empty((n_clusters, X.shape[1]))
    counts = np.empty(n_clusters)

    def add_up(task):
        mine = np.zeros(n_clusters, dtype=bool)
        mine[tasks[task]] = True
        kernels.label_sums(X.data, X.indices, X.indptr, weight, labels, mine, sums, counts)

    runner.for_each(add_up, len(tasks))
    return counts, sums


class SparseLloydEStep:
    """The fused E-step on CSR data, with the interface of :mod:`mixfit.engine.kmeans_steps`'.

    Called with the centres, it returns ``(n_changed, KMeansStats)``; ``labels``
    (int32) are held across iterations; :meth:`nearest` recomputes labels and
    distances for given centres (for empty-cluster relocation).
    """

    def __init__(self, X, sample_weight, runner):
        self.X = as_csr(X)
        self.weight = _NOTHING if sample_weight is None else sample_weight
        self.runner = runner
        self.x_sq = _x_sq(self.X)  # once per fit, float64
        self.labels = np.full(X.shape[0], -1, dtype=np.int32)
        self.blocks = row_blocks(X.shape[0])
        self.centers_t = None

    def __call__(self, centers):
        X, weight, labels, x_sq = self.X, self.weight, self.labels, self.x_sq
        centers_t, c_sq = self._centres(centers)

        def block(rows):
            return kernels.lloyd_rows(
                X.data, X.indices, X.indptr, rows.start, rows.stop, centers_t, c_sq, x_sq,
                weight, labels, _NOTHING, _NO_SUMS, _NOTHING,
            )

        return self._with_statistics(_map_blocks(self.runner, block, self.blocks),
                                     len(centers))

    def _centres(self, centers):
        """:func:`_centres` into the buffer of the last call (no new ``d × K`` pages)."""
        self.centers_t, c_sq = _centres(centers, self.X.dtype, self.centers_t)
        return self.centers_t, c_sq

    def _with_statistics(self, per_block, n_clusters):
        """``(n_changed, KMeansStats)`` from the blocks' ``(inertia, n_changed, …)``
        (added in block order) and the sums of the labels now held."""
        inertia = 0.0
        n_changed = 0
        for result in per_block:
            inertia += result[0]
            n_changed += result[1]
        counts, sums = cluster_statistics(self.X, self.labels, self.weight, n_clusters,
                                          self.runner)
        return n_changed, KMeansStats(counts, sums, inertia)

    def nearest(self, centers):
        """Labels and squared distances for ``centers`` (only for empty clusters)."""
        labels = np.empty(self.X.shape[0], dtype=np.int32)
        min_sq_dist = np.empty(self.X.shape[0])
        _labels_pass(self.X, centers, self.x_sq, self.runner, labels, min_sq_dist)
        return labels, min_sq_dist


def lloyd(X, centers_init, sample_weight, max_iter, tol, callback, shift, kernel, n_jobs,
          algorithm="lloyd"):
    """:func:`mixfit.engine.kmeans.lloyd` on CSR data (its arguments, resolved).

    ``algorithm`` is "lloyd" or "hamerly" (resolved by the caller); both give
    the same labels, centres and inertia, bit for bit.
    """
    if kernel != "numba":
        raise ValueError("kernel='numpy' needs dense X; sparse X runs the numba kernel.")
    _check_no_shift(shift)
    X = as_csr(X)
    e_step_class = SparseHamerly if algorithm == "hamerly" else SparseLloydEStep
    with runner(X, n_jobs) as run:
        return _lloyd_loop(X, centers_init, sample_weight, max_iter, tol, callback,
                           e_step_class(X, sample_weight, run), kernel)


class SparseHamerly(SparseLloydEStep):
    """Hamerly's pruned E-step on CSR data: per row a label and a float32 lower bound.

    Gives bit for bit the labels, distances and statistics of
    :class:`SparseLloydEStep` (see :func:`mixfit.kernels.kmeans_sparse.hamerly_rows`);
    a row whose centre provably stays costs one dot product instead of K.
    ``full_rows`` counts the rows of the last call that needed all K.
    """

    def __init__(self, X, sample_weight, runner):
        super().__init__(X, sample_weight, runner)
        n_samples, n_features = self.X.shape
        self.labels[:] = 0
        self.lower = np.full(n_samples, -np.inf, dtype=np.float32)  # every row is computed
        self.previous = None
        self.full_rows = 0
        longest = int(np.max(np.diff(self.X.indptr))) if n_samples else 0
        # Bounds the rounding of a difference of two computed squared distances:
        # the dot products (≤ longest terms), ‖c‖² (d terms) and ‖x‖², each within
        # (terms + 8) ulps of ‖x‖² + max‖c‖², four of them, doubled for safety;
        # plus a float64 margin for drifting bounds (as the dense Hamerly's).
        self.tau_coef = 8.0 * (n_features + longest + 8) * np.finfo(np.float64).eps + 1e-12

    def __call__(self, centers):
        # Imported here: the dense Hamerly's centre geometry (moves, gaps) serves as is.
        from mixfit.engine.kmeans_hamerly import _Hamerly

        X, weight, labels, lower, x_sq = self.X, self.weight, self.labels, self.lower, self.x_sq
        n_clusters = len(centers)
        # The geometry of the centres the kernels use (rounded to X's dtype), so
        # that the bounds hold to float64 rounding, which is all tau allows for.
        centers64 = np.asarray(centers).astype(X.dtype).astype(np.float64)
        drift, drift_argmax, drift_second, half_gap = _Hamerly._centre_geometry(self, centers64)
        centers_t, c_sq = self._centres(centers)
        c_max_sq = float(c_sq.max())

        def block(rows):
            return kernels.hamerly_rows(
                X.data, X.indices, X.indptr, rows.start, rows.stop, centers_t, c_sq, x_sq,
                weight, labels, lower, half_gap, drift, drift_argmax, drift_second,
                self.tau_coef, c_max_sq,
            )

        per_block = _map_blocks(self.runner, block, self.blocks)
        self.full_rows = sum(result[2] for result in per_block)
        self.previous = centers64
        return self._with_statistics(per_block, n_clusters)


def runner(X, n_jobs):
    """The thread runner of a pass over the row blocks of X."""
    return _Runner(n_jobs, len(row_blocks(X.shape[0])))


def assign(X, centers, *, shift=None, n_jobs=1):
    """Nearest centre and squared distance to it for every row of CSR ``X``.

    See :func:`mixfit.engine.kmeans.assign`; ``shift`` must be None or zeros.
    """
    _check_no_shift(shift)
    X = as_csr(X)
    labels = np.empty(X.shape[0], dtype=np.int64)
    min_sq_dist = np.empty(X.shape[0])
    with runner(X, n_jobs) as run:
        _labels_pass(X, centers, _x_sq(X), run, labels, min_sq_dist)
    return labels, min_sq_dist


def squared_distances(X, centers, *, chunk_size=DEFAULT_CHUNK_SIZE, shift=None):
    """``(n_samples, n_clusters)`` squared distances in X's dtype, clamped at 0.

    See :func:`mixfit.engine.kmeans.squared_distances` (``chunk_size`` rows are written
    per kernel call); ``shift`` must be None or zeros.
    """
    _check_no_shift(shift)
    X = as_csr(X)
    centers_t, c_sq = _centres(centers, X.dtype)
    out = np.empty((X.shape[0], c_sq.shape[0]), dtype=X.dtype)
    x_sq = _x_sq(X)
    for sl in row_chunks(X.shape[0], chunk_size):
        kernels.sq_distances_rows(X.data, X.indices, X.indptr, sl.start, sl.stop,
                                  centers_t, c_sq, x_sq, out[sl])
    return out


def sq_dist_to_point(X, point, out, *, minimum):
    """``‖x − point‖²`` per row of CSR X, float64, into ``out`` (exact 0 for copies).

    See :func:`mixfit.engine.init._exact_sq_dist`; with ``minimum``, ``out`` keeps the
    smaller of its value and the distance.
    """
    point = np.asarray(point)
    nonzero = np.flatnonzero(point)
    kernels.sq_dist_to_point(X.data, X.indices, X.indptr, nonzero.astype(X.indices.dtype),
                             point[nonzero].astype(np.float64), out, minimum)
    return out


def column_mean_and_variance(X, weight=None):
    """(Weighted) per-column mean and variance of CSR X, float64, by sparse products.

    The variance is ``E[x²] − mean²`` clamped at 0: the centred form would make
    the data dense. Only a float64 copy of the stored values is made.
    """
    w = np.ones(X.shape[0]) if weight is None else np.asarray(weight, dtype=np.float64)
    total = float(w.sum())
    data = X.data.astype(np.float64)
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    weighted = data * w[rows]
    mean = np.bincount(X.indices, weights=weighted, minlength=X.shape[1]) / total
    square = np.bincount(X.indices, weights=weighted * data, minlength=X.shape[1]) / total
    return mean, np.maximum(square - mean * mean, 0.0)
