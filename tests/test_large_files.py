"""Data files larger than memory: memory-mapped .npy and IDX, Parquet, Dask arrays of files."""

import mmap
import sys

import numpy as np
import pytest

from mixfit.cli import commands as cli
from mixfit.datasets import read_idx, write_idx
from mixfit.io import mapped_files
from mixfit.io.data_files import read_data

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def data(n=40, d=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)) * 10


def run_cli(capsys, *argv):
    code = cli.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


class RowSpy:
    """An array stand-in that records which rows are read, to prove reading by blocks."""

    def __init__(self, values):
        self.values = values
        self.shape, self.dtype = values.shape, values.dtype
        self.reads = []

    def __getitem__(self, rows):
        assert isinstance(rows, slice), "read by row blocks, never whole or by fancy index"
        self.reads.append((rows.start, min(rows.stop, len(self.values))))
        return self.values[rows]


# ------------------------------------------------------------------ .npy memory maps


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_plain_float_npy_is_memory_mapped_not_copied(tmp_path, dtype):
    X = data().astype(dtype)
    np.save(tmp_path / "x.npy", X)
    out, names = read_data(tmp_path / "x.npy")
    assert isinstance(out, np.memmap) and not out.flags.writeable
    assert out.dtype == dtype and names is None
    np.testing.assert_array_equal(out, X)
    # The pages of the file itself: no copy was made.
    assert str(out.filename) == str((tmp_path / "x.npy").resolve())
    assert isinstance(out.base, mmap.mmap)
    np.save(tmp_path / "v.npy", X[:, 0])
    column, _ = read_data(tmp_path / "v.npy")
    assert isinstance(column, np.memmap) and column.shape == (40, 1)
    np.testing.assert_array_equal(column[:, 0], X[:, 0])


@pytest.mark.parametrize("dtype, expected", [
    (np.int32, np.float64), (np.int64, np.float64), (np.uint8, np.float32),
    (np.int16, np.float32), (">f8", np.float64), (">f4", np.float32), (np.bool_, np.float32),
])
def test_other_npy_dtypes_are_converted_to_the_narrowest_exact_float(tmp_path, dtype, expected):
    X = np.abs(data()).astype(dtype)
    np.save(tmp_path / "x.npy", X)
    out, _ = read_data(tmp_path / "x.npy")
    assert type(out) is np.ndarray and out.dtype == expected and out.flags.c_contiguous
    np.testing.assert_array_equal(out, X.astype(np.float64))


def test_fortran_order_npy_is_converted(tmp_path):
    X = data()
    np.save(tmp_path / "x.npy", np.asfortranarray(X))
    out, _ = read_data(tmp_path / "x.npy")
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, X)


def test_columns_of_a_memory_map_copy_only_the_selection(tmp_path):
    X = data()
    np.save(tmp_path / "x.npy", X)
    out, _ = read_data(tmp_path / "x.npy", columns="2,0")
    assert type(out) is np.ndarray and out.shape == (40, 2)
    np.testing.assert_array_equal(out, X[:, [2, 0]])
    # Every column in order is no selection: the map itself.
    out, _ = read_data(tmp_path / "x.npy", columns="0,1,2")
    assert isinstance(out, np.memmap)


def test_conversion_and_selection_read_block_by_block(monkeypatch):
    monkeypatch.setattr(mapped_files, "BLOCK_BYTES", 3 * 4 * 5)  # 5 rows of 3 int32
    values = np.arange(60, dtype=np.int32).reshape(20, 3)
    spy = RowSpy(values)
    out = mapped_files.as_float_matrix(spy)
    np.testing.assert_array_equal(out, values)
    assert spy.reads == [(0, 5), (5, 10), (10, 15), (15, 20)]
    spy = RowSpy(values.astype(np.float64))
    monkeypatch.setattr(mapped_files, "BLOCK_BYTES", 3 * 8 * 5)
    out = mapped_files.as_float_matrix(spy, [2])
    np.testing.assert_array_equal(out, values[:, [2]])
    assert len(spy.reads) == 4


