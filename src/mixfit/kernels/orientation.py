"""Plane rotations for a common orientation: the inner step of mclust's EVE and VVE models.

Minimise ``f(D) = Σ_k tr(W_k D B_k Dᵀ)`` over orthogonal ``D`` for fixed
diagonal ``B_k`` (Flury & Gautschi 1986 solve the common-principal-components
problem with the same Jacobi-type rotations). Rotating columns ``i`` and ``j``
of ``D`` by an angle θ changes ``f`` by ``A cos 2θ + B sin 2θ − A`` with

    A = ½ Σ_k (b_ki − b_kj)(m_k,ii − m_k,jj),   B = Σ_k (b_ki − b_kj) m_k,ij,

``M_k = Dᵀ W_k D``; the best angle (``2θ = atan2(B, A) + π``) lowers ``f`` by
``A + sqrt(A² + B²) ≥ 0``. A sweep rotates every pair once, each rotation the
exact minimiser along its plane, so ``f`` never rises; sweeps converge far
faster than the majorise-minimise step (hundreds of rounds on 13 features).
"""

from __future__ import annotations

import math

from numba import njit

from mixfit.kernels.checks import require

__all__ = ["jacobi_orientation_sweep"]


@njit(nogil=True, cache=True)
def jacobi_orientation_sweep(rotated, orientation, weights):
    """One sweep of optimal plane rotations, in place; returns the decrease of ``f``.

    Parameters
    ----------
    rotated : ndarray of shape (n_components, n_features, n_features), float64
        ``M_k = Dᵀ W_k D`` for the current ``D``; updated to the rotated ``D``.
    orientation : ndarray of shape (n_features, n_features), float64
        ``D`` (orthogonal, columns the axes); rotated in place.
    weights : ndarray of shape (n_components, n_features), float64
        The diagonals of ``B_k``.
    """
    n_components, n_features = weights.shape
    require(rotated.shape[0] == n_components and rotated.shape[1] == n_features
            and rotated.shape[2] == n_features, "jacobi_orientation_sweep",
            "rotated is (K, d, d) for weights (K, d)")
    require(orientation.shape[0] == n_features and orientation.shape[1] == n_features,
            "jacobi_orientation_sweep", "orientation is (d, d)")
    decrease = 0.0
    for i in range(n_features - 1):
        for j in range(i + 1, n_features):
            a = 0.0
            b = 0.0
            for k in range(n_components):
                difference = weights[k, i] - weights[k, j]
                a += 0.5 * difference * (rotated[k, i, i] - rotated[k, j, j])
                b += difference * rotated[k, i, j]
            radius = math.sqrt(a * a + b * b)
            gain = a + radius
            if not gain > 1e-15 * radius:
                continue  # already (to rounding) the best angle in this plane
            cos2 = -a / radius
            sin2 = -b / radius
            c = math.sqrt(max(0.5 * (1.0 + cos2), 0.0))
            s = sin2 / (2.0 * c) if c > 1e-8 else 1.0
            decrease += gain
            for r in range(n_features):
                di = orientation[r, i]
                dj = orientation[r, j]
                orientation[r, i] = c * di + s * dj
                orientation[r, j] = -s * di + c * dj
            for k in range(n_components):
                for r in range(n_features):  # M R: columns i and j
                    mi = rotated[k, r, i]
                    mj = rotated[k, r, j]
                    rotated[k, r, i] = c * mi + s * mj
                    rotated[k, r, j] = -s * mi + c * mj
                for r in range(n_features):  # Rᵀ (M R): rows i and j
                    mi = rotated[k, i, r]
                    mj = rotated[k, j, r]
                    rotated[k, i, r] = c * mi + s * mj
                    rotated[k, j, r] = -s * mi + c * mj
    return decrease
