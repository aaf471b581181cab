"""The loop of Lloyd's algorithm, whatever E-step it is given (numpy, fused,
pruned or sparse): the M-step, empty-cluster relocation and the stopping rule."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from mixfit._validation import DEFAULT_CHUNK_SIZE, row_chunks
from mixfit.engine.kmeans_common import KMeansResult, _squared_shift
from mixfit.engine.sparse_rows import dense_row, rows_equal_to
from mixfit.kernels import kmeans_totals as kernels


def _far_points(X, labels, min_sq_dist, centers, sample_weight, n_wanted):
    """Up to ``n_wanted`` rows of distinct values, farthest from their centres first.

    Only rows with positive weight that do not sit on their centre qualify: a
    zero-weight row is not part of the data, and a row equal to its centre would
    only duplicate that centre. The ranking uses the *unweighted* distance so that
    a row of weight 2 ranks exactly like two copies of the row.
    """
    eligible = min_sq_dist > 0
    if sample_weight is not None:
        eligible &= sample_weight > 0
    candidates = np.flatnonzero(eligible)
    # Stable sort: ties go to the earlier row, so the choice is reproducible.
    candidates = candidates[np.argsort(-min_sq_dist[candidates], kind="stable")]
    if not sparse.issparse(X):
        return _first_distinct_rows(X, candidates, labels, centers, n_wanted)
    chosen = []
    while len(chosen) < n_wanted and candidates.size:
        row = candidates[0]
        # The GEMM formula can leave a rounding residue instead of an exact 0, so
        # "on its centre" is decided by comparing the values themselves.
        if not np.array_equal(_row(X, row), centers[labels[row]]):
            chosen.append(row)
        # Copies of a chosen row would give two identical centres, one of them dead.
        candidates = candidates[~_rows_equal_to(X, candidates, _row(X, row))]
    return chosen


#: Candidates compared at once by :func:`_first_distinct_rows`.
_CANDIDATE_BLOCK = 256


def _first_distinct_rows(X, candidates, labels, centers, n_wanted):
    """The first ``n_wanted`` of ``candidates`` (dense X) that differ from their own
    centre and from every row chosen before them: :func:`_far_points`' choice.

    Candidates are compared a block at a time, in order, against the rows
    chosen so far, and the search stops once enough are found. Removing every
    copy of each candidate from the whole list instead read all n rows per
    empty cluster: 46 ms of a 110 ms fit at 10,000 × 784 with five clusters
    emptied. (A candidate equal to its centre is skipped; its copies have the
    same distances, hence the same centre, and are skipped in turn.)
    """
    chosen, values = [], []
    for start in range(0, candidates.size, _CANDIDATE_BLOCK):
        block = candidates[start:start + _CANDIDATE_BLOCK]
        rows = X[block]
        keep = ~np.all(rows == centers[labels[block]], axis=1)
        for value in values:
            keep &= ~np.all(rows == value, axis=1)
        for index in np.flatnonzero(keep):
            value = rows[index]
            # Also distinct from those chosen from this same block.
            if any(np.array_equal(value, other) for other in values):
                continue
            chosen.append(int(block[index]))
            values.append(value)
            if len(chosen) == n_wanted:
                return chosen
    return chosen


def _rows_equal_to(X, rows, value, block=DEFAULT_CHUNK_SIZE):
    """Mask over ``rows``: whether ``X[rows[i]]`` equals ``value`` (blockwise gather)."""
    if sparse.issparse(X):
        return rows_equal_to(X, rows, value)
    mask = np.empty(rows.size, dtype=bool)
    for sl in row_chunks(rows.size, block):
        mask[sl] = np.all(X[rows[sl]] == value, axis=1)
    return mask


def _row(X, i):
    """Row ``i`` of X as a 1-D array (of a sparse X, that one row is densified)."""
    if sparse.issparse(X):
        return dense_row(X, i)
    return X[i]


def _m_step(X, stats, centers, sample_weight, e_step, kernel):
    """New centres: weighted means, with empty clusters moved to far points.

    A cluster without weight keeps no information, so it is re-seeded at a row
    far from its current centre, and that row leaves the mean of the cluster it
    was assigned to (as scikit-learn relocates). This never raises the
    objective: the moved row now sits on its own centre, and the other centres
    are the means of what remains assigned to them. When no eligible row is
    left (every row already sits on a centre) the empty centre stays where it
    was; it is finite. A cluster that the move empties keeps its centre.
    """
    nonempty = stats.counts > 0
    if kernel == "numba":
        new = centers.copy()
        n_empty = kernels.update_centers(stats.sums, stats.counts, new)
    else:
        new = np.array(centers, dtype=np.float64)
        new[nonempty] = stats.sums[nonempty] / stats.counts[nonempty, None]
        n_empty = int(np.count_nonzero(~nonempty))
    if n_empty:
        empty = np.flatnonzero(~nonempty)
        # The distances to the centres before the update; the fused E-steps do not
        # keep them (n floats), so they are recomputed here, which is rare.
        labels, min_sq_dist = e_step.nearest(centers)
        far = _far_points(X, labels, min_sq_dist, centers, sample_weight, empty.size)
        for cluster, row in zip(empty, far):
            new[cluster] = _row(X, row)
            _leave_cluster(X, row, labels[row], sample_weight, stats, new)
    return new


def _leave_cluster(X, row, cluster, sample_weight, stats, centers):
    """Take a relocated row out of its cluster's statistics and mean (in place)."""
    weight = 1.0 if sample_weight is None else float(sample_weight[row])
    stats.counts[cluster] -= weight
    stats.sums[cluster] -= weight * _row(X, row).astype(np.float64)
    if stats.counts[cluster] > 0:
        centers[cluster] = stats.sums[cluster] / stats.counts[cluster]


