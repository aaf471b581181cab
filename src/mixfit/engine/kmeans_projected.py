"""Labelling passes that skip the far centres: bounds from a projection, then exact distances.

With many centres in many dimensions a labelling pass (``predict``, a
:class:`~mixfit.MiniBatchKMeans` batch, its final labels) spends nearly all its
time in the ``rows × clusters × features`` distance GEMM. :class:`Projection`
bounds every distance from below through the centres' leading principal
directions (an ``m``-column GEMM, ``m`` = :data:`N_COMPONENTS` or fewer) and
computes a row's exact distance only to the centres those bounds cannot rule
out; :mod:`mixfit.kernels.kmeans_projected` says why the labels are those of
the exact distances to every centre.

The bounds prune where the centres are spread over a low-dimensional set, as
on clustered data; where they do not (uniform noise, say) a pass falls back to
the GEMM path after its first block (:data:`MOST_EXACT_FRACTION`).
"""

from __future__ import annotations

import numpy as np

from mixfit.engine.kmeans_common import KMeansStats
from mixfit.engine.kmeans_screened import screens_in_float32
from mixfit.kernels.kmeans import add_rows_in_order
from mixfit.kernels.kmeans_projected import (bound_rounding, centre_state, label_blocks,
                                             label_by_bounds)
from mixfit.kernels.parallel import run_on_threads

__all__ = ["FLOAT32_BOUNDS", "MIN_CLUSTERS", "MIN_FEATURES", "MIN_STEP_CLUSTERS", "MIN_WORK_FLOAT64",
           "MOST_EXACT_FRACTION", "N_COMPONENTS", "Projection", "projected_statistics",
           "bounds_dtype_for", "projection_basis", "uses_projection"]

#: Directions of the projection (at most the features and the centres less one).
N_COMPONENTS = 32
#: Shapes whose labelling passes use the projection (:func:`uses_projection`).
MIN_CLUSTERS = {"float32": 512, "float64": 256}
MIN_FEATURES = {"float32": 400, "float64": 128}
#: ... and for float64 at least this many features × clusters.
MIN_WORK_FLOAT64 = 160 * 1024
#: Clusters from which a mini-batch fit's steps use it too.
MIN_STEP_CLUSTERS = 1024
#: A block that computes more exact distances than this fraction of
#: ``rows × clusters`` shows that the bounds do not pay: the pass finishes on
#: the GEMM path, and so do later passes with the same :class:`Projection`.
MOST_EXACT_FRACTION = 1 / 16
#: Bytes of a block's bound GEMM output (``rows × clusters``): it stays in cache.
BLOCK_BYTES = 1 << 20
#: Most rows per block: a 1,024-row batch makes four, shared by the threads.
MOST_BLOCK_ROWS = 256
#: Blocks of centres whose state is computed in parallel (a power of two).
CENTRE_BLOCKS = 8
#: float64 data's bounds computed in float32 (:func:`bounds_dtype_for`).
FLOAT32_BOUNDS = True
#: The random start of the range finder: the basis depends on the centres alone.
SEED = 0
_NO_WEIGHT = np.empty(0)


def uses_projection(n_features, n_clusters, dtype, steps=False):
    """Whether labelling passes of this shape go through :class:`Projection`.

    Measured on 100,000 rows of 64 Gaussian blobs (2 threads, GEMM path
    against this one). The labels of every row for fitted centres: 784 ×
    1,024 float64 1,106-1,316 against 597 ms, float32 505-513 against
    371-390; 784 × 256 float64 334-365 against 267-293, but float32 161-168
    against 155-175; 160 × 1,024 float64 257-280 against 220-233, float32
    118-136 against 157-163. A one-pass fit's steps (``steps=True``, whose
    first centres are data rows, which the bounds separate poorly): 784 ×
    1,024 float32 759 against 643 ms, float64 1,386 against 960, 160 × 1,024
    float64 329 against 266; 784 × 256 the same (297 and 289 float32, 478
    and 487 float64), 160 × 1,024 float32 175 against 202. Not the float64
    shapes labelled in float32 (:func:`~mixfit.engine.kmeans_screened.screens_in_float32`),
    which label faster so: every row's label 211 against 225 ms at 784 × 256,
    139 against 193 at 160 × 1,024. A fit's steps keep the projection: 355
    against 424 ms screened at 256 × 1,024 float64 (259 and 257 at 160 × 1,024).
    """
    name = np.dtype(dtype).name
    if n_features < MIN_FEATURES.get(name, np.inf):
        return False
    if n_clusters < (MIN_STEP_CLUSTERS if steps else MIN_CLUSTERS.get(name, np.inf)):
        return False
    return name != "float64" or (n_features * n_clusters >= MIN_WORK_FLOAT64
                                 and (steps or not screens_in_float32(n_features, n_clusters,
                                                                      dtype)))


