"""Numbers written with a decimal comma (``0,5`` for 0.5) in delimited text.

Where the comma is the decimal mark, a comma-separated reading cuts every
number in two and gives a plausible but wrong table; a semicolon- or
tab-separated one meets cells such as ``0,5`` that are not numbers to Python.
:mod:`mixfit.io.data_files` reads such files with ``decimal_comma=True``; without
it, the cases where decimal commas are the only sensible reading are refused
here with a message that says so, and all others are left alone (``1,25`` on
its own may well be two integer columns).
"""

from __future__ import annotations

import re

#: A number with a decimal comma: 0,5  -1,25  ,5  1,5e-3 (spaces around allowed).
DECIMAL_COMMA = re.compile(r"\s*[+-]?\d*,\d+([eE][+-]?\d+)?\s*")
_INTEGER = re.compile(r"\s*[+-]?\d+\s*")
_INTEGER_PAIR = re.compile(r"\s*[+-]?\d+\s*,\s*\d+\s*")
# An integer does not start with 0 unless it is 0: "1,05" can only be 1.05.
_LEADING_ZERO_PAIR = re.compile(r"\s*[+-]?\d+\s*,\s*0\d+\s*")

#: The fix offered wherever decimal commas are found.
HOW_TO_READ = ("pass --decimal-comma (decimal_comma=True in Python) to read 0,5 as 0.5, or "
               "convert the file's decimal commas to points")


def looks_decimal(cell):
    """Whether a cell is a number written with a decimal comma."""
    return DECIMAL_COMMA.fullmatch(cell) is not None


def decimal_float(cell):
    """A cell with a decimal comma as a float; ValueError when it is not one.

    A cell holding a point is refused: beside a decimal comma, a point is a
    thousands separator (``1.234,5``), and reading it as a decimal mark would be
    silently wrong.
    """
    if "." in cell:
        raise ValueError(cell)
    return float(cell.replace(",", "."))


def point_message(where, cell):
    """The message for a cell with a point, read with decimal commas."""
    return (f'{where}: "{cell}" holds a point, but with --decimal-comma the comma is the '
            "decimal mark and a point could be a thousands separator; convert the file, "
            "or drop --decimal-comma if its decimal mark is the point.")


def cell_message(where, cell):
    """The message for a cell such as ``0,5`` met without ``decimal_comma``."""
    return f'{where}: "{cell}" is a number with a decimal comma; {HOW_TO_READ}.'


def refuse_split_numbers(path, lines, rows, header):
    """Refuse a comma-split reading of text that can only hold decimal commas.

    Parameters
    ----------
    path : path-like
        The file, for messages.
    lines : list of (int, str)
        Every data-bearing line of the file with its number, header included.
    rows : list of list of str
        The sampled lines split at commas.
    header : bool
        Whether the first row is a header.
    """
    if header:
        # Rows longer than the header, of integers only: each number cut in two.
        width = len(rows[0])
        for (number, text), cells in zip(lines[1:], rows[1:]):
            if len(cells) > width and all(_INTEGER.fullmatch(cell) for cell in cells):
                raise ValueError(
                    f"'{path}' line {number} has {len(cells)} fields but its header has "
                    f"{width}: its numbers look written with decimal commas (\"{text}\"), "
                    f"which the comma delimiter cuts in two; {HOW_TO_READ}; if commas do "
                    "separate columns, name every column in the header.")
        return
    if not all(len(cells) == 2 and all(_INTEGER.fullmatch(cell) for cell in cells)
               for cells in rows):
        return
    for number, text in lines:
        if _LEADING_ZERO_PAIR.fullmatch(text):
            raise ValueError(
                f"'{path}' looks like one column of numbers with decimal commas: line "
                f"{number} reads \"{text}\", and an integer column would not write "
                f"\"{text.split(',')[1].strip()}\" (a leading zero); {HOW_TO_READ}; if the "
                "commas do separate two columns, pass --delimiter ','.")
        if not _INTEGER_PAIR.fullmatch(text):
            return  # another kind of row: not a file of decimal-comma numbers
