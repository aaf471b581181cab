"""A K-means fit's data, checked, measured and put in range before the runs.

What :meth:`mixfit.KMeans.fit` needs to know of X before its first
iteration: that it is numeric and finite, each column's largest magnitude
(whether it must be rescaled), the column means and mean ``‖x‖²`` (whether
distances need a shift, and what ``tol`` is relative to) and each row's
``‖x‖²`` (kept for the distances). Dense rows give all of it in one read
(:func:`mixfit.kernels.moments.finite_column_moments`): at 1e6 × 64 float32
the separate finiteness and moment passes took 30 and 25 ms, one of ~23
reads of X in a 20-iteration fit. The memory check must come before anything
of size n is allocated, and the row norms are: it runs first, assuming no
rescaling, and once more in the rare case the data turn out to need it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import sparse

from mixfit._validation import check_n_samples_at_least, check_sample_weight
from mixfit.engine.column_stats import shift_variance_and_norms
from mixfit.estimators._data_checks import check_data, data_scale, refuse_non_finite
from mixfit.estimators._large_data import is_memory_mapped
from mixfit.kernels.moments import finite_column_moments


@dataclasses.dataclass(frozen=True)
class KMeansData:
    """The data of a K-means fit, ready for its runs.

    Attributes
    ----------
    X : ndarray or CSR matrix
        The data in the fit's units, ``user_X / scale``.
    user_X : ndarray or CSR matrix
        The data as validated, in the user's units.
    sample_weight : ndarray or None
        Scaled to a largest weight in [1, 2) (exact).
    weight_scale : float
        What converts the inertia back to the user's weights.
    scale : float
        A power of two (1.0 where the data are in range).
    mapped : bool
        Whether X is a memory map (no row norms are kept).
    shift : ndarray of shape (n_features,)
        Subtracted before distances (zeros for none).
    variance : float
        The mean column variance (0 unless asked for).
    row_norms : ndarray of shape (n_samples,) or None
        ``‖x‖²`` of each row in X's dtype, where kept and there is no shift.
    """

    X: object
    user_X: object
    sample_weight: object
    weight_scale: float
    scale: float
    mapped: bool
    shift: np.ndarray
    variance: float
    row_norms: object


def kmeans_data(estimator, X, sample_weight, n_jobs, *, variance):
    """Validate X and the weights for ``estimator`` (a KMeans) and measure X.

    Refuses, with what to do, data that are not numeric, not finite, too few
    rows for the clusters, or too large for memory (unless the estimator's
    caller checked memory already: ``_memory_checked``). ``variance``: whether
    the mean column variance is wanted (``tol > 0``).
    """
    X, magnitudes = check_data(estimator, X, reset=True, accept_sparse=True, magnitudes=True,
                               defer_finite=True)
    mapped = is_memory_mapped(X)
    # Weights come back scaled to a largest weight in [1, 2) (exact): the fit
    # then does not depend on their overall size.
    sample_weight, weight_scale = check_sample_weight(
        sample_weight, X.shape[0], return_scale=True
    )
    check_n_samples_at_least(X, estimator.n_clusters, "n_clusters", sample_weight)
    check_memory = not getattr(estimator, "_memory_checked", False)
    nnz = X.nnz if sparse.issparse(X) else None
    moments = row_norms = None
    warned = False
    if magnitudes is None:  # dense rows, not yet checked for finiteness
        if check_memory:
            warned = estimator._check_memory(X.shape, X.dtype.itemsize, n_jobs)
        row_norms = None if mapped else np.empty(X.shape[0], dtype=X.dtype)
        finite, magnitudes, means, mean_square_norm = finite_column_moments(
            X, sample_weight, n_jobs, row_norms)
        if not finite:
            refuse_non_finite(estimator, X)
        moments = (means, mean_square_norm)
    # Data too large or too small to square safely are clustered in units of a
    # power of two (exact); float32 then runs in float64, whose range holds
    # the squared distances and the inertia.
    scale = data_scale(X, getattr(estimator, "feature_names_in_", None), magnitudes)
    if check_memory and (moments is None or scale != 1.0):
        estimator._check_memory(X.shape, X.dtype.itemsize, n_jobs, rescaled=scale != 1.0,
                                nnz=nnz, warn=not warned)
    user_X = X
    if scale != 1.0:
        X = X.astype(np.float64) / scale
        moments = row_norms = None  # measured again, on the rescaled data
    # Data far from the origin get their distances relative to the data mean
    # (see mixfit.engine.column_stats); the same pass gives the rows' norms (a
    # memory map keeps none).
    shift, mean_variance, row_norms = shift_variance_and_norms(
        X, sample_weight, n_jobs, variance=variance, norms=not mapped, moments=moments,
        row_norms=row_norms)
    return KMeansData(X, user_X, sample_weight, weight_scale, scale, mapped, shift,
                      mean_variance, row_norms)
