"""Reading data files: delimited text, .npy, .npz and IDX."""

import gzip

import numpy as np
import pytest

from mixfit.io.data_files import read_data
from mixfit.datasets import write_idx


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------- delimited text


def test_csv_with_header(tmp_path):
    X, names = read_data(write(tmp_path, "d.csv", "x,y\n1,2\n3.5,-4e2\n"))
    assert names == ["x", "y"]
    np.testing.assert_array_equal(X, [[1, 2], [3.5, -400]])
    assert X.dtype == np.float64 and X.flags.c_contiguous


def test_csv_without_header(tmp_path):
    X, names = read_data(write(tmp_path, "d.csv", "1,2,3\n4,5,6\n"))
    assert names is None
    np.testing.assert_array_equal(X, [[1, 2, 3], [4, 5, 6]])


@pytest.mark.parametrize(
    "name, text",
    [
        ("d.tsv", "a\tb\n1\t2\n3\t4\n"),
        ("d.txt", "a;b\n1;2\n3;4\n"),
        ("d.dat", "  a   b\n 1  2\n3 \t 4  \n"),
        ("d.csv", "a, b\n1, 2\n3, 4\n"),
        ("d.psv", "a|b\n1|2\n3|4\n"),
    ],
    ids=["tab", "semicolon", "whitespace", "comma-space", "pipe"],
)
def test_delimiters_are_detected(tmp_path, name, text):
    X, names = read_data(write(tmp_path, name, text))
    assert names == ["a", "b"]
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])


def test_given_delimiter_and_header_override_detection(tmp_path):
    # Numeric names look like data, so only header=True reads them as names.
    path = write(tmp_path, "d.csv", "2010;2011\n1;2\n")
    X, names = read_data(path, delimiter=";", header=True)
    assert names == ["2010", "2011"] and X.tolist() == [[1, 2]]
    X, names = read_data(path)
    assert names is None and X.tolist() == [[2010, 2011], [1, 2]]
    # Typed on a command line, a tab is spelled out.
    path = write(tmp_path, "t.txt", "1\t2.5\n3\t4\n")
    for spelling in ("\\t", "tab", "\t"):
        assert read_data(path, delimiter=spelling)[0].tolist() == [[1, 2.5], [3, 4]]
    with pytest.raises(ValueError, match="one character"):
        read_data(path, delimiter=",,")


def test_header_false_reports_the_names_as_bad_cells(tmp_path):
    with pytest.raises(ValueError, match=r'line 1, column 0 \(0-based\): "x" is not a number'):
        read_data(write(tmp_path, "e.csv", "x\n1\n"), header=False)


def test_one_column_file(tmp_path):
    X, names = read_data(write(tmp_path, "d.csv", "v\n1\n2\n3\n"))
    assert names == ["v"] and X.shape == (3, 1)


def test_columns_by_name_and_by_index(tmp_path):
    path = write(tmp_path, "d.csv", "a,b,species\n1,2,setosa\n3,4,virginica\n")
    X, names = read_data(path, columns="b,a")
    assert names == ["b", "a"] and X.tolist() == [[2, 1], [4, 3]]
    X, names = read_data(path, columns="0,1")
    assert names == ["a", "b"] and X.tolist() == [[1, 2], [3, 4]]
    X, names = read_data(path, columns=[1, "a"])
    assert names == ["b", "a"]


def test_text_column_without_header_is_not_taken_for_a_header(tmp_path):
    # The first row has text only where every row has text: data, not names.
    path = write(tmp_path, "d.csv", "1,2,setosa\n3,4,virginica\n")
    X, names = read_data(path, columns="0,1")
    assert names is None and X.tolist() == [[1, 2], [3, 4]]


