"""GaussianMixture with mclust's 14 covariance models, end to end.

What issue 12 §1 asks of ``GaussianMixture(covariance_type=<three letters>)``:
scikit-learn's four names are the same fits as VII, VVI, EEE and VVV; EM never
lowers the log-likelihood; the fitted covariances have the model's structure and
the decomposition attributes rebuild them; every feature of the estimator
(weights, float32, restarts, every start, queries, criteria, model files, extreme
magnitudes, one feature) works for all 14; parameter counts are those of
``../shared/MODELS.md``. The M-steps alone are tested in ``test_parsimonious.py``.
"""

import math
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.exceptions import ConvergenceWarning

import mixfit
from mixfit import GaussianMixture
from mixfit.families.gaussian import parsimonious_structures
from mixfit.families.gaussian.covariance import CollapsedComponentError
from mixfit.families.gaussian.parsimonious import ITERATIVE
from mixfit.families.gaussian.registry import MCLUST_MODELS, SKLEARN_EQUIVALENTS

MODELS = list(MCLUST_MODELS)
INITS = ("kmeans", "k-means++", "random", "random_from_data", "lecture", "hc")
COLLAPSE_WORDS = "Fitting the mixture model failed because some components have ill-defined"


# ---------------------------------------------------------------- helpers

def mixture_data(seed=0, n_per=(40, 30, 50), n_features=3, separation=6.0):
    """Clusters with different volumes, shapes and orientations, and hard labels."""
    rng = np.random.default_rng(seed)
    parts = []
    for n in n_per:
        mixing = rng.normal(size=(n_features, n_features)) * rng.uniform(0.5, 1.5)
        centre = rng.normal(size=n_features) * separation
        parts.append(centre + rng.normal(size=(n, n_features)) @ mixing)
    labels = np.repeat(np.arange(len(n_per)), n_per)
    return np.vstack(parts), labels


def one_hot(labels, n_components):
    return np.eye(n_components)[labels]


X3, LABELS3 = mixture_data()
RESP3 = one_hot(LABELS3, 3)


