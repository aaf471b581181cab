"""numba kernels of the Bernoulli and Poisson E-steps.

Their log-densities are linear in x (``log p(x | k) = const_k + x · slope_k``
plus a per-row term), so the heavy part is one GEMM done by BLAS in X's dtype;
what remains per row is the logsumexp over components and the
responsibilities, done here in one pass in float64 (no (n, K) temporaries
beyond the GEMM's output and the responsibilities the statistics GEMM needs).
Every kernel releases the GIL, so :func:`mixfit._parallel.map_chunks` runs
chunks on threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mixfit.kernels.checks import require

__all__ = ["LOG_FACTORIAL", "has_nan", "log_factorial_rows", "normalise_scores"]

#: log(x!) for small counts, read from a table: lgamma is the costliest part
#: of a Poisson row otherwise.
LOG_FACTORIAL = np.array([math.lgamma(x + 1.0) for x in range(256)])


@njit(nogil=True, cache=True, fastmath={"reassoc"})
def has_nan(X):
    """Whether the 2-D array X holds a NaN (or an infinity); stops at the first such row.

    Complete data pays one vectorised read of X and no allocation
    (``np.isnan(X).any()`` would build an (n, d) mask first): ``x − x`` is 0
    for a finite x and NaN otherwise, and a row's sum of them is NaN exactly
    when one is (reassociation may reorder the sum, not drop a NaN).
    """
    n_samples, n_features = X.shape
    if n_features == 0:
        return False
    for i in range(n_samples):
        acc = X[i, 0] - X[i, 0]
        for j in range(1, n_features):
            acc += X[i, j] - X[i, j]
        if acc != acc:
            return True
    return False


@njit(nogil=True, cache=True)
def log_factorial_rows(X, table, out):
    """``out[i] = Σ_j log(X[i, j]!)`` over the non-NaN entries, in float64.

    X holds non-negative integers (as floats) or NaN; ``table[x]`` is
    ``log(x!)`` for ``x < len(table)``, larger counts use ``lgamma``.
    """
    n_samples, n_features = X.shape
    require(out.shape[0] == n_samples, "log_factorial_rows", "out (n,) for X (n, d)")
    size = table.shape[0]
    for i in range(n_samples):
        acc = 0.0
        for j in range(n_features):
            x = X[i, j]
            if x != x:
                continue
            count = int(x)
            if count < size:
                acc += table[count]
            else:
                acc += math.lgamma(x + 1.0)
        out[i] = acc


@njit(nogil=True, cache=True)
def normalise_scores(scores, const, row_const, sample_weight, weighted_resp):
    """Responsibilities × sample weight from linear scores, per row in float64.

    ``log w_k p(x_i | k) = const[k] + scores[i, k] + row_const[i]`` (an empty
    ``row_const`` means 0, an empty ``sample_weight`` weight one); the
    logsumexp over k gives ``log p(x_i)``. ``scores`` may hold ``-inf``
    (a row impossible under a component). A row impossible under every
    component gets zero responsibilities and adds ``-inf`` to the
    log-likelihood (when its weight is positive): never NaN.

    Returns
    -------
    log_likelihood, total_weight : float
        Weighted sums over the rows.
    resp_sum : ndarray of shape (n_components,)
        Column sums of ``weighted_resp``.
    """
    n_samples, n_components = scores.shape
    require(const.shape[0] == n_components and weighted_resp.shape[0] == n_samples
            and weighted_resp.shape[1] == n_components
            and (sample_weight.shape[0] == 0 or sample_weight.shape[0] == n_samples)
            and (row_const.shape[0] == 0 or row_const.shape[0] == n_samples),
            "normalise_scores", "const (K,), weighted_resp (n, K), empty or (n,) "
            "sample_weight and row_const for scores (n, K)")
    weighted = sample_weight.shape[0] > 0
    with_row = row_const.shape[0] > 0
    resp_sum = np.zeros(n_components)
    joint = np.empty(n_components)
    log_likelihood = 0.0
    total_weight = 0.0
    for i in range(n_samples):
        top = -np.inf
        for k in range(n_components):
            value = const[k] + scores[i, k]
            joint[k] = value
            if value > top:
                top = value
        weight = sample_weight[i] if weighted else 1.0
        total_weight += weight
        if top == -np.inf:
            for k in range(n_components):
                weighted_resp[i, k] = 0.0
            if weight != 0.0:
                log_likelihood = -np.inf
            continue
        total = 0.0
        for k in range(n_components):
            value = np.exp(joint[k] - top)
            joint[k] = value
            total += value
        scale = weight / total
        for k in range(n_components):
            value = joint[k] * scale
            weighted_resp[i, k] = value
            resp_sum[k] += value
        if weight != 0.0:
            row = top + np.log(total)
            if with_row:
                row += row_const[i]
            log_likelihood += weight * row
    return log_likelihood, total_weight, resp_sum
