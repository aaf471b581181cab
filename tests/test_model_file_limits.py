"""Model files load only what is safe to predict with, and only what fits in memory.

Each test crafts a file by editing a saved model (its model.json and/or members)
and checks that :func:`mixfit.io.load` refuses it with a ModelFileError naming the
field, quickly and before allocating what the file declares.
"""

import io
import json
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
import zipfile
import zlib

import numpy as np
import pytest

from mixfit import GaussianMixture, KMeans
from mixfit.io import ModelFileError, load, save

RNG = np.random.default_rng(0)
X = np.vstack([RNG.normal(size=(30, 3)) + 6 * i for i in range(3)])


def fitted(kind="full", dtype=np.float64, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "kmeans":
            return KMeans(3, random_state=0, **params).fit(X.astype(dtype))
        return GaussianMixture(3, covariance_type=kind, random_state=0, **params).fit(
            X.astype(dtype))


def npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def members_of(path):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = json.loads(members.pop("model.json"))
    arrays = {name[:-4]: np.load(io.BytesIO(data)) for name, data in members.items()}
    return header, arrays


def write(path, header, arrays, json_text=None):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.json", json_text if json_text is not None else json.dumps(header))
        for name, array in arrays.items():
            archive.writestr(f"{name}.npy", npy(array))


def edited(model, tmp_path, edit):
    """Save ``model``, apply ``edit(header, arrays)``, write it back; return the path."""
    path = tmp_path / "model.mixfit"
    save(model, path)
    header, arrays = members_of(path)
    edit(header, arrays)
    for name, array in arrays.items():
        header["arrays"][name] = {"shape": list(array.shape), "dtype": array.dtype.name}
    write(path, header, arrays)
    return path


def refused(path, match, **kwargs):
    with pytest.raises(ModelFileError, match=match) as info:
        load(path, **kwargs)
    return str(info.value)


def peak_bytes_of(function):
    tracemalloc.start()
    try:
        function()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


# --------------------------------------------------------- sizes: the zip bomb


def raw_zip(path, members):
    """A zip of ``members`` ({name: (deflated bytes, crc32, size)}), written by hand."""
    local, central = bytearray(), bytearray()
    for name, (data, crc, size) in members.items():
        encoded = name.encode()
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc,
                               len(data), size, len(encoded), 0, 0, 0, 0, 0, len(local))
        central += encoded
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(data),
                             size, len(encoded), 0) + encoded + data
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members),
                      len(central), len(local), 0)
    path.write_bytes(bytes(local + central + end))


def deflated(data):
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(), zlib.crc32(data), len(data)


