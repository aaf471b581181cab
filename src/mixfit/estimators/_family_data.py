"""The data checks of the family mixtures: numbers, categories, missing values, value ranges.

:class:`~mixfit.estimators._family_mixture.FamilyMixture` turns what the user
passes into the float matrix a family reads: numeric columns as numbers
(NaN where missing, for the families that skip missing entries), categorical
columns as codes (the index of the value in the column's sorted
``categories_``, NaN where missing). Every refusal is one line naming the
column (by its DataFrame name where it has one), the row and the fix.
"""

from __future__ import annotations

import numpy as np

from mixfit._validation import (
    DEFAULT_CHUNK_SIZE,
    LARGEST_MAGNITUDE,
    column_label,
    column_names,
    row_chunks,
)
from mixfit.estimators._data_checks import (
    _check_n_features,
    _check_ndim,
    check_data,
    non_finite_message,
)
from mixfit.families.bernoulli import BernoulliFamily
from mixfit.families.categorical import CategoricalFamily
from mixfit.families.poisson import PoissonFamily

__all__ = [
    "check_no_empty_rows",
    "check_numeric",
    "check_values",
    "encode_categories",
    "numeric_columns",
    "object_table",
    "skips_missing",
]


def skips_missing(family):
    """Whether ``family`` skips missing (NaN) entries of a row (its log-density and stats)."""
    return isinstance(family, (BernoulliFamily, PoissonFamily, CategoricalFamily))


# ---------------------------------------------------------------------- numbers

def check_numeric(estimator, X, *, reset, allow_nan):
    """X as a float32/float64 array (:func:`check_data`), with NaN kept if ``allow_nan``.

    Infinite values are refused either way, by :func:`check_data`'s message.
    """
    if not allow_nan:
        return check_data(estimator, X, reset=reset)
    from sklearn.utils.validation import validate_data

    if not reset:
        _check_n_features(estimator, X)
    _check_ndim(X)
    names = column_names(X)
    try:
        X = validate_data(estimator, X, dtype=[np.float64, np.float32],
                          ensure_all_finite="allow-nan", reset=reset)
    except ValueError:
        # check_data explains non-numeric, complex or empty input better.
        return check_data(estimator, X, reset=reset)
    infinite = np.isinf(X)
    if infinite.any():
        columns = np.flatnonzero(infinite.any(axis=0)).tolist()
        raise ValueError(non_finite_message(0, int(infinite.sum()), columns, names=names))
    return X


def check_no_empty_rows(X):
    """Refuse a row with no observed value (all NaN), naming the first such row."""
    for rows in row_chunks(X.shape[0], DEFAULT_CHUNK_SIZE):
        empty = np.flatnonzero(np.isnan(X[rows]).all(axis=1))
        if empty.size:
            raise ValueError(
                f"row {rows.start + int(empty[0])} of X has no observed value (all NaN): "
                "drop it (a row without values says nothing about the mixture)."
            )


def _first_bad(X, bad_of):
    """``(row, column)`` of the first entry (row-major) where ``bad_of(block)`` holds, or None."""
    for rows in row_chunks(X.shape[0], DEFAULT_CHUNK_SIZE):
        bad = bad_of(X[rows])
        if bad.any():
            row, column = np.argwhere(bad)[0]
            return rows.start + int(row), int(column)
    return None


def _negative(value):
    """The prefix of a refusal of a negative value: scikit-learn's words, which its
    checks (and users' code written for its estimators) look for."""
    return "Negative values in data: " if value < 0 else ""


#: The largest count a Poisson column takes: 2**53, beyond which floats skip integers.
MAX_COUNT_VALUE = float(2**53)


