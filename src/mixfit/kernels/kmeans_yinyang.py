"""numba kernels of Yinyang's pruned K-means E-step (Ding et al., ICML 2015).

The centres are cut once per fit into groups (centres close to each other);
each row keeps its label and, per group, a float32 lower bound on its distance
to every centre of the group but its own, rounded *down*. After the centres
move, a group's bound drops by the largest move in the group; rather than
lowering n × G stored bounds at every call, a bound is stored plus the group's
running total of those moves at the time it was set (``drift_total``), and read
back less the total now: the same bound, and a row that keeps its label
writes nothing. A row whose every group bound beats its exact distance to its
own centre keeps it (the global filter); otherwise only the groups whose bound
does not are computed (the group filter), by small GEMMs in the data's dtype
with the arithmetic of the full pass's. Where Hamerly's single bound
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
from mixfit.kernels.kmeans import (_argmin_columns, _round_down_f32, add_row, labels_in_range,
                                   row_sq_norm)
from mixfit.kernels.kmeans_gemm import _partial, gather_row, gemm_buffers

__all__ = ["yinyang_full", "yinyang_gemm_block", "yinyang_gemm_blocks"]

_OPTIONS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")


@njit(**_OPTIONS)
def yinyang_full(partial_t, c_sq, x_sq, X, weight, rows, tau_coef, c_max_sq, group_of,
                 drift_total, labels, lower, sums, counts):
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
    drift_total : ndarray of shape (n_groups,), float64
        Each group's running total of moves, added to the bounds stored.
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
            and counts.shape[0] == n_clusters and drift_total.shape[0] == n_groups,
            "yinyang_full", "partial_t (K, m), c_sq, group_of and counts (K,), sums (K, d), "
            "drift_total (G,), and m gathered rows")
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
            low = math.sqrt(low_sq) if low_sq > 0.0 else 0.0
            lower[i, g] = _round_down_f32(low + drift_total[g])
        w = weight[r] if weighted else 1.0
        n_changed += (labels[i] != label) & (w > 0.0)
        labels[i] = label
        counts[label] += w
        inertia += w * dist
        add_row(sums, label, X, r, w, weighted)
    return inertia, n_changed


@njit(**_OPTIONS)
def _gemm_rows(X_rows, weight_rows, x_sq_rows, rows, shift, C_neg2, C_neg2_t, c_sq, tau_coef,
               c_max_sq, group_of, drift_total, labels, lower, sums, counts, buffers):
    """The GEMM and :func:`yinyang_full` for some rows (``rows`` index them in the block)."""
    shifted_buffer, wide, partial_flat = buffers
    partial_t = _partial(X_rows, shift, C_neg2, C_neg2_t, C_neg2_t.shape[0] > 0,
                         shifted_buffer, wide, partial_flat)
    return yinyang_full(partial_t, c_sq, x_sq_rows, X_rows, weight_rows, rows, tau_coef,
                        c_max_sq, group_of, drift_total, labels, lower, sums, counts)


@njit(**_OPTIONS)
def _fails(lo, u, tau):
    """Whether a group whose bound is ``lo`` may hold a centre within ``tau`` of distance ``u``."""
    return not (lo > u and (lo - u) * (lo + u) > tau)


@njit(**_OPTIONS)
def _screen_row(X, i, a, x_sq, centers, lower, drift_total, tau_coef, c_max_sq, group_sizes,
                scratch):
    """The global filter for row ``i``: tests its group bounds against its own centre.

    Returns ``(d2, candidates)``: the exact squared distance ``‖x − c_a‖²``
    and how many centres the groups whose bound does not clear it by more than
    ``tau`` hold (none: the row keeps label ``a``). Nothing is written, and
    the loop over groups has no branch, so that it vectorises: lowering and
    storing every bound here, branch by branch, took 100 ns a row at 64
    features and 26 groups, a third of a GEMM row. The distance is summed in
    the order the compiler vectorises (:func:`~mixfit.kernels.kmeans.row_sq_norm`):
    no label depends on it, whose margin ``tau`` is the GEMM's rounding
    bound; four scalar partial sums cost 1.4 µs a row at 784 features.
    """
    d2 = row_sq_norm(X, i, centers[a:a + 1], scratch)
    u = math.sqrt(d2)
    tau = tau_coef * (np.float64(x_sq[i]) + c_max_sq)
    candidates = 0
    for g in range(drift_total.shape[0]):
        lo = np.float64(lower[i, g]) - drift_total[g]
        clear = (lo > u) & ((lo - u) * (lo + u) > tau)
        candidates += 0 if clear else group_sizes[g]
    return d2, candidates


@njit(nogil=True, cache=True, error_model="numpy", fastmath={"reassoc"})
def _sq_distances4(x, centers, k):
    """``‖x − c_j‖²`` for the centres ``j = k, ..., k + 3``, in x's dtype.

    Four centres at once, so that four independent sums run in the vector
    units, each summed in the order the compiler vectorises (``reassoc``: it
    depends on the number of features and the machine, never the thread
    count). In float32 at 784 features a distance took 48 ns, one at a time
    in float64 from float64 centres 105 ns (their K × d no longer fit in L2).
    """
    s0 = s1 = s2 = s3 = x[0] - x[0]
    for j in range(x.shape[0]):
        xj = x[j]
        t0 = xj - centers[k, j]
        t1 = xj - centers[k + 1, j]
        t2 = xj - centers[k + 2, j]
        t3 = xj - centers[k + 3, j]
        s0 += t0 * t0
        s1 += t1 * t1
        s2 += t2 * t2
        s3 += t3 * t3
    return np.float64(s0), np.float64(s1), np.float64(s2), np.float64(s3)


@njit(nogil=True, cache=True, error_model="numpy", fastmath={"reassoc"})
def _sq_distance1(x, centers, k):
    """``‖x − c_k‖²`` in x's dtype (see :func:`_sq_distances4`)."""
    s = x[0] - x[0]
    for j in range(x.shape[0]):
        t = x[j] - centers[k, j]
        s += t * t
    return np.float64(s)


