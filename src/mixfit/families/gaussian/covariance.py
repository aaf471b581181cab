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
from scipy.linalg import lapack

from mixfit.families.gaussian.sweeps import (
    FullSweep,
    SweepInterface,
    TiedSweep,
    VarianceSweep,
    _diag_moments,
    _scaled_mahalanobis,
)

_LOG_2PI = np.log(2.0 * np.pi)


class CollapsedComponentError(ValueError):
    """A covariance stopped being positive definite during fitting."""


def _collapse_message(what, dtype):
    # scikit-learn's sentence first (code that matches it keeps working), then
    # which component and a value to try.
    message = (
        "Fitting the mixture model failed because some components have ill-defined "
        "empirical covariance (for instance caused by singleton or collapsed "
        "samples). Try to decrease the number of components, increase reg_covar, "
        f"or scale the input data. Here {what} has a covariance that is not positive "
        "definite (it collapsed onto too few distinct points or onto a subspace); "
        "try e.g. reg_covar=1e-4."
    )
    if np.dtype(dtype) == np.float32:
        message += " Passing float64 data instead of float32 can also help."
    return message


def _cholesky_of_precision(covariance, what, dtype):
    """Upper-triangular ``P`` with ``inv(covariance) = P Pᵀ``, computed in float64.

    ``P = inv(L)ᵀ`` for the Cholesky factor ``L`` of the covariance; LAPACK's
    triangular inverse is called directly (scipy's ``solve_triangular``
    wrapper costs ~10 µs a call, which K components pay every iteration).
    """
    try:
        cov_chol = np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:
        raise CollapsedComponentError(_collapse_message(what, dtype)) from None
    inverse, info = lapack.dtrtri(cov_chol, lower=1)
    if info != 0 or not np.isfinite(inverse).all():
        raise CollapsedComponentError(_collapse_message(what, dtype))
    return inverse.T


class CovarianceStructure(SweepInterface):
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

    def bounded_scatter(self, scatter, means, pseudo_count):
        """The scatter with no variance below zero, before ``reg_covar`` is added.

        Scatters formed as differences (second moment minus the mean's share)
        can round a zero variance to about −1e-46, which ``reg_covar=0`` would
        turn into a collapse; the diagonal is clamped at zero (a copy).
        """
        scatter = np.array(scatter, dtype=np.float64)
        diagonal = np.einsum("...ii->...i", scatter)  # a writeable view
        np.maximum(diagonal, 0.0, out=diagonal)
        return scatter

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

    def covariance_shape(self, n_components, n_features):
        """Shape of ``covariances_`` and ``precisions_cholesky_``."""
        return self.scatter_shape(n_components, n_features)

    @property
    def layout(self):
        """The shapes of the parameters, as one of scikit-learn's five names."""
        return self.name

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


def _precision_factor(precision, label, name):
    """Upper-triangular ``U`` with ``precision = U Uᵀ`` for a user's matrix, or a clear error.

    Upper, as the factors that fitting computes, so that ``precisions_cholesky_``
    has one convention whether or not an iteration ran. With J the exchange
    matrix: ``U = J chol_lower(J A J) J``.
    """
    if not np.allclose(precision, precision.T, rtol=1e-10, atol=0):
        raise ValueError(
            f"{label} should be symmetric, positive-definite; {name} is not symmetric."
        )
    try:
        lower = linalg.cholesky(precision[::-1, ::-1], lower=True)
    except linalg.LinAlgError:
        raise ValueError(
            f"{label} should be symmetric, positive-definite; {name} is not positive definite."
        ) from None
    return np.ascontiguousarray(lower[::-1, ::-1])


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


class Full(FullSweep, CovarianceStructure):
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
        # Products of float32 chunks leave rounding-level asymmetry; a covariance
        # is symmetric by definition, and samplers and Cholesky expect it.
        scatter = 0.5 * (scatter + np.swapaxes(scatter, -1, -2))
        covariances = scatter / counts[:, None, None]
        idx = np.arange(scatter.shape[1])
        covariances[:, idx, idx] += reg_covar
        return covariances

    def precisions_cholesky(self, covariances, dtype):
        # One batched Cholesky (the same LAPACK routine per matrix, so the same
        # factors); a failure is located component by component for its message.
        try:
            cov_chol = np.linalg.cholesky(covariances)
        except np.linalg.LinAlgError:
            cov_chol = None
        if cov_chol is None or not np.isfinite(cov_chol).all():
            return np.stack([
                _cholesky_of_precision(cov, f"component {k}", dtype)
                for k, cov in enumerate(covariances)
            ]).astype(dtype, copy=False)
        factors = np.empty_like(cov_chol)
        for k, lower in enumerate(cov_chol):
            inverse, info = lapack.dtrtri(lower, lower=1)
            if info != 0 or not np.isfinite(inverse).all():
                raise CollapsedComponentError(_collapse_message(f"component {k}", dtype))
            factors[k] = inverse.T
        return factors.astype(dtype, copy=False)

    def precisions_cholesky_from_precisions(self, precisions):
        return np.stack([
            _precision_factor(p, "'full precision'", f"precisions_init[{k}]")
            for k, p in enumerate(precisions)
        ])

    def precisions_from_cholesky(self, precisions_chol):
        return precisions_chol @ np.swapaxes(precisions_chol, -1, -2)

    def covariances_from_precisions_cholesky(self, precisions_chol):
        # One batched LAPACK call (scipy's inv costs ~1 ms a call in its checks).
        return np.linalg.inv(precisions_chol @ np.swapaxes(precisions_chol, -1, -2))

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


