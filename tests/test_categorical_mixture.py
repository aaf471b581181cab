"""CategoricalFamily and CategoricalMixture: densities, recovery, EM, encoding, input checks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.special import logsumexp
from sklearn.utils.estimator_checks import parametrize_with_checks

from mixfit import CategoricalMixture
from mixfit.engine import em
from mixfit.families.categorical import CategoricalFamily, CategoricalParams

#: Two components over three columns with 3, 2 and 4 levels.
TRUTH = [
    np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]),
    np.array([[0.9, 0.1], [0.2, 0.8]]),
    np.array([[0.4, 0.4, 0.1, 0.1], [0.05, 0.05, 0.3, 0.6]]),
]
WEIGHTS = np.array([0.4, 0.6])
LEVELS = [["a", "b", "c"], [10, 20], ["w", "x", "y", "z"]]


def _draw(n, seed=0):
    """Rows of categories drawn from TRUTH (object array) and their components."""
    family = CategoricalFamily([3, 2, 4])
    params = em.MixtureParams(WEIGHTS, CategoricalParams(tuple(TRUTH)))
    codes, y = em.sample_mixture(family, params, n, np.random.RandomState(seed), np.float64)
    X = np.empty(codes.shape, dtype=object)
    for j, levels in enumerate(LEVELS):
        X[:, j] = np.asarray(levels, dtype=object)[codes[:, j].astype(int)]
    return X, codes, y


def _scipy_log_density(model, X):
    """log Σ_k w_k Π_j π_kj(x_j) by scipy's multinomial(1, π) pmf, observed columns only."""
    per = np.zeros((X.shape[0], len(model.weights_)))
    for j, (levels, probs) in enumerate(zip(model.categories_, model.probabilities_)):
        for i, value in enumerate(X[:, j]):
            if value is None:
                continue
            onehot = (levels == value).astype(int)
            for k in range(per.shape[1]):
                per[i, k] += stats.multinomial.logpmf(onehot, 1, probs[k])
    return logsumexp(per + np.log(model.weights_), axis=1)


def test_family_log_prob_is_the_sum_of_log_probabilities_and_skips_missing():
    family = CategoricalFamily([3, 2, 4])
    params = CategoricalParams(tuple(TRUTH))
    codes = np.array([[0, 1, 3], [2, np.nan, 0], [np.nan, np.nan, np.nan]])
    expected = np.array([[np.log(TRUTH[0][k, 0]) + np.log(TRUTH[1][k, 1]) + np.log(TRUTH[2][k, 3])
                          for k in range(2)],
                         [np.log(TRUTH[0][k, 2]) + np.log(TRUTH[2][k, 0]) for k in range(2)],
                         [0.0, 0.0]])
    np.testing.assert_allclose(family.log_prob(codes, params), expected, rtol=1e-12)
    assert family.log_prob(codes.astype(np.float32), params).dtype == np.float32


def test_family_zero_probability_gives_minus_inf_without_nan_or_warning():
    family = CategoricalFamily([2], pseudocount=0.0)
    params = CategoricalParams((np.array([[1.0, 0.0], [0.5, 0.5]]),))
    out = family.log_prob(np.array([[0.0], [1.0]]), params)
    assert out[1, 0] == -np.inf and np.isfinite(out[0]).all() and np.isfinite(out[1, 1])


