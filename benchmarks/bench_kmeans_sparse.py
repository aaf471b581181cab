"""K-means on sparse (CSR) data side by side: mixfit vs scikit-learn (lloyd).

The data imitate TF-IDF vectors: n documents over a d-word vocabulary at the
given density, each document drawn mostly from one of 20 topics (a topic owns
a slice of the vocabulary) plus Zipf-distributed common words, term counts
weighted by inverse document frequency and every row L2-normalised. Both
implementations get the same CSR matrix and the same K initial centres (K
documents, fixed seed), run ``max_iter`` iterations with ``tol=0`` and
``n_init=1``, in the same process, with every core; the best of ``--repeats``
wall times is reported. Before a time is trusted the labels must agree: the
fraction of rows both label alike is printed (1.0 expected in float64; float32
may differ on a few rows whose two nearest centres tie to rounding, since
scikit-learn forms float32 dot products and mixfit float64 ones).

    python benchmarks/bench_kmeans_sparse.py [--quick] [--clusters 20 50 100]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import sparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

SEED = 0
TOPICS = 20


def tfidf_like(n, d, density, seed=SEED):
    """A CSR float64 matrix of L2-normalised TF-IDF-like rows (see the module docstring)."""
    rng = np.random.default_rng(seed)
    per_row = max(1, int(round(density * d)))
    topic = rng.integers(0, TOPICS, n)
    width = d // TOPICS
    # 70% of a document's words from its topic's slice, the rest Zipf-common words.
    own = rng.random((n, per_row)) < 0.7
    in_topic = topic[:, None] * width + rng.integers(0, width, (n, per_row))
    common = np.minimum(rng.zipf(1.3, (n, per_row)) - 1, d - 1)
    columns = np.where(own, in_topic, common).ravel()
    rows = np.repeat(np.arange(n), per_row)
    counts = sparse.csr_matrix((np.ones(rows.size), (rows, columns)), shape=(n, d))
    counts.sum_duplicates()
    document_frequency = np.bincount(counts.indices, minlength=d)
    idf = np.log((1 + n) / (1 + document_frequency)) + 1.0
    counts.data *= idf[counts.indices]
    norms = np.sqrt(np.bincount(np.repeat(np.arange(n), np.diff(counts.indptr)),
                                weights=counts.data ** 2, minlength=n))
    counts.data /= np.repeat(np.where(norms > 0, norms, 1.0), np.diff(counts.indptr))
    return counts


def fit_time(make, X, repeats):
    """Best wall time of ``repeats`` fits, and the last fitted model."""
    best, model = np.inf, None
    for _ in range(repeats):
        estimator = make()
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # max_iter reached is the point here
            model = estimator.fit(X)
        best = min(best, time.perf_counter() - start)
    return best, model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="n = 5e4 instead of 2e5")
    parser.add_argument("--clusters", nargs="+", type=int, default=[20, 50, 100])
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"],
                        choices=["float64", "float32"])
    parser.add_argument("--max-iter", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    from sklearn.cluster import KMeans as SKKMeans
    from threadpoolctl import threadpool_info

    import mixfit

    n, d, density = (50_000 if args.quick else 200_000), 50_000, 1e-3
    print(f"## Sparse K-means (CSR): mixfit vs scikit-learn{' (--quick)' if args.quick else ''}\n")
    for line in h.environment():
        print(line)
    pools = sorted({f"{p['internal_api']} ({p['num_threads']} threads)" for p in threadpool_info()})
    print(f"- threadpoolctl: {', '.join(pools)}")
    started = time.perf_counter()
    X64 = tfidf_like(n, d, density)
    print(f"- data: {n} × {d} CSR, {X64.nnz} stored values (density {X64.nnz / n / d:.2g}), "
          f"rows L2-normalised, made in {time.perf_counter() - started:.1f} s")
    print(f"- every fit: same K initial rows, max_iter={args.max_iter}, tol=0, n_init=1, "
          f"{h.n_cores()} cores, best of {args.repeats}\n", flush=True)

    # Compile mixfit's kernels (cached on disk) outside the timings.
    for dtype in args.dtypes:
        small = X64[:200].astype(dtype)
        mixfit.KMeans(2, init=small[:2].toarray(), n_init=1, max_iter=2).fit(small)

    rows = []
    for dtype in args.dtypes:
        X = X64.astype(dtype)
        for k in args.clusters:
            rng = np.random.default_rng(SEED + k)
            init = X[np.sort(rng.choice(n, k, replace=False))].toarray()
            params = dict(n_clusters=k, init=init, n_init=1, max_iter=args.max_iter, tol=0.0)
            t_mix, mix = fit_time(lambda: mixfit.KMeans(**params), X, args.repeats)
            t_sk, sk = fit_time(lambda: SKKMeans(algorithm="lloyd", **params), X, args.repeats)
            agree = float(np.mean(mix.labels_ == sk.labels_))
            inertia_gap = h.relative_difference(mix.inertia_, sk.inertia_)
            rows.append([dtype, str(k), h.fmt_seconds(t_mix), h.fmt_seconds(t_sk),
                         h.fmt_ratio(t_mix / t_sk), f"{mix.n_iter_} / {sk.n_iter_}",
                         f"{agree:.6f}", f"{inertia_gap:.1e}"])
            print(" | ".join(rows[-1]), flush=True)
            if dtype == "float64" and agree < 1.0:
                h.loud(f"labels differ on {1 - agree:.2%} of rows for {dtype}, K={k}")
    print()
    print(h.markdown_table(
        ["dtype", "K", "mixfit", "scikit-learn", "mixfit / sklearn", "n_iter (mixfit / sklearn)",
         "labels equal", "inertia rel. diff."], rows))
    print(f"\nTotal wall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