@pytest.fixture(scope="module")
def labels_bomb(tmp_path_factory):
    """The campaign's file: a KMeans whose labels_ declares 2**27 int64 (1 GiB) and
    whose member really inflates to that, from about 1 MB."""
    model = fitted("kmeans")
    path = tmp_path_factory.mktemp("bomb") / "bomb.mixfit"
    save(model, path)
    header, arrays = members_of(path)
    n = 2**27
    header["arrays"]["labels_"] = {"shape": [n], "dtype": "int64"}
    members = {"model.json": deflated(json.dumps(header).encode())}
    members.update({f"{name}.npy": deflated(npy(array))
                    for name, array in arrays.items() if name != "labels_"})
    # Deflate blocks after a full flush do not depend on what came before, so one
    # compressed MiB of zeros repeats: the member is built without deflating 1 GiB.
    npy_header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        npy_header, {"descr": "<i8", "fortran_order": False, "shape": (n,)})
    head = npy_header.getvalue()
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(2**20)
    first = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    last = compressor.flush()
    crc = zlib.crc32(head)
    for _ in range(n * 8 // len(zeros)):
        crc = zlib.crc32(zeros, crc)
    members["labels_.npy"] = (first + block * (n * 8 // len(zeros)) + last, crc,
                              len(head) + n * 8)
    raw_zip(path, members)
    return path


def test_labels_bomb_is_refused_from_its_manifest_without_allocating(labels_bomb):
    assert labels_bomb.stat().st_size < 2 * 2**20  # ~1000-fold: what deflate can do
    with zipfile.ZipFile(labels_bomb) as archive:  # a valid zip: the data is really there
        assert archive.getinfo("labels_.npy").file_size > 2**30
    messages = []

    def attempt():
        with pytest.raises(ModelFileError, match="max_bytes") as info:
            load(labels_bomb)
        messages.append(str(info.value))

    assert peak_bytes_of(attempt) < 8 * 2**20  # not the 1 GiB (nor 2.3 GB) it declares
    assert "its arrays would take 1073" in messages[0]


def test_labels_bomb_can_be_allowed_explicitly_but_not_by_a_smaller_max_bytes(labels_bomb):
    # max_bytes replaces the default; 2**30 is still below what the file needs.
    refused(labels_bomb, "beyond max_bytes=1073741824", max_bytes=2**30)


# ---------------------------------------------------- sizes: legitimate labels


def kmeans_with_labels(labels, n_clusters):
    """A fitted KMeans whose labels_ are ``labels`` (as from a fit on len(labels) rows)."""
    model = fitted("kmeans") if n_clusters == 3 else KMeans(n_clusters, random_state=0).fit(
        RNG.normal(size=(2 * n_clusters, 2)))
    model.labels_ = labels.astype(np.int64)
    return model


@pytest.mark.parametrize("n_clusters, stored", [(1, "uint8"), (3, "uint8"), (256, "uint8"),
                                                (257, "uint16")])
def test_labels_are_stored_compactly_and_load_as_int64(n_clusters, stored, tmp_path):
    model = kmeans_with_labels(RNG.integers(0, n_clusters, 1000), n_clusters)
    path = tmp_path / "model.mixfit"
    save(model, path)
    header, arrays = members_of(path)
    assert header["arrays"]["labels_"]["dtype"] == stored == arrays["labels_"].dtype.name
    loaded = load(path)
    assert loaded.labels_.dtype == np.int64
    np.testing.assert_array_equal(loaded.labels_, model.labels_)


def test_files_with_int64_labels_still_load(tmp_path):
    model = fitted("kmeans")
    path = edited(model, tmp_path,
                  lambda header, arrays: arrays.update(labels_=arrays["labels_"].astype(np.int64)))
    assert members_of(path)[1]["labels_"].dtype == np.int64
    np.testing.assert_array_equal(load(path).labels_, model.labels_)


def test_ratio_rule_refuses_sorted_labels_beyond_the_floor_and_max_bytes_allows_them(
        tmp_path, monkeypatch):
    # The floor (256 MiB) lowered so that small files meet the ratio rule.
    monkeypatch.setattr("mixfit.io.model_files._FREE_BYTES", 2**10)
    n = 200_000
    sorted_model = kmeans_with_labels(np.sort(RNG.integers(0, 2, n)), 3)
    random_model = kmeans_with_labels(RNG.integers(0, 2, n), 3)
    save(sorted_model, tmp_path / "sorted.mixfit")
    save(random_model, tmp_path / "random.mixfit")
    # Measured: random labels of 2 clusters take ~50 bytes in memory per file byte,
    # sorted ones ~7000: only the latter exceed the 128-fold rule.
    size = (tmp_path / "sorted.mixfit").stat().st_size
    assert 8 * n > 128 * size
    message = refused(tmp_path / "sorted.mixfit", r"128 times the file's size")
    assert f"max_bytes={8 * n + 3 * 3 * 8 + 3 * 8}" in message or "max_bytes=" in message
    np.testing.assert_array_equal(load(tmp_path / "random.mixfit").labels_, random_model.labels_)
    loaded = load(tmp_path / "sorted.mixfit", max_bytes=10 * n)
    np.testing.assert_array_equal(loaded.labels_, sorted_model.labels_)


def test_max_bytes_is_a_hard_limit_and_must_be_a_positive_integer(tmp_path):
    path = tmp_path / "model.mixfit"
    save(fitted("full"), path)
    refused(path, "model.json would take", max_bytes=100)  # checked before parsing it
    with zipfile.ZipFile(path) as archive:
        json_need = archive.getinfo("model.json").file_size * 24
    load_json_only = refused(path, "its arrays would take", max_bytes=json_need)
    message = load_json_only
    needed = int(message.rsplit("max_bytes=", 1)[1].rstrip(")."))
    assert needed > 20_000
    load(path, max_bytes=needed)  # exactly what it declares is enough
    refused(path, "its arrays would take", max_bytes=needed - 1)
    for bad in (0, -1, 1.5, True, "10"):
        with pytest.raises(ValueError, match="max_bytes must be a positive integer"):
            load(path, max_bytes=bad)


def test_huge_json_is_refused_before_it_is_parsed(tmp_path):
    model = fitted("full")
    path = tmp_path / "model.mixfit"
    save(model, path)
    header, arrays = members_of(path)
    # 4M numbers: 16 MiB of text, ~16 KB deflated, ~130 MB of Python objects.
    header["fitted"]["lower_bounds_"] = "LIST"
    text = json.dumps(header).replace('"LIST"', "[" + "0.0," * (2**22 - 1) + "0.0]")
    write(path, header, arrays, json_text=text)
    assert path.stat().st_size < 2**20
    assert peak_bytes_of(lambda: refused(path, "model.json would take")) < 8 * 2**20


# ------------------------------------------------------------------- siblings


def set_fitted(key, value):
    return lambda header, arrays: header["fitted"].__setitem__(key, value)


def set_param(key, value):
    return lambda header, arrays: header["params"].__setitem__(key, value)


def declare(name, shape, dtype="float64"):
    def edit(header, arrays):
        arrays.pop(name)  # the member stays small; the manifest lies
        header["arrays"][name] = {"shape": shape, "dtype": dtype}
    return edit


def wide_model(header, arrays):
    wide = 2**40  # every shape consistent with it: only the sizes are wrong
    header["fitted"]["n_features_in_"] = wide
    shapes = {"means_": [3, wide], "covariances_": [3, wide, wide],
              "precisions_cholesky_": [3, wide, wide]}
    for name, shape in shapes.items():
        header["arrays"][name]["shape"] = shape


SIBLINGS = {
    "history longer than n_iter_": ("full", set_fitted("lower_bounds_", [-1.0] * 5000),
                                    "n_iter_"),
    "n_iter_ beyond max_iter": ("full", set_fitted("n_iter_", 2**62), "n_iter_"),
    "kmeans history": ("kmeans", set_fitted("inertia_history_", [1.0] * 5000), "n_iter_"),
    "huge shape": ("kmeans", declare("labels_", [10**30], "int64"), "max_bytes"),
    "3-D shape": ("full", declare("covariances_", [2**40, 2**40, 2**40]), "shape|max_bytes"),
    "n_features_in_ 2**40": ("full", wide_model, "max_bytes"),
    "chunk_size 10**30": ("full", set_param("chunk_size", 10**30), "chunk_size"),
    "kmeans n_init 2**62": ("kmeans", set_param("n_init", 2**62), "n_init"),
}


@pytest.mark.parametrize("case", SIBLINGS)
def test_fields_that_would_make_load_or_predict_unbounded_are_refused(case, tmp_path):
    kind, edit, match = SIBLINGS[case]
    path = tmp_path / "model.mixfit"
    save(fitted(kind), path)
    header, arrays = members_of(path)
    edit(header, arrays)
    write(path, header, arrays)
    assert peak_bytes_of(lambda: refused(path, match)) < 8 * 2**20


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, "1" * 5000])
def test_deep_nesting_and_huge_integers_in_json_are_refused(text, tmp_path):
    path = tmp_path / "model.mixfit"
    save(fitted("full"), path)
    header, arrays = members_of(path)
    header["params"]["tol"] = "VALUE"
    write(path, header, arrays, json_text=json.dumps(header).replace('"VALUE"', text))
    refused(path, "model.json|tol")


