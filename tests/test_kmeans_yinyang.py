"""Yinyang's group bounds: Lloyd's labels, valid bounds, real pruning, any thread count."""

import numpy as np
import pytest

from mixfit.engine import kmeans_steps, kmeans_yinyang
from mixfit.engine.kmeans import lloyd
from mixfit.kernels import kmeans_yinyang as kernels

RTOL = {np.float32: 1e-6, np.float64: 1e-12}


def _blobs(n_samples, n_features, n_blobs, dtype, spread=1.0, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    means = rng.uniform(-20, 20, size=(n_blobs, n_features)) + offset
    X = means[rng.integers(n_blobs, size=n_samples)]
    X = X + spread * rng.normal(size=(n_samples, n_features))
    return X.astype(dtype), rng


def _assert_same_fit(a, b, dtype):
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.n_iter == b.n_iter and a.converged == b.converged
    np.testing.assert_allclose(a.centers, b.centers, rtol=RTOL[dtype], atol=RTOL[dtype])
    assert a.inertia == pytest.approx(b.inertia, rel=10 * RTOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_clusters", [5, 40, 130])  # 5: one group; 130: 13 groups
def test_yinyang_gives_the_labels_of_the_unpruned_fit(dtype, weighted, n_clusters):
    # 130 clusters at 72 features: the GEMM path's (Yinyang runs on no other).
    X, rng = _blobs(6000, 72 if n_clusters > 64 else 24, 30, dtype)
    weight = rng.uniform(0.0, 3.0, size=len(X)) if weighted else None
    init = X[rng.choice(len(X), n_clusters, replace=False)].astype(np.float64)
    for tol in (0.0, 1e-4):
        unpruned = lloyd(X, init, sample_weight=weight, max_iter=60, tol=tol,
                         algorithm="lloyd", chunk_size=256)
        pruned = lloyd(X, init, sample_weight=weight, max_iter=60, tol=tol,
                       algorithm="yinyang", chunk_size=256)
        _assert_same_fit(pruned, unpruned, dtype)
        reference = lloyd(X, init, sample_weight=weight, max_iter=60, tol=tol, kernel="numpy",
                          chunk_size=256)
        _assert_same_fit(pruned, reference, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_yinyang_far_from_the_origin_with_a_shift(dtype):
    # The group filter's products use the GEMM's shift: without it, the rows'
    # norms would swamp the differences between distances.
    X, rng = _blobs(4000, 16, 20, dtype, offset=1e3)
    init = X[rng.choice(len(X), 64, replace=False)].astype(np.float64)
    shift = X.mean(axis=0).astype(np.float64)
    unpruned = lloyd(X, init, max_iter=40, tol=0.0, algorithm="lloyd", shift=shift)
    pruned = lloyd(X, init, max_iter=40, tol=0.0, algorithm="yinyang", shift=shift)
    _assert_same_fit(pruned, unpruned, dtype)


def _e_step(X, n_clusters, n_jobs=1, numba_threads=None, chunk_size=256):
    runner = kmeans_steps._runner(n_jobs, X, n_clusters, chunk_size)
    if numba_threads is not None:
        runner.numba_threads = numba_threads
    return runner, kmeans_yinyang._Yinyang(X, None, chunk_size, None, runner, n_clusters)


def _moves(X, centers, rng, steps=3, scale=0.05):
    """Centres that drift a little each step, as in the late iterations of a fit."""
    out = [centers]
    for _ in range(steps):
        out.append(out[-1] + rng.normal(scale=scale, size=centers.shape))
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_group_bounds_stay_below_the_true_distances(dtype):
    X, rng = _blobs(3000, 12, 15, dtype)
    centers = X[rng.choice(len(X), 60, replace=False)].astype(np.float64)
    runner, e_step = _e_step(X, 60)
    with runner:
        for step in _moves(X, centers, rng):
            e_step(step)
            X64 = X.astype(np.float64)
            dist = np.sqrt(((X64[:, None, :] - step[None, :, :]) ** 2).sum(axis=2))
            dist[np.arange(len(X)), e_step.labels] = np.inf  # bounds leave out the own centre
            bounds = e_step.group_bounds()
            for g in range(bounds.shape[1]):
                in_group = e_step.group_of == g
                assert (bounds[:, g] <= dist[:, in_group].min(axis=1)).all()
            # Every label is the nearest centre (no near ties in this data).
            dist[np.arange(len(X)), e_step.labels] = np.sqrt(
                ((X64 - step[e_step.labels]) ** 2).sum(axis=1))
            np.testing.assert_array_equal(e_step.labels, dist.argmin(axis=1))


def test_yinyang_prunes_well_separated_blobs():
    # 40 blobs far apart, 200 centres: after the first call (every row through
    # the GEMM, to set the bounds), small moves leave most rows to the global
    # filter and the rest to a few groups.
    X, rng = _blobs(20_000, 32, 40, np.float32, spread=0.5)
    centers = X[rng.choice(len(X), 200, replace=False)].astype(np.float64)
    runner, e_step = _e_step(X, 200)
    with runner:
        e_step(centers)
        assert e_step.n_gemm.sum() == len(X) and e_step.n_direct.sum() == 0
        e_step(centers + rng.normal(scale=0.01, size=centers.shape))
    assert e_step.n_gemm.sum() < 0.1 * len(X)  # near ties (within tau) only
    assert e_step.n_direct.sum() < 0.2 * len(X) * 200
    assert e_step.share_computed() < 0.5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thread_count_and_numba_threads_do_not_change_a_bit(dtype):
    from mixfit.kernels.parallel import numba_threads_usable

    X, rng = _blobs(40_000, 20, 50, dtype)
    centers = X[rng.choice(len(X), 100, replace=False)].astype(np.float64)
    steps = _moves(X, centers, rng)
    settings = [(1, None), (2, False)] + ([(2, True)] if numba_threads_usable() else [])
    runs = []
    for n_jobs, numba_threads in settings:
        runner, e_step = _e_step(X, 100, n_jobs, numba_threads)
        with runner:
            results = [e_step(c) for c in steps]
        runs.append((results, e_step.labels.copy(), e_step.lower.copy(), e_step.n_gemm.copy()))
    first = runs[0]
    for other in runs[1:]:
        for (a_changed, a), (b_changed, b) in zip(first[0], other[0]):
            assert a_changed == b_changed and a.inertia == b.inertia
            assert a.sums.tobytes() == b.sums.tobytes()
            assert a.counts.tobytes() == b.counts.tobytes()
        np.testing.assert_array_equal(first[1], other[1])
        assert first[2].tobytes() == other[2].tobytes()
        np.testing.assert_array_equal(first[3], other[3])


def test_group_centres_groups_near_centres_deterministically():
    rng = np.random.default_rng(3)
    means = rng.uniform(-100, 100, size=(8, 5))
    centers = np.repeat(means, 6, axis=0) + rng.normal(size=(48, 5))
    group_of = kmeans_yinyang.group_centres(centers, 8)
    np.testing.assert_array_equal(group_of, kmeans_yinyang.group_centres(centers, 8))
    n_groups = group_of.max() + 1
    assert set(np.unique(group_of)) == set(range(n_groups))  # numbered without gaps
    # Centres of one blob share a group.
    for blob in range(8):
        assert len(set(group_of[6 * blob:6 * blob + 6])) == 1
    assert kmeans_yinyang.group_centres(centers[:3], 10).max() <= 2  # at most K groups


def test_yinyang_kernel_refuses_inconsistent_shapes():
    X = np.zeros((10, 3))
    centers = np.zeros((4, 3))
    members = np.arange(4, dtype=np.int64)
    group_of = np.zeros(4, dtype=np.int64)
    args = dict(
        X=X, weight=np.empty(0), x_sq=np.zeros(10), centers=centers, grouped=centers,
        members=members, group_start=np.array([0, 4], dtype=np.int64),
        group_of=group_of, drift_total=np.zeros(1), labels=np.zeros(10, dtype=np.int32),
        lower=np.zeros((10, 1), dtype=np.float32), tau_coef=0.0, c_max_sq=0.0,
        shift=np.empty(0), C_neg2=centers, C_neg2_t=np.empty((0, 0)), c_sq=np.zeros(4),
        sums=np.zeros((4, 3)), counts=np.zeros(4), chunk_size=4, direct_cost=4.0, fresh=False,
    )
    kernels.yinyang_gemm_block(**args)  # consistent: runs
    bad = [
        ("lower", np.zeros((10, 2), dtype=np.float32)),
        ("group_start", np.array([0, 5], dtype=np.int64)),
        ("members", np.array([0, 1, 2, 9], dtype=np.int64)),
        ("group_of", np.array([0, 0, 0, 1], dtype=np.int64)),
        ("labels", np.full(10, 4, dtype=np.int32)),
    ]
    for name, value in bad:
        with pytest.raises(ValueError, match="yinyang_gemm_block"):
            kernels.yinyang_gemm_block(**{**args, name: value})


def test_auto_runs_yinyang_from_the_measured_shapes():
    from scipy import sparse

    from mixfit.engine.kmeans import (HAMERLY_MIN_CLUSTERS, TWO_BOUND_MAX_CLUSTERS,
                                      YINYANG_MIN_CLUSTERS, YINYANG_MIN_FEATURES,
                                      _auto_algorithm)

    for dtype in (np.float32, np.float64):
        d = YINYANG_MIN_FEATURES[np.dtype(dtype)]
        k = YINYANG_MIN_CLUSTERS[np.dtype(dtype)]
        assert k > HAMERLY_MIN_CLUSTERS
        X = np.zeros((100, d), dtype=dtype)
        assert _auto_algorithm(X, k, "numba", False) == "auto-yinyang"
        # Just below, Hamerly's bounds: two per row below TWO_BOUND_MAX_CLUSTERS.
        below = "auto-two-bound" if k - 1 < TWO_BOUND_MAX_CLUSTERS else "adaptive"
        assert _auto_algorithm(X, k - 1, "numba", False) == below
        # Fewer features: the SIMD micro-kernel's two bounds up to 1,024
        # clusters, then Hamerly's one bound over the GEMM.
        narrow = np.zeros((100, d - 1), dtype=dtype)
        assert _auto_algorithm(narrow, k, "numba", False) == "auto-two-bound"
        assert _auto_algorithm(narrow, 1025, "numba", False) == "adaptive"
        assert _auto_algorithm(X, k, "numba", True) == "lloyd"  # lean
        assert _auto_algorithm(sparse.csr_matrix(X), k, "numba", False) == "lloyd"


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_auto_with_yinyang_gives_lloyds_fit(n_jobs):
    X, rng = _blobs(4000, 64, 40, np.float32)
    init = X[rng.choice(len(X), 256, replace=False)].astype(np.float64)
    unpruned = lloyd(X, init, max_iter=30, tol=0.0, algorithm="lloyd")
    auto = lloyd(X, init, max_iter=30, tol=0.0, algorithm="auto", n_jobs=n_jobs)
    _assert_same_fit(auto, unpruned, np.float32)


def test_auto_yinyang_goes_back_to_lloyd_where_the_bounds_do_not_pay():
    # Uniform noise in 64 dimensions: every centre is about as far as every
    # other, no group is ruled out, and the auto E-step runs Lloyd's for 2,
    # then 4 iterations before it tries the bounds again.
    from mixfit.engine.kmeans_loop import _lloyd_loop

    rng = np.random.default_rng(5)
    X = rng.uniform(size=(3000, 64)).astype(np.float32)
    init = X[:300].astype(np.float64)
    runner = kmeans_steps._runner(1, X, 300, 256)
    with runner:
        e_step = kmeans_yinyang._AutoYinyang(X, None, 256, None, runner, 300)
        phases = []
        result = _lloyd_loop(X, init, None, 14, 0.0,
                             lambda i, c, j: phases.append(e_step.pruning), e_step, "numba")
    # After each E-step: the first sets the bounds, the next two find they do
    # not pay, then Lloyd's for 2 steps, then the bounds again (fresh, then
    # pruning as the fit settles).
    assert phases[:6] == [True, True, False, False, True, True]
    unpruned = lloyd(X, init, max_iter=14, tol=0.0, algorithm="lloyd")
    np.testing.assert_array_equal(result.labels, unpruned.labels)


def test_the_estimator_runs_yinyang_and_saves_it(tmp_path):
    from scipy import sparse

    from mixfit import KMeans, load, save

    X, rng = _blobs(3000, 40, 20, np.float32)
    init = X[rng.choice(len(X), 60, replace=False)]
    fits = {algorithm: KMeans(60, init=init, n_init=1, max_iter=50, algorithm=algorithm).fit(X)
            for algorithm in ("lloyd", "yinyang")}
    np.testing.assert_array_equal(fits["yinyang"].labels_, fits["lloyd"].labels_)
    assert fits["yinyang"].n_iter_ == fits["lloyd"].n_iter_
    path = tmp_path / "model.mixfit"
    save(fits["yinyang"], path)
    loaded = load(path)
    assert loaded.algorithm == "yinyang"
    np.testing.assert_array_equal(loaded.predict(X), fits["yinyang"].labels_)
    # Sparse rows have no group bounds: "yinyang" runs Hamerly's pruned pass, bit for bit.
    S = sparse.csr_matrix(np.where(np.abs(X) > 15, X, 0).astype(np.float64))
    start = S[:60].toarray()
    sparse_fits = [KMeans(60, init=start, n_init=1, max_iter=20, algorithm=algorithm).fit(S)
                   for algorithm in ("hamerly", "yinyang")]
    np.testing.assert_array_equal(sparse_fits[0].labels_, sparse_fits[1].labels_)
    np.testing.assert_array_equal(sparse_fits[0].cluster_centers_,
                                  sparse_fits[1].cluster_centers_)


def test_long_rows_get_smaller_groups_but_not_too_many_bounds():
    # About 10 centres a group; 5 where that makes at most d / 3 groups and 64.
    assert kmeans_yinyang.group_count(256, 64) == 26
    assert kmeans_yinyang.group_count(256, 160) == 52
    assert kmeans_yinyang.group_count(256, 784) == 52
    assert kmeans_yinyang.group_count(1024, 160) == 103  # 205 bounds: a third of d exceeded
    assert kmeans_yinyang.group_count(1024, 784) == 103  # over 64 groups
    assert kmeans_yinyang.group_count(3, 784) == 1
