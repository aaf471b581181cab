"""Data checks of the estimators: ``check_data`` (scikit-learn's ``validate_data``
with messages that name the offending column and the fix), finiteness, and the
magnitude limits beyond which squares overflow.

Parameter checks that need no data pass (integers, seeds, sample weights) are in
:mod:`mixfit._validation`, below every layer; these checks run numba passes over
the data (:mod:`mixfit.kernels.moments`), so they live above the kernels.
"""

from __future__ import annotations

import numpy as np

from mixfit._validation import (
    LARGEST_MAGNITUDE,
    MAX_EXPONENT,
    _describe_columns,
    column_label,
    column_names,
)


def _is_sparse(X):
    # Imported here: scipy.sparse is only needed when the data may be sparse.
    from scipy import sparse

    return sparse.issparse(X)


def check_finite(X, name="X", names=None, *, allow_nan=False, advice=""):
    """Raise a ValueError that counts NaN and infinite values and names their columns.

    ``names``: the columns' names (a DataFrame's), used in the message instead of
    their indices. ``allow_nan``: only infinite values are refused (for the
    estimators that model missing values). ``advice``: a sentence appended to
    the message when X holds NaN (which estimator handles them).
    """
    # Fast path without an n × d boolean temporary: a sum of finite values is
    # finite unless the data sit near the overflow limit of their dtype, and then
    # the exact check below decides. Summed in X's own dtype: float32 data
    # summed as float64 took 2.6× as long (86 vs 33 ms on 2e5 × 784).
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.sum(X)
    if X.size == 0 or np.isfinite(total):
        return
    finite = np.isfinite(X)
    if finite.all():
        return
    missing = np.isnan(X)
    n_nan = int(missing.sum())
    n_inf = int((~finite).sum()) - n_nan
    if allow_nan:
        if n_inf == 0:
            return
        columns = np.flatnonzero((~(finite | missing)).any(axis=0)).tolist()
        raise ValueError(non_finite_message(0, n_inf, columns, name, names))
    columns = np.flatnonzero(~finite.all(axis=0)).tolist()
    raise ValueError(non_finite_message(n_nan, n_inf, columns, name, names)
                     + (advice if n_nan else ""))


def non_finite_message(n_nan, n_inf, columns, name="X", names=None):
    """The error of :func:`check_finite`: counts, columns and the fix (also for Dask data)."""
    parts = [f"{n_nan} NaN"] if n_nan else []
    if n_inf:
        parts.append(f"{n_inf} infinite (inf)")
    return (
        f"{name} contains {' and '.join(parts)} value(s), in column(s) "
        f"{_describe_columns(columns, names=names)}; mixfit needs finite numbers: drop "
        "those rows or impute them (e.g. with sklearn.impute.SimpleImputer) first."
    )


#: What the K-means estimators' NaN error adds: which estimator models missing values.
_KMEANS_NAN_ADVICE = (
    " {name} has no model of missing values; mixfit.GaussianMixture fits data with NaN "
    "as they are (exact EM on each row's observed values; "
    "covariance_type='spherical' gives round clusters as K-means does)."
)


#: ... and GaussianMixture's, where a method that does not model them refused NaN.
_GMM_NAN_ADVICE = (
    " GaussianMixture.fit, fit_predict and the queries (predict, score_samples…) take "
    "missing values; partial_fit and mixfit.select do not: use fit, or impute first."
)


def _nan_advice(estimator):
    """The sentence a NaN error adds for ``estimator`` (KMeans, MiniBatchKMeans), or ""."""
    for cls in type(estimator).__mro__:
        if not cls.__module__.startswith("mixfit"):
            continue
        if cls.__name__ in ("KMeans", "MiniBatchKMeans"):
            return _KMEANS_NAN_ADVICE.format(name=cls.__name__)
        if cls.__name__ == "GaussianMixture":
            return _GMM_NAN_ADVICE
    return ""


