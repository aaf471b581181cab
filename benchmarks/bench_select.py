"""Model selection over the full grid: mixfit.select against R's mclust, same data, same machine.

Each case fits the 14 models × K = 1..9 both ways and chooses by BIC:
``mixfit.select(X, random_state=0)`` timed in this process (after a warm-up
call, so numba's compilation is not counted), and ``Mclust(X, G = 1:9)`` timed
inside R by ``mclust_reference.R --timing-only`` (R's start-up and the CSV read
are not counted; for n > 2000 mclust's hierarchical start uses a random subset,
fixed by ``set.seed(1)``). mclust is GPL: it is only run, as a black box.

The cases are iris and wine (scikit-learn's copies) and ``TIMING_CASES`` of
``select_data.selection_benchmark_data``. Small cases report the median of
``--repeats-small`` runs, large ones of ``--repeats-large``. Before each timed
run the script waits (up to ``--wait``) for the 1-minute load average to fall
below ``--max-load`` and prints the load it started at: other processes on the
cores stretch wall time (CPU time is reported as well).

BIC is in scikit-learn's sign throughout (``-2 ll + df log n``, lower is
better; mclust prints the negative). Run with the OpenBLAS overrides unset::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench_select.py

Without ``Rscript`` on the PATH the mclust columns are skipped with a message.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris, load_wine

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))
from _harness import environment, markdown_table  # noqa: E402
from select_data import TIMING_CASES, selection_benchmark_data  # noqa: E402

R_SCRIPT = BENCHMARKS / "mclust_reference.R"
# Above this many rows a case counts as large (fewer repeats).
SMALL_MAX_ROWS = 2000


def cases():
    """(name, X) of every benchmarked data set, small first."""
    yield "iris", load_iris().data.astype(np.float64)
    yield "wine", load_wine().data.astype(np.float64)
    for n_samples, n_features in TIMING_CASES:
        X, _ = selection_benchmark_data(n_samples, n_features)
        yield f"blobs {n_samples}×{n_features}", X


def wait_for_quiet(max_load, wait_s):
    """Wait until the 1-minute load average is below ``max_load`` (at most ``wait_s``)."""
    deadline = time.monotonic() + wait_s
    while os.getloadavg()[0] >= max_load and time.monotonic() < deadline:
        time.sleep(5)
    return os.getloadavg()[0]


def time_mixfit(X, repeats, max_load, wait_s):
    import mixfit

    walls, cpus, loads = [], [], []
    for _ in range(repeats):
        loads.append(wait_for_quiet(max_load, wait_s))
        wall, cpu = time.perf_counter(), time.process_time()
        selection = mixfit.select(X, random_state=0)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    best = selection.ranked()[0]
    return {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus),
            "runs_s": walls, "load": loads,
            "best": (best.covariance_type, best.n_components, best.bic)}


def write_csv(X, path):
    # repr() reads back to the same double: R sees exactly the array mixfit sees.
    header = ",".join(f"x{column}" for column in range(X.shape[1]))
    rows = (",".join(repr(float(value)) for value in row) for row in X)
    path.write_text(header + "\n" + "\n".join(rows) + "\n")


def time_mclust(rscript, X, repeats, max_load, wait_s):
    with tempfile.TemporaryDirectory() as workdir:
        csv_path, json_path = Path(workdir, "data.csv"), Path(workdir, "out.json")
        write_csv(X, csv_path)
        load = wait_for_quiet(max_load, wait_s)
        command = [rscript, str(R_SCRIPT), str(csv_path), str(json_path), "G=1:9",
                   "--timing-only", f"--repeats={repeats}"]
        finished = subprocess.run(command, capture_output=True, text=True)
        if finished.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed (exit {finished.returncode}):\n"
                               f"{finished.stderr}")
        record = json.loads(json_path.read_text())
    best = record["best"]
    return {"wall_s": record["elapsed_s"], "cpu_s": record["cpu_s"],
            "runs_s": record["elapsed_runs_s"], "load": [load],
            "best": (best["model"], best["G"], -best["bic"]),
            "version": f"mclust {record['mclust_version']}, {record['R_version']}"}


def warm_up():
    """Compile mixfit's numba kernels for every model before anything is timed."""
    import mixfit

    X = load_iris().data
    mixfit.select(X, n_components=range(1, 3), random_state=0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats-small", type=int, default=3)
    parser.add_argument("--repeats-large", type=int, default=1)
    parser.add_argument("--max-load", type=float, default=0.5,
                        help="wait for the 1-minute load average to fall below this")
    parser.add_argument("--wait", type=float, default=120.0,
                        help="seconds to wait for a quiet machine before each timing")
    parser.add_argument("--only", nargs="*", help="names of the cases to run (iris, wine, blobs)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    rscript = shutil.which("Rscript")
    if rscript is None:
        print("Rscript not found: timing mixfit only (install r-base-core r-cran-mclust "
              "r-cran-jsonlite for the mclust columns)", file=sys.stderr)
    warm_up()
    rows, records, mclust_version = [], [], None
    for name, X in cases():
        if args.only and not any(name.startswith(only) for only in args.only):
            continue
        n, d = X.shape
        repeats = args.repeats_small if n <= SMALL_MAX_ROWS else args.repeats_large
        print(f"{name} ({n}×{d}), {repeats} run(s) each ...", file=sys.stderr, flush=True)
        ours = time_mixfit(X, repeats, args.max_load, args.wait)
        theirs = None
        if rscript is not None:
            theirs = time_mclust(rscript, X, repeats, args.max_load, args.wait)
            mclust_version = theirs["version"]
        records.append({"case": name, "n": n, "d": d, "repeats": repeats,
                        "mixfit": ours, "mclust": theirs})
        model, k, bic = ours["best"]
        row = [name, n, d, f"{ours['wall_s']:.2f}", f"{ours['cpu_s']:.2f}"]
        if theirs is None:
            row += ["—", "—", "—", "—", "—"]
        else:
            their_model, their_k, their_bic = theirs["best"]
            # The mclust reference is exact here (not rounded): allow float noise only.
            at_least = bic <= their_bic + 1e-9 * abs(their_bic)
            row += [f"{theirs['wall_s']:.2f}", f"{theirs['cpu_s']:.2f}",
                    f"{theirs['wall_s'] / ours['wall_s']:.2f}",
                    f"{their_model},{their_k} {their_bic:.2f}", "yes" if at_least else "no"]
        row.insert(5, f"{model},{k} {bic:.2f}")
        loads = ours["load"] + (theirs["load"] if theirs else [])
        row.append(f"{max(loads):.2f}")
        rows.append(row)

    header = ["data", "n", "d", "mixfit s", "mixfit CPU s", "mixfit best (BIC)", "mclust s",
              "mclust CPU s", "mclust s / mixfit s", "mclust best (BIC)",
              "mixfit BIC ≤ mclust's", "max load at start"]
    print()
    print("Full grid, 14 models × K = 1..9, chosen by BIC (scikit-learn's sign: "
          "-2 ll + df log n, lower is better; mclust reports the negative).")
    print("mixfit: select(X, random_state=0), every core; mclust: Mclust(X, G = 1:9), "
          "single-threaded R. Wall time is the median of the runs.")
    print()
    print(markdown_table(header, rows))
    print()
    extra = [f"- R: {mclust_version}"] if mclust_version else []
    for line in environment() + extra:
        print(line)
    if args.json:
        args.json.write_text(json.dumps({"environment": environment() + extra,
                                         "results": records}, indent=1) + "\n")


if __name__ == "__main__":
    main()
