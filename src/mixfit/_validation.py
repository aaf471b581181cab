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


def check_n_draws(n_samples):
    """``n_samples`` of a mixture's ``sample``: an integer >= 1, refused in scikit-learn's words."""
    if isinstance(n_samples, numbers.Integral) and not isinstance(n_samples, bool) \
            and n_samples < 1:
        # scikit-learn's words first: code that matches them keeps working.
        raise ValueError(
            f"Invalid value for 'n_samples': {n_samples}. The sampling requires at "
            "least one sample; pass n_samples >= 1."
        )
    return check_positive_int(n_samples, "n_samples")


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


#: Data whose largest magnitude lies outside [2**-MAX_EXPONENT, 2**MAX_EXPONENT] is
#: scaled internally: squares of such values overflow or underflow in float32, and
#: sums of squares over many rows do in float64.
MAX_EXPONENT = 60

#: Largest magnitude accepted (about 3.4e153): covariances, computed about the
#: means, stay below (2·2**510)² = 2**1022, inside float64's range.
LARGEST_MAGNITUDE = 2.0**510
