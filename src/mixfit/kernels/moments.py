"""Column means and mean squared row norm of the data, in one numba pass.

:func:`mixfit.engine.column_stats.distance_shift` decides from these whether K-means
distances need the data shifted to its mean. The numpy version converted every
chunk to float64 and made three calls per chunk: ~35 ms on 1e6 × 32 float32
rows, 130 ms on 2e5 × 784 and ~22 µs of a ~100 µs lecture-sized fit. The
kernel reads each row once in its own dtype and accumulates in float64, on
``n_jobs`` threads over fixed groups of rows whose sums are added in order
(so the thread count changes nothing).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mixfit.kernels.checks import require
from mixfit._parallel import map_ranges

__all__ = ["column_moments", "finite_column_magnitudes", "finite_column_moments"]

#: Rows per group, and at most this many groups (each holds d partial sums).
_GROUP_ROWS = 4096
_MAX_GROUPS = 64


@njit(inline="always")
def _row_magnitudes(X, i, top, limit):
    """Raise ``top`` to row ``i``'s ``|x|``, in X's dtype; return how many of its
    values are not finite (NaN fails both comparisons, inf the second)."""
    n_bad = 0
    for j in range(X.shape[1]):
        value = abs(X[i, j])
        top[j] = value if value > top[j] else top[j]
        n_bad += not (value < limit)
    return n_bad


@njit(nogil=True, cache=True, fastmath={"reassoc", "contract"})
def _moment_rows(X, weight, begin, end, slot, sums, squares, row_squares):
    """Add ``Σ w x`` and ``Σ w ‖x‖²`` of rows ``begin … end − 1`` into ``slot``; each
    row's ``‖x‖²`` into ``row_squares`` too (rounded once to its dtype) unless empty."""
    n_samples, n_features = X.shape
    weighted = weight.shape[0] > 0
    keep_rows = row_squares.shape[0] > 0
    require(0 <= begin <= end <= n_samples and (not weighted or weight.shape[0] == n_samples)
            and 0 <= slot < sums.shape[0] and sums.shape[1] == n_features
            and squares.shape[0] == sums.shape[0]
            and (not keep_rows or row_squares.shape[0] == n_samples), "_moment_rows",
            "rows begin..end of X, an empty or (n,) weight, slot inside sums (slots, d), "
            "squares (slots,) and an empty or (n,) row_squares")
    square_sum = 0.0
    for i in range(begin, end):
        w = weight[i] if weighted else 1.0
        row_square = 0.0
        for j in range(n_features):
            value = np.float64(X[i, j])
            sums[slot, j] += w * value
            row_square += value * value
        square_sum += w * row_square
        if keep_rows:
            row_squares[i] = row_square
    squares[slot] += square_sum


