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
docs/figures/kmeans-grid.png. The parent's machinery (options, children, the
JSON file, tables, heat map, docs) is shared with bench_minibatch_grid.py
through :class:`Grid`. Run with the OpenBLAS overrides unset::

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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

SCRIPT = Path(__file__).resolve()
DOCS = h.ROOT / "docs" / "benchmarks.md"

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
    predicted = pilot * ITERATIONS / 2
    # Once more when the first run took well over the pilot's prediction: a
    # kernel that the pilot's iterations never reached (Yinyang's, once the
    # labels settle) compiled inside it (9.0 s instead of 0.29 at 100,000 × 32
    # × 256 float64, right after a code change).
    while (not times or (sum(times) < 1.0 and len(times) < 15)
           or (len(times) == 1 and times[0] > 2 * predicted + 0.5)):
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
    # mixfit's "auto" prunes from 64 clusters on (Hamerly's bounds once labels
    # settle, Yinyang's for many clusters and features), with the direct or the
    # GEMM kernels by d·K: each K of the run is fitted once here, or those kernels
    # would compile inside a timed fit after a code change (10.3 s instead of
    # 0.08 at 10,000 × 3 × 1024 float64, whose 2-iteration pilot never prunes).
    for k in sorted({64, *(k for k in spec["ks"] if k >= 64)}):
        _fit("mixfit", small, h.initial_rows(small, k, SEED), ITERATIONS, cores)
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


def gemm_note(cells, run):
    """The line under a K-means panel: mixfit's share of the GEMM ceiling at K ≥ 64."""
    fractions = [(d, k, gemm_fraction(cells[d, k], run["ceilings"])) for d, k in sorted(cells)
                 if k >= GEMM_MIN_K]
    fractions = [(d, k, f) for d, k, f in fractions if f is not None]
    if not fractions:
        return None
    return ("mixfit's share of the GEMM ceiling at K ≥ 64 (2·n·K·d flops per iteration over "
            "its time): " + ", ".join(f"d={d} K={k}: {f:.0%}" for d, k, f in fractions))


# ---------------------------------------------------------------- what a grid plugs in

@dataclass(frozen=True)
class Grid:
    """What tells one grid benchmark from another, for the shared parent below.

    Attributes
    ----------
    name : str
        ``kmeans-grid``: names the docs region (``<!-- name:start -->``), the
        figure (docs/figures/name.png) and the default ``--json`` file.
    impls : tuple of str
        A result row's keys for the implementations: "mixfit" first, then its peers.
    ratio : callable
        ``ratio(row) -> (value, note)``: mixfit's time over its peers', or
        ``(None, why not)``.
    caption : str
        What a panel's cells are ("mixfit / scikit-learn's best").
    footnote : callable, optional
        ``footnote(cells, run) -> str or None``: a line under a panel, from its
        cells (``{(d, K): row}``) and the results file's first line.
    after : str, optional
        A docs marker the region is first added after (else at the end of the file).
    goal : float
        The issue's goal for the ratio; cells above it are bold.
    """

    name: str
    impls: tuple
    ratio: Callable
    caption: str
    footnote: Optional[Callable] = None
    after: Optional[str] = None
    goal: float = GOAL

    @property
    def markers(self):
        return (f"<!-- {self.name}:start -->", f"<!-- {self.name}:end -->")

    @property
    def figure(self):
        return h.ROOT / "docs" / "figures" / f"{self.name}.png"


KMEANS = Grid("kmeans-grid", ("mixfit", *PEERS), ratio, "mixfit / scikit-learn's best",
              footnote=gemm_note)


# ---------------------------------------------------------------- the tables

def _panels(rows):
    """(n, dtype) of each panel, and the panel's cells ``{(d, K): row}``."""
    for n, dtype in sorted({(r["n"], r["dtype"]) for r in rows}):
        yield n, dtype, {(r["d"], r["k"]): r for r in rows if r["n"] == n and r["dtype"] == dtype}


