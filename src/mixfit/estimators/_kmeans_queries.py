"""What a fitted ``KMeans`` answers: nearest centres, distances, score.

A mixin, so that :mod:`mixfit.estimators.kmeans` keeps the fitting and this
module the queries on a fitted model; both work on the same attributes
(``cluster_centers_``, ``_scale``, ``_shift``).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.utils.validation import check_is_fitted

from mixfit.engine import kmeans as engine
from mixfit._parallel import check_n_jobs
from mixfit._validation import MAX_EXPONENT, check_sample_weight
from mixfit.estimators._dask_data import blockwise_score, is_dask_array, lazy_query
from mixfit.estimators._data_checks import check_data, check_magnitude
from mixfit.estimators._fit_state import check_consistent_fit
from mixfit.estimators._kmeans_units import far_labels, weighted_sum_in_user_units

__all__ = ["KMeansQueries"]


class KMeansQueries:
    """``predict`` and ``score`` of a fitted :class:`~mixfit.KMeans` (``transform`` stays on
    the class itself: scikit-learn's ``set_output`` wraps only methods a class defines)."""

    # -- using the fit -------------------------------------------------------

    def _validate_for_prediction(self, X):
        """Checked data and centres in units safe to square: ``(X, centers, scale, shift)``.

        The units are the fit's (data / ``_scale``) unless X reaches beyond 2**60
        in them: then those of X's own magnitude (in float64), as the fit would
        have chosen, so that squared distances neither overflow nor lose the
        float32 range. ``scale`` converts distances back to data units.
        """
        check_is_fitted(self)
        check_consistent_fit(self, "cluster_centers_")
        X, columns = check_data(self, X, reset=False, magnitudes=True, accept_sparse=True)
        largest = check_magnitude(X, columns=columns,
                                  names=getattr(self, "feature_names_in_", None))
        # Models fitted before scaling existed have no _scale: they are in data units.
        scale = getattr(self, "_scale", 1.0)
        # Sparse rows are never shifted (that would make them dense); the shift
        # only limits rounding, the distances are the same without it.
        shift = np.zeros_like(self._shift) if sparse.issparse(X) else self._shift
        if largest / scale > 2.0**MAX_EXPONENT:
            new_scale = float(np.ldexp(1.0, int(np.frexp(largest)[1])))
            shift = np.asarray(shift, dtype=np.float64) * (scale / new_scale)  # exact
            scale = new_scale
        if scale == 1.0:
            return X, self.cluster_centers_, scale, shift
        centers = self.cluster_centers_.astype(np.float64) / scale
        return X.astype(np.float64) / scale, centers, scale, shift

    #: Whether the fitted labels come from labelling passes alone (then
    #: ``_assign`` takes the kernel rule for those), rather than from a fit's
    #: E-step, whose kernel ``predict`` must use to reproduce them.
    _labels_by_labelling_passes = False

    def _assign(self, X, centers, shift):
        return engine.assign(
            X, centers, chunk_size=self.chunk_size, shift=shift,
            n_jobs=check_n_jobs(getattr(self, "n_jobs", None)),
            labelling=self._labels_by_labelling_passes,
        )

    def predict(self, X):
        """Index of the nearest centre for each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data with the columns the model was fitted on, in the same order.

        Returns
        -------
        labels : ndarray of shape (n_samples,), int64
        """
        if is_dask_array(X):
            return lazy_query(self, "predict", X, dtype=np.int64)
        X, centers, _, shift = self._validate_for_prediction(X)
        labels, min_sq_dist = self._assign(X, centers, shift)
        return far_labels(X, centers, labels, min_sq_dist)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the (weighted) inertia of X for the fitted centres.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data with the columns the model was fitted on.
        y : Ignored
        sample_weight : array-like of shape (n_samples,) or None
            Non-negative weights of the rows in the sum.

        Returns
        -------
        score : float
            ``-Σ w · ‖x − nearest centre‖²``; higher is better.
        """
        if is_dask_array(X):
            # The blocks' weighted sums come back, never the rows.
            return blockwise_score(self, X, sample_weight)
        X, centers, scale, shift = self._validate_for_prediction(X)
        sample_weight, weight_scale = check_sample_weight(
            sample_weight, X.shape[0], return_scale=True
        )
        _, min_sq_dist = self._assign(X, centers, shift)
        weight = np.ones(X.shape[0]) if sample_weight is None else sample_weight
        return -weighted_sum_in_user_units(weight, min_sq_dist, scale, weight_scale, "score")
