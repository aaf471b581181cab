"""Input checks shared by the estimators and the engines.

Each function returns a clean value or raises ``ValueError``/``TypeError`` with a
message that says what is wrong and how to fix it. The engines below the
estimators assume their input went through here.
"""

from __future__ import annotations

import numbers

import numpy as np

#: Rows per chunk when the caller does not choose: large enough that BLAS runs at
#: full speed, small enough that an (chunk, n_components) block stays in cache.
DEFAULT_CHUNK_SIZE = 4096


def row_chunks(n_samples, chunk_size):
    """Slices covering ``range(n_samples)`` in blocks of ``chunk_size`` rows."""
    for start in range(0, n_samples, chunk_size):
        yield slice(start, min(start + chunk_size, n_samples))


#: Largest count accepted for sizes and repetitions (chunk_size, n_init, …): the
#: numba kernels and numpy's random draws take them as 32/64-bit integers, and no
#: meaningful setting comes near it.
MAX_COUNT = 2**31 - 1


def check_positive_int(value, name, *, minimum=1, maximum=None):
    """Return ``value`` as an int, or raise if it is not an integer in [minimum, maximum]."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer >= {minimum}, got {value!r} of type "
            f"{type(value).__name__}; pass a whole number such as {name}={max(minimum, 1)}."
        )
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(
            f"{name} must be an integer <= {maximum}, got {value}; pass a smaller value."
        )
    return int(value)


def check_nonnegative_float(value, name):
    """Return ``value`` as a float, or raise if it is not a finite number >= 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a non-negative number, got {value!r} of type "
            f"{type(value).__name__}."
        )
    try:
        number = float(value)
    except OverflowError:  # an int beyond float64's range
        number = float("inf")
    if not np.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}.")
    return number


def check_chunk_size(chunk_size):
    """Resolve ``chunk_size`` (None means :data:`DEFAULT_CHUNK_SIZE`).

    At most :data:`MAX_COUNT` rows: the kernels index rows with machine integers,
    and a chunk larger than the data is the whole data anyway.
    """
    if chunk_size is None:
        return DEFAULT_CHUNK_SIZE
    return check_positive_int(chunk_size, "chunk_size", maximum=MAX_COUNT)


def check_verbose(verbose):
    """Return ``verbose`` as an int >= 0 (True counts as 1), or raise."""
    if isinstance(verbose, (bool, np.bool_)):
        return int(verbose)
    return check_positive_int(verbose, "verbose", minimum=0)


def check_seed(random_state):
    """``sklearn.utils.check_random_state`` with a message that says what is accepted."""
    from sklearn.utils import check_random_state

    try:
        return check_random_state(random_state)
    except (TypeError, ValueError):
        raise ValueError(
            f"random_state must be None, an integer in [0, 2**32 - 1] or a "
            f"numpy.random.RandomState, got {repr(random_state)[:80]}; pass e.g. "
            "random_state=0."
        ) from None


def check_sample_weight(sample_weight, n_samples, dtype=np.float64, *, return_scale=False):
    """Validate per-sample weights and bring them to a unit scale.

    Only ratios of weights matter to a fit, but the engines add absolute floors
    (ten machine epsilons to every component's mass, as scikit-learn) and sum the
    weights, which overflow for weights near 1e308. The weights are therefore
    divided by the power of two that puts the largest one in [1, 2): exact in
    binary floating point, a no-op when the largest weight is already in [1, 2)
    (all ones stay bit-identical), and it makes every fit invariant to multiplying all
    weights by a constant. Outputs in weight units (e.g. K-means' inertia) are
    multiplied back by ``scale``.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,) or None
        Non-negative finite weights; ``None`` means every sample has weight 1.
    n_samples : int
        Number of rows the weights must match.
    return_scale : bool, default=False
        Also return the power of two the weights were divided by.

    Returns
    -------
    sample_weight : ndarray of shape (n_samples,) or None
        float64 weights, the largest in [1, 2), or None when no weights were given
        (the engines then skip the multiplications).
    scale : float
        Only with ``return_scale``: the user's weights are ``sample_weight * scale``
        (1.0 when no weights were given).
    """
    if sample_weight is None:
        return (None, 1.0) if return_scale else None
    if np.isscalar(sample_weight):
        sample_weight = np.full(n_samples, sample_weight, dtype=np.float64)
    sample_weight = np.asarray(sample_weight)
    if sample_weight.dtype.kind not in "biuf":
        raise TypeError(
            f"sample_weight must be numeric, got dtype {sample_weight.dtype}."
        )
    sample_weight = sample_weight.astype(np.float64, copy=False)
    if sample_weight.ndim != 1 or sample_weight.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must have shape ({n_samples},) to match X, got shape "
            f"{sample_weight.shape}."
        )
    bad = ~np.isfinite(sample_weight)
    if bad.any():
        raise ValueError(
            f"sample_weight holds {int(bad.sum())} non-finite value(s) (NaN or inf); "
            "every weight must be a finite number >= 0."
        )
    if (sample_weight < 0).any():
        raise ValueError(
            f"sample_weight holds {int((sample_weight < 0).sum())} negative value(s); "
            "weights must be >= 0 (use 0 to leave a sample out)."
        )
    largest = float(sample_weight.max()) if n_samples else 0.0
    if not largest > 0:
        raise ValueError(
            "sample_weight sums to zero, so there is nothing to fit; give at least one "
            "sample a positive weight."
        )
    sample_weight, scale = _unit_scaled(sample_weight, largest)
    return (sample_weight, scale) if return_scale else sample_weight


