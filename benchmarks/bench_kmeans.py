"""K-means side by side: mixfit, scikit-learn (lloyd, elkan) and faiss.

Every implementation gets the same data (Gaussian blobs, fixed seed) and the
same K initial centres (K data rows, fixed seed), and runs in its own child
process (which also measures its peak memory). Two runs per implementation:

- **20 iterations**: ``max_iter=20, tol=0`` (faiss ``niter=20``), so the work is
  equal; a strict convergence (no label changed) before 20 is legitimate and
  shows in the iteration count;
- **to convergence**: ``tol=0`` and ``max_iter=--converge-cap``: mixfit and
  scikit-learn stop when no label changes; faiss (``niter=cap``) stops when the
  objective did not change between two iterations, which takes one more
  assignment pass than mixfit's test: its count is allowed to be mixfit's + 1.

Before any time is trusted the final objectives must agree: the inertia of each
implementation's final centres, recomputed in float64 by the harness, within
``--tol`` relative to mixfit's (see TOLERANCE below for float32), the same
iteration count, and faiss's per-iteration objective (``kmeans.obj``, measured
before each update, like mixfit's ``inertia_history_``) against mixfit's over
their common iterations. A disagreement is printed loudly and its times are
marked "not comparable".

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_kmeans.py \
        [--quick] [--cases km-1e6x32x64-f32 ...] [--converge-cap 100]

``--grid`` runs instead the grid of shapes of bench_kmeans_grid.py (its options follow).
"""

from __future__ import annotations

import argparse
import functools
import inspect
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

SCRIPT = Path(__file__).resolve()
SEED = 0
ITERATIONS = 20

# name: (n, d, K, dtype, blobs, box): `blobs` unit-variance blobs centred uniformly
# in [-box, box]^d. The blobs overlap enough that no cluster empties from these
# starts: faiss splits a large cluster where mixfit and scikit-learn move the
# centre to a far point, and the paths would part for a reason that has nothing
# to do with speed. For d=784, 100 blobs for K=10 (with 10 the random rows leave
# blobs without a centre and clusters empty in the second iteration).
CASES = {
    "km-1e6x32x64-f32": (1_000_000, 32, 64, "float32", 64, 3.0),
    "km-1e6x32x64-f64": (1_000_000, 32, 64, "float64", 64, 3.0),
    "km-2e5x784x10-f32": (200_000, 784, 10, "float32", 100, 1.0),
    "km-1e6x16x1024-f32": (1_000_000, 16, 1024, "float32", 1024, 3.0),
    "km-lecture-f32": (1_000, 2, 3, "float32", 3, 10.0),
    "km-lecture-f64": (1_000, 2, 3, "float64", 3, 10.0),
}
MEMORY_ITERATIONS = 3
FIRST_ITERATIONS = 2  # the first call of a large case (one whose 20 iterations are not cheap)
IMPLEMENTATIONS = ("mixfit", "sklearn-lloyd", "sklearn-elkan", "faiss")

# Relative tolerance on the final float64 inertia and on the objective history.
# float64: 1e-5 as asked. float32: distances are formed in float32 by every
# implementation (‖x‖² − 2x·c + ‖c‖² or faiss's equivalent), so points within
# ~1e-7·‖x‖² of a boundary may go to different centres in different libraries;
# each such point moves two centres by O(1/n_k) and the paths drift apart by
# ~1e-6..1e-5 of the objective over 20 iterations. 1e-4 still catches any real
# difference (a wrong update changes the objective by far more).
TOLERANCE = {"float64": 1e-5, "float32": 1e-4}

