"""StudentMixture: densities against scipy, fixed parameters, labels, input checks, sklearn."""

import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats
from scipy.special import logsumexp
from sklearn.utils.estimator_checks import parametrize_with_checks

from mixfit import GaussianMixture, StudentMixture


def two_t_clusters(n=300, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.standard_t(4, size=(n, 2)),
                   rng.standard_t(4, size=(n, 2)) * [1.0, 0.5] + [9.0, 1.0]])
    return X.astype(dtype)


def scipy_mixture_log_density(model, X):
    """log Σ_k w_k multivariate_t(μ_k, Σ_k, ν_k).pdf(x) from the fitted attributes."""
    d = X.shape[1]
    family = model._fitted_family()
    terms = []
    for k in range(model.n_components):
        scale = family.structure.component_covariance(
            np.asarray(model.covariances_, dtype=np.float64), k, d)
        t = scipy_stats.multivariate_t(loc=model.means_[k], shape=scale,
                                       df=model.degrees_of_freedom_[k])
        terms.append(np.log(model.weights_[k]) + t.logpdf(X))
    return logsumexp(np.column_stack(terms), axis=1)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical", "VEV"])
def test_score_samples_equals_the_scipy_mixture_density(covariance_type):
    X = two_t_clusters()
    model = StudentMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    assert model.converged_
    expected = scipy_mixture_log_density(model, X)
    np.testing.assert_allclose(model.score_samples(X), expected, rtol=1e-8, atol=0)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X), proba.argmax(axis=1))


def test_the_fit_is_robust_where_a_gaussian_mixture_is_not():
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(size=(380, 2)), rng.uniform(20.0, 30.0, size=(20, 2))])
    t_mean = StudentMixture(1, random_state=0).fit(X).means_[0]
    gaussian_mean = GaussianMixture(1, random_state=0).fit(X).means_[0]
    # 5% of the rows ~25 away move a mean by ~1.25 per axis; a t location stays
    # within a few standard errors (1/sqrt(380) ≈ 0.05) of the inliers' centre.
    assert np.linalg.norm(gaussian_mean) > 1.5
    assert np.linalg.norm(t_mean) < 0.25


def test_fixed_dof_is_kept_and_not_counted_by_bic():
    X = two_t_clusters()
    free = StudentMixture(2, random_state=0).fit(X)
    fixed = StudentMixture(2, degrees_of_freedom=3.0, random_state=0).fit(X)
    np.testing.assert_array_equal(fixed.degrees_of_freedom_, [3.0, 3.0])
    assert not np.allclose(free.degrees_of_freedom_, 3.0)
    n = X.shape[0]
    # K·d means + K·3 scale entries + (K − 1) weights, plus K ν when estimated.
    p_fixed = 4 + 6 + 1
    assert fixed.bic(X) == pytest.approx(-2 * fixed.score(X) * n + p_fixed * np.log(n),
                                         rel=1e-12)
    assert free.bic(X) == pytest.approx(-2 * free.score(X) * n + (p_fixed + 2) * np.log(n),
                                        rel=1e-12)


def test_fixed_params_hold_their_initial_values():
    X = two_t_clusters()
    means = np.array([[0.5, 0.0], [8.0, 1.5]])
    model = StudentMixture(2, means_init=means, degrees_of_freedom_init=7.0,
                           fixed_params=["means", "degrees_of_freedom", "weights"],
                           weights_init=[0.3, 0.7], random_state=0).fit(X)
    np.testing.assert_array_equal(model.means_, means)
    np.testing.assert_array_equal(model.degrees_of_freedom_, [7.0, 7.0])
    np.testing.assert_array_equal(model.weights_, [0.3, 0.7])
    n = X.shape[0]
    assert model.bic(X) == pytest.approx(-2 * model.score(X) * n + 6 * np.log(n), rel=1e-12)
    with pytest.raises(ValueError, match="fixed_params names unknown parameter"):
        StudentMixture(2, fixed_params=["rates"]).fit(X)


