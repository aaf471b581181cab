"""Data files: reading samples (delimited text, NumPy files, IDX), writing CSV results.

:func:`read_data` is what the ``mixfit`` command reads its DATA argument with,
:func:`write_csv` what it writes labels and probabilities with. The format
of a data file follows its name:

* ``.npy`` — one array (no pickles), memory-mapped (:mod:`mixfit.io.mapped_files`);
* ``.npz`` — one array of the archive, chosen by ``key``;
* IDX (``.idx``, ``…-ubyte``, ``…idx3-ubyte.gz``, the format of MNIST) — memory-mapped
  when raw, read with :func:`mixfit.datasets.read_idx` when gzipped;
* ``.parquet`` — numeric columns, through pyarrow (:mod:`mixfit.io.parquet`);
* anything else — delimited text (CSV, TSV, semicolons, whitespace), its
  delimiter and header detected unless given; ``decimal_comma`` for ``0,5``.

Only regular files whose first bytes match their name's format are read
(:mod:`mixfit.io.data_checks`).

Only numpy and the standard library are used, so that the command line works
without pandas.
"""

from __future__ import annotations

import csv
import math
import os
import re
from array import array
from pathlib import Path

import numpy as np

from mixfit.io.data_checks import check_content, check_npz_member, check_path
from mixfit.io.data_columns import resolve_columns as _resolve_columns
from mixfit.io.decimal_comma import cell_message, decimal_float, looks_decimal, point_message
from mixfit.io.decimal_comma import refuse_split_numbers
from mixfit.io.mapped_files import as_float_matrix, load_idx, load_npy
from mixfit.io.output_files import Output, writing

__all__ = ["read_data", "write_csv"]

#: Cells that mean "missing" in delimited text (compared case-insensitively, after
#: stripping spaces); they become NaN, which the estimators then report.
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none"})

#: Rows looked at to detect the delimiter and the header, and about how many
#: characters of them at most (a sniffer's time grows with it).
_SAMPLE_ROWS = 50
_SAMPLE_CHARS = 2**20
#: The longest line read as a row (about 100,000 numbers): each cell of a row costs
#: ~50 bytes and a few microseconds while it is split and checked.
_MAX_LINE_CHARS = 2**20

#: Delimiters tried, in order of preference; ``None`` stands for runs of whitespace.
_DELIMITERS = (",", "\t", ";", "|", None)
_DELIMITER_ALIASES = {"\\t": "\t", "tab": "\t", "space": " ", "whitespace": " "}
_DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe", None: "whitespace"}

_IDX_NAME = re.compile(r"(\.idx\d*|-ubyte)$")


