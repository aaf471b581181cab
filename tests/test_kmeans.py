"""K-means: the Lloyd engine (mixfit.engine.kmeans) and the KMeans estimator."""

import warnings
from unittest import mock

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist
from sklearn.cluster import KMeans as SklearnKMeans
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import shuffle
from sklearn.utils.estimator_checks import parametrize_with_checks

from mixfit.estimators.kmeans import KMeans
from mixfit.engine import kmeans_loop
from mixfit.engine.init import kmeans_plusplus
from mixfit.engine.kmeans import KMeansStats, assign, kmeans_stats, lloyd


def _blobs(seed, n_samples=300, n_features=3, centers=4, std=0.5):
    X, _ = make_blobs(
        n_samples=n_samples, n_features=n_features, centers=centers,
        cluster_std=std, random_state=seed,
    )
    return X


def _naive_inertia(X, centers, weight=None):
    sq = cdist(X, centers, "sqeuclidean").min(axis=1)
    return float(sq.sum() if weight is None else weight @ sq)


# ---------------------------------------------------------------------------
# scikit-learn's own checks


@parametrize_with_checks(
    [
        KMeans(n_clusters=3, n_init=2, random_state=0),
        KMeans(n_clusters=2, init="random", random_state=0, chunk_size=7),
        KMeans(n_clusters=2, init="lecture", random_state=0),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ---------------------------------------------------------------------------
# against scikit-learn


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_same_result_as_sklearn_from_the_same_centres(seed, weighted):
    X = _blobs(seed, n_samples=500, centers=5, std=1.5)
    rng = np.random.RandomState(seed)
    weight = rng.uniform(0.5, 2.0, size=len(X)) if weighted else None
    init = X[rng.choice(len(X), 5, replace=False)]

    ours = KMeans(5, init=init, tol=0, chunk_size=64).fit(X, sample_weight=weight)
    ref = SklearnKMeans(5, init=init, n_init=1, tol=0, algorithm="lloyd").fit(
        X, sample_weight=weight
    )
    assert ref.n_iter_ < ref.max_iter and ours.n_iter_ < ours.max_iter
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-7)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-7)


# ---------------------------------------------------------------------------
# the engine


def test_assign_matches_brute_force():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(257, 4))
    centers = rng.normal(size=(6, 4))
    labels, min_sq = assign(X, centers, chunk_size=50)
    sq = cdist(X, centers, "sqeuclidean")
    np.testing.assert_array_equal(labels, sq.argmin(1))
    np.testing.assert_allclose(min_sq, sq.min(1), rtol=1e-10, atol=1e-12)
    assert labels.dtype == np.int64 and min_sq.dtype == np.float64


def test_assign_clamps_rounding_and_shift_restores_precision():
    # Rows equal to centres far from the origin: ‖x‖² ≈ 3e16 cancels every digit
    # of the unit-scale distances, and rounding can make them negative.
    X = np.full((5, 3), 1e8) + np.arange(5)[:, None]
    _, min_sq = assign(X, X.copy(), chunk_size=2)
    assert (min_sq >= 0).all()
    labels, min_sq = assign(X, X.copy(), chunk_size=2, shift=X.mean(axis=0))
    np.testing.assert_array_equal(labels, np.arange(5))
    np.testing.assert_array_equal(min_sq, 0.0)


def test_lloyd_history_callback_and_final_labels():
    X = _blobs(3, centers=3, std=2.0)
    init = X[:3].copy()
    seen = []
    result = lloyd(X, init, tol=0, callback=lambda i, c, j: seen.append((i, c.copy(), j)))
    # The first entry is the objective of the initial centres.
    assert result.inertia_history[0] == pytest.approx(_naive_inertia(X, init), rel=1e-10)
    assert [i for i, _, _ in seen] == list(range(1, result.n_iter + 1))
    assert [j for _, _, j in seen] == result.inertia_history
    for _, centers, inertia in seen:
        assert inertia == pytest.approx(_naive_inertia(X, centers), rel=1e-10)
    # Returned labels and inertia belong to the returned centres.
    np.testing.assert_array_equal(result.labels, assign(X, result.centers, chunk_size=4096)[0])
    assert result.inertia == pytest.approx(_naive_inertia(X, result.centers), rel=1e-10)
    assert result.converged


