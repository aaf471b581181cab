"""MiniBatchKMeans over the K-means grid of shapes: mixfit's time / scikit-learn's.

The last bullet of issue 16: the grid of bench_kmeans_grid.py (n ∈ {1e5, 1e6},
d ∈ {2, 3, 8, 16, 32, 64, 160, 784}, K ∈ {3, 8, 16, 32, 64, 256, 1024},
float32 and float64; the same data and the same K starting rows) for
:class:`mixfit.MiniBatchKMeans` against :class:`sklearn.cluster.MiniBatchKMeans`.
Both make one pass (``max_iter=1``, ``batch_size=1024``: ``n // 1024`` steps,
checked through each one's ``n_steps_``) with early stopping off
(``max_no_improvement=None``, ``tol=0``), the default ``reassignment_ratio``,
``compute_labels=True`` (the labels of every row are part of what a user waits
for), ``n_init=1`` and ``random_state=0``; mixfit gets every core (``n_jobs``),
scikit-learn its default OpenMP threads. Each is timed best of several fits
back to back (at least two, more while they take under a second in all).

The two draw different batches, so they cannot end at the same centres: each
one's final inertia is recomputed on the whole data in float64, and a ratio is
shown only when both made the same number of steps and mixfit's inertia is at
most ``INERTIA_SLACK`` × scikit-learn's; otherwise the cell says why.

Pruning: an implementation first makes its pass over a tenth of the rows (at
least ``2 × 1024``); when that predicts more than ``--budget`` seconds (default
60) for the whole data, it is skipped for that shape and the table says so.

One child process per (n, d, dtype); ``--json`` (appended, the first line the
machine), ``--from-json`` and ``--write-docs`` (the region between
``<!-- minibatch-grid:start -->`` and ``<!-- minibatch-grid:end -->`` in
docs/benchmarks.md, added after the K-means grid's region, and
docs/figures/minibatch-grid.png) work as in bench_kmeans_grid.py, whose
machinery this script shares. Run with the OpenBLAS overrides unset::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python \\
        benchmarks/bench_minibatch_kmeans.py --grid [--n 100000] [--d 2 3] [--k 3 8] \\
        [--json benchmarks/results/minibatch-grid.jsonl] [--write-docs]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402
from bench_kmeans_grid import (  # noqa: E402
    BLOBS, BOX, GEMM_MIN_K, GRID_DTYPES, KMEANS, SEED, Grid, add_arguments, collect,
    publish, skipped_note, tables)

SCRIPT = Path(__file__).resolve()
BATCH = 1024
PEER = "sklearn"
#: mixfit's final inertia may exceed scikit-learn's by this factor and its time
#: still count: different batches never end at the same centres, but a faster
#: fit that ends clearly worse would be no win.
INERTIA_SLACK = 1.05
#: The pilot passes over this fraction of the rows (at least ``PILOT_MIN_ROWS``).
PILOT_FRACTION = 10
PILOT_MIN_ROWS = 2 * BATCH
#: Seconds of rest before an implementation's timings (see ``_time``).
PAUSE = 0.3


# ---------------------------------------------------------------- the child

def _fit(impl, X, C, cores):
    """One fit of one pass over X; returns (seconds, the fitted estimator)."""
    params = dict(init=C, n_init=1, max_iter=1, batch_size=BATCH, tol=0.0,
                  max_no_improvement=None, compute_labels=True, random_state=SEED)
    if impl == "mixfit":
        import mixfit

        est = mixfit.MiniBatchKMeans(C.shape[0], n_jobs=cores, **params)
    else:
        from sklearn.cluster import MiniBatchKMeans

        est = MiniBatchKMeans(C.shape[0], **params)
    start = time.perf_counter()
    est.fit(X)
    return time.perf_counter() - start, est


def _pilot(impl, X, C, cores, budget):
    """Why ``impl`` is skipped at this shape (its pass predicted over ``budget``), or None."""
    n = X.shape[0]
    rows = min(n, max(n // PILOT_FRACTION, PILOT_MIN_ROWS))
    pilot, _ = _fit(impl, X[:rows], C, cores)
    # Steps and labels both grow with the rows, so the pass scales with n.
    if pilot * n / rows > budget:
        return f"{rows:,} rows took {pilot:.1f} s: {n:,} would take over {budget:.0f} s"
    return None


def _time(impl, X, C, cores, budget):
    """Best time of one pass over X, its steps and final inertia, or why it was skipped.

    A pause first: the previous implementation's threads (OpenBLAS's spin for
    about 0.1 s after a threaded call, OpenMP's for milliseconds) must not take
    a core from this one's fits. Fitted in turn with no pause, scikit-learn's
    fits took 1.5-2× their time alone after mixfit's (before mixfit's final
    dot product stopped waking OpenBLAS's threads), so each implementation's
    fits run back to back.
    """
    time.sleep(PAUSE)
    reason = _pilot(impl, X, C, cores, budget)
    if reason is not None:
        return {"skipped": reason}
    times = []
    # At least two fits: the first at the full size may still compile a kernel
    # (a parallel driver the small warm-up fits and the pilot did not use: 3.7 s
    # instead of 0.08 at 100,000 × 2 × 3 float32).
    while len(times) < 2 or (sum(times) < 1.0 and len(times) < 15):
        seconds, est = _fit(impl, X, C, cores)
        times.append(seconds)
    return {"seconds": min(times), "runs": len(times), "n_steps": int(est.n_steps_),
            "inertia64": h.inertia64(X, est.cluster_centers_)}


def child(spec):
    warnings.simplefilter("ignore")
    n, d, dtype = spec["n"], spec["d"], spec["dtype"]
    cores = h.n_cores()
    # Load every implementation's code (numba's cached kernels, OpenMP) outside the timings.
    small = h.blobs(2 * BATCH, d, 8, SEED, dtype, BOX)
    for impl in ("mixfit", PEER):
        _fit(impl, small, h.initial_rows(small, 8, SEED), cores)
    # mixfit's kernels depend on the shape (d, K, dtype): each K of the run is
    # fitted once here, or a kernel not used yet would compile inside the pilot
    # (21 s for 10,000 × 32 × 256 float32 after a code change, which the pilot
    # then took for a pass over a minute).
    for k in spec["ks"]:
        _fit("mixfit", small, h.initial_rows(small, k, SEED), cores)
    X = h.blobs(n, d, BLOBS, SEED, dtype, BOX)
    results = []
    for k in spec["ks"]:
        C = h.initial_rows(X, k, SEED)
        row = {"n": n, "d": d, "k": k, "dtype": dtype}
        for impl in ("mixfit", PEER):
            row[impl] = _time(impl, X, C, cores, spec["budget"])
        results.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)  # progress, for the parent's log
    return {"rows": results}


# ---------------------------------------------------------------- the tables

def ratio(row):
    """mixfit's time / scikit-learn's when their fits compare, and a note (None if they do)."""
    ours, theirs = row["mixfit"], row[PEER]
    if "seconds" not in ours:
        return None, "mixfit skipped"
    if "seconds" not in theirs:
        return None, f"{PEER} skipped"
    if ours["n_steps"] != theirs["n_steps"]:
        return None, f"steps {ours['n_steps']} vs {theirs['n_steps']}"
    excess = ours["inertia64"] / theirs["inertia64"]
    if excess > INERTIA_SLACK:
        return None, f"inertia {excess:.2f}×"
    return ours["seconds"] / theirs["seconds"], None


def inertia_note(cells, run):
    """The line under a panel: how the two fits' inertias and steps compare."""
    both = [r for r in cells.values() if "seconds" in r["mixfit"] and "seconds" in r[PEER]]
    if not both:
        return None
    excess = [r["mixfit"]["inertia64"] / r[PEER]["inertia64"] for r in both]
    steps = sorted({(r["mixfit"]["n_steps"], r[PEER]["n_steps"], r["n"] // BATCH)
                    for r in both})
    if all(ours == theirs == expected for ours, theirs, expected in steps):
        steps_text = f"n_steps_ = {steps[0][2]} (n // {BATCH}) for both in every cell"
    else:
        steps_text = f"n_steps_ (mixfit/scikit-learn/n // {BATCH}): " + ", ".join(
            f"{ours}/{theirs}/{expected}" for ours, theirs, expected in steps)
    return (f"mixfit's final inertia / scikit-learn's (whole data, float64): "
            f"{min(excess):.3f}–{max(excess):.3f}, median {statistics.median(excess):.3f} "
            f"over {len(both)} cell{'s' if len(both) > 1 else ''} (a ratio counts up to {INERTIA_SLACK}); {steps_text}")


def gemm_share(result, row, ceilings):
    """The distances' flops of a fit (its batches', then the final labels') over its time,
    as a fraction of the GEMM ceiling: 2·(n_steps·batch + n)·K·d flops."""
    if "seconds" not in result:
        return None
    flops = 2.0 * (result["n_steps"] * BATCH + row["n"]) * row["k"] * row["d"]
    return flops / result["seconds"] / (ceilings[row["dtype"]] * 1e9)


def ceiling_note(cells, run):
    """The line on the GEMM ceiling at K ≥ 64: both fits' share of it, where it was measured."""
    ceilings = run.get("ceilings")
    if not ceilings:
        return None
    shares = []
    for d, k in sorted(cells):
        row = cells[d, k]
        ours, theirs = (gemm_share(row[impl], row, ceilings) for impl in ("mixfit", PEER))
        if k >= GEMM_MIN_K and ours is not None and theirs is not None:
            shares.append(f"d={d} K={k}: {ours:.0%} ({theirs:.0%})")
    if not shares:
        return None
    return ("share of the GEMM ceiling at K ≥ 64, mixfit (scikit-learn), counting "
            "2·(n_steps·1024 + n)·K·d flops (the batches' and the final labels' distances): "
            + ", ".join(shares))


def footnote(cells, run):
    """The lines under a panel: the inertias and steps compared, then the GEMM ceiling."""
    notes = [note for note in (inertia_note(cells, run), ceiling_note(cells, run)) if note]
    return "\n\n".join(notes) if notes else None


MINIBATCH = Grid("minibatch-grid", ("mixfit", PEER), ratio, "mixfit / scikit-learn",
                 footnote=footnote, after=KMEANS.markers[1])


# ---------------------------------------------------------------- the parent

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser, MINIBATCH, "skip an implementation whose pass would take longer "
                  "(seconds, predicted from a tenth of the rows; default 60)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    run, rows = collect(args, SCRIPT, lambda: {
        "environment": h.environment(),
        "ceilings": {dt: h.gemm_gflops(dt) for dt in GRID_DTYPES}})
    header = [f"MiniBatchKMeans grid: mixfit / scikit-learn, one pass (max_iter=1, "
              f"batch_size={BATCH}: n // {BATCH} steps), no early stopping "
              "(max_no_improvement=None, tol=0), compute_labels=True, same data and "
              "starting rows, best of several fits", "", *run["environment"]]
    text = "\n".join(header) + "\n\n" + tables(rows, MINIBATCH, run)
    text += skipped_note(rows, MINIBATCH, "a pass", args.budget)
    print(text)
    if args.write_docs:
        publish(text, rows, MINIBATCH)
    print(f"Total wall time: {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    if h.is_child():
        h.child_main(child)
    else:
        main()
