"""K-means over a grid of shapes: mixfit's time / scikit-learn's best (lloyd or elkan).

The grid of issue 16: n ∈ {1e5, 1e6}, d ∈ {2, 3, 8, 16, 32, 64, 160, 784},
K ∈ {3, 8, 16, 32, 64, 256, 1024}, float32 and float64. Every implementation gets
the same data (:func:`_harness.blobs`, 64 unit-variance blobs in [-3, 3]^d) and
the same K starting rows, runs ``max_iter=20, tol=0`` on all the cores (mixfit
``n_jobs``, scikit-learn its OpenMP threads), and is timed best of several runs
(at least one, more while they take under a second in all). A ratio counts only
when the results agree: the same number of iterations and final inertias (of
the final centres, recomputed in float64) within 1e-5 relative (float64) or
1e-4 (float32, see bench_kmeans.TOLERANCE).

Pruning: an implementation is first run for 2 iterations; when that predicts
more than ``--budget`` seconds (default 60) for its 20, it is skipped for that
shape and the table says so. A shape all of whose scikit-learn runs are skipped
has no ratio.

One child process per (n, d, dtype) generates the data once and runs every K
(imports, numba's cache and the data are not timed). Results are appended to
``--json`` as they come, so a long run that stops keeps what it measured;
``--from-json`` redraws the tables and the heat map without running anything
(the file's first line holds the run's machine and GEMM ceilings).
``--write-docs`` replaces the region between ``<!-- kmeans-grid:start -->`` and
``<!-- kmeans-grid:end -->`` in docs/benchmarks.md and writes the heat map to
docs/figures/kmeans-grid.png. Run with the OpenBLAS overrides unset::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python \\
        benchmarks/bench_kmeans.py --grid [--n 100000] [--d 2 3] [--k 3 8] [--write-docs]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

SCRIPT = Path(__file__).resolve()
DOCS = h.ROOT / "docs" / "benchmarks.md"
FIGURE = h.ROOT / "docs" / "figures" / "kmeans-grid.png"
MARKERS = ("<!-- kmeans-grid:start -->", "<!-- kmeans-grid:end -->")

GRID_N = (100_000, 1_000_000)
GRID_D = (2, 3, 8, 16, 32, 64, 160, 784)
GRID_K = (3, 8, 16, 32, 64, 256, 1024)
GRID_DTYPES = ("float32", "float64")
ITERATIONS = 20
BLOBS, BOX, SEED = 64, 3.0, 0
PEERS = ("sklearn-lloyd", "sklearn-elkan")
TOLERANCE = {"float64": 1e-5, "float32": 1e-4}
#: The issue's goal: mixfit at most this fraction of scikit-learn's best time.
GOAL = 0.5
#: Shapes whose GEMM-ceiling fraction is reported (the issue's "K ≥ 64").
GEMM_MIN_K = 64


# ---------------------------------------------------------------- the child

def _fit(impl, X, C, max_iter, cores):
    """One fit; returns (seconds, n_iter, final centres)."""
    if impl == "mixfit":
        import mixfit

        est = mixfit.KMeans(C.shape[0], init=C, n_init=1, max_iter=max_iter, tol=0,
                            n_jobs=cores)
    else:
        from sklearn.cluster import KMeans

        est = KMeans(C.shape[0], init=C, n_init=1, max_iter=max_iter, tol=0,
                     algorithm=impl.split("-")[1], random_state=SEED)
    start = time.perf_counter()
    est.fit(X)
    return time.perf_counter() - start, int(est.n_iter_), est.cluster_centers_


def _time(impl, X, C, cores, budget):
    """Best time of 20 iterations, or why it was skipped."""
    pilot, _, _ = _fit(impl, X, C, 2, cores)
    if pilot * ITERATIONS / 2 > budget:
        return {"skipped": f"2 iterations took {pilot:.1f} s: 20 would take over {budget:.0f} s"}
    times = []
    while not times or (sum(times) < 1.0 and len(times) < 15):
        seconds, n_iter, centers = _fit(impl, X, C, ITERATIONS, cores)
        times.append(seconds)
    return {"seconds": min(times), "runs": len(times), "n_iter": n_iter,
            "inertia64": h.inertia64(X, centers)}


def child(spec):
    warnings.simplefilter("ignore")
    n, d, dtype = spec["n"], spec["d"], np.dtype(spec["dtype"])
    cores = h.n_cores()
    # Load every implementation's code (numba's cached kernels, OpenMP) outside the timings.
    small = h.blobs(2000, d, 8, SEED, dtype, BOX)
    for impl in ("mixfit", *PEERS):
        _fit(impl, small, h.initial_rows(small, 8, SEED), 3, cores)
    X = h.blobs(n, d, BLOBS, SEED, dtype, BOX)
    results = []
    for k in spec["ks"]:
        C = h.initial_rows(X, k, SEED)
        row = {"n": n, "d": d, "k": k, "dtype": spec["dtype"]}
        for impl in ("mixfit", *PEERS):
            row[impl] = _time(impl, X, C, cores, spec["budget"])
        results.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)  # progress, for the parent's log
    return {"rows": results}


# ---------------------------------------------------------------- the tables

def ratio(row):
    """mixfit's time / the best agreeing scikit-learn time, and a note (None if none)."""
    ours = row["mixfit"]
    if "seconds" not in ours:
        return None, "mixfit skipped"
    peers = []
    for impl in PEERS:
        theirs = row[impl]
        if "seconds" not in theirs:
            continue
        agree = (theirs["n_iter"] == ours["n_iter"] and h.relative_difference(
            theirs["inertia64"], ours["inertia64"]) <= TOLERANCE[row["dtype"]])
        if agree:
            peers.append(theirs["seconds"])
        else:
            return None, f"{impl} disagrees"
    if not peers:
        return None, "peers skipped"
    return ours["seconds"] / min(peers), None


