"""When a K-means run stops, and how its iterations are counted (issue 10).

``tol`` has scikit-learn's meaning: a run stops when the centres' summed squared
shift over one update is at most ``tol`` times the data's mean column variance, or
when no label changes. ``n_iter_`` counts as scikit-learn counts, empty clusters are
relocated as scikit-learn relocates them (the chosen row leaves its old cluster),
and the centres stay in float64 between iterations so that float32 data far from
the origin follow float64's path.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.cluster import KMeans as SklearnKMeans
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning

from mixfit import KMeans
from mixfit.engine.kmeans import lloyd


def _blobs(seed=0, n_samples=3000, n_features=5, centers=8, std=2.5):
    X, _ = make_blobs(n_samples, n_features=n_features, centers=centers,
                      cluster_std=std, random_state=seed)
    return X


@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
@pytest.mark.parametrize("tol", [1e-1, 1e-2, 1e-4, 0.0])
def test_same_stop_as_scikit_learn_from_the_same_start(tol, algorithm):
    # Overlapping blobs, so that runs take several iterations and a tolerance
    # stop differs from a strict one; 8 starts per setting.
    X = _blobs()
    iterations = set()
    for seed in range(8):
        init = X[np.random.RandomState(seed).choice(len(X), 8, replace=False)]
        ours = KMeans(8, init=init, tol=tol, algorithm=algorithm).fit(X)
        theirs = SklearnKMeans(8, init=init, n_init=1, tol=tol, algorithm=algorithm).fit(X)
        assert ours.n_iter_ == theirs.n_iter_, (seed, ours.n_iter_, theirs.n_iter_)
        np.testing.assert_array_equal(ours.labels_, theirs.labels_)
        np.testing.assert_allclose(ours.inertia_, theirs.inertia_, rtol=1e-10)
        iterations.add(ours.n_iter_)
    assert len(iterations) > 1  # the starts do differ in how long they run


def test_tolerance_is_relative_to_the_mean_column_variance():
    X = _blobs(1)
    init = X[:8].copy()
    base = KMeans(8, init=init, tol=1e-2).fit(X)
    # Scaling the data scales the variance with it: the run stops at the same
    # iteration, which an absolute tolerance would not do.
    scaled = KMeans(8, init=init * 1000.0, tol=1e-2).fit(X * 1000.0)
    assert scaled.n_iter_ == base.n_iter_
    strict = KMeans(8, init=init, tol=0).fit(X)
    assert strict.n_iter_ > base.n_iter_


def test_tolerance_counts_a_weighted_row_as_its_copies():
    rng = np.random.RandomState(3)
    X = _blobs(2, n_samples=400)
    weight = rng.randint(1, 4, size=len(X))
    init = X[:8].copy()
    weighted = KMeans(8, init=init, tol=1e-2).fit(X, sample_weight=weight)
    repeated = KMeans(8, init=init, tol=1e-2).fit(np.repeat(X, weight, axis=0))
    assert weighted.n_iter_ == repeated.n_iter_
    np.testing.assert_allclose(weighted.cluster_centers_, repeated.cluster_centers_,
                               rtol=1e-10)


def test_relocated_cluster_takes_its_row_out_of_the_old_mean():
    # The second centre is too far to get a row; it moves to a row farthest from
    # its centre, and that row leaves cluster 0, whose mean is then of the rest.
    X = np.array([[0, 0], [0.5, 0], [0.5, 1], [1, 1]], dtype=float)
    model = KMeans(2, init=np.array([[0.5, 0.5], [3.0, 3.0]]), n_init=1).fit(X)
    assert model.n_iter_ == 3  # scikit-learn's count for this example
    np.testing.assert_allclose(model.inertia_, 0.25)
    assert sorted(model.cluster_centers_.tolist()) == [[0.25, 0.0], [0.75, 1.0]]


def test_more_centres_than_distinct_rows_stops_after_one_iteration():
    X = np.array([[0, 0], [1, 1], [1, 1], [1, 0], [0, 1]], dtype=float)
    with pytest.warns(ConvergenceWarning, match=r"distinct clusters \(4\)"):
        model = KMeans(5, init=X).fit(X)
    # Nothing can move (no row is left to relocate to): the first update is the last.
    assert model.n_iter_ == 1


def test_engine_reports_how_the_run_stopped():
    X = _blobs(4)
    init = X[:8].copy()
    strict = lloyd(X, init, tol=0.0)
    assert strict.converged and strict.strict and strict.center_shift == 0.0
    loose = lloyd(X, init, tol=1e-2 * np.var(X, axis=0).mean())
    assert loose.converged and not loose.strict
    assert 0.0 < loose.center_shift <= 1e-2 * np.var(X, axis=0).mean()
    capped = lloyd(X, init, tol=0.0, max_iter=2)
    assert not capped.converged and capped.n_iter == 2


def test_float32_far_from_the_origin_follows_the_float64_run():
    # Centres kept in float32 at an offset of 1e4 are rounded to 1e-3 at every
    # update; the run then drifts from float64's (scikit-learn centres its data).
    X = _blobs(0, n_samples=2000, n_features=8, centers=5, std=1.0) + 1e4
    init = X[:5]
    run64 = KMeans(5, init=init, tol=0).fit(X)
    run32 = KMeans(5, init=init.astype(np.float32), tol=0).fit(X.astype(np.float32))
    assert run32.n_iter_ == run64.n_iter_
    np.testing.assert_array_equal(run32.labels_, run64.labels_)
    assert run32.cluster_centers_.dtype == np.float32
    np.testing.assert_allclose(run32.cluster_centers_, run64.cluster_centers_, rtol=1e-6)
    # The returned (rounded) centres are what the labels belong to.
    np.testing.assert_array_equal(run32.predict(X.astype(np.float32)), run32.labels_)


def _count_lloyd_steps(monkeypatch):
    """Record the dtype of the centres each Lloyd E-step is given (plain or with
    carried statistics: the loop calls one or the other)."""
    from mixfit.engine import kmeans_carried, kmeans_steps

    calls = []
    for step in (kmeans_steps._LloydEStep, kmeans_carried._CarriedLloydEStep):
        def counted(self, centers, original=step.__call__, step=step):
            if type(self).__call__ is step.__call__:  # not the carried step's fresh sum
                calls.append(np.asarray(centers).dtype)
            return original(self, centers)

        monkeypatch.setattr(step, "__call__", counted)
    return calls


@pytest.mark.parametrize("n_features", [5, 40])  # the SIMD and the GEMM E-steps
def test_float32_strict_stop_labels_the_returned_centres_in_its_last_step(
        monkeypatch, n_features):
    # Once labels have nearly settled, a float32 step uses the centres rounded as
    # they are returned; a run that stops because no label changed has then
    # labelled the returned centres already: n_iter E-steps, as scikit-learn runs,
    # and not one more pass over X.
    calls = _count_lloyd_steps(monkeypatch)
    X = _blobs(5, n_samples=4000, n_features=n_features).astype(np.float32)
    model = KMeans(8, init=X[:8], tol=0, algorithm="lloyd").fit(X)
    assert model.n_iter_ < model.max_iter  # stopped because no label changed
    assert len(calls) == model.n_iter_
    assert calls[0] == np.float64 and calls[-1] == np.float32
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    np.testing.assert_allclose(model.inertia_, -model.score(X), rtol=1e-5)


def test_float32_tolerance_stop_labels_the_returned_centres_after_it(monkeypatch):
    # A stop on the centres' shift follows an update, so the returned centres
    # have not been used yet: one more pass labels them (scikit-learn's too).
    calls = _count_lloyd_steps(monkeypatch)
    X = _blobs(5, n_samples=4000).astype(np.float32)
    model = KMeans(8, init=X[:8], tol=1e-2, algorithm="lloyd").fit(X)
    assert len(calls) == model.n_iter_ + 1 and calls[-1] == np.float32
    np.testing.assert_array_equal(model.predict(X), model.labels_)


def test_public_interface_covers_scikit_learns():
    """Every public method, constructor parameter and fitted attribute of scikit-learn's
    KMeans and GaussianMixture exists on mixfit's (mixfit adds a few of its own)."""
    from inspect import signature

    from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

    from mixfit import GaussianMixture

    X = _blobs(5, n_samples=200)
    pairs = [(KMeans(3, random_state=0), SklearnKMeans(3, random_state=0)),
             (GaussianMixture(2, random_state=0), SklearnGaussianMixture(2, random_state=0))]
    for ours, theirs in pairs:
        public = {name for name in dir(type(theirs)) if not name.startswith("_")}
        assert public <= set(dir(type(ours))), public - set(dir(type(ours)))
        assert set(signature(type(theirs)).parameters) <= set(signature(type(ours)).parameters)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ours.fit(X)
            theirs.fit(X)
        fitted = {k for k in vars(theirs) if k.endswith("_") and not k.startswith("_")}
        assert fitted <= set(vars(ours)), fitted - set(vars(ours))
    # transform's output names and pandas output, as scikit-learn's KMeans gives them.
    model = KMeans(3, random_state=0).set_output(transform="pandas").fit(X)
    frame = model.transform(X)
    assert list(frame.columns) == ["kmeans0", "kmeans1", "kmeans2"]
    assert list(model.get_feature_names_out()) == ["kmeans0", "kmeans1", "kmeans2"]


