"""Where the rows come from: arrays in memory, memory-mapped arrays, Dask arrays.

Every pass of the engines is a fold over row blocks whose results add
(:mod:`mixfit.engine.em`'s statistics, K-means' counts and sums, k-means||'s
costs). A *source* runs such a pass wherever its rows live and hands back the
small results:

- :class:`ArraySource` — a NumPy array or a memory map (``np.load(path,
  mmap_mode="r")``, ``np.memmap``): chunks are slices, read as the pass reaches
  them, never copied whole; ``n_jobs`` threads run them.
- :class:`DaskSource` — a ``dask.array.Array`` chunked by rows: every block's
  result is computed where the block lives (on the active
  ``dask.distributed.Client`` when there is one, else with Dask's default
  scheduler) and the results are added by a tree reduction in block order, so
  only parameter-sized values travel and the sum does not depend on which
  worker finished first.

A pass is ``source.fold(function, *args)`` or ``source.map(function, *args)``
with ``function(X_block, weight_block, *args)``: a module-level function (Dask's
workers unpickle it by name) that must not modify its arguments.

Dask is optional: this module imports it only for a Dask array, so the core
works without it.
"""

from __future__ import annotations

import mmap

import numpy as np

from mixfit._parallel import map_chunks
from mixfit._validation import DEFAULT_CHUNK_SIZE

__all__ = [
    "ArraySource",
    "DaskSource",
    "as_source",
    "is_dask_array",
    "is_memory_mapped",
    "require_dask",
    "tree_sum",
]


def is_dask_array(X):
    """Whether X is a ``dask.array.Array`` (checked without importing Dask)."""
    module = type(X).__module__ or ""
    return module.startswith("dask.array") and type(X).__name__ == "Array"


def is_memory_mapped(X):
    """Whether X's values live in a memory-mapped file (X or an array it views)."""
    while X is not None:
        if isinstance(X, (np.memmap, mmap.mmap)):
            return True
        X = getattr(X, "base", None)
    return False


def require_dask(what="a Dask array"):
    """Import and return ``dask``, or raise an ImportError that says how to install it."""
    try:
        import dask
        import dask.array  # noqa: F401
    except ImportError as error:  # pragma: no cover - exercised with Dask absent
        raise ImportError(
            f"{what} needs Dask, which is not installed: pip install \"mixfit[dask]\" "
            "(or \"mixfit[scale]\" for Dask and Parquet)."
        ) from error
    return dask


def tree_sum(parts):
    """Sum of ``parts`` in a fixed pairwise order: ((p0 + p1) + (p2 + p3)) + …

    The order depends only on the number of parts, so a sum computed by a tree
    reduction on a cluster and the same sum computed here agree exactly.
    """
    parts = list(parts)
    if not parts:
        raise ValueError("tree_sum needs at least one part.")
    while len(parts) > 1:
        paired = [parts[i] + parts[i + 1] for i in range(0, len(parts) - 1, 2)]
        if len(parts) % 2:
            paired.append(parts[-1])
        parts = paired
    return parts[0]


class ArraySource:
    """Rows of an in-memory or memory-mapped array, in chunks of ``chunk_size`` rows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        A NumPy array or memory map; slices of it are passed on, never copies of
        the whole.
    sample_weight : ndarray of shape (n_samples,), optional
    chunk_size : int, default=DEFAULT_CHUNK_SIZE
    n_jobs : int, default=1
        Threads over chunks (already resolved); results keep chunk order.
    """

    is_distributed = False

    def __init__(self, X, sample_weight=None, *, chunk_size=DEFAULT_CHUNK_SIZE, n_jobs=1):
        self.X = X
        self.sample_weight = sample_weight
        self.chunk_size = int(chunk_size)
        self.n_jobs = int(n_jobs)

    @property
    def shape(self):
        return self.X.shape

    @property
    def dtype(self):
        return self.X.dtype

    def map(self, function, *args):
        """``[function(X_chunk, weight_chunk, *args) for each chunk]``, in chunk order."""
        X, weight = self.X, self.sample_weight

        def one(rows):
            return function(X[rows], None if weight is None else weight[rows], *args)

        return map_chunks(one, X.shape[0], self.chunk_size, self.n_jobs)

    def fold(self, function, *args):
        """The sum of :meth:`map`'s results, added in a fixed pairwise order."""
        return tree_sum(self.map(function, *args))


class DaskSource:
    """Rows of a Dask array, each block's work run where the block lives.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Chunked by rows only (a single block of columns) with known chunk sizes;
        :func:`as_source` rechunks columns and refuses unknown sizes.
    sample_weight : dask.array.Array or ndarray of shape (n_samples,), optional
        Rechunked to X's row blocks.
    """

    is_distributed = True

    def __init__(self, X, sample_weight=None):
        require_dask()
        import dask.array as da

        self.X = X
        if sample_weight is not None:
            if not is_dask_array(sample_weight):
                sample_weight = da.from_array(np.asarray(sample_weight), chunks=(X.chunks[0],))
            else:
                sample_weight = sample_weight.rechunk((X.chunks[0],))
        self.sample_weight = sample_weight

    @property
    def shape(self):
        return self.X.shape

    @property
    def dtype(self):
        return self.X.dtype

    @property
    def n_blocks(self):
        return len(self.X.chunks[0])

    def _block_tasks(self, function, args):
        import dask

        blocks = self.X.to_delayed().ravel()
        if self.sample_weight is None:
            weights = [None] * len(blocks)
        else:
            weights = list(self.sample_weight.to_delayed().ravel())
        # Parameters (arrays, families, fitted estimators) go into the graph once,
        # not once per block; plain numbers and names stay literals.
        shared = [
            arg if arg is None or isinstance(arg, (bool, int, float, str))
            else dask.delayed(arg, traverse=False)
            for arg in args
        ]
        call = dask.delayed(function, pure=True)
        return [call(block, weight, *shared) for block, weight in zip(blocks, weights)]

    def map(self, function, *args):
        """``[function(X_block, weight_block, *args) for each block]``, computed on the blocks."""
        import dask

        return list(dask.compute(*self._block_tasks(function, args)))

    def fold(self, function, *args):
        """The sum of the blocks' results by a tree reduction on the cluster, in block order."""
        import dask

        parts = self._block_tasks(function, args)
        add = dask.delayed(_add, pure=True)
        while len(parts) > 1:
            paired = [add(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
            if len(parts) % 2:
                paired.append(parts[-1])
            parts = paired
        (total,) = dask.compute(parts[0])
        return total


def _add(a, b):
    return a + b


def as_source(X, sample_weight=None, *, chunk_size=DEFAULT_CHUNK_SIZE, n_jobs=1):
    """The source for X: a :class:`DaskSource` for a Dask array, else an :class:`ArraySource`."""
    if isinstance(X, (ArraySource, DaskSource)):
        return X
    if is_dask_array(X):
        return DaskSource(X, sample_weight)
    return ArraySource(X, sample_weight, chunk_size=chunk_size, n_jobs=n_jobs)