# ----------------------------------------------------------------- magnitudes


def scale_array(name, factor):
    def edit(header, arrays):
        arrays[name] = (arrays[name].astype(np.float64) * factor).astype(arrays[name].dtype)
    return edit


def both(*edits):
    def edit(header, arrays):
        for one in edits:
            one(header, arrays)
    return edit


# (model, dtype, edit, field named). Measured before these checks (and before
# predict-time checks of X), each one loaded and then predicted NaN/inf or raised
# an overflow RuntimeWarning on the training data.
MAGNITUDES = {
    "means x 1e160": ("full", np.float64, scale_array("means_", 1e160), "means_"),
    "float32 means x 1e20": ("diag", np.float32, scale_array("means_", 1e20), "means_"),
    "_scale 2**-600": ("spherical", np.float64, set_fitted("_scale", 2.0**-600), "means_"),
    "_scale 2**-1074": ("tied", np.float64, set_fitted("_scale", 2.0**-1074), "means_"),
    "float32 _scale 2**61": ("full", np.float32, set_fitted("_scale", 2.0**61), "_scale"),
    "variances 1e-306": ("full", np.float64, both(scale_array("covariances_", 1e-306),
                                                  scale_array("precisions_cholesky_", 1e153)),
                         "reg_covar"),
    "centres x 1e160": ("kmeans", np.float64, scale_array("cluster_centers_", 1e160),
                        "cluster_centers_"),
    "float32 centres x 1e19": ("kmeans", np.float32, scale_array("cluster_centers_", 1e19),
                               "cluster_centers_"),
    "_shift 1e160": ("kmeans", np.float64,
                     lambda header, arrays: arrays.update(_shift=np.full(3, 1e160)), "_shift"),
    "kmeans _scale 2**-600": ("kmeans", np.float64, set_fitted("_scale", 2.0**-600),
                              "cluster_centers_"),
}


