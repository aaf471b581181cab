"""mixfit.select and AutoGaussianMixture: the grid, its failures, its criteria, its estimator."""

import math
import warnings

import numpy as np
import pytest
from sklearn.utils.estimator_checks import check_estimator

import mixfit
from mixfit import AutoGaussianMixture, GaussianMixture, load, save
from mixfit.families.gaussian.registry import MCLUST_MODELS
from mixfit.selection import Selection, select


@pytest.fixture(scope="module")
def blobs():
    """Two round, well-separated groups in 2-D (K = 2 is the answer)."""
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal(0, 1, (80, 2)), rng.normal(8, 1, (80, 2))])


@pytest.fixture(scope="module")
def small_selection(blobs):
    return select(blobs, n_components=range(1, 4), covariance_types=["EII", "VVI", "VVV"],
                  random_state=0)


def test_every_cell_is_recorded_and_the_best_is_the_lowest_bic(small_selection, blobs):
    results = small_selection.results
    assert [(r.covariance_type, r.n_components) for r in results] == [
        (m, k) for m in ("EII", "VVI", "VVV") for k in (1, 2, 3)]
    fitted = [r for r in results if not r.failed]
    best = min(fitted, key=lambda r: r.bic)
    assert small_selection.best_params_ == {"covariance_type": best.covariance_type,
                                            "n_components": best.n_components}
    assert best.n_components == 2
    assert isinstance(small_selection.best_, GaussianMixture)
    # The record's numbers are the fitted model's.
    model = small_selection.best_
    n = blobs.shape[0]
    assert math.isclose(best.log_likelihood, model.score(blobs) * n, rel_tol=1e-10)
    assert math.isclose(best.bic, model.bic(blobs), rel_tol=1e-10)
    assert math.isclose(best.aic, model.aic(blobs), rel_tol=1e-10)
    assert math.isclose(best.icl, model.icl(blobs), rel_tol=1e-10)
    assert best.n_parameters == model._n_parameters()
    assert best.bic == pytest.approx(-2 * best.log_likelihood + best.n_parameters * math.log(n))


def test_criteria_rank_the_same_table(small_selection):
    for criterion in ("bic", "icl", "aic"):
        ranked = small_selection.ranked(criterion)
        values = [getattr(r, criterion) for r in ranked]
        assert values == sorted(values)
    models, ks, table = small_selection.table("aic")
    assert models == ["EII", "VVI", "VVV"] and ks == [1, 2, 3] and table.shape == (3, 3)
    assert np.nanmin(table) == small_selection.ranked("aic")[0].aic


def test_icl_prefers_separated_clusters_where_bic_prefers_density():
    # Two overlapping groups: BIC takes two components, ICL's entropy penalty one.
    rng = np.random.default_rng(5)
    X = np.concatenate([rng.normal(0, 1, 300), rng.normal(1.6, 1, 300)])[:, None]
    by_bic = select(X, n_components=[1, 2], covariance_types=["VII"], criterion="bic",
                    random_state=0)
    by_icl = select(X, n_components=[1, 2], covariance_types=["VII"], criterion="icl",
                    random_state=0)
    two = [r for r in by_icl.results if r.n_components == 2][0]
    assert two.icl > two.bic  # uncertain assignments cost ICL
    assert by_icl.best_params_["n_components"] <= by_bic.best_params_["n_components"]


def test_the_repr_prints_the_top_models_like_mclust(small_selection):
    text = repr(small_selection)
    best = small_selection.ranked()[0]
    assert f"{best.covariance_type},{best.n_components}" in text
    assert "Top 3 models based on the BIC criterion" in text
    assert "mclust reports" in text


def test_to_frame_and_plot(small_selection):
    pd = pytest.importorskip("pandas")
    frame = small_selection.to_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 9
    assert {"covariance_type", "n_components", "bic", "icl", "aic", "error"} <= set(frame)
    pytest.importorskip("matplotlib")
    ax = small_selection.plot()
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:3] == ["EII", "VVI", "VVV"] and labels[3].startswith("best:")


