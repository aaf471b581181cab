"""The command line a new user meets (issue 11): a fast --help with examples, and
fit --json covariances, info's BIC/AIC and columns, --reg-covar, --n-init and
--standardize, with the model-file fields they add."""

import json
import shlex
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from conftest import make_blobs

import mixfit
from mixfit import GaussianMixture, KMeans
from mixfit import cli
from mixfit import io as model_io
from mixfit.cli.help import EPILOGS

HEAVY = ("sklearn", "numba", "matplotlib", "scipy")


def run_cli(capsys, *argv):
    code = cli.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write_csv(path, X, names):
    lines = [",".join(names)] + [",".join(repr(float(v)) for v in row) for row in X]
    path.write_text("\n".join(lines) + "\n")
    return path


def labels_of(text):
    lines = text.splitlines()
    assert lines[0] == "label"
    return np.array([int(line) for line in lines[1:]])


def same_partition(a, b):
    """Whether two labelings group the rows alike, whatever numbers they give the groups."""
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.fixture(scope="module")
def X():
    return make_blobs()[0]


@pytest.fixture
def data(tmp_path, X):
    return write_csv(tmp_path / "data.csv", X, ["x", "y"])


# --------------------------------------------------------------------------- #
# A fast --help: no heavy import before a command runs
# --------------------------------------------------------------------------- #