@njit(**_OPTIONS)
def _nearest_two(d2, c, a, d1, c1, d2nd):
    """``(d1, c1, d2nd)`` with centre ``c`` at ``d2`` taken in, unless it is the label ``a``.

    Selects, not branches: which centre of a group is nearest is as good as
    random. Whole fits, 100,000 rows, 20 iterations, 2 threads, ms, branches /
    selects: float32 64 × 256 296-316 / 268-281, 64 × 1,024 871-933 /
    756-841; float64 32 × 256 296 / 284-286.
    """
    d2 = np.inf if c == a else d2
    nearer = d2 < d1
    return (d2 if nearer else d1), (c if nearer else c1), (d1 if nearer else min(d2, d2nd))


@njit(**_OPTIONS)
def _filter_row(X, i, a, own_sq, tau, lower, drift_total, grouped, members, group_start,
                group_of, shift, x_row, failing, near_d1, near_c1, near_d2):
    """The group filter for row ``i`` (label ``a``): its failing groups, centre by centre.

    The distances to the centres of each group whose bound does not clear
    ``‖x − c_a‖`` are computed directly, ``(x − c)²`` from the GEMM's operands
    (the row less ``shift`` in X's dtype, the centres as the GEMM rounds them),
    while the row is still in cache from the global filter. Their rounding is
    far below the GEMM's bound on a difference, which ``tau`` holds twice over
    (see ``kmeans_steps._Gemm``): when the nearest centre beats every other by
    more than ``tau``, the GEMM would pick it too; the row is decided and its
    bounds for those groups renewed (less ``tau``, for that rounding). A near
    tie leaves the bounds to the GEMM. Gathering (row, group) pairs for small
    GEMMs by group instead cost 21 ns a distance at 64 features and 106 at
    784 (the gathers, two passes over the bounds, the GEMMs' bookkeeping),
    against 5 and 48 here.

    ``x_row`` (n_features, X's dtype) and ``failing``, ``near_d1``,
    ``near_c1``, ``near_d2`` (n_groups each) are scratch.

    Returns
    -------
    decided : bool
    best : int
        The nearest centre (when decided).
    best_d2 : float
        Its squared distance.
    n_computed : int
        Distances computed.
    """
    n_groups = group_start.shape[0] - 1
    if shift.shape[0] > 0:
        for j in range(x_row.shape[0]):
            x_row[j] = X[i, j] - shift[j]
    else:
        for j in range(x_row.shape[0]):
            x_row[j] = X[i, j]
    u = math.sqrt(own_sq)
    best, best_d2, second_d2 = a, own_sq, np.inf
    # The computed groups, each with its nearest and second-nearest centre other than a.
    n_failing = 0
    n_computed = 0
    for g in range(n_groups):
        if not _fails(np.float64(lower[i, g]) - drift_total[g], u, tau):
            continue
        d1, c1, d2nd = np.inf, -1, np.inf
        k, last = group_start[g], group_start[g + 1]
        while k + 4 <= last:
            e0, e1, e2, e3 = _sq_distances4(x_row, grouped, k)
            d1, c1, d2nd = _nearest_two(e0, members[k], a, d1, c1, d2nd)
            d1, c1, d2nd = _nearest_two(e1, members[k + 1], a, d1, c1, d2nd)
            d1, c1, d2nd = _nearest_two(e2, members[k + 2], a, d1, c1, d2nd)
            d1, c1, d2nd = _nearest_two(e3, members[k + 3], a, d1, c1, d2nd)
            k += 4
        while k < last:
            d1, c1, d2nd = _nearest_two(_sq_distance1(x_row, grouped, k), members[k], a,
                                        d1, c1, d2nd)
            k += 1
        n_computed += last - group_start[g]
        failing[n_failing] = g
        near_d1[n_failing], near_c1[n_failing], near_d2[n_failing] = d1, c1, d2nd
        n_failing += 1
        if d1 < best_d2:
            second_d2 = min(best_d2, d2nd)
            best, best_d2 = c1, d1
        else:
            second_d2 = min(second_d2, d1)
    if not second_d2 - best_d2 > tau:
        return False, best, best_d2, n_computed
    # Renew the computed groups' bounds (of the centres other than the new label).
    own_group = group_of[a]
    own_group_done = False
    for f in range(n_failing):
        g = failing[f]
        value = (near_d2[f] if near_c1[f] == best else near_d1[f]) - tau
        if g == own_group:
            own_group_done = True
            if best != a:  # the old centre is one of the group's others now
                value = min(value, own_sq)
        low = math.sqrt(value) if value > 0.0 else 0.0
        lower[i, g] = (_round_down_f32(low + drift_total[g]) if value < np.inf
                       else np.float32(np.inf))
    if best != a and not own_group_done:
        lower[i, own_group] = min(lower[i, own_group],
                                  _round_down_f32(math.sqrt(own_sq) + drift_total[own_group]))
    return True, best, best_d2, n_computed