def _unit_scaled(sample_weight, largest):
    """``sample_weight / 2**e`` with the largest weight in [1, 2), and ``2**e``."""
    exponent = int(np.frexp(largest)[1]) - 1
    if exponent == 0:
        return sample_weight, 1.0
    scaled = np.ldexp(sample_weight, -exponent)
    if exponent > 0:
        # Weights over 2**1074 times smaller than the largest underflow to zero;
        # they stay the smallest positive float instead, so that a sample given
        # a positive weight still counts as data (its share of the fit is nil
        # either way).
        lost = (scaled == 0) & (sample_weight > 0)
        if lost.any():
            scaled[lost] = np.nextafter(0.0, 1.0)
    return scaled, float(np.ldexp(1.0, exponent))


def weighted_count(sample_weight, n_samples):
    """Total weight of the samples (``n_samples`` when unweighted)."""
    return float(n_samples) if sample_weight is None else float(sample_weight.sum())


def check_n_samples_at_least(X, n_components, name="n_components", sample_weight=None):
    """Raise if X has fewer (positively weighted) samples than components."""
    n = X.shape[0] if sample_weight is None else int(np.count_nonzero(sample_weight))
    if n < n_components:
        weighted = " with positive weight" if sample_weight is not None else ""
        if name == "n_clusters":  # scikit-learn's KMeans words this one differently
            raise ValueError(
                f"n_samples={n}{weighted} should be >= n_clusters={n_components}; "
                "pass more data or reduce n_clusters."
            )
        raise ValueError(
            f"Expected n_samples >= {name}, but got {name} = {n_components} and "
            f"n_samples = {n}{weighted}; pass more data or reduce {name}."
        )


def _describe_columns(columns, limit=8, names=None):
    """Up to ``limit`` column indices as a message names them (see :func:`column_label`)."""
    shown = ", ".join(column_label(c, names) for c in columns[:limit])
    return shown + (f" and {len(columns) - limit} more" if len(columns) > limit else "")


def column_label(index, names=None):
    """How a message names column ``index``: ``'alcohol'`` where X has names, else ``13``.

    A user who passed a DataFrame knows its columns by name, not by position.
    """
    return repr(str(names[index])) if names is not None else str(index)


def column_names(X):
    """The column names of a DataFrame-like X when all are strings, else None.

    The same rule as scikit-learn's ``feature_names_in_``: integer column labels
    (``pandas.read_csv(header=None)``) are positions, which the index already says.
    """
    columns = getattr(X, "columns", None)
    if columns is None or isinstance(X, np.ndarray):
        return None
    names = list(columns)
    if not names or not all(isinstance(name, str) for name in names):
        return None
    return names


def column_means(X, sample_weight=None):
    """(Weighted) mean of each column in float64, in one pass (no copy of X)."""
    return _column_moments(X, sample_weight)[0]


def _column_moments(X, sample_weight, n_jobs=1):
    """(Weighted) column means and mean squared row norm, float64 (see mixfit._moments)."""
    # Imported here: mixfit._moments needs mixfit._parallel, which needs row_chunks.
    from ._moments import column_moments

    return column_moments(X, sample_weight, n_jobs)