def test_lloyd_tol_stops_early_on_small_relative_decrease():
    X = np.random.RandomState(0).normal(size=(2000, 2))  # no structure: slow descent
    init = X[:20].copy()
    strict = lloyd(X, init, tol=0, max_iter=500)
    loose = lloyd(X, init, tol=1e-2, max_iter=500)
    assert loose.converged and loose.n_iter < strict.n_iter
    history = loose.inertia_history
    decrease = (history[-2] - history[-1]) / history[-1]
    assert decrease < 1e-2
    assert all((a - b) / b >= 1e-2 for a, b in zip(history[:-2], history[1:-1]))


def test_lloyd_stops_at_max_iter_and_says_so():
    X = np.random.RandomState(0).normal(size=(2000, 2))
    result = lloyd(X, X[:20].copy(), tol=0, max_iter=3)
    assert result.n_iter == 3 and not result.converged
    assert result.inertia <= result.inertia_history[-1]


def test_empty_cluster_is_reseeded_at_the_farthest_point():
    X = np.array([[0.0], [1.0], [2.0], [10.0]])
    init = np.array([[1.0], [1000.0]])  # the second centre gets no point
    result = lloyd(X, init, max_iter=1)
    # After one update: cluster 1 moved to the point farthest from its centre
    # (10, at distance 81), and that point left cluster 0, now the mean of the
    # other three (scikit-learn's relocation; the mean of all four would be 3.25).
    np.testing.assert_allclose(result.centers, [[1.0], [10.0]])
    full = lloyd(X, init, tol=0)
    np.testing.assert_allclose(full.centers, [[1.0], [10.0]])
    assert np.bincount(full.labels, minlength=2).min() > 0


def test_several_empty_clusters_get_distinct_points():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(size=(50, 2)), [[30.0, 30.0]] * 3, [[-30.0, 30.0]] * 2])
    init = np.array([[0.0, 0.0], [1e4, 1e4], [-1e4, 1e4], [1e4, -1e4]])
    result = lloyd(X, init, tol=0)
    assert np.isfinite(result.centers).all()
    assert np.bincount(result.labels, minlength=4).min() > 0
    assert len(np.unique(result.centers, axis=0)) == 4


def test_zero_weight_rows_are_not_used_to_reseed():
    X = np.array([[0.0], [1.0], [2.0], [50.0]])
    weight = np.array([1.0, 1.0, 1.0, 0.0])
    result = lloyd(X, np.array([[1.0], [-1000.0]]), sample_weight=weight, max_iter=1)
    assert result.centers[1, 0] != 50.0
    assert result.centers[1, 0] in (0.0, 2.0)  # the farthest weighted rows


# ---------------------------------------------------------------------------
# properties


