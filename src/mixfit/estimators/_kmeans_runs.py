"""KMeans.fit's helpers that are not the estimator: runs, labels and starts' data.

Kept apart so that estimators/kmeans.py stays about the estimator's API and loop.
"""

from __future__ import annotations

import numpy as np

__all__ = []  # private helpers of KMeans.fit


def _callback_with_shift(callback, shift):
    """The callback given centres in X's coordinates when the fit runs on X − shift."""
    if callback is None:
        return None

    def shifted(iteration, centers, inertia):
        return callback(iteration, (centers + shift).astype(centers.dtype), inertia)

    return shifted


def _is_numeric_table(value):
    """Whether ``value`` is a 2-D array-like of real numbers (what ``init`` may be)."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):  # ragged nested lists
        return False
    return array.ndim == 2 and array.dtype.kind in "biuf"


def _count_distinct(labels, sample_weight, n_clusters, block=1 << 16):
    """Clusters that hold a row with weight, counted a block of rows at a time.

    np.bincount converts int32 labels to int64 first: for a memory-mapped X,
    whose labels stay int32, that temporary would be 8 bytes a row.
    """
    seen = np.zeros(n_clusters, dtype=bool)
    for start in range(0, labels.shape[0], block):
        rows = slice(start, start + block)
        weight = None if sample_weight is None else sample_weight[rows]
        seen |= np.bincount(_weighted_labels(labels[rows], weight), minlength=n_clusters) > 0
    return int(np.count_nonzero(seen))


def _weighted_labels(labels, sample_weight):
    """Labels of the rows that carry weight (zero-weight rows are not data)."""
    return labels if sample_weight is None else labels[sample_weight > 0]


def _same_partition(labels_a, labels_b, sample_weight):
    """Whether two labelings group the weighted rows identically, up to renaming.

    Restarts often reach the same clustering with the clusters numbered
    differently and inertias that differ only by rounding; keeping the first one
    makes the choice independent of that rounding (e.g. of row order).
    """
    a = _weighted_labels(labels_a, sample_weight)
    b = _weighted_labels(labels_b, sample_weight)
    n_labels = int(max(a.max(), b.max())) + 1
    forward = np.full(n_labels, -1)
    backward = np.full(n_labels, -1)
    forward[a] = b
    backward[b] = a
    return bool(np.array_equal(forward[a], b) and np.array_equal(backward[b], a))
