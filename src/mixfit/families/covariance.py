"""Covariance structures of the Gaussian family.

Each structure is a strategy that owns everything that depends on the shape of
the covariance: the log-density, the centred scatter of a chunk and how two
scatters merge, the M-step from the merged scatter, the Cholesky factor of the
precision and the parameter count. Adding a structure means adding one class
here, not editing a switch in eight functions.

Shapes (those of scikit-learn, so fitted attributes are interchangeable):

============  ==================  =====================================
structure     covariances         meaning
============  ==================  =====================================
identity      (K,) of ones        unit covariance, the lecture's model
spherical     (K,)                one variance per component
diag          (K, d)              one variance per feature and component
tied          (d, d)              one full matrix shared by all components
full          (K, d, d)           one full matrix per component
============  ==================  =====================================

``precisions_cholesky`` has the same shape as ``covariances``: the factor ``P``
with ``precision = P Pᵀ`` (upper triangular for full and tied, as
scikit-learn), ``1/sqrt(var)`` for diag and spherical.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

_LOG_2PI = np.log(2.0 * np.pi)


class CollapsedComponentError(ValueError):
    """A covariance stopped being positive definite during fitting."""


def _collapse_message(what, dtype):
    message = (
        f"Fitting the mixture failed: {what} has a covariance that is not positive "
        "definite (a component collapsed onto too few distinct points or onto a "
        "subspace). Increase reg_covar (e.g. reg_covar=1e-4), decrease "
        "n_components, or scale the input data."
    )
    if np.dtype(dtype) == np.float32:
        message += " Passing float64 data instead of float32 can also help."
    return message


def _cholesky_of_precision(covariance, what, dtype):
    """Upper-triangular ``P`` with ``inv(covariance) = P Pᵀ``, computed in float64."""
    try:
        cov_chol = linalg.cholesky(covariance, lower=True)
    except linalg.LinAlgError:
        raise CollapsedComponentError(_collapse_message(what, dtype)) from None
    n_features = covariance.shape[0]
    return linalg.solve_triangular(cov_chol, np.eye(n_features), lower=True).T


class CovarianceStructure:
    """Interface of a covariance strategy; see the module docstring for shapes."""

    name = ""

    def scatter_shape(self, n_components, n_features):
        """Shape of the centred scatter kept in the statistics."""
        raise NotImplementedError

    def chunk_scatter(self, X, weighted_resp, means):
        """Centred scatter of one chunk, in float64.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features), float64
        weighted_resp : ndarray of shape (n_samples, n_components), float64
            Responsibilities times sample weights.
        means : ndarray of shape (n_components, n_features), float64
            Weighted means of the chunk, the centre of the scatter.
        """
        raise NotImplementedError

    def merge_correction(self, delta, coef):
        """Term that Chan's merge adds: ``coef_k · delta_k delta_kᵀ`` reduced to this shape."""
        raise NotImplementedError

    def covariances(self, scatter, counts, reg_covar, n_features):
        """Covariances from the merged scatter and per-component weights, float64."""
        raise NotImplementedError

    def precisions_cholesky(self, covariances, dtype):
        """Cholesky factor of the precision, float64 arithmetic, returned in ``dtype``."""
        raise NotImplementedError

    def precisions_cholesky_from_precisions(self, precisions):
        """Factor ``P`` with ``precision = P Pᵀ`` from user-given precisions.

        Raises ValueError when the precisions are not symmetric positive definite.
        """
        raise NotImplementedError

    def precisions_from_cholesky(self, precisions_chol):
        """``P Pᵀ`` (or ``P²``), the precisions that the factor stands for."""
        return precisions_chol**2

    def covariances_from_precisions_cholesky(self, precisions_chol):
        """Invert the factor back to covariances (for user-given precisions)."""
        raise NotImplementedError

    def precisions_shape(self, n_components, n_features):
        return self.scatter_shape(n_components, n_features)

    def log_det_and_mahalanobis(self, X, means, precisions_chol):
        """``(log_det (K,), maha (n, K))`` in X's dtype."""
        raise NotImplementedError

    def log_prob(self, X, means, precisions_chol):
        """Log-density of each sample under each component, shape (n, K), X's dtype."""
        log_det, maha = self.log_det_and_mahalanobis(X, means, precisions_chol)
        n_features = X.shape[1]
        return -0.5 * (n_features * _LOG_2PI + maha) + log_det

    def n_parameters(self, n_components, n_features):
        """Free covariance parameters (means and weights are counted elsewhere)."""
        raise NotImplementedError

    def component_covariance(self, covariances, k, n_features):
        """Full (d, d) covariance of component ``k``, for sampling and plots."""
        raise NotImplementedError


