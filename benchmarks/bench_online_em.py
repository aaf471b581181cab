"""Online EM (GaussianMixture.partial_fit) side by side with batch EM (fit).

Data: 2e5 samples (float64) from a mixture of K=8 Gaussians in d=8 with
random means and random full covariances (fixed seed), shuffled once. The
peer is mixfit's batch EM, ``GaussianMixture(8, covariance_type=...).fit(X)``
(default tol 1e-3). Online EM streams the data in mini-batches of 2,000
rows: three passes (300 steps), one ``partial_fit`` per batch. Two tables:
both from the same start (the k-means start batch EM takes on all of X,
given to both as ``weights_init``/``means_init``/``precisions_init``), over
a grid of step sizes (α = learning_decay, t₀ = learning_offset); and each
from its own default start (online EM: k-means on its first batch) over five
seeds, which adds the luck of the start. Every run is scored by the mean
log-likelihood of all 2e5 samples (``score(X)``); the gap is
``(batch − online) / |batch|`` in percent (goal: within 1 % after three
passes). Times are wall-clock on warm numba caches (one small fit and
partial_fit run first); "online / batch" is the online run's total time over
batch EM's.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_online_em.py [--quick]

``--quick`` divides n by 10 (batches stay 2,000 rows, so 30 steps).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

from mixfit import GaussianMixture  # noqa: E402

SEED = 0
N_SAMPLES = 200_000
N_FEATURES = 8
N_COMPONENTS = 8
BATCH = 2_000
PASSES = 3
COVARIANCE_TYPES = ("diag", "full")
STEP_SIZES = [(0.6, 10.0), (0.7, 0.0), (0.7, 10.0), (0.7, 100.0), (0.85, 10.0),
              (1.0, 0.0), (1.0, 10.0)]


def mixture_data(n, d, k, seed):
    """``n`` rows from K Gaussians with random means and full covariances, shuffled."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(-6.0, 6.0, size=(k, d))
    weights = rng.dirichlet(np.full(k, 5.0))
    counts = rng.multinomial(n, weights)
    parts = []
    for mean, count in zip(means, counts):
        factor = rng.normal(size=(d, d)) * 0.5 + np.eye(d) * rng.uniform(0.5, 1.5)
        parts.append(mean + rng.normal(size=(count, d)) @ factor.T)
    X = np.concatenate(parts)
    return X[rng.permutation(n)]


def shared_start(X, covariance_type):
    """The k-means start that fit takes on all of X, as *_init parameters."""
    start = GaussianMixture(N_COMPONENTS, covariance_type=covariance_type, random_state=0,
                            max_iter=0).fit(X)
    return {"weights_init": start.weights_, "means_init": start.means_,
            "precisions_init": start.precisions_}


def batch_em(X, covariance_type, **params):
    model = GaussianMixture(N_COMPONENTS, covariance_type=covariance_type, **params)
    start = time.perf_counter()
    model.fit(X)
    return model, time.perf_counter() - start


def online_em(X, covariance_type, decay=0.7, offset=10.0, **params):
    """Three passes of partial_fit; the score after each pass and the total time."""
    model = GaussianMixture(N_COMPONENTS, covariance_type=covariance_type,
                            learning_decay=decay, learning_offset=offset, **params)
    elapsed, scores = 0.0, []
    for _ in range(PASSES):
        start = time.perf_counter()
        for first in range(0, X.shape[0], BATCH):
            model.partial_fit(X[first:first + BATCH])
        elapsed += time.perf_counter() - start
        scores.append(model.score(X))
    return model, scores, elapsed


def seconds(value):
    """The harness's time format, with the unit it leaves implicit for seconds."""
    text = h.fmt_seconds(value)
    return text if text.endswith("s") else f"{text} s"


def gap(reference, score):
    """How far below the reference a mean log-likelihood is, in percent of it."""
    return 100.0 * (reference - score) / abs(reference)


def same_start_table(X):
    """Both from the same start: how close the steps get to batch EM's optimum."""
    rows = []
    for covariance_type in COVARIANCE_TYPES:
        start = shared_start(X, covariance_type)
        batch, batch_time = batch_em(X, covariance_type, **start)
        reference = batch.score(X)
        rows.append([covariance_type, "batch EM (fit)", f"{reference:.4f}", "", "", "",
                     f"{batch.n_iter_} iterations", seconds(batch_time), ""])
        for decay, offset in STEP_SIZES:
            _, scores, elapsed = online_em(X, covariance_type, decay, offset, **start)
            gaps = [gap(reference, score) for score in scores]
            rows.append([covariance_type, f"online α={decay:g}, t₀={offset:g}",
                         f"{scores[-1]:.4f}", *(f"{value:+.3f} %" for value in gaps),
                         "yes" if gaps[-1] <= 1.0 else "NO",
                         seconds(elapsed), f"{elapsed / batch_time:.2f}"])
            print(f"  same start {covariance_type} α={decay} t0={offset}: gaps {gaps}",
                  flush=True)
    return h.markdown_table(
        ["covariance", "run", "mean log-lik. (3 passes)", "gap pass 1", "gap pass 2",
         "gap pass 3", "within 1 %", "time", "online / batch"], rows)


def own_start_table(X, seeds=range(5)):
    """Each its own default start (online: k-means on the first batch), over seeds."""
    rows = []
    for covariance_type in COVARIANCE_TYPES:
        batch_scores, online_scores, batch_times, online_times = [], [], [], []
        for seed in seeds:
            batch, elapsed = batch_em(X, covariance_type, random_state=seed)
            batch_scores.append(batch.score(X))
            batch_times.append(elapsed)
            _, scores, elapsed = online_em(X, covariance_type, random_state=seed)
            online_scores.append(scores[-1])
            online_times.append(elapsed)
        reference = float(np.median(batch_scores))
        gaps = [gap(reference, score) for score in online_scores]
        print(f"  own starts {covariance_type}: batch {batch_scores}, online {online_scores}",
              flush=True)
        rows.append([covariance_type, f"{reference:.4f}", f"{np.median(online_scores):.4f}",
                     f"{gap(reference, np.median(online_scores)):+.3f} %",
                     f"{min(gaps):+.3f} % … {max(gaps):+.3f} %",
                     seconds(np.median(batch_times)),
                     seconds(np.median(online_times)),
                     f"{np.median(online_times) / np.median(batch_times):.2f}"])
    return h.markdown_table(
        ["covariance", f"batch EM (median of {len(seeds)} seeds)",
         "online α=0.7, t₀=10 (median)", "gap of medians", "gap per seed (min … max)",
         "batch time", "online time", "online / batch"], rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n / 10")
    args = parser.parse_args()
    n = N_SAMPLES // 10 if args.quick else N_SAMPLES
    print("\n".join(h.environment()))
    X = mixture_data(n, N_FEATURES, N_COMPONENTS, SEED)
    print(f"- data: {n} x {N_FEATURES} float64, K={N_COMPONENTS}, batches of {BATCH}, "
          f"{PASSES} passes ({PASSES * -(-n // BATCH)} steps)\n")
    for covariance_type in COVARIANCE_TYPES:  # warm numba's caches
        GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X[:500])
        GaussianMixture(2, covariance_type=covariance_type).partial_fit(X[:500])
    same = same_start_table(X)
    own = own_start_table(X)
    print("\nFrom the same start (batch EM's k-means start on all of X, given to both "
          "as weights_init, means_init, precisions_init):\n")
    print(same)
    print("\nEach from its own start (random_state = seed; online EM initialises by "
          "k-means on its first batch of 2,000 rows):\n")
    print(own)


if __name__ == "__main__":
    main()