@pytest.mark.parametrize("seed", range(4))
def test_far_points_search_in_blocks_chooses_what_the_full_scan_chose(seed):
    from scipy import sparse

    from mixfit.engine import kmeans_loop

    rng = np.random.default_rng(seed)
    # Few distinct rows, many copies (so copies of a chosen row must be passed
    # over, across blocks), some rows sitting on their centre.
    distinct = rng.integers(0, 4, size=(40, 3)).astype(np.float64)
    X = distinct[rng.integers(0, 40, size=3000)]
    centers = distinct[:5].copy()
    dist = ((X[:, None, :] - centers[None]) ** 2).sum(axis=2)
    labels = dist.argmin(axis=1)
    # A rounding residue, as the GEMM formula leaves: rows on their centre are
    # then candidates that the value comparison must turn down.
    min_sq_dist = dist.min(axis=1) + 1e-12
    assert np.any(dist.min(axis=1) == 0)
    for n_wanted in (1, 3, 12, 60):
        dense = kmeans_loop._far_points(X, labels, min_sq_dist, centers, None, n_wanted)
        # CSR input keeps the full-scan search: the reference.
        full = kmeans_loop._far_points(sparse.csr_matrix(X), labels, min_sq_dist, centers,
                                       None, n_wanted)
        assert [int(row) for row in dense] == [int(row) for row in full]
        values = {tuple(X[row]) for row in dense}
        assert len(values) == len(dense)  # distinct rows
        assert all(not np.array_equal(X[row], centers[labels[row]]) for row in dense)
