"""mixfit.MiniBatchKMeans and its engine (mixfit.engine.minibatch).

scikit-learn's own MiniBatchKMeans tests run against mixfit in test_sklearn_suites.py
and its estimator checks in test_sklearn_checks.py; these tests cover what they do not:
the update rule against its definition, reproducibility, streams, sparse and
weighted data, memory maps, and the errors.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from sklearn.datasets import make_blobs

from mixfit import KMeans, MiniBatchKMeans
from mixfit.engine import minibatch, sparse_rows
from mixfit.engine.kmeans_common import KMeansStats


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=3000, centers=6, n_features=5, cluster_std=1.5,
                      random_state=0)
    return X, y


def _fit_pair(**params):
    return MiniBatchKMeans(**params), MiniBatchKMeans(**params)


# ---------------------------------------------------------------------------
# the engine against its definition


def test_batch_update_equals_per_sample_learning_rates():
    """c ← (W c + s) / (W + m) is Sculley's update with rate 1/W_k applied row by row."""
    rng = np.random.RandomState(0)
    centers = rng.normal(size=(3, 4))
    seen = np.array([5.0, 0.0, 2.0])  # centre 1 gets its first rows from this batch
    rows = rng.normal(size=(20, 4))
    labels = rng.randint(0, 2, size=20)  # centre 2 gets none
    weight = rng.uniform(0.5, 2.0, size=20)
    counts = np.bincount(labels, weights=weight, minlength=3)
    sums = np.zeros((3, 4))
    np.add.at(sums, labels, weight[:, None] * rows)
    new, new_seen = minibatch.update_centers(centers.copy(), seen.copy(),
                                             KMeansStats(counts, sums, 0.0))

    expected, expected_seen = centers.copy(), seen.copy()
    for x, k, w in zip(rows, labels, weight):
        expected_seen[k] += w
        expected[k] += (w / expected_seen[k]) * (x - expected[k])
    np.testing.assert_allclose(new, expected, rtol=1e-12)
    np.testing.assert_array_equal(new_seen, expected_seen)
    np.testing.assert_array_equal(new[2], centers[2])  # untouched centres stay exactly


def test_batch_blocks_are_equal_and_sized_by_work_alone():
    # Light batches stay one block (cut only at the engine's block size);
    # heavy ones into a power of two of equal blocks, each holding at least
    # MIN_BLOCK_WORK distance terms and a chunk's rows.
    assert minibatch.batch_block_rows(1024, 256, 2, 3) == 1024
    assert minibatch.batch_block_rows(100_000, 256, 2, 3) == 14_286  # 7 blocks ≤ 16,384 rows
    # 1024 × 160 × 32 is 1.25 × MIN_BLOCK_WORK: one block, not a long and a short one.
    assert minibatch.batch_block_rows(1024, 195, 160, 32) == 1024
    assert minibatch.batch_block_rows(1024, 256, 160, 64) == 512  # 2.5 × MIN_BLOCK_WORK
    assert minibatch.batch_block_rows(1024, 64, 64, 256) == 256  # 4 × MIN_BLOCK_WORK
    assert minibatch.batch_block_rows(1024, 64, 200, 300) == 128  # 14.6 ×: 8 blocks
    # ... never fewer rows than a GEMM chunk
    assert minibatch.batch_block_rows(1024, 256, 784, 1024) == 256
    assert minibatch.batch_block_rows(1000, 64, 200, 300) == 125
    for n_rows, chunk, d, k in [(1024, 64, 200, 300), (1000, 64, 200, 300), (1024, 256, 160, 64)]:
        rows = minibatch.batch_block_rows(n_rows, chunk, d, k)
        assert rows * d * k >= minibatch.MIN_BLOCK_WORK and rows >= chunk


