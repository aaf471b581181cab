"""Numba kernels of model-based agglomerative clustering (:mod:`mixfit.engine.hierarchical`).

:func:`_agglomerate` runs all ``n − 1`` merges of the EII (Ward) or VVV
criterion on a block of rows and returns the linkage-like tree; the criterion
and its regularisation are explained in :mod:`mixfit.engine.hierarchical`.
"""

import math

import numba
import numpy as np

from mixfit.kernels.checks import require

_EII, _VVV = 0, 1




@numba.njit(cache=True)
def _cholesky_logdet(matrix, factor):
    """Lower Cholesky factor of ``matrix`` into ``factor``; return log|matrix| (NaN if not PD)."""
    n_features = matrix.shape[0]
    logdet = 0.0
    for j in range(n_features):
        pivot = matrix[j, j]
        for k in range(j):
            pivot -= factor[j, k] * factor[j, k]
        if not pivot > 0.0:
            return np.nan
        diag = np.sqrt(pivot)
        factor[j, j] = diag
        logdet += 2.0 * np.log(diag)
        for i in range(j + 1, n_features):
            entry = matrix[i, j]
            for k in range(j):
                entry -= factor[i, k] * factor[j, k]
            factor[i, j] = entry / diag
        for i in range(j):
            factor[i, j] = 0.0
    return logdet


@numba.njit(cache=True)
def _log_gamma_sum(mass, n_features, prior_count, table):
    """``log Gamma_d((mass + nu_0) / 2)`` less its constant; tabulated for integer masses."""
    index = int(mass)
    if index == mass and index < table.shape[0]:
        return table[index]
    shape = mass + prior_count + n_features - 1.0
    total = 0.0
    for j in range(n_features):
        total += math.lgamma(0.5 * (shape - j))
    return total


@numba.njit(cache=True)
def _cluster_term(mass, logdet, n_features, prior_count, table):
    """Criterion contribution of one cluster (to minimise); see module docstring."""
    shape = mass + prior_count + n_features - 1.0
    return (shape * logdet - 2.0 * _log_gamma_sum(mass, n_features, prior_count, table)
            + n_features * np.log(mass))


@numba.njit(cache=True)
def _costs_to(a, first, model, active, mass, mean, reg_scatter, factor, logdet, term,
              zero_scatter, ridge_matrix, prior_count, table, out,
              delta, work, merged, merged_factor):
    """``out[b]`` = increase of the criterion if ``a`` and ``b`` merge, for active ``b >= first``.

    One call per row rather than per pair: a numba call passing arrays
    reference-counts each of them, which cost ten times the EII arithmetic.
    Each pair is evaluated in (smaller, larger) slot order so that the stored
    matrix is exactly symmetric.
    """
    n_samples, n_features = mean.shape
    for other in range(first, n_samples):
        if other == a or not active[other]:
            continue
        low, high = min(a, other), max(a, other)
        total = mass[low] + mass[high]
        between = mass[low] * mass[high] / total
        squared = 0.0
        for j in range(n_features):
            delta[j] = mean[high, j] - mean[low, j]
            squared += delta[j] * delta[j]
        if model == _EII:
            out[other] = between * squared
            continue
        # A cluster with zero scatter adds only the rank-one between-cluster
        # term to the other's regularised scatter, so the determinant lemma
        # gives the merged log-determinant in O(d^2) from the other's Cholesky
        # factor.  Early in the run most partners are singletons.
        if zero_scatter[low] or zero_scatter[high]:
            keep = low if zero_scatter[high] else high
            quad = 0.0
            for i in range(n_features):
                entry = delta[i]
                for k in range(i):
                    entry -= factor[keep, i, k] * work[k]
                work[i] = entry / factor[keep, i, i]
                quad += work[i] * work[i]
            merged_logdet = logdet[keep] + np.log1p(between * quad)
        else:
            for i in range(n_features):
                for j in range(n_features):
                    merged[i, j] = (reg_scatter[low, i, j] + reg_scatter[high, i, j]
                                    - ridge_matrix[i, j] + between * delta[i] * delta[j])
            merged_logdet = _cholesky_logdet(merged, merged_factor)
        out[other] = (_cluster_term(total, merged_logdet, n_features, prior_count, table)
                      - term[low] - term[high])


@numba.njit(cache=True)
def _rescan(row, active, cost, best, best_cost):
    """Best partner of ``row`` among active clusters with a larger index (ties: smallest)."""
    best[row] = -1
    best_cost[row] = np.inf
    for other in range(row + 1, cost.shape[0]):
        if active[other] and cost[row, other] < best_cost[row]:
            best_cost[row] = cost[row, other]
            best[row] = other


