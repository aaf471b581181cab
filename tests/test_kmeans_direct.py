"""The direct K-means kernels (no GEMM, small n_features × n_clusters) and their dispatch.

The kernels are checked against a float64 numpy reference (labels, counts, sums,
inertia, distances, with weights, ties, empty blocks, one feature, one centre);
the engine on the direct path against itself across thread counts and against
Hamerly's pruning on the same distances; and the dispatch through
:func:`mixfit.engine.kmeans_steps._uses_direct` and ``_runner``.
"""

import numpy as np
import pytest

from mixfit.engine import kmeans_steps
from mixfit.engine.kmeans import assign, lloyd
from mixfit.engine.kmeans_simd import uses_simd
from mixfit.kernels import kmeans_direct as direct


def _reference(X, centers, weight):
    """Labels, distances and statistics in float64 by brute force (lowest index on ties)."""
    X64 = X.astype(np.float64)
    dist = ((X64[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    labels = dist.argmin(axis=1)
    best = dist[np.arange(len(X)), labels]
    n_clusters = centers.shape[0]
    counts = np.bincount(labels, weights=weight, minlength=n_clusters)
    sums = np.zeros_like(centers)
    np.add.at(sums, labels, weight[:, None] * X64)
    return labels, best, counts, sums, float(weight @ best)


def _blobs(seed, n_samples, n_features, dtype, offset=0.0):
    rng = np.random.default_rng(seed)
    means = rng.uniform(-4, 4, size=(6, n_features))
    X = means[rng.integers(6, size=n_samples)] + rng.normal(size=(n_samples, n_features))
    return (X + offset).astype(dtype), rng


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_features", [1, 2, 3, 4, 5, 8, 9])
@pytest.mark.parametrize("n_clusters", [1, 3, 13])
@pytest.mark.parametrize("weighted", [False, True])
def test_lloyd_direct_equals_float64_reference(dtype, n_features, n_clusters, weighted):
    # 700 rows: two full tiles of 256 and a partial one.
    X, rng = _blobs(n_features * 31 + n_clusters, 700, n_features, dtype)
    centers = X[rng.choice(len(X), n_clusters, replace=False)].astype(np.float64) + 0.1
    weight = rng.uniform(0.0, 3.0, size=len(X)) if weighted else np.ones(len(X))
    labels = np.full(len(X), -1, dtype=np.int32)
    dist = np.empty(len(X))
    sums, counts = np.zeros((n_clusters, n_features)), np.zeros(n_clusters)
    inertia, n_changed = direct.lloyd_direct(
        X, centers, weight if weighted else np.empty(0), labels, dist, sums, counts)
    ref_labels, ref_dist, ref_counts, ref_sums, ref_inertia = _reference(X, centers, weight)
    np.testing.assert_array_equal(labels, ref_labels)
    # Σ(x − c)² in float64: within a few ulps of the distance itself, whatever X's dtype.
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-14, atol=0)
    np.testing.assert_allclose(counts, ref_counts, rtol=1e-13)
    np.testing.assert_allclose(sums, ref_sums, rtol=1e-12, atol=1e-9)
    assert inertia == pytest.approx(ref_inertia, rel=1e-12)
    assert n_changed == np.count_nonzero(weight > 0)


def test_ties_go_to_the_lowest_index_and_changes_count_positive_weight_only():
    # Row 0 is equidistant from centres 1 and 2; centres 3 and 4 are copies of centre 0.
    X = np.array([[0.0, 0.0], [5.0, 5.0], [5.0, 5.0], [-2.0, 0.0]])
    centers = np.array([[5.0, 5.0], [1.0, 0.0], [-1.0, 0.0], [5.0, 5.0], [5.0, 5.0]])
    weight = np.array([1.0, 0.0, 2.0, 1.0])
    labels = np.array([1, 4, 3, 2], dtype=np.int64)  # the previous labels
    dist = np.empty(4)
    sums, counts = np.zeros((5, 2)), np.zeros(5)
    inertia, n_changed = direct.lloyd_direct(X, centers, weight, labels, dist, sums, counts)
    np.testing.assert_array_equal(labels, [1, 0, 0, 2])
    # Row 1 changed but has no weight; row 2 changed; rows 0 and 3 kept theirs.
    assert n_changed == 1
    np.testing.assert_array_equal(dist, [1.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(counts, [2.0, 1.0, 1.0, 0.0, 0.0])
    assert inertia == 2.0


def test_empty_block_touches_nothing():
    centers = np.ones((3, 2))
    sums, counts = np.full((3, 2), 7.0), np.full(3, 7.0)
    labels = np.empty(0, dtype=np.int32)
    assert direct.lloyd_direct(np.empty((0, 2)), centers, np.empty(0), labels, np.empty(0),
                               sums, counts) == (0.0, 0)
    lower = np.empty(0, dtype=np.float32)
    assert direct.hamerly_direct_full(np.empty((0, 2)), np.empty(0), np.empty(0, np.int64), 0,
                                      centers, 1e-15, labels, lower, sums, counts) == (0.0, 0)
    np.testing.assert_array_equal(sums, 7.0)
    np.testing.assert_array_equal(counts, 7.0)


@pytest.mark.parametrize("n_features,n_clusters", [(1, 1), (3, 7), (6, 20)])
def test_hamerly_direct_full_sets_labels_and_lower_bounds_of_the_listed_rows(n_features,
                                                                             n_clusters):
    X, rng = _blobs(5, 600, n_features, np.float64)
    centers = X[:n_clusters] + 0.05
    todo = np.sort(rng.choice(len(X), 300, replace=False)).astype(np.int64)
    labels = np.full(len(X), -1, dtype=np.int32)
    lower = np.full(len(X), -1.0, dtype=np.float32)
    sums, counts = np.zeros((n_clusters, n_features)), np.zeros(n_clusters)
    gamma = direct.direct_rounding(n_features)
    inertia, n_changed = direct.hamerly_direct_full(
        X, np.empty(0), todo, len(todo), centers, gamma, labels, lower, sums, counts)
    ref_labels, ref_dist, ref_counts, ref_sums, ref_inertia = _reference(
        X[todo], centers, np.ones(len(todo)))
    np.testing.assert_array_equal(labels[todo], ref_labels)
    others = np.setdiff1d(np.arange(len(X)), todo)
    assert np.all(labels[others] == -1) and np.all(lower[others] == -1.0)
    dist = ((X[todo, None, :] - centers[None]) ** 2).sum(axis=2)
    dist[np.arange(len(todo)), ref_labels] = np.inf
    second = np.sqrt(dist.min(axis=1))
    # A lower bound on the distance to every other centre, and a tight one.
    assert np.all(lower[todo] <= second)
    np.testing.assert_allclose(lower[todo], second, rtol=1e-5)
    np.testing.assert_allclose(sums, ref_sums, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(counts, ref_counts)
    assert inertia == pytest.approx(ref_inertia, rel=1e-12) and n_changed == len(todo)


@pytest.fixture
def direct_everywhere(monkeypatch):
    """Every shape and dtype on the direct kernels: the dispatch gives them only
    float64 with few features, but their results must hold wherever they run."""
    monkeypatch.setattr(kmeans_steps, "_uses_direct", lambda *shape: True)


def _fit(X, init, **kwargs):
    params = dict(tol=0, max_iter=25, shift=X.mean(axis=0).astype(np.float64))
    params.update(kwargs)
    return lloyd(X, init, **params)


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_direct_path_result_does_not_depend_on_the_thread_count(algorithm, dtype, monkeypatch,
                                                                 direct_everywhere):
    # Every row counts as worth a thread, so that n_jobs really runs 2 and 3 threads.
    monkeypatch.setattr(kmeans_steps, "MIN_THREAD_WORK", 1)
    X, rng = _blobs(11, 70_000, 3, dtype)
    weight = rng.uniform(0.5, 2.0, size=len(X))
    init = X[:12].copy()
    fits = [_fit(X, init, sample_weight=weight, algorithm=algorithm, n_jobs=n_jobs,
                 chunk_size=1000) for n_jobs in (1, 2, 3)]
    for fit in fits[1:]:
        np.testing.assert_array_equal(fit.labels, fits[0].labels)
        np.testing.assert_array_equal(fit.centers, fits[0].centers)
        assert fit.inertia_history == fits[0].inertia_history
        assert fit.inertia == fits[0].inertia and fit.n_iter == fits[0].n_iter


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", [0.0, 1e4])
def test_hamerly_on_direct_distances_gives_the_unpruned_labels(dtype, offset, direct_everywhere):
    # Far from the origin in float32 too: the direct distance needs no shift.
    X, rng = _blobs(12, 8000, 4, dtype, offset)
    init = X[rng.choice(len(X), 16, replace=False)]
    for tol in (0, 1e-4):
        unpruned = _fit(X, init, algorithm="lloyd", tol=tol, max_iter=60)
        pruned = _fit(X, init, algorithm="hamerly", tol=tol, max_iter=60)
        np.testing.assert_array_equal(pruned.labels, unpruned.labels)
        assert pruned.n_iter == unpruned.n_iter
        np.testing.assert_allclose(pruned.centers, unpruned.centers, rtol=1e-12)
        assert pruned.inertia == pytest.approx(unpruned.inertia, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_direct_fit_is_what_assign_predicts_and_agrees_with_the_float64_reference(
        dtype, direct_everywhere):
    X, rng = _blobs(13, 5000, 2, dtype, offset=100.0)
    init = X[rng.choice(len(X), 5, replace=False)]
    shift = X.mean(axis=0).astype(np.float64)
    fit = _fit(X, init, n_jobs=2)
    labels, dist = assign(X, fit.centers, chunk_size=None, shift=shift, n_jobs=2)
    np.testing.assert_array_equal(labels, fit.labels)
    ref_labels, ref_dist, *_ = _reference(X, fit.centers.astype(np.float64), np.ones(len(X)))
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-14)
    assert fit.inertia == pytest.approx(ref_dist.sum(), rel=1e-12)


def test_dispatch_direct_in_the_measured_range_and_threads_where_they_pay():
    f32, f64 = np.dtype(np.float32), np.dtype(np.float64)
    low, high = kmeans_steps.DIRECT_WORK
    most = kmeans_steps.DIRECT_MAX_FEATURES
    for d in range(1, most + 1):
        fewest, largest = -(-low // d), high // d  # clusters at the two ends
        # The measured range, less the shapes of the SIMD kernel up to 32 clusters.
        for k in range(fewest - 1, largest + 2):
            expected = fewest <= k <= largest and (
                k > kmeans_steps.DIRECT_OVER_SIMD_CLUSTERS or not uses_simd(d, k, f64))
            assert kmeans_steps._uses_direct(d, k, f64) == expected, (d, k)
        assert kmeans_steps._uses_direct(d, largest, f64)
        assert not kmeans_steps._uses_direct(d, largest, f32)  # float32: never direct
    assert not kmeans_steps._uses_direct(most + 1, 16, f64)
    assert not kmeans_steps._uses_direct(784, 10, f64)
    # Shapes of issue 16: 150,000 × 3, K = 12 the SIMD kernel (not direct, no GEMM);
    # 250,000 × 12, K = 20 the SIMD kernel too; K = 64 at 3 features direct.
    assert not kmeans_steps._uses_direct(3, 12, f64) and uses_simd(3, 12, f64)
    assert not kmeans_steps._uses_direct(12, 20, f32) and uses_simd(12, 20, f32)
    assert kmeans_steps._uses_direct(3, 64, f64)
    # A lecture-sized fit runs on one thread; a large one on those asked for.
    # Only the shape and dtype are read: broadcast views stand for large data.
    small = np.zeros((1000, 2))
    runner = kmeans_steps._runner(2, small, 3, 4096)
    assert runner.n_threads == 1
    large = np.broadcast_to(0.0, (400_000, 3))
    for n_clusters in (12, 64):  # the SIMD kernel and the direct one: no BLAS to limit
        runner = kmeans_steps._runner(2, large, n_clusters, 4096)
        assert runner.n_threads == 2 and not runner.blas
    wide = np.broadcast_to(np.float32(0), (400_000, 784))
    assert kmeans_steps._runner(2, wide, 10, 127).blas


def test_auto_prunes_from_the_measured_number_of_clusters():
    from mixfit.engine.kmeans import (HAMERLY_MIN_CLUSTERS, TWO_BOUND_MAX_CLUSTERS,
                                      _auto_algorithm)

    X2 = np.broadcast_to(0.0, (1000, 2))  # direct up to DIRECT_SMALL_MAX_WORK / 2 clusters
    X40 = np.broadcast_to(0.0, (1000, 40))  # the GEMM path from 4 clusters on
    assert _auto_algorithm(X2, HAMERLY_MIN_CLUSTERS, "numba", False) == "adaptive"
    assert _auto_algorithm(X2, HAMERLY_MIN_CLUSTERS - 1, "numba", False) == "lloyd"
    # 40 features: Hamerly's two bounds per row, below TWO_BOUND_MAX_CLUSTERS.
    assert _auto_algorithm(X40, HAMERLY_MIN_CLUSTERS, "numba", False) == "auto-two-bound"
    assert _auto_algorithm(X40, HAMERLY_MIN_CLUSTERS - 1, "numba", False) == "auto-two-bound"
    X40_f32 = np.broadcast_to(np.float32(0), (1000, 40))  # float64 here would be Yinyang's
    # Beyond TWO_BOUND_MAX_CLUSTERS the two bounds only over the SIMD micro-kernel
    # (up to 1,024 clusters); the GEMM path's fits take Hamerly's one bound.
    assert _auto_algorithm(X40_f32, TWO_BOUND_MAX_CLUSTERS, "numba", False) == "auto-two-bound"
    assert _auto_algorithm(X40_f32, 1024, "numba", False) == "auto-two-bound"
    assert _auto_algorithm(X40_f32, 1025, "numba", False) == "adaptive"
    assert _auto_algorithm(X40, 1000, "numba", True) == "lloyd"  # lean: no bounds
    # The SIMD micro-kernel's shapes (up to 1,024 clusters): Lloyd's
    # E-step, never Hamerly's pruned passes (argued for the GEMM's rounding).
    X8 = np.broadcast_to(0.0, (1000, 8))
    assert _auto_algorithm(X8, HAMERLY_MIN_CLUSTERS, "numba", False) == "lloyd"
    assert _auto_algorithm(X8, 128, "numba", False) == "lloyd"
    assert _auto_algorithm(X8, 1024, "numba", False) == "lloyd"  # 8,192 terms at 8 features
    assert _auto_algorithm(X8, 1025, "numba", False) == "adaptive"
    X17 = np.broadcast_to(0.0, (1000, 17))
    assert _auto_algorithm(X17, 64, "numba", False) == "auto-two-bound"  # 1,088: SIMD
    assert _auto_algorithm(X17, 1025, "numba", False) == "adaptive"  # the GEMM
    assert _auto_algorithm(X40, 1000, "numpy", False) == "lloyd"
