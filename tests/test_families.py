"""The Gaussian family against closed forms and scipy.stats."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from mixfit.families import STRUCTURES, GaussianFamily
from mixfit.families.gaussian.covariance import CollapsedComponentError

ESTIMATED = ["spherical", "diag", "tied", "full"]
ALL = ["identity"] + ESTIMATED


def random_params(family, n_components, n_features, rng):
    """Random valid parameters for a structure, via random responsibilities."""
    X = rng.normal(size=(60, n_features)) * rng.uniform(0.5, 2, size=n_features)
    resp = rng.dirichlet(np.ones(n_components), size=60)
    return family.m_step(family.stats(X, resp))


def full_covariance(family, params, k):
    n_features = params.means.shape[1]
    return family.structure.component_covariance(params.covariances, k, n_features)


@pytest.mark.parametrize("covariance_type", ALL)
def test_log_prob_matches_scipy(covariance_type):
    rng = np.random.default_rng(1)
    family = GaussianFamily(covariance_type)
    params = random_params(family, 3, 4, rng)
    X = rng.normal(size=(25, 4)) * 2
    log_prob = family.log_prob(X, params)
    for k in range(3):
        expected = sps.multivariate_normal(
            params.means[k], full_covariance(family, params, k)
        ).logpdf(X)
        np.testing.assert_allclose(log_prob[:, k], expected, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", ALL)
def test_precision_cholesky_factors_the_inverse_covariance(covariance_type):
    family = GaussianFamily(covariance_type)
    params = random_params(family, 2, 3, np.random.default_rng(2))
    precisions = family.structure.precisions_from_cholesky(params.precisions_cholesky)
    for k in range(2):
        cov = full_covariance(family, params, k)
        prec = family.structure.component_covariance(precisions, k, 3)
        np.testing.assert_allclose(prec @ cov, np.eye(3), atol=1e-10)


def test_full_m_step_is_the_weighted_covariance_plus_reg():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    w = rng.uniform(0.1, 1, size=40)
    family = GaussianFamily("full", reg_covar=0.25)
    params = family.m_step(family.stats(X, w[:, None]))
    mean = np.average(X, axis=0, weights=w)
    expected = np.cov(X.T, aweights=w, bias=True) + 0.25 * np.eye(3)
    np.testing.assert_allclose(params.means[0], mean, rtol=1e-12)
    np.testing.assert_allclose(params.covariances[0], expected, rtol=1e-12)


def test_spherical_is_mean_of_diag_and_tied_is_pooled():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(50, 3)) * [1, 2, 3]
    resp = rng.dirichlet(np.ones(2), size=50)
    diag = GaussianFamily("diag", reg_covar=0).m_step(GaussianFamily("diag").stats(X, resp))
    sph = GaussianFamily("spherical", reg_covar=0).m_step(
        GaussianFamily("spherical").stats(X, resp)
    )
    np.testing.assert_allclose(sph.covariances, diag.covariances.mean(axis=1), rtol=1e-12)
    full = GaussianFamily("full", reg_covar=0).m_step(GaussianFamily("full").stats(X, resp))
    tied = GaussianFamily("tied", reg_covar=0).m_step(GaussianFamily("tied").stats(X, resp))
    counts = resp.sum(axis=0)
    pooled = (counts[:, None, None] * full.covariances).sum(axis=0) / counts.sum()
    np.testing.assert_allclose(tied.covariances, pooled, rtol=1e-10)


def test_identity_covariance_is_fixed_and_ignores_reg_covar():
    X = np.random.default_rng(5).normal(size=(30, 2)) * 10
    family = GaussianFamily("identity", reg_covar=5.0)
    params = family.m_step(family.stats(X, np.ones((30, 2)) / 2))
    np.testing.assert_array_equal(params.covariances, np.ones(2))
    np.testing.assert_array_equal(params.precisions_cholesky, np.ones(2))


@pytest.mark.parametrize(
    "covariance_type, expected",
    # K=3 components in d=4: means 12, then the covariance parameters.
    [("identity", 12), ("spherical", 15), ("diag", 24), ("tied", 22), ("full", 42)],
)
def test_n_parameters(covariance_type, expected):
    assert GaussianFamily(covariance_type).n_parameters(3, 4) == expected


def test_unknown_covariance_type_lists_the_choices():
    with pytest.raises(ValueError, match="covariance_type must be one of"):
        GaussianFamily("banana")


@pytest.mark.parametrize("covariance_type", ESTIMATED)
def test_zero_reg_on_a_collapsed_component_names_it(covariance_type):
    # Collinear points (singular for full and tied) and a one-point component
    # (zero variance for diag and spherical).
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    resp = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    family = GaussianFamily(covariance_type, reg_covar=0.0)
    with pytest.raises(CollapsedComponentError, match="reg_covar"):
        family.m_step(family.stats(X, resp))


@pytest.mark.parametrize("covariance_type", ALL)
def test_empty_component_stays_finite(covariance_type):
    X = np.random.default_rng(6).normal(size=(20, 3))
    resp = np.zeros((20, 2))
    resp[:, 0] = 1.0
    family = GaussianFamily(covariance_type)
    params = family.m_step(family.stats(X, resp))
    for array in (params.means, params.covariances, params.precisions_cholesky):
        assert np.isfinite(array).all()


@pytest.mark.parametrize("covariance_type", ESTIMATED)
def test_float32_far_from_origin_keeps_covariance_accurate(covariance_type):
    # E[x²] − μ² would cancel every digit here: the offset squared is 1e8,
    # float32 keeps 7 digits, the variance is ~1.
    rng = np.random.default_rng(7)
    X64 = 1e4 + rng.normal(size=(5000, 2))
    X32 = X64.astype(np.float32)
    resp = np.ones((5000, 1))
    family = GaussianFamily(covariance_type, reg_covar=0)
    cov32 = family.m_step(family.stats(X32, resp), dtype=np.float32).covariances
    cov64 = family.m_step(family.stats(X32.astype(np.float64), resp)).covariances
    assert cov32.dtype == np.float32
    np.testing.assert_allclose(cov32, cov64, rtol=1e-5)


def _assert_stats_close(a, b):
    np.testing.assert_allclose(a.counts, b.counts, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.means, b.means, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(a.scatter, b.scatter, rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    covariance_type=st.sampled_from(ALL),
    n_samples=st.integers(2, 40),
    split=st.floats(0, 1),
    weighted=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_stats_of_union_equal_sum_of_stats(covariance_type, n_samples, split, weighted, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 3)) * 3 + 5
    resp = rng.dirichlet(np.ones(3), size=n_samples)
    # Some components absent from one side exercise the zero-count merge.
    resp[: n_samples // 2, 0] = 0.0
    weight = rng.uniform(0, 3, size=n_samples) if weighted else None
    cut = int(split * n_samples)
    family = GaussianFamily(covariance_type)

    def part(rows):
        return family.stats(X[rows], resp[rows], None if weight is None else weight[rows])

    whole = part(slice(None))
    _assert_stats_close(part(slice(0, cut)) + part(slice(cut, None)), whole)
    _assert_stats_close(family.empty_stats(3, 3) + whole, whole)


@pytest.mark.parametrize("covariance_type", ALL)
def test_sample_draws_from_the_component(covariance_type):
    family = GaussianFamily(covariance_type)
    params = random_params(family, 2, 2, np.random.default_rng(8))
    draws = family.sample(params, 1, 20000, np.random.default_rng(9))
    np.testing.assert_allclose(draws.mean(axis=0), params.means[1], atol=0.05)
    np.testing.assert_allclose(
        np.cov(draws.T), full_covariance(family, params, 1), rtol=0.05, atol=0.02
    )


def test_structures_registry_names():
    # scikit-learn's four, the lecture's identity, and mclust's 14 (issue 12).
    from mixfit.families.gaussian.registry import MCLUST_MODELS

    assert len(MCLUST_MODELS) == 14
    assert set(STRUCTURES) == {"identity", "spherical", "diag", "tied", "full",
                               *MCLUST_MODELS}