def gemm_fraction(row, ceilings):
    """Lloyd's floor of flops (2·n·K·d per iteration) over mixfit's time, of the ceiling."""
    ours = row["mixfit"]
    if "seconds" not in ours:
        return None
    flops = 2.0 * row["n"] * row["k"] * row["d"] * ours["n_iter"]
    return flops / ours["seconds"] / (ceilings[row["dtype"]] * 1e9)


def tables(rows, ceilings):
    """Markdown: per (n, dtype) the ratios (d down, K across), then the GEMM fractions."""
    lines = []
    panels = sorted({(r["n"], r["dtype"]) for r in rows})
    for n, dtype in panels:
        panel = {(r["d"], r["k"]): r for r in rows if r["n"] == n and r["dtype"] == dtype}
        ds = sorted({d for d, _ in panel})
        ks = sorted({k for _, k in panel})
        lines += [f"**n = {n:,}, {dtype}**: mixfit / scikit-learn's best (goal ≤ {GOAL}; "
                  "bold: goal missed; – not run)", ""]
        body = []
        for d in ds:
            cells = []
            for k in ks:
                if (d, k) not in panel:
                    cells.append("–")
                    continue
                value, note = ratio(panel[d, k])
                if value is None:
                    cells.append(note)
                else:
                    cells.append(f"**{value:.2f}**" if value > GOAL else f"{value:.2f}")
            body.append([f"d = {d}", *cells])
        lines += [h.markdown_table(["", *(f"K = {k}" for k in ks)], body), ""]
        gemm = [(d, k, gemm_fraction(panel[d, k], ceilings)) for d in ds for k in ks
                if k >= GEMM_MIN_K and (d, k) in panel]
        gemm = [(d, k, f) for d, k, f in gemm if f is not None]
        if gemm:
            lines += ["mixfit's share of the GEMM ceiling at K ≥ 64 (2·n·K·d flops per "
                      "iteration over its time): " + ", ".join(
                          f"d={d} K={k}: {f:.0%}" for d, k, f in gemm), ""]
    return "\n".join(lines)


def heat_map(rows, path):
    """One panel per (n, dtype): log-scaled ratio by d (rows) and K (columns), annotated."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    panels = sorted({(r["n"], r["dtype"]) for r in rows})
    n_cols = 2 if len(panels) > 1 else 1
    n_rows = math.ceil(len(panels) / n_cols)
    figure = Figure(figsize=(6.2 * n_cols, 4.6 * n_rows), layout="constrained")
    axes = np.atleast_1d(figure.subplots(n_rows, n_cols, squeeze=False)).ravel()
    norm = LogNorm(vmin=0.1, vmax=4.0)
    image = None
    for ax, (n, dtype) in zip(axes, panels):
        panel = [r for r in rows if r["n"] == n and r["dtype"] == dtype]
        ds = sorted({r["d"] for r in panel})
        ks = sorted({r["k"] for r in panel})
        grid = np.full((len(ds), len(ks)), np.nan)
        for r in panel:
            value, _ = ratio(r)
            if value is not None:
                grid[ds.index(r["d"]), ks.index(r["k"])] = value
        image = ax.imshow(np.clip(grid, 0.1, 4.0), norm=norm, cmap="RdYlGn_r", aspect="auto")
        for i in range(len(ds)):
            for j in range(len(ks)):
                text = "–" if np.isnan(grid[i, j]) else f"{grid[i, j]:.2f}"
                weight = "bold" if not np.isnan(grid[i, j]) and grid[i, j] > GOAL else "normal"
                ax.text(j, i, text, ha="center", va="center", fontsize=8, weight=weight)
        ax.set_xticks(range(len(ks)), [str(k) for k in ks])
        ax.set_yticks(range(len(ds)), [str(d) for d in ds])
        ax.set_xlabel("K (clusters)")
        ax.set_ylabel("d (features)")
        ax.set_title(f"n = {n:,}, {dtype}")
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    if image is not None:
        figure.colorbar(image, ax=list(axes[:len(panels)]), shrink=0.8,
                        label=f"mixfit time / scikit-learn's best (goal ≤ {GOAL}; bold: missed)")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)


def write_docs(text):
    """Put ``text`` between the grid's markers in docs/benchmarks.md (added at its end first)."""
    start, end = MARKERS
    doc = DOCS.read_text(encoding="utf-8")
    if start not in doc:
        doc = doc.rstrip("\n") + f"\n\n{start}\n{end}\n"
    head, rest = doc.split(start, 1)
    _, tail = rest.split(end, 1)
    DOCS.write_text(f"{head}{start}\n{text}\n{end}{tail}", encoding="utf-8")


