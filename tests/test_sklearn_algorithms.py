"""scikit-learn's algorithm names, one precision-factor convention, degenerate fits that finish."""

import warnings

import numpy as np
import pytest

from mixfit import GaussianMixture, KMeans
from mixfit.engine import kmeans as engine
from mixfit.io import load, save


def _blobs(n, d, k, dtype, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(k, d))
    X = centres[rng.integers(k, size=n)] + rng.normal(size=(n, d))
    return X.astype(dtype)


# -- algorithm="elkan" --------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "n, d, k, weighted",
    [(500, 2, 3, False), (2000, 5, 10, True), (3000, 8, 64, False), (1500, 20, 40, True)],
)
def test_elkan_gives_lloyds_labels_centres_and_iterations(n, d, k, weighted, dtype):
    # The same start for both: elkan prunes with exact bounds, so every
    # iteration assigns as lloyd's does, and nothing may differ but rounding.
    X = _blobs(n, d, k, dtype, seed=k)
    rng = np.random.default_rng(1)
    weight = rng.uniform(0.1, 3.0, size=n) if weighted else None
    init = X[rng.choice(n, size=k, replace=False)]
    fits = {
        algorithm: KMeans(k, init=init, algorithm=algorithm, max_iter=100, tol=0).fit(
            X, sample_weight=weight
        )
        for algorithm in ("lloyd", "elkan")
    }
    lloyd, elkan = fits["lloyd"], fits["elkan"]
    assert lloyd.n_iter_ > 1  # the pruning had iterations to prune
    np.testing.assert_array_equal(elkan.labels_, lloyd.labels_)
    assert elkan.n_iter_ == lloyd.n_iter_
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(elkan.cluster_centers_, lloyd.cluster_centers_, rtol=rtol,
                               atol=rtol)
    assert elkan.inertia_ == pytest.approx(lloyd.inertia_, rel=rtol)


def test_elkan_runs_the_pruned_path(monkeypatch):
    # "elkan" must prune (Hamerly's exact bounds), not silently run plain Lloyd.
    from mixfit.engine import kmeans_hamerly as _kmeans_hamerly

    built = []
    original = _kmeans_hamerly._Hamerly.__init__

    def spy(self, *args, **kwargs):
        built.append(True)
        original(self, *args, **kwargs)

    monkeypatch.setattr(_kmeans_hamerly._Hamerly, "__init__", spy)
    X = _blobs(300, 3, 4, np.float64, seed=0)
    KMeans(4, algorithm="lloyd", random_state=0).fit(X)
    assert not built
    KMeans(4, algorithm="elkan", random_state=0).fit(X)
    assert built


def test_elkan_with_one_cluster_warns_and_runs_lloyd():
    X = _blobs(100, 2, 2, np.float64, seed=3)
    with pytest.warns(
        RuntimeWarning, match="algorithm='elkan' doesn't make sense for a single"
    ) as record:
        km = KMeans(n_clusters=1, algorithm="elkan").fit(X)
    assert record[0].filename == __file__  # points at the caller's line
    np.testing.assert_allclose(km.cluster_centers_[0], X.mean(axis=0))
    # No other algorithm warns for one cluster.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KMeans(n_clusters=1, algorithm="lloyd").fit(X)


def test_elkan_iteration_count_with_max_iter_one():
    # scikit-learn's regression test #11340: n_iter_ is not one off.
    X = _blobs(200, 2, 3, np.float64, seed=4)
    with pytest.warns(Warning, match="did not converge"):
        km = KMeans(algorithm="elkan", max_iter=1, random_state=0).fit(X)
    assert km.n_iter_ == 1


@pytest.mark.parametrize("bad", ["full", "Elkan", "", None])
def test_algorithms_scikit_learn_refuses_are_refused(bad):
    with pytest.raises(ValueError, match="algorithm must be one of .*'elkan'"):
        KMeans(2, algorithm=bad).fit(_blobs(20, 2, 2, np.float64, seed=5))


def test_full_names_its_replacement():
    with pytest.raises(ValueError, match="'full' is now called 'lloyd'"):
        KMeans(2, algorithm="full").fit(_blobs(20, 2, 2, np.float64, seed=5))


