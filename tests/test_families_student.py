"""The Student-t family (``mixfit.families.student``) under the EM engine.

Reference densities come from ``scipy.stats.multivariate_t``; the EM
properties are checked through ``mixfit.engine.em.fit_em(..., kernel="numpy")``.
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from scipy.special import polygamma

from mixfit.engine import em
from mixfit.engine.init import params_from_resp
from mixfit.families import CollapsedComponentError, GaussianFamily
from mixfit.families.student import (
    DOF_BOUNDS,
    INITIAL_DOF,
    StudentFamily,
    StudentParams,
    StudentStats,
    solve_dof,
)

#: Structures with their own code paths: scikit-learn's four, the identity,
#: and mclust models with a closed form (EEV) and an iterative M-step (VEV, EVE).
STRUCTURES = ["full", "tied", "diag", "spherical", "identity", "VEV", "EEV", "EVE"]


def random_scales(family, n_components, n_features, rng):
    """Positive definite scale matrices in the structure's shape."""
    full = np.empty((n_components, n_features, n_features))
    for k in range(n_components):
        a = rng.normal(size=(n_features, n_features))
        full[k] = a @ a.T + 0.5 * np.eye(n_features)
    name = family.covariance_type
    if name in ("full", "VEV", "EEV", "EVE", "VVV"):
        if name == "EEV":  # equal volume and shape: rotate one matrix
            q = np.linalg.qr(rng.normal(size=(n_features, n_features)))[0]
            full = np.stack([q.T @ full[0] @ q if k else full[0] for k in range(n_components)])
        if name == "EVE":  # a common orientation: diagonal matrices of det 1 scaled
            shapes = rng.uniform(0.5, 2.0, (n_components, n_features))
            shapes /= np.exp(np.log(shapes).mean(axis=1, keepdims=True))
            q = np.linalg.qr(rng.normal(size=(n_features, n_features)))[0]
            full = 1.7 * np.stack([q @ np.diag(s) @ q.T for s in shapes])
        return full
    if name == "tied":
        return full[0]
    if name == "diag":
        return rng.uniform(0.3, 3.0, (n_components, n_features))
    if name == "spherical":
        return rng.uniform(0.3, 3.0, n_components)
    return np.ones(n_components)  # identity


def component_scale(family, params, k):
    d = params.means.shape[1]
    return family.structure.component_covariance(
        np.asarray(params.covariances, dtype=np.float64), k, d)


def scipy_log_t(family, params, X):
    """multivariate_t(loc, shape, df).logpdf for every row and component, float64."""
    return np.stack([
        scipy_stats.multivariate_t(
            loc=np.asarray(params.means[k], dtype=np.float64),
            shape=component_scale(family, params, k),
            df=float(params.degrees_of_freedom[k]),
        ).logpdf(np.asarray(X, dtype=np.float64))
        for k in range(params.means.shape[0])
    ], axis=1).reshape(X.shape[0], -1)


# --- (1) log-densities against scipy.stats ---


@pytest.mark.parametrize("structure", STRUCTURES)
def test_log_prob_equals_scipy_multivariate_t(structure):
    rng = np.random.default_rng(0)
    family = StudentFamily(structure)
    n_features = 3
    means = rng.normal(size=(3, n_features))
    params = family.params_from_covariances(
        means, random_scales(family, 3, n_features, rng), [0.7, 3.0, 150.0])
    # Rows near the locations and far from them (δ up to ~1e4).
    X = np.vstack([rng.normal(size=(20, n_features)), 60 * rng.normal(size=(5, n_features))])
    got = family.log_prob(X, params)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, scipy_log_t(family, params, X), rtol=1e-8, atol=0)


