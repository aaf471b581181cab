"""Gaussian densities and expected moments of rows with missing values, by pattern.

The kernels behind :class:`mixfit.families.gaussian.missing.MissingGaussianFamily`
for the structures with correlated coordinates (full, tied and mclust's
non-axis-aligned models). Rows come sorted by missingness pattern, in blocks
(:func:`mixfit.families.gaussian.missing.missingness_patterns`): per block and
component, the observed block ``Σ_oo`` is factorised once (Cholesky), then each
row costs O(d²), as a complete row does. numpy did the same per pattern with
a dozen calls each; with many distinct patterns (d = 20 and 10 % missing:
nearly one pattern per row) those calls cost 35× the arithmetic.

Everything is float64; rows are read only at their observed coordinates, so
NaN never enters an operation.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mixfit.kernels.checks import require

__all__ = ["expected_moments", "observed_log_density"]

_LOG_2PI = np.log(2.0 * np.pi)


@njit(nogil=True, cache=True)
def _gather_cholesky(covariance, index, size, lower):
    """``lower[:size, :size]`` ← Cholesky factor of ``covariance[index][:, index]``.

    Returns False when the block is not positive definite.
    """
    for p in range(size):
        for q in range(p + 1):
            lower[p, q] = covariance[index[p], index[q]]
    for j in range(size):
        pivot = lower[j, j]
        for p in range(j):
            pivot -= lower[j, p] * lower[j, p]
        if not pivot > 0.0:
            return False
        pivot = np.sqrt(pivot)
        lower[j, j] = pivot
        for i in range(j + 1, size):
            value = lower[i, j]
            for p in range(j):
                value -= lower[i, p] * lower[j, p]
            lower[i, j] = value / pivot
    return True


@njit(nogil=True, cache=True)
def _split(pattern, observed, missing):
    """Fill the observed and missing feature indices of a pattern; return their counts."""
    n_observed = 0
    n_missing = 0
    for j in range(pattern.shape[0]):
        if pattern[j]:
            missing[n_missing] = j
            n_missing += 1
        else:
            observed[n_observed] = j
            n_observed += 1
    return n_observed, n_missing


@njit(nogil=True, cache=True)
def _check(kernel, values, starts, patterns, means, covariances):
    n_samples, n_features = values.shape
    n_blocks = patterns.shape[0]
    require(starts.shape[0] == n_blocks + 1 and patterns.shape[1] == n_features
            and means.shape[1] == n_features and covariances.shape[1] == n_features
            and covariances.shape[2] == n_features
            and (covariances.shape[0] == 1 or covariances.shape[0] == means.shape[0]),
            kernel, "values (n, d), starts (B + 1,), patterns (B, d), means (K, d), "
            "covariances (K or 1, d, d)")
    require(starts[0] == 0 and starts[n_blocks] == n_samples, kernel,
            "starts from 0 to n_samples")
    for b in range(n_blocks):
        require(starts[b] <= starts[b + 1], kernel, "starts non-decreasing")


@njit(nogil=True, cache=True)
def observed_log_density(values, starts, patterns, means, covariances, out):
    """``log N(x_o; μ_{k,o}, Σ_{k,oo})`` of every row and component into ``out`` (n, K).

    Parameters
    ----------
    values : ndarray of shape (n_samples, n_features), float64
        Rows sorted by pattern (NaN where missing; never read).
    starts : ndarray of shape (n_blocks + 1,), int64
        Rows ``starts[b] … starts[b + 1] − 1`` have ``patterns[b]``.
    patterns : ndarray of shape (n_blocks, n_features), bool
        True where missing.
    means : ndarray of shape (n_components, n_features), float64
    covariances : ndarray of shape (n_components or 1, n_features, n_features), float64
        One matrix shared by all components when the first axis is 1 (tied).
    out : ndarray of shape (n_samples, n_components), float64

    Returns
    -------
    int
        -1, or the component whose observed block was not positive definite.
    """
    _check("observed_log_density", values, starts, patterns, means, covariances)
    n_features = values.shape[1]
    n_components = means.shape[0]
    require(out.shape[0] == values.shape[0] and out.shape[1] == n_components,
            "observed_log_density", "out (n, K)")
    observed = np.empty(n_features, dtype=np.int64)
    missing = np.empty(n_features, dtype=np.int64)
    lower = np.empty((n_features, n_features))
    whitened = np.empty(n_features)
    for b in range(patterns.shape[0]):
        size, _ = _split(patterns[b], observed, missing)
        for k in range(n_components):
            c = 0 if covariances.shape[0] == 1 else k
            if not _gather_cholesky(covariances[c], observed, size, lower):
                return k
            half_log_det = 0.0
            for p in range(size):
                half_log_det += np.log(lower[p, p])
            for i in range(starts[b], starts[b + 1]):
                maha = 0.0
                for p in range(size):
                    value = values[i, observed[p]] - means[k, observed[p]]
                    for q in range(p):
                        value -= lower[p, q] * whitened[q]
                    whitened[p] = value / lower[p, p]
                    maha += whitened[p] * whitened[p]
                out[i, k] = -0.5 * (size * _LOG_2PI + maha) - half_log_det
    return -1


@njit(nogil=True, cache=True)
def expected_moments(values, weighted, starts, patterns, means, covariances, first, second):
    """Expected first and second moments of the completed rows about ``means``.

    With ``e = x̃ − μ_k``, where ``x̃`` has the observed values and the
    conditional means ``x̂_m = μ_m + Σ_mo Σ_oo⁻¹ (x_o − μ_o)`` of the missing
    ones, adds ``Σ_i w_ik e`` into ``first[k]`` and ``Σ_i w_ik (e eᵀ + C)`` into
    ``second[k]``, ``C = Σ_mm − Σ_mo Σ_oo⁻¹ Σ_om`` on the missing block.

    Parameters
    ----------
    values, starts, patterns, means, covariances
        As for :func:`observed_log_density`.
    weighted : ndarray of shape (n_samples, n_components), float64
        Responsibilities times sample weights, rows in the order of ``values``.
    first : ndarray of shape (n_components, n_features), float64, zeros
    second : ndarray of shape (n_components, n_features, n_features), float64, zeros

    Returns
    -------
    int
        -1, or the component whose observed block was not positive definite.
    """
    _check("expected_moments", values, starts, patterns, means, covariances)
    n_features = values.shape[1]
    n_components = means.shape[0]
    require(weighted.shape[0] == values.shape[0] and weighted.shape[1] == n_components
            and first.shape[0] == n_components and first.shape[1] == n_features
            and second.shape[0] == n_components and second.shape[1] == n_features
            and second.shape[2] == n_features, "expected_moments",
            "weighted (n, K), first (K, d), second (K, d, d)")
    observed = np.empty(n_features, dtype=np.int64)
    missing = np.empty(n_features, dtype=np.int64)
    lower = np.empty((n_features, n_features))
    regression = np.empty((n_features, n_features))  # A = Σ_mo Σ_oo⁻¹, (r, a)
    conditional = np.empty((n_features, n_features))  # C, (r, r)
    work = np.empty(n_features)
    centred = np.empty(n_features)
    for b in range(patterns.shape[0]):
        size, n_missing = _split(patterns[b], observed, missing)
        for k in range(n_components):
            c = 0 if covariances.shape[0] == 1 else k
            sigma = covariances[c]
            if n_missing > 0:
                if not _gather_cholesky(sigma, observed, size, lower):
                    return k
                for t in range(n_missing):
                    # Σ_oo z = Σ_o,m[t] by two triangular solves: A[t] = zᵀ.
                    for p in range(size):
                        value = sigma[observed[p], missing[t]]
                        for q in range(p):
                            value -= lower[p, q] * work[q]
                        work[p] = value / lower[p, p]
                    for p in range(size - 1, -1, -1):
                        value = work[p]
                        for q in range(p + 1, size):
                            value -= lower[q, p] * regression[t, q]
                        regression[t, p] = value / lower[p, p]
                for t in range(n_missing):
                    for u in range(t + 1):
                        value = sigma[missing[t], missing[u]]
                        for p in range(size):
                            value -= regression[t, p] * sigma[observed[p], missing[u]]
                        conditional[t, u] = value
            mass = 0.0
            for i in range(starts[b], starts[b + 1]):
                w = weighted[i, k]
                if w == 0.0:
                    continue
                mass += w
                for p in range(size):
                    centred[observed[p]] = values[i, observed[p]] - means[k, observed[p]]
                for t in range(n_missing):
                    value = 0.0
                    for p in range(size):
                        value += regression[t, p] * centred[observed[p]]
                    centred[missing[t]] = value
                for j in range(n_features):
                    wj = w * centred[j]
                    first[k, j] += wj
                    for l in range(j + 1):
                        second[k, j, l] += wj * centred[l]
            for t in range(n_missing):
                for u in range(t + 1):
                    j, l = missing[t], missing[u]
                    if j >= l:
                        second[k, j, l] += mass * conditional[t, u]
                    else:
                        second[k, l, j] += mass * conditional[t, u]
    # Only the lower triangles were accumulated: mirror them.
    for k in range(n_components):
        for j in range(n_features):
            for l in range(j):
                second[k, l, j] = second[k, j, l]
    return -1
