"""Float64 labelling screened in float32 (kernels/kmeans_screened.py) gives the
float64 micro-kernel's labels on any data.

Each test compares with the float64 micro-kernel run on the same rows and
centres (its labels are what the screening must reproduce), on data built so
that float32 alone gets labels wrong (near ties, large offsets, tiny and huge
values): those rows must be labelled again, and only those the bound
cannot vouch for.
"""

import numpy as np
import pytest

import mixfit
from mixfit.engine import kmeans_screened as engine_screened
from mixfit.engine import kmeans_steps
from mixfit.engine.kmeans_screened import _Operands, screens_in_float32
from mixfit.kernels import kmeans_screened as screened
from mixfit.kernels import kmeans_simd as simd

_NONE = np.empty(0)


def _blobs(n, d, n_blobs, seed=0, offset=0.0, scale=1.0):
    rng = np.random.default_rng(seed)
    means = rng.uniform(-3.0, 3.0, size=(n_blobs, d))
    X = rng.standard_normal((n, d)) + means[rng.integers(0, n_blobs, size=n)]
    return (X + offset) * scale


def _run_screened(X, C, shift=None, weight=_NONE, row_index=None):
    operands = _Operands(C, shift)
    m = X.shape[0] if row_index is None else row_index.shape[0]
    labels = np.full(m, -1, dtype=np.int32)
    dist = np.empty(m)
    sums = np.zeros(C.shape)
    counts = np.zeros(C.shape[0])
    inertia, n_changed, n_again = screened.lloyd_screened_block(
        X, operands.shift, operands.C_t32, operands.c_sq32, operands.C_t64, operands.c_sq64,
        operands.centers, operands.centre_max_sq, weight, labels, dist, sums, counts, row_index)
    return labels, dist, sums, counts, inertia, n_again


def _run_float64(X, C, shift=None, dtype=np.float64):
    operands = _Operands(C, shift)
    C_t, c_sq = ((operands.C_t64, operands.c_sq64) if dtype == np.float64
                 else (operands.C_t32, operands.c_sq32))
    shift_arg = operands.shift.astype(dtype)
    labels = np.full(X.shape[0], -1, dtype=np.int32)
    simd.lloyd_simd_block(np.ascontiguousarray(X, dtype=dtype), shift_arg, C_t, c_sq, C.shape[0],
                          np.empty(0, dtype=dtype), _NONE, labels, np.empty(0, dtype=dtype),
                          np.zeros((0, C.shape[1])), np.zeros(C.shape[0]))
    return labels


def _exact(X, C):
    dist = np.stack([((X - c) ** 2).sum(axis=1) for c in C], axis=1)
    return dist.argmin(axis=1), dist


@pytest.mark.parametrize("d,k", [(32, 256), (64, 64), (160, 16), (784, 24)])
def test_labels_are_the_float64_kernels_and_statistics_exact(d, k):
    X = _blobs(3000, d, 12, seed=d)
    rng = np.random.default_rng(k)
    C = X[rng.choice(X.shape[0], k, replace=False)] + 0.01
    shift = X[:500].mean(axis=0)
    labels, dist, sums, counts, inertia, _ = _run_screened(X, C, shift)
    np.testing.assert_array_equal(labels, _run_float64(X, C, shift))
    nearest, distances = _exact(X, C)
    np.testing.assert_array_equal(labels, nearest)  # no ties in this data
    np.testing.assert_allclose(dist, distances[np.arange(X.shape[0]), labels], rtol=1e-12)
    np.testing.assert_array_equal(counts, np.bincount(labels, minlength=k))
    expected_sums = np.zeros_like(C)
    np.add.at(expected_sums, labels, X)
    np.testing.assert_allclose(sums, expected_sums, rtol=1e-12, atol=1e-9)
    assert inertia == pytest.approx(dist.sum(), rel=1e-12)


def test_near_ties_are_labelled_again_to_the_float64_labels():
    # Rows almost equidistant from centres 0 and 1, far from the origin (no
    # shift): float32 cannot tell them apart; float64 can, and must be asked.
    rng = np.random.default_rng(1)
    d, k, n = 64, 128, 4000
    C = rng.standard_normal((k, d)) + 1000.0
    midpoint = (C[0] + C[1]) / 2
    direction = (C[1] - C[0]) / np.linalg.norm(C[1] - C[0])
    X = midpoint + rng.standard_normal((n, d)) * 1e-3
    X += np.outer(rng.uniform(-1e-6, 1e-6, size=n), direction)
    labels, _, _, _, _, n_again = _run_screened(X, C)
    float64 = _run_float64(X, C)
    np.testing.assert_array_equal(labels, float64)
    assert set(np.unique(labels)) <= {0, 1} and len(np.unique(labels)) == 2
    # float32 alone would have got some of them wrong, hence they were asked again
    assert np.any(_run_float64(X, C, dtype=np.float32) != float64)
    assert n_again > 0