def test_float32_log_prob_is_float32_and_close_to_scipy():
    rng = np.random.default_rng(1)
    family = StudentFamily("full")
    params64 = family.params_from_covariances(
        rng.normal(size=(2, 2)), random_scales(family, 2, 2, rng), [2.0, 9.0])
    params32 = family.params_from_covariances(
        params64.means, params64.covariances, params64.degrees_of_freedom, np.float32)
    X = rng.normal(size=(30, 2)).astype(np.float32)
    got = family.log_prob(X, params32)
    assert got.dtype == np.float32
    # float32 distances (relative error ~1e-7 times d) move the log-density by
    # at most ~1e-6 in these units; the scipy reference uses the float32 parameters.
    np.testing.assert_allclose(got, scipy_log_t(family, params32, X), rtol=1e-5, atol=1e-5)


def test_a_large_dof_gives_the_gaussian_density():
    # Expanding in 1/ν: log t − log N = (δ² − 2dδ + d² − 2d)/(4ν) + O(1/ν²),
    # so |difference| ≤ ((δ + d)² + 2d)/ν with a factor 4 to spare; ν = 1e6
    # keeps the float64 rounding of the log-gamma terms (~1e-16 · 1e7) far below.
    nu, d = 1e6, 3
    rng = np.random.default_rng(14)
    gaussian = GaussianFamily("full")
    family = StudentFamily("full", degrees_of_freedom=nu)
    scales = random_scales(family, 2, d, rng)
    means = rng.normal(size=(2, d))
    X = rng.normal(size=(10, d))
    got = family.log_prob(X, family.params_from_covariances(means, scales))
    params = gaussian.params_from_covariances(means, scales, np.float64)
    expected = gaussian.log_prob(X, params)
    _, maha = gaussian.structure.log_det_and_mahalanobis(X, means,
                                                         params.precisions_cholesky)
    bound = ((maha + d) ** 2 + 2 * d) / nu
    assert (np.abs(got - expected) <= bound).all()
    assert (np.abs(got - expected) > 0).any()  # it is a t, not the Gaussian itself


# --- (2) the equation for ν ---


def test_solve_dof_finds_the_root_and_clips_to_the_bounds():
    from scipy.special import digamma

    for nu in (0.8, 3.0, 17.0, 150.0):
        # The tail mean that makes ``nu`` the root.
        tail = -(np.log(nu / 2) - digamma(nu / 2) + 1)
        assert solve_dof(tail) == pytest.approx(nu, rel=1e-9)
    assert solve_dof(-1.0) == DOF_BOUNDS[1]  # no tails: ν = ∞, clipped
    assert solve_dof(-50.0) == DOF_BOUNDS[0]  # tails heavier than ν = 0.5 allows


# --- (3) the M-step is the t M-step for every structure ---


def hand_u(params, X, k):
    """(ν + d)/(ν + δ) for component k, δ from the scale matrix directly."""
    scale = np.linalg.inv(params["scale"][k])
    diff = X - params["means"][k]
    delta = np.einsum("ij,jk,ik->i", diff, scale, diff)
    nu, d = params["dof"][k], X.shape[1]
    return (nu + d) / (nu + delta)


@pytest.mark.parametrize("structure", ["full", "tied", "diag", "spherical"])
def test_m_step_gives_the_u_weighted_means_and_scatter_over_the_plain_mass(structure):
    rng = np.random.default_rng(2)
    family = StudentFamily(structure, reg_covar=0.0)
    X = rng.standard_t(3, size=(40, 3))
    weight = rng.uniform(0.2, 2.0, 40)
    resp = rng.dirichlet(np.ones(2), size=40)
    params = family.params_from_covariances(
        rng.normal(size=(2, 3)), random_scales(family, 2, 3, rng), [2.5, 6.0])
    new = family.m_step(family.stats(X, resp, weight, params=params), previous=params)
    raw = {"means": params.means, "dof": params.degrees_of_freedom,
           "scale": [component_scale(family, params, k) for k in range(2)]}
    scatters, masses = [], []
    for k in range(2):
        zuw = resp[:, k] * weight * hand_u(raw, X, k)
        mean = zuw @ X / zuw.sum()
        np.testing.assert_allclose(new.means[k], mean, rtol=1e-10)
        diff = X - mean
        scatters.append((zuw[:, None] * diff).T @ diff)
        masses.append((resp[:, k] * weight).sum())
    full = [s / m for s, m in zip(scatters, masses)]
    expected = {
        "full": np.stack(full),
        "tied": sum(scatters) / sum(masses),
        "diag": np.stack([np.diag(c) for c in full]),
        "spherical": np.array([np.trace(c) / 3 for c in full]),
    }[structure]
    np.testing.assert_allclose(new.covariances, expected, rtol=1e-9)


