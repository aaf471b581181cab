"""Whether the E-step kernels may run their blocks on numba's own threads.

A numba parallel region (``prange``) starts its threads in microseconds, where
a Python thread pool takes tens. But only numba's OpenMP and TBB threading
layers accept regions entered from several Python threads at once: its
fallback layer ("workqueue") aborts the process when two overlap. So the
kernels' parallel drivers are used only once a first region has shown which
layer numba loaded. A process forked from one that ran OpenMP regions keeps
to the Python pool: GNU OpenMP cannot serve it, and numba terminates such a
child at its first parallel region.
"""

from __future__ import annotations

import os

import numba
import numpy as np
from numba import njit, prange

#: numba's threading layers that may be entered from any number of threads.
THREAD_SAFE_LAYERS = ("omp", "tbb")

_LAYER = []


@njit(parallel=True, cache=True, nogil=True)
def _touch(out):
    for i in prange(out.shape[0]):
        out[i] = i


def numba_layer():
    """The threading layer numba loaded (starting it with a tiny region), or "none"."""
    if not _LAYER:
        try:
            _touch(np.zeros(2))
            _LAYER.append(numba.threading_layer())
        except Exception:  # no layer could load: the callers keep their own pool
            _LAYER.append("none")
    return _LAYER[0]


def _after_fork_in_child():
    if _LAYER and _LAYER[0] == "omp":
        _LAYER[0] = "omp (inherited across fork: unusable)"


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def numba_threads_usable():
    """Whether parallel kernels may run, from any thread, on numba's threads."""
    return numba_layer() in THREAD_SAFE_LAYERS


def run_on_threads(n_threads, call):
    """``call()`` with numba's parallel regions on at most ``n_threads`` threads.

    The setting is numba's per calling thread, and restored afterwards.
    """
    previous = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(n_threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        return call()
    finally:
        numba.set_num_threads(previous)