def test_exact_ties_take_the_lowest_index_as_float64_does():
    d = 48
    C = np.zeros((16, d))
    C[:, 0] = np.arange(16)  # centres on a line, rows at the midpoints between neighbours
    X = np.zeros((200, d))
    X[:, 0] = np.arange(200) % 15 + 0.5
    labels, _, _, _, _, n_again = _run_screened(X, C)
    np.testing.assert_array_equal(labels, _run_float64(X, C))
    np.testing.assert_array_equal(labels, np.arange(200) % 15)
    assert n_again == 200


@pytest.mark.parametrize("scale", [1e-30, 1e-20, 1e15, 1e16])
def test_tiny_and_huge_values_keep_the_float64_labels(scale):
    X = _blobs(2000, 40, 8, seed=3, scale=scale)
    C = X[:64] * (1 + 1e-3)
    labels, dist, *_ = _run_screened(X, C)
    np.testing.assert_array_equal(labels, _run_float64(X, C))
    assert np.all(np.isfinite(dist))


def test_rows_beyond_float32s_range_are_labelled_in_float64():
    X = _blobs(500, 40, 4, seed=4, scale=1e19)  # ‖x‖² > 2¹²⁰: no float32 screening
    C = _blobs(16, 40, 4, seed=5)
    labels, _, _, _, _, n_again = _run_screened(X, C)
    assert n_again == 500
    np.testing.assert_array_equal(labels, _run_float64(X, C))


def test_centres_beyond_float32s_range_run_the_float64_kernel():
    assert not _Operands(np.full((8, 40), 1e17), None).usable  # 4e35 > 2¹¹⁸
    assert _Operands(np.full((8, 40), 1e16), None).usable
    X = _blobs(300, 40, 4, seed=8, scale=1e17)
    labels = np.empty(300, dtype=np.int32)
    runner = kmeans_steps._Runner(1, 1)
    with runner:
        engine_screened.screened_e_step(X, X[:16], None, [slice(0, 300)], None, runner, labels,
                                        _NONE)
    np.testing.assert_array_equal(labels, _run_float64(X, X[:16]))


def test_weights_and_indexed_rows_read_in_place():
    X = _blobs(3000, 64, 10, seed=5)
    C = X[:200].copy()
    rows = np.random.default_rng(2).permutation(3000)[:1500].astype(np.int64)
    weight = np.random.default_rng(3).uniform(0, 2, size=1500)
    weight[:10] = 0.0
    indexed = _run_screened(X, C, X.mean(axis=0), weight, rows)
    copied = _run_screened(X[rows], C, X.mean(axis=0), weight)
    for a, b in zip(indexed, copied):
        np.testing.assert_array_equal(a, b)
    labels, _, sums, counts, _, _ = indexed
    np.testing.assert_allclose(counts, np.bincount(labels, weights=weight, minlength=200))
    expected = np.zeros_like(C)
    np.add.at(expected, labels, X[rows] * weight[:, None])
    np.testing.assert_allclose(sums, expected, rtol=1e-12, atol=1e-9)


def test_blocks_on_threads_sum_as_the_blocks_do():
    X = _blobs(5000, 64, 10, seed=6)
    C = X[:256].copy()
    operands = _Operands(C, None)
    starts = np.array([0, 1000, 2500, 5000], dtype=np.int64)
    labels = np.empty(5000, dtype=np.int32)
    sums = np.zeros((3, 256, 64))
    counts = np.zeros((3, 256))
    inertia, n_changed, n_again = np.zeros(3), np.zeros(3, np.int64), np.zeros(3, np.int64)
    screened.lloyd_screened_blocks(
        X, starts, operands.shift, operands.C_t32, operands.c_sq32, operands.C_t64,
        operands.c_sq64, operands.centers, operands.centre_max_sq, _NONE, labels, _NONE, sums,
        counts, inertia, n_changed, n_again, np.empty(0, dtype=np.int64))
    for b in range(3):
        part = _run_screened(X[starts[b]:starts[b + 1]], C)
        np.testing.assert_array_equal(labels[starts[b]:starts[b + 1]], part[0])
        np.testing.assert_array_equal(sums[b], part[2])
        assert inertia[b] == part[4]