class Tied(TiedSweep, Full):
    name = "tied"

    def scatter_shape(self, n_components, n_features):
        return (n_features, n_features)

    def chunk_scatter(self, X, weighted_resp, means):
        return super().chunk_scatter(X, weighted_resp, means).sum(axis=0)

    def merge_correction(self, delta, coef):
        return (coef[:, None] * delta).T @ delta

    def covariances(self, scatter, counts, reg_covar, n_features):
        scatter = 0.5 * (scatter + scatter.T)  # see Full.covariances
        covariance = scatter / counts.sum()
        covariance.flat[:: scatter.shape[0] + 1] += reg_covar
        return covariance

    def precisions_cholesky(self, covariances, dtype):
        return _cholesky_of_precision(covariances, "the tied covariance", dtype).astype(
            dtype, copy=False
        )

    def precisions_cholesky_from_precisions(self, precisions):
        return _precision_factor(precisions, "'tied precision'", "precisions_init")

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


class _Variances(VarianceSweep, CovarianceStructure):
    """Structures whose covariances are variances (diag, spherical): ``P = 1/sqrt(var)``."""

    def bounded_scatter(self, scatter, means, pseudo_count):
        """The scatter clamped at zero, plus a pseudo-sample's share at the origin.

        The ``pseudo_count`` added to every count stands, as in scikit-learn
        (whose variances are ``E[x²] − mean²`` over counts that include it),
        for a sample of that weight at the origin: it adds
        ``pseudo_count · mean²`` to the scatter. A component holding one point
        away from the origin then keeps a variance of about ``1e-15 · mean²``
        instead of zero, so a ``reg_covar=0`` fit that scikit-learn finishes
        finishes here too; one on the origin still collapses, as there.
        """
        pseudo = pseudo_count * self._scatter_from_diag(np.square(means, dtype=np.float64))
        return np.maximum(scatter, 0.0) + pseudo

    def precisions_cholesky(self, covariances, dtype):
        positive = (covariances > 0).reshape(covariances.shape[0], -1).all(axis=1)
        bad = np.flatnonzero(~positive)
        if bad.size:
            raise CollapsedComponentError(_collapse_message(f"component {bad[0]}", dtype))
        return (1.0 / np.sqrt(covariances)).astype(dtype, copy=False)

    def precisions_cholesky_from_precisions(self, precisions):
        if not (precisions > 0).all():
            raise ValueError(
                f"'{self.name} precision' should be positive: precisions_init for "
                f"{self.name!r} covariances must hold positive numbers."
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

    def kernel_mahalanobis(self, X, means, precisions_chol):
        chol = np.asarray(precisions_chol, dtype=np.float64)
        return np.log(chol).sum(axis=1), _scaled_mahalanobis(X, means, chol)

    def kernel_stats(self, X, weighted_resp, counts, reference):
        return _diag_moments(X, weighted_resp, counts, reference)

    def _scale_and_log_det(self, chol, n_features):
        return chol, np.log(chol).sum(axis=1)

    def _scatter_from_diag(self, scatter):
        return scatter

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

    def kernel_mahalanobis(self, X, means, precisions_chol):
        chol = np.asarray(precisions_chol, dtype=np.float64)
        scale = np.repeat(chol[:, None], means.shape[1], axis=1)
        return means.shape[1] * np.log(chol), _scaled_mahalanobis(X, means, scale)

    def kernel_stats(self, X, weighted_resp, counts, reference):
        means, scatter = _diag_moments(X, weighted_resp, counts, reference)
        return means, scatter.sum(axis=1)

    def _scale_and_log_det(self, chol, n_features):
        return np.repeat(chol[:, None], n_features, axis=1), n_features * np.log(chol)

    def _scatter_from_diag(self, scatter):
        return scatter.sum(axis=1)

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

    def kernel_mahalanobis(self, X, means, precisions_chol):
        maha = _scaled_mahalanobis(X, means, np.ones(means.shape))
        return np.zeros(means.shape[0]), maha

    def kernel_stats(self, X, weighted_resp, counts, reference):
        means, _ = _diag_moments(X, weighted_resp, counts, reference, with_second=False)
        return means, np.zeros(reference.shape[0])

    def _scale_and_log_det(self, chol, n_features):
        return np.ones((chol.shape[0], n_features)), np.zeros(chol.shape[0])

    def _scatter_from_diag(self, scatter):
        # The scatter is never used (the covariance is fixed): none was accumulated.
        return np.zeros(scatter.shape[0])

    def n_parameters(self, n_components, n_features):
        return 0

    def precisions_cholesky_from_precisions(self, precisions):
        raise ValueError(
            "precisions_init cannot be used with covariance_type='identity', whose "
            "covariance is fixed to the identity; drop precisions_init or choose "
            "another covariance_type."
        )