def test_cells_with_more_components_than_rows_fail_without_aborting():
    X = np.random.default_rng(1).normal(size=(6, 2))
    selection = select(X, n_components=[1, 2, 8], covariance_types=["EII"], random_state=0)
    eight = selection.results[-1]
    assert eight.failed and "8 components but only 6 rows" in eight.error
    assert math.isnan(eight.bic)
    assert selection.best_params_["n_components"] in (1, 2)


def test_collapsing_cells_are_failed_not_winners():
    # Half the rows are copies of one point: with reg_covar=0 a component on them
    # collapses; such a cell must be reported failed, never chosen for its
    # unbounded likelihood.
    rng = np.random.default_rng(2)
    X = np.vstack([np.tile([[3.0, 3.0]], (30, 1)), rng.normal(size=(30, 2))])
    selection = select(X, n_components=[1, 2], covariance_types=["VVV"], random_state=0)
    two = selection.results[1]
    assert two.failed and ("singular" in two.error or "ill-defined" in two.error)
    assert selection.best_params_["n_components"] == 1


def test_every_cell_failing_is_a_clear_error():
    X = np.vstack([np.tile([[1.0, 2.0]], (5, 1)), np.tile([[4.0, 0.0]], (5, 1))])
    with pytest.raises(ValueError, match="every one of the .* fits failed.*reg_covar"):
        select(X, n_components=[2], covariance_types=["VVV", "EEE"])


def test_unknown_names_list_the_valid_ones(blobs):
    with pytest.raises(ValueError, match=r"unknown covariance type\(s\) \['XYZ'\].*EII"):
        select(blobs, covariance_types=["EII", "XYZ"])
    with pytest.raises(ValueError, match=r"criterion must be one of \['bic', 'icl', 'aic'\]"):
        select(blobs, criterion="dic")
    with pytest.raises(ValueError, match="init must be one of"):
        select(blobs, init="ward")
    with pytest.raises(ValueError, match="n_components"):
        select(blobs, n_components=[0, 2])


def test_one_feature_reduces_the_14_models_to_e_and_v():
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(0, 1, 100), rng.normal(6, 2, 100)])[:, None]
    selection = select(X, n_components=[1, 2], random_state=0)
    assert sorted({r.covariance_type for r in selection.results}) == ["EII", "VII"]
    assert "reduce to two" in repr(selection)
    assert selection.best_params_ == {"covariance_type": "VII", "n_components": 2}


def test_mclust_and_sklearn_shortcuts(blobs):
    selection = select(blobs, n_components=[2], covariance_types="sklearn", random_state=0)
    assert [r.covariance_type for r in selection.results] == ["spherical", "diag", "tied",
                                                              "full"]
    assert len(MCLUST_MODELS) == 14


def test_threads_do_not_change_the_table(blobs, monkeypatch):
    # Small data run on one thread whatever n_jobs: lift that floor to thread them.
    import mixfit.selection

    monkeypatch.setattr(mixfit.selection, "_THREADED_VALUES", 0)
    one = select(blobs, n_components=[1, 2, 3], covariance_types=["VEV", "EVE"], n_jobs=1,
                 random_state=0)
    two = select(blobs, n_components=[1, 2, 3], covariance_types=["VEV", "EVE"], n_jobs=2,
                 random_state=0)
    assert [r.__dict__ for r in one.results] == [r.__dict__ for r in two.results]


def test_combined_starts_keep_the_best_per_cell(blobs):
    kwargs = dict(n_components=[3], covariance_types=["VVV"], random_state=0)
    hc = select(blobs, init="hc", **kwargs).results[0]
    km = select(blobs, init="kmeans", **kwargs).results[0]
    both = select(blobs, init=["hc", "kmeans"], **kwargs).results[0]
    assert both.log_likelihood == max(hc.log_likelihood, km.log_likelihood)
    assert both.start in ("hc", "kmeans")


def test_integer_weights_count_as_copies(blobs):
    weights = np.random.default_rng(4).integers(1, 4, blobs.shape[0])
    kwargs = dict(n_components=[1, 2], covariance_types=["EII", "VVV"], random_state=0)
    weighted = select(blobs, sample_weight=weights, **kwargs)
    repeated = select(np.repeat(blobs, weights, axis=0), **kwargs)
    for a, b in zip(weighted.results, repeated.results):
        assert a.bic == pytest.approx(b.bic, rel=1e-6)
        assert a.n_parameters == b.n_parameters