@pytest.mark.parametrize("weighted", [False, True])
def test_heavy_batch_in_blocks_is_the_same_for_any_n_jobs(weighted):
    # 1024 rows × 200 features × 300 centres: several blocks, labelled without
    # sums, which one pass then adds up.
    rng = np.random.RandomState(3)
    X = rng.normal(size=(1024, 200))
    centers = X[rng.choice(1024, 300, replace=False)] + 0.01
    weight = rng.uniform(0.5, 2.0, 1024) if weighted else None
    chunk = 64
    assert 1024 // minibatch.batch_block_rows(1024, chunk, 200, 300) >= 2
    results = []
    for n_jobs in (1, 2):
        with minibatch.batch_runner(n_jobs, 1024, chunk, 200, 300) as runner:
            assert runner.n_threads == n_jobs
            results.append(minibatch.batch_statistics(X, centers, weight, chunk_size=chunk,
                                                      runner=runner))
    one, two = results
    np.testing.assert_array_equal(one.counts, two.counts)
    np.testing.assert_array_equal(one.sums, two.sums)
    assert one.inertia == two.inertia
    distances = ((X[:, None, :] - centers[None]) ** 2).sum(axis=2)
    labels = distances.argmin(axis=1)
    w = np.ones(1024) if weight is None else weight
    np.testing.assert_allclose(one.counts, np.bincount(labels, w, minlength=300))
    expected = np.zeros((300, 200))
    np.add.at(expected, labels, w[:, None] * X)
    np.testing.assert_allclose(one.sums, expected, rtol=1e-12, atol=1e-12)
    assert one.inertia == pytest.approx(float(w @ distances.min(axis=1)), rel=1e-10)


def test_batch_statistics_dense_and_sparse_agree():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(50, 6))
    X[X < 0.3] = 0.0
    centers = X[:4].copy()
    weight = rng.uniform(size=50)
    with minibatch.batch_runner(1, 50, 16, 6, 4) as runner:
        dense = minibatch.batch_statistics(X, centers, weight, chunk_size=16, runner=runner)
        csr = minibatch.batch_statistics(sparse.csr_matrix(X), centers, weight,
                                         chunk_size=16, runner=runner)
    labels = ((X[:, None, :] - centers[None]) ** 2).sum(axis=2).argmin(axis=1)
    np.testing.assert_allclose(dense.counts, np.bincount(labels, weight, minlength=4))
    np.testing.assert_allclose(csr.counts, dense.counts)
    np.testing.assert_allclose(csr.sums.toarray(), dense.sums, rtol=1e-12)
    np.testing.assert_allclose(csr.inertia, dense.inertia, rtol=1e-10)


@pytest.mark.parametrize("order", ["C", "F"])
def test_update_with_sparse_sums_equals_dense_sums(order):
    rng = np.random.RandomState(2)
    centers = rng.normal(size=(4, 7))
    seen = np.array([3.0, 0.0, 1.0, 2.0])
    sums = rng.normal(size=(4, 7)) * (rng.uniform(size=(4, 7)) < 0.4)
    sums[3] = 0.0
    counts = np.array([2.0, 1.0, 0.5, 0.0])
    dense, _ = minibatch.update_centers(centers.copy(), seen.copy(),
                                        KMeansStats(counts, sums, 0.0))
    csr, _ = minibatch.update_centers(np.array(centers, order=order), seen.copy(),
                                      KMeansStats(counts, sparse.csr_matrix(sums), 0.0))
    np.testing.assert_allclose(csr, dense, rtol=1e-14)
    np.testing.assert_array_equal(csr[3], centers[3])


@pytest.mark.parametrize("order", ["C", "F"])
def test_scaling_rows_in_blocks_scales_each_centre(order):
    rng = np.random.RandomState(3)
    centers = np.array(rng.normal(size=(3, 5000)), order=order)  # several blocks
    factor = rng.uniform(size=3)
    expected = centers * factor[:, None]
    sparse_rows.scale_rows(centers, factor)
    np.testing.assert_array_equal(centers, expected)


def test_reassign_moves_starved_centres_to_batch_rows():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3))
    centers = np.zeros((4, 3))
    seen = np.array([100.0, 0.5, 80.0, 0.0])
    moved = minibatch.reassign(centers, seen, X, 0.01, np.random.RandomState(0))
    assert moved == 2
    for k in (1, 3):  # the two starved centres now sit on rows of the batch
        assert (np.abs(X - centers[k]).sum(axis=1) == 0).any()
        assert seen[k] == 80.0  # the smallest weight of those that stayed
    assert not centers[[0, 2]].any()
    assert minibatch.reassign(centers, seen, X, 1e-15, np.random.RandomState(0)) == 0


