"""Fixed parameters and partial labels (semi-supervised EM) in GaussianMixture and the engine."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixfit import GaussianMixture
from mixfit.engine import em
from mixfit.engine.constraints import check_fixed, check_labels, labelled_start
from mixfit.families import GaussianFamily
from mixfit.io.model_files import load, save

from conftest import make_blobs

COVARIANCE_TYPES = ["spherical", "diag", "tied", "full", "VEV", "EEI"]

# Fits with tol=0 run to max_iter on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
FIXABLE = ["weights", "means", "covariances"]


def blobs(seed=0, n_features=2):
    return make_blobs(n_per=(120, 90, 100), n_features=n_features, separation=4.0, seed=seed)


def given_start(X, covariance_type, n_components=3, seed=0):
    """A start every covariance type takes: weights, means and precisions of memberships
    half random, half by position along the first feature (so the means differ)."""
    rng = np.random.default_rng(seed)
    family = GaussianFamily(covariance_type)
    third = np.minimum(np.argsort(np.argsort(X[:, 0])) * n_components // X.shape[0],
                       n_components - 1)
    resp = 0.5 * rng.dirichlet(np.ones(n_components), size=X.shape[0])
    resp[np.arange(X.shape[0]), third] += 0.5
    params = family.m_step(family.stats(X, resp))
    precisions = family.structure.precisions_from_cholesky(params.precisions_cholesky)
    if covariance_type not in ("spherical", "diag", "tied", "full"):
        precisions = np.linalg.inv(params.covariances)
    weights = resp.sum(axis=0) / resp.sum()
    return dict(weights_init=weights, means_init=params.means, precisions_init=precisions)


# ------------------------------------------------------------------ fixed parameters


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("fixed", [("weights",), ("means",), ("covariances",),
                                   ("weights", "means"), ("means", "covariances")])
def test_fixed_parameters_stay_at_their_initial_values(covariance_type, fixed):
    X, _ = blobs()
    start = given_start(X, covariance_type)
    free = GaussianMixture(3, covariance_type=covariance_type, max_iter=30, tol=0,
                           **start).fit(X)
    held = GaussianMixture(3, covariance_type=covariance_type, max_iter=30, tol=0,
                           fixed_params=fixed, **start).fit(X)
    if "weights" in fixed:
        np.testing.assert_array_equal(held.weights_, start["weights_init"])
    else:
        assert not np.allclose(held.weights_, start["weights_init"])
    if "means" in fixed:
        np.testing.assert_array_equal(held.means_, start["means_init"])
    else:
        assert not np.allclose(held.means_, start["means_init"])
    if "covariances" in fixed:
        np.testing.assert_allclose(held.precisions_, start["precisions_init"], rtol=1e-10)
    else:
        assert not np.allclose(held.precisions_, start["precisions_init"], rtol=1e-3)
    # Holding a parameter changes the fit (EM from the same start goes elsewhere).
    assert held.lower_bound_ != free.lower_bound_


@pytest.mark.parametrize("covariance_type", ["spherical", "diag", "tied", "full"])
def test_fixed_means_give_the_covariances_about_them(covariance_type):
    """One M-step with fixed means: Σ_k = Σ z (x − μ_k)(x − μ_k)ᵀ / n_k (+ reg), by hand."""
    X, _ = blobs(seed=3)
    start = given_start(X, covariance_type, seed=1)
    gm = GaussianMixture(3, covariance_type=covariance_type, max_iter=1, reg_covar=0.0,
                         fixed_params=["means"], **start).fit(X)
    first = GaussianMixture(3, covariance_type=covariance_type, max_iter=0, **start).fit(X)
    resp = first.predict_proba(X)
    means = start["means_init"]
    counts = resp.sum(axis=0)
    scatter = np.einsum("nk,nki,nkj->kij", resp, X[:, None] - means, X[:, None] - means)
    full = scatter / counts[:, None, None]
    expected = {
        "full": full,
        "tied": scatter.sum(axis=0) / counts.sum(),
        "diag": np.diagonal(full, axis1=1, axis2=2),
        "spherical": np.trace(full, axis1=1, axis2=2) / X.shape[1],
    }[covariance_type]
    np.testing.assert_allclose(gm.covariances_, expected, rtol=1e-9)
    np.testing.assert_array_equal(gm.means_, means)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), covariance_type=st.sampled_from(COVARIANCE_TYPES),
       fixed=st.sets(st.sampled_from(FIXABLE), min_size=1, max_size=2),
       weighted=st.booleans())
def test_em_with_fixed_parameters_never_lowers_the_likelihood(seed, covariance_type, fixed,
                                                               weighted):
    X, _ = blobs(seed=seed % 7)
    rng = np.random.default_rng(seed)
    weight = rng.uniform(0.2, 3.0, X.shape[0]) if weighted else None
    # reg_covar=0: with it, the M-step maximises a slightly different objective.
    gm = GaussianMixture(3, covariance_type=covariance_type, max_iter=15, tol=0,
                         reg_covar=0.0, fixed_params=fixed,
                         **given_start(X, covariance_type, seed=seed))
    gm.fit(X, sample_weight=weight)
    bounds = np.array(gm.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-9 * np.abs(bounds[1:]))


@pytest.mark.parametrize("fixed, free_count", [
    (None, 2 + 3 * 2 + 3 * 3), (["weights"], 3 * 2 + 3 * 3), (["means"], 2 + 3 * 3),
    (["covariances"], 2 + 3 * 2), (["weights", "means", "covariances"], 0),
])
def test_bic_and_aic_count_only_free_parameters(fixed, free_count):
    X, _ = blobs()
    gm = GaussianMixture(3, max_iter=5, fixed_params=fixed,
                         **given_start(X, "full")).fit(X)
    n = X.shape[0]
    log_lik = gm.score(X) * n
    assert gm.bic(X) == pytest.approx(-2 * log_lik + free_count * np.log(n), rel=1e-12)
    assert gm.aic(X) == pytest.approx(-2 * log_lik + 2 * free_count, rel=1e-12)


def test_fixed_params_from_an_init_that_was_not_given():
    """Held "at their initial values (given or from the init)": a K-means start's means."""
    X, _ = blobs()
    start = GaussianMixture(3, max_iter=0, random_state=4).fit(X)
    held = GaussianMixture(3, max_iter=20, random_state=4, fixed_params={"means"}).fit(X)
    np.testing.assert_array_equal(held.means_, start.means_)