def outputs_break(model, dtype):
    methods = (["predict", "transform", "score"] if isinstance(model, KMeans)
               else ["predict", "predict_proba", "score_samples", "score"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for method in methods:
            try:
                out = np.asarray(getattr(model, method)(X.astype(dtype)))
            except (RuntimeWarning, ArithmeticError):
                return True
            if not np.isfinite(out).all():
                return True
    return False


@pytest.mark.parametrize("case", MAGNITUDES)
def test_parameters_beyond_what_a_fit_produces_are_refused(case, tmp_path):
    kind, dtype, edit, field = MAGNITUDES[case]
    model = fitted(kind, dtype)
    assert not outputs_break(model, dtype)
    path = edited(model, tmp_path, edit)
    message = refused(path, field)
    assert "edited" in message or "fit" in message


@pytest.mark.parametrize("kind", ["full", "tied", "diag", "spherical", "kmeans"])
@pytest.mark.parametrize("magnitude", [1e-300, 1e-30, 1e30, 1e152])
def test_fits_on_tiny_and_huge_data_still_load(kind, magnitude, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = (KMeans(3, random_state=0) if kind == "kmeans" else
                 GaussianMixture(3, covariance_type=kind, random_state=0)).fit(X * magnitude)
    path = tmp_path / "model.mixfit"
    save(model, path)
    np.testing.assert_array_equal(load(path).predict(X * magnitude), model.predict(X * magnitude))


# ---------------------------------------------- covariances vs precision factors


def edit_matrix(name, change):
    def edit(header, arrays):
        array = arrays[name].copy()
        change(array.reshape(-1, 3, 3)[0])
        arrays[name] = array
    return edit


def off_diagonal(matrix):  # symmetric, positive diagonal: only the cross-check sees it
    delta = 0.2 * np.sqrt(matrix[0, 0] * matrix[1, 1])
    matrix[0, 1] += delta
    matrix[1, 0] += delta


def factor_entry(matrix):
    row, col = (0, 1) if np.triu(matrix, 1).any() else (1, 0)
    matrix[row, col] += 0.05 * matrix[row, row]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["full", "tied"])
@pytest.mark.parametrize("edit", [edit_matrix("covariances_", off_diagonal),
                                  edit_matrix("covariances_", lambda m: m.__imul__(1.01)),
                                  edit_matrix("precisions_cholesky_", factor_entry)],
                         ids=["covariance off-diagonal", "covariance x 1.01", "factor entry"])
def test_covariances_must_match_precision_factors(kind, dtype, edit, tmp_path):
    path = edited(fitted(kind, dtype), tmp_path, edit)
    refused(path, r"precisions_cholesky_\[0\] does not match covariances_\[0\]")


def collinear(n=500, seed=0):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, 3))
    return np.hstack([Z, Z @ rng.normal(size=(3, 4)) + 1e-5 * rng.normal(size=(n, 4))])


