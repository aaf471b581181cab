"""MixtureModel: families by name or object, mixed column groups (ProductFamily), checks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from mixfit import BernoulliMixture, MixtureModel, PoissonMixture
from mixfit.families import BernoulliFamily, GaussianFamily, PoissonFamily
from mixfit.families.categorical import CategoricalFamily
from mixfit.families.product import ProductFamily

pd = pytest.importorskip("pandas")

#: Two components; per component: 2 flags, 1 count, 1 measurement, 1 category.
FLAGS = np.array([[0.9, 0.8], [0.1, 0.3]])
RATES = np.array([[1.5], [7.0]])
MEANS = np.array([[-2.0], [2.0]])
SDS = np.array([[1.0], [0.5]])
COLOURS = np.array([[0.7, 0.2, 0.1], [0.1, 0.2, 0.7]])
WEIGHTS = np.array([0.45, 0.55])
FAMILY = [("bernoulli", ["f1", "f2"]), ("poisson", "count"),
          (GaussianFamily("diag"), ["height"]), ("categorical", ["colour"])]


def _frame(n, seed=0, missing=0.0):
    """A mixed table drawn from the components above, and the components."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < WEIGHTS[1]).astype(int)
    flags = (rng.random((n, 2)) < FLAGS[y]).astype(float)
    counts = rng.poisson(RATES[y, 0]).astype(float)
    heights = rng.normal(MEANS[y, 0], SDS[y, 0])
    colours = np.array(["blue", "green", "red"], dtype=object)[
        [rng.choice(3, p=COLOURS[k]) for k in y]]
    frame = pd.DataFrame({"f1": flags[:, 0], "height": heights, "f2": flags[:, 1],
                          "colour": colours, "count": counts})
    if missing:
        for name in ("f1", "f2", "count"):
            frame.loc[rng.random(n) < missing, name] = np.nan
        frame.loc[rng.random(n) < missing, "colour"] = None
    return frame, y


def _scipy_log_density(model, frame):
    """log Σ_k w_k Π_groups p_g(x_g | k), each group's density from scipy.stats."""
    K = len(model.weights_)
    per = np.zeros((len(frame), K))
    for k in range(K):
        for j, name in enumerate(["f1", "f2"]):
            x = frame[name].to_numpy()
            seen = ~np.isnan(x)
            per[seen, k] += stats.bernoulli.logpmf(x[seen], model.group0_probabilities_[k, j])
        x = frame["count"].to_numpy()
        seen = ~np.isnan(x)
        per[seen, k] += stats.poisson.logpmf(x[seen], model.group1_rates_[k, 0])
        per[:, k] += stats.norm.logpdf(frame["height"].to_numpy(), model.group2_means_[k, 0],
                                       np.sqrt(model.group2_covariances_[k, 0]))
        levels = list(model.categories_[0])
        for i, value in enumerate(frame["colour"]):
            if not pd.isna(value):
                per[i, k] += np.log(model.group3_probabilities_[0][k, levels.index(value)])
    return logsumexp(per + np.log(model.weights_), axis=1)


def test_mixed_columns_score_samples_equals_scipy_summed_over_groups():
    frame, _ = _frame(400)
    model = MixtureModel(2, family=FAMILY, random_state=0).fit(frame)
    assert set(model.__dict__) >= {"group0_probabilities_", "group1_rates_", "group2_means_",
                                   "group2_covariances_", "group3_probabilities_"}
    new, _ = _frame(60, seed=9, missing=0.2)
    np.testing.assert_allclose(model.score_samples(new), _scipy_log_density(model, new),
                               rtol=1e-8)


