"""GaussianMixture the estimator: scikit-learn parity, restarts, weights, dtypes, degenerate data."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from mixfit import GaussianMixture
from mixfit.families import GaussianFamily

from conftest import make_blobs

COVARIANCE_TYPES = ["identity", "spherical", "diag", "tied", "full"]
SKLEARN_TYPES = ["spherical", "diag", "tied", "full"]


def shared_start(X, covariance_type, n_components=3, seed=0):
    """Initial weights, means and precisions both libraries accept."""
    rng = np.random.default_rng(seed)
    family = GaussianFamily(covariance_type)
    resp = rng.dirichlet(np.ones(n_components), size=X.shape[0])
    params = family.m_step(family.stats(X, resp))
    weights = resp.sum(axis=0) / resp.sum()
    precisions = family.structure.precisions_from_cholesky(params.precisions_cholesky)
    return dict(weights_init=weights, means_init=params.means, precisions_init=precisions)


def max_relative(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


@pytest.mark.parametrize("covariance_type", SKLEARN_TYPES)
def test_reproduces_sklearn_from_identical_start(covariance_type):
    X, _ = make_blobs(n_per=(200, 150, 170), n_features=3, separation=3.0, seed=2)
    start = shared_start(X, covariance_type)
    common = dict(covariance_type=covariance_type, tol=1e-8, max_iter=60, **start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = GaussianMixture(3, chunk_size=97, **common).fit(X)
        theirs = SkGaussianMixture(3, **common).fit(X)
    assert ours.n_iter_ == theirs.n_iter_
    assert max_relative(ours.lower_bounds_, theirs.lower_bounds_) < 1e-7
    assert max_relative(ours.weights_, theirs.weights_) < 1e-7
    assert max_relative(ours.means_, theirs.means_) < 1e-7
    # Relative to the largest entry: off-diagonal covariances can be ~0.
    scale = np.abs(theirs.covariances_).max()
    assert np.abs(ours.covariances_ - theirs.covariances_).max() / scale < 1e-7
    scale = np.abs(theirs.precisions_).max()
    assert np.abs(ours.precisions_ - theirs.precisions_).max() / scale < 1e-7
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.score_samples(X), theirs.score_samples(X), rtol=1e-7)
    assert ours.bic(X) == pytest.approx(theirs.bic(X), rel=1e-7)
    assert ours.aic(X) == pytest.approx(theirs.aic(X), rel=1e-7)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize(
    "init_params", ["kmeans", "k-means++", "random", "random_from_data", "lecture"]
)
def test_every_init_fits_finite_parameters(covariance_type, init_params):
    X, y = make_blobs(seed=3)
    gm = GaussianMixture(
        3, covariance_type=covariance_type, init_params=init_params, random_state=0,
        max_iter=300,
    ).fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert np.isfinite(getattr(gm, name)).all(), name
    assert gm.weights_.sum() == pytest.approx(1.0)
    assert gm.converged_


def test_lecture_init_is_the_mean_plus_small_noise():
    X, _ = make_blobs(seed=4)
    gm = GaussianMixture(3, covariance_type="identity", init_params="lecture",
                         max_iter=0, random_state=0).fit(X)
    offsets = (gm.means_ - X.mean(axis=0)) / X.std(axis=0)
    assert np.abs(offsets).max() < 0.05  # 0.01·std·N(0,1): 5 sigma at most
    assert np.abs(offsets).max() > 0  # but not the mean itself
    np.testing.assert_allclose(gm.weights_, 1 / 3)


def test_resp_init_gives_the_m_step_of_those_responsibilities():
    X, y = make_blobs(seed=5)
    resp = np.eye(3)[y] * 2.0  # rows are normalised, so the scale does not matter
    gm = GaussianMixture(3, covariance_type="full", resp_init=resp, max_iter=0).fit(X)
    for k in range(3):
        np.testing.assert_allclose(gm.means_[k], X[y == k].mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(gm.weights_, np.bincount(y) / len(y), rtol=1e-10)


def test_fit_predict_equals_fit_then_predict():
    X, _ = make_blobs(seed=6)
    for max_iter in (1, 2, 100):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            a = GaussianMixture(3, random_state=1, max_iter=max_iter).fit_predict(X)
            b = GaussianMixture(3, random_state=1, max_iter=max_iter).fit(X).predict(X)
        np.testing.assert_array_equal(a, b)


def test_restarts_are_reproducible_and_keep_the_best():
    X, _ = make_blobs(n_per=(60, 60, 60, 60), separation=2.0, seed=7)
    one = GaussianMixture(4, init_params="random", random_state=3).fit(X)
    many = GaussianMixture(4, init_params="random", n_init=5, random_state=3).fit(X)
    again = GaussianMixture(4, init_params="random", n_init=5, random_state=3).fit(X)
    # The first restart of the five is the single run; the best is at least as good.
    assert many.lower_bound_ >= one.lower_bound_
    np.testing.assert_array_equal(many.means_, again.means_)
    assert many.lower_bounds_[-1] == many.lower_bound_


def test_not_converging_warns():
    X, _ = make_blobs(seed=8)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        gm = GaussianMixture(3, max_iter=1, tol=0.0, random_state=0).fit(X)
    assert not gm.converged_ and gm.n_iter_ == 1


def test_responsibilities_sum_to_one():
    X, _ = make_blobs(seed=9)
    proba = GaussianMixture(3, random_state=0).fit(X).predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert (proba >= 0).all()


@settings(max_examples=15, deadline=None)
@given(
    covariance_type=st.sampled_from(COVARIANCE_TYPES),
    weights=st.lists(st.integers(0, 3), min_size=90, max_size=90),
)
def test_integer_weight_equals_repeated_rows(covariance_type, weights):
    X, _ = make_blobs(n_per=(30, 30, 30), seed=10)
    weights = np.array(weights)
    weights[[0, 30, 60]] = 1  # every cluster keeps at least one sample
    kwargs = dict(covariance_type=covariance_type, random_state=0, tol=1e-10, max_iter=200)
    weighted = GaussianMixture(3, **kwargs).fit(X, sample_weight=weights)
    repeated = GaussianMixture(3, **kwargs).fit(np.repeat(X, weights, axis=0))
    np.testing.assert_allclose(weighted.means_, repeated.means_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(weighted.weights_, repeated.weights_, rtol=1e-6)
    np.testing.assert_allclose(weighted.lower_bound_, repeated.lower_bound_, rtol=1e-8)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_in_float32_out_and_close_to_float64(covariance_type):
    X64, _ = make_blobs(seed=11)
    X32 = X64.astype(np.float32)
    start = dict(means_init=X64[[0, 160, 300]], random_state=0, tol=1e-8, max_iter=500,
                 covariance_type=covariance_type)
    gm32 = GaussianMixture(3, **start).fit(X32)
    gm64 = GaussianMixture(3, **start).fit(X64)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"):
        assert getattr(gm32, name).dtype == np.float32, name
    for out in (gm32.predict_proba(X32), gm32.score_samples(X32), gm32.sample(5)[0]):
        assert out.dtype == np.float32
    np.testing.assert_allclose(gm32.means_, gm64.means_, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gm32.weights_, gm64.weights_, rtol=1e-4)


def test_sample_respects_weights_and_components():
    X, _ = make_blobs(seed=12)
    gm = GaussianMixture(3, random_state=0).fit(X)
    draws, labels = gm.sample(30000)
    assert draws.shape == (30000, 2)
    np.testing.assert_allclose(np.bincount(labels) / 30000, gm.weights_, atol=0.015)
    for k in range(3):
        np.testing.assert_allclose(draws[labels == k].mean(axis=0), gm.means_[k], atol=0.1)


def test_score_is_mean_score_samples_and_bic_penalises_parameters():
    X, _ = make_blobs(seed=13)
    diag = GaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    assert diag.score(X) == pytest.approx(diag.score_samples(X).mean())
    n = X.shape[0]
    n_params = 3 * 2 + 3 * 2 + 2  # means, variances, weights
    assert diag.bic(X) == pytest.approx(-2 * diag.score(X) * n + n_params * np.log(n))
    assert diag.aic(X) == pytest.approx(-2 * diag.score(X) * n + 2 * n_params)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_degenerate_data_gives_finite_parameters(covariance_type):
    rng = np.random.default_rng(14)
    distinct = rng.normal(size=(4, 3))
    duplicated = np.repeat(distinct, 25, axis=0)
    constant_feature = np.column_stack([rng.normal(size=(100, 2)), np.full(100, 7.0)])
    cases = {
        "duplicated points": (duplicated, 2),
        "K equals the number of distinct points": (duplicated, 4),
        "constant feature": (constant_feature, 2),
    }
    for name, (X, k) in cases.items():
        gm = GaussianMixture(k, covariance_type=covariance_type, random_state=0).fit(X)
        for attr in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
            assert np.isfinite(getattr(gm, attr)).all(), (name, attr)
        assert np.isfinite(gm.score_samples(X)).all(), name
    # With K equal to the distinct points, each point gets its own component.
    gm = GaussianMixture(4, covariance_type=covariance_type, random_state=0).fit(duplicated)
    assert len(np.unique(gm.predict(distinct))) == 4


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n_components=0), ValueError, "n_components must be an integer >= 1"),
        (dict(n_components=2.5), TypeError, "n_components must be an integer"),
        (dict(covariance_type="banana"), ValueError, "covariance_type must be one of"),
        (dict(tol=-1.0), ValueError, "tol must be a finite number >= 0"),
        (dict(reg_covar=float("nan")), ValueError, "reg_covar"),
        (dict(max_iter=-1), ValueError, "max_iter must be an integer >= 0"),
        (dict(n_init=0), ValueError, "n_init must be an integer >= 1"),
        (dict(init_params="best"), ValueError, "init_params must be one of"),
        (dict(weights_init=[0.5, 0.6]), ValueError, "'weights' should be normalized.*normalise weights_init"),
        (dict(weights_init=[1.0]), ValueError, r"\'weights\' should have the shape of \(2,\).*weights_init"),
        (dict(means_init=np.zeros((2, 5))), ValueError, r"\'means\' should have the shape of \(2, 2\).*means_init"),
        (dict(precisions_init=-np.ones((2, 2)), covariance_type="diag"), ValueError,
         "should be positive: precisions_init for 'diag' covariances must hold positive"),
        (dict(precisions_init=np.array([[[1, 2], [2, 1]]] * 2), covariance_type="full"),
         ValueError, "positive definite"),
        (dict(precisions_init=np.ones(2), covariance_type="identity"), ValueError,
         "fixed to the identity"),
        (dict(resp_init=np.ones((3, 2))), ValueError, r"should have the shape of \(50, 2\).*resp_init"),
        (dict(callback=3), TypeError, "callback must be callable"),
    ],
)
def test_bad_settings_raise_clear_errors(kwargs, error, match):
    X = np.random.default_rng(0).normal(size=(50, 2))
    params = dict(n_components=2) | kwargs
    with pytest.raises(error, match=match):
        GaussianMixture(**params).fit(X)


def test_fewer_samples_than_components_is_refused():
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixture(5).fit(np.random.default_rng(0).normal(size=(4, 2)))


def test_verbose_prints_progress(capsys):
    X, _ = make_blobs(seed=15)
    GaussianMixture(3, verbose=2, verbose_interval=1, random_state=0).fit(X)
    out = capsys.readouterr().out
    # scikit-learn's format (see tests/test_sklearn_params.py for its details).
    assert "  Iteration 1\t time lapse" in out and "Initialization 0" in out


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_complete_user_start_skips_the_data_driven_init(covariance_type, monkeypatch):
    # Weights, means and precisions all given: the K-means start would be thrown away.
    from mixfit.estimators import _gmm_init as gaussian_mixture  # where the starts are chosen

    X, _ = make_blobs(n_per=(100, 120, 90), n_features=3, separation=3.0, seed=11)
    start = shared_start(X, "spherical" if covariance_type == "identity" else covariance_type)
    if covariance_type == "identity":
        del start["precisions_init"]
    settings = dict(covariance_type=covariance_type, max_iter=5, tol=0, random_state=0, **start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        expected = GaussianMixture(3, init_params="random", **settings).fit(X)

        def refuse(*args, **kwargs):
            raise AssertionError("the data-driven init ran")

        monkeypatch.setattr(gaussian_mixture, "initial_mixture_params", refuse)
        fitted = GaussianMixture(3, **settings).fit(X)
    np.testing.assert_array_equal(fitted.lower_bounds_, expected.lower_bounds_)
    np.testing.assert_array_equal(fitted.means_, expected.means_)
    # With only some of them given, the data-driven init still runs.
    partial = {key: value for key, value in settings.items() if key != "weights_init"}
    with pytest.raises(AssertionError, match="data-driven init ran"):
        GaussianMixture(3, **partial).fit(X)