@settings(max_examples=40, deadline=None)
@given(
    X=st.integers(1, 6).flatmap(
        lambda d: st.lists(
            st.lists(st.integers(-5, 5).map(float), min_size=d, max_size=d),
            min_size=4, max_size=40,
        )
    ),
    n_clusters=st.integers(1, 4),
    seed=st.integers(0, 1000),
    weighted=st.booleans(),
)
def test_objective_never_increases(X, n_clusters, seed, weighted):
    # Small integer grids: plenty of duplicates, ties and empty clusters.
    X = np.array(X)
    rng = np.random.RandomState(seed)
    weight = rng.randint(1, 4, size=len(X)).astype(float) if weighted else None
    init = rng.uniform(-6, 6, size=(n_clusters, X.shape[1]))
    result = lloyd(X, init, sample_weight=weight, tol=0, max_iter=50)
    history = np.array(result.inertia_history)
    slack = 1e-12 * max(history[0], 1.0)
    assert np.all(np.diff(history) <= slack)
    assert result.inertia <= history[-1] + slack
    assert np.isfinite(result.centers).all()


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n_samples=st.integers(2, 60),
    n_clusters=st.integers(1, 5),
    split=st.data(),
)
def test_stats_of_a_union_are_the_sum_of_the_stats(seed, n_samples, n_clusters, split):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, 3))
    labels = rng.randint(0, n_clusters, size=n_samples)
    sq = rng.uniform(size=n_samples)
    weight = rng.uniform(0, 2, size=n_samples)
    in_a = np.array(split.draw(st.lists(st.booleans(), min_size=n_samples, max_size=n_samples)))

    def stats(mask):
        return kmeans_stats(X[mask], labels[mask], sq[mask], n_clusters, weight[mask])

    whole = stats(np.ones(n_samples, bool))
    parts = stats(in_a) + stats(~in_a)
    np.testing.assert_allclose(parts.counts, whole.counts, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(parts.sums, whole.sums, rtol=1e-12, atol=1e-12)
    assert parts.inertia == pytest.approx(whole.inertia, rel=1e-12, abs=1e-12)
    # And against a naive reduction.
    for k in range(n_clusters):
        members = labels == k
        assert whole.counts[k] == pytest.approx(weight[members].sum(), abs=1e-12)
        np.testing.assert_allclose(whole.sums[k], weight[members] @ X[members], atol=1e-12)
    assert whole.inertia == pytest.approx(weight @ sq)


def test_stats_addition_checks_shapes():
    with pytest.raises(ValueError, match="same n_clusters"):
        KMeansStats.zeros(2, 3) + KMeansStats.zeros(3, 3)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), chunk_size=st.integers(1, 400))
def test_chunk_size_does_not_change_the_fit(seed, chunk_size):
    X = _blobs(seed, n_samples=300)
    reference = KMeans(4, random_state=seed).fit(X)
    chunked = KMeans(4, random_state=seed, chunk_size=chunk_size).fit(X)
    np.testing.assert_array_equal(chunked.labels_, reference.labels_)
    np.testing.assert_allclose(chunked.cluster_centers_, reference.cluster_centers_, rtol=1e-12)
    assert chunked.inertia_ == pytest.approx(reference.inertia_, rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n_clusters=st.integers(1, 4),
    init=st.sampled_from(["k-means++", "random", "lecture"]),
    n_init=st.integers(1, 3),
)
def test_integer_weight_equals_repeated_rows(seed, n_clusters, init, n_init):
    rng = np.random.RandomState(seed)
    n_samples = rng.randint(8, 30)
    X = rng.rand(n_samples, rng.randint(1, 6))
    weight = rng.randint(0, 4, size=n_samples)
    weight[:n_clusters] = 1  # enough positively weighted rows
    X_repeated = np.repeat(X, weight, axis=0)
    X_weighted, w_weighted = shuffle(X, weight, random_state=seed)

    params = dict(n_clusters=n_clusters, init=init, n_init=n_init, random_state=seed)
    relocated = []
    leave_cluster = kmeans_loop._leave_cluster

    def recording(*args):
        relocated.append(True)
        return leave_cluster(*args)

    with warnings.catch_warnings(), mock.patch.object(kmeans_loop, "_leave_cluster",
                                                      recording):
        warnings.simplefilter("ignore", ConvergenceWarning)
        repeated = KMeans(**params).fit(X_repeated)
        weighted = KMeans(**params).fit(X_weighted, sample_weight=w_weighted)
    # Where an empty cluster was re-seeded, the row moved with its whole weight
    # (scikit-learn's rule), where of w copies one moves: the runs part there by
    # design, so the equivalence is asserted for runs without a re-seeding.
    assume(not relocated)
    np.testing.assert_array_equal(weighted.predict(X), repeated.predict(X))
    np.testing.assert_allclose(weighted.cluster_centers_, repeated.cluster_centers_, rtol=1e-9)
    assert weighted.inertia_ == pytest.approx(repeated.inertia_, rel=1e-9)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), init=st.sampled_from(["k-means++", "random", "lecture"]))
