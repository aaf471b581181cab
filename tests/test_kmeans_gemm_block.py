"""The GEMM E-step kernels that take a whole block of rows (:mod:`mixfit.kernels.kmeans_gemm`).

Checked against a float64 brute-force reference (labels wherever the nearest
centre wins by more than the GEMM's rounding; counts, sums, inertia and
distances of the labels the kernel chose), in both GEMM orientations, with and
without a shift, weights, row norms and per-row distances, on rows that are not
contiguous and blocks that end in a partial chunk; Hamerly's block against the
unpruned one; and the runner's BLAS limit, which holds even for one thread.
"""

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from mixfit.engine import kmeans_steps
from mixfit.engine.kmeans import lloyd
from mixfit.kernels import kmeans, kmeans_gemm


def _data(seed, n_samples, n_features, n_clusters, dtype, offset=0.0):
    rng = np.random.default_rng(seed)
    means = rng.uniform(-4, 4, size=(6, n_features))
    X = means[rng.integers(6, size=n_samples)] + rng.normal(size=(n_samples, n_features))
    X = (X + offset).astype(dtype)
    centers = X[rng.choice(n_samples, n_clusters, replace=False)].astype(np.float64) + 0.1
    return X, centers, rng


def _gemm_arguments(centers, shift, dtype, rows_first):
    C = (centers - (0.0 if shift is None else shift)).astype(dtype)
    C_neg2 = -2 * C
    C_neg2_t = np.ascontiguousarray(C_neg2.T) if rows_first else np.empty((0, 0), dtype)
    shift_arg = np.empty(0, dtype) if shift is None else shift.astype(dtype)
    return shift_arg, C_neg2, C_neg2_t, np.einsum("ij,ij->i", C, C)