def fit(model, X=X3, n_components=3, **kwargs):
    kwargs.setdefault("resp_init", RESP3 if X is X3 and n_components == 3 else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(n_components, covariance_type=model, **kwargs).fit(X)


def as_full(covariances, covariance_type, n_components, n_features):
    """scikit-learn's covariance (or precision) shapes as a (K, d, d) stack."""
    covariances = np.asarray(covariances)
    if covariance_type == "spherical":
        return covariances[:, None, None] * np.eye(n_features)
    if covariance_type == "diag":
        return covariances[:, :, None] * np.eye(n_features)
    if covariance_type == "tied":
        return np.broadcast_to(covariances, (n_components, n_features, n_features))
    return covariances


def rebuild(estimator):
    """``volumes_ · D diag(shapes_) Dᵀ`` per component."""
    D = estimator.orientations_.astype(np.float64)
    scaled = D * (estimator.volumes_.astype(np.float64)[:, None]
                  * estimator.shapes_.astype(np.float64))[:, None, :]
    return scaled @ np.swapaxes(D, 1, 2)


def assert_model_structure(model, estimator, rtol=1e-9):
    """The fitted covariances and their decomposition have the model's letters."""
    covariances = estimator.covariances_.astype(np.float64)
    n_components, n_features = estimator.means_.shape
    assert covariances.shape == (n_components, n_features, n_features)
    assert estimator.volumes_.shape == (n_components,)
    assert estimator.shapes_.shape == (n_components, n_features)
    assert estimator.orientations_.shape == (n_components, n_features, n_features)
    scale = np.abs(covariances).max()
    np.testing.assert_allclose(rebuild(estimator), covariances, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(np.prod(estimator.shapes_.astype(np.float64), axis=1), 1.0,
                               rtol=rtol * 10)
    np.testing.assert_allclose(estimator.volumes_ ** n_features, np.linalg.det(covariances),
                               rtol=rtol * 100)
    D = estimator.orientations_.astype(np.float64)
    np.testing.assert_allclose(np.swapaxes(D, 1, 2) @ D,
                               np.broadcast_to(np.eye(n_features), D.shape), atol=rtol * 10)
    volume, shape, orientation = model
    if volume == "E":
        np.testing.assert_allclose(estimator.volumes_, estimator.volumes_[0], rtol=rtol)
    else:  # the test data's clusters have clearly different volumes
        assert np.ptp(estimator.volumes_) > 1e-3 * estimator.volumes_.max()
    if shape == "E":
        np.testing.assert_allclose(estimator.shapes_, np.broadcast_to(
            estimator.shapes_[0], estimator.shapes_.shape), rtol=rtol)
    if shape == "I":
        np.testing.assert_allclose(estimator.shapes_, 1.0, rtol=rtol)
        for k in range(n_components):
            np.testing.assert_allclose(covariances[k], covariances[k, 0, 0] * np.eye(n_features),
                                       rtol=rtol, atol=rtol * covariances[k, 0, 0])
    if orientation == "E":
        np.testing.assert_allclose(D, np.broadcast_to(D[0], D.shape), atol=rtol * 10)
    if orientation == "I":
        np.testing.assert_array_equal(D, np.broadcast_to(np.eye(n_features), D.shape))
        off_diagonal = covariances * (1 - np.eye(n_features))
        np.testing.assert_array_equal(off_diagonal, 0.0)
    else:  # the fitted covariances are not all diagonal
        assert np.abs(covariances * (1 - np.eye(n_features))).max() > 1e-3 * scale


def assert_factors(estimator, rtol=1e-9):
    """``precisions_`` inverts ``covariances_``; ``precisions_cholesky_`` is its upper factor."""
    n_components, n_features = estimator.means_.shape
    eye = np.broadcast_to(np.eye(n_features), (n_components, n_features, n_features))
    covariances = estimator.covariances_.astype(np.float64)
    precisions = estimator.precisions_.astype(np.float64)
    factor = estimator.precisions_cholesky_.astype(np.float64)
    np.testing.assert_allclose(precisions @ covariances, eye, atol=rtol * 1e3)
    np.testing.assert_allclose(factor @ np.swapaxes(factor, 1, 2), precisions,
                               rtol=rtol, atol=rtol * np.abs(precisions).max())
    np.testing.assert_array_equal(np.tril(factor, -1), 0.0)
    assert (np.diagonal(factor, axis1=1, axis2=2) > 0).all()


def reference_score_samples(estimator, X):
    """log p(x) from the fitted attributes, by scipy."""
    columns = [np.log(w) + multivariate_normal(mean, cov).logpdf(X)
               for w, mean, cov in zip(estimator.weights_.astype(np.float64),
                                       estimator.means_.astype(np.float64),
                                       estimator.covariances_.astype(np.float64))]
    return logsumexp(np.column_stack(columns), axis=1)


def expected_n_parameters(model, K, d):
    """MODELS.md §1's table, written out per model (not by letters)."""
    covariance = {
        "EII": 1, "VII": K, "EEI": d, "VEI": K + d - 1, "EVI": 1 + K * (d - 1),
        "VVI": K * d, "EEE": d * (d + 1) // 2, "VEE": K - 1 + d * (d + 1) // 2,
        "EVE": 1 + K * (d - 1) + d * (d - 1) // 2, "VVE": K * d + d * (d - 1) // 2,
        "EEV": d + K * d * (d - 1) // 2, "VEV": K + d - 1 + K * d * (d - 1) // 2,
        "EVV": 1 + K * (d * (d + 1) // 2 - 1), "VVV": K * d * (d + 1) // 2,
    }[model]
    return (K - 1) + K * d + covariance


# ---------------------------------------------------------------- 1. scikit-learn's names

@pytest.mark.parametrize("sklearn_name", sorted(SKLEARN_EQUIVALENTS))
@pytest.mark.parametrize("start", ["resp_init", "kmeans"])
@pytest.mark.parametrize("reg_covar", [1e-6, 1e-2])
def test_sklearn_names_are_the_same_fits_as_their_mclust_models(sklearn_name, start,
                                                                  reg_covar):
    model = SKLEARN_EQUIVALENTS[sklearn_name]
    # Overlapping clusters and a poor start, so that EM runs many iterations.
    X, _ = mixture_data(4, separation=2.0)
    resp = np.random.default_rng(0).dirichlet(np.ones(3), size=X.shape[0])
    settings = dict(reg_covar=reg_covar, tol=1e-8, max_iter=200, resp_init=resp)
    if start == "kmeans":
        settings.update(resp_init=None, init_params="kmeans", random_state=3)
    ours = fit(model, X, **settings)
    theirs = fit(sklearn_name, X, **settings)
    K, d = ours.means_.shape
    assert ours.n_iter_ == theirs.n_iter_ and ours.n_iter_ > 2
    assert ours.converged_ and theirs.converged_
    np.testing.assert_allclose(ours.weights_, theirs.weights_, rtol=1e-9)
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=1e-9, atol=1e-9)
    for attribute in ("covariances_", "precisions_"):
        np.testing.assert_allclose(
            getattr(ours, attribute),
            as_full(getattr(theirs, attribute), sklearn_name, K, d), rtol=1e-8, atol=1e-10)
    assert ours.lower_bound_ == pytest.approx(theirs.lower_bound_, rel=1e-11)
    np.testing.assert_allclose(ours.lower_bounds_, theirs.lower_bounds_, rtol=1e-11)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert ours._n_parameters() == theirs._n_parameters()
    assert ours.bic(X) == pytest.approx(theirs.bic(X), rel=1e-11)
    # Only the three-letter name exposes the decomposition.
    assert hasattr(ours, "volumes_") and not hasattr(theirs, "volumes_")


# ---------------------------------------------------------------- 2. EM is monotone

def random_problem(seed):
    """Random data, K and d: some clusters overlap, some lie on few rows."""
    rng = np.random.default_rng(seed)
    n_features = int(rng.integers(1, 4))
    n_components = int(rng.integers(1, 5))
    sizes = rng.integers(n_features + 2, 40, size=int(rng.integers(1, 4)))
    X, _ = mixture_data(seed, n_per=tuple(sizes), n_features=n_features,
                        separation=float(rng.uniform(0.5, 8.0)))
    return X, n_components


def assert_monotone(estimator):
    bounds = np.asarray(estimator.lower_bounds_)
    assert np.isfinite(bounds).all()
    slack = 1e-10 * np.maximum(1.0, np.abs(bounds[:-1]))
    drops = bounds[:-1] - bounds[1:]
    assert (drops <= slack).all(), f"EM lowered the log-likelihood by {drops.max():.3g}"


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("reg_covar", [0.0, 1e-6])
def test_em_never_lowers_the_log_likelihood(model, reg_covar):
    n_fitted = 0
    for seed in range(8):
        X, n_components = random_problem(seed)
        if n_components > X.shape[0]:
            continue
        init = INITS[seed % 3 + 1]  # k-means++, random, random_from_data: poor starts
        try:
            estimator = fit(model, X, n_components, reg_covar=reg_covar, init_params=init,
                            random_state=seed, tol=1e-12, max_iter=40)
        except CollapsedComponentError as error:
            assert reg_covar == 0.0, "the default regularisation must not collapse here"
            assert COLLAPSE_WORDS in str(error)
            continue
        n_fitted += 1
        assert_monotone(estimator)
        assert len(estimator.lower_bounds_) == estimator.n_iter_
        for name in ("weights_", "means_", "covariances_", "precisions_cholesky_",
                     "volumes_", "shapes_", "orientations_"):
            assert np.isfinite(getattr(estimator, name)).all(), name
    assert n_fitted >= 5


@pytest.mark.parametrize("model", sorted(ITERATIVE))
def test_em_stays_monotone_with_one_inner_round_per_m_step(model, monkeypatch):
    # The warm start is what keeps EM monotone: with a single coordinate-ascent
    # round per M-step (capped every time) the log-likelihood must still rise.
    monkeypatch.setattr(parsimonious_structures, "MAX_INNER_ITERATIONS", 1)
    X, _ = mixture_data(5, n_per=(30, 25, 35), separation=2.0)
    for seed in range(3):
        estimator = fit(model, X, 3, init_params="random", random_state=seed, tol=1e-12,
                        max_iter=40, reg_covar=0.0)
        assert_monotone(estimator)
        assert estimator.inner_iterations_ == 1


def degenerate_data():
    """30 spread rows and 5 copies of one row, each group given its own component."""
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(size=(30, 2)) * 3.0, np.tile([[20.0, 20.0]], (5, 1))])
    return X, one_hot(np.repeat([0, 1], [30, 5]), 2)


