"""The rows of a CSR matrix in lexicographic order of their values (private).

The sparse half of :func:`mixfit.kernels.row_order.lexicographic_row_order`: the order
its dense copy would give, without making that copy. Rows are first placed by
their *head*, their first nonzero (column, value): a counting sort by the head's
column and sign, streaming through the rows twice, then a sort by the head's
value within each column. That settles most rows (TF-IDF rows rarely share a
head); only rows with equal heads are then compared entry by entry, by a stable
merge sort. Indices may be unsorted (rows are then compared through two dense
work rows), may repeat (repeats add up, as in ``X.toarray()``), and an explicit
zero equals a missing entry. Memory beyond X: about 25 bytes a row, plus a
stable argsort of the largest head bucket, and O(n_features).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["csr_order"]

_OPTIONS = dict(cache=True, nogil=True, fastmath=False)

#: Runs of at most this many rows are sorted by insertion.
_SMALL = 16


@njit(**_OPTIONS)
def _indices_sorted(indptr, indices, n_samples):
    """Whether every row's column indices are non-decreasing (repeats allowed)."""
    for r in range(n_samples):
        for p in range(indptr[r] + 1, indptr[r + 1]):
            if indices[p] < indices[p - 1]:
                return False
    return True


@njit(**_OPTIONS)
def _next_entry(indices, data, p, end, zero):
    """The next nonzero (column, value) of a row with sorted indices at or after ``p``, and
    the position after it; column −1 when none is left. Repeated columns add up."""
    while p < end:
        col = indices[p]
        value = data[p]
        p += 1
        while p < end and indices[p] == col:
            value += data[p]
            p += 1
        if value != 0:
            return col, value, p
    return -1, zero, p


@njit(**_OPTIONS)
def _compare_sorted(indptr, indices, data, a, b, zero):
    """Compare CSR rows a and b (sorted indices), walking both up to their first difference."""
    end_a, end_b = indptr[a + 1], indptr[b + 1]
    col_a, val_a, p_a = _next_entry(indices, data, indptr[a], end_a, zero)
    col_b, val_b, p_b = _next_entry(indices, data, indptr[b], end_b, zero)
    while True:
        if col_a == col_b:
            if col_a == -1:
                return 0
            if val_a < val_b:
                return -1
            if val_a > val_b:
                return 1
            col_a, val_a, p_a = _next_entry(indices, data, p_a, end_a, zero)
            col_b, val_b, p_b = _next_entry(indices, data, p_b, end_b, zero)
        elif col_b == -1 or (col_a != -1 and col_a < col_b):
            # The first difference: a holds val_a where b holds zero.
            return -1 if val_a < 0 else 1
        else:
            return -1 if val_b > 0 else 1


@njit(**_OPTIONS)
def _compare_scattered(indptr, indices, data, a, b, dense_a, dense_b, n_features):
    """Compare CSR rows a and b (indices in any order) through two dense work rows of zeros."""
    for p in range(indptr[a], indptr[a + 1]):
        dense_a[indices[p]] += data[p]
    for p in range(indptr[b], indptr[b + 1]):
        dense_b[indices[p]] += data[p]
    first = n_features
    for p in range(indptr[a], indptr[a + 1]):
        col = indices[p]
        if col < first and dense_a[col] != dense_b[col]:
            first = col
    for p in range(indptr[b], indptr[b + 1]):
        col = indices[p]
        if col < first and dense_a[col] != dense_b[col]:
            first = col
    result = 0
    if first < n_features:
        result = -1 if dense_a[first] < dense_b[first] else 1
    for p in range(indptr[a], indptr[a + 1]):
        dense_a[indices[p]] = 0
    for p in range(indptr[b], indptr[b + 1]):
        dense_b[indices[p]] = 0
    return result