def test_fixed_params_errors_name_the_problem():
    X, _ = blobs()
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['centres'\].*'means'"):
        GaussianMixture(3, fixed_params=["centres"]).fit(X)
    with pytest.raises(TypeError, match="collection of parameter names"):
        GaussianMixture(3, fixed_params=3).fit(X)
    with pytest.raises(ValueError, match="not taken by partial_fit"):
        GaussianMixture(3, fixed_params=["means"]).partial_fit(X)
    assert check_fixed(GaussianFamily, "means") == frozenset({"means"})


def test_fixed_params_survive_a_model_file(tmp_path):
    X, _ = blobs()
    gm = GaussianMixture(3, max_iter=5, fixed_params={"means", "weights"},
                         **given_start(X, "diag"), covariance_type="diag").fit(X)
    save(gm, tmp_path / "held.mixfit")
    loaded = load(tmp_path / "held.mixfit")
    assert sorted(loaded.fixed_params) == ["means", "weights"]
    assert loaded.bic(X) == gm.bic(X)


# ------------------------------------------------------------------ partial labels


def test_fully_labelled_fit_is_the_per_class_maximum_likelihood():
    """Every row labelled: EM's fixed point is the classes' weights, means and covariances."""
    X, y = blobs(seed=5)
    gm = GaussianMixture(3, semi_supervised=True, reg_covar=0.0, random_state=0).fit(X, y)
    for c in range(3):
        rows = X[y == c]
        np.testing.assert_allclose(gm.weights_[c], rows.shape[0] / X.shape[0], rtol=1e-12)
        np.testing.assert_allclose(gm.means_[c], rows.mean(axis=0), rtol=1e-10)
        np.testing.assert_allclose(gm.covariances_[c], np.cov(rows.T, bias=True),
                                   rtol=1e-9)


def test_few_labels_name_the_components():
    """Components take their classes' numbers, whatever order the K-means start had."""
    X, y = blobs(seed=6)
    rng = np.random.default_rng(0)
    partial = np.full_like(y, -1)
    for c in range(3):
        partial[rng.choice(np.flatnonzero(y == c), 2, replace=False)] = c
    for seed in range(4):
        gm = GaussianMixture(3, semi_supervised=True, random_state=seed).fit(X, partial)
        assert np.mean(gm.predict(X) == y) > 0.97


