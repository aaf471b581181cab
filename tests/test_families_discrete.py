"""The Bernoulli and Poisson families: densities, EM, missing entries, fixed parameters, kernels.

Reference densities come from scipy.stats; the EM properties are checked through
``mixfit.engine.em.fit_em(..., kernel="numpy")``, and the fused kernels
(``kernel="numba"``) against that numpy path.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from mixfit.engine import em
from mixfit.engine.init import params_from_labels, params_from_resp
from mixfit.families import (
    BernoulliFamily,
    BernoulliParams,
    BernoulliStats,
    PoissonFamily,
    PoissonStats,
)

RTOL = {np.float64: 1e-10, np.float32: 1e-5}


def scipy_bernoulli(X, p):
    """Σ_j bernoulli.logpmf(x_j, p_kj), shape (n, K), in float64."""
    X = np.asarray(X, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    return scipy_stats.bernoulli.logpmf(X[:, None, :], p[None]).sum(axis=2)


def scipy_poisson(X, rates):
    """Σ_j poisson.logpmf(x_j, λ_kj), shape (n, K), in float64."""
    X = np.asarray(X, dtype=np.float64)
    rates = np.asarray(rates, dtype=np.float64)
    return scipy_stats.poisson.logpmf(X[:, None, :], rates[None]).sum(axis=2)


def assert_log_prob_matches(got, expected, rtol):
    """Same -inf entries; the finite ones equal to ``rtol`` relative."""
    assert not np.isnan(got).any()
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=rtol, atol=0)


def draw(family, params, weights, n, rng):
    """n rows from the mixture by each component's ``sample``, with their labels."""
    labels = rng.choice(len(weights), size=n, p=weights)
    X = np.empty((n, params_shape(params)[1]))
    for k in range(len(weights)):
        rows = labels == k
        X[rows] = family.sample(params, k, int(rows.sum()), rng)
    return X, labels


def params_shape(params):
    return (params.probabilities if isinstance(params, BernoulliParams) else params.rates).shape


