"""A mixture's k-means|| start over a source: nothing of size n_samples kept.

For data that stays where it is (a Dask cluster's blocks, a memory-mapped file),
``init_params="k-means||"`` runs every step as a pass over the source: k-means||
seeding (:mod:`mixfit.engine.init_parallel`), Lloyd's passes
(:mod:`mixfit.engine.kmeans_source`), then one pass that sums the statistics of
the hard partition for the M-step. Each pass returns parameter-sized values.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from mixfit.engine.em import MixtureStats, m_step
from mixfit.engine.init_parallel import kmeans_parallel
from mixfit.engine.kmeans import assign
from mixfit.engine.kmeans_source import lloyd_over_source

__all__ = ["kmeans_parallel_params_over", "shift_and_variance_about",
           "source_shift_and_variance"]

# As mixfit.engine.column_stats decides in memory: distances are taken about the
# data mean when it lies more than 2 standard deviations from the origin.
_SHIFT_RATIO = 4.0


def _block_sums(X, weight):
    values = X.astype(np.float64, copy=False)
    if weight is None:
        return np.concatenate([[float(X.shape[0])], values.sum(axis=0)])
    return np.concatenate([[float(weight.sum())], weight @ values])


def _block_spread(X, weight, mean):
    centred = X.astype(np.float64) - mean
    squares = np.einsum("ij,ij->i", centred, centred)
    return float(squares.sum() if weight is None else weight @ squares)


def shift_and_variance_about(source, mean, total_weight):
    """The K-means distance shift and mean column variance, given the column means.

    One pass (the weighted mean squared distance to ``mean``); the shift is
    ``mean`` where the data lie far from the origin, as decided in memory.
    """
    spread = source.fold(_block_spread, mean) / total_weight
    shift = mean if float(mean @ mean) > _SHIFT_RATIO * spread else np.zeros_like(mean)
    return shift, spread / mean.shape[0]


def source_shift_and_variance(source):
    """The K-means distance shift and mean column variance of a source's rows (2 passes)."""
    sums = source.fold(_block_sums)
    return shift_and_variance_about(source, sums[1:] / sums[0], sums[0])


def _block_partition_stats(X, weight, family, centers, shift):
    """The statistics of a block's rows, each given wholly to its nearest centre."""
    labels, _ = assign(X, centers.astype(X.dtype), chunk_size=None, shift=shift)
    resp = np.zeros((X.shape[0], centers.shape[0]), dtype=X.dtype)
    resp[np.arange(X.shape[0]), labels] = 1
    resp_sum = resp.sum(axis=0, dtype=np.float64) if weight is None else weight @ resp
    total = float(X.shape[0]) if weight is None else float(weight.sum())
    return MixtureStats(total, 0.0, resp_sum, family.stats(X, resp, weight))


def kmeans_parallel_params_over(family, source, n_components, *, random_state=None):
    """The ``"k-means||"`` start of a mixture, every step a pass over ``source``.

    What :func:`mixfit.engine.init_parallel.kmeans_parallel_mixture_params`
    does in memory: k-means|| centres, Lloyd's loop until the centres' squared
    shift is within 1e-4 of the mean column variance (or 300 iterations), and
    the M-step of that partition.

    Parameters
    ----------
    family : component family
    source : ArraySource or DaskSource
        Its sample weights are used.
    n_components : int
    random_state : int, RandomState or None

    Returns
    -------
    MixtureParams
    """
    rng = check_random_state(random_state)
    seed = rng.randint(np.iinfo(np.int32).max)
    shift, variance = source_shift_and_variance(source)
    centers = kmeans_parallel(source, n_components, random_state=seed)
    run, _ = lloyd_over_source(source, centers, max_iter=300, tol=1e-4 * variance,
                               shift=shift)
    stats = source.fold(_block_partition_stats, family, run.centers.astype(np.float64), shift)
    return m_step(family, stats, source.dtype)