def test_partial_labels_pin_rows_to_their_component():
    X = two_t_clusters()
    labels = np.full(X.shape[0], -1)
    labels[300:310] = 0  # a few rows of the cluster at (9, 1) name component 0
    model = StudentMixture(2, semi_supervised=True, random_state=0).fit(X, labels)
    assert model.means_[0, 0] > 7.0 and model.means_[1, 0] < 2.0


def test_float32_stays_float32():
    X = two_t_clusters(dtype=np.float32)
    model = StudentMixture(2, random_state=0).fit(X)
    for name in ("means_", "covariances_", "degrees_of_freedom_", "weights_"):
        assert getattr(model, name).dtype == np.float32, name
    assert model.score_samples(X).dtype == np.float32


def test_bad_input_is_refused_at_fit_naming_the_problem():
    X = two_t_clusters(n=20)
    StudentMixture(degrees_of_freedom=-1.0)  # __init__ only stores
    with pytest.raises(ValueError, match="degrees_of_freedom must be finite and > 0"):
        StudentMixture(degrees_of_freedom=-1.0).fit(X)
    with pytest.raises(ValueError, match="covariance_type must be one of"):
        StudentMixture(covariance_type="round").fit(X)
    with pytest.raises(ValueError, match="reg_covar"):
        StudentMixture(reg_covar=-1.0).fit(X)
    with pytest.raises(ValueError, match=r"degrees_of_freedom\[0\] must be"):
        StudentMixture(2, degrees_of_freedom_init=0.0).fit(X)
    with pytest.raises(ValueError, match="differ from the family's fixed"):
        StudentMixture(2, degrees_of_freedom=4.0, degrees_of_freedom_init=5.0).fit(X)
    holed = X.copy()
    holed[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"1 NaN value\(s\), in column\(s\) 1"):
        StudentMixture(2).fit(holed)


def test_samples_come_from_the_fitted_components():
    X = two_t_clusters()
    model = StudentMixture(2, random_state=0).fit(X)
    draws, components = model.sample(4000)
    assert draws.shape == (4000, 2)
    for k in range(2):
        mine = draws[components == k]
        # The median of a symmetric t is its location; its standard error for
        # n draws is about 1.25·scale/sqrt(n) (≤ 0.05 here), so 0.25 is > 5 se.
        np.testing.assert_allclose(np.median(mine, axis=0), model.means_[k], atol=0.25)


@pytest.mark.parametrize("kwargs, dtype", [
    ({}, np.float64),
    ({"covariance_type": "diag", "degrees_of_freedom": 4.0, "fixed_params": ["means"],
      "means_init": np.array([[0.0, 0.0], [9.0, 1.0]])}, np.float64),
    ({"covariance_type": "VEV"}, np.float32),
])
def test_a_saved_model_loads_with_the_same_parameters_and_densities(tmp_path, kwargs, dtype):
    import mixfit

    X = two_t_clusters(dtype=dtype)
    model = StudentMixture(2, random_state=0, **kwargs).fit(X)
    path = tmp_path / "student.mixfit"
    mixfit.save(model, path)
    loaded = mixfit.load(path)
    assert type(loaded) is StudentMixture
    for name in ("weights_", "means_", "covariances_", "degrees_of_freedom_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))
        assert getattr(loaded, name).dtype == dtype, name
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))
    assert loaded.bic(X) == model.bic(X)
    ours, theirs = model.get_params(), loaded.get_params()
    assert set(ours) == set(theirs)
    for name, value in ours.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(theirs[name], value)
        else:
            assert theirs[name] == value, name


def test_the_doc_page_example_runs_and_shows_what_it_says(capsys):
    page = Path(__file__).resolve().parents[1] / "docs" / "families" / "student.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
    namespace = {}
    for block in blocks:
        exec(block, namespace)  # noqa: S102 - the documentation's own example
    printed = capsys.readouterr().out.split("\n")
    commented = re.findall(r"^print\(.*?# (\[.*?\])", blocks[0], re.M)
    assert printed[:len(commented)] == commented
    assert np.isinf(namespace["covariances"][namespace["t"].degrees_of_freedom_ <= 2]).all()


@parametrize_with_checks([
    StudentMixture(),
    StudentMixture(2, covariance_type="diag", degrees_of_freedom=4.0, random_state=0),
])
def test_sklearn_checks(estimator, check):
    check(estimator)