def test_reassign_uses_at_most_half_the_batch():
    X = np.arange(8.0).reshape(4, 2)
    seen = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 9.0])
    moved = minibatch.reassign(np.zeros((6, 2)), seen, X, 0.5, np.random.RandomState(0))
    assert moved == 2


def test_sampler_draws_in_proportion_to_weight_and_never_zero_weight():
    weight = np.array([0.0, 1.0, 3.0, 0.0])
    draws = minibatch.RowSampler(4, weight).draw(np.random.RandomState(0), 40000)
    frequency = np.bincount(draws, minlength=4) / draws.size
    assert frequency[0] == frequency[3] == 0
    np.testing.assert_allclose(frequency[1:3], [0.25, 0.75], atol=0.01)
    # Equal weights draw exactly as no weights (so ones and None give the same fit).
    a = minibatch.RowSampler(5, np.full(5, 2.0)).draw(np.random.RandomState(3), 10)
    b = minibatch.RowSampler(5, None).draw(np.random.RandomState(3), 10)
    np.testing.assert_array_equal(a, b)


def test_early_stopping_rules():
    log = []
    # Batches as large as the data: the EWA is then the last batch's mean inertia.
    stop = minibatch.EarlyStopping(10, 10, tol=0.0, max_no_improvement=2, log=log.append)
    inertias = [50.0, 40.0, 30.0, 31.0, 32.0, 33.0]
    stopped = [stop(i, 99, 0.0, value * 10) for i, value in enumerate(inertias)]
    # Step 1 is the initial centres' inertia; the EWA then falls to step 3 and
    # fails to improve at steps 4 and 5: stop there.
    assert stopped == [False, False, False, False, True, True]
    assert stop.ewa_inertia == 33.0
    smooth = minibatch.EarlyStopping(10, 100, tol=0.0, max_no_improvement=2)
    for i, value in enumerate(inertias):
        smooth(i, 99, 0.0, value * 10)
    alpha = 20 / 101  # 2 · batch / (n + 1)
    expected = 40.0
    for value in inertias[2:]:
        expected = expected * (1 - alpha) + value * alpha
    np.testing.assert_allclose(smooth.ewa_inertia, expected)
    assert "Converged (lack of improvement in inertia) at step 5/99" in log
    stop = minibatch.EarlyStopping(10, 100, tol=1e-3, max_no_improvement=None)
    assert not stop(0, 9, 0.0, 1.0)  # never on the first step
    assert not stop(1, 9, 1e-2, 1.0)
    assert stop(2, 9, 1e-3, 1.0)


# ---------------------------------------------------------------------------
# the estimator


def test_fit_is_reproducible_from_random_state(blobs):
    X, _ = blobs
    a, b = _fit_pair(n_clusters=6, batch_size=100, random_state=3)
    a.fit(X)
    b.fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.n_steps_ == b.n_steps_
    c = MiniBatchKMeans(n_clusters=6, batch_size=100, random_state=4).fit(X)
    assert not np.array_equal(a.cluster_centers_, c.cluster_centers_)


def test_partial_fit_sequence_is_reproducible(blobs):
    X, _ = blobs
    a, b = _fit_pair(n_clusters=6, random_state=0)
    for start in range(0, 3000, 300):
        a.partial_fit(X[start:start + 300])
        b.partial_fit(X[start:start + 300])
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)


def test_inertia_within_five_percent_of_full_kmeans(blobs):
    X, _ = blobs
    full = KMeans(n_clusters=6, random_state=0).fit(X).inertia_
    for seed in range(3):
        mini = MiniBatchKMeans(n_clusters=6, batch_size=256, random_state=seed).fit(X)
        assert mini.inertia_ <= 1.05 * full, (seed, mini.inertia_, full)
        assert mini.n_iter_ == int(np.ceil(mini.n_steps_ * 256 / X.shape[0]))