def test_fixed_means_take_the_scatter_about_them():
    rng = np.random.default_rng(3)
    family = StudentFamily("full", reg_covar=0.0)
    X = rng.standard_t(4, size=(30, 2)) + 1.0
    resp = rng.dirichlet(np.ones(2), size=30)
    params = family.params_from_covariances(
        np.array([[0.0, 0.0], [2.0, 1.0]]), random_scales(family, 2, 2, rng), [3.0, 5.0])
    new = family.m_step(family.stats(X, resp, params=params), previous=params,
                        fixed=frozenset({"means"}))
    np.testing.assert_array_equal(new.means, params.means)
    raw = {"means": params.means, "dof": params.degrees_of_freedom,
           "scale": list(params.covariances)}
    for k in range(2):
        zu = resp[:, k] * hand_u(raw, X, k)
        diff = X - params.means[k]
        expected = (zu[:, None] * diff).T @ diff / resp[:, k].sum()
        np.testing.assert_allclose(new.covariances[k], expected, rtol=1e-10)


def test_fixed_parameters_keep_their_previous_values_and_are_not_counted():
    rng = np.random.default_rng(4)
    family = StudentFamily("diag")
    X = rng.standard_t(3, size=(30, 2))
    resp = rng.dirichlet(np.ones(2), size=30)
    previous = family.params_from_covariances(rng.normal(size=(2, 2)), [[1.0, 2.0], [3.0, 0.5]],
                                              [4.0, 7.0])
    stats = family.stats(X, resp, params=previous)
    free = family.m_step(stats, previous=previous)
    everything = frozenset(family.parameter_names)
    kept = family.m_step(stats, previous=previous, fixed=everything)
    for name in family.parameter_names:
        assert not np.array_equal(getattr(free, name), getattr(previous, name))
        np.testing.assert_array_equal(getattr(kept, name), getattr(previous, name))
    # ν alone fixed: the location and scale still move.
    only_dof = family.m_step(stats, previous=previous, fixed=frozenset({"degrees_of_freedom"}))
    np.testing.assert_array_equal(only_dof.degrees_of_freedom, previous.degrees_of_freedom)
    np.testing.assert_array_equal(only_dof.means, free.means)
    assert family.parameter_names == ("means", "covariances", "degrees_of_freedom")
    assert family.n_parameters(2, 2) == 4 + 4 + 2
    assert family.n_parameters(2, 2, fixed=frozenset({"means"})) == 4 + 2
    assert family.n_parameters(2, 2, fixed=frozenset({"covariances"})) == 4 + 2
    assert family.n_parameters(2, 2, fixed=everything) == 0
    assert StudentFamily("full", degrees_of_freedom=3).n_parameters(2, 2) == 4 + 6
    assert StudentFamily("tied").n_parameters(2, 2) == 4 + 3 + 2
    with pytest.raises(ValueError, match="no previous parameters"):
        family.m_step(stats, fixed=frozenset({"means"}))
    with pytest.raises(ValueError,
                       match=r"has no parameter\(s\) \['weights'\].*'degrees_of_freedom'"):
        family.m_step(stats, previous=previous, fixed=frozenset({"weights"}))


