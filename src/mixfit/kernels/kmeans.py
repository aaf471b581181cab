"""numba kernels of the K-means E-step (private; inputs are validated upstream, and
each kernel checks the shapes it indexes, see :mod:`mixfit.kernels.checks`).

Each kernel makes one pass over a chunk of rows that is already in cache: the
distance GEMM is done by numpy just before, in the data's dtype, and the kernel
turns its ``(n_clusters, rows)`` block into labels and the additive statistics
(weighted counts, weighted sums in float64, inertia). Compiled with
``fastmath=False`` so that the arithmetic is the one written: the labels equal
``np.argmin`` of the same block (lowest index on ties), bit for bit.

The kernels keep what a fit holds per row small: labels are int32 and written
in place, counting the rows whose label changed (so no copy of the previous
labels is needed to detect convergence), and per-row distances are written only
when asked for.

Hamerly's pruning (:func:`hamerly_screen`) keeps one lower bound per row on the
distance to every centre but its own, in float32 rounded *down* (a smaller lower
bound only prunes less); the upper bound is recomputed exactly each iteration
(O(n_features) per row, cheap next to the GEMM it saves). A row is skipped only
when the bounds prove that the GEMM would pick the same centre *including its
rounding*: the gap of squared distances must exceed a bound ``tau`` on the
GEMM's rounding error, so pruned and unpruned fits give the same labels.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from mixfit.kernels.checks import require

__all__ = ["hamerly_full", "hamerly_row_test", "hamerly_screen", "lloyd_chunk", "lloyd_chunk_norms",
           "nearest_two_columns", "row_sq_norms"]

_OPTIONS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")

# Relative margin that makes a float64 bound safe to store in float32: float32
# rounds to nearest with a relative error below 2**-24 (6e-8), so moving the
# value by 1e-6 towards −∞ first keeps the stored bound below the true one.
_DOWN = 1e-6


@njit(**_OPTIONS)
def _round_down_f32(value):
    """A float32 not above ``value`` (and within 1e-6 relative of it)."""
    if value > 0.0:
        return np.float32(value * (1.0 - _DOWN))
    return np.float32(value * (1.0 + _DOWN))


@njit(**_OPTIONS)
def _argmin_columns(partial_t, c_sq):
    """Per column of ``partial_t + c_sq[:, None]``: the lowest index of the minimum, and it.

    Scans the centres in the outer loop so that the inner loop runs along
    contiguous rows with no dependency between lanes (it vectorises); the
    strict ``<`` keeps the first minimum, as ``np.argmin`` does.
    """
    n_clusters, m = partial_t.shape
    best = partial_t[0] + c_sq[0]
    labels = np.zeros(m, dtype=np.int32)
    for k in range(1, n_clusters):
        ck = c_sq[k]
        row = partial_t[k]
        for i in range(m):
            value = row[i] + ck
            current = best[i]
            smaller = value < current
            best[i] = value if smaller else current
            labels[i] = k if smaller else labels[i]
    return labels, best


@njit(**_OPTIONS)
def nearest_two_columns(partial_t, c_sq):
    """Per column of ``partial_t + c_sq[:, None]``: the lowest index of the minimum,
    the minimum, and the smallest value of the other rows (the second smallest).

    As :func:`_argmin_columns` (centres in the outer loop, strict ``<``), keeping
    the runner-up too: Hamerly's lower bounds start from it.
    """
    n_clusters, m = partial_t.shape
    best = partial_t[0] + c_sq[0]
    second = np.full(m, np.inf, dtype=best.dtype)
    labels = np.zeros(m, dtype=np.int32)
    for k in range(1, n_clusters):
        ck = c_sq[k]
        row = partial_t[k]
        for r in range(m):
            value = row[r] + ck
            current = best[r]
            smaller = value < current
            second[r] = current if smaller else min(value, second[r])
            best[r] = value if smaller else current
            labels[r] = k if smaller else labels[r]
    return labels, best, second


@njit(**_OPTIONS)
def lloyd_chunk(partial_t, c_sq, x_sq, X, weight, labels, min_sq_dist, sums, counts,
                changes_only=False):
    """Fused argmin and statistics of one chunk.

    Parameters
    ----------
    partial_t : ndarray of shape (n_clusters, m), X's dtype
        ``(−2 c) · (x − shift)`` from the GEMM (centres along the rows).
    c_sq : ndarray of shape (n_clusters,), X's dtype
        ``‖c − shift‖²``.
    x_sq : ndarray of shape (m,), X's dtype
        ``‖x − shift‖²``.
    X : ndarray of shape (m, n_features)
        The rows themselves (unshifted), summed into ``sums``.
    weight : ndarray of shape (m,) or (0,), float64
        Sample weights; empty means all ones.
    labels : ndarray of shape (m,), int32 or int64
        Previous labels on entry (any value where there were none), the new
        ones on exit.
    min_sq_dist : ndarray of shape (m,) or (0,), float64
        Squared distance to the nearest centre, written unless empty.
    sums, counts : ndarray of shape (n_clusters, n_features) / (n_clusters,), float64
        Accumulated into. ``sums`` of shape ``(0, n_features)`` means none
        wanted (see :func:`add_rows_by_label`).
    changes_only : bool
        ``labels`` hold every row's previous label, and ``sums`` and
        ``counts`` get the change of the statistics: for each row whose
        label changes, its weight and weighted row out of its old cluster and
        into its new one (rows that keep theirs add nothing); the caller
        checks the labels (:func:`labels_in_range`).

    Returns
    -------
    inertia : float
        Weighted sum of the chunk's squared distances.
    n_changed : int
        Rows with positive weight whose label changed.
    """
    n_clusters, m = partial_t.shape
    n_features = X.shape[1]
    weighted = weight.shape[0] > 0
    keep_dist = min_sq_dist.shape[0] > 0
    require(n_clusters >= 1 and c_sq.shape[0] == n_clusters and x_sq.shape[0] == m
            and X.shape[0] == m and labels.shape[0] == m
            and (not weighted or weight.shape[0] == m)
            and (not keep_dist or min_sq_dist.shape[0] == m), "lloyd_chunk",
            "partial_t (K, m) with c_sq (K,), and x_sq, X, labels, weight, min_sq_dist of m rows")
    with_sums = sums.shape[0] > 0
    require((sums.shape[0] == n_clusters or not with_sums) and sums.shape[1] == n_features
            and counts.shape[0] == n_clusters, "lloyd_chunk", "sums (K, d) or (0, d), counts (K,)")
    chunk_labels, best = _argmin_columns(partial_t, c_sq)
    inertia = 0.0
    n_changed = 0
    for i in range(m):
        label = chunk_labels[i]
        dist = np.float64(best[i]) + np.float64(x_sq[i])
        if dist < 0.0:
            dist = 0.0
        # A changed row's move, written out here as in lloyd_direct and
        # lloyd_simd_block: a helper taking the arrays, even inlined by numba,
        # added reference counting per array per row (6 -> 47 ns a row; a
        # helper for the counts and sums below took 64 × 8 float32 fits from
        # 28 to 36 ms). The plain pass's statistics are one call per chunk
        # (add_rows_in_order), after this loop.
        w = weight[i] if weighted else 1.0
        previous = labels[i]
        n_changed += (previous != label) & (w > 0.0)
        labels[i] = label
        if keep_dist:
            min_sq_dist[i] = dist
        inertia += w * dist
        if changes_only and previous != label:
            counts[previous] -= w
            counts[label] += w
            if with_sums:
                subtract_row(sums, previous, X, i, w, weighted)
                add_row(sums, label, X, i, w, weighted)
    if not changes_only:
        add_rows_in_order(X, chunk_labels, weight, sums, counts)
    return inertia, n_changed


@njit(**_OPTIONS)
def lloyd_chunk_norms(partial_t, c_sq, shift, X, weight, labels, min_sq_dist, sums, counts,
                      changes_only=False):
    """:func:`lloyd_chunk` computing each row's ``‖x − shift‖²`` itself, in float64
    (``changes_only`` as there).

    For fits that keep no per-row norms (data larger than memory): the row is
    in cache for its sums anyway, where a separate numpy pass over a few
    features would cost more than the distance GEMM. ``shift`` (float64) empty
    means none. The labels are those of :func:`lloyd_chunk` (the argmin does
    not involve ``‖x‖²``); distances and inertia differ by rounding only.
    """
    n_clusters, m = partial_t.shape
    n_features = X.shape[1]
    weighted = weight.shape[0] > 0
    keep_dist = min_sq_dist.shape[0] > 0
    shifted = shift.shape[0] > 0
    require(n_clusters >= 1 and c_sq.shape[0] == n_clusters and X.shape[0] == m
            and labels.shape[0] == m and (not shifted or shift.shape[0] == n_features)
            and (not weighted or weight.shape[0] == m)
            and (not keep_dist or min_sq_dist.shape[0] == m), "lloyd_chunk_norms",
            "partial_t (K, m) with c_sq (K,), X, labels, weight, min_sq_dist of m rows")
    with_sums = sums.shape[0] > 0
    require((sums.shape[0] == n_clusters or not with_sums) and sums.shape[1] == n_features
            and counts.shape[0] == n_clusters, "lloyd_chunk_norms",
            "sums (K, d) or (0, d), counts (K,)")
    chunk_labels, best = _argmin_columns(partial_t, c_sq)
    # The shift as a (1, n_features) "centre" for row_sq_norm (zeros if none).
    origin = np.zeros((1, n_features))
    scratch = np.empty(n_features, dtype=X.dtype)
    if shifted:
        origin[0] = shift
    inertia = 0.0
    n_changed = 0
    for i in range(m):
        label = chunk_labels[i]
        w = weight[i] if weighted else 1.0
        previous = labels[i]
        if changes_only and previous != label:
            counts[previous] -= w
            counts[label] += w
            if with_sums:
                subtract_row(sums, previous, X, i, w, weighted)
                add_row(sums, label, X, i, w, weighted)
        # Two loops over the row (it is in cache): one running sum for the norm
        # in the sums' loop kept both from vectorising (1 µs a row at d = 784).
        norm = row_sq_norm(X, i, origin, scratch)
        dist = np.float64(best[i]) + norm
        if dist < 0.0:
            dist = 0.0
        n_changed += (previous != label) & (w > 0.0)
        labels[i] = label
        if keep_dist:
            min_sq_dist[i] = dist
        inertia += w * dist
    if not changes_only:
        add_rows_in_order(X, chunk_labels, weight, sums, counts)
    return inertia, n_changed


@njit(**_OPTIONS)
def row_sq_norms(X, begin, end, shift, out):
    """``out[i] = ‖x_i − shift‖²`` for rows ``begin … end − 1``, summed in float64.

    Rounded once to ``out``'s dtype (X's, in a fit): more accurate than a
    running sum in float32, and one threaded pass instead of a numpy pass per
    chunk (0.95 ms of a 16 ms fit at 100,000 × 2 × 3). ``shift`` (float64)
    empty means none.
    """
    n_features = X.shape[1]
    require(0 <= begin <= end <= X.shape[0] and out.shape[0] == X.shape[0]
            and (shift.shape[0] == 0 or shift.shape[0] == n_features), "row_sq_norms",
            "rows begin..end of X, out of X's length, shift (d,) or empty")
    origin = np.zeros((1, n_features))  # the shift as a "centre" for row_sq_norm
    scratch = np.empty(n_features, dtype=X.dtype)
    for j in range(shift.shape[0]):
        origin[0, j] = shift[j]
    for i in range(begin, end):
        out[i] = row_sq_norm(X, i, origin, scratch)


@njit(**_OPTIONS)
def add_rows_by_label(X, labels, weight, sums, row_index=None):
    """``sums[labels[i]] += weight[i] · X[i]`` for every row, in row order, in float64.

    The sums of a labelling done without them (``sums`` of shape ``(0, d)`` in
    :func:`lloyd_chunk`): for a mini-batch of heavy rows the blocks that label
    it in parallel would each need a zeroed ``K × d`` array of their own, then
    summed, which cost more than this one pass over the batch. ``weight``
    empty means all ones. The additions are those of :func:`lloyd_chunk`, in
    the same order, so the sums are the same to the last bit as one block's.
    ``row_index`` (unless None): the rows are ``X[row_index]``, read in place
    (``labels`` and ``weight`` theirs).
    """
    n_features = X.shape[1]
    m = X.shape[0] if row_index is None else row_index.shape[0]
    weighted = weight.shape[0] > 0
    require(labels.shape[0] == m and sums.shape[1] == n_features
            and (not weighted or weight.shape[0] == m), "add_rows_by_label",
            "labels and weight of X's m rows, sums (K, d)")
    require(labels_in_range(labels, sums.shape[0])
            and (row_index is None or labels_in_range(row_index, X.shape[0])),
            "add_rows_by_label", "labels in [0, K), row_index within X's rows")
    for i in range(m):
        label = labels[i]
        w = weight[i] if weighted else 1.0
        add_row(sums, label, X, i if row_index is None else row_index[i], w, weighted)


@njit(**_OPTIONS)
def labels_in_range(labels, n_clusters):
    """Whether every label indexes a centre (labels come from the previous iteration)."""
    bad = 0
    for i in range(labels.shape[0]):
        bad += (labels[i] < 0) | (labels[i] >= n_clusters)
    return bad == 0


@njit(inline="always", **_OPTIONS)
def _sq_distance_lanes(X, i, centers, a):
    """``‖x_i − c_a‖²`` in float64 by 4 interleaved partial sums, added in a fixed order.

    One running sum makes every addition wait for the last (4 cycles each, a
    microsecond a row at 784 features); four independent ones do not (and are
    scalars: an array of them would be allocated per row). The order is fixed
    by ``n_features`` alone, so the result is reproducible, and its rounding
    error is no larger than that of one running sum.
    """
    n_features = X.shape[1]
    s0 = s1 = s2 = s3 = 0.0
    full = n_features - n_features % 4
    for j in range(0, full, 4):
        t0 = np.float64(X[i, j]) - centers[a, j]
        t1 = np.float64(X[i, j + 1]) - centers[a, j + 1]
        t2 = np.float64(X[i, j + 2]) - centers[a, j + 2]
        t3 = np.float64(X[i, j + 3]) - centers[a, j + 3]
        s0 += t0 * t0
        s1 += t1 * t1
        s2 += t2 * t2
        s3 += t3 * t3
    d2 = (s0 + s1) + (s2 + s3)
    for j in range(full, n_features):
        t = np.float64(X[i, j]) - centers[a, j]
        d2 += t * t
    return d2


@njit(nogil=True, cache=True, error_model="numpy", fastmath={"reassoc"})
def _contiguous_sq_norm(row, origin):
    """``‖row − origin[0]‖²`` in float64 for a C-contiguous row, the additions in
    the order the compiler vectorises them (``reassoc``)."""
    d2 = 0.0
    for j in range(row.shape[0]):
        t = np.float64(row[j]) - origin[0, j]
        d2 += t * t
    return d2


@njit(**_OPTIONS)
def row_sq_norm(X, i, origin, scratch):
    """``‖x_i − origin[0]‖²`` in float64, vectorised (see :func:`_contiguous_sq_norm`).

    For norms only, which no label depends on (the argmin leaves out ``‖x‖²``,
    and the pruning bounds hold for any order of a sum of squares): the four
    fixed partial sums of :func:`_sq_distance_lanes` ran as scalar code, 367 ns
    a row at 784 features from cache and 1.46 µs from memory, against 89 ns and
    0.25 µs (9 against 40 at 64 features). A row of X not in C order is copied
    to ``scratch`` (X's dtype, ``n_features`` values) first, so that every
    layout sums in the same order: it depends on ``n_features`` and the
    machine's vectors, never on the thread count or the layout.
    """
    if X.flags.c_contiguous:
        return _contiguous_sq_norm(X[i], origin)
    for j in range(X.shape[1]):
        scratch[j] = X[i, j]
    return _contiguous_sq_norm(scratch, origin)


@njit(**_OPTIONS)
def add_rows_in_order(X, labels, weight, sums, counts, row_index=None):
    """``counts[labels[i]] += weight[i]`` and ``sums[labels[i]] += weight[i] · X[i]``,
    rows in order, in float64: a block's statistics once its labels are known.

    ``weight`` empty means all ones; ``sums`` of shape ``(0, d)``: counts only;
    ``row_index`` (unless None) the rows of X that ``labels`` label, in order.
    A loop of its own, called by the kernels' plain (not ``changes_only``)
    pass after their labelling loop, not inside it: with ``changes_only`` a
    run-time flag in that loop, the plain pass ran 1.5-4× slower (28 ns a row
    against 7 at 3 × 3 float64 in ``lloyd_direct``, 53 against 37 at 64 × 8
    float32 in ``lloyd_simd_block``, 48 against 27 at 160 × 3 float32 in
    ``lloyd_chunk``) than compiled without the flag.
    """
    weighted = weight.shape[0] > 0
    with_sums = sums.shape[0] > 0
    for i in range(labels.shape[0]):
        label = labels[i]
        w = weight[i] if weighted else 1.0
        counts[label] += w
        if with_sums:
            add_row(sums, label, X, i if row_index is None else row_index[i], w, weighted)


@njit(inline="always", **_OPTIONS)
def add_row(sums, label, X, i, w, weighted):
    """``sums[label] += w · X[i]`` in float64; unweighted, the product by 1 is left out
    (exact either way, but a multiply per feature that the compiler cannot drop)."""
    if weighted:
        for j in range(X.shape[1]):
            sums[label, j] += w * np.float64(X[i, j])
    else:
        for j in range(X.shape[1]):
            sums[label, j] += np.float64(X[i, j])


@njit(inline="always", **_OPTIONS)
def subtract_row(sums, label, X, i, w, weighted):
    """``sums[label] −= w · X[i]`` in float64, the exact negative of :func:`add_row`."""
    if weighted:
        for j in range(X.shape[1]):
            sums[label, j] -= w * np.float64(X[i, j])
    else:
        for j in range(X.shape[1]):
            sums[label, j] -= np.float64(X[i, j])


@njit(inline="always", **_OPTIONS)
def hamerly_row_test(X, i, a, x_sq, centers, lower, half_gap, drift_argmax, drift_max,
                     drift_second, tau_coef, c_max_sq, gamma):
    """Hamerly's test for row ``i`` with label ``a``: whether it keeps ``a``, and ``‖x − c_a‖²``.

    Lowers ``lower[i]`` by the largest move of the other centres first (see
    :func:`hamerly_screen` for the test and its arguments; ``x_sq`` may be empty
    when ``tau_coef`` is 0). The caller checks that ``a`` is a centre
    (:func:`labels_in_range`): a check here, even untaken, cost five times the test.
    """
    if gamma > 0.0:
        # The direct kernels' own arithmetic (features in order), which their
        # relative bound gamma is proved for.
        d2 = 0.0
        for j in range(X.shape[1]):
            t = np.float64(X[i, j]) - centers[a, j]
            d2 += t * t
    else:
        d2 = _sq_distance_lanes(X, i, centers, a)
    u = math.sqrt(d2)
    lo = np.float64(lower[i]) - (drift_second if a == drift_argmax else drift_max)
    lower[i] = _round_down_f32(lo)
    bound = max(lo, 2.0 * half_gap[a] - u)
    xx = np.float64(x_sq[i]) if x_sq.shape[0] > 0 else 0.0
    tau = tau_coef * (xx + c_max_sq)
    keeps = (bound > u and (bound - u) * (bound + u) > tau
             and bound * bound * (1.0 - gamma) > d2 * (1.0 + gamma))
    return keeps, d2


@njit(**_OPTIONS)
def hamerly_screen(
    X, weight, x_sq, centers, labels, lower, half_gap, drift, drift_argmax,
    drift_second, tau_coef, c_max_sq, gamma, sums, counts, todo,
):
    """Bound test for the rows of a block; statistics of the rows that keep their centre.

    For each row: the exact distance ``u`` to its current centre (float64, from
    the unshifted values), the lower bound on the other centres lowered by their
    largest move, and the test ``max(lower, 2·half_gap − u)² − u² > tau``. Rows
    that pass keep their label and are accumulated; the others are listed in
    ``todo`` for a full GEMM. For the direct kernels
    (:mod:`mixfit.kernels.kmeans_direct`, ``gamma > 0``, ``tau_coef = 0``) the
    test is relative instead: ``bound²(1 − gamma) > u²(1 + gamma)``.

    Parameters
    ----------
    X : ndarray of shape (m, n_features)
    weight : ndarray of shape (m,) or (0,), float64
    x_sq : ndarray of shape (m,) or (0,)
        ``‖x − shift‖²`` (scales the GEMM's rounding bound); empty when
        ``tau_coef`` is 0.
    centers : ndarray of shape (n_clusters, n_features), float64
        Current centres, unshifted.
    labels : ndarray of shape (m,), int32
        Labels from the last iteration (kept for the rows that pass).
    lower : ndarray of shape (m,), float32
        Lower bounds, lowered by the centres' moves in place.
    half_gap : ndarray of shape (n_clusters,), float64
        Half the distance from each centre to its nearest other centre (a lower bound).
    drift : ndarray of shape (n_clusters,), float64
        How far each centre moved since the bounds were set (an upper bound).
    drift_argmax : int
        Centre that moved most; ``drift_second`` is the largest move of the others.
    tau_coef, c_max_sq : float
        The GEMM rounding bound is ``tau_coef · (‖x − shift‖² + c_max_sq)``.
    gamma : float
        Relative rounding bound of the direct kernels' distances (0 for the GEMM).
    sums, counts : accumulated into, for the kept rows.
    todo : ndarray of shape (m,), int64
        Receives the local indices of the rows that need the GEMM.

    Returns
    -------
    inertia : float
        Weighted squared distances of the kept rows.
    n_todo : int
    """
    m, n_features = X.shape
    n_clusters = centers.shape[0]
    weighted = weight.shape[0] > 0
    require(centers.shape[1] == n_features and half_gap.shape[0] == n_clusters
            and sums.shape[0] == n_clusters and sums.shape[1] == n_features
            and counts.shape[0] == n_clusters, "hamerly_screen",
            "centers and sums (K, d) for X's d features, half_gap and counts (K,)")
    with_norms = x_sq.shape[0] > 0
    require((not weighted or weight.shape[0] == m) and (x_sq.shape[0] == m
                                                      or (not with_norms and tau_coef == 0.0))
            and labels.shape[0] == m and lower.shape[0] == m and todo.shape[0] >= m,
            "hamerly_screen", "weight, x_sq, labels, lower and todo for X's m rows")
    require(drift.shape[0] == 0 or (drift.shape[0] == n_clusters
                                    and 0 <= drift_argmax < n_clusters), "hamerly_screen",
            "drift empty or (K,), with drift_argmax a centre")
    # A label out of range would index centers, half_gap, sums and counts outside them.
    require(labels_in_range(labels, n_clusters), "hamerly_screen", "labels must lie in [0, K)")
    drift_max = drift[drift_argmax] if drift.shape[0] > 0 else 0.0
    inertia = 0.0
    n_todo = 0
    for i in range(m):
        a = labels[i]
        keeps, d2 = hamerly_row_test(X, i, a, x_sq, centers, lower, half_gap, drift_argmax,
                                     drift_max, drift_second, tau_coef, c_max_sq, gamma)
        if keeps:
            w = weight[i] if weighted else 1.0
            counts[a] += w
            inertia += w * d2
            add_row(sums, a, X, i, w, weighted)
        else:
            todo[n_todo] = i
            n_todo += 1
    return inertia, n_todo


@njit(**_OPTIONS)
def hamerly_full(
    partial_t, c_sq, x_sq, X, weight, rows, tau_coef, c_max_sq,
    labels, lower, sums, counts,
):
    """:func:`lloyd_chunk` for gathered rows, also setting their lower bounds.

    ``partial_t``, ``c_sq``, ``x_sq``, ``X`` and ``weight`` are those of the gathered
    rows; ``rows`` are their indices into ``labels`` and ``lower``. The lower
    bound is the second smallest GEMM distance less the rounding bound.

    Returns
    -------
    inertia : float
    n_changed : int
        Rows with positive weight whose label changed.
    """
    n_clusters, m = partial_t.shape
    weighted = weight.shape[0] > 0
    require(n_clusters >= 1 and c_sq.shape[0] == n_clusters and x_sq.shape[0] >= m
            and X.shape[0] >= m and rows.shape[0] >= m and (not weighted or weight.shape[0] >= m)
            and sums.shape[0] == n_clusters and sums.shape[1] == X.shape[1]
            and counts.shape[0] == n_clusters, "hamerly_full",
            "partial_t (K, m), c_sq and counts (K,), sums (K, d), and m gathered rows")
    for r in range(m):
        require(0 <= rows[r] < labels.shape[0] and rows[r] < lower.shape[0], "hamerly_full",
                "rows must index labels and lower")
    chunk_labels, best, second = nearest_two_columns(partial_t, c_sq)
    inertia = 0.0
    n_changed = 0
    for r in range(m):
        label = chunk_labels[r]
        xx = np.float64(x_sq[r])
        dist = np.float64(best[r]) + xx
        if dist < 0.0:
            dist = 0.0
        low_sq = np.float64(second[r]) + xx - tau_coef * (xx + c_max_sq)
        i = rows[r]
        w = weight[r] if weighted else 1.0
        n_changed += (labels[i] != label) & (w > 0.0)
        labels[i] = label
        lower[i] = _round_down_f32(math.sqrt(low_sq)) if low_sq > 0.0 else np.float32(0.0)
        counts[label] += w
        inertia += w * dist
        add_row(sums, label, X, r, w, weighted)
    return inertia, n_changed
