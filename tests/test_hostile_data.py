"""Files that are not data, or not the data their name says: exit 2, one line, no hang.

Devices and FIFOs run in a subprocess under a timeout (and a memory cap), so
that a reader that opens them fails the test instead of blocking or exhausting
the test run. The rest are regular files of a few bytes, run in-process.
Numbers written with decimal commas are at the end.
"""

import gzip
import json
import os
import resource
import shutil
import stat
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from mixfit import GaussianMixture
from mixfit import cli
from mixfit import io as model_io
from mixfit.io.data_files import read_data

# A reader that starts reading /dev/zero exhausts this long before the timeout.
MEMORY_CAP = 3 * 2**30
TIMEOUT = 60


def run(capsys, *argv):
    code = cli.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(code, err, *fragments, command="fit"):
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith(f"mixfit {command}: "), err
    assert "Traceback" not in err and "unexpected" not in err
    for fragment in fragments:
        assert fragment in err, err


def cap_memory():
    """Run in the child before it starts: a memory cap (address space)."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run_capped(*argv):
    """``mixfit ARGV`` in a subprocess with a memory cap and a timeout."""
    return subprocess.run([sys.executable, "-m", "mixfit", *map(str, argv)],
                          capture_output=True, text=True, timeout=TIMEOUT,
                          preexec_fn=cap_memory)


# --------------------------------------------------------------- not regular files


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero_is_refused_without_reading(tmp_path):
    # Under the cap, a reader that starts on /dev/zero fails with a memory error
    # within a second, and the exact message below fails the test.
    result = run_capped("fit", "/dev/zero", "--out", tmp_path / "m.mixfit")
    assert result.returncode == 2, result.stderr
    assert result.stderr == ("mixfit fit: '/dev/zero' is a character device, not a regular "
                             "file; save the data to a file first.\n")
    assert not (tmp_path / "m.mixfit").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_being_opened_as_data_or_model(tmp_path):
    fifo, fifo_npy = tmp_path / "data.csv", tmp_path / "data.npy"
    os.mkfifo(fifo)
    os.mkfifo(fifo_npy)  # .npy headers are read early, for the memory check
    data = tmp_path / "real.csv"
    data.write_text("1,2\n3,4\n")
    # Opening a FIFO with no writer blocks: the timeout turns a hang into a failure.
    # Both cases in one process, to pay the start-up once.
    script = (
        "import contextlib, io, json, sys\n"
        "from mixfit import cli\n"
        "for argv in (['fit', sys.argv[1]], ['predict', sys.argv[1], sys.argv[2]],\n"
        "             ['fit', sys.argv[3]]):\n"
        "    err = io.StringIO()\n"
        "    with contextlib.redirect_stderr(err):\n"
        "        code = cli.main(argv)\n"
        "    print(json.dumps([code, err.getvalue()]))\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(fifo), str(data), str(fifo_npy)],
                            capture_output=True, text=True, timeout=TIMEOUT,
                            preexec_fn=cap_memory)
    assert result.returncode == 0, result.stderr
    (data_code, data_err), (model_code, model_err), (npy_code, npy_err) = map(
        json.loads, result.stdout.splitlines())
    assert data_code == 2 and data_err == (f"mixfit fit: '{fifo}' is a FIFO (named pipe), not a "
                                           "regular file; save the data to a file first.\n")
    assert model_code == 2 and len(model_err.splitlines()) == 1, model_err
    assert "FIFO (named pipe), not a regular file" in model_err
    assert npy_code == 2 and "FIFO (named pipe), not a regular file" in npy_err, npy_err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_folder_is_refused(tmp_path, capsys):
    assert_refused(*run(capsys, "fit", tmp_path)[::2], "is a folder")


# ------------------------------------------------------------- wrong or no content


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.mixfit"
    rng = np.random.default_rng(0)
    model_io.save(GaussianMixture(1, random_state=0).fit(rng.normal(size=(20, 2))), path)
    return path


@pytest.mark.parametrize("name", ["m.npy", "m.csv", "m.npz", "m-idx1-ubyte"])
def test_model_file_as_data_says_so(tmp_path, capsys, model_file, name):
    data = tmp_path / name
    shutil.copy(model_file, data)
    code, _, err = run(capsys, "predict", model_file, data)
    assert_refused(code, err, f"'{data}' is a mixfit model file, not data",
                   "mixfit predict MODEL DATA", command="predict")


def _npz_bytes(tmp_path, **arrays):
    path = tmp_path / "source.npz"
    np.savez(path, **arrays)
    return path.read_bytes()


def _zip_with_member(tmp_path, member, content):
    path = tmp_path / "tmp.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, content)
    return path.read_bytes()


def _damaged_member(tmp_path):
    content = bytearray(_npz_bytes(tmp_path, a=np.arange(50.0)))
    start = content.index(b"\x93NUMPY") + 200  # inside the stored array's values
    content[start:start + 8] = b"\xff" * 8
    return bytes(content)


def _npy_header_claiming(shape):
    # A version 1.0 .npy header (padded to 128 bytes) followed by 64 bytes of values.
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (118 - len(header)) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 64


def _gzipped_idx_claiming(count):
    # A valid IDX header declaring `count` bytes, then far fewer compressed bytes.
    return gzip.compress(b"\x00\x00\x08\x01" + struct.pack(">I", count) + b"\x00" * 100)


HOSTILE = [
    # (file name, content or builder, fragments of the message)
    ("empty.csv", b"", ["is empty (0 bytes)"]),
    ("empty.npy", b"", ["is empty (0 bytes)"]),
    ("empty.npz", b"", ["is empty (0 bytes)"]),
    ("text.npy", b"1,2\n3,4\n", ["is not a .npy file", "looks like text", "name it .csv"]),
    ("archive.npy", lambda tmp: _npz_bytes(tmp, a=np.ones(3)),
     ["is not a .npy file", "zip archive", "name it .npz"]),
    ("text.npz", b"1,2\n", ["is not an .npz archive", "looks like text"]),
    ("notes.npz", lambda tmp: _zip_with_member(tmp, "notes.txt", b"hello"),
     ["'notes.txt'", "is not a .npy array"]),
    ("damaged.npz", _damaged_member, ["cannot read array 'a'", "write the archive again"]),
    ("short.npy", _npy_header_claiming((1000, 100)),
     ["truncated or damaged", "(1000, 100)", "800000 bytes", "only 64 bytes"]),
    ("text-idx1-ubyte", b"1,2\n", ["is not an IDX file", "looks like text"]),
    ("text-idx1-ubyte.gz", gzip.compress(b"1,2\n3,4\n"),
     ["is gzip-compressed, but what it holds is not an IDX file"]),
    ("bomb-idx1-ubyte.gz", _gzipped_idx_claiming(2**32 - 1),
     ["declares 4294967295 bytes", "damaged"]),
    ("data.csv.gz", gzip.compress(b"1,2\n3,4\n"), ["gzip-compressed data", "gunzip"]),
    ("raw.csv", np.arange(4.0).tobytes(), ["not delimited text"]),
    ("bom16.csv", "a,b\n1,2\n3,4\n".encode("utf-16"), ["UTF-16", "UTF-8"]),
    ("le16.csv", "a,b\n1,2\n3,4\n".encode("utf-16-le"), ["UTF-16", "UTF-8"]),
    ("oneline.csv", b"1," * 2_200_000 + b"1\n", ["line 1 is 4400001 characters long"]),
]


@pytest.mark.parametrize("name, content, fragments", HOSTILE, ids=[row[0] for row in HOSTILE])
def test_hostile_file_exits_2_with_one_line(tmp_path, capsys, name, content, fragments):
    data = tmp_path / name
    data.write_bytes(content(tmp_path) if callable(content) else content)
    model = tmp_path / "m.mixfit"
    code, out, err = run(capsys, "fit", data, "--out", model)
    assert_refused(code, err, f"'{data}'", *fragments)
    assert not model.exists()


def test_npy_header_is_checked_before_anything_is_allocated(tmp_path):
    # 8 TB declared: allocating it first would end in a memory error instead.
    data = tmp_path / "huge.npy"
    data.write_bytes(_npy_header_claiming((10**7, 10**5)))
    with pytest.raises(ValueError, match=r"declares shape \(10000000, 100000\) of float64 "
                                         r"\(8000000000000 bytes\), but only 64 bytes"):
        read_data(data)


def test_npy_file_named_npz_is_still_read(tmp_path):
    data = tmp_path / "data.npz"
    with open(data, "wb") as file:
        np.save(file, np.arange(6.0).reshape(3, 2))
    X, _ = read_data(data)
    np.testing.assert_array_equal(X, np.arange(6.0).reshape(3, 2))


def test_gzipped_idx_is_still_read(tmp_path):
    from mixfit.datasets import write_idx

    images = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x-idx3-ubyte.gz", images)
    X, _ = read_data(tmp_path / "x-idx3-ubyte.gz")
    np.testing.assert_array_equal(X, images.reshape(2, 12))


# ------------------------------------------------------------------ decimal commas


DECIMAL_COMMAS = [
    # (content, fragments): cases where decimal commas are the only sensible reading
    ("x\n0,5\n1,25\n2,75\n", ["line 2 has 2 fields but its header has 1", "decimal commas"]),
    ("a;b\n0,5;1,5\n2,5;3,25\n", ['"0,5" is a number with a decimal comma']),
    ("a\tb\n0,5\t1,5\n2,5\t3,25\n", ['"0,5" is a number with a decimal comma']),
    ("0,5\n1,25\n0,05\n", ["one column of numbers with decimal commas", '"0,05"']),
]


@pytest.mark.parametrize("content, fragments", DECIMAL_COMMAS)
def test_decimal_commas_are_named_with_the_fix(tmp_path, capsys, content, fragments):
    data = tmp_path / "data.csv"
    data.write_text(content)
    code, _, err = run(capsys, "fit", data, "-k", 1)
    assert_refused(code, err, *fragments, "--decimal-comma")


@pytest.mark.parametrize("content, names", [
    ("x\n0,5\n1,25\n2,75\n", ["x"]),
    ("a;b\n0,5;1,5\n2,5;3,25\n", ["a", "b"]),
    ("0,5\n1,25\n0,05\n", None),
])
def test_decimal_comma_option_reads_them(tmp_path, content, names):
    data = tmp_path / "data.csv"
    data.write_text(content)
    X, read_names = read_data(data, decimal_comma=True)
    rows = [line.split(";") for line in content.splitlines()[1 if names else 0:]]
    expected = [[float(cell.replace(",", ".")) for cell in row] for row in rows]
    assert X.tolist() == expected and read_names == names


def test_decimal_comma_option_through_the_cli(tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_text("x\n0,5\n0,6\n9,5\n9,4\n")
    code, out, err = run(capsys, "fit", data, "-k", 2, "--decimal-comma", "--json")
    assert code == 0, err
    means = json.loads(out)["parameters"]["means"]
    assert sorted(np.ravel(means)) == pytest.approx([0.55, 9.45])


def test_explicit_comma_delimiter_means_columns(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("0,5\n1,25\n0,05\n")
    X, _ = read_data(data, delimiter=",")
    assert X.tolist() == [[0, 5], [1, 25], [0, 5]]


def test_integer_pairs_without_leading_zeros_stay_two_columns(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("0,5\n1,25\n2,75\n")
    assert read_data(data)[0].tolist() == [[0, 5], [1, 25], [2, 75]]


@pytest.mark.parametrize("argv, fragment", [
    (["--delimiter", ","], "cannot go with a comma delimiter"),
    ([], "holds a point"),
])
def test_decimal_comma_conflicts(tmp_path, capsys, argv, fragment):
    data = tmp_path / "data.csv"
    data.write_text("x;y\n1.234,5;2\n1,5;3\n")
    code, _, err = run(capsys, "fit", data, "--decimal-comma", *argv)
    assert_refused(code, err, fragment)
