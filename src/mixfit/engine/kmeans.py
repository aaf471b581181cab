"""The hard-assignment engine: Lloyd's algorithm over additive statistics.

Pure functions on arrays that already went through :mod:`mixfit._validation`
(2-D, finite, float32 or float64, weights float64 or None). Rows are processed in
chunks so that memory beyond the data is ``O(chunk_size × n_clusters)``.

The E-step of K-means is :func:`assign` (nearest centre by GEMM); its sufficient
statistics are :class:`KMeansStats` (weighted counts, weighted sums, inertia),
which add over chunks; the M-step is ``sums / counts``.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from mixfit._validation import check_chunk_size, row_chunks
# KMeansResult, KMeansStats, kmeans_stats and auto_chunk_size are public here.
from mixfit.engine.kmeans_common import (  # noqa: F401
    KMeansResult,
    KMeansStats,
    _effective_shift,
    _iter_assign,
    _resolve_chunk_size,
    _row_sq_norms,
    _shifted,
    _shifted_centers,
    auto_chunk_size,
    kmeans_stats,
)
from mixfit.engine.kmeans_loop import _lloyd_loop

__all__ = [
    "ALGORITHMS",
    "KMeansResult",
    "KMeansStats",
    "assign",
    "auto_chunk_size",
    "kmeans_stats",
    "lloyd",
    "squared_distances",
]


#: Values of ``algorithm`` for :func:`lloyd`. "elkan" is scikit-learn's name for
#: exact bound-pruned k-means; it runs the Hamerly path (see :func:`lloyd`).
ALGORITHMS = ("auto", "lloyd", "elkan", "hamerly", "yinyang")

#: From this many clusters on, ``algorithm="auto"`` prunes with Hamerly's bounds
#: where they pay (by turns with Lloyd's E-step, see ``kmeans_hamerly._AutoHamerly``).
#: Measured at 1e5 rows, 2 threads, Hamerly / Lloyd time. With the block GEMM
#: kernels (:mod:`mixfit.kernels.kmeans_gemm`), at K = 32 the bounds did not
#: pay, over 20 iterations from the same start (float32 1.14-1.42 at
#: d ∈ {16, 64, 160}; float64 0.77-1.14) nor to convergence (float32 1.01 at
#: d = 16, 1.23 at d = 64); from K = 64 they do once centres settle (to
#: convergence: 0.83 at 64 × 64, 0.70 at 16 × 256 float32, 0.89 at 160 × 256
#: float64), though the first 20 iterations alone gain little (0.73-1.42). On
#: the direct kernels (:mod:`mixfit.kernels.kmeans_direct`), where a full pass
#: costs little more than the screen, 20 iterations took 1.08-1.34× Lloyd's
#: time for d ∈ {2, 3, 4, 6}, K ∈ {32, 40}; 0.87-1.02× at K = 64, 0.75-0.94× at K = 128.
HAMERLY_MIN_CLUSTERS = 64


#: Below this many clusters, ``algorithm="auto"`` keeps Hamerly's two bounds
#: per row (:mod:`mixfit.engine.kmeans_two_bound`) where the E-step is the
#: GEMM's or the SIMD micro-kernel's (not the direct kernels') and has at least
#: :data:`TWO_BOUND_MIN_FEATURES` features: there a pass is about one read of X
#: and a screen of every row (Hamerly's one bound), and the rows whose two
#: bounds hold are not read. Measured at 20 iterations, 2 threads, time of
#: "auto" with these bounds / Lloyd's (identical labels): 100,000 rows, 0.28 at
#: 784 × 16 float64, 0.54-0.58 at 160 × 32, 0.69-0.90 at {32, 64, 160} ×
#: {16, 32} and 160 × 3, 0.95-1.03 at 160 × {3, 8} and 784 × 3 (5-13
#: iterations to convergence, too few for the bounds) and 64 × 16 float32;
#: 10,000 rows, 0.56-0.88 but 1.02 at 784 × 8 float64. At 64 clusters, time
#: with these bounds / with Hamerly's one ("adaptive"): 0.54-0.77 at 100,000 ×
#: {16, 32, 64, 160, 784} but 0.95 at 16 × 64 float64, 0.86-0.97 at 10,000
#: rows; 0.93 at 100,000 × 32 × 100 float64; but 1.05-1.06 at 100,000 ×
#: {32, 64} × 128 float32, 0.99 at 16 × 256 float64. On the SIMD micro-kernel's
#: shapes the two bounds run up to its 1,024 clusters (measured at
#: :data:`mixfit.engine.kmeans_simd.SIMD_MANY_CLUSTERS`).
TWO_BOUND_MAX_CLUSTERS = 128

#: ... and the fewest features: below, the pass is so cheap that the bound
#: tests cost more than the rows they save (1.24-1.77 of Lloyd's time at
#: 100,000 × {2, 3} × {3, 8} and 8 × 3).
TWO_BOUND_MIN_FEATURES = 16

#: ... and on the GEMM kernels (for the SIMD kernel see :data:`TWO_BOUND_SIMD`), from
#: :data:`TWO_BOUND_MANY_CLUSTERS` clusters on; from ``clusters`` with at least
#: ``work`` features × clusters; or from ``large_clusters`` on data of
#: ``large_bytes`` or more. Elsewhere Lloyd's E-step, whose statistics are
#: carried between iterations (:mod:`mixfit.engine.kmeans_carried`), was the
#: faster: two bounds / Lloyd, 20 iterations or to convergence, 2 threads,
#: 100,000 rows: 1.17-1.20 at 784 × 3, 1.14-1.16 at 160 × 8 and 1.14-1.20 at
#: 64 × 16 (both dtypes), but 0.71-0.85 at 784 × 8, 0.80-0.84 at 160 × 16,
#: 0.78 at 64 × 32, 0.86-1.02 at 32 × 32 and 0.91-1.02 at 16 × 64; 1,000,000
#: rows: 1.11-1.17 at 160 × 3 and 1.11 at 160 × 8 float32, 1.17 at 64 × 8 and
#: 1.02 at 64 × 3 float64 (the SIMD kernel, 512 MB), but 0.78-0.87 at 64 × 16;
#: 10,000 rows: within ±10% but 1.17 at 784 × 8 float64, 0.79-0.89 at
#: {160 × 16, 32 × 32} float64.
TWO_BOUND_MANY_CLUSTERS = 32
TWO_BOUND_WORK = {"clusters": 8, "work": 2048}
TWO_BOUND_LARGE = {"large_clusters": 16, "large_bytes": 1 << 27}

#: ... and on the SIMD micro-kernel's shapes (whose computed rows the bounds
#: then send through that kernel, which also gives each row's second nearest
#: centre), from ``clusters`` with at least ``work`` features × clusters on
#: data of ``bytes`` or more, or from ``many_clusters`` with more than
#: ``more_work`` features × clusters. Two bounds / Lloyd's E-step by the same
#: kernel, "auto", 20 iterations, 2 threads, identical labels: 1e6 rows, 0.57
#: at 32 × 32 float64, 0.68 at 32 × 32 float32, 0.74-0.90 at 64 × 16, but
#: 1.03-1.05 at {16, 32} × 16 float32; 100,000 rows (where a pass is cheap,
#: the data in cache), 1.04-1.41 at 16 × 32, 32 × 32 and 16 × 64 (both
#: dtypes), yet from 1,024 terms on the pruning pays there too (see
#: :data:`mixfit.engine.kmeans_simd.SIMD_FLOAT32`: 0.70-0.80 of the GEMM
#: path's two bounds where Lloyd's E-step took 1.07-1.48). Below 16 clusters
#: it lost but at 160 features: 1e6 rows, 0.77-0.90 at 160 × 3 and 0.83 at
#: 160 × 8 float64, but 1.00 at 64 × 3 float64, 1.15-1.43 at 64 × 8, 1.26 at
#: 64 × 3 float32 and 2.16 at 32 × 3 float64.
TWO_BOUND_SIMD = {"clusters": 16, "work": 1024, "bytes": 1 << 27,
                  "many_clusters": 32, "more_work": 1024}

#: ... and, however few the clusters, on long rows of large data (by dtype:
#: from ``features`` features up to :data:`TWO_BOUND_WIDE_MAX_FEATURES`, on
#: data of ``bytes`` or more), by either kernel: there an E-step streams X from
#: memory, and the rows whose two bounds hold are not read. Measured on an AMD
#: EPYC host (32 MB L3; the rules above were measured on a Xeon with 480 MB),
#: "auto", 20 iterations or to convergence, 2 threads, two bounds / Lloyd's
#: E-step (identical labels): float64, 1e6 rows, 0.77 at 96 × 3, 0.90 at
#: 128 × 3, 0.73 at 160 × 3, 0.68 at 160 × 5, 0.75 at 160 × 8, 0.74 at
#: 256 × 3, but 0.91 at 64 × 3 and 1.06 at 64 × 8; 100,000 rows (77 to 205 MB)
#: 0.96-1.01 at {128, 160} × {3, 5}, 0.87 at 160 × 8, 1.00-1.03 at 784 ×
#: {3, 8}. Float32, 1e6 rows, 0.82 at 160 × 3, 0.88 at 160 × 8, 0.62 at
#: 256 × 4, but 1.04 at 96 × 3, 1.06 at 128 × 8, 1.26 at 64 × 3; 1.28 at
#: 100,000 × 160 × 3.
TWO_BOUND_WIDE = {np.dtype(np.float64): {"features": 96, "bytes": 1 << 28},
                  np.dtype(np.float32): {"features": 160, "bytes": 1 << 29}}
TWO_BOUND_WIDE_MAX_FEATURES = 256


#: From this many clusters on, and :data:`YINYANG_MIN_FEATURES` features (both
#: by dtype), ``algorithm="auto"`` prunes with Yinyang's group bounds instead
#: (see ``kmeans_yinyang._AutoYinyang``). Measured at 1e5 rows, 20 iterations,
#: 2 threads, Yinyang / "auto"-with-Hamerly time: float32 0.25 at 784 × 1024,
#: 0.46 at 160 × 1024, 0.64 at 784 × 256, 0.75 at 160 × 256, 0.85-0.86 at
#: 64 × {256, 1024}, but 1.19 at 32 × 1024, 1.57-2.37 for d ≤ 16, 0.92-0.95 at
#: {160, 784} × 128 and 1.24 at 64 × 128, 1.08-1.37 at K = 64 (d 32-784);
#: float64 0.44-0.52 at {64, 160} × 256, 0.69-0.70 at 32 × {256, 1024},
#: 0.67 at 784 × 128, 0.90-0.96 at {32, 64} × 128, 1.00-1.02 at
#: 16 × {256, 1024}, 1.36 at 8 × 1024, 0.94-0.95 at K = 64. Since the global
#: filter stopped writing the bounds and the group filter computes its
#: distances row by row (kernels/kmeans_yinyang.py), float32 from 128
#: clusters: 0.53 at 784 × 128, 0.64 at 160 × 128, 0.91 at 64 × 128 (0.86 at
#: 10,000 rows); still 1.15 at 32 × 128, 0.94 at 32 × {256, 1024} but 1.12 at
#: 10,000 × 32 × 256, and 1.23-1.96 at K = 64 (d 32-784, both dtypes). Per
#: row, the screen of the group bounds costs about what a GEMM row of few
#: features does, so the bounds pay only where a GEMM row is long, and sooner
#: for float64, whose GEMMs run at half float32's speed.
YINYANG_MIN_CLUSTERS = {np.dtype(np.float32): 128, np.dtype(np.float64): 128}

#: ... and features.
YINYANG_MIN_FEATURES = {np.dtype(np.float32): 64, np.dtype(np.float64): 32}


def _auto_algorithm(X, n_clusters, kernel, lean):
    """What ``algorithm="auto"`` runs for this data.

    "auto-yinyang" (:class:`mixfit.engine.kmeans_yinyang._AutoYinyang`) for
    many clusters and features; "auto-two-bound"
    (:class:`mixfit.engine.kmeans_two_bound._AutoTwoBound`) below
    :data:`TWO_BOUND_MAX_CLUSTERS` clusters (any number on the SIMD
    micro-kernel's shapes) from :data:`TWO_BOUND_MIN_FEATURES` features on,
    where the E-step is the GEMM kernels' or the micro-kernel's and the shape or size
    is one where the bounds paid (:data:`TWO_BOUND_MANY_CLUSTERS`,
    :data:`TWO_BOUND_WORK`, :data:`TWO_BOUND_LARGE`, :data:`TWO_BOUND_WIDE`);
    "adaptive" where Hamerly's bounds may pay (Lloyd's or Hamerly's E-step by turns,
    see :class:`mixfit.engine.kmeans_hamerly._AutoHamerly`); else "lloyd".

    Not for sparse data: on text-like CSR (many features, clusters close in
    distance) the bounds rarely prune, and Hamerly ran 1.2-1.5× slower. Not for
    ``lean`` fits (the bounds are n floats or more) nor the numpy kernel.
    """
    # Imported here: the E-steps build on this module's statistics and GEMM helpers.
    from mixfit.engine.kmeans_steps import _e_step_kernel

    if kernel != "numba" or sparse.issparse(X) or lean:
        return "lloyd"
    if (n_clusters >= YINYANG_MIN_CLUSTERS.get(X.dtype, np.inf)
            and X.shape[1] >= YINYANG_MIN_FEATURES.get(X.dtype, np.inf)):
        return "auto-yinyang"
    n_features = X.shape[1]
    e_step_kernel = _e_step_kernel(n_features, n_clusters, X.dtype)
    if e_step_kernel == "simd":
        pays = ((n_clusters >= TWO_BOUND_SIMD["clusters"]
                 and n_features * n_clusters >= TWO_BOUND_SIMD["work"]
                 and X.nbytes >= TWO_BOUND_SIMD["bytes"])
                or (n_clusters >= TWO_BOUND_SIMD["many_clusters"]
                    and n_features * n_clusters > TWO_BOUND_SIMD["more_work"]))
    else:
        pays = (n_clusters >= TWO_BOUND_MANY_CLUSTERS
                or (n_clusters >= TWO_BOUND_WORK["clusters"]
                    and n_features * n_clusters >= TWO_BOUND_WORK["work"])
                or (n_clusters >= TWO_BOUND_LARGE["large_clusters"]
                    and X.nbytes >= TWO_BOUND_LARGE["large_bytes"]))
    wide = TWO_BOUND_WIDE.get(X.dtype)
    long_rows = (wide is not None and X.nbytes >= wide["bytes"]
                 and wide["features"] <= n_features <= TWO_BOUND_WIDE_MAX_FEATURES)
    if ((pays or long_rows)
            and (n_clusters < TWO_BOUND_MAX_CLUSTERS or e_step_kernel == "simd")
            and n_features >= TWO_BOUND_MIN_FEATURES and e_step_kernel in ("gemm", "simd")):
        return "auto-two-bound"
    if n_clusters >= HAMERLY_MIN_CLUSTERS and e_step_kernel != "simd":
        return "adaptive"
    return "lloyd"


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
        For sparse (CSR) X, see :func:`mixfit.engine.kmeans_sparse.squared_distances`.
    """
    if sparse.issparse(X):
        from mixfit.engine import kmeans_sparse as _kmeans_sparse

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


