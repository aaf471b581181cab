"""Bad and awkward input through the Python API: clear errors, or sensible finite fits.

The same table runs through the command line in ``test_cli_bad_input.py``.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.exceptions import ConvergenceWarning

from mixfit import GaussianMixture, KMeans

rng = np.random.default_rng(0)
GOOD = rng.normal(size=(40, 3))


def with_values(rows, columns, value):
    X = GOOD.copy()
    X[rows, columns] = value
    return X


#: (case, X, estimator settings, fit keywords, exception, message fragment)
BAD_INPUTS = [
    ("NaN", with_values([1, 5, 7], [0, 2, 2], np.nan), {}, {}, ValueError,
     r"X contains 3 NaN value\(s\), in column\(s\) 0, 2"),
    ("inf", with_values([3], [1], np.inf), {}, {}, ValueError,
     r"1 infinite \(inf\) value\(s\), in column\(s\) 1"),
    ("NaN and -inf", with_values([1, 2], [0, 1], [np.nan, -np.inf]), {}, {}, ValueError,
     "1 NaN and 1 infinite"),
    ("empty", np.empty((0, 3)), {}, {}, ValueError, "0 sample"),
    ("1-D", GOOD[:, 0], {}, {}, ValueError, r"got 1-D input of shape \(40,\); Reshape your data"),
    ("3-D", GOOD.reshape(4, 10, 3), {}, {}, ValueError, r"got 3-D input .* flatten"),
    ("non-numeric", np.array([["1.0", "2.0"], ["3.0", "abc"], ["5", "6"]], dtype=object),
     {"k": 1}, {}, ValueError, r"X must be numeric, but row 1, column 1 holds 'abc'"),
    ("fewer samples than components", GOOD[:3], {"k": 5}, {}, ValueError,
     r"n_samples.* >= n_"),
    ("zero components", GOOD, {"k": 0}, {}, ValueError, "must be an integer >= 1"),
    ("fractional components", GOOD, {"k": 2.5}, {}, TypeError, "must be an integer"),
    ("negative sample weight", GOOD, {}, {"sample_weight": -np.ones(40)}, ValueError,
     "negative"),
    ("NaN sample weight", GOOD, {}, {"sample_weight": np.full(40, np.nan)}, ValueError,
     "non-finite"),
    ("sample weight of the wrong length", GOOD, {}, {"sample_weight": np.ones(3)},
     ValueError, r"sample_weight must have shape \(40,\)"),
]


def make(model, k=2):
    if model == "gmm":
        return GaussianMixture(k, random_state=0)
    return KMeans(k, random_state=0)


@pytest.mark.parametrize("model", ["gmm", "kmeans"])
@pytest.mark.parametrize(
    "case, X, options, fit_kwargs, error, match", BAD_INPUTS, ids=[row[0] for row in BAD_INPUTS]
)
def test_bad_input_raises_a_clear_error(model, case, X, options, fit_kwargs, error, match):
    if model == "gmm" and case in GMM_MISSING_VALUES:
        # GaussianMixture models NaN (missing values): only the inf is refused.
        match = GMM_MISSING_VALUES[case]
        if match is None:
            make(model, **options).fit(X, **fit_kwargs)
            return
    with pytest.raises(error, match=match):
        make(model, **options).fit(X, **fit_kwargs)


#: The cases GaussianMixture answers differently (tests/test_gaussian_missing.py).
GMM_MISSING_VALUES = {"NaN": None, "NaN and -inf": r"X contains 1 infinite \(inf\) value"}


def test_nan_at_predict_time_is_refused_too():
    fitted = make("kmeans").fit(GOOD)
    with pytest.raises(ValueError, match=r"X contains 1 NaN value\(s\), in column\(s\) 2"):
        fitted.predict(with_values([0], [2], np.nan))
    # GaussianMixture takes it: the marginal density of the observed values.
    assert make("gmm").fit(GOOD).predict(with_values([0], [2], np.nan)).shape == (40,)


def fitted_attributes(model):
    if isinstance(model, KMeans):
        return [model.cluster_centers_, np.array(model.inertia_), model.transform(GOOD * 0)]
    return [model.weights_, model.means_, model.covariances_, model.precisions_cholesky_,
            model.precisions_, np.array(model.lower_bound_)]


@pytest.mark.parametrize(
    "magnitude, dtype",
    # float32 holds neither 1e150 nor 1e-150, so those run in float64 only.
    [(m, np.float64) for m in (1e150, 1e-150, 1e30, 1e-30)]
    + [(m, np.float32) for m in (1e30, 1e-30)],
)
@pytest.mark.parametrize("covariance_type", ["spherical", "diag", "tied", "full"])
def test_extreme_magnitudes_give_the_scaled_fit(magnitude, dtype, covariance_type):
    base = np.vstack([rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + 6])
    X = base * magnitude
    X = X.astype(dtype)
    # The same start for both (a random init would see different float values).
    kwargs = dict(covariance_type=covariance_type, reg_covar=0.0)
    scaled = GaussianMixture(2, means_init=X[[0, 150]], **kwargs).fit(X)
    reference = GaussianMixture(2, means_init=base[[0, 150]], **kwargs).fit(base)
    for value in fitted_attributes(scaled):
        assert np.isfinite(value).all()
    # The same fit as on unit-scale data, in the data's units.
    np.testing.assert_allclose(scaled.means_ / magnitude, reference.means_, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        scaled.score(X), reference.score(base) - 2 * np.log(magnitude), rtol=1e-6
    )
    np.testing.assert_array_equal(scaled.predict(X), reference.predict(base))


@pytest.mark.parametrize("magnitude", [1e150, 1e-150, 1e30])
# The fit reads the magnitudes from its finiteness pass (C order: one numba
# pass) or from numpy's column reductions (other layouts): both must scale.
@pytest.mark.parametrize("order", ["C", "F"])
def test_kmeans_extreme_magnitudes(magnitude, order):
    base = np.vstack([rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + 6])
    X = np.asarray(base * magnitude, order=order)
    km = KMeans(2, init=X[[0, 150]]).fit(X)
    reference = KMeans(2, init=base[[0, 150]]).fit(base)
    assert np.isfinite(km.cluster_centers_).all() and np.isfinite(km.inertia_)
    np.testing.assert_allclose(km.inertia_ / magnitude**2, reference.inertia_, rtol=1e-6)
    np.testing.assert_allclose(km.cluster_centers_ / magnitude, reference.cluster_centers_,
                               rtol=1e-6)
    np.testing.assert_allclose(km.transform(X) / magnitude, reference.transform(base),
                               rtol=1e-6)


@pytest.mark.parametrize("model", ["gmm", "kmeans"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_values_beyond_float64_squares_are_refused(model, order):
    with pytest.raises(ValueError, match=r"beyond 2\*\*510 .* Divide X"):
        make(model).fit(np.asarray(GOOD * 1e300, order=order))


def test_identity_model_refuses_huge_values():
    with pytest.raises(ValueError, match="Standardise X first"):
        GaussianMixture(2, covariance_type="identity").fit(GOOD * 1e30)


def test_collapsing_component_without_regularisation_names_it():
    # Two exact copies of one point in a component of its own: its covariance is 0.
    X = np.vstack([GOOD, [[50.0, 50.0, 50.0]] * 2])
    with pytest.raises(ValueError, match=r"component \d+ has a covariance .* reg_covar"):
        GaussianMixture(2, reg_covar=0.0, random_state=0).fit(X)


# Arrays mixing ordinary values with NaN, inf, huge, tiny and constant columns.
awkward_values = st.one_of(
    st.floats(-10, 10),
    st.sampled_from([np.nan, np.inf, -np.inf, 1e150, -1e150, 1e-150, 0.0, 1e300]),
)


@settings(max_examples=60, deadline=None)
@given(
    X=hnp.arrays(np.float64, st.tuples(st.integers(2, 30), st.integers(1, 3)),
                 elements=awkward_values),
    constant_column=st.booleans(),
    covariance_type=st.sampled_from(["identity", "spherical", "diag", "tied", "full"]),
    n_components=st.integers(1, 3),
)
def test_any_array_raises_a_documented_error_or_fits_finite_parameters(
    X, constant_column, covariance_type, n_components
):
    if constant_column:
        X[:, 0] = 3.0
    model = GaussianMixture(n_components, covariance_type=covariance_type, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            model.fit(X)
        except ValueError as error:
            assert str(error)  # every documented refusal is a ValueError with a message
            return
    for value in fitted_attributes(model):
        assert np.isfinite(value).all()
    assert np.isfinite(model.score_samples(X)).all()


@settings(max_examples=40, deadline=None)
@given(
    X=hnp.arrays(np.float64, st.tuples(st.integers(2, 30), st.integers(1, 3)),
                 elements=awkward_values),
    n_clusters=st.integers(1, 3),
)
def test_kmeans_on_any_array_raises_or_fits_finite_centres(X, n_clusters):
    model = KMeans(n_clusters, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            model.fit(X)
        except ValueError as error:
            assert str(error)
            return
    assert np.isfinite(model.cluster_centers_).all()
    assert np.isfinite(model.inertia_)


def test_tiny_data_with_regularisation_stays_finite():
    # reg_covar (1e-6) swamps a spread of 1e-290: the fit must say so, not overflow
    # reg_covar in the units of the data.
    X = rng.normal(size=(50, 2)) * 1e-290
    model = GaussianMixture(1, covariance_type="spherical").fit(X)
    np.testing.assert_allclose(model.covariances_, 1e-6, rtol=1e-9)
    assert np.isfinite(model.score_samples(X)).all()
