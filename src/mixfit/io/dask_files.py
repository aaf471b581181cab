"""Data files as Dask arrays whose blocks the workers read themselves.

:func:`dask_array_from_file` is what ``mixfit fit DATA --scheduler ADDRESS``
fits on: the client reads only the file's header or footer (shape, dtype, row
groups) and builds a graph of small tasks, each naming the file, a range of rows
and the columns to keep; a worker runs such a task by opening the file itself —
a memory map of an ``.npy`` or IDX file (``np.load(path, mmap_mode="r")[a:b]``),
one row group of a Parquet file — so no data passes through the client. The
file must therefore be readable by every worker at the same absolute path (a
shared or replicated file system); the path is made absolute here.

Each block holds what :func:`mixfit.io.data_files.read_data` gives for those
rows, in the same float dtype, so ``array.compute()`` equals the local read.

Formats: ``.npy`` (plain numeric arrays, 1-D or 2-D), raw IDX, Parquet.
Refused, with the reason: delimited text (a worker cannot find row ``a`` of a CSV
file without reading every line before it; convert it once, for example with
``numpy.save`` or pyarrow, or fit it without ``--scheduler``), ``.npz`` archives
and gzipped IDX files (compressed: not readable by rows).

Every call names its blocks afresh (a random token): two commands on one
scheduler then never share keys, so a file rewritten between them is read again.
"""

from __future__ import annotations

import math
import os
import uuid
from pathlib import Path

import numpy as np

from mixfit.engine.sources import require_dask
from mixfit.io.data_checks import check_content, check_npy_header, check_path
from mixfit.io.data_columns import resolve_columns
from mixfit.io.mapped_files import float_dtype, idx_layout, npy_layout

__all__ = ["dask_array_from_file"]

#: Default bytes of float values per block: big enough that a task's overhead
#: (~1 ms on a cluster) is small next to its E-step, small next to a worker's memory.
BLOCK_BYTES = 2**26


def dask_array_from_file(path, columns=None, block_rows=None):
    """A Dask array of a data file's rows, each block read by the worker that computes it.

    Parameters
    ----------
    path : str or os.PathLike
        An ``.npy``, raw IDX or ``.parquet`` file, on a path every worker can
        read (it is resolved to an absolute path here).
    columns : str, sequence of (int or str), callable or None
        Columns to keep, as for :func:`mixfit.io.data_files.read_data`: 0-based
        indices, or names of a Parquet file's columns.
    block_rows : int, optional
        Rows per block of an ``.npy`` or IDX file; by default about 64 MiB of
        float values per block. Parquet files are split at their row groups,
        so it must be None for them.

    Returns
    -------
    X : dask.array.Array of shape (n_samples, n_features), float32 or float64
        Chunked by rows only, with known chunk sizes; the dtype is the one
        :func:`mixfit.io.data_files.read_data` gives.
    names : list of str or None
        The columns' names (Parquet), or None.

    Raises
    ------
    ImportError
        When Dask (or, for Parquet, pyarrow) is not installed.
    ValueError
        For a format that cannot be read by rows (text, ``.npz``, gzipped
        IDX), an array that is not numeric or has more than two dimensions
        (``.npy``), a bad ``block_rows``, and every problem ``read_data`` reports
        from the header or footer.
    """
    require_dask("mixfit --scheduler (a Dask array read from a file)")
    from mixfit.io.data_files import _file_kind

    path = Path(os.path.abspath(os.fspath(path)))
    size = check_path(path)
    kind = _file_kind(path)
    if kind in ("text", "npz"):
        what = "delimited text" if kind == "text" else "an .npz archive"
        raise ValueError(
            f"'{path}' is {what}, which Dask workers cannot read by blocks of rows; "
            "save it as .npy (numpy.save) or .parquet to fit it on a cluster, or fit it "
            "without --scheduler.")
    check_content(path, kind)
    if block_rows is not None and (isinstance(block_rows, bool) or
                                   not isinstance(block_rows, (int, np.integer))
                                   or block_rows < 1):
        raise ValueError(f"block_rows must be a whole number >= 1, got {block_rows!r}.")
    if kind == "parquet":
        if block_rows is not None:
            raise ValueError("block_rows applies to .npy and IDX files; a Parquet file's "
                             "blocks are its row groups (set their size when writing it).")
        return _from_parquet(path, columns)
    return _from_mapped(path, kind, size, columns, block_rows)


# --------------------------------------------------------------------------- #
# .npy and IDX: slices of a memory map
# --------------------------------------------------------------------------- #


