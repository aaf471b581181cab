"""Model files: exact round trips, refusal of damaged or foreign files, atomic writes."""

import io
import json
import os
import pickle
import struct
import warnings
import zipfile

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from mixfit import GaussianMixture, KMeans
from mixfit.io import ModelFileError, load, save

COVARIANCE_TYPES = ["identity", "spherical", "diag", "tied", "full"]
DTYPES = [np.float32, np.float64]


def make_data(dtype=np.float64, n_per=30, seed=0):
    """Three separated blobs in 3-d, and positive sample weights."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 2.0], [0.0, 7.0, -3.0]])
    X = np.vstack([c + rng.normal(size=(n_per, 3)) * [1.0, 0.5, 1.5] for c in centres])
    return X.astype(dtype), rng.uniform(0.2, 3.0, size=X.shape[0])


def fit_quietly(estimator, X, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, **fit_params)


def fitted_gm(covariance_type="full", dtype=np.float64, weighted=False, **params):
    X, weights = make_data(dtype)
    params.setdefault("random_state", 0)
    gm = GaussianMixture(3, covariance_type=covariance_type, **params)
    return fit_quietly(gm, X, sample_weight=weights if weighted else None), X


def fitted_kmeans(dtype=np.float64, weighted=False, **params):
    X, weights = make_data(dtype)
    params.setdefault("random_state", 0)
    km = KMeans(3, **params)
    return fit_quietly(km, X, sample_weight=weights if weighted else None), X


def assert_same_value(a, b, name):
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype, name
        np.testing.assert_array_equal(a, b, err_msg=name)
    elif hasattr(a, "structure"):  # GaussianFamily: no __eq__, compare what defines it
        assert (a.covariance_type, a.reg_covar) == (b.covariance_type, b.reg_covar), name
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), name
    else:
        assert a == b and type(a) is type(b) or float(a) == float(b), name


def assert_same_model(original, loaded, X):
    """Same class, same attributes, and bit-identical outputs on X."""
    assert type(loaded) is type(original)
    before, after = vars(original), vars(loaded)
    # A model fitted before _scale existed loads with _scale = 1.0.
    assert set(after) - {"_scale"} == set(before) - {"_scale"}
    assert loaded._scale == getattr(original, "_scale", 1.0)
    for name in set(before) - {"_scale"}:
        assert_same_value(before[name], after[name], name)
    if isinstance(original, GaussianMixture):
        methods = ["predict", "predict_proba", "score_samples", "score", "bic"]
    else:
        methods = ["predict", "transform", "score"]
    for method in methods:
        expected, got = getattr(original, method)(X), getattr(loaded, method)(X)
        assert_same_value(np.asarray(expected), np.asarray(got), method)
    if isinstance(original, GaussianMixture) and isinstance(original.random_state, int):
        for expected, got in zip(original.sample(5), loaded.sample(5)):
            assert_same_value(expected, got, "sample")


def round_trip(estimator, tmp_path, name="model.mixfit"):
    path = tmp_path / name
    save(estimator, path)
    return load(path)


def read_members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_members(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def npy_bytes(array, allow_pickle=False):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def npy_array(data):
    return np.load(io.BytesIO(data), allow_pickle=False)


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_gaussian_mixture_round_trip_is_exact(covariance_type, dtype, weighted, tmp_path):
    gm, X = fitted_gm(covariance_type, dtype, weighted)
    assert gm.means_.dtype == dtype
    assert_same_model(gm, round_trip(gm, tmp_path), X)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_kmeans_round_trip_is_exact(dtype, weighted, tmp_path):
    km, X = fitted_kmeans(dtype, weighted)
    assert km.cluster_centers_.dtype == dtype
    assert_same_model(km, round_trip(km, tmp_path), X)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_array_init_params_and_max_iter_zero_round_trip(covariance_type, dtype, tmp_path):
    means = np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 2.0], [0.0, 7.0, -3.0]])
    params = {"weights_init": np.array([0.2, 0.3, 0.5]), "means_init": means}
    if covariance_type != "identity":
        # Integer precisions: the dtype of an init array is kept as given.
        eye = np.eye(3, dtype=np.int64) * 2
        params["precisions_init"] = {
            "spherical": np.full(3, 2), "diag": np.full((3, 3), 2), "tied": eye,
            "full": np.stack([eye] * 3),
        }[covariance_type]
    gm, X = fitted_gm(covariance_type, dtype, max_iter=0, **params)
    assert gm.lower_bound_ == -np.inf and gm.lower_bounds_ == []
    loaded = round_trip(gm, tmp_path)
    assert loaded.lower_bound_ == -np.inf
    for name in params:
        assert_same_value(params[name], loaded.get_params()[name], name)
    assert_same_model(gm, loaded, X)
    header = json.loads(read_members(tmp_path / "model.mixfit")["model.json"])
    assert header["fitted"]["lower_bound_"] == "-inf"


def test_big_endian_init_array_is_stored_natively(tmp_path):
    means = np.array([[0.0, 0.0, 0.0], [6.0, 0.0, 2.0], [0.0, 7.0, -3.0]], dtype=">f8")
    gm, X = fitted_gm("diag", means_init=means)
    loaded = round_trip(gm, tmp_path)
    assert loaded.means_init.dtype.isnative
    np.testing.assert_array_equal(loaded.means_init, means)
    assert_same_model(gm.set_params(means_init=means.astype(float)), loaded, X)


def test_resp_init_round_trip(tmp_path):
    X, _ = make_data()
    resp = np.zeros((X.shape[0], 3))
    resp[np.arange(X.shape[0]), np.arange(X.shape[0]) // 30] = 1.0
    gm = fit_quietly(GaussianMixture(3, resp_init=resp, max_iter=5), X)
    loaded = round_trip(gm, tmp_path)
    np.testing.assert_array_equal(loaded.resp_init, resp)
    assert_same_model(gm, loaded, X)


@pytest.mark.parametrize("dtype", DTYPES)
def test_kmeans_array_init_round_trip(dtype, tmp_path):
    km, X = fitted_kmeans(dtype, init=np.array([[0.0, 0, 0], [5, 0, 0], [0, 5, 0]]))
    loaded = round_trip(km, tmp_path)
    assert_same_value(km.init, loaded.init, "init")
    assert_same_model(km, loaded, X)


def test_feature_names_round_trip(tmp_path):
    pd = pytest.importorskip("pandas")
    X, _ = make_data()
    frame = pd.DataFrame(X, columns=["height", "width", "depth"])
    for estimator in (GaussianMixture(3, random_state=0), KMeans(3, random_state=0)):
        fit_quietly(estimator, frame)
        loaded = round_trip(estimator, tmp_path)
        assert list(loaded.feature_names_in_) == ["height", "width", "depth"]
        assert_same_model(estimator, loaded, frame)


@pytest.mark.parametrize("make", [fitted_gm, fitted_kmeans])
def test_rescaled_fit_round_trip(make, tmp_path):
    # Data beyond 2**60 is fitted in units of a power of two, kept in _scale.
    estimator, X = make()
    X = X * 2.0**70
    fit_quietly(estimator, X)
    if getattr(estimator, "_scale", 1.0) == 1.0:
        pytest.skip("this version of the estimators does not rescale data")
    loaded = round_trip(estimator, tmp_path)
    assert loaded._scale == estimator._scale != 1.0
    assert_same_model(estimator, loaded, X)


def test_file_without_scale_loads_with_unit_scale(tmp_path):
    km, X = fitted_kmeans()
    path = tmp_path / "old.mixfit"
    save(km, path)
    members = read_members(path)
    header = json.loads(members["model.json"])
    header["fitted"].pop("_scale", None)
    members["model.json"] = json.dumps(header)
    write_members(path, members)
    loaded = load(path)
    assert loaded._scale == 1.0
    np.testing.assert_array_equal(loaded.transform(X), km.transform(X))


def test_version_1_file_with_int64_labels_still_loads(tmp_path):
    # Format 1 stored labels_ as int64; format 2 stores the smallest unsigned dtype.
    km, X = fitted_kmeans()
    path = tmp_path / "v1.mixfit"
    save(km, path)
    members = read_members(path)
    header = json.loads(members["model.json"])
    assert header["arrays"]["labels_"]["dtype"] == "uint8"
    header["format_version"] = 1
    header["arrays"]["labels_"]["dtype"] = "int64"
    members["model.json"] = json.dumps(header)
    members["labels_.npy"] = npy_bytes(km.labels_.astype(np.int64))
    write_members(path, members)
    loaded = load(path)
    np.testing.assert_array_equal(loaded.labels_, km.labels_)
    np.testing.assert_array_equal(loaded.predict(X), km.predict(X))


@pytest.mark.parametrize("max_iter", [1, 300])
def test_kmeans_converged_round_trip(max_iter, tmp_path):
    km, X = fitted_kmeans(max_iter=max_iter, tol=0)
    assert km.converged_ is (max_iter == 300)
    loaded = round_trip(km, tmp_path)
    assert loaded.converged_ is km.converged_
    header = json.loads(read_members(tmp_path / "model.mixfit")["model.json"])
    assert header["fitted"]["converged_"] is km.converged_
    assert_same_model(km, loaded, X)


def without_converged(km, path):
    """Save km as a file written before KMeans kept converged_."""
    save(km, path)
    members = read_members(path)
    header = json.loads(members["model.json"])
    del header["fitted"]["converged_"]
    members["model.json"] = json.dumps(header)
    write_members(path, members)


@pytest.mark.parametrize("max_iter", [1, 300])
def test_kmeans_file_without_converged_derives_it_from_n_iter(max_iter, tmp_path):
    km, X = fitted_kmeans(max_iter=max_iter)
    without_converged(km, tmp_path / "old.mixfit")
    loaded = load(tmp_path / "old.mixfit")
    assert loaded.converged_ is (km.n_iter_ < max_iter)
    assert_same_model(km, loaded, X)


def test_kmeans_file_without_converged_misreads_convergence_at_max_iter(tmp_path):
    # The documented limit of the derivation: the file does not say more.
    exact, _ = fitted_kmeans(max_iter=fitted_kmeans()[0].n_iter_)
    assert exact.converged_ and exact.n_iter_ == exact.max_iter
    without_converged(exact, tmp_path / "old.mixfit")
    assert load(tmp_path / "old.mixfit").converged_ is False


@pytest.mark.parametrize("value", [1, None, "true"])
def test_kmeans_converged_must_be_a_json_bool(value, tmp_path):
    km, _ = fitted_kmeans()
    path = tmp_path / "model.mixfit"
    save(km, path)
    members = read_members(path)
    header = json.loads(members["model.json"])
    header["fitted"]["converged_"] = value
    members["model.json"] = json.dumps(header)
    write_members(path, members)
    refuse(path, "fitted.converged_ must be a JSON bool")


def test_callback_and_random_state_instance_are_stored_as_null(tmp_path):
    gm, X = fitted_gm(callback=lambda *args: None, random_state=np.random.RandomState(0))
    loaded = round_trip(gm, tmp_path)
    assert loaded.callback is None and loaded.random_state is None
    header = json.loads(read_members(tmp_path / "model.mixfit")["model.json"])
    assert header["params"]["callback"] is None and header["params"]["random_state"] is None
    np.testing.assert_array_equal(loaded.predict_proba(X), gm.predict_proba(X))
    km, _ = fitted_kmeans(random_state=np.int64(3), tol=np.float32(0.5))
    loaded = round_trip(km, tmp_path)
    assert loaded.random_state == 3 and type(loaded.random_state) is int
    assert loaded.tol == float(np.float32(0.5))


def test_file_layout(tmp_path):
    gm, _ = fitted_gm("tied", np.float32, means_init=np.zeros((3, 3)) + [[0], [5], [9]])
    path = tmp_path / "any-suffix.bin"
    save(gm, path)
    members = read_members(path)

    def no_constants(token):
        raise AssertionError(f"non-strict JSON token {token}")

    header = json.loads(members["model.json"], parse_constant=no_constants)
    assert header["format"] == "mixfit-model" and header["format_version"] == 2
    assert header["estimator"] == "GaussianMixture"
    assert header["params"]["means_init"] == {"array": "param_means_init"}
    assert header["params"] == {**gm.get_params(), "means_init": header["params"]["means_init"]}
    assert set(members) == {"model.json"} | {f"{name}.npy" for name in header["arrays"]}
    assert set(header["arrays"]) == {
        "weights_", "means_", "covariances_", "precisions_cholesky_", "param_means_init"
    }
    for name, entry in header["arrays"].items():
        array = npy_array(members[f"{name}.npy"])
        assert list(array.shape) == entry["shape"] and array.dtype.name == entry["dtype"]
    assert header["arrays"]["covariances_"] == {"shape": [3, 3], "dtype": "float32"}
    assert header["fitted"]["n_iter_"] == gm.n_iter_
    assert header["fitted"]["lower_bounds_"] == gm.lower_bounds_


def test_saving_twice_gives_identical_bytes(tmp_path):
    km, _ = fitted_kmeans()
    save(km, tmp_path / "a.mixfit")
    save(km, tmp_path / "b.mixfit")
    assert (tmp_path / "a.mixfit").read_bytes() == (tmp_path / "b.mixfit").read_bytes()


def test_plain_pickling_still_works():
    for estimator, X in (fitted_gm("diag"), fitted_kmeans(np.float32)):
        assert_same_model(estimator, pickle.loads(pickle.dumps(estimator)), X)


# ---------------------------------------------------------------- save refuses


@pytest.mark.parametrize("estimator", [GaussianMixture(), KMeans()])
def test_unfitted_estimator_is_refused(estimator, tmp_path):
    with pytest.raises(NotFittedError):
        save(estimator, tmp_path / "model.mixfit")
    assert list(tmp_path.iterdir()) == []


class SubclassedMixture(GaussianMixture):
    pass


def test_unknown_estimator_type_is_refused(tmp_path):
    X, _ = make_data()
    for estimator in (
        SklearnGaussianMixture(2, random_state=0).fit(X),
        fit_quietly(SubclassedMixture(2, random_state=0), X),
        "GaussianMixture",
    ):
        with pytest.raises(TypeError, match="GaussianMixture and KMeans"):
            save(estimator, tmp_path / "model.mixfit")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_what_load_would_refuse(tmp_path):
    gm, _ = fitted_gm()
    gm.set_params(n_components=5)  # no longer matches the fitted means
    with pytest.raises(ValueError, match="n_components"):
        save(gm, tmp_path / "model.mixfit")
    km, _ = fitted_kmeans()
    with pytest.raises(TypeError, match="chunk_size"):
        save(km.set_params(chunk_size=[64]), tmp_path / "model.mixfit")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------ load refuses


@pytest.fixture
def saved(tmp_path):
    """A saved full-covariance model with array init params: (path, members, header)."""
    gm, _ = fitted_gm("full", weights_init=np.array([0.2, 0.3, 0.5]))
    path = tmp_path / "model.mixfit"
    save(gm, path)
    members = read_members(path)
    return path, members, json.loads(members["model.json"])


def refuse(path, match=None):
    with pytest.raises(ModelFileError, match=match) as info:
        load(path)
    assert str(path) in str(info.value)
    return str(info.value)


def test_foreign_files_are_refused(tmp_path):
    gm, X = fitted_gm()
    cases = {
        "pickle.mixfit": (pickle.dumps(gm), "pickle"),
        "empty.mixfit": (b"", "empty"),
        "text.mixfit": (b'{"format": "mixfit-model"}', "not a zip"),
        "noise.mixfit": (bytes(range(256)) * 4, "not a zip"),
        "npy.mixfit": (npy_bytes(X), "not a zip"),
    }
    for name, (data, match) in cases.items():
        (tmp_path / name).write_bytes(data)
        refuse(tmp_path / name, match)
    write_members(tmp_path / "other.zip", {"readme.txt": b"hello"})
    refuse(tmp_path / "other.zip", "no model.json")
    np.savez(tmp_path / "arrays.npz", X=X)
    refuse(tmp_path / "arrays.npz", "no model.json")
    (tmp_path / "folder.mixfit").mkdir()
    refuse(tmp_path / "folder.mixfit", "directory")
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.mixfit")


def test_newer_format_version_is_refused_with_both_versions(saved):
    path, members, header = saved
    header["format_version"] = 3
    members["model.json"] = json.dumps(header)
    write_members(path, members)
    refuse(path, "written by format version 3, this mixfit reads up to 2; upgrade mixfit")


def set_in(keys, value):
    def edit(header):
        target = header
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return edit


def delete_in(keys):
    def edit(header):
        target = header
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]
    return edit


HEADER_EDITS = {
    "other format": (set_in(["format"], "joblib"), "not 'mixfit-model'"),
    "no format": (delete_in(["format"]), "not 'mixfit-model'"),
    "version 0": (set_in(["format_version"], 0), "format_version"),
    "version string": (set_in(["format_version"], "1"), "format_version"),
    "missing params": (delete_in(["params"]), "lacks the keys"),
    "missing fitted key": (delete_in(["fitted", "n_iter_"]), "lacks the keys"),
    "missing param": (delete_in(["params", "tol"]), "lacks the keys"),
    "unknown key": (set_in(["code"], "import os"), "unknown keys"),
    "unknown param": (set_in(["params", "eval"], 1), "unknown keys"),
    "unknown class": (set_in(["estimator"], "Pipeline"), "estimator must be one of"),
    "class not a string": (set_in(["estimator"], ["KMeans"]), "estimator must be one of"),
    "n_components string": (set_in(["params", "n_components"], "3"), "integer"),
    "n_components mismatch": (set_in(["params", "n_components"], 4), "n_components"),
    "bad covariance_type": (set_in(["params", "covariance_type"], "banded"), "covariance_type"),
    "negative tol": (set_in(["params", "tol"], -1.0), "tol"),
    "infinite reg_covar": (set_in(["params", "reg_covar"], "inf"), "reg_covar"),
    "callback stored": (set_in(["params", "callback"], "os.system"), "callback"),
    "negative seed": (set_in(["params", "random_state"], -1), "random_state"),
    "bad array ref": (set_in(["params", "weights_init"], {"array": "means_"}), "weights_init"),
    "bool n_iter_": (set_in(["fitted", "n_iter_"], True), "n_iter_"),
    "nan lower bound": (set_in(["fitted", "lower_bound_"], "nan"), "lower_bound_"),
    "string in history": (set_in(["fitted", "lower_bounds_"], ["x"]), "lower_bounds_"),
    "converged string": (set_in(["fitted", "converged_"], "yes"), "converged_"),
    "missing converged": (delete_in(["fitted", "converged_"]), "lacks the keys"),
    "n_features mismatch": (set_in(["fitted", "n_features_in_"], 4), "n_features_in_"),
    "names wrong length": (set_in(["fitted", "feature_names_in_"], ["a"]), "feature_names_in_"),
    "scale not power of 2": (set_in(["fitted", "_scale"], 3.0), "_scale"),
    "means shape": (set_in(["arrays", "means_", "shape"], [3, 4]), "shape"),
    "covariance shape": (set_in(["arrays", "covariances_", "shape"], [3, 3]), "shape"),
    "object dtype": (set_in(["arrays", "weights_", "dtype"], "object"), "dtype"),
    "int parameters": (set_in(["arrays", "weights_", "dtype"], "int64"), "dtype"),
    "mixed dtypes": (set_in(["arrays", "weights_", "dtype"], "float32"), "float32"),
    "missing array": (delete_in(["arrays", "covariances_"]), "arrays lists"),
    "extra array": (set_in(["arrays", "evil"], {"shape": [1], "dtype": "float64"}), "arrays"),
    "manifest not object": (set_in(["arrays"], []), "arrays"),
    "not an object": (lambda header: header.clear() or header.update(format=None), "format"),
}


@pytest.mark.parametrize("edit", HEADER_EDITS, ids=list(HEADER_EDITS))
def test_edited_json_is_refused(saved, edit):
    path, members, header = saved
    change, match = HEADER_EDITS[edit]
    change(header)
    members["model.json"] = json.dumps(header)
    write_members(path, members)
    refuse(path, match)


def test_json_must_be_strict_and_an_object(saved):
    path, members, header = saved
    infinite = {**header, "fitted": {**header["fitted"], "lower_bound_": -np.inf}}
    for text, match in [
        (json.dumps(infinite), "non-standard token -Infinity"),
        (json.dumps(header)[:-1], "model.json is damaged"),
        (json.dumps(header).replace('"n_iter_"', '"n_iter_": NaN, "x"'), "token NaN"),
        ('{"format": 1, "format": 2}', "repeats a key"),
        ("[1, 2]", "JSON object"),
        ("[" * 100000, "model.json"),
        (b"\xff\xfe", "model.json"),
    ]:
        members["model.json"] = text
        write_members(path, members)
        refuse(path, match)


def edit_array(name, change):
    def edit(members):
        array = npy_array(members[f"{name}.npy"]).copy()
        members[f"{name}.npy"] = npy_bytes(change(array))
    return edit


def assign(index, value):
    def change(array):
        array[index] = value
        return array
    return change


ARRAY_EDITS = {
    "nan weight": (edit_array("weights_", assign(0, np.nan)), "NaN"),
    "weights sum": (edit_array("weights_", lambda w: w * 1.01), "sum to 1"),
    "negative weight": (edit_array("weights_", lambda w: np.array(
        [-0.1, w[1], w[0] + w[2] + 0.1], dtype=w.dtype)), "non-negative"),
    "init weights sum": (edit_array("param_weights_init", lambda w: w / 2), "weights_init"),
    "inf mean": (edit_array("means_", assign((1, 2), np.inf)), "NaN or infinite"),
    "full factor": (edit_array("precisions_cholesky_", assign((0, 2, 0), 0.5)), "triangular"),
    "negative diagonal": (edit_array("precisions_cholesky_", assign((1, 1, 1), -1.0)),
                          "positive diagonal"),
    "asymmetric covariance": (edit_array("covariances_", assign((2, 0, 1), 9.0)), "symmetric"),
    "dtype differs from manifest": (edit_array("weights_", lambda w: w.astype(np.float32)),
                                    "arrays lists"),
    "shape differs from manifest": (edit_array("means_", lambda m: m[:2]), "arrays lists"),
    "fortran order": (edit_array("means_", lambda m: np.asfortranarray(m)), None),
    "object array": (lambda members: members.update({"weights_.npy": npy_bytes(
        np.array([{}, 0.5, 0.5], dtype=object), allow_pickle=True)}), "weights_"),
    "pickle member": (lambda members: members.update({"weights_.npy": pickle.dumps([1.0])}),
                      "weights_"),
    "trailing bytes": (lambda members: members.update(
        {"weights_.npy": members["weights_.npy"] + b"\0" * 8}), "after its data"),
    "oversized member": (lambda members: members.update(
        {"weights_.npy": npy_bytes(np.zeros(10**6))}), "declares"),
    "extra member": (lambda members: members.update({"run.py": b"import os"}), "unexpected"),
    "extra npy member": (lambda members: members.update({"x.npy": npy_bytes(np.ones(2))}),
                         "unexpected"),
    "missing member": (lambda members: members.pop("covariances_.npy"), "lacks the member"),
}


@pytest.mark.parametrize("edit", ARRAY_EDITS, ids=list(ARRAY_EDITS))
def test_edited_arrays_are_refused(saved, edit):
    path, members, _ = saved
    change, match = ARRAY_EDITS[edit]
    change(members)
    write_members(path, members)
    if match is None:
        load(path)  # a layout change alone is not damage
    else:
        refuse(path, match)


@pytest.mark.parametrize("covariance_type", ["spherical", "diag", "identity"])
def test_edited_variance_factors_are_refused(covariance_type, tmp_path):
    gm, _ = fitted_gm(covariance_type)
    path = tmp_path / "model.mixfit"
    save(gm, path)
    members = read_members(path)
    edit_array("precisions_cholesky_", lambda p: p * 1.5)(members)
    write_members(path, members)
    refuse(path, "precisions_cholesky_")


def test_kmeans_labels_out_of_range_are_refused(tmp_path):
    km, _ = fitted_kmeans()
    path = tmp_path / "model.mixfit"
    save(km, path)
    members = read_members(path)
    edit_array("labels_", assign(0, 3))(members)
    write_members(path, members)
    refuse(path, "labels_")


def test_duplicate_members_are_refused(saved):
    path, members, _ = saved
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns of the duplicate
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr("weights_.npy", members["weights_.npy"])
    refuse(path, "repeats a member")


def test_declared_size_beyond_what_deflate_can_produce_is_refused(saved):
    # A zip bomb's signature: a tiny compressed member that claims gigabytes.
    path, _, _ = saved
    data = bytearray(path.read_bytes())
    entry = data.index(b"PK\x01\x02")  # central directory entry of model.json
    struct.pack_into("<I", data, entry + 24, 2**31)  # uncompressed size of model.json
    path.write_bytes(bytes(data))
    refuse(path, "declares more data than it can hold")


def test_fuzzed_files_raise_only_model_file_error(saved):
    path, _, _ = saved
    original = path.read_bytes()
    reference = load(path)
    X, _ = make_data()
    rng = np.random.default_rng(12345)
    mutations = [original[:size] for size in np.linspace(0, len(original) - 1, 60, dtype=int)]
    for _ in range(150):
        data = bytearray(original)
        for position in rng.integers(0, len(data), size=rng.integers(1, 4)):
            data[position] ^= int(rng.integers(1, 256))
        mutations.append(bytes(data))
    refused = 0
    for data in mutations:
        path.write_bytes(data)
        try:
            loaded = load(path)
        except ModelFileError:
            refused += 1
        else:
            # A flip in an unchecked byte (e.g. a local header's date) changes nothing.
            np.testing.assert_array_equal(loaded.predict_proba(X), reference.predict_proba(X))
    assert refused > 0.8 * len(mutations)


# ----------------------------------------------------------------- atomic writes


@pytest.fixture
def previous(tmp_path):
    """A model file already at the target path, and a different model to save over it."""
    km, _ = fitted_kmeans()
    path = tmp_path / "model.mixfit"
    save(km, path)
    return path, path.read_bytes(), fitted_gm()[0]


def fail_half_way_through_np_save(monkeypatch):
    real_save = np.save

    def half_save(file, array, allow_pickle=True):
        buffer = io.BytesIO()
        real_save(buffer, array, allow_pickle=allow_pickle)
        file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", half_save)


def fail_on(name, exception):
    def failing(monkeypatch):
        def raise_(*args, **kwargs):
            raise exception
        monkeypatch.setattr(os, name, raise_)
    return failing


@pytest.mark.parametrize("failure, exception", [
    (fail_half_way_through_np_save, OSError),
    (fail_on("fsync", OSError(5, "Input/output error")), OSError),
    (fail_on("replace", PermissionError(13, "Permission denied")), PermissionError),
    (fail_on("fsync", KeyboardInterrupt()), KeyboardInterrupt),
], ids=["np.save", "fsync", "replace", "interrupt"])
def test_interrupted_write_leaves_previous_file_intact(previous, failure, exception, monkeypatch):
    path, before, gm = previous
    failure(monkeypatch)
    with pytest.raises(exception):
        save(gm, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert isinstance(load(path), KMeans)
    fail_half_way_through_np_save(monkeypatch)
    with pytest.raises(OSError):
        save(gm, path.parent / "new.mixfit")
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_data_is_synced_before_the_rename(previous, monkeypatch):
    path, _, gm = previous
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: events.append("replace") or real_replace(a, b))
    save(gm, path)
    assert events[:2] == ["fsync", "replace"]
    assert isinstance(load(path), GaussianMixture)
