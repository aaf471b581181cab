"""Record R's mclust results as reference numbers for mixfit's model selection.

mclust is GPL: it is run as a black box through ``mclust_reference.R`` and only
its outputs are stored, never its code. Two files are written:

- ``tests/data/mclust_reference.json`` (for the tests): for iris, wine
  (scikit-learn's copies) and ``three_orientations`` (``select_data.py``, the
  array itself stored too), mclust's hierarchical partitions for K = 1..9
  (n <= ``--partition-max-n`` only), its BIC table over the 14 models, the fit
  of every (model, K) cell from that partition, and the model ``Mclust`` chooses.
  Numbers are rounded to 10 significant digits; BIC is in mclust's sign
  (``2 loglik - df log n``, larger is better).
- ``benchmarks/mclust_timing.json`` (for ``bench_select.py``, not for tests):
  the wall time of ``Mclust(X, G = 1:9)`` and its chosen model on
  ``selection_benchmark_data`` for each of ``TIMING_CASES``.

Needs ``Rscript`` with the mclust and jsonlite packages
(``apt-get install r-base-core r-cran-mclust r-cran-jsonlite``)::

    python benchmarks/make_mclust_reference.py [--skip-timing | --timing-only]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris, load_wine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from select_data import (  # noqa: E402
    SELECTION_BENCHMARK_SEED,
    THREE_ORIENTATIONS_SEED,
    TIMING_CASES,
    selection_benchmark_data,
    three_orientations,
)

BENCHMARKS = Path(__file__).resolve().parent
R_SCRIPT = BENCHMARKS / "mclust_reference.R"
REFERENCE_PATH = BENCHMARKS.parent / "tests" / "data" / "mclust_reference.json"
TIMING_PATH = BENCHMARKS / "mclust_timing.json"
SIGNIFICANT_DIGITS = 10
COMPONENTS = "G=1:9"


def round_significant(value, digits: int = SIGNIFICANT_DIGITS):
    """Round every float inside nested lists and dicts to ``digits`` significant digits."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}") if math.isfinite(value) else value
    if isinstance(value, list):
        return [round_significant(item, digits) for item in value]
    if isinstance(value, dict):
        return {key: round_significant(item, digits) for key, item in value.items()}
    return value


def write_csv(X: np.ndarray, path: Path) -> None:
    # repr() is the shortest text that reads back to the same double, so R sees
    # exactly the array that the tests will see.
    header = ",".join(f"x{column}" for column in range(X.shape[1]))
    lines = [",".join(repr(float(value)) for value in row) for row in X]
    path.write_text(header + "\n" + "\n".join(lines) + "\n")


def run_mclust(rscript: str, X: np.ndarray, *options: str) -> dict:
    """Run ``mclust_reference.R`` on ``X`` and return the JSON record it writes."""
    with tempfile.TemporaryDirectory() as workdir:
        csv_path, json_path = Path(workdir, "data.csv"), Path(workdir, "out.json")
        write_csv(X, csv_path)
        command = [rscript, str(R_SCRIPT), str(csv_path), str(json_path), COMPONENTS, *options]
        finished = subprocess.run(command, capture_output=True, text=True)
        if finished.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed (exit {finished.returncode}):\n{finished.stderr}"
            )
        return json.loads(json_path.read_text())


def reference_datasets() -> dict:
    """The data sets of the test reference: name -> (X, how to rebuild X)."""
    ours, _ = three_orientations()
    ours = np.array(round_significant(ours.tolist()))
    return {
        "iris": (load_iris().data.astype(np.float64), "sklearn.datasets.load_iris().data"),
        "wine": (load_wine().data.astype(np.float64), "sklearn.datasets.load_wine().data"),
        "three_orientations": (
            ours,
            f"benchmarks/select_data.py: three_orientations(300, seed={THREE_ORIENTATIONS_SEED})"
            " rounded to 10 significant digits; the exact array is stored under 'X'",
        ),
    }


def reference_entry(name: str, X: np.ndarray, source: str, record: dict, partition_max_n: int):
    entry = {
        "source": source,
        "n": X.shape[0],
        "d": X.shape[1],
        # Lets a test check that its loader gives the very rows mclust saw.
        "column_sums": X.sum(axis=0).tolist(),
        "column_sums_of_squares": (X**2).sum(axis=0).tolist(),
    }
    if name == "three_orientations":
        entry["X"] = X.tolist()
    for key in ("hc", "best", "bic_table", "cells_method", "cells", "cells_vs_bic_table"):
        entry[key] = record[key]
    del entry["hc"]["call"]  # always Mclust's default call; hc.options says the same
    if X.shape[0] <= partition_max_n:
        entry["hc_partitions"] = record["hc_partitions"]
    else:
        entry["hc_partitions"] = None
        entry["hc_partitions_omitted"] = f"n > {partition_max_n} (file size)"
    entry["elapsed_s"] = record["elapsed_s"]
    entry["cpu_s"] = record["cpu_s"]
    return entry


