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


def check_positive_int(value, name, *, minimum=1):
    """Return ``value`` as an int, or raise if it is not an integer >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer >= {minimum}, got {value!r} of type "
            f"{type(value).__name__}; pass a whole number such as {name}={max(minimum, 1)}."
        )
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}.")
    return int(value)


def check_nonnegative_float(value, name):
    """Return ``value`` as a float, or raise if it is not a finite number >= 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a non-negative number, got {value!r} of type "
            f"{type(value).__name__}."
        )
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}.")
    return float(value)


def check_chunk_size(chunk_size):
    """Resolve ``chunk_size`` (None means :data:`DEFAULT_CHUNK_SIZE`)."""
    if chunk_size is None:
        return DEFAULT_CHUNK_SIZE
    return check_positive_int(chunk_size, "chunk_size")


def check_sample_weight(sample_weight, n_samples, dtype=np.float64):
    """Validate per-sample weights.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,) or None
        Non-negative finite weights; ``None`` means every sample has weight 1.
    n_samples : int
        Number of rows the weights must match.

    Returns
    -------
    sample_weight : ndarray of shape (n_samples,) or None
        float64 weights, or None when all weights are one (the engines then skip
        the multiplications).
    """
    if sample_weight is None:
        return None
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
    if not sample_weight.sum() > 0:
        raise ValueError(
            "sample_weight sums to zero, so there is nothing to fit; give at least one "
            "sample a positive weight."
        )
    return sample_weight


def weighted_count(sample_weight, n_samples):
    """Total weight of the samples (``n_samples`` when unweighted)."""
    return float(n_samples) if sample_weight is None else float(sample_weight.sum())


def check_n_samples_at_least(X, n_components, name="n_components", sample_weight=None):
    """Raise if X has fewer (positively weighted) samples than components."""
    n = X.shape[0] if sample_weight is None else int(np.count_nonzero(sample_weight))
    if n < n_components:
        raise ValueError(
            f"Expected n_samples >= {name}, but got {name} = {n_components} and "
            f"n_samples = {n}{' with positive weight' if sample_weight is not None else ''}; "
            f"pass more data or reduce {name}."
        )