# --- (1) log-densities against scipy.stats ---


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bernoulli_log_prob_equals_scipy(dtype):
    rng = np.random.default_rng(0)
    X = (rng.random((50, 7)) < 0.4).astype(dtype)
    family = BernoulliFamily()
    params = family.params_from_probabilities(rng.uniform(0.05, 0.95, (3, 7)), dtype)
    got = family.log_prob(X, params)
    assert got.dtype == dtype
    assert_log_prob_matches(got, scipy_bernoulli(X, params.probabilities), RTOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bernoulli_log_prob_with_probabilities_of_zero_and_one_equals_scipy(dtype):
    rng = np.random.default_rng(1)
    X = (rng.random((60, 4)) < 0.5).astype(dtype)
    p = rng.uniform(0.1, 0.9, (3, 4))
    p[0, 0], p[1, 2], p[2, 1], p[2, 3] = 0.0, 1.0, 0.0, 1.0
    family = BernoulliFamily(pseudocount=0.0)
    got = family.log_prob(X, family.params_from_probabilities(p, dtype))
    expected = scipy_bernoulli(X, p.astype(dtype))
    assert np.isneginf(expected).any() and np.isfinite(expected).any()
    assert_log_prob_matches(got, expected, RTOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_poisson_log_prob_equals_scipy(dtype):
    rng = np.random.default_rng(2)
    rates = rng.uniform(0.3, 8.0, (3, 5))
    rates[1, 2] = 0.0  # x = 0 has probability 1 there, x > 0 none
    X = rng.poisson(rng.uniform(0.0, 6.0, 5), size=(80, 5)).astype(dtype)
    X[:5, 2] = 0
    family = PoissonFamily()
    got = family.log_prob(X, family.params_from_rates(rates, dtype))
    assert got.dtype == dtype
    expected = scipy_poisson(X, rates.astype(dtype))
    assert np.isneginf(expected).any() and np.isfinite(expected[:, 1]).any()
    assert_log_prob_matches(got, expected, RTOL[dtype])


# --- (2) EM never lowers the objective, with sample weights ---


def bernoulli_log_prior(params, pseudocount):
    """a Σ log p(1 − p): what MAP-EM with a pseudocount adds to the log-likelihood."""
    if pseudocount == 0:
        return 0.0
    p = np.asarray(params.components.probabilities, dtype=np.float64)
    return pseudocount * float(np.log(p).sum() + np.log1p(-p).sum())


def objectives(family, X, params, sample_weight, log_prior, kernel="numpy"):
    """The objective at the parameters of every E-step of a fit (tol=0, 30 iterations)."""
    seen = [params]
    result = em.fit_em(
        family, X, params, sample_weight=sample_weight, tol=0.0, max_iter=30, kernel=kernel,
        callback=lambda iteration, updated, _: seen.append(updated),
    )
    total = float(sample_weight.sum())
    values = np.array([
        bound * total + log_prior(p) for bound, p in zip(result.lower_bounds, seen)
    ])
    assert np.isfinite(values).all()
    return values


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_components=st.integers(1, 3),
    n_features=st.integers(1, 5),
    pseudocount=st.sampled_from([0.0, 0.5, 1.0]),
)
def test_bernoulli_em_never_lowers_the_objective(seed, n_components, n_features, pseudocount):
    # With a pseudocount the M-step is a posterior mode, so the quantity EM
    # raises is the log-likelihood plus the log-prior; with 0, the likelihood.
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.1, 0.9, (2, n_features))
    X = (rng.random((40, n_features)) < centres[rng.integers(0, 2, 40)]).astype(float)
    weight = rng.uniform(0.1, 3.0, 40)
    family = BernoulliFamily(pseudocount=pseudocount)
    resp = rng.dirichlet(np.ones(n_components), size=40)
    params = params_from_resp(family, X, resp, sample_weight=weight)
    values = objectives(family, X, params, weight,
                        lambda p: bernoulli_log_prior(p, pseudocount))
    steps = np.diff(values)
    assert (steps >= -1e-9 * np.abs(values[1:])).all(), steps.min()


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_components=st.integers(1, 3),
    n_features=st.integers(1, 4),
)
def test_poisson_em_never_lowers_the_log_likelihood(seed, n_components, n_features):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.0, 6.0, (2, n_features))
    X = rng.poisson(centres[rng.integers(0, 2, 40)]).astype(float)
    weight = rng.uniform(0.1, 3.0, 40)
    family = PoissonFamily()
    resp = rng.dirichlet(np.ones(n_components), size=40)
    params = params_from_resp(family, X, resp, sample_weight=weight)
    values = objectives(family, X, params, weight, lambda p: 0.0)
    steps = np.diff(values)
    assert (steps >= -1e-9 * np.abs(values[1:])).all(), steps.min()


# --- (3) parameter recovery from data drawn with ``sample`` ---
#
# Components far apart (a row's log-likelihood ratio between them is > 10),
# so misassigned rows are ~e^-10 of the data and the estimates' standard
# errors are those of complete data: sqrt(p(1 − p)/n_k) for a probability,
# sqrt(λ/n_k) for a rate, sqrt(w(1 − w)/n) for a weight. Each estimate must be
# within 5 standard errors of the truth (a two-sided 5.7e-7 chance per number).

N_RECOVERY = 6000


def fit_from_truth_nearby(family, X, start):
    result = em.fit_em(family, X, start, tol=1e-12, max_iter=500, kernel="numpy")
    assert result.converged
    return result.params


def test_bernoulli_parameters_are_recovered_within_five_standard_errors():
    rng = np.random.default_rng(4)
    family = BernoulliFamily(pseudocount=1.0)
    truth = np.array([[0.1, 0.9, 0.2, 0.8, 0.15, 0.5],
                      [0.85, 0.1, 0.75, 0.2, 0.9, 0.5]])
    weights = np.array([0.35, 0.65])
    X, _ = draw(family, family.params_from_probabilities(truth), weights, N_RECOVERY, rng)
    start = em.MixtureParams(
        np.array([0.5, 0.5]), family.params_from_probabilities(np.clip(truth + 0.1, 0, 1) * 0.9)
    )
    fitted = fit_from_truth_nearby(family, X, start)
    n_k = weights * N_RECOVERY
    se = np.sqrt(truth * (1 - truth) / n_k[:, None])
    assert (np.abs(fitted.components.probabilities - truth) < 5 * se).all()
    se_w = np.sqrt(weights * (1 - weights) / N_RECOVERY)
    assert (np.abs(fitted.weights - weights) < 5 * se_w).all()