def column_magnitudes(X):
    """Each column's largest magnitude, float64, ignoring NaN (0 for a column of NaN).

    ``max(max, −min)`` rather than ``max(abs(X))``: no n × d temporary; fmax
    and fmin skip NaN without the warnings of nanmax on an all-NaN column.
    """
    if X.shape[0] == 0:
        return np.zeros(X.shape[1])
    largest = np.maximum(X.max(axis=0), -X.min(axis=0)).astype(np.float64)
    if np.isnan(largest).any():  # missing values: the same without them
        largest = np.fmax(np.fmax.reduce(X, axis=0), -np.fmin.reduce(X, axis=0))
        largest = np.nan_to_num(largest.astype(np.float64), nan=0.0)
    return largest


def check_data(estimator, X, *, reset, ensure_min_samples=1, magnitudes=False,
               accept_sparse=False, allow_nan=False, defer_finite=False):
    """Validate a data matrix for an estimator (``validate_data`` plus clearer errors).

    Parameters
    ----------
    estimator : BaseEstimator
        Receives ``n_features_in_`` (and ``feature_names_in_``) when ``reset``.
    X : array-like of shape (n_samples, n_features)
    reset : bool
        True in ``fit``; False when the estimator checks new data against what it saw.
    ensure_min_samples : int
    magnitudes : bool, default=False
        Also return each column's largest magnitude, found in the same pass as
        the finiteness check (for prediction; see :func:`check_magnitude`).
    accept_sparse : bool, default=False
        Whether ``scipy.sparse`` input is taken (as a canonical CSR matrix, see
        :func:`mixfit._sparse_checks.check_sparse_data`); when False it is
        refused with a message that names the estimator and the fix.
    allow_nan : bool, default=False
        Whether NaN (missing values) is taken; infinite values are refused
        either way. The magnitudes then ignore NaN.
    defer_finite : bool, default=False
        With ``magnitudes`` (and not ``allow_nan``): a dense C-contiguous X
        comes back unchecked for finiteness, with magnitudes None, for a
        caller that reads it anyway
        (:func:`mixfit.kernels.moments.finite_column_moments`) and calls
        :func:`refuse_non_finite` where it is not finite.

    Returns
    -------
    X : ndarray or CSR matrix of shape (n_samples, n_features), float32 or float64
        float32 stays float32; other numeric input becomes float64.
    magnitudes : ndarray of shape (n_features,), float64, or None
        Only with ``magnitudes=True``; None where ``defer_finite`` deferred them.
    """
    defer_finite = defer_finite and magnitudes and not allow_nan
    if not reset:
        _check_n_features(estimator, X)
    if _is_sparse(X):
        from mixfit._sparse_checks import check_sparse_data

        return check_sparse_data(estimator, X, reset=reset, accept_sparse=accept_sparse,
                                 ensure_min_samples=ensure_min_samples, magnitudes=magnitudes)
    if _is_plain_float_array(X, ensure_min_samples) and _fast_path_fits(estimator, X, reset):
        # Everything validate_data would check of a plain C-contiguous float
        # array, without its ~50 µs a call (a quarter of a lecture-sized fit).
        if reset:
            estimator.n_features_in_ = X.shape[1]
            if hasattr(estimator, "feature_names_in_"):
                del estimator.feature_names_in_  # as validate_data does for unnamed columns
        return _checked_finite(estimator, X, magnitudes, allow_nan=allow_nan,
                               defer=defer_finite)
    from sklearn.utils.validation import validate_data

    _check_ndim(X)
    names = column_names(X)  # before validate_data turns X into an array
    try:
        X = validate_data(
            estimator,
            X,
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,
            ensure_min_samples=ensure_min_samples,
            reset=reset,
        )
    except ValueError as error:
        if "Complex data" in str(error):
            # scikit-learn's message prints the whole array; its first words stay
            # (scikit-learn's estimator checks look for them).
            raise ValueError(
                "X holds complex values; Complex data not supported (mixfit fits real "
                "numbers): pass the real part (X.real), the magnitude (abs(X)), or both "
                "as separate columns."
            ) from None
        if "could not convert" not in str(error):
            raise
        where, columns = _non_numeric_values(X, names)
        raise ValueError(
            f"X must be numeric, but {where}; encode or drop the non-numeric "
            f"column(s) {columns} first."
        ) from None
    return _checked_finite(estimator, X, magnitudes, names, allow_nan=allow_nan,
                           defer=defer_finite)


