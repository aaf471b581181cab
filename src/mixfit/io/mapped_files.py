"""Binary data files read without a second copy: memory-mapped ``.npy`` and IDX files.

:func:`mixfit.io.data_files.read_data` reads ``.npy`` and uncompressed IDX files
through these functions, so that a file larger than memory can still be fitted:

* a plain ``.npy`` array of float32 or float64 values (2-D in C order, or 1-D, read
  as one column) is returned as a read-only memory map of the file
  (``np.load(path, mmap_mode="r")``): its pages are read as the fit reaches
  them, and the operating system can drop them again;
* any other numeric array (integers, big-endian floats, Fortran order, the
  big-endian values of every IDX file) is converted block by block into a new
  float array, so that memory holds that array and one block, never a second
  full copy;
* ``--columns`` on a memory map copies only the selected columns, block by block.

The float type is the narrowest that holds every value exactly (:func:`float_dtype`):
float32 for float32 data and for integers of at most 16 bits (uint8 images),
float64 otherwise, as the estimators keep float32 data in float32.
"""

from __future__ import annotations

import io
import math
import os
import struct

import numpy as np

__all__ = ["as_float_matrix", "float_dtype", "idx_layout", "load_idx", "load_npy",
           "npy_layout"]

#: About how many bytes of converted rows one block holds: large enough that the
#: per-block overhead vanishes, small next to any data worth memory-mapping.
BLOCK_BYTES = 2**23

#: Kinds and sizes of the values float32 holds exactly (and float32 itself).
_FLOAT32_EXACT = {("f", 2), ("f", 4), ("u", 1), ("u", 2), ("i", 1), ("i", 2), ("b", 1)}


def float_dtype(dtype):
    """The float dtype data of ``dtype`` are read as: float32 when it holds them exactly.

    Parameters
    ----------
    dtype : numpy.dtype
        A numeric dtype (kinds ``b``, ``i``, ``u``, ``f``), any byte order.

    Returns
    -------
    numpy.dtype
        float32 for float16/float32, booleans and integers of at most 16 bits
        (every such value is a float32 exactly); float64 for everything else.
    """
    dtype = np.dtype(dtype)
    return np.dtype(np.float32 if (dtype.kind, dtype.itemsize) in _FLOAT32_EXACT
                    else np.float64)


def block_rows(n_columns, itemsize):
    """Rows per conversion block: about :data:`BLOCK_BYTES`, at least one."""
    return max(1, BLOCK_BYTES // max(1, n_columns * itemsize))


def as_float_matrix(data, indices=None):
    """A 2-D float array of ``data``'s rows (the selected columns only), without a full copy.

    Parameters
    ----------
    data : ndarray or np.memmap of shape (n_samples, n_columns)
        Numeric (kinds ``b``, ``i``, ``u``, ``f``).
    indices : list of int, optional
        Columns to keep, in order; None keeps all.

    Returns
    -------
    X : ndarray of shape (n_samples, len(indices)), C-contiguous
        ``data`` itself (a memory map stays one) when it already is a native
        C-contiguous float array of :func:`float_dtype` and every column is kept
        in order; otherwise a new array filled block by block, so that memory
        holds the result and one block of ``data``.
    """
    target = float_dtype(data.dtype)
    n_samples, n_columns = data.shape
    all_columns = indices is None or list(indices) == list(range(n_columns))
    if (all_columns and data.dtype == target and data.dtype.isnative
            and data.flags.c_contiguous):
        return data
    width = n_columns if all_columns else len(indices)
    X = np.empty((n_samples, width), dtype=target)
    step = block_rows(n_columns, data.dtype.itemsize)
    for start in range(0, n_samples, step):
        block = data[start:start + step]
        X[start:start + step] = block if all_columns else block[:, indices]
    return X


# --------------------------------------------------------------------------- #
# .npy
# --------------------------------------------------------------------------- #


def npy_layout(path):
    """``(shape, dtype, fortran_order, offset)`` from the header of an ``.npy`` file.

    ``offset`` is where the values start. Reading problems raise ValueError
    naming the file (the header was checked against the file's size before).
    """
    try:
        with open(path, "rb") as file:
            version = np.lib.format.read_magic(file)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, fortran_order, dtype = read(file)
            return shape, np.dtype(dtype), fortran_order, file.tell()
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as exc:
        raise ValueError(f"cannot read '{path}' as a .npy file: {exc}") from None


def load_npy(path, size):
    """The array of an ``.npy`` file: memory-mapped (read-only) unless empty or structured.

    ``size`` is the file's size in bytes, against which the header is checked
    first, so that no map or allocation is sized from a damaged header.
    """
    from mixfit.io.data_checks import check_npy_header

    with open(path, "rb") as file:
        check_npy_header(file, size, f"'{path}'")
    shape, dtype, _, _ = npy_layout(path)
    if dtype.hasobject:
        raise ValueError(
            f"'{path}' holds an object array (Python objects, stored as a pickle), "
            "which is not read for safety; save a numeric array instead, for "
            "example np.save(path, X.astype(float)).")
    try:
        if math.prod(shape) == 0 or dtype.names is not None:
            # An empty file region cannot be mapped (nothing to copy either); fields
            # are copied into one float array anyway.
            return np.load(path, allow_pickle=False)
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"cannot read '{path}' as a .npy file: {exc}") from exc


