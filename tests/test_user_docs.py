"""What a new user reads: error messages in the user's terms, and docstrings that explain.

Messages name a DataFrame's columns by name, and errors on new data never
speak of fitting (the model is fitted: the data are what is wrong).
"""

import doctest
import inspect

import numpy as np
import pandas as pd
import pytest

import mixfit
from mixfit import GaussianMixture, KMeans

ESTIMATORS = [
    pytest.param(lambda: GaussianMixture(n_components=2, random_state=0), id="gmm"),
    pytest.param(lambda: KMeans(n_clusters=2, random_state=0), id="kmeans"),
]
COLUMNS = ["fixed_acidity", "alcohol", "ash", "hue"]


def wine_like(seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(40, 4)) + [0, 10, 0, 5], columns=COLUMNS)


@pytest.mark.parametrize("make", ESTIMATORS)
@pytest.mark.parametrize("when", ["fit", "predict"])
def test_a_nan_in_a_dataframe_is_located_by_column_name(make, when):
    data = wine_like()
    bad = data.copy()
    estimator = make()
    # GaussianMixture models NaN (missing values); an inf is refused by the same message.
    gmm = isinstance(estimator, GaussianMixture)
    bad.loc[7, "alcohol"] = np.inf if gmm else np.nan
    if when == "predict":
        estimator.fit(data)
    call = estimator.fit if when == "fit" else estimator.predict
    what = r"infinite \(inf\)" if gmm else "NaN"
    with pytest.raises(ValueError, match=rf"1 {what} value\(s\), in column\(s\) 'alcohol';") as info:
        call(bad)
    assert "column(s) 1" not in str(info.value)


def test_an_array_without_names_is_still_located_by_index():
    X = wine_like().to_numpy().copy()
    X[3, 2] = np.inf
    with pytest.raises(ValueError, match=r"1 infinite \(inf\) value\(s\), in column\(s\) 2;"):
        KMeans(n_clusters=2).fit(X)


@pytest.mark.parametrize("make", ESTIMATORS)
@pytest.mark.parametrize("n_given", [3, 5])
@pytest.mark.parametrize("as_list", [False, True])
def test_predict_with_the_wrong_number_of_features_names_both_counts(make, n_given, as_list):
    X = wine_like().to_numpy()
    estimator = make().fit(X)
    wrong = np.hstack([X, X])[:, :n_given]
    with pytest.raises(ValueError) as info:
        estimator.predict(wrong.tolist() if as_list else wrong)
    message = str(info.value)
    name = type(estimator).__name__
    assert "before fitting" not in message
    assert f"X has {n_given} features" in message
    assert f"this {name} was fitted with 4 features" in message
    assert "in the order used in fit" in message  # the fix


def test_a_dataframe_missing_a_column_is_told_which_one():
    # scikit-learn's own check names the column; mixfit's count check stays out of its way.
    data = wine_like()
    model = GaussianMixture(n_components=2, random_state=0).fit(data)
    with pytest.raises(ValueError, match=r"missing:\n- hue"):
        model.predict(data[COLUMNS[:3]])


@pytest.mark.parametrize("make", ESTIMATORS)
def test_non_numeric_columns_are_named_in_column_order(make):
    data = wine_like().astype(object)
    # Filled in the reverse order of the columns: the message must follow the columns.
    data.loc[9, "hue"] = "pale"
    data.loc[4, "alcohol"] = "n/a"
    data.loc[2, "ash"] = "?"
    with pytest.raises(ValueError) as info:
        make().fit(data)
    message = str(info.value)
    assert message.startswith(
        "X must be numeric, but row 4, column 'alcohol' holds 'n/a'; row 2, column 'ash' "
        "holds '?'; row 9, column 'hue' holds 'pale';"
    )
    assert "column(s) 'alcohol', 'ash', 'hue' first" in message
    assert "'fixed_acidity'" not in message


@pytest.mark.parametrize("make", ESTIMATORS)
def test_huge_values_are_located_by_column_name(make):
    data = wine_like()
    huge = data.copy()
    huge.loc[0, "ash"] = 1e300
    with pytest.raises(ValueError, match=r"up to 1e\+300 \(in column 'ash'\), beyond 2\*\*510"):
        make().fit(huge)
    estimator = make().fit(data)
    with pytest.raises(ValueError, match=r"up to 1e\+300 \(in column 'ash'\), beyond 2\*\*510"):
        estimator.predict(huge)


# ---------------------------------------------------------------- docstrings


