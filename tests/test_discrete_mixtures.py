"""BernoulliMixture and PoissonMixture: recovery, densities, EM, weights, input checks."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Binarizer
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

from mixfit import BernoulliMixture, PoissonMixture

BERNOULLI_P = np.array([[0.9, 0.9, 0.1, 0.1, 0.8], [0.1, 0.2, 0.9, 0.9, 0.3]])
POISSON_RATES = np.array([[1.0, 8.0, 3.0], [9.0, 1.0, 0.5]])
WEIGHTS = np.array([0.35, 0.65])


def _model(cls, weights, component, random_state=0):
    """An estimator holding given parameters, to draw data with ``sample``."""
    name = "probabilities_" if cls is BernoulliMixture else "rates_"
    model = cls(len(weights), random_state=random_state)
    model.weights_ = np.asarray(weights, dtype=np.float64)
    setattr(model, name, np.asarray(component, dtype=np.float64))
    model.n_features_in_ = component.shape[1]
    return model


def _truth(cls):
    return BERNOULLI_P if cls is BernoulliMixture else POISSON_RATES


def _fitted_component(model):
    return model.probabilities_ if isinstance(model, BernoulliMixture) else model.rates_


@pytest.mark.parametrize("cls", [BernoulliMixture, PoissonMixture])
def test_fit_recovers_parameters_within_standard_errors(cls):
    n = 4000
    truth = _truth(cls)
    X, _ = _model(cls, WEIGHTS, truth).sample(n)
    model = cls(2, n_init=2, random_state=1).fit(X)
    # Components are found in either order: match them by the first feature.
    order = np.argsort(-_fitted_component(model)[:, 0] if cls is BernoulliMixture
                       else _fitted_component(model)[:, 0])
    fitted, weights = _fitted_component(model)[order], model.weights_[order]
    n_k = n * WEIGHTS[:, None]
    if cls is BernoulliMixture:
        se = np.sqrt(truth * (1 - truth) / n_k)
    else:
        se = np.sqrt(truth / n_k)
    # Separated components: the standard errors of known memberships apply
    # (up to the small extra variance of uncertain memberships), and 5 of them
    # bound 15 estimates with a false-alarm rate below 1e-5.
    np.testing.assert_array_less(np.abs(fitted - truth), 5 * se)
    np.testing.assert_array_less(np.abs(weights - WEIGHTS),
                                 5 * np.sqrt(WEIGHTS * (1 - WEIGHTS) / n))


def _scipy_log_density(model, X):
    if isinstance(model, BernoulliMixture):
        per = [stats.bernoulli.logpmf(X, p).sum(axis=1) for p in model.probabilities_]
    else:
        per = [stats.poisson.logpmf(X, rate).sum(axis=1) for rate in model.rates_]
    return logsumexp(np.stack(per, axis=1) + np.log(model.weights_), axis=1)


@pytest.mark.parametrize("cls", [BernoulliMixture, PoissonMixture])
def test_score_samples_is_the_log_of_scipys_mixture_density(cls):
    X, _ = _model(cls, WEIGHTS, _truth(cls)).sample(300)
    model = cls(3, random_state=0).fit(X)
    X_new, _ = _model(cls, WEIGHTS, _truth(cls), random_state=5).sample(50)
    expected = _scipy_log_density(model, X_new)
    np.testing.assert_allclose(model.score_samples(X_new), expected, rtol=1e-8)
    assert model.score(X_new) == pytest.approx(expected.mean(), rel=1e-8)
    proba = model.predict_proba(X_new)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X_new), proba.argmax(axis=1))


@pytest.mark.parametrize("cls", [BernoulliMixture, PoissonMixture])
@pytest.mark.parametrize("init_params", ["random", "kmeans"])
def test_fit_predict_equals_fit_then_predict(cls, init_params):
    X, _ = _model(cls, WEIGHTS, _truth(cls)).sample(200)
    labels = cls(2, init_params=init_params, random_state=3).fit_predict(X)
    model = cls(2, init_params=init_params, random_state=3).fit(X)
    np.testing.assert_array_equal(labels, model.predict(X))


def test_em_never_lowers_the_log_likelihood():
    """Maximum likelihood (pseudocount 0, and Poisson): the likelihood itself, weighted."""
    rng = np.random.default_rng(0)
    for cls, kwargs in [(BernoulliMixture, {"pseudocount": 0.0}), (PoissonMixture, {})]:
        X, _ = _model(cls, WEIGHTS, _truth(cls)).sample(300)
        weight = rng.uniform(0.1, 3.0, size=X.shape[0])
        model = cls(4, tol=0, max_iter=40, random_state=0, **kwargs)
        with pytest.warns(Warning, match="did not converge"):
            model.fit(X, sample_weight=weight)
        history = np.array(model.lower_bounds_)
        assert len(history) == 40
        assert np.all(np.diff(history) >= -1e-12 * np.abs(history[1:]))


def test_em_with_pseudocount_never_lowers_the_penalised_likelihood():
    """With a pseudocount EM maximises log L + a Σ log p(1 − p) (the Beta prior), not log L."""
    X, _ = _model(BernoulliMixture, WEIGHTS, BERNOULLI_P).sample(200)
    a = 2.0
    records = []
    model = BernoulliMixture(3, pseudocount=a, tol=0, max_iter=25, random_state=0,
                             callback=lambda i, params, ll: records.append((params, ll)))
    with pytest.warns(Warning, match="did not converge"):
        model.fit(X)
    # Record i holds the parameters after step i and the likelihood of those before it.
    objective = [
        X.shape[0] * ll + a * np.log(prev.components.probabilities
                                     * (1 - prev.components.probabilities)).sum()
        for (prev, _), (_, ll) in zip(records[:-1], records[1:])
    ]
    assert np.all(np.diff(objective) >= -1e-9 * np.abs(objective[1:]))
    # and the plain likelihood is what lower_bounds_ reports
    assert model.lower_bounds_ == [ll for _, ll in records]


@pytest.mark.parametrize("cls", [BernoulliMixture, PoissonMixture])
def test_integer_sample_weight_equals_repeated_rows(cls):
    X, _ = _model(cls, WEIGHTS, _truth(cls)).sample(60)
    weight = np.random.default_rng(2).integers(0, 4, size=X.shape[0])
    # The "kmeans" start treats a weight-w row as w copies; "random" draws one
    # membership per row, so only the former can give the same fit.
    weighted = cls(2, init_params="kmeans", random_state=0).fit(X, sample_weight=weight)
    repeated = cls(2, init_params="kmeans", random_state=0).fit(np.repeat(X, weight, axis=0))
    np.testing.assert_allclose(_fitted_component(weighted), _fitted_component(repeated),
                               rtol=1e-9)
    np.testing.assert_allclose(weighted.weights_, repeated.weights_, rtol=1e-9)
    assert weighted.lower_bound_ == pytest.approx(repeated.lower_bound_, rel=1e-9)


def test_zero_weight_row_impossible_under_every_component_is_left_out():
    X = np.array([[1, 0]] * 4 + [[0, 1]] * 4 + [[1, 1]], dtype=float)
    weight = np.r_[np.ones(8), 0.0]
    fitted = BernoulliMixture(2, pseudocount=0.0, init_params="kmeans",
                              random_state=0).fit(X, sample_weight=weight)
    without = BernoulliMixture(2, pseudocount=0.0, init_params="kmeans",
                               random_state=0).fit(X[:8])
    assert np.isfinite(fitted.lower_bound_)
    np.testing.assert_array_equal(fitted.probabilities_, without.probabilities_)
    # The left-out row is impossible under the fitted model: queries say which row.
    for method in ("score_samples", "predict_proba", "predict"):
        with pytest.raises(ValueError, match=r"^row 1 of X \(the first such row\) is "
                                             "impossible under every component"):
            getattr(fitted, method)(np.array([[1, 0], [1, 1]]))


@pytest.mark.parametrize("cls", [BernoulliMixture, PoissonMixture])
def test_reproducible_and_n_init_keeps_the_best(cls):
    X, _ = _model(cls, WEIGHTS, _truth(cls)).sample(150)
    first = cls(3, random_state=7).fit(X)
    again = cls(3, random_state=7).fit(X)
    np.testing.assert_array_equal(_fitted_component(first), _fitted_component(again))
    assert first.lower_bounds_ == again.lower_bounds_
    # The first of five restarts is the single run (same seed), so the best is no worse.
    best = cls(3, n_init=5, random_state=7).fit(X)
    assert best.lower_bound_ >= first.lower_bound_


@pytest.mark.parametrize("cls", [BernoulliMixture, PoissonMixture])
def test_bic_and_aic_count_k_d_plus_k_minus_1_parameters(cls):
    X, _ = _model(cls, WEIGHTS, _truth(cls)).sample(100)
    model = cls(3, random_state=0).fit(X)
    n, d = X.shape
    p = 3 * d + 2
    total = model.score(X) * n
    assert model.bic(X) == pytest.approx(-2 * total + p * np.log(n), rel=1e-12)
    assert model.aic(X) == pytest.approx(-2 * total + 2 * p, rel=1e-12)


@pytest.mark.parametrize(
    "cls, X, match",
    [
        (BernoulliMixture, [[1, 0], [0, 0.5]],
         r"^column 1 holds 0.5 \(row 1\); BernoulliMixture takes 0/1 features: binarise "
         r"first, e.g. X > threshold.$"),
        (BernoulliMixture, [[1, 2], [0, -1]], r"^Negative values in data: column 1 holds -1.0"),
        (PoissonMixture, [[1, 2], [0, 2.5]], r"^column 1 holds 2.5 \(row 1\); PoissonMixture "
         "takes non-negative integer counts"),
        (PoissonMixture, [[1, 2], [-3, 2]], r"^Negative values in data: column 0 holds -3.0 "
         r"\(row 1\)"),
        # NaN is a missing value (skipped); a row with nothing observed is refused.
        (BernoulliMixture, [[1, np.nan], [np.nan, np.nan]],
         r"^row 1 of X has no observed value \(all NaN\): drop it"),
        (PoissonMixture, [[1, 2], [np.inf, 2]], "infinite"),
    ],
)
def test_bad_values_are_refused_naming_column_and_row(cls, X, match):
    with pytest.raises(ValueError, match=match):
        cls().fit(np.array(X, dtype=float))


def test_bad_values_in_new_data_and_dataframes_name_the_column():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [0, 1, 1], "b": [1, 0, 1]})
    model = BernoulliMixture(random_state=0).fit(frame.astype(bool))
    with pytest.raises(ValueError, match=r"column 'b' holds 3.0 \(row 2\)"):
        model.predict(pd.DataFrame({"a": [0, 1, 1], "b": [1, 0, 3]}))


def test_settings_are_checked_in_fit():
    X = np.array([[0, 1], [1, 0], [1, 1]])
    with pytest.raises(ValueError, match=r"init_params must be one of \['random', 'kmeans'\]"):
        BernoulliMixture(init_params="k-means++").fit(X)
    with pytest.raises(ValueError, match="pseudocount must be a finite number >= 0"):
        BernoulliMixture(pseudocount=-1.0).fit(X)
    with pytest.raises(ValueError, match="n_samples = 3"):
        PoissonMixture(4).fit(X)


@pytest.mark.parametrize("cls", [BernoulliMixture, PoissonMixture])
def test_float32_stays_float32_and_sample_has_the_model_dtype(cls):
    X, _ = _model(cls, WEIGHTS, _truth(cls)).sample(80)
    model = cls(2, random_state=0).fit(X.astype(np.float32))
    assert _fitted_component(model).dtype == np.float32
    assert model.score_samples(X.astype(np.float32)).dtype == np.float32
    drawn, labels = model.sample(7)
    assert drawn.dtype == np.float32 and drawn.shape == (7, X.shape[1])
    assert labels.shape == (7,)


@pytest.mark.parametrize("cls", [BernoulliMixture, PoissonMixture])
def test_fit_changes_no_parameter_and_adds_only_fitted_attributes(cls):
    X, _ = _model(cls, WEIGHTS, _truth(cls)).sample(40)
    model = cls(2, random_state=np.random.RandomState(0))
    before = {k: v for k, v in model.get_params().items() if k != "random_state"}
    public_before = {k for k in vars(model) if not k.startswith("_")}
    model.fit(X)
    assert {k: v for k, v in model.get_params().items() if k != "random_state"} == before
    added = {k for k in vars(model) if not k.startswith("_")} - public_before
    assert added and all(name.endswith("_") for name in added)


# --- scikit-learn's estimator checks -------------------------------------------------

#: Every check below feeds real-valued data drawn from a normal distribution (no
#: estimator tag asks scikit-learn for 0/1 data), which BernoulliMixture refuses by
#: design. test_bernoulli_expected_failures_are_only_the_binary_check proves that
#: each fails for that reason alone; test_sklearn_checks_binarised_pipeline runs
#: them all on the estimator behind a Binarizer. (check_estimators_nan_inf is not
#: among them: the estimator takes NaN as missing, its allow_nan tag says so, and
#: scikit-learn then skips that check.)
BERNOULLI_REAL_VALUED_CHECKS = (
    "check_fit_score_takes_y", "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters", "check_estimators_fit_returns_self",
    "check_readonly_memmap_input", "check_n_features_in_after_fitting",
    "check_estimators_dtypes", "check_sample_weights_pandas_series",
    "check_sample_weights_not_an_array", "check_sample_weights_list",
    "check_all_zero_sample_weights_error", "check_sample_weights_shape",
    "check_sample_weights_not_overwritten", "check_sample_weight_equivalence_on_dense_data",
    "check_dtype_object", "check_pipeline_consistency",
    "check_estimators_pickle", "check_f_contiguous_array_estimator",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance",
    "check_fit2d_1sample", "check_fit2d_1feature", "check_dict_unchanged",
    "check_fit_idempotent", "check_fit_check_is_fitted", "check_n_features_in",
    "check_fit2d_predict1d",
)
_BINARY_REASON = "draws real-valued X; BernoulliMixture takes 0/1 features only"


@parametrize_with_checks(
    [BernoulliMixture(), BernoulliMixture(2, init_params="kmeans", random_state=0)],
    expected_failed_checks=lambda estimator: dict.fromkeys(BERNOULLI_REAL_VALUED_CHECKS,
                                                           _BINARY_REASON),
)
def test_sklearn_checks_bernoulli(estimator, check):
    check(estimator)


def test_bernoulli_expected_failures_are_only_the_binary_check():
    results = check_estimator(BernoulliMixture(2, init_params="kmeans", random_state=0),
                              on_fail=None)
    failed = {r["check_name"]: r["exception"] for r in results if r["status"] == "failed"}
    assert set(failed) == set(BERNOULLI_REAL_VALUED_CHECKS)
    for name, error in failed.items():
        chain = f"{error} {error.__cause__} {error.__context__}"
        assert "BernoulliMixture takes 0/1 features" in chain, name


#: A Pipeline fits its steps in place, so these two fail for any Pipeline (scikit-learn's
#: own GaussianMixture behind a Binarizer fails them too);
#: test_fit_changes_no_parameter_and_adds_only_fitted_attributes checks what they
#: check, on BernoulliMixture itself.
_PIPELINE_MUTATES_STEPS = dict.fromkeys(
    ["check_estimators_overwrite_params", "check_dont_overwrite_parameters"],
    "a Pipeline fits its steps in place",
)


@parametrize_with_checks(
    [make_pipeline(Binarizer(), BernoulliMixture(2, random_state=0))],
    expected_failed_checks=lambda estimator: _PIPELINE_MUTATES_STEPS,
)
def test_sklearn_checks_binarised_pipeline(estimator, check):
    check(estimator)


@parametrize_with_checks(
    # The "categorical" tag makes scikit-learn's checks pass non-negative integers
    # (counts), except the weight-equivalence check, which draws real values.
    [PoissonMixture(), PoissonMixture(2, init_params="kmeans", random_state=0)],
    expected_failed_checks=lambda estimator: {
        "check_sample_weight_equivalence_on_dense_data":
            "draws real-valued X; PoissonMixture takes counts (equivalence tested above)",
    },
)
def test_sklearn_checks_poisson(estimator, check):
    check(estimator)


def test_a_count_beyond_2_to_the_53_is_refused_naming_column_and_row():
    X = np.random.default_rng(0).poisson(2.0, (30, 2)).astype(float)
    X[7, 1] = 1e300  # an integer-valued float, but no count: x · log λ would overflow
    with pytest.raises(ValueError, match=r"column 1 holds 1e\+300 \(row 7\).*2\*\*53"):
        PoissonMixture(2, random_state=0).fit(X)
    X[7, 1] = 2.0**53  # the largest accepted
    assert np.isfinite(PoissonMixture(2, random_state=0).fit(X).score(X))
