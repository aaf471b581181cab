"""IDX files (every type code, any rank, gzipped or raw) and the MNIST loader.

Nothing here touches the network: MNIST is read from files already on disk.
"""

from __future__ import annotations

import gzip
import math
import numbers
import os
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["load_mnist", "read_idx", "write_idx"]

# --------------------------------------------------------------------------- #
# IDX files
# --------------------------------------------------------------------------- #

# Type code -> big-endian dtype of the payload, as the IDX format defines them.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {(dtype.kind, dtype.itemsize): code for code, dtype in _IDX_DTYPES.items()}
_IDX_NAMES = "uint8, int8, int16, int32, float32, float64"
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path_or_file):
    """All bytes of a path or binary file object, and a name for error messages."""
    if isinstance(path_or_file, (str, os.PathLike)):
        name = os.fspath(path_or_file)
        with open(name, "rb") as file:
            return file.read(), name
    if isinstance(path_or_file, (bytes, bytearray, memoryview)):
        raise TypeError(
            "read_idx takes a path or a binary file object, not the bytes "
            "themselves; wrap them: read_idx(io.BytesIO(data))."
        )
    if not hasattr(path_or_file, "read"):
        raise TypeError(
            f"read_idx takes a path (str or os.PathLike) or a binary file object, "
            f"got {type(path_or_file).__name__}."
        )
    name = getattr(path_or_file, "name", None)
    name = os.fspath(name) if isinstance(name, (str, os.PathLike)) else (
        f"<{type(path_or_file).__name__}>")
    try:
        data = path_or_file.read()
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        # A gzip.GzipFile handed in by the caller fails while reading.
        raise ValueError(
            f"cannot read IDX file {name!r}: damaged gzip stream ({exc})."
        ) from exc
    if isinstance(data, str):
        raise TypeError(
            f"{name!r} was opened in text mode; open it in binary mode: open(path, 'rb')."
        )
    return data, name


def _parse_idx(data, name):
    def fail(problem):
        return ValueError(f"cannot read IDX file {name!r}: {problem}")

    size = len(data)
    if size < 4:
        raise fail(f"truncated header: the 4-byte magic number is missing "
                   f"(the file has {size} bytes).")
    if data[0] != 0 or data[1] != 0:
        raise fail(f"wrong magic number: the first two bytes must be zero, got "
                   f"{bytes(data[:2]).hex(' ')}; this is not an IDX file.")
    code, rank = data[2], data[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X} {d.name}" for c, d in _IDX_DTYPES.items())
        raise fail(f"unknown type code 0x{code:02X}; the IDX type codes are {known}.")
    header_size = 4 + 4 * rank
    if size < header_size:
        raise fail(f"truncated header: rank {rank} needs {header_size} header "
                   f"bytes, the file has {size}.")
    shape = struct.unpack_from(f">{rank}I", data, 4)
    dtype = _IDX_DTYPES[code]
    count = math.prod(shape)
    # Python ints: a declared size can never overflow, and nothing is allocated
    # from it before it has been checked against the bytes actually present.
    expected = count * dtype.itemsize
    payload = size - header_size
    if payload != expected:
        problem = "truncated payload" if payload < expected else "trailing bytes"
        raise fail(f"{problem}: the dimension product does not match the size; "
                   f"shape {shape} of {dtype.name} needs {expected} bytes after the "
                   f"{header_size}-byte header, the file has {payload}.")
    array = np.frombuffer(data, dtype=dtype, count=count, offset=header_size)
    # astype copies into native byte order, giving a writable array that owns its data.
    return array.reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path_or_file):
    """Read an IDX file (the format of MNIST), gzipped or raw.

    The format: two zero bytes, a type code, the rank ``r``; then ``r``
    big-endian uint32 dimensions; then the values, big-endian, in C order.
    Type codes: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
    0x0E float64. Rank 0 is read as a 0-d array holding one value (the product
    of no dimensions is 1). Gzip compression is recognised by its magic bytes,
    whatever the file is called.

    Parameters
    ----------
    path_or_file : str, os.PathLike or binary file object
        The file. A file object is read from its current position to the end.

    Returns
    -------
    array : ndarray of the file's shape
        In the file's dtype, native byte order, writable.

    Raises
    ------
    ValueError
        When the file is not a well-formed IDX file: wrong magic number, unknown
        type code, truncated header or payload, trailing bytes, damaged gzip
        stream. The message names the file.
    FileNotFoundError
        When the path does not exist.
    TypeError
        When given neither a path nor a binary file object.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from mixfit.datasets import read_idx, write_idx
    >>> buffer = io.BytesIO()
    >>> write_idx(buffer, np.array([[1, 258], [-3, 4]], dtype=np.int16))
    >>> buffer.getvalue()
    b'\\x00\\x00\\x0b\\x02\\x00\\x00\\x00\\x02\\x00\\x00\\x00\\x02\\x00\\x01\\x01\\x02\\xff\\xfd\\x00\\x04'
    >>> _ = buffer.seek(0)
    >>> read_idx(buffer)
    array([[  1, 258],
           [ -3,   4]], dtype=int16)
    """
    data, name = _read_bytes(path_or_file)
    # A raw IDX file starts with two zero bytes, so the gzip magic cannot be a raw file.
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(
                f"cannot read IDX file {name!r}: damaged gzip stream ({exc}); "
                "download or copy the file again."
            ) from exc
    return _parse_idx(data, name)


