"""The bad inputs of ``test_bad_input.py``, through the command line in a subprocess.

Each must exit with code 2, print exactly one line on stderr naming the problem,
print no traceback, and write no output file.
"""

import subprocess
import sys

import numpy as np
import pytest

from test_bad_input import BAD_INPUTS

# How each case of the Python table reaches the command line. Cases the CLI
# cannot express (it has no sample-weight option) or treats differently by
# design (1-D arrays are read as one feature) are left out.
CLI_CASES = {
    "NaN": ("data.npy", []),
    "inf": ("data.npy", []),
    "NaN and -inf": ("data.npy", []),
    "empty": ("data.npy", []),
    "3-D": ("data.npy", []),
    "non-numeric": ("data.csv", ["-k", "1"]),
    "fewer samples than components": ("data.npy", ["-k", "5"]),
    "zero components": ("data.npy", ["-k", "0"]),
    "fractional components": ("data.npy", ["-k", "2.5"]),
}
ROWS = [row for row in BAD_INPUTS if row[0] in CLI_CASES]


def write(path, X):
    if path.suffix == ".npy":
        np.save(path, np.asarray(X, dtype=np.float64))
    else:
        path.write_text("\n".join(",".join(map(str, row)) for row in X) + "\n")


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "mixfit", *map(str, args)],
        capture_output=True, text=True, timeout=120,
    )


def assert_refused(result, fragment, outputs):
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert fragment.lower() in lines[0].lower(), lines[0]
    for path in outputs:
        assert not path.exists(), path


def test_the_table_covers_every_case_the_cli_can_express():
    assert {row[0] for row in ROWS} == set(CLI_CASES)


@pytest.mark.parametrize("case, X, options, fit_kwargs, error, match", ROWS,
                         ids=[row[0] for row in ROWS])
def test_bad_input_through_the_cli(tmp_path, case, X, options, fit_kwargs, error, match):
    name, extra = CLI_CASES[case]
    data = tmp_path / name
    write(data, X)
    model, labels = tmp_path / "model.mixfit", tmp_path / "labels.csv"
    model_kind = "kmeans" if case in ("3-D", "NaN") else "gmm"  # both estimators appear
    result = run_cli("fit", data, "--model", model_kind, *extra,
                     "--out", model, "--labels", labels)
    # The message is the estimator's or argparse's; a stable fragment of each:
    fragments = {
        "non-numeric": "not a number", "fractional components": "must be a whole number",
        "zero components": ">= 1", "fewer samples than components": "n_samples >=",
        "empty": "0 sample", "3-D": "needs a 2-d array",
    }
    assert_refused(result, fragments.get(case, "finite numbers"), [model, labels])


def test_missing_data_file(tmp_path):
    result = run_cli("fit", tmp_path / "nowhere.csv", "--out", tmp_path / "m.mixfit")
    assert_refused(result, "nowhere.csv", [tmp_path / "m.mixfit"])


def test_corrupt_model_file_for_predict(tmp_path):
    data = tmp_path / "data.npy"
    np.save(data, np.random.default_rng(0).normal(size=(20, 2)))
    model = tmp_path / "model.mixfit"
    model.write_bytes(b"PK\x03\x04 this is not really a zip")
    out = tmp_path / "labels.csv"
    result = run_cli("predict", model, data, "--out", out)
    assert_refused(result, "model.mixfit", [out])