def check_values(family, X, columns, names, owner):
    """Refuse values outside ``family``'s support in ``X[:, columns]``, naming column and row.

    Bernoulli: 0 or 1; Poisson: non-negative integers up to 2**53; NaN passes (missing)
    where the family skips missing entries, and is refused, naming the column,
    where it does not. ``owner``: who takes the values, for the message
    (e.g. ``"BernoulliMixture"``).
    """
    block = X[:, columns]
    if not skips_missing(family):
        found = _first_bad(block, np.isnan)
        if found is not None:
            row, column = found
            raise ValueError(
                f"column {column_label(columns[column], names)} holds NaN (row {row}); "
                f"{owner} does not model missing values: use GaussianMixture (which does) "
                "or impute that column first."
            )
        # Measurements (Gaussian, Student-t) are fitted in the data's units:
        # beyond 2**510 their squared distances overflow float64 (float32 data
        # never gets there, and is fitted with float64 statistics).
        found = None
        if float(np.finfo(block.dtype).max) > LARGEST_MAGNITUDE:
            found = _first_bad(block, lambda b: np.abs(b) > LARGEST_MAGNITUDE)
        if found is not None:
            row, column = found
            raise ValueError(
                f"column {column_label(columns[column], names)} holds "
                f"{float(block[row, column]):.3g} (row {row}), beyond 2**510 (about "
                "3.4e153): its squared distances cannot be represented in float64. Divide "
                "that column by a constant."
            )
        return
    if isinstance(family, BernoulliFamily):
        found = _first_bad(block, lambda b: b < 0) or _first_bad(
            block, lambda b: (b != 0) & (b != 1) & ~np.isnan(b))
        fix = "takes 0/1 features: binarise first, e.g. X > threshold."
    elif isinstance(family, PoissonFamily):
        found = _first_bad(block, lambda b: b < 0) or _first_bad(
            block, lambda b: (b != np.floor(b)) & ~np.isnan(b))
        fix = ("takes non-negative integer counts: pass counts, or drop or transform that "
               "column.")
        if found is None:
            # Beyond 2**53 a float no longer holds every integer, and x · log λ
            # summed over columns could overflow: such a "count" is a measurement.
            found = _first_bad(block, lambda b: b > MAX_COUNT_VALUE)
            fix = (f"takes counts up to 2**53 ({MAX_COUNT_VALUE:.3g}), the largest integers "
                   "a float holds exactly: rescale that column or model it as a measurement "
                   "(e.g. a Gaussian or log-normal column).")
    else:
        return
    if found is not None:
        row, column = found
        value = block[row, column]
        raise ValueError(
            f"{_negative(value)}column {column_label(columns[column], names)} holds "
            f"{float(value)!r} (row {row}); {owner} {fix}"
        )


# ---------------------------------------------------------------------- categories

def object_table(estimator, X, *, reset):
    """X as a 2-D object array of its values (categories stay as they are).

    Records ``n_features_in_``/``feature_names_in_`` when ``reset`` (and checks
    them otherwise), as :func:`check_data` does for numbers.
    """
    from sklearn.utils.validation import validate_data

    if not reset:
        _check_n_features(estimator, X)
    _check_ndim(X)
    table = validate_data(estimator, X, dtype=None, ensure_all_finite=False, reset=reset)
    return np.asarray(table, dtype=object)


def numeric_columns(table, categorical, names):
    """The non-categorical columns of an object table as float64 (NaN where missing)."""
    X = np.full(table.shape, np.nan)
    skip = set(categorical)
    for column in range(table.shape[1]):
        if column in skip:
            continue
        values = table[:, column]
        observed = np.flatnonzero(~_missing(values))
        try:
            X[observed, column] = values[observed].astype(np.float64)
        except (TypeError, ValueError):
            for row in observed:
                try:
                    float(values[row])
                except (TypeError, ValueError):
                    break
            raise ValueError(
                f"column {column_label(column, names)} holds {values[row]!r} (row "
                f"{row}), not a number; give that column a categorical family, or "
                "encode it as numbers."
            ) from None
        if np.isinf(X[observed, column]).any():
            raise ValueError(
                f"column {column_label(column, names)} holds an infinite value; "
                "mixfit needs finite numbers: drop or clip it."
            )
    return X