@pytest.mark.parametrize("model", MODELS)
def test_a_component_on_one_point_with_reg_zero_raises_or_stays_finite(model):
    X, resp = degenerate_data()
    # A pooled covariance (volume and shape equal) never collapses; a free one
    # of full rank must; the axis-aligned free ones keep scikit-learn's tiny
    # positive variance for diag and spherical (see GaussianFamily.m_step).
    pooled = model[:2] == "EE" or model == "EII"
    must_collapse = not pooled and model[2] != "I"
    try:
        estimator = fit(model, X, 2, resp_init=resp, reg_covar=0.0, max_iter=20)
    except CollapsedComponentError as error:
        assert isinstance(error, ValueError)
        assert COLLAPSE_WORDS in str(error) and "reg_covar" in str(error)
        assert not pooled, f"{model} pools the covariance and cannot collapse here"
        return
    assert not must_collapse, f"{model} fitted a component on one point without an error"
    for name in ("covariances_", "precisions_cholesky_", "volumes_", "lower_bounds_"):
        assert np.isfinite(getattr(estimator, name)).all(), name
    assert_monotone(estimator)
    # With the default regularisation every model fits it.
    assert np.isfinite(fit(model, X, 2, resp_init=resp, max_iter=20).lower_bound_)


@pytest.mark.parametrize("model", MODELS)
def test_data_on_a_line_with_reg_zero_raises_the_collapse_error(model):
    # Every full-rank covariance of data with a constant column is singular. The
    # axis-aligned models keep scikit-learn's diag behaviour instead: the
    # pseudo-count at the origin leaves a tiny positive variance (and the
    # spherical ones pool it with the other axis), so they fit, finitely.
    rng = np.random.default_rng(2)
    X = np.column_stack([rng.normal(size=40), np.full(40, 3.0)])
    if model[2] == "I":
        estimator = fit(model, X, 2, reg_covar=0.0, random_state=0)
        for name in ("covariances_", "precisions_cholesky_", "lower_bounds_"):
            assert np.isfinite(getattr(estimator, name)).all(), name
        assert (np.diagonal(estimator.covariances_, axis1=1, axis2=2) > 0).all()
        return
    with pytest.raises(CollapsedComponentError, match=COLLAPSE_WORDS):
        fit(model, X, 2, reg_covar=0.0, random_state=0)