def sections(obj):
    """The numpydoc sections of ``obj``'s docstring: {title: text}, in order, "" the opening."""
    lines = inspect.cleandoc(obj.__doc__ or "").splitlines()
    found, title, body = {}, "", []
    for i, line in enumerate(lines):
        underline = lines[i + 1] if i + 1 < len(lines) else ""
        rule = underline.strip()
        if line.strip() and set(rule) == {"-"} and len(rule) == len(line.strip()):
            found[title] = "\n".join(body)
            title, body = line.strip(), []
        elif set(line.strip()) != {"-"}:
            body.append(line)
    found[title] = "\n".join(body)
    return found


def documented_names(text):
    """The entries of a Parameters/Attributes section, in order: {name: description}."""
    entries, name = {}, None
    for line in text.splitlines():
        if line and not line.startswith(" "):
            name = line.split(" : ")[0].strip()
            entries[name] = ""
        elif name is not None:
            entries[name] += line.strip() + " "
    return entries


def fitted(estimator_class):
    X = wine_like()
    return (GaussianMixture(n_components=2, random_state=0) if estimator_class is GaussianMixture
            else KMeans(n_clusters=2, random_state=0)).fit(X)


@pytest.mark.parametrize("cls", [GaussianMixture, KMeans])
def test_class_docstrings_come_in_the_order_a_user_reads(cls):
    titles = list(sections(cls))
    # What it is for first, then an example, parameters, attributes; details last.
    assert titles[:4] == ["", "Examples", "Parameters", "Attributes"]
    assert titles[-1] == "Notes"
    opening = sections(cls)[""]
    for detail in ("float32", "2**60", "lecture"):
        assert detail not in opening, detail
    assert "2**60" in sections(cls)["Notes"] and "float32" in sections(cls)["Notes"]


def test_the_identity_model_is_explained_in_words():
    opening = " ".join(sections(GaussianMixture)[""].split())
    assert '"identity"' in opening and "variance 1 in every direction" in opening
    parameters = documented_names(sections(GaussianMixture)["Parameters"])
    assert "lecture's model" not in parameters["covariance_type"]
    assert "variance 1 in every direction" in " ".join(parameters["covariance_type"].split())


@pytest.mark.parametrize("cls", [GaussianMixture, KMeans])
def test_every_constructor_parameter_is_documented_in_order(cls):
    names = [n for n in inspect.signature(cls).parameters]
    documented = documented_names(sections(cls)["Parameters"])
    assert list(documented) == names
    assert all(len(text) > 15 for text in documented.values()), documented


@pytest.mark.parametrize("cls", [GaussianMixture, KMeans])
def test_every_fitted_attribute_is_described(cls):
    estimator = fitted(cls)
    public = {name for name in vars(estimator) if name.endswith("_") and not name.startswith("_")}
    assert "feature_names_in_" in public  # fitted on a DataFrame: every attribute is set
    documented = documented_names(sections(cls)["Attributes"])
    assert public <= set(documented), public - set(documented)
    for name in public:
        assert len(documented[name]) > 20, f"{name} has no description"


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical", "identity"])
def test_bic_and_aic_are_the_documented_formulas(covariance_type):
    # The docstring's parameter count, computed here from its words, is what bic uses.
    bic_doc, aic_doc = GaussianMixture.bic.__doc__, GaussianMixture.aic.__doc__
    assert "BIC = −2 log L + p log n" in bic_doc and "AIC = −2 log L + 2p" in aic_doc
    X = wine_like().to_numpy()
    n, d = X.shape
    K = 3
    model = GaussianMixture(n_components=K, covariance_type=covariance_type,
                            random_state=0).fit(X)
    covariance = {"full": K * d * (d + 1) // 2, "tied": d * (d + 1) // 2, "diag": K * d,
                  "spherical": K, "identity": 0}[covariance_type]
    p = (K - 1) + K * d + covariance
    log_l = n * model.score(X)
    assert model.bic(X) == pytest.approx(-2 * log_l + p * np.log(n), rel=1e-12)
    assert model.aic(X) == pytest.approx(-2 * log_l + 2 * p, rel=1e-12)


@pytest.mark.parametrize("method", ["fit", "fit_predict", "predict", "predict_proba",
                                    "score_samples", "score", "sample", "bic", "aic"])
def test_gaussian_mixture_methods_document_their_parameters(method):
    params = [n for n in inspect.signature(getattr(GaussianMixture, method)).parameters
              if n != "self"]
    documented = documented_names(sections(getattr(GaussianMixture, method)).get("Parameters", ""))
    assert list(documented) == params


def test_the_package_docstring_is_an_overview_with_a_working_example():
    doc = mixfit.__doc__
    assert len(doc.splitlines()) > 20
    for name in ("GaussianMixture", "KMeans", "save", "load", "mixfit --help", "docs/"):
        assert name in doc, name
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = [t for t in finder.find(mixfit, "mixfit") if t.name == "mixfit"]
    assert tests and len(tests[0].examples) >= 4
    assert doctest.DocTestRunner().run(tests[0]).failed == 0
