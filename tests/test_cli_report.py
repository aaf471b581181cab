"""`mixfit report`: the page from a data file, and its bad-input paths (exit 2, one line)."""

import re

import numpy as np
import pytest

import mixfit
from mixfit.cli import commands as cli
from mixfit.datasets import make_mixture

GRID = ("--components", "1-3", "--models", "EII,VVV")


def run_cli(capsys, *argv):
    code = cli.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write_csv(path, X, names):
    # repr: the file holds the floats exactly, so the library's selection on X is comparable.
    lines = [",".join(names)] + [",".join(repr(float(v)) for v in row) for row in X]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def X():
    X, _ = make_mixture(150, [0.5, 0.5], [[0, 0, 0], [4, 4, 4]], random_state=0)
    return X


@pytest.fixture
def data(tmp_path, X):
    return write_csv(tmp_path / "data.csv", X, ["length", "width", "depth"])


def one_line_error(code, out, err, *fragments):
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("mixfit report: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


def test_report_writes_the_page_of_the_selections_choice(capsys, tmp_path, X, data,
                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default --out is relative
    code, out, err = run_cli(capsys, "report", data, *GRID)
    assert code == 0, err
    best = mixfit.select(X, n_components=range(1, 4), covariance_types=["EII", "VVV"],
                         random_state=0).best_params_
    first, second = out.splitlines()
    assert first == (f"chosen model: {best['covariance_type']} with "
                     f"K={best['n_components']}; page: mixfit-report/index.html")
    # Where the time went, in one line.
    assert re.fullmatch(r"time: reading [0-9.]+ s, selection [0-9.]+ s \(6 fits\), figures "
                        r"and tables [0-9.]+ s, writing [0-9.]+ s", second), second
    html = (tmp_path / "mixfit-report" / "index.html").read_text(encoding="utf-8")
    assert "data.csv" in html and "length" in html and "depth" in html


def test_report_refuses_an_existing_folder_and_force_keeps_other_files(capsys, tmp_path,
                                                                      data):
    out = tmp_path / "page"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    one_line_error(*run_cli(capsys, "report", data, "--out", out, *GRID),
                   "exists", "--force")
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    code, _, err = run_cli(capsys, "report", data, "--out", out, "--force", *GRID)
    assert code == 0, err
    assert (out / "mine.txt").read_text() == "keep" and (out / "index.html").exists()


def test_report_one_column_gives_the_1d_page(capsys, tmp_path, data):
    code, _, err = run_cli(capsys, "report", data, "--columns", "width", "--out",
                           tmp_path / "p", *GRID)
    assert code == 0, err
    html = (tmp_path / "p" / "index.html").read_text(encoding="utf-8")
    assert "One column: the histogram of width" in html


@pytest.mark.parametrize("case, fragments", [
    ("constant", ("'width' hold a single value", "--columns")),
    ("no_complete_row", ("every one of the 150 rows", "--columns")),
    ("missing", ("does not exist",)),
    ("components", ("--components",)),
    ("models", ("unknown model(s) 'XYZ'",)),
    ("out_is_file", ("is a file",)),
])
def test_report_bad_input_is_one_line_and_exit_2_without_a_page(capsys, tmp_path, X, data,
                                                                 case, fragments):
    out = tmp_path / "page"
    argv = ["report", data, "--out", out, *GRID]
    if case == "constant":
        Y = X.copy()
        Y[:, 1] = 7.0
        argv[1] = write_csv(tmp_path / "c.csv", Y, ["length", "width", "depth"])
    elif case == "no_complete_row":
        Y = X.copy()
        Y[:, 1] = np.nan
        argv[1] = write_csv(tmp_path / "n.csv", Y, ["length", "width", "depth"])
    elif case == "missing":
        argv[1] = tmp_path / "absent.csv"
    elif case == "components":
        argv += ["--components", "0"]
    elif case == "models":
        argv += ["--models", "XYZ"]
    else:
        out.write_text("a file")
    one_line_error(*run_cli(capsys, *argv), *fragments)
    assert not out.is_dir()  # no page written


def test_report_drops_rows_with_missing_cells_says_so_and_lists_them(capsys, tmp_path, X):
    Y = X.copy()
    Y[5, 1] = np.nan
    Y[40, [0, 2]] = np.nan
    data = write_csv(tmp_path / "gaps.csv", Y, ["length", "width", "depth"])
    code, out, err = run_cli(capsys, "report", data, "--out", tmp_path / "p", *GRID)
    assert code == 0, err
    assert err == ("mixfit report: note: dropped 2 of 150 rows with a missing value (NaN) in "
                   "column(s) 'length', 'width', 'depth'; the page lists them\n")
    kept = np.delete(np.arange(150), [5, 40])
    best = mixfit.select(X[kept], n_components=range(1, 4), covariance_types=["EII", "VVV"],
                         random_state=0).best_params_
    assert out.startswith(f"chosen model: {best['covariance_type']} with "
                          f"K={best['n_components']};")
    html = (tmp_path / "p" / "index.html").read_text(encoding="utf-8")
    assert "Rows dropped: 2 of 150" in html and "the header not counted" in html
    assert re.search(r"<tr><td[^>]*>6</td><td[^>]*>width</td></tr>", html)
    assert re.search(r"<tr><td[^>]*>41</td><td[^>]*>length, depth</td></tr>", html)


def test_report_refuses_infinite_values_exactly_as_fit_does(capsys, tmp_path, X):
    Y = X.copy()
    Y[5, 1] = np.inf
    Y[6, 2] = np.nan  # fit (a mixture) takes it, and the report drops its row
    data = write_csv(tmp_path / "inf.csv", Y, ["length", "width", "depth"])
    fit_code, _, fit_err = run_cli(capsys, "fit", data)
    code, out, err = run_cli(capsys, "report", data, "--out", tmp_path / "p", *GRID)
    one_line_error(code, out, err, "1 infinite (inf) value(s)", "'width'")
    assert fit_code == code == 2
    assert err.removeprefix("mixfit report: ") == fit_err.removeprefix("mixfit fit: ")
    assert not (tmp_path / "p").exists()