def read_data(path, *, columns=None, key=None, delimiter=None, header=None,
              decimal_comma=False):
    """Read a data file as a matrix of float samples.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Its name picks the format: ``.npy``, ``.npz``, IDX (names
        ending in ``.idx``, ``.idx3``, ``-ubyte``, optionally followed by
        ``.gz``), ``.parquet`` (needs pyarrow), and delimited text for every
        other name.
    columns : str or sequence of (int or str), optional
        Columns to keep, in the order given: 0-based indices, or names from the
        text file's header or Parquet schema. A string is split at commas (``"a,b"``, ``"0,2"``),
        as the command line's ``--columns`` passes it; a string item that is not
        a header name but an integer is read as an index. None keeps them all.
        A function ``columns(names, n_columns)`` may choose instead: it gets the
        file's column names (None when it has none) and number of columns, and
        returns the 0-based indices to keep, in order.
    key : str, optional
        Which array of an ``.npz`` archive to read. Needed only when the
        archive holds more than one array.
    delimiter : str, optional
        Delimiter of a text file (``","``, ``"\\t"`` or ``"tab"``, ``";"``, …;
        ``" "`` or ``"whitespace"`` for runs of spaces and tabs; quotes are
        not read then). Detected when None: ``csv.Sniffer`` first, then comma,
        tab, semicolon, pipe and whitespace, keeping the first one that splits
        every sampled row into the same number of fields; a comma only when no
        other delimiter's cells look like numbers with decimal commas (``0,5``).
    header : bool, optional
        Whether the text file's first row holds column names. Detected when
        None: it does when one of its cells is not a number while the rows
        below hold numbers in that column.
    decimal_comma : bool, default False
        Whether a text file writes numbers with a decimal comma (``0,5`` for
        0.5); its delimiter cannot be a comma then. Without it, cells such as
        ``0,5`` and files that only look comma-separated because of decimal
        commas are refused with a message saying so.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        float64 for text; for binary formats float32 when every value is one
        exactly (float32 data, integers of at most 16 bits such as uint8
        pixels), else float64. A plain float32/float64 ``.npy`` array in C
        order is a read-only ``np.memmap`` of the file (a copy of the selected
        columns with ``columns``); other arrays are converted block by block,
        never copied whole twice.
        One-dimensional arrays are read as one feature, shape (n_samples, 1).
        IDX files of rank 3 or more (images) are flattened to
        (n_samples, rows·cols·…).
    column_names : list of str or None
        Names of the returned columns, from a text header, a Parquet schema or
        the fields of a structured ``.npy`` array; None when the file has none.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist; the message names it.
    IsADirectoryError
        When ``path`` is a folder.
    ValueError
        When ``path`` is not a regular file (a device, a FIFO, a socket: those
        are refused without being opened), is empty, is a mixfit model file, or
        does not hold the format its name says (checked by its first bytes); and
        when the file cannot be read as numbers: binary or damaged content, a
        cell that is not a number (the message names the line, the column and
        the cell), rows of different lengths, an object array, an array of more
        than two dimensions, an unknown column or ``.npz`` key, two selected
        columns of the same name, a text line over 2**20 characters, a Parquet
        column that is not numeric. Missing cells (empty, ``NA``, ``nan``,
        ``null``; Parquet nulls) are not errors: they are read as NaN.
    ImportError
        For a ``.parquet`` file when pyarrow is not installed; the message says
        how to install it.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "data.csv")
    ...     with open(path, "w") as file:
    ...         _ = file.write("height,weight,name\\n1.8,75,ann\\n1.6,NA,bob\\n")
    ...     X, names = read_data(path, columns="weight,height")
    >>> X
    array([[75. ,  1.8],
           [ nan,  1.6]])
    >>> names
    ['weight', 'height']
    """
    path = Path(path)
    # Before anything is opened: a FIFO would block, a device never end.
    size = check_path(path)
    kind = _file_kind(path)
    if kind != "npz" and key is not None:
        raise ValueError(f"key={key!r} applies only to .npz archives, and '{path}' is not one.")
    if kind != "text" and (delimiter is not None or header is not None or decimal_comma):
        raise ValueError(f"delimiter, header and decimal_comma apply only to text files, "
                         f"and '{path}' is a {kind} file.")
    check_content(path, kind)
    try:
        if kind == "text":
            return _read_text(path, columns, delimiter, header, decimal_comma)
        if kind == "parquet":
            from mixfit.io.parquet import read_parquet

            return read_parquet(path, columns)
        if kind == "npy":
            data = load_npy(path, size)
        elif kind == "npz":
            data = _load_npz(path, key, size)
        else:
            data = load_idx(path, size)
        return _array_to_matrix(data, path, columns)
    except MemoryError:
        raise ValueError(f"'{path}' is too large to read into this computer's memory; "
                         "use a sample of its rows, or fewer columns.") from None


def _file_kind(path):
    name = path.name.lower()
    if name.endswith(".npy"):
        return "npy"
    if name.endswith(".npz"):
        return "npz"
    if name.endswith(".parquet"):
        return "parquet"
    if _IDX_NAME.search(name.removesuffix(".gz")):
        return "IDX"
    return "text"


# --------------------------------------------------------------------------- #
# Binary formats
# --------------------------------------------------------------------------- #