def tables(rows, grid, run):
    """Markdown: per (n, dtype) the ratios (d down, K across), then the grid's footnote."""
    lines = []
    for n, dtype, cells in _panels(rows):
        ds = sorted({d for d, _ in cells})
        ks = sorted({k for _, k in cells})
        lines += [f"**n = {n:,}, {dtype}**: {grid.caption} (goal ≤ {grid.goal}; "
                  "bold: goal missed; – not run)", ""]
        body = []
        for d in ds:
            row = [f"d = {d}"]
            for k in ks:
                if (d, k) not in cells:
                    row.append("–")
                    continue
                value, note = grid.ratio(cells[d, k])
                if value is None:
                    row.append(note)
                else:
                    row.append(f"**{value:.2f}**" if value > grid.goal else f"{value:.2f}")
            body.append(row)
        lines += [h.markdown_table(["", *(f"K = {k}" for k in ks)], body), ""]
        note = grid.footnote(cells, run) if grid.footnote else None
        if note:
            lines += [note, ""]
    return "\n".join(lines)


def skipped_note(rows, grid, what, budget):
    """The line naming every (shape, implementation) the pilot skipped ("" if none).

    Only a shape's latest row counts, as in the tables: a later run that did
    not skip it replaces the skip.
    """
    latest = {(r["n"], r["d"], r["k"], r["dtype"]): r for r in rows}
    skipped = sorted({f"n={r['n']:,} d={r['d']} K={r['k']} {r['dtype']} {impl}"
                      for r in latest.values() for impl in grid.impls if "skipped" in r[impl]})
    if not skipped:
        return ""
    return f"\nSkipped ({what} predicted over {budget:.0f} s): " + "; ".join(skipped) + "\n"


