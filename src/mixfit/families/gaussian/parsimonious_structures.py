"""The 14 parsimonious models (mclust's names) as covariance structures.

A model's M-step is :func:`mixfit.families.gaussian.parsimonious.m_step`; what
these classes add is how the model plugs into the Gaussian family: its
statistics, precision factors, parameter count and sweep. Every model keeps
its covariances as a (K, d, d) stack, so fitted attributes have one shape
whatever the letters; the sweep is the one that matches the precision factors:

- the axis-aligned models (EII, VII, EEI, VEI, EVI, VVI: last letter I) have
  diagonal factors, so they reuse the per-feature-variance sweep and keep only
  per-feature scatters (K, d), as ``diag`` does;
- the others (EEE, VEE, EVE, VVE, EEV, VEV, EVV, VVV) have triangular factors
  and reuse the full sweep, as ``full`` does.

``VII``, ``VVI``, ``EEE`` and ``VVV`` are the same models as ``spherical``,
``diag``, ``tied`` and ``full`` (the same fits to rounding), with (K, d, d)
attributes.
"""

from __future__ import annotations

import numpy as np

from mixfit.families.gaussian.covariance import (
    CollapsedComponentError,
    Diag,
    Full,
    _collapse_message,
)
from mixfit.families.gaussian.parsimonious import (
    ITERATIVE,
    MODEL_NAMES,
    Decomposition,
    decompose,
    m_step,
    n_covariance_parameters,
)
from mixfit.families.gaussian.parsimonious_iterative import eigh_decreasing, unit_determinant

#: Rounds of an iterative model's inner loop per EM iteration. Warm-started from
#: the previous M-step, every round raises the M-step's objective, so EM stays
#: monotone whatever the cap; a capped M-step continues at the next iteration.
MAX_INNER_ITERATIONS = 100


class _ParsimoniousModel:
    """What the 14 models share: the M-step through ``parsimonious.m_step``.

    ``covariances_and_step`` returns the covariances and the M-step's record
    (its decomposition, inner iterations and whether the cap was hit), so that
    the family can warm-start the next M-step from it.
    """

    axis_aligned = False
    #: How the precision factors are laid out: (K, d, d) for every model.
    layout = "full"

    def __init__(self, name):
        self.name = name

    def _full_scatter(self, scatter):
        return scatter

    def precisions_shape(self, n_components, n_features):
        return (n_components, n_features, n_features)

    def covariance_shape(self, n_components, n_features):
        return (n_components, n_features, n_features)

    def covariances_and_step(self, scatter, counts, reg_covar, n_features, previous=None):
        """Covariances (K, d, d) float64 and the ``ParsimoniousMStep`` behind them."""
        full = self._full_scatter(np.asarray(scatter, dtype=np.float64))
        full = 0.5 * (full + np.swapaxes(full, -1, -2))  # rounding-level asymmetry
        if previous is not None and (previous.volumes.shape[0] != counts.shape[0]
                                     or not np.all(previous.volumes > 0)):
            previous = None  # another K, or a collapsed fit: start the inner loop afresh
        # Statistics the family formed and a decomposition an M-step returned: the
        # m_step's input checks are skipped (a tenth of a selection's time).
        step = m_step(self.name, counts, full, reg_covar, previous=previous,
                      max_inner=MAX_INNER_ITERATIONS, check=False)
        return step.covariances, step

    def covariances(self, scatter, counts, reg_covar, n_features):
        return self.covariances_and_step(scatter, counts, reg_covar, n_features)[0]

    def decomposition(self, covariances):
        """Volumes, shapes and orientations of fitted covariances (e.g. a loaded model).

        For the models with a common orientation (EEE, VEE, EVE, VVE) every
        component gets the same ``D``, as the M-step's decomposition has:
        decomposing each covariance alone would give, for EVE and VVE, each its
        own column order and signs, hiding the shared orientation.
        """
        covariances = np.asarray(covariances, dtype=np.float64)
        single = decompose(covariances, axis_aligned=self.axis_aligned)
        if self.axis_aligned or self.name[2] != "E" or not np.all(single.volumes > 0):
            return single
        # Covariances sharing D commute, so D diagonalises their volume-free sum.
        _, orientation = eigh_decreasing(
            (covariances / single.volumes[:, None, None]).sum(axis=0))
        rotated = np.einsum("ji,kji->ki", orientation, covariances @ orientation)
        volumes, shapes = unit_determinant(np.maximum(rotated, 0.0))
        if not np.all(volumes > 0):
            return single
        order = np.argsort(-np.log(shapes).sum(axis=0), kind="stable")
        orientations = np.broadcast_to(orientation[:, order], covariances.shape).copy()
        return Decomposition(volumes, shapes[:, order].copy(), orientations)

    def warm_start(self, covariances):
        """Where an iterative M-step resumes when the last M-step is unknown.

        The decomposition of the current covariances (for VEI, VEE, EVE, VVE and
        VEV), or None: for the closed forms, which need no start, and where a
        covariance is singular (the M-step then starts afresh).
        """
        if self.name not in ITERATIVE:
            return None
        decomposition = self.decomposition(covariances)
        if not (np.all(decomposition.volumes > 0) and np.all(decomposition.shapes > 0)
                and np.all(np.isfinite(decomposition.shapes))):
            return None
        return decomposition

    def n_parameters(self, n_components, n_features):
        return n_covariance_parameters(self.name, n_components, n_features)

    def component_covariance(self, covariances, k, n_features):
        return covariances[k]


