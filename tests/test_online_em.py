"""GaussianMixture.partial_fit: stepwise online EM (issue 13, MODELS.md §3)."""

import json
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

from mixfit import GaussianMixture
from mixfit.engine import em
from mixfit.engine.online import online_step, stats_from_params, step_size
from mixfit.families import GaussianFamily
from mixfit.families.gaussian.registry import STRUCTURES
from mixfit.io import load, save

from conftest import make_blobs


def _data(n_per=(120, 90, 110), n_features=2, seed=0, dtype=np.float64):
    X, _ = make_blobs(n_per=n_per, n_features=n_features, seed=seed, dtype=dtype)
    return X[np.random.default_rng(seed).permutation(X.shape[0])]


def _one_em_iteration(X, **params):
    """fit with max_iter=1 (which warns that one iteration did not converge)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(max_iter=1, **params).fit(X)


def _stream(model, X, batch=80, passes=1, weights=None):
    for _ in range(passes):
        for start in range(0, X.shape[0], batch):
            rows = slice(start, start + batch)
            model.partial_fit(X[rows], sample_weight=None if weights is None else weights[rows])
    return model


def _assert_same_mixture(a, b, rtol=1e-10):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol,
                                   atol=rtol, err_msg=name)


# ------------------------------------------------------------------ the first call


def test_the_first_call_initialises_from_its_batch_and_takes_one_step():
    X = _data()
    model = GaussianMixture(3, random_state=0).partial_fit(X[:100])
    assert model.n_features_in_ == 2
    assert (model.n_steps_, model.n_iter_, model.converged_) == (1, 1, False)
    assert len(model.lower_bounds_) == 1 and model.lower_bound_ == model.lower_bounds_[0]
    # The step moved the parameters away from the initial ones (γ_1 = 11**-0.7).
    start = GaussianMixture(3, random_state=0, max_iter=0).fit(X[:100])
    assert not np.allclose(model.means_, start.means_)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical",
                                             "identity", "VEV", "EVI"])
def test_a_unit_first_step_is_one_batch_em_iteration(covariance_type):
    # learning_offset=0 makes γ_1 = 1: the initial statistics are forgotten and
    # the step is fit's first iteration from the same start.
    X = _data(n_features=3)
    online = GaussianMixture(3, covariance_type=covariance_type, random_state=1,
                             learning_offset=0.0).partial_fit(X)
    batch = _one_em_iteration(X, n_components=3, covariance_type=covariance_type,
                              random_state=1)
    _assert_same_mixture(online, batch)
    assert online.lower_bound_ == pytest.approx(batch.lower_bound_, rel=1e-12)


def test_given_starting_parameters_are_used_by_the_first_call():
    X = _data()
    start = GaussianMixture(3, random_state=0).fit(X)
    given = dict(weights_init=start.weights_, means_init=start.means_,
                 precisions_init=start.precisions_)
    online = GaussianMixture(3, learning_offset=0.0, **given).partial_fit(X[:150])
    _assert_same_mixture(online, _one_em_iteration(X[:150], n_components=3, **given))


def test_steps_with_unit_step_size_are_batch_em_iterations():
    # The engine's step with γ = 1 on the whole data is an EM iteration, so
    # three of them are fit_em's first three iterations.
    X = _data()
    family = GaussianFamily("full")
    params = GaussianMixture(3, random_state=0, max_iter=0).fit(X)._mixture_params()
    expected = em.fit_em(family, X, params, tol=0.0, max_iter=3)
    stats = stats_from_params(family, params)
    for _ in range(3):
        result = online_step(family, stats, params, X, 1, learning_offset=0.0)
        assert result.step_size == 1.0
        stats, params = result.stats, result.params
    np.testing.assert_allclose(params.components.means, expected.params.components.means,
                               rtol=1e-10)
    np.testing.assert_allclose(params.components.covariances,
                               expected.params.components.covariances, rtol=1e-10)
    assert result.log_likelihood == pytest.approx(expected.lower_bounds[-1], rel=1e-12)


def test_step_sizes_follow_the_schedule():
    assert step_size(1, 0.7, 10.0) == pytest.approx(11.0 ** -0.7)
    assert step_size(5, 1.0, 0.0) == pytest.approx(0.2)
    assert step_size(1, 0.6, 0.0) == 1.0
    X = _data()
    model = GaussianMixture(3, random_state=0, learning_decay=1.0, learning_offset=3.0)
    for t in range(1, 4):
        model.partial_fit(X[80 * t:80 * t + 80])
        assert model.n_steps_ == t


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical",
                                             "EVE", "VVI"])
def test_statistics_rebuilt_from_parameters_give_them_back(covariance_type):
    X = _data(n_features=3)
    fitted = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    family = GaussianFamily(covariance_type, fitted.reg_covar)
    params = fitted._mixture_params()
    again = em.m_step(family, stats_from_params(family, params), X.dtype, previous=params)
    np.testing.assert_allclose(again.weights, params.weights, rtol=1e-12)
    np.testing.assert_allclose(again.components.covariances, params.components.covariances,
                               rtol=1e-6 if covariance_type == "EVE" else 1e-12, atol=1e-12)


# ----------------------------------------------------------- what later calls fix


def test_the_number_of_features_is_fixed_by_the_first_call():
    X = _data(n_features=3)
    model = GaussianMixture(2, random_state=0).partial_fit(X[:100])
    before = model.means_.copy()
    with pytest.raises(ValueError, match="X has 2 features, but GaussianMixture is "
                                         "expecting 3 features"):
        model.partial_fit(X[100:200, :2])
    np.testing.assert_array_equal(model.means_, before)
    assert model.n_steps_ == 1


def test_column_names_are_fixed_by_the_first_call():
    X = pd.DataFrame(_data(), columns=["a", "b"])
    model = GaussianMixture(2, random_state=0).partial_fit(X[:100])
    assert list(model.feature_names_in_) == ["a", "b"]
    with pytest.raises(ValueError, match="feature names"):
        model.partial_fit(X[100:200].rename(columns={"b": "c"}))


def test_float32_stays_float32_and_later_batches_take_the_first_dtype():
    X = _data(dtype=np.float32)
    model = GaussianMixture(3, random_state=0).partial_fit(X[:100])
    model.partial_fit(X[100:200].astype(np.float64))
    assert model.means_.dtype == model.covariances_.dtype == np.float32
    assert model.predict(X).shape == (X.shape[0],)


def test_changing_the_model_between_calls_is_refused():
    X = _data()
    model = GaussianMixture(3, random_state=0).partial_fit(X[:100])
    model.set_params(n_components=4)
    with pytest.raises(ValueError, match="n_components=3 and covariance_type='full'"):
        model.partial_fit(X[100:200])


def test_a_batch_beyond_the_first_batchs_range_is_refused():
    X = _data()
    model = GaussianMixture(3, random_state=0).partial_fit(X[:100])
    with pytest.raises(ValueError, match="out of the range that the first batch set"):
        model.partial_fit(X[100:200] * 1e25)


# ------------------------------------------------------------ it learns, for all


@pytest.mark.parametrize("covariance_type", sorted(STRUCTURES))
def test_every_covariance_model_learns_online(covariance_type):
    X = _data(n_per=(160, 120, 140), n_features=2, seed=3)
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    model.partial_fit(X[:70])
    first = model.score(X)
    _stream(model, X[70:], batch=70)
    _stream(model, X, batch=70, passes=2)
    assert model.n_steps_ == 1 + 5 + 2 * 6
    assert len(model.lower_bounds_) == model.n_iter_ == model.n_steps_
    assert np.all(np.isfinite(model.lower_bounds_))
    batch = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    # The running average climbs from the first step to near batch EM's optimum.
    assert model.score(X) > first + 0.01
    assert model.score(X) > batch.score(X) - 0.002 * abs(batch.score(X))
    # The last pass's batches, scored before their steps, are about as likely.
    assert np.mean(model.lower_bounds_[-6:]) > batch.score(X) - 0.01 * abs(batch.score(X))


# ------------------------------------------------------- weights, seeds, threads


def test_integer_weights_are_repeated_rows():
    X = _data()
    weights = np.random.default_rng(1).integers(1, 4, size=X.shape[0]).astype(float)
    weighted = GaussianMixture(3, random_state=0, init_params="k-means++")
    repeated = GaussianMixture(3, random_state=0, init_params="k-means++")
    for rows in (slice(0, 160), slice(160, None)):
        weighted.partial_fit(X[rows], sample_weight=weights[rows])
        repeated.partial_fit(np.repeat(X[rows], weights[rows].astype(int), axis=0))
    _assert_same_mixture(weighted, repeated, rtol=1e-9)


def test_only_the_ratios_of_a_batchs_weights_matter():
    X = _data()
    weights = np.random.default_rng(2).uniform(0.5, 2.0, size=X.shape[0])
    a = _stream(GaussianMixture(3, random_state=0), X, weights=weights)
    b = _stream(GaussianMixture(3, random_state=0), X, weights=weights * 1000.0)
    _assert_same_mixture(a, b, rtol=1e-12)


def test_online_fits_are_reproducible_and_independent_of_threads():
    X = _data()
    a = _stream(GaussianMixture(3, random_state=5, n_jobs=1, chunk_size=32), X)
    b = _stream(GaussianMixture(3, random_state=5, n_jobs=2, chunk_size=32), X)
    c = _stream(GaussianMixture(3, random_state=5, n_jobs=1, chunk_size=32), X)
    _assert_same_mixture(a, b, rtol=1e-12)
    _assert_same_mixture(a, c, rtol=0)
    assert a.lower_bounds_ == c.lower_bounds_


def test_the_callback_sees_every_step():
    X = _data()
    seen = []
    model = GaussianMixture(3, random_state=0,
                            callback=lambda t, params, ll: seen.append((t, ll)))
    _stream(model, X, batch=100)
    assert [t for t, _ in seen] == [1, 2, 3, 4]
    assert [ll for _, ll in seen] == model.lower_bounds_


# ------------------------------------------------ fit, model files, continuing


def test_partial_fit_continues_a_model_fitted_by_fit():
    X = _data()
    model = GaussianMixture(3, random_state=0).fit(X)
    means = model.means_.copy()
    model.partial_fit(X[:100])
    assert (model.n_steps_, len(model.lower_bounds_)) == (1, 1)
    np.testing.assert_allclose(model.means_, means, atol=0.5)  # a small step, not a restart
    # fit then replaces the online state; the next partial_fit starts counting afresh.
    model.fit(X)
    model.partial_fit(X[:100])
    assert model.n_steps_ == 1


@pytest.mark.parametrize("covariance_type", ["diag", "full", "VEV"])
def test_an_online_fit_survives_a_model_file(tmp_path, covariance_type):
    X = _data()
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0, max_iter=2,
                            learning_decay=0.9, learning_offset=4.0)
    _stream(model, X)  # 4 steps: more than max_iter, which only fit uses
    save(model, tmp_path / "online.mixfit")
    loaded = load(tmp_path / "online.mixfit")
    assert (loaded.learning_decay, loaded.learning_offset) == (0.9, 4.0)
    assert loaded.n_steps_ == loaded.n_iter_ == 4
    assert loaded.lower_bounds_ == pytest.approx(model.lower_bounds_)
    model.partial_fit(X[:100])
    loaded.partial_fit(X[:100])
    assert loaded.n_steps_ == 5
    # Rebuilt statistics are exact for scikit-learn's types; for mclust's
    # iterative models they are the model's own, so the step differs a little.
    rtol = 1e-10 if covariance_type != "VEV" else 0.05
    _assert_same_mixture(model, loaded, rtol=rtol)


def test_files_without_the_step_parameters_load_with_their_defaults(tmp_path):
    path = tmp_path / "gm.mixfit"
    save(GaussianMixture(2, random_state=0).fit(_data()), path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = json.loads(members["model.json"])
    del header["params"]["learning_decay"], header["params"]["learning_offset"]
    members["model.json"] = json.dumps(header).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    loaded = load(path)
    assert (loaded.learning_decay, loaded.learning_offset) == (0.7, 10.0)
    assert not hasattr(loaded, "n_steps_")


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("params, error, match", [
    ({"learning_decay": 0.5}, ValueError, r"learning_decay must be in \(0.5, 1\]"),
    ({"learning_decay": 1.2}, ValueError, r"learning_decay must be in \(0.5, 1\]"),
    ({"learning_decay": "fast"}, TypeError, "learning_decay must be a number"),
    ({"learning_decay": True}, TypeError, "learning_decay must be a number"),
    ({"learning_offset": -1.0}, ValueError, "learning_offset must be a finite number >= 0"),
    ({"learning_offset": np.nan}, ValueError, "learning_offset must be a finite number"),
])
def test_bad_step_parameters_are_refused_before_anything_is_set(params, error, match):
    model = GaussianMixture(2, **params)
    with pytest.raises(error, match=match):
        model.partial_fit(_data()[:50])
    assert not hasattr(model, "n_features_in_")


def test_a_first_batch_smaller_than_the_mixture_is_refused():
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixture(5).partial_fit(_data()[:3])


def test_scikit_learns_partial_fit_check_passes():
    from sklearn.utils.estimator_checks import check_estimators_partial_fit_n_features

    check_estimators_partial_fit_n_features("GaussianMixture", GaussianMixture(2, random_state=0))
