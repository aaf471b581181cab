"""Single rows of CSR data, densified one at a time (seeds, relocated centres)."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from mixfit._validation import DEFAULT_CHUNK_SIZE, row_chunks


def dense_row(X, i):
    """Row ``i`` of CSR ``X`` as a dense 1-D array of X's dtype (one row densified)."""
    row = np.zeros(X.shape[1], dtype=X.dtype)
    start, stop = X.indptr[i], X.indptr[i + 1]
    row[X.indices[start:stop]] = X.data[start:stop]
    return row


def dense_rows(X, rows):
    """Rows ``rows`` of X as a dense ``(len(rows), d)`` array (a few rows: seeds, centres)."""
    if not sparse.issparse(X):
        return X[rows].copy()
    out = np.zeros((len(rows), X.shape[1]), dtype=X.dtype)
    for position, i in enumerate(rows):
        out[position] = dense_row(X, i)
    return out


def rows_equal_to(X, rows, value):
    """Mask over ``rows``: whether CSR row ``X[rows[i]]`` equals the dense ``value``.

    Exact comparison of values: every stored value equals ``value`` at its
    column, and ``value`` has no nonzero outside the row's stored columns.
    """
    value = np.asarray(value)
    n_nonzero = np.count_nonzero(value)
    mask = np.empty(len(rows), dtype=bool)
    for sl in row_chunks(len(rows), DEFAULT_CHUNK_SIZE):
        block = X[rows[sl]]
        owner = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))
        at = value[block.indices]
        mismatched = np.bincount(owner, weights=block.data != at, minlength=block.shape[0])
        covered = np.bincount(owner, weights=at != 0, minlength=block.shape[0])
        mask[sl] = (mismatched == 0) & (covered == n_nonzero)
    return mask
