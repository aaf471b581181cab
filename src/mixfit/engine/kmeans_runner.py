"""The runner of the K-means E-steps' row blocks: threads, BLAS at one thread,
and the blocks' statistics summed in a fixed order.

An E-step cuts its rows into blocks whose bounds depend on the data's shape
alone (:func:`mixfit.engine.kmeans_steps._blocks`); :class:`_Runner` runs a
per-block function on the shared thread pool, or a kernel's numba parallel
driver on numba's threads, and adds the blocks' statistics in an order fixed by
the number of blocks, so the thread count never changes a rounding.
"""

from __future__ import annotations

import importlib
import itertools
from concurrent.futures import wait
from contextlib import ExitStack

import numpy as np
from threadpoolctl import ThreadpoolController

from mixfit.kernels import kmeans_totals
from mixfit.kernels.parallel import numba_threads_usable, run_on_threads
from mixfit._parallel import shared_pool
from mixfit.engine.kmeans_common import KMeansStats

__all__ = ["blas_controller"]


#: Runs of blocks whose sums are kept apart (see ``_Runner.map_sums``).
_GROUPS = 16


def _add_parts(parts):
    """Per-block ``(counts, sums, inertia, n_changed)`` added in block order.

    The first block's arrays (its own) take the sum: the same roundings as
    adding every block to zeros.
    """
    parts = iter(parts)
    counts, sums, inertia, n_changed = next(parts)
    for part_counts, part_sums, part_inertia, part_changed in parts:
        counts += part_counts
        sums += part_sums
        inertia += part_inertia
        n_changed += part_changed
    return counts, sums, inertia, n_changed


def _sum_parts(parts):
    """:func:`_add_parts` as ``(n_changed, KMeansStats)``."""
    counts, sums, inertia, n_changed = _add_parts(parts)
    return n_changed, KMeansStats(counts, sums, inertia)