class ParsimoniousFull(_ParsimoniousModel, Full):
    """A model with a free or common orientation: full precision factors, full sweep."""

    def __repr__(self):
        return f"ParsimoniousFull({self.name!r})"


class ParsimoniousAxisAligned(_ParsimoniousModel, Diag):
    """A model whose covariances are diagonal: per-feature scatters, the variance sweep.

    The statistics are those of ``diag`` (per-feature scatter (K, d)); the
    covariances and their factors are diagonal (K, d, d) matrices, and the sweep
    reads the factors' diagonals.
    """

    axis_aligned = True

    def __repr__(self):
        return f"ParsimoniousAxisAligned({self.name!r})"

    def _full_scatter(self, scatter):
        n_components, n_features = scatter.shape
        full = np.zeros((n_components, n_features, n_features))
        index = np.arange(n_features)
        full[:, index, index] = scatter
        return full

    def precisions_cholesky(self, covariances, dtype):
        variances = np.diagonal(covariances, axis1=1, axis2=2)
        positive = (variances > 0).all(axis=1)
        bad = np.flatnonzero(~positive)
        if bad.size:
            raise CollapsedComponentError(_collapse_message(f"component {bad[0]}", dtype))
        factors = np.zeros(covariances.shape)
        index = np.arange(covariances.shape[1])
        factors[:, index, index] = 1.0 / np.sqrt(variances)
        return factors.astype(dtype, copy=False)

    def precisions_cholesky_from_precisions(self, precisions):
        off_diagonal = precisions - np.einsum("kii->ki", precisions)[:, :, None] * np.eye(
            precisions.shape[1])
        if np.any(off_diagonal != 0) or not (np.einsum("kii->ki", precisions) > 0).all():
            raise ValueError(
                f"'{self.name} precision' should be diagonal with a positive diagonal: "
                f"covariance_type={self.name!r} has axis-aligned components, so each "
                "precisions_init[k] must be a diagonal matrix with positive entries."
            )
        return np.sqrt(precisions)

    def precisions_from_cholesky(self, precisions_chol):
        return precisions_chol**2

    def covariances_from_precisions_cholesky(self, precisions_chol):
        diagonal = np.einsum("kii->ki", precisions_chol)
        return np.einsum("ki,ij->kij", 1.0 / diagonal**2, np.eye(precisions_chol.shape[1]))

    def _diagonal(self, precisions_chol):
        return np.ascontiguousarray(np.einsum("kii->ki", np.asarray(precisions_chol)))

    def log_det_and_mahalanobis(self, X, means, precisions_chol):
        return super().log_det_and_mahalanobis(X, means, self._diagonal(precisions_chol))

    def kernel_mahalanobis(self, X, means, precisions_chol):
        return super().kernel_mahalanobis(X, means, self._diagonal(precisions_chol))

    def _scale_and_log_det(self, chol, n_features):
        return super()._scale_and_log_det(self._diagonal(chol), n_features)


def parsimonious_structures():
    """One structure per model name, for the family's registry."""
    return {
        name: (ParsimoniousAxisAligned(name) if name.endswith("I") else ParsimoniousFull(name))
        for name in MODEL_NAMES
    }