def write_idx(path, array):
    """Write an array as an IDX file, gzipped if the path ends in ``.gz``.

    Parameters
    ----------
    path : str, os.PathLike or binary file object
        Where to write. A file object receives the raw (uncompressed) bytes.
        Gzipped files carry mtime 0, so the same array gives the same bytes.
    array : array-like
        Of dtype uint8, int8, int16, int32, float32 or float64 (any byte order),
        any rank up to 255, every dimension below 2**32.

    Raises
    ------
    TypeError
        When the dtype is not one the IDX format holds.
    ValueError
        When a dimension does not fit in the format's uint32.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from mixfit.datasets import read_idx, write_idx
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "values-idx2-float.gz")
    ...     write_idx(path, np.eye(2, dtype=np.float32))
    ...     read_idx(path)
    array([[1., 0.],
           [0., 1.]], dtype=float32)
    """
    array = np.asarray(array)
    code = _IDX_CODES.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        raise TypeError(
            f"dtype {array.dtype} is not in the IDX format, which holds {_IDX_NAMES}; "
            "convert first, for example array.astype(np.int32) or array.astype(np.float64)."
        )
    if any(dim > 0xFFFFFFFF for dim in array.shape):
        raise ValueError(
            f"shape {array.shape} does not fit the IDX format, whose dimensions are "
            "uint32 (below 2**32); split the array."
        )
    header = struct.pack(f">4B{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
    payload = array.astype(_IDX_DTYPES[code], copy=False).tobytes(order="C")
    if isinstance(path, (str, os.PathLike)):
        filename = os.fspath(path)
        if filename.endswith(".gz"):
            file = gzip.GzipFile(filename, "wb", mtime=0)
        else:
            file = open(filename, "wb")
        with file:
            file.write(header)
            file.write(payload)
    elif hasattr(path, "write"):
        path.write(header)
        path.write(payload)
    else:
        raise TypeError(
            f"write_idx takes a path (str or os.PathLike) or a binary file object, "
            f"got {type(path).__name__}."
        )


# --------------------------------------------------------------------------- #
# MNIST
# --------------------------------------------------------------------------- #

_MNIST_KINDS = ("train", "t10k")


def _mnist_file(folder, kind, what, rank):
    """The first existing spelling of one MNIST file in ``folder``."""
    names = [
        f"{kind}-{what}-idx{rank}-ubyte",
        f"{kind}-{what}-idx{rank}-ubyte.gz",
        # Some mirrors put a dot before the idx part.
        f"{kind}-{what}.idx{rank}-ubyte",
        f"{kind}-{what}.idx{rank}-ubyte.gz",
    ]
    for name in names:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"no MNIST {kind} {what} file in {str(folder)!r}: looked for "
        f"{', '.join(names)}. Put the four original MNIST files (gzipped or not) "
        "in one folder, for example ../shared/data/mnist next to the repository."
    )