# ---------------------------------------------------------------- the parent

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grid", action="store_true", help="(what bench_kmeans.py passes)")
    parser.add_argument("--n", type=int, nargs="+", default=list(GRID_N))
    parser.add_argument("--d", type=int, nargs="+", default=list(GRID_D))
    parser.add_argument("--k", type=int, nargs="+", default=list(GRID_K))
    parser.add_argument("--dtypes", nargs="+", choices=GRID_DTYPES, default=list(GRID_DTYPES))
    parser.add_argument("--budget", type=float, default=60.0,
                        help="skip an implementation whose 20 iterations would take longer "
                        "(seconds, predicted from 2; default 60)")
    parser.add_argument("--json", type=Path, default=Path("kmeans-grid.jsonl"),
                        help="results, appended as they come (default ./kmeans-grid.jsonl)")
    parser.add_argument("--from-json", type=Path, help="only redraw from these results")
    parser.add_argument("--write-docs", action="store_true",
                        help="update docs/benchmarks.md and docs/figures/kmeans-grid.png")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    header = [f"K-means grid: mixfit / scikit-learn (best of lloyd, elkan), {ITERATIONS} "
              "iterations, tol=0, same data and starting rows", ""]
    if args.from_json:
        # The machine and the GEMM ceilings of the run, not of this redraw.
        lines = [json.loads(line) for line in args.from_json.read_text().splitlines() if line]
        run = next(line for line in lines if "environment" in line)
        environment, ceilings = run["environment"], run["ceilings"]
        rows = [line for line in lines if "environment" not in line]
    else:
        environment = h.environment()
        ceilings = {dt: h.gemm_gflops(dt) for dt in GRID_DTYPES}
        with args.json.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"environment": environment, "ceilings": ceilings}) + "\n")
        rows = []
        for n in args.n:
            for dtype in args.dtypes:
                for d in args.d:
                    spec = {"n": n, "d": d, "dtype": dtype, "ks": args.k,
                            "budget": args.budget}
                    begun = time.perf_counter()
                    out = h.run_child(SCRIPT, spec, timeout=7200)
                    if "error" in out:
                        print(h.loud(f"n={n} d={d} {dtype}: {out['error']}"), file=sys.stderr)
                        continue
                    with args.json.open("a", encoding="utf-8") as handle:
                        for row in out["rows"]:
                            handle.write(json.dumps(row) + "\n")
                    rows += out["rows"]
                    print(f"[n={n:,} d={d} {dtype}: {time.perf_counter() - begun:.0f} s]",
                          file=sys.stderr, flush=True)
    header += environment
    header.append(f"- GEMM ceiling (numpy 4096³ matmul, best of 3): float32 "
                  f"{ceilings['float32']:.0f} GFLOP/s, float64 {ceilings['float64']:.0f} GFLOP/s")
    text = "\n".join(header) + "\n\n" + tables(rows, ceilings)
    skipped = sorted({f"n={r['n']:,} d={r['d']} K={r['k']} {r['dtype']} {impl}"
                      for r in rows for impl in ("mixfit", *PEERS) if "skipped" in r[impl]})
    if skipped:
        text += (f"\nSkipped (20 iterations predicted over {args.budget:.0f} s): "
                 + "; ".join(skipped) + "\n")
    print(text)
    if args.write_docs:
        heat_map(rows, FIGURE)
        write_docs(text + f"\n![mixfit / scikit-learn over the grid](figures/{FIGURE.name})\n")
        print(f"wrote {DOCS} and {FIGURE}")
    print(f"Total wall time: {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    if h.is_child():
        h.child_main(child)
    else:
        main()
