"""Student-t mixtures: one EM iteration, mixfit's engine against plain numpy and the Gaussian.

Data: K well-separated clusters of multivariate t draws (ν = 4), ``--rows``
rows, ``--features`` features, float32 and float64. For each K it times one
E+M step (the E-step over all rows, its statistics, the M-step with the ν
root search) of

- (a) mixfit's engine with the Student family (``em.e_step`` +
  ``em.m_step``, ``kernel="numba"``: the Gaussian structure's distance and
  moment kernels, ``n_jobs`` threads over row chunks);
- (b) the same engine with ``kernel="numpy"`` (the reference path: float64
  copies of each chunk, numpy distances);
- (c) a plain numpy implementation written below (Cholesky solves, one
  logsumexp, ``u``-weighted means and scatter by GEMM, ν by brentq), as one
  would write it from Peel & McLachlan (2000), BLAS on every core;
- (d) mixfit's Gaussian family (the same structure), i.e. what robustness
  costs on top of a Gaussian iteration.

Full covariances. All start from the same parameters (the M-step of a random
soft assignment with a fixed seed). Each time is the median of ``--repeats``
iterations after one warm-up. The check column is the relative difference
between (a)'s and (c)'s log-likelihood in float64. Ratios > 1: mixfit's
Student iteration is faster.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_student.py \\
        [--rows 200000] [--features 8] [--components 3 10] [--n-jobs 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy import linalg
from scipy.optimize import brentq
from scipy.special import digamma, gammaln, logsumexp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

from mixfit.engine import em  # noqa: E402
from mixfit.engine.init import params_from_resp  # noqa: E402
from mixfit.families import GaussianFamily  # noqa: E402
from mixfit.families.student import StudentFamily  # noqa: E402


def numpy_iteration(X, weights, means, scales, dof):
    """One plain-numpy EM iteration of a full-covariance t mixture.

    Returns (log-likelihood, weights, means, scales, dof).
    """
    n, d = X.shape
    K = weights.shape[0]
    maha = np.empty((n, K))
    log_det = np.empty(K)
    for k in range(K):
        chol = linalg.cholesky(scales[k], lower=True)
        y = linalg.solve_triangular(chol, (X - means[k]).T, lower=True)
        maha[:, k] = np.einsum("ij,ij->j", y, y)
        log_det[k] = 2 * np.log(np.diag(chol)).sum()
    half = 0.5 * (dof + d)
    log_t = (gammaln(half) - gammaln(0.5 * dof) - 0.5 * d * np.log(dof * np.pi)
             - 0.5 * log_det - half * np.log1p(maha / dof)) + np.log(weights)
    log_norm = logsumexp(log_t, axis=1)
    resp = np.exp(log_t - log_norm[:, None])
    u = (dof + d) / (dof + maha)
    mass = resp.sum(axis=0)
    ru = resp * u
    new_means = (ru.T @ X) / ru.sum(axis=0)[:, None]
    new_scales = np.empty_like(scales)
    new_dof = np.empty(K)
    for k in range(K):
        diff = X - new_means[k]
        new_scales[k] = (diff * ru[:, k, None]).T @ diff / mass[k]
        tail = resp[:, k] @ (np.log(u[:, k]) - u[:, k]) / mass[k] + digamma(half[k]) - np.log(half[k])
        f = lambda v: np.log(v / 2) - digamma(v / 2) + 1 + tail  # noqa: E731
        new_dof[k] = (200.0 if f(200.0) >= 0 else 0.5 if f(0.5) <= 0
                      else brentq(f, 0.5, 200.0))
    return float(log_norm.sum()), mass / n, new_means, new_scales, new_dof


def median_seconds(step, repeats):
    step()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def engine_step(family, X, params, n_jobs, kernel):
    def step():
        stats = em.e_step(family, X, params, n_jobs=n_jobs, kernel=kernel)
        em.m_step(family, stats, X.dtype, previous=params)
        return stats
    return step


def t_clusters(n, d, k, seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=8.0, size=(k, d))
    labels = rng.integers(0, k, n)
    g = rng.chisquare(4.0, size=n) / 4.0
    return centres[labels] + rng.normal(size=(n, d)) / np.sqrt(g)[:, None]


def run_case(n, d, n_components, n_jobs, repeats, seed):
    X64 = t_clusters(n, d, n_components, seed)
    rng = np.random.default_rng(seed + 1)
    resp = rng.dirichlet(np.ones(n_components), size=n)
    student = StudentFamily("full")
    gaussian = GaussianFamily("full")
    row = {"K": n_components}
    for dtype in (np.float32, np.float64):
        X = X64.astype(dtype)
        name = np.dtype(dtype).name
        start = params_from_resp(student, X, resp)
        row[f"numba {name}"] = median_seconds(
            engine_step(student, X, start, n_jobs, "numba"), repeats)
        row[f"engine numpy {name}"] = median_seconds(
            engine_step(student, X, start, n_jobs, "numpy"), repeats)
        c = start.components
        args = (start.weights.astype(np.float64), c.means.astype(np.float64),
                c.covariances.astype(np.float64), c.degrees_of_freedom.astype(np.float64))
        row[f"plain numpy {name}"] = median_seconds(lambda: numpy_iteration(X, *args), repeats)
        gauss_start = params_from_resp(gaussian, X, resp)
        row[f"gauss {name}"] = median_seconds(
            engine_step(gaussian, X, gauss_start, n_jobs, "numba"), repeats)
        if dtype == np.float64:
            ours = em.e_step(student, X, start, n_jobs=n_jobs, kernel="numba").log_likelihood
            theirs = numpy_iteration(X, *args)[0]
            row["check"] = abs(ours - theirs) / abs(theirs)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--components", type=int, nargs="+", default=[3, 10])
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"# Student-t mixtures (full), {args.rows} x {args.features}, one E+M iteration, "
          f"median of {args.repeats}, n_jobs={args.n_jobs}")
    print()
    for line in h.environment():
        print(line)
    print()
    rows = [run_case(args.rows, args.features, k, args.n_jobs, args.repeats, args.seed)
            for k in args.components]
    header = ["K"]
    for name in ("float32", "float64"):
        header += [f"mixfit {name} (s)", f"engine numpy {name} (s)", f"plain numpy {name} (s)",
                   f"gauss {name} (s)", f"plain numpy / mixfit {name}",
                   f"mixfit / gauss {name}"]
    header.append("log-lik check (f64)")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        cells = [str(row["K"])]
        for name in ("float32", "float64"):
            ours = row[f"numba {name}"]
            cells += [f"{ours:.3f}", f"{row[f'engine numpy {name}']:.3f}",
                      f"{row[f'plain numpy {name}']:.3f}", f"{row[f'gauss {name}']:.3f}",
                      f"{row[f'plain numpy {name}'] / ours:.2f}",
                      f"{ours / row[f'gauss {name}']:.2f}"]
        cells.append(f"{row['check']:.1e}")
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
