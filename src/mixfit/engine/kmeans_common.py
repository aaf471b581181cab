"""What the K-means engines share: chunk sizes, the shift, row norms, the numpy
reference E-step, and the statistics and result of a run."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from mixfit._validation import DEFAULT_CHUNK_SIZE, check_chunk_size, row_chunks
from mixfit.kernels.kmeans_totals import squared_shift


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
    # No second copy when the working dtype is float64 (1,024 × 784 centres: a
    # copy of 6.4 MB in every mini-batch step).
    return (np.asarray(centers, dtype=np.float64) - shift).astype(dtype, copy=False)


def _row_sq_norms(X_chunk):
    """Squared Euclidean norm of each row, in the chunk's dtype."""
    return _vecdot(X_chunk, X_chunk)


def _einsum_sq_norms(X_chunk, _=None):
    return np.einsum("ij,ij->i", X_chunk, X_chunk)


# numpy ≥ 2's vecdot is 1.5× faster than einsum on long rows and 3× on short
# ones (its per-call overhead is what a lecture-sized fit pays).
_vecdot = getattr(np, "vecdot", _einsum_sq_norms)


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


def _squared_shift(new_centers, centers):
    """Sum over the centres of their squared Euclidean move, in float64."""
    return float(squared_shift(np.atleast_2d(np.asarray(new_centers)),
                               np.atleast_2d(np.asarray(centers))))
