"""Missing values: parameter error of exact EM against imputation, and time per iteration.

Data: a K=3 mixture of full-covariance Gaussians in ``--features`` dimensions
(means N(0, 2.5²) per coordinate, covariances ``A Aᵀ/d + 0.3 I`` with A
standard normal, weights 0.5/0.3/0.2), ``--rows`` rows drawn with
``family.sample``, then each value hidden completely at random with
probability 10, 20, 30, 40 % (a row left with no value gets one random value
back, so every row has one). For each rate and seed, three fits, each
``GaussianMixture(3, covariance_type="full", n_init=3, random_state=seed)``:

- (a) mixfit's exact EM on the observed values (``fit`` with the NaN);
- (b) mean imputation (``sklearn.impute.SimpleImputer``) then the same fit;
- (c) ``sklearn.impute.IterativeImputer`` (its default BayesianRidge chain,
  ``max_iter=10``, ``random_state=seed``) then the same fit.

Errors against the truth, after matching components by the Hungarian method
on the distances between means: means, ``‖M̂ − M‖_F / ‖M‖_F`` over the K × d
matrix of means; covariances, ``(Σ_k ‖Σ̂_k − Σ_k‖²_F)^½ / (Σ_k ‖Σ_k‖²_F)^½``.
The median over seeds is printed (and the complete-data fit's error as the
floor that sampling noise alone leaves).

Time per iteration: one E-step + M-step (``em.e_step`` + ``em.m_step``) on
the same data with NaN (the missing-value family, numpy path) and complete
(the Gaussian family with the fused numba kernels, and with
``kernel="numpy"``), median of ``--repeats`` after a warm-up, ``n_jobs``
threads. Ratios > 1: the missing-value iteration is that many times slower.
The timing is repeated with ``--wide-features`` (20) features, where nearly
every row has its own missingness pattern.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_missing_values.py \\
        [--rows 3000] [--features 6] [--seeds 3] [--time-rows 20000] [--wide-features 20] \\
        [--n-jobs 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, SimpleImputer

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

from mixfit import GaussianMixture  # noqa: E402
from mixfit.engine import em  # noqa: E402
from mixfit.families import GaussianFamily  # noqa: E402
from mixfit.families.gaussian.missing import MissingGaussianFamily  # noqa: E402

RATES = (0.1, 0.2, 0.3, 0.4)
K = 3


def truth(d, seed):
    """The mixture the data are drawn from (MixtureParams, full covariances)."""
    rng = np.random.default_rng(1000 + seed)
    means = rng.normal(scale=2.5, size=(K, d))
    factors = rng.normal(size=(K, d, d))
    covariances = factors @ np.swapaxes(factors, 1, 2) / d + 0.3 * np.eye(d)
    family = GaussianFamily("full")
    return em.MixtureParams(np.array([0.5, 0.3, 0.2]),
                            family.params_from_covariances(means, covariances, np.float64))


def draw(params, n, seed):
    family = GaussianFamily("full")
    X, _ = em.sample_mixture(family, params, n, np.random.RandomState(seed), np.float64)
    return X


def hide(X, rate, seed):
    """X with each value NaN with probability ``rate``; no row left empty."""
    rng = np.random.default_rng(2000 + seed)
    mask = rng.random(X.shape) < rate
    empty = np.flatnonzero(mask.all(axis=1))
    mask[empty, rng.integers(0, X.shape[1], size=empty.size)] = False
    return np.where(mask, np.nan, X)


def errors(model, params):
    """(relative mean error, relative covariance error) after Hungarian matching."""
    true_means = params.components.means
    true_covs = params.components.covariances
    cost = ((model.means_[:, None, :] - true_means[None]) ** 2).sum(axis=2)
    fitted, true = linear_sum_assignment(cost)
    means = model.means_[fitted]
    covs = model.covariances_[fitted]
    mean_error = np.linalg.norm(means - true_means[true]) / np.linalg.norm(true_means)
    cov_error = (np.sqrt(((covs - true_covs[true]) ** 2).sum())
                 / np.sqrt((true_covs ** 2).sum()))
    return mean_error, cov_error


def fit(X, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(K, covariance_type="full", n_init=3, max_iter=500,
                               random_state=seed).fit(X)


def accuracy_table(n, d, seeds):
    rows = []
    floor = [errors(fit(draw(truth(d, s), n, s), s), truth(d, s)) for s in range(seeds)]
    rows.append(["0 % (complete data)"] + [f"{statistics.median(e[i] for e in floor):.4f}"
                                           for i in (0, 1)] * 3)
    for rate in RATES:
        results = {"exact": [], "mean": [], "iterative": []}
        for s in range(seeds):
            params = truth(d, s)
            X = hide(draw(params, n, s), rate, s)
            results["exact"].append(errors(fit(X, s), params))
            results["mean"].append(errors(fit(SimpleImputer().fit_transform(X), s), params))
            imputed = IterativeImputer(max_iter=10, random_state=s).fit_transform(X)
            results["iterative"].append(errors(fit(imputed, s), params))
        cells = []
        for name in ("exact", "mean", "iterative"):
            cells += [f"{statistics.median(e[i] for e in results[name]):.4f}" for i in (0, 1)]
        rows.append([f"{int(rate * 100)} %"] + cells)
    headers = ["missing", "(a) exact EM: means", "(a) covariances",
               "(b) mean imputation: means", "(b) covariances",
               "(c) IterativeImputer: means", "(c) covariances"]
    return h.markdown_table(headers, rows)


def time_iteration(family, X, params, n_jobs, repeats, kernel):
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        stats = em.e_step(family, X, params, n_jobs=n_jobs, kernel=kernel)
        em.m_step(family, stats, X.dtype, previous=params)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def timing_table(n, d, n_jobs, repeats, rates=RATES):
    params = truth(d, 0)
    complete = draw(params, n, 0)
    gaussian = GaussianFamily("full")
    fused = time_iteration(gaussian, complete, params, n_jobs, repeats, "numba")
    plain = time_iteration(gaussian, complete, params, n_jobs, repeats, "numpy")
    rows = [["0 % (complete, fused kernels)", h.fmt_seconds(fused), "1.0", ""],
            ["0 % (complete, numpy path)", h.fmt_seconds(plain), h.fmt_ratio(plain / fused),
             ""]]
    for rate in rates:
        X = hide(complete, rate, 0)
        patterns = np.unique(np.isnan(X), axis=0).shape[0]
        seconds = time_iteration(MissingGaussianFamily(gaussian), X, params, n_jobs, repeats,
                                 "numpy")
        rows.append([f"{int(rate * 100)} %", h.fmt_seconds(seconds),
                     h.fmt_ratio(seconds / fused), str(patterns)])
    headers = ["missing", "time per iteration", "ratio to complete (fused)",
               "missingness patterns"]
    return h.markdown_table(headers, rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--features", type=int, default=6)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--time-rows", type=int, default=20000)
    parser.add_argument("--wide-features", type=int, default=20)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for line in h.environment():
        print(line)
    print(f"- data: n={args.rows}, d={args.features}, K={K}, full covariances, "
          f"{args.seeds} seeds (medians); timing on n={args.time_rows}, "
          f"n_jobs={args.n_jobs}\n")
    print("Relative parameter error against the truth (lower is better)\n")
    print(accuracy_table(args.rows, args.features, args.seeds))
    print("\nTime per EM iteration (E-step + M-step)\n")
    print(timing_table(args.time_rows, args.features, args.n_jobs, args.repeats))
    print(f"\nThe same with d={args.wide_features}: nearly one missingness pattern per row\n")
    print(timing_table(args.time_rows, args.wide_features, args.n_jobs, args.repeats,
                       rates=(0.1, 0.3)))


if __name__ == "__main__":
    main()