def test_a_family_with_fixed_dof_never_changes_it():
    rng = np.random.default_rng(5)
    family = StudentFamily("full", degrees_of_freedom=4.0)
    X = rng.standard_t(1, size=(50, 2))  # Cauchy rows: ν would fall if estimated
    resp = rng.dirichlet(np.ones(2), size=50)
    start = params_from_resp(family, X, resp)
    np.testing.assert_array_equal(start.components.degrees_of_freedom, [4.0, 4.0])
    result = em.fit_em(family, X, start, tol=0.0, max_iter=5, kernel="numpy")
    np.testing.assert_array_equal(result.params.components.degrees_of_freedom, [4.0, 4.0])
    with pytest.raises(ValueError, match="differ from the family's fixed 4.0"):
        family.params_from_covariances([[0.0, 0.0]], np.eye(2)[None], 5.0)


def test_a_start_from_responsibilities_has_the_initial_dof_and_gaussian_moments():
    rng = np.random.default_rng(6)
    family = StudentFamily("full", reg_covar=0.0)
    X = rng.normal(size=(20, 2))
    start = params_from_resp(family, X, rng.dirichlet(np.ones(2), size=20))
    np.testing.assert_array_equal(start.components.degrees_of_freedom, [INITIAL_DOF] * 2)
    stats = family.stats(X, np.ones((20, 1)))
    assert not stats.measured
    np.testing.assert_allclose(family.m_step(stats).covariances[0],
                               np.cov(X.T, bias=True), rtol=1e-10)


def test_a_component_with_no_mass_keeps_its_dof():
    rng = np.random.default_rng(7)
    family = StudentFamily("diag")
    X = rng.standard_t(3, size=(20, 2))
    previous = family.params_from_covariances(np.zeros((2, 2)), np.ones((2, 2)), [3.0, 33.0])
    resp = np.column_stack([np.ones(20), np.zeros(20)])
    new = family.m_step(family.stats(X, resp, params=previous), previous=previous)
    assert new.degrees_of_freedom[1] == 33.0
    assert new.degrees_of_freedom[0] != 3.0
    assert np.isfinite(new.covariances).all() and np.isfinite(new.means).all()


# --- (4) the statistics add, and a weight of two is a duplicated row ---


def assert_stats_close(a, b):
    assert isinstance(a, StudentStats) and isinstance(b, StudentStats)
    for got, want in [(a.mass, b.mass), (a.tail, b.tail), (a.moments.counts, b.moments.counts),
                      (a.moments.means, b.moments.means),
                      (a.moments.scatter, b.moments.scatter)]:
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("structure", ["full", "tied", "diag", "spherical"])
def test_statistics_of_a_union_are_the_sum_and_weight_two_is_a_duplicate(structure):
    rng = np.random.default_rng(8)
    family = StudentFamily(structure)
    X = rng.standard_t(3, size=(25, 3)) + 100.0  # far from the origin: Chan's merge matters
    resp = rng.dirichlet(np.ones(2), size=25)
    params = family.params_from_covariances(
        X[:2], random_scales(family, 2, 3, rng), [2.0, 8.0])
    whole = family.stats(X, resp, params=params)
    parts = (family.empty_stats(2, 3) + family.stats(X[:9], resp[:9], params=params)
             + family.stats(X[9:], resp[9:], params=params))
    assert_stats_close(parts, whole)
    weight = np.ones(25)
    weight[3] = 2.0
    doubled = np.vstack([X, X[3:4]])
    assert_stats_close(family.stats(X, resp, weight, params=params),
                       family.stats(doubled, np.vstack([resp, resp[3:4]]), params=params))
    half = whole.scaled(0.5)
    np.testing.assert_allclose(half.mass, whole.mass / 2)
    np.testing.assert_allclose(half.tail, whole.tail / 2)


