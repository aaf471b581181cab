"""The lecture's MNIST experiment, measured, next to scikit-learn's KMeans.

On the 60,000 MNIST training images (intensities scaled to [0, 1], float64):
the lecture's K=20 identity-covariance mixture, and K-means with K=10 and K=20
from mixfit and from scikit-learn with the same K, k-means++ init and restarts.
Prints a Markdown table: iterations, seconds, NMI and clustering accuracy
against the digit labels.

    python benchmarks/mnist.py [--data ../shared/data/mnist] [--n-init 3] [--seed 0]

Accuracy matches clusters to digits one-to-one with the Hungarian algorithm
(scipy's linear_sum_assignment on the contingency table); with K=20 only ten
clusters can be matched, so the table also gives the many-to-one accuracy in
which every cluster votes for its majority digit.
"""

import argparse
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import threadpoolctl
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans as SkKMeans
from sklearn.metrics import normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix

import mixfit
from mixfit import GaussianMixture, KMeans
from mixfit.datasets import load_mnist

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def hungarian_accuracy(labels, clusters):
    table = contingency_matrix(labels, clusters)
    rows, cols = linear_sum_assignment(-table)
    return table[rows, cols].sum() / labels.size


def majority_accuracy(labels, clusters):
    return contingency_matrix(labels, clusters).max(axis=0).sum() / labels.size


def measure(name, make, X, labels):
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = make().fit(X)
    seconds = time.perf_counter() - start
    clusters = model.predict(X)
    notes = "; ".join(sorted({str(w.category.__name__) for w in caught}))
    return (name, model.n_iter_, seconds, normalized_mutual_info_score(labels, clusters),
            hungarian_accuracy(labels, clusters), majority_accuracy(labels, clusters), notes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n-init", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    images, labels = load_mnist(args.data, kind="train")
    X = images.reshape(len(images), -1).astype(np.float64) / 255.0
    n_init, seed = args.n_init, args.seed
    runs = [
        ("mixfit GaussianMixture K=20 identity, lecture init",
         lambda: GaussianMixture(20, covariance_type="identity", init_params="lecture",
                                 max_iter=500, random_state=seed)),
    ]
    for k in (10, 20):
        runs += [
            (f"mixfit KMeans K={k}, k-means++, n_init={n_init}",
             lambda k=k: KMeans(k, n_init=n_init, random_state=seed)),
            (f"scikit-learn KMeans K={k}, k-means++, n_init={n_init}",
             lambda k=k: SkKMeans(k, init="k-means++", n_init=n_init, algorithm="lloyd",
                                  random_state=seed)),
        ]
    blas = threadpoolctl.threadpool_info()
    print(f"MNIST train: {X.shape[0]} images, {X.shape[1]} pixels in [0, 1], float64")
    print(f"mixfit {mixfit.__version__}, scikit-learn {sklearn.__version__}, numpy "
          f"{np.__version__}, Python {platform.python_version()}, "
          + ", ".join(f"{b['internal_api']} {b.get('version')} ({b.get('architecture')}, "
                      f"{b['num_threads']} threads)" for b in blas))
    print()
    print("| run | iterations | seconds | NMI | accuracy (Hungarian) | accuracy (majority) | warnings |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, make in runs:
        row = measure(name, make, X, labels)
        print(f"| {row[0]} | {row[1]} | {row[2]:.1f} | {row[3]:.3f} | {row[4]:.3f} | "
              f"{row[5]:.3f} | {row[6] or '-'} |", flush=True)


if __name__ == "__main__":
    main()