def _load_npz(path, key, size):
    import zipfile

    with open(path, "rb") as file:
        if file.read(6) == b"\x93NUMPY":
            # A .npy file named .npz: read as the .npy it is, as np.load would.
            return load_npy(path, size)
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"cannot read '{path}' as a .npz archive: {exc}") from exc
    with archive:
        keys = list(archive.files)
        if key is None:
            if len(keys) != 1:
                listed = ", ".join(keys) if keys else "none"
                raise ValueError(
                    f"'{path}' holds {len(keys)} arrays (keys: {listed}); choose one "
                    "with key= (--key on the command line)."
                )
            key = keys[0]
        elif key not in keys:
            raise ValueError(
                f"'{path}' has no array {key!r}; its keys are {', '.join(keys) or 'none'}."
            )
        # NpzFile hands out members that are not .npy as raw bytes, and sizes
        # arrays from their headers: both are checked before anything is read.
        member = key + ".npy" if key + ".npy" in archive.zip.namelist() else key
        check_npz_member(path, member)
        try:
            return archive[key]
        except ValueError as exc:
            if "pickle" in str(exc):
                raise ValueError(f"array {key!r} of '{path}' is an object array (a pickle), "
                                 "not read for safety; save a numeric array instead.") from exc
            raise ValueError(f"cannot read array {key!r} of '{path}': {exc}") from exc
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"cannot read array {key!r} of '{path}': {exc}") from exc


def _array_to_matrix(data, path, columns):
    names = None
    if data.dtype.names is not None:
        data, names = _unstructure(data, path)
    if data.dtype.kind == "O":
        raise ValueError(f"'{path}' holds an object array; save a numeric array instead.")
    if data.dtype.kind not in "biuf":
        raise ValueError(
            f"'{path}' holds {data.dtype} values, not numbers; save a numeric array "
            "(integers or floats)."
        )
    if data.ndim == 0:
        raise ValueError(f"'{path}' holds a single number, not samples; save an array.")
    if data.ndim == 1:
        # A plain vector is the common way to store one feature.
        data = data[:, None]
    elif data.ndim > 2:
        raise ValueError(
            f"'{path}' holds an array of shape {data.shape}; mixfit needs a 2-D array "
            "(n_samples, n_features) or a 1-D one; reshape it first, for example "
            "X.reshape(len(X), -1)."
        )
    indices = None
    if columns is not None:
        indices = _resolve_columns(columns, names, data.shape[1], path)
        names = None if names is None else [names[i] for i in indices]
    # A memory map stays one when it can; otherwise converted block by block.
    return as_float_matrix(data, indices), names


def _unstructure(data, path):
    from numpy.lib import recfunctions

    fields = data.dtype.names
    for field in fields:
        field_dtype = data.dtype.fields[field][0]
        if field_dtype.kind not in "biuf" or field_dtype.shape:
            raise ValueError(
                f"field {field!r} of '{path}' holds {field_dtype}, not one number per "
                "sample; keep numeric fields only."
            )
    return recfunctions.structured_to_unstructured(data, dtype=np.float64), list(fields)


# --------------------------------------------------------------------------- #
# Delimited text
# --------------------------------------------------------------------------- #


