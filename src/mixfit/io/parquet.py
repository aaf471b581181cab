"""Parquet data files, read through pyarrow into one float array, batch by batch.

:func:`read_parquet` is how :func:`mixfit.io.data_files.read_data` (and so
``mixfit fit data.parquet``) reads a ``.parquet`` file. The result is allocated
once, from the row count in the file's footer, and filled one record batch at a
time, so memory holds the result and one batch; only the selected columns are
read from the file.

What the columns may hold:

* integers, floats, decimals and dictionary-encoded numbers;
* booleans, read as 0 and 1 (a yes/no feature is a number to a mixture);
* nulls, read as NaN, which the estimators (and the command line) then report
  by column, as they do missing cells of a CSV file.

Strings, timestamps, dates, binary values and nested types are refused with a
message naming the column and listing the numeric ones. The result is float32
when every selected column converts to float32 exactly (float32, float16, ints
of at most 16 bits, booleans), as :func:`mixfit.io.mapped_files.float_dtype`
decides for NumPy files, else float64.

pyarrow is optional (``pip install "mixfit[parquet]"``); it is imported only
when a Parquet file is read.
"""

from __future__ import annotations

import numpy as np

from mixfit.io.data_columns import resolve_columns

__all__ = ["column_values", "parquet_plan", "read_parquet", "require_pyarrow"]

#: Rows per record batch: the memory read beyond the result is one batch of the
#: selected columns (64 Ki rows × 8 bytes = 512 KiB per column).
BATCH_ROWS = 2**16


def require_pyarrow():
    """Import and return ``pyarrow.parquet``, or raise an ImportError saying how to install it."""
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise ImportError(
            'reading Parquet needs pyarrow: pip install "mixfit[parquet]" (or '
            '"mixfit[scale]" for Parquet and Dask).') from error
    return pq


def _open(path):
    pq = require_pyarrow()
    import pyarrow as pa

    try:
        # Column chunks streamed through a 1 MiB buffer: with pre-buffering (the
        # default) pyarrow holds every row group's pages at once (279 MB of
        # Arrow memory against 35 MB, reading 4e6 × 8 float64).
        return pq.ParquetFile(path, pre_buffer=False, buffer_size=2**20)
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"cannot read '{path}' as a Parquet file: {_first_line(exc)}; "
                         "write or copy the file again.") from None


def _is_numeric(data_type):
    import pyarrow as pa

    if pa.types.is_dictionary(data_type):
        return _is_numeric(data_type.value_type)
    return (pa.types.is_integer(data_type) or pa.types.is_floating(data_type)
            or pa.types.is_boolean(data_type) or pa.types.is_decimal(data_type))


def _exact_in_float32(data_type):
    import pyarrow as pa

    if pa.types.is_dictionary(data_type):
        return _exact_in_float32(data_type.value_type)
    if pa.types.is_boolean(data_type):
        return True
    if pa.types.is_floating(data_type) or pa.types.is_integer(data_type):
        return data_type.bit_width <= (32 if pa.types.is_floating(data_type) else 16)
    return False  # decimals: float64, the nearest there is


def parquet_plan(path, columns=None):
    """What reading ``path`` will do, checked from its footer alone.

    Parameters
    ----------
    path : str or os.PathLike
        A Parquet file.
    columns : str, sequence of (int or str), callable or None
        As for :func:`mixfit.io.data_files.read_data`: names of the schema's
        top-level columns or 0-based indices.

    Returns
    -------
    file : pyarrow.parquet.ParquetFile
    names : list of str
        The selected columns, in order.
    dtype : numpy.dtype
        float32 or float64, the type of the result.

    Raises
    ------
    ValueError
        An unknown column, a selected column that is not numeric (named, with
        the numeric ones listed), a file without rows, a damaged footer.
    """
    file = _open(path)
    schema = file.schema_arrow
    all_names = list(schema.names)
    indices = resolve_columns(columns, all_names, len(all_names), path)
    fields = [schema.field(i) for i in indices]
    for field in fields:
        if not _is_numeric(field.type):
            numeric = [name for name, t in zip(all_names, schema.types) if _is_numeric(t)]
            listed = ", ".join(map(repr, numeric)) if numeric else "none"
            raise ValueError(
                f"column {field.name!r} of '{path}' holds {field.type} values, not "
                f"numbers; select numeric columns with --columns (columns=); the numeric "
                f"ones are: {listed}.")
    if file.metadata.num_rows == 0:
        raise ValueError(f"'{path}' holds no data rows.")
    exact = all(_exact_in_float32(field.type) for field in fields)
    return file, [field.name for field in fields], np.dtype(np.float32 if exact else np.float64)


def column_values(column, dtype):
    """One Arrow column as a NumPy array of ``dtype``: nulls become NaN, booleans 0 and 1."""
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if column.null_count or not (pa.types.is_integer(column.type)
                                 or pa.types.is_floating(column.type)):
        # Arrow gives nulls as NaN only in a float column; decimals and booleans
        # have no NumPy view either.
        column = column.cast(pa.float64())
    return column.to_numpy(zero_copy_only=False).astype(dtype, copy=False)


def read_parquet(path, columns=None):
    """Read the numeric columns of a Parquet file as one float array.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    columns : str, sequence of (int or str), callable or None
        Columns to read, by name or 0-based index (see
        :func:`mixfit.io.data_files.read_data`); None reads them all. The others
        are not read from the file.

    Returns
    -------
    X : ndarray of shape (n_rows, n_columns), float32 or float64
        float32 when every selected column is float32 exactly (see the module
        docstring), else float64. Nulls are NaN; booleans are 0 and 1.
    names : list of str
        The selected columns' names.

    Raises
    ------
    ImportError
        When pyarrow is not installed.
    ValueError
        See :func:`parquet_plan`; and a file whose row groups do not add up
        to the rows its footer declares, or whose pages are damaged.
    """
    file, names, dtype = parquet_plan(path, columns)  # first: says if pyarrow is missing
    import pyarrow as pa

    n_rows = file.metadata.num_rows
    X = np.empty((n_rows, len(names)), dtype=dtype)
    row = 0
    try:
        for batch in file.iter_batches(batch_size=BATCH_ROWS, columns=names,
                                       use_threads=False):
            stop = row + batch.num_rows
            if stop > n_rows:
                break
            for j in range(batch.num_columns):
                X[row:stop, j] = column_values(batch.column(j), dtype)
            row = stop
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"cannot read '{path}' as a Parquet file: {_first_line(exc)}; "
                         "write or copy the file again.") from None
    if row != n_rows:
        raise ValueError(f"'{path}' is damaged: its footer declares {n_rows} rows, but its "
                         "row groups hold a different number; write the file again.")
    return X, names


def _first_line(exc):
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