@njit(**_OPTIONS)
def _compare_csr(indptr, indices, data, a, b, zero, is_sorted, dense_a, dense_b, n_features):
    """-1, 0 or 1 as CSR row ``a`` is below, equal to or above row ``b``."""
    if is_sorted:
        return _compare_sorted(indptr, indices, data, a, b, zero)
    return _compare_scattered(indptr, indices, data, a, b, dense_a, dense_b, n_features)


@njit(**_OPTIONS)
def _csr_head(indptr, indices, data, row, zero, is_sorted, dense, n_features):
    """The bucket and value of a CSR row's first nonzero entry, ordering rows by it.

    A row whose first nonzero value ``v`` sits in column ``c`` is below every row
    that is zero up to and including ``c`` if ``v < 0`` (bucket ``c``, so the
    earlier the column the lower), above them if ``v > 0`` (bucket
    ``2·n_features − c``); an all-zero row is bucket ``n_features``, value 0.
    Within a bucket, rows go by ``v``.
    """
    if is_sorted:
        col, value, _ = _next_entry(indices, data, indptr[row], indptr[row + 1], zero)
    else:
        for p in range(indptr[row], indptr[row + 1]):
            dense[indices[p]] += data[p]
        col = -1
        value = zero
        for p in range(indptr[row], indptr[row + 1]):
            c = indices[p]
            if dense[c] != 0 and (col == -1 or c < col):
                col = c
                value = dense[c]
        for p in range(indptr[row], indptr[row + 1]):
            dense[indices[p]] = 0
    if col == -1:
        return n_features, 0.0
    if value < 0:
        return col, np.float64(value)
    return 2 * n_features - col, np.float64(value)


@njit(**_OPTIONS)
def _gather_in_place(values, start, permutation):
    """``values[start + i] = old values[start + permutation[i]]``, cycle by cycle, without a
    copy; ``permutation`` is consumed (set to −1)."""
    for i in range(permutation.shape[0]):
        if permutation[i] < 0:
            continue
        held = values[start + i]
        j = i
        while True:
            k = permutation[j]
            permutation[j] = -1
            if k == i:
                values[start + j] = held
                break
            values[start + j] = values[start + k]
            j = k


@njit(**_OPTIONS)
def _csr_merge_sort(indptr, indices, data, order, spare, start, end, zero, is_sorted,
                    dense_a, dense_b, n_features):
    """Stable sort of ``order[start:end]`` by whole CSR rows: insertion-sorted blocks, merged."""
    for lo in range(start, end, _SMALL):
        hi = min(lo + _SMALL, end)
        for i in range(lo + 1, hi):
            row = order[i]
            j = i
            while j > lo and _compare_csr(indptr, indices, data, order[j - 1], row, zero,
                                          is_sorted, dense_a, dense_b, n_features) > 0:
                order[j] = order[j - 1]
                j -= 1
            order[j] = row
    source, target = order, spare
    width = _SMALL
    while width < end - start:
        for lo in range(start, end, 2 * width):
            mid = min(lo + width, end)
            hi = min(lo + 2 * width, end)
            i, j, k = lo, mid, lo
            while i < mid and j < hi:
                if _compare_csr(indptr, indices, data, source[i], source[j], zero,
                                is_sorted, dense_a, dense_b, n_features) <= 0:
                    target[k] = source[i]
                    i += 1
                else:
                    target[k] = source[j]
                    j += 1
                k += 1
            while i < mid:
                target[k] = source[i]
                i += 1
                k += 1
            while j < hi:
                target[k] = source[j]
                j += 1
                k += 1
        source, target = target, source
        width *= 2
    if source is not order:
        for i in range(start, end):
            order[i] = source[i]


