"""The rows of a mini-batch: which are drawn (:class:`RowSampler`), and how they are read.

A batch's rows are either copied out of X into a buffer (:class:`BatchRows`),
or, for the kernels that can read them where they lie, handed on as an
:class:`IndexedRows`, X with the row numbers: at 784 features the copy was a
third of a step's time, and the kernel read each row from memory again.
"""

from __future__ import annotations

import numpy as np

from mixfit.kernels import gather
from mixfit.kernels.parallel import numba_threads_usable, run_on_threads

__all__ = ["BatchRows", "GATHER_THREAD_BYTES", "IndexedRows", "RowSampler", "reassignment"]


class IndexedRows:
    """A batch left in place: the rows ``rows`` of the C-ordered float array ``data``.

    Stands for ``data[rows]`` where :func:`mixfit.engine.minibatch.batch_statistics`
    reads the rows through their index (the SIMD kernel's batches): ``shape``
    and ``dtype`` are the batch's, and :meth:`take` copies out a few of its rows.
    """

    def __init__(self, data, rows):
        self.data = data
        self.rows = rows

    @property
    def shape(self):
        """``(len(rows), n_features)``: the shape of the batch."""
        return (self.rows.shape[0], self.data.shape[1])

    @property
    def dtype(self):
        """The data's dtype."""
        return self.data.dtype

    def take(self, which=slice(None)):
        """Rows ``which`` of the batch, copied out (all of them by default)."""
        return self.data[self.rows[which]]


class RowSampler:
    """Draws batches of row indices with replacement, with probability ∝ weight.

    Without weights (or with equal ones) the draw is ``rng.randint``; otherwise
    the cumulative weights are computed once and each draw is a binary search,
    O(batch × log n) rather than O(n) per batch.
    """

    def __init__(self, n_samples, sample_weight=None):
        self.n_samples = n_samples
        uniform = sample_weight is None or np.all(sample_weight == sample_weight[0])
        self.cumulative = None if uniform else np.cumsum(sample_weight, dtype=np.float64)

    def draw(self, rng, size):
        """``size`` row indices, from ``rng`` (a numpy RandomState)."""
        if self.cumulative is None:
            return rng.randint(0, self.n_samples, size)
        total = self.cumulative[-1]
        picks = np.searchsorted(self.cumulative, rng.random_sample(size) * total, side="right")
        return np.minimum(picks, self.n_samples - 1, out=picks)


#: Fewest bytes in a batch for its rows to be copied on several threads.
GATHER_THREAD_BYTES = 1 << 16


class BatchRows:
    """Takes a batch's rows out of X: ``X[rows]``, into a buffer kept between batches.

    Dense C-ordered float arrays (memory maps included) are copied by
    :mod:`mixfit.kernels.gather`, on ``n_jobs`` numba threads from
    :data:`GATHER_THREAD_BYTES` a batch; a batch of 1,024 of 100,000 rows
    took 0.16 ms at 160 float64 features and 0.51 ms at 784 float32 by numpy's
    ``X[rows]``, 0.05 and 0.23 ms so. Other data (CSR, other layouts) is
    indexed by numpy. A batch is valid until the next one is taken.
    ``in_place=True`` (dense X only): no copy, each batch an :class:`IndexedRows`.
    """

    def __init__(self, X, batch_size, n_jobs=1, in_place=False):
        dense = self.copies_by_kernel(X)
        self.X = np.asarray(X) if dense else X  # a memory map as a plain array view
        self.in_place = dense and in_place
        copies = dense and not self.in_place
        self.buffer = np.empty((batch_size, X.shape[1]), dtype=X.dtype) if copies else None
        self.n_threads = max(1, int(n_jobs))
        self.parallel = copies and self.copies_in_parallel(X, batch_size, n_jobs)

    @staticmethod
    def copies_by_kernel(X):
        """Whether X's rows are copied by :mod:`mixfit.kernels.gather` (or read in place)."""
        return (isinstance(X, np.ndarray) and X.ndim == 2 and X.flags.c_contiguous
                and X.dtype in (np.float32, np.float64))

    @staticmethod
    def copies_in_parallel(X, batch_size, n_jobs):
        """Whether a batch of X's rows is copied on several threads."""
        return (BatchRows.copies_by_kernel(X) and int(n_jobs) > 1 and numba_threads_usable()
                and batch_size * X.shape[1] * X.dtype.itemsize >= GATHER_THREAD_BYTES)

    def __call__(self, rows):
        """The rows ``rows`` (int array of at most ``batch_size``) of X.

        An :class:`IndexedRows` when the batches are read in place.
        """
        if self.in_place:
            return IndexedRows(self.X, np.asarray(rows, dtype=np.int64))
        if self.buffer is None:
            return self.X[rows]
        rows = np.asarray(rows, dtype=np.int64)
        out = self.buffer[:rows.shape[0]]
        if self.parallel:
            run_on_threads(self.n_threads, lambda: gather.gather_rows_parallel(self.X, rows, out))
        else:
            gather.gather_rows(self.X, rows, out)
        return out


def reassignment(weight_sums, n_rows, ratio, rng):
    """Which centres :func:`mixfit.engine.minibatch.reassign` moves, and to which of the batch's rows.

    Returns ``(mask, rows)``, or None where no centre moves; ``weight_sums``
    of the moved centres is set as :func:`mixfit.engine.minibatch.reassign` says.
    """
    if ratio <= 0:
        return None
    to_reassign = weight_sums < ratio * weight_sums.max()
    if to_reassign.sum() > 0.5 * n_rows:
        to_reassign[np.argsort(weight_sums, kind="stable")[int(0.5 * n_rows):]] = False
    n_reassigned = int(to_reassign.sum())
    if n_reassigned == 0:
        return None
    rows = rng.choice(n_rows, replace=False, size=n_reassigned)
    if not to_reassign.all():  # ratio > 1 may leave no centre in place
        weight_sums[to_reassign] = np.min(weight_sums[~to_reassign])
    return to_reassign, rows
