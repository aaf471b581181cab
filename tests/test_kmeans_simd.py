"""The SIMD micro-kernel of the K-means E-step (few features × clusters) and its dispatch.

The kernel is checked against a float64 brute-force reference (labels where no
two centres are within rounding of each other, counts, sums, inertia,
distances within the GEMM form's rounding), with weights, a shift, rows that
are not a multiple of 8, clusters that are not a multiple of 8, F-ordered
rows, no sums; ties go to the lowest index. The engine on the SIMD path is
checked across thread counts, against ``predict``, and for "hamerly" running
Lloyd's E-step there.
"""

import warnings

import numpy as np
import pytest

from mixfit import KMeans
from mixfit.engine import kmeans_steps
from mixfit.engine.kmeans import assign, lloyd
from mixfit.engine.kmeans_simd import uses_simd
from mixfit.kernels import kmeans_simd as simd


def _blobs(seed, n_samples, n_features, dtype, offset=0.0):
    rng = np.random.default_rng(seed)
    means = rng.uniform(-4, 4, size=(6, n_features))
    X = means[rng.integers(6, size=n_samples)] + rng.normal(size=(n_samples, n_features))
    return (X + offset).astype(dtype), rng


def _reference(X, centers, weight):
    """Float64 distances, labels (lowest index on ties) and statistics by brute force."""
    X64 = X.astype(np.float64)
    dist = ((X64[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    labels = dist.argmin(axis=1)
    counts = np.bincount(labels, weights=weight, minlength=centers.shape[0])
    sums = np.zeros_like(centers)
    np.add.at(sums, labels, weight[:, None] * X64)
    return dist, labels, counts, sums


def _run(X, centers, shift, weight=None, keep_sums=True):
    """lloyd_simd_block on X with centres given in data units (shifted here, as the engine does)."""
    dtype = X.dtype
    shifted = centers - (0.0 if shift is None else shift)
    C = shifted.astype(dtype)
    C_t, c_sq = simd.padded_centres(-2 * C, np.einsum("ij,ij->i", C, C))
    n_clusters, n_features = centers.shape
    labels = np.full(len(X), -1, dtype=np.int32)
    dist = np.empty(len(X))
    sums = np.zeros((n_clusters if keep_sums else 0, n_features))
    counts = np.zeros(n_clusters)
    inertia, n_changed = simd.lloyd_simd_block(
        X, np.empty(0, dtype) if shift is None else shift.astype(dtype), C_t, c_sq, n_clusters,
        np.empty(0, dtype), np.empty(0) if weight is None else weight, labels, dist, sums,
        counts)
    return labels, dist, sums, counts, inertia, n_changed


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_samples", [5, 8, 263, 700])
@pytest.mark.parametrize("n_features, n_clusters", [(1, 8), (2, 17), (3, 8), (8, 8), (7, 13),
                                                   (16, 32), (33, 9), (64, 8), (16, 3),
                                                   (20, 5), (40, 7),
                                                   # the paired layout (K <= 4), d even and odd
                                                   (2, 3), (3, 4), (15, 2), (17, 2), (31, 4),
                                                   (64, 3), (161, 4),
                                                   # features along the vectors, 4,
                                                   # 2 and 1 rows at a time by bytes
                                                   (65, 3), (131, 3), (150, 2), (300, 3),
                                                   (530, 2),
                                                   # float32 sweeps of 32 centres (from 32
                                                   # features): alone, then a pair and an
                                                   # odd vector after them
                                                   (32, 32), (33, 40), (40, 56), (150, 30)])
@pytest.mark.parametrize("shifted", [False, True])
def test_simd_block_equals_float64_reference(dtype, n_samples, n_features, n_clusters, shifted):
    X, rng = _blobs(n_features * 7 + n_clusters + n_samples, n_samples, n_features, dtype,
                    offset=20.0 if shifted else 0.0)
    centers = rng.uniform(-4, 4, size=(n_clusters, n_features)) + (20.0 if shifted else 0.0)
    # A shift that X's dtype holds exactly: rows and centres then move by the same vector.
    shift = X.mean(axis=0).astype(np.float64) if shifted else None
    weight = rng.uniform(0.0, 3.0, size=n_samples)
    labels, dist, sums, counts, inertia, n_changed = _run(X, centers, shift, weight)
    ref_dist, ref_labels, _, _ = _reference(X, centers, weight)
    # The GEMM form rounds within (d + 2) ulps of ‖x − s‖² + ‖c − s‖² in X's dtype.
    s = 0.0 if shift is None else shift
    scale = ((X - s) ** 2).sum(axis=1)[:, None] + ((centers - s) ** 2).sum(axis=1)[None, :]
    slack = 4 * (n_features + 2) * np.finfo(dtype).eps * scale
    ordered = np.sort(ref_dist - slack, axis=1)
    clear = np.sort(ref_dist, axis=1)[:, 1] - slack.max(axis=1) > ordered[:, 0] + slack.max(axis=1)
    assert clear.mean() > 0.9  # the check below covers most rows
    np.testing.assert_array_equal(labels[clear], ref_labels[clear])
    chosen = ref_dist[np.arange(n_samples), labels]
    np.testing.assert_array_less(np.abs(dist - chosen), slack[np.arange(n_samples), labels] + 1e-12)
    # The statistics are those of the labels the kernel chose, in float64.
    ref_counts = np.bincount(labels, weights=weight, minlength=n_clusters)
    ref_sums = np.zeros_like(centers)
    np.add.at(ref_sums, labels, weight[:, None] * X.astype(np.float64))
    np.testing.assert_allclose(counts, ref_counts, rtol=1e-13)
    np.testing.assert_allclose(sums, ref_sums, rtol=1e-12, atol=1e-9)
    assert inertia == pytest.approx(float(weight @ dist), rel=1e-12)
    assert n_changed == np.count_nonzero(weight > 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_simd_block_layouts_weights_and_no_sums_agree(dtype):
    X, rng = _blobs(1, 1001, 12, dtype)
    centers = rng.uniform(-4, 4, size=(20, 12))
    labels, dist, sums, counts, inertia, _ = _run(X, centers, None)
    # F-ordered rows (copied chunk by chunk), unit weights given, and no sums:
    # the same labels, distances and counts bit for bit.
    for other in (_run(np.asfortranarray(X), centers, None),
                  _run(X, centers, None, weight=np.ones(len(X))),
                  _run(X, centers, None, keep_sums=False)):
        np.testing.assert_array_equal(other[0], labels)
        assert other[1].tobytes() == dist.tobytes()
        np.testing.assert_array_equal(other[3], counts)
        assert other[4] == inertia
        if other[2].shape[0]:  # F order adds one value at a time, C order 8 at once
            assert other[2].tobytes() == sums.tobytes()
    assert _run(X, centers, None, keep_sums=False)[2].shape == (0, 12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_features", [3, 8, 19])
@pytest.mark.parametrize("weighted", [False, True])
def test_simd_sums_are_the_bits_of_the_gemm_paths_loop(dtype, n_features, weighted):
    from mixfit.kernels.kmeans import add_rows_by_label

    X, rng = _blobs(n_features, 613, n_features, dtype)
    centers = rng.uniform(-4, 4, size=(9, n_features))
    weight = rng.uniform(0.0, 3.0, size=len(X)) if weighted else None
    labels, _, sums, _, _, _ = _run(X, centers, None, weight)
    # kernels.kmeans.add_rows_by_label: lloyd_chunk's additions, in row order.
    expected = np.zeros_like(sums)
    add_rows_by_label(X, labels, np.empty(0) if weight is None else weight, expected)
    assert sums.tobytes() == expected.tobytes()


def _nearest(X, C_t, c_sq, with_second):
    """_nearest_in_chunk over all of X: (best, labels, second or None)."""
    n_samples, n_features = X.shape
    best = np.empty(n_samples, X.dtype)
    labels = np.empty(n_samples, np.int32)
    second = np.empty(n_samples, X.dtype) if with_second else None
    tail = np.empty((simd.ROWS, n_features), X.dtype)
    simd._nearest_in_chunk(X, n_samples, C_t, c_sq, best, labels, tail,
                           np.empty(simd.ROWS, X.dtype), np.empty(simd.ROWS, np.int32), second,
                           np.empty(simd.ROWS, X.dtype) if with_second else None)
    return best, labels, second


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_features, n_clusters", [(5, 3), (6, 4), (2, 9), (7, 16), (3, 32),
                                                   (4, 40), (2, 56), (9, 17), (32, 64),
                                                   (40, 56),
                                                   # features along the vectors (float64 from
                                                   # 64, float32 from 128; at most 3 centres)
                                                   (64, 3), (65, 2), (130, 3), (131, 3)])
def test_second_smallest_is_the_kernels_own_runner_up(dtype, n_features, n_clusters):
    # The two-bound E-step takes its lower bounds from the micro-kernel's
    # second smallest value. Each centre's value is computed lane by lane
    # alike wherever the centre sits, so a run with that centre alone (the
    # others padding) gives it bit for bit: the second value must be the
    # smallest of the other centres' values, the best and the labels those of
    # a run without it. 700 rows: 87 groups of 8 and a tail of 4.
    X, rng = _blobs(n_features + n_clusters, 700, n_features, dtype)
    centers = rng.uniform(-4, 4, size=(n_clusters, n_features)).astype(dtype)
    centers[0] = centers[1] = X[0]  # a tie (row 0's): the runner-up's value equals the best
    C_neg2, c_sq = -2 * centers, np.einsum("ij,ij->i", centers, centers)
    C_t, c_sq_pad = simd.padded_centres(C_neg2, c_sq)
    best, labels, second = _nearest(X, C_t, c_sq_pad, True)
    plain = _nearest(X, C_t, c_sq_pad, False)
    assert best.tobytes() == plain[0].tobytes()
    np.testing.assert_array_equal(labels, plain[1])
    values = np.empty((len(X), n_clusters), dtype)
    for k in range(n_clusters):
        if n_clusters <= 4:  # the paired layout, centre k alone in it
            one_C, one_sq = simd.padded_centres(C_neg2[k:k + 1], c_sq[k:k + 1])
        else:  # the (d, 8) layout, centre k in lane 0
            one_C = np.zeros((n_features, simd.LANES), dtype)
            one_C[:, 0] = C_neg2[k]
            one_sq = np.full(simd.LANES, np.inf, dtype)
            one_sq[0] = c_sq[k]
        values[:, k] = _nearest(X, one_C, one_sq, False)[0]
    np.testing.assert_array_equal(labels, values.argmin(axis=1))
    assert best.tobytes() == values.min(axis=1).tobytes()
    others = values.copy()
    others[np.arange(len(X)), labels] = np.inf
    assert second.tobytes() == others.min(axis=1).tobytes()
    assert labels[0] == 0 and second[0] == best[0]


def test_ties_go_to_the_lowest_index_across_lanes_and_vectors():
    # Centres 3, 11 and 19 are the same point (lanes 3 of three vectors of 8):
    # every row nearest to it must get 3, as np.argmin would.
    X = np.array([[1.0, 2.0], [1.1, 2.0], [0.9, 1.9]] * 5, dtype=np.float32)
    centers = np.full((20, 2), 50.0)
    centers[[3, 11, 19]] = [1.0, 2.0]
    labels = _run(X, centers, None)[0]
    assert set(labels.tolist()) == {3}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_features", [2, 5, 16])
def test_paired_layout_ties_go_to_the_lowest_index(dtype, n_features):
    # Centres 1 and 3 are the same point: rows nearest to it get 1.
    rng = np.random.default_rng(4)
    point = rng.uniform(-1, 1, n_features)
    X = (point + 0.01 * rng.normal(size=(21, n_features))).astype(dtype)
    centers = np.full((4, n_features), 50.0)
    centers[[1, 3]] = point
    C_t, c_sq = simd.padded_centres(-2 * centers.astype(dtype), np.zeros(4, dtype))
    assert C_t.shape == ((n_features + 1) // 2, simd.LANES)  # the paired layout
    assert set(_run(X, centers, None)[0].tolist()) == {1}


def test_paired_centres_place_each_centre_and_feature():
    from mixfit.kernels.kmeans_simd_pairs import paired_centres

    C = np.arange(15, dtype=np.float64).reshape(3, 5)  # centre k, feature j: 5k + j
    C_p, c_sq = paired_centres(C, np.array([1.0, 2.0, 3.0]))
    assert C_p.shape == (3, 8)
    for k in range(3):
        for j in range(5):
            assert C_p[j // 2, 2 * k + j % 2] == 5 * k + j
    assert (C_p[2, 1::2] == 0).all() and (C_p[:, 6:] == 0).all()  # feature 5, centre 3: none
    assert c_sq.tolist() == [1.0, 0.0, 2.0, 0.0, 3.0, 0.0, np.inf, 0.0]
    with pytest.raises(ValueError, match="at most 4 centres"):
        paired_centres(np.zeros((5, 2)), np.zeros(5))


def test_simd_block_refuses_inconsistent_shapes():
    X = np.zeros((10, 3), dtype=np.float32)
    C_t, c_sq = simd.padded_centres(np.zeros((9, 3), np.float32), np.zeros(9, np.float32))
    labels = np.zeros(10, dtype=np.int32)
    with pytest.raises(ValueError, match="lloyd_simd_block"):
        simd.lloyd_simd_block(X, np.empty(0, np.float32), C_t[:2], c_sq, 9,
                              np.empty(0, np.float32), np.empty(0), labels, np.empty(0),
                              np.zeros((9, 3)), np.zeros(9))
    with pytest.raises(ValueError, match="lloyd_simd_block"):
        simd.lloyd_simd_block(X, np.empty(0, np.float32), C_t, c_sq, 17,
                              np.empty(0, np.float32), np.empty(0), labels, np.empty(0),
                              np.zeros((17, 3)), np.zeros(17))


def test_the_many_cluster_shapes_stop_where_yinyang_starts():
    # SIMD_MANY_CLUSTERS repeats Yinyang's thresholds (engine/kmeans.py, which
    # imports this module, so they cannot be imported here): Yinyang's pruning
    # is argued for the GEMM's rounding, so the micro-kernel must not take its shapes.
    from mixfit.engine.kmeans import YINYANG_MIN_CLUSTERS, YINYANG_MIN_FEATURES
    from mixfit.engine.kmeans_simd import SIMD_MANY_CLUSTERS

    for dtype in (np.dtype(np.float32), np.dtype(np.float64)):
        assert SIMD_MANY_CLUSTERS["group_bounds_clusters"] == YINYANG_MIN_CLUSTERS[dtype]
        assert SIMD_MANY_CLUSTERS["group_bounds_features"][dtype] == YINYANG_MIN_FEATURES[dtype]
        k, d = YINYANG_MIN_CLUSTERS[dtype], YINYANG_MIN_FEATURES[dtype]
        assert not uses_simd(d, k, dtype) and uses_simd(d - 1, k, dtype)


def test_the_simd_shapes_are_chosen_in_one_place():
    assert uses_simd(16, 8, np.float32) and uses_simd(32, 16, np.float64)
    assert not uses_simd(2, 3, np.float32)  # the GEMM path was as fast
    assert not uses_simd(8, 5, np.float64) and not uses_simd(8, 7, np.float32)
    # 3 or 4 clusters take the paired layout from 4 features (the GEMM path's
    # fits ran 1.02-1.3x as long at 4 to 8 features).
    assert uses_simd(4, 3, np.float64) and uses_simd(8, 4, np.float32)
    assert not uses_simd(3, 3, np.float32) and not uses_simd(8, 2, np.float32)
    # ... but not where BLAS's GEMM with 3 to 7 columns is slower still.
    assert uses_simd(16, 3, np.float32) and uses_simd(64, 7, np.float64)
    assert not uses_simd(100, 5, np.float32) and not uses_simd(64, 2, np.float32)
    # 3 or 4 clusters keep the paired layout up to 256 features (BLAS's GEMM
    # with 3 or 4 columns stays skinny), not beyond for 4 ...
    assert uses_simd(160, 3, np.float32) and uses_simd(256, 4, np.float64)
    assert not uses_simd(257, 4, np.float64) and not uses_simd(784, 4, np.float32)
    # ... while 2 or 3 clusters take the long-row kernel however many features,
    # from where it takes the rows (64 float64, 128 float32 features).
    assert uses_simd(257, 3, np.float64) and uses_simd(784, 3, np.float32)
    assert uses_simd(5000, 2, np.float64) and uses_simd(64, 2, np.float64)
    assert uses_simd(128, 2, np.float32) and not uses_simd(127, 2, np.float32)
    assert not uses_simd(63, 2, np.float64) and not uses_simd(784, 1, np.float32)
    assert uses_simd(64, 16, np.float64) and uses_simd(32, 32, np.float32)  # 1,024 terms
    # Beyond 1,024 terms, 17 to 64 features and 8 to 1,024 clusters in both
    # dtypes (with two bounds, SIMD_MANY_CLUSTERS), but not where "auto" takes
    # Yinyang's group bounds over the GEMM.
    assert uses_simd(40, 32, np.float64) and uses_simd(17, 1024, np.float32)
    assert uses_simd(64, 127, np.float64) and uses_simd(31, 128, np.float64)
    assert uses_simd(63, 1024, np.float32) and not uses_simd(64, 128, np.float32)
    assert not uses_simd(32, 128, np.float64) and not uses_simd(40, 1025, np.float32)
    # ... but float32 with 8 to 64 clusters up to 160 features and 5,120 terms
    # (with two bounds from 32 clusters, :data:`TWO_BOUND_SIMD`).
    assert uses_simd(40, 32, np.float32) and uses_simd(64, 64, np.float32)
    assert uses_simd(160, 32, np.float32) and uses_simd(100, 8, np.float32)
    assert not uses_simd(160, 33, np.float32) and not uses_simd(161, 8, np.float32)
    assert not uses_simd(161, 33, np.float32) and not uses_simd(65, 32, np.float64)
    # Up to 256 clusters within the 1,024 terms (the GEMM path's bounds took
    # 1.3-2.4x as long over 20 iterations); float64 at 1-3 features over 32
    # clusters stays on the direct kernels, whose Hamerly bounds pay there.
    assert uses_simd(8, 64, np.float64) and uses_simd(16, 64, np.float32)
    assert uses_simd(8, 128, np.float32) and uses_simd(4, 256, np.float32)
    assert uses_simd(32, 64, np.float64) and uses_simd(40, 128, np.float32)  # SIMD_MANY_CLUSTERS
    # Any number of terms with at most 16 features (BLAS's inner dimension too
    # short), up to 1,024 clusters.
    assert uses_simd(8, 256, np.float64) and uses_simd(16, 1024, np.float32)
    assert uses_simd(3, 1024, np.float64) and not uses_simd(8, 1025, np.float32)
    assert uses_simd(17, 128, np.float32) and not uses_simd(32, 1024, np.float64)  # Yinyang's
    assert uses_simd(2, 64, np.float64)
    assert kmeans_steps._e_step_kernel(2, 64, np.float64) == "direct"
    # Float64 from 96 to 256 features and 8 clusters, up to 1,280 terms (BLAS's
    # double GEMM with 8 to 16 columns): not float32, not beyond.
    assert uses_simd(160, 8, np.float64) and uses_simd(128, 10, np.float64)
    assert not uses_simd(257, 8, np.float32) and not uses_simd(80, 10, np.float64)
    assert not uses_simd(160, 16, np.float64) and not uses_simd(257, 4 + 4, np.float64)


def test_wide_float64_rows_get_the_labels_of_the_reference_kernel():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(3000, 160))
    X[:1500] += 0.7
    init = X[rng.choice(len(X), 8, replace=False)].copy()
    fast = lloyd(X, init, max_iter=30, tol=0.0)
    reference = lloyd(X, init, max_iter=30, tol=0.0, kernel="numpy")
    np.testing.assert_array_equal(fast.labels, reference.labels)
    assert fast.n_iter == reference.n_iter
    assert fast.inertia == pytest.approx(reference.inertia, rel=1e-12)
    assert kmeans_steps._e_step_kernel(3, 32, np.float64) == "simd"
    # From 16 terms: 2 or 3 features × 8 clusters (the GEMM path's fits took
    # 1.1-1.3x as long), not 1 × 8 (float64 there runs the direct kernels).
    assert uses_simd(2, 8, np.float32) and uses_simd(3, 8, np.float64)
    assert not uses_simd(1, 8, np.float64) and kmeans_steps._uses_direct(1, 8, np.float64)
    # Float64 at 1 to 3 features and 2 to 7 clusters: the direct kernels.
    assert kmeans_steps._uses_direct(3, 3, np.float64)
    assert kmeans_steps._uses_direct(2, 2, np.float64)
    assert not kmeans_steps._uses_direct(3, 3, np.float32)
    # Where both could run (float64, at most 3 features, up to 32 clusters) the
    # SIMD kernel does; the direct kernels keep more clusters.
    assert uses_simd(3, 16, np.float64) and not kmeans_steps._uses_direct(3, 16, np.float64)
    assert kmeans_steps._uses_direct(3, 64, np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_clusters", [12, 5])
def test_simd_fits_match_across_threads_predict_and_hamerly(dtype, n_clusters):
    X, rng = _blobs(5, 40_000, 16, dtype)
    init = X[rng.choice(len(X), n_clusters, replace=False)].astype(np.float64)
    assert uses_simd(16, n_clusters, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = lloyd(X, init, max_iter=15, tol=0.0, n_jobs=1)
        two = lloyd(X, init, max_iter=15, tol=0.0, n_jobs=2)
        pruned = lloyd(X, init, max_iter=15, tol=0.0, n_jobs=2, algorithm="elkan")
    np.testing.assert_array_equal(one.labels, two.labels)
    assert one.centers.tobytes() == two.centers.tobytes() and one.inertia == two.inertia
    assert pruned.centers.tobytes() == one.centers.tobytes()
    np.testing.assert_array_equal(pruned.labels, one.labels)
    labels, _ = assign(X, one.centers, chunk_size=None, n_jobs=2)
    np.testing.assert_array_equal(labels, one.labels)
    model = KMeans(n_clusters, init=init.astype(dtype), n_init=1, max_iter=15, tol=0, n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    np.testing.assert_array_equal(model.predict(X), model.labels_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_clusters", [5, 8, 13, 64])
def test_padded_operands_are_the_shifted_centres_in_one_pass(dtype, n_clusters):
    from mixfit.engine.kmeans_simd import padded_operands
    from mixfit.kernels import kmeans_simd as simd_kernels

    rng = np.random.default_rng(n_clusters)
    centers = rng.standard_normal((n_clusters, 37)) * 3 + 100.0
    shift = centers.mean(axis=0) + 0.5
    C_t, c_sq = padded_operands(centers, shift, dtype)
    rounded = (centers - shift).astype(dtype)  # shifted in float64, then rounded
    padded = -(-n_clusters // 8) * 8
    assert C_t.shape == (37, padded) and C_t.dtype == dtype and c_sq.dtype == dtype
    np.testing.assert_array_equal(C_t[:, :n_clusters], -2 * rounded.T)
    assert np.all(C_t[:, n_clusters:] == 0) and np.all(np.isinf(c_sq[n_clusters:]))
    exact = (rounded.astype(np.float64) ** 2).sum(axis=1)
    np.testing.assert_allclose(c_sq[:n_clusters], exact, rtol=2 * np.finfo(dtype).eps)
    with pytest.raises(ValueError, match="padded_operands"):
        simd_kernels.padded_operands(centers, shift, np.empty((37, padded + 1), dtype=dtype),
                                     np.empty(padded + 1, dtype=dtype))
