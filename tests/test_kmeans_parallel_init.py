"""k-means|| (issue 13, MODELS.md §4): engine/init_parallel.py, KMeans(init="k-means||")
and GaussianMixture(init_params="k-means||")."""

import numpy as np
import pytest

from mixfit import GaussianMixture, KMeans
from mixfit.engine.init_parallel import kmeans_parallel, kmeans_parallel_candidates
from mixfit.engine.sources import as_source
from mixfit.io import load, save

from conftest import make_blobs


def _data(n_per=(300, 250, 280, 260), n_features=3, seed=0, dtype=np.float64):
    X, _ = make_blobs(n_per=n_per, n_features=n_features, separation=8.0, seed=seed,
                      dtype=dtype)
    return X[np.random.default_rng(seed).permutation(X.shape[0])]


def _rows(X):
    return {tuple(row) for row in np.asarray(X).tolist()}


# ------------------------------------------------------------------ the engine


def test_candidates_are_distinct_rows_of_the_data_weighted_by_their_rows():
    X = _data()
    found = kmeans_parallel_candidates(X, 4, random_state=0, chunk_size=256)
    assert _rows(found.candidates) <= _rows(X)
    assert len(_rows(found.candidates)) == found.candidates.shape[0]
    # Every row is counted once, at its nearest candidate.
    assert found.weights.sum() == pytest.approx(X.shape[0])
    assert np.all(found.weights > 0)
    # Oversampling: about ℓ = 2K per round, far fewer than the rows.
    assert 4 < found.candidates.shape[0] < 2 * 4 * 5 * 2
    assert found.n_passes == 5 + 2


def test_kmeans_parallel_is_reproducible_and_finds_the_clusters():
    X = _data()
    a = kmeans_parallel(X, 4, random_state=3)
    b = kmeans_parallel(X, 4, random_state=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (4, 3) and a.dtype == X.dtype
    labels = KMeans(4, init=a, n_init=1).fit(X).labels_
    assert len(np.unique(labels)) == 4
    assert not np.array_equal(a, kmeans_parallel(X, 4, random_state=4))


def test_the_result_does_not_depend_on_threads_or_blocks():
    X = _data()
    one = kmeans_parallel(X, 4, random_state=0, n_jobs=1, chunk_size=100)
    two = kmeans_parallel(X, 4, random_state=0, n_jobs=2, chunk_size=100)
    other_blocks = kmeans_parallel(X, 4, random_state=0, n_jobs=2, chunk_size=333)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one, other_blocks)


def test_a_dask_array_gives_the_numpy_result():
    da = pytest.importorskip("dask.array")
    X = _data()
    weights = np.random.default_rng(1).uniform(0.5, 2.0, size=X.shape[0])
    lazy = da.from_array(X, chunks=(150, 3))
    # Kept distances in memory, recomputed on Dask: the same candidates and centres.
    np.testing.assert_array_equal(kmeans_parallel_candidates(lazy, 4, random_state=0).candidates,
                                  kmeans_parallel_candidates(X, 4, random_state=0).candidates)
    np.testing.assert_allclose(kmeans_parallel(lazy, 4, random_state=0),
                               kmeans_parallel(X, 4, random_state=0), rtol=1e-12)
    # Weighted: the same candidates; their weights are sums in another order.
    source = as_source(lazy, da.from_array(weights, chunks=150))
    expected = kmeans_parallel_candidates(X, 4, sample_weight=weights, random_state=0)
    found = kmeans_parallel_candidates(source, 4, random_state=0)
    np.testing.assert_array_equal(found.candidates, expected.candidates)
    np.testing.assert_allclose(found.weights, expected.weights, rtol=1e-13)
    centers = kmeans_parallel(source, 4, random_state=0)
    np.testing.assert_allclose(centers, kmeans_parallel(X, 4, sample_weight=weights,
                                                        random_state=0), rtol=1e-12)
    assert isinstance(centers, np.ndarray)


def test_float32_stays_float32():
    X = _data(dtype=np.float32)
    centers = kmeans_parallel(X, 4, random_state=0)
    assert centers.dtype == np.float32