def _check_n_features(estimator, X):
    """Refuse new data whose width differs from the fit's, saying both counts and the fix.

    A DataFrame with column names is left to scikit-learn's check, which names
    the missing or unexpected columns.
    """
    expected = getattr(estimator, "n_features_in_", None)
    if expected is None or (column_names(X) is not None
                            and getattr(estimator, "feature_names_in_", None) is not None):
        return
    shape = _shape_of(X)
    if shape is None or len(shape) != 2 or shape[1] == expected:
        return
    name = type(estimator).__name__
    # scikit-learn's first words (its estimator checks match them), then ours.
    raise ValueError(
        f"X has {shape[1]} features, but {name} is expecting {expected} features as "
        f"input: this {name} was fitted with {expected} features (columns). Pass X with "
        f"those {expected} columns, in the order used in fit, or fit a new model on "
        f"the {shape[1]} columns you have."
    )


def refuse_non_finite(estimator, X):
    """Raise :func:`check_finite`'s error for X (fitted by ``estimator``), which a
    pass over it found not finite: the counts, the columns and the fix."""
    check_finite(X, names=getattr(estimator, "feature_names_in_", None),
                 advice=_nan_advice(estimator))
    raise AssertionError("refuse_non_finite: X is finite")  # the caller's pass was wrong


def _checked_finite(estimator, X, magnitudes, names=None, *, allow_nan=False, defer=False):
    """X once :func:`check_finite` passes, with its columns' magnitudes if asked for
    (``(X, None)`` for a dense C-contiguous X where ``defer``: see :func:`check_data`;
    not for named columns, which the error names as the table did)."""
    if defer and X.flags.c_contiguous and names is None:
        return X, None
    advice = _nan_advice(estimator)
    if not magnitudes:
        check_finite(X, names=names, allow_nan=allow_nan, advice=advice)
        return X
    if not X.flags.c_contiguous:
        # The one-pass kernel reads rows; a copy of X (maybe larger than memory)
        # would cost more than numpy's column reductions.
        check_finite(X, names=names, allow_nan=allow_nan, advice=advice)
        return X, column_magnitudes(X)
    # Imported here: numba compiles the kernels on first use.
    from mixfit.kernels.moments import finite_column_magnitudes
    from mixfit._parallel import check_n_jobs

    n_jobs = check_n_jobs(getattr(estimator, "n_jobs", None))
    finite, columns = finite_column_magnitudes(X, n_jobs=n_jobs)
    if not finite:
        # Raises, counting and locating the values, unless they are all NaN and
        # NaN is allowed; the magnitudes then skip the NaN.
        check_finite(X, names=names, allow_nan=allow_nan, advice=advice)
        columns = column_magnitudes(X)
    return X, columns


#: Input dtypes taken as they are by the fast path of :func:`check_data`.
_PLAIN_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _is_plain_float_array(X, ensure_min_samples):
    """A C-contiguous native float32/float64 ndarray (no subclass) of the right size."""
    return (
        type(X) is np.ndarray
        and X.ndim == 2
        and X.dtype in _PLAIN_DTYPES
        and X.shape[0] >= max(1, ensure_min_samples)
        and X.shape[1] >= 1
        and X.flags.c_contiguous
    )


def _fast_path_fits(estimator, X, reset):
    """When checking new data: the fitted width, and no column names to compare."""
    if reset:
        return True
    return (
        getattr(estimator, "feature_names_in_", None) is None
        and getattr(estimator, "n_features_in_", None) == X.shape[1]
    )


def _shape_of(X):
    """X's shape, for arrays and nested lists; None without one (ragged lists too,
    which validate_data explains)."""
    shape = getattr(X, "shape", None)
    if shape is None and isinstance(X, (list, tuple)):
        try:
            return np.shape(X)
        except ValueError:
            return None
    return shape


def _check_ndim(X):
    """Refuse anything but a 2-D table with a one-line message (not the whole array)."""
    shape = _shape_of(X)
    if shape is None or len(shape) == 2:
        return  # other array-likes are left to validate_data
    hint = (
        "Reshape your data with X.reshape(-1, 1) for a single feature, or "
        "X.reshape(1, -1) for a single sample"
        if len(shape) < 2
        else "flatten each sample into one row, e.g. X.reshape(len(X), -1)"
    )
    raise ValueError(
        f"X must be a 2-D array of shape (n_samples, n_features), got {len(shape)}-D "
        f"input of shape {tuple(shape)}; {hint}."
    )


