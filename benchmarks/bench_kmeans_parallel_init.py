"""k-means|| against k-means++ as KMeans' start: final inertia, passes over the data, time.

Data: make_blobs-style rows (harness ``blobs``: K true centres uniform in
[-10, 10]^d, unit spread), float64, fixed seed. For each seed (``random_state``
0…4) both starts run as ``KMeans(K, init=..., n_init=1, random_state=seed)``
to convergence (Lloyd/Hamerly, default tol); the seeding functions also run
alone once (seed 0), to time them and count k-means||'s passes and candidates. Passes over X: k-means++
makes one per centre (K; each scores its ``2 + log K`` trial rows against
every row); k-means|| makes ``n_rounds + 2`` = 7 (first candidate, five
sampling rounds, candidate weights), then works on its ~``2K · 5``
candidates in memory. The table gives medians over the seeds; "ratio" is
k-means|| over k-means++ (inertia: ≤ 1 is no worse). Fit times include the
seeding.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_kmeans_parallel_init.py [--quick]

``--quick``: n / 10 and K / 4.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

from mixfit import KMeans  # noqa: E402
from mixfit.engine.init import kmeans_plusplus  # noqa: E402
from mixfit.engine.init_parallel import kmeans_parallel, kmeans_parallel_candidates  # noqa: E402

SEEDS = range(5)
CASES = [  # (n, d, K)
    (200_000, 16, 256),
    (200_000, 16, 32),
]


def seconds(value):
    """The harness's time format, with the unit it leaves implicit for seconds."""
    text = h.fmt_seconds(value)
    return text if text.endswith("s") else f"{text} s"


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def one_case(n, d, k):
    X = h.blobs(n, d, k, seed=0, dtype=np.float64)
    # The seeding functions alone, once (seed 0): their time and k-means||'s passes.
    _, plusplus_time = timed(lambda: kmeans_plusplus(X, k, random_state=0))
    found, _ = timed(lambda: kmeans_parallel_candidates(X, k, random_state=0))
    _, parallel_time = timed(lambda: kmeans_parallel(X, k, random_state=0))
    print(f"  n={n} d={d} K={k}: seeding alone k-means++ {plusplus_time:.3f} s, "
          f"k-means|| {parallel_time:.3f} s ({found.candidates.shape[0]} candidates, "
          f"{found.n_passes} passes)", flush=True)
    per_init = {"k-means++": [], "k-means||": []}
    for seed in SEEDS:
        for init in per_init:
            model, fit_time = timed(
                lambda: KMeans(k, init=init, n_init=1, random_state=seed).fit(X))
            per_init[init].append((model.inertia_, model.n_iter_, fit_time))
            print(f"  n={n} d={d} K={k} seed={seed} {init}: inertia {model.inertia_:.6g}, "
                  f"{model.n_iter_} iterations, fit {fit_time:.3f} s", flush=True)
    medians = {init: [statistics.median(run[i] for run in runs) for i in range(3)]
               for init, runs in per_init.items()}
    wins = sum(b[0] <= a[0] for a, b in zip(per_init["k-means++"], per_init["k-means||"]))
    plus, par = medians["k-means++"], medians["k-means||"]
    return [
        f"{n:.0e} × {d}, K={k}",
        f"{plus[0]:.6g}", f"{par[0]:.6g}", f"{par[0] / plus[0]:.4f}",
        f"{wins}/{len(SEEDS)}",
        f"{k}", f"{found.n_passes}", f"{found.candidates.shape[0]}",
        f"{plus[1]:.0f} / {par[1]:.0f}",
        seconds(plusplus_time), seconds(parallel_time), f"{parallel_time / plusplus_time:.2f}",
        seconds(plus[2]), seconds(par[2]), f"{par[2] / plus[2]:.2f}",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n / 10, K / 4")
    args = parser.parse_args()
    print("\n".join(h.environment()))
    cases = [(n // 10, d, k // 4) for n, d, k in CASES] if args.quick else CASES
    # numba's caches, warm before timing.
    warm = h.blobs(2000, 4, 4, seed=1, dtype=np.float64)
    for init in ("k-means++", "k-means||"):
        KMeans(4, init=init, n_init=1, random_state=0).fit(warm)
    rows = [one_case(*case) for case in cases]
    print()
    print(h.markdown_table(
        # "||" is escaped: Markdown would read it as two cell borders.
        [header.replace("||", r"\|\|") for header in (
            "data", "inertia ++ (median)", "inertia || (median)", "ratio", "|| ≤ ++ (seeds)",
            "passes ++", "passes ||", "candidates ||", "Lloyd iterations ++ / ||",
            "seeding ++", "seeding ||", "ratio", "fit ++ (median)", "fit || (median)",
            "ratio")],
        rows))


if __name__ == "__main__":
    main()