def test_float32_in_float32_out(seed, init):
    X = _blobs(seed, n_samples=120).astype(np.float32)
    model = KMeans(3, init=init, random_state=seed).fit(X)
    assert model.cluster_centers_.dtype == np.float32
    assert model.transform(X).dtype == np.float32
    assert model.fit_transform(X).dtype == np.float32
    # From the same start, the same fit as in float64 up to float32 rounding (the
    # seeders' draws depend on the exact bits of X, so they start elsewhere).
    init32 = model.cluster_centers_ + np.float32(0.5)
    fit32 = KMeans(3, init=init32).fit(X)
    fit64 = KMeans(3, init=init32.astype(np.float64)).fit(X.astype(np.float64))
    assert fit32.cluster_centers_.dtype == np.float32
    assert fit64.cluster_centers_.dtype == np.float64
    np.testing.assert_array_equal(fit32.labels_, fit64.labels_)
    np.testing.assert_allclose(fit32.cluster_centers_, fit64.cluster_centers_, rtol=1e-5, atol=1e-5)


def test_integer_input_becomes_float64():
    X = np.array([[0, 0], [0, 1], [10, 0], [10, 1]])
    model = KMeans(2, random_state=0).fit(X)
    assert model.cluster_centers_.dtype == np.float64
    assert model.transform(X).dtype == np.float64


def test_float32_far_from_the_origin_keeps_its_labels():
    # Without subtracting the mean, ‖x‖² ≈ 1e9 leaves float32 no digits for the
    # distances between these unit-scale blobs.
    X = _blobs(0, n_samples=2000, n_features=8, centers=5, std=1.0) + 1e4
    init = X[:5]
    # tol=0: both run to the same fixed point (a tolerance on the centres' shift
    # may stop the two dtypes an iteration apart, which is not what is tested).
    labels64 = KMeans(5, init=init, tol=0).fit(X).labels_
    model32 = KMeans(5, init=init.astype(np.float32), tol=0).fit(X.astype(np.float32))
    np.testing.assert_array_equal(model32.labels_, labels64)


# ---------------------------------------------------------------------------
# the estimator


def test_fit_predict_equals_fit_then_predict_and_transform_is_euclidean():
    X = _blobs(1, centers=5, std=2.0)
    model = KMeans(5, random_state=0, max_iter=3)
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        labels = model.fit_predict(X)
    np.testing.assert_array_equal(labels, model.predict(X))
    np.testing.assert_allclose(model.transform(X), cdist(X, model.cluster_centers_), atol=1e-9)
    assert model.score(X) == pytest.approx(-model.inertia_, rel=1e-12)
    assert model.inertia_ == pytest.approx(_naive_inertia(X, model.cluster_centers_), rel=1e-10)
    assert model.n_iter_ == 3 == len(model.inertia_history_)
    assert model.get_feature_names_out().tolist() == [f"kmeans{i}" for i in range(5)]


def test_converged_is_the_kept_runs_stopping_rule():
    X = _blobs(1, centers=5, std=2.0)
    init = X[:5].copy()  # the same start for every fit below
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        full = KMeans(5, init=init).fit(X)
    assert full.converged_ is True and 1 < full.n_iter_ < full.max_iter
    # Converging at the last allowed iteration is converging: no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exact = KMeans(5, init=init, max_iter=full.n_iter_).fit(X)
    assert exact.converged_ is True and exact.n_iter_ == exact.max_iter
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        short = KMeans(5, init=init, max_iter=1, tol=0).fit(X)
    assert short.converged_ is False and short.n_iter_ == 1


def test_score_uses_sample_weight():
    X = _blobs(2)
    weight = np.random.RandomState(0).uniform(size=len(X))
    model = KMeans(4, random_state=0).fit(X)
    expected = -_naive_inertia(X, model.cluster_centers_, weight)
    assert model.score(X, sample_weight=weight) == pytest.approx(expected, rel=1e-10)