def bounds_dtype_for(dtype):
    """The dtype of the bounds' GEMMs for data of ``dtype``: float32 for float64 data.

    Measured on 100,000 rows of 64 blobs, 2 threads, float64 bounds → float32
    bounds (the same labels): a one-pass fit's steps 894 → 814 ms at 784 ×
    1,024, 282 → 244 at 160 × 1,024; the labels of every row 569 → 518 ms at
    784 × 1,024 (the exact distances, in float64 either way, and the bounds'
    bookkeeping are most of the rest).
    """
    dtype = np.dtype(dtype)
    return np.dtype(np.float32) if FLOAT32_BOUNDS and dtype == np.float64 else dtype


def projection_basis(centers, n_components=N_COMPONENTS):
    """The centres' mean and an orthonormal basis of their leading principal directions.

    Parameters
    ----------
    centers : ndarray of shape (n_clusters, n_features)
    n_components : int

    Returns
    -------
    mean : ndarray of shape (n_features,), float64
    basis : ndarray of shape (m, n_features), float64
        Orthonormal rows, ``m = min(n_components, n_features, n_clusters)``.

    A randomised range finder with two power iterations (Halko, Martinsson and
    Tropp 2011, algorithm 4.4) from a fixed seed: a few GEMMs of the centres
    with ``m + 8`` columns rather than their full SVD (100 ms at 1,024 × 784).
    Any orthonormal basis gives valid bounds; a good one only prunes more.
    """
    C = np.asarray(centers, dtype=np.float64)
    mean = C.mean(axis=0)
    spread = C - mean
    n_clusters, n_features = spread.shape
    m = max(1, min(int(n_components), n_features, n_clusters))
    width = m + 8
    if width >= min(n_clusters, n_features):
        _, _, vt = np.linalg.svd(spread, full_matrices=False)
        return mean, np.ascontiguousarray(vt[:m])
    rng = np.random.default_rng(SEED)
    sketch = spread @ rng.standard_normal((n_features, width))
    for _ in range(2):
        sketch, _ = np.linalg.qr(sketch)
        sketch = spread @ (spread.T @ sketch)
    sketch, _ = np.linalg.qr(sketch)
    _, _, vt = np.linalg.svd(sketch.T @ spread, full_matrices=False)
    return mean, np.ascontiguousarray(vt[:m])