# --- (5) EM never lowers the log-likelihood ---


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    structure=st.sampled_from(["full", "tied", "diag", "spherical", "VEV", "EVE"]),
    n_components=st.integers(1, 3),
    n_features=st.integers(1, 3),
    fixed_dof=st.sampled_from([None, 2.5]),
    fixed=st.sampled_from([(), ("means",), ("covariances",), ("degrees_of_freedom",),
                           ("weights", "means")]),
)
def test_em_never_lowers_the_log_likelihood(seed, structure, n_components, n_features,
                                            fixed_dof, fixed):
    # reg_covar=0: with it the M-step maximises a slightly different objective.
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(2, n_features))
    X = rng.standard_t(2.0, size=(60, n_features)) + centres[rng.integers(0, 2, 60)]
    weight = rng.uniform(0.1, 3.0, 60)
    family = StudentFamily(structure, reg_covar=0.0, degrees_of_freedom=fixed_dof)
    start = params_from_resp(family, X, rng.dirichlet(np.ones(n_components), size=60),
                             sample_weight=weight)
    try:
        result = em.fit_em(family, X, start, sample_weight=weight, tol=0.0, max_iter=30,
                           kernel="numpy", fixed=frozenset(fixed))
    except CollapsedComponentError:
        # reg_covar=0 and a component on too few distinct points: its scale
        # matrix is singular, which the fit refuses (the likelihood is unbounded).
        assume(False)
    for name in fixed:
        kept = (result.params.weights if name == "weights"
                else getattr(result.params.components, name))
        original = start.weights if name == "weights" else getattr(start.components, name)
        np.testing.assert_array_equal(kept, original)
    # A component collapsing onto a subspace (reg_covar=0: the likelihood is
    # unbounded there) leaves scale matrices so ill-conditioned that the
    # densities themselves lose digits (about cond · 1e-16 relative); such a
    # degenerate fit says nothing of the algorithm.
    # So does a component collapsing onto a point (every eigenvalue of its scale
    # tending to 0 while the mean log-likelihood grows without bound).
    components = result.params.components
    scales = [component_scale(family, components, k) for k in range(n_components)]
    assume(max(np.linalg.cond(scale) for scale in scales) < 1e6)
    spread = np.trace(np.atleast_2d(np.cov(X.T)))
    assume(min(np.linalg.eigvalsh(scale)[0] for scale in scales) > 1e-8 * spread)
    values = np.array(result.lower_bounds)
    assert np.isfinite(values).all()
    steps = np.diff(values)
    assert (steps >= -1e-10 * np.abs(values[1:])).all(), steps.min()


# --- (6) parameter recovery from data drawn with ``sample`` ---


def univariate_t_information(nu, sigma):
    """Fisher information of one draw of t(μ, σ, ν) for (μ, σ, ν).

    Lange, Little & Taylor (1989), JASA 84, Table 1 (checked against a
    numerical integral of the score's outer product while writing this test).
    """
    trigamma = lambda a: polygamma(1, a)  # noqa: E731
    i_mu = (nu + 1) / ((nu + 3) * sigma**2)
    i_ss = 2 * nu / ((nu + 3) * sigma**2)
    i_sn = -2 / (sigma * (nu + 1) * (nu + 3))
    i_nn = (0.25 * (trigamma(nu / 2) - trigamma((nu + 1) / 2))
            - (nu + 5) / (2 * nu * (nu + 1) * (nu + 3)))
    return np.array([[i_mu, 0, 0], [0, i_ss, i_sn], [0, i_sn, i_nn]])


