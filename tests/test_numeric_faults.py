"""Numbers that stay right: weights of any scale, data far from the model, bad parameters.

Issue 9, items 7, 8 and 10: a fit does not depend on the overall size of the
sample weights; data within range but far from a fitted model gets finite,
correct posteriors, labels and distances (checked against exact rational
arithmetic) or a clear error, never NaN; every constructor parameter refuses
absurd values with a one-line TypeError/ValueError.
"""

import warnings
from fractions import Fraction

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from mixfit import GaussianMixture, KMeans
from mixfit import _parallel
from mixfit._validation import check_chunk_size, check_sample_weight

rng = np.random.default_rng(0)
X2 = rng.normal(size=(60, 2))
X2[:30] += 4.0

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical", "identity"]

# --------------------------------------------------------------------------
# item 7: sample weights of any scale

#: Constant weights from the smallest subnormal to where n of them overflow a sum.
SCALES = [5e-324, 1e-310, 1e-300, 1e-100, 1e-16, 0.37, 3.0, 1e16, 1e100, 1e300, 1.7e308]


def _gm(covariance_type="full", init_params="kmeans"):
    return GaussianMixture(
        2, covariance_type=covariance_type, init_params=init_params, random_state=0
    )


@pytest.mark.parametrize(
    "covariance_type, init_params",
    [(c, "kmeans") for c in COVARIANCE_TYPES]
    + [("full", i) for i in ["k-means++", "random", "random_from_data", "lecture"]],
)
def test_gaussian_mixture_ignores_the_scale_of_the_weights(covariance_type, init_params):
    reference = _gm(covariance_type, init_params).fit(X2)
    for c in SCALES:
        weighted = _gm(covariance_type, init_params).fit(X2, sample_weight=np.full(60, c))
        np.testing.assert_allclose(weighted.means_, reference.means_, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(
            weighted.covariances_, reference.covariances_, rtol=1e-9, atol=1e-12
        )
        np.testing.assert_allclose(weighted.weights_, reference.weights_, rtol=1e-9)
        assert weighted.lower_bound_ == pytest.approx(reference.lower_bound_, rel=1e-12)
        assert weighted.score(X2, sample_weight=np.full(60, c)) == pytest.approx(
            reference.score(X2), rel=1e-12
        )


@pytest.mark.parametrize("init", ["k-means++", "random", "lecture"])
@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly"])
def test_kmeans_ignores_the_scale_of_the_weights(init, algorithm):
    def fit(**kw):
        return KMeans(2, init=init, algorithm=algorithm, n_init=2, random_state=0).fit(X2, **kw)

    reference = fit()
    for c in SCALES:
        weight = np.full(60, c)
        if not np.isfinite(c * reference.inertia_ * 2):  # 2: headroom for rounding
            # The inertia in the user's units is beyond float64: refused, not inf.
            with pytest.raises(ValueError, match="beyond float64's range.*sample_weight"):
                fit(sample_weight=weight)
            with pytest.raises(ValueError, match="beyond float64's range"):
                reference.score(X2, sample_weight=weight)
            continue
        weighted = fit(sample_weight=weight)
        np.testing.assert_array_equal(weighted.labels_, reference.labels_)
        np.testing.assert_allclose(weighted.cluster_centers_, reference.cluster_centers_,
                                   rtol=1e-12)
        # In weight units, rounded once (subnormal results hold fewer digits).
        rtol = 1e-12 if c * reference.inertia_ > 1e-300 else 1e-2
        assert weighted.inertia_ == pytest.approx(c * reference.inertia_, rel=rtol)
        np.testing.assert_allclose(
            weighted.inertia_history_, np.multiply(c, reference.inertia_history_), rtol=rtol
        )
        assert weighted.score(X2, sample_weight=weight) == pytest.approx(
            -c * reference.inertia_, rel=rtol
        )


def test_kmeans_callback_reports_inertia_in_the_weights_units():
    seen = []
    KMeans(2, random_state=0, callback=lambda i, c, inertia: seen.append(inertia)).fit(
        X2, sample_weight=np.full(60, 1e-200)
    )
    plain = KMeans(2, random_state=0).fit(X2)
    assert seen[-1] == pytest.approx(1e-200 * plain.inertia_history_[-1], rel=1e-12)


def test_scaled_weights_keep_their_ratios_and_stay_positive():
    weight = np.array([1e300, 3e299, 5e-324, 0.0])
    scaled, scale = check_sample_weight(weight, 4, return_scale=True)
    assert 1 <= scaled.max() < 2
    np.testing.assert_array_equal(scaled[:2] * scale, weight[:2])  # exact
    assert scaled[2] > 0 and scaled[3] == 0  # a positive weight is still data
    ones = np.ones(4)
    assert check_sample_weight(ones, 4) is ones  # unweighted-equivalent input untouched


# --------------------------------------------------------------------------
# item 8: magnitudes at predict time


def _given_model(covariance_type, dtype=np.float64, unequal=False):
    """A mixture with known parameters: means (0, ±1), weights 0.3/0.7."""
    precisions = {
        "full": np.array([[[2.0, 0.5], [0.5, 1.0]]] * 2),
        "tied": np.array([[2.0, 0.5], [0.5, 1.0]]),
        "diag": np.array([[2.0, 0.5]] * 2),
        "spherical": np.array([1.5, 1.5]),
        "identity": None,
    }[covariance_type]
    if unequal:
        precisions = precisions * np.array([1.0, 3.0]).reshape((2,) + (1,) * (precisions.ndim - 1))
    gm = GaussianMixture(
        2, covariance_type=covariance_type, max_iter=0, weights_init=[0.3, 0.7],
        means_init=[[0.0, 1.0], [0.0, -1.0]], precisions_init=precisions,
    )
    return gm.fit(X2.astype(dtype))


def _factor(gm, k):
    chol = gm.precisions_cholesky_
    if gm.covariance_type == "full":
        return chol[k]
    if gm.covariance_type == "tied":
        return chol
    if gm.covariance_type == "diag":
        return np.diag(chol[k])
    return np.eye(2) * chol[k]


def _exact_posteriors(gm, x):
    """Posteriors and log p(x) from the model's stored floats, in rational arithmetic."""
    terms, constants = [], []
    for k in range(2):
        L = [[Fraction(float(v)) for v in row] for row in _factor(gm, k)]
        diff = [Fraction(float(x[j])) - Fraction(float(gm.means_[k, j])) for j in range(2)]
        z = [sum(diff[i] * L[i][j] for i in range(2)) for j in range(2)]
        terms.append(z[0] ** 2 + z[1] ** 2)
        constants.append(np.log(float(gm.weights_[k])) + np.log(np.diag(_factor(gm, k))).sum()
                         - np.log(2 * np.pi))
    exact = [Fraction(c) - t / 2 for c, t in zip(constants, terms)]
    best = exact.index(max(exact))
    relative = []
    for k in range(2):
        gap = (terms[k] - terms[best]) / 2
        gap = float(gap) if abs(gap) < 1e308 else np.inf
        relative.append(constants[k] - constants[best] - gap)
    relative = np.array(relative)
    total = np.log(np.exp(relative).sum())
    return np.exp(relative - total), constants[best] - float(terms[best] / 2) + total


FAR_ROWS = np.array([
    [1e150, 0.3],      # far along the axis both components share: posteriors stay moderate
    [-1e150, -0.2],
    [3e153, 1e153],    # near 2**510
    [1e-300, 1e-300],  # tiny: the model's density near 0
    [1e8, 0.5],
])


@pytest.mark.parametrize(
    "covariance_type, unequal",
    [(c, False) for c in COVARIANCE_TYPES] + [(c, True) for c in ["full", "diag", "spherical"]],
)
def test_far_samples_get_exact_posteriors_labels_and_log_likelihoods(covariance_type, unequal):
    gm = _given_model(covariance_type, unequal=unequal)
    proba = gm.predict_proba(FAR_ROWS)
    log_p = gm.score_samples(FAR_ROWS)
    for x, p, lp in zip(FAR_ROWS, proba, log_p):
        expected, expected_log_p = _exact_posteriors(gm, x)
        np.testing.assert_allclose(p, expected, rtol=1e-9, atol=1e-12)
        assert lp == pytest.approx(expected_log_p, rel=1e-12)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(gm.predict(FAR_ROWS), proba.argmax(axis=1))
    assert np.isfinite(gm.score(FAR_ROWS))
    assert np.isfinite(gm.bic(FAR_ROWS)) and np.isfinite(gm.aic(FAR_ROWS))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_far_float32_samples_are_computed_where_float32_cannot(covariance_type):
    gm = _given_model(covariance_type, dtype=np.float32)
    rows = np.array([[1e30, 0.3], [-3e38, 0.2], [1e-40, 0.0]], dtype=np.float32)
    proba = gm.predict_proba(rows)
    assert proba.dtype == np.float32
    for x, p in zip(rows, proba):
        np.testing.assert_allclose(p, _exact_posteriors(gm, x)[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(gm.predict(rows), proba.argmax(axis=1))
    # log p(x) ≈ −1e60 has no float32 value: a clear error, which says what to do.
    with pytest.raises(ValueError, match="beyond float32's range; pass X as float64"):
        gm.score_samples(rows)
    assert gm.score_samples(rows.astype(np.float64))[0] == pytest.approx(
        _exact_posteriors(gm, rows[0])[1], rel=1e-6
    )


def test_log_likelihood_beyond_float64_is_an_error_but_posteriors_are_not():
    gm = _given_model("diag")
    gm.set_params(precisions_init=np.full((2, 2), 1e6)).fit(X2)
    rows = np.array([[1e153, 3e153]])  # log p(x) ≈ −½ · 1e6 · 1e307: beyond float64
    p = gm.predict_proba(rows)
    assert np.isfinite(p).all() and p.sum() == pytest.approx(1.0)
    for method in ("score_samples", "score", "bic", "aic"):
        with pytest.raises(ValueError, match="so far from every component|beyond float64"):
            getattr(gm, method)(rows)


def test_mean_of_huge_log_likelihoods_does_not_overflow():
    gm = _given_model("spherical")
    rows = np.array([[3e153, 0.0]] * 50)  # each ≈ −6.7e306; their sum overflows
    assert gm.score(rows) == pytest.approx(gm.score_samples(rows)[0], rel=1e-12)


def _exact_nearest(centers, x):
    distances = [sum((Fraction(float(a)) - Fraction(float(c))) ** 2 for a, c in zip(x, centre))
                 for centre in centers]
    return int(np.argmin(distances)), [float(d) ** 0.5 if d < 1e308 else None for d in distances]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kmeans_far_samples_get_exact_labels_and_finite_distances(dtype):
    km = KMeans(2, init=np.array([[0.05, 1.0], [0.05, -1.0]]), max_iter=10).fit(
        np.array([[0.0, 1.0], [0.1, 1.0], [0.0, -1.0], [0.1, -1.0]], dtype=dtype)
    )
    big = 3e153 if dtype == np.float64 else 3e38
    rows = np.array([[big, 0.3], [-big, -0.2], [1e30, 0.1], [1e-300, 1e-300]]).astype(dtype)
    labels = km.predict(rows)
    distances = km.transform(rows)
    assert np.isfinite(distances).all() and np.isfinite(km.score(rows[2:]))
    for x, label, row in zip(rows, labels, distances):
        nearest, exact = _exact_nearest(km.cluster_centers_, x)
        assert label == nearest
        np.testing.assert_allclose(row, exact, rtol=1e-6)


def _fitted(name):
    return _gm().fit(X2) if name == "gmm" else KMeans(2, random_state=0).fit(X2)


PREDICT_METHODS = [
    ("gmm", m) for m in ["predict", "predict_proba", "score_samples", "score", "bic", "aic",
                         "fit", "fit_predict"]
] + [("kmeans", m) for m in ["predict", "transform", "score", "fit", "fit_predict",
                             "fit_transform"]]


@pytest.mark.parametrize("model, method", PREDICT_METHODS)
def test_values_beyond_2_510_are_refused_by_every_method(model, method):
    rows = X2.copy()
    rows[3, 1] = 1e160
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match=r"1e\+160 \(in column 1\), beyond 2\*\*510"):
            getattr(_fitted(model), method)(rows)


# --------------------------------------------------------------------------
# item 10: parameters

BAD_PARAMETERS = [
    ("gmm", "chunk_size", 10**30, "chunk_size must be an integer <= 2147483647"),
    ("gmm", "n_init", 10**30, "n_init must be an integer <="),
    ("gmm", "max_iter", 10**30, "max_iter must be an integer <="),
    ("gmm", "tol", 10**400, "tol must be a finite number"),
    ("gmm", "tol", np.nan, "tol must be a finite number"),
    ("gmm", "reg_covar", -np.inf, "reg_covar must be a finite number"),
    ("gmm", "reg_covar", True, "reg_covar must be a non-negative number"),
    ("gmm", "n_components", "2", "n_components must be an integer"),
    ("gmm", "random_state", -1, r"random_state must be None, an integer in \[0, 2\*\*32 - 1\]"),
    ("gmm", "random_state", 2**40, "random_state must be None"),
    ("gmm", "random_state", 1.5, "random_state must be None"),
    ("gmm", "verbose", "3", "verbose must be an integer"),
    ("gmm", "verbose", -1, "verbose must be an integer >= 0"),
    ("gmm", "means_init", [["a", "b"], ["c", "d"]], "means_init must be numeric"),
    ("gmm", "means_init", np.ones((2, 2)) * 1j, "means_init must be numeric"),
    ("gmm", "init_params", None, "init_params must be one of"),
    ("kmeans", "chunk_size", 10**30, "chunk_size must be an integer <= 2147483647"),
    ("kmeans", "n_init", 10**30, "n_init must be an integer <="),
    ("kmeans", "tol", 10**400, "tol must be a finite number"),
    ("kmeans", "random_state", 2**40, "random_state must be None"),
    ("kmeans", "init", None,
     r"init must be one of \['k-means\+\+', 'k-means\|\|', 'lecture', 'random'\]"),
    ("kmeans", "init", np.nan, "init must be one of"),
    ("kmeans", "init", [1.0, 2.0], "init must be one of .* got a list"),
    ("kmeans", "init", np.ones((2, 2)) * 1j, "init must be one of"),
    ("kmeans", "n_clusters", True, "n_clusters must be an integer"),
]


@pytest.mark.parametrize("model, name, value, message", BAD_PARAMETERS)
def test_bad_parameters_get_one_line_errors(model, name, value, message):
    estimator = _gm() if model == "gmm" else KMeans(2, random_state=0)
    estimator.set_params(**{name: value})
    with pytest.raises((TypeError, ValueError), match=message) as error:
        estimator.fit(X2)
    assert "\n" not in str(error.value)


def test_largest_chunk_size_is_accepted():
    assert check_chunk_size(2**31 - 1) == 2**31 - 1
    km = KMeans(2, random_state=0, chunk_size=2**31 - 1).fit(X2)
    np.testing.assert_array_equal(km.labels_, KMeans(2, random_state=0).fit(X2).labels_)


def test_n_jobs_is_capped_at_the_available_cores():
    cores = _parallel.available_cores()
    assert _parallel.check_n_jobs(1000) == cores
    assert _parallel.check_n_jobs(-10**6) == 1
    before = set(_parallel._pools)  # other tests size their own pools
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # One row per chunk: 60 chunks would get 60 threads without the cap.
        GaussianMixture(2, n_jobs=1000, chunk_size=1, max_iter=2, random_state=0).fit(X2)
        KMeans(2, n_jobs=1000, chunk_size=1, random_state=0).fit(X2)
    assert all(n_workers <= cores for n_workers in set(_parallel._pools) - before)


@pytest.mark.parametrize("model", ["gmm", "kmeans"])
def test_complex_data_gets_one_line(model):
    rows = X2 + 1j
    for call in (lambda: _fitted(model).predict(rows),
                 lambda: (_gm() if model == "gmm" else KMeans(2)).fit(rows)):
        with pytest.raises(ValueError, match="^X holds complex values; ") as error:
            call()
        assert "\n" not in str(error.value)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("kernel", ["numba", "numpy"])
def test_labels_with_log_norm_equal_the_posteriors_argmax(covariance_type, kernel):
    # The far-data labelling path takes labels and log p(x) without the (n, K)
    # array: both must be those of the posteriors.
    from mixfit.engine import em as em

    gm = _gm(covariance_type).fit(X2)
    X = np.vstack([X2, X2 * 1e3, rng.normal(size=(500, 2))])
    X, params, _ = gm._scaled_data_and_params(X)
    log_resp, log_norm = em.log_resp(gm._family, X, params, 128, kernel=kernel)
    labels, norm = em.labels_and_log_norm(gm._family, X, params, 128, kernel=kernel)
    np.testing.assert_array_equal(labels, log_resp.argmax(axis=1))
    np.testing.assert_array_equal(norm, log_norm)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_magnitudes_are_the_largest_absolute_values(dtype):
    from mixfit.kernels.moments import finite_column_magnitudes
    from mixfit.estimators._data_checks import check_magnitude

    X = (rng.normal(size=(10000, 7)) * np.logspace(-30, 30, 7)).astype(dtype)
    expected = np.abs(X).max(axis=0).astype(np.float64)
    for n_jobs in (1, 2):
        for data in (X, np.asfortranarray(X)):
            finite, columns = finite_column_magnitudes(data, n_jobs=n_jobs)
            assert finite
            np.testing.assert_array_equal(columns, expected)
    np.testing.assert_array_equal(check_magnitude(X, per_column=True), expected)
    assert check_magnitude(X) == expected.max()
    for bad in (np.nan, np.inf, -np.inf):
        Y = X.copy()
        Y[9999, 3] = bad
        assert not finite_column_magnitudes(Y, n_jobs=2)[0]


def test_constant_columns_of_tiny_variance_do_not_force_the_far_path():
    # Border pixels of digits: always 0, so their variance is reg_covar and their
    # precision huge; a bound that ignored which columns the data moves along
    # sent every predict down the slower exact path.
    from mixfit.estimators._far_rows import may_be_far

    X = np.hstack([rng.normal(size=(500, 5)), np.zeros((500, 20))]).astype(np.float32)
    gm = GaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    Xs, params, _ = gm._scaled_data_and_params(X)
    assert not may_be_far(Xs, params, "diag")
    assert may_be_far(Xs * np.float32(1e4), params, "diag")