def assign(X, centers, *, chunk_size, shift=None, kernel="numba", n_jobs=1, labelling=False):
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
    labelling : bool
        Choose the numba kernel by the rule for estimators that label by such
        passes alone (``_e_step_kernel(..., labelling=True)``), rather than as a
        fit's E-step of this shape (whose labels ``predict`` must reproduce).

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
        from mixfit.engine import kmeans_sparse as _kmeans_sparse

        return _kmeans_sparse.assign(X, centers, shift=shift, n_jobs=n_jobs)
    shift = _effective_shift(shift)
    n_samples = X.shape[0]
    min_sq_dist = np.empty(n_samples, dtype=np.float64)
    if kernel == "numba":
        # int32, as a fit's E-steps hold them: the kernels the fit compiled serve
        # (int64 labels compiled each a second time: a first predict took 8.8 s
        # with a cold cache at 20,000 × 16 × 8 float32).
        labels = np.empty(n_samples, dtype=np.int32)
        from mixfit.engine.kmeans_projected import Projection, uses_projection
        from mixfit.engine.kmeans_steps import _e_step_kernel, _fused_e_step, _runner

        chunk_size = _resolve_chunk_size(chunk_size, centers.shape[0], X)
        e_step = _e_step_kernel(X.shape[1], centers.shape[0], X.dtype, labelling)
        with _runner(n_jobs, X, centers.shape[0], chunk_size, labelling) as runner:
            done = 0
            if labelling and uses_projection(X.shape[1], centers.shape[0], X.dtype):
                done = Projection(centers, X.dtype).label(X, centers, labels, min_sq_dist,
                                                          runner)
            if done < n_samples:
                # Row norms inside the fused kernel, in float64: no shifted copy of X;
                # no sums, which nobody reads here (15% of a row's time at 784 × 64
                # float32, and a zeroed K × d array a block).
                _fused_e_step(X[done:], centers, None, chunk_size, None, shift, runner,
                              labels[done:], min_sq_dist[done:], fast_norms=True, kernel=e_step,
                              sums=e_step == "direct")
        return labels.astype(np.int64), min_sq_dist
    if kernel != "numpy":
        raise ValueError(f"kernel must be 'numba' or 'numpy', got {kernel!r}.")
    labels = np.empty(n_samples, dtype=np.int64)
    for sl, lab, dist in _iter_assign(X, centers, chunk_size, shift):
        labels[sl] = lab
        min_sq_dist[sl] = dist
    return labels, min_sq_dist


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
    lean=False,
    x_squared_norms=None,
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
    algorithm : {"auto", "lloyd", "elkan", "hamerly", "yinyang"}
        "lloyd" computes every distance each iteration (on unweighted data
        it adds to the clusters' sums only the rows that changed cluster,
        :mod:`mixfit.engine.kmeans_carried`); "hamerly" keeps a bound
        per row and skips the rows whose centre provably stays the same (same
        labels as "lloyd", inertia equal to rounding; pays off for many
        clusters); "yinyang" keeps a bound per row per group of about 10
        centres (5 for long rows) and computes only the groups that may hold a
        nearer centre (:mod:`mixfit.engine.kmeans_yinyang`; same labels as
        "lloyd", n × K / 10 float32 of bounds, at most n × max(K / 10, min(d / 3, 64));
        pays off for many clusters and features); "elkan"
        (scikit-learn's name for exact triangle-inequality pruning) runs
        "hamerly": Hamerly's bounds are exact too, so the labels, centres and
        iteration count are those of "lloyd" either way. "auto" (with
        ``kernel="numba"``) runs Yinyang's E-step from
        :data:`YINYANG_MIN_CLUSTERS` clusters and :data:`YINYANG_MIN_FEATURES`
        features on (128 and 64 for float32, 128 and 32 for float64), for as
        long as it saves at least half an unpruned pass
        (:class:`~mixfit.engine.kmeans_yinyang._AutoYinyang`); below, from
        :data:`HAMERLY_MIN_CLUSTERS` clusters, Lloyd's E-step until labels
        settle, then Hamerly's for as long as its bounds save at least half the
        rows (:class:`~mixfit.engine.kmeans_hamerly._AutoHamerly`); below
        :data:`TWO_BOUND_MAX_CLUSTERS` clusters, with
        :data:`TWO_BOUND_MIN_FEATURES` features or more on the GEMM kernels
        (from 32 clusters; from 8 with at least 2,048 features × clusters;
        from 16 on data of 128 MiB or more) or the SIMD micro-kernel's
        (:data:`TWO_BOUND_SIMD`), the same turns with Hamerly's
        upper and lower bound per row and the statistics carried between
        calls, so that rows the bounds settle are
        not read (:class:`~mixfit.engine.kmeans_two_bound._AutoTwoBound`; same
        labels, sums and inertia equal to rounding); otherwise "lloyd", and
        "lloyd" for sparse X (where the bounds rarely pay;
        "hamerly" there gives the results of "lloyd" bit for bit, and
        "yinyang" runs it). Where the SIMD micro-kernel runs
        (:func:`~mixfit.engine.kmeans_simd.uses_simd`: 3 to 1,024 clusters, few
        features) "hamerly", "elkan" and "yinyang" run "lloyd", with the labels
        they would give (1.4 to 2.7 times faster at 8 to 32 clusters; see
        :class:`mixfit.KMeans` for 3 to 7), and "auto" runs "lloyd" or the two
        bounds above; where the direct kernels run
        (float64, at most 3 features) "yinyang" runs "hamerly".
    kernel : {"numba", "numpy"}
        "numba": a GEMM plus one fused pass per chunk (argmin, distances,
        statistics), or for few features × clusters one direct pass with no
        GEMM (:mod:`mixfit.kernels.kmeans_direct`, float64, at most 3
        features) or the SIMD micro-kernel (:mod:`mixfit.kernels.kmeans_simd`),
        on ``n_jobs`` threads where the work pays for them. "numpy": the plain reference
        implementation (GEMM, ``np.argmin``, sparse one-hot sums), one thread,
        ``algorithm="lloyd"`` only; kept to test the kernels against.
    n_jobs : int
        Threads (resolved, ≥ 1); results do not depend on it.
    lean : bool, default=False
        Keep no per-row state but the labels, for data larger than memory (a
        memory map): the rows' squared norms are recomputed per chunk each
        iteration instead of kept (n floats), "auto" runs "lloyd" (Hamerly's
        bounds are n floats, Yinyang's n × K / 10 or more), and the labels stay int32.
        Same results.
    x_squared_norms : ndarray of shape (n_samples,), X's dtype, or None
        ``‖x‖²`` of every row where the caller has them (a fit without a
        shift: :func:`~mixfit.engine.column_stats.distance_shift_and_variance`
        computes them in its pass); ignored with a shift. None: computed
        here when needed. They change distances and inertia by rounding
        only, never a label.

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
        algorithm = _auto_algorithm(X, n_clusters, kernel, lean)
    if algorithm == "elkan":
        # Elkan's K bounds per row would cost n·K memory for the same labels.
        algorithm = "hamerly"
    if kernel == "numpy" and algorithm in ("hamerly", "yinyang"):
        raise ValueError(f"algorithm={algorithm!r} needs kernel='numba'.")
    if sparse.issparse(X):
        if algorithm == "yinyang":
            # No group bounds for CSR rows: Hamerly's bound is the pruned pass there.
            algorithm = "hamerly"
        # CSR data: the sparse E-steps, over the stored values only.
        from mixfit.engine import kmeans_sparse as _kmeans_sparse

        return _kmeans_sparse.lloyd(X, centers_init, sample_weight, max_iter, tol, callback,
                                    shift, kernel, n_jobs, algorithm)
    # Imported here: the E-steps build on this module's statistics and GEMM helpers.
    from mixfit.engine.kmeans_hamerly import _AutoHamerly, _Hamerly
    from mixfit.engine.kmeans_steps import (_e_step_kernel, _LloydEStep,
                                            _NumpyEStep, _runner)

    # The E-step is built in the call so that _lloyd_loop holds its only reference
    # and can drop its per-row state before the labels are copied out.
    if kernel == "numpy":
        return _lloyd_loop(
            X, centers_init, sample_weight, max_iter, tol, callback,
            _NumpyEStep(X, sample_weight, check_chunk_size(chunk_size), shift), kernel,
        )
    chunk_size = _resolve_chunk_size(chunk_size, n_clusters, X)
    norms = dict(x_sq=x_squared_norms if shift is None else None)
    if algorithm == "hamerly" and _e_step_kernel(X.shape[1], n_clusters, X.dtype) == "simd":
        # Lloyd's E-step by the SIMD micro-kernel took 0.37-0.7 of Hamerly's
        # time at 8-32 clusters (to convergence too), 0.48-0.65 over 20
        # iterations at 3-7 (to convergence 0.49-1.37), 0.36-0.78 at 64-1,024
        # over 20 (0.60-1.02 over 100-150), and its labels are the ones a pruned
        # pass is meant to reproduce.
        algorithm = "lloyd"
    if algorithm == "yinyang" and _e_step_kernel(X.shape[1], n_clusters, X.dtype) != "gemm":
        # Group bounds are kept for the GEMM kernels only: where a pass costs
        # little more than its screen (direct, SIMD), Hamerly's one bound or
        # none at all is what pays.
        algorithm = "lloyd" if _e_step_kernel(X.shape[1], n_clusters, X.dtype) == "simd" else "hamerly"
    runner = _runner(n_jobs, X, n_clusters, chunk_size)
    with runner:
        if algorithm == "auto-two-bound":
            from mixfit.engine.kmeans_two_bound import _AutoTwoBound

            e_step = _AutoTwoBound(X, sample_weight, chunk_size, shift, runner, n_clusters,
                                   **norms)
        elif algorithm in ("yinyang", "auto-yinyang"):
            from mixfit.engine.kmeans_yinyang import _AutoYinyang, _Yinyang

            e_step = (_Yinyang if algorithm == "yinyang" else _AutoYinyang)(
                X, sample_weight, chunk_size, shift, runner, n_clusters, **norms)
        elif algorithm == "hamerly":
            e_step = _Hamerly(X, sample_weight, chunk_size, shift, runner, n_clusters, **norms)
        elif algorithm == "adaptive":
            e_step = _AutoHamerly(X, sample_weight, chunk_size, shift, runner, n_clusters,
                                  **norms)
        elif sample_weight is None:
            from mixfit.engine.kmeans_carried import _CarriedLloydEStep

            e_step = _CarriedLloydEStep(X, chunk_size, shift, runner, n_clusters,
                                        keep_norms=not lean, **norms)
        else:
            e_step = _LloydEStep(X, sample_weight, chunk_size, shift, runner, n_clusters,
                                 keep_norms=not lean, **norms)
        return _lloyd_loop(
            X, centers_init, sample_weight, max_iter, tol, callback, e_step, kernel,
            label_dtype=np.int32 if lean else np.int64,
        )