def heat_map(rows, grid):
    """One panel per (n, dtype): log-scaled ratio by d (rows) and K (columns), annotated."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    panels = list(_panels(rows))
    n_cols = 2 if len(panels) > 1 else 1
    n_rows = math.ceil(len(panels) / n_cols)
    figure = Figure(figsize=(6.2 * n_cols, 4.6 * n_rows), layout="constrained")
    axes = np.atleast_1d(figure.subplots(n_rows, n_cols, squeeze=False)).ravel()
    norm = LogNorm(vmin=0.1, vmax=4.0)
    image = None
    for ax, (n, dtype, cells) in zip(axes, panels):
        ds = sorted({d for d, _ in cells})
        ks = sorted({k for _, k in cells})
        grid_values = np.full((len(ds), len(ks)), np.nan)
        for (d, k), r in cells.items():
            value, _ = grid.ratio(r)
            if value is not None:
                grid_values[ds.index(d), ks.index(k)] = value
        image = ax.imshow(np.clip(grid_values, 0.1, 4.0), norm=norm, cmap="RdYlGn_r",
                          aspect="auto")
        for i in range(len(ds)):
            for j in range(len(ks)):
                value = grid_values[i, j]
                text = "–" if np.isnan(value) else f"{value:.2f}"
                weight = "bold" if not np.isnan(value) and value > grid.goal else "normal"
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
                        label=f"{grid.caption}, time (goal ≤ {grid.goal}; bold: missed)")
    grid.figure.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(grid.figure, dpi=120)


def write_docs(text, grid, docs=DOCS):
    """Put ``text`` between the grid's markers in ``docs``.

    A missing region is added first: right after ``grid.after`` where that
    marker is present, else at the end of the file.
    """
    start, end = grid.markers
    doc = docs.read_text(encoding="utf-8")
    if start not in doc:
        region = f"{start}\n{end}"
        if grid.after and grid.after in doc:
            head, tail = doc.split(grid.after, 1)
            doc = f"{head}{grid.after}\n\n{region}{tail}"
        else:
            doc = doc.rstrip("\n") + f"\n\n{region}\n"
    head, rest = doc.split(start, 1)
    _, tail = rest.split(end, 1)
    docs.write_text(f"{head}{start}\n{text}\n{end}{tail}", encoding="utf-8")


def publish(text, rows, grid, docs=DOCS):
    """``--write-docs``: the heat map, and ``text`` with a link to it in the docs region."""
    heat_map(rows, grid)
    write_docs(text + f"\n![{grid.caption} over the grid](figures/{grid.figure.name})\n",
               grid, docs)
    print(f"wrote {docs} and {grid.figure}")


# ---------------------------------------------------------------- the parent

def add_arguments(parser, grid, budget_help):
    """The options every grid takes (``--grid`` is what the side-by-side script passes on)."""
    parser.add_argument("--grid", action="store_true", help="(what the calling script passes)")
    parser.add_argument("--n", type=int, nargs="+", default=list(GRID_N))
    parser.add_argument("--d", type=int, nargs="+", default=list(GRID_D))
    parser.add_argument("--k", type=int, nargs="+", default=list(GRID_K))
    parser.add_argument("--dtypes", nargs="+", choices=GRID_DTYPES, default=list(GRID_DTYPES))
    parser.add_argument("--budget", type=float, default=60.0, help=budget_help)
    parser.add_argument("--json", type=Path, default=Path(f"{grid.name}.jsonl"),
                        help=f"results, appended as they come (default ./{grid.name}.jsonl)")
    parser.add_argument("--from-json", type=Path, help="only redraw from these results")
    parser.add_argument("--write-docs", action="store_true",
                        help=f"update docs/benchmarks.md and docs/figures/{grid.figure.name}")


def collect(args, script, first_line):
    """The run's first line and its result rows.

    Read from ``--from-json`` (the machine of the latest run in the file, not
    of this redraw; later rows replace earlier ones of the same cell), or
    measured: ``first_line()`` (a dict holding "environment") and then one
    child of ``script`` per (n, d, dtype), each appended to ``--json`` as it
    comes, so that a long run that stops keeps what it measured.
    """
    if args.from_json:
        lines = [json.loads(line) for line in args.from_json.read_text().splitlines() if line]
        run = [line for line in lines if "environment" in line][-1]
        return run, [line for line in lines if "environment" not in line]
    run = first_line()
    with args.json.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(run) + "\n")
    rows = []
    for n in args.n:
        for dtype in args.dtypes:
            for d in args.d:
                spec = {"n": n, "d": d, "dtype": dtype, "ks": args.k, "budget": args.budget}
                begun = time.perf_counter()
                out = h.run_child(script, spec, timeout=7200)
                if "error" in out:
                    print(h.loud(f"n={n} d={d} {dtype}: {out['error']}"), file=sys.stderr)
                    continue
                with args.json.open("a", encoding="utf-8") as handle:
                    for row in out["rows"]:
                        handle.write(json.dumps(row) + "\n")
                rows += out["rows"]
                print(f"[n={n:,} d={d} {dtype}: {time.perf_counter() - begun:.0f} s]",
                      file=sys.stderr, flush=True)
    return run, rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser, KMEANS, f"skip an implementation whose {ITERATIONS} iterations would "
                  "take longer (seconds, predicted from 2; default 60)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    run, rows = collect(args, SCRIPT, lambda: {
        "environment": h.environment(),
        "ceilings": {dt: h.gemm_gflops(dt) for dt in GRID_DTYPES}})
    ceilings = run["ceilings"]
    header = [f"K-means grid: mixfit / scikit-learn (best of lloyd, elkan), {ITERATIONS} "
              "iterations, tol=0, same data and starting rows", "", *run["environment"],
              f"- GEMM ceiling (numpy 4096³ matmul, best of 3): float32 "
              f"{ceilings['float32']:.0f} GFLOP/s, float64 {ceilings['float64']:.0f} GFLOP/s"]
    text = "\n".join(header) + "\n\n" + tables(rows, KMEANS, run)
    text += skipped_note(rows, KMEANS, f"{ITERATIONS} iterations", args.budget)
    print(text)
    if args.write_docs:
        publish(text, rows, KMEANS)
    print(f"Total wall time: {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    if h.is_child():
        h.child_main(child)
    else:
        main()