def test_auto_gaussian_mixture_predicts_with_the_chosen_fit(blobs):
    model = AutoGaussianMixture(n_components=range(1, 4),
                                covariance_types=["EII", "VVV"], random_state=0).fit(blobs)
    assert (model.n_components_, model.covariance_type_) == (2, "EII")
    assert isinstance(model.selection_, Selection)
    best = model.best_estimator_
    np.testing.assert_array_equal(model.predict(blobs), best.predict(blobs))
    np.testing.assert_allclose(model.predict_proba(blobs), best.predict_proba(blobs))
    assert model.score(blobs) == best.score(blobs)
    assert model.bic(blobs) == best.bic(blobs) and model.icl(blobs) == best.icl(blobs)
    np.testing.assert_array_equal(model.means_, best.means_)
    assert model.sample(5)[0].shape == (5, 2)
    np.testing.assert_array_equal(model.fit_predict(blobs), model.predict(blobs))


def test_auto_gaussian_mixture_passes_check_estimator():
    estimator = AutoGaussianMixture(n_components=[1, 2], covariance_types=["EII", "VVV"],
                                    random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(estimator, on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results
              if r["status"] == "failed"]
    assert not failed


def test_auto_gaussian_mixture_round_trips_through_a_model_file(blobs, tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(blobs, columns=["x", "y"])
    model = AutoGaussianMixture(n_components=(1, 2, 3), covariance_types=["EII", "VEV"],
                                random_state=7).fit(frame)
    path = tmp_path / "auto.mixfit"
    save(model, path)
    loaded = load(path)
    assert type(loaded) is AutoGaussianMixture
    assert loaded.get_params()["covariance_types"] == ["EII", "VEV"]
    assert (loaded.n_components_, loaded.covariance_type_) == (model.n_components_,
                                                               model.covariance_type_)
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
    assert [r.bic for r in loaded.selection_.results] == pytest.approx(
        [r.bic for r in model.selection_.results], nan_ok=True)
    np.testing.assert_array_equal(loaded.sample(4)[0], model.sample(4)[0])


def test_auto_gaussian_mixture_refuses_bad_parameters(blobs):
    with pytest.raises(ValueError, match="criterion must be one of"):
        AutoGaussianMixture(criterion="bayes").fit(blobs)
    with pytest.raises(ValueError, match="unknown covariance type"):
        AutoGaussianMixture(covariance_types=["VVX"]).fit(blobs)
    with pytest.raises(ValueError, match="reg_covar must be a finite number"):
        AutoGaussianMixture(reg_covar=-1.0).fit(blobs)


def test_the_chosen_mixture_keeps_a_dataframes_column_names(blobs):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(blobs, columns=["x", "y"])
    best = select(frame, n_components=[2], covariance_types=["EII"], random_state=0).best_
    assert list(best.feature_names_in_) == ["x", "y"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "fitted without feature names" warning
        best.predict(frame)
    with pytest.raises(ValueError, match="feature names"):
        best.predict(frame.rename(columns={"x": "z"}))
    auto = AutoGaussianMixture(n_components=[2], covariance_types=["EII"]).fit(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        auto.predict(frame)
        auto.predict_proba(frame)


def test_the_package_exports_select():
    assert mixfit.select is select
    assert mixfit.AutoGaussianMixture is AutoGaussianMixture


def test_a_failed_fits_long_error_is_cut_at_a_sentence_or_word_end():
    from mixfit.selection import _first_line

    long_sentences = "First sentence of a failure, " + "x " * 60 + "end. " + "Second " * 60
    cut = _first_line(ValueError(long_sentences + "\nsecond line"))
    assert cut.endswith("end.") and len(cut) <= 300
    one_sentence = "word " * 100
    cut = _first_line(ValueError(one_sentence))
    assert cut.endswith("word …") and len(cut) <= 302
    assert _first_line(ValueError("short\nmore")) == "short"