def test_integer_weights_count_as_repeated_rows_in_the_candidate_weights():
    X = _data()[:400]
    weights = np.random.default_rng(2).integers(1, 4, size=X.shape[0]).astype(float)
    found = kmeans_parallel_candidates(X, 4, sample_weight=weights, random_state=0)
    assert found.weights.sum() == pytest.approx(weights.sum())
    # Zero weight: never a candidate (the first one included).
    weights[: X.shape[0] // 2] = 0.0
    found = kmeans_parallel_candidates(X, 4, sample_weight=weights, random_state=0)
    assert _rows(found.candidates) <= _rows(X[X.shape[0] // 2:])


def test_weights_pull_the_centres():
    # Two groups; all the weight on one: every centre lands in it.
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (200, 2)), rng.normal(50, 1, (200, 2))])
    weights = np.r_[np.ones(200), np.zeros(200)]
    centers = kmeans_parallel(X, 3, sample_weight=weights, random_state=0)
    assert np.all(centers < 10)
    unweighted = kmeans_parallel(X, 3, random_state=0)
    assert np.any(unweighted > 40)


def test_fewer_distinct_rows_than_clusters_repeat_the_heaviest():
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), [5, 20, 10], axis=0)
    centers = kmeans_parallel(X, 5, random_state=0)
    assert centers.shape == (5, 2)
    assert _rows(centers) == _rows(X)
    # The two repeats are the heaviest rows: [1, 0] (20 copies), then [0, 1] (10).
    repeated = [row for row in map(tuple, centers.tolist())
                if sum(r == row for r in map(tuple, centers.tolist())) > 1]
    assert set(repeated) == {(1.0, 0.0), (0.0, 1.0)}


def test_too_few_candidates_run_more_rounds():
    X = _data()
    # ℓ = 0.05 · 8 = 0.4 rows per round: five rounds give fewer than 8 candidates.
    found = kmeans_parallel_candidates(X, 8, oversampling_factor=0.05, random_state=0)
    assert found.candidates.shape[0] >= 8 or found.n_passes == 2 * 5 + 2
    assert found.n_passes > 5 + 2
    assert kmeans_parallel(X, 8, oversampling_factor=0.05, random_state=0).shape == (8, 3)


@pytest.mark.parametrize("kwargs, match", [
    ({"oversampling_factor": 0}, "oversampling_factor must be a finite number > 0"),
    ({"oversampling_factor": float("inf")}, "oversampling_factor must be a finite"),
    ({"n_rounds": 0}, "n_rounds"),
])
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        kmeans_parallel(_data(), 4, **kwargs)


def test_sparse_data_is_refused_with_the_alternative():
    from scipy import sparse

    with pytest.raises(TypeError, match="init='k-means\\+\\+' for sparse X"):
        kmeans_parallel(sparse.csr_matrix(_data()), 4)


# ------------------------------------------------------------- the estimators


def test_kmeans_takes_k_means_parallel_and_saves_it(tmp_path):
    X = _data()
    model = KMeans(4, init="k-means||", random_state=0).fit(X)
    plusplus = KMeans(4, init="k-means++", random_state=0).fit(X)
    assert model.inertia_ <= plusplus.inertia_ * 1.001  # both find the four blobs
    save(model, tmp_path / "km.mixfit")
    loaded = load(tmp_path / "km.mixfit")
    assert loaded.init == "k-means||"
    np.testing.assert_array_equal(loaded.predict(X), model.labels_)


def test_kmeans_on_a_dask_array_matches_numpy_with_k_means_parallel():
    da = pytest.importorskip("dask.array")
    X = _data()
    in_memory = KMeans(4, init="k-means||", random_state=0).fit(X)
    distributed = KMeans(4, init="k-means||", random_state=0).fit(
        da.from_array(X, chunks=(200, 3)))
    np.testing.assert_allclose(distributed.cluster_centers_, in_memory.cluster_centers_,
                               rtol=1e-10)


def test_mixture_start_from_k_means_parallel(tmp_path):
    X = _data()
    model = GaussianMixture(4, init_params="k-means||", random_state=0).fit(X)
    start = GaussianMixture(4, init_params="k-means||", random_state=0, max_iter=0).fit(X)
    kmeans = KMeans(4, init="k-means||", random_state=0).fit(X)
    # The start is the K-means partition's M-step: its means are K-means' centres.
    np.testing.assert_allclose(np.sort(start.means_, axis=0),
                               np.sort(kmeans.cluster_centers_, axis=0), atol=1e-6)
    assert model.score(X) >= GaussianMixture(4, random_state=0).fit(X).score(X) - 1e-6
    save(model, tmp_path / "gm.mixfit")
    assert load(tmp_path / "gm.mixfit").init_params == "k-means||"


def test_a_memory_map_gives_the_in_memory_result(tmp_path):
    X = _data()
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    np.testing.assert_array_equal(kmeans_parallel(mapped, 4, random_state=0),
                                  kmeans_parallel(X, 4, random_state=0))
