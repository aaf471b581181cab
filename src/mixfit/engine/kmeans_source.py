"""Lloyd's algorithm over a source whose rows may live elsewhere (a Dask cluster).

The in-memory loop (:mod:`mixfit.engine.kmeans_loop`) keeps per-row state
between iterations: labels, and bounds for pruning. Rows on a cluster cannot
keep state between passes without pinning blocks to workers, so this loop
keeps none: every iteration is one pass that returns each block's
:class:`~mixfit.engine.kmeans_common.KMeansStats` (counts, sums, inertia), and
the centres are their means. A pass needs O(block × K) memory on a worker and
sends back K × d numbers per block.

Empty clusters are re-seeded as in memory (the row farthest from its centre
leaves its cluster for the empty one), by one more pass that returns each
block's farthest candidates only when a cluster empties, which is rare.
"""

from __future__ import annotations

import numpy as np

from mixfit.engine.kmeans import assign
from mixfit.engine.kmeans_common import KMeansResult, _squared_shift, kmeans_stats

__all__ = ["lloyd_over_source"]


def _block_stats(X, weight, centers, shift, chunk_size):
    """A block's K-means statistics for ``centers`` (float64), on the worker holding it."""
    labels, min_sq_dist = assign(X, centers.astype(X.dtype), chunk_size=chunk_size,
                                 shift=shift)
    return kmeans_stats(X, labels, min_sq_dist, centers.shape[0], weight)


def _block_far_rows(X, weight, centers, shift, chunk_size, n_wanted):
    """A block's rows farthest from their centres: [(distance, row, label, weight)].

    At most ``n_wanted`` rows of distinct values with positive weight that do not
    sit on their centre, farthest first (ties to the earlier row).
    """
    labels, min_sq_dist = assign(X, centers.astype(X.dtype), chunk_size=chunk_size,
                                 shift=shift)
    eligible = min_sq_dist > 0
    if weight is not None:
        eligible &= weight > 0
    rows = np.flatnonzero(eligible)
    rows = rows[np.argsort(-min_sq_dist[rows], kind="stable")]
    found = []
    for row in rows:
        value = np.array(X[row], dtype=np.float64)
        if any(np.array_equal(value, other) for _, other, _, _ in found):
            continue
        found.append((float(min_sq_dist[row]), value, int(labels[row]),
                      1.0 if weight is None else float(weight[row])))
        if len(found) == n_wanted:
            break
    return found


def _relocate(source, stats, centers, new, shift, chunk_size):
    """Move empty clusters' centres to the farthest rows (in place in ``new``, ``stats``)."""
    empty = np.flatnonzero(stats.counts <= 0)
    per_block = source.map(_block_far_rows, centers, shift, chunk_size, empty.size)
    candidates = [found for block in per_block for found in block]
    # Stable: equal distances go to the earlier block, so the choice is reproducible.
    candidates.sort(key=lambda found: -found[0])
    chosen = []
    for distance, value, label, weight in candidates:
        if len(chosen) == empty.size:
            break
        if np.array_equal(value, centers[label]) or any(
            np.array_equal(value, other) for other, _, _ in chosen
        ):
            continue
        chosen.append((value, label, weight))
    for cluster, (value, label, weight) in zip(empty, chosen):
        new[cluster] = value
        stats.counts[label] -= weight
        stats.sums[label] -= weight * value
        if stats.counts[label] > 0:
            new[label] = stats.sums[label] / stats.counts[label]


def lloyd_over_source(source, centers_init, *, max_iter, tol, shift=None, chunk_size=None,
                      callback=None):
    """Lloyd iterations from ``centers_init``, one pass over ``source`` each.

    Parameters
    ----------
    source : ArraySource or DaskSource
        See :mod:`mixfit.engine.sources`; its sample weights are used.
    centers_init : ndarray of shape (n_clusters, n_features)
    max_iter : int
    tol : float
        Stop when the centres' summed squared shift is at most ``tol``.
    shift : ndarray of shape (n_features,), optional
        Subtracted from rows and centres before distances (see
        :func:`mixfit.engine.kmeans.squared_distances`).
    chunk_size : int or None
        Rows per GEMM block inside a block.
    callback : callable, optional
        ``callback(iteration, centers, inertia)`` as for :func:`mixfit.engine.kmeans.lloyd`.

    Returns
    -------
    result : KMeansResult
        With ``labels=None``: the rows stay where they live; label them with a
        query (``predict``) when needed.
    counts : ndarray of shape (n_clusters,)
        Weight of the rows nearest to each returned centre.
    """
    centers = np.array(centers_init, dtype=np.float64)
    history = []
    converged = strict = False
    center_shift = 0.0
    for iteration in range(max_iter):
        stats = source.fold(_block_stats, centers, shift, chunk_size)
        history.append(stats.inertia)
        if callback is not None:
            callback(iteration + 1, centers.astype(source.dtype), stats.inertia)
        new = centers.copy()
        nonempty = stats.counts > 0
        new[nonempty] = stats.sums[nonempty] / stats.counts[nonempty, None]
        if not nonempty.all():
            _relocate(source, stats, centers, new, shift, chunk_size)
        center_shift = _squared_shift(new, centers)
        centers = new
        if center_shift <= tol:
            converged = True
            strict = center_shift == 0.0
            break
    rounded = centers.astype(source.dtype)
    final = source.fold(_block_stats, rounded.astype(np.float64), shift, chunk_size)
    result = KMeansResult(
        centers=rounded, labels=None, inertia=final.inertia, n_iter=len(history),
        inertia_history=history, converged=converged, strict=strict,
        center_shift=center_shift,
    )
    return result, final.counts