@njit(**_OPTIONS)
def csr_order(indptr, indices, data, n_samples, n_features, zero):
    """``(order, new_group)`` of a CSR matrix's rows, as its dense copy would give them.

    Parameters
    ----------
    indptr, indices, data : ndarray
        The matrix's arrays (checked here against each other and the shape:
        the kernels index without bounds checks).
    n_samples, n_features : int
    zero : float32 or float64
        A zero of ``data``'s dtype.

    Returns
    -------
    order : ndarray of shape (n_samples,), int64
    new_group : ndarray of shape (n_samples,), bool
        As :func:`mixfit.kernels.row_order.lexicographic_row_order`.
    """
    if indptr.shape[0] != n_samples + 1 or indices.shape[0] < indptr[n_samples] \
            or data.shape[0] < indptr[n_samples]:
        raise ValueError("lexicographic_row_order: the CSR matrix's indptr, indices and data "
                         "do not match its shape; rebuild it with scipy.sparse.csr_matrix.")
    for r in range(n_samples):
        if indptr[r] < 0 or indptr[r] > indptr[r + 1]:
            raise ValueError("lexicographic_row_order: the CSR matrix's indptr is not "
                             "non-decreasing from 0; rebuild it with scipy.sparse.csr_matrix.")
    for p in range(indptr[n_samples]):
        if indices[p] < 0 or indices[p] >= n_features:
            raise ValueError("lexicographic_row_order: a CSR column index lies outside the "
                             "matrix's columns; rebuild it with scipy.sparse.csr_matrix.")
    is_sorted = _indices_sorted(indptr, indices, n_samples)
    dense_a = np.zeros(0 if is_sorted else n_features, dtype=data.dtype)
    dense_b = np.zeros(0 if is_sorted else n_features, dtype=data.dtype)
    # First every row by its head, its first nonzero (column, value): a counting
    # sort by the head's bucket, streaming through the rows twice, then a sort by
    # the head's value within each bucket. Only rows with equal heads are then
    # compared entry by entry (random reads, hence kept for the few rows left).
    counts = np.zeros(2 * n_features + 2, dtype=np.int64)
    for r in range(n_samples):
        bucket, _ = _csr_head(indptr, indices, data, r, zero, is_sorted, dense_a, n_features)
        counts[bucket + 1] += 1
    for bucket in range(2 * n_features + 1):
        counts[bucket + 1] += counts[bucket]
    order = np.empty(n_samples, dtype=np.int64)
    vals = np.empty(n_samples, dtype=np.float64)
    for r in range(n_samples):
        bucket, value = _csr_head(indptr, indices, data, r, zero, is_sorted, dense_a, n_features)
        order[counts[bucket]] = r
        vals[counts[bucket]] = value
        counts[bucket] += 1
    spare = np.empty(n_samples, dtype=np.int64)
    new_group = np.ones(n_samples, dtype=np.bool_)
    lo = 0
    for bucket in range(2 * n_features + 1):
        hi = counts[bucket]
        if bucket == n_features:
            # All-zero rows: one group, already in index order.
            for i in range(lo + 1, hi):
                new_group[i] = False
            lo = hi
            continue
        if hi - lo > _SMALL:
            by_value = np.argsort(vals[lo:hi], kind="mergesort")  # stable
            for i in range(hi - lo):
                spare[lo + i] = order[lo + by_value[i]]
            for i in range(hi - lo):
                order[lo + i] = spare[lo + i]
            _gather_in_place(vals, lo, by_value)
        elif hi - lo > 1:
            for i in range(lo + 1, hi):  # stable insertion sort by value
                row, value = order[i], vals[i]
                j = i
                while j > lo and vals[j - 1] > value:
                    order[j], vals[j] = order[j - 1], vals[j - 1]
                    j -= 1
                order[j], vals[j] = row, value
        # Runs of equal heads: sorted by whole rows (stable), then grouped.
        start = lo
        for i in range(lo + 1, hi + 1):
            if i == hi or vals[i] != vals[start]:
                if i - start > 1:
                    _csr_merge_sort(indptr, indices, data, order, spare, start, i, zero,
                                    is_sorted, dense_a, dense_b, n_features)
                    for k in range(start + 1, i):
                        if _compare_csr(indptr, indices, data, order[k - 1], order[k], zero,
                                        is_sorted, dense_a, dense_b, n_features) == 0:
                            new_group[k] = False
                start = i
        lo = hi
    return order, new_group