# ---------------------------------------------------------------- 3. structure

@pytest.mark.parametrize("model", MODELS)
def test_fitted_covariances_have_the_model_structure(model):
    X, _ = mixture_data(6, separation=3.0)
    estimator = fit(model, X, 3, init_params="kmeans", random_state=0, tol=1e-6)
    assert_model_structure(model, estimator)
    assert_factors(estimator)
    assert estimator.covariances_.shape == estimator.precisions_.shape \
        == estimator.precisions_cholesky_.shape == (3, 3, 3)


@pytest.mark.parametrize("model", MODELS)
def test_decomposition_attributes_are_removed_when_refitting_another_type(model):
    estimator = fit(model)
    assert hasattr(estimator, "volumes_")
    estimator.set_params(covariance_type="full").fit(X3)
    for name in ("volumes_", "shapes_", "orientations_", "inner_iterations_",
                 "inner_capped_"):
        assert not hasattr(estimator, name), name


# ---------------------------------------------------------------- 4. every feature

@pytest.mark.parametrize("model", MODELS)
def test_integer_sample_weights_equal_repeated_rows(model):
    X, labels = mixture_data(7, n_per=(20, 15, 25), separation=3.0)
    weights = np.random.default_rng(0).integers(0, 4, size=X.shape[0])
    weights[[0, 20, 35]] = 1  # every cluster keeps rows
    resp = np.random.default_rng(1).dirichlet(np.ones(3), size=X.shape[0])
    settings = dict(tol=1e-9, max_iter=30)
    weighted = GaussianMixture(3, covariance_type=model, resp_init=resp, **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted.fit(X, sample_weight=weights)
    repeated = fit(model, np.repeat(X, weights, axis=0), 3,
                   resp_init=np.repeat(resp, weights, axis=0), **settings)
    assert weighted.n_iter_ == repeated.n_iter_
    for name in ("weights_", "means_", "covariances_", "volumes_", "shapes_"):
        np.testing.assert_allclose(getattr(weighted, name), getattr(repeated, name),
                                   rtol=1e-7, atol=1e-9, err_msg=name)
    assert weighted.lower_bound_ == pytest.approx(repeated.lower_bound_, rel=1e-9)


@pytest.mark.parametrize("model", MODELS)
def test_float32_data_gives_float32_attributes_close_to_float64(model):
    single = fit(model, X3.astype(np.float32), resp_init=RESP3)
    double = fit(model)
    for name in ("weights_", "means_", "covariances_", "precisions_",
                 "precisions_cholesky_", "volumes_", "shapes_", "orientations_"):
        assert getattr(single, name).dtype == np.float32, name
    for name in ("weights_", "means_", "covariances_", "volumes_"):
        np.testing.assert_allclose(getattr(single, name), getattr(double, name),
                                   rtol=1e-4, atol=1e-5, err_msg=name)
    assert single.lower_bound_ == pytest.approx(double.lower_bound_, rel=1e-5)
    np.testing.assert_array_equal(single.predict(X3.astype(np.float32)), double.predict(X3))
    assert single.predict_proba(X3.astype(np.float32)).dtype == np.float32
    assert_model_structure(model, single, rtol=1e-5)


@pytest.mark.parametrize("model", MODELS)
def test_n_init_keeps_the_best_restart(model):
    X, _ = mixture_data(8, separation=2.0)
    settings = dict(init_params="random", random_state=0, tol=1e-6, resp_init=None)
    one = fit(model, X, 3, n_init=1, **settings)
    several = fit(model, X, 3, n_init=4, **settings)
    # The first restart of n_init=4 is the n_init=1 fit; the best is kept.
    assert several.lower_bound_ >= one.lower_bound_ - 1e-12
    starts = [fit(model, X, 3, n_init=1, init_params="random", random_state=seed,
                  tol=1e-6, resp_init=None).lower_bound_ for seed in range(1, 4)]
    assert several.score(X) == pytest.approx(several.lower_bound_, rel=1e-6)
    assert len(set(np.round(starts + [one.lower_bound_], 8))) > 1, \
        "the restarts should differ on this data"


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("init", INITS)
def test_every_init_params_fits(model, init):
    X, labels = mixture_data(9, n_per=(30, 30, 30), separation=8.0)
    estimator = fit(model, X, 3, init_params=init, random_state=0, resp_init=None)
    assert np.isfinite(estimator.lower_bound_)
    assert_factors(estimator)
    # Well-separated clusters: the starts that look at the data find them (up to
    # a relabelling); random memberships and the lecture's start may not.
    if init not in ("random", "lecture"):
        found = estimator.predict(X)
        assert len(set(zip(found, labels))) == 3


@pytest.mark.parametrize("model", MODELS)
def test_resp_init_is_the_start(model):
    # With max_iter=0 the fit keeps the start: the M-step of the given memberships.
    estimator = fit(model, max_iter=0)
    expected = np.stack([X3[LABELS3 == k].mean(axis=0) for k in range(3)])
    np.testing.assert_allclose(estimator.means_, expected, rtol=1e-10)
    np.testing.assert_allclose(estimator.weights_, np.bincount(LABELS3) / len(LABELS3))


@pytest.mark.parametrize("model", MODELS)
def test_threads_and_chunks_do_not_change_the_fit(model):
    X, _ = mixture_data(10, n_per=(80, 60, 70), separation=2.5)
    settings = dict(init_params="kmeans", random_state=0, resp_init=None, tol=1e-8)
    one_thread = fit(model, X, 3, n_jobs=1, **settings)
    threaded = fit(model, X, 3, n_jobs=2, **settings)
    for name in ("weights_", "means_", "covariances_", "volumes_"):
        np.testing.assert_array_equal(getattr(threaded, name), getattr(one_thread, name))
    small_chunks = fit(model, X, 3, n_jobs=2, chunk_size=16, **settings)
    assert small_chunks.n_iter_ == one_thread.n_iter_
    np.testing.assert_allclose(small_chunks.covariances_, one_thread.covariances_,
                               rtol=1e-9, atol=1e-12)
    assert small_chunks.lower_bound_ == pytest.approx(one_thread.lower_bound_, rel=1e-12)


@pytest.mark.parametrize("model", MODELS)
def test_warm_start_resumes_the_fit(model):
    X, _ = mixture_data(10, separation=2.5)
    resp = np.random.default_rng(0).dirichlet(np.ones(3), size=X.shape[0])
    full_run = fit(model, X, 3, resp_init=resp, tol=0.0, max_iter=12)
    resumed = GaussianMixture(3, covariance_type=model, resp_init=resp, tol=0.0, max_iter=6,
                              warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        resumed.fit(X)
        first_half = list(resumed.lower_bounds_)
        resumed.fit(X)
    # Six and six iterations are the twelve (the iterative models warm-start
    # their inner loop from the decomposition, which is rebuilt from the
    # covariances: the same fit to the inner loop's tolerance).
    bounds = np.array(first_half + resumed.lower_bounds_)
    np.testing.assert_allclose(bounds, full_run.lower_bounds_, rtol=1e-8)
    assert (np.diff(bounds) >= -1e-10 * np.abs(bounds[1:])).all()
    np.testing.assert_allclose(resumed.covariances_, full_run.covariances_, rtol=1e-6,
                               atol=1e-9)


@pytest.mark.parametrize("model", MODELS)
def test_passes_scikit_learns_estimator_checks(model):
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(GaussianMixture(covariance_type=model), on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:300]) for r in results
              if r["status"] == "failed"]
    assert len(results) > 30 and not failed


