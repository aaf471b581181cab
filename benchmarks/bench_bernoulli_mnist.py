"""Bernoulli mixtures on binarised MNIST: one EM iteration, three implementations.

Data: the 60,000 MNIST training images, binarised (pixel > 127), 784 features,
read with :func:`mixfit.datasets.load_mnist` from ``../shared/data/mnist``
(the script says so and exits 0 when the files are absent). For K = 10, 20,
50 it times one E+M step (the E-step over all rows, its statistics and the
M-step) of

- (a) mixfit's engine with the Bernoulli family (``em.e_step`` +
  ``em.m_step``, ``kernel="numba"``, ``n_jobs`` threads), in float32 and
  float64;
- (b) a plain numpy implementation written below: the same GEMM formula for
  the log-densities, a numpy logsumexp, ``respᵀ X`` and the M-step, BLAS on
  every core;
- (c) mixfit's Gaussian diag family on the same data and engine settings
  (float64 and float32).

All start from the same parameters (the M-step of a random soft assignment
with a fixed seed). After one warm-up call each (numba compiled, pages
touched) the three take turns for ``--repeats`` rounds, so that load from
other processes falls on all alike; each time is the median over rounds,
each ratio (numpy / mixfit, Gaussian diag / mixfit, in the same dtype; > 1:
mixfit's Bernoulli is faster) the median of the per-round ratios. The check
column is the relative difference between (a)'s and (b)'s log-likelihood
in float64.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_bernoulli_mnist.py \\
        [--data ../shared/data/mnist] [--components 10 20 50] [--n-jobs 2] [--repeats 5]
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

from mixfit.datasets import load_mnist  # noqa: E402
from mixfit.engine import em  # noqa: E402
from mixfit.engine.init import params_from_resp  # noqa: E402
from mixfit.families import BernoulliFamily, GaussianFamily  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
PSEUDOCOUNT = 1.0


def numpy_iteration(X, weights, probabilities, pseudocount=PSEUDOCOUNT):
    """One plain-numpy EM iteration of a Bernoulli mixture: (log-likelihood, weights, p).

    The log-densities by the GEMM formula ``x · (log p − log(1 − p))ᵀ +
    Σ log(1 − p)``, a numpy logsumexp, then ``respᵀ X`` and the M-step with
    the pseudocount; everything in X's dtype, as one would write it.
    """
    log_p = np.log(probabilities)
    log_q = np.log1p(-probabilities)
    joint = X @ (log_p - log_q).T
    joint += log_q.sum(axis=1) + np.log(weights)
    top = joint.max(axis=1, keepdims=True)
    np.subtract(joint, top, out=joint)
    np.exp(joint, out=joint)
    total = joint.sum(axis=1, keepdims=True)
    log_likelihood = float(np.sum(np.log(total) + top, dtype=np.float64))
    joint /= total
    counts = joint.sum(axis=0)
    x_sum = joint.T @ X
    new_p = (x_sum + pseudocount) / (counts[:, None] + 2 * pseudocount)
    return log_likelihood, counts / counts.sum(), new_p


def interleaved_times(steps, repeats):
    """Seconds of every step per round: {name: [t_1, ..., t_repeats]}.

    Each step runs once untimed (warm-up), then the steps take turns, one
    call each per round, so that load from other processes on a shared
    machine falls on all of them alike and per-round ratios stay meaningful.
    """
    for step in steps.values():
        step()
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return times


def engine_step(family, X, params, n_jobs):
    def step():
        stats = em.e_step(family, X, params, n_jobs=n_jobs, kernel="numba")
        em.m_step(family, stats, X.dtype, previous=params)
        return stats
    return step


def run_case(X64, n_components, n_jobs, repeats, seed):
    rng = np.random.default_rng(seed)
    resp = rng.dirichlet(np.ones(n_components), size=X64.shape[0])
    bernoulli = BernoulliFamily(pseudocount=PSEUDOCOUNT)
    gaussian = GaussianFamily("diag")
    row = {"K": n_components}
    for dtype in (np.float32, np.float64):
        X = X64.astype(dtype)
        name = np.dtype(dtype).name
        start = params_from_resp(bernoulli, X, resp)
        weights = start.weights.astype(dtype)
        p = start.components.probabilities
        steps = {
            "mixfit": engine_step(bernoulli, X, start, n_jobs),
            "numpy": lambda: numpy_iteration(X, weights, p),
            "gauss diag": engine_step(gaussian, X, params_from_resp(gaussian, X, resp), n_jobs),
        }
        times = interleaved_times(steps, repeats)
        for key, values in times.items():
            row[f"{key} {name}"] = statistics.median(values)
        for key in ("numpy", "gauss diag"):
            row[f"{key} / mixfit {name}"] = statistics.median(
                theirs / ours for theirs, ours in zip(times[key], times["mixfit"]))
        if dtype == np.float64:
            ours = em.e_step(bernoulli, X, start, n_jobs=n_jobs, kernel="numba").log_likelihood
            theirs = numpy_iteration(X, weights, p)[0]
            row["check"] = abs(ours - theirs) / abs(theirs)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--components", type=int, nargs="+", default=[10, 20, 50])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        images, _ = load_mnist(args.data, kind="train")
    except FileNotFoundError as error:
        print(f"MNIST not found, benchmark skipped: {error}")
        return 0
    X64 = (images.reshape(len(images), -1) > 127).astype(np.float64)
    print(f"# Bernoulli mixtures on binarised MNIST ({X64.shape[0]} x {X64.shape[1]}), "
          f"one E+M iteration, median of {args.repeats}, n_jobs={args.n_jobs}")
    print()
    for line in h.environment():
        print(line)
    print()
    rows = [run_case(X64, k, args.n_jobs, args.repeats, args.seed) for k in args.components]
    header = ["K"]
    for name in ("float32", "float64"):
        header += [f"mixfit {name} (s)", f"numpy {name} (s)", f"gauss diag {name} (s)",
                   f"numpy / mixfit {name}", f"gauss / mixfit {name}"]
    header.append("log-lik check (f64)")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        cells = [str(row["K"])]
        for name in ("float32", "float64"):
            ours = row[f"mixfit {name}"]
            cells += [f"{ours:.3f}", f"{row[f'numpy {name}']:.3f}",
                      f"{row[f'gauss diag {name}']:.3f}",
                      f"{row[f'numpy / mixfit {name}']:.2f}",
                      f"{row[f'gauss diag / mixfit {name}']:.2f}"]
        cells.append(f"{row['check']:.1e}")
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