def test_univariate_location_scale_and_dof_are_recovered_within_five_standard_errors():
    # Standard errors from the inverse Fisher information over n draws (the
    # MLE's asymptotic covariance); the scale matrix is σ², whose standard
    # error is 2σ·se(σ) (delta method). Each estimate must lie within 5 of
    # them: a two-sided 5.7e-7 chance per number for a correct fit.
    n, mu, sigma, nu = 20000, 1.5, 2.0, 5.0
    rng = np.random.RandomState(9)
    family = StudentFamily("diag", reg_covar=0.0)
    truth = family.params_from_covariances([[mu]], [[sigma**2]], nu)
    X = family.sample(truth, 0, n, rng)
    start = em.MixtureParams(np.ones(1), family.params_from_covariances([[0.0]], [[9.0]], 30.0))
    result = em.fit_em(family, X, start, tol=1e-12, max_iter=1000, kernel="numpy")
    assert result.converged
    fitted = result.params.components
    se = np.sqrt(np.diag(np.linalg.inv(univariate_t_information(nu, sigma))) / n)
    assert abs(fitted.means[0, 0] - mu) < 5 * se[0]
    assert abs(fitted.covariances[0, 0] - sigma**2) < 5 * 2 * sigma * se[1]
    assert abs(fitted.degrees_of_freedom[0] - nu) < 5 * se[2]


def test_a_two_component_fit_recovers_the_means_and_maximises_the_profile_in_dof():
    rng = np.random.RandomState(10)
    family = StudentFamily("full", reg_covar=0.0)
    scales = np.array([[[1.0, 0.6], [0.6, 2.0]], [[0.5, -0.2], [-0.2, 0.8]]])
    truth = family.params_from_covariances([[0.0, 0.0], [12.0, -9.0]], scales, [3.0, 8.0])
    weights = np.array([0.4, 0.6])
    n = 6000
    X, _ = em.sample_mixture(family, em.MixtureParams(weights, truth), n, rng, np.float64)
    start = em.MixtureParams(np.array([0.5, 0.5]), family.params_from_covariances(
        [[1.0, 1.0], [10.0, -7.0]], np.stack([np.eye(2)] * 2), 20.0))
    result = em.fit_em(family, X, start, tol=1e-11, max_iter=1000, kernel="numpy")
    assert result.converged
    fitted = result.params.components
    # Components ~15 scale units apart: misassigned rows are negligible, and the
    # location's standard error is that of one t sample of n_k rows,
    # sqrt(Σ_jj (ν + d + 2)/(ν + d) / n_k) (inverse Fisher information).
    for k in range(2):
        nu, d = truth.degrees_of_freedom[k], 2
        se = np.sqrt(np.diag(scales[k]) * (nu + d + 2) / (nu + d) / (weights[k] * n))
        assert (np.abs(fitted.means[k] - truth.means[k]) < 5 * se).all()
    # ν_k is where the profile log-likelihood peaks: refitting with ν fixed
    # 25% above or below the estimate (everything else re-estimated) ends lower.
    best = result.lower_bound
    for factor in (0.75, 1.25):
        dof = fitted.degrees_of_freedom * factor
        pinned = em.MixtureParams(result.params.weights, StudentParams(
            fitted.means, fitted.covariances, fitted.precisions_cholesky, dof))
        other = em.fit_em(family, X, pinned, tol=1e-11, max_iter=1000, kernel="numpy",
                          fixed=frozenset({"degrees_of_freedom"}))
        np.testing.assert_array_equal(other.params.components.degrees_of_freedom, dof)
        assert other.lower_bound < best


# --- (7) robustness: what the t family is for ---


def test_outliers_move_the_t_location_far_less_than_a_gaussian_mean():
    from mixfit import GaussianMixture

    rng = np.random.default_rng(11)
    inliers = rng.normal(size=(380, 2))
    outliers = rng.uniform(20.0, 30.0, size=(20, 2))  # 5% of the rows, far away
    X = np.vstack([inliers, outliers])
    family = StudentFamily("full")
    start = em.MixtureParams(np.ones(1), family.params_from_means(X, X.mean(axis=0)[None]))
    t_mean = em.fit_em(family, X, start, tol=1e-8, max_iter=500,
                       kernel="numpy").params.components.means[0]
    gaussian_mean = GaussianMixture(n_components=1).fit(X).means_[0]
    # The Gaussian mean moves by about 5% of the outliers' 25 (≈ 1.25 per
    # axis); the t location should stay within sampling error of the
    # inliers' centre (se ≈ 1/sqrt(380) ≈ 0.05 per axis).
    assert np.linalg.norm(gaussian_mean) > 1.5
    assert np.linalg.norm(t_mean) < 0.25
    assert np.linalg.norm(t_mean) < np.linalg.norm(gaussian_mean) / 5


