"""``mixfit predict`` finds the model's columns by name, as ``mixfit fit`` stored them.

A model fitted on a file with a header row keeps the column names; predicting
takes those columns by name, in any order, ignores extra ones, and refuses a
file that lacks any. Data without names is taken by position, with one note on
standard error; a ``--columns`` index selection on such data is remembered.
"""

import json
import warnings

import numpy as np
import pytest
from conftest import make_blobs

from mixfit import cli
from mixfit import io as model_io


@pytest.fixture(scope="module")
def X():
    # Three features on very different scales, so that any permutation of the
    # columns moves the points far from the clusters the model learnt.
    X, _ = make_blobs(n_per=(40, 30, 30), n_features=3, seed=3)
    return X * np.array([1.0, 10.0, 100.0]) + np.array([0.0, 500.0, -3000.0])


def write_csv(path, header, rows):
    lines = ([",".join(header)] if header else []) + [",".join(map(str, row)) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def run(capsys, *argv):
    code = cli.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def labels_of(out):
    lines = out.splitlines()
    assert lines[0] == "label"
    return np.array([int(line) for line in lines[1:]])


def assert_one_line_error(code, err, out, *fragments):
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("mixfit predict: "), err
    assert out == ""
    for fragment in fragments:
        assert fragment in err, err


@pytest.fixture
def named_model(tmp_path, capsys, X):
    """A model fitted on x, y, z with a header, and the labels the fit gave."""
    data = write_csv(tmp_path / "train.csv", ["x", "y", "z"], X.tolist())
    model, labels = tmp_path / "m.mixfit", tmp_path / "fit-labels.csv"
    code, _, err = run(capsys, "fit", data, "-k", 3, "--out", model, "--labels", labels, "-q")
    assert code == 0, err
    return model, labels_of(labels.read_text())


def test_reordered_columns_with_extras_give_the_fit_labels(tmp_path, capsys, X, named_model):
    model, expected = named_model
    assert len(set(expected)) == 3  # the data hold three clusters
    # z, a text column, x, y: by position this would be nonsense.
    rows = [[z, f"s{i % 3}", x, y] for i, (x, y, z) in enumerate(X.tolist())]
    data = write_csv(tmp_path / "new.csv", ["z", "species", "x", "y"], rows)
    code, out, err = run(capsys, "predict", model, data)
    assert code == 0 and err == "", err
    np.testing.assert_array_equal(labels_of(out), expected)
    # The same rows in the reordered layout, taken by position, label differently:
    # the test fails if predict goes by position.
    positional = model_io.load(model)
    del positional.feature_names_in_
    assert (positional.predict(X[:, [2, 0, 1]]) != expected).any()


def test_missing_columns_exit_2_naming_every_one(tmp_path, capsys, X, named_model):
    model, _ = named_model
    data = write_csv(tmp_path / "new.csv", ["x", "w"], X[:, [0, 1]].tolist())
    out_file = tmp_path / "p.csv"
    code, out, err = run(capsys, "predict", model, data, "--out", out_file)
    assert_one_line_error(code, err, out, "'y'", "'z'", "lacks")
    assert "'x'" not in err.split("its columns are")[0]  # x is there
    assert not out_file.exists()


def test_headerless_file_is_taken_by_position_with_one_note(tmp_path, capsys, X, named_model):
    model, expected = named_model
    data = write_csv(tmp_path / "bare.csv", None, X.tolist())
    code, out, err = run(capsys, "predict", model, data)
    assert code == 0
    assert err == ("mixfit predict: note: 'bare.csv' has no header row; its columns are "
                   "taken by position\n").replace("'bare.csv'", f"'{data}'")
    np.testing.assert_array_equal(labels_of(out), expected)


def test_headerless_file_of_the_wrong_width_is_refused(tmp_path, capsys, X, named_model):
    model, _ = named_model
    data = write_csv(tmp_path / "bare.csv", None, X[:, :2].tolist())
    code, out, err = run(capsys, "predict", model, data)
    # One line: no note before the error.
    assert_one_line_error(code, err, out, "fitted on 3 feature(s) (x, y, z)", "gives 2")


def test_explicit_columns_by_name_any_order_are_reordered(tmp_path, capsys, X, named_model):
    model, expected = named_model
    rows = [[z, x, y, 0] for x, y, z in X.tolist()]
    data = write_csv(tmp_path / "new.csv", ["z", "x", "y", "extra"], rows)
    code, out, err = run(capsys, "predict", model, data, "--columns", "y,z,x")
    assert code == 0, err
    np.testing.assert_array_equal(labels_of(out), expected)
    code, out, err = run(capsys, "predict", model, data, "--columns", "1,2,0")  # by index
    assert code == 0, err
    np.testing.assert_array_equal(labels_of(out), expected)
    code, out, err = run(capsys, "predict", model, data, "--columns", "x,y,extra")
    assert_one_line_error(code, err, out, "--columns selects x, y, extra", "x, y, z")


def test_index_selection_on_headerless_data_is_remembered(tmp_path, capsys, X):
    wide = np.column_stack([X[:, 0], np.full(len(X), 7.0), X[:, 1], X[:, 2]])
    data = write_csv(tmp_path / "wide.csv", None, wide.tolist())
    model, labels = tmp_path / "m.mixfit", tmp_path / "labels.csv"
    code, _, err = run(capsys, "fit", data, "-k", 3, "--columns", "0,3", "--out", model,
                       "--labels", labels, "-q")
    assert code == 0, err
    expected = labels_of(labels.read_text())
    assert model_io.load(model)._column_indices == [0, 3]

    code, out, err = run(capsys, "predict", model, data)  # no --columns
    assert code == 0
    assert len(err.splitlines()) == 1 and "columns 0, 3" in err and "note" in err
    np.testing.assert_array_equal(labels_of(out), expected)
    # Columns 0 and 1 (what a forgotten selection gives) label differently.
    assert (model_io.load(model).predict(wide[:, :2]) != expected).any()

    # A file holding just the two selected columns is the model's features.
    narrow = write_csv(tmp_path / "narrow.csv", None, wide[:, [0, 3]].tolist())
    code, out, err = run(capsys, "predict", model, narrow)
    assert code == 0 and "too few" in err, err
    np.testing.assert_array_equal(labels_of(out), expected)


def test_info_lists_the_columns(tmp_path, capsys, X, named_model):
    model, _ = named_model
    code, out, _ = run(capsys, "info", model)
    assert code == 0
    assert any(line.split() == ["columns", "x,", "y,", "z"] for line in out.splitlines()), out
    code, out, _ = run(capsys, "info", model, "--json")
    document = json.loads(out)
    assert document["columns"] == ["x", "y", "z"] and document["column_indices"] is None

    data = write_csv(tmp_path / "bare.csv", None, X.tolist())
    bare_model = tmp_path / "bare.mixfit"
    run(capsys, "fit", data, "--columns", "2,0", "--out", bare_model, "-q")
    code, out, _ = run(capsys, "info", bare_model, "--json")
    document = json.loads(out)
    assert document["columns"] is None and document["column_indices"] == [2, 0]
    code, out, _ = run(capsys, "info", bare_model)
    assert "2, 0 by position" in out


def test_cli_predict_emits_no_feature_name_warning(tmp_path, capsys, X, named_model):
    model, _ = named_model
    data = write_csv(tmp_path / "new.csv", ["y", "x", "z"], X[:, [1, 0, 2]].tolist())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, _, err = run(capsys, "predict", model, data, "--proba")
    assert code == 0, err
    assert not [w for w in caught if "feature names" in str(w.message)]


def test_loaded_model_checks_dataframe_names_in_python(X, named_model):
    pd = pytest.importorskip("pandas")
    model_path, expected = named_model
    model = model_io.load(model_path)
    assert list(model.feature_names_in_) == ["x", "y", "z"]
    frame = pd.DataFrame(X, columns=["x", "y", "z"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "valid feature names" warning
        np.testing.assert_array_equal(model.predict(frame), expected)
    with pytest.raises(ValueError, match="feature names"):
        model.predict(frame[["z", "x", "y"]])


def test_duplicate_column_names_are_refused_at_fit(tmp_path, capsys, X):
    data = write_csv(tmp_path / "dup.csv", ["x", "x", "z"], X.tolist())
    model = tmp_path / "m.mixfit"
    code, out, err = run(capsys, "fit", data, "--out", model)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "more than one column named 'x'" in err
    assert not model.exists()
