"""Fitting a memory-mapped file: added memory and time per iteration against RAM.

Issue 13's measurement: a 2e7 × 8 float32 array (640 MB) saved as ``.npy`` is fitted
with ``GaussianMixture(8, covariance_type="diag")`` and ``KMeans(16)`` twice each, in
fresh processes: once loaded into memory (``np.load(path)``) and once memory-mapped
(``np.load(path, mmap_mode="r")``). Each run reports

- the anonymous memory the fit adds (peak ``RssAnon`` sampled every 5 ms, minus its
  value before ``fit``), as a fraction of the input's size: a memory map's pages are
  file-backed, so anything the fit copies or keeps per row shows up here;
- the median wall time per iteration (between successive callbacks), from a warm page
  cache (the file is read once before), and its ratio memory-mapped / in memory.

Run (≈ 3 minutes on 2 cores; the file is written once to --dir)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench_memmap.py

``--rows`` makes it smaller for a quick look.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

GOAL_MEMORY = 0.25
GOAL_TIME = 1.2


def write_data(path, n_rows, n_features=8, n_clusters=8, seed=0):
    """Blobs in float32, written block by block into an .npy file (never whole in RAM)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(n_clusters, n_features))
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_rows, n_features))
    for start in range(0, n_rows, 1_000_000):
        stop = min(start + 1_000_000, n_rows)
        labels = rng.integers(n_clusters, size=stop - start)
        X[start:stop] = centres[labels] + rng.normal(size=(stop - start, n_features))
    X.flush()
    del X


def _rss_anon():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no RssAnon in /proc/self/status (Linux only)")


def run_one(path, estimator_name, mode, n_iter):
    """In a fresh process: fit, and report memory and per-iteration times as JSON."""
    import threading
    import warnings

    from mixfit import GaussianMixture, KMeans

    mapped = np.load(path, mmap_mode="r")
    float(mapped[:, 0].sum(dtype=np.float64))  # warm the page cache (all pages of the file)
    float(np.asarray(mapped).sum(dtype=np.float64))
    X = mapped if mode == "mmap" else np.load(path)
    stamps = []

    def on_iteration(*_):
        stamps.append(time.perf_counter())

    if estimator_name == "gmm":
        model = GaussianMixture(8, covariance_type="diag", max_iter=n_iter, tol=0,
                                random_state=0, callback=on_iteration)
    else:
        model = KMeans(16, n_init=1, max_iter=n_iter, tol=0, random_state=0,
                       callback=on_iteration)
    before = _rss_anon()
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_anon())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    total = time.perf_counter() - start
    done.set()
    sampler.join()
    steps = np.diff(stamps)
    return {"added_bytes": peak[0] - before, "input_bytes": int(X.nbytes), "fit_s": total,
            "iteration_s": float(np.median(steps)) if steps.size else float("nan"),
            "n_iter": int(model.n_iter_)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, name, mode = args.child
        print(json.dumps(run_one(path, name, mode, args.iterations)))
        return
    path = os.path.join(args.dir, f"mixfit_bench_memmap_{args.rows}x8_f32.npy")
    if not os.path.exists(path):
        write_data(path, args.rows)
    from threadpoolctl import threadpool_info

    blas = [(i["internal_api"], i.get("architecture"), i["num_threads"])
            for i in threadpool_info() if i["user_api"] == "blas"]
    print(f"# {args.rows} x 8 float32 ({os.path.getsize(path) / 1e6:.0f} MB), "
          f"{args.iterations} iterations, tol=0; BLAS {blas}; {os.cpu_count()} cores")
    print("| estimator | input | added memory (of input) | s / iteration | mmap / RAM |")
    print("|---|---|---:|---:|---:|")
    for name, label in (("gmm", "GaussianMixture(8, diag)"), ("kmeans", "KMeans(16)")):
        results = {}
        for mode in ("memory", "mmap"):
            out = subprocess.run(
                [sys.executable, __file__, "--iterations", str(args.iterations),
                 "--child", path, name, mode],
                check=True, capture_output=True, text=True,
            ).stdout
            results[mode] = json.loads(out.strip().splitlines()[-1])
        for mode in ("memory", "mmap"):
            r = results[mode]
            ratio = r["iteration_s"] / results["memory"]["iteration_s"]
            source = "np.load" if mode == "memory" else 'mmap_mode="r"'
            print(f"| {label} | {source} | "
                  f"{r['added_bytes'] / 1e6:.0f} MB ({r['added_bytes'] / r['input_bytes']:.1%}) | "
                  f"{r['iteration_s']:.3f} | {ratio:.2f} |")
        mapped = results["mmap"]
        ok_memory = mapped["added_bytes"] <= GOAL_MEMORY * mapped["input_bytes"]
        ok_time = mapped["iteration_s"] <= GOAL_TIME * results["memory"]["iteration_s"]
        print(f"# {label}: memory goal (<= {GOAL_MEMORY:.0%}) {'met' if ok_memory else 'MISSED'}"
              f", time goal (<= {GOAL_TIME}x) {'met' if ok_time else 'MISSED'}")


if __name__ == "__main__":
    main()
