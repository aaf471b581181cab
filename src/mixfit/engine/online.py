"""Stepwise online EM (Cappé & Moulines 2009): one mini-batch, one step.

The running statistics ``s`` are a weighted average of the normalised
statistics of every batch seen (total weight 1). A batch ``B_t`` moves them by

    s ← (1 − γ_t) s + γ_t s̄(B_t; θ),    θ ← M(s),

where ``s̄`` is the batch's E-step statistics divided by its total weight and
``γ_t = (t + t₀)^(−α)`` with ``α`` in (0.5, 1] (``../shared/MODELS.md`` §3).
Since statistics add and scale (:meth:`mixfit.engine.em.MixtureStats.scaled`),
the step is a scale-and-add of two values followed by the batch M-step, which
for mclust's iterative models resumes from the previous parameters.

Everything here is a pure function over validated arrays; the estimator glue
(first call, units, fitted attributes) is :mod:`mixfit.estimators._gmm_online`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixfit.engine import em as em
from mixfit.families.gaussian.covariance import Diag, Full, Identity, Spherical, Tied
from mixfit.families.gaussian.family import GaussianStats

__all__ = ["OnlineStep", "check_step_settings", "online_step", "stats_from_params",
           "step_size"]


def check_step_settings(learning_decay, learning_offset):
    """Validate the step-size parameters; return them as floats.

    Raises
    ------
    ValueError
        When ``learning_decay`` is not in (0.5, 1] or ``learning_offset`` is
        negative (the conditions under which stepwise EM converges).
    """
    for name, value in (("learning_decay", learning_decay),
                        ("learning_offset", learning_offset)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}.")
    decay, offset = float(learning_decay), float(learning_offset)
    if not 0.5 < decay <= 1.0:
        raise ValueError(
            f"learning_decay must be in (0.5, 1], got {learning_decay!r}: the step sizes "
            "(t + learning_offset)**-learning_decay must sum to infinity (decay <= 1) "
            "while their squares do not (decay > 0.5); 0.7 is a good default."
        )
    if not (np.isfinite(offset) and offset >= 0.0):
        raise ValueError(
            f"learning_offset must be a finite number >= 0, got {learning_offset!r}; "
            "larger values make the first steps smaller (10.0 is the default)."
        )
    return decay, offset


def step_size(step, learning_decay, learning_offset):
    """``γ_t = (t + t₀)^(−α)`` for the ``step``-th step (counted from 1), capped at 1.

    With ``learning_offset=0`` the first step is 1: it forgets the initial
    parameters and is exactly one batch EM iteration on the first batch.
    """
    return min(1.0, float(step + learning_offset) ** -float(learning_decay))


def stats_from_params(family, params):
    """Normalised statistics (total weight 1) whose M-step gives back ``params``.

    Counts are the weights, means the means, and each component's scatter is
    ``w_k (Σ_k − reg_covar·I)`` reduced to the structure's scatter shape (the
    M-step adds ``reg_covar`` back). For scikit-learn's five covariance types
    and mclust's closed-form models these are the statistics the parameters
    came from, up to rounding; for mclust's models whose M-step is not a
    function of linear statistics (VEI, EVI, VEE, EVE, VVE, EEV, VEV, EVV) they
    are the statistics of the model's own covariances, which the M-step maps
    back to the same parameters but which forget the part of the data's
    scatter that the model's constraints discarded.

    Used where no running statistics exist: when online EM continues a model
    fitted by ``fit`` or loaded from a file, and to start from the first
    batch's initial parameters.

    Returns
    -------
    MixtureStats
        ``total_weight=1``, ``log_likelihood=0``.
    """
    structure = family.structure
    components = params.components
    weights = np.asarray(params.weights, dtype=np.float64)
    weights = weights / weights.sum()
    means = np.asarray(components.means, dtype=np.float64)
    n_components, n_features = means.shape
    covariances = np.asarray(components.covariances, dtype=np.float64)
    full = np.stack([structure.component_covariance(covariances, k, n_features)
                     for k in range(n_components)])
    full = weights[:, None, None] * (full - family.reg_covar * np.eye(n_features))
    if isinstance(structure, Identity):  # the fixed covariance keeps no scatter
        scatter = np.zeros(n_components)
    elif isinstance(structure, Spherical):
        scatter = np.trace(full, axis1=1, axis2=2)
    elif isinstance(structure, Diag):  # also mclust's axis-aligned models
        scatter = np.diagonal(full, axis1=1, axis2=2).copy()
    elif isinstance(structure, Tied):
        scatter = full.sum(axis=0)
    elif isinstance(structure, Full):  # also mclust's models with orientations
        scatter = full
    else:  # a structure added later must say how its scatter is laid out
        raise TypeError(f"no statistics from parameters for {structure!r}")
    if scatter.shape != structure.scatter_shape(n_components, n_features):
        raise TypeError(f"no statistics from parameters for {structure!r}")
    return em.MixtureStats(1.0, 0.0, weights, GaussianStats(weights, means, scatter, structure))


@dataclass(frozen=True)
class OnlineStep:
    """What one online EM step returns.

    Attributes
    ----------
    stats : MixtureStats
        The new running statistics (total weight 1).
    params : MixtureParams
        ``M(stats)``, in the batch's dtype.
    log_likelihood : float
        Weighted mean log-likelihood of the batch under the parameters before
        the step.
    step_size : float
        The ``γ_t`` used.
    """

    stats: object
    params: object
    log_likelihood: float
    step_size: float


def online_step(family, stats, params, X, step, *, sample_weight=None, learning_decay=0.7,
                learning_offset=10.0, chunk_size=None, n_jobs=1, kernel="numba"):
    """One stepwise EM step on the mini-batch ``X``.

    Parameters
    ----------
    family : component family
    stats : MixtureStats
        Running statistics of total weight 1 (:func:`stats_from_params` to start).
    params : MixtureParams
        The parameters ``M(stats)`` the batch's E-step uses.
    X : ndarray of shape (n_samples, n_features)
        The batch, validated, in the parameters' dtype.
    step : int
        ``t``, counted from 1.
    sample_weight : ndarray of shape (n_samples,), optional
        Weights of the batch's rows; only their ratios matter (the batch's
        statistics are normalised), so every batch moves the statistics by
        ``γ_t`` whatever its size or total weight.
    learning_decay, learning_offset : float
        ``α`` and ``t₀`` of the step sizes (see :func:`check_step_settings`).
    chunk_size, n_jobs, kernel
        As for :func:`mixfit.engine.em.e_step`.

    Returns
    -------
    OnlineStep
    """
    options = {} if chunk_size is None else {"chunk_size": chunk_size}
    batch = em.e_step(family, X, params, sample_weight, n_jobs=n_jobs, kernel=kernel,
                      **options)
    gamma = step_size(step, learning_decay, learning_offset)
    normalised = batch.scaled(1.0 / batch.total_weight)
    # γ = 1 (learning_offset=0 at the first step) keeps nothing of the old
    # statistics: the step is then exactly one batch EM iteration.
    running = normalised if gamma == 1.0 else stats.scaled(1.0 - gamma) + normalised.scaled(gamma)
    new_params = em.m_step(family, running, X.dtype, previous=params)
    return OnlineStep(running, new_params, batch.mean_log_likelihood, gamma)
