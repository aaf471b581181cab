"""Where the time of ``mixfit report`` goes: 200 × 6 and 5,000 × 6 synthetic data.

For each size the script

1. runs :func:`mixfit.reporting.build.write_report` in this process (mclust's 14
   models × K = 1..9, the command's defaults) after a small warm-up report, so
   numba's compilation and the first imports are not counted, and prints its
   breakdown: the selection, each section (its figures drawn and saved as PNG
   included) and writing the page;
2. runs ``mixfit report FILE`` as a new process on the same data written as
   CSV, and prints its wall time from start to exit (Python's start-up, the
   imports, numba's cache, reading the file, everything) beside the line the
   command prints.

The issue's goals: ≤ 10 s for 200 × 6, ≤ 30 s for 5,000 × 6, on 2 cores. Other
processes on the cores stretch wall time: the 1-minute load average before each
run is printed. Run with the OpenBLAS overrides unset::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench_report.py
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: The sizes timed, and the issue's goal for each (seconds).
CASES = ((200, 10.0), (5000, 30.0))


def synthetic(n_samples, seed=0):
    """Three elongated, overlapping clusters in 6 columns (about banknote's shape at 200)."""
    from mixfit.datasets import make_mixture

    rng = np.random.default_rng(seed)
    means = rng.normal(scale=3.0, size=(3, 6))
    covariances = []
    for _ in range(3):
        factor = rng.normal(size=(6, 6))
        covariances.append(factor @ factor.T / 6 + 0.2 * np.eye(6))
    X, _ = make_mixture(n_samples, [0.5, 0.3, 0.2], means, covariances,
                        random_state=seed)
    return X


def load():
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def in_process(X, folder):
    from mixfit.reporting.build import write_report

    start = time.perf_counter()
    written = write_report(X, folder)
    total = time.perf_counter() - start
    return written, total


def command_line(X, folder):
    """Wall seconds of ``mixfit report`` in a fresh process, and the lines it printed."""
    data = Path(folder) / "data.csv"
    header = ",".join(f"c{j + 1}" for j in range(X.shape[1]))
    np.savetxt(data, X, delimiter=",", header=header, comments="", fmt="%.17g")
    command = [sys.executable, "-m", "mixfit", "report", str(data), "--out",
               str(Path(folder) / "page")]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stdout.strip().splitlines()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[n for n, _ in CASES],
                        help="row counts to time (default 200 5000)")
    args = parser.parse_args()
    goals = dict(CASES)
    print(f"cores: {len(os.sched_getaffinity(0))}; python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="bench-report-") as root:
        root = Path(root)
        # Warm-up: numba's kernels and matplotlib's first figure, not counted below.
        in_process(synthetic(60), root / "warm-up")
        for n_samples in args.sizes:
            X = synthetic(n_samples)
            goal = goals.get(n_samples)
            print(f"\n{n_samples} × {X.shape[1]}" + (f" (goal ≤ {goal:g} s)" if goal else ""))
            print(f"  load average before: {load():.2f}")
            written, total = in_process(X, root / f"lib-{n_samples}")
            print(f"  in process: {total:.2f} s: {written.time_line()}")
            print("    each step: " + ", ".join(f"{name} {value:.2f}"
                                             for name, value in written.seconds.items()))
            print(f"  load average before: {load():.2f}")
            case = root / f"cli-{n_samples}"
            case.mkdir()
            seconds, lines = command_line(X, case)
            print(f"  mixfit report (fresh process, start-up and imports included): "
                  f"{seconds:.2f} s" + (f" ({'within' if seconds <= goal else 'OVER'} "
                                        f"the goal)" if goal else ""))
            for line in lines:
                print(f"    {line}")
            # What the command's own line does not count: Python's start-up, the
            # imports (numba, scikit-learn, matplotlib) and loading numba's cache.
            counted = sum(float(value) for value in re.findall(r"([0-9.]+) s", lines[-1]))
            print(f"    start-up, imports and the rest: {seconds - counted:.2f} s")


if __name__ == "__main__":
    main()