def test_n_init_keeps_the_best_of_reproducible_runs():
    X = _blobs(5, n_samples=400, centers=10, std=1.5)
    best = KMeans(10, n_init=6, random_state=0).fit(X)
    # Each restart is k-means++ from one seed drawn from random_state in turn.
    seeds = np.random.RandomState(0).randint(np.iinfo(np.int32).max, size=6)
    runs = [KMeans(10, init=kmeans_plusplus(X, 10, random_state=s)).fit(X).inertia_
            for s in seeds]
    assert len(set(np.round(runs, 6))) > 1  # the restarts do differ here
    assert best.inertia_ == pytest.approx(min(runs), rel=1e-12)
    again = KMeans(10, n_init=6, random_state=0).fit(X)
    np.testing.assert_array_equal(again.cluster_centers_, best.cluster_centers_)


def test_init_array_is_used_once_whatever_n_init():
    X = _blobs(0)
    init = X[:4].copy()
    # scikit-learn's warning (issue 10): n_init=5 cannot be honoured.
    with pytest.warns(RuntimeWarning, match="performing only one init in KMeans instead of n_init=5"):
        model = KMeans(4, init=init, n_init=5).fit(X)
    reference = lloyd(X, init)
    np.testing.assert_allclose(model.cluster_centers_, reference.centers, rtol=1e-12)
    np.testing.assert_array_equal(model.init, init)  # the parameter is not modified


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(n_clusters=0), ValueError, "n_clusters"),
        (dict(n_clusters=2.5), TypeError, "n_clusters"),
        (dict(n_init=0), ValueError, "n_init"),
        (dict(max_iter=0), ValueError, "max_iter"),
        (dict(tol=-1.0), ValueError, "tol"),
        (dict(chunk_size=0), ValueError, "chunk_size"),
        (dict(init="kmeans++"), ValueError, "init must be one of"),
        (dict(n_clusters=2, init=np.zeros((3, 2))), ValueError, r"number of clusters 2: init must have shape \(2, 2\)"),
        (dict(n_clusters=2, init=np.zeros((2, 3))), ValueError, r"number of features of the data 2: init must have shape \(2, 2\)"),
        (dict(n_clusters=20), ValueError, "n_samples=10 should be >= n_clusters=20; pass more data"),
    ],
)
def test_bad_parameters_raise_clear_errors(params, error, match):
    X = np.random.RandomState(0).rand(10, 2)
    with pytest.raises(error, match=match):
        KMeans(**params).fit(X)


# ---------------------------------------------------------------------------
# degenerate data


def test_duplicated_points():
    X = np.repeat(np.array([[0.0, 0.0], [5.0, 5.0], [9.0, 0.0]]), [10, 1, 4], axis=0)
    model = KMeans(3, random_state=0).fit(X)
    np.testing.assert_allclose(np.sort(model.cluster_centers_[:, 0]), [0.0, 5.0, 9.0])
    assert model.inertia_ == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("init", ["k-means++", "random", "lecture"])
def test_as_many_clusters_as_distinct_points(init):
    rng = np.random.RandomState(0)
    points = rng.normal(size=(6, 3))
    X = points[rng.randint(0, 6, size=60)]
    X[:6] = points  # every point present
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = KMeans(6, init=init, random_state=0).fit(X)
    assert model.inertia_ == pytest.approx(0.0, abs=1e-9)
    assert np.isfinite(model.cluster_centers_).all()
    assert np.bincount(model.labels_, minlength=6).min() > 0


def test_more_clusters_than_distinct_points_warns_and_stays_finite():
    X = np.array([[0.0]] * 5 + [[1.0]] * 5)
    with pytest.warns(ConvergenceWarning, match=r"Number of distinct clusters \(2\) found smaller than n_clusters \(3\)"):
        model = KMeans(3, random_state=0).fit(X)
    assert np.isfinite(model.cluster_centers_).all()
    assert model.inertia_ == pytest.approx(0.0, abs=1e-12)