class _Runner:
    """Runs per-block functions on the shared thread pool, BLAS at one thread (per fit).

    Blocks are fixed row ranges and their results come back in block order, so
    the thread count never changes a sum. With one thread (or one block) the
    blocks run inline and no pool is touched: it costs more than a small fit.
    BLAS is limited through one cached controller (:func:`blas_controller`,
    microseconds) where the E-step's kernels call it (``blas``) or our threads
    run: ``blas=False`` (the direct and SIMD kernels call no BLAS) leaves it
    alone only for a fit on one thread.
    """

    def __init__(self, n_jobs, n_blocks, blas=True):
        self.n_threads = max(1, min(int(n_jobs), n_blocks))
        self.blas = blas
        # Kernels with a numba parallel driver run their blocks on numba's threads
        # (one thread runs them inline, as before: same blocks, same sums).
        self.numba_threads = self.n_threads > 1 and numba_threads_usable()
        self._stack = ExitStack()

    def __enter__(self):
        if self.blas or self.n_threads > 1:
            # Even with one thread of ours: a threaded BLAS on a chunk's small
            # GEMM spends more time waking its threads than multiplying (4×
            # slower at 100,000 × 32 × 256 float32, Hamerly's gathered rows).
            # And with our threads whatever the kernels: after any BLAS call of
            # the fit (the bounds' gaps between centres, a K × K GEMM) its
            # threads spin-wait on the cores ours need. At 100,000 × 32 × 256
            # float32, two bounds over the SIMD micro-kernel, 2 threads, an
            # E-step took 17-25 ms rather than 9-11 (a 20-iteration fit 492 →
            # 214 ms).
            self._stack.enter_context(blas_controller().limit(limits=1, user_api="blas"))
        if self.n_threads > 1:
            # The process-wide pool for this many threads: started once, not per fit.
            self.pool = shared_pool(self.n_threads)
        return self

    def __exit__(self, *exc):
        return self._stack.__exit__(*exc)

    def map_sums(self, function, blocks):
        """Per-block ``(counts, sums, inertia, n_changed)`` summed, as ``_sum_parts``.

        The blocks are cut into at most ``_GROUPS`` runs whose boundaries depend
        on the number of blocks alone; each run is summed in block order, and the
        runs in run order, so neither the thread count nor which thread ran a
        run changes a rounding. Threads take the next run as they come free
        (one task per thread, not per run: a task cost ~35 µs, ~8% of an
        iteration at n=1e6), so a thread that wakes late or runs slow takes
        fewer; only one sum per run is held (each is K × d floats).
        """
        n_groups, bounds = _runs_of(len(blocks))

        def run(group):
            return _add_parts(map(function, blocks[bounds[group]:bounds[group + 1]]))

        if self.n_threads == 1 or n_groups == 1:
            return _sum_parts(map(run, range(n_groups)))
        results = [None] * n_groups

        def keep(group):
            results[group] = run(group)

        self.for_each(keep, n_groups)
        return _sum_parts(results)

    def on_numba_threads(self, n_blocks):
        """Whether a kernel with a numba parallel driver runs ``n_blocks`` blocks there.

        Only up to :data:`_GROUPS` blocks: the driver holds every block's sums
        at once, which is then no more than :meth:`map_sums` holds (one per run).
        """
        return self.numba_threads and n_blocks <= _GROUPS

    def sum_numba_blocks(self, blocks, n_clusters, sum_rows, n_features, driver):
        """Per-block results of a numba parallel ``driver``, summed as :meth:`map_sums` sums.

        ``driver(starts, sums, counts, inertia, n_changed)`` runs the blocks
        (``starts``: their first rows, then the last block's end) on numba's
        threads, writing block ``b``'s statistics into ``sums[b]`` (shape
        ``(n_blocks, sum_rows, n_features)``, zeros), ``counts[b]`` (zeros),
        ``inertia[b]`` and ``n_changed[b]``.
        """
        n_blocks = len(blocks)
        starts = np.array([rows.start for rows in blocks] + [blocks[-1].stop], dtype=np.int64)
        sums = np.zeros((n_blocks, sum_rows, n_features))
        counts = np.zeros((n_blocks, n_clusters))
        inertia = np.zeros(n_blocks)
        n_changed = np.zeros(n_blocks, dtype=np.int64)
        run_on_threads(self.n_threads, lambda: driver(starts, sums, counts, inertia, n_changed))
        n_groups, bounds = _runs_of(n_blocks)
        if n_groups == n_blocks:
            # A run per block: the runs' sum is the blocks' in order, in one call.
            counts, sums, inertia, n_changed = run_on_threads(
                self.n_threads, lambda: kmeans_totals.add_blocks_in_order(
                    sums, counts, inertia, n_changed))
            return int(n_changed), KMeansStats(counts, sums, float(inertia))
        parts = [(counts[b], sums[b], float(inertia[b]), int(n_changed[b]))
                 for b in range(n_blocks)]
        return _sum_parts(_add_parts(parts[bounds[group]:bounds[group + 1]])
                          for group in range(n_groups))

    def sum_blocks(self, blocks, n_clusters, n_features, block, driver):
        """A pruned E-step's blocks, summed: by its numba ``driver`` where the blocks
        run on numba's threads (:meth:`on_numba_threads`), else by ``block`` on
        the pool (:meth:`map_sums`); the same sums either way."""
        if self.on_numba_threads(len(blocks)):
            return self.sum_numba_blocks(blocks, n_clusters, n_clusters, n_features, driver)
        return self.map_sums(block, blocks)

    def for_each(self, function, n_tasks):
        """Call ``function(task)`` for task 0 … ``n_tasks`` − 1, on the runner's threads.

        Threads take the next task as they come free; a task that raises stops
        the handing out, and its error is raised once the other threads have
        finished their current task. Tasks must write disjoint results.
        """
        if self.n_threads == 1 or n_tasks <= 1:
            for task in range(n_tasks):
                function(task)
            return
        # next() on a count is atomic under the GIL: each task is taken once.
        next_task = itertools.count().__next__
        failed = []

        def work():
            task = next_task()
            while task < n_tasks and not failed:
                function(task)
                task = next_task()

        # The calling thread works too: one thread fewer to wake per pass (tens
        # of µs each, a tenth of an E-step at 150,000 × 3 × 12). With fixed
        # shares instead, the woken thread finished a quarter of an E-step after
        # the caller at 100,000 × 16 × 8 (7 blocks, 3 against 4).
        futures = [self.pool.submit(work) for _ in range(min(self.n_threads, n_tasks) - 1)]
        try:
            work()
        except BaseException:
            failed.append(True)  # the other threads stop after their current task
            wait(futures)
            raise
        for future in futures:
            future.result()


def _runs_of(n_blocks):
    """The runs of blocks that :meth:`_Runner.map_sums` sums apart: their count and bounds."""
    n_groups = min(n_blocks, _GROUPS)
    return n_groups, [n_blocks * group // n_groups for group in range(n_groups + 1)]


_CONTROLLER = []


def blas_controller():
    """One ThreadpoolController per process, knowing numpy's and scipy's BLAS.

    Building one scans the loaded libraries (3.7 ms, most of a small fit);
    limiting with it costs µs. scipy's BLAS is loaded first: the GEMM kernels
    (:mod:`mixfit.kernels.kmeans_gemm`) call it through numba.
    """
    if not _CONTROLLER:
        importlib.import_module("scipy.linalg.cython_blas")
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]
