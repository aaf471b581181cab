"""Covariance M-steps of the 14 parsimonious Gaussian mixture models.

Each component covariance is written ``Sigma_k = lambda_k D_k A_k D_k^T``
(Banfield & Raftery 1993; Celeux & Govaert 1995): a volume ``lambda_k``
(``|Sigma_k|^(1/d)``), a diagonal shape ``A_k`` of determinant 1 and an
orthogonal orientation ``D_k``. A model's three letters say, for volume, shape
and orientation, whether the part is Equal across components, Variable, or the
Identity. Given the component weights ``n_k`` and the centred scatter matrices
``W_k``, :func:`m_step` maximises

    F = sum_k [ -(n_k / 2) log|Sigma_k| - 1/2 tr(W_k Sigma_k^-1) ]

over the covariances that have the model's structure. Nine models have closed
forms; VEI, VEE, EVE, VVE and VEV are solved by coordinate ascent (EVE and VVE
with sweeps of optimal plane rotations for the common orientation, as Flury &
Gautschi's algorithm for common principal components), warm-started from the
previous M-step, and every inner step never lowers ``F``.

Singular statistics (``reg_covar=0`` and a rank-deficient ``W_k``) never give
NaN or a numpy warning: where the maximiser does not exist (the likelihood is
unbounded) the affected component gets a zero volume and, for the models that
need a normalisation to build it, a zero covariance, so that the caller's
Cholesky factorisation reports the collapse.

Examples
--------
>>> import numpy as np
>>> counts = np.array([10.0, 20.0])
>>> scatter = np.stack([np.eye(2) * 10.0, np.diag([40.0, 10.0])])
>>> step = m_step("VII", counts, scatter)
>>> step.covariances[1]
array([[1.25, 0.  ],
       [0.  , 1.25]])
"""

from dataclasses import dataclass

import numpy as np

from mixfit.families.gaussian.parsimonious_iterative import (
    common_orientation_m_step,
    common_shape_m_step,
    eigh_decreasing,
    objective_from_decomposition,
    rotated_diagonals,
    unit_determinant,
)

MODEL_NAMES = ("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE",
               "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV")
ITERATIVE = frozenset({"VEI", "VEE", "EVE", "VVE", "VEV"})

__all__ = ["MODEL_NAMES", "ITERATIVE", "Decomposition", "ParsimoniousMStep",
           "n_covariance_parameters", "decompose", "m_step", "m_step_objective"]


@dataclass(frozen=True)
class Decomposition:
    """Volume, shape and orientation of a stack of covariances.

    ``Sigma_k = volumes[k] * orientations[k] @ diag(shapes[k]) @ orientations[k].T``.

    Attributes
    ----------
    volumes : ndarray of shape (n_components,)
        ``lambda_k = |Sigma_k|^(1/d)``; 0 for a singular covariance.
    shapes : ndarray of shape (n_components, n_features)
        Diagonal of ``A_k``, product 1. In decreasing order when the
        orientation is free per component or the shape is common (EEE, VEE, EEV,
        VEV, EVV, VVV and :func:`decompose`). Axis-aligned models (last letter I)
        keep the axis order with ``D_k = I``; EVE and VVE keep the order of the
        common orientation's columns, sorted by decreasing mean log shape. A
        singular covariance gets volume 0 and unit shapes (so that for VVV, VVI,
        EEE, EEI and EEV the decomposition of a singular result does not rebuild
        it; the other models return a zero covariance there).
    orientations : ndarray of shape (n_components, n_features, n_features)
        Orthogonal ``D_k`` (columns are the principal axes); the identity for
        axis-aligned and spherical models.
    """

    volumes: np.ndarray
    shapes: np.ndarray
    orientations: np.ndarray


@dataclass(frozen=True)
class ParsimoniousMStep:
    """What :func:`m_step` returns: the covariances and how they were found.

    Attributes
    ----------
    covariances : ndarray of shape (n_components, n_features, n_features)
        Float64, exactly symmetric.
    decomposition : Decomposition
        Their volumes, shapes and orientations.
    inner_iterations : int
        Rounds of the inner coordinate ascent (0 for the closed forms).
    capped : bool
        True when the inner loop stopped at ``max_inner`` without converging.
    """

    covariances: np.ndarray
    decomposition: Decomposition
    inner_iterations: int
    capped: bool