def test_partial_fit_streams_to_a_good_clustering(blobs):
    X, _ = blobs
    full = KMeans(n_clusters=6, random_state=0).fit(X)
    km = MiniBatchKMeans(n_clusters=6, random_state=0)
    for _ in range(3):  # three passes over the stream in pieces of 200 rows
        for start in range(0, X.shape[0], 200):
            km.partial_fit(X[start:start + 200])
    assert km.n_steps_ == 45
    assert km.n_features_in_ == 5
    assert -km.score(X) <= 1.05 * full.inertia_
    # labels_ and inertia_ describe the last batch.
    np.testing.assert_array_equal(km.labels_, km.predict(X[2800:]))
    np.testing.assert_allclose(km.inertia_, -km.score(X[2800:]))


@pytest.mark.parametrize("container", [np.asarray, sparse.csr_matrix])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_labels_equal_predict(blobs, container, dtype):
    X = container(blobs[0].astype(dtype))
    km = MiniBatchKMeans(n_clusters=6, batch_size=200, random_state=0).fit(X)
    np.testing.assert_array_equal(km.labels_, km.predict(X))
    np.testing.assert_allclose(km.inertia_, -km.score(X), rtol=1e-6)
    assert km.cluster_centers_.dtype == dtype
    assert km.transform(X[:5]).dtype == dtype


def test_compute_labels_false_estimates_the_inertia(blobs):
    X, _ = blobs
    km = MiniBatchKMeans(n_clusters=6, batch_size=200, random_state=0, compute_labels=False)
    km.fit(X)
    assert not hasattr(km, "labels_")
    # The smoothed batch inertia estimates the full one (to sampling noise).
    assert 0.7 < km.inertia_ / -km.score(X) < 1.3


@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_equals_dense(blobs, weighted):
    X, _ = blobs
    X = np.where(X > 0, X, 0.0)
    weight = np.random.RandomState(0).uniform(size=X.shape[0]) if weighted else None
    dense = MiniBatchKMeans(n_clusters=4, batch_size=128, random_state=0)
    csr = MiniBatchKMeans(n_clusters=4, batch_size=128, random_state=0)
    dense.fit(X, sample_weight=weight)
    csr.fit(sparse.csr_matrix(X), sample_weight=weight)
    assert dense.n_steps_ == csr.n_steps_
    np.testing.assert_array_equal(dense.labels_, csr.labels_)
    np.testing.assert_allclose(dense.cluster_centers_, csr.cluster_centers_, rtol=1e-10)
    dense.partial_fit(X[:300], sample_weight=None if weight is None else weight[:300])
    csr.partial_fit(sparse.csr_matrix(X[:300]),
                    sample_weight=None if weight is None else weight[:300])
    np.testing.assert_allclose(dense.cluster_centers_, csr.cluster_centers_, rtol=1e-10)


def test_sample_weight_equals_repeated_rows_in_one_step():
    """One step from given centres is exact: a weight-w row is w copies of it."""
    X, _ = make_blobs(n_samples=60, centers=3, n_features=2, random_state=1)
    weight = np.random.RandomState(0).randint(1, 4, size=60)
    init = X[[0, 20, 40]]
    params = dict(n_clusters=3, init=init, n_init=1, reassignment_ratio=0.0)
    weighted = MiniBatchKMeans(**params).partial_fit(X, sample_weight=weight)
    repeated = MiniBatchKMeans(**params).partial_fit(np.repeat(X, weight, axis=0))
    np.testing.assert_allclose(weighted.cluster_centers_, repeated.cluster_centers_,
                               rtol=1e-12)
    np.testing.assert_allclose(weighted.inertia_, repeated.inertia_, rtol=1e-12)
    np.testing.assert_allclose(weighted._counts, repeated._counts)