def _missing(values):
    """Which entries of an object column are missing: None, NaN, pandas' NA or NaT."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas comes with the test environment
        return np.array([v is None or (isinstance(v, float) and v != v) for v in values],
                        dtype=bool)
    return np.asarray(pd.isna(values), dtype=bool)


def _as_categories(values, column, names):
    """The sorted distinct values of a column, refused if they cannot be sorted."""
    try:
        categories = np.unique(values)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in values})
        raise ValueError(
            f"column {column_label(column, names)} mixes values that cannot be sorted "
            f"together ({', '.join(kinds)}): make its values one type, e.g. "
            "X[column].astype(str)."
        ) from None
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
           for v in categories):
        return categories.astype(np.int64)
    return categories


def encode_categories(table, columns, names, categories=None):
    """Codes of the categorical ``columns`` of ``table``: (codes, categories).

    Parameters
    ----------
    table : object ndarray of shape (n_samples, n_features)
    columns : sequence of int
        The categorical columns, in the order of ``categories``.
    names : list of str or None
        Column names for the messages.
    categories : list of ndarray, optional
        The fitted categories (at prediction); None in ``fit``, which finds them.

    Returns
    -------
    codes : float64 ndarray of shape (n_samples, len(columns))
        Index of each value in its column's categories; NaN where missing.
    categories : list of ndarray
        Sorted distinct observed values of each column (as OneHotEncoder's
        ``categories_``): int64 for integer columns, object otherwise.
    """
    if categories is None and columns and table.shape[0] < 2:
        raise ValueError(
            f"categorical columns need at least 2 rows to hold 2 categories, got "
            f"n_samples = {table.shape[0]}; fit on more rows."
        )
    codes = np.full((table.shape[0], len(columns)), np.nan)
    found = []
    for i, column in enumerate(columns):
        values = table[:, column]
        missing = _missing(values)
        observed_rows = np.flatnonzero(~missing)
        observed = values[observed_rows]
        label = column_label(column, names)
        if categories is None:
            if observed.size == 0:
                raise ValueError(
                    f"categorical column {label} has no observed value (all missing): "
                    "drop it."
                )
            levels = _as_categories(observed, column, names)
            if levels.shape[0] < 2:
                raise ValueError(
                    f"categorical column {label} has a single category ({levels[0]!r}): "
                    "it says nothing about the components; drop it."
                )
        else:
            levels = categories[i]
        position = _positions(levels, observed)
        unseen = np.flatnonzero(position < 0)
        if unseen.size:
            row = int(observed_rows[unseen[0]])
            raise ValueError(
                f"column {label} holds {observed[unseen[0]]!r} (row {row}), a category not "
                f"seen in fit (known: {_shown(levels)}); map it to a known category, mark "
                "it missing (None), or refit with data that has it."
            )
        codes[observed_rows, i] = position
        found.append(levels)
    return codes, found


def _positions(levels, values):
    """Index of each value in the sorted ``levels``; −1 where it is not one of them."""
    out = np.full(values.shape[0], -1, dtype=np.intp)
    try:
        index = np.searchsorted(levels, values)
    except TypeError:
        # A value of another type than the categories (a string among integers):
        # compare one by one; such a value is unseen.
        lookup = {value: i for i, value in enumerate(levels.tolist())}
        for k, value in enumerate(values):
            out[k] = lookup.get(value, -1) if _hashable(value) else -1
        return out
    inside = index < levels.shape[0]
    matched = np.zeros(values.shape[0], dtype=bool)
    matched[inside] = levels[index[inside]] == values[inside]
    out[matched] = index[matched]
    return out


def _hashable(value):
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _shown(levels, limit=10):
    shown = ", ".join(repr(v) for v in levels[:limit].tolist())
    return f"[{shown}{', …' if len(levels) > limit else ''}]"