def test_mixed_columns_recover_the_parameters_within_standard_errors():
    n = 4000
    frame, _ = _frame(n, seed=1)
    model = MixtureModel(2, family=FAMILY, random_state=0).fit(frame)
    order = np.argsort(model.group2_means_[:, 0])  # component 0 has the negative mean
    n_k = n * WEIGHTS[:, None]
    # Well-separated components: the standard errors of known memberships apply,
    # and 5 of them bound these ~12 estimates with a false-alarm rate < 1e-4.
    checks = [
        (model.group0_probabilities_[order], FLAGS, np.sqrt(FLAGS * (1 - FLAGS) / n_k)),
        (model.group1_rates_[order], RATES, np.sqrt(RATES / n_k)),
        (model.group2_means_[order], MEANS, SDS / np.sqrt(n_k)),
        # var(s²) = 2σ⁴/(n − 1) for a normal sample.
        (model.group2_covariances_[order], SDS**2, SDS**2 * np.sqrt(2 / n_k)),
        (model.group3_probabilities_[0][order], COLOURS, np.sqrt(COLOURS * (1 - COLOURS) / n_k)),
        (model.weights_[order], WEIGHTS, np.sqrt(WEIGHTS * (1 - WEIGHTS) / n)),
    ]
    for fitted, truth, se in checks:
        np.testing.assert_array_less(np.abs(fitted - truth), 5 * se)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), missing=st.floats(0.0, 0.4), labelled=st.floats(0.0, 0.3))
def test_em_never_lowers_the_log_likelihood_with_weights_and_missing_values(seed, missing,
                                                                           labelled):
    """Maximum likelihood (pseudocounts 0): the observed-data likelihood, weighted, and
    with partial labels the semi-supervised one (labelled rows under their component)."""
    frame, _ = _frame(50, seed=seed, missing=missing)
    frame = frame.drop(columns="height")  # every other family skips missing values
    family = [(BernoulliFamily(0.0), ["f1", "f2"]), ("poisson", ["count"]),
              (CategoricalFamily(pseudocount=0.0), ["colour"])]
    empty = frame.isna().all(axis=1).to_numpy()
    frame.loc[empty, "f1"] = 1.0
    rng = np.random.default_rng(seed)
    weight = rng.uniform(0.1, 3.0, size=len(frame))
    labels = np.where(rng.random(len(frame)) < labelled, rng.integers(0, 3, len(frame)), -1)
    model = MixtureModel(3, family=family, tol=0, max_iter=15, random_state=seed,
                         semi_supervised=True)
    with pytest.warns(Warning, match="did not converge"):
        model.fit(frame, labels, sample_weight=weight)
    history = np.array(model.lower_bounds_)
    assert np.all(np.diff(history) >= -1e-10 * np.abs(history[1:]))


def test_a_name_makes_the_shortcuts_family():
    X, _ = BernoulliMixture(2, random_state=0).fit(
        np.array([[0, 1], [1, 0], [1, 1]] * 10)).sample(80)
    for name, cls, attribute in [("bernoulli", BernoulliMixture, "probabilities_"),
                                 ("poisson", PoissonMixture, "rates_")]:
        general = MixtureModel(2, family=name, random_state=3).fit(X)
        shortcut = cls(2, random_state=3).fit(X)
        np.testing.assert_array_equal(getattr(general, attribute), getattr(shortcut, attribute))
    student = MixtureModel(1, family="student", random_state=0).fit(
        np.random.default_rng(0).normal(size=(50, 2)))
    assert student.degrees_of_freedom_.shape == (1,)


def test_sample_puts_the_columns_back_in_their_order():
    frame, _ = _frame(300)
    model = MixtureModel(2, family=FAMILY, random_state=0).fit(frame)
    drawn, labels = model.sample(200)
    assert drawn.shape == (200, 5) and drawn.dtype == object
    assert set(drawn[:, 3]) <= {"blue", "green", "red"}  # "colour" is column 3
    assert set(np.unique(drawn[:, [0, 2]].astype(float))) <= {0.0, 1.0}  # f1, f2
    heights = drawn[:, 1].astype(float)
    assert np.mean(heights[labels == np.argmax(model.group2_means_[:, 0])]) > 0
    counts = drawn[:, 4].astype(float)
    np.testing.assert_array_equal(counts, np.round(counts))