# --- (8) the kernel E-step is the numpy one ---


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("structure", ["full", "tied", "diag", "spherical", "identity", "VEV"])
def test_kernel_e_step_equals_the_numpy_path_and_ignores_the_thread_count(structure, dtype,
                                                                           rtol):
    # float32: the kernels' distances and moments are float32 GEMMs (relative
    # error ~1e-7 · d per entry), the numpy path's float64; the scatter is a
    # difference of moments about the locations, which loses a few more digits.
    rng = np.random.default_rng(13)
    X = (rng.standard_t(3, size=(300, 3)) + 50.0).astype(dtype)  # off the origin
    weight = rng.uniform(0.1, 2.0, 300)
    family = StudentFamily(structure)
    params = params_from_resp(family, X, rng.dirichlet(np.ones(3), size=300))
    reference = em.e_step(family, X, params, weight, 64, kernel="numpy")
    kernels = em.e_step(family, X, params, weight, 64, kernel="numba", n_jobs=1)
    threaded = em.e_step(family, X, params, weight, 64, kernel="numba", n_jobs=2)
    for a, b in [(kernels, reference), (threaded, kernels)]:
        tolerance = rtol if b is reference else 0.0
        assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=tolerance, abs=0)
        np.testing.assert_allclose(a.resp_sum, b.resp_sum, rtol=tolerance)
        sa, sb = a.components, b.components
        np.testing.assert_allclose(sa.mass, sb.mass, rtol=tolerance)
        np.testing.assert_allclose(sa.tail, sb.tail, rtol=tolerance)
        np.testing.assert_allclose(sa.moments.means, sb.moments.means, rtol=tolerance)
        scale = np.abs(sb.moments.scatter).max()
        np.testing.assert_allclose(sa.moments.scatter, sb.moments.scatter, rtol=0,
                                   atol=100 * tolerance * scale)
    np.testing.assert_allclose(family.kernel_log_prob(X, params.components),
                               family.log_prob(X, params.components), rtol=rtol)


# --- (9) draws and bad input ---


def test_draws_have_the_shape_and_heavier_tails_than_a_gaussian():
    rng = np.random.RandomState(12)
    family = StudentFamily("spherical")
    params = family.params_from_covariances([[0.0, 0.0, 0.0]], [1.0], 3.0)
    draws = family.sample(params, 0, 20000, rng)
    assert draws.shape == (20000, 3)
    # A t_3 coordinate exceeds 5 with probability 2·sf(5) ≈ 0.0154 (a
    # Gaussian's is 6e-7); the count's sd is sqrt(60000·0.0154) ≈ 30.
    expected = 2 * scipy_stats.t.sf(5.0, 3) * draws.size
    assert abs((np.abs(draws) > 5).sum() - expected) < 5 * np.sqrt(expected)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.inf, np.nan, "four"])
def test_bad_degrees_of_freedom_are_refused(bad):
    with pytest.raises(ValueError, match="degrees_of_freedom must be"):
        StudentFamily("full", degrees_of_freedom=bad)
    with pytest.raises(ValueError, match=r"degrees_of_freedom\[1\] must be"):
        StudentFamily("full").params_from_covariances(np.zeros((2, 1)), np.ones((2, 1, 1)),
                                                      [1.0, bad])


def test_an_unknown_covariance_type_is_refused():
    with pytest.raises(ValueError, match="covariance_type must be one of"):
        StudentFamily("round")