def test_fit_samples_batches_in_proportion_to_weight():
    """Rows of zero weight are never drawn: the fit ignores a far-away zero-weight blob."""
    X, _ = make_blobs(n_samples=400, centers=[[0, 0], [5, 5]], cluster_std=0.5, random_state=0)
    far = np.full((40, 2), 1000.0)
    weight = np.r_[np.ones(400), np.zeros(40)]
    km = MiniBatchKMeans(n_clusters=2, batch_size=50, random_state=0, init="random")
    km.fit(np.r_[X, far], sample_weight=weight)
    assert np.abs(km.cluster_centers_).max() < 10


def test_results_do_not_depend_on_n_jobs():
    X, _ = make_blobs(n_samples=40000, centers=4, n_features=3, random_state=0)
    params = dict(n_clusters=4, batch_size=20000, random_state=0, max_iter=2)
    one = MiniBatchKMeans(n_jobs=1, **params).fit(X)
    two = MiniBatchKMeans(n_jobs=2, **params).fit(X)
    np.testing.assert_array_equal(one.cluster_centers_, two.cluster_centers_)
    np.testing.assert_array_equal(one.labels_, two.labels_)


def test_memory_mapped_input_gives_the_in_memory_fit(tmp_path, blobs):
    X, _ = blobs
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    a = MiniBatchKMeans(n_clusters=6, batch_size=128, random_state=0).fit(mapped)
    b = MiniBatchKMeans(n_clusters=6, batch_size=128, random_state=0).fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    a.partial_fit(mapped[:100])


def test_huge_values_are_clustered_in_exact_units(blobs):
    X, _ = blobs
    big = X * 2.0**80  # beyond 2**60: fitted in units of a power of two
    a = MiniBatchKMeans(n_clusters=6, batch_size=128, random_state=0).fit(X)
    b = MiniBatchKMeans(n_clusters=6, batch_size=128, random_state=0).fit(big)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(b.cluster_centers_, a.cluster_centers_ * 2.0**80, rtol=1e-12)
    np.testing.assert_allclose(b.inertia_, a.inertia_ * 2.0**160, rtol=1e-10)


def test_verbose_prints_progress(blobs, capsys):
    X, _ = blobs
    MiniBatchKMeans(n_clusters=6, batch_size=100, random_state=0, verbose=1).fit(X)
    out = capsys.readouterr().out
    assert "Init 1/1 with method k-means++" in out
    assert "Minibatch step 2/" in out and "ewa inertia" in out
    assert "Converged (lack of improvement in inertia)" in out


def test_feature_names_are_kept_and_checked(blobs):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(blobs[0], columns=list("abcde"))
    km = MiniBatchKMeans(n_clusters=3, random_state=0).partial_fit(frame)
    assert list(km.feature_names_in_) == list("abcde")
    assert list(km.get_feature_names_out()) == ["minibatchkmeans0", "minibatchkmeans1",
                                                "minibatchkmeans2"]


# ---------------------------------------------------------------------------
# bad input


def test_partial_fit_with_other_features_is_refused_and_keeps_the_model(blobs):
    X, _ = blobs
    km = MiniBatchKMeans(n_clusters=3, random_state=0).partial_fit(X[:100])
    before = km.cluster_centers_.copy()
    with pytest.raises(ValueError, match="X has 4 features, but MiniBatchKMeans is expecting 5"):
        km.partial_fit(X[:100, :4])
    np.testing.assert_array_equal(km.cluster_centers_, before)
    assert km.n_steps_ == 1


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"batch_size": 0}, ValueError, "batch_size must be an integer >= 1"),
        ({"batch_size": 2.5}, TypeError, "batch_size must be an integer"),
        ({"max_no_improvement": -1}, ValueError, "max_no_improvement must be an integer >= 0"),
        ({"reassignment_ratio": -0.1}, ValueError, "reassignment_ratio must be a finite"),
        ({"compute_labels": "yes"}, TypeError, "compute_labels must be True or False"),
        ({"init_size": 0}, ValueError, "init_size must be an integer >= 1"),
        ({"init": "kmeans"}, ValueError, "init must be one of"),
        ({"n_init": "many"}, ValueError, "n_init must be 'auto' or an integer"),
        ({"n_clusters": 5000}, ValueError, r"n_samples=3000 should be >= n_clusters=5000"),
    ],
)
def test_bad_parameters_are_named(blobs, params, error, match):
    with pytest.raises(error, match=match):
        MiniBatchKMeans(**params).fit(blobs[0])