def test_family_stats_add_and_m_step_is_the_smoothed_frequency():
    family = CategoricalFamily([3, 2], pseudocount=0.5)
    codes = np.array([[0, 1], [2, 1], [0, np.nan], [1, 0]], dtype=float)
    resp = np.random.default_rng(0).dirichlet([1, 1], size=4)
    weight = np.array([1.0, 2.0, 0.5, 3.0])
    whole = family.stats(codes, resp, weight)
    parts = family.stats(codes[:2], resp[:2], weight[:2]) + family.stats(codes[2:], resp[2:],
                                                                         weight[2:])
    np.testing.assert_allclose(whole.level_counts, parts.level_counts, rtol=1e-14)
    params = family.m_step(whole)
    z = resp * weight[:, None]
    for k in range(2):
        counts = [z[codes[:, 0] == level, k].sum() for level in range(3)]
        expected = (np.array(counts) + 0.5) / (z[:, k].sum() + 1.5)
        np.testing.assert_allclose(params.probabilities[0][k], expected, rtol=1e-12)
        observed = ~np.isnan(codes[:, 1])  # column 1 is missing in row 2
        counts = [z[observed & (codes[:, 1] == level), k].sum() for level in range(2)]
        expected = (np.array(counts) + 0.5) / (z[observed, k].sum() + 1.0)
        np.testing.assert_allclose(params.probabilities[1][k], expected, rtol=1e-12)


def test_score_samples_is_the_log_of_scipys_mixture_density_with_missing_values():
    X, _, _ = _draw(300)
    model = CategoricalMixture(3, random_state=0).fit(X)
    X_new, _, _ = _draw(40, seed=5)
    X_new[::3, 1] = None
    X_new[1::4, 0] = None
    np.testing.assert_allclose(model.score_samples(X_new), _scipy_log_density(model, X_new),
                               rtol=1e-8)
    proba = model.predict_proba(X_new)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X_new), proba.argmax(axis=1))


def test_fit_recovers_probabilities_within_standard_errors():
    n = 5000
    X, _, _ = _draw(n, seed=1)
    model = CategoricalMixture(2, n_init=3, random_state=0).fit(X)
    order = np.argsort(-model.probabilities_[0][:, 0])  # component 0 has π(a) = 0.7
    n_k = n * WEIGHTS[:, None]
    for truth, fitted in zip(TRUTH, model.probabilities_):
        # The components overlap little (the memberships are near certain), so the
        # multinomial standard error sqrt(π(1 − π)/n_k) applies up to a small
        # inflation; 5 of them bound 18 estimates with a false-alarm rate < 1e-4.
        se = np.sqrt(truth * (1 - truth) / n_k)
        np.testing.assert_array_less(np.abs(fitted[order] - truth), 5 * se + 0.01)
    np.testing.assert_array_less(np.abs(model.weights_[order] - WEIGHTS),
                                 5 * np.sqrt(WEIGHTS * (1 - WEIGHTS) / n) + 0.01)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), missing=st.floats(0.0, 0.4))
def test_em_never_lowers_the_observed_data_log_likelihood(seed, missing):
    """Maximum likelihood (pseudocount 0), weighted, with values missing at random."""
    rng = np.random.default_rng(seed)
    X, _, _ = _draw(60, seed=seed % 1000)
    X[rng.random(X.shape) < missing] = None
    empty = np.array([all(v is None for v in row) for row in X])
    X[empty, 0] = "a"  # a row with nothing observed is refused, by design
    weight = rng.uniform(0.1, 3.0, size=X.shape[0])
    model = CategoricalMixture(3, pseudocount=0.0, tol=0, max_iter=15, random_state=seed)
    with pytest.warns(Warning, match="did not converge"):
        model.fit(X, sample_weight=weight)
    history = np.array(model.lower_bounds_)
    assert np.all(np.diff(history) >= -1e-10 * np.abs(history[1:]))


def test_categories_are_sorted_per_column_as_onehotencoder():
    pd = pytest.importorskip("pandas")
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame({
        "colour": pd.Categorical(["red", "blue", "red", "green"]),
        "size": [3, 1, 2, 1],
        "kind": ["x", "y", "y", "x"],
    })
    model = CategoricalMixture(2, random_state=0).fit(frame)
    encoder = OneHotEncoder().fit(frame)
    for ours, theirs in zip(model.categories_, encoder.categories_):
        np.testing.assert_array_equal(ours, theirs)
    assert model.categories_[1].dtype == np.int64
    assert [p.shape for p in model.probabilities_] == [(2, 3), (2, 3), (2, 2)]
    drawn, _ = model.sample(5)
    assert drawn.dtype == object and set(drawn[:, 0]) <= {"blue", "green", "red"}