def test_fixed_group_parameters_are_held_others_move_and_bic_counts_free_ones():
    frame, _ = _frame(300, seed=2)
    numeric = frame.drop(columns="colour")
    family = [("bernoulli", ["f1", "f2"]), ("poisson", ["count"]), ("gaussian", ["height"])]
    start = np.array([[0.7, 0.7], [0.2, 0.4]])
    model = MixtureModel(2, family=family, params_init={"group0_probabilities": start},
                         fixed_params={"group0_probabilities", "weights"},
                         weights_init=[0.5, 0.5], random_state=0).fit(numeric)
    np.testing.assert_array_equal(model.group0_probabilities_, start)
    np.testing.assert_array_equal(model.weights_, [0.5, 0.5])
    free = MixtureModel(2, family=family, random_state=0).fit(numeric)
    assert not np.allclose(model.group1_rates_, free.group1_rates_)  # still estimated
    n = len(numeric)
    # Free: rates 2 + Gaussian 2·(1 + 1); fixed probabilities (4) and weights (1) are not.
    assert model.bic(numeric) == pytest.approx(-2 * n * model.score(numeric) + 6 * np.log(n),
                                               rel=1e-12)
    assert free.bic(numeric) == pytest.approx(-2 * n * free.score(numeric) + 11 * np.log(n),
                                              rel=1e-12)


def test_partial_labels_on_mixed_columns():
    frame, y = _frame(400, seed=4)
    labels = np.full(y.shape, -1)
    labels[::20] = y[::20]
    model = MixtureModel(2, family=FAMILY, semi_supervised=True, random_state=0)
    predicted = model.fit_predict(frame, labels)
    # Class c is component c (the labels fix the numbering), so no permutation.
    assert np.mean(predicted == y) > 0.9
    np.testing.assert_array_equal(predicted[labels >= 0], y[labels >= 0])


def test_the_thread_count_does_not_change_the_fit(monkeypatch):
    # Chunks of 500 rows: the E-step's six chunks run on the threads, and their
    # statistics are added in chunk order whatever the thread count.
    monkeypatch.setattr("mixfit.estimators._family_mixture.DEFAULT_CHUNK_SIZE", 500)
    frame, _ = _frame(3000, seed=5)
    one = MixtureModel(2, family=FAMILY, random_state=0, n_jobs=1).fit(frame)
    two = MixtureModel(2, family=FAMILY, random_state=0, n_jobs=2).fit(frame)
    np.testing.assert_array_equal(one.group1_rates_, two.group1_rates_)
    np.testing.assert_array_equal(one.group3_probabilities_[0], two.group3_probabilities_[0])
    assert one.lower_bounds_ == two.lower_bounds_


@pytest.mark.parametrize("family, match", [
    ([("bernoulli", [0, 1]), ("poisson", [2])], r"^column 3 is in no group of family"),
    ([("bernoulli", [0, 1]), ("poisson", [1, 2, 3])],
     r"^column 1 is in family\[0\] and in family\[1\]; put each column in one group"),
    ([("bernoulli", [0, 1]), ("poisson", [2, 4]), ("gaussian", [3])],
     r"^family\[1\] names column 4, out of range: X has 4 column\(s\)"),
    ([("bernoulli", [0, 1]), ("poisson", ["n"]), ("gaussian", [3])],
     r"^family\[1\] names column 'n', which X does not have"),
    ("weibull", r"^unknown family 'weibull'; the families are \['bernoulli', 'categorical'"),
    ([("bernoulli", [0, 1, 2]), ("lognormal", [3])], r"^unknown family 'lognormal'"),
    ([("bernoulli", [0, 1, 2, 3], "extra")], r"^family\[0\] must be a \(family, columns\) pair"),
])
def test_bad_family_lists_are_refused_naming_the_column(family, match):
    X = np.array([[0, 1, 2, 0.5], [1, 0, 3, 1.5], [1, 1, 0, 2.5]])
    with pytest.raises(ValueError, match=match):
        MixtureModel(family=family).fit(X)