def test_more_components_than_classes():
    """Two classes labelled, three clusters: the free component takes the unlabelled one."""
    X, y = blobs(seed=7)
    partial = np.where((np.arange(y.size) % 10 == 0) & (y < 2), y, -1)
    gm = GaussianMixture(3, semi_supervised=True, random_state=0).fit(X, partial)
    assert np.mean(gm.predict(X) == y) > 0.97


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), covariance_type=st.sampled_from(COVARIANCE_TYPES),
       share=st.floats(0.01, 0.5), weighted=st.booleans())
def test_semi_supervised_em_never_lowers_its_objective(seed, covariance_type, share, weighted):
    X, y = blobs(seed=seed % 5)
    rng = np.random.default_rng(seed)
    partial = np.where(rng.random(y.size) < share, y, -1)
    weight = rng.uniform(0.2, 3.0, X.shape[0]) if weighted else None
    gm = GaussianMixture(3, covariance_type=covariance_type, semi_supervised=True,
                         max_iter=15, tol=0, reg_covar=0.0, random_state=seed)
    gm.fit(X, partial, sample_weight=weight)
    bounds = np.array(gm.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-9 * np.abs(bounds[1:]))


def test_labelled_rows_count_only_under_their_component():
    """The E-step's log-likelihood: log w_c p(x | c) for a labelled row (engine level)."""
    X, y = blobs(seed=8)
    family = GaussianFamily("full")
    params = GaussianMixture(3, max_iter=0, random_state=0).fit(X)._mixture_params()
    labels = np.where(np.arange(y.size) % 3 == 0, y, -1)
    stats = em.e_step(family, X, params, labels=labels, kernel="numpy")
    log_prob = family.log_prob(X, params.components) + np.log(params.weights)
    from scipy.special import logsumexp
    expected = np.where(labels >= 0, log_prob[np.arange(y.size), np.maximum(labels, 0)],
                        logsumexp(log_prob, axis=1))
    assert stats.log_likelihood == pytest.approx(expected.sum(), rel=1e-12)
    fused = em.e_step(family, X, params, labels=labels, kernel="numba", n_jobs=2,
                      chunk_size=50)
    assert fused.log_likelihood == pytest.approx(expected.sum(), rel=1e-10)


def test_labelled_start_renumbers_the_components():
    X, y = blobs(seed=9)
    family = GaussianFamily("full")
    params = GaussianMixture(3, max_iter=0, random_state=0).fit(X)._mixture_params()
    order = np.array([2, 0, 1])
    shuffled = em.MixtureParams(params.weights[order], family.params_from_covariances(
        params.components.means[order], params.components.covariances[order], X.dtype))
    start = labelled_start(family, X, shuffled, y)
    for c in range(3):
        assert np.linalg.norm(start.components.means[c] - X[y == c].mean(axis=0)) < 1e-8


def test_label_errors_name_the_problem():
    X, y = blobs()
    partial = np.where(np.arange(y.size) % 4 == 0, y, -1)
    with pytest.raises(ValueError, match="semi_supervised=True"):
        GaussianMixture(3).fit(X, partial)
    with pytest.raises(ValueError, match=r"pass them as fit\(X, y\)"):
        GaussianMixture(3, semi_supervised=True).fit(X)
    with pytest.raises(ValueError, match=r"y\[\d+\] = 2: .*\[0, 2\)"):
        GaussianMixture(2, semi_supervised=True).fit(X, partial)
    with pytest.raises(ValueError, match="one label per row"):
        GaussianMixture(3, semi_supervised=True).fit(X, partial[:-1])
    with pytest.raises(ValueError, match="LabelEncoder"):
        check_labels(np.array(["a"] * y.size), y.size, 3)
    with pytest.raises(ValueError, match="non-integer"):
        check_labels(np.full(y.size, 0.5), y.size, 3)
    with pytest.raises(TypeError, match="True or False"):
        GaussianMixture(3, semi_supervised="yes").fit(X, partial)
    # scikit-learn's behaviour stays the default: a target without -1 is ignored.
    plain = GaussianMixture(3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(plain.means_, GaussianMixture(3, random_state=0).fit(X).means_)
