"""Data that does not sit in the process's memory: memory maps and Dask arrays.

A memory-mapped X (``np.load(path, mmap_mode="r")``, ``np.memmap``) is read
chunk by chunk like any array, but the fits keep nothing of size n_samples
beside it that they can avoid: starts that need the rows in memory (K-means,
k-means++, random rows, the hierarchical tree) run on a uniform sample of at
most :data:`~mixfit.estimators._dask_data.INIT_SAMPLE_ROWS` rows, as for a Dask
array, and ``GaussianMixture.fit`` skips the final labelling that only
``fit_predict`` needs.
"""

from __future__ import annotations

from mixfit.engine.sources import is_memory_mapped
from mixfit.estimators import _dask_data
from mixfit.estimators._dask_data import (
    init_sample,
    is_dask_array,
    sample_row_indices,
)

__all__ = ["is_memory_mapped", "start_rows"]


def start_rows(X, sample_weight, rng, n_rows=None):
    """The rows a start is chosen from: X itself, or a sample of it for large data.

    In memory, every row (as scikit-learn). For a Dask array or a memory map
    with more than ``n_rows`` rows, ``n_rows`` of them drawn uniformly without
    replacement with ``rng``, in row order, gathered into memory.

    ``n_rows`` defaults to :data:`~mixfit.estimators._dask_data.INIT_SAMPLE_ROWS`.

    Returns
    -------
    X_start : ndarray
    weight_start : ndarray or None
    """
    if n_rows is None:
        n_rows = _dask_data.INIT_SAMPLE_ROWS  # read here, so that tests can lower it
    if is_dask_array(X):
        return init_sample(X, sample_weight, rng, n_rows)
    if not is_memory_mapped(X) or X.shape[0] <= n_rows:
        return X, sample_weight
    rows = sample_row_indices(X.shape[0], n_rows, rng)
    return X[rows], None if sample_weight is None else sample_weight[rows]