def _read_text(path, columns, delimiter, header, decimal_comma):
    lines = _text_lines(path)
    if not lines:
        raise ValueError(f"'{path}' holds no data rows.")
    sample = _sample(lines)
    # Spelled-out names, since a tab is awkward to type on a command line.
    delimiter = _DELIMITER_ALIASES.get(delimiter, delimiter)
    # A delimiter given is the user's word that it separates the columns.
    detected = delimiter is None
    if decimal_comma and delimiter == ",":
        raise ValueError("decimal commas cannot go with a comma delimiter: the comma "
                         "would both separate columns and mark decimals; pass another "
                         "delimiter (or none, to detect it).")
    if delimiter is None:
        delimiter = _detect_delimiter(sample, decimal_comma)
    elif delimiter == " ":
        delimiter = None
    elif len(delimiter) != 1 or delimiter in "\"\r\n":
        raise ValueError(
            f"delimiter must be one character such as ',' or ';' (or 'tab', "
            f"'whitespace'), got {delimiter!r}.")
    sample_rows = _split(sample, delimiter)
    if header is None:
        header = _looks_like_header(sample_rows)
    if detected and delimiter == "," and not decimal_comma:
        refuse_split_numbers(path, lines, sample_rows, header)
    names = [cell.strip() for cell in sample_rows[0]] if header else None
    data_lines = lines[1:] if header else lines
    if not data_lines:
        raise ValueError(f"'{path}' holds a header line but no data rows.")
    n_columns = len(sample_rows[0])
    indices = _resolve_columns(columns, names, n_columns, path)
    labels = names if names is not None else [str(i) for i in range(n_columns)]
    number = decimal_float if decimal_comma else float

    # Rows are converted as they are split, so that memory holds the numbers
    # (8 bytes each) rather than every cell's string.
    values = array("d")
    for line_number, cells in _iter_rows(data_lines, delimiter, path):
        if len(cells) != n_columns:
            raise ValueError(
                f"'{path}' line {line_number} has {len(cells)} field(s), but line "
                f"{lines[0][0]} has {n_columns} (delimiter: "
                f"{_DELIMITER_NAMES.get(delimiter, repr(delimiter))}); make every row "
                "the same length, or pass the right delimiter."
            )
        try:
            values.extend([number(cells[i]) for i in indices])
        except ValueError:
            values.extend([_parse_cell(cells[i], path, line_number, labels[i], names,
                                       decimal_comma) for i in indices])
    X = np.frombuffer(values, dtype=np.float64).reshape(-1, len(indices)).copy()
    selected = None if names is None else [names[i] for i in indices]
    return X, selected


def _sample(lines):
    """The texts of the first lines, for detection: at most 50, and about 1 MiB."""
    sample, size = [], 0
    for _, text in lines[:_SAMPLE_ROWS]:
        if len(sample) >= 2 and size + len(text) > _SAMPLE_CHARS:
            break
        sample.append(text)
        size += len(text)
    return sample