@njit(**_OPTIONS)
def yinyang_gemm_block(X, weight, x_sq, centers, grouped, members, group_start,
                       group_of, drift_total, labels, lower, tau_coef, c_max_sq, shift, C_neg2,
                       C_neg2_t, c_sq, sums, counts, chunk_size, direct_cost, fresh):
    """Yinyang's E-step for a block: global filter, group filter, GEMM for the rest.

    Chunk by chunk (``chunk_size`` rows, still in cache), each row's bounds are
    tested (:func:`_screen_row`); rows that pass keep their label. When the
    rows that fail would need more than ``1 / direct_cost`` of the chunk's GEMM
    in distances (early iterations, while centres move far), the whole chunk
    goes through the GEMM at once. Otherwise each failing row goes through the
    group filter (:func:`_filter_row`) while still in cache; those whose
    nearest centre wins by more than ``tau`` take it and renewed bounds, the
    near ties are gathered for the GEMM.

    Parameters
    ----------
    X, weight, x_sq, labels, shift, C_neg2, C_neg2_t, c_sq, sums, counts, chunk_size
        As for :func:`mixfit.kernels.kmeans_gemm.hamerly_gemm_block`.
    centers : ndarray of shape (n_clusters, n_features), float64
        Current centres, unshifted.
    grouped : ndarray of shape (n_clusters, n_features), X's dtype
        The GEMM's centres ``c − shift`` (``C_neg2 / −2``) in group order:
        group ``g`` is rows ``group_start[g]:group_start[g + 1]``, centre
        ``members[j]`` at row ``j``.
    members, group_start, group_of : ndarray, int64
    drift_total : ndarray of shape (n_groups,), float64
        Each group's running total of its largest move per call: a stored
        bound less it is the bound now.
    lower : ndarray of shape (m, n_groups), float32
        Group bounds plus the drift total when they were set (``-inf`` where
        none yet), updated in place.
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
    n_groups = drift_total.shape[0]
    weighted = weight.shape[0] > 0
    rows_first = C_neg2_t.shape[0] > 0
    require(chunk_size >= 1 and x_sq.shape[0] == m and centers.shape[0] == n_clusters
            and centers.shape[1] == n_features and grouped.shape[0] == n_clusters
            and grouped.shape[1] == n_features
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
            "x_sq, labels, lower (m, G), weight of X's m rows; centers, grouped, sums "
            "and C_neg2 (K, d), C_neg2_t (d, K) or empty, shift (d,) or empty; members, "
            "group_of, counts (K,); group_start (G + 1,), drift_total (G,)")
    require(group_start[0] == 0 and group_start[n_groups] == n_clusters, "yinyang_gemm_block",
            "group_start must run from 0 to K")
    group_sizes = np.empty(n_groups, dtype=np.int64)
    for g in range(n_groups):
        group_sizes[g] = group_start[g + 1] - group_start[g]
        require(group_sizes[g] >= 0, "yinyang_gemm_block", "group_start must not decrease")
    for k in range(n_clusters):
        require(0 <= members[k] < n_clusters and 0 <= group_of[k] < n_groups, "yinyang_gemm_block",
                "members in [0, K) and group_of in [0, G)")
    # A label out of range would index centers, sums and counts outside them.
    require(labels_in_range(labels, n_clusters), "yinyang_gemm_block",
            "labels must lie in [0, K)")
    rows = max(1, min(chunk_size, m))
    candidates_of = np.empty(rows, dtype=np.int64)
    own_sq = np.empty(rows)
    scratch = np.empty(n_features, dtype=X.dtype)
    x_row = np.empty(n_features, dtype=X.dtype)
    failing = np.empty(n_groups, dtype=np.int64)
    near_c1 = np.empty(n_groups, dtype=np.int64)
    near_d1 = np.empty(n_groups)
    near_d2 = np.empty(n_groups)
    chunk_rows = np.empty(rows, dtype=np.int64)
    buffers = gemm_buffers(X, shift, rows, n_clusters, rows_first)
    # Near ties, gathered for the GEMM.
    n_gathered = 0
    gathered = np.empty((rows, n_features), dtype=X.dtype)
    gathered_sq = np.empty(rows, dtype=x_sq.dtype)
    gathered_weight = np.empty(rows if weighted else 0)
    gathered_rows = np.empty(rows, dtype=np.int64)
    inertia = 0.0
    n_changed = 0
    n_gemm = 0
    n_direct = 0
    for start in range(0, m, chunk_size):
        stop = min(start + chunk_size, m)
        count = stop - start
        candidates = 0
        if not fresh:
            for r in range(count):
                i = start + r
                own_sq[r], candidates_of[r] = _screen_row(
                    X, i, labels[i], x_sq, centers, lower, drift_total, tau_coef, c_max_sq,
                    group_sizes, scratch)
                candidates += candidates_of[r]
        if fresh or direct_cost * candidates > count * n_clusters:
            n_gemm += count
            for r in range(count):
                chunk_rows[r] = start + r
            chunk_inertia, chunk_changed = _gemm_rows(
                X[start:stop], weight[start:stop] if weighted else weight, x_sq[start:stop],
                chunk_rows[:count], shift, C_neg2, C_neg2_t, c_sq, tau_coef, c_max_sq,
                group_of, drift_total, labels, lower, sums, counts, buffers)
            inertia += chunk_inertia
            n_changed += chunk_changed
            continue
        for r in range(count):
            i = start + r
            w = weight[i] if weighted else 1.0
            a = labels[i]
            label, d2 = a, own_sq[r]
            if candidates_of[r] > 0:
                tau = tau_coef * (np.float64(x_sq[i]) + c_max_sq)
                decided, label, d2, n_computed = _filter_row(
                    X, i, a, own_sq[r], tau, lower, drift_total, grouped, members,
                    group_start, group_of, shift, x_row, failing, near_d1, near_c1, near_d2)
                n_direct += n_computed
                if not decided:
                    n_gathered = gather_row(X, x_sq, i, w, weighted, gathered, gathered_sq,
                                            gathered_weight, gathered_rows, n_gathered)
                    if n_gathered == rows:
                        n_gemm += n_gathered
                        chunk_inertia, chunk_changed = _gemm_rows(
                            gathered, gathered_weight if weighted else weight, gathered_sq,
                            gathered_rows, shift, C_neg2, C_neg2_t, c_sq, tau_coef, c_max_sq,
                            group_of, drift_total, labels, lower, sums, counts, buffers)
                        inertia += chunk_inertia
                        n_changed += chunk_changed
                        n_gathered = 0
                    continue
            n_changed += (label != a) & (w > 0.0)
            labels[i] = label
            counts[label] += w
            inertia += w * d2
            add_row(sums, label, X, i, w, weighted)
    if n_gathered > 0:
        n_gemm += n_gathered
        chunk_inertia, chunk_changed = _gemm_rows(
            gathered[:n_gathered], gathered_weight[:n_gathered] if weighted else weight,
            gathered_sq[:n_gathered], gathered_rows[:n_gathered], shift, C_neg2, C_neg2_t,
            c_sq, tau_coef, c_max_sq, group_of, drift_total, labels, lower, sums, counts,
            buffers)
        inertia += chunk_inertia
        n_changed += chunk_changed
    return inertia, n_changed, n_gemm, n_direct


@njit(parallel=True, **_OPTIONS)
def yinyang_gemm_blocks(X, starts, weight, x_sq, centers, grouped, members, group_start,
                        group_of, drift_total, labels, lower, tau_coef, c_max_sq, shift,
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
            np.ascontiguousarray(X[lo:hi]), weight[lo:hi], x_sq[lo:hi], centers, grouped, members,
            group_start, group_of, drift_total, labels[lo:hi], lower[lo:hi], tau_coef, c_max_sq,
            shift, C_neg2, C_neg2_t, c_sq, sums[b], counts[b], chunk_size, direct_cost, fresh)
        inertia[b] = block_inertia
        n_changed[b] = block_changed
        n_gemm[b] = block_gemm
        n_direct[b] = block_direct