def test_object_npy_is_refused_before_mapping(tmp_path):
    np.save(tmp_path / "x.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="object array"):
        read_data(tmp_path / "x.npy")


def test_empty_npy_reads_as_before(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((0, 3)))
    out, _ = read_data(tmp_path / "x.npy")
    assert out.shape == (0, 3)


# ------------------------------------------------------------------ IDX


def test_raw_idx_is_memory_mapped_and_reads_as_before(tmp_path):
    images = np.arange(4 * 3 * 2, dtype=np.uint8).reshape(4, 3, 2)
    write_idx(tmp_path / "images-idx3-ubyte", images)
    mapped = mapped_files.load_idx(tmp_path / "images-idx3-ubyte",
                                   (tmp_path / "images-idx3-ubyte").stat().st_size)
    assert isinstance(mapped, np.memmap) and mapped.shape == (4, 6)
    out, _ = read_data(tmp_path / "images-idx3-ubyte")
    assert out.dtype == np.float32  # uint8 pixels are float32 exactly
    np.testing.assert_array_equal(out, read_idx(tmp_path / "images-idx3-ubyte").reshape(4, 6))
    X = data()
    write_idx(tmp_path / "x-idx2-ubyte", X)
    out, _ = read_data(tmp_path / "x-idx2-ubyte", columns="1")
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, X[:, [1]])


def test_idx_with_trailing_bytes_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "x-idx2-ubyte"
    write_idx(path, np.ones((2, 2), dtype=np.uint8))
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(ValueError, match="trailing bytes.*x-idx2-ubyte|x-idx2-ubyte.*trailing"):
        read_data(path)


# ------------------------------------------------------------------ Parquet


def parquet_file(path, n=50, row_group_size=7):
    X = data(n)
    table = pa.table({"a": X[:, 0], "b": X[:, 1].astype(np.float32),
                      "count": np.arange(n, dtype=np.int64), "name": [f"r{i}" for i in range(n)],
                      "flag": np.arange(n) % 2 == 0})
    pq.write_table(table, path, row_group_size=row_group_size)
    return X


def test_parquet_round_trip_over_several_row_groups(tmp_path, monkeypatch):
    from mixfit.io import parquet

    monkeypatch.setattr(parquet, "BATCH_ROWS", 5)  # batches that cut the row groups
    path = tmp_path / "d.parquet"
    X = parquet_file(path)
    assert pq.ParquetFile(path).num_row_groups == 8
    out, names = read_data(path, columns="count,a")
    assert names == ["count", "a"] and out.dtype == np.float64
    np.testing.assert_array_equal(out, np.column_stack([np.arange(50), X[:, 0]]))
    out, names = read_data(path, columns=[1, "flag"])
    assert names == ["b", "flag"] and out.dtype == np.float32  # both exact in float32
    np.testing.assert_array_equal(out[:, 0], X[:, 1].astype(np.float32))
    np.testing.assert_array_equal(out[:, 1], np.arange(50) % 2 == 0)  # booleans are 0/1


def test_parquet_non_numeric_column_is_named(tmp_path):
    path = tmp_path / "d.parquet"
    parquet_file(path)
    with pytest.raises(ValueError, match=r"column 'name' .* string .*--columns.*'a', 'b', "
                       r"'count', 'flag'"):
        read_data(path)
    table = pa.table({"when": pa.array([1, 2], pa.timestamp("s")), "x": [1.0, 2.0]})
    pq.write_table(table, tmp_path / "t.parquet")
    with pytest.raises(ValueError, match="column 'when' .*timestamp"):
        read_data(tmp_path / "t.parquet")
    with pytest.raises(ValueError, match="no column 'z'"):
        read_data(path, columns="a,z")


def test_parquet_nulls_are_nan_and_the_cli_names_their_column(tmp_path, capsys):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"x": [1.0, 2.0, 3.0, 4.0], "k": pa.array([1, None, 3, 4])}), path)
    out, _ = read_data(path)
    assert np.isnan(out[1, 1]) and out[2, 1] == 3
    # K-means refuses the missing value and names its column (a mixture fits it).
    code, _, err = run_cli(capsys, "fit", path, "--model", "kmeans")
    assert code == 2 and err.count("\n") == 1
    assert "1 NaN value(s), in column(s) 'k'" in err


def test_parquet_fit_and_predict_match_columns_by_name(tmp_path, capsys):
    path, model = tmp_path / "d.parquet", tmp_path / "m.mixfit"
    X = parquet_file(path, n=60)
    code, _, err = run_cli(capsys, "fit", path, "--columns", "a,b", "-k", 2, "--out", model)
    assert code == 0, err
    pq.write_table(pa.table({"b": X[:, 1].astype(np.float32), "a": X[:, 0]}),
                   tmp_path / "new.parquet")
    code, out, err = run_cli(capsys, "predict", model, tmp_path / "new.parquet")
    assert code == 0 and "note" not in err
    code, reference, _ = run_cli(capsys, "predict", model, path)
    assert out == reference