def test_constant_features():
    rng = np.random.RandomState(0)
    X = np.column_stack([rng.normal(size=100), np.full(100, 3.0), np.zeros(100)])
    for init in ["k-means++", "random", "lecture"]:
        model = KMeans(3, init=init, random_state=0).fit(X)
        np.testing.assert_array_equal(model.cluster_centers_[:, 1:], [[3.0, 0.0]] * 3)
        assert np.isfinite(model.transform(X)).all()


def test_constant_data_with_lecture_init_has_no_nan():
    # std = 0, so every lecture centre is the one point: all but one cluster empty.
    X = np.ones((10, 2))
    with pytest.warns(ConvergenceWarning, match=r"Number of distinct clusters \(1\) found"):
        model = KMeans(3, init="lecture", random_state=0).fit(X)
    np.testing.assert_array_equal(model.cluster_centers_, np.ones((3, 2)))
    assert model.inertia_ == 0.0


def test_one_sample():
    model = KMeans(1).fit([[1.0, 2.0]])
    np.testing.assert_array_equal(model.cluster_centers_, [[1.0, 2.0]])
    with pytest.raises(ValueError, match="n_samples=1 should be >= n_clusters=2"):
        KMeans(2).fit([[1.0, 2.0]])


def test_empty_cluster_from_a_far_centre_is_reseeded_by_the_estimator():
    X = _blobs(0, centers=3)
    init = np.vstack([X[:2], [[1e6, 1e6, 1e6]]])
    model = KMeans(3, init=init).fit(X)
    assert np.bincount(model.labels_, minlength=3).min() > 0
    assert np.abs(model.cluster_centers_).max() < 100


def test_estimator_callback_sees_each_iteration_of_the_run():
    X = _blobs(5, centers=3, std=1.0)
    seen = []
    km = KMeans(3, random_state=0, callback=lambda i, c, j: seen.append((i, j))).fit(X)
    assert [i for i, _ in seen] == list(range(1, km.n_iter_ + 1))
    assert [j for _, j in seen] == km.inertia_history_
    with pytest.raises(TypeError, match="callback must be callable"):
        KMeans(3, callback="print").fit(X)


def test_plain_arrays_and_other_inputs_give_the_same_fit():
    # A C-contiguous float array skips validate_data; anything else goes through it.
    import pandas as pd

    X = _blobs(4, n_samples=400, centers=4, std=1.0)
    init = X[:4].copy()
    fast = KMeans(4, init=init, tol=0).fit(X)
    for other in (np.asfortranarray(X), X.tolist(), pd.DataFrame(X, columns=list("abc"))):
        slow = KMeans(4, init=init, tol=0).fit(other)
        np.testing.assert_array_equal(slow.labels_, fast.labels_)
        np.testing.assert_array_equal(slow.cluster_centers_, fast.cluster_centers_)
    named = KMeans(4, init=init).fit(pd.DataFrame(X, columns=list("abc")))
    assert list(named.feature_names_in_) == list("abc")
    named.fit(X)  # refitting on an unnamed array forgets the names, as validate_data does
    assert not hasattr(named, "feature_names_in_") and named.n_features_in_ == 3
    with pytest.raises(ValueError, match="NaN"):
        KMeans(2).fit(np.where(X > 1e9, 0, np.nan))


def test_squared_shift_is_the_sum_of_squared_moves():
    from mixfit.engine.kmeans_common import _squared_shift

    rng = np.random.default_rng(3)
    new, old = rng.normal(size=(6, 11)), rng.normal(size=(6, 11))
    assert _squared_shift(new, old) == pytest.approx(float(((new - old) ** 2).sum()), rel=1e-14)
    assert _squared_shift(old, old) == 0.0
    assert _squared_shift(new.astype(np.float32), old) == pytest.approx(
        float(((new.astype(np.float32).astype(np.float64) - old) ** 2).sum()), rel=1e-14)
    with pytest.raises(ValueError, match="same shape"):
        _squared_shift(new[:5], old)
