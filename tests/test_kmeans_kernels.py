"""The numba K-means kernels against the numpy reference path of mixfit.engine.kmeans."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from mixfit.estimators.kmeans import KMeans
from mixfit.engine.kmeans import assign, auto_chunk_size, lloyd

RTOL = {np.float32: 1e-6, np.float64: 1e-12}


def _data(seed, n_samples, n_features, n_blobs, dtype):
    rng = np.random.RandomState(seed)
    means = rng.normal(scale=3.0, size=(n_blobs, n_features))
    X = means[rng.randint(n_blobs, size=n_samples)] + rng.normal(size=(n_samples, n_features))
    return X.astype(dtype), rng


def _fit(X, init, **kwargs):
    params = dict(tol=0, max_iter=30, shift=X.mean(axis=0).astype(np.float64))
    params.update(kwargs)
    return lloyd(X, init, **params)


def _assert_same_fit(a, b, dtype, X=None):
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.n_iter == b.n_iter and a.converged == b.converged
    np.testing.assert_allclose(a.centers, b.centers, rtol=RTOL[dtype], atol=RTOL[dtype])
    # Inertia near 0 is all rounding: compare it on the scale of the data's spread.
    spread = 0.0 if X is None else float(((X - X.mean(axis=0)) ** 2).sum())
    atol = 10 * RTOL[dtype] * spread
    assert a.inertia == pytest.approx(b.inertia, rel=10 * RTOL[dtype], abs=atol)
    np.testing.assert_allclose(
        a.inertia_history, b.inertia_history, rtol=10 * RTOL[dtype], atol=atol
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_clusters,chunk_size", [(1, 100), (3, 64), (17, None), (40, 1000)])
def test_fused_kernel_equals_numpy_reference(dtype, weighted, n_clusters, chunk_size):
    X, rng = _data(n_clusters, 3000, 5, 6, dtype)
    weight = rng.uniform(0.0, 3.0, size=len(X)) if weighted else None
    init = X[rng.choice(len(X), n_clusters, replace=False)]
    reference = _fit(X, init, sample_weight=weight, kernel="numpy", chunk_size=chunk_size)
    fused = _fit(X, init, sample_weight=weight, algorithm="lloyd", chunk_size=chunk_size)
    _assert_same_fit(fused, reference, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_clusters", [2, 33, 80, 150])  # 150: centre gaps in blocks
def test_hamerly_gives_the_labels_of_the_unpruned_fit(dtype, weighted, n_clusters):
    X, rng = _data(n_clusters, 5000, 4, 12, dtype)
    weight = rng.uniform(0.0, 3.0, size=len(X)) if weighted else None
    init = X[rng.choice(len(X), n_clusters, replace=False)]
    for tol in (0, 1e-4):
        reference = _fit(X, init, sample_weight=weight, kernel="numpy", tol=tol, max_iter=60)
        unpruned = _fit(X, init, sample_weight=weight, algorithm="lloyd", tol=tol, max_iter=60)
        pruned = _fit(X, init, sample_weight=weight, algorithm="hamerly", tol=tol, max_iter=60)
        _assert_same_fit(pruned, unpruned, dtype)
        _assert_same_fit(pruned, reference, dtype)


def test_hamerly_callback_sees_the_unpruned_inertia():
    X, rng = _data(5, 4000, 3, 8, np.float64)
    init = X[:50].copy()
    seen = {}
    for algorithm in ("lloyd", "hamerly"):
        seen[algorithm] = []
        _fit(X, init, algorithm=algorithm,
             callback=lambda i, c, j, out=seen[algorithm]: out.append((i, c.copy(), j)))
    assert [i for i, _, _ in seen["lloyd"]] == [i for i, _, _ in seen["hamerly"]]
    for (_, c_a, j_a), (_, c_b, j_b) in zip(seen["lloyd"], seen["hamerly"]):
        np.testing.assert_allclose(c_a, c_b, rtol=1e-12)
        assert j_a == pytest.approx(j_b, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
def test_more_clusters_than_distinct_points(dtype, algorithm):
    rng = np.random.RandomState(0)
    X = np.repeat(rng.normal(size=(7, 3)), 50, axis=0).astype(dtype)
    init = np.concatenate([X[::50], X[::50][:5] + dtype(0.25)])  # 12 centres, 7 points
    reference = _fit(X, init, kernel="numpy")
    fit = _fit(X, init, algorithm=algorithm)
    _assert_same_fit(fit, reference, dtype, X)


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thread_count_does_not_change_the_result(algorithm, dtype):
    # Enough rows for several thread blocks.
    X, rng = _data(1, 40_000, 3, 10, dtype)
    weight = rng.uniform(0.5, 2.0, size=len(X))
    init = X[:40].copy()
    one = _fit(X, init, sample_weight=weight, algorithm=algorithm, n_jobs=1, chunk_size=1000)
    two = _fit(X, init, sample_weight=weight, algorithm=algorithm, n_jobs=2, chunk_size=1000)
    np.testing.assert_array_equal(one.labels, two.labels)
    np.testing.assert_array_equal(one.centers, two.centers)
    assert one.inertia_history == two.inertia_history and one.inertia == two.inertia


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
@pytest.mark.parametrize("chunk_size", [1, 37, 256, 5000, 30_000])
def test_chunk_size_changes_nothing_beyond_rounding(algorithm, chunk_size):
    X, rng = _data(2, 20_000, 4, 9, np.float64)
    init = X[:35].copy()
    reference = _fit(X, init, kernel="numpy", chunk_size=4096)
    _assert_same_fit(_fit(X, init, algorithm=algorithm, chunk_size=chunk_size), reference,
                     np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunk_size", [None, 1, 100])
def test_assign_kernel_equals_reference(dtype, chunk_size):
    X, rng = _data(3, 2500, 6, 5, dtype)
    centers = rng.normal(scale=3.0, size=(20, 6))
    shift = X.mean(axis=0).astype(np.float64)
    ref_labels, ref_dist = assign(X, centers, chunk_size=chunk_size or 4096, shift=shift,
                                  kernel="numpy")
    labels, dist = assign(X, centers, chunk_size=chunk_size, shift=shift, n_jobs=2)
    np.testing.assert_array_equal(labels, ref_labels)
    # Both compute ‖x − s‖² − 2(x − s)·(c − s) + ‖c − s‖² in X's dtype, summed in
    # different orders (BLAS, or the SIMD kernel's fused multiply-adds for this
    # shape): each within (d + 2) units of rounding of ‖x − s‖² + ‖c − s‖².
    x_sq = ((X.astype(np.float64) - shift) ** 2).sum(axis=1)
    c_sq = ((centers[ref_labels] - shift) ** 2).sum(axis=1)
    bound = 2 * (X.shape[1] + 2) * np.finfo(dtype).eps * (x_sq + c_sq)
    np.testing.assert_array_less(np.abs(dist - ref_dist), bound + RTOL[dtype] * ref_dist)


def test_float32_far_from_the_origin_is_pruned_exactly():
    # ‖x‖ ≫ the distances: the rounding bound of the GEMM must hold after the shift.
    X, rng = _data(4, 6000, 8, 40, np.float64)
    X32 = (X + 1e4).astype(np.float32)
    init = X32[rng.choice(len(X32), 40, replace=False)]
    _assert_same_fit(_fit(X32, init, algorithm="hamerly"), _fit(X32, init, kernel="numpy"),
                     np.float32)


def test_estimator_algorithms_agree_and_bad_values_are_refused():
    X, _ = _data(5, 3000, 3, 40, np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fits = [KMeans(40, random_state=0, algorithm=a, n_jobs=j).fit(X)
                for a, j in [("lloyd", 1), ("hamerly", 2), ("auto", None), ("elkan", 2)]]
    for fit in fits[1:]:
        np.testing.assert_array_equal(fit.labels_, fits[0].labels_)
        np.testing.assert_allclose(fit.cluster_centers_, fits[0].cluster_centers_, rtol=1e-12)
        np.testing.assert_array_equal(fit.predict(X), fit.labels_)
    with pytest.raises(ValueError, match="algorithm must be one of"):
        KMeans(3, algorithm="full").fit(X)  # scikit-learn refuses it too (now "lloyd")
    with pytest.raises(ValueError, match="n_jobs"):
        KMeans(3, n_jobs=0).fit(X)
    with pytest.raises(ValueError, match="needs kernel='numba'"):
        lloyd(X, X[:3], algorithm="hamerly", kernel="numpy")


def test_auto_chunk_size_keeps_the_block_small():
    assert auto_chunk_size(64, 4) == 512
    assert auto_chunk_size(1024, 4) == 256
    assert auto_chunk_size(3, 8) == 4096
    # Skinny X·Cᵀ products: the most rows within BLAS's small-matrix kernel.
    assert auto_chunk_size(10, 4, 784) == 127
    assert auto_chunk_size(64, 4, 32) == 512  # C·Xᵀ orientation: the cache rule
    assert auto_chunk_size(10, 4, 50_000) == auto_chunk_size(10, 4)  # too few rows
    for k in (1, 10, 100, 10_000):
        assert 256 <= auto_chunk_size(k, 8) <= 4096


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
def test_engine_returns_int64_labels_and_keeps_the_init(algorithm):
    # Labels are int32 inside the fit; the result and the estimator give int64.
    X, _ = _data(6, 2000, 3, 5, np.float32)
    init = X[:40].copy()
    kept = init.copy()
    result = _fit(X, init, algorithm=algorithm, max_iter=5)
    assert result.labels.dtype == np.int64
    np.testing.assert_array_equal(init, kept)


def _part(value):
    """A per-block ``(counts, sums, inertia, n_changed)`` whose sums show the order of additions."""
    return np.array([1.0]), np.array([[value]]), value, 1


def test_threads_take_runs_as_they_come_free_and_sum_them_in_order():
    import threading
    import time

    from mixfit.engine.kmeans_steps import _Runner

    # Values whose float sum depends on the order they are added in.
    values = [1e16, 1.0, -1e16, 1.0, 3.0, 1e-3, 7.0, 2.0, 1e8, -1e8]
    blocks = [range(i, i + 1) for i in range(len(values))]
    ran_by = {}
    caller = threading.get_ident()

    def block(rows):
        ident = threading.get_ident()
        ran_by[rows.start] = ident
        if ident != caller:
            time.sleep(0.05)  # a slow (or late) second thread
        return _part(values[rows.start])

    with _Runner(1, len(blocks)) as runner:
        one = runner.map_sums(block, blocks)
    with _Runner(2, len(blocks)) as runner:
        two = runner.map_sums(block, blocks)
    assert one[0] == two[0] == len(values)
    assert one[1].sums.tobytes() == two[1].sums.tobytes()  # the same additions in the same order
    assert one[1].inertia == two[1].inertia and one[1].counts.tolist() == two[1].counts.tolist()
    # The slow thread took one run (two at most) while the caller did the rest.
    taken_by_caller = sum(ident == caller for ident in ran_by.values())
    assert taken_by_caller >= len(values) - 2, ran_by


def test_a_failing_run_raises_and_stops_handing_out_runs():
    import threading
    import time

    from mixfit.engine.kmeans_steps import _Runner

    blocks = [range(i, i + 1) for i in range(16)]
    started = []
    lock = threading.Lock()

    def block(rows):
        with lock:
            started.append(rows.start)
        if rows.start == 0:
            raise RuntimeError("block 0 failed")
        time.sleep(0.005)
        return _part(1.0)

    with _Runner(2, len(blocks)) as runner:
        with pytest.raises(RuntimeError, match="block 0 failed"):
            runner.map_sums(block, blocks)
    time.sleep(0.1)  # time enough for a thread that went on to start more runs
    # The caller failed on its first run; the other thread stopped after its
    # current one (and before map_sums raised) instead of running the other
    # half of the blocks.
    assert len(started) <= 3, started


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_features", [1, 3, 16, 17, 40])
@pytest.mark.parametrize("order", ["C", "F"])
def test_kept_row_norms_are_the_float64_norms_rounded_once(dtype, n_features, order):
    from mixfit.engine.kmeans_steps import _kept_row_sq_norms

    X, rng = _data(4, 3001, n_features, 4, dtype)
    X = np.asarray(X, order=order)
    shift = rng.normal(size=n_features)
    exact = ((X.astype(np.float64) - shift) ** 2).sum(axis=1)
    for n_threads in (1, 2):
        x_sq = _kept_row_sq_norms(X, shift, n_threads, 1000)
        assert x_sq.dtype == dtype
        # Few features: summed in float64 and rounded once to X's dtype (for
        # float64 the sum's own d + 2 roundings); more: numpy in X's dtype.
        if n_features <= 16:
            ulps = 1 if dtype == np.float32 else n_features + 2
        else:
            ulps = 4 * n_features
        np.testing.assert_allclose(x_sq, exact, rtol=ulps * np.finfo(dtype).eps)
    assert np.array_equal(_kept_row_sq_norms(X, None, 2, 1000),
                          _kept_row_sq_norms(X, None, 1, 1000))


def test_blocks_give_threads_work_on_small_data_but_not_crumbs():
    from mixfit.engine.kmeans_steps import _BLOCK_ROWS, _blocks, _runner

    def sizes(n, chunk, row_work):
        return [r.stop - r.start for r in _blocks(n, chunk, row_work=row_work)]

    # 10,000 rows × 64 features × 64 clusters: 8 equal blocks, not one.
    assert sizes(10_000, 512, 64 * 64) == [1250] * 8
    # Light rows (16 × 3): fewer blocks, each of at least _MIN_BLOCK_WORK terms.
    assert sizes(10_000, 4096, 16 * 3) == [2500] * 4
    assert sizes(2_000, 4096, 16 * 3) == [2000]
    # 32 × 3: equal blocks, not whole chunks (which made 8,192 and 1,808 rows).
    assert sizes(10_000, 4096, 32 * 3) == [1250] * 8
    assert sizes(10_003, 4096, 32 * 3) == [1251] * 7 + [1246]
    # Large data keeps blocks of at most _BLOCK_ROWS rows, shared equally.
    large = sizes(1_000_000, 4096, 16 * 8)
    assert max(large) <= _BLOCK_ROWS and len(large) == -(-1_000_000 // _BLOCK_ROWS)
    assert max(large) - min(large) < len(large)
    # A given block_rows is kept (mini-batches choose their own).
    assert sizes(5000, 100, 1) == [5000]
    assert [r.stop - r.start for r in _blocks(5000, 256, 1024)] == [1024] * 4 + [904]
    # So a 10,000-row fit of 64 × 64 runs on the two threads it is given.
    X = np.broadcast_to(np.float32(0), (10_000, 64))
    assert _runner(2, X, 64, 512).n_threads == 2


def test_without_numbas_threads_light_fits_keep_to_one_thread(monkeypatch):
    # The Python pool's hand-off costs tens of µs: without numba's threads a
    # thread needs POOL_THREAD_WORK terms (10,000 × 16 × 3 has 480,000).
    from mixfit.engine import kmeans_steps

    light = np.broadcast_to(np.float32(0), (10_000, 16))
    heavy = np.broadcast_to(np.float32(0), (10_000, 64))
    monkeypatch.setattr(kmeans_steps, "numba_threads_usable", lambda: False)
    assert kmeans_steps._runner(2, light, 3, 4096).n_threads == 1
    assert kmeans_steps._runner(2, heavy, 64, 512).n_threads == 2
    monkeypatch.setattr(kmeans_steps, "numba_threads_usable", lambda: True)
    assert kmeans_steps._runner(2, light, 3, 4096).n_threads == 2


@pytest.mark.parametrize("n_features, n_clusters, dtype", [
    (16, 12, np.float32),  # the SIMD micro-kernel
    (40, 6, np.float64),   # the SIMD micro-kernel, fewer than 8 clusters
    (64, 64, np.float32),  # the GEMM path
    (100, 20, np.float64),
    (2, 64, np.float64),   # the direct kernel (no GEMM)
])
@pytest.mark.parametrize("keep_norms", [True, False])
def test_blocks_on_numba_threads_give_the_pools_bits(n_features, n_clusters, dtype, keep_norms):
    # Where numba's threading layer allows, the blocks run in one numba parallel
    # region instead of on the Python pool; the per-block statistics are added
    # in the same order, so labels, distances and sums are the same bits.
    from mixfit.engine.kmeans_steps import _LloydEStep, _runner
    from mixfit.kernels.parallel import numba_threads_usable

    if not numba_threads_usable():
        pytest.skip("numba has no thread-safe threading layer (OpenMP or TBB) here")
    rng = np.random.default_rng(n_features)
    X = rng.normal(size=(30_000, n_features)).astype(dtype)
    centers = X[rng.choice(len(X), n_clusters, replace=False)].astype(np.float64)
    weight = rng.uniform(0.5, 2.0, size=len(X))
    shift = X.mean(axis=0, dtype=np.float64)
    results = []
    for numba_threads in (True, False):
        with _runner(2, X, n_clusters, 256) as runner:
            assert runner.n_threads == 2 and runner.numba_threads
            runner.numba_threads = numba_threads
            e_step = _LloydEStep(X, weight, 256, shift, runner, n_clusters, keep_norms=keep_norms)
            n_changed, stats = e_step(centers)
            labels, distances = e_step.nearest(centers)
        results.append((n_changed, stats, labels, distances))
    (a_changed, a, a_labels, a_dist), (b_changed, b, b_labels, b_dist) = results
    assert a_changed == b_changed == len(X)
    np.testing.assert_array_equal(a_labels, b_labels)
    assert a_dist.tobytes() == b_dist.tobytes()
    assert a.sums.tobytes() == b.sums.tobytes() and a.counts.tobytes() == b.counts.tobytes()
    assert a.inertia == b.inertia