def test_unknown_column_lists_the_columns(tmp_path):
    path = write(tmp_path, "d.csv", "a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"no column 'c'; its columns are 'a', 'b'"):
        read_data(path, columns="a,c")
    with pytest.raises(ValueError, match=r"index 2 is out of range.*0 to 1"):
        read_data(path, columns="2")


def test_column_names_need_a_header(tmp_path):
    with pytest.raises(ValueError, match="has no column names"):
        read_data(write(tmp_path, "d.csv", "1,2\n3,4\n"), columns="a")


def test_quoted_fields(tmp_path):
    text = '"name, long","b"\n"1.5","2"\n3,"4"\n'
    X, names = read_data(write(tmp_path, "d.csv", text))
    assert names == ["name, long", "b"]
    np.testing.assert_array_equal(X, [[1.5, 2], [3, 4]])


def test_missing_cells_become_nan(tmp_path):
    X, _ = read_data(write(tmp_path, "d.csv", "a,b,c\n1,,3\nNA,nan,null\n4,5,6\n"))
    np.testing.assert_array_equal(np.isnan(X), [[0, 1, 0], [1, 1, 1], [0, 0, 0]])
    assert X[2].tolist() == [4, 5, 6]


def test_non_numeric_cell_names_line_column_and_value(tmp_path):
    text = "# made by hand\nheight,weight\n1.8,70\n\n1.6,abc\n"
    path = write(tmp_path, "data.csv", text)
    with pytest.raises(ValueError) as info:
        read_data(path)
    message = str(info.value)
    # Line numbers count every line of the file, comments and blank lines too.
    assert f'{path} line 5, column "weight": "abc" is not a number' in message


def test_ragged_rows_are_reported_with_their_line(tmp_path):
    with pytest.raises(ValueError, match=r"line 3 has 3 field\(s\), but line 1 has 2"):
        read_data(write(tmp_path, "d.csv", "1,2\n3,4\n5,6,7\n"))


def test_comments_and_blank_lines_are_skipped(tmp_path):
    X, names = read_data(write(tmp_path, "d.csv", "# a,b\n\n1,2\r\n\r\n3,4\n"))
    assert names is None and X.tolist() == [[1, 2], [3, 4]]


def test_byte_order_mark_is_dropped(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes("\ufeffa,b\n1,2\n".encode("utf-8"))
    assert read_data(path)[1] == ["a", "b"]


@pytest.mark.parametrize("content", [b"\x00\x01\x02garbage\x00", b"\xff\xfe\x80\x81abc"])
def test_binary_content_is_refused_naming_the_file(tmp_path, content):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="data.csv"):
        read_data(path)


@pytest.mark.parametrize("text", ["", "# only a comment\n\n", "a,b\n"])
def test_files_without_data_rows(tmp_path, text):
    with pytest.raises(ValueError, match="no data rows"):
        read_data(write(tmp_path, "d.csv", text))


# ------------------------------------------------------------------ binary formats


def test_npy_2d_and_1d(tmp_path):
    X = np.arange(6, dtype=np.int32).reshape(3, 2)
    np.save(tmp_path / "x.npy", X)
    out, names = read_data(tmp_path / "x.npy")
    assert names is None and out.dtype == np.float64
    np.testing.assert_array_equal(out, X)
    np.save(tmp_path / "v.npy", np.array([1.0, 2.0, 3.0]))
    out, _ = read_data(tmp_path / "v.npy")
    assert out.shape == (3, 1)
    out, _ = read_data(tmp_path / "x.npy", columns="1")
    assert out.tolist() == [[1], [3], [5]]


def test_npy_of_three_dimensions_is_refused(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"shape \(2, 3, 4\).*reshape"):
        read_data(tmp_path / "x.npy")


def test_object_npy_is_refused(tmp_path):
    np.save(tmp_path / "x.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="object array"):
        read_data(tmp_path / "x.npy")


def test_string_npy_is_refused(tmp_path):
    np.save(tmp_path / "x.npy", np.array([["1", "a"]]))
    with pytest.raises(ValueError, match="not numbers"):
        read_data(tmp_path / "x.npy")


def test_structured_npy_gives_field_names(tmp_path):
    data = np.array([(1.0, 2), (3.0, 4)], dtype=[("a", "f8"), ("b", "i4")])
    np.save(tmp_path / "x.npy", data)
    X, names = read_data(tmp_path / "x.npy", columns="b")
    assert names == ["b"] and X.tolist() == [[2], [4]]


def test_npz_with_and_without_key(tmp_path):
    np.savez(tmp_path / "one.npz", data=np.ones((2, 2)))
    X, _ = read_data(tmp_path / "one.npz")
    assert X.shape == (2, 2)
    np.savez(tmp_path / "two.npz", train=np.ones((4, 3)), test=np.zeros((2, 3)))
    X, _ = read_data(tmp_path / "two.npz", key="test")
    assert X.tolist() == [[0, 0, 0]] * 2
    with pytest.raises(ValueError, match=r"2 arrays \(keys: train, test\).*--key"):
        read_data(tmp_path / "two.npz")
    with pytest.raises(ValueError, match=r"no array 'val'; its keys are train, test"):
        read_data(tmp_path / "two.npz", key="val")


def test_key_is_refused_for_other_formats(tmp_path):
    np.save(tmp_path / "x.npy", np.ones((2, 2)))
    with pytest.raises(ValueError, match="only to .npz"):
        read_data(tmp_path / "x.npy", key="data")


def test_damaged_npy_and_npz_name_the_file(tmp_path):
    for name in ("x.npy", "x.npz"):
        (tmp_path / name).write_bytes(b"not numpy at all")
        with pytest.raises(ValueError, match=name):
            read_data(tmp_path / name)


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images.idx3-ubyte.gz", "images.idx"])
def test_idx_images_are_flattened(tmp_path, name):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / name, images)
    X, names = read_data(tmp_path / name)
    assert names is None and X.shape == (2, 12)
    np.testing.assert_array_equal(X, images.reshape(2, 12))


def test_idx_vector_is_one_feature(tmp_path):
    write_idx(tmp_path / "labels-idx1-ubyte", np.array([7, 2, 1], dtype=np.uint8))
    X, _ = read_data(tmp_path / "labels-idx1-ubyte")
    assert X.tolist() == [[7], [2], [1]]


def test_damaged_idx_names_the_file(tmp_path):
    (tmp_path / "x-idx2-ubyte").write_bytes(b"\x00\x00\x08\x02\x00")
    with pytest.raises(ValueError, match="x-idx2-ubyte"):
        read_data(tmp_path / "x-idx2-ubyte")


def test_gzipped_text_is_not_mistaken_for_idx(tmp_path):
    path = tmp_path / "d.csv.gz"
    path.write_bytes(gzip.compress(b"1,2\n"))
    with pytest.raises(ValueError, match="d.csv.gz"):
        read_data(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        read_data(tmp_path / "nowhere.csv")