def _check_digits(digits):
    if digits is None:
        return None
    if isinstance(digits, (str, bytes)) or not hasattr(digits, "__iter__"):
        raise TypeError(
            f"digits must be an iterable of ints from 0 to 9 such as [0, 1], or "
            f"None for all digits, got {digits!r}."
        )
    wanted = list(digits)
    for digit in wanted:
        if isinstance(digit, (bool, np.bool_)) or not isinstance(digit, numbers.Integral):
            raise TypeError(f"digits must hold ints from 0 to 9, got {digit!r}.")
        if not 0 <= digit <= 9:
            raise ValueError(f"digits must hold ints from 0 to 9, got {digit}.")
    if not wanted:
        raise ValueError("digits is empty; pass None to keep every digit.")
    return np.array(wanted, dtype=np.uint8)


def load_mnist(path, kind="train", digits=None):
    """Read MNIST images and labels from the original IDX files in a folder.

    Parameters
    ----------
    path : str or os.PathLike
        A folder holding ``{kind}-images-idx3-ubyte`` and
        ``{kind}-labels-idx1-ubyte``, each gzipped (``.gz``) or not; the dotted
        spellings ``{kind}-images.idx3-ubyte`` of some mirrors are accepted too.
        When several spellings exist, the first in that order is read.
    kind : {"train", "t10k"}
        The 60000 training or the 10000 test images.
    digits : iterable of int in 0..9, optional
        Keep only the images of these digits (in file order); None keeps all.

    Returns
    -------
    images : ndarray of shape (n_images, rows, cols), uint8
        Pixels, 0 background to 255 ink; rows = cols = 28 for MNIST.
    labels : ndarray of shape (n_images,), uint8
        The digit of each image.

    Raises
    ------
    FileNotFoundError
        When the folder or one of its two files is missing; the message lists
        the names looked for.
    ValueError
        When a file is not valid IDX, the images are not 3-D uint8, the labels
        not 1-D uint8, or their numbers differ; or for a bad ``kind`` or digit.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from mixfit.datasets import load_mnist, write_idx
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     folder = Path(folder)
    ...     write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((3, 28, 28), np.uint8))
    ...     write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.array([7, 2, 1], np.uint8))
    ...     images, labels = load_mnist(folder, kind="t10k", digits=[1, 7])
    >>> images.shape, labels
    ((2, 28, 28), array([7, 1], dtype=uint8))
    """
    if kind not in _MNIST_KINDS:
        hint = " (the test set's files are called t10k)" if kind == "test" else ""
        raise ValueError(f"kind must be 'train' or 't10k', got {kind!r}{hint}.")
    wanted = _check_digits(digits)
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"MNIST folder {str(folder)!r} does not exist or is not a folder; pass "
            "the folder holding the four original MNIST files, for example "
            "../shared/data/mnist next to the repository."
        )
    images_path = _mnist_file(folder, kind, "images", 3)
    labels_path = _mnist_file(folder, kind, "labels", 1)
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{str(images_path)!r} holds {images.dtype} of shape {images.shape}; MNIST "
            "images must be uint8 of shape (n_images, rows, cols)."
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise ValueError(
            f"{str(labels_path)!r} holds {labels.dtype} of shape {labels.shape}; MNIST "
            "labels must be uint8 of shape (n_images,)."
        )
    if len(images) != len(labels):
        raise ValueError(
            f"{str(images_path)!r} holds {len(images)} images but "
            f"{str(labels_path)!r} holds {len(labels)} labels; the two files must "
            "come from the same release."
        )
    if wanted is not None:
        keep = np.isin(labels, wanted)
        images, labels = images[keep], labels[keep]
    return images, labels
