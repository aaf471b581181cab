"""Which columns of a data file to read: ``--columns`` and ``columns=`` resolved to indices.

Shared by every reader of :mod:`mixfit.io` (delimited text, NumPy files, IDX,
Parquet, and the Dask arrays of :mod:`mixfit.io.dask_files`), so that a
selection means the same thing, and is refused with the same words, whatever
the file's format.
"""

from __future__ import annotations

import collections
import re

import numpy as np

__all__ = ["resolve_columns"]


def resolve_columns(columns, names, n_columns, path):
    """0-based indices of the requested columns; all of them when ``columns`` is None."""
    if columns is None:
        indices = list(range(n_columns))
    elif callable(columns):
        indices = [int(index) for index in columns(names, n_columns)]
    else:
        indices = _listed_columns(columns, names, n_columns, path)
    if names is not None:
        # A name the header holds twice cannot be matched by name later.
        counts = collections.Counter(names)
        repeated = sorted({names[i] for i in indices if counts[names[i]] > 1})
        if repeated:
            raise ValueError(
                f"'{path}' has more than one column named {', '.join(map(repr, repeated))}; "
                "give each column its own name in the header.")
    return indices


def _listed_columns(columns, names, n_columns, path):
    if isinstance(columns, str):
        columns = [item.strip() for item in columns.split(",")]
    indices = []
    for item in columns:
        if isinstance(item, str) and names is not None and item in names:
            indices.append(names.index(item))
            continue
        if isinstance(item, str) and re.fullmatch(r"[+-]?\d+", item):
            item = int(item)
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            if not 0 <= item < n_columns:
                raise ValueError(
                    f"column index {item} is out of range: '{path}' has {n_columns} "
                    f"column(s), numbered 0 to {n_columns - 1}."
                )
            indices.append(int(item))
        elif names is None:
            raise ValueError(
                f"column {item!r} is not an index, and '{path}' has no column names; "
                f"select columns by 0-based index (0 to {n_columns - 1})."
            )
        else:
            raise ValueError(
                f"'{path}' has no column {item!r}; its columns are "
                f"{', '.join(map(repr, names))} (or use 0-based indices)."
            )
    if not indices:
        raise ValueError("no columns selected; pass names or 0-based indices such as 0,2.")
    return indices