def n_covariance_parameters(model, n_components, n_features):
    """Count the free covariance parameters of a model, for BIC and AIC.

    A volume is 1 parameter, a shape ``d - 1`` (determinant 1) and an
    orientation ``d (d - 1) / 2``; Equal parts are counted once, Variable parts
    once per component, Identity parts not at all. The whole mixture adds
    ``(K - 1) + K d`` for the weights and the means.

    Parameters
    ----------
    model : str
        One of :data:`MODEL_NAMES`.
    n_components, n_features : int
        ``K >= 1`` and ``d >= 1``.

    Returns
    -------
    int

    Examples
    --------
    >>> n_covariance_parameters("VEV", 2, 4)   # iris, K = 2
    17
    """
    model = _check_model(model)
    n_components = _check_positive_int(n_components, "n_components")
    n_features = _check_positive_int(n_features, "n_features")
    per_letter = (1, n_features - 1, n_features * (n_features - 1) // 2)
    total = 0
    for letter, size in zip(model, per_letter):
        total += {"E": size, "V": n_components * size, "I": 0}[letter]
    return total


def decompose(covariances, *, axis_aligned=False):
    """Split symmetric positive (semi-)definite matrices into volume, shape and orientation.

    Parameters
    ----------
    covariances : array-like of shape (n_components, n_features, n_features)
    axis_aligned : bool, default=False
        Take ``D_k = I`` and the diagonal as the shape (in axis order), as the
        models whose last letter is I do; the off-diagonal part is ignored.

    Returns
    -------
    Decomposition
        Shapes in decreasing order unless ``axis_aligned``; a singular matrix
        gets volume 0 and unit shapes.
    """
    covariances = np.asarray(covariances, dtype=np.float64)
    if covariances.ndim != 3 or covariances.shape[1] != covariances.shape[2]:
        raise ValueError("covariances must have shape (n_components, n_features, "
                         f"n_features); got {covariances.shape}. Stack one square "
                         "matrix per component.")
    if not np.all(np.isfinite(covariances)):
        raise ValueError("covariances contain NaN or infinity; pass finite matrices.")
    n_components, n_features, _ = covariances.shape
    if axis_aligned:
        diagonals = np.maximum(np.diagonal(covariances, axis1=1, axis2=2), 0.0)
        volumes, shapes = unit_determinant(diagonals)
        orientations = np.broadcast_to(np.eye(n_features), covariances.shape)
        return _decomposition(volumes, shapes, orientations, n_components)
    eigenvalues, eigenvectors = eigh_decreasing(_symmetrise(covariances))
    volumes, shapes = unit_determinant(eigenvalues)
    return _decomposition(volumes, shapes, eigenvectors, n_components)


def m_step_objective(counts, scatter, covariances):
    """Evaluate the M-step objective ``F`` (the expected complete log-likelihood
    without its constant and mean terms) at given covariances.

    Parameters
    ----------
    counts : array-like of shape (n_components,)
    scatter : array-like of shape (n_components, n_features, n_features)
        As passed to :func:`m_step`, already regularised if it should be.
    covariances : array-like of shape (n_components, n_features, n_features)

    Returns
    -------
    float
        ``-inf`` when a covariance is not positive definite.
    """
    counts, scatter = _check_statistics(counts, scatter)
    covariances = np.asarray(covariances, dtype=np.float64)
    try:
        cholesky = np.linalg.cholesky(covariances)
    except np.linalg.LinAlgError:
        return -np.inf
    diagonal = np.diagonal(cholesky, axis1=1, axis2=2)
    if not np.all(diagonal > 0):
        return -np.inf
    log_det = 2.0 * np.log(diagonal).sum(axis=1)
    trace = np.einsum("kii->k", np.linalg.solve(covariances, scatter))
    return float(-0.5 * np.sum(counts * log_det + trace))


def m_step(model, counts, scatter, reg_covar=0.0, previous=None, max_inner=100,
           inner_tol=1e-8, *, check=True):
    """Compute the covariances of one EM M-step under a parsimonious model.

    Parameters
    ----------
    model : str
        One of :data:`MODEL_NAMES` (``"VVV"`` is scikit-learn's ``full``,
        ``"VVI"`` ``diag``, ``"VII"`` ``spherical``, ``"EEE"`` ``tied``).
    counts : array-like of shape (n_components,)
        Component weights ``n_k = sum_i w_i z_ik``, all > 0.
    scatter : array-like of shape (n_components, n_features, n_features)
        Centred, unnormalised scatter ``W_k = sum_i w_i z_ik (x_i - mu_k)(x_i - mu_k)^T``.
    reg_covar : float, default=0.0
        Regularisation applied to the scatter, ``W_k + n_k * reg_covar * I``,
        before the model's M-step. The model's structure is kept for all 14;
        for VVV, VVI, VII and EEE this is exactly adding ``reg_covar`` to the
        covariance's diagonal (what scikit-learn does for full, diag, spherical
        and tied).
    previous : Decomposition, optional
        The last M-step's decomposition (same K and d), to warm-start the
        iterative models (VEI, VEE, EVE, VVE, VEV): VEI, VEE and VEV start from
        its volumes, EVE and VVE from ``orientations[0]``. Checked but not used
        by the closed forms. None starts from the pooled scatter's shape or
        orientation.
    max_inner : int, default=100
        Cap on the rounds of the inner coordinate ascent.
    inner_tol : float, default=1e-8
        The inner loop stops when a round changes ``F`` by at most
        ``inner_tol * sum(counts)``: the change of ``F`` per unit of weight,
        which does not depend on the units of the data or of the weights.
    check : bool, default=True
        Validate the statistics and ``previous``. The Gaussian family passes
        False for the statistics it formed and the decomposition its own last
        M-step returned (these checks took a tenth of a model selection's time).

    Returns
    -------
    ParsimoniousMStep

    Raises
    ------
    ValueError
        An unknown model, mismatched or non-finite statistics, counts <= 0, a
        negative ``reg_covar``, or a ``previous`` of the wrong size, collapsed or
        not orthogonal.

    Notes
    -----
    Every inner round is a coordinate ascent step on ``F``, so a warm-started
    M-step never returns a lower ``F`` than ``previous`` had, even with
    ``max_inner=1``: EM stays monotone.

    VEI, VEE and VEV converge in about 5-25 rounds, EVE and VVE (one sweep of
    plane rotations per round) in a few; a capped M-step is harmless: the next,
    warm-started, continues from where it stopped.
    """
    model = _check_model(model)
    if check:
        counts, scatter = _check_statistics(counts, scatter)
    n_components, n_features, _ = scatter.shape
    reg_covar = float(reg_covar)
    if not (np.isfinite(reg_covar) and reg_covar >= 0.0):
        raise ValueError(f"reg_covar must be a finite number >= 0; got {reg_covar}.")
    max_inner = _check_positive_int(max_inner, "max_inner")
    inner_tol = float(inner_tol)
    if not (np.isfinite(inner_tol) and inner_tol >= 0.0):
        raise ValueError(f"inner_tol must be a finite number >= 0; got {inner_tol}.")
    if previous is not None and check:
        _check_previous(previous, n_components, n_features)
    if reg_covar > 0.0:
        scatter = scatter + (counts * reg_covar)[:, None, None] * np.eye(n_features)

    if model in ITERATIVE:
        volumes, shapes, orientations, iterations, capped = _ITERATIVE[model](
            counts, scatter, previous, max_inner, inner_tol)
        decomposition = _decomposition(volumes, shapes, orientations, n_components)
        covariances = _reconstruct(decomposition)
        return ParsimoniousMStep(covariances, decomposition, iterations, capped)
    covariances, decomposition = _CLOSED_FORMS[model](counts, scatter)
    covariances = _symmetrise(np.broadcast_to(covariances, scatter.shape))
    return ParsimoniousMStep(covariances, decomposition, 0, False)


# ---------------------------------------------------------------- shared algebra

def _symmetrise(matrices):
    return 0.5 * (matrices + np.swapaxes(matrices, -1, -2))


def _decomposition(volumes, shapes, orientations, n_components):
    """Build a Decomposition, broadcasting shared parts to one entry per component."""
    volumes = np.broadcast_to(np.asarray(volumes, dtype=np.float64), (n_components,))
    shapes = np.asarray(shapes, dtype=np.float64)
    n_features = shapes.shape[-1]
    shapes = np.broadcast_to(shapes, (n_components, n_features))
    orientations = np.broadcast_to(np.asarray(orientations, dtype=np.float64),
                                   (n_components, n_features, n_features))
    return Decomposition(volumes.copy(), shapes.copy(), orientations.copy())


def _reconstruct(decomposition):
    orientations = decomposition.orientations
    scaled = orientations * (decomposition.volumes[:, None] * decomposition.shapes)[:, None, :]
    return _symmetrise(scaled @ np.swapaxes(orientations, 1, 2))


def _diagonal_matrices(diagonals):
    n_features = diagonals.shape[-1]
    return diagonals[..., :, None] * np.eye(n_features)


# ---------------------------------------------------------------- closed forms
# Each returns (covariances, decomposition); covariances may be one matrix for all.

def _m_step_eii(counts, scatter):
    n_features = scatter.shape[1]
    volume = np.trace(scatter.sum(axis=0)) / (counts.sum() * n_features)
    decomposition = _decomposition(volume, np.ones(n_features), np.eye(n_features),
                                   len(counts))
    return volume * np.eye(n_features), decomposition


def _m_step_vii(counts, scatter):
    n_features = scatter.shape[1]
    volumes = np.einsum("kii->k", scatter) / (counts * n_features)
    decomposition = _decomposition(volumes, np.ones(n_features), np.eye(n_features),
                                   len(counts))
    return volumes[:, None, None] * np.eye(n_features), decomposition


def _m_step_eei(counts, scatter):
    variances = np.diagonal(scatter.sum(axis=0)) / counts.sum()
    covariance = np.diag(variances)
    return covariance, _shared(decompose(covariance[None], axis_aligned=True), len(counts))


def _m_step_evi(counts, scatter):
    diagonals = np.diagonal(scatter, axis1=1, axis2=2)
    scales, shapes = unit_determinant(diagonals)
    volume = scales.sum() / counts.sum()
    # A component whose scatter has a zero variance has no maximiser (F is
    # unbounded); a zero volume makes its covariance singular for the caller.
    volumes = np.where(scales > 0.0, volume, 0.0)
    covariances = _diagonal_matrices(volumes[:, None] * shapes)
    return covariances, _decomposition(volumes, shapes, np.eye(scatter.shape[1]),
                                       len(counts))


def _m_step_vvi(counts, scatter):
    variances = np.diagonal(scatter, axis1=1, axis2=2) / counts[:, None]
    covariances = _diagonal_matrices(variances)
    return covariances, decompose(covariances, axis_aligned=True)


def _m_step_eee(counts, scatter):
    covariance = scatter.sum(axis=0) / counts.sum()
    return covariance, _shared(decompose(covariance[None]), len(counts))


def _shared(single, n_components):
    """Repeat the decomposition of one shared covariance for every component."""
    return _decomposition(single.volumes[0], single.shapes[0], single.orientations[0],
                          n_components)


def _parts(decomposition):
    return decomposition.volumes, decomposition.shapes, decomposition.orientations


def _m_step_eev(counts, scatter):
    eigenvalues, eigenvectors = eigh_decreasing(scatter)
    # Pairing decreasing eigenvalues with a decreasing common shape is optimal
    # (von Neumann's trace inequality), so lambda A = sum_k Omega_k / N.
    common = eigenvalues.sum(axis=0) / counts.sum()
    volume, shape = unit_determinant(common)
    covariances = (eigenvectors * common) @ np.swapaxes(eigenvectors, 1, 2)
    return covariances, _decomposition(volume, shape, eigenvectors, len(counts))


def _m_step_evv(counts, scatter):
    eigenvalues, eigenvectors = eigh_decreasing(scatter)
    scales, shapes = unit_determinant(eigenvalues)     # scales = |W_k|^(1/d)
    volume = scales.sum() / counts.sum()
    volumes = np.where(scales > 0.0, volume, 0.0)
    safe_scales = np.where(scales > 0.0, scales, 1.0)
    covariances = (volumes / safe_scales)[:, None, None] * scatter
    return covariances, _decomposition(volumes, shapes, eigenvectors, len(counts))


def _m_step_vvv(counts, scatter):
    covariances = scatter / counts[:, None, None]
    return covariances, decompose(covariances)


_CLOSED_FORMS = {
    "EII": _m_step_eii, "VII": _m_step_vii, "EEI": _m_step_eei, "EVI": _m_step_evi,
    "VVI": _m_step_vvi, "EEE": _m_step_eee, "EEV": _m_step_eev, "EVV": _m_step_evv,
    "VVV": _m_step_vvv,
}


# ---------------------------------------------------------------- iterative models
# Each returns (volumes, shapes, orientations, inner_iterations, capped).

def _m_step_vei(counts, scatter, previous, max_inner, inner_tol):
    axes = np.eye(scatter.shape[1])
    diagonals = np.diagonal(scatter, axis1=1, axis2=2)
    return common_shape_m_step(counts, lambda volumes: (diagonals, axes),
                               *_start(previous, counts, scatter), max_inner, inner_tol)


def _m_step_vee(counts, scatter, previous, max_inner, inner_tol):
    def values_given_volumes(volumes):
        # The best common C for these volumes has the eigenvectors of
        # sum_k W_k / lambda_k; in that basis the update is VEI's.
        _, basis = eigh_decreasing((scatter / volumes[:, None, None]).sum(axis=0))
        return rotated_diagonals(scatter, basis), basis

    return common_shape_m_step(counts, values_given_volumes,
                               *_start(previous, counts, scatter), max_inner, inner_tol)


def _m_step_vev(counts, scatter, previous, max_inner, inner_tol):
    # D_k = the eigenvectors of W_k is optimal for any decreasing common shape
    # (von Neumann's trace inequality), and the shape update keeps it decreasing.
    eigenvalues, eigenvectors = eigh_decreasing(scatter)
    return common_shape_m_step(counts, lambda volumes: (eigenvalues, eigenvectors),
                               *_start(previous, counts, scatter), max_inner, inner_tol)


def _start(previous, counts, scatter):
    """Starting volumes of a common-shape model and F there.

    Warm: the previous volumes and F at the previous covariances. Cold: unit
    volumes, shape and orientation; the first round then takes the pooled
    scatter's shape in the model's basis, a closed-form start.
    """
    if previous is not None:
        return previous.volumes, objective_from_decomposition(
            counts, scatter, previous.volumes, previous.shapes, previous.orientations)
    n_components, n_features, _ = scatter.shape
    volumes = np.ones(n_components)
    return volumes, objective_from_decomposition(counts, scatter, volumes,
                                                 np.ones(n_features), np.eye(n_features))


def _m_step_eve(counts, scatter, previous, max_inner, inner_tol):
    return common_orientation_m_step(counts, scatter, _start_orientation(previous, scatter),
                                     equal_volumes=True, max_inner=max_inner,
                                     inner_tol=inner_tol)


def _m_step_vve(counts, scatter, previous, max_inner, inner_tol):
    return common_orientation_m_step(counts, scatter, _start_orientation(previous, scatter),
                                     equal_volumes=False, max_inner=max_inner,
                                     inner_tol=inner_tol)


def _start_orientation(previous, scatter):
    if previous is not None:
        return previous.orientations[0]
    return eigh_decreasing(scatter.sum(axis=0))[1]


_ITERATIVE = {"VEI": _m_step_vei, "VEE": _m_step_vee, "EVE": _m_step_eve,
              "VVE": _m_step_vve, "VEV": _m_step_vev}


# ---------------------------------------------------------------- validation

def _check_model(model):
    if model not in MODEL_NAMES:
        raise ValueError(f"model must be one of {', '.join(MODEL_NAMES)}; got {model!r}. "
                         "Use the three upper-case letters (volume, shape, orientation).")
    return model


def _check_positive_int(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {value!r}.")
    return int(value)


def _check_statistics(counts, scatter):
    counts = np.asarray(counts, dtype=np.float64)
    scatter = np.asarray(scatter, dtype=np.float64)
    if scatter.ndim != 3 or scatter.shape[1] != scatter.shape[2] or scatter.shape[1] < 1:
        raise ValueError("scatter must have shape (n_components, n_features, n_features); "
                         f"got {scatter.shape}. Stack one d x d scatter matrix per component.")
    if counts.shape != scatter.shape[:1]:
        raise ValueError(f"counts must have shape ({scatter.shape[0]},), one weight per "
                         f"component of scatter; got {counts.shape}.")
    if not (np.all(np.isfinite(counts)) and np.all(counts > 0.0)):
        raise ValueError("counts must be finite and > 0; drop or re-initialise empty "
                         "components before the M-step.")
    if not np.all(np.isfinite(scatter)):
        raise ValueError("scatter contains NaN or infinity; check the data and the "
                         "responsibilities.")
    # Rounding in X^T X leaves tiny asymmetries; the models assume symmetry.
    return counts, _symmetrise(scatter)


def _check_previous(previous, n_components, n_features):
    if not isinstance(previous, Decomposition):
        raise ValueError("previous must be the Decomposition of the last M-step, or None; "
                         f"got {type(previous).__name__}.")
    expected = ((n_components,), (n_components, n_features),
                (n_components, n_features, n_features))
    got = tuple(np.shape(part) for part in _parts(previous))
    if got != expected:
        raise ValueError(f"previous has shapes {got} but the statistics need {expected}; "
                         "pass the decomposition of this mixture's last M-step, or None.")
    if not (np.all(np.isfinite(previous.volumes)) and np.all(previous.volumes > 0)
            and np.all(np.isfinite(previous.shapes)) and np.all(previous.shapes > 0)):
        raise ValueError("previous has zero, negative or non-finite volumes or shapes "
                         "(a collapsed fit); pass None to start the M-step afresh.")
    orientations = np.asarray(previous.orientations, dtype=np.float64)
    gram = np.swapaxes(orientations, 1, 2) @ orientations
    # (max of the deviation, not np.allclose: this runs at every EM iteration)
    if not np.abs(gram - np.eye(n_features)).max() <= 1e-6:
        raise ValueError("previous.orientations are not orthogonal matrices; pass the "
                         "decomposition of the last M-step, or None.")
