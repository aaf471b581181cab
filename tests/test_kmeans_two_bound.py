"""Hamerly's two bounds per row: Lloyd's labels, valid bounds, carried statistics,
rows really left unread, any thread count."""

import numpy as np
import pytest

from mixfit.engine import kmeans_steps, kmeans_two_bound
from mixfit.engine.kmeans import TWO_BOUND_MAX_CLUSTERS, TWO_BOUND_MIN_FEATURES, lloyd
from mixfit.engine.kmeans_loop import _lloyd_loop
from mixfit.engine.kmeans_steps import _e_step_kernel

RTOL = {np.float32: 1e-6, np.float64: 1e-12}


def _blobs(n_samples, n_features, n_blobs, dtype, spread=1.0, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    means = rng.uniform(-20, 20, size=(n_blobs, n_features)) + offset
    X = means[rng.integers(n_blobs, size=n_samples)]
    X = X + spread * rng.normal(size=(n_samples, n_features))
    return X.astype(dtype), rng


def _fit(X, init, e_step_class, weight=None, shift=None, n_jobs=1, max_iter=40, tol=0.0,
         chunk_size=256, numba_threads=None):
    n_clusters = init.shape[0]
    runner = kmeans_steps._runner(n_jobs, X, n_clusters, chunk_size)
    if numba_threads is not None:
        runner.numba_threads = numba_threads  # False: the blocks go to the Python pool
    with runner:
        e_step = e_step_class(X, weight, chunk_size, shift, runner, n_clusters)
        return _lloyd_loop(X, init, weight, max_iter, tol, None, e_step, "numba"), e_step


def _lloyd_e_step(X, weight, chunk_size, shift, runner, n_clusters):
    return kmeans_steps._LloydEStep(X, weight, chunk_size, shift, runner, n_clusters)


def _exact_inertia(X, weight, centers, labels):
    d2 = ((X.astype(np.float64) - centers.astype(np.float64)[labels]) ** 2).sum(axis=1)
    return float(d2.sum() if weight is None else (weight * d2).sum())


def test_the_shapes_are_the_gemm_kernels_or_the_micro_kernels():
    # The two-bound pass computes its rows as Lloyd's E-step does: by the GEMM
    # at these shapes, and for float32 by the SIMD micro-kernel at most
    # (8 to 64 clusters, up to 160 features and 5,120 terms), which the tests
    # below thereby cover too; float64 up to 64 features is the micro-kernel's.
    for n_features, n_clusters in [(200, 10), (200, 9), (200, 24)]:
        for dtype in (np.float32, np.float64):
            assert _e_step_kernel(n_features, n_clusters, np.dtype(dtype)) == "gemm"
    for n_features, n_clusters in [(80, 10), (80, 9), (72, 24)]:
        assert _e_step_kernel(n_features, n_clusters, np.dtype(np.float64)) == "gemm"
        assert _e_step_kernel(n_features, n_clusters, np.dtype(np.float32)) == "simd"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("class_name", ["_TwoBoundHamerly", "_AutoTwoBound"])
@pytest.mark.parametrize("n_features", [80, 200])
def test_two_bounds_give_the_labels_of_the_unpruned_fit(dtype, weighted, class_name,
                                                         n_features):
    # Converges slowly enough to prune.
    X, rng = _blobs(8000, n_features, 30, dtype, spread=10.0 * np.sqrt(n_features / 80))
    weight = rng.uniform(0.0, 3.0, size=len(X)) if weighted else None
    if weighted:
        weight[::17] = 0.0  # zero weights count neither in the sums nor as changes
    init = X[rng.choice(len(X), 10, replace=False)].astype(np.float64)
    unpruned, _ = _fit(X, init, _lloyd_e_step, weight)
    pruned, e_step = _fit(X, init, getattr(kmeans_two_bound, class_name), weight)
    np.testing.assert_array_equal(pruned.labels, unpruned.labels)
    assert pruned.n_iter == unpruned.n_iter and pruned.converged == unpruned.converged
    np.testing.assert_allclose(pruned.centers, unpruned.centers, rtol=RTOL[dtype],
                               atol=RTOL[dtype])
    # The inertia comes from per-cluster statistics: as exact as the GEMM path's.
    exact = _exact_inertia(X, weight, pruned.centers, pruned.labels)
    assert pruned.inertia == pytest.approx(exact, rel=1e-6 if dtype == np.float32 else 1e-10)
    np.testing.assert_allclose(pruned.inertia_history, unpruned.inertia_history,
                               rtol=1e-6 if dtype == np.float32 else 1e-10)
    # The bounds did spare rows: the last call read fewer than all of them.
    assert e_step.computed.sum() < len(X)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_features, n_clusters",
                         [(24, 5), (20, 12), (24, 3), (17, 4), (48, 40), (24, 200)])