# --------------------------------------------------------------------------- #
# IDX
# --------------------------------------------------------------------------- #


def idx_layout(path, size):
    """``(shape, dtype, offset)`` of an uncompressed IDX file, its payload size checked.

    The dtype is the file's big-endian one (``>u1``, ``>f4`` …). A header that
    does not match the file's ``size`` raises the ValueError that
    :func:`mixfit.datasets.read_idx` would, naming the file.
    """
    from mixfit.datasets.idx import _IDX_DTYPES

    name = os.fspath(path)
    with open(path, "rb") as file:
        head = file.read(4)
        rank = head[3] if len(head) == 4 else 0
        dims = file.read(4 * rank)
    header_size = 4 + 4 * rank
    if len(head) < 4 or len(dims) < 4 * rank or head[2] not in _IDX_DTYPES:
        # A damaged header: read_idx words every such problem (the file is small).
        from mixfit.datasets import read_idx

        read_idx(path)
    shape = struct.unpack(f">{rank}I", dims)
    dtype = _IDX_DTYPES[head[2]]
    expected = math.prod(shape) * dtype.itemsize
    payload = size - header_size
    if payload != expected:
        problem = "truncated payload" if payload < expected else "trailing bytes"
        raise ValueError(
            f"cannot read IDX file {name!r}: {problem}: the dimension product does not "
            f"match the size; shape {shape} of {dtype.name} needs {expected} bytes after "
            f"the {header_size}-byte header, the file has {payload}.")
    return shape, dtype, header_size


def load_idx(path, size):
    """The array of an IDX file: memory-mapped when raw, decompressed when gzipped.

    Rank 3 and more (images) is flattened to one column per pixel. The values
    keep the file's big-endian dtype: :func:`as_float_matrix` converts them
    block by block.
    """
    from mixfit.datasets import read_idx
    from mixfit.io.data_checks import read_gzipped_idx

    with open(path, "rb") as file:
        gzipped = file.read(2) == b"\x1f\x8b"
    if gzipped:
        # Decompressed no further than the header declares (no decompression bomb).
        buffer = io.BytesIO(read_gzipped_idx(path, size))
        buffer.name = os.fspath(path)  # read_idx's messages name the file
        data = read_idx(buffer)
    else:
        shape, dtype, offset = idx_layout(path, size)
        if len(shape) == 0 or math.prod(shape) == 0:
            data = read_idx(path)  # nothing to map: a single value, or none
        else:
            data = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
    if data.ndim >= 3:
        # Images (n, rows, cols): one feature per pixel, in row-major order.
        data = data.reshape(data.shape[0], -1)
    return data
