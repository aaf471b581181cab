"""GaussianMixture on data with missing values (NaN): checks, the start, and the queries.

The fit itself is the engine's EM with
:class:`~mixfit.families.gaussian.missing.MissingGaussianFamily` (exact EM on
the observed values, ``../shared/MODELS.md`` §5). What the estimator adds is
here:

- rows with no observed value and columns with no observed value are refused
  (nothing can be learned from them, and a row's density would be 1);
- the start: the chosen ``init_params`` runs on the complete rows when there
  are at least ``n_components`` of them (with positive weight), else on every
  row with each missing value replaced by its column's (weighted) mean. The
  start only needs to be reasonable: EM on the observed values takes over
  from it. ``resp_init`` and partial labels, which are per row, use the
  mean-imputed rows;
- the queries (``predict``, ``predict_proba``, ``score_samples``…) on rows
  with NaN use the marginal densities of the observed coordinates.
"""

from __future__ import annotations

import numpy as np

from mixfit._validation import DEFAULT_CHUNK_SIZE, row_chunks
from mixfit.engine import em as em
from mixfit.families.gaussian.missing import MissingGaussianFamily

__all__ = [
    "check_observed",
    "fit_has_missing",
    "has_missing",
    "imputed_rows",
    "missing_family",
    "mean_observed",
    "missing_log_resp",
    "observed_counts",
    "start_data",
]


def has_missing(X, chunk_size=DEFAULT_CHUNK_SIZE):
    """Whether the (validated, inf-free) array X holds a NaN; no n × d temporary.

    A finite sum means no NaN: only a sum that is NaN (or overflowed) makes the
    chunks be looked at.
    """
    if not isinstance(X, np.ndarray) or X.size == 0:
        return False
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(X)):
            return False
    return any(np.isnan(X[rows]).any() for rows in row_chunks(X.shape[0], chunk_size))


def check_observed(X, name="X", chunk_size=DEFAULT_CHUNK_SIZE, columns=True):
    """Refuse a row, or (with ``columns``, in fit) a column, of X with no observed value.

    Raises
    ------
    ValueError
        Naming the first such row (and how many there are), or column.
    """
    empty = []
    observed_columns = np.zeros(X.shape[1], dtype=bool)
    for rows in row_chunks(X.shape[0], chunk_size):
        missing = np.isnan(X[rows])
        empty.extend((rows.start + np.flatnonzero(missing.all(axis=1))).tolist())
        observed_columns |= ~missing.all(axis=0)
    if empty:
        more = f" ({len(empty)} such rows, e.g. {empty[:5]})" if len(empty) > 1 else ""
        raise ValueError(
            f"row {empty[0]} of {name} has no observed value (all NaN){more}: drop it "
            f"(e.g. {name}[~np.isnan({name}).all(axis=1)]); a row with no value tells "
            "the mixture nothing."
        )
    if columns and not observed_columns.all():
        column = int(np.flatnonzero(~observed_columns)[0])
        raise ValueError(
            f"column {column} of {name} has no observed value (all NaN): drop it; its "
            "mean and variance cannot be estimated."
        )


def fit_has_missing(X):
    """Whether the training data X has NaN, once rows and columns with no value are refused."""
    if not has_missing(X):
        return False
    check_observed(X)
    return True


def observed_counts(X, chunk_size=DEFAULT_CHUNK_SIZE):
    """The number of observed (non-NaN) values of each row, float64 (n,).

    A density of |o| observed values scales as ``scale ** -|o|`` when the data
    are divided by ``scale``: what converts a log-likelihood from the fit's
    units back to the data's.
    """
    counts = np.empty(X.shape[0])
    for rows in row_chunks(X.shape[0], chunk_size):
        counts[rows] = X.shape[1] - np.isnan(X[rows]).sum(axis=1)
    return counts


def mean_observed(X, sample_weight=None):
    """The (weighted) mean number of observed values per row (``d`` without NaN)."""
    counts = observed_counts(X)
    if sample_weight is None:
        return float(counts.mean())
    return float(np.asarray(sample_weight, dtype=np.float64) @ counts / np.sum(sample_weight))


def missing_family(family):
    """The family that fits ``family``'s model on data with NaN."""
    return MissingGaussianFamily(family)


def imputed_rows(X, sample_weight=None):
    """X with each NaN replaced by its column's (weighted) mean of the observed values."""
    observed = ~np.isnan(X)
    weight = np.ones(X.shape[0]) if sample_weight is None else np.asarray(
        sample_weight, dtype=np.float64)
    column_weight = weight @ observed
    totals = weight @ np.where(observed, X, 0.0).astype(np.float64)
    means = totals / np.where(column_weight > 0, column_weight, 1.0)
    return np.where(observed, X, means.astype(X.dtype)).astype(X.dtype, copy=False)


def start_data(X, sample_weight, start, n_components, per_row):
    """The rows a start is chosen from, and their weights: ``(X_start, weight_start)``.

    ``start``: the ``(rows, weights)`` the fit would start from without NaN (X
    itself, or a sample of a memory map), used unless the start needs every
    row (``per_row``: resp_init, partial labels) or is not rows in memory
    (k-means|| streaming over a source). From those, the complete rows when
    at least ``n_components`` of them have positive weight; else every row,
    mean-imputed.
    """
    rows, weight = start
    if per_row or not isinstance(rows, np.ndarray):
        rows, weight = X, sample_weight
    if not per_row:
        complete = ~np.isnan(rows).any(axis=1)
        positive = complete if weight is None else complete & (weight > 0)
        if np.count_nonzero(positive) >= max(n_components, 2):
            kept = np.flatnonzero(complete)
            return rows[kept], None if weight is None else weight[kept]
    return imputed_rows(rows, weight), weight


def missing_log_resp(family, X, params, chunk_size, n_jobs):
    """Log-posteriors and log p(x) of rows with NaN: the marginal densities' (numpy path)."""
    return em.log_resp(missing_family(family), X, params, chunk_size, n_jobs=n_jobs,
                       kernel="numpy")