def test_poisson_parameters_are_recovered_within_five_standard_errors():
    rng = np.random.default_rng(5)
    family = PoissonFamily()
    truth = np.array([[1.0, 8.0, 3.0, 0.5],
                      [7.0, 1.0, 0.5, 5.0]])
    weights = np.array([0.4, 0.6])
    X, _ = draw(family, family.params_from_rates(truth), weights, N_RECOVERY, rng)
    start = em.MixtureParams(np.array([0.5, 0.5]), family.params_from_rates(truth * 1.3 + 0.2))
    fitted = fit_from_truth_nearby(family, X, start)
    n_k = weights * N_RECOVERY
    se = np.sqrt(truth / n_k[:, None])
    assert (np.abs(fitted.components.rates - truth) < 5 * se).all()
    se_w = np.sqrt(weights * (1 - weights) / N_RECOVERY)
    assert (np.abs(fitted.weights - weights) < 5 * se_w).all()


# --- (4) the statistics add, and a weight of 2 is a duplicated row ---


def discrete_cases():
    rng = np.random.default_rng(6)
    binary = (rng.random((25, 4)) < 0.5).astype(float)
    counts = rng.poisson(3.0, size=(25, 4)).astype(float)
    return [(BernoulliFamily(), binary), (PoissonFamily(), counts)]


def assert_stats_equal(a, b):
    assert type(a) is type(b)
    np.testing.assert_allclose(a.resp_sum, b.resp_sum, rtol=1e-12)
    np.testing.assert_allclose(a.x_sum, b.x_sum, rtol=1e-12)


@pytest.mark.parametrize("family, X", discrete_cases())
def test_statistics_of_a_union_are_the_sum(family, X):
    rng = np.random.default_rng(7)
    resp = rng.dirichlet(np.ones(3), size=len(X))
    weight = rng.uniform(0.5, 2.0, len(X))
    whole = family.stats(X, resp, weight)
    parts = family.stats(X[:9], resp[:9], weight[:9]) + family.stats(X[9:], resp[9:], weight[9:])
    assert_stats_equal(whole, parts)
    assert_stats_equal(whole + family.empty_stats(3, X.shape[1]), whole)
    assert_stats_equal(whole.scaled(2.0), family.stats(X, resp, 2 * weight))


@pytest.mark.parametrize("family, X", discrete_cases())
def test_a_weight_of_two_is_a_duplicated_row(family, X):
    rng = np.random.default_rng(8)
    weight = np.ones(len(X))
    weight[3] = 2.0
    duplicated = np.vstack([X, X[3:4]])
    resp = rng.dirichlet(np.ones(2), size=len(X))
    assert_stats_equal(
        family.stats(X, resp, weight),
        family.stats(duplicated, np.vstack([resp, resp[3:4]])),
    )
    start = params_from_resp(family, X, resp)
    weighted = em.fit_em(family, X, start, sample_weight=weight, tol=0.0, max_iter=10,
                         kernel="numpy")
    plain = em.fit_em(family, duplicated, start, tol=0.0, max_iter=10, kernel="numpy")
    np.testing.assert_allclose(weighted.lower_bounds, plain.lower_bounds, rtol=1e-12)
    np.testing.assert_allclose(weighted.params.weights, plain.params.weights, rtol=1e-12)