@numba.njit(cache=True)
def _agglomerate(X, mass, ridge_matrix, prior_count, model):
    """Run all ``n - 1`` merges; return the linkage-like tree (module docstring).

    Costs of pairs not involving the newest cluster never change, so they are
    kept in a symmetric (n, n) matrix (8 n^2 bytes) with each row's best
    partner among larger slot indices; only rows that pointed at the two
    merged clusters are rescanned.  Ties go to the
    lexicographically smallest pair of slot indices, so the run is deterministic.
    """
    n_samples, n_features = X.shape
    require(mass.shape[0] == n_samples, "_agglomerate", "len(mass) == len(X)")
    require(ridge_matrix.shape[0] == n_features and ridge_matrix.shape[1] == n_features,
            "_agglomerate", "ridge_matrix is (d, d)")
    mean = X.copy()
    mass = mass.copy()
    active = np.ones(n_samples, dtype=np.bool_)
    zero_scatter = np.ones(n_samples, dtype=np.bool_)
    node = np.arange(n_samples)
    is_vvv = model == _VVV
    n_slots = n_samples if is_vvv else 1
    reg_scatter = np.empty((n_slots, n_features, n_features))
    factor = np.zeros((n_slots, n_features, n_features))
    logdet = np.zeros(n_samples)
    term = np.zeros(n_samples)
    # Unweighted runs only ever see integer masses up to n: tabulating the
    # log-gamma sums saves d lgamma calls per pair (most of the cost at d = 13).
    table = np.empty(0)
    if is_vvv:
        table = np.empty(n_samples + 1)
        for m in range(n_samples + 1):
            shape = m + prior_count + n_features - 1.0
            table[m] = 0.0
            for j in range(n_features):
                table[m] += math.lgamma(0.5 * (shape - j))
        ridge_factor = np.zeros((n_features, n_features))
        ridge_logdet = _cholesky_logdet(ridge_matrix, ridge_factor)
        for s in range(n_samples):
            reg_scatter[s] = ridge_matrix
            factor[s] = ridge_factor
            logdet[s] = ridge_logdet
            term[s] = _cluster_term(mass[s], ridge_logdet, n_features, prior_count, table)
    delta = np.empty(n_features)
    work = np.empty(n_features)
    merged = np.empty((n_features, n_features))
    merged_factor = np.empty((n_features, n_features))

    cost = np.full((n_samples, n_samples), np.inf)
    new_cost = np.empty(n_samples)
    best = np.full(n_samples, -1)
    best_cost = np.full(n_samples, np.inf)
    for a in range(n_samples):
        _costs_to(a, a + 1, model, active, mass, mean, reg_scatter, factor, logdet, term,
                  zero_scatter, ridge_matrix, prior_count, table, cost[a],
                  delta, work, merged, merged_factor)
        for b in range(a + 1, n_samples):
            cost[b, a] = cost[a, b]
        _rescan(a, active, cost, best, best_cost)

    tree = np.empty((max(n_samples - 1, 0), 4))
    for step in range(n_samples - 1):
        a = -1
        lowest = np.inf
        for k in range(n_samples):
            if active[k] and best[k] >= 0 and best_cost[k] < lowest:
                lowest = best_cost[k]
                a = k
        if a < 0:
            raise ValueError("hierarchical clustering: a merge cost is not finite")
        b = best[a]
        increase = cost[a, b]
        height = np.sqrt(2.0 * max(increase, 0.0)) if model == _EII else increase
        total = mass[a] + mass[b]
        tree[step, 0] = min(node[a], node[b])
        tree[step, 1] = max(node[a], node[b])
        tree[step, 2] = height
        tree[step, 3] = total

        # Merge b into slot a (a < b).
        between = mass[a] * mass[b] / total
        moved = False
        for j in range(n_features):
            delta[j] = mean[b, j] - mean[a, j]
            moved = moved or delta[j] != 0.0
            mean[a, j] = (mass[a] * mean[a, j] + mass[b] * mean[b, j]) / total
        mass[a] = total
        if is_vvv:
            for i in range(n_features):
                for j in range(n_features):
                    reg_scatter[a, i, j] += (reg_scatter[b, i, j] - ridge_matrix[i, j]
                                             + between * delta[i] * delta[j])
            logdet[a] = _cholesky_logdet(reg_scatter[a], factor[a])
            term[a] = _cluster_term(total, logdet[a], n_features, prior_count, table)
        zero_scatter[a] = zero_scatter[a] and zero_scatter[b] and not moved
        active[b] = False
        node[a] = n_samples + step

        # Rescans read whole rows, so both row and column a are refreshed;
        # the retired slot b's stale entries are skipped through `active`.
        _costs_to(a, 0, model, active, mass, mean, reg_scatter, factor, logdet, term,
                  zero_scatter, ridge_matrix, prior_count, table, new_cost,
                  delta, work, merged, merged_factor)
        for k in range(n_samples):
            if active[k] and k != a:
                cost[a, k] = new_cost[k]
                cost[k, a] = new_cost[k]
        for k in range(a):
            if not active[k]:
                continue
            if best[k] == a or best[k] == b:
                _rescan(k, active, cost, best, best_cost)
            elif new_cost[k] < best_cost[k] or (new_cost[k] == best_cost[k] and a < best[k]):
                best[k] = a
                best_cost[k] = new_cost[k]
        _rescan(a, active, cost, best, best_cost)
        for k in range(a + 1, b):
            if active[k] and best[k] == b:
                _rescan(k, active, cost, best, best_cost)
        best[b] = -1
        best_cost[b] = np.inf
    return tree
