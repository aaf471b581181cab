"""The EM engine: the lecture's recurrence, the bound, and the loop's invariants."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

from mixfit.engine import em as em
from mixfit.families import GaussianFamily

from conftest import make_blobs


def lecture_mog(X, means, n_iter):
    """The lecture's EM for a mixture of unit-covariance Gaussians, in plain numpy.

    Returns the per-iteration mean log-likelihoods and the final means and weights.
    """
    n, d = X.shape
    pi = np.full(means.shape[0], 1.0 / means.shape[0])
    mu = means.copy()
    history = []
    for _ in range(n_iter):
        sq = ((X[:, None, :] - mu[None]) ** 2).sum(axis=2)
        log_joint = np.log(pi) - 0.5 * sq - 0.5 * d * np.log(2 * np.pi)
        log_px = logsumexp(log_joint, axis=1)
        r = np.exp(log_joint - log_px[:, None])
        history.append(log_px.mean())
        pi = r.sum(axis=0) / n
        mu = (r.T @ X) / r.sum(axis=0)[:, None]
    return np.array(history), mu, pi


def test_identity_model_reproduces_the_lecture_recurrence():
    X, _ = make_blobs(n_features=2, separation=3.0, seed=11)
    rng = np.random.default_rng(0)
    means0 = X.mean(axis=0) + 0.01 * X.std(axis=0) * rng.standard_normal((3, 2))
    family = GaussianFamily("identity")
    params = em.MixtureParams(
        np.full(3, 1 / 3), family.params_from_covariances(means0, np.ones(3), X.dtype)
    )
    result = em.fit_em(family, X, params, tol=0.0, max_iter=25, chunk_size=64)
    history, mu, pi = lecture_mog(X, means0, 25)
    np.testing.assert_allclose(result.lower_bounds, history, rtol=1e-12)
    np.testing.assert_allclose(result.params.components.means, mu, rtol=1e-10)
    np.testing.assert_allclose(result.params.weights, pi, rtol=1e-10)


def bound(family, X, params, q):
    """The lecture's bound B(θ, q) = Σ_n Σ_k q_nk (log w_k + log p(x_n|θ_k) − log q_nk)."""
    log_joint = family.log_prob(X, params.components) + np.log(params.weights)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy_terms = np.where(q > 0, q * np.log(q), 0.0)
    return float((q * log_joint).sum() - entropy_terms.sum())


@settings(max_examples=30, deadline=None)
@given(
    covariance_type=st.sampled_from(["identity", "spherical", "diag", "tied", "full"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_bound_is_tight_at_the_posterior_and_lower_elsewhere(covariance_type, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(30, 2)) * 2
    family = GaussianFamily(covariance_type)
    resp = rng.dirichlet(np.ones(3), size=30)
    params = em.m_step(family, em.MixtureStats(30.0, 0.0, resp.sum(0), family.stats(X, resp)), X.dtype)
    log_resp, log_norm = em.log_resp(family, X, params, chunk_size=7)
    log_likelihood = float(log_norm.sum())
    assert bound(family, X, params, np.exp(log_resp)) == pytest.approx(log_likelihood, rel=1e-10)
    other = rng.dirichlet(np.ones(3) * 0.5, size=30)
    assert bound(family, X, params, other) < log_likelihood


@settings(max_examples=25, deadline=None)
@given(
    covariance_type=st.sampled_from(["identity", "spherical", "diag", "tied", "full"]),
    seed=st.integers(0, 2**32 - 1),
    n_components=st.integers(1, 4),
)
def test_log_likelihood_never_decreases(covariance_type, seed, n_components):
    rng = np.random.default_rng(seed)
    X, _ = make_blobs(n_per=(40, 30, 50), n_features=2, separation=2.0, seed=seed % 1000)
    family = GaussianFamily(covariance_type, reg_covar=0.0)
    resp = rng.dirichlet(np.ones(n_components), size=X.shape[0])
    params = em.m_step(
        family, em.MixtureStats(len(X), 0.0, resp.sum(0), family.stats(X, resp)), X.dtype
    )
    result = em.fit_em(family, X, params, tol=0.0, max_iter=40)
    steps = np.diff(result.lower_bounds)
    assert (steps >= -1e-9 * np.abs(result.lower_bounds[1:])).all(), steps.min()


@pytest.mark.parametrize("covariance_type", ["identity", "spherical", "diag", "tied", "full"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_chunk_size_does_not_change_the_result(covariance_type, dtype):
    X, _ = make_blobs(n_features=3, seed=3, dtype=dtype)
    family = GaussianFamily(covariance_type)
    rng = np.random.default_rng(1)
    resp = rng.dirichlet(np.ones(3), size=X.shape[0])
    params = em.m_step(
        family, em.MixtureStats(len(X), 0.0, resp.sum(0), family.stats(X, resp)), X.dtype
    )
    one = em.fit_em(family, X, params, tol=0.0, max_iter=15, chunk_size=10_000)
    many = em.fit_em(family, X, params, tol=0.0, max_iter=15, chunk_size=13)
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(one.lower_bounds, many.lower_bounds, rtol=rtol)
    np.testing.assert_allclose(
        one.params.components.means, many.params.components.means, rtol=rtol, atol=rtol
    )
    assert one.params.components.means.dtype == dtype


def test_callback_sees_every_iteration():
    X, _ = make_blobs(seed=4)
    family = GaussianFamily("diag")
    params = em.MixtureParams(
        np.full(3, 1 / 3), family.params_from_means(X, X[[0, 200, 300]])
    )
    seen = []
    result = em.fit_em(
        family, X, params, tol=1e-8, max_iter=50,
        callback=lambda i, p, ll: seen.append((i, ll, p.weights.sum())),
    )
    assert [i for i, _, _ in seen] == list(range(1, result.n_iter + 1))
    np.testing.assert_allclose([ll for _, ll, _ in seen], result.lower_bounds)
    np.testing.assert_allclose([w for _, _, w in seen], 1.0)


def test_converges_on_mean_not_summed_log_likelihood():
    # Same data repeated 10 times: the mean log-likelihood, hence the stopping
    # iteration, is unchanged, although the summed one is 10 times larger.
    X, _ = make_blobs(seed=5)
    family = GaussianFamily("full")
    params = em.MixtureParams(np.full(3, 1 / 3), family.params_from_means(X, X[[0, 160, 300]]))
    small = em.fit_em(family, X, params, tol=1e-4)
    large = em.fit_em(family, np.tile(X, (10, 1)), params, tol=1e-4)
    assert small.converged and large.converged
    assert small.n_iter == large.n_iter