@pytest.mark.parametrize("X, match", [
    ([["a", "x"], ["a", "y"], ["a", "x"]],
     r"^categorical column 0 has a single category \('a'\): it says nothing"),
    ([["a", None], ["b", None]], r"^categorical column 1 has no observed value"),
    ([["a", "x"], [None, None], ["b", "y"]], r"^row 1 of X has no observed value"),
    ([["a", 1], ["b", "x"]], r"^column 1 mixes values that cannot be sorted together"),
    ([["a", "x"]], r"need at least 2 rows .* n_samples = 1"),
])
def test_bad_input_is_refused_naming_the_column(X, match):
    with pytest.raises(ValueError, match=match):
        CategoricalMixture().fit(np.array(X, dtype=object))


def test_unseen_category_at_predict_names_column_and_value():
    pd = pytest.importorskip("pandas")
    model = CategoricalMixture(2, random_state=0).fit(
        pd.DataFrame({"a": ["u", "v", "u", "v"], "b": [1, 2, 2, 1]}))
    for method in ("predict", "predict_proba", "score_samples"):
        with pytest.raises(ValueError, match=r"^column 'b' holds 7 \(row 1\), a category not "
                                             r"seen in fit \(known: \[1, 2\]\)"):
            getattr(model, method)(pd.DataFrame({"a": ["u", "v"], "b": [1, 7]}))
    with pytest.raises(ValueError, match=r"column 'a' holds 'w' \(row 0\)"):
        model.predict(pd.DataFrame({"a": ["w"], "b": [1]}))


def test_fixed_probabilities_are_held_and_not_counted_by_bic():
    X, _, _ = _draw(400, seed=2)
    start = [np.full((2, 3), 1 / 3), np.full((2, 2), 0.5), np.full((2, 4), 0.25)]
    start[0] = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    model = CategoricalMixture(2, probabilities_init=start, fixed_params=["probabilities"],
                               random_state=0).fit(X)
    for held, initial in zip(model.probabilities_, start):
        np.testing.assert_array_equal(held, initial)
    free = CategoricalMixture(2, random_state=0).fit(X)
    assert not np.allclose(model.weights_, free.weights_)  # the weights still moved
    n = X.shape[0]
    # Free: K Σ (L_j − 1) + K − 1 = 2 · 6 + 1; with the probabilities fixed, 1.
    assert free.bic(X) == pytest.approx(-2 * n * free.score(X) + 13 * np.log(n), rel=1e-12)
    assert model.bic(X) == pytest.approx(-2 * n * model.score(X) + 1 * np.log(n), rel=1e-12)


def test_partial_labels_fix_labelled_rows_and_em_stays_monotone():
    X, _, y = _draw(300, seed=3)
    labels = np.full(y.shape, -1)
    labels[::10] = y[::10]
    model = CategoricalMixture(2, pseudocount=0.0, semi_supervised=True, tol=0, max_iter=20,
                               random_state=0)
    with pytest.warns(Warning, match="did not converge"):
        model.fit(X, labels)
    # Class c is component c: the labelled rows' classes name the components.
    assert np.mean(model.predict(X) == y) > 0.8
    history = np.array(model.lower_bounds_)
    assert np.all(np.diff(history) >= -1e-10 * np.abs(history[1:]))


def test_a_label_beyond_the_components_is_refused():
    X, _, _ = _draw(20)
    with pytest.raises(ValueError, match=r"y\[0\] = 2: labels must be -1"):
        CategoricalMixture(2, semi_supervised=True).fit(X, np.r_[2, np.full(19, -1)])


@parametrize_with_checks(
    [CategoricalMixture(), CategoricalMixture(2, random_state=0)],
    expected_failed_checks=lambda estimator: {
        "check_sample_weight_equivalence_on_dense_data":
            "draws real values, each its own category, and predicts on rows left out of "
            "the fit: their categories are unseen (refused by design)",
    },
)
def test_sklearn_checks(estimator, check):
    check(estimator)
