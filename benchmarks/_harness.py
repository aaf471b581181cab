"""Shared machinery for the side-by-side benchmarks (bench_kmeans.py, bench_gmm.py).

What lives here:

- the data: Gaussian blobs from a fixed seed and the K initial rows every
  implementation starts from (:func:`blobs`, :func:`initial_rows`);
- one child process per (case, implementation) (:func:`run_child`, :func:`child_main`):
  the child generates the data itself, times a first call (numba compilation
  and all) and warm calls, and measures peak memory beyond the input as the
  rise of VmHWM over VmRSS after resetting the high-water mark
  (``/proc/self/clear_refs``); it prints one JSON line;
- the machine: GEMM ceiling (:func:`gemm_gflops`), BLAS kernel
  (:func:`blas_info`), CPU and versions (:func:`environment`), mixfit's commit;
- agreement (:func:`relative_difference`) and Markdown tables (:func:`markdown_table`).

Run the suites with the OpenBLAS overrides unset so that numpy picks its own
kernel::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_kmeans.py
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHILD_FLAG = "--child"


# ---------------------------------------------------------------- the machine

def n_cores():
    """Cores this process may run on (every implementation gets all of them)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def blas_info():
    """The BLAS and OpenMP libraries numpy/scipy/sklearn loaded, via threadpoolctl."""
    from threadpoolctl import threadpool_info

    keys = ("user_api", "internal_api", "version", "architecture", "threading_layer", "num_threads")
    rows = []
    for info in threadpool_info():
        row = {key: info.get(key) for key in keys if info.get(key) is not None}
        row["library"] = Path(info.get("filepath", "")).name
        rows.append(row)
    return rows


def blas_summary():
    parts = []
    for row in blas_info():
        if row.get("user_api") != "blas":
            continue
        parts.append(f"{row.get('internal_api')} {row.get('version')} "
                     f"{row.get('architecture', '')} ({row['library']}), "
                     f"{row.get('num_threads')} threads")
    return "; ".join(parts) or "no BLAS found by threadpoolctl"


def gemm_gflops(dtype, size=4096, repeats=3):
    """Best-of-``repeats`` GFLOP/s of a ``size``³ numpy matmul (2·size³ flops)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size)).astype(dtype)
    b = rng.standard_normal((size, size)).astype(dtype)
    out = np.empty((size, size), dtype=dtype)
    np.matmul(a, b, out=out)  # warm-up: threads started, pages touched
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best / 1e9


def _git(*args):
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.rstrip("\n")
    except (OSError, subprocess.CalledProcessError):
        return None


def mixfit_commit():
    """``abc1234`` or ``abc1234 (dirty: src/...)`` when src/ has uncommitted changes."""
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = _git("status", "--porcelain", "--", "src")
    if dirty:
        files = sorted({line[3:] for line in dirty.splitlines() if line.strip()})
        return f"{commit} (dirty: {', '.join(files)})"
    return f"{commit} (clean src/)"


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib():
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def environment(extra=()):
    """Lines describing machine, versions and BLAS, for the top of the output."""
    import scipy
    import sklearn

    import mixfit

    versions = [f"python {platform.python_version()}", f"numpy {np.__version__}",
                f"scipy {scipy.__version__}", f"scikit-learn {sklearn.__version__}"]
    for name in extra:
        try:
            module = __import__(name)
            versions.append(f"{name} {module.__version__}")
        except ImportError:
            versions.append(f"{name} missing")
    try:
        import numba
        versions.append(f"numba {numba.__version__}")
    except ImportError:
        versions.append("numba missing")
    versions.append(f"mixfit {mixfit.__version__} at {mixfit_commit()}")
    overrides = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                 if k in os.environ}
    lines = [
        f"- machine: {cpu_model()}, {n_cores()} cores available, {memory_gib():.0f} GiB",
        f"- versions: {', '.join(versions)}",
        f"- BLAS: {blas_summary()}",
    ]
    if overrides:
        lines.append(f"- WARNING: OpenBLAS overrides set ({overrides}); "
                     "run with `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE` for fair numbers")
    return lines


# ---------------------------------------------------------------- the data

def blobs(n, d, centers, seed, dtype, box=10.0):
    """make_blobs-style data: ``centers`` centres uniform in [-box, box]^d, unit
    standard deviation, labels uniform; generated in float64 and then cast,
    so float32 and float64 variants hold the same values up to rounding."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(-box, box, size=(centers, d))
    labels = rng.integers(0, centers, size=n)
    X = rng.standard_normal((n, d))
    X += means[labels]
    if X.dtype != dtype:
        X = X.astype(dtype)
    return X


def initial_rows(X, k, seed):
    """The same K rows of X (chosen with ``seed``) for every implementation."""
    rng = np.random.default_rng(seed + 1)
    index = np.sort(rng.choice(X.shape[0], size=k, replace=False))
    return np.ascontiguousarray(X[index])


def nearest(X, centers, chunk=65536):
    """Labels and squared distances to the nearest centre, all in float64."""
    centers = np.asarray(centers, dtype=np.float64)
    c_norms = np.einsum("ij,ij->i", centers, centers)
    labels = np.empty(X.shape[0], dtype=np.int64)
    sq = np.empty(X.shape[0], dtype=np.float64)
    for start in range(0, X.shape[0], chunk):
        block = np.asarray(X[start:start + chunk], dtype=np.float64)
        dist = c_norms - 2.0 * block @ centers.T
        dist += np.einsum("ij,ij->i", block, block)[:, None]
        labels[start:start + chunk] = dist.argmin(axis=1)
        sq[start:start + chunk] = np.maximum(dist[np.arange(block.shape[0]),
                                                  labels[start:start + chunk]], 0.0)
    return labels, sq


