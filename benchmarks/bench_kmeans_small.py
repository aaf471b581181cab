"""K-means at small d·K against scikit-learn: mixfit / scikit-learn time ratios, side by side.

For the shapes where a skinny distance GEMM and per-iteration overhead decide
the time (issue 16): the issue's shapes, lecture sizes and the small corner of
the benchmark grid (n = 1e5, d ∈ {2, 3, 8, 16, 32}, K ∈ {3, 8, 16, 32}). Every
fit gets the same data (Gaussian blobs, fixed seed) and the same K starting
rows, runs ``max_iter=20, tol=0``, and is timed best of ``--repeats`` in this
one process, alternating implementations so that a busy moment hurts them
alike. Threads: mixfit's ``n_jobs`` and scikit-learn's OpenMP threads (and BLAS)
are limited together with threadpoolctl, at each count of ``--threads``.

Before a ratio is printed the fits must agree: final inertia (recomputed in
float64 from each fit's centres) within 1e-5 relative for float64 and 1e-4 for
float32, and the same iteration count; a row that does not says so.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_kmeans_small.py \
        [--set issue|grid|lecture|all] [--threads 2 1] [--repeats 7]

``ratio`` is mixfit's time over scikit-learn's faster algorithm (lloyd or elkan);
below 1 mixfit is faster.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

SEED = 0
ITERATIONS = 20
TOLERANCE = {"float32": 1e-4, "float64": 1e-5}

# (n, d, K, dtype): the issue's shapes first.
ISSUE = [
    (150_000, 3, 12, "float64"),
    (250_000, 12, 20, "float32"),
    (100_000, 160, 30, "float32"),
    (1_000_000, 16, 10, "float32"),
]
LECTURE = [
    (1_000, 2, 3, "float32"),
    (1_000, 2, 3, "float64"),
    (10_000, 2, 5, "float64"),
]
GRID = [(100_000, d, k, dtype) for dtype in ("float32", "float64")
        for d in (2, 3, 8, 16, 32) for k in (3, 8, 16, 32)]
SETS = {"issue": ISSUE, "lecture": LECTURE, "grid": GRID}


def _fit_mixfit(X, C, threads):
    import mixfit

    est = mixfit.KMeans(C.shape[0], init=C, n_init=1, max_iter=ITERATIONS, tol=0,
                        n_jobs=threads)
    est.fit(X)
    return est.cluster_centers_, int(est.n_iter_)


def _fit_sklearn(algorithm):
    def fit(X, C, threads):
        from sklearn.cluster import KMeans

        est = KMeans(C.shape[0], init=C, n_init=1, max_iter=ITERATIONS, tol=0,
                     algorithm=algorithm, random_state=SEED)
        est.fit(X)
        return est.cluster_centers_, int(est.n_iter_)
    return fit


FITS = {"mixfit": _fit_mixfit, "lloyd": _fit_sklearn("lloyd"), "elkan": _fit_sklearn("elkan")}


def _repeats(n, d, k, asked):
    """Fewer repeats for the large cases (each 20-iteration fit takes longer)."""
    return max(3, min(asked, int(2e9 // (n * d * k * ITERATIONS) + 1)))


def run_case(n, d, k, dtype, threads, asked_repeats):
    """Best-of times and the agreement check of one shape at one thread count."""
    X = h.blobs(n, d, k, SEED, np.dtype(dtype), 3.0)
    C = h.initial_rows(X, k, SEED)
    repeats = _repeats(n, d, k, asked_repeats)
    best = {name: np.inf for name in FITS}
    results = {}
    with threadpool_limits(limits=threads):
        for name, fit in FITS.items():
            results[name] = fit(X, C, threads)  # warm-up (numba, OpenMP pools)
        for _ in range(repeats):
            for name, fit in FITS.items():
                start = time.perf_counter()
                fit(X, C, threads)
                best[name] = min(best[name], time.perf_counter() - start)
    inertia = {name: h.inertia64(X, centers) for name, (centers, _) in results.items()}
    problems = []
    for name in ("lloyd", "elkan"):
        rel = abs(inertia[name] - inertia["mixfit"]) / max(abs(inertia["mixfit"]), 1e-300)
        if rel > TOLERANCE[dtype]:
            problems.append(f"{name} inertia differs by {rel:.1e}")
        if results[name][1] != results["mixfit"][1]:
            problems.append(f"{name} n_iter {results[name][1]} vs {results['mixfit'][1]}")
    sklearn_best = min(best["lloyd"], best["elkan"])
    return best, best["mixfit"] / sklearn_best, problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=[*SETS, "all"], default="all")
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    cases = [c for name, cases in SETS.items() if args.set in (name, "all") for c in cases]
    print(f"{'n':>9} {'d':>4} {'K':>4} {'dtype':>7} {'thr':>3} {'mixfit ms':>10} "
          f"{'lloyd ms':>9} {'elkan ms':>9} {'ratio':>6}  agreement", flush=True)
    for n, d, k, dtype in cases:
        for threads in args.threads:
            best, ratio, problems = run_case(n, d, k, dtype, threads, args.repeats)
            print(f"{n:>9} {d:>4} {k:>4} {dtype:>7} {threads:>3} {1e3 * best['mixfit']:>10.2f} "
                  f"{1e3 * best['lloyd']:>9.2f} {1e3 * best['elkan']:>9.2f} {ratio:>6.2f}  "
                  f"{'; '.join(problems) or 'ok'}", flush=True)


if __name__ == "__main__":
    main()
