"""Checks of sparse (``scipy.sparse``) input: taken as canonical CSR, or refused clearly.

:func:`mixfit.estimators._data_checks.check_data` hands sparse input here. An estimator
that works on sparse data (KMeans) gets a CSR matrix — other formats
converted, as scikit-learn's ``accept_sparse="csr"`` does, integers and other
dtypes as float64, float32 kept — in canonical form (sorted indices, no
duplicate entries: the kernels rely on it), with finiteness checked on the
stored values only. Nothing is densified. Estimators that need dense data
(GaussianMixture) refuse it with a message naming the estimator and the fix.
"""

from __future__ import annotations

import numpy as np

__all__ = ["canonical_csr", "check_sparse_data"]


def canonical_csr(X):
    """X as a CSR matrix in canonical form, copied first when that changes anything.

    The caller's object is never modified; the values keep their dtype.
    """
    if X.format != "csr":
        X = X.tocsr()
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()  # also sorts the indices
    return X


def check_sparse_data(estimator, X, *, reset, accept_sparse, ensure_min_samples=1,
                      magnitudes=False):
    """:func:`mixfit.estimators._data_checks.check_data` for a ``scipy.sparse`` X.

    Returns
    -------
    X : CSR matrix (``csr_matrix`` or ``csr_array``, as given), float32 or float64
    magnitudes : ndarray of shape (n_features,), float64
        Only with ``magnitudes=True``: each column's largest absolute value.
    """
    name = type(estimator).__name__
    if not accept_sparse:
        raise TypeError(
            f"{name} does not accept sparse input (got a {type(X).__name__}): a "
            f"{name} needs dense data. Pass X.toarray() if it fits in memory, or "
            "cluster the sparse data with mixfit.KMeans, which takes CSR matrices."
        )
    from sklearn.utils.validation import validate_data

    X = validate_data(
        estimator,
        X,
        accept_sparse="csr",
        dtype=[np.float64, np.float32],
        ensure_all_finite=False,
        ensure_min_samples=ensure_min_samples,
        reset=reset,
    )
    X = canonical_csr(X)
    _check_finite_values(X)
    if not magnitudes:
        return X
    if X.nnz == 0:
        return X, np.zeros(X.shape[1])
    columns = np.zeros(X.shape[1])
    # Per column the largest |stored value| (implicit zeros never exceed it).
    np.maximum.at(columns, X.indices, np.abs(X.data).astype(np.float64))
    return X, columns


def _check_finite_values(X):
    """Raise a ValueError that counts NaN and infinite stored values and names their columns."""
    finite = np.isfinite(X.data)
    if finite.all():
        return
    n_nan = int(np.isnan(X.data).sum())
    n_inf = int((~finite).sum()) - n_nan
    columns = np.unique(X.indices[~finite]).tolist()
    shown = ", ".join(str(c) for c in columns[:8])
    if len(columns) > 8:
        shown += f" and {len(columns) - 8} more"
    parts = [f"{n_nan} NaN"] if n_nan else []
    if n_inf:
        parts.append(f"{n_inf} infinite (inf)")
    raise ValueError(
        f"X contains {' and '.join(parts)} value(s), in column(s) {shown}; mixfit needs "
        "finite numbers: drop those rows or impute them (e.g. with "
        "sklearn.impute.SimpleImputer) first."
    )

