"""KMeans on sparse (CSR) data: the same fit as on the dense copy, never densified."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from scipy import sparse

from mixfit import GaussianMixture, KMeans
from mixfit import io
from mixfit.engine import kmeans as kmeans
from mixfit.engine import kmeans_sparse as _kmeans_sparse
from mixfit.kernels import kmeans_sparse as _kmeans_sparse_kernels
from mixfit import _memory
from mixfit.engine.init import kmeans_plusplus, lecture_means, random_from_data

DTYPES = [np.float32, np.float64]


def sparse_data(n=1500, d=40, density=0.15, seed=0, dtype=np.float64):
    """Dense data with most values zero, in three loose groups, and its CSR copy."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    X[rng.random((n, d)) > density] = 0.0
    X[: n // 3, : d // 4] += 3.0 * (X[: n // 3, : d // 4] > 0)
    X[n // 3: 2 * n // 3, d // 2:] *= 4.0
    X = X.astype(dtype)
    return X, sparse.csr_matrix(X)


def fit_both(X, Xs, **params):
    params.setdefault("n_init", 1)
    dense = KMeans(**params).fit(X, sample_weight=params.pop("sample_weight", None))
    return dense, KMeans(**params).fit(Xs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_clusters", [2, 5, 20])
@pytest.mark.parametrize("weighted", [False, True])
def test_dense_and_csr_fits_agree(dtype, n_clusters, weighted):
    X, Xs = sparse_data(dtype=dtype)
    weight = np.random.default_rng(1).uniform(0.0, 3.0, X.shape[0]) if weighted else None
    init = X[:: X.shape[0] // n_clusters][:n_clusters].copy()
    dense = KMeans(n_clusters, init=init, n_init=1, max_iter=100).fit(X, sample_weight=weight)
    csr = KMeans(n_clusters, init=init, n_init=1, max_iter=100).fit(Xs, sample_weight=weight)
    np.testing.assert_array_equal(csr.labels_, dense.labels_)
    assert csr.cluster_centers_.dtype == dtype
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(csr.cluster_centers_, dense.cluster_centers_, rtol=rtol, atol=rtol)
    assert csr.inertia_ == pytest.approx(dense.inertia_, rel=rtol)
    assert csr.n_iter_ == dense.n_iter_


@pytest.mark.parametrize("init", ["k-means++", "random", "lecture"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_seeders_give_the_same_centres_on_csr(init, dtype):
    X, Xs = sparse_data(n=600, dtype=dtype)
    weight = np.random.default_rng(2).uniform(0.0, 2.0, X.shape[0])
    seeder = {"k-means++": kmeans_plusplus, "random": random_from_data,
              "lecture": lecture_means}[init]
    dense = seeder(X, 6, sample_weight=weight, random_state=3)
    csr = seeder(Xs, 6, sample_weight=weight, random_state=3)
    assert csr.dtype == dtype and isinstance(csr, np.ndarray)
    np.testing.assert_allclose(csr, dense, rtol=1e-5 if dtype == np.float32 else 1e-12)
    a, b = fit_both(X, Xs, n_clusters=6, init=init, random_state=3)
    np.testing.assert_array_equal(b.labels_, a.labels_)


def test_callable_init_is_given_the_csr_matrix():
    X, Xs = sparse_data(n=300)
    seen = []

    def init(data, n_clusters, random_state):
        seen.append(type(data))
        return data[:n_clusters].toarray()

    km = KMeans(3, init=init, n_init=1).fit(Xs)
    assert seen == [sparse.csr_matrix]
    np.testing.assert_array_equal(km.labels_, KMeans(3, init=X[:3], n_init=1).fit(X).labels_)


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_cluster_is_relocated_the_same_way(dtype):
    X, Xs = sparse_data(n=400, dtype=dtype)
    # Centre 2 lies far from every row: empty after the first assignment.
    init = np.vstack([X[0], X[200], np.full(X.shape[1], 1e3)]).astype(dtype)
    dense = KMeans(3, init=init, n_init=1).fit(X)
    csr = KMeans(3, init=init, n_init=1).fit(Xs)
    np.testing.assert_array_equal(csr.labels_, dense.labels_)
    np.testing.assert_allclose(csr.cluster_centers_, dense.cluster_centers_, rtol=1e-5)
    assert np.bincount(csr.labels_, minlength=3).min() > 0  # it was re-seeded and kept


def test_relocation_helpers_compare_csr_rows_exactly():
    X = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 2.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    Xs = sparse.csr_matrix(X)
    value = np.array([0.0, 1.0, 0.0])
    mask = _kmeans_sparse.rows_equal_to(Xs, np.arange(4), value)
    np.testing.assert_array_equal(mask, [True, False, False, True])
    # An explicitly stored zero equals a missing one.
    explicit = sparse.csr_matrix((np.array([0.0, 1.0]), np.array([0, 1]), np.array([0, 2])),
                                 shape=(1, 3))
    assert _kmeans_sparse.rows_equal_to(explicit, np.array([0]), value).tolist() == [True]
    np.testing.assert_array_equal(_kmeans_sparse.dense_row(Xs, 1), X[1])
    out = np.empty(4)
    _kmeans_sparse.sq_dist_to_point(Xs, X[1] + [0.0, 0.0, 0.5], out, minimum=False)
    np.testing.assert_allclose(out, ((X - X[1] - [0.0, 0.0, 0.5]) ** 2).sum(axis=1))
    _kmeans_sparse.sq_dist_to_point(Xs, X[3], out, minimum=True)
    assert out[0] == 0.0 and out[3] == 0.0  # copies of the point: exactly zero


@pytest.mark.parametrize("dtype", DTYPES)
def test_predict_transform_score_on_csr_equal_dense(dtype):
    X, Xs = sparse_data(dtype=dtype)
    weight = np.random.default_rng(4).uniform(0.5, 2.0, X.shape[0])
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    for fitted_on in (X, Xs):
        km = KMeans(4, random_state=0, n_init=1).fit(fitted_on)
        np.testing.assert_array_equal(km.predict(Xs), km.predict(X))
        np.testing.assert_array_equal(km.predict(Xs), km.labels_)
        distances = km.transform(Xs)
        assert distances.dtype == dtype and isinstance(distances, np.ndarray)
        np.testing.assert_allclose(distances, km.transform(X), rtol=rtol, atol=rtol)
        assert km.score(Xs, sample_weight=weight) == pytest.approx(
            km.score(X, sample_weight=weight), rel=rtol)
    np.testing.assert_allclose(KMeans(4, random_state=0, n_init=1).fit_transform(Xs),
                               distances, rtol=rtol, atol=rtol)
    np.testing.assert_array_equal(KMeans(4, random_state=0, n_init=1).fit_predict(Xs),
                                  km.labels_)


@pytest.mark.parametrize("convert", [sparse.coo_matrix, sparse.csc_matrix, sparse.lil_matrix,
                                     sparse.csr_array, sparse.csc_array])
def test_other_sparse_formats_are_converted(convert):
    X, Xs = sparse_data(n=300)
    reference = KMeans(3, init=X[:3], n_init=1).fit(Xs)
    km = KMeans(3, init=X[:3], n_init=1).fit(convert(X))
    np.testing.assert_array_equal(km.labels_, reference.labels_)
    np.testing.assert_array_equal(km.cluster_centers_, reference.cluster_centers_)
    np.testing.assert_array_equal(km.predict(convert(X)), reference.labels_)


def test_dtypes_and_non_canonical_csr():
    X, _ = sparse_data(n=300)
    counts = np.round(10 * X).astype(np.int32)
    km = KMeans(3, random_state=0, n_init=1).fit(sparse.csr_matrix(counts))
    assert km.cluster_centers_.dtype == np.float64
    dense = KMeans(3, random_state=0, n_init=1).fit(counts.astype(np.float64))
    np.testing.assert_array_equal(km.labels_, dense.labels_)
    assert KMeans(3, random_state=0).fit(
        sparse.csr_matrix(X.astype(np.float32))).cluster_centers_.dtype == np.float32
    # Duplicate entries add up and unsorted indices are fine; the caller's object
    # is left as it was.
    row, col = X.nonzero()
    values = X[row, col]
    half = values / 2
    messy = sparse.csr_matrix((np.r_[half, half][::-1], (np.r_[row, row][::-1],
                                                          np.r_[col, col][::-1])),
                              shape=X.shape)
    messy.has_canonical_format = False
    before = messy.data.copy()
    km2 = KMeans(3, init=X[:3], n_init=1).fit(messy)
    np.testing.assert_array_equal(messy.data, before)
    np.testing.assert_array_equal(
        km2.labels_, KMeans(3, init=X[:3], n_init=1).fit(X).labels_)


def test_non_finite_stored_values_are_refused_naming_the_column():
    _, Xs = sparse_data(n=200)
    Xs = Xs.copy()
    Xs.data[5] = np.inf
    with pytest.raises(ValueError, match=rf"1 infinite \(inf\) value\(s\), in column\(s\) "
                                         rf"{Xs.indices[5]}\b"):
        KMeans(2).fit(Xs)


def test_gaussian_mixture_refuses_sparse_input_clearly():
    _, Xs = sparse_data(n=200)
    with pytest.raises(TypeError, match="GaussianMixture does not accept sparse input.*"
                                        "toarray.*mixfit.KMeans"):
        GaussianMixture(2).fit(Xs)


def test_engine_refuses_a_shift_and_the_numpy_kernel_on_csr():
    X, Xs = sparse_data(n=100)
    with pytest.raises(ValueError, match="never shifted"):
        kmeans.lloyd(Xs, X[:2], shift=np.ones(X.shape[1]))
    with pytest.raises(ValueError, match="kernel='numpy' needs dense X"):
        kmeans.lloyd(Xs, X[:2], kernel="numpy")
    with pytest.raises(ValueError, match="kernel='numpy' needs dense X"):
        kmeans.assign(Xs, X[:2], chunk_size=None, kernel="numpy")
    # A zero shift is no shift.
    result = kmeans.lloyd(Xs, X[:2], shift=np.zeros(X.shape[1]))
    np.testing.assert_array_equal(result.labels, kmeans.lloyd(X, X[:2]).labels)


def test_kernels_refuse_malformed_csr_arrays():
    X, Xs = sparse_data(n=50, d=6)
    centers_t = np.zeros((6, 2))
    bad_indices = Xs.indices.copy()
    bad_indices[0] = 6  # one past the last column
    with pytest.raises(ValueError, match="column indices in"):
        _kmeans_sparse_kernels.lloyd_rows(
            Xs.data, bad_indices, Xs.indptr, 0, 50, centers_t, np.zeros(2), np.zeros(50),
            np.empty(0), np.zeros(50, np.int32), np.empty(0), np.zeros((2, 6)), np.zeros(2))
    with pytest.raises(ValueError, match="column indices in"):
        _kmeans_sparse_kernels.hamerly_rows(
            Xs.data, bad_indices, Xs.indptr, 0, 50, centers_t, np.zeros(2), np.zeros(50),
            np.empty(0), np.zeros(50, np.int32), np.full(50, -np.inf, np.float32),
            np.zeros(2), np.zeros(2), 0, 0.0, 1e-12, 0.0)
    with pytest.raises(ValueError, match="labels must lie in"):
        _kmeans_sparse_kernels.hamerly_rows(
            Xs.data, Xs.indices, Xs.indptr, 0, 50, centers_t, np.zeros(2), np.zeros(50),
            np.empty(0), np.full(50, 2, np.int32), np.full(50, -np.inf, np.float32),
            np.zeros(2), np.zeros(2), 0, 0.0, 1e-12, 0.0)
    with pytest.raises(ValueError, match="rows begin..end"):
        _kmeans_sparse_kernels.sq_distances_rows(
            Xs.data, Xs.indices, Xs.indptr, 0, 51, centers_t, np.zeros(2), np.zeros(50),
            np.zeros((51, 2)))
    short_data = Xs.data[:-1]
    with pytest.raises(ValueError, match="indptr of n . 1 entries within data"):
        _kmeans_sparse_kernels.row_sq_norms(short_data, Xs.indptr, np.zeros(50))
    with pytest.raises(ValueError, match="kernel sq_dist_to_point was given"):
        _kmeans_sparse_kernels.sq_dist_to_point(
            short_data, Xs.indices, Xs.indptr, np.array([0], Xs.indices.dtype), np.ones(1),
            np.zeros(50), False)


def test_n_jobs_does_not_change_the_fit():
    # More rows than two blocks of the threaded pass, so that threads do run.
    X, Xs = sparse_data(n=40_000, d=30, density=0.1, seed=5)
    weight = np.random.default_rng(6).uniform(0.1, 1.0, X.shape[0])
    fits = [KMeans(8, random_state=1, n_init=1, n_jobs=n_jobs, max_iter=20, tol=0)
            .fit(Xs, sample_weight=weight) for n_jobs in (1, 2)]
    assert len(_kmeans_sparse.row_blocks(X.shape[0])) >= 2
    np.testing.assert_array_equal(fits[0].labels_, fits[1].labels_)
    np.testing.assert_array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    assert fits[0].inertia_ == fits[1].inertia_


def test_wide_csr_is_never_densified(monkeypatch):
    n, d = 200_000, 1_000_000
    rng = np.random.default_rng(7)
    rows = rng.integers(0, n, 200_000)
    cols = rng.integers(0, d, 200_000)
    Xs = sparse.csr_matrix((rng.random(200_000), (rows, cols)), shape=(n, d))
    # A dense copy would be 1.6 TB; the limit leaves room for K × d arrays only.
    monkeypatch.setenv(_memory.MEMORY_LIMIT_ENV, "1G")
    tracemalloc.start()
    try:
        km = KMeans(2, random_state=0, n_init=1, max_iter=3, tol=0).fit(Xs)
        labels = km.predict(Xs[:1000])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200e6  # a few 2 × d float64 arrays and per-row state, far below n × d × 8
    assert km.cluster_centers_.shape == (2, d)
    np.testing.assert_array_equal(labels, km.labels_[:1000])


def test_memory_estimate_counts_stored_values_not_n_times_d():
    n, d, k = 1_000_000, 100_000, 8
    dense = _memory.kmeans_bytes(n, d, k)
    sparse_estimate = _memory.kmeans_bytes(n, d, k, nnz=100_000_000)
    assert sparse_estimate.bytes < 1e9 < 1e10 < dense.bytes
    # The sums and centres grow with K × d, not with n × d.
    assert _memory.kmeans_bytes(n, d, 2 * k, nnz=100_000_000).bytes > sparse_estimate.bytes
    # Two flops per stored value and centre, not per n × d entry.
    assert 2.0 * 1e8 * k <= sparse_estimate.flops < 1.5 * 2.0 * 1e8 * k


def test_fit_on_csr_is_not_refused_as_if_dense(monkeypatch):
    monkeypatch.setenv(_memory.MEMORY_LIMIT_ENV, "2G")
    km = KMeans(8)
    # 1e6 × 1e5 with 1e8 stored values: about 1.2 GB of data, fine for a sparse fit.
    km._check_memory((1_000_000, 100_000), 8, 1, nnz=100_000_000)
    with pytest.raises(_memory.FitTooLargeError, match="1000000 × 100000 data"):
        km._check_memory((1_000_000, 100_000), 8, 1)


def test_model_fitted_on_csr_round_trips(tmp_path):
    X, Xs = sparse_data(n=500)
    km = KMeans(4, random_state=0, n_init=2).fit(Xs)
    path = tmp_path / "model.zip"
    io.save(km, path)
    loaded = io.load(path)
    np.testing.assert_array_equal(loaded.cluster_centers_, km.cluster_centers_)
    np.testing.assert_array_equal(loaded.predict(Xs), km.labels_)
    np.testing.assert_array_equal(loaded.predict(X), km.labels_)
    np.testing.assert_array_equal(loaded.transform(Xs), km.transform(Xs))


def well_separated_csr(n=3000, d=400, groups=8, seed=8, dtype=np.float64):
    """Sparse rows whose stored columns come from one of ``groups`` disjoint slices."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, groups, n)
    width = d // groups
    cols = (group[:, None] * width + rng.integers(0, width, (n, 12))).ravel()
    rows = np.repeat(np.arange(n), 12)
    X = sparse.csr_matrix((rng.random(rows.size) + 1.0, (rows, cols)), shape=(n, d))
    X.sum_duplicates()
    return X.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("make", ["tfidf", "separated"])
def test_sparse_hamerly_is_lloyd_bit_for_bit(dtype, weighted, make):
    if make == "separated":
        Xs = well_separated_csr(dtype=dtype)
    else:
        Xs = sparse_data(n=2000, dtype=dtype)[1]
    weight = np.random.default_rng(9).uniform(0.0, 2.0, Xs.shape[0]) if weighted else None
    rng = np.random.default_rng(10)
    init = Xs[rng.choice(Xs.shape[0], 12, replace=False)].toarray()
    init[3] = 50.0  # far from every row: an empty cluster to relocate
    runs = {alg: kmeans.lloyd(Xs, init, sample_weight=weight, max_iter=40, tol=0.0,
                              algorithm=alg, n_jobs=2) for alg in ("lloyd", "hamerly")}
    lloyd, hamerly = runs["lloyd"], runs["hamerly"]
    assert lloyd.n_iter > 3
    np.testing.assert_array_equal(hamerly.labels, lloyd.labels)
    np.testing.assert_array_equal(hamerly.centers, lloyd.centers)
    assert hamerly.inertia_history == lloyd.inertia_history
    assert hamerly.n_iter == lloyd.n_iter


def test_hamerly_prunes_well_separated_sparse_rows():
    Xs = well_separated_csr()
    e_step = _kmeans_sparse.SparseHamerly(Xs, None, _kmeans_sparse.runner(Xs, 1))
    centers = Xs[:8].toarray()
    _, stats = e_step(centers)
    assert e_step.full_rows > 0.9 * Xs.shape[0]  # no lower bounds yet
    for _ in range(10):
        centers = stats.sums / stats.counts[:, None]
        _, stats = e_step(centers)
    # Once the centres settle, most rows keep theirs: the bounds spare their K dots.
    assert e_step.full_rows < 0.35 * Xs.shape[0]


def test_auto_runs_lloyd_on_sparse_data(monkeypatch):
    Xs = sparse_data(n=300)[1]

    class Refused(_kmeans_sparse.SparseHamerly):
        def __init__(self, *args):
            raise AssertionError("Hamerly was chosen")

    monkeypatch.setattr(_kmeans_sparse, "SparseHamerly", Refused)
    KMeans(40, random_state=0, n_init=1).fit(Xs)  # "auto" with K >= 32: Lloyd
    with pytest.raises(AssertionError, match="Hamerly was chosen"):
        KMeans(40, random_state=0, n_init=1, algorithm="hamerly").fit(Xs)


def test_huge_values_and_copy_x_false_on_csr():
    X, Xs = sparse_data(n=400)
    big, big_s = X * 2.0**80, Xs * 2.0**80
    dense = KMeans(3, init=big[:3], n_init=1).fit(big)
    csr = KMeans(3, init=big[:3], n_init=1, copy_x=False).fit(big_s)
    np.testing.assert_array_equal(csr.labels_, dense.labels_)
    np.testing.assert_allclose(csr.cluster_centers_, dense.cluster_centers_, rtol=1e-10)
    assert csr.inertia_ == pytest.approx(dense.inertia_, rel=1e-10)
    np.testing.assert_array_equal(csr.predict(big_s), dense.labels_)
    # copy_x=False does not apply to sparse data: it is left as it was.
    np.testing.assert_array_equal(big_s.toarray(), big)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_cluster_statistics_are_the_sums_by_label_whatever_the_threads(dtype, weighted):
    X, Xs = sparse_data(n=9000, d=30, density=0.2, seed=11, dtype=dtype)
    rng = np.random.default_rng(12)
    n_clusters = 7
    # Skewed labels with one cluster empty: the tasks must cover each cluster once.
    labels = np.minimum(rng.geometric(0.35, X.shape[0]) - 1, n_clusters - 1).astype(np.int32)
    labels[labels == 4] = 5
    weight = rng.uniform(0.1, 2.0, X.shape[0]) if weighted else np.empty(0)
    w = weight if weighted else np.ones(X.shape[0])
    expected_sums = np.zeros((n_clusters, X.shape[1]))
    np.add.at(expected_sums, labels, w[:, None] * X.astype(np.float64))
    expected_counts = np.bincount(labels, weights=w, minlength=n_clusters)
    results = []
    for n_jobs in (1, 2):
        with _kmeans_sparse.runner(Xs, n_jobs) as run:
            results.append(_kmeans_sparse.cluster_statistics(Xs, labels, weight, n_clusters, run))
    for counts, sums in results:
        np.testing.assert_allclose(sums, expected_sums, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(counts, expected_counts, rtol=1e-12)
        assert counts[4] == 0 and not sums[4].any()
    # Each cluster's rows are added in row order by one task: bit for bit the same.
    np.testing.assert_array_equal(results[0][1], results[1][1])
    np.testing.assert_array_equal(results[0][0], results[1][0])


def test_cluster_tasks_cover_every_cluster_once_heaviest_first():
    work = np.array([5, 0, 40, 7, 7, 1, 30, 2])
    tasks = _kmeans_sparse._cluster_tasks(work, 2)
    flat = np.concatenate(tasks)
    assert sorted(flat.tolist()) == list(range(work.size))
    assert flat[0] == 2 and flat[1] == 6  # the heaviest first
    assert 2 <= len(tasks) <= 4 + 1
    assert [t.tolist() for t in _kmeans_sparse._cluster_tasks(work, 1)] == [list(range(8))]


def test_label_sums_refuses_bad_labels_and_column_indices():
    X, Xs = sparse_data(n=50, d=6)
    mine = np.ones(2, dtype=bool)
    sums, counts = np.full((2, 6), np.nan), np.full(2, np.nan)
    with pytest.raises(ValueError, match="labels must lie in"):
        _kmeans_sparse_kernels.label_sums(Xs.data, Xs.indices, Xs.indptr, np.empty(0),
                                          np.full(50, 2, np.int32), mine, sums, counts)
    bad_indices = Xs.indices.copy()
    bad_indices[-1] = 6  # one past the last column
    with pytest.raises(ValueError, match="column indices in"):
        _kmeans_sparse_kernels.label_sums(Xs.data, bad_indices, Xs.indptr, np.empty(0),
                                          np.zeros(50, np.int32), mine, sums, counts)
    # Clusters not marked are left as they were.
    mine[1] = False
    sums[:], counts[:] = np.nan, np.nan
    _kmeans_sparse_kernels.label_sums(Xs.data, Xs.indices, Xs.indptr, np.empty(0),
                                      np.zeros(50, np.int32), mine, sums, counts)
    np.testing.assert_allclose(sums[0], X.sum(axis=0))
    assert counts[0] == 50 and np.isnan(sums[1]).all() and np.isnan(counts[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_centres_transposed_are_rounded_with_the_norms_of_the_rounded_values(dtype):
    centers = np.random.default_rng(13).normal(size=(5, 9)) * 1e3 + 1 / 3
    out = np.full((9, 5), np.nan, dtype=dtype)
    centers_t, c_sq = _kmeans_sparse._centres(centers, dtype, out)
    assert centers_t is out  # the buffer is reused
    rounded = centers.astype(dtype)
    np.testing.assert_array_equal(centers_t, rounded.T)
    np.testing.assert_allclose(c_sq, (rounded.astype(np.float64) ** 2).sum(axis=1), rtol=1e-15)
    other, _ = _kmeans_sparse._centres(centers[:4], dtype, out)  # another shape: a new array
    assert other is not out and other.shape == (9, 4)


def test_sparse_fit_skips_the_variance_pass_only_when_tol_is_zero(monkeypatch):
    from mixfit.engine import column_stats

    X, Xs = sparse_data(n=600)
    calls = []
    real = column_stats._sparse_column_moments

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(column_stats, "_sparse_column_moments", counted)
    exact = KMeans(4, random_state=0, n_init=1, tol=0).fit(Xs)
    assert calls == []
    loose = KMeans(4, random_state=0, n_init=1, tol=1e-2, max_iter=300).fit(Xs)
    assert calls == [1]
    # tol > 0 still stops on the shift relative to the variance: earlier than tol = 0.
    assert loose.n_iter_ <= exact.n_iter_
    np.testing.assert_array_equal(
        KMeans(4, random_state=0, n_init=1, tol=0).fit(X).labels_, exact.labels_)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_clusters", [1, 7, 8, 9, 20, 33, 64, 70])
@pytest.mark.parametrize("padded", [False, True])
def test_row_dots_are_the_scalar_loops_bit_for_bit(dtype, n_clusters, padded):
    from mixfit.kernels.sparse_dots import padded_width, row_dots

    _, Xs = sparse_data(n=40, d=50, density=0.4, seed=14, dtype=dtype)
    rng = np.random.default_rng(15)
    width = padded_width(n_clusters) if padded else n_clusters
    centers_t = np.zeros((50, width), dtype=dtype)
    centers_t[:, :n_clusters] = rng.normal(size=(50, n_clusters)) / 3
    for i in range(Xs.shape[0]):
        start, stop = Xs.indptr[i], Xs.indptr[i + 1]
        dots = np.full(width, np.nan)
        row_dots(Xs.data, Xs.indices, start, stop, centers_t, n_clusters, dots, "test")
        expected = np.zeros(n_clusters)
        for p in range(start, stop):  # the scalar loop: a multiply, then an add, in order
            expected += np.float64(Xs.data[p]) * centers_t[Xs.indices[p], :n_clusters].astype(
                np.float64)
        np.testing.assert_array_equal(dots[:n_clusters], expected)


def test_row_dots_refuse_column_indices_outside_the_centres():
    from mixfit.kernels.sparse_dots import row_dots

    _, Xs = sparse_data(n=5, d=6, density=0.9)
    bad = Xs.indices.copy()
    bad[1] = -1
    with pytest.raises(ValueError, match="column indices in"):
        row_dots(Xs.data, bad, 0, Xs.indptr[1], np.zeros((6, 16)), 16, np.zeros(16), "test")
    with pytest.raises(ValueError, match="width"):
        row_dots(Xs.data, Xs.indices, 0, Xs.indptr[1], np.zeros((6, 8)), 9, np.zeros(8), "test")