def distance_shift(X, sample_weight=None, n_jobs=1):
    """The point to subtract before GEMM distances, or zeros when none is needed.

    ‖x‖² − 2x·c + ‖c‖² loses the digits that ‖x‖² holds beyond the squared
    distances; subtracting the data mean first keeps them, at the cost of one more
    pass over each chunk. That only matters when the data sit far from the origin
    compared with their spread (more than 2 standard deviations here), so data
    near the origin skip it.
    """
    return distance_shift_and_variance(X, sample_weight, n_jobs)[0]


#: Beyond this ratio of ‖mean‖² to the spread, E‖x‖² − ‖mean‖² has lost more than
#: 6 of float64's 16 digits, and the variance is measured again about the mean.
_CANCELLATION = 1e6


def distance_shift_and_variance(X, sample_weight=None, n_jobs=1):
    """:func:`distance_shift`, and the mean over columns of the (weighted) variances.

    The variance is what K-means' ``tol`` is relative to (scikit-learn's
    meaning); both come from the same pass over X. A weight-``w`` row counts as
    ``w`` copies here too. Sparse (CSR) data are never shifted (that would make
    them dense), so their shift is zeros.

    Returns
    -------
    shift : ndarray of shape (n_features,), float64
    mean_variance : float
    """
    n_features = X.shape[1]
    if _is_sparse(X):
        mean, mean_square_norm = _sparse_column_moments(X, sample_weight)
        spread = max(mean_square_norm - float(mean @ mean), 0.0)
        return np.zeros_like(mean), spread / n_features
    mean, mean_square_norm = _column_moments(X, sample_weight, n_jobs)
    offset = float(mean @ mean)
    spread = max(mean_square_norm - offset, 0.0)
    if offset > _CANCELLATION * spread:
        spread = _mean_square_about(X, mean, sample_weight)
    shift = mean if offset > 4.0 * spread else np.zeros_like(mean)
    return shift, spread / n_features


def _is_sparse(X):
    # Imported here: scipy.sparse is only needed when the data may be sparse.
    from scipy import sparse

    return sparse.issparse(X)


def _sparse_column_moments(X, sample_weight, block_rows=DEFAULT_CHUNK_SIZE):
    """(Weighted) column means and mean ``‖x‖²`` of a CSR matrix, float64.

    A block of rows at a time, so that the temporaries stay O(block's nonzeros)
    rather than O(nnz).
    """
    n_samples, n_features = X.shape
    weight = np.ones(n_samples) if sample_weight is None else np.asarray(sample_weight, float)
    sums = np.zeros(n_features)
    square_sum = 0.0
    for sl in row_chunks(n_samples, block_rows):
        begin, end = X.indptr[sl.start], X.indptr[sl.stop]
        data = X.data[begin:end].astype(np.float64)
        rows = np.repeat(np.arange(sl.start, sl.stop), np.diff(X.indptr[sl.start:sl.stop + 1]))
        sums += np.bincount(X.indices[begin:end], weights=data * weight[rows],
                            minlength=n_features)
        square_sum += float(weight[rows] @ (data * data))
    total = float(weight.sum())
    return sums / total, square_sum / total