def test_other_bad_input_is_refused_with_a_clear_message():
    X = np.array([[0, 1, 2.0], [1, 0, 3], [1, 1, 0], [0, 0, 1]])
    family = [("bernoulli", [0, 1]), ("poisson", [2])]
    with pytest.raises(TypeError, match="lacks log_prob"):
        MixtureModel(family=object()).fit(X)
    with pytest.raises(ValueError, match=r"fixed_params names unknown parameter\(s\) "
                                         r"\['probabilities'\]; this model's parameters are "
                                         r"\['weights', 'group0_probabilities', 'group1_rates'\]"):
        MixtureModel(family=family, fixed_params=["probabilities"]).fit(X)
    with pytest.raises(ValueError, match=r"initial values for unknown parameter\(s\) \['rates'\]"):
        MixtureModel(family=family, params_init={"rates": [[1.0], [2.0]]}).fit(X)
    with pytest.raises(ValueError, match=r"group1_rates_init must have shape \(2, 1\)"):
        MixtureModel(2, family=family, params_init={"group1_rates": [1.0, 2.0]}).fit(X)
    with pytest.raises(ValueError, match=r"^column 2 holds 2.5 \(row 1\); MixtureModel's "
                                         "PoissonFamily takes non-negative integer counts"):
        MixtureModel(family=family).fit(np.c_[X[:, :2], [1, 2.5, 0, 1]])
    with pytest.raises(ValueError, match=r"^column 0 holds NaN \(row 1\); MixtureModel's "
                                         "GaussianFamily does not model missing values"):
        MixtureModel(family=[("gaussian", [0]), ("poisson", [1, 2])]).fit(
            np.array([[0.5, 1, 2], [np.nan, 0, 3]]))
    with pytest.raises(ValueError, match=r"^row 1 of X has no observed value \(all NaN\)"):
        MixtureModel(family=family).fit(np.array([[0, 1, 2], [np.nan] * 3, [1, 0, 0]]))


def test_family_objects_in_a_list_are_not_changed_by_fit():
    family = [(BernoulliFamily(0.5), [0, 1]), (PoissonFamily(), [2])]
    model = MixtureModel(2, family=family, random_state=0)
    X = np.array([[0, 1, 2.0], [1, 0, 3], [1, 1, 0], [0, 0, 1]] * 5)
    model.fit(X, sample_weight=np.full(20, 3.0))  # weights rescale the pseudocount
    assert family[0][0].pseudocount == 0.5
    assert clone(model).get_params()["family"] is not None


def test_product_family_routes_fixed_names_and_sums_parameter_counts():
    family = ProductFamily([(BernoulliFamily(), [0, 2]), (GaussianFamily("diag"), [1])])
    assert family.parameter_names == ("group0_probabilities", "group1_means",
                                      "group1_covariances")
    assert family.n_parameters(3, 3) == 3 * 2 + 3 * 1 + 3 * 1
    assert family.n_parameters(3, 3, frozenset({"group1_means"})) == 3 * 2 + 3
    with pytest.raises(ValueError, match=r"has no parameter\(s\) \['means'\]"):
        family.m_step(family.empty_stats(3, 3), fixed=frozenset({"means"}))


@parametrize_with_checks(
    [MixtureModel(), MixtureModel(2, family="poisson", random_state=0),
     MixtureModel(2, family=[("gaussian", [0]), ("gaussian", slice(1, None))],
                  init_params="kmeans", random_state=0)],
    expected_failed_checks=lambda estimator: (
        {"check_sample_weight_equivalence_on_dense_data":
         "draws real-valued X; a Poisson family takes counts"}
        if estimator.family == "poisson" else
        {"check_fit2d_1feature": "one column cannot fill two groups: refused, naming the group"}
        if isinstance(estimator.family, list) else {}),
)
def test_sklearn_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("page", ["categorical.md", "mixed-columns.md"])
def test_the_family_pages_examples_print_what_the_pages_say(page, capsys):
    """Each page's python blocks run in order; their output is its text blocks."""
    import pathlib
    import re

    text = (pathlib.Path(__file__).parents[1] / "docs" / "families" / page).read_text()
    code = "\n".join(re.findall(r"```python\n(.*?)```", text, flags=re.S))
    expected = "".join(re.findall(r"```text\n(.*?)```", text, flags=re.S))
    exec(compile(code, page, "exec"), {})
    assert capsys.readouterr().out == expected


def test_a_categorical_family_with_given_levels_is_refused_not_overridden():
    with pytest.raises(ValueError, match=r"give CategoricalFamily without n_levels"):
        MixtureModel(family=CategoricalFamily([2, 3])).fit(np.array([["a", "x"], ["b", "y"]],
                                                                     dtype=object))