def structured_precisions(model, n_features=3, n_components=3):
    """Precision matrices of the model's structure (diagonal for models ending in I)."""
    rng = np.random.default_rng(3)
    if model[2] == "I":
        return np.stack([np.diag(rng.uniform(0.5, 2.0, n_features))
                         for _ in range(n_components)])
    A = rng.normal(size=(n_components, n_features, n_features))
    return A @ np.swapaxes(A, 1, 2) + n_features * np.eye(n_features)


@pytest.mark.parametrize("model", MODELS)
def test_means_weights_and_precisions_init_are_used(model):
    means = np.stack([X3[LABELS3 == k].mean(axis=0) for k in range(3)]) + 0.1
    weights = np.array([0.2, 0.3, 0.5])
    precisions = structured_precisions(model)
    given = dict(resp_init=None, means_init=means, weights_init=weights,
                 precisions_init=precisions)
    start = fit(model, max_iter=0, **given)
    np.testing.assert_allclose(start.means_, means)
    np.testing.assert_allclose(start.weights_, weights)
    np.testing.assert_allclose(start.precisions_, precisions, rtol=1e-10)
    assert_factors(start)
    fitted = fit(model, **given)
    assert_factors(fitted)
    assert fitted.lower_bound_ > start.score(X3)


@pytest.mark.parametrize("model", [m for m in MODELS if m.endswith("I")])
def test_non_diagonal_precisions_init_for_an_axis_aligned_model_is_refused(model):
    precisions = structured_precisions("VVV")
    with pytest.raises(ValueError, match=rf"{model}.*diagonal"):
        fit(model, resp_init=None, precisions_init=precisions)


