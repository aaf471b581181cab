"""GaussianMixture with missing values (NaN): marginal densities, expected statistics,
EM's monotonicity, recovery, the start, and the errors (MODELS.md §5)."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.special import logsumexp

from mixfit import GaussianMixture, KMeans, MiniBatchKMeans
from mixfit.engine import em
from mixfit.engine.init import params_from_resp
from mixfit.families import CollapsedComponentError, GaussianFamily
from mixfit.families.gaussian.missing import MissingGaussianFamily
from mixfit.families.gaussian.registry import STRUCTURES

ALL_STRUCTURES = sorted(STRUCTURES)


def _blobs(n_per=60, d=3, k=3, missing=0.25, seed=0, dtype=np.float64):
    """Well-separated clusters with values missing completely at random (no empty row)."""
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(size=(n_per, d)) + 6.0 * j for j in range(k)])
    mask = rng.random(X.shape) < missing
    mask[mask.all(axis=1), 0] = False
    X[mask] = np.nan
    return X.astype(dtype)


def _scipy_mixture_log_density(model, X):
    """log Σ_k w_k N(x_o; μ_{k,o}, Σ_{k,oo}) row by row, with scipy.stats."""
    n_components, n_features = model.means_.shape
    structure = STRUCTURES[model.covariance_type]
    out = np.empty(X.shape[0])
    for i, row in enumerate(X):
        obs = ~np.isnan(row)
        terms = []
        for k in range(n_components):
            cov = structure.component_covariance(
                np.asarray(model.covariances_, dtype=np.float64), k, n_features)
            terms.append(np.log(model.weights_[k]) + stats.multivariate_normal(
                model.means_[k, obs], cov[np.ix_(obs, obs)]).logpdf(row[obs]))
        out[i] = logsumexp(terms)
    return out


@pytest.mark.parametrize("covariance_type", ALL_STRUCTURES)
def test_score_samples_is_the_marginal_density_of_the_observed_values(covariance_type):
    X = _blobs()
    model = GaussianMixture(3, covariance_type=covariance_type, max_iter=5,
                            random_state=0).fit(X)
    expected = _scipy_mixture_log_density(model, X)
    np.testing.assert_allclose(model.score_samples(X), expected, rtol=1e-8)
    # The queries agree with each other on rows with NaN.
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X), proba.argmax(axis=1))
    assert np.isfinite(model.bic(X)) and np.isfinite(model.aic(X))


def _random_params(family, rng, n_components=3, n_features=4):
    resp = rng.dirichlet(np.ones(n_components), size=50)
    return family.m_step(family.stats(rng.normal(size=(50, n_features)) * 2.0, resp))


@pytest.mark.parametrize("covariance_type", ALL_STRUCTURES)
def test_without_nan_the_missing_value_paths_give_the_gaussian_family(covariance_type):
    # The pattern-wise code itself (not the delegation for NaN-free chunks), with
    # no value missing, must reproduce the complete-data family.
    rng = np.random.default_rng(1)
    family = GaussianFamily(covariance_type)
    missing = MissingGaussianFamily(family)
    params = _random_params(family, rng)
    X = rng.normal(size=(40, 4))
    resp = rng.dirichlet(np.ones(3), size=40)
    weight = rng.random(40) * 2.0
    mask = np.zeros(X.shape, dtype=bool)
    weighted = resp * weight[:, None]
    counts = weighted.sum(axis=0)
    if missing._kind in ("tied", "full"):
        means, scatter = missing._correlated_stats(X, mask, weighted, counts, params)
        log_prob = missing._correlated_log_prob(X, mask, params)
    else:
        means, scatter = missing._independent_stats(X, mask, weighted, counts, params)
        log_prob = missing._independent_log_prob(X, mask, params)
    reference = family.stats(X, resp, weight)
    np.testing.assert_allclose(means, reference.means, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(scatter, reference.scatter, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(log_prob, family.log_prob(X, params), rtol=1e-10)


def _reference_stats(X, weighted, covariances, means):
    """Expected statistics row by row from the conditional moments (MODELS.md §5)."""
    n_components, n_features = means.shape
    out_means = np.zeros((n_components, n_features))
    out_scatter = np.zeros((n_components, n_features, n_features))
    for k in range(n_components):
        completed, extras = [], []
        for row in X:
            m, o = np.isnan(row), ~np.isnan(row)
            sigma = covariances[k]
            filled, extra = row.copy(), np.zeros((n_features, n_features))
            gain = sigma[np.ix_(m, o)] @ np.linalg.inv(sigma[np.ix_(o, o)])
            filled[m] = means[k, m] + gain @ (row[o] - means[k, o])
            extra[np.ix_(m, m)] = sigma[np.ix_(m, m)] - gain @ sigma[np.ix_(o, m)]
            completed.append(filled)
            extras.append(extra)
        completed = np.array(completed)
        w = weighted[:, k]
        out_means[k] = w @ completed / w.sum()
        centred = completed - out_means[k]
        out_scatter[k] = (w[:, None] * centred).T @ centred + np.einsum(
            "i,ijk->jk", w, np.array(extras))
    return out_means, out_scatter


@pytest.mark.parametrize("covariance_type", ALL_STRUCTURES)
def test_expected_statistics_match_the_conditional_moments_row_by_row(covariance_type):
    rng = np.random.default_rng(2)
    family = GaussianFamily(covariance_type)
    params = _random_params(family, rng)
    X = rng.normal(size=(30, 4))
    X[rng.random(X.shape) < 0.35] = np.nan
    X[np.isnan(X).all(axis=1), 1] = 0.5
    resp = rng.dirichlet(np.ones(3), size=30)
    weight = rng.random(30) + 0.5
    missing = MissingGaussianFamily(family)
    stats_ = missing.stats(X, resp, weight, params=params)
    covariances = np.stack([
        family.structure.component_covariance(params.covariances, k, 4) for k in range(3)])
    means, scatter = _reference_stats(X, resp * weight[:, None], covariances, params.means)
    np.testing.assert_allclose(stats_.means, means, rtol=1e-10)
    # The full expected scatter reduced as each structure's chunk_scatter reduces
    # (mclust's axis-aligned models keep diag's per-feature scatter).
    expected = {"tied": scatter.sum(axis=0), "full": scatter,
                "diag": np.einsum("kii->ki", scatter),
                "spherical": np.einsum("kii->k", scatter),
                "identity": np.zeros(3)}[missing._kind]
    assert stats_.scatter.shape == family.structure.scatter_shape(3, 4)
    np.testing.assert_allclose(stats_.scatter, expected, rtol=1e-10)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    covariance_type=st.sampled_from(["full", "tied", "diag", "spherical", "identity",
                                     "VEV", "EVI", "VVE", "EVE", "VEI"]),
    n_components=st.integers(1, 3),
    missing=st.floats(0.0, 0.5),
)
def test_em_never_lowers_the_observed_data_log_likelihood(seed, covariance_type,
                                                          n_components, missing):
    rng = np.random.default_rng(seed)
    n, d = 24, 3
    X = rng.normal(size=(n, d)) + rng.integers(0, 3, size=(n, 1)) * 3.0
    mask = rng.random(X.shape) < missing
    mask[mask.all(axis=1), rng.integers(0, d)] = False
    X[mask] = np.nan
    weight = rng.random(n) * 2.0 + 0.05
    # reg_covar=0: with it, the M-step maximises a slightly different objective
    # (the likelihood may then fall by ~1e-8 near convergence).
    family = GaussianFamily(covariance_type, reg_covar=0.0)
    start = params_from_resp(family, np.where(mask, 0.0, X),
                             rng.dirichlet(np.ones(n_components), size=n))
    try:
        result = em.fit_em(MissingGaussianFamily(family), X, start, sample_weight=weight,
                           tol=0.0, max_iter=10, kernel="numpy", chunk_size=7)
    except CollapsedComponentError:
        # A component on too few points: singular without regularisation,
        # refused by the fit (its likelihood is unbounded); says nothing of EM.
        assume(False)
    bounds = np.array(result.lower_bounds)
    assert np.isfinite(bounds).all()
    # Rounding only: each step's change is at least -1e-9 of the value.
    assert (np.diff(bounds) >= -1e-9 * np.abs(bounds[1:])).all(), bounds


def test_fit_recovers_means_and_covariances_with_a_fifth_missing():
    # Two well-separated components (overlap below 1e-20), so the mixture adds
    # no noise: each parameter's error is that of a Gaussian MLE from n_k rows,
    # of which a fifth of each coordinate is missing. Standard errors with the
    # effective count n_k·0.8 (at least that much of each coordinate is seen):
    # mean_j: sqrt(Σ_jj / n_eff); Σ_ij: sqrt((Σ_ii Σ_jj + Σ_ij²) / n_eff).
    # Bounds at 5 standard errors (a false failure below 1e-5 per entry).
    means = np.array([[0.0, 0.0, 0.0], [12.0, -12.0, 12.0]])
    covariances = np.array([[[2.0, 0.8, 0.3], [0.8, 1.0, -0.4], [0.3, -0.4, 1.5]],
                            [[1.0, -0.5, 0.0], [-0.5, 2.0, 0.6], [0.0, 0.6, 1.0]]])
    family = GaussianFamily("full")
    weights = np.array([0.4, 0.6])
    truth = em.MixtureParams(weights, family.params_from_covariances(
        means, covariances, np.float64))
    X, _ = em.sample_mixture(family, truth, 5000, np.random.RandomState(0), np.float64)
    rng = np.random.default_rng(3)
    mask = rng.random(X.shape) < 0.2
    mask[mask.all(axis=1), 0] = False
    X[mask] = np.nan
    model = GaussianMixture(2, random_state=0, tol=1e-8, max_iter=500).fit(X)
    order = np.argsort(model.means_[:, 0])
    n_eff = 5000 * weights * 0.8
    for k, fitted in enumerate(order):
        diag = np.diag(covariances[k])
        se_mean = np.sqrt(diag / n_eff[k])
        assert np.all(np.abs(model.means_[fitted] - means[k]) < 5 * se_mean)
        se_cov = np.sqrt((np.outer(diag, diag) + covariances[k] ** 2) / n_eff[k])
        assert np.all(np.abs(model.covariances_[fitted] - covariances[k]) < 5 * se_cov)


def test_a_row_with_no_observed_value_is_refused_with_its_index():
    X = _blobs()
    X[17] = np.nan
    with pytest.raises(ValueError, match=r"row 17 of X has no observed value \(all NaN\)"):
        GaussianMixture(2).fit(X)
    model = GaussianMixture(2, random_state=0).fit(_blobs())
    with pytest.raises(ValueError, match="row 1 of X has no observed value"):
        model.predict(np.array([[0.0, np.nan, 1.0], [np.nan] * 3]))


def test_a_column_with_no_observed_value_is_refused():
    X = _blobs(missing=0.0)
    X[:, 2] = np.nan
    with pytest.raises(ValueError, match="column 2 of X has no observed value"):
        GaussianMixture(2).fit(X)


def test_infinite_values_are_still_refused_beside_nan():
    X = _blobs()
    X[3, 1] = np.inf
    with pytest.raises(ValueError, match=r"1 infinite \(inf\) value\(s\), in column\(s\) 1"):
        GaussianMixture(2).fit(X)


def test_queries_on_rows_with_nan_for_a_model_fitted_on_complete_data():
    complete = _blobs(missing=0.0)
    model = GaussianMixture(3, random_state=0).fit(complete)
    rows = np.array([[0.1, np.nan, 0.0], [np.nan, 6.2, np.nan], [12.0, 12.0, 12.0]])
    np.testing.assert_allclose(model.score_samples(rows),
                               _scipy_mixture_log_density(model, rows), rtol=1e-8)
    labels = model.predict(rows)
    assert labels[0] == model.predict(complete[:1])[0]  # the cluster at the origin
    assert labels[1] == model.predict(complete[60:61])[0]  # the one at 6
    np.testing.assert_allclose(model.predict_proba(rows).sum(axis=1), 1.0)
    # A row without NaN gets the same density whether or not others have NaN.
    np.testing.assert_allclose(model.score_samples(rows[2:]), model.score_samples(rows)[2:],
                               rtol=1e-10)


@pytest.mark.parametrize("estimator", [KMeans(2, n_init=1), MiniBatchKMeans(2, n_init=1)])
def test_kmeans_refuses_nan_and_names_gaussian_mixture(estimator):
    with pytest.raises(ValueError, match=r"NaN.*mixfit\.GaussianMixture fits data with NaN"):
        estimator.fit(_blobs())


def test_partial_fit_refuses_nan_and_says_what_takes_it():
    with pytest.raises(ValueError, match="partial_fit and mixfit.select do not: use fit"):
        GaussianMixture(2).partial_fit(_blobs())


def test_tags_declare_nan_for_gaussian_mixture_only():
    assert GaussianMixture().__sklearn_tags__().input_tags.allow_nan
    assert not KMeans().__sklearn_tags__().input_tags.allow_nan


def test_float32_input_stays_float32_and_agrees_with_float64():
    X = _blobs()
    model64 = GaussianMixture(3, random_state=0, tol=1e-8).fit(X)
    model32 = GaussianMixture(3, random_state=0, tol=1e-8).fit(X.astype(np.float32))
    assert model32.means_.dtype == np.float32
    assert model32.score_samples(X.astype(np.float32)).dtype == np.float32
    order64, order32 = np.argsort(model64.means_[:, 0]), np.argsort(model32.means_[:, 0])
    np.testing.assert_allclose(model32.means_[order32], model64.means_[order64], atol=1e-3)


def test_start_without_enough_complete_rows_uses_mean_imputed_rows():
    X = _blobs(missing=0.0)
    X[np.arange(X.shape[0]), np.arange(X.shape[0]) % 3] = np.nan  # no complete row
    model = GaussianMixture(3, random_state=0).fit(X)
    np.testing.assert_allclose(np.sort(model.means_[:, 0]), [0.0, 6.0, 12.0], atol=0.5)
    resp = np.repeat(np.eye(3), 60, axis=0)
    given = GaussianMixture(3, resp_init=resp).fit(X)
    np.testing.assert_allclose(given.means_[:, 1], [0.0, 6.0, 12.0], atol=0.5)


def test_result_does_not_depend_on_threads_or_chunks():
    X = _blobs(n_per=40)
    one = GaussianMixture(3, random_state=0, chunk_size=16, n_jobs=1).fit(X)
    two = GaussianMixture(3, random_state=0, chunk_size=16, n_jobs=2).fit(X)
    np.testing.assert_array_equal(one.means_, two.means_)
    np.testing.assert_array_equal(one.covariances_, two.covariances_)
    big = GaussianMixture(3, random_state=0, chunk_size=4096).fit(X)
    np.testing.assert_allclose(big.means_, one.means_, rtol=1e-9)


@pytest.mark.parametrize("n_features", [5, 70])
def test_patterns_group_every_row_with_its_own_mask(n_features):
    # 70 features: past the 62 bits of the integer codes, np.unique's path.
    from mixfit.families.gaussian.missing import missingness_patterns

    rng = np.random.default_rng(4)
    mask = rng.random((200, n_features)) < 0.02 * (70 / n_features)
    order, blocks = missingness_patterns(mask)
    np.testing.assert_array_equal(np.sort(order), np.arange(200))
    assert blocks[0][0] == 0 and blocks[-1][1] == 200
    seen = set()
    for start, stop, pattern in blocks:
        rows = order[start:stop]
        assert (mask[rows] == pattern).all() and np.all(np.diff(rows) > 0)
        seen.add(pattern.tobytes())
    assert len(seen) == len(blocks) == np.unique(mask, axis=0).shape[0]


def test_fixed_means_and_partial_labels_work_with_missing_values():
    X = _blobs()
    truth = np.array([[0.0] * 3, [6.0] * 3, [12.0] * 3])
    fixed = GaussianMixture(3, means_init=truth, fixed_params=["means"], random_state=0).fit(X)
    np.testing.assert_array_equal(fixed.means_, truth)
    y = np.full(X.shape[0], -1)
    y[[0, 1, 60, 61, 120, 121]] = [2, 2, 0, 0, 1, 1]  # class c ↔ component c
    labelled = GaussianMixture(3, semi_supervised=True, random_state=0).fit(X, y)
    np.testing.assert_allclose(labelled.means_[:, 0], [6.0, 12.0, 0.0], atol=0.5)


def test_dask_fit_refuses_nan_and_says_what_takes_it():
    da = pytest.importorskip("dask.array")
    with pytest.raises(ValueError, match=r"fit it on X\.compute\(\)"):
        GaussianMixture(2).fit(da.from_array(_blobs(), chunks=(60, 3)))


def test_a_memory_map_with_nan_fits_as_the_array_in_memory(tmp_path):
    X = _blobs()
    np.save(tmp_path / "x.npy", X)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    from_map = GaussianMixture(3, random_state=0).fit(mapped)
    in_memory = GaussianMixture(3, random_state=0).fit(X)
    np.testing.assert_allclose(from_map.means_, in_memory.means_, rtol=1e-12)
    np.testing.assert_allclose(from_map.score_samples(mapped), in_memory.score_samples(X),
                               rtol=1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_many_patterns_in_ten_dimensions_match_scipy(covariance_type):
    # Nearly one pattern per row: the kernels' per-block factorisations.
    rng = np.random.default_rng(6)
    family = GaussianFamily(covariance_type)
    params = _random_params(family, rng, n_features=10)
    X = rng.normal(size=(25, 10)) * 2.0
    X[rng.random(X.shape) < 0.3] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 0.0
    log_prob = MissingGaussianFamily(family).log_prob(X, params)
    for i, row in enumerate(X):
        obs = ~np.isnan(row)
        for k in range(3):
            cov = family.structure.component_covariance(params.covariances, k, 10)
            expected = stats.multivariate_normal(params.means[k, obs],
                                                 cov[np.ix_(obs, obs)]).logpdf(row[obs])
            np.testing.assert_allclose(log_prob[i, k], expected, rtol=1e-8)


def test_a_covariance_singular_on_the_observed_block_is_a_collapse():
    from mixfit.families import CollapsedComponentError, GaussianParams

    # Features 0 and 1 are one and the same: a block holding both is singular.
    family = GaussianFamily("full")
    singular = np.array([[[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])
    params = GaussianParams(np.zeros((1, 3)), singular, np.eye(3)[None])
    X = np.array([[0.5, 0.5, np.nan], [0.5, np.nan, 0.5]])
    with pytest.raises(CollapsedComponentError, match="component 0"):
        MissingGaussianFamily(family).log_prob(X, params)
    with pytest.raises(CollapsedComponentError, match="component 0"):
        MissingGaussianFamily(family).stats(X, np.ones((2, 1)), params=params)
    # Without feature 1 the block is regular: the second row alone is fine.
    assert np.isfinite(MissingGaussianFamily(family).log_prob(X[1:], params)).all()


def test_huge_data_with_nan_is_fitted_in_its_scaled_units():
    # Beyond 2**60 the fit works in units of a power of two: the NaN must not
    # hide the data's magnitude (a NaN max would have left the scale at 1).
    X = _blobs()
    factor = 2.0**80
    # reg_covar=0: a regularisation in the data's units would weigh differently.
    small = GaussianMixture(3, reg_covar=0.0, random_state=0).fit(X)
    huge = GaussianMixture(3, reg_covar=0.0, random_state=0).fit(X * factor)
    np.testing.assert_allclose(huge.means_, small.means_ * factor, rtol=1e-10)
    # The density of |o| observed values scales by factor ** -|o|.
    observed = (~np.isnan(X)).sum(axis=1)
    np.testing.assert_allclose(huge.score_samples(X * factor),
                               small.score_samples(X) - observed * np.log(factor), rtol=1e-10)
    np.testing.assert_allclose(huge.lower_bound_,
                               small.lower_bound_ - observed.mean() * np.log(factor),
                               rtol=1e-10)
