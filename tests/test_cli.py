"""The ``mixfit`` command through its entry point and as a subprocess."""

import re
import subprocess
import sys

import pytest

from mixfit.cli import commands as cli


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One quick demo through the console entry point, shared by the tests below."""
    out = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [sys.executable, "-m", "mixfit", "demo", "--quick", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    return out, result


def test_demo_runs_end_to_end(demo_run):
    out, result = demo_run
    assert result.returncode == 0, result.stderr
    assert f"open {(out / 'index.html').resolve()}" in result.stdout


def test_demo_writes_every_file_the_page_references(demo_run):
    out, _ = demo_run
    page = (out / "index.html").read_text(encoding="utf-8")
    referenced = re.findall(r'<img src="([^"]+)"', page)
    # The lecture's sequence: data, K-means, poor init, non-spherical, EM
    # posteriors, log-likelihood, full covariances, digits gallery, animation.
    for prefix in ("01_", "02_", "03_", "04_", "05_", "06_", "07_", "08_", "09_"):
        assert any(name.startswith(prefix) for name in referenced), prefix
    for name in referenced:
        path = out / name
        assert path.is_file() and path.stat().st_size > 1000, name


def test_demo_prints_a_summary_table(demo_run):
    _, result = demo_run
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("model"))
    assert all(word in header for word in ("iterations", "log-likelihood", "NMI"))
    # The identity mixture on the lecture's well-separated data finds the clusters.
    row = next(line for line in lines if line.startswith("GMM identity K=3"))
    assert float(row.split()[-2]) > 0.9


def test_demo_with_a_missing_mnist_folder_exits_2(tmp_path, capsys):
    code = cli.main(["demo", "--quick", "--out", str(tmp_path / "o"),
                     "--mnist", str(tmp_path / "nowhere")])
    assert code == 2
    err = capsys.readouterr().err
    assert "no such folder" in err and "Traceback" not in err


def test_console_script_without_command_exits_2():
    result = subprocess.run(
        [sys.executable, "-m", "mixfit"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "usage: mixfit" in result.stderr




# --------------------------------------------------------------------------- #
# fit, predict, info
# --------------------------------------------------------------------------- #

import json  # noqa: E402

import numpy as np  # noqa: E402
from conftest import make_blobs  # noqa: E402

from mixfit import GaussianMixture, KMeans  # noqa: E402
from mixfit.datasets import write_idx  # noqa: E402

GMM_KEYS = {"model", "n_components", "covariance_type", "n_samples", "n_features", "columns",
            "parameters", "n_iter", "converged", "log_likelihood", "bic", "aic",
            "time_seconds", "model_path"}
KMEANS_KEYS = GMM_KEYS - {"covariance_type", "log_likelihood", "bic", "aic"} | {"inertia"}


@pytest.fixture(scope="module")
def X():
    return make_blobs()[0]


@pytest.fixture
def csv_with_header(tmp_path, X):
    """Columns x, y and a text column that has to be left out with --columns."""
    path = tmp_path / "data.csv"
    rows = [f"{a!r},{b!r},s{i % 3}" for i, (a, b) in enumerate(X.tolist())]
    lines = ["x,y,species", *rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_cli(capsys, *argv):
    code = cli.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def read_column(path_or_text, header="label"):
    text = path_or_text.read_text() if hasattr(path_or_text, "read_text") else path_or_text
    lines = text.splitlines()
    assert lines[0] == header
    return np.array([int(line) for line in lines[1:]])


def assert_one_line_error(code, err, command, expected_code=2):
    assert code == expected_code
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"mixfit {command}: ")


def test_fit_then_predict_csv_with_header(tmp_path, capsys, csv_with_header, X):
    model, labels = tmp_path / "m.mixfit", tmp_path / "labels.csv"
    code, out, err = run_cli(capsys, "fit", csv_with_header, "-k", 3, "--columns", "x,y",
                             "--out", model, "--labels", labels)
    assert code == 0, err
    assert "samples x 2 features (x, y)" in out and str(model) in out
    # The CLI fits what the library fits with the same settings.
    expected = GaussianMixture(3, random_state=0).fit(X).predict(X)
    np.testing.assert_array_equal(read_column(labels), expected)
    code, out, err = run_cli(capsys, "predict", model, csv_with_header, "--columns", "x,y")
    assert code == 0, err
    np.testing.assert_array_equal(read_column(out), expected)


def test_fit_then_predict_proba_csv_without_header(tmp_path, capsys, X):
    data, model, proba = tmp_path / "d.csv", tmp_path / "m.mixfit", tmp_path / "p.csv"
    np.savetxt(data, X, delimiter=",")
    code, out, err = run_cli(capsys, "fit", data, "-k", 3, "--covariance", "diag",
                             "--out", model, "--quiet")
    assert code == 0 and out == "" and err == ""
    code, out, _ = run_cli(capsys, "predict", model, data, "--proba", "--out", proba)
    assert code == 0 and str(proba) in out
    lines = proba.read_text().splitlines()
    assert lines[0] == "p0,p1,p2" and len(lines) == len(X) + 1
    P = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    np.testing.assert_allclose(P.sum(axis=1), 1)
    fitted = GaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    np.testing.assert_allclose(P, fitted.predict_proba(X), rtol=1e-12, atol=1e-15)


def test_fit_kmeans_on_npy_with_json(tmp_path, capsys, X):
    data, model = tmp_path / "x.npy", tmp_path / "km.mixfit"
    np.save(data, X)
    code, out, err = run_cli(capsys, "fit", data, "--model", "kmeans", "-k", 3, "--n-init", 2,
                             "--seed", 5, "--json", "--out", model)
    assert code == 0, err
    document = json.loads(out)
    assert set(document) == KMEANS_KEYS
    reference = KMeans(3, n_init=2, random_state=5).fit(X)
    assert document["inertia"] == pytest.approx(reference.inertia_)
    np.testing.assert_allclose(document["parameters"]["cluster_centers"],
                               reference.cluster_centers_)
    assert document["model_path"] == str(model) and document["columns"] is None
    code, out, _ = run_cli(capsys, "predict", model, data)
    np.testing.assert_array_equal(read_column(out), reference.labels_)


def test_fit_gmm_json_holds_the_documented_keys(capsys, csv_with_header, X):
    code, out, _ = run_cli(capsys, "fit", csv_with_header, "--columns", "0,1", "-k", 3,
                           "--json")
    document = json.loads(out)
    assert code == 0 and set(document) == GMM_KEYS
    reference = GaussianMixture(3, random_state=0).fit(X)
    assert document["model"] == "gmm" and document["covariance_type"] == "full"
    assert (document["n_samples"], document["n_features"]) == X.shape
    assert document["columns"] == ["x", "y"] and document["model_path"] is None
    assert document["log_likelihood"] == pytest.approx(reference.score(X))
    assert document["bic"] == pytest.approx(reference.bic(X))
    assert document["aic"] == pytest.approx(reference.aic(X))
    assert document["n_iter"] == reference.n_iter_ and document["converged"] is True
    np.testing.assert_allclose(document["parameters"]["weights"], reference.weights_)
    np.testing.assert_allclose(document["parameters"]["means"], reference.means_)


def test_json_gives_shapes_only_for_large_models(tmp_path, capsys):
    data = tmp_path / "wide.npy"
    np.save(data, np.random.default_rng(0).normal(size=(80, 40)))
    code, out, _ = run_cli(capsys, "fit", data, "--model", "kmeans", "-k", 30, "--json")
    parameters = json.loads(out)["parameters"]
    assert code == 0
    assert parameters["shapes"] == {"cluster_centers": [30, 40]}
    assert "1200" in parameters["note"] and "cluster_centers" not in parameters


def test_fit_and_predict_on_idx_images(tmp_path, capsys):
    blobs, _ = make_blobs(n_per=(60, 60), n_features=4, separation=20.0, seed=2)
    pixels = np.clip(np.round(blobs - blobs.min() + 10), 0, 255).astype(np.uint8)
    data, model = tmp_path / "images-idx3-ubyte.gz", tmp_path / "m.mixfit"
    write_idx(data, pixels.reshape(-1, 2, 2))
    code, out, err = run_cli(capsys, "fit", data, "-k", 2, "--covariance", "spherical",
                             "--json", "--out", model)
    assert code == 0, err
    assert json.loads(out)["n_features"] == 4
    code, out, _ = run_cli(capsys, "predict", model, data)
    labels = read_column(out)
    # Two well-separated groups of 60 images each.
    assert sorted(np.bincount(labels)) == [60, 60]


def test_info_on_saved_models(tmp_path, capsys, X):
    data, model = tmp_path / "x.npy", tmp_path / "m.mixfit"
    np.save(data, X)
    run_cli(capsys, "fit", data, "-k", 3, "--covariance", "tied", "--n-init", 2,
            "--out", model)
    code, out, err = run_cli(capsys, "info", model)
    assert code == 0, err
    assert "GaussianMixture, covariance tied" in out and "K=3, d=2, float64" in out
    assert "n_init=2" in out and "covariance_type='tied'" in out
    code, out, _ = run_cli(capsys, "info", model, "--json")
    document = json.loads(out)
    reference = GaussianMixture(3, covariance_type="tied", n_init=2, random_state=0).fit(X)
    assert document["class"] == "GaussianMixture" and document["n_features"] == 2
    assert document["non_default_parameters"] == {
        "n_components": 3, "covariance_type": "tied", "n_init": 2, "random_state": 0}
    assert document["n_iter"] == reference.n_iter_ and document["converged"] is True
    assert document["lower_bound"] == pytest.approx(reference.lower_bound_)
    np.testing.assert_allclose(document["parameters"]["weights"], reference.weights_)

    run_cli(capsys, "fit", data, "--model", "kmeans", "-k", 3, "--out", model)
    code, out, _ = run_cli(capsys, "info", model, "--json")
    document = json.loads(out)
    assert document["class"] == "KMeans" and document["inertia"] > 0
    assert np.shape(document["parameters"]["cluster_centers"]) == (3, 2)


def test_predict_with_the_wrong_number_of_features(tmp_path, capsys, csv_with_header):
    model = tmp_path / "m.mixfit"
    run_cli(capsys, "fit", csv_with_header, "--columns", "x,y", "--out", model)
    code, out, err = run_cli(capsys, "predict", model, csv_with_header, "--columns", "x",
                             "--out", tmp_path / "p.csv")
    assert_one_line_error(code, err, "predict")
    assert "fitted on 2 feature(s)" in err and "gives 1" in err and "--columns" in err
    assert out == "" and not (tmp_path / "p.csv").exists()


def test_proba_of_kmeans_is_a_usage_error(tmp_path, capsys, X):
    data, model = tmp_path / "x.npy", tmp_path / "km.mixfit"
    np.save(data, X)
    run_cli(capsys, "fit", data, "--model", "kmeans", "--out", model)
    code, _, err = run_cli(capsys, "predict", model, data, "--proba")
    assert_one_line_error(code, err, "predict")
    assert "--proba" in err and "KMeans" in err


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["-k", "0"], "must be a whole number >= 1"),
        (["--model", "kmeans", "--covariance", "full"], "--covariance applies to --model gmm"),
        (["--columns", "height"], "no column 'height'"),
        (["-k", "500"], "n_components"),
    ],
    ids=["unknown-option", "k=0", "kmeans-covariance", "unknown-column", "k>n"],
)
def test_bad_usage_exits_2_and_writes_nothing(tmp_path, capsys, csv_with_header, argv, needle):
    model, labels = tmp_path / "m.mixfit", tmp_path / "labels.csv"
    code, out, err = run_cli(capsys, "fit", csv_with_header, "--columns", "x,y",
                             "--out", model, "--labels", labels, *argv)
    assert_one_line_error(code, err, "fit")
    assert needle in err and out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


@pytest.mark.parametrize(
    "content, options, needle",
    [
        # An empty cell is a missing value: K-means refuses it (the mixture fits it,
        # see test_cli_missing.py).
        ("x,y\n1,2\n3,\n4,5\n6,7\n", ["--model", "kmeans"], "NaN"),
        ("x,y\n1,2\n3,4\n5,abc\n", [], 'line 4, column "y": "abc" is not a number'),
    ],
    ids=["nan", "non-numeric"],
)
def test_bad_data_exits_2_and_writes_nothing(tmp_path, capsys, content, options, needle):
    data = tmp_path / "data.csv"
    data.write_text(content)
    code, out, err = run_cli(capsys, "fit", data, *options, "--out", tmp_path / "m.mixfit",
                             "--labels", tmp_path / "l.csv")
    assert_one_line_error(code, err, "fit")
    assert needle in err and out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]


def test_missing_files_exit_2(tmp_path, capsys):
    code, _, err = run_cli(capsys, "fit", tmp_path / "nowhere.csv")
    assert_one_line_error(code, err, "fit")
    assert "nowhere.csv" in err and "does not exist" in err
    code, _, err = run_cli(capsys, "info", tmp_path / "nowhere.mixfit")
    assert_one_line_error(code, err, "info")
    assert "nowhere.mixfit" in err and "--out MODEL" in err
    code, _, err = run_cli(capsys, "fit", tmp_path / "nowhere.csv",
                           "--out", tmp_path / "no" / "m.mixfit")
    assert_one_line_error(code, err, "fit")
    assert "does not exist; create it first" in err


def test_corrupt_model_file_exits_2(tmp_path, capsys, X):
    model, data = tmp_path / "m.mixfit", tmp_path / "x.npy"
    model.write_bytes(b"PK\x03\x04 this is not really a zip archive")
    np.save(data, X)
    for argv in (["info", model], ["predict", model, data, "--out", tmp_path / "p.csv"]):
        code, out, err = run_cli(capsys, *argv)
        assert_one_line_error(code, err, argv[0])
        assert "m.mixfit" in err and out == ""
    assert not (tmp_path / "p.csv").exists()


def test_same_file_for_model_and_labels_is_refused(tmp_path, capsys, csv_with_header):
    target = tmp_path / "out"
    code, _, err = run_cli(capsys, "fit", csv_with_header, "--columns", "x,y",
                           "--out", target, "--labels", target)
    assert_one_line_error(code, err, "fit")
    assert not target.exists()


def test_unexpected_error_exits_1_traceback_only_with_debug(tmp_path, capsys, monkeypatch,
                                                            csv_with_header):
    def broken_fit(self, X, y=None, sample_weight=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(GaussianMixture, "fit", broken_fit)
    argv = ["fit", csv_with_header, "--columns", "x,y", "--labels", tmp_path / "l.csv"]
    code, out, err = run_cli(capsys, *argv)
    assert_one_line_error(code, err, "fit", expected_code=1)
    assert "RuntimeError: boom" in err and "--debug" in err and out == ""
    code, _, err = run_cli(capsys, *argv, "--debug")
    assert code == 1
    assert "Traceback" in err and "broken_fit" in err
    assert err.splitlines()[-1].startswith("mixfit fit: unexpected error: RuntimeError: boom")
    assert not (tmp_path / "l.csv").exists()


def test_existing_output_survives_a_failed_fit(tmp_path, capsys, csv_with_header):
    labels = tmp_path / "labels.csv"
    labels.write_text("label\n7\n")
    code, _, _ = run_cli(capsys, "fit", csv_with_header, "--labels", labels)  # text column
    assert code == 2 and labels.read_text() == "label\n7\n"
    code, _, _ = run_cli(capsys, "fit", csv_with_header, "--columns", "x,y", "--labels", labels)
    assert code == 0 and len(labels.read_text().splitlines()) == 371
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.fixture
def terminal(monkeypatch):
    """Pretend stderr is a terminal and draw progress at once."""
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0.0)
    monkeypatch.setattr(cli, "PROGRESS_INTERVAL", 0.0)
    monkeypatch.setattr(cli, "_stderr_is_terminal", lambda: True)


@pytest.mark.parametrize("model, quantity", [("gmm", "log-likelihood"), ("kmeans", "inertia")])
def test_progress_line_on_a_terminal(capsys, terminal, csv_with_header, model, quantity):
    code, _, err = run_cli(capsys, "fit", csv_with_header, "--columns", "x,y", "-k", 3,
                           "--model", model, "--n-init", 2)
    assert code == 0
    assert err.startswith(f"\riteration 1: {quantity} ")
    assert f"\riteration 2: {quantity} " in err and ", change " in err
    assert "\rrun 2, iteration 1: " in err  # the second initialisation
    assert err.endswith("\n") and err.count("\n") == 1


def test_progress_line_respects_quiet_and_waits(capsys, monkeypatch, terminal, csv_with_header):
    argv = ["fit", csv_with_header, "--columns", "x,y", "-k", 3]
    code, _, err = run_cli(capsys, *argv, "--quiet")
    assert code == 0 and err == ""
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 60.0)  # a quick fit draws nothing
    code, _, err = run_cli(capsys, *argv)
    assert code == 0 and err == ""


def test_progress_line_is_silent_off_a_terminal(capsys, monkeypatch, csv_with_header):
    monkeypatch.setattr(cli, "PROGRESS_DELAY", 0.0)
    code, _, err = run_cli(capsys, "fit", csv_with_header, "--columns", "x,y", "-k", 3)
    assert code == 0 and err == ""  # capsys' stderr is not a terminal


@pytest.mark.parametrize("model", ["gmm", "kmeans"])
def test_convergence_warning_is_one_line(capsys, csv_with_header, model):
    code, out, err = run_cli(capsys, "fit", csv_with_header, "--columns", "x,y", "-k", 3,
                             "--model", model, "--max-iter", 1, "--json")
    assert code == 0
    assert json.loads(out)["converged"] is False
    assert len(err.splitlines()) == 1 and err.startswith("mixfit fit: warning: ")
    assert "did not converge" in err and "ConvergenceWarning" not in err


def test_help_exits_0(capsys):
    code, out, _ = run_cli(capsys, "fit", "--help")
    assert code == 0 and "--covariance" in out and "default 2" in out


# A few runs through a real process: exit codes and streams end to end.


def run_process(*argv, cwd=None):
    return subprocess.run([sys.executable, "-m", "mixfit", *map(str, argv)],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def test_process_fit_json_then_predict(tmp_path, X):
    data, model = tmp_path / "x.csv", tmp_path / "m.mixfit"
    np.savetxt(data, X, delimiter="\t", header="a\tb", comments="")
    fitted = run_process("fit", data, "-k", 3, "--json", "--out", model)
    assert fitted.returncode == 0, fitted.stderr
    assert json.loads(fitted.stdout)["columns"] == ["a", "b"]
    assert fitted.stderr == ""
    predicted = run_process("predict", model, data)
    assert predicted.returncode == 0 and len(predicted.stdout.splitlines()) == len(X) + 1


def test_process_bad_input_exits_2_with_one_line(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("x,y\n1,2\n3,nan\n4,5\n")  # a missing value, which K-means refuses
    result = run_process("fit", data, "--model", "kmeans", "--labels", tmp_path / "l.csv")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("mixfit fit: ")
    assert "Traceback" not in result.stderr and not (tmp_path / "l.csv").exists()