def _mean_square_about(X, center, sample_weight):
    """(Weighted) mean of ``‖x − center‖²``, float64, a chunk of rows at a time."""
    total = 0.0
    # Blocks of 2**15 values: the float64 temporaries stay at a few hundred KiB.
    for sl in row_chunks(X.shape[0], max(1, 2**15 // max(1, X.shape[1]))):
        sq = np.square(X[sl].astype(np.float64) - center).sum(axis=1)
        total += float(sq.sum() if sample_weight is None else sample_weight[sl] @ sq)
    count = X.shape[0] if sample_weight is None else float(np.sum(sample_weight))
    return total / count


def check_finite(X, name="X", names=None):
    """Raise a ValueError that counts NaN and infinite values and names their columns.

    ``names``: the columns' names (a DataFrame's), used in the message instead of
    their indices.
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
    n_nan = int(np.isnan(X).sum())
    n_inf = int((~finite).sum()) - n_nan
    columns = np.flatnonzero(~finite.all(axis=0)).tolist()
    parts = [f"{n_nan} NaN"] if n_nan else []
    if n_inf:
        parts.append(f"{n_inf} infinite (inf)")
    raise ValueError(
        f"{name} contains {' and '.join(parts)} value(s), in column(s) "
        f"{_describe_columns(columns, names=names)}; mixfit needs finite numbers: drop "
        "those rows or impute them (e.g. with sklearn.impute.SimpleImputer) first."
    )


def check_data(estimator, X, *, reset, ensure_min_samples=1, magnitudes=False,
               accept_sparse=False):
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

    Returns
    -------
    X : ndarray or CSR matrix of shape (n_samples, n_features), float32 or float64
        float32 stays float32; other numeric input becomes float64.
    magnitudes : ndarray of shape (n_features,), float64
        Only with ``magnitudes=True``.
    """
    if not reset:
        _check_n_features(estimator, X)
    if _is_sparse(X):
        from ._sparse_checks import check_sparse_data

        return check_sparse_data(estimator, X, reset=reset, accept_sparse=accept_sparse,
                                 ensure_min_samples=ensure_min_samples, magnitudes=magnitudes)
    if _is_plain_float_array(X, ensure_min_samples) and _fast_path_fits(estimator, X, reset):
        # Everything validate_data would check of a plain C-contiguous float
        # array, without its ~50 µs a call (a quarter of a lecture-sized fit).
        if reset:
            estimator.n_features_in_ = X.shape[1]
            if hasattr(estimator, "feature_names_in_"):
                del estimator.feature_names_in_  # as validate_data does for unnamed columns
        return _checked_finite(estimator, X, magnitudes)
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
    return _checked_finite(estimator, X, magnitudes, names)


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


def _checked_finite(estimator, X, magnitudes, names=None):
    """X once :func:`check_finite` passes, with its columns' magnitudes if asked for."""
    if not magnitudes:
        check_finite(X, names=names)
        return X
    # Imported here: mixfit._moments needs mixfit._parallel, which needs row_chunks.
    from ._moments import finite_column_magnitudes
    from ._parallel import check_n_jobs

    n_jobs = check_n_jobs(getattr(estimator, "n_jobs", None))
    finite, columns = finite_column_magnitudes(X, n_jobs=n_jobs)
    if not finite:
        check_finite(X, names=names)  # raises, counting and locating the values
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


#: Data whose largest magnitude lies outside [2**-MAX_EXPONENT, 2**MAX_EXPONENT] is
#: scaled internally: squares of such values overflow or underflow in float32, and
#: sums of squares over many rows do in float64.
MAX_EXPONENT = 60

#: Largest magnitude accepted (about 3.4e153): covariances, computed about the
#: means, stay below (2·2**510)² = 2**1022, inside float64's range.
LARGEST_MAGNITUDE = 2.0**510


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
        largest = float(max(X.max(), -X.min())) if X.size else 0.0
        if per_column:
            columns = np.maximum(X.max(axis=0), -X.min(axis=0)).astype(np.float64)
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
            columns = np.maximum(X.max(axis=0), -X.min(axis=0))
    return f" (in column {column_label(int(np.argmax(columns)), names)})"


def data_scale(X, names=None):
    """A power of two ``s`` such that ``X / s`` is safely in range, or 1.0.

    Dividing by a power of two is exact in binary floating point, so a fit on
    ``X / s`` with parameters scaled back is the fit on ``X`` that the arithmetic
    could not represent: nothing is rounded differently. ``names``, the columns'
    names where X had them, name the offending column in the error.
    """
    # max(max, −min) rather than max(abs(X)): no n × d temporary.
    largest = float(max(X.max(), -X.min())) if X.size else 0.0
    if largest == 0.0:
        return 1.0
    if largest > LARGEST_MAGNITUDE:
        raise ValueError(
            f"X holds values up to {largest:.3g}{where_largest(X, names=names)}, beyond "
            "2**510 (about 3.4e153): their variances and squared distances cannot be "
            "represented in float64. Divide X by a constant (e.g. its largest absolute "
            "value) before fitting."
        )
    exponent = np.frexp(largest)[1]
    if -MAX_EXPONENT <= exponent <= MAX_EXPONENT:
        return 1.0
    return float(np.ldexp(1.0, int(exponent)))
