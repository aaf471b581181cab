"""The hard-assignment engine: Lloyd's algorithm over additive statistics.

Pure functions on arrays that already went through :mod:`mixfit._validation`
(2-D, finite, float32 or float64, weights float64 or None). Rows are processed in
chunks so that memory beyond the data is ``O(chunk_size × n_clusters)``.

The E-step of K-means is :func:`assign` (nearest centre by GEMM); its sufficient
statistics are :class:`KMeansStats` (weighted counts, weighted sums, inertia),
which add over chunks; the M-step is ``sums / counts``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from mixfit import _kmeans_kernels as kernels
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


#: Values of ``algorithm`` for :func:`lloyd`. "elkan" is scikit-learn's name for
#: exact bound-pruned k-means; it runs the Hamerly path (see :func:`lloyd`).
ALGORITHMS = ("auto", "lloyd", "elkan", "hamerly")

#: From this many clusters on, ``algorithm="auto"`` prunes with Hamerly's bounds.
HAMERLY_MIN_CLUSTERS = 32


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
        For sparse (CSR) X, see :func:`mixfit._kmeans_sparse.squared_distances`.
    """
    if sparse.issparse(X):
        from mixfit import _kmeans_sparse

        return _kmeans_sparse.squared_distances(X, centers, chunk_size=chunk_size, shift=shift)
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
    if sparse.issparse(X):
        # CSR data: one numba pass over the stored values (the kernel choice is
        # for the dense GEMM paths; there is no numpy reference for sparse).
        if kernel != "numba":
            raise ValueError("kernel='numpy' needs dense X; sparse X runs the numba kernel.")
        from mixfit import _kmeans_sparse

        return _kmeans_sparse.assign(X, centers, shift=shift, n_jobs=n_jobs)
    shift = _effective_shift(shift)
    n_samples = X.shape[0]
    labels = np.empty(n_samples, dtype=np.int64)
    min_sq_dist = np.empty(n_samples, dtype=np.float64)
    if kernel == "numba":
        from mixfit._kmeans_steps import _blocks, _fused_e_step, _Runner

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
        Number of iterations run (E-steps in the loop), counted as scikit-learn
        counts them.
    inertia_history : list of float
        Objective at each iteration, for the centres *before* that iteration's update.
    converged : bool
        False when the loop stopped at ``max_iter``.
    strict : bool
        True when the loop stopped because no label changed; False when it
        stopped on ``tol`` (or at ``max_iter``).
    center_shift : float
        Sum of the squared shifts of the centres in the last update (0.0 after a
        strict stop, which updates nothing).
    """

    centers: np.ndarray
    labels: np.ndarray
    inertia: float
    n_iter: int
    inertia_history: list = field(default_factory=list)
    converged: bool = False
    strict: bool = False
    center_shift: float = 0.0


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
        if not np.array_equal(_row(X, row), centers[labels[row]]):
            chosen.append(row)
        # Copies of a chosen row would give two identical centres, one of them dead.
        candidates = candidates[~_rows_equal_to(X, candidates, _row(X, row))]
    return chosen


def _rows_equal_to(X, rows, value, block=DEFAULT_CHUNK_SIZE):
    """Mask over ``rows``: whether ``X[rows[i]]`` equals ``value`` (blockwise gather)."""
    if sparse.issparse(X):
        from mixfit._kmeans_sparse import rows_equal_to

        return rows_equal_to(X, rows, value)
    mask = np.empty(rows.size, dtype=bool)
    for sl in row_chunks(rows.size, block):
        mask[sl] = np.all(X[rows[sl]] == value, axis=1)
    return mask


def _row(X, i):
    """Row ``i`` of X as a 1-D array (of a sparse X, that one row is densified)."""
    if sparse.issparse(X):
        from mixfit._kmeans_sparse import dense_row

        return dense_row(X, i)
    return X[i]


def _m_step(X, stats, centers, sample_weight, e_step, kernel):
    """New centres: weighted means, with empty clusters moved to far points.

    A cluster without weight keeps no information, so it is re-seeded at a row
    far from its current centre, and that row leaves the mean of the cluster it
    was assigned to (as scikit-learn relocates). This never raises the
    objective: the moved row now sits on its own centre, and the other centres
    are the means of what remains assigned to them. When no eligible row is
    left (every row already sits on a centre) the empty centre stays where it
    was; it is finite. A cluster that the move empties keeps its centre.
    """
    nonempty = stats.counts > 0
    if kernel == "numba":
        new = centers.copy()
        n_empty = kernels.update_centers(stats.sums, stats.counts, new)
    else:
        new = np.array(centers, dtype=np.float64)
        new[nonempty] = stats.sums[nonempty] / stats.counts[nonempty, None]
        n_empty = int(np.count_nonzero(~nonempty))
    if n_empty:
        empty = np.flatnonzero(~nonempty)
        # The distances to the centres before the update; the fused E-steps do not
        # keep them (n floats), so they are recomputed here, which is rare.
        labels, min_sq_dist = e_step.nearest(centers)
        far = _far_points(X, labels, min_sq_dist, centers, sample_weight, empty.size)
        for cluster, row in zip(empty, far):
            new[cluster] = _row(X, row)
            _leave_cluster(X, row, labels[row], sample_weight, stats, new)
    return new


def _leave_cluster(X, row, cluster, sample_weight, stats, centers):
    """Take a relocated row out of its cluster's statistics and mean (in place)."""
    weight = 1.0 if sample_weight is None else float(sample_weight[row])
    stats.counts[cluster] -= weight
    stats.sums[cluster] -= weight * _row(X, row).astype(np.float64)
    if stats.counts[cluster] > 0:
        centers[cluster] = stats.sums[cluster] / stats.counts[cluster]


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
        Absolute tolerance (scikit-learn's rule): stop when the sum over the
        centres of their squared shift in one update is at most ``tol`` (in X's
        units squared; :class:`mixfit.KMeans` passes its ``tol`` times the mean
        column variance). The loop also stops as soon as no label changes.
    chunk_size : int or None
        Rows per block (None: see :func:`auto_chunk_size`).
    callback : callable or None
        ``callback(iteration, centers, inertia)`` after each E-step (iterations
        count from 1), with the centres the inertia was measured for.
    shift : ndarray of shape (n_features,) or None
        Subtracted before the distance GEMMs (pass the data mean for float32
        data far from the origin). Pass the same shift to :func:`assign` to
        reproduce the returned labels bit for bit.
    algorithm : {"auto", "lloyd", "elkan", "hamerly"}
        "lloyd" computes every distance each iteration; "hamerly" keeps a bound
        per row and skips the rows whose centre provably stays the same (same
        labels as "lloyd", inertia equal to rounding; pays off for many
        clusters); "elkan" (scikit-learn's name for exact triangle-inequality
        pruning) runs "hamerly": Hamerly's bounds are exact too, so the labels,
        centres and iteration count are those of "lloyd" either way; "auto"
        uses "hamerly" from :data:`HAMERLY_MIN_CLUSTERS` clusters on (with
        ``kernel="numba"``), and "lloyd" for sparse X (where the bounds rarely
        pay; "hamerly" there gives the results of "lloyd" bit for bit).
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
        # Not for sparse data: on text-like CSR (many features, clusters close
        # in distance) the bounds rarely prune, and Hamerly ran 1.2-1.5× slower.
        pays = (kernel == "numba" and n_clusters >= HAMERLY_MIN_CLUSTERS
                and not sparse.issparse(X))
        algorithm = "hamerly" if pays else "lloyd"
    if algorithm == "elkan":
        # Elkan's K bounds per row would cost n·K memory for the same labels.
        algorithm = "hamerly"
    if kernel == "numpy" and algorithm == "hamerly":
        raise ValueError("algorithm='hamerly' needs kernel='numba'.")
    if sparse.issparse(X):
        # CSR data: the sparse E-steps, over the stored values only.
        from mixfit import _kmeans_sparse

        return _kmeans_sparse.lloyd(X, centers_init, sample_weight, max_iter, tol, callback,
                                    shift, kernel, n_jobs, algorithm)
    # Imported here: the E-steps build on this module's statistics and GEMM helpers.
    from mixfit._kmeans_steps import _blocks, _Hamerly, _LloydEStep, _NumpyEStep, _Runner

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
    with positive weight changed label. Each iteration is an E-step then an
    update, counted as scikit-learn counts: a run that finds no label changed
    at its (i+1)-th E-step ("strict convergence") or whose i-th update moves the
    centres by at most ``tol`` (sum of squared shifts) reports ``n_iter = i + 1``.
    """
    # The centres are kept in float64 between iterations whatever X's dtype: float32
    # centres far from the origin would be rounded to the spacing of their offset
    # at every update (6e-4 at 1e4), and the run would drift from float64's.
    centers = np.array(centers_init, dtype=np.float64)
    history = []
    converged = strict = False
    center_shift = 0.0
    final_inertia = None  # set when the last E-step used the returned centres
    for iteration in range(max_iter):
        n_changed, stats = e_step(centers)
        history.append(stats.inertia)
        if callback is not None:
            callback(iteration + 1, centers.astype(X.dtype), stats.inertia)
        if iteration > 0 and n_changed == 0:
            # The means of an unchanged assignment are the current centres.
            converged = strict = True
            center_shift = 0.0
            final_inertia = stats.inertia
            break
        new_centers = _m_step(X, stats, centers, sample_weight, e_step, kernel)
        center_shift = _squared_shift(new_centers, centers)
        centers = new_centers
        if center_shift <= tol:
            converged = True
            break

    rounded = centers.astype(X.dtype)
    if final_inertia is None or X.dtype != np.float64:
        # Label with the centres actually returned (after an update, or rounded to
        # float32), so that fit_predict(X) equals fit(X).predict(X). The pruned
        # E-step serves here too (its bounds are valid for any centres).
        final_inertia = e_step(rounded)[1].inertia
    centers = rounded
    labels = e_step.labels
    del e_step  # its per-row state (bounds, norms) goes before the int64 copy is made
    return KMeansResult(
        centers=centers,
        labels=labels.astype(np.int64, copy=False),
        inertia=final_inertia,
        n_iter=len(history),
        inertia_history=history,
        converged=converged,
        strict=strict,
        center_shift=center_shift,
    )


def _squared_shift(new_centers, centers):
    """Sum over the centres of their squared Euclidean move, in float64."""
    moved = np.asarray(new_centers, dtype=np.float64) - np.asarray(centers, dtype=np.float64)
    return float(np.einsum("ij,ij->", moved, moved))