def _non_numeric_values(X, names, limit=8):
    """Where the values that are not numbers sit: the first of each such column, in order.

    Returns the message's description of the values and its list of the columns.
    Each column is tried whole first, so only a column that fails is read value
    by value, and only up to its first non-number.
    """
    array = np.asarray(X, dtype=object)
    if array.ndim != 2:
        return "some values are not numbers", "holding them"
    found = []
    for column in range(array.shape[1]):
        values = array[:, column]
        try:
            values.astype(np.float64)
            continue
        except (TypeError, ValueError):
            pass
        for row, value in enumerate(values):
            try:
                float(value)
            except (TypeError, ValueError):
                found.append((row, column, value))
                break
    if not found:
        return "some values are not numbers", "holding them"
    where = "; ".join(f"row {row}, column {column_label(column, names)} holds {value!r}"
                      for row, column, value in found[:limit])
    more = f" (and {len(found) - limit} more column(s))" if len(found) > limit else ""
    return where + more, _describe_columns([column for _, column, _ in found], limit, names)


def check_magnitude(X, per_column=False, columns=None, names=None):
    """Largest magnitude in X, refused beyond 2**510 where squares overflow; for new data.

    The fit refuses such data (see :func:`data_scale`); data given to a fitted
    model is held to the same limit so that no distance or likelihood overflows
    into inf or NaN. ``columns``, the largest magnitude of each column where the
    caller has it (``check_data(..., magnitudes=True)``), saves a pass over X;
    with ``per_column``, they are returned instead of their maximum. ``names``,
    the columns' names where the model has them, name the offending column.
    """
    if columns is None:
        largest = _largest_magnitude(X)
        if per_column:
            columns = column_magnitudes(X)
    else:
        largest = float(columns.max()) if columns.size else 0.0
    if largest > LARGEST_MAGNITUDE:
        raise ValueError(
            f"X holds values up to {largest:.3g}{where_largest(X, columns, names)}, beyond "
            "2**510 (about 3.4e153): their squared distances cannot be represented in "
            "float64. Check that X is in the units the model was fitted on, and divide "
            "it by a constant if it is not."
        )
    return columns if per_column else largest


def where_largest(X, columns=None, names=None):
    """`` (in column 'd')``: where X's largest magnitude sits, for an error message.

    ``columns``: each column's largest magnitude where the caller has it.
    """
    if columns is None:
        if _is_sparse(X):
            columns = abs(X).max(axis=0).toarray().ravel()
        else:
            columns = column_magnitudes(X)
    return f" (in column {column_label(int(np.argmax(columns)), names)})"


def _largest_magnitude(X):
    """X's largest magnitude as a float, ignoring NaN (0.0 for no number)."""
    if not X.size:
        return 0.0
    # max(max, −min) rather than max(abs(X)): no n × d temporary.
    largest = float(max(X.max(), -X.min()))
    if np.isnan(largest):  # missing values: the same without them
        largest = float(column_magnitudes(X).max())
    return largest


def data_scale(X, names=None, column_largest=None):
    """A power of two ``s`` such that ``X / s`` is safely in range, or 1.0.

    Dividing by a power of two is exact in binary floating point, so a fit on
    ``X / s`` with parameters scaled back is the fit on ``X`` that the arithmetic
    could not represent: nothing is rounded differently. ``names``, the columns'
    names where X had them, name the offending column in the error.
    """
    if column_largest is not None:  # each column's, found by the caller's earlier pass
        largest = float(np.max(column_largest)) if X.size else 0.0
    else:
        largest = _largest_magnitude(X)
    if largest == 0.0:
        return 1.0
    if largest > LARGEST_MAGNITUDE:
        raise ValueError(
            f"X holds values up to {largest:.3g}"
            f"{where_largest(X, column_largest, names=names)}, beyond "
            "2**510 (about 3.4e153): their variances and squared distances cannot be "
            "represented in float64. Divide X by a constant (e.g. its largest absolute "
            "value) before fitting."
        )
    exponent = np.frexp(largest)[1]
    if -MAX_EXPONENT <= exponent <= MAX_EXPONENT:
        return 1.0
    return float(np.ldexp(1.0, int(exponent)))
