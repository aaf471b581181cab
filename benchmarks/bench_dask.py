"""EM on a Dask cluster against EM in memory: time per iteration and its overhead.

Issue 13's measurement: ``GaussianMixture(16, covariance_type="diag")`` on n × 16
float64 data (n up to 4e6), from the same given start, ``tol=0``, a fixed number of
iterations, fitted

- in memory, on the client, with ``n_jobs=2`` threads (the machine's two cores);
- on a ``LocalCluster`` of two worker processes of one thread each, the data
  generated and persisted on the workers in blocks of ``--block`` rows.

It prints the median time per iteration (between successive callbacks) of each, their
ratio, and the overhead per iteration (cluster minus memory) for every n, so that how
the overhead falls relative to the work as n grows can be read off. Both fits agree to
1e-10 (checked, printed).

Run (≈ 3 minutes on 2 cores)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench_dask.py
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

GOAL = 1.5


def _fit(X, start, n_iter, n_jobs=None):
    from mixfit import GaussianMixture

    stamps = []
    model = GaussianMixture(
        16, covariance_type="diag", max_iter=n_iter, tol=0, n_jobs=n_jobs,
        callback=lambda *_: stamps.append(time.perf_counter()), **start,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    return model, float(np.median(np.diff(stamps)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, nargs="+", default=[5e5, 1e6, 2e6, 4e6])
    parser.add_argument("--block", type=int, default=250_000)
    parser.add_argument("--iterations", type=int, default=6)
    args = parser.parse_args()

    import dask
    import dask.array as da
    from dask.distributed import Client, LocalCluster
    from threadpoolctl import threadpool_info

    from mixfit import GaussianMixture

    blas = [(i["internal_api"], i.get("architecture"), i["num_threads"])
            for i in threadpool_info() if i["user_api"] == "blas"]
    print(f"# GaussianMixture(16, diag), d=16 float64, {args.iterations} iterations, "
          f"tol=0, blocks of {args.block} rows; dask {dask.__version__}; BLAS {blas}; "
          f"{os.cpu_count()} cores")
    print("| n | in memory s/iter (2 threads) | LocalCluster s/iter (2 processes) | ratio | "
          "overhead s/iter | max rel. diff |")
    print("|---:|---:|---:|---:|---:|---:|")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster):
        for n in (int(r) for r in args.rows):
            rng = da.random.default_rng(0)
            labels = rng.integers(0, 16, size=n, chunks=args.block)
            centres = da.from_array(np.random.default_rng(1).normal(scale=3, size=(16, 16)))
            X = (centres[labels] + rng.normal(size=(n, 16), chunks=(args.block, 16))).persist()
            X_memory = X.compute()
            start_model = GaussianMixture(16, covariance_type="diag", max_iter=2,
                                          random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start_model.fit(X_memory[:50_000])
            start = dict(weights_init=start_model.weights_, means_init=start_model.means_,
                         precisions_init=start_model.precisions_)
            _fit(X_memory[:100_000], start, 2)  # compile the kernels in this process
            memory_model, memory_s = _fit(X_memory, start, args.iterations)
            cluster_model, cluster_s = _fit(X, start, args.iterations)
            diff = max(
                float(np.max(np.abs(getattr(cluster_model, a) - getattr(memory_model, a))
                             / np.max(np.abs(getattr(memory_model, a)))))
                for a in ("weights_", "means_", "covariances_")
            )
            print(f"| {n:.0e} | {memory_s:.3f} | {cluster_s:.3f} | "
                  f"{cluster_s / memory_s:.2f} | {cluster_s - memory_s:+.3f} | {diff:.1e} |")
            del X, X_memory
    print(f"# goal at the largest n: cluster / memory <= {GOAL}")


if __name__ == "__main__":
    main()
