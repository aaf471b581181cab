"""Time hc_tree on n = 2000 rows (one core: run under `taskset -c 0`).

Not a test: prints seconds per model and dimension, after a warm-up call so
that numba's compilation (or cache load) is not counted.
"""

import time

import numpy as np

from mixfit.engine.hierarchical import hc_start, hc_tree


def main(n_samples=2000, dims=(4, 6, 13), repeats=3):
    rng = np.random.default_rng(0)
    hc_tree(rng.normal(size=(20, 2)), "VVV")  # compile / load the numba cache
    hc_tree(rng.normal(size=(20, 2)), "EII", sample_weight=rng.uniform(1, 2, 20))
    for n_features in dims:
        means = np.repeat(rng.normal(size=(4, n_features)) * 3, n_samples // 4, axis=0)
        X = rng.normal(size=(n_samples, n_features)) @ rng.normal(size=(n_features, n_features))
        X += means
        for label, call in (
                ("VVV", lambda: hc_tree(X, "VVV")),
                ("EII (scipy)", lambda: hc_tree(X, "EII")),
                ("EII weighted (numba)",
                 lambda: hc_tree(X, "EII", sample_weight=1 + rng.random(len(X)))),
                ("hc_start VVV, K=1..9", lambda: hc_start(X, range(1, 10)))):
            best = np.inf
            for _ in range(repeats):
                start = time.perf_counter()
                call()
                best = min(best, time.perf_counter() - start)
            print(f"n={n_samples} d={n_features:2d} {label:22s} {best:6.2f} s")


if __name__ == "__main__":
    main()