def _text_lines(path):
    """(line number, text) of the non-blank, non-comment lines of a text file."""
    with open(path, "rb") as file:
        raw = file.read()
    if b"\x00" in raw[:65536]:
        raise ValueError(
            f"'{path}' looks binary (it holds NUL bytes), not like delimited text; "
            "mixfit reads CSV/TSV text, .npy, .npz and IDX files (named .idx or -ubyte)."
        )
    try:
        # utf-8-sig drops the byte-order mark that spreadsheet programs write.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"'{path}' is not UTF-8 text (byte {exc.start} is invalid); save it as "
            "UTF-8 CSV, or as .npy."
        ) from exc
    del raw
    all_lines = text.splitlines()
    longest = max(map(len, all_lines), default=0)
    if longest > _MAX_LINE_CHARS:
        number = next(i for i, line in enumerate(all_lines, start=1) if len(line) == longest)
        raise ValueError(
            f"'{path}' line {number} is {longest} characters long, more than the "
            f"{_MAX_LINE_CHARS} mixfit reads as one row; delimited text holds one sample "
            "per line: check the file, or save wide data as .npy.")
    # Lines starting with '#' are comments, as np.savetxt writes its header.
    return [
        (number, line)
        for number, line in enumerate(all_lines, start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _split(texts, delimiter):
    if delimiter is None:
        return [text.split() for text in texts]
    try:
        return list(csv.reader(texts, delimiter=delimiter, skipinitialspace=True))
    except csv.Error:
        # Only the sample is split here; _iter_rows reports the problem with its line.
        return [[text] for text in texts]


def _detect_delimiter(sample, decimal_comma=False):
    """The delimiter that splits the sampled lines into equally many fields."""
    # With decimal commas the comma cannot separate columns.
    candidates = [c for c in _DELIMITERS if not (decimal_comma and c == ",")]
    for candidate in [c for c in candidates if c != ","]:
        # Cells like 0,5 under another delimiter: decimal commas, which a comma
        # split would cut in two.
        rows = _split(sample, candidate)
        if len({len(fields) for fields in rows}) == 1 and len(rows[0]) > 1 and any(
                looks_decimal(cell) for cells in rows for cell in cells):
            return candidate
    try:
        sniffed = csv.Sniffer().sniff("\n".join(sample), delimiters=",\t;| ").delimiter
    except csv.Error:
        sniffed = None
    else:
        # The sniffer's guess goes first, but it must pass the same test.
        sniffed = None if sniffed == " " else sniffed
        if sniffed in candidates:
            candidates.remove(sniffed)
            candidates.insert(0, sniffed)
    for candidate in candidates:
        counts = {len(fields) for fields in _split(sample, candidate)}
        if len(counts) == 1 and counts.pop() > 1:
            return candidate
    # One field per line (one feature), or nothing consistent: the comma reader
    # reports the uneven rows with their line numbers (a semicolon one with
    # decimal commas, which keeps the commas in their cells).
    return ";" if decimal_comma else ","


def _iter_rows(lines, delimiter, path):
    """(line number, cells) of every row."""
    if delimiter is None:
        for number, text in lines:
            yield number, text.split()
        return
    reader = csv.reader((text for _, text in lines), delimiter=delimiter,
                        skipinitialspace=True)
    try:
        for cells in reader:
            # line_num counts the lines consumed, so a quoted field spanning
            # lines still gets the number of the line where its row ends.
            yield lines[reader.line_num - 1][0], cells
    except csv.Error as exc:
        raise ValueError(f"cannot read '{path}' as delimited text: {exc}.") from exc


def _is_number(cell):
    try:
        float(cell)
    except ValueError:
        # A decimal comma is a number too: the header is found, and the cell
        # then reported for what it is.
        return cell.strip().lower() in MISSING_TOKENS or looks_decimal(cell)
    return True


def _looks_like_header(rows):
    """Whether the first row names columns whose following cells are numbers."""
    first, below = rows[0], rows[1:]
    for j, cell in enumerate(first):
        if _is_number(cell):
            continue
        if below and all(j < len(cells) and _is_number(cells[j]) for cells in below):
            return True
    # A single non-numeric row, or text columns only: a header too (a data row
    # like that could not be read anyway, and the names make better messages).
    return not below and not all(_is_number(cell) for cell in first)


def _parse_cell(cell, path, line_number, label, names, decimal_comma=False):
    try:
        return decimal_float(cell) if decimal_comma else float(cell)
    except ValueError:
        if cell.strip().lower() in MISSING_TOKENS:
            return math.nan
    column = f'"{label}"' if names is not None else f"{label} (0-based)"
    where = f"{os.fspath(path)} line {line_number}, column {column}"
    if decimal_comma and "." in cell:
        raise ValueError(point_message(where, cell))
    if not decimal_comma and looks_decimal(cell):
        raise ValueError(cell_message(where, cell))
    raise ValueError(
        f'{os.fspath(path)} line {line_number}, column {column}: "{cell}" is not a '
        "number; fix the cell, leave it empty for a missing value, or select other "
        "columns (--columns)."
    )


# --------------------------------------------------------------------------- #
# Writing
# --------------------------------------------------------------------------- #


def write_csv(target, header, values):
    """Write a table as CSV, to a file atomically or to an open text stream.

    A regular file is written under a temporary name in its folder and then
    renamed, so readers see the old file or the complete new one, never a part,
    and a failure leaves nothing behind. A symbolic link is followed (the link
    stays); a device, a FIFO or ``/dev/stdout`` is written in place; ``"-"`` is
    standard output (see :mod:`mixfit.io.output_files`).

    Parameters
    ----------
    target : str, os.PathLike, Output or text stream
        The file, or a stream such as ``sys.stdout``. Errors name it.
    header : list of str
        Column names, written as the first row.
    values : ndarray of shape (n_rows, len(header))
        Numbers; floats are written in their shortest exact form.

    Examples
    --------
    >>> import sys
    >>> import numpy as np
    >>> write_csv(sys.stdout, ["p0", "p1"], np.array([[0.25, 0.75]]))
    p0,p1
    0.25,0.75
    """

    def write(file):
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(header)
        # repr: the shortest text that reads back to the same number. In blocks of
        # rows: tolist() of millions of labels would hold ~100 bytes of objects each.
        for start in range(0, len(values), 2**16):
            block = values[start:start + 2**16].tolist()
            writer.writerows([repr(item) for item in row] for row in block)

    if not isinstance(target, (str, os.PathLike, Output)):
        write(target)
        return
    with writing(target, binary=False) as file:
        write(file)