def _precision_factor(precision, name):
    """Lower Cholesky factor of a user-given precision matrix, or a clear error."""
    if not np.allclose(precision, precision.T, rtol=1e-10, atol=0):
        raise ValueError(f"{name} must be a symmetric matrix.")
    try:
        return linalg.cholesky(precision, lower=True)
    except linalg.LinAlgError:
        raise ValueError(f"{name} must be positive definite.") from None


def _squared_distances(X, means, scale=None):
    """``‖(x − μ_k) ∘ scale_k‖²`` for every sample and component, shape (n, K).

    Centred differences, never the ‖x‖² − 2x·μ + ‖μ‖² expansion, which loses
    every digit when the data sit far from the origin.
    """
    out = np.empty((X.shape[0], means.shape[0]), dtype=X.dtype)
    for k in range(means.shape[0]):
        diff = X - means[k]
        if scale is not None:
            diff *= scale[k]
        np.einsum("ij,ij->i", diff, diff, out=out[:, k])
    return out


class Full(CovarianceStructure):
    name = "full"

    def scatter_shape(self, n_components, n_features):
        return (n_components, n_features, n_features)

    def chunk_scatter(self, X, weighted_resp, means):
        n_components, n_features = means.shape
        scatter = np.empty((n_components, n_features, n_features))
        for k in range(n_components):
            centred = X - means[k]
            scatter[k] = (weighted_resp[:, k, None] * centred).T @ centred
        return scatter

    def merge_correction(self, delta, coef):
        return coef[:, None, None] * delta[:, :, None] * delta[:, None, :]

    def covariances(self, scatter, counts, reg_covar, n_features):
        covariances = scatter / counts[:, None, None]
        idx = np.arange(scatter.shape[1])
        covariances[:, idx, idx] += reg_covar
        return covariances

    def precisions_cholesky(self, covariances, dtype):
        return np.stack(
            [
                _cholesky_of_precision(cov, f"component {k}", dtype)
                for k, cov in enumerate(covariances)
            ]
        ).astype(dtype, copy=False)

    def precisions_cholesky_from_precisions(self, precisions):
        return np.stack([_precision_factor(p, f"precisions_init[{k}]") for k, p in enumerate(precisions)])

    def precisions_from_cholesky(self, precisions_chol):
        return precisions_chol @ np.swapaxes(precisions_chol, -1, -2)

    def covariances_from_precisions_cholesky(self, precisions_chol):
        return np.stack([linalg.inv(p @ p.T) for p in precisions_chol])

    def log_det_and_mahalanobis(self, X, means, precisions_chol):
        n_components = means.shape[0]
        maha = np.empty((X.shape[0], n_components), dtype=X.dtype)
        for k in range(n_components):
            y = (X - means[k]) @ precisions_chol[k]
            np.einsum("ij,ij->i", y, y, out=maha[:, k])
        log_det = np.log(np.diagonal(precisions_chol, axis1=1, axis2=2)).sum(axis=1)
        return log_det.astype(X.dtype, copy=False), maha

    def n_parameters(self, n_components, n_features):
        return n_components * n_features * (n_features + 1) // 2

    def component_covariance(self, covariances, k, n_features):
        return covariances[k]


class Tied(Full):
    name = "tied"

    def scatter_shape(self, n_components, n_features):
        return (n_features, n_features)

    def chunk_scatter(self, X, weighted_resp, means):
        return super().chunk_scatter(X, weighted_resp, means).sum(axis=0)

    def merge_correction(self, delta, coef):
        return (coef[:, None] * delta).T @ delta

    def covariances(self, scatter, counts, reg_covar, n_features):
        covariance = scatter / counts.sum()
        covariance.flat[:: scatter.shape[0] + 1] += reg_covar
        return covariance

    def precisions_cholesky(self, covariances, dtype):
        return _cholesky_of_precision(covariances, "the tied covariance", dtype).astype(
            dtype, copy=False
        )

    def precisions_cholesky_from_precisions(self, precisions):
        return _precision_factor(precisions, "precisions_init")

    def covariances_from_precisions_cholesky(self, precisions_chol):
        return linalg.inv(precisions_chol @ precisions_chol.T)

    def log_det_and_mahalanobis(self, X, means, precisions_chol):
        # One product for all components: whiten X and the means once.
        y = X @ precisions_chol
        maha = _squared_distances(y, (means @ precisions_chol).astype(X.dtype, copy=False))
        log_det = np.log(np.diag(precisions_chol)).sum()
        return np.full(means.shape[0], log_det, dtype=X.dtype), maha

    def n_parameters(self, n_components, n_features):
        return n_features * (n_features + 1) // 2

    def component_covariance(self, covariances, k, n_features):
        return covariances