def test_engine_accepts_elkan_and_refuses_it_without_numba():
    X = _blobs(100, 2, 3, np.float64, seed=6)
    init = X[:3].copy()
    a = engine.lloyd(X, init, algorithm="elkan")
    b = engine.lloyd(X, init, algorithm="lloyd")
    np.testing.assert_array_equal(a.labels, b.labels)
    with pytest.raises(ValueError, match="needs kernel='numba'"):
        engine.lloyd(X, init, algorithm="elkan", kernel="numpy")


def test_elkan_model_file_round_trip(tmp_path):
    X = _blobs(300, 3, 4, np.float64, seed=7)
    km = KMeans(4, algorithm="elkan", random_state=0).fit(X)
    save(km, tmp_path / "km.zip")
    loaded = load(tmp_path / "km.zip")
    assert loaded.algorithm == "elkan"
    np.testing.assert_array_equal(loaded.predict(X), km.predict(X))
    np.testing.assert_array_equal(loaded.cluster_centers_, km.cluster_centers_)


# -- one convention for precisions_cholesky_ ------------------------------------


def _precisions(covariance_type, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(2, 3, 3))
    full = A @ A.transpose(0, 2, 1) + 3 * np.eye(3)
    return full if covariance_type == "full" else full[0]


def _is_upper(factor):
    return not np.tril(factor, -1).any() and np.triu(factor, 1).any()


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
@pytest.mark.parametrize("max_iter", [0, 1, 5])
def test_precisions_cholesky_is_upper_with_or_without_iterations(covariance_type, max_iter):
    X = np.random.default_rng(1).normal(size=(200, 3))
    precisions = _precisions(covariance_type)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Warning)  # max_iter=0/1: not converged
        gm = GaussianMixture(
            2, covariance_type=covariance_type, means_init=X[:2], weights_init=[0.5, 0.5],
            precisions_init=precisions, max_iter=max_iter,
        ).fit(X)
    chol = gm.precisions_cholesky_
    factors = chol if covariance_type == "full" else [chol]
    assert all(_is_upper(f) for f in factors)
    np.testing.assert_allclose(chol @ np.swapaxes(chol, -1, -2), gm.precisions_, rtol=1e-12)
    if max_iter == 0:
        np.testing.assert_allclose(gm.precisions_, precisions, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_unfitted_start_scores_the_given_precisions(covariance_type):
    # The upper factor must stand for the user's precisions: the log-density is
    # the mixture's of Gaussians with covariances inv(precisions_init).
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    X = np.random.default_rng(2).normal(size=(150, 3))
    precisions = _precisions(covariance_type, seed=3)
    weights = np.array([0.3, 0.7])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Warning)
        gm = GaussianMixture(
            2, covariance_type=covariance_type, means_init=X[:2], weights_init=weights,
            precisions_init=precisions, max_iter=0,
        ).fit(X)
    per_component = precisions if covariance_type == "full" else [precisions] * 2
    expected = logsumexp(
        [np.log(w) + multivariate_normal(m, np.linalg.inv(p)).logpdf(X)
         for w, m, p in zip(weights, X[:2], per_component)],
        axis=0,
    )
    np.testing.assert_allclose(gm.score_samples(X), expected, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_model_file_of_an_unfitted_start_round_trips(covariance_type, tmp_path):
    X = np.random.default_rng(4).normal(size=(100, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Warning)
        gm = GaussianMixture(
            2, covariance_type=covariance_type, means_init=X[:2],
            precisions_init=_precisions(covariance_type, seed=5), max_iter=0,
        ).fit(X)
    save(gm, tmp_path / "gm.zip")
    loaded = load(tmp_path / "gm.zip")
    np.testing.assert_array_equal(loaded.precisions_cholesky_, gm.precisions_cholesky_)
    np.testing.assert_allclose(loaded.score_samples(X), gm.score_samples(X), rtol=1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_a_lower_factor_still_predicts_the_same(covariance_type):
    # Model files written before the convention was one hold lower factors.
    X = np.random.default_rng(6).normal(size=(120, 3))
    gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    expected = gm.score_samples(X)
    lower = np.linalg.cholesky(gm.precisions_)
    assert not np.triu(lower, 1).any()
    gm.precisions_cholesky_ = lower
    np.testing.assert_allclose(gm.score_samples(X), expected, rtol=1e-10)


# -- degenerate fits that finish -------------------------------------------------


def test_scikit_learns_divergent_spherical_fit_finishes():
    # scikit-learn's test_gaussian_mixture_setting_best_params, set up exactly:
    # two components start on one sample each with precision 1e6 and
    # reg_covar=0, so their variances are zero but for rounding.
    rnd = np.random.RandomState(0)
    X = rnd.uniform(size=(30, 3))
    means_init = np.array([
        [0.670637869618158, 0.21038256107384043, 0.12892629765485303],
        [0.09394051075844147, 0.5759464955561779, 0.929296197576212],
        [0.5033230372781258, 0.9569852381759425, 0.08654043447295741],
        [0.18578301420435747, 0.5531158970919143, 0.19388943970532435],
        [0.4548589928173794, 0.35182513658825276, 0.568146063202464],
        [0.609279894978321, 0.7929063819678847, 0.9620097270828052],
    ])
    precisions_init = np.array([
        999999.999604483, 999999.9990869573, 553.7603944542167,
        204.78596008931834, 15.867423501783637, 85.4595728389735,
    ])
    weights_init = [
        0.03333333333333341, 0.03333333333333341, 0.06666666666666674,
        0.06666666666666674, 0.7000000000000001, 0.10000000000000007,
    ]
    gmm = GaussianMixture(
        covariance_type="spherical", reg_covar=0, means_init=means_init,
        weights_init=weights_init, random_state=rnd, n_components=len(weights_init),
        precisions_init=precisions_init, max_iter=1,
    )
    with pytest.warns(Warning, match="converge"):
        gmm.fit(X)
    assert not gmm.converged_
    for attr in ["weights_", "means_", "covariances_", "precisions_cholesky_", "n_iter_",
                 "lower_bound_"]:
        assert np.isfinite(getattr(gmm, attr)).all()
    # The one-sample components keep a tiny positive variance, as scikit-learn's
    # (3.6e-16 and 9.5e-16 there), and the bound matches scikit-learn's 0.91498588687075.
    assert (gmm.covariances_[:2] > 0).all() and (gmm.covariances_[:2] < 1e-14).all()
    assert gmm.lower_bound_ == pytest.approx(0.9149858868707565, rel=1e-12)


@pytest.mark.parametrize("covariance_type", ["spherical", "diag", "tied", "full"])
def test_a_variance_rounded_below_zero_is_clamped_before_regularising(covariance_type):
    # A zero variance that rounding made −1e-20, with reg_covar far smaller than
    # that: unclamped, the covariance would be negative and the fit collapse.
    from mixfit.families.gaussian.family import GaussianFamily, GaussianStats

    family = GaussianFamily(covariance_type, reg_covar=1e-30)
    structure = family.structure
    n_components, n_features = 2, 2
    scatter = np.zeros(structure.scatter_shape(n_components, n_features))
    if scatter.ndim == 1:
        scatter[:] = [-1e-20, 1.0]
    elif covariance_type == "diag":
        scatter[:] = [[-1e-20, 1.0], [1.0, 1.0]]
    else:
        index = np.arange(n_features)
        scatter[..., index, index] = 1.0
        scatter[..., 0, 0] = -1e-20
    stats = GaussianStats(np.array([3.0, 3.0]), np.zeros((2, 2)), scatter, structure)
    params = family.m_step(stats)
    # The first variance of the first component (the first entry in every layout).
    assert params.covariances.reshape(-1)[0] == pytest.approx(1e-30)
    assert np.isfinite(params.precisions_cholesky).all()


def test_a_one_point_component_on_the_origin_still_collapses():
    # The pseudo-sample sits at the origin: there it adds nothing, and a
    # component with zero variance must still raise (as scikit-learn's).
    from mixfit.families.gaussian.covariance import CollapsedComponentError
    from mixfit.families.gaussian.family import GaussianFamily

    X = np.array([[0.0, 0.0], [1.0, 2.0], [2.0, 1.0], [3.0, 3.0]])
    resp = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    for covariance_type in ("spherical", "diag"):
        family = GaussianFamily(covariance_type, reg_covar=0.0)
        with pytest.raises(CollapsedComponentError, match="reg_covar"):
            family.m_step(family.stats(X, resp))
        # Moved off the origin, the same component gets scikit-learn's tiny variance.
        params = family.m_step(family.stats(X + 0.5, resp))
        assert (params.covariances[0] > 0).all() and (params.covariances[0] < 1e-14).all()