# faiss-cpu's wheel bundles OpenBLAS 0.3.15, which takes this AMD EPYC for a
# "Barcelona" (2007) and runs its SSE kernels, ~25% slower on these cases; the
# machine's OPENBLAS_CORETYPE=Haswell / OPENBLAS_L2_SIZE=512 exist for it. The
# suite unsets them for numpy, scikit-learn and mixfit and gives them back to
# the faiss child only (where numpy does nothing that is timed).
FAISS_ENV = {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512"}


# ---------------------------------------------------------------- the child

@functools.lru_cache(maxsize=None)
def _mixfit_has_n_jobs():
    """Whether this mixfit's KMeans takes n_jobs (asked once, outside the timings:
    get_params/set_params cost ~30 µs, a sixth of a lecture-sized fit)."""
    import mixfit

    return "n_jobs" in inspect.signature(mixfit.KMeans).parameters


def _fit_mixfit(X, C, max_iter, cores):
    import mixfit

    threads = {"n_jobs": cores} if _mixfit_has_n_jobs() else {}
    est = mixfit.KMeans(C.shape[0], init=C, n_init=1, max_iter=max_iter, tol=0, **threads)
    est.fit(X)
    return {"centers": est.cluster_centers_, "n_iter": int(est.n_iter_),
            "history": [float(v) for v in est.inertia_history_],
            "reported": float(est.inertia_), "converged": bool(est.converged_)}


def _fit_sklearn(algorithm):
    def fit(X, C, max_iter, cores):
        from sklearn.cluster import KMeans

        est = KMeans(C.shape[0], init=C, n_init=1, max_iter=max_iter, tol=0,
                     algorithm=algorithm, random_state=SEED)
        est.fit(X)
        return {"centers": est.cluster_centers_, "n_iter": int(est.n_iter_), "history": None,
                "reported": float(est.inertia_), "converged": int(est.n_iter_) < max_iter}
    return fit


def _fit_faiss(X, C, max_iter, cores):
    import faiss

    faiss.omp_set_num_threads(cores)
    km = faiss.Kmeans(X.shape[1], C.shape[0], niter=max_iter, verbose=False, spherical=False,
                      seed=SEED, max_points_per_centroid=10**9, min_points_per_centroid=1)
    km.train(X, init_centroids=C)
    obj = [float(v) for v in km.obj]
    return {"centers": km.centroids, "n_iter": len(obj), "history": obj,
            "reported": None, "converged": len(obj) < max_iter}


FITS = {"mixfit": _fit_mixfit, "sklearn-lloyd": _fit_sklearn("lloyd"),
        "sklearn-elkan": _fit_sklearn("elkan"), "faiss": _fit_faiss}


def child(spec):
    warnings.simplefilter("ignore")
    n, d, k, dtype = spec["n"], spec["d"], spec["k"], np.dtype(spec["dtype"])
    X = h.blobs(n, d, spec["blobs"], SEED, dtype, spec["box"])
    C = h.initial_rows(X, k, SEED)
    cores = h.n_cores()
    fit = FITS[spec["impl"]]

    def summarize(result):
        return {key: result[key] for key in ("n_iter", "history", "reported", "converged")}

    conv_iter = spec.get("converge_iter")

    def converge(fitted):
        extra = {"inertia64": h.inertia64(X, fitted["centers"])}
        if conv_iter:
            # The same number of runs as the 20-iteration timing, median.
            runs = [h.timed(lambda: fit(X, C, conv_iter, cores)) for _ in range(spec["repeats"])]
            seconds = statistics.median(run[0] for run in runs)
            result = runs[-1][1]
            extra["conv"] = {"seconds": seconds, "n_iter": result["n_iter"],
                             "converged": result["converged"], "history": result["history"],
                             "inertia64": h.inertia64(X, result["centers"])}
        return extra

    out, _ = h.measure(lambda: fit(X, C, ITERATIONS, cores), repeats=spec["repeats"],
                       summarize=summarize, more=converge,
                       fit_memory=lambda: fit(X, C, MEMORY_ITERATIONS, cores),
                       fit_first=lambda: fit(X, C, spec["first_iter"], cores))
    out["first_iter"] = spec["first_iter"]
    out["input_bytes"] = X.nbytes
    return out


# ---------------------------------------------------------------- the parent

def run_case(name, quick, cap, ceilings, impls=IMPLEMENTATIONS):
    n, d, k, dtype, n_blobs, box = CASES[name]
    if quick and n > 10_000:
        n //= 20
    flops = 2.0 * n * k * d  # Lloyd floor per iteration: the distance GEMM
    repeats = h.repeats_for(flops * ITERATIONS)
    tol = TOLERANCE[dtype]
    results = {}
    for impl in IMPLEMENTATIONS:
        if impl not in impls and impl != "mixfit":
            continue
        if impl == "faiss" and dtype != "float32":
            continue
        converge_iter = cap
        if impl == "sklearn-elkan" and k >= 1024 and not quick:
            converge_iter = None  # ~10 s per iteration here: its 20 iterations only
        first_iter = ITERATIONS if repeats > 1 else FIRST_ITERATIONS
        spec = dict(n=n, d=d, k=k, dtype=dtype, blobs=n_blobs, box=box, impl=impl,
                    repeats=repeats, converge_iter=converge_iter, first_iter=first_iter)
        start = time.perf_counter()
        results[impl] = h.run_child(SCRIPT, spec, env=FAISS_ENV if impl == "faiss" else None)
        print(f"  [{name}: {impl} done in {time.perf_counter() - start:.0f} s]",
              file=sys.stderr, flush=True)
    return report_case(name, n, d, k, dtype, flops, tol, results, ceilings, cap)


def _agreement(impl, res, ref, tol, notes):
    """Check one implementation against mixfit; returns (fixed_ok, conv_ok)."""
    if impl == "mixfit":
        return True, True
    problems = []

    def same_count(ours, theirs):
        # faiss sees convergence one assignment pass after mixfit does.
        return theirs["n_iter"] == ours["n_iter"] or (
            impl == "faiss" and ours["converged"] and theirs["n_iter"] == ours["n_iter"] + 1)

    if not same_count(ref, res):
        problems.append(f"20-iteration run: {res['n_iter']} iterations vs mixfit's {ref['n_iter']}")
    diff = h.relative_difference(res["inertia64"], ref["inertia64"])
    if not diff <= tol:
        problems.append(f"final inertia {res['inertia64']:.10g} vs mixfit's "
                        f"{ref['inertia64']:.10g} (relative {diff:.1e} > {tol:g})")
    if res.get("history") and ref.get("history"):
        hdiff = h.relative_difference(res["history"], ref["history"])
        if not hdiff <= tol:
            problems.append(f"objective history differs by {hdiff:.1e} relative (> {tol:g})")
    fixed_ok = not problems
    conv_ok = True
    if "conv" in res and "conv" in ref:
        rc, mc = res["conv"], ref["conv"]
        conv_problems = []
        if not same_count(mc, rc):
            conv_problems.append(f"to convergence: {rc['n_iter']} iterations vs mixfit's {mc['n_iter']}")
        cdiff = h.relative_difference(rc["inertia64"], mc["inertia64"])
        if not cdiff <= tol:
            conv_problems.append(f"to convergence: final inertia relative difference {cdiff:.1e} > {tol:g}")
        conv_ok = not conv_problems
        problems += conv_problems
    for problem in problems:
        notes.append(h.loud(f"{impl} vs mixfit: {problem} — its times are NOT comparable"))
    return fixed_ok, conv_ok


def report_case(name, n, d, k, dtype, flops, tol, results, ceilings, cap):
    lines = [f"### {name}: n={n:,}, d={d}, K={k}, {dtype}", ""]
    lines.append(f"Lloyd floor 2·n·K·d = {flops / 1e9:.3g} GFLOP per iteration; "
                 f"{dtype} GEMM ceiling {ceilings[dtype]:.0f} GFLOP/s; "
                 f"agreement tolerance {tol:g} relative.")
    lines.append("")
    notes = []
    ref = results.get("mixfit", {})
    if "error" in ref:
        notes.append(h.loud(f"mixfit failed: {ref['error']}"))
    headers = ["implementation", "agrees", "first call (incl. compile)", "s / iter",
               f"{ITERATIONS} it total", "mixfit / peer", "% GEMM ceiling",
               "conv. iters", "to convergence", "mixfit / peer (conv.)",
               "final inertia (float64)", "rel. diff", "peak extra RSS", "× input"]
    rows = []
    summary = {}
    for impl, res in results.items():
        if "error" in res:
            notes.append(h.loud(f"{impl} failed: {res['error']}"))
            rows.append([impl, "FAILED"] + ["–"] * (len(headers) - 2))
            continue
        fixed_ok, conv_ok = _agreement(impl, res, ref, tol, notes) if "error" not in ref \
            else (False, False)
        per_iter = res["warm_s"] / max(res["n_iter"], 1)
        ratio = conv_ratio = None
        if "warm_s" in ref and fixed_ok:
            ratio = (ref["warm_s"] / max(ref["n_iter"], 1)) / per_iter
        conv = res.get("conv")
        if conv and "conv" in ref and conv_ok:
            conv_ratio = ref["conv"]["seconds"] / conv["seconds"]
        ceiling = flops / per_iter / (ceilings[dtype] * 1e9) * 100
        runs = f" (median of {res['warm_runs']})" if res["warm_runs"] > 1 else ""
        conv_iters = "–"
        if conv:
            conv_iters = f"{conv['n_iter']}" + ("" if conv["converged"]
                                               else f" (cap {cap}, not converged)")
        agrees = "yes" if fixed_ok and conv_ok else (
            "**NO — not comparable**" if not fixed_ok else "20 it: yes; conv.: **NO**")
        rows.append([
            impl, agrees, h.fmt_seconds(res["first_s"]) + f" ({res['first_iter']} it)",
            h.fmt_seconds(per_iter) + runs,
            h.fmt_seconds(res["warm_s"]),
            "1.00" if impl == "mixfit" else (h.fmt_ratio(ratio) if fixed_ok else "not comparable"),
            f"{ceiling:.0f}%",
            conv_iters, h.fmt_seconds(conv["seconds"]) if conv else "–",
            "1.00" if impl == "mixfit" else (h.fmt_ratio(conv_ratio) if conv_ok else "not comparable"),
            f"{res['inertia64']:.9g}",
            "–" if impl == "mixfit" else h.fmt_sci(h.relative_difference(res["inertia64"], ref.get("inertia64", np.nan))),
            h.fmt_bytes(res["peak_extra_bytes"]),
            f"{res['peak_extra_bytes'] / res['input_bytes']:.2f}",
        ])
        summary[impl] = (ratio, conv_ratio, per_iter)
    lines.append(h.markdown_table(headers, rows, ["---", "---"] + ["---:"] * (len(headers) - 2)))
    if "faiss" in results and "blas" in results["faiss"]:
        notes.append(f"faiss child's BLAS (OPENBLAS_CORETYPE={FAISS_ENV['OPENBLAS_CORETYPE']}): "
                     f"{results['faiss']['blas']}")
    if notes:
        lines += [""] + [f"- {note}" for note in notes]
    lines.append("")
    text = "\n".join(lines)
    print(text, flush=True)
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="n/20 for the large cases (smoke run)")
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(CASES),
                        metavar="CASE", help=f"subset of: {', '.join(CASES)}")
    parser.add_argument("--converge-cap", type=int, default=50,
                        help="max_iter of the to-convergence runs (default 50)")
    parser.add_argument("--impls", nargs="+", choices=IMPLEMENTATIONS, default=list(IMPLEMENTATIONS),
                        help="peers to run (mixfit always runs: it is the reference)")
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"## K-means: mixfit vs scikit-learn vs faiss{' (--quick)' if args.quick else ''}\n")
    for line in h.environment(extra=("faiss",)):
        print(line)
    ceilings = {dt: h.gemm_gflops(dt) for dt in ("float32", "float64")}
    print(f"- GEMM ceiling (numpy 4096³ matmul, best of 3): float32 {ceilings['float32']:.0f} "
          f"GFLOP/s, float64 {ceilings['float64']:.0f} GFLOP/s")
    print(f"- every implementation uses {h.n_cores()} threads; each (case, implementation) "
          "runs in its own process\n", flush=True)
    summaries = {}
    for name in args.cases:
        summaries[name] = run_case(name, args.quick, args.converge_cap, ceilings, args.impls)
    print("### Summary: mixfit time / peer time (below 1: mixfit faster)\n")
    headers = ["case", "mixfit s / iter"] + [f"vs {impl} (20 it / conv.)" for impl in IMPLEMENTATIONS[1:]]
    rows = []
    for name, summary in summaries.items():
        row = [name, h.fmt_seconds(summary.get("mixfit", (None, None, None))[2])]
        for impl in IMPLEMENTATIONS[1:]:
            if impl in summary:
                r, c, _ = summary[impl]
                row.append(f"{h.fmt_ratio(r)} / {h.fmt_ratio(c)}")
            else:
                row.append("–")
        rows.append(row)
    print(h.markdown_table(headers, rows))
    print(f"\nTotal wall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    if h.is_child():
        h.child_main(child)
    elif "--grid" in sys.argv:
        # The grid of shapes (issue 16) has its own script: see bench_kmeans_grid.py.
        import bench_kmeans_grid

        bench_kmeans_grid.main()
    else:
        main()