class _Variances(CovarianceStructure):
    """Structures whose covariances are variances (diag, spherical): ``P = 1/sqrt(var)``."""

    def precisions_cholesky(self, covariances, dtype):
        positive = (covariances > 0).reshape(covariances.shape[0], -1).all(axis=1)
        bad = np.flatnonzero(~positive)
        if bad.size:
            raise CollapsedComponentError(_collapse_message(f"component {bad[0]}", dtype))
        return (1.0 / np.sqrt(covariances)).astype(dtype, copy=False)

    def precisions_cholesky_from_precisions(self, precisions):
        if not (precisions > 0).all():
            raise ValueError(
                f"precisions_init for {self.name!r} covariances must be positive numbers."
            )
        return np.sqrt(precisions)

    def covariances_from_precisions_cholesky(self, precisions_chol):
        return 1.0 / precisions_chol**2


class Diag(_Variances):
    name = "diag"

    def scatter_shape(self, n_components, n_features):
        return (n_components, n_features)

    def chunk_scatter(self, X, weighted_resp, means):
        scatter = np.empty(means.shape)
        for k in range(means.shape[0]):
            centred = X - means[k]
            np.square(centred, out=centred)
            scatter[k] = weighted_resp[:, k] @ centred
        return scatter

    def merge_correction(self, delta, coef):
        return coef[:, None] * delta**2

    def covariances(self, scatter, counts, reg_covar, n_features):
        return scatter / counts[:, None] + reg_covar

    def log_det_and_mahalanobis(self, X, means, precisions_chol):
        maha = _squared_distances(X, means, scale=precisions_chol)
        return np.log(precisions_chol).sum(axis=1), maha

    def n_parameters(self, n_components, n_features):
        return n_components * n_features

    def component_covariance(self, covariances, k, n_features):
        return np.diag(covariances[k])


class Spherical(_Variances):
    name = "spherical"

    def scatter_shape(self, n_components, n_features):
        return (n_components,)

    def chunk_scatter(self, X, weighted_resp, means):
        return Diag().chunk_scatter(X, weighted_resp, means).sum(axis=1)

    def merge_correction(self, delta, coef):
        return coef * (delta**2).sum(axis=1)

    def covariances(self, scatter, counts, reg_covar, n_features):
        # The mean over features of the diagonal variances, as scikit-learn.
        return scatter / (counts * n_features) + reg_covar

    def log_det_and_mahalanobis(self, X, means, precisions_chol):
        maha = _squared_distances(X, means) * precisions_chol**2
        log_det = X.shape[1] * np.log(precisions_chol)
        return log_det, maha

    def n_parameters(self, n_components, n_features):
        return n_components

    def component_covariance(self, covariances, k, n_features):
        return covariances[k] * np.eye(n_features)


class Identity(Spherical):
    """Unit covariance: only means and weights are learned (the lecture's model)."""

    name = "identity"

    def chunk_scatter(self, X, weighted_resp, means):
        # The scatter is never used: skip the pass over the chunk.
        return np.zeros(means.shape[0])

    def merge_correction(self, delta, coef):
        return np.zeros(delta.shape[0])

    def covariances(self, scatter, counts, reg_covar, n_features):
        # reg_covar does not apply: the covariance is fixed, not estimated.
        return np.ones(counts.shape[0])

    def log_det_and_mahalanobis(self, X, means, precisions_chol):
        return np.zeros(means.shape[0], dtype=X.dtype), _squared_distances(X, means)

    def n_parameters(self, n_components, n_features):
        return 0

    def precisions_cholesky_from_precisions(self, precisions):
        raise ValueError(
            "precisions_init cannot be used with covariance_type='identity', whose "
            "covariance is fixed to the identity; drop precisions_init or choose "
            "another covariance_type."
        )


#: The structures by name, the one place where ``covariance_type`` is looked up.
STRUCTURES = {
    cls.name: cls() for cls in (Identity, Spherical, Diag, Tied, Full)
}


def get_structure(covariance_type):
    """The strategy for ``covariance_type``, or a ValueError listing the choices."""
    try:
        return STRUCTURES[covariance_type]
    except (KeyError, TypeError):
        raise ValueError(
            f"covariance_type must be one of {sorted(STRUCTURES)}, got {covariance_type!r}."
        ) from None
