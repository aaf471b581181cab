"""Dask arrays as estimator input: their checks, their summary pass, lazy queries.

A ``dask.array.Array`` is checked without pulling it to the client: its shape,
dtype and chunking are checked from metadata, and everything that needs the
values (non-finite entries, each column's largest magnitude, the weighted
column sums) comes from one pass over the blocks that returns only
``n_features``-sized numbers (:func:`summarize`). The same errors as for an
array in memory come back: NaN or inf name their columns, non-numeric dtypes
say what to do.

Starts that need the data in memory (K-means, k-means++, random rows, the
hierarchical start) run on a uniform sample of rows (:func:`init_sample`),
at most :data:`INIT_SAMPLE_ROWS` of them; the fit then runs on every row.

Queries (``predict``, ``predict_proba``, ``score_samples``, ``transform``) on a
Dask array return Dask arrays: each block is answered by the fitted estimator,
which travels with the graph (parameters only, no data), when computed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from mixfit.engine.sources import DaskSource, is_dask_array, require_dask
from mixfit.estimators._data_checks import non_finite_message

__all__ = [
    "INIT_SAMPLE_ROWS",
    "check_dask_data",
    "check_dask_sample_weight",
    "blockwise_score",
    "dask_blocks",
    "init_sample",
    "is_dask_array",
    "lazy_query",
    "summarize",
]

#: Most rows a start that needs the data in memory is drawn from, for Dask input.
INIT_SAMPLE_ROWS = 100_000


def check_dask_data(estimator, X, *, reset, ensure_min_samples=1):
    """Check a Dask array's metadata and bring it to a float dtype and one column block.

    Nothing is computed here (see :func:`summarize` for the values).

    Returns
    -------
    X : dask.array.Array of shape (n_samples, n_features), float32 or float64
    """
    require_dask()
    name = type(estimator).__name__
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-D Dask array, got {X.ndim}-D with shape {X.shape}; reshape it "
            "to (n_samples, n_features), e.g. X.reshape(-1, 1) for a single feature."
        )
    if any(np.isnan(size) for size in X.chunks[0]):
        raise ValueError(
            "X is a Dask array with unknown chunk sizes (as from a DataFrame's .values or "
            "boolean indexing), so its rows cannot be counted or split; call "
            "X.compute_chunk_sizes() first, or build it with "
            "dataframe.to_dask_array(lengths=True)."
        )
    kind = X.dtype.kind
    if kind == "c":
        raise ValueError(
            "X holds complex values; Complex data not supported (mixfit fits real numbers): "
            "pass the real part (X.real), the magnitude (abs(X)), or both as separate columns."
        )
    if kind not in "biuf":
        raise ValueError(
            f"X must be numeric, but the Dask array has dtype {X.dtype}; convert it with "
            "X.astype(float) after encoding or dropping non-numeric values."
        )
    if X.shape[0] < ensure_min_samples:
        raise ValueError(
            f"Found array with {X.shape[0]} sample(s) (shape={X.shape}) while a minimum of "
            f"{ensure_min_samples} is required by {name}."
        )
    if X.shape[1] < 1:
        raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}); {name} needs one.")
    expected = getattr(estimator, "n_features_in_", None)
    if reset:
        estimator.n_features_in_ = X.shape[1]
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif expected is not None and X.shape[1] != expected:
        raise ValueError(
            f"X has {X.shape[1]} features, but {name} is expecting {expected} features as "
            f"input: this {name} was fitted with {expected} features (columns). Pass X with "
            f"those {expected} columns, in the order used in fit, or fit a new model on "
            f"the {X.shape[1]} columns you have."
        )
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if len(X.chunks[1]) > 1:
        # A block must hold whole rows: the E-step of a row needs all its features.
        X = X.rechunk({1: -1})
    return X


@dataclass(frozen=True)
class ColumnSummary:
    """What one pass over the blocks learns of the columns; ``a + b`` covers both.

    Attributes
    ----------
    n_nan, n_inf : ndarray of shape (n_features,), int64
        Non-finite entries per column.
    largest : ndarray of shape (n_features,), float64
        Largest finite magnitude per column.
    weight : float
        Total sample weight (rows, unweighted).
    positive : int
        Rows with positive weight.
    sums : ndarray of shape (n_features,), float64
        Weighted column sums of the finite entries.
    """

    n_nan: np.ndarray
    n_inf: np.ndarray
    largest: np.ndarray
    weight: float
    positive: int
    sums: np.ndarray

    def __add__(self, other):
        return ColumnSummary(
            self.n_nan + other.n_nan, self.n_inf + other.n_inf,
            np.maximum(self.largest, other.largest), self.weight + other.weight,
            self.positive + other.positive, self.sums + other.sums,
        )

    @property
    def mean(self):
        """Weighted column means."""
        return self.sums / self.weight


def _block_summary(X, weight):
    finite = np.isfinite(X)
    n_nan = np.isnan(X).sum(axis=0, dtype=np.int64)
    n_inf = (~finite).sum(axis=0, dtype=np.int64) - n_nan
    values = np.where(finite, X, 0).astype(np.float64, copy=False)
    largest = np.abs(values).max(axis=0) if X.shape[0] else np.zeros(X.shape[1])
    if weight is None:
        return ColumnSummary(n_nan, n_inf, largest, float(X.shape[0]), X.shape[0],
                             values.sum(axis=0))
    return ColumnSummary(n_nan, n_inf, largest, float(weight.sum()),
                         int(np.count_nonzero(weight)), weight @ values)


def summarize(X, sample_weight=None, name="X"):
    """One pass over a Dask array's blocks: raise on non-finite values, else summarise.

    Returns
    -------
    ColumnSummary
        Its ``largest`` decides the fit's scale, ``mean`` the K-means shift.

    Raises
    ------
    ValueError
        As for data in memory: counts the NaN and inf values and names their columns.
    """
    summary = DaskSource(X, sample_weight).fold(_block_summary)
    n_nan, n_inf = int(summary.n_nan.sum()), int(summary.n_inf.sum())
    if n_nan or n_inf:
        columns = np.flatnonzero(summary.n_nan + summary.n_inf).tolist()
        # Missing values are modelled by GaussianMixture on data in memory only
        # (its pattern-wise E-step runs on the numpy path, not on Dask blocks).
        advice = (" GaussianMixture models missing values (NaN) for data in memory: fit "
                  "it on X.compute(), or impute on the cluster first.") if n_nan else ""
        raise ValueError(non_finite_message(n_nan, n_inf, columns, name) + advice)
    return summary


def _weight_facts(weight, _):
    return np.array([
        float(np.count_nonzero(~np.isfinite(weight))),
        float(np.count_nonzero(weight < 0)),
        float(np.max(weight, initial=0.0)),
    ])


def check_dask_sample_weight(sample_weight, X):
    """Sample weights for a Dask X: a Dask array (checked in one pass) or array-like.

    Returns
    -------
    sample_weight : dask.array.Array or None
        float64 weights in X's row blocks, the largest in [1, 2) (as
        :func:`mixfit._validation.check_sample_weight` scales them).
    scale : float
        The power of two they were divided by.
    """
    import dask.array as da

    from mixfit._validation import check_sample_weight

    if sample_weight is None:
        return None, 1.0
    if not is_dask_array(sample_weight):
        weight, scale = check_sample_weight(sample_weight, X.shape[0], return_scale=True)
        return da.from_array(weight, chunks=(X.chunks[0],)), scale
    if sample_weight.ndim != 1 or sample_weight.shape[0] != X.shape[0]:
        raise ValueError(
            f"sample_weight must have shape ({X.shape[0]},) to match X, got shape "
            f"{sample_weight.shape}."
        )
    if sample_weight.dtype.kind not in "biuf":
        raise TypeError(f"sample_weight must be numeric, got dtype {sample_weight.dtype}.")
    weight = sample_weight.astype(np.float64).rechunk((X.chunks[0],))
    facts = DaskSource(weight[:, None]).map(_weight_facts)
    non_finite = sum(f[0] for f in facts)
    negative = sum(f[1] for f in facts)
    largest = max(f[2] for f in facts)
    if non_finite:
        raise ValueError(
            f"sample_weight holds {int(non_finite)} non-finite value(s) (NaN or inf); "
            "every weight must be a finite number >= 0."
        )
    if negative:
        raise ValueError(
            f"sample_weight holds {int(negative)} negative value(s); every weight must be a "
            "finite number >= 0."
        )
    if largest == 0:
        raise ValueError("sample_weight is zero everywhere; at least one weight must be > 0.")
    scale = float(np.ldexp(1.0, int(np.frexp(largest)[1]) - 1))
    return (weight / scale if scale != 1.0 else weight), scale


def sample_row_indices(n_samples, n_rows, rng):
    """``n_rows`` distinct row indices below ``n_samples``, sorted, drawn uniformly.

    O(n_rows) memory: choice without replacement may permute all n_samples
    indices (8 bytes a row, a quarter of an 8-column float32 file). Indices are
    drawn with replacement until ``n_rows`` distinct ones are found, and
    ``n_rows`` of those kept at random: by symmetry, a uniform subset.
    ``rng`` is a RandomState or a Generator.
    """
    seed = rng.integers(2**31) if isinstance(rng, np.random.Generator) else rng.randint(2**31)
    generator = np.random.default_rng(seed)
    if 2 * n_rows > n_samples:
        return np.sort(generator.permutation(n_samples)[:n_rows])
    distinct = np.unique(generator.integers(n_samples, size=n_rows + n_rows // 4 + 16))
    while distinct.size < n_rows:
        more = generator.integers(n_samples, size=n_rows - distinct.size + 16)
        distinct = np.union1d(distinct, more)
    keep = generator.choice(distinct.size, size=n_rows, replace=False)
    return np.sort(distinct[keep])


def init_sample(X, sample_weight, rng, n_rows=INIT_SAMPLE_ROWS):
    """Up to ``n_rows`` rows of X drawn uniformly without replacement, in memory.

    Returns
    -------
    X_sample : ndarray, weight_sample : ndarray or None
    """
    import dask

    n_samples = X.shape[0]
    if n_samples <= n_rows:
        rows = slice(None)
    else:
        rows = sample_row_indices(n_samples, n_rows, rng)
    weight = None if sample_weight is None else sample_weight[rows]
    X_sample, weight_sample = dask.compute(X[rows], weight)
    return np.ascontiguousarray(X_sample), weight_sample


def _block_score(block, weight, estimator):
    return estimator.score(block, sample_weight=weight)


def blockwise_score(estimator, X, sample_weight=None):
    """``estimator.score(X, sample_weight=...)`` for a score that is a sum over rows.

    Each block is scored where it lives; the blocks' scores are added (K-means'
    score is minus the weighted inertia, a sum).
    """
    X = check_dask_data(estimator, X, reset=False)
    weight, weight_scale = check_dask_sample_weight(sample_weight, X)
    fitted = copy.copy(estimator)
    fitted.__dict__.pop("labels_", None)
    return float(DaskSource(X, weight).fold(_block_score, fitted)) * weight_scale


def dask_blocks(estimator, X, sample_weight=None):
    """The row blocks of a Dask X (and of its weights) as NumPy arrays, one at a time.

    For estimators that consume a stream (``partial_fit``): each block is
    computed when the caller asks for it.
    """
    import dask

    X = check_dask_data(estimator, X, reset=False)
    if sample_weight is not None and not is_dask_array(sample_weight):
        sample_weight = np.asarray(sample_weight)
        if sample_weight.shape != (X.shape[0],):
            raise ValueError(f"sample_weight must have shape ({X.shape[0]},) to match X, "
                             f"got shape {sample_weight.shape}.")
    bounds = np.cumsum((0,) + X.chunks[0])
    for index, block in enumerate(X.to_delayed().ravel()):
        rows = slice(int(bounds[index]), int(bounds[index + 1]))
        weight = None if sample_weight is None else sample_weight[rows]
        yield tuple(dask.compute(block, weight))


def _answer_block(block, estimator, method):
    return getattr(estimator, method)(block)


def lazy_query(estimator, method, X, *, n_columns=None, dtype=None):
    """``estimator.method(X)`` for a Dask X, as a Dask array computed block by block.

    Parameters
    ----------
    method : str
        A method of the fitted estimator that takes rows and returns one value per
        row (``n_columns=None``) or ``n_columns`` values per row.
    dtype : numpy dtype
        The result's dtype (declared to Dask without running the method).
    """
    X = check_dask_data(estimator, X, reset=False)
    # The blocks get a copy without the per-row results of a Dask fit (labels_ is
    # itself such a query: the graph would otherwise hold itself).
    estimator = copy.copy(estimator)
    estimator.__dict__.pop("labels_", None)
    if n_columns is None:
        return X.map_blocks(_answer_block, estimator, method, drop_axis=1, dtype=dtype,
                            meta=np.empty((0,), dtype=dtype))
    return X.map_blocks(_answer_block, estimator, method, dtype=dtype,
                        chunks=(X.chunks[0], (n_columns,)),
                        meta=np.empty((0, 0), dtype=dtype))