@pytest.mark.parametrize("kind, dtype, reg_covar", [("tied", np.float32, 0.0),
                                                    ("full", np.float32, 1e-6),
                                                    ("full", np.float64, 0.0)])
def test_ill_conditioned_fits_pass_the_cross_check(kind, dtype, reg_covar, tmp_path):
    # Condition numbers 1e7 to 1e12: C^T Σ C − I reaches 2e3 on the float32 tied one.
    data = collinear().astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = GaussianMixture(3, covariance_type=kind, reg_covar=reg_covar, random_state=0,
                                max_iter=50).fit(data)
    path = tmp_path / "model.mixfit"
    save(model, path)
    np.testing.assert_array_equal(load(path).predict(data), model.predict(data))


def test_lower_triangular_factors_from_precisions_init_pass_the_cross_check(tmp_path):
    precisions = np.array([[[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 3.0]]] * 3)
    model = fitted("full", max_iter=0, weights_init=np.full(3, 1 / 3),
                   means_init=X[[0, 30, 60]], precisions_init=precisions)
    # Factors are upper now; files written before held lower ones for this case.
    model.precisions_cholesky_ = np.linalg.cholesky(precisions)
    assert not np.triu(model.precisions_cholesky_[0], 1).any()
    path = tmp_path / "model.mixfit"
    save(model, path)
    np.testing.assert_array_equal(load(path).predict_proba(X), model.predict_proba(X))


# ------------------------------------------------------------ no crash, ever


def test_accepted_edge_files_predict_without_crashing_the_process(tmp_path):
    from mixfit._validation import MAX_COUNT

    cases = {
        "chunk": (fitted("full"), set_param("chunk_size", MAX_COUNT)),
        "jobs": (fitted("diag"), set_param("n_jobs", -1)),
        "big-centres": (fitted("kmeans"), scale_array("cluster_centers_", 1e150)),
        "tiny-weight": (fitted("spherical"), lambda header, arrays: arrays.update(
            weights_=np.array([5e-324, 0.5, 0.5]))),
    }
    paths = []
    for name, (model, edit) in cases.items():
        (tmp_path / name).mkdir()
        paths.append(str(edited(model, tmp_path / name, edit)))
    np.save(tmp_path / "X.npy", X)
    script = textwrap.dedent(f"""
        import numpy as np, warnings
        from mixfit.io.model_files import load
        X = np.load({str(tmp_path / "X.npy")!r})
        for path in {paths!r}:
            model = load(path)
            methods = (["predict", "transform", "score"] if hasattr(model, "cluster_centers_")
                       else ["predict", "predict_proba", "score_samples", "score", "bic"])
            for method in methods:
                assert np.isfinite(np.asarray(getattr(model, method)(X), dtype=float)).all()
        print("done")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "done" in result.stdout, result.stderr[-2000:]


@pytest.mark.parametrize("kind, attribute, factor", [("full", "means_", 1e160),
                                                     ("kmeans", "cluster_centers_", 1e160)])
def test_save_refuses_a_model_that_load_would_refuse_for_its_magnitudes(
        kind, attribute, factor, tmp_path):
    model = fitted(kind)
    setattr(model, attribute, getattr(model, attribute) * factor)
    with pytest.raises(ValueError, match=f"cannot save this .*{attribute}"):
        save(model, tmp_path / "model.mixfit")
    assert list(tmp_path.iterdir()) == []
