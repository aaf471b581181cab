"""The degrees of freedom of the Student-t family: their bounds, start and M-step.

The M-step for ν_k (Peel & McLachlan 2000, ECM) needs one statistic per
component, ``Σ z w (E[log U] − u)``, where ``u = E[U | x]`` is the latent
gamma scale of a row; :func:`latent_scales` computes both from the
Mahalanobis distances, and :func:`solve_dof` solves the 1-D equation.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.special import digamma

__all__ = ["DOF_BOUNDS", "INITIAL_DOF", "check_dof", "latent_scales", "solve_dof"]

#: The range of estimated degrees of freedom. Below 0.5 a component's tails
#: are so heavy that a few rows can hold it anywhere; above 200 it is a
#: Gaussian for every practical purpose (the log-density differs from the
#: Gaussian's by about (d + δ)²/(4ν) ≈ 1e-3 at δ = 3 in 2-D) and the equation
#: for ν becomes flat, its root possibly at infinity.
DOF_BOUNDS = (0.5, 200.0)

#: ν of every component at the start of a fit where ν is estimated: the start
#: is a Gaussian fit's moments (no E-step has measured the tails yet), and a
#: moderate ν already discounts far rows in the first E-step.
INITIAL_DOF = 10.0


def latent_scales(maha, dof, n_features, weighted_resp):
    """``u = E[U | x]`` (n, K) and ``Σ z w (E[log U] − u)`` (K,), float64.

    ``weighted_resp`` is ``z·w``; ``E[log U] = log u + ψ((ν+d)/2) − log((ν+d)/2)``.
    """
    dof = np.asarray(dof, dtype=np.float64)
    maha = np.asarray(maha, dtype=np.float64)
    u = (dof + n_features) / (dof + maha)
    half = 0.5 * (dof + n_features)
    # log u as a difference of logs: u itself underflows to 0 for a row
    # infinitely far from a component (whose responsibility there is 0).
    expected_log_u = np.log(dof + n_features) - np.log(dof + maha) + (digamma(half)
                                                                       - np.log(half))
    # A row with no responsibility for k adds nothing, even where its log u is −inf.
    terms = np.where(weighted_resp > 0, weighted_resp * (expected_log_u - u), 0.0)
    return u, terms.sum(axis=0)


def _dof_equation(dof, mean_tail):
    """The ECM equation for ν, decreasing in ν: ``log(ν/2) − ψ(ν/2) + 1 + mean_tail``."""
    return np.log(0.5 * dof) - digamma(0.5 * dof) + 1.0 + mean_tail


def solve_dof(mean_tail, bounds=DOF_BOUNDS):
    """ν that maximises the expected log-likelihood, within ``bounds``.

    ``mean_tail`` is ``Σ z w (E[log U] − u) / Σ z w`` (≤ −1 by Jensen's
    inequality; −1 exactly means no tails: ν = ∞). The equation's left side
    falls from +∞ to ``1 + mean_tail`` as ν grows, so the expected
    log-likelihood is concave in ν and its maximum over the interval is the
    root, or the end the root lies beyond.
    """
    low, high = bounds
    if _dof_equation(high, mean_tail) >= 0.0:
        return float(high)
    if _dof_equation(low, mean_tail) <= 0.0:
        return float(low)
    return float(brentq(_dof_equation, low, high, args=(mean_tail,), xtol=1e-12,
                        rtol=8 * np.finfo(np.float64).eps))


def check_dof(value, name):
    """A finite positive ν as a float, or a ValueError that names it."""
    try:
        dof = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number or None, got {value!r}.") from None
    if not (np.isfinite(dof) and dof > 0):
        raise ValueError(
            f"{name} must be finite and > 0, got {value!r} (for Gaussian components, "
            "ν = ∞, use GaussianMixture)."
        )
    return dof
