"""numba kernels of Yinyang's pruned K-means E-step (Ding et al., ICML 2015).

The centres are cut once per fit into groups (centres close to each other);
each row keeps its label and, per group, a float32 lower bound on its distance
to every centre of the group but its own, rounded *down*. After the centres
move, a group's bound drops by the largest move in the group. A row whose every
group bound beats its exact distance to its own centre keeps it (the global
filter); otherwise only the groups whose bound does not are computed, centre
by centre, in float64 (the group filter). Where Hamerly's single bound
(:mod:`mixfit.kernels.kmeans`) fails as soon as any other centre comes near,
the groups still rule out the far ones: with a few dozen clusters in each
region of the data, a row computes a few dozen distances, not K.

Exactness is that of Hamerly's kernels: a row is decided without the GEMM
only when the winner beats every other centre's squared distance (computed,
or bounded below) by more than ``tau``, the bound on the GEMM's rounding of a
difference, so the GEMM would pick the same centre. Rows that fail the margin
(near ties), and whole chunks where the bounds save too little, go through the
GEMM and :func:`yinyang_full`, exactly as Lloyd's E-step computes them.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from mixfit.kernels.checks import check_blocks, require
from mixfit.kernels.kmeans import (_argmin_columns, _round_down_f32, _sq_distance_lanes,
                                   add_row, labels_in_range)
from mixfit.kernels.kmeans_gemm import _partial, gemm_buffers

__all__ = ["yinyang_full", "yinyang_gemm_block", "yinyang_gemm_blocks"]

_OPTIONS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")


@njit(**_OPTIONS)
def yinyang_full(partial_t, c_sq, x_sq, X, weight, rows, tau_coef, c_max_sq, group_of,
                 labels, lower, sums, counts):
    """Labels, group bounds and statistics of gathered rows from their GEMM block.

    The labels are those of :func:`~mixfit.kernels.kmeans.lloyd_chunk` on the
    same block (the same argmin, same arithmetic). Row ``rows[r]``'s bound for
    group ``g`` becomes the square root of the smallest GEMM distance to a centre
    of ``g`` other than its new label, less the rounding bound ``tau``.

    Parameters
    ----------
    partial_t : ndarray of shape (n_clusters, m)
        ``(−2 c) · (x − shift)`` of the gathered rows.
    c_sq, x_sq, X, weight
        As for :func:`~mixfit.kernels.kmeans.hamerly_full` (of the gathered rows).
    rows : ndarray of shape (m,), int64
        The gathered rows' indices into ``labels`` and ``lower``.
    tau_coef, c_max_sq : float
        The GEMM rounding bound is ``tau_coef · (‖x − shift‖² + c_max_sq)``.
    group_of : ndarray of shape (n_clusters,), int64
        Each centre's group, in ``[0, n_groups)``.
    labels : ndarray, int32
    lower : ndarray of shape (n, n_groups), float32
    sums, counts : accumulated into.

    Returns
    -------
    inertia : float
    n_changed : int
        Rows with positive weight whose label changed.
    """
    n_clusters, m = partial_t.shape
    n_groups = lower.shape[1]
    n_features = X.shape[1]
    weighted = weight.shape[0] > 0
    require(n_clusters >= 1 and c_sq.shape[0] == n_clusters and group_of.shape[0] == n_clusters
            and x_sq.shape[0] >= m and X.shape[0] >= m and rows.shape[0] >= m
            and (not weighted or weight.shape[0] >= m)
            and sums.shape[0] == n_clusters and sums.shape[1] == n_features
            and counts.shape[0] == n_clusters, "yinyang_full",
            "partial_t (K, m), c_sq, group_of and counts (K,), sums (K, d), and m gathered rows")
    for k in range(n_clusters):
        require(0 <= group_of[k] < n_groups, "yinyang_full", "group_of must lie in [0, n_groups)")
    for r in range(m):
        require(0 <= rows[r] < labels.shape[0] and rows[r] < lower.shape[0], "yinyang_full",
                "rows must index labels and lower")
    chunk_labels, best = _argmin_columns(partial_t, c_sq)
    # Per group, the smallest value of a centre other than the new label: centres
    # in the outer loop, so the inner one runs along contiguous rows.
    # In the GEMM's dtype (its sums are rounded there anyway), with selects rather
    # than branches, so that the inner loop vectorises: at 10,000 × 784 × 256
    # float32 a branchy float64 version made this pass cost half a GEMM pass.
    group_min = np.full((n_groups, m), np.inf, dtype=partial_t.dtype)
    inf = np.full(1, np.inf, dtype=partial_t.dtype)[0]
    for k in range(n_clusters):
        ck = c_sq[k]
        g = group_of[k]
        row = partial_t[k]
        mins = group_min[g]
        for r in range(m):
            value = row[r] + ck
            value = inf if chunk_labels[r] == k else value
            mins[r] = value if value < mins[r] else mins[r]
    inertia = 0.0
    n_changed = 0
    for r in range(m):
        label = chunk_labels[r]
        xx = np.float64(x_sq[r])
        dist = np.float64(best[r]) + xx
        if dist < 0.0:
            dist = 0.0
        tau = tau_coef * (xx + c_max_sq)
        i = rows[r]
        for g in range(n_groups):
            low_sq = np.float64(group_min[g, r]) + xx - tau
            lower[i, g] = _round_down_f32(math.sqrt(low_sq)) if low_sq > 0.0 else np.float32(0.0)
        w = weight[r] if weighted else 1.0
        n_changed += (labels[i] != label) & (w > 0.0)
        labels[i] = label
        counts[label] += w
        inertia += w * dist
        add_row(sums, label, X, r, w, weighted)
    return inertia, n_changed


@njit(**_OPTIONS)
def _gemm_rows(X_rows, weight_rows, x_sq_rows, rows, shift, C_neg2, C_neg2_t, c_sq, tau_coef,
               c_max_sq, group_of, labels, lower, sums, counts, buffers):
    """The GEMM and :func:`yinyang_full` for some rows (``rows`` index them in the block)."""
    shifted_buffer, wide, partial_flat = buffers
    partial_t = _partial(X_rows, shift, C_neg2, C_neg2_t, C_neg2_t.shape[0] > 0,
                         shifted_buffer, wide, partial_flat)
    return yinyang_full(partial_t, c_sq, x_sq_rows, X_rows, weight_rows, rows, tau_coef,
                        c_max_sq, group_of, labels, lower, sums, counts)


@njit(**_OPTIONS)
def _fails(lo, u, tau):
    """Whether a group whose bound is ``lo`` may hold a centre within ``tau`` of distance ``u``."""
    return not (lo > u and (lo - u) * (lo + u) > tau)


@njit(**_OPTIONS)
def _screen_row(X, i, a, x_sq, centers, lower, group_drift, tau_coef, c_max_sq, group_start):
    """The global filter for row ``i``: lowers its stored group bounds, tests them.

    Returns ``(keeps, d2, candidates)``: whether every bound clears
    ``‖x − c_a‖²`` by more than ``tau`` (the row keeps label ``a``), that exact
    squared distance, and how many centres the failing groups hold.
    """
    d2 = _sq_distance_lanes(X, i, centers, a)
    u = math.sqrt(d2)
    tau = tau_coef * (np.float64(x_sq[i]) + c_max_sq)
    keeps = True
    candidates = 0
    for g in range(group_drift.shape[0]):
        stored = _round_down_f32(np.float64(lower[i, g]) - group_drift[g])
        lower[i, g] = stored
        if _fails(np.float64(stored), u, tau):
            keeps = False
            candidates += group_start[g + 1] - group_start[g]
    return keeps, d2, candidates


#: Rows per GEMM of the group filter (rows of one group, gathered).
_GROUP_TILE = 128


@njit(**_OPTIONS)
def _group_filter(X, todo, n_todo, labels, own_sq, x_sq, lower, grouped, grouped_sq,
                  shift64, members, group_start, group_of, tau_coef, c_max_sq, best, best_d2,
                  second_d2):
    """Distances from the rows ``todo[:n_todo]`` to the centres of their failing groups.

    Group by group, so that a group's centres are read once per tile of its
    rows: the rows that need group ``g`` are gathered (shifted, float64) and
    multiplied with its centres by one float64 GEMM. ``‖x‖² − 2x·c + ‖c‖²`` in
    float64 rounds far below ``tau`` for float32 data; for float64 data its
    error on a difference is about the GEMM's own bound, which ``tau`` holds
    twice over (see ``kmeans_steps._Gemm``), so a gap above ``tau`` here is
    still above the GEMM's rounding. Fills ``best``, ``best_d2`` and
    ``second_d2`` (of every centre but the one found nearest) per listed row,
    and returns the computed (row, group) pairs with each group's nearest and
    second-nearest centre other than the row's old label: ``pair_row``,
    ``pair_group``, ``pair_d1``, ``pair_c1``, ``pair_d2``.
    """
    n_features = X.shape[1]
    n_groups = group_start.shape[0] - 1
    shifted = shift64.shape[0] > 0
    # The (row, group) pairs, grouped by group.
    per_group = np.zeros(n_groups + 1, dtype=np.int64)
    for t in range(n_todo):
        i = todo[t]
        u = math.sqrt(own_sq[i])
        tau = tau_coef * (np.float64(x_sq[i]) + c_max_sq)
        for g in range(n_groups):
            if _fails(np.float64(lower[i, g]), u, tau):
                per_group[g + 1] += 1
    for g in range(n_groups):
        per_group[g + 1] += per_group[g]
    n_pairs = per_group[n_groups]
    pair_row = np.empty(n_pairs, dtype=np.int64)
    pair_group = np.empty(n_pairs, dtype=np.int64)
    fill = per_group[:n_groups].copy()
    for t in range(n_todo):
        i = r = todo[t]
        u = math.sqrt(own_sq[i])
        tau = tau_coef * (np.float64(x_sq[i]) + c_max_sq)
        best[r] = labels[i]
        best_d2[r] = own_sq[r]
        second_d2[r] = np.inf
        for g in range(n_groups):
            if _fails(np.float64(lower[i, g]), u, tau):
                pair_row[fill[g]] = r
                pair_group[fill[g]] = g
                fill[g] += 1
    pair_d1 = np.full(n_pairs, np.inf)
    pair_c1 = np.full(n_pairs, -1, dtype=np.int64)
    pair_d2 = np.full(n_pairs, np.inf)
    largest = 0
    for g in range(n_groups):
        largest = max(largest, group_start[g + 1] - group_start[g])
    tile = np.empty((_GROUP_TILE, n_features))
    tile_sq = np.empty(_GROUP_TILE)
    products_flat = np.empty(largest * _GROUP_TILE)
    for g in range(n_groups):
        first, last = group_start[g], group_start[g + 1]
        size = last - first
        for p0 in range(per_group[g], per_group[g + 1], _GROUP_TILE):
            p1 = min(p0 + _GROUP_TILE, per_group[g + 1])
            nt = p1 - p0
            for t in range(nt):
                i = pair_row[p0 + t]
                norm = 0.0
                for j in range(n_features):
                    value = np.float64(X[i, j]) - shift64[j] if shifted else np.float64(X[i, j])
                    tile[t, j] = value
                    norm += value * value
                tile_sq[t] = norm
            products = products_flat[:size * nt].reshape((size, nt))
            np.dot(grouped[first:last], tile[:nt].T, products)
            for t in range(nt):
                p = p0 + t
                r = pair_row[p]
                a = labels[r]
                d1, c1, d2nd = np.inf, -1, np.inf
                for k in range(size):
                    c = members[first + k]
                    if c == a:
                        continue
                    d2 = max(tile_sq[t] - 2.0 * products[k, t] + grouped_sq[first + k], 0.0)
                    if d2 < d1:
                        d2nd = d1
                        d1, c1 = d2, c
                    elif d2 < d2nd:
                        d2nd = d2
                pair_d1[p], pair_c1[p], pair_d2[p] = d1, c1, d2nd
                if d1 < best_d2[r]:
                    second_d2[r] = min(best_d2[r], d2nd)
                    best[r], best_d2[r] = c1, d1
                else:
                    second_d2[r] = min(second_d2[r], d1)
    return pair_row, pair_group, pair_d1, pair_c1, pair_d2


@njit(**_OPTIONS)
def yinyang_gemm_block(X, weight, x_sq, centers, grouped, grouped_sq, members, group_start,
                       group_of, group_drift, labels, lower, tau_coef, c_max_sq, shift, C_neg2,
                       C_neg2_t, c_sq, sums, counts, chunk_size, direct_cost, fresh):
    """Yinyang's E-step for a block: global filter, group filter, GEMM for the rest.

    Chunk by chunk (``chunk_size`` rows, still in cache), each row's bounds are
    lowered and tested; rows that pass keep their label. When the rows that
    fail would need more than ``1 / direct_cost`` of the chunk's GEMM in
    distances (early iterations, while centres move far), the whole chunk goes
    through the GEMM at once. The other failing rows of the block then go
    through the group filter (:func:`_group_filter`); those whose nearest centre
    wins by more than ``tau`` take it and renewed bounds, the near ties are
    gathered for the GEMM.

    Parameters
    ----------
    X, weight, x_sq, labels, shift, C_neg2, C_neg2_t, c_sq, sums, counts, chunk_size
        As for :func:`mixfit.kernels.kmeans_gemm.hamerly_gemm_block`.
    centers : ndarray of shape (n_clusters, n_features), float64
        Current centres, unshifted.
    grouped : ndarray of shape (n_clusters, n_features), float64
        The same centres less ``shift``, in group order: group ``g`` is rows
        ``group_start[g]:group_start[g + 1]``, centre ``members[j]`` at row ``j``.
    grouped_sq : ndarray of shape (n_clusters,), float64
        Their squared norms.
    members, group_start, group_of : ndarray, int64
    group_drift : ndarray of shape (n_groups,), float64
        The largest move of a centre of each group since the bounds were set.
    lower : ndarray of shape (m, n_groups), float32
        Group bounds (``-inf`` where none yet), updated in place.
    tau_coef, c_max_sq : float
        The GEMM rounding bound, as for Hamerly's kernels.
    direct_cost : float
        What a distance computed by the group filter costs, in distances of the GEMM.
    fresh : bool
        No bounds yet (every one ``-inf``): every chunk goes through the GEMM
        without being screened.

    Returns
    -------
    inertia : float
    n_changed : int
    n_gemm : int
        Rows that went through the GEMM.
    n_direct : int
        Distances the group filter computed (each is ``1 / K`` of a GEMM row).
    """
    m, n_features = X.shape
    n_clusters = C_neg2.shape[0]
    n_groups = group_drift.shape[0]
    weighted = weight.shape[0] > 0
    rows_first = C_neg2_t.shape[0] > 0
    require(chunk_size >= 1 and x_sq.shape[0] == m and centers.shape[0] == n_clusters
            and centers.shape[1] == n_features and grouped.shape[0] == n_clusters
            and grouped.shape[1] == n_features and grouped_sq.shape[0] == n_clusters
            and C_neg2.shape[1] == n_features
            and members.shape[0] == n_clusters and group_of.shape[0] == n_clusters
            and group_start.shape[0] == n_groups + 1 and n_groups >= 1
            and (shift.shape[0] == 0 or shift.shape[0] == n_features)
            and (not rows_first or (C_neg2_t.shape[0] == n_features
                                    and C_neg2_t.shape[1] == n_clusters))
            and labels.shape[0] == m and lower.shape[0] == m and lower.shape[1] == n_groups
            and (not weighted or weight.shape[0] == m)
            and sums.shape[0] == n_clusters and sums.shape[1] == n_features
            and counts.shape[0] == n_clusters, "yinyang_gemm_block",
            "x_sq, labels, lower (m, G), weight of X's m rows; centers, grouped, sums and "
            "C_neg2 (K, d), C_neg2_t (d, K) or empty, shift (d,) or empty; members, group_of, "
            "grouped_sq, counts (K,); group_start (G + 1,), group_drift (G,)")
    require(group_start[0] == 0 and group_start[n_groups] == n_clusters, "yinyang_gemm_block",
            "group_start must run from 0 to K")
    for g in range(n_groups):
        require(group_start[g] <= group_start[g + 1], "yinyang_gemm_block",
                "group_start must not decrease")
    for k in range(n_clusters):
        require(0 <= members[k] < n_clusters and 0 <= group_of[k] < n_groups, "yinyang_gemm_block",
                "members in [0, K) and group_of in [0, G)")
    # A label out of range would index centers, sums and counts outside them.
    require(labels_in_range(labels, n_clusters), "yinyang_gemm_block",
            "labels must lie in [0, K)")
    rows = max(1, min(chunk_size, m))
    keeps = np.empty(rows, dtype=np.bool_)
    own_sq = np.empty(m)
    todo = np.empty(m, dtype=np.int64)
    chunk_rows = np.empty(rows, dtype=np.int64)
    buffers = gemm_buffers(X, shift, rows, n_clusters, rows_first)
    inertia = 0.0
    n_changed = 0
    n_todo = 0
    n_gemm = 0
    n_direct = 0
    for start in range(0, m, chunk_size):
        stop = min(start + chunk_size, m)
        count = stop - start
        candidates = 0
        if not fresh:
            for r in range(count):
                i = start + r
                keep, d2, row_candidates = _screen_row(
                    X, i, labels[i], x_sq, centers, lower, group_drift, tau_coef, c_max_sq,
                    group_start)
                keeps[r] = keep
                own_sq[i] = d2
                candidates += row_candidates
        if fresh or direct_cost * candidates > count * n_clusters:
            n_gemm += count
            for r in range(count):
                chunk_rows[r] = start + r
            chunk_inertia, chunk_changed = _gemm_rows(
                X[start:stop], weight[start:stop] if weighted else weight, x_sq[start:stop],
                chunk_rows[:count], shift, C_neg2, C_neg2_t, c_sq, tau_coef, c_max_sq,
                group_of, labels, lower, sums, counts, buffers)
            inertia += chunk_inertia
            n_changed += chunk_changed
            continue
        n_direct += candidates
        for r in range(count):
            i = start + r
            if not keeps[r]:
                todo[n_todo] = i
                n_todo += 1
                continue
            w = weight[i] if weighted else 1.0
            a = labels[i]
            counts[a] += w
            inertia += w * own_sq[i]
            add_row(sums, a, X, i, w, weighted)
    if n_todo == 0:
        return inertia, n_changed, n_gemm, n_direct
    shift64 = np.empty(shift.shape[0])
    for j in range(shift.shape[0]):
        shift64[j] = shift[j]
    best = np.empty(m, dtype=np.int64)
    best_d2 = np.empty(m)
    second_d2 = np.empty(m)
    pair_row, pair_group, pair_d1, pair_c1, pair_d2 = _group_filter(
        X, todo, n_todo, labels, own_sq, x_sq, lower, grouped, grouped_sq, shift64,
        members, group_start, group_of, tau_coef, c_max_sq, best, best_d2, second_d2)
    # Rows whose nearest centre does not win by tau go to the GEMM; the others
    # get their group bounds renewed (before labels change: the pairs hold the
    # nearest centres other than the old label).
    decided = np.zeros(m, dtype=np.bool_)
    for t in range(n_todo):
        i = todo[t]
        tau = tau_coef * (np.float64(x_sq[i]) + c_max_sq)
        decided[i] = second_d2[i] - best_d2[i] > tau
    old_group_done = np.zeros(m, dtype=np.bool_)
    for p in range(pair_row.shape[0]):
        i = pair_row[p]
        if not decided[i]:
            continue
        g = pair_group[p]
        a = labels[i]
        value = pair_d2[p] if pair_c1[p] == best[i] else pair_d1[p]
        if g == group_of[a]:
            old_group_done[i] = True
            if best[i] != a:  # the old centre is one of the group's others now
                value = min(value, own_sq[i])
        lower[i, g] = _round_down_f32(math.sqrt(value)) if value < np.inf else np.float32(np.inf)
    n_gathered = 0
    gathered = np.empty((rows, n_features), dtype=X.dtype)
    gathered_sq = np.empty(rows, dtype=x_sq.dtype)
    gathered_weight = np.empty(rows if weighted else 0)
    gathered_rows = np.empty(rows, dtype=np.int64)
    for t in range(n_todo):
        i = todo[t]
        w = weight[i] if weighted else 1.0
        if decided[i]:
            a = labels[i]
            label = best[i]
            if label != a and not old_group_done[i]:
                g = group_of[a]
                lower[i, g] = min(lower[i, g], _round_down_f32(math.sqrt(own_sq[i])))
            n_changed += (label != a) & (w > 0.0)
            labels[i] = label
            counts[label] += w
            inertia += w * best_d2[i]
            add_row(sums, label, X, i, w, weighted)
            continue
        gathered[n_gathered] = X[i]
        gathered_sq[n_gathered] = x_sq[i]
        if weighted:
            gathered_weight[n_gathered] = w
        gathered_rows[n_gathered] = i
        n_gathered += 1
        if n_gathered == rows:
            n_gemm += n_gathered
            chunk_inertia, chunk_changed = _gemm_rows(
                gathered[:n_gathered], gathered_weight[:n_gathered] if weighted else weight,
                gathered_sq[:n_gathered], gathered_rows[:n_gathered], shift, C_neg2, C_neg2_t,
                c_sq, tau_coef, c_max_sq, group_of, labels, lower, sums, counts, buffers)
            inertia += chunk_inertia
            n_changed += chunk_changed
            n_gathered = 0
    if n_gathered > 0:
        n_gemm += n_gathered
        chunk_inertia, chunk_changed = _gemm_rows(
            gathered[:n_gathered], gathered_weight[:n_gathered] if weighted else weight,
            gathered_sq[:n_gathered], gathered_rows[:n_gathered], shift, C_neg2, C_neg2_t,
            c_sq, tau_coef, c_max_sq, group_of, labels, lower, sums, counts, buffers)
        inertia += chunk_inertia
        n_changed += chunk_changed
    return inertia, n_changed, n_gemm, n_direct


@njit(parallel=True, **_OPTIONS)
def yinyang_gemm_blocks(X, starts, weight, x_sq, centers, grouped, grouped_sq, members,
                        group_start,
                        group_of, group_drift, labels, lower, tau_coef, c_max_sq, shift,
                        C_neg2, C_neg2_t, c_sq, sums, counts, inertia, n_changed, n_gemm,
                        n_direct, chunk_size, direct_cost, fresh):
    """:func:`yinyang_gemm_block` for the blocks ``starts[b]:starts[b + 1]``, on numba's threads.

    As :func:`mixfit.kernels.kmeans_gemm.hamerly_gemm_blocks`, with block
    ``b``'s GEMM rows and direct distances in ``n_gemm[b]`` and ``n_direct[b]``.
    """
    n_blocks = starts.shape[0] - 1
    check_blocks("yinyang_gemm_blocks", X.shape[0], starts, sums, counts, inertia, n_changed)
    require(n_gemm.shape[0] == n_blocks and n_direct.shape[0] == n_blocks
            and labels.shape[0] == X.shape[0] and lower.shape[0] == X.shape[0]
            and labels_in_range(labels, C_neg2.shape[0]), "yinyang_gemm_blocks",
            "n_gemm and n_direct with one entry per block; labels and lower of X's rows, "
            "labels in [0, K)")
    for b in prange(n_blocks):
        lo, hi = starts[b], starts[b + 1]
        block_inertia, block_changed, block_gemm, block_direct = yinyang_gemm_block(
            np.ascontiguousarray(X[lo:hi]), weight[lo:hi], x_sq[lo:hi], centers, grouped,
            grouped_sq, members, group_start, group_of, group_drift, labels[lo:hi], lower[lo:hi], tau_coef,
            c_max_sq, shift, C_neg2, C_neg2_t, c_sq, sums[b], counts[b], chunk_size,
            direct_cost, fresh)
        inertia[b] = block_inertia
        n_changed[b] = block_changed
        n_gemm[b] = block_gemm
        n_direct[b] = block_direct
