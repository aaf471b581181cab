"""Missing cells through the command line: ``mixfit fit/predict --model gmm`` take them."""

import numpy as np

from mixfit import GaussianMixture
from mixfit.cli import commands as cli

from conftest import make_blobs


def run_cli(capsys, *argv):
    code = cli.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write_csv(path, X):
    """A CSV with a header; NaN written as empty cells, as spreadsheets leave them."""
    rows = [",".join("" if np.isnan(v) else repr(float(v)) for v in row) for row in X]
    path.write_text("a,b,c\n" + "\n".join(rows) + "\n")
    return path


def data_with_holes(seed=0):
    X, _ = make_blobs(n_per=(120, 100, 80), n_features=3, separation=6.0, seed=seed)
    rng = np.random.default_rng(seed)
    X[rng.random(X.shape) < 0.15] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 0.0  # no row without an observed value
    return X


def labels_of(text):
    return np.array([int(line) for line in text.splitlines()[1:]])


def test_fit_and_predict_a_csv_with_empty_cells(tmp_path, capsys):
    X = data_with_holes()
    data = write_csv(tmp_path / "holes.csv", X)
    model, labels = tmp_path / "m.mixfit", tmp_path / "labels.csv"
    code, out, err = run_cli(capsys, "fit", data, "-k", 3, "--out", model, "--labels", labels)
    assert code == 0, err
    # The same fit as the library's on the same NaN matrix.
    expected = GaussianMixture(3, random_state=0).fit(X).predict(X)
    np.testing.assert_array_equal(labels_of(labels.read_text()), expected)
    code, out, err = run_cli(capsys, "predict", model, data)
    assert code == 0, err
    np.testing.assert_array_equal(labels_of(out), expected)


def test_standardize_uses_each_columns_observed_values(tmp_path, capsys):
    X = data_with_holes(seed=1)
    data = write_csv(tmp_path / "holes.csv", X)
    model = tmp_path / "m.mixfit"
    code, out, err = run_cli(capsys, "fit", data, "-k", 3, "--standardize", "--out", model)
    assert code == 0, err
    code, out, err = run_cli(capsys, "info", model, "--json")
    assert code == 0, err
    import json

    described = json.loads(out)["standardize"]
    np.testing.assert_allclose(described["means"], np.nanmean(X, axis=0), rtol=1e-12)
    np.testing.assert_allclose(described["stds"], np.nanstd(X, axis=0), rtol=1e-12)


def test_kmeans_refuses_empty_cells_and_names_the_model_that_takes_them(tmp_path, capsys):
    data = write_csv(tmp_path / "holes.csv", data_with_holes())
    out_file = tmp_path / "m.mixfit"
    code, out, err = run_cli(capsys, "fit", data, "--model", "kmeans", "-k", 3,
                             "--out", out_file)
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert "NaN" in err and "--model gmm" in err
    assert not out_file.exists()