def test_float32_stays_float32_through_the_groups():
    rng = np.random.default_rng(0)
    X = np.c_[rng.random((200, 2)) < 0.5, rng.poisson(3, (200, 1)),
              rng.normal(size=(200, 1))].astype(np.float32)
    model = MixtureModel(2, family=[("bernoulli", [0, 1]), ("poisson", [2]), ("gaussian", [3])],
                         random_state=0).fit(X)
    for name in ("weights_", "group0_probabilities_", "group1_rates_", "group2_means_"):
        assert getattr(model, name).dtype == np.float32, name
    assert model.score_samples(X).dtype == np.float32
    assert model.sample(3)[0].dtype == np.float32


@pytest.mark.parametrize("cls, name, start", [
    (BernoulliMixture, "probabilities", np.array([[0.8, 0.7, 0.2], [0.1, 0.3, 0.6]])),
    (PoissonMixture, "rates", np.array([[1.0, 2.0, 3.0], [6.0, 5.0, 4.0]])),
])
def test_shortcuts_hold_fixed_parameters_and_count_only_free_ones(cls, name, start):
    rng = np.random.default_rng(0)
    X = (rng.random((200, 3)) < 0.5).astype(float) if cls is BernoulliMixture else \
        rng.poisson(3.0, (200, 3)).astype(float)
    model = cls(2, **{f"{name}_init": start}, fixed_params=[name], random_state=0).fit(X)
    np.testing.assert_array_equal(getattr(model, name + "_"), start)
    assert not np.allclose(model.weights_, [0.5, 0.5])  # initial weights from the start...
    n = X.shape[0]
    # ...are free: K − 1 = 1 parameter; the 2 × 3 fixed ones are not counted.
    assert model.bic(X) == pytest.approx(-2 * n * model.score(X) + np.log(n), rel=1e-12)
    with pytest.raises(ValueError, match=rf"fixed_params names unknown parameter\(s\) "
                                         rf"\['means'\]; this model's parameters are "
                                         rf"\['weights', '{name}'\]"):
        cls(fixed_params=["means"]).fit(X)


def test_a_word_in_a_numeric_column_of_a_mixed_table_is_named():
    table = pd.DataFrame({"colour": ["red", "blue", "red"], "count": [1, "many", 3]})
    with pytest.raises(ValueError, match=r"^column 'count' holds 'many' \(row 1\), not a "
                                         "number; give that column a categorical family"):
        MixtureModel(family=[("categorical", "colour"), ("poisson", "count")]).fit(table)


def test_a_student_group_beside_other_families():
    """A Student-t group (whose statistics need the E-step's parameters) in a product:
    the start from memberships and the density, against scipy's t."""
    rng = np.random.default_rng(0)
    X = np.column_stack([np.r_[rng.standard_t(4, 300), rng.standard_t(4, 300) + 8],
                         np.r_[rng.random(300) < 0.2, rng.random(300) < 0.8]])
    model = MixtureModel(2, family=[("student", [0]), ("bernoulli", [1])],
                         random_state=0).fit(X)
    per = np.column_stack([
        stats.t.logpdf(X[:, 0], model.group0_degrees_of_freedom_[k],
                       model.group0_means_[k, 0], np.sqrt(model.group0_covariances_[k, 0, 0]))
        + stats.bernoulli.logpmf(X[:, 1], model.group1_probabilities_[k, 0])
        for k in range(2)])
    np.testing.assert_allclose(model.score_samples(X),
                               logsumexp(per + np.log(model.weights_), axis=1), rtol=1e-8)
    assert np.sort(model.group0_means_[:, 0]) == pytest.approx([0, 8], abs=0.3)


@pytest.mark.parametrize("family", ["gaussian", "student"])
def test_measurements_beyond_2_to_the_510_are_refused_not_overflowed(family):
    X = np.random.default_rng(0).normal(size=(40, 2))
    X[5, 1] = 1e200
    with pytest.raises(ValueError, match=r"column 1 holds 1e\+200 \(row 5\), beyond 2\*\*510"):
        MixtureModel(2, family=family, random_state=0).fit(X)