def test_parquet_that_is_cut_short_or_misnamed(tmp_path):
    path = tmp_path / "d.parquet"
    parquet_file(path)
    whole = path.read_bytes()
    (tmp_path / "cut.parquet").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match="truncated Parquet file"):
        read_data(tmp_path / "cut.parquet")
    (tmp_path / "d.csv").write_bytes(whole)
    with pytest.raises(ValueError, match="looks like a Parquet file; name it .parquet"):
        read_data(tmp_path / "d.csv")


def test_parquet_without_pyarrow_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    path = tmp_path / "d.parquet"
    parquet_file(path)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now fails
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ImportError, match=r'pip install "mixfit\[parquet\]"'):
        read_data(path)
    code, _, err = run_cli(capsys, "fit", path)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith('mixfit fit: reading Parquet needs pyarrow: pip install "mixfit[')


# ------------------------------------------------------------------ Dask arrays of files


@pytest.fixture
def files(tmp_path):
    X = data(45)
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "u.npy", np.abs(X).astype(np.uint8))
    write_idx(tmp_path / "img-idx3-ubyte", np.abs(X[:, :2]).astype(np.uint8).reshape(45, 2, 1))
    parquet_file(tmp_path / "d.parquet", n=45, row_group_size=10)
    return tmp_path


@pytest.mark.parametrize("name, columns", [
    ("x.npy", None), ("x.npy", "2,0"), ("u.npy", "1"), ("img-idx3-ubyte", None),
    ("d.parquet", "a,b,flag"), ("d.parquet", "count"),
])
def test_dask_array_of_a_file_equals_the_local_read(files, name, columns):
    pytest.importorskip("dask.array")
    from mixfit.io.dask_files import dask_array_from_file

    expected, expected_names = read_data(files / name, columns=columns)
    options = {} if name.endswith(".parquet") else {"block_rows": 10}
    X, names = dask_array_from_file(files / name, columns=columns, **options)
    assert X.dtype == expected.dtype and names == expected_names
    assert X.chunks[0] == (10, 10, 10, 10, 5) and len(X.chunks[1]) == 1
    computed = X.compute(scheduler="sync")
    assert computed.dtype == expected.dtype
    np.testing.assert_array_equal(computed, expected)


def test_dask_array_reads_an_absolute_path(files, monkeypatch, tmp_path_factory):
    pytest.importorskip("dask.array")
    from mixfit.io.dask_files import dask_array_from_file

    monkeypatch.chdir(files)
    X, _ = dask_array_from_file("x.npy")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))  # as a worker would be
    np.testing.assert_array_equal(X.compute(scheduler="sync"), np.load(files / "x.npy"))


def test_dask_array_refuses_what_workers_cannot_read_by_rows(files):
    pytest.importorskip("dask.array")
    from mixfit.io.dask_files import dask_array_from_file

    (files / "d.csv").write_text("1,2\n3,4\n")
    with pytest.raises(ValueError, match="delimited text.*save it as .npy"):
        dask_array_from_file(files / "d.csv")
    write_idx(files / "g-idx2-ubyte.gz", np.ones((2, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="gzipped IDX.*gunzip"):
        dask_array_from_file(files / "g-idx2-ubyte.gz")
    with pytest.raises(ValueError, match="row groups"):
        dask_array_from_file(files / "d.parquet", block_rows=10)
    with pytest.raises(ValueError, match="block_rows must be a whole number"):
        dask_array_from_file(files / "x.npy", block_rows=0)


def test_the_memory_check_does_not_count_a_memory_mapped_file(tmp_path, monkeypatch, capsys):
    from mixfit import _memory

    path = tmp_path / "x.npy"
    np.save(path, data(20000, 50))  # 7.6 MiB of float64: mapped, never read into memory
    monkeypatch.setenv(_memory.MEMORY_LIMIT_ENV, "10M")  # the fit itself needs 7.2 MiB
    code, _, err = run_cli(capsys, "fit", path, "--model", "kmeans", "--max-iter", 1, "-q")
    assert code == 0, err
    np.save(path, data(20000, 50).astype(np.int32))  # converted: 7.6 MiB to hold
    code, _, err = run_cli(capsys, "fit", path, "--model", "kmeans", "--max-iter", 1, "-q")
    assert code == 2 and "plus 7.6 MiB of data" in err


def test_text_that_starts_like_parquet_is_still_text(tmp_path):
    (tmp_path / "d.csv").write_text("PAR1,PAR2\n1,2\n3,4\n")
    X, names = read_data(tmp_path / "d.csv")
    assert names == ["PAR1", "PAR2"] and X.tolist() == [[1, 2], [3, 4]]