def make_reference(rscript: str, partition_max_n: int) -> dict:
    datasets = {}
    for name, (X, source) in reference_datasets().items():
        print(f"mclust on {name} {X.shape} ...", flush=True)
        record = run_mclust(rscript, X)
        if record["cells_vs_bic_table"]["success_differs"]:
            print(f"  warning: cells and mclustBIC disagree on which cells fail: "
                  f"{record['cells_vs_bic_table']}", file=sys.stderr)
        datasets[name] = reference_entry(name, X, source, record, partition_max_n)
        best = record["best"]
        print(f"  best {best['model']},{best['G']} BIC {best['bic']:.6f} "
              f"in {record['elapsed_s']:.3f} s (median)", flush=True)
    return {
        "about": (
            "Outputs of R's mclust (GPL; run as a black box, no code copied) for "
            "mixfit's model-selection tests. BIC in mclust's sign: 2 loglik - df log n, "
            "larger is better (mixfit's bic = -this). Labels are 0-based. A null BIC "
            "or a cell with 'error' is a fit mclust could not complete."
        ),
        "generated_by": "benchmarks/make_mclust_reference.py + benchmarks/mclust_reference.R",
        "mclust_version": record["mclust_version"],
        "R_version": record["R_version"],
        "G": record["G"],
        "em_control": record["em_control"],
        "models": list(record["bic_table"]),
        "datasets": datasets,
    }


def make_timing(rscript: str) -> dict:
    runs = []
    for n_samples, n_features in TIMING_CASES:
        X, _ = selection_benchmark_data(n_samples, n_features)
        print(f"timing Mclust(X, G=1:9) on {X.shape} ...", flush=True)
        load_before = os.getloadavg()[0]
        record = run_mclust(rscript, X, "--timing-only", "--repeats=1")
        # Other processes on the machine slow R down; say how busy it was.
        load_during = [load_before, os.getloadavg()[0]]
        print(f"  {record['elapsed_s']:.1f} s ({record['cpu_s']:.1f} s CPU), best {record['best']['model']},"
              f"{record['best']['G']} BIC {record['best']['bic']:.3f}", flush=True)
        runs.append({
            "n": n_samples,
            "d": n_features,
            "data": f"select_data.selection_benchmark_data({n_samples}, {n_features}, "
                    f"seed={SELECTION_BENCHMARK_SEED})",
            "elapsed_s": record["elapsed_s"],
            "cpu_s": record["cpu_s"],
            "repeats": len(record["elapsed_runs_s"]),
            "load_average_1min_before_after": load_during,
            "best": record["best"],
            "hc": {key: record["hc"][key] for key in ("model", "use")},
            "hc_subset_size": None if record["hc"]["subset_rows"] is None
            else len(record["hc"]["subset_rows"]),
            "r_seed": record["seed"],
            "bic_table": record["bic_table"],
        })
    return {
        "about": "Wall time of mclust's Mclust(X, G = 1:9) (one run, R's reference BLAS, "
                 "single thread) and the model it chooses; BIC in mclust's sign.",
        "mclust_version": record["mclust_version"],
        "R_version": record["R_version"],
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count()},
        "runs": runs,
    }


def write_json(document: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(round_significant(document), separators=(",", ":"))
    path.write_text(text + "\n")
    print(f"wrote {path} ({len(text) / 1024:.0f} KiB)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--skip-timing", action="store_true", help="write only the test reference")
    which.add_argument("--timing-only", action="store_true", help="write only mclust_timing.json")
    parser.add_argument("--partition-max-n", type=int, default=200,
                        help="store hierarchical partitions only for data sets this small")
    parser.add_argument("--rscript", default=shutil.which("Rscript"),
                        help="path of Rscript (default: the one on PATH)")
    args = parser.parse_args(argv)
    if args.rscript is None:
        parser.error("Rscript not found: install R (apt-get install r-base-core "
                     "r-cran-mclust r-cran-jsonlite) or pass --rscript PATH")
    if not args.timing_only:
        write_json(make_reference(args.rscript, args.partition_max_n), REFERENCE_PATH)
    if not args.skip_timing:
        write_json(make_timing(args.rscript), TIMING_PATH)


if __name__ == "__main__":
    main()
