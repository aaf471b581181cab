"""K-means on sparse (CSR) data without densifying it.

The distances from a row to the centres are ``‖x‖² − 2 x·c + ‖c‖²`` with the
dot products taken over the row's stored values only (one numba pass per block
of rows, :mod:`mixfit.kernels.kmeans_sparse`), and the M-step's sums add each
stored value into a dense ``K × d`` array. Nothing of size ``n × d`` is ever
made: the largest dense arrays are ``K × d`` (centres, sums) and single rows.

Sparse data are never shifted to their mean (that would make them dense), so
the E-step here takes no shift; :func:`mixfit.engine.kmeans.lloyd`,
:func:`mixfit.engine.kmeans.assign` and :func:`mixfit.engine.kmeans.squared_distances`
dispatch here when X is a ``scipy.sparse`` matrix. Row blocks run on the same
thread pool as the dense E-steps, with sums added in an order fixed by the
number of rows alone, so results do not depend on the number of threads.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from mixfit.kernels import kmeans_sparse as kernels
from mixfit.engine.kmeans_steps import _BLOCK_ROWS, _GROUPS, _NOTHING, _Runner
from mixfit._sparse_checks import canonical_csr
from mixfit._validation import DEFAULT_CHUNK_SIZE, row_chunks
from mixfit.engine.kmeans_loop import _lloyd_loop
from mixfit.engine.sparse_rows import dense_row, dense_rows, rows_equal_to  # noqa: F401 (re-exported)

__all__ = [
    "SparseHamerly",
    "SparseLloydEStep",
    "as_csr",
    "assign",
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


def _centres(centers, dtype):
    """The centres transposed (d × K, contiguous, in X's dtype) and their squared norms.

    The loop keeps its centres in float64; for float32 data they are rounded to
    float32 here, as the dense GEMM path rounds them, which halves the memory
    traffic of the kernels' scattered reads of the d × K copy (float32 K = 20
    ran 1.2× scikit-learn's time with float64 centres, against 0.9× rounded).
    The kernels convert each value to float64 exactly before multiplying, and
    the squared norms (float64) are those of the rounded centres.
    """
    dtype = np.float32 if np.dtype(dtype) == np.float32 else np.float64
    rounded = np.asarray(centers).astype(dtype)
    C64 = rounded.astype(np.float64)
    return np.ascontiguousarray(rounded.T), np.einsum("ij,ij->i", C64, C64)


def _x_sq(X):
    return kernels.row_sq_norms(X.data, X.indptr, np.empty(X.shape[0]))


def row_blocks(n_samples):
    """Row ranges of the threaded passes: fixed by ``n_samples`` alone.

    At most ``_GROUPS`` blocks of at least ``_BLOCK_ROWS`` rows: each block
    holds a ``K × d`` array of sums, which for sparse data (large d) dominates
    what a pass costs beyond the rows themselves.
    """
    size = max(_BLOCK_ROWS, -(-n_samples // _GROUPS))
    return list(row_chunks(n_samples, size))


def _labels_pass(X, centers, x_sq, runner, labels, min_sq_dist):
    """Labels (and distances) of every row, on the runner's threads; no statistics."""
    centers_t, c_sq = _centres(centers, X.dtype)
    blocks = row_blocks(X.shape[0])

    def block(rows):
        kernels.lloyd_rows(X.data, X.indices, X.indptr, rows.start, rows.stop, centers_t,
                           c_sq, x_sq, _NOTHING, labels, min_sq_dist, _NO_SUMS, _NOTHING)
        # The shape map_sums adds up (only its threads and block order are wanted here).
        return np.zeros(1), np.zeros(1), 0.0, 0

    runner.map_sums(block, blocks)


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

    def __call__(self, centers):
        X, weight, labels, x_sq = self.X, self.weight, self.labels, self.x_sq
        n_clusters, n_features = np.shape(centers)
        centers_t, c_sq = _centres(centers, X.dtype)

        def block(rows):
            counts = np.zeros(n_clusters)
            sums = np.zeros((n_clusters, n_features))
            inertia, n_changed = kernels.lloyd_rows(
                X.data, X.indices, X.indptr, rows.start, rows.stop, centers_t, c_sq, x_sq,
                weight, labels, _NOTHING, sums, counts,
            )
            return counts, sums, inertia, n_changed

        return self.runner.map_sums(block, self.blocks)

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
        n_clusters, n_features = np.shape(centers)
        # The geometry of the centres the kernels use (rounded to X's dtype), so
        # that the bounds hold to float64 rounding, which is all tau allows for.
        centers64 = np.asarray(centers).astype(X.dtype).astype(np.float64)
        drift, drift_argmax, drift_second, half_gap = _Hamerly._centre_geometry(self, centers64)
        centers_t, c_sq = _centres(centers, X.dtype)
        c_max_sq = float(c_sq.max())
        full_rows = []  # per block; list.append is atomic across threads

        def block(rows):
            counts = np.zeros(n_clusters)
            sums = np.zeros((n_clusters, n_features))
            inertia, n_changed, n_full = kernels.hamerly_rows(
                X.data, X.indices, X.indptr, rows.start, rows.stop, centers_t, c_sq, x_sq,
                weight, labels, lower, half_gap, drift, drift_argmax, drift_second,
                self.tau_coef, c_max_sq, sums, counts,
            )
            full_rows.append(n_full)
            return counts, sums, inertia, n_changed

        result = self.runner.map_sums(block, self.blocks)
        self.full_rows = sum(full_rows)
        self.previous = centers64
        return result


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
    out = np.empty((X.shape[0], centers_t.shape[1]), dtype=X.dtype)
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
