"""Model files of MixtureModel and its shortcuts: round trips, what cannot be saved, damage."""

import json
import zipfile

import numpy as np
import pytest

from mixfit import (
    BernoulliMixture,
    CategoricalMixture,
    MixtureModel,
    PoissonMixture,
    StudentMixture,
)
from mixfit.families import BernoulliFamily, GaussianFamily
from mixfit.io import ModelFileError, load, save

pd = pytest.importorskip("pandas")


def _table(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "colour": pd.Categorical(rng.choice(["red", "green", "blue"], n)),
        "size": rng.choice([1, 2, 3], n),
        "count": rng.poisson(3, n).astype(float),
        "flag": (rng.random(n) < 0.3).astype(float),
        "height": rng.normal(size=n),
    })


def _models():
    table = _table()
    rng = np.random.default_rng(1)
    binary = (rng.random((40, 3)) < 0.4).astype(float)
    counts = rng.poisson(2.0, (40, 2)).astype(float)
    mixed = MixtureModel(
        2, family=[("categorical", ["colour", "size"]), ("poisson", "count"),
                   (BernoulliFamily(0.5), ["flag"]), (GaussianFamily("diag"), slice(4, 5))],
        params_init={"group1_rates": [[1.0], [5.0]]}, fixed_params=["group1_rates"],
        random_state=0)
    return [
        (mixed.fit(table), table),
        (CategoricalMixture(2, weights_init=[0.4, 0.6], random_state=0).fit(
            table[["colour", "size"]]), table[["colour", "size"]]),
        (BernoulliMixture(2, probabilities_init=np.full((2, 3), 0.5), random_state=0).fit(
            binary), binary),
        (PoissonMixture(2, n_jobs=1, random_state=0).fit(counts), counts),
        (MixtureModel(2, family="gaussian", random_state=0).fit(rng.normal(size=(40, 2))),
         rng.normal(size=(10, 2))),
        (StudentMixture(1, random_state=0).fit(rng.normal(size=(40, 2))),
         rng.normal(size=(10, 2))),
    ]


@pytest.mark.parametrize("index", range(6))
def test_round_trip_predicts_exactly_as_the_saved_model(tmp_path, index):
    model, X = _models()[index]
    path = tmp_path / "model.mixfit"
    save(model, path)
    loaded = load(path)
    assert type(loaded) is type(model)
    saved_params, loaded_params = model.get_params(deep=False), loaded.get_params(deep=False)
    for name, value in saved_params.items():
        if name == "family" and not isinstance(value, str):
            assert repr(loaded_params[name]).split(" object at")[0] == repr(value).split(
                " object at")[0]
        elif name in ("weights_init", "probabilities_init", "rates_init", "params_init"):
            assert (value is None) == (loaded_params[name] is None), name
        else:
            assert loaded_params[name] == value, name
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.bic(X) == model.bic(X)
    for name, value in vars(model).items():
        if name.endswith("_") and not name.startswith("_"):
            saved = getattr(loaded, name)
            if isinstance(value, list):
                assert len(saved) == len(value)
                for a, b in zip(saved, value):
                    np.testing.assert_array_equal(a, b)
            else:
                np.testing.assert_array_equal(saved, value)


def test_round_trip_keeps_categories_and_the_family_list(tmp_path):
    model, table = _models()[0]
    save(model, tmp_path / "m.mixfit")
    loaded = load(tmp_path / "m.mixfit")
    assert loaded.categories_[1].dtype == np.int64
    assert loaded.categories_[0].tolist() == ["blue", "green", "red"]
    assert loaded.family[2][0].pseudocount == 0.5 and loaded.family[3][1] == slice(4, 5)
    assert loaded.fixed_params == ["group1_rates"]
    np.testing.assert_array_equal(loaded.params_init["group1_rates"], [[1.0], [5.0]])
    refit = loaded.fit(table)  # what was saved is enough to fit again
    np.testing.assert_array_equal(refit.group1_rates_, [[1.0], [5.0]])


def test_what_a_file_cannot_hold_is_refused_at_save(tmp_path):
    class Custom(BernoulliFamily):
        pass

    X = (np.random.default_rng(0).random((20, 2)) < 0.5).astype(float)
    model = MixtureModel(2, family=Custom(), random_state=0).fit(X)
    with pytest.raises(TypeError, match="cannot be stored in a model file"):
        save(model, tmp_path / "m.mixfit")
    floats = CategoricalMixture(2, random_state=0).fit(
        np.array([[0.5, "a"], [1.5, "b"], [0.5, "b"]], dtype=object))
    with pytest.raises(TypeError, match="categorical column 0 are not all strings or all "
                                        "integers"):
        save(floats, tmp_path / "m.mixfit")


def _edit(path, change):
    """Rewrite a model file's model.json through ``change(header)``."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = json.loads(members["model.json"])
    change(header)
    members["model.json"] = json.dumps(header).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.mark.parametrize("change, match", [
    (lambda h: h["fitted"]["categories_"][0]["values"].reverse(), "sorted and distinct"),
    (lambda h: h["fitted"]["categories_"].pop(), "categories_ must list the categories"),
    (lambda h: h["params"]["family"]["family"][1].update(family="weibull"),
     "unknown family 'weibull'"),
    (lambda h: h["params"]["family"]["family"][1].update(columns=[2, 3]),
     r"column 'flag' is in family\[1\] and in family\[2\]"),
    (lambda h: h["params"].update(n_components=3), r"weights_ is .* expected float32 or "
                                                   r"float64 of shape \(3,\)"),
    (lambda h: h["params"].update(family={"family": {"name": "pickle"}}), "not one of"),
    (lambda h: h["fitted"].update(n_iter_=10**6), "lower_bounds_"),
])
def test_a_damaged_file_is_refused_with_the_reason(tmp_path, change, match):
    model, _ = _models()[0]
    path = tmp_path / "m.mixfit"
    save(model, path)
    _edit(path, change)
    with pytest.raises(ModelFileError, match=match):
        load(path)
