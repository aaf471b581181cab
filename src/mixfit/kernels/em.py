"""numba kernels of the Gaussian E-step and of the M-step's statistics.

These are the fast path of :mod:`mixfit.engine.em`; the numpy code in
:mod:`mixfit.families.gaussian.covariance` is the reference they are tested against
(``kernel="numpy"``). Every kernel works on one chunk of rows, releases the GIL
(so :func:`mixfit._parallel.map_chunks` runs chunks on threads) and accumulates
in float64 whatever the data's dtype.

Moments are taken about a **reference point per component** (the current
means, known when the E-step starts): ``S1_k = Σ w r (x − m_k)`` and
``S2_k = Σ w r (x − m_k)(x − m_k)ᵀ``. Since m_k sits near the component's data,
``S2 − S1 S1ᵀ / N`` (the scatter about the chunk's own mean) does not cancel;
the conversion happens per chunk, so the statistics that leave a chunk are the
centred ones of :class:`~mixfit.families.GaussianStats` and ``+`` stays Chan's
merge, whatever reference each chunk used.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mixfit.kernels.checks import require

__all__ = [
    "far_bound",
    "mahalanobis_blocks",
    "mahalanobis_scaled",
    "moments_diag",
    "moments_full",
    "normalise",
]

# Reassociation lets the reductions vectorise; no flag that assumes finite values
# (zero mixture weights give -inf log-weights).
_FAST = {"reassoc", "contract", "nsz", "arcp"}


@njit(nogil=True, cache=True, fastmath=_FAST)
def mahalanobis_scaled(X, means, scale, out):
    """``out[i, k] = Σ_j ((X[i, j] − means[k, j]) · scale[k, j])²``, accumulated in float64."""
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    require(means.shape[1] == n_features and scale.shape[0] == n_components
            and scale.shape[1] == n_features and out.shape[0] == n_samples
            and out.shape[1] == n_components, "mahalanobis_scaled",
            "means and scale (K, d) for X's d features, out (n, K)")
    for i in range(n_samples):
        for k in range(n_components):
            acc = 0.0
            for j in range(n_features):
                t = (X[i, j] - means[k, j]) * scale[k, j]
                acc += t * t
            out[i, k] = acc


@njit(nogil=True, cache=True, fastmath=_FAST)
def mahalanobis_blocks(Y, offsets, out):
    """``out[i, k] = ‖Y[i, k·d:(k+1)·d] − offsets[k]‖²`` (Y holds K whitened copies of a row)."""
    n_samples = Y.shape[0]
    n_components, n_features = offsets.shape
    require(Y.shape[1] == n_components * n_features and out.shape[0] == n_samples
            and out.shape[1] == n_components, "mahalanobis_blocks",
            "Y (n, K·d) for offsets (K, d), out (n, K)")
    for i in range(n_samples):
        for k in range(n_components):
            base = k * n_features
            acc = 0.0
            for j in range(n_features):
                t = Y[i, base + j] - offsets[k, j]
                acc += t * t
            out[i, k] = acc


@njit(nogil=True, cache=True)
def normalise(maha, const, sample_weight, weighted_resp):
    """Responsibilities × sample weight from Mahalanobis distances, per row in float64.

    ``log p(x, k) = const[k] − maha[i, k] / 2``; the logsumexp over k gives
    ``log p(x)``. An empty ``sample_weight`` means weight one.

    Returns
    -------
    log_likelihood, total_weight : float
        Weighted sums over the rows.
    resp_sum : ndarray of shape (n_components,)
        Column sums of ``weighted_resp``.
    """
    n_samples, n_components = maha.shape
    require(const.shape[0] == n_components and weighted_resp.shape[0] == n_samples
            and weighted_resp.shape[1] == n_components
            and (sample_weight.shape[0] == 0 or sample_weight.shape[0] == n_samples),
            "normalise", "const (K,), weighted_resp (n, K) and an empty or (n,) sample_weight "
            "for maha (n, K)")
    weighted = sample_weight.shape[0] > 0
    resp_sum = np.zeros(n_components)
    joint = np.empty(n_components)
    log_likelihood = 0.0
    total_weight = 0.0
    for i in range(n_samples):
        top = -np.inf
        for k in range(n_components):
            value = const[k] - 0.5 * maha[i, k]
            joint[k] = value
            if value > top:
                top = value
        total = 0.0
        for k in range(n_components):
            value = np.exp(joint[k] - top)
            joint[k] = value
            total += value
        weight = sample_weight[i] if weighted else 1.0
        scale = weight / total
        for k in range(n_components):
            value = joint[k] * scale
            weighted_resp[i, k] = value
            resp_sum[k] += value
        if weight != 0.0:
            log_likelihood += weight * (top + np.log(total))
        total_weight += weight
    return log_likelihood, total_weight, resp_sum


@njit(nogil=True, cache=True)
def moments_diag(X, weighted_resp, reference, first, second):
    """Moments about ``reference`` per feature, added into float64 arrays.

    ``first[k] += Σ_i w_ik (x_i − m_k)`` and ``second[k] += Σ_i w_ik (x_i − m_k)²``
    (both (K, d)); ``second`` may have zero rows to skip it (identity model).
    """
    n_samples, n_features = X.shape
    n_components = reference.shape[0]
    with_second = second.shape[0] > 0
    require(weighted_resp.shape[0] == n_samples and weighted_resp.shape[1] == n_components
            and reference.shape[1] == n_features and first.shape[0] == n_components
            and first.shape[1] == n_features
            and (not with_second or (second.shape[0] == n_components
                                     and second.shape[1] == n_features)), "moments_diag",
            "weighted_resp (n, K), reference and first (K, d), second empty or (K, d)")
    for i in range(n_samples):
        for k in range(n_components):
            w = weighted_resp[i, k]
            if w == 0.0:
                continue
            for j in range(n_features):
                z = X[i, j] - reference[k, j]
                wz = w * z
                first[k, j] += wz
                if with_second:
                    second[k, j] += wz * z


@njit(nogil=True, cache=True)
def moments_full(X, weighted_resp, reference, first, second):
    """Like :func:`moments_diag` with the upper triangle of ``Σ w (x − m)(x − m)ᵀ``.

    ``second`` has shape (K, d, d); the caller mirrors the upper triangle.
    """
    n_samples, n_features = X.shape
    n_components = reference.shape[0]
    require(weighted_resp.shape[0] == n_samples and weighted_resp.shape[1] == n_components
            and reference.shape[1] == n_features and first.shape[0] == n_components
            and first.shape[1] == n_features and second.shape[0] == n_components
            and second.shape[1] == n_features and second.shape[2] == n_features,
            "moments_full", "weighted_resp (n, K), reference and first (K, d), second (K, d, d)")
    z = np.empty(n_features)
    for i in range(n_samples):
        for k in range(n_components):
            w = weighted_resp[i, k]
            if w == 0.0:
                continue
            for j in range(n_features):
                z[j] = X[i, j] - reference[k, j]
                first[k, j] += w * z[j]
            for a in range(n_features):
                wa = w * z[a]
                for b in range(a, n_features):
                    second[k, a, b] += wa * z[b]


@njit(nogil=True, cache=True)
def far_bound(column_largest, means, factors, diagonal, weights):
    """An upper bound on ``|log w_k + log N(x | k)|`` minus its log-determinant part.

    ``½ Σ_j (L_kj (m_j + |μ_kj|))²`` for diagonal factors (``factors`` (K, d)),
    ``½ ‖L_k‖_F² Σ_j (m_j + |μ_kj|)²`` otherwise (``factors`` (K or 1, anything):
    each row a component's factor, flattened; one row shared by all for tied),
    plus ``max_k |log w_k|`` over the components of positive weight; ``m_j`` is
    ``column_largest[j]``. In numba because the dozen numpy calls it replaces cost
    more than a lecture-sized predict itself.
    """
    n_components, n_features = means.shape
    require(column_largest.shape[0] == n_features and weights.shape[0] == n_components
            and (factors.shape[0] == n_components or (not diagonal and factors.shape[0] == 1))
            and (not diagonal or factors.shape[1] == n_features), "far_bound",
            "column_largest (d,), weights (K,), factors (K, d) or (K or 1, m)")
    spread = 0.0
    for k in range(n_components):
        row = factors[k if factors.shape[0] > 1 else 0]
        total = 0.0
        if diagonal:
            for j in range(n_features):
                t = row[j] * (column_largest[j] + abs(means[k, j]))
                total += t * t
        else:
            frobenius = 0.0
            for a in range(row.shape[0]):
                frobenius += row[a] * row[a]
            reach = 0.0
            for j in range(n_features):
                t = column_largest[j] + abs(means[k, j])
                reach += t * t
            total = frobenius * reach
        spread = max(spread, 0.5 * total)
    constant = 0.0
    for k in range(n_components):
        if weights[k] > 0.0:
            constant = max(constant, abs(np.log(weights[k])))
    return spread + constant