def _from_mapped(path, kind, size, columns, block_rows):
    import dask.array as da

    if kind == "npy":
        with open(path, "rb") as file:
            check_npy_header(file, size, f"'{path}'")
        shape, dtype, fortran_order, offset = npy_layout(path)
        if dtype.names is not None or dtype.kind not in "biuf":
            raise ValueError(
                f"'{path}' holds {dtype} values; on a cluster mixfit reads plain numeric "
                "arrays (integers or floats, no fields): save X.astype(float) instead.")
        if len(shape) > 2 or len(shape) == 0:
            raise ValueError(
                f"'{path}' holds an array of shape {shape}; mixfit needs a 2-D array "
                "(n_samples, n_features) or a 1-D one; reshape it first, for example "
                "X.reshape(len(X), -1).")
    else:
        with open(path, "rb") as file:
            if file.read(2) == b"\x1f\x8b":
                raise ValueError(
                    f"'{path}' is a gzipped IDX file, which Dask workers cannot read by "
                    "blocks of rows; decompress it first (gunzip) to fit it on a cluster.")
        shape, dtype, offset = idx_layout(path, size)
        fortran_order = False
        if len(shape) == 0:
            raise ValueError(f"'{path}' holds a single number, not samples.")
    n_samples = shape[0]
    n_columns = math.prod(shape[1:]) if len(shape) > 1 else 1
    if n_samples == 0 or n_columns == 0:
        raise ValueError(f"'{path}' holds an array of shape {shape}: no data to fit.")
    indices = resolve_columns(columns, None, n_columns, path)
    target = float_dtype(dtype)
    if block_rows is None:
        block_rows = max(1, BLOCK_BYTES // (len(indices) * target.itemsize))
    layout = (os.fspath(path), str(dtype), tuple(shape), bool(fortran_order), int(offset))
    step = int(block_rows)
    chunks = (tuple(min(step, n_samples - start) for start in range(0, n_samples, step)),
              (len(indices),))
    X = da.map_blocks(_read_mapped_rows, layout, indices, str(target), chunks=chunks,
                      dtype=target, meta=np.empty((0, 0), dtype=target),
                      name=f"mixfit-read-{uuid.uuid4().hex}")
    return X, None


def _read_mapped_rows(layout, indices, dtype, block_info=None):
    """One block of a memory-mapped file: its rows, the ``indices`` columns, as ``dtype``.

    Runs on a worker (a module-level function: workers import it by name);
    Dask passes the block's place in ``block_info``.
    """
    path, file_dtype, shape, fortran_order, offset = layout
    (start, stop), _ = block_info[None]["array-location"]
    data = np.memmap(path, dtype=np.dtype(file_dtype), mode="r", offset=offset,
                     shape=shape, order="F" if fortran_order else "C")
    rows = data[start:stop].reshape(stop - start, -1)
    if list(indices) != list(range(rows.shape[1])):
        rows = rows[:, indices]
    return np.ascontiguousarray(rows, dtype=np.dtype(dtype))


# --------------------------------------------------------------------------- #
# Parquet: one block per row group
# --------------------------------------------------------------------------- #


def _from_parquet(path, columns):
    import dask.array as da

    from mixfit.io.parquet import parquet_plan

    file, names, target = parquet_plan(path, columns)
    sizes = [file.metadata.row_group(group).num_rows for group in range(file.num_row_groups)]
    groups = tuple(group for group, size in enumerate(sizes) if size)  # one block each
    X = da.map_blocks(_read_row_group, os.fspath(path), groups, names, str(target),
                      chunks=(tuple(sizes[group] for group in groups), (len(names),)),
                      dtype=target, meta=np.empty((0, 0), dtype=target),
                      name=f"mixfit-read-{uuid.uuid4().hex}")
    return X, names


def _read_row_group(path, groups, names, dtype, block_info=None):
    """One block of a Parquet file: a row group's ``names`` columns as a ``dtype`` array.

    Runs on a worker (a module-level function: workers import it by name);
    block ``i`` is row group ``groups[i]``.
    """
    from mixfit.io.parquet import column_values, require_pyarrow

    group = groups[block_info[None]["chunk-location"][0]]
    table = require_pyarrow().ParquetFile(path).read_row_group(group, columns=names,
                                                               use_threads=False)
    out = np.empty((table.num_rows, len(names)), dtype=np.dtype(dtype))
    for j in range(len(names)):
        out[:, j] = column_values(table.column(j).combine_chunks(), out.dtype)
    return out