def test_small_init_size_warns_and_uses_three_times_the_clusters(blobs):
    with pytest.warns(RuntimeWarning, match="init_size=5 should be larger than n_clusters=6"):
        km = MiniBatchKMeans(n_clusters=6, init_size=5, random_state=0).fit(blobs[0])
    assert km._init_size == 18


def test_a_later_batch_far_beyond_the_first_is_refused(blobs):
    X, _ = blobs
    km = MiniBatchKMeans(n_clusters=3, random_state=0).partial_fit(X[:100])
    with pytest.raises(ValueError, match="fit it again"):
        km.partial_fit(X[:100] * 2.0**80)


# ---------------------------------------------------------------------------
# model files


def _round_trip(estimator, tmp_path):
    from mixfit import load, save

    path = tmp_path / "model.mixfit"
    save(estimator, path)
    return load(path)


def test_model_file_round_trip_of_a_fit(blobs, tmp_path):
    X, _ = blobs
    km = MiniBatchKMeans(n_clusters=6, batch_size=200, random_state=0).fit(X)
    loaded = _round_trip(km, tmp_path)
    assert type(loaded) is MiniBatchKMeans
    assert loaded.get_params() == km.get_params()
    np.testing.assert_array_equal(loaded.cluster_centers_, km.cluster_centers_)
    np.testing.assert_array_equal(loaded.labels_, km.labels_)
    np.testing.assert_array_equal(loaded.transform(X[:50]), km.transform(X[:50]))
    assert (loaded.inertia_, loaded.n_iter_, loaded.n_steps_) == (
        km.inertia_, km.n_iter_, km.n_steps_)


def test_partial_fit_goes_on_after_load_as_before(blobs, tmp_path):
    """The accumulated weights travel in the file: the next step is the same."""
    X, _ = blobs
    km = MiniBatchKMeans(n_clusters=6, random_state=0, reassignment_ratio=0.0,
                         compute_labels=False)
    km.partial_fit(X[:500]).partial_fit(X[500:1000])
    loaded = _round_trip(km, tmp_path)
    assert not hasattr(loaded, "labels_") and not hasattr(loaded, "n_iter_")
    km.partial_fit(X[1000:1500])
    loaded.partial_fit(X[1000:1500])
    np.testing.assert_array_equal(loaded.cluster_centers_, km.cluster_centers_)
    np.testing.assert_array_equal(loaded._counts, km._counts)
    assert loaded.n_steps_ == km.n_steps_ == 3


def test_model_file_with_negative_weights_is_refused(blobs, tmp_path):
    import io
    import zipfile

    from mixfit import ModelFileError, load, save

    km = MiniBatchKMeans(n_clusters=3, random_state=0).partial_fit(blobs[0][:100])
    path = tmp_path / "model.mixfit"
    save(km, path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    counts_member = next(name for name in members if "_counts" in name)
    buffer = io.BytesIO()
    np.save(buffer, -np.ones(3))
    members[counts_member] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ModelFileError, match="_counts"):
        load(path)


@pytest.mark.parametrize("how", ["fit", "partial_fit"])
def test_mixfit_info_describes_a_minibatch_file(blobs, tmp_path, capsys, how):
    import json

    from mixfit import save
    from mixfit.cli import commands as cli

    km = getattr(MiniBatchKMeans(n_clusters=3, random_state=0), how)(blobs[0][:300])
    path = tmp_path / "model.mixfit"
    save(km, path)
    assert cli.main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{km.n_steps_} mini-batch steps" in out
    assert "none: K-means has no likelihood" in out
    assert cli.main(["info", str(path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["class"] == "MiniBatchKMeans" and document["model"] == "kmeans"
    assert document["n_steps"] == km.n_steps_
    assert document["n_iter"] == getattr(km, "n_iter_", None)