def _check_against_reference(X, centers, weight, labels, dist, sums, counts, inertia, margin):
    X64 = X.astype(np.float64)
    exact = ((X64[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    ordered = np.sort(exact, axis=1)
    clear = ordered[:, 1] - ordered[:, 0] > margin
    assert clear.mean() > 0.95
    np.testing.assert_array_equal(labels[clear], exact.argmin(axis=1)[clear])
    chosen = exact[np.arange(len(X)), labels]
    # A label the kernel chose is never worse than the best by more than the rounding.
    assert np.all(chosen - ordered[:, 0] <= margin)
    np.testing.assert_allclose(counts, np.bincount(labels, weights=weight,
                                                   minlength=len(centers)), rtol=1e-12)
    expected_sums = np.zeros_like(centers)
    np.add.at(expected_sums, labels, weight[:, None] * X64)
    np.testing.assert_allclose(sums, expected_sums, rtol=1e-10, atol=1e-8)
    if dist is not None:
        np.testing.assert_allclose(dist, chosen, rtol=1e-3, atol=margin)
    assert inertia == pytest.approx(float(weight @ chosen), rel=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows_first", [False, True])
@pytest.mark.parametrize("shifted", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("norms", [True, False])
# Rows that are not contiguous are typed so that numba warns of a slower np.dot.
@pytest.mark.filterwarnings("ignore::numba.NumbaPerformanceWarning")
def test_lloyd_gemm_block_matches_reference(dtype, rows_first, shifted, weighted, norms):
    n_features, n_clusters = 12, 5
    X, centers, rng = _data(7, 301, n_features, n_clusters, dtype, offset=20.0)
    # Rows that are not contiguous: the kernel must copy them before BLAS.
    X = np.concatenate([X, np.zeros_like(X[:, :3])], axis=1)[:, :n_features]
    assert not X.flags.c_contiguous
    shift = X.astype(np.float64).mean(axis=0) if shifted else None
    shift_arg, C_neg2, C_neg2_t, c_sq = _gemm_arguments(centers, shift, dtype, rows_first)
    Xs = X.astype(np.float64) - (0.0 if shift is None else shift)
    x_sq = np.einsum("ij,ij->i", Xs, Xs).astype(dtype) if norms else np.empty(0, dtype)
    weight = rng.uniform(0.5, 2.0, len(X)) if weighted else np.empty(0)
    labels = np.full(len(X), -1, dtype=np.int32)
    dist = np.empty(len(X))
    sums, counts = np.zeros((n_clusters, n_features)), np.zeros(n_clusters)
    inertia, n_changed = kmeans_gemm.lloyd_gemm_block(
        X, shift_arg, C_neg2, C_neg2_t, c_sq, x_sq, weight, labels, dist, sums, counts, 37)
    assert n_changed == len(X)
    eps = np.finfo(dtype).eps
    scale = float(np.max(np.einsum("ij,ij->i", Xs, Xs))) + float(np.max(c_sq))
    margin = 4 * (n_features + 8) * eps * scale
    _check_against_reference(X, centers, weight if weighted else np.ones(len(X)), labels,
                             dist, sums, counts, inertia, margin)
    # Run again from those labels: nothing changes, and the statistics are the same.
    again_sums, again_counts = np.zeros_like(sums), np.zeros_like(counts)
    again_inertia, again_changed = kmeans_gemm.lloyd_gemm_block(
        X, shift_arg, C_neg2, C_neg2_t, c_sq, x_sq, weight, labels, np.empty(0),
        again_sums, again_counts, 37)
    assert again_changed == 0
    np.testing.assert_array_equal(again_sums, sums)
    assert again_inertia == inertia
    # Without sums (a (0, d) array), then added by add_rows_by_label: the same
    # additions in the same order, so the same bits.
    bare_counts = np.zeros_like(counts)
    bare_inertia, _ = kmeans_gemm.lloyd_gemm_block(
        X, shift_arg, C_neg2, C_neg2_t, c_sq, x_sq, weight, labels, np.empty(0),
        np.zeros((0, n_features)), bare_counts, 37)
    assert bare_inertia == inertia
    np.testing.assert_array_equal(bare_counts, counts)
    added = np.zeros_like(sums)
    kmeans.add_rows_by_label(X, labels, weight, added)
    np.testing.assert_array_equal(added, sums)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows_first", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shifted", [True, False])
@pytest.mark.filterwarnings("ignore::numba.NumbaPerformanceWarning")
def test_hamerly_gemm_block_agrees_with_unpruned(dtype, rows_first, weighted, shifted):
    n_features, n_clusters = 10, 6
    X, centers, rng = _data(11, 500, n_features, n_clusters, dtype)
    if not shifted:  # then rows that are not contiguous, which the kernel must copy
        X = np.concatenate([X, X[:, :2]], axis=1)[:, :n_features]
    shift = X.astype(np.float64).mean(axis=0) if shifted else None
    shift_arg, C_neg2, C_neg2_t, c_sq = _gemm_arguments(centers, shift, dtype, rows_first)
    Xs = X if shift is None else (X - shift.astype(dtype)).astype(dtype)
    x_sq = np.einsum("ij,ij->i", Xs, Xs)
    weight = rng.uniform(0.5, 2.0, len(X)) if weighted else np.empty(0)
    eps = float(np.finfo(dtype).eps)
    tau_coef = 4.0 * (n_features + 8) * eps + 1e-12
    c_max_sq = float(np.max(c_sq))

    ref_labels = np.full(len(X), -1, dtype=np.int32)
    ref_sums, ref_counts = np.zeros((n_clusters, n_features)), np.zeros(n_clusters)
    ref_inertia, _ = kmeans_gemm.lloyd_gemm_block(
        X, shift_arg, C_neg2, C_neg2_t, c_sq, x_sq, weight, ref_labels, np.empty(0),
        ref_sums, ref_counts, 64)

    labels = np.zeros(len(X), dtype=np.int32)
    lower = np.full(len(X), -np.inf, dtype=np.float32)
    no_drift = np.zeros(n_clusters)
    half_gap = np.zeros(n_clusters)  # no help from the gaps: the lower bounds alone prune
    for expect_pruned in (False, True):
        sums, counts = np.zeros_like(ref_sums), np.zeros_like(ref_counts)
        inertia, _, _ = kmeans_gemm.hamerly_gemm_block(
            X, weight, x_sq, centers, labels, lower, half_gap, no_drift, 0, 0.0,
            tau_coef, c_max_sq, shift_arg, C_neg2, C_neg2_t, c_sq, sums, counts, 64)
        np.testing.assert_array_equal(labels, ref_labels)
        np.testing.assert_allclose(counts, ref_counts, rtol=1e-12)
        np.testing.assert_allclose(sums, ref_sums, rtol=1e-10, atol=1e-8)
        assert inertia == pytest.approx(ref_inertia, rel=1e-4)
    # The lower bounds the first pass set are true lower bounds on the other centres.
    X64 = X.astype(np.float64)
    exact = np.sqrt(((X64[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2))
    exact[np.arange(len(X)), labels] = np.inf
    assert np.all(lower <= exact.min(axis=1))
    assert np.mean(lower > 0) > 0.9


def test_blocks_refuse_mismatched_shapes():
    X, centers, _ = _data(3, 50, 4, 3, np.float64)
    shift_arg, C_neg2, C_neg2_t, c_sq = _gemm_arguments(centers, None, np.float64, False)
    labels = np.zeros(49, dtype=np.int32)  # one row short
    with pytest.raises(ValueError, match="lloyd_gemm_block"):
        kmeans_gemm.lloyd_gemm_block(X, shift_arg, C_neg2, C_neg2_t, c_sq, np.empty(0),
                                     np.empty(0), labels, np.empty(0), np.zeros((3, 4)),
                                     np.zeros(3), 16)
    with pytest.raises(ValueError, match="hamerly_gemm_block"):
        kmeans_gemm.hamerly_gemm_block(
            X, np.empty(0), np.zeros(40), centers, np.zeros(50, np.int32),
            np.zeros(50, np.float32), np.zeros(3), np.zeros(3), 0, 0.0, 0.0, 0.0,
            shift_arg, C_neg2, C_neg2_t, c_sq, np.zeros((3, 4)), np.zeros(3), 16)


def test_add_rows_by_label_refuses_labels_out_of_range():
    X = np.ones((4, 2))
    with pytest.raises(ValueError, match="add_rows_by_label"):
        kmeans.add_rows_by_label(X, np.array([0, 1, 3, 0], dtype=np.int32), np.empty(0),
                                 np.zeros((3, 2)))
    with pytest.raises(ValueError, match="add_rows_by_label"):
        kmeans.add_rows_by_label(X, np.zeros(4, dtype=np.int32), np.empty(0), np.zeros((3, 3)))


def _blas_threads():
    return {info["filepath"]: info["num_threads"] for info in threadpool_info()
            if info["user_api"] == "blas"}


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_runner_holds_blas_at_one_thread_on_the_gemm_path(n_jobs):
    # A threaded BLAS on a chunk's small GEMM costs more than it saves, one
    # thread of ours or two. The direct kernels call no BLAS: on one thread
    # they set no limit, on two they do (BLAS's threads would spin on our cores
    # after any BLAS call of the fit).
    X = np.zeros((200_000, 72))  # the GEMM path's at 64 clusters
    assert kmeans_steps._e_step_kernel(72, 64, X.dtype) == "gemm"
    with kmeans_steps._runner(n_jobs, X, 64, 256):
        assert set(_blas_threads().values()) == {1}
    before = _blas_threads()
    with kmeans_steps._runner(n_jobs, X[:, :2], 64, 256) as runner:  # direct: float64, d·K 128
        assert not runner.blas and runner.n_threads == n_jobs
        if n_jobs == 1:
            assert _blas_threads() == before
        else:
            assert set(_blas_threads().values()) == {1}
    assert _blas_threads() == before


def test_blas_is_held_at_one_thread_while_the_bounds_measure_the_centres(monkeypatch):
    # The bounds' K × K GEMM of centre gaps runs inside a fit on our two threads
    # over the SIMD micro-kernel (no GEMM of its own): BLAS must not start
    # threads there, which then spin on the cores our E-steps need.
    from mixfit.engine import kmeans_hamerly

    seen = []
    original = kmeans_hamerly._Hamerly._centre_geometry

    def watched(self, centers64):
        seen.append(set(_blas_threads().values()))
        return original(self, centers64)

    monkeypatch.setattr(kmeans_hamerly._Hamerly, "_centre_geometry", watched)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40_000, 24)).astype(np.float32)
    assert kmeans_steps._e_step_kernel(24, 256, X.dtype) == "simd"
    init = X[:256].astype(np.float64)
    lloyd(X, init, max_iter=40, tol=0.0, algorithm="auto", n_jobs=2)
    assert seen and all(threads == {1} for threads in seen)