def inertia64(X, centers):
    """Sum of squared distances to the nearest centre, computed in float64."""
    return float(nearest(X, centers)[1].sum())


# ---------------------------------------------------------------- memory and time

def _status_kb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def reset_peak():
    """Reset VmHWM to the current RSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PeakMemory:
    """``with PeakMemory() as m: fit()`` → ``m.extra_bytes``: peak RSS above the RSS at entry."""

    def __enter__(self):
        self.reset = reset_peak()
        self.baseline_kb = _status_kb("VmRSS")
        self.hwm_before_kb = _status_kb("VmHWM")
        return self

    def __exit__(self, *exc):
        self.peak_kb = _status_kb("VmHWM")
        # Without a reset the high-water mark may predate the fit (then it is a lower bound).
        self.extra_bytes = max(0, self.peak_kb - self.baseline_kb) * 1024
        return False


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def _strict_malloc():
    """Make glibc return freed memory at once, so that VmHWM tracks live memory.

    By default glibc raises its mmap threshold after a large free (up to 32 MiB)
    and keeps freed heap pages resident, so a second fit in the same process
    reuses pages the first one touched and shows almost no peak. Fixing the
    threshold at 64 KiB (every larger block is its own mapping, unmapped on free)
    and trimming the heap first makes the peak of a later fit honest. Called only
    after the timed runs: it would slow every allocation down.
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        libc.mallopt(M_MMAP_THRESHOLD, 64 * 1024)
        libc.mallopt(M_TRIM_THRESHOLD, 128 * 1024)
        libc.malloc_trim(0)
        return True
    except (OSError, AttributeError):
        return False


def measure(fit, *, repeats, summarize, fit_memory=None, fit_first=None, more=None):
    """First call, ``repeats`` warm calls (median), then a memory run.

    ``fit()`` returns a fitted object; ``summarize(obj)`` a JSON-able dict
    (iterations, histories) taken from the last warm call. The memory run
    (``fit_memory``, default ``fit``; a short fit is enough: peak memory does not
    grow with iterations) comes after :func:`_strict_malloc`, under PeakMemory,
    after numba compilation and thread pools already happened. ``fit_first``
    (default ``fit``) is the first call: a short fit for the large cases.
    ``more(fitted)`` (a dict of further timings) runs after the warm calls and
    before the memory run, whose allocator settings would slow it down.
    """
    first, fitted = timed(fit_first or fit)
    warm = []
    for _ in range(repeats):
        seconds, fitted = timed(fit)
        warm.append(seconds)
    out = summarize(fitted)
    if more is not None:
        out.update(more(fitted))
    strict = _strict_malloc()
    with PeakMemory() as memory:
        (fit_memory or fit)()
    out.update(first_s=first, warm_s=statistics.median(warm), warm_runs=len(warm),
               peak_extra_bytes=memory.extra_bytes, peak_reset=memory.reset,
               strict_malloc=strict)
    return out, fitted


def repeats_for(work):
    """Warm runs to take the median of: 51 for tiny runs (≲ 1 MFLOP: the
    lecture-sized cases, where a single call takes ~0.1 ms and the first few
    calls of any library run slower), 5 where a run is cheap (≲ 0.3 GFLOP),
    else one."""
    if work <= 1e6:
        return 51
    return 5 if work <= 3e8 else 1


# ---------------------------------------------------------------- child processes

def run_child(script, spec, timeout=1800, env=None):
    """Run ``script --child JSON`` in a fresh interpreter; return its JSON result.

    The child inherits the environment (and so the BLAS settings), updated with
    ``env``; a crash or a timeout comes back as ``{"error": ...}`` rather than
    stopping the suite.
    """
    cmd = [sys.executable, str(script), CHILD_FLAG, json.dumps(spec)]
    child_env = None if not env else {**os.environ, **env}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=child_env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}
    return json.loads(lines[-1])


def child_main(run):
    """Entry point of a child: ``run(spec) → dict``; prints the dict as one JSON line."""
    spec = json.loads(sys.argv[sys.argv.index(CHILD_FLAG) + 1])
    result = run(spec)
    result["blas"] = blas_summary()
    print(json.dumps(result), flush=True)


def is_child():
    return CHILD_FLAG in sys.argv


# ---------------------------------------------------------------- agreement and tables

def relative_difference(a, b):
    """max |a − b| / max(|b|, tiny) over the common prefix of two sequences."""
    a = np.atleast_1d(np.asarray(a, dtype=np.float64))
    b = np.atleast_1d(np.asarray(b, dtype=np.float64))
    m = min(a.size, b.size)
    if m == 0:
        return float("nan")
    scale = np.maximum(np.abs(b[:m]), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(a[:m] - b[:m]) / scale))


def fmt_seconds(s):
    if s is None or not np.isfinite(s):
        return "–"
    if s >= 100:
        return f"{s:.0f}"
    if s >= 1:
        return f"{s:.2f}"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.0f} µs"


def fmt_ratio(r):
    return "–" if r is None or not np.isfinite(r) else f"{r:.2f}"


def fmt_bytes(b):
    if b is None:
        return "–"
    if b >= 2**30:
        return f"{b / 2**30:.2f} GiB"
    return f"{b / 2**20:.1f} MiB"


def fmt_sci(x):
    return "–" if x is None or not np.isfinite(x) else f"{x:.1e}"


def markdown_table(headers, rows, align=None):
    align = align or ["---"] + ["---:"] * (len(headers) - 1)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def loud(message):
    """A disagreement: printed in the table's notes and to stderr, never hidden."""
    text = f"**DISAGREEMENT: {message}**"
    print(text, file=sys.stderr, flush=True)
    return text