@pytest.mark.parametrize("model", MODELS)
def test_queries_agree_with_the_fitted_densities(model):
    estimator = fit(model)
    X_new, _ = mixture_data(11, n_per=(5, 5, 5))
    expected = reference_score_samples(estimator, X_new)
    np.testing.assert_allclose(estimator.score_samples(X_new), expected, rtol=1e-9)
    proba = estimator.predict_proba(X_new)
    assert proba.shape == (15, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    columns = np.column_stack([
        np.log(w) + multivariate_normal(mean, cov).logpdf(X_new)
        for w, mean, cov in zip(estimator.weights_, estimator.means_, estimator.covariances_)])
    np.testing.assert_allclose(proba, np.exp(columns - expected[:, None]), atol=1e-9)
    np.testing.assert_array_equal(estimator.predict(X_new), columns.argmax(axis=1))
    assert estimator.score(X_new) == pytest.approx(expected.mean(), rel=1e-9)


@pytest.mark.parametrize("model", MODELS)
def test_sample_draws_from_the_components(model):
    estimator = fit(model, random_state=0)
    X_drawn, y = estimator.sample(600)
    assert X_drawn.shape == (600, 3) and y.shape == (600,)
    assert X_drawn.dtype == np.float64
    counts = np.bincount(y, minlength=3)
    np.testing.assert_allclose(counts / 600, estimator.weights_, atol=0.08)
    for k in range(3):
        rows = X_drawn[y == k]
        spread = np.sqrt(np.diag(estimator.covariances_[k]))
        np.testing.assert_array_less(np.abs(rows.mean(axis=0) - estimator.means_[k]),
                                     5 * spread / np.sqrt(len(rows)))


@pytest.mark.parametrize("model", MODELS)
def test_bic_aic_and_icl(model):
    X, _ = mixture_data(12, separation=2.5)   # overlapping: uncertain assignments
    estimator = fit(model, X, 3, init_params="kmeans", random_state=0, resp_init=None)
    n = X.shape[0]
    p = estimator._n_parameters()
    log_likelihood = estimator.score(X) * n
    assert estimator.bic(X) == pytest.approx(-2 * log_likelihood + p * math.log(n), rel=1e-12)
    assert estimator.aic(X) == pytest.approx(-2 * log_likelihood + 2 * p, rel=1e-12)
    proba = estimator.predict_proba(X)
    entropy = -2 * np.log(proba.max(axis=1)).sum()
    assert entropy > 0.1
    assert estimator.icl(X) == pytest.approx(estimator.bic(X) + entropy, rel=1e-10)
    assert estimator.icl(X) > estimator.bic(X)
    # Far-apart clusters: every assignment is certain, so ICL is BIC.
    far, labels = mixture_data(13, separation=60.0)
    separated = fit(model, far, 3, resp_init=one_hot(labels, 3))
    assert separated.icl(far) >= separated.bic(far)
    assert separated.icl(far) - separated.bic(far) < 1e-6


@pytest.mark.parametrize("model", MODELS)
def test_save_and_load_round_trip(model, tmp_path):
    estimator = fit(model)
    path = tmp_path / f"{model}.mixfit"
    mixfit.save(estimator, path)
    loaded = mixfit.load(path)
    assert loaded.covariance_type == model
    X_new, _ = mixture_data(14, n_per=(10, 10, 10))
    np.testing.assert_array_equal(loaded.predict(X_new), estimator.predict(X_new))
    np.testing.assert_allclose(loaded.predict_proba(X_new), estimator.predict_proba(X_new),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(loaded.score_samples(X_new), estimator.score_samples(X_new),
                               rtol=1e-12)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(estimator, name))
    np.testing.assert_allclose(loaded.volumes_, estimator.volumes_, rtol=1e-12)
    # The same decomposition as the fit's, up to the signs of the axes.
    np.testing.assert_allclose(loaded.shapes_, estimator.shapes_, rtol=1e-7)
    np.testing.assert_allclose(np.abs(loaded.orientations_), np.abs(estimator.orientations_),
                               atol=1e-6)
    # The loaded decomposition comes from the covariances: it rebuilds them and
    # keeps the model's structure (equal orientations for EVE and VVE too).
    assert_model_structure(model, loaded)
    assert loaded.bic(X_new) == pytest.approx(estimator.bic(X_new), rel=1e-12)
    assert loaded.icl(X_new) == pytest.approx(estimator.icl(X_new), rel=1e-12)


def test_a_full_model_saved_now_loads(tmp_path):
    estimator = fit("full")
    path = tmp_path / "full.mixfit"
    mixfit.save(estimator, path)
    loaded = mixfit.load(path)
    assert loaded.covariance_type == "full" and loaded.covariances_.shape == (3, 3, 3)
    assert not hasattr(loaded, "volumes_")
    np.testing.assert_array_equal(loaded.predict(X3), estimator.predict(X3))
    np.testing.assert_array_equal(loaded.covariances_, estimator.covariances_)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("factor", [1e100, 1e-100])
def test_extreme_magnitudes_give_the_scaled_fit(model, factor):
    # reg_covar scaled with the data keeps its meaning; the fit must then be the
    # same fit in other units.
    reference = fit(model, reg_covar=1e-6)
    scaled = fit(model, X3 * factor, resp_init=RESP3, reg_covar=1e-6 * factor**2)
    np.testing.assert_array_equal(scaled.predict(X3 * factor), reference.predict(X3))
    assert scaled.n_iter_ == reference.n_iter_
    np.testing.assert_allclose(scaled.weights_, reference.weights_, rtol=1e-10)
    np.testing.assert_allclose(scaled.means_ / factor, reference.means_, rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(scaled.covariances_ / factor**2, reference.covariances_,
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(scaled.volumes_ / factor**2, reference.volumes_, rtol=1e-9)
    np.testing.assert_allclose(scaled.shapes_, reference.shapes_, rtol=1e-9)
    assert scaled.lower_bound_ == pytest.approx(
        reference.lower_bound_ - 3 * math.log(factor), rel=1e-10)
    assert np.isfinite(scaled.precisions_).all()


def test_one_feature_reduces_the_models_to_equal_and_variable_variance():
    rng = np.random.default_rng(15)
    X = np.concatenate([rng.normal(0, 1, 40), rng.normal(6, 3, 50)])[:, None]
    resp = one_hot(np.repeat([0, 1], [40, 50]), 2)
    fits = {model: fit(model, X, 2, resp_init=resp, tol=1e-8) for model in MODELS}
    for model, estimator in fits.items():
        twin = fits["EII" if model[0] == "E" else "VII"]
        np.testing.assert_allclose(estimator.covariances_, twin.covariances_, rtol=1e-8,
                                   err_msg=model)
        np.testing.assert_allclose(estimator.means_, twin.means_, rtol=1e-8)
        assert estimator.lower_bound_ == pytest.approx(twin.lower_bound_, rel=1e-10)
        assert estimator._n_parameters() == twin._n_parameters() \
            == (1 if model[0] == "E" else 2) + 2 + 1
        np.testing.assert_allclose(estimator.shapes_, 1.0)
        np.testing.assert_array_equal(estimator.orientations_, 1.0)
        assert estimator.predict_proba(X).shape == (90, 2)
        assert estimator.sample(5)[0].shape == (5, 1)
    assert fits["EII"].covariances_[0, 0, 0] == pytest.approx(fits["EII"].covariances_[1, 0, 0])
    assert fits["VII"].covariances_[1, 0, 0] > 4 * fits["VII"].covariances_[0, 0, 0]


# ---------------------------------------------------------------- 5. parameter counts

@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("n_components, n_features", [(1, 2), (2, 4), (3, 3), (4, 5)])
def test_parameter_counts_match_the_table(model, n_components, n_features):
    X, _ = mixture_data(16, n_per=(15,) * n_components, n_features=n_features)
    estimator = fit(model, X, n_components, max_iter=2, init_params="kmeans",
                    random_state=0, resp_init=None)
    p = expected_n_parameters(model, n_components, n_features)
    assert estimator._n_parameters() == p
    n = X.shape[0]
    assert estimator.bic(X) - (-2 * estimator.score(X) * n) == pytest.approx(p * math.log(n),
                                                                           rel=1e-9)


def test_iris_vev_with_two_components_has_26_parameters():
    from sklearn.datasets import load_iris

    X = load_iris().data
    estimator = fit("VEV", X, 2, init_params="kmeans", random_state=0, resp_init=None)
    assert estimator._n_parameters() == 26
    n = X.shape[0]
    assert estimator.bic(X) == pytest.approx(-2 * estimator.score(X) * n + 26 * math.log(n),
                                             rel=1e-12)


# ---------------------------------------------------------------- 6. inner iterations

@pytest.mark.parametrize("model", MODELS)
def test_inner_iterations_are_recorded(model):
    X, _ = mixture_data(17, separation=2.5)
    estimator = fit(model, X, 3, init_params="kmeans", random_state=0, resp_init=None,
                    tol=1e-8, max_iter=300)
    assert estimator.converged_
    assert isinstance(estimator.inner_iterations_, int)
    assert isinstance(estimator.inner_capped_, bool)
    if model not in ITERATIVE:
        assert estimator.inner_iterations_ == 0 and not estimator.inner_capped_
        return
    # Warm-started at a converged fit, the last M-step needs few rounds.
    cap = parsimonious_structures.MAX_INNER_ITERATIONS
    assert 1 <= estimator.inner_iterations_ < cap // 2
    assert not estimator.inner_capped_


@pytest.mark.parametrize("model", sorted(ITERATIVE))
def test_a_capped_inner_loop_is_reported(model, monkeypatch):
    monkeypatch.setattr(parsimonious_structures, "MAX_INNER_ITERATIONS", 1)
    X, _ = mixture_data(17, separation=2.5)
    estimator = fit(model, X, 3, init_params="random", random_state=0, resp_init=None,
                    max_iter=2)
    assert estimator.inner_iterations_ == 1
    assert estimator.inner_capped_ is True