class Projection:
    """A projection basis for labelling X's rows, kept while the centres move.

    Parameters
    ----------
    centers : ndarray of shape (n_clusters, n_features)
        The centres the basis is taken from (a mini-batch fit keeps the basis
        of its first centres: any basis gives valid bounds).
    dtype : numpy dtype
        The data's; the exact distances run in it.
    n_components : int
    bounds_dtype : numpy dtype or None
        The GEMMs' and bounds' (:func:`bounds_dtype_for` when None: float32
        for float64 data). The shifted rows and centres are rounded once to
        it, which the bounds' slack ``tau`` (:func:`bound_rounding` for that
        dtype) covers as it covers float32 data's shift; the labels stay those
        of the exact distances in the data's dtype.

    Attributes
    ----------
    pays : bool
        False once a block computed more than :data:`MOST_EXACT_FRACTION` of
        its exact distances: callers then take the GEMM path.
    n_exact, n_rows : int
        Exact distances computed and rows labelled so far.
    """

    def __init__(self, centers, dtype, n_components=N_COMPONENTS, bounds_dtype=None):
        self.dtype = np.dtype(dtype)
        self.bounds_dtype = np.dtype(bounds_dtype_for(dtype) if bounds_dtype is None
                                     else bounds_dtype)
        mean, basis = projection_basis(centers, n_components)
        self.shift = mean.astype(self.bounds_dtype)
        self.basis_t = np.ascontiguousarray(basis.T.astype(self.bounds_dtype))
        n_components, n_features = basis.shape
        self.tau = bound_rounding(n_features, n_components, self.bounds_dtype)
        unit = float(np.finfo(self.dtype).eps) / 2
        self.gamma = 2.0 * (n_features + 10) * unit
        self.pays = True
        self.n_exact = 0
        self.n_rows = 0

    def centre_state(self, centers, n_threads=1):
        """What the blocks need of the current centres: ``(C, projected.T, terms)``.

        ``C`` holds the centres in the data's dtype; computed in blocks of
        centres on up to ``n_threads`` of numba's threads (0.46 ms at 1,024 ×
        784 float32 where numpy's calls on one thread took 1.4 ms).
        """
        centers = np.ascontiguousarray(centers)
        n_clusters, n_features = centers.shape
        C = np.empty((n_clusters, n_features), dtype=self.dtype)
        projected = np.empty((n_clusters, self.basis_t.shape[1]), dtype=self.bounds_dtype)
        terms = np.empty((3, n_clusters))
        n_blocks = int(min(CENTRE_BLOCKS, n_clusters))
        run_on_threads(n_threads, lambda: centre_state(centers, self.shift, self.basis_t,
                                                       self.tau, C, projected, terms, n_blocks))
        return C, np.ascontiguousarray(projected.T), terms

    def block_rows(self, n_clusters):
        """Rows per block: the bound GEMM's output within :data:`BLOCK_BYTES`."""
        rows = BLOCK_BYTES // max(1, n_clusters * self.bounds_dtype.itemsize)
        return int(min(MOST_BLOCK_ROWS, max(64, rows)))

    def label_rows(self, X, rows, state, labels, min_sq_dist):
        """Label X's ``rows`` (int64 indices) into ``labels`` and ``min_sq_dist`` (views).

        Returns the number of exact distances computed.
        """
        C, projected_t, terms = state
        shifted = (X[rows] - self.shift).astype(self.bounds_dtype, copy=False)
        projected = shifted @ self.basis_t
        dots = projected @ projected_t
        return label_by_bounds(X, rows, shifted, projected, dots, terms, C, self.tau,
                               self.gamma, labels, min_sq_dist)

    def label(self, X, centers, labels, min_sq_dist, runner, rows=None, state=None):
        """Label X (or its ``rows``) by blocks on ``runner``'s threads, while the bounds pay.

        Returns the number of leading rows labelled (all of them unless the
        first block showed the bounds do not pay: the caller labels the rest).
        """
        if state is None:
            state = self.centre_state(centers, runner.n_threads if runner.numba_threads else 1)
        n_clusters = state[0].shape[0]
        n_rows = X.shape[0] if rows is None else rows.shape[0]
        if rows is None:
            rows = np.arange(n_rows, dtype=np.int64)
        step = self.block_rows(n_clusters)
        starts = list(range(0, n_rows, step))
        counts = [0] * len(starts)

        def block(b):
            start, stop = starts[b], min(starts[b] + step, n_rows)
            counts[b] = self.label_rows(X, rows[start:stop], state, labels[start:stop],
                                         min_sq_dist[start:stop])

        if not starts:
            return 0
        probe = 0
        if self.n_rows == 0:
            # The first pass tries one block alone: where the bounds do not pay
            # the rest of it goes to the GEMM path.
            block(0)
            probe = 1
            self._record(counts[0], min(step, n_rows), n_clusters)
            if not self.pays:
                return min(step, n_rows)
        if runner.numba_threads:
            # On numba's threads, all blocks in one region (each holds only its
            # own arrays): the OpenMP threads of a parallel region just before
            # (the batch's copy, the centres' state) would otherwise spin on the
            # second core while a pool thread waits for it (a mini-batch pass's
            # steps on two threads gave 1.3x, not 2x, on the pool).
            bounds = np.array(starts[probe:] + [n_rows], dtype=np.int64) - starts[probe]
            done = np.zeros(len(starts) - probe, dtype=np.int64)
            first = starts[probe]
            run_on_threads(runner.n_threads, lambda: label_blocks(
                X, rows[first:], bounds, self.shift, self.basis_t, state[1], state[2],
                state[0], self.tau, self.gamma, labels[first:], min_sq_dist[first:], done))
            counts[probe:] = done.tolist()
        else:
            runner.for_each(lambda b: block(b + probe), len(starts) - probe)
        self._record(sum(counts[probe:]), n_rows - min(n_rows, probe * step), n_clusters)
        return n_rows

    def _record(self, n_exact, n_rows, n_clusters):
        self.n_exact += n_exact
        self.n_rows += n_rows
        if n_exact > MOST_EXACT_FRACTION * n_rows * n_clusters:
            self.pays = False


def projected_statistics(projection, X, centers, sample_weight, runner):
    """Counts, sums and inertia of a dense batch labelled through ``projection``.

    Returns a :class:`~mixfit.engine.kmeans_common.KMeansStats`, or None where
    the first block showed that the bounds do not pay (the caller then labels
    the batch its usual way; ``projection.pays`` is False from then on). The
    sums are added in row order in float64, as the GEMM path's are.
    """
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    labels = np.empty(n_samples, dtype=np.int32)
    min_sq_dist = np.empty(n_samples)
    if projection.label(X, centers, labels, min_sq_dist, runner) < n_samples:
        return None
    counts = np.zeros(n_clusters)
    sums = np.zeros((n_clusters, n_features))
    weight = _NO_WEIGHT if sample_weight is None else sample_weight
    add_rows_in_order(X, labels, weight, sums, counts)
    inertia = min_sq_dist.sum() if sample_weight is None else min_sq_dist @ sample_weight
    return KMeansStats(counts, sums, float(inertia))
