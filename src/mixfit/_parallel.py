"""Threads over row chunks, with BLAS kept to one thread inside them.

The engines' E-steps are folds over chunks whose statistics add. Each chunk's
work is numpy GEMMs and numba kernels that release the GIL, so plain threads
run them in parallel; BLAS is limited to one thread meanwhile so that
``n_jobs`` threads do not each start ``n_cores`` BLAS threads (the
oversubscription scikit-learn also avoids). Results come back in chunk order
and are summed in that order, so the thread count never changes a result.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import nullcontext

from threadpoolctl import threadpool_limits

from mixfit._validation import row_chunks

__all__ = ["available_cores", "check_n_jobs", "map_chunks", "map_ranges", "shared_pool"]


def available_cores():
    """Cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def check_n_jobs(n_jobs):
    """Resolve ``n_jobs``: None or -1 → every available core, k ≥ 1 → k, −k → cores+1−k.

    The result is capped at :func:`available_cores`: the work is CPU-bound, so
    more threads than cores only add switching, and each thread pool is kept for
    the life of the process (``n_jobs=1000`` would otherwise leave 1000 idle
    threads behind).

    Raises
    ------
    TypeError, ValueError
        For anything but None or a non-zero integer.
    """
    import numbers

    import numpy as np

    if n_jobs is None:
        return available_cores()
    if isinstance(n_jobs, (bool, np.bool_)) or not isinstance(n_jobs, numbers.Integral):
        raise TypeError(f"n_jobs must be None or a non-zero integer, got {n_jobs!r}.")
    if n_jobs == 0:
        raise ValueError("n_jobs must be None or a non-zero integer, got 0; use 1 for one thread.")
    cores = available_cores()
    if n_jobs < 0:
        return max(1, cores + 1 + max(int(n_jobs), -cores))
    return min(int(n_jobs), cores)


# Thread pools are kept between calls, one per worker count (so a pool never
# runs more threads than the n_jobs asked for): starting threads costs ~1 ms
# each, paid every EM iteration otherwise. A forked child drops them (their
# threads do not exist there).
_pools = {}
_pools_lock = threading.Lock()


def shared_pool(n_workers):
    """The process-wide thread pool of ``n_workers`` threads (created on first use)."""
    with _pools_lock:
        pool = _pools.get(n_workers)
        if pool is None:
            pool = ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="mixfit")
            _pools[n_workers] = pool
        return pool


def _forget_pools():
    global _pools_lock
    _pools.clear()
    _pools_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def map_chunks(function, n_samples, chunk_size, n_jobs):
    """``[function(rows) for rows in row_chunks(n_samples, chunk_size)]``, on threads.

    Parameters
    ----------
    function : callable
        Takes a ``slice`` of rows; must be thread-safe (pure, or writing only to
        its own rows of shared outputs).
    n_samples, chunk_size : int
    n_jobs : int
        Threads (already resolved by :func:`check_n_jobs`); 1 runs inline.

    Returns
    -------
    list
        One result per chunk, in chunk order.
    """
    chunks = list(row_chunks(n_samples, chunk_size))
    if n_jobs == 1 or len(chunks) == 1:
        return [function(rows) for rows in chunks]
    with threadpool_limits(limits=1, user_api="blas"):
        return list(shared_pool(min(n_jobs, len(chunks))).map(function, chunks))


def blas_limited(n_jobs):
    """A context that limits BLAS to one thread when ``n_jobs`` threads will run."""
    return threadpool_limits(limits=1, user_api="blas") if n_jobs > 1 else nullcontext()


#: Fewest values (rows × features) a share of :func:`map_ranges` must read for
#: a thread to pay: handing a share to the pool cost 40-90 µs, while one thread
#: reads 2¹⁸ float32 values in about as long (10,000 × 8: ~20 µs a pass).
MIN_SHARE_WORK = 1 << 18


def map_ranges(function, n_items, n_jobs, work_per_item=None):
    """Call ``function(begin, end)`` on ``n_jobs`` contiguous shares of ``range(n_items)``.

    For kernels that walk many chunks in one call (numba, GIL released, no
    BLAS inside): one call per thread instead of one per chunk, so the Python
    cost of a pass does not grow with the number of rows. Each call must
    write only to its own items' slots of shared outputs. ``work_per_item``
    (values an item reads): fewer shares where each would read under
    :data:`MIN_SHARE_WORK`. The calling thread runs the first share itself
    (one hand-off fewer), and nothing is left running when this returns or
    raises.
    """
    n_parts = max(1, min(n_jobs, n_items))
    if work_per_item is not None:
        n_parts = max(1, min(n_parts, n_items * work_per_item // MIN_SHARE_WORK))
    bounds = [n_items * part // n_parts for part in range(n_parts + 1)]
    if n_parts == 1:
        function(0, n_items)
        return
    pool = shared_pool(n_parts)
    futures = [pool.submit(function, begin, end) for begin, end in zip(bounds[1:], bounds[2:])]
    try:
        function(bounds[0], bounds[1])
    finally:
        wait(futures)
    for future in futures:
        future.result()