def test_at_the_simd_shapes_the_labels_are_the_micro_kernels(dtype, n_features, n_clusters):
    # Lloyd's E-step labels these shapes by the SIMD micro-kernel, whose rounding
    # differs from the GEMM's: the computed rows take its labels, so a fit and
    # predict agree on every row.
    assert _e_step_kernel(n_features, n_clusters, np.dtype(dtype)) == "simd"
    X, rng = _blobs(8000, n_features, 30, dtype, spread=6.0, offset=50.0)
    init = X[rng.choice(len(X), n_clusters, replace=False)].astype(np.float64)
    shift = X.mean(axis=0).astype(np.float64)
    unpruned, _ = _fit(X, init, _lloyd_e_step, shift=shift)
    pruned, e_step = _fit(X, init, kmeans_two_bound._TwoBoundHamerly, shift=shift)
    assert e_step.simd
    np.testing.assert_array_equal(pruned.labels, unpruned.labels)
    assert pruned.n_iter == unpruned.n_iter
    np.testing.assert_allclose(pruned.centers, unpruned.centers, rtol=RTOL[dtype],
                               atol=RTOL[dtype])
    assert e_step.computed.sum() < len(X)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_far_from_the_origin_with_a_shift(dtype):
    # The inertia's per-cluster formula is taken about the shift: about the
    # origin, ‖x‖² ≈ 1e8 would swamp the distances.
    X, rng = _blobs(5000, 80, 20, dtype, offset=1e4 if dtype == np.float64 else 1e3)
    init = X[rng.choice(len(X), 10, replace=False)].astype(np.float64)
    shift = X.mean(axis=0).astype(np.float64)
    unpruned, _ = _fit(X, init, _lloyd_e_step, shift=shift)
    pruned, _ = _fit(X, init, kmeans_two_bound._TwoBoundHamerly, shift=shift)
    np.testing.assert_array_equal(pruned.labels, unpruned.labels)
    exact = _exact_inertia(X, None, pruned.centers, pruned.labels)
    assert pruned.inertia == pytest.approx(exact, rel=1e-5 if dtype == np.float32 else 1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_features", [80, 200])
def test_bounds_and_statistics_hold_while_centres_drift(dtype, n_features):
    X, rng = _blobs(4000, n_features, 12, dtype)
    n_clusters = 9
    centers = X[rng.choice(len(X), n_clusters, replace=False)].astype(np.float64)
    runner = kmeans_steps._runner(1, X, n_clusters, 256)
    X64 = X.astype(np.float64)
    n_read = []
    with runner:
        e_step = kmeans_two_bound._TwoBoundHamerly(X, None, 256, None, runner, n_clusters)
        for step in range(8):
            n_changed, stats = e_step(centers)
            n_read.append(int(e_step.computed.sum()))
            d2 = ((X64[:, None, :] - centers[None]) ** 2).sum(axis=2)
            own = np.sqrt(d2[np.arange(len(X)), e_step.labels])
            unpruned = kmeans_steps._LloydEStep(X, None, 256, None, runner, n_clusters)
            unpruned(centers)
            np.testing.assert_array_equal(e_step.labels, unpruned.labels)
            assert np.all(e_step.upper.astype(np.float64) >= own)
            others = np.sqrt(np.where(np.arange(n_clusters) == e_step.labels[:, None],
                                      np.inf, d2)).min(axis=1)
            assert np.all(e_step.lower.astype(np.float64) <= others)
            # The carried statistics are those of the labels as they stand.
            counts = np.bincount(e_step.labels, minlength=n_clusters).astype(np.float64)
            np.testing.assert_array_equal(stats.counts, counts)
            sums = np.zeros((n_clusters, X.shape[1]))
            np.add.at(sums, e_step.labels, X64)
            np.testing.assert_allclose(stats.sums, sums, rtol=1e-12, atol=1e-9)
            assert stats.inertia == pytest.approx(
                _exact_inertia(X, None, centers, e_step.labels), rel=1e-6)
            # Small moves, as late in a fit.
            centers = centers + rng.normal(scale=0.02, size=centers.shape)
    assert n_read[0] == len(X) and n_read[1] < len(X) // 2 and max(n_read[1:]) < len(X)


def test_relocated_empty_clusters_leave_the_carried_statistics_alone():
    # A centre far from all data is emptied, then relocated by the M-step,
    # which moves a row out of the statistics it is given (a copy).
    X, rng = _blobs(6000, 80, 15, np.float64)
    init = X[rng.choice(len(X), 10, replace=False)].astype(np.float64)
    init[3] = 1e3
    unpruned, _ = _fit(X, init, _lloyd_e_step)
    pruned, _ = _fit(X, init, kmeans_two_bound._TwoBoundHamerly)
    np.testing.assert_array_equal(pruned.labels, unpruned.labels)
    np.testing.assert_allclose(pruned.centers, unpruned.centers, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_features", [48, 200])
def test_the_thread_count_and_the_threads_change_nothing(weighted, n_features):
    X, rng = _blobs(40000, n_features, 25, np.float32)
    weight = rng.uniform(0.5, 2.0, size=len(X)) if weighted else None
    init = X[rng.choice(len(X), 24, replace=False)].astype(np.float64)
    one, _ = _fit(X, init, kmeans_two_bound._AutoTwoBound, weight, chunk_size=256)
    for numba_threads in (True, False):  # numba's parallel driver, or the Python pool
        two, e_step = _fit(X, init, kmeans_two_bound._AutoTwoBound, weight, n_jobs=2,
                           chunk_size=256, numba_threads=numba_threads)
        assert len(e_step.blocks) > 1
        np.testing.assert_array_equal(one.labels, two.labels)
        np.testing.assert_array_equal(one.centers, two.centers)
        assert one.inertia == two.inertia and one.inertia_history == two.inertia_history


def test_auto_keeps_two_bounds_only_where_measured(monkeypatch):
    calls = []
    original = kmeans_two_bound._AutoTwoBound.__call__

    def counted(self, centers):
        calls.append(self.X.shape)
        return original(self, centers)

    monkeypatch.setattr(kmeans_two_bound._AutoTwoBound, "__call__", counted)
    for n_features, n_clusters, used in [
        (80, 32, True),  # GEMM shape, enough features and clusters
        (256, 8, True),  # enough features × clusters
        (80, 10, False),  # too few of either on small data: Lloyd
        (TWO_BOUND_MIN_FEATURES - 8, 40, False),  # too few features: Lloyd
        (80, 3, False),  # few clusters: Lloyd
        (16, 16, False),  # the SIMD kernel's shape: Lloyd
        (80, 64, True),  # up to TWO_BOUND_MAX_CLUSTERS
        (80, TWO_BOUND_MAX_CLUSTERS, False),  # more clusters: Hamerly's one bound
        (24, TWO_BOUND_MAX_CLUSTERS, True),  # ... but on the SIMD kernel's shapes
    ]:
        calls.clear()
        X, rng = _blobs(3000, n_features, 20, np.float64)
        init = X[rng.choice(len(X), n_clusters, replace=False)].astype(np.float64)
        result = lloyd(X, init, max_iter=10, tol=0.0, algorithm="auto")
        reference = lloyd(X, init, max_iter=10, tol=0.0, algorithm="lloyd")
        np.testing.assert_array_equal(result.labels, reference.labels)
        assert bool(calls) == used, (n_features, n_clusters)


def test_two_bounds_from_16_clusters_on_large_data_and_never_below_8():
    from mixfit.engine.kmeans import TWO_BOUND_LARGE, _auto_algorithm

    # 100 × 16 float64: 1,600 features × clusters, Lloyd's but on large data.
    min_bytes = TWO_BOUND_LARGE["large_bytes"]
    rows = -(-min_bytes // (100 * 8))
    large = np.broadcast_to(0.0, (rows, 100))  # no memory: a view of one value
    small = large[:rows - 1]
    assert large.nbytes >= min_bytes > small.nbytes
    assert _e_step_kernel(100, 16, np.dtype(np.float64)) == "gemm"
    assert _auto_algorithm(large, 16, "numba", False) == "auto-two-bound"
    assert _auto_algorithm(small, 16, "numba", False) == "lloyd"
    assert _auto_algorithm(large, 15, "numba", False) == "lloyd"
    # Few clusters (the GEMM path at 784 features) and the SIMD shapes below 16
    # clusters: Lloyd's carried statistics at any size, but on long rows
    # (TWO_BOUND_WIDE: the paired SIMD kernel at 160 features).
    huge = np.broadcast_to(0.0, (1 << 22, 784))
    assert _auto_algorithm(huge, 3, "numba", False) == "lloyd"
    assert _e_step_kernel(160, 3, np.dtype(np.float64)) == "simd"
    assert _auto_algorithm(huge[:, :160], 3, "numba", False) == "auto-two-bound"
    assert _e_step_kernel(32, 8, np.dtype(np.float64)) == "simd"
    assert _auto_algorithm(huge[:, :32], 8, "numba", False) == "lloyd"


def test_at_the_simd_shapes_two_bounds_from_32_clusters_or_on_large_data():
    from mixfit.engine.kmeans import TWO_BOUND_SIMD, _auto_algorithm

    def auto(n_samples, n_features, n_clusters, dtype=np.float32):
        X = np.broadcast_to(np.zeros((), dtype), (n_samples, n_features))
        assert _e_step_kernel(n_features, n_clusters, X.dtype) == "simd"
        return _auto_algorithm(X, n_clusters, "numba", False)

    # From 32 clusters beyond 1,024 terms at any size (the pruned passes of
    # the micro-kernel took 0.70-0.80 of the GEMM path's there) ...
    assert auto(3000, 64, 32) == auto(3000, 40, 32) == auto(3000, 160, 32) == "auto-two-bound"
    # ... not within them (Lloyd's E-step by the micro-kernel took 0.71-0.94
    # of the bounds' time at 100,000 rows), ...
    assert auto(3000, 32, 32) == auto(3000, 16, 64) == auto(3000, 100, 16) == "lloyd"
    # ... where from 16 clusters and 1,024 terms large data pay.
    rows = -(-TWO_BOUND_SIMD["bytes"] // (32 * 4))
    assert auto(rows, 32, 32) == auto(rows, 64, 16) == "auto-two-bound"
    assert auto(rows - 1, 32, 32) == "lloyd"
    assert auto(rows, 32, 16) == auto(rows * 2, 16, 16) == "lloyd"  # 512 and 256 terms
    assert auto(rows * 2, 64, 8) == "lloyd"  # 8 clusters


@pytest.mark.parametrize("n_features, n_clusters", [(64, 32), (160, 24), (48, 42)])
def test_float32_fits_at_the_new_simd_shapes_agree_with_lloyd_and_predict(n_features,
                                                                           n_clusters):
    from mixfit import KMeans

    X, rng = _blobs(20000, n_features, 40, np.float32, spread=8.0)
    init = X[rng.choice(len(X), n_clusters, replace=False)]
    fits = {algorithm: KMeans(n_clusters, init=init, n_init=1, max_iter=30, tol=0.0,
                              algorithm=algorithm).fit(X)
            for algorithm in ("auto", "lloyd")}
    np.testing.assert_array_equal(fits["auto"].labels_, fits["lloyd"].labels_)
    np.testing.assert_array_equal(fits["auto"].predict(X), fits["auto"].labels_)
    assert fits["auto"].n_iter_ == fits["lloyd"].n_iter_


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_features, n_clusters", [(24, 200), (48, 40), (17, 300)])
def test_many_clusters_on_the_micro_kernel_agree_with_lloyd_threads_and_predict(
        dtype, n_features, n_clusters):
    # SIMD_MANY_CLUSTERS: "auto" runs two bounds over the micro-kernel beyond
    # TWO_BOUND_MAX_CLUSTERS; its labels are Lloyd's (same kernel), whatever the
    # thread count, and predict's.
    from mixfit import KMeans
    from mixfit.engine.kmeans import _auto_algorithm

    X, rng = _blobs(20000, n_features, 40, dtype, spread=8.0)
    assert _e_step_kernel(n_features, n_clusters, np.dtype(dtype)) == "simd"
    assert _auto_algorithm(X, n_clusters, "numba", False) == "auto-two-bound"
    init = X[rng.choice(len(X), n_clusters, replace=False)]
    fits = {(algorithm, n_jobs): KMeans(n_clusters, init=init, n_init=1, max_iter=40, tol=0.0,
                                        algorithm=algorithm, n_jobs=n_jobs).fit(X)
            for algorithm, n_jobs in (("auto", 1), ("auto", 2), ("lloyd", 2))}
    auto = fits["auto", 2]
    for other in (fits["auto", 1], fits["lloyd", 2]):
        np.testing.assert_array_equal(auto.labels_, other.labels_)
        assert auto.n_iter_ == other.n_iter_
    assert auto.cluster_centers_.tobytes() == fits["auto", 1].cluster_centers_.tobytes()
    np.testing.assert_array_equal(auto.predict(X), auto.labels_)


def test_the_memory_estimate_counts_the_two_bounds():
    from mixfit._memory import kmeans_bytes

    def fit_bytes(algorithm, n_features):
        return kmeans_bytes(1_000_000, n_features, 10, algorithm=algorithm, init=None).bytes

    assert fit_bytes("auto", 80) - fit_bytes("lloyd", 80) == 0  # 10 clusters × 80: Lloyd's
    assert fit_bytes("auto", 256) - fit_bytes("lloyd", 256) == 8 * 1_000_000
    assert fit_bytes("auto", 8) == fit_bytes("lloyd", 8)

    def sized_bytes(n_samples, n_clusters, algorithm):  # 16 clusters: from 128 MiB of data
        return kmeans_bytes(n_samples, 80, n_clusters, algorithm=algorithm, init=None).bytes

    assert sized_bytes(1_000_000, 16, "auto") - sized_bytes(1_000_000, 16, "lloyd") == 8_000_000
    assert sized_bytes(100_000, 16, "auto") == sized_bytes(100_000, 16, "lloyd")
    assert sized_bytes(1_000_000, 3, "auto") == sized_bytes(1_000_000, 3, "lloyd")

    def hamerly_bytes(n_clusters, algorithm):
        return kmeans_bytes(1_000_000, 80, n_clusters, algorithm=algorithm, init=None).bytes

    # From 64 clusters "auto" keeps the two bounds instead of Hamerly's one.
    assert hamerly_bytes(100, "auto") - hamerly_bytes(100, "hamerly") == 4 * 1_000_000


def _runs_of_pruning(e_step_class, X, centers, max_iter):
    """The fit, and the lengths of its runs of pruned calls that ended in Lloyd's turn."""
    runner = kmeans_steps._runner(1, X, len(centers), 256)
    with runner:
        e_step = e_step_class(X, None, 256, None, runner, len(centers))
        phases = []
        result = _lloyd_loop(X, centers, None, max_iter, 0.0,
                             lambda i, c, j: phases.append(e_step.pruning), e_step, "numba")
    runs, length = [], 0
    for pruning in phases:
        if pruning:
            length += 1
        elif length:
            runs.append(length)
            length = 0
    return result, runs


def test_auto_two_bounds_wait_for_two_calls_that_do_not_pay():
    # Uniform noise: once labels settle, the bounds still leave most rows to
    # compute. Hamerly's one bound goes back to Lloyd after the first pruned
    # call (which sets the bounds) and one that does not pay; the two bounds
    # wait for a second (BAD_CALLS), as the centres often still move then.
    from mixfit.engine.kmeans_hamerly import _AutoHamerly

    rng = np.random.default_rng(2)
    X = rng.uniform(size=(4000, 40))
    centers = X[:48].astype(np.float64)
    _, one_bound = _runs_of_pruning(_AutoHamerly, X, centers, 60)
    result, two_bounds = _runs_of_pruning(kmeans_two_bound._AutoTwoBound, X, centers, 60)
    assert one_bound[0] == 2
    assert two_bounds[0] == 1 + kmeans_two_bound.BAD_CALLS == 3
    reference = lloyd(X, centers, max_iter=60, tol=0.0, algorithm="lloyd")
    np.testing.assert_array_equal(result.labels, reference.labels)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_two_bounds_for_few_clusters_on_long_rows_of_large_data(dtype):
    from mixfit.engine.kmeans import TWO_BOUND_WIDE, TWO_BOUND_WIDE_MAX_FEATURES, _auto_algorithm

    wide = TWO_BOUND_WIDE[np.dtype(dtype)]
    itemsize = np.dtype(dtype).itemsize

    def data(n_features, n_bytes):  # no memory: a view of one value
        return np.broadcast_to(dtype(0), (-(-n_bytes // (n_features * itemsize)), n_features))

    large = data(wide["features"], wide["bytes"])
    assert _auto_algorithm(large, 3, "numba", False) == "auto-two-bound"
    assert _auto_algorithm(large, 8, "numba", False) == "auto-two-bound"
    assert _auto_algorithm(large[:-1], 3, "numba", False) == "lloyd"  # smaller data
    narrower = data(wide["features"] - 1, wide["bytes"])
    assert _auto_algorithm(narrower, 3, "numba", False) == "lloyd"
    longest = data(TWO_BOUND_WIDE_MAX_FEATURES, wide["bytes"])
    assert _auto_algorithm(longest, 4, "numba", False) == "auto-two-bound"
    longer = data(TWO_BOUND_WIDE_MAX_FEATURES + 1, wide["bytes"])
    assert _auto_algorithm(longer, 3, "numba", False) == "lloyd"


@pytest.mark.parametrize("n_features, n_clusters", [(96, 3), (160, 4), (160, 5), (160, 8)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_long_rows_with_few_clusters_get_lloyds_labels_through_two_bounds(
        monkeypatch, n_features, n_clusters, dtype):
    # The paired micro-kernel (3, 4 clusters), the GEMM kernels (5) and the
    # 8-lane micro-kernel (8) under the two bounds, on data made "large" here.
    from mixfit.engine import kmeans as kmeans_module

    monkeypatch.setitem(kmeans_module.TWO_BOUND_WIDE, np.dtype(dtype),
                        {"features": 96, "bytes": 0})
    calls = []
    original = kmeans_two_bound._AutoTwoBound.__call__

    def counted(self, centers):
        calls.append(True)
        return original(self, centers)

    monkeypatch.setattr(kmeans_two_bound._AutoTwoBound, "__call__", counted)
    X, rng = _blobs(3000, n_features, 12, dtype, spread=4.0)
    init = X[rng.choice(len(X), n_clusters, replace=False)].astype(np.float64)
    for n_jobs in (1, 2):
        result = lloyd(X, init, max_iter=30, tol=0.0, algorithm="auto", n_jobs=n_jobs)
        reference = lloyd(X, init, max_iter=30, tol=0.0, algorithm="lloyd", n_jobs=n_jobs)
        assert calls
        np.testing.assert_array_equal(result.labels, reference.labels)
        np.testing.assert_allclose(result.centers, reference.centers, rtol=RTOL[dtype],
                                   atol=RTOL[dtype])
        assert result.n_iter == reference.n_iter
        np.testing.assert_allclose(result.inertia, reference.inertia, rtol=RTOL[dtype])