# --- (5) probabilities of exactly 0 and 1 (pseudocount 0), rates of 0 ---


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bernoulli_without_pseudocount_fits_certain_features_exactly(dtype, kernel):
    # Component 0's rows are all 0 in feature 0 and all 1 in feature 1, so its
    # maximum likelihood probabilities there are exactly 0 and 1: rows of the
    # other component with a 1 in feature 0 or a 0 in feature 1 are impossible
    # under it (-inf), every other density is finite, and nothing is NaN.
    rng = np.random.default_rng(9)
    first = (rng.random((30, 4)) < 0.5).astype(dtype)
    first[:, 0], first[:, 1] = 0, 1
    second = (rng.random((40, 4)) < 0.5).astype(dtype)
    X = np.vstack([first, second])
    labels = np.repeat([0, 1], [30, 40])
    family = BernoulliFamily(pseudocount=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        start = params_from_labels(family, X, labels, 2)
        result = em.fit_em(family, X, start, tol=0.0, max_iter=20, kernel=kernel)
        p = result.params.components.probabilities
        log_prob = family.log_prob(X, result.params.components)
        log_resp, log_norm = em.log_resp(family, X, result.params, chunk_size=16, kernel="numpy")
    assert p.dtype == dtype and np.isfinite(p).all()
    assert p[0, 0] == 0 and p[0, 1] == 1
    assert np.isfinite(result.lower_bounds).all()
    impossible = (X[:, 0] == 1) | (X[:, 1] == 0)
    assert impossible[30:].any()
    np.testing.assert_array_equal(np.isneginf(log_prob[:, 0]), impossible)
    assert np.isfinite(log_prob[:, 1]).all()
    assert not np.isnan(log_resp).any() and np.isfinite(log_norm).all()
    assert_log_prob_matches(log_prob, scipy_bernoulli(X, p), RTOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bernoulli_probabilities_strictly_inside_stay_inside_in_the_dtype(dtype):
    # 1 − 1e-9 rounds to 1 in float32; the M-step must not make rows with a 0
    # there impossible. Exact 0 and 1 stay exact.
    family = BernoulliFamily(pseudocount=0.0)
    stats = BernoulliStats(np.array([1e9, 5.0]), np.array([[1e9 - 1, 1e9], [0.0, 2.5]]))
    p = family.m_step(stats, dtype=dtype).probabilities
    assert 0 < p[0, 0] < 1 and p[0, 1] == 1 and p[1, 0] == 0 and p[1, 1] == 0.5


def test_poisson_all_zero_column_gives_a_floored_rate_and_finite_densities():
    rng = np.random.default_rng(10)
    first = rng.poisson(3.0, size=(30, 3)).astype(float)
    first[:, 0] = 0
    X = np.vstack([first, rng.poisson(3.0, size=(30, 3)) + 1.0])
    family = PoissonFamily()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        start = params_from_labels(family, X, np.repeat([0, 1], 30), 2)
        result = em.fit_em(family, X, start, tol=0.0, max_iter=10, kernel="numpy")
        log_prob = family.log_prob(X, result.params.components)
    assert result.params.components.rates[0, 0] == np.finfo(np.float64).tiny
    assert np.isfinite(log_prob).all() and np.isfinite(result.lower_bounds).all()


def test_empty_components_get_documented_parameters():
    bernoulli = BernoulliFamily(pseudocount=0.0).m_step(
        BernoulliStats(np.array([0.0, 4.0]), np.array([[0.0, 0.0], [1.0, 4.0]]))
    )
    np.testing.assert_array_equal(bernoulli.probabilities, [[0.5, 0.5], [0.25, 1.0]])
    poisson = PoissonFamily().m_step(
        PoissonStats(np.array([0.0, 4.0]), np.array([[0.0, 0.0], [2.0, 8.0]]))
    )
    np.testing.assert_array_equal(poisson.rates, [[0.5, 2.0], [0.5, 2.0]])


# --- parameters, counts and draws ---


@pytest.mark.parametrize("pseudocount", [-1.0, np.nan, np.inf])
def test_a_bad_pseudocount_is_refused_when_used(pseudocount):
    family = BernoulliFamily(pseudocount=pseudocount)
    assert family.pseudocount is pseudocount or np.isnan(family.pseudocount)
    with pytest.raises(ValueError, match="pseudocount must be a finite number >= 0"):
        family.m_step(family.empty_stats(2, 3))


def test_a_pseudocount_that_is_not_a_number_is_refused():
    with pytest.raises(TypeError, match="pseudocount must be a number"):
        BernoulliFamily(pseudocount="1").m_step(BernoulliFamily().empty_stats(2, 3))


def test_pseudocount_shrinks_towards_one_half():
    stats = BernoulliStats(np.array([4.0]), np.array([[0.0, 4.0, 1.0]]))
    p = BernoulliFamily(pseudocount=1.0).m_step(stats).probabilities
    np.testing.assert_allclose(p, [[1 / 6, 5 / 6, 2 / 6]], rtol=1e-15)


@pytest.mark.parametrize("bad", [[[0.5, 1.5]], [[-0.1, 0.5]], [[np.nan, 0.5]], [0.5, 0.5]])
def test_bad_probabilities_are_refused(bad):
    with pytest.raises(ValueError, match="probabilities must"):
        BernoulliFamily().params_from_probabilities(bad)


@pytest.mark.parametrize("bad", [[[1.0, -1.0]], [[np.inf, 1.0]], [1.0, 2.0]])
def test_bad_rates_are_refused(bad):
    with pytest.raises(ValueError, match="rates must"):
        PoissonFamily().params_from_rates(bad)


def test_parameter_counts_are_k_times_d():
    assert BernoulliFamily().n_parameters(3, 7) == 21
    assert PoissonFamily().n_parameters(4, 5) == 20


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_draws_have_the_dtype_and_the_support(dtype):
    rng = np.random.default_rng(11)
    bernoulli = BernoulliFamily()
    draws = bernoulli.sample(
        bernoulli.params_from_probabilities([[0.0, 1.0, 0.5]], dtype), 0, 200, rng
    )
    assert draws.dtype == dtype and draws.shape == (200, 3)
    assert (draws[:, 0] == 0).all() and (draws[:, 1] == 1).all()
    assert set(np.unique(draws[:, 2])) == {0, 1}
    poisson = PoissonFamily()
    counts = poisson.sample(poisson.params_from_rates([[0.0, 3.0]], dtype), 0, 200, rng)
    assert counts.dtype == dtype and (counts[:, 0] == 0).all()
    assert (counts >= 0).all() and (counts == np.round(counts)).all()



# --- (6) fixed parameters ---


@pytest.mark.parametrize("family, name", [(BernoulliFamily(), "probabilities"),
                                          (PoissonFamily(), "rates")])
def test_a_fixed_parameter_keeps_its_previous_value_and_is_not_counted(family, name):
    assert family.parameter_names == (name,)
    X, _ = discrete_cases()[0 if name == "probabilities" else 1][1], None
    rng = np.random.default_rng(12)
    resp = rng.dirichlet(np.ones(2), size=len(X))
    stats = family.stats(X, resp)
    free = family.m_step(stats)
    previous = family.m_step(family.stats(X, rng.dirichlet(np.ones(2), size=len(X))))
    kept = family.m_step(stats, previous=previous, fixed=frozenset({name}))
    assert kept is previous
    assert not np.array_equal(getattr(free, name), getattr(previous, name))
    assert family.n_parameters(2, 4, fixed=frozenset({name})) == 0
    assert family.n_parameters(2, 4, fixed=frozenset()) == 8
    with pytest.raises(ValueError, match="no previous parameters"):
        family.m_step(stats, fixed=frozenset({name}))
    with pytest.raises(ValueError, match=r"has no parameter\(s\) \['means'\].*\['" + name):
        family.m_step(stats, previous=previous, fixed=frozenset({"means"}))


# --- (7) missing entries (NaN) are skipped ---


def with_missing(X, fraction, rng):
    """X (float) with about ``fraction`` of its entries set to NaN, no row all NaN."""
    X = np.array(X, dtype=float)
    mask = rng.random(X.shape) < fraction
    mask[mask.all(axis=1), 0] = False
    X[mask] = np.nan
    return X


def scipy_observed(logpmf, X, params):
    """Σ_j over the observed entries of logpmf(x_j, θ_kj), shape (n, K), float64."""
    X = np.asarray(X, dtype=np.float64)
    observed = ~np.isnan(X)
    terms = logpmf(np.where(observed, X, 0)[:, None, :], np.asarray(params, np.float64)[None])
    # -inf terms of observed entries must survive; missing ones contribute 0.
    return np.where(observed[:, None, :], terms, 0.0).sum(axis=2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_prob_with_missing_entries_sums_scipy_over_the_observed_ones(dtype):
    rng = np.random.default_rng(13)
    binary = with_missing(rng.random((60, 6)) < 0.4, 0.3, rng).astype(dtype)
    binary[0] = np.nan  # a row with nothing observed: the empty sum, 0
    p = rng.uniform(0.05, 0.95, (3, 6))
    p[0, 1], p[2, 4] = 0.0, 1.0  # impossible rows only where the entry is observed
    family = BernoulliFamily(pseudocount=0.0)
    got = family.log_prob(binary, family.params_from_probabilities(p, dtype))
    expected = scipy_observed(scipy_stats.bernoulli.logpmf, binary, p.astype(dtype))
    assert got.dtype == dtype
    assert np.isneginf(expected).any() and (expected[0] == 0).all()
    assert_log_prob_matches(got, expected, RTOL[dtype])

    rates = rng.uniform(0.3, 8.0, (3, 6))
    rates[1, 3] = 0.0
    counts = with_missing(rng.poisson(3.0, (60, 6)), 0.3, rng).astype(dtype)
    poisson = PoissonFamily()
    got = poisson.log_prob(counts, poisson.params_from_rates(rates, dtype))
    expected = scipy_observed(scipy_stats.poisson.logpmf, counts, rates.astype(dtype))
    assert got.dtype == dtype
    assert np.isneginf(expected).any()
    assert_log_prob_matches(got, expected, RTOL[dtype])


def test_statistics_with_missing_entries_count_only_observed_mass_and_add():
    rng = np.random.default_rng(14)
    X = with_missing(rng.poisson(3.0, (30, 4)), 0.25, rng)
    resp = rng.dirichlet(np.ones(2), size=30)
    weight = rng.uniform(0.5, 2.0, 30)
    stats = PoissonFamily().stats(X, resp, weight)
    weighted = resp * weight[:, None]
    observed = ~np.isnan(X)
    np.testing.assert_allclose(stats.observed_sum, weighted.T @ observed, rtol=1e-13)
    np.testing.assert_allclose(stats.x_sum, weighted.T @ np.nan_to_num(X), rtol=1e-13)
    # A complete chunk (observed_sum None) added to one with NaN: the union.
    complete = np.nan_to_num(X[:10]) + (np.isnan(X[:10]) * 1.0)
    assert PoissonFamily().stats(complete, resp[:10]).observed_sum is None
    whole = PoissonFamily().stats(np.vstack([complete, X[10:]]), resp)
    parts = PoissonFamily().stats(complete, resp[:10]) + PoissonFamily().stats(X[10:], resp[10:])
    for name in ("resp_sum", "x_sum", "observed_sum"):
        np.testing.assert_allclose(getattr(parts, name), getattr(whole, name), rtol=1e-12)
    np.testing.assert_allclose(parts.scaled(3.0).observed_sum, 3 * parts.observed_sum)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_components=st.integers(1, 3),
    n_features=st.integers(2, 5),
    bernoulli=st.booleans(),
    kernel=st.sampled_from(["numpy", "numba"]),
)
def test_em_with_missing_entries_never_lowers_the_observed_data_objective(
        seed, n_components, n_features, bernoulli, kernel):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 40)
    if bernoulli:
        family = BernoulliFamily(pseudocount=0.5)
        full = rng.random((40, n_features)) < rng.uniform(0.1, 0.9, (2, n_features))[labels]
        prior = lambda p: bernoulli_log_prior(p, 0.5)  # noqa: E731
    else:
        family = PoissonFamily()
        full = rng.poisson(rng.uniform(0.0, 6.0, (2, n_features))[labels])
        prior = lambda p: 0.0  # noqa: E731
    X = with_missing(full, 0.3, rng)
    weight = rng.uniform(0.1, 3.0, 40)
    params = params_from_resp(family, X, rng.dirichlet(np.ones(n_components), size=40),
                              sample_weight=weight)
    values = objectives(family, X, params, weight, prior, kernel)
    steps = np.diff(values)
    assert (steps >= -1e-9 * np.abs(values[1:])).all(), steps.min()


def test_parameters_are_recovered_with_a_fifth_of_the_entries_missing():
    # As in (3), but each probability or rate is estimated from the rows of its
    # component where its feature is observed (about 80% of n_k, counted from
    # the draw), so its standard error uses that count; 5 of them as bound.
    rng = np.random.default_rng(15)
    weights = np.array([0.35, 0.65])
    cases = [
        (BernoulliFamily(pseudocount=1.0), "probabilities",
         np.array([[0.1, 0.9, 0.2, 0.8, 0.15, 0.5], [0.85, 0.1, 0.75, 0.2, 0.9, 0.5]]),
         lambda t: t * (1 - t)),
        (PoissonFamily(), "rates",
         np.array([[1.0, 8.0, 3.0, 0.5], [7.0, 1.0, 0.5, 5.0]]), lambda t: t),
    ]
    for family, name, truth, variance in cases:
        params = (family.params_from_probabilities(truth) if name == "probabilities"
                  else family.params_from_rates(truth))
        full, labels = draw(family, params, weights, N_RECOVERY, rng)
        X = with_missing(full, 0.2, rng)
        start_values = np.clip(truth * 1.2 + 0.05, 0, 0.95 if name == "probabilities" else None)
        start = em.MixtureParams(np.array([0.5, 0.5]), type(params)(start_values))
        fitted = fit_from_truth_nearby(family, X, start)
        observed = np.array([(~np.isnan(X[labels == k])).sum(axis=0) for k in range(2)])
        assert (observed < 0.85 * weights[:, None] * N_RECOVERY).all()
        se = np.sqrt(variance(truth) / observed)
        assert (np.abs(getattr(fitted.components, name) - truth) < 5 * se).all()
        se_w = np.sqrt(weights * (1 - weights) / N_RECOVERY)
        assert (np.abs(fitted.weights - weights) < 5 * se_w).all()


def test_m_steps_with_missing_entries_divide_by_the_observed_mass():
    stats = BernoulliStats(np.array([4.0]), np.array([[1.0, 0.0]]), np.array([[2.0, 0.0]]))
    np.testing.assert_array_equal(
        BernoulliFamily(pseudocount=0.0).m_step(stats).probabilities, [[0.5, 0.5]])
    np.testing.assert_allclose(
        BernoulliFamily(pseudocount=1.0).m_step(stats).probabilities, [[0.5, 0.5]])
    # Component 0 never observed feature 1: it gets that feature's pooled rate.
    stats = PoissonStats(np.array([4.0, 2.0]), np.array([[6.0, 0.0], [2.0, 6.0]]),
                         np.array([[3.0, 0.0], [2.0, 2.0]]))
    np.testing.assert_allclose(PoissonFamily().m_step(stats).rates, [[2.0, 3.0], [1.0, 3.0]])


# --- (8) the fused kernels (kernel="numba") against the numpy path ---


def kernel_cases(dtype, missing, degenerate):
    """(family, X, params) for both families, with NaN and with 0/1 probabilities or 0 rates."""
    rng = np.random.default_rng(16)
    binary = (rng.random((700, 9)) < rng.uniform(0.1, 0.9, 9)).astype(float)
    counts = rng.poisson(rng.uniform(0.5, 30.0, 9), size=(700, 9)).astype(float)
    counts[:5, 0] = 300  # past the log-factorial table
    p = rng.uniform(0.05, 0.95, (4, 9))
    rates = rng.uniform(0.5, 20.0, (4, 9))
    if degenerate:
        p[0, 0], p[1, 1] = 0.0, 1.0
        rates[2, 3] = 0.0
    if missing:
        binary, counts = with_missing(binary, 0.2, rng), with_missing(counts, 0.2, rng)
    poisson = PoissonFamily()
    weights = np.array([0.1, 0.2, 0.3, 0.4])
    # Without a pseudocount the float32 statistics carry the exact mass.
    return [
        (bernoulli, binary.astype(dtype),
         em.MixtureParams(weights, bernoulli.params_from_probabilities(p, dtype)))
        for bernoulli in (BernoulliFamily(pseudocount=0.0), BernoulliFamily(pseudocount=1.0))
    ] + [
        (poisson, counts.astype(dtype),
         em.MixtureParams(weights, poisson.params_from_rates(rates, dtype))),
    ]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("missing", [False, True])
@pytest.mark.parametrize("degenerate", [False, True])
def test_kernel_e_step_equals_the_numpy_path(dtype, missing, degenerate):
    rng = np.random.default_rng(17)
    weight = rng.uniform(0.0, 3.0, 700)
    for family, X, params in kernel_cases(dtype, missing, degenerate):
        for sample_weight in (None, weight):
            fused = em.e_step(family, X, params, sample_weight, chunk_size=256, kernel="numba")
            reference = em.e_step(family, X, params, sample_weight, chunk_size=256,
                                  kernel="numpy")
            rtol = RTOL[dtype]
            assert np.isfinite(fused.log_likelihood)
            np.testing.assert_allclose(fused.log_likelihood, reference.log_likelihood, rtol=rtol)
            np.testing.assert_allclose(fused.total_weight, reference.total_weight, rtol=1e-14)
            np.testing.assert_allclose(fused.resp_sum, reference.resp_sum, rtol=rtol)
            ours, theirs = fused.components, reference.components
            np.testing.assert_allclose(ours.x_sum, theirs.x_sum, rtol=rtol)
            np.testing.assert_allclose(ours.observed_mass(), theirs.observed_mass(), rtol=rtol)
            # Complete data carries no (K, d) mass, except the Bernoulli
            # family's float32 statistics without pseudocount (the exact mass
            # of its probabilities of 1).
            exact_mass = (isinstance(family, BernoulliFamily) and dtype == np.float32
                          and family.pseudocount == 0)
            assert (ours.observed_sum is None) == (not missing and not exact_mass)
            np.testing.assert_allclose(
                family.kernel_log_prob(X, params.components),
                family.log_prob(X, params.components), rtol=rtol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_threads_do_not_change_the_kernel_e_step(dtype):
    rng = np.random.default_rng(18)
    weight = rng.uniform(0.5, 2.0, 700)
    for family, X, params in kernel_cases(dtype, True, False):
        one = em.e_step(family, X, params, weight, chunk_size=64, n_jobs=1)
        for n_jobs in (2, 3):
            other = em.e_step(family, X, params, weight, chunk_size=64, n_jobs=n_jobs)
            assert one.log_likelihood == other.log_likelihood
            np.testing.assert_array_equal(one.resp_sum, other.resp_sum)
            np.testing.assert_array_equal(one.components.x_sum, other.components.x_sum)
            np.testing.assert_array_equal(one.components.observed_sum,
                                          other.components.observed_sum)


def test_a_row_impossible_under_every_component_gives_minus_infinity_not_nan():
    family = BernoulliFamily(pseudocount=0.0)
    params = em.MixtureParams(np.array([0.5, 0.5]),
                              family.params_from_probabilities([[0.0, 0.5], [0.0, 0.2]]))
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    log_lik, total, resp_sum, stats = family.kernel_e_step(
        X, np.log(params.weights), params.components)
    # Row 0 has a 1 where both components have probability 0: no mass, -inf.
    # Row 1: p(x | k) = 0.5 and 0.2 under equal weights.
    assert log_lik == -np.inf and total == 2.0
    np.testing.assert_allclose(resp_sum, [5 / 7, 2 / 7], rtol=1e-15)
    np.testing.assert_allclose(stats.x_sum, [[0.0, 5 / 7], [0.0, 2 / 7]], rtol=1e-15)
