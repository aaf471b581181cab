"""The fused E-step kernels against the numpy reference path of the engine."""

import dataclasses

import numpy as np
import pytest

from mixfit import GaussianMixture
from mixfit.engine import em as em
from mixfit.families import GaussianFamily

ALL = ["identity", "spherical", "diag", "tied", "full"]
RTOL = {np.float64: 1e-10, np.float32: 1e-5}


def setup(covariance_type, dtype, weighted, seed=0, n_samples=700, n_features=4, n_components=3):
    """Data off the origin, parameters from random responsibilities, optional weights."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features)) * rng.uniform(0.5, 3, n_features)
    X = (X + rng.uniform(-50, 50, n_features)).astype(dtype)
    family = GaussianFamily(covariance_type)
    resp = rng.dirichlet(np.ones(n_components), size=n_samples)
    stats = em.MixtureStats(n_samples, 0.0, resp.sum(0), family.stats(X, resp))
    params = em.m_step(family, stats, X.dtype)
    weight = rng.uniform(0, 3, n_samples) if weighted else None
    return family, X, params, weight


def assert_stats_close(a, b, rtol):
    assert a.total_weight == pytest.approx(b.total_weight, rel=1e-12)
    assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=rtol)
    np.testing.assert_allclose(a.resp_sum, b.resp_sum, rtol=rtol)
    np.testing.assert_allclose(a.components.counts, b.components.counts, rtol=rtol)
    scale = np.abs(b.components.means).max()
    np.testing.assert_allclose(a.components.means, b.components.means, rtol=0, atol=rtol * scale)
    scale = max(np.abs(b.components.scatter).max(), 1e-300)
    np.testing.assert_allclose(
        a.components.scatter, b.components.scatter, rtol=0, atol=rtol * scale
    )


@pytest.mark.parametrize("covariance_type", ALL)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_kernel_e_step_matches_the_reference(covariance_type, dtype, weighted):
    family, X, params, weight = setup(covariance_type, dtype, weighted)
    reference = em.e_step(family, X, params, weight, chunk_size=97, kernel="numpy")
    fused = em.e_step(family, X, params, weight, chunk_size=97, kernel="numba")
    assert_stats_close(fused, reference, RTOL[dtype])


@pytest.mark.parametrize("covariance_type", ALL)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_log_resp_matches_the_reference(covariance_type, dtype):
    family, X, params, _ = setup(covariance_type, dtype, False, seed=1)
    ref_resp, ref_norm = em.log_resp(family, X, params, 128, kernel="numpy")
    resp, norm = em.log_resp(family, X, params, 128, kernel="numba")
    assert resp.dtype == norm.dtype == dtype
    np.testing.assert_allclose(norm, ref_norm, rtol=RTOL[dtype])
    np.testing.assert_allclose(np.exp(resp), np.exp(ref_resp), rtol=0, atol=10 * RTOL[dtype])


@pytest.mark.parametrize("covariance_type", ALL)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_m_step_parameters_match_the_reference(covariance_type, dtype):
    family, X, params, weight = setup(covariance_type, dtype, True, seed=2, n_features=5)
    fits = [
        em.fit_em(family, X, params, sample_weight=weight, tol=0.0, max_iter=5, kernel=kernel)
        for kernel in ("numpy", "numba")
    ]
    reference, fused = (fit.params for fit in fits)
    rtol = 1e-9 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(fits[1].lower_bounds, fits[0].lower_bounds, rtol=rtol)
    np.testing.assert_allclose(fused.weights, reference.weights, rtol=rtol)
    for name in ("means", "covariances", "precisions_cholesky"):
        ours = getattr(fused.components, name)
        theirs = getattr(reference.components, name)
        assert ours.dtype == dtype
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=rtol * np.abs(theirs).max())


@pytest.mark.parametrize("covariance_type", ALL)
def test_chunks_and_threads_do_not_change_the_result(covariance_type):
    family, X, params, weight = setup(covariance_type, np.float64, True, seed=3, n_samples=2000)
    base = em.e_step(family, X, params, weight, chunk_size=2000, n_jobs=1)
    for chunk_size, n_jobs in [(101, 1), (101, 2), (512, 2)]:
        other = em.e_step(family, X, params, weight, chunk_size=chunk_size, n_jobs=n_jobs)
        assert_stats_close(other, base, 1e-10)
    # The thread count alone changes nothing, not even the rounding.
    # 125 chunks: more than the sweep's 64 groups of partial sums.
    for chunk_size in (101, 16):
        one = em.e_step(family, X, params, weight, chunk_size=chunk_size, n_jobs=1)
        for n_jobs in (2, 3):
            other = em.e_step(family, X, params, weight, chunk_size=chunk_size, n_jobs=n_jobs)
            assert one.log_likelihood == other.log_likelihood
            np.testing.assert_array_equal(one.components.scatter, other.components.scatter)
            np.testing.assert_array_equal(one.components.means, other.components.means)


@pytest.mark.parametrize("covariance_type", ["spherical", "diag", "tied", "full"])
def test_float32_far_from_origin_matches_float64(covariance_type):
    # Moments about the current means: nothing of size 1e4² is ever subtracted.
    rng = np.random.default_rng(4)
    X64 = 1e4 + rng.normal(size=(5000, 2)) * [1.0, 2.0]
    X64[:2500] += 5.0
    family = GaussianFamily(covariance_type, reg_covar=0)
    resp = np.zeros((5000, 2))
    resp[:2500, 0] = resp[2500:, 1] = 1.0
    stats = em.MixtureStats(5000, 0.0, resp.sum(0), family.stats(X64, resp))
    params64 = em.m_step(family, stats, np.float64)
    params32 = em.MixtureParams(
        params64.weights.astype(np.float32),
        family.params_from_covariances(
            params64.components.means, params64.components.covariances, np.float32
        ),
    )
    X32 = X64.astype(np.float32)
    new32 = em.m_step(family, em.e_step(family, X32, params32), np.float32)
    new64 = em.m_step(family, em.e_step(family, X32.astype(np.float64), params64), np.float64)
    # The float32 E-step's own rounding (~1e-5 here, the numpy path's too) is the floor.
    expected = new64.components.covariances
    np.testing.assert_allclose(
        new32.components.covariances, expected, rtol=0, atol=1e-4 * np.abs(expected).max()
    )
    np.testing.assert_allclose(
        new32.components.means, new64.components.means, rtol=1e-6
    )


def test_unknown_kernel_is_refused():
    family, X, params, _ = setup("diag", np.float64, False)
    with pytest.raises(ValueError, match="kernel must be one of"):
        em.e_step(family, X, params, kernel="cuda")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimator_n_jobs_does_not_change_the_fit():
    family, X, _, weight = setup("full", np.float64, True, seed=5, n_samples=3000)
    fits = [
        GaussianMixture(3, chunk_size=256, n_jobs=n_jobs, random_state=0, tol=0, max_iter=10)
        .fit(X, sample_weight=weight)
        for n_jobs in (1, 2)
    ]
    np.testing.assert_array_equal(fits[0].lower_bounds_, fits[1].lower_bounds_)
    np.testing.assert_array_equal(fits[0].covariances_, fits[1].covariances_)
    np.testing.assert_array_equal(fits[0].predict(X), fits[1].predict(X))


# ------------------------------------------------------------ the fused sweep


def test_vector_exp_is_within_an_ulp_of_numpy():
    from mixfit.kernels.sweep import exp_nonpositive

    rng = np.random.default_rng(6)
    t = np.concatenate(
        [-rng.exponential(5, 20000), -rng.uniform(0, 708, 20000), [0.0, -0.0, -1e-300, -708.0]]
    )
    out = np.empty_like(t)
    exp_nonpositive(t, out, np.empty_like(t))
    expected = np.exp(t)
    ulps = np.abs(out - expected) / np.spacing(expected)
    assert ulps.max() <= 2
    # Below exp(-708) (subnormal results) and at -inf (a zero mixture weight): exactly 0.
    tails = np.array([-708.5, -745.0, -1e308, -np.inf])
    out = np.empty_like(tails)
    exp_nonpositive(tails, out, np.empty_like(tails))
    assert np.all(out == 0.0)


@pytest.mark.parametrize("covariance_type", ["tied", "full"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sweep_and_chunk_paths_agree_beyond_the_sweep_width(covariance_type, dtype, monkeypatch):
    # Wide data take the per-chunk GEMM path; both fast paths and the reference agree.
    from mixfit.families.gaussian import sweeps as covariance

    family, X, params, weight = setup(covariance_type, dtype, True, seed=7, n_features=9)
    reference = em.e_step(family, X, params, weight, chunk_size=97, kernel="numpy")
    swept = em.e_step(family, X, params, weight, chunk_size=97)
    monkeypatch.setattr(covariance, "_FULL_SWEEP_MAX_FEATURES", 8)
    monkeypatch.setattr(covariance, "_TIED_SWEEP_MAX_FEATURES", 8)
    assert family.sweep_e_step(X, np.zeros(3), params.components, None, 97, 1) is None
    chunked = em.e_step(family, X, params, weight, chunk_size=97)
    assert_stats_close(swept, reference, RTOL[dtype])
    assert_stats_close(chunked, reference, RTOL[dtype])


@pytest.mark.parametrize("covariance_type", ["tied", "full"])
def test_sweep_accepts_lower_triangular_precision_factors(covariance_type):
    # Lower factors (older model files; scikit-learn's precisions_init) are re-factored.
    family, X, params, weight = setup(covariance_type, np.float64, True, seed=8)
    upper = params.components.precisions_cholesky
    precisions = family.structure.precisions_from_cholesky(upper)
    lower_params = dataclasses.replace(
        family.params_from_precisions(params.components.means, precisions, X.dtype),
        precisions_cholesky=np.linalg.cholesky(precisions),
    )
    assert np.any(np.tril(lower_params.precisions_cholesky, -1))
    lower = em.MixtureParams(params.weights, lower_params)
    assert_stats_close(
        em.e_step(family, X, lower, weight), em.e_step(family, X, params, weight), 1e-10
    )


@pytest.mark.parametrize("covariance_type", ALL)
def test_sweep_gives_a_zero_weight_component_no_mass(covariance_type):
    family, X, params, _ = setup(covariance_type, np.float64, False, seed=9)
    zero = em.MixtureParams(np.array([0.5, 0.5, 0.0]), params.components)
    fused = em.e_step(family, X, zero)
    reference = em.e_step(family, X, zero, kernel="numpy")
    assert fused.resp_sum[2] == 0.0
    assert np.all(np.isfinite(fused.components.scatter))
    assert_stats_close(fused, reference, 1e-10)


def test_tied_sweep_keeps_well_separated_components_accurate():
    # The tied sweep subtracts the between-component scatter from the scatter
    # about one centre: the rounding is eps · (separation / spread)² relative,
    # 2e-10 here with components 1e3 standard deviations apart.
    rng = np.random.default_rng(10)
    X = rng.normal(size=(4000, 3))
    X[2000:] += 1e3
    family = GaussianFamily("tied", reg_covar=0)
    resp = np.zeros((4000, 2))
    resp[:2000, 0] = resp[2000:, 1] = 1.0
    stats = em.MixtureStats(4000, 0.0, resp.sum(0), family.stats(X, resp))
    params = em.m_step(family, stats, np.float64)
    fused = em.e_step(family, X, params, chunk_size=512)
    reference = em.e_step(family, X, params, chunk_size=512, kernel="numpy")
    expected = reference.components.scatter
    np.testing.assert_allclose(
        fused.components.scatter, expected, rtol=0, atol=1e-9 * np.abs(expected).max()
    )


@pytest.mark.parametrize("covariance_type", ALL)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [4, 9])
def test_predicted_labels_match_the_reference(covariance_type, dtype, n_features, monkeypatch):
    from mixfit.families.gaussian import sweeps as covariance

    # Nine features take the per-chunk path for tied and full (sweep width set to 8).
    monkeypatch.setattr(covariance, "_FULL_SWEEP_MAX_FEATURES", 8)
    monkeypatch.setattr(covariance, "_TIED_SWEEP_MAX_FEATURES", 8)
    family, X, params, _ = setup(covariance_type, dtype, False, seed=12, n_features=n_features)
    reference = em.log_resp(family, X, params, 128, kernel="numpy")[0].argmax(axis=1)
    for n_jobs in (1, 2):
        labels = em.predict_labels(family, X, params, 97, n_jobs=n_jobs)
        np.testing.assert_array_equal(labels, reference)
    np.testing.assert_array_equal(em.predict_labels(family, X, params, 97, kernel="numpy"), reference)


@pytest.mark.parametrize("covariance_type", ALL)
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_swept_log_resp_handles_a_zero_weight_component(covariance_type, n_jobs):
    family, X, params, _ = setup(covariance_type, np.float64, False, seed=13)
    zero = em.MixtureParams(np.array([0.5, 0.5, 0.0]), params.components)
    resp, norm = em.log_resp(family, X, zero, 97, n_jobs=n_jobs)
    ref_resp, ref_norm = em.log_resp(family, X, zero, 97, kernel="numpy")
    assert np.all(resp[:, 2] == -np.inf)
    np.testing.assert_allclose(norm, ref_norm, rtol=1e-12)
    np.testing.assert_allclose(np.exp(resp), np.exp(ref_resp), rtol=0, atol=1e-12)
