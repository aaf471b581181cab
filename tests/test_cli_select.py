"""``mixfit select`` on the command line, and the demo's "choosing K" section."""

import json

import numpy as np
import pytest

import mixfit
from mixfit.cli import commands as cli
from mixfit.cli import demo
from mixfit.cli import select as select_cli

# Few models and components keep every test to a fraction of a second.
FAST = ["--models", "EII,VVV", "--components", "1-3"]


def run_cli(capsys, *argv):
    code = cli.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write_csv(path, X, names):
    # repr: the file holds the floats exactly, so the library's fit on X is comparable.
    lines = [",".join(names)] + [",".join(repr(float(v)) for v in row) for row in X]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def X():
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal(0, 1, (40, 2)), rng.normal(8, 1, (40, 2))])


@pytest.fixture
def data(tmp_path, X):
    return write_csv(tmp_path / "data.csv", X, ["x", "y"])


def assert_one_line_exit_2(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mixfit select: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_select_prints_the_table_and_the_model_the_library_chooses(capsys, data, X):
    code, out, err = run_cli(capsys, "select", data, *FAST)
    assert code == 0, err
    expected = mixfit.select(X, n_components=range(1, 4), covariance_types=["EII", "VVV"],
                             random_state=0).ranked()[0]
    assert expected.n_components == 2  # two well-separated blobs
    assert (f"chosen model: {expected.covariance_type} with K={expected.n_components} "
            f"(BIC {expected.bic:.3f})") in out
    assert "Selection of 6 fits by BIC" in out  # the Selection's repr
    header = next(line for line in out.splitlines() if line.startswith("model "))
    assert header.split() == ["model", "K", "log-likelihood", "parameters", "BIC", "ICL",
                              "AIC", "iterations"]
    # stderr is not a terminal here: no progress line, nothing at all.
    assert err == ""


def test_json_is_alone_on_stdout_with_every_cell(capsys, data, X):
    code, out, err = run_cli(capsys, "select", data, *FAST, "--criterion", "icl", "--json")
    assert code == 0, err
    document = json.loads(out)  # fails on any text around the document
    assert set(document) == {"best", "criterion", "table"}
    assert document["criterion"] == "icl"
    assert set(document["best"]) == {"covariance_type", "n_components", "bic", "icl", "aic",
                                      "log_likelihood", "n_parameters"}
    selection = mixfit.select(X, n_components=range(1, 4), covariance_types=["EII", "VVV"],
                              criterion="icl", random_state=0)
    best = selection.ranked()[0]
    assert document["best"]["covariance_type"] == best.covariance_type
    assert document["best"]["n_components"] == best.n_components
    assert document["best"]["icl"] == pytest.approx(best.icl, rel=1e-12)
    assert len(document["table"]) == 6
    fields = {"covariance_type", "n_components", "log_likelihood", "n_parameters", "bic",
              "aic", "icl", "n_iter", "converged", "error", "start"}
    assert all(set(row) == fields for row in document["table"])


def test_json_writes_a_failed_cell_as_nulls(capsys, tmp_path):
    small = write_csv(tmp_path / "small.csv", [[0.0, 1.0], [1.0, 0.5], [2.0, 2.5],
                                               [3.0, 2.0], [4.0, 4.5]], ["a", "b"])
    code, out, err = run_cli(capsys, "select", small, "--models", "EII",
                             "--components", "1,6", "--json")
    assert code == 0, err
    failed = [row for row in json.loads(out)["table"] if row["n_components"] == 6]
    assert len(failed) == 1
    assert failed[0]["bic"] is None and failed[0]["log_likelihood"] is None
    assert "only 5 rows" in failed[0]["error"]


def test_out_saves_the_chosen_mixture(capsys, tmp_path, data, X):
    model_path = tmp_path / "best.mixfit"
    code, out, err = run_cli(capsys, "select", data, *FAST, "--out", model_path, "--json")
    assert code == 0, err
    best = json.loads(out)["best"]
    model = mixfit.load(model_path)
    assert isinstance(model, mixfit.GaussianMixture)
    assert model.covariance_type == best["covariance_type"]
    assert model.n_components == best["n_components"]
    assert model.n_features_in_ == X.shape[1]
    # It keeps the training columns and criteria, as fit --out does.
    code, out, err = run_cli(capsys, "info", model_path, "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["columns"] == ["x", "y"]
    assert info["bic"] == pytest.approx(best["bic"], rel=1e-9)


def test_plot_writes_a_png(capsys, tmp_path, data):
    plot_path = tmp_path / "bic.png"
    code, out, err = run_cli(capsys, "select", data, *FAST, "--plot", plot_path)
    assert code == 0, err
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_path.stat().st_size > 1000
    assert f"plot: {plot_path}" in out


@pytest.mark.parametrize("value", ["0", "a", "3-1", "1,,2", "1-500", "2.5"])
def test_bad_components_exit_2_with_the_valid_forms(capsys, data, value):
    code, out, err = run_cli(capsys, "select", data, "--components", value)
    assert_one_line_exit_2(code, err, "--components", "A-B", "1,2,5")
    assert out == ""


@pytest.mark.parametrize("value", ["XYZ", "EII,vvv", "full,", "mclust,EII"])
def test_bad_models_exit_2_naming_the_valid_ones(capsys, data, value):
    code, _, err = run_cli(capsys, "select", data, "--models", value)
    assert_one_line_exit_2(code, err, "--models", "'mclust'", "'sklearn'", "VEV", "full")


def test_bad_criterion_exits_2_naming_the_valid_ones(capsys, data):
    code, _, err = run_cli(capsys, "select", data, "--criterion", "bics")
    assert_one_line_exit_2(code, err, "--criterion", "'bic'", "'icl'", "'aic'")


def test_components_and_models_parse_every_documented_form():
    assert select_cli.parse_components("1-9") == list(range(1, 10))
    assert select_cli.parse_components("3") == [3]
    assert select_cli.parse_components("5,1,2,2") == [1, 2, 5]
    assert select_cli.parse_components("1-2,7") == [1, 2, 7]
    assert select_cli.parse_models("mclust") == "mclust"
    assert select_cli.parse_models("sklearn") == "sklearn"
    assert select_cli.parse_models("EII, VVV,EII") == ["EII", "VVV"]


def test_one_column_says_the_14_models_reduce_to_e_and_v(capsys, tmp_path):
    rng = np.random.default_rng(1)
    values = np.r_[rng.normal(0, 1, 40), rng.normal(6, 1, 40)][:, None]
    path = write_csv(tmp_path / "one.csv", values, ["v"])
    code, out, err = run_cli(capsys, "select", path, "--components", "1-2")
    assert code == 0, err
    assert "reduce to two" in out and "(E, fitted as EII)" in out and "(V, fitted as VII)" in out
    # With --json the note goes to stderr, leaving stdout to the document.
    code, out, err = run_cli(capsys, "select", path, "--components", "1-2", "--json")
    assert code == 0
    assert {row["covariance_type"] for row in json.loads(out)["table"]} == {"EII", "VII"}
    assert err.startswith("mixfit select: note: With one feature the 14 models reduce to two")


@pytest.mark.parametrize("content, fragment", [
    ("x,y\n1,2\n3,oops\n5,6\n", "is not a number"),
    (None, "does not exist"),
])
def test_a_data_error_is_reported_as_fit_reports_it(capsys, tmp_path, content, fragment):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_text(content)
    code, _, err = run_cli(capsys, "select", path)
    assert_one_line_exit_2(code, err, fragment)
    fit_code, _, fit_err = run_cli(capsys, "fit", path)
    assert fit_code == code
    assert err.removeprefix("mixfit select: ") == fit_err.removeprefix("mixfit fit: ")


def test_every_cell_failing_exits_2_with_the_reasons(capsys, tmp_path):
    small = write_csv(tmp_path / "small.csv", [[0.0, 1.0], [1.0, 0.5], [2.0, 2.5]],
                      ["a", "b"])
    code, out, err = run_cli(capsys, "select", small, "--models", "EII", "--components", "5-6")
    assert_one_line_exit_2(code, err, "every one of the 2 fits failed",
                           "5 components but only 3 rows")
    assert out == ""


def test_out_on_the_data_file_is_refused_before_any_fit(capsys, data):
    before = data.read_bytes()
    code, out, err = run_cli(capsys, "select", data, "--out", data)
    assert_one_line_exit_2(code, err, "--out", "is the input DATA", "give --out another file")
    assert data.read_bytes() == before and out == ""


def test_outputs_in_a_missing_folder_are_refused_before_any_fit(capsys, tmp_path, data,
                                                               monkeypatch):
    import mixfit.selection

    monkeypatch.setattr(mixfit.selection, "select", lambda *a, **k: pytest.fail("fitted"))
    for option in ("--out", "--plot"):
        code, _, err = run_cli(capsys, "select", data, option, tmp_path / "no" / "file")
        assert_one_line_exit_2(code, err, option, "does not exist; create it first")


def test_progress_is_drawn_on_a_terminal(capsys, monkeypatch, data):
    monkeypatch.setattr(cli, "_stderr_is_terminal", lambda: True)
    monkeypatch.setattr(select_cli, "PROGRESS_DELAY", 0.0)
    monkeypatch.setattr(select_cli, "PROGRESS_INTERVAL", 0.0)
    code, out, err = run_cli(capsys, "select", data, *FAST)
    assert code == 0
    assert "\rfitted 6 of 6 cells" in err and err.endswith("\n")
    assert "chosen model:" in out and "fitted" not in out


def test_help_ends_with_examples(capsys):
    code, out, _ = run_cli(capsys, "select", "--help")
    assert code == 0
    examples = out.split("examples:\n", 1)[1]
    assert sum(line.startswith("  mixfit select") for line in examples.splitlines()) >= 3
    code, out, _ = run_cli(capsys, "--help")
    assert "mixfit select data.csv --components 1-6" in out


def test_the_demo_chooses_k_and_puts_the_bic_figure_on_its_page(tmp_path, monkeypatch):
    # Only the new section runs: the others are covered by test_cli.py's demo run.
    for section in ("_synthetic_experiments", "_digits_experiment", "_animation",
                    "partial_labels_section"):
        monkeypatch.setattr(demo, section, lambda *args, **kwargs: None)
    monkeypatch.setattr(demo, "_warm_up", lambda: 0.0)
    lines = []
    result = demo.run(tmp_path, quick=True, say=lines.append)
    figure = tmp_path / "10_choosing_k.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = result.index.read_text(encoding="utf-8")
    assert '<img src="10_choosing_k.png"' in page
    # The lecture's data: three unit-covariance Gaussians, which BIC finds.
    assert any(line.startswith("  chosen by BIC: EII with K=3") for line in lines), lines
    caption = next(f.caption for f in result.figures if f.filename == "10_choosing_k.png")
    assert "14 covariance models" in caption and "84 fits" in caption


def test_the_names_written_out_for_a_fast_help_are_the_library_s():
    from mixfit.families.gaussian.registry import MCLUST_MODELS, STRUCTURES
    from mixfit.selection import CRITERIA

    assert select_cli.CRITERIA == CRITERIA
    assert select_cli.MCLUST_MODELS == tuple(MCLUST_MODELS)
    assert set(select_cli.MCLUST_MODELS + select_cli.OTHER_MODELS) == set(STRUCTURES)


def test_help_and_usage_errors_import_no_heavy_module():
    import subprocess
    import sys

    script = (
        "import contextlib, io, sys\n"
        "from mixfit import cli\n"
        "sink = io.StringIO()\n"
        "with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):\n"
        "    codes = [cli.main(argv) for argv in (['select', '--help'],\n"
        "             ['select', 'x.csv', '--components', '0'],\n"
        "             ['select', 'x.csv', '--models', 'XYZ'],\n"
        "             ['select', 'x.csv', '--criterion', 'nope'])]\n"
        "heavy = ('numba', 'scipy', 'sklearn', 'matplotlib', 'mixfit.selection')\n"
        "print(codes, [m for m in heavy if m in sys.modules])\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[0, 2, 2, 2] []"


def test_reg_covar_regularises_cells_that_collapse_without_it(tmp_path, capsys):
    # Two groups of identical rows: every covariance collapses with reg_covar=0
    # (exit 2, select's message), and a positive --reg-covar fits them.
    from mixfit import cli

    path = tmp_path / "points.csv"
    path.write_text("a,b\n" + "1,2\n" * 5 + "4,0\n" * 5)
    code = cli.main(["select", str(path), "--components", "2", "--models", "VVV"])
    assert code == 2 and "--reg-covar" in capsys.readouterr().err
    code = cli.main(["select", str(path), "--components", "2", "--models", "VVV",
                     "--reg-covar", "1e-3"])
    assert code == 0 and "VVV" in capsys.readouterr().out
    code = cli.main(["select", str(path), "--reg-covar", "-1"])
    assert code == 2 and "must be a number >= 0" in capsys.readouterr().err


def test_info_and_predict_read_an_auto_gaussian_mixture_file(tmp_path, capsys):
    import mixfit
    from mixfit import cli

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(8, 1, (60, 2))])
    data = tmp_path / "d.csv"
    np.savetxt(data, X, delimiter=",")
    model = mixfit.AutoGaussianMixture(n_components=[1, 2, 3], covariance_types=["EII", "VVV"],
                                       random_state=0).fit(X)
    path = tmp_path / "auto.mixfit"
    mixfit.save(model, path)
    assert cli.main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "AutoGaussianMixture, covariance EII (chosen by BIC among the grid)" in out
    assert "K=2, d=2" in out
    assert cli.main(["predict", str(path), str(data)]) == 0
    labels = [int(line) for line in capsys.readouterr().out.split()[1:]]
    np.testing.assert_array_equal(labels, model.predict(X))