def test_help_version_and_usage_errors_import_no_heavy_module():
    # What `mixfit --help` costs is what it imports: scikit-learn, numba, scipy and
    # matplotlib take seconds, so none may be loaded before a command runs.
    script = (
        "import contextlib, io, sys\n"
        "from mixfit import cli\n"
        "codes = []\n"
        "sink = io.StringIO()\n"
        "with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):\n"
        "    for argv in (['--help'], ['fit', '--help'], ['predict', '--help'], ['--version'],\n"
        "                 ['fit'], ['fit', 'x.csv', '--bogus'], ['info', '--help']):\n"
        "        codes.append(cli.main(argv))\n"
        f"print(codes, sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[0, 0, 0, 0, 2, 2, 0] []"


def test_package_names_load_on_first_use():
    # mixfit/__init__.py defers its imports (PEP 562): `import mixfit` is light,
    # and every public name still resolves, also through `from mixfit import *`.
    script = ("import sys, mixfit\n"
              "light = 'sklearn' not in sys.modules\n"
              "namespace = {}\n"
              "exec('from mixfit import *', namespace)\n"
              "print(light, sorted(n for n in mixfit.__all__ if n not in namespace),\n"
              "      namespace['GaussianMixture'].__module__)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "[]", "mixfit.estimators.gaussian_mixture"]
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        mixfit.nonexistent  # noqa: B018
    assert "KMeans" in dir(mixfit)


def test_console_script_help_ends_with_examples():
    result = subprocess.run([sys.executable, "-m", "mixfit", "--help"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "examples:\n  mixfit fit data.csv -k 3 --out model.mixfit" in result.stdout


@pytest.mark.parametrize("command", ["fit", "predict", "info", "demo"])
def test_every_command_help_has_examples_and_wrapped_descriptions(capsys, command):
    code, out, _ = run_cli(capsys, command, "--help")
    assert code == 0
    examples = out.split("examples:\n", 1)[1]
    lines = [line for line in examples.splitlines() if line.startswith(f"  mixfit {command}")]
    assert 2 <= len(lines) <= 4, examples
    # The examples keep their line breaks; the one-line descriptions are still wrapped.
    assert max(len(line) for line in out.split("examples:")[0].splitlines()) <= 100


def test_help_examples_run_as_written(tmp_path, capsys, monkeypatch, X):
    # The fit, predict and info examples of every --help, on files of the names they use.
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "data.csv", X, ["height", "weight"])
    write_csv(tmp_path / "new.csv", X[::7], ["height", "weight"])
    commands = []
    for text in EPILOGS.values():
        for line in text.splitlines():
            if line.startswith("  mixfit ") and not line.startswith("  mixfit demo"):
                commands.append(shlex.split(line.split("    ")[0])[1:])
    commands.sort(key=lambda argv: argv[0] != "fit")  # a model file first
    assert len(commands) >= 10
    for argv in commands:
        code, _, err = run_cli(capsys, *argv)
        assert code == 0, (argv, err)


# --------------------------------------------------------------------------- #
# fit --json covariances; info's BIC, AIC and columns
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("covariance, shape", [("full", (3, 2, 2)), ("diag", (3, 2)),
                                                ("spherical", (3,)), ("tied", (2, 2))])
def test_fit_json_holds_the_covariances(capsys, data, X, covariance, shape):
    code, out, _ = run_cli(capsys, "fit", data, "-k", 3, "--covariance", covariance, "--json")
    assert code == 0
    document = json.loads(out)
    assert document["covariance_type"] == covariance
    reference = GaussianMixture(3, covariance_type=covariance, random_state=0).fit(X)
    assert np.shape(document["parameters"]["covariances"]) == shape
    np.testing.assert_allclose(document["parameters"]["covariances"], reference.covariances_,
                               rtol=1e-6, atol=1e-9)


def test_fit_json_of_kmeans_has_no_covariances(capsys, data):
    code, out, _ = run_cli(capsys, "fit", data, "--model", "kmeans", "-k", 3, "--json")
    assert code == 0
    assert set(json.loads(out)["parameters"]) == {"cluster_centers"}


def test_info_reports_bic_aic_and_columns_of_the_training_data(tmp_path, capsys, data, X):
    model = tmp_path / "m.mixfit"
    assert run_cli(capsys, "fit", data, "-k", 3, "--out", model, "-q")[0] == 0
    reference = GaussianMixture(3, random_state=0).fit(X)
    code, out, _ = run_cli(capsys, "info", model, "--json")
    assert code == 0
    document = json.loads(out)
    assert document["bic"] == pytest.approx(reference.bic(X), rel=1e-9)
    assert document["aic"] == pytest.approx(reference.aic(X), rel=1e-9)
    assert document["training_n_samples"] == len(X)
    assert document["columns"] == ["x", "y"]
    code, out, _ = run_cli(capsys, "info", model)
    assert f"BIC, AIC        {reference.bic(X):.6g}, {reference.aic(X):.6g} on {len(X)}" in out
    assert "columns         x, y" in out


def test_info_names_the_column_indices_of_data_without_names(tmp_path, capsys, X):
    data = tmp_path / "data.npy"
    np.save(data, np.column_stack([X[:, 0], np.ones(len(X)), X[:, 1]]))
    model = tmp_path / "m.mixfit"
    assert run_cli(capsys, "fit", data, "--columns", "0,2", "--out", model, "-q")[0] == 0
    document = json.loads(run_cli(capsys, "info", model, "--json")[1])
    assert document["columns"] is None and document["column_indices"] == [0, 2]
    assert "0, 2 by position" in run_cli(capsys, "info", model)[1]


def test_model_files_without_the_training_record_still_load(tmp_path, capsys, X):
    # A model saved by the library (as every file before this change) has no
    # _train_* or _standardize_* fields: it loads, predicts, and info says so.
    model = tmp_path / "old.mixfit"
    model_io.save(GaussianMixture(2, random_state=0).fit(X), model)
    with zipfile.ZipFile(model) as archive:
        fitted = json.loads(archive.read("model.json"))["fitted"]
    assert not [key for key in fitted if key.startswith(("_train", "_standardize"))]
    code, out, _ = run_cli(capsys, "info", model, "--json")
    assert code == 0
    document = json.loads(out)
    assert "bic" not in document and document["standardize"] is None
    assert "not recorded in this file" in run_cli(capsys, "info", model)[1]
    kmeans = tmp_path / "k.mixfit"
    model_io.save(KMeans(2, random_state=0).fit(X), kmeans)
    assert "K-means has no likelihood" in run_cli(capsys, "info", kmeans)[1]


def test_training_record_and_standardization_survive_save_and_load(tmp_path, capsys, data):
    model = tmp_path / "m.mixfit"
    assert run_cli(capsys, "fit", data, "--standardize", "--out", model, "-q")[0] == 0
    loaded = model_io.load(model)
    assert loaded._train_n_samples == 370 and np.isfinite(loaded._train_score)
    assert len(loaded._standardize_mean) == len(loaded._standardize_scale) == 2
    # Saved again by the library, the fields go along.
    again = tmp_path / "again.mixfit"
    model_io.save(loaded, again)
    reloaded = model_io.load(again)
    assert reloaded._standardize_scale == loaded._standardize_scale
    assert reloaded._train_score == loaded._train_score



@pytest.mark.parametrize("estimator", ["gmm", "kmeans"])
def test_a_refit_in_python_forgets_what_the_cli_recorded(tmp_path, capsys, scaled, estimator):
    # A model written by `mixfit fit --standardize --columns`, refitted in Python on
    # raw data and saved again: keeping the standardization would make `predict`
    # z-score data the new fit never saw z-scored (a wrong answer with exit 0).
    raw_path, _, raw, _ = scaled
    model = tmp_path / "m.mixfit"
    code, _, _ = run_cli(capsys, "fit", raw_path, "--model", estimator, "-k", 2,
                         "--standardize", "--out", model, "-q")
    assert code == 0
    loaded = model_io.load(model)
    assert hasattr(loaded, "_standardize_mean")
    assert hasattr(loaded, "_train_score") == (estimator == "gmm")  # K-means has no BIC
    loaded.fit(raw)
    for name in ("_column_indices", "_train_score", "_train_n_samples",
                 "_standardize_mean", "_standardize_scale"):
        assert not hasattr(loaded, name), name
    refitted = tmp_path / "refitted.mixfit"
    model_io.save(loaded, refitted)
    code, out, _ = run_cli(capsys, "predict", refitted, raw_path)
    assert code == 0
    np.testing.assert_array_equal(labels_of(out), loaded.predict(raw))


def _edit_fitted(path, target, edit):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = json.loads(members["model.json"])
    edit(header["fitted"])
    members["model.json"] = json.dumps(header).encode()
    with zipfile.ZipFile(target, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return target


@pytest.mark.parametrize("edit, needle", [
    (lambda fitted: fitted.pop("_train_n_samples"), "both or neither"),
    (lambda fitted: fitted.pop("_standardize_scale"), "both or neither"),
    (lambda fitted: fitted["_standardize_mean"].append(0.0), "must hold 2 values"),
    (lambda fitted: fitted["_standardize_scale"].__setitem__(0, 0.0), "must be positive"),
    (lambda fitted: fitted.__setitem__("_train_score", "nan"), "_train_score must be"),
])
def test_damaged_training_fields_are_refused(tmp_path, capsys, data, edit, needle):
    model = tmp_path / "m.mixfit"
    assert run_cli(capsys, "fit", data, "--standardize", "--out", model, "-q")[0] == 0
    damaged = _edit_fitted(model, tmp_path / "damaged.mixfit", edit)
    with pytest.raises(mixfit.ModelFileError, match=needle):
        model_io.load(damaged)


# --------------------------------------------------------------------------- #
# --reg-covar and --n-init
# --------------------------------------------------------------------------- #


def test_reg_covar_reaches_the_mixture(tmp_path, capsys, data, X):
    model = tmp_path / "m.mixfit"
    code, out, _ = run_cli(capsys, "fit", data, "--covariance", "diag", "--reg-covar", 5,
                           "--out", model, "--json")
    assert code == 0
    # Every variance holds reg_covar on top of the data's own.
    assert np.min(json.loads(out)["parameters"]["covariances"]) >= 5
    reference = GaussianMixture(2, covariance_type="diag", reg_covar=5.0, random_state=0).fit(X)
    np.testing.assert_allclose(json.loads(out)["parameters"]["means"], reference.means_,
                               rtol=1e-6)
    assert model_io.load(model).reg_covar == 5.0


@pytest.mark.parametrize("value, needle", [("-1", "reg_covar must be a finite number >= 0"),
                                           ("nan", "reg_covar must be a finite number"),
                                           ("lots", "invalid float value")])
def test_bad_reg_covar_is_one_line(capsys, data, value, needle):
    code, out, err = run_cli(capsys, "fit", data, "--reg-covar", value)
    assert code == 2 and out == "" and needle in err and len(err.splitlines()) == 1


def test_reg_covar_with_kmeans_is_a_usage_error(capsys, data):
    code, _, err = run_cli(capsys, "fit", data, "--model", "kmeans", "--reg-covar", "1")
    assert code == 2 and "--reg-covar applies to --model gmm only" in err


@pytest.mark.parametrize("model, estimator", [("gmm", GaussianMixture), ("kmeans", KMeans)])
def test_n_init_reaches_both_models(tmp_path, capsys, data, X, model, estimator):
    path = tmp_path / "m.mixfit"
    code, out, _ = run_cli(capsys, "fit", data, "--model", model, "-k", 3, "--n-init", 4,
                           "--seed", 3, "--out", path, "--json")
    assert code == 0
    assert model_io.load(path).n_init == 4
    reference = estimator(3, n_init=4, random_state=3).fit(X)
    centres = "means" if model == "gmm" else "cluster_centers"
    np.testing.assert_allclose(json.loads(out)["parameters"][centres],
                               getattr(reference, f"{centres}_"), rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- #
# --standardize
# --------------------------------------------------------------------------- #


@pytest.fixture
def scaled(tmp_path):
    """Two groups apart in column a only; column b is noise a thousand times larger."""
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.normal(0, 1, 150), rng.normal(8, 1, 150)])
    b = rng.normal(0, 3000, 300)
    raw = np.column_stack([a, b])
    z = (raw - raw.mean(axis=0)) / raw.std(axis=0)
    return (write_csv(tmp_path / "raw.csv", raw, ["a", "b"]),
            write_csv(tmp_path / "z.csv", z, ["a", "b"]), raw, np.repeat([0, 1], 150))


def test_standardize_clusters_as_on_standardized_data(tmp_path, capsys, scaled):
    raw_path, z_path, raw, truth = scaled
    fit = ("fit", "--model", "kmeans", "-k", 2, "--labels", "-", "-q")
    code, out, _ = run_cli(capsys, *fit, raw_path, "--standardize")
    assert code == 0
    standardized = labels_of(out)
    on_z = labels_of(run_cli(capsys, *fit, z_path)[1])
    unscaled = labels_of(run_cli(capsys, *fit, raw_path)[1])
    assert same_partition(standardized, on_z) and same_partition(standardized, truth)
    # Without it, K-means splits the large noise column instead: the option matters here.
    assert not same_partition(unscaled, truth)


def test_predict_standardizes_new_data_as_fit_did(tmp_path, capsys, scaled):
    raw_path, _, raw, _ = scaled
    model, labels = tmp_path / "m.mixfit", tmp_path / "labels.csv"
    code, _, _ = run_cli(capsys, "fit", raw_path, "--standardize", "--out", model,
                         "--labels", labels, "-q")
    assert code == 0
    code, out, _ = run_cli(capsys, "predict", model, raw_path)
    assert code == 0
    np.testing.assert_array_equal(labels_of(out), labels_of(labels.read_text()))
    # The stored means and stds are those of the training columns.
    loaded = model_io.load(model)
    np.testing.assert_allclose(loaded._standardize_mean, raw.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(loaded._standardize_scale, raw.std(axis=0), rtol=1e-12)
    # Unstandardized, the rows sit far from the standardized means: other labels.
    del loaded.feature_names_in_  # raw is an ndarray; matched by position here
    assert not np.array_equal(loaded.predict(raw), labels_of(out))


def test_fit_and_info_show_the_standardization(tmp_path, capsys, scaled):
    raw_path, _, raw, _ = scaled
    model = tmp_path / "m.mixfit"
    code, out, _ = run_cli(capsys, "fit", raw_path, "--standardize", "--out", model, "--json")
    assert code == 0
    np.testing.assert_allclose(json.loads(out)["standardize"]["stds"], raw.std(axis=0))
    assert "standardize" not in json.loads(run_cli(capsys, "fit", raw_path, "--json")[1])
    assert "standardized units" in run_cli(capsys, "fit", raw_path, "--standardize")[1]
    document = json.loads(run_cli(capsys, "info", model, "--json")[1])
    np.testing.assert_allclose(document["standardize"]["means"], raw.mean(axis=0))
    np.testing.assert_allclose(document["standardize"]["stds"], raw.std(axis=0))
    out = run_cli(capsys, "info", model)[1]
    assert "standardize     yes: columns z-scored" in out
    plain = tmp_path / "plain.mixfit"
    assert run_cli(capsys, "fit", raw_path, "--out", plain, "-q")[0] == 0
    assert "standardize     no" in run_cli(capsys, "info", plain)[1]


def test_standardize_takes_a_constant_column_as_is_with_a_note(tmp_path, capsys, X):
    data = write_csv(tmp_path / "c.csv", np.column_stack([X, np.full(len(X), 7.0)]),
                     ["x", "y", "flat"])
    model = tmp_path / "m.mixfit"
    code, _, err = run_cli(capsys, "fit", data, "-k", 3, "--covariance", "diag",
                           "--standardize", "--out", model, "-q")
    assert code == 0
    assert "note: column(s) 'flat' are constant" in err
    loaded = model_io.load(model)
    assert loaded._standardize_scale[2] == 1.0 and loaded._standardize_mean[2] == 7.0
    assert np.isfinite(loaded.means_).all()


# --------------------------------------------------------------------------- #
# Messages at predict time
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("model", ["gmm", "kmeans"])
def test_predict_errors_do_not_speak_of_fitting(tmp_path, capsys, data, model):
    path = tmp_path / "m.mixfit"
    assert run_cli(capsys, "fit", data, "--model", model, "--out", path, "-q")[0] == 0
    huge = tmp_path / "huge.csv"
    huge.write_text("x,y\n1e300,1\n2,3\n")
    code, _, err = run_cli(capsys, "predict", path, huge)
    assert code == 2 and "beyond" in err
    assert "before fitting" not in err and "fitted on" in err


def test_a_missing_value_is_named_by_the_files_column_name(tmp_path, capsys, X):
    # The estimator sees an ndarray; the CLI knows the header and names the column.
    # (K-means: the mixture fits missing values, see test_cli_missing.py.)
    good = write_csv(tmp_path / "good.csv", X, ["width", "height"])
    holed = X.copy()
    holed[7, 1] = np.nan
    bad = write_csv(tmp_path / "bad.csv", holed, ["width", "height"])
    code, _, err = run_cli(capsys, "fit", bad, "--model", "kmeans", "-q")
    assert code == 2 and "bad.csv' contains 1 NaN value(s), in column(s) 'height'" in err
    model = tmp_path / "m.mixfit"
    assert run_cli(capsys, "fit", good, "--model", "kmeans", "--out", model, "-q")[0] == 0
    # At predict time the columns are matched by name, in any order.
    reordered = write_csv(tmp_path / "reordered.csv", holed[:, ::-1], ["height", "width"])
    code, _, err = run_cli(capsys, "predict", model, reordered)
    assert code == 2 and "in column(s) 'height'" in err
    # Without a header there is no name to give: the index it is.
    headerless = tmp_path / "headerless.csv"
    headerless.write_text("\n".join(",".join(repr(float(v)) for v in row) for row in holed) + "\n")
    code, _, err = run_cli(capsys, "fit", headerless, "--model", "kmeans", "-q")
    assert code == 2 and "in column(s) 1;" in err
