"""The rows of a data matrix in lexicographic order of their values (private).

k-means++ and random seeding (:mod:`mixfit.engine.init`) draw rows from cumulative
masses taken over an order of the rows that must depend only on the multiset
of row *values*: then a row of integer weight ``w`` owns the same interval as
``w`` adjacent copies of it wherever those copies sit, and the draws do not
move when the rows are shuffled. Sorting by value (column 0 first) gives such
an order, and unlike a hash of the rows' bytes it does not depend on the dtype:
rounding float64 to float32 is monotone, so both give the same order except
where rounding makes distinct rows equal. ``-0.0`` equals ``0.0``.

Dense rows are sorted by *column refinement*: the rows are sorted by column 0,
then each run of rows with equal values there is sorted by the next column on
which its rows differ, and so on. A long run is first split in one pass by
where each row first differs from the run's first row (rows sharing a long
prefix, like the blank borders of images, would otherwise cost a pass per
column); a short one skips the columns on which all its rows agree. Within a
column, large runs of many distinct values are radix-sorted and the others go
through a stable three-way quicksort whose equal part moves on to the next
column. CSR rows are sorted by :mod:`mixfit.kernels.row_order_csr`. Every step is
stable, from the identity, so rows that are entirely equal keep the order of
their indices. Memory beyond X is O(n) integers and floats (35 bytes a row),
plus O(n_features).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mixfit.kernels.row_order_csr import csr_order

__all__ = ["lexicographic_row_order"]

_OPTIONS = dict(cache=True, nogil=True, fastmath=False)

#: Ranges of at most this many rows are sorted by insertion, comparing whole rows.
_SMALL = 16
#: Ranges of more rows are sorted by a radix sort, shorter ones by a quicksort.
_RADIX = 1024


def lexicographic_row_order(X):
    """The row order of X by value, column 0 first, for the seeders' canonical order.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, or scipy.sparse CSR
        Finite values (the seeders check this first). Any memory layout; CSR
        indices may be unsorted, may repeat (repeats add up, as in
        ``X.toarray()``), and an explicit zero equals a missing entry.

    Returns
    -------
    order : ndarray of shape (n_samples,), int64
        Row indices sorted by the rows' values, compared column by column from
        column 0; rows that are entirely equal keep the order of their indices.
        A CSR matrix gives the order its dense copy gives.
    new_group : ndarray of shape (n_samples,), bool
        ``new_group[i]`` is True when ``X[order[i]]`` differs from the row before
        it in the order (always True for ``i = 0``).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, -1.0], [0.0, 2.0]])
    >>> order, new_group = lexicographic_row_order(X)
    >>> order.tolist(), new_group.tolist()
    ([1, 3, 2, 0], [True, False, True, True])
    """
    from scipy import sparse

    if sparse.issparse(X):
        if X.format != "csr":
            raise TypeError(
                f"lexicographic_row_order takes a CSR sparse matrix, got {X.format!r}; "
                "convert it with X.tocsr()."
            )
        _check_dtype(X.dtype)
        n_samples, n_features = X.shape
        indptr = np.asarray(X.indptr)
        indices = np.asarray(X.indices)
        data = np.asarray(X.data)
        return csr_order(indptr, indices, data, n_samples, n_features, X.dtype.type(0))
    if not isinstance(X, np.ndarray) or X.ndim != 2:
        raise TypeError(
            "lexicographic_row_order takes a 2-D numpy array or a CSR sparse matrix, "
            f"got {type(X).__name__}"
            + (f" with {X.ndim} dimensions" if isinstance(X, np.ndarray) else "")
            + "; pass np.asarray(X) reshaped to (n_samples, n_features)."
        )
    _check_dtype(X.dtype)
    return _dense_order(X, X.flags.f_contiguous and not X.flags.c_contiguous)


def _check_dtype(dtype):
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(
            f"lexicographic_row_order takes float32 or float64 values, got {dtype}; "
            "convert them with X.astype(np.float64)."
        )


# --------------------------------------------------------------------------- #
# dense rows: column refinement


@njit(**_OPTIONS)
def _compare_rows(X, a, b, start):
    """-1, 0 or 1 as row ``a`` of X is below, equal to or above row ``b`` from column ``start`` on."""
    for k in range(start, X.shape[1]):
        va = X[a, k]
        vb = X[b, k]
        if va < vb:
            return -1
        if va > vb:
            return 1
    return 0


@njit(**_OPTIONS)
def _compare_positions(X, order, vals, i, j, column, gathered):
    """Compare the rows at positions i and j, which agree before ``column``.

    With ``gathered``, ``vals`` holds their values in ``column``: the rows are read
    only when those are equal.
    """
    if gathered:
        if vals[i] < vals[j]:
            return -1
        if vals[i] > vals[j]:
            return 1
        return _compare_rows(X, order[i], order[j], column + 1)
    return _compare_rows(X, order[i], order[j], column)


@njit(**_OPTIONS)
def _small_sort(X, order, vals, new_group, start, end, column, gathered):
    """Insertion-sort positions ``start … end − 1`` (rows agreeing before ``column``); mark equal rows.

    Insertion sort is stable, so entirely equal rows keep their index order.
    """
    for i in range(start + 1, end):
        row = order[i]
        value = vals[i]
        j = i
        # Shift the sorted rows above ``row`` up by one; equal ones stay before it.
        while j > start:
            order[j] = row
            vals[j] = value
            if _compare_positions(X, order, vals, j - 1, j, column, gathered) <= 0:
                break
            order[j] = order[j - 1]
            vals[j] = vals[j - 1]
            j -= 1
        order[j] = row
        vals[j] = value
    for i in range(start + 1, end):
        if _compare_positions(X, order, vals, i - 1, i, column, gathered) == 0:
            new_group[i] = False


_SIGN = np.uint64(0x8000000000000000)


@njit(**_OPTIONS)
def _radix_sort(vals, order, spare_vals, spare_order, start, end):
    """Stable LSD radix sort of positions ``start … end − 1`` by ``vals``, carrying ``order``.

    The values are replaced by unsigned keys in the same order (the float's bits,
    the sign bit flipped for positives and all bits for negatives), -0.0 by 0.0's.
    Bytes that are the same in every key are skipped, so integer-valued or
    low-precision data take only a few passes.
    """
    keys = vals.view(np.uint64)
    spare_keys = spare_vals.view(np.uint64)
    counts = np.zeros((8, 256), dtype=np.int64)
    for i in range(start, end):
        vals[i] = vals[i] + 0.0  # -0.0 + 0.0 is +0.0: one key for both zeros
        key = keys[i]
        key = ~key if key & _SIGN else key | _SIGN
        keys[i] = key
        for byte in range(8):
            counts[byte, (key >> np.uint64(8 * byte)) & np.uint64(255)] += 1
    n = end - start
    source_keys, source_order, target_keys, target_order = keys, order, spare_keys, spare_order
    for byte in range(8):
        shift = np.uint64(8 * byte)
        if counts[byte, (source_keys[start] >> shift) & np.uint64(255)] == n:
            continue  # one bucket holds every key: this pass would move nothing
        position = np.empty(256, dtype=np.int64)
        total = start
        for digit in range(256):
            position[digit] = total
            total += counts[byte, digit]
        for i in range(start, end):
            key = source_keys[i]
            digit = (key >> shift) & np.uint64(255)
            target_keys[position[digit]] = key
            target_order[position[digit]] = source_order[i]
            position[digit] += 1
        source_keys, target_keys = target_keys, source_keys
        source_order, target_order = target_order, source_order
    if source_order is not order:
        for i in range(start, end):
            keys[i] = source_keys[i]
            order[i] = source_order[i]


@njit(**_OPTIONS)
def _split_by_first_difference(X, order, codes, spare_order, new_group, counts, start, end, column):
    """Group positions ``start … end − 1`` (rows agreeing before ``column``) by where they
    first differ from the first row, in one pass, stably.

    A row that first differs at column ``k`` is below the first row if its value
    there is lower, and then it comes before every row that differs later; above
    it, after every row that differs later. So the buckets are: below, by ``k``
    ascending (bucket ``k − column``); equal to the first row to the end (bucket
    ``n_features − column``, marked as one group); above, by ``k`` descending
    (bucket ``2·n_features − column − k``). On return ``counts[b]`` is where
    bucket ``b`` ends. A range of rows sharing a long prefix (blank image
    borders) is split in one pass instead of one pass per column.
    """
    n_features = X.shape[1]
    middle = n_features - column
    n_buckets = 2 * middle + 1
    for bucket in range(n_buckets):
        counts[bucket] = 0
    first = order[start]
    for i in range(start, end):
        row = order[i]
        k = column
        while k < n_features and X[row, k] == X[first, k]:
            k += 1
        if k == n_features:
            bucket = middle
        elif X[row, k] < X[first, k]:
            bucket = k - column
        else:
            bucket = middle + n_features - k
        codes[i] = bucket
        counts[bucket] += 1
    total = start
    for bucket in range(n_buckets):
        size = counts[bucket]
        counts[bucket] = total
        total += size
    for i in range(start, end):
        bucket = int(codes[i])
        spare_order[counts[bucket]] = order[i]
        counts[bucket] += 1
    for i in range(start, end):
        order[i] = spare_order[i]
    # Rows equal to the first one from ``column`` on are one group.
    equal_start = start if middle == 0 else counts[middle - 1]
    for i in range(equal_start + 1, counts[middle]):
        new_group[i] = False


@njit(**_OPTIONS)
def _dense_order(X, by_columns):
    n_samples, n_features = X.shape
    order = np.arange(n_samples)
    new_group = np.ones(n_samples, dtype=np.bool_)
    # vals[i]: the value of row order[i] in the column its range is being sorted by.
    vals = np.empty(n_samples, dtype=np.float64)
    spare_vals = np.empty(n_samples, dtype=np.float64)
    spare_order = np.empty(n_samples, dtype=np.int64)
    # Pending ranges (each longer than _SMALL, all disjoint): start, end, column, and
    # whether the range still has to look for its first differing column (REFINE)
    # or has its values gathered in that column (SORT).
    capacity = n_samples // (_SMALL + 1) + 1
    starts = np.empty(capacity, dtype=np.int64)
    ends = np.empty(capacity, dtype=np.int64)
    columns = np.empty(capacity, dtype=np.int64)
    refine = np.empty(capacity, dtype=np.bool_)
    counts = np.empty(2 * n_features + 1, dtype=np.int64)
    top = 0
    if n_samples > _SMALL:
        starts[0], ends[0], columns[0], refine[0] = 0, n_samples, 0, True
        top = 1
    elif n_samples > 1:
        _small_sort(X, order, vals, new_group, 0, n_samples, 0, False)

    while top > 0:
        top -= 1
        start, end, column = starts[top], ends[top], columns[top]
        if refine[top]:
            first = order[start]
            if not by_columns and end - start > 2 * (n_features - column) + _SMALL:
                _split_by_first_difference(X, order, vals, spare_order, new_group, counts,
                                           start, end, column)
                # Each bucket holds rows that agree before its column and differ there
                # from the first row: sort it by that column.
                middle = n_features - column
                lo = start
                for bucket in range(2 * middle + 1):
                    hi = counts[bucket]
                    if hi - lo > 1 and bucket != middle:
                        split = column + bucket if bucket < middle else n_features - (bucket - middle)
                        if hi - lo > _SMALL:
                            for i in range(lo, hi):
                                vals[i] = X[order[i], split]
                            starts[top], ends[top], columns[top], refine[top] = lo, hi, split, False
                            top += 1
                        else:
                            _small_sort(X, order, vals, new_group, lo, hi, split, False)
                    lo = hi
                continue
            # The rows agree before ``column``: skip the columns where all of them
            # equal the first row, reading along X's contiguous axis (row by row
            # for C order, column by column for F order).
            if by_columns:
                found = column
                while found < n_features:
                    value = X[first, found]
                    i = start + 1
                    while i < end and X[order[i], found] == value:
                        i += 1
                    if i < end:
                        break
                    found += 1
            else:
                found = n_features
                for i in range(start + 1, end):
                    row = order[i]
                    k = column
                    while k < found and X[row, k] == X[first, k]:
                        k += 1
                    found = k
                    if found == column:
                        break
            if found == n_features:
                for i in range(start + 1, end):
                    new_group[i] = False
                continue
            column = found
            for i in range(start, end):
                vals[i] = X[order[i], column]
        # Stable three-way partition around the median of three values.
        a, b, c = vals[start], vals[(start + end) // 2], vals[end - 1]
        pivot = max(min(a, b), min(max(a, b), c))
        n_less = 0
        n_equal = 0
        for i in range(start, end):
            if vals[i] < pivot:
                n_less += 1
            elif vals[i] == pivot:
                n_equal += 1
        if end - start > _RADIX and 2 * n_equal < end - start:
            # Many distinct values: a radix sort beats the ~log2(n) partitions. (When
            # most rows share the pivot's value, as in blank image borders, one
            # partition nearly finishes the column.)
            _radix_sort(vals, order, spare_vals, spare_order, start, end)
            # vals now holds the order-preserving keys: equal keys, equal values.
            keys = vals.view(np.uint64)
            lo = start
            for i in range(start + 1, end + 1):
                if i == end or keys[i] != keys[lo]:
                    if i - lo > _SMALL:
                        starts[top], ends[top], columns[top], refine[top] = lo, i, column + 1, True
                        top += 1
                    elif i - lo > 1:
                        _small_sort(X, order, vals, new_group, lo, i, column + 1, False)
                    lo = i
            continue
        less, equal, greater = start, start + n_less, start + n_less + n_equal
        for i in range(start, end):
            v = vals[i]
            if v < pivot:
                spare_vals[less] = v
                spare_order[less] = order[i]
                less += 1
            elif v == pivot:
                spare_vals[equal] = v
                spare_order[equal] = order[i]
                equal += 1
            else:
                spare_vals[greater] = v
                spare_order[greater] = order[i]
                greater += 1
        for i in range(start, end):
            vals[i] = spare_vals[i]
            order[i] = spare_order[i]
        # The equal part goes on to the next column; the others are sorted further
        # by this one. Short ranges are finished at once, so pending ones stay few.
        bounds = (start, start + n_less, start + n_less + n_equal, end)
        for part in range(3):
            lo, hi = bounds[part], bounds[part + 1]
            next_column = column + 1 if part == 1 else column
            if hi - lo > _SMALL:
                starts[top], ends[top], columns[top] = lo, hi, next_column
                refine[top] = part == 1
                top += 1
            elif hi - lo > 1:
                _small_sort(X, order, vals, new_group, lo, hi, next_column if part == 1 else column,
                            part != 1)
    return order, new_group
