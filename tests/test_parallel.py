"""Threads over row chunks: results in order, n_jobs honoured, pools reused and fork-safe."""

import os
import threading
import time

import numpy as np
import pytest

from mixfit import _parallel


def _concurrency_probe():
    """A task that records how many copies of itself run at once."""
    lock = threading.Lock()
    state = {"now": 0, "most": 0, "threads": set()}

    def task(*args):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
            state["threads"].add(threading.get_ident())
        time.sleep(0.002)
        with lock:
            state["now"] -= 1
        return args

    return task, state


@pytest.mark.parametrize("n_jobs", [1, 2, 3])
def test_map_chunks_keeps_order_and_honours_n_jobs(n_jobs):
    task, state = _concurrency_probe()
    results = _parallel.map_chunks(task, 1000, 64, n_jobs)
    assert [rows for (rows,) in results] == [
        slice(start, min(start + 64, 1000)) for start in range(0, 1000, 64)
    ]
    assert state["most"] <= n_jobs
    if n_jobs > 1:
        assert state["most"] > 1


@pytest.mark.parametrize("n_jobs", [1, 2, 5])
def test_map_ranges_covers_every_item_once(n_jobs):
    task, state = _concurrency_probe()
    seen = np.zeros(37, dtype=int)

    def mark(begin, end):
        task()
        seen[begin:end] += 1

    _parallel.map_ranges(mark, 37, n_jobs)
    assert np.all(seen == 1)
    assert state["most"] <= n_jobs


def test_pools_are_reused_between_calls():
    task, state = _concurrency_probe()
    for _ in range(5):
        _parallel.map_ranges(lambda begin, end: task(), 4, 2)
    # Five calls ran on the calling thread and the same pool's two threads, not
    # on new ones each time.
    assert len(state["threads"]) <= 3


def test_map_ranges_keeps_light_passes_on_the_calling_thread():
    calls = []
    _parallel.map_ranges(lambda begin, end: calls.append((begin, end, threading.get_ident())),
                         40, 2, work_per_item=1000)
    # 40,000 values: under MIN_SHARE_WORK per share, so one share, run here.
    assert calls == [(0, 40, threading.get_ident())]
    calls.clear()
    _parallel.map_ranges(lambda begin, end: calls.append((begin, end)), 40, 2,
                         work_per_item=_parallel.MIN_SHARE_WORK)
    assert sorted(calls) == [(0, 20), (20, 40)]


def test_map_ranges_leaves_nothing_running_when_a_share_fails():
    finished = []

    def share(begin, end):
        if begin == 0:  # the calling thread's share
            raise RuntimeError("boom")
        time.sleep(0.2)
        finished.append(begin)

    with pytest.raises(RuntimeError, match="boom"):
        _parallel.map_ranges(share, 2, 2)
    assert finished == [1]  # the pool's share was waited for, not left writing


def _wait_for(pid, seconds, hung):
    """Wait for a forked child; kill it and fail with ``hung`` past ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.05)
    os.kill(pid, 9)
    pytest.fail(hung)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_fresh_pools():
    # Both workers of the pool run a task and go idle: an inherited pool would
    # then believe it has idle threads and start none in the child.
    _parallel.map_ranges(lambda begin, end: time.sleep(0.02), 2, 2)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a pool inherited without its threads would hang here
        total = np.zeros(8)

        def fill(begin, end):
            total[begin:end] = 1.0

        _parallel.map_ranges(fill, 8, 2)
        os.write(write, b"ok" if total.sum() == 8 else b"no")
        os._exit(0)
    os.close(write)
    _wait_for(pid, 30, "the forked child hung on an inherited thread pool")
    assert os.read(read, 2) == b"ok"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_fits_after_the_parent_used_numbas_threads():
    # numba terminates a forked child at its first OpenMP region when the parent
    # ran one (GNU OpenMP cannot serve it): the child keeps to the Python pool.
    from mixfit import KMeans

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40_000, 16)).astype(np.float32)
    shapes = (12, 70)  # the SIMD micro-kernel's blocks; the GEMM path's
    fitted = [KMeans(k, n_init=1, random_state=0, n_jobs=2).fit(X).labels_ for k in shapes]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            same = all(np.array_equal(KMeans(k, n_init=1, random_state=0, n_jobs=2).fit(X).labels_,
                                      labels) for k, labels in zip(shapes, fitted))
            os.write(write, b"ok" if same else b"no")
        finally:
            os._exit(0)
    os.close(write)
    status = _wait_for(pid, 60, "the forked child hung")
    assert os.read(read, 2) == b"ok", f"the forked child ended with status {status}"