#: A float32 E-step uses the centres rounded to float32 once the step before it
#: changed at most this share of the labels (see :func:`_lloyd_loop`).
ROUNDED_STEP_SHARE = 0.001


def _lloyd_loop(X, centers_init, sample_weight, max_iter, tol, callback, e_step, kernel,
                label_dtype=np.int64):
    """The loop of :func:`lloyd`, with the E-step it is given (numpy, fused or pruned).

    The E-step holds the labels (updated in place) and reports how many rows
    with positive weight changed label. Each iteration is an E-step then an
    update, counted as scikit-learn counts: a run that finds no label changed
    at its (i+1)-th E-step ("strict convergence") or whose i-th update moves the
    centres by at most ``tol`` (sum of squared shifts) reports ``n_iter = i + 1``.
    """
    # The centres are kept in float64 between iterations whatever X's dtype: float32
    # centres far from the origin would be rounded to the spacing of their offset
    # at every update (6e-4 at 1e4), and the run would drift from float64's.
    centers = np.array(centers_init, dtype=np.float64)
    history = []
    converged = strict = False
    center_shift = 0.0
    final_inertia = None  # set when the last E-step used the returned centres
    n_changed = X.shape[0]
    for iteration in range(max_iter):
        # Once labels have nearly settled, a float32 E-step sees the centres
        # rounded as they will be returned: if it changes no label, its labels and
        # inertia are those of the returned centres, and the fit needs no further
        # pass over X. Earlier, the float64 centres keep the run on float64's path.
        rounded_step = (X.dtype != np.float64 and iteration > 0
                        and n_changed <= ROUNDED_STEP_SHARE * X.shape[0])
        n_changed, stats = e_step(centers.astype(X.dtype) if rounded_step else centers)
        history.append(stats.inertia)
        if callback is not None:
            callback(iteration + 1, centers.astype(X.dtype), stats.inertia)
        if iteration > 0 and n_changed == 0:
            # The means of an unchanged assignment are the current centres.
            converged = strict = True
            center_shift = 0.0
            if rounded_step or X.dtype == np.float64:
                final_inertia = stats.inertia
            break
        new_centers = _m_step(X, stats, centers, sample_weight, e_step, kernel)
        center_shift = _squared_shift(new_centers, centers)
        centers = new_centers
        if center_shift <= tol:
            converged = True
            break

    rounded = centers.astype(X.dtype)
    if final_inertia is None:
        # Label with the centres actually returned (after an update, or rounded to
        # float32 after a step that did not use them), so that
        # fit_predict(X) equals fit(X).predict(X). The pruned E-step serves here
        # too (its bounds are valid for any centres).
        final_inertia = e_step(rounded)[1].inertia
    centers = rounded
    labels = e_step.labels
    del e_step  # its per-row state (bounds, norms) goes before the int64 copy is made
    return KMeansResult(
        centers=centers,
        labels=labels.astype(label_dtype, copy=False),
        inertia=final_inertia,
        n_iter=len(history),
        inertia_history=history,
        converged=converged,
        strict=strict,
        center_shift=center_shift,
    )