def test_the_kernel_refuses_mismatched_operands():
    X = _blobs(100, 40, 4)
    operands = _Operands(X[:8], None)
    with pytest.raises(ValueError, match="lloyd_screened_block"):
        screened.lloyd_screened_block(
            X, operands.shift, operands.C_t32, operands.c_sq32, operands.C_t64[:20],
            operands.c_sq64, operands.centers, operands.centre_max_sq, _NONE,
            np.empty(100, np.int32), _NONE, np.zeros((8, 40)), np.zeros(8))
    with pytest.raises(ValueError, match="lloyd_screened_block"):
        screened.lloyd_screened_block(
            X, operands.shift, operands.C_t32, operands.c_sq32, operands.C_t64,
            operands.c_sq64, operands.centers, 2.0 ** 119, _NONE, np.empty(100, np.int32),
            _NONE, np.zeros((8, 40)), np.zeros(8))


def test_the_rule():
    assert screens_in_float32(784, 64, np.float64)
    assert screens_in_float32(32, 256, np.float64)
    assert not screens_in_float32(784, 64, np.float32)
    assert not screens_in_float32(16, 1024, np.float64)  # too few features
    assert not screens_in_float32(64, 64, np.float64)  # too little work
    assert kmeans_steps._e_step_kernel(784, 64, np.float64) != "screened"  # fits unchanged


def test_minibatch_labels_agree_with_predict_and_with_the_float64_kernel(monkeypatch):
    X = _blobs(6000, 64, 20, seed=7, offset=50.0)
    params = dict(n_clusters=160, batch_size=512, max_iter=2, random_state=0, n_init=1,
                  max_no_improvement=None)
    model = mixfit.MiniBatchKMeans(**params).fit(X)
    assert kmeans_steps._e_step_kernel(64, 160, np.float64, labelling=True) == "screened"
    np.testing.assert_array_equal(model.labels_, model.predict(X))
    nearest, distances = _exact(X, model.cluster_centers_)
    np.testing.assert_array_equal(model.labels_, nearest)
    assert model.inertia_ == pytest.approx(distances.min(axis=1).sum(), rel=1e-12)
    # Labelled by the float64 micro-kernel instead, the same centres give the
    # same labels (they could differ only at ties within rounding, which this
    # data does not have; whole fits diverge once a step's near tie flips).
    monkeypatch.setattr(kmeans_steps, "screens_in_float32", lambda *args: False)
    assert kmeans_steps._e_step_kernel(64, 160, np.float64, labelling=True) == "simd"
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    assert engine_screened.SCREEN_MIN_FEATURES == 32


def test_operands_are_the_padded_centres_in_both_precisions():
    rng = np.random.default_rng(9)
    C = rng.standard_normal((13, 40)) * 5
    shift = rng.standard_normal(40)
    operands = _Operands(C, shift)
    C_t, c_sq = simd.padded_centres(-2 * (C - shift), ((C - shift) ** 2).sum(axis=1))
    np.testing.assert_array_equal(operands.C_t64, C_t)  # −2(c − shift): exact
    np.testing.assert_allclose(operands.c_sq64, c_sq, rtol=1e-14)
    assert np.all(np.isinf(operands.c_sq64[13:])) and operands.C_t64.shape == (40, 16)
    np.testing.assert_array_equal(operands.C_t32, operands.C_t64.astype(np.float32))
    np.testing.assert_array_equal(operands.c_sq32, operands.c_sq64.astype(np.float32))
    assert operands.centre_max_sq == pytest.approx(c_sq[:13].max(), rel=1e-14)


def test_minibatch_fit_does_not_depend_on_the_thread_count():
    X = _blobs(6000, 64, 20, seed=11, offset=5.0)
    assert kmeans_steps._e_step_kernel(64, 160, np.float64, labelling=True) == "screened"
    fits = [mixfit.MiniBatchKMeans(160, batch_size=1024, max_iter=2, random_state=0, n_init=1,
                                   max_no_improvement=None, n_jobs=n_jobs).fit(X)
            for n_jobs in (1, 2)]
    assert fits[0].cluster_centers_.tobytes() == fits[1].cluster_centers_.tobytes()
    np.testing.assert_array_equal(fits[0].labels_, fits[1].labels_)
    assert fits[0].inertia_ == fits[1].inertia_