def _weights_and_groups(X, sample_weight):
    """The weights as the kernels take them (empty for none), and the bounds of
    the fixed groups of rows whose sums are kept apart (the thread count then
    changes no rounding)."""
    weights = (
        np.empty(0) if sample_weight is None
        else np.ascontiguousarray(sample_weight, dtype=np.float64)
    )
    n_samples = X.shape[0]
    n_groups = max(1, min(_MAX_GROUPS, -(-n_samples // _GROUP_ROWS)))
    return weights, [n_samples * group // n_groups for group in range(n_groups + 1)]


def _each_group(X, bounds, n_jobs, kernel):
    """``kernel(begin, end, group)`` for each group of rows, on ``n_jobs`` threads."""
    n_groups = len(bounds) - 1

    def run(group_begin, group_end):
        for group in range(group_begin, group_end):
            kernel(bounds[group], bounds[group + 1], group)

    map_ranges(run, n_groups, n_jobs, work_per_item=-(-X.shape[0] // n_groups) * X.shape[1])


def _means(sums, squares, weights, n_samples):
    """``(column means, mean ‖x‖²)`` from the groups' sums, added in group order."""
    count = float(weights.sum()) if weights.shape[0] else float(n_samples)
    return sums.sum(axis=0) / count, float(squares.sum()) / count


def _checked_row_squares(row_squares, X):
    """``row_squares`` as the kernels take it: an empty array for None."""
    if row_squares is None:
        return np.empty(0, dtype=X.dtype)
    if row_squares.shape != (X.shape[0],) or not row_squares.flags.writeable:
        raise ValueError(f"row_squares must be a writeable array of shape ({X.shape[0]},), "
                         f"got {row_squares.shape}.")
    return row_squares


def column_moments(X, sample_weight=None, n_jobs=1, row_squares=None):
    """(Weighted) column means and mean of ``‖x‖²``, float64, for finite X.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
    sample_weight : ndarray of shape (n_samples,), optional
    n_jobs : int
        Threads (resolved by :func:`mixfit._parallel.check_n_jobs`).
    row_squares : ndarray of shape (n_samples,), optional
        Filled with each row's ``‖x‖²`` (summed in float64, rounded once to
        its dtype): K-means keeps them for its distances, and this pass has
        them for free where a pass of their own read X again (17 of the
        190 ms of a 100,000 × 784 × 3 float32 fit).

    Returns
    -------
    means : ndarray of shape (n_features,)
    mean_square_norm : float
    """
    weights, bounds = _weights_and_groups(X, sample_weight)
    sums = np.zeros((len(bounds) - 1, X.shape[1]))
    squares = np.zeros(len(bounds) - 1)
    row_squares = _checked_row_squares(row_squares, X)
    _each_group(X, bounds, n_jobs, lambda begin, end, group: _moment_rows(
        X, weights, begin, end, group, sums, squares, row_squares))
    return _means(sums, squares, weights, X.shape[0])


@njit(nogil=True, cache=True)
def _finite_max_abs_rows(X, begin, end, slot, largest, finite):
    """Per column, the largest ``|x|`` of rows ``begin … end − 1`` into ``largest[slot]``;
    ``finite[slot]`` becomes 0 if any of those values is NaN or infinite."""
    n_samples, n_features = X.shape
    require(0 <= begin <= end <= n_samples and 0 <= slot < largest.shape[0]
            and largest.shape[1] == n_features and finite.shape[0] == largest.shape[0],
            "_finite_max_abs_rows", "rows begin..end of X, slot inside largest (slots, d) "
            "and finite (slots,)")
    # In X's dtype (|x| and the maximum are exact there), the finiteness as a
    # count of failures: both vectorise (converting each value to float64 and
    # and-ing a flag kept the loop scalar, 12 GB/s against the 28 of a pass
    # that sums the same rows).
    top = np.zeros(n_features, dtype=X.dtype)
    limit = X.dtype.type(np.inf)
    n_bad = 0
    for i in range(begin, end):
        n_bad += _row_magnitudes(X, i, top, limit)
    for j in range(n_features):
        largest[slot, j] = max(largest[slot, j], np.float64(top[j]))
    if n_bad:
        finite[slot] = 0


def finite_column_magnitudes(X, n_jobs=1):
    """Whether X is finite, and the largest magnitude of each column, in one pass.

    What predicting needs to know of new data (no NaN, nothing beyond the
    range a fit accepts), for the price of reading it once; the two numpy
    reductions it replaces read it three times.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
    n_jobs : int
        Threads (resolved by :func:`mixfit._parallel.check_n_jobs`).

    Returns
    -------
    finite : bool
    magnitudes : ndarray of shape (n_features,), float64
        Meaningful only where ``finite``.
    """
    X = np.ascontiguousarray(X)
    bounds = _weights_and_groups(X, None)[1]
    n_groups = len(bounds) - 1
    largest = np.zeros((n_groups, X.shape[1]))
    finite = np.ones(n_groups, dtype=np.int8)
    if n_groups == 1:  # small data: no thread machinery (a lecture-sized predict is ~60 µs)
        _finite_max_abs_rows(X, 0, X.shape[0], 0, largest, finite)
        return bool(finite[0]), largest[0]
    _each_group(X, bounds, n_jobs, lambda begin, end, group: _finite_max_abs_rows(
        X, begin, end, group, largest, finite))
    return bool(finite.all()), largest.max(axis=0)


@njit(nogil=True, cache=True, fastmath={"reassoc", "contract"})
def _finite_moment_rows(X, weight, begin, end, slot, sums, squares, row_squares, largest,
                        finite):
    """:func:`_moment_rows` and :func:`_finite_max_abs_rows` of rows ``begin … end − 1``
    in one read of each row (its two loops run on the row while it is in cache)."""
    n_samples, n_features = X.shape
    weighted = weight.shape[0] > 0
    keep_rows = row_squares.shape[0] > 0
    require(0 <= begin <= end <= n_samples and (not weighted or weight.shape[0] == n_samples)
            and 0 <= slot < sums.shape[0] and sums.shape[1] == n_features
            and squares.shape[0] == sums.shape[0] and largest.shape == sums.shape
            and finite.shape[0] == sums.shape[0]
            and (not keep_rows or row_squares.shape[0] == n_samples), "_finite_moment_rows",
            "rows begin..end of X, an empty or (n,) weight, slot inside sums and largest "
            "(slots, d), squares and finite (slots,), an empty or (n,) row_squares")
    top = np.zeros(n_features, dtype=X.dtype)
    limit = X.dtype.type(np.inf)
    n_bad = 0
    square_sum = 0.0
    for i in range(begin, end):
        n_bad += _row_magnitudes(X, i, top, limit)
        # _moment_rows' loop, written out again: shared as an inlined function
        # it ran 4x slower at 3 features (7.9 against 1.9 ms for 1e6 rows).
        w = weight[i] if weighted else 1.0
        row_square = 0.0
        for j in range(n_features):
            value = np.float64(X[i, j])
            sums[slot, j] += w * value
            row_square += value * value
        square_sum += w * row_square
        if keep_rows:
            row_squares[i] = row_square
    squares[slot] += square_sum
    for j in range(n_features):
        largest[slot, j] = max(largest[slot, j], np.float64(top[j]))
    if n_bad:
        finite[slot] = 0


def finite_column_moments(X, sample_weight=None, n_jobs=1, row_squares=None):
    """:func:`finite_column_magnitudes` and :func:`column_moments` in one pass over X.

    A K-means fit needs both of its data (whether it is finite, how large, its
    column means and mean ``‖x‖²``, each row's ``‖x‖²``); reading X once
    instead of twice is one of the ~23 passes of a 20-iteration fit.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, C-contiguous
    sample_weight, n_jobs, row_squares
        As for :func:`column_moments`.

    Returns
    -------
    finite : bool
    magnitudes : ndarray of shape (n_features,), float64
    means : ndarray of shape (n_features,)
    mean_square_norm : float
        All but ``finite`` meaningful only where ``finite``.
    """
    weights, bounds = _weights_and_groups(X, sample_weight)
    n_groups = len(bounds) - 1
    sums = np.zeros((n_groups, X.shape[1]))
    squares = np.zeros(n_groups)
    largest = np.zeros((n_groups, X.shape[1]))
    finite = np.ones(n_groups, dtype=np.int8)
    row_squares = _checked_row_squares(row_squares, X)
    _each_group(X, bounds, n_jobs, lambda begin, end, group: _finite_moment_rows(
        X, weights, begin, end, group, sums, squares, row_squares, largest, finite))
    return (bool(finite.all()), largest.max(axis=0)) + _means(sums, squares, weights, X.shape[0])
