"""Per-iteration time of the categorical family's EM step against a plain numpy one.

mixfit's step (``engine.em.e_step`` + ``m_step`` on ``CategoricalFamily``: one
sparse one-hot product for the log-densities and one for the statistics, row
chunks on ``n_jobs`` threads) beside a plain numpy implementation written here
(log-probabilities gathered column by column, ``logsumexp``, level counts by
``np.add.at``), on the same codes and parameters; both results are compared.

Run with the OpenBLAS overrides unset so that numpy picks its own kernel::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench_categorical.py
"""

from __future__ import annotations

import platform
import time

import numpy as np
from scipy.special import logsumexp

from mixfit.engine import em
from mixfit.families.categorical import CategoricalFamily, CategoricalParams


def numpy_step(codes, levels, log_weights, probabilities):
    """One E+M step written plainly: gathers, logsumexp, np.add.at."""
    n, d = codes.shape
    K = log_weights.shape[0]
    scores = np.tile(log_weights, (n, 1))
    for j in range(d):
        scores += np.log(probabilities[j])[:, codes[:, j]].T
    norm = logsumexp(scores, axis=1)
    resp = np.exp(scores - norm[:, None])
    new = []
    for j in range(d):
        counts = np.zeros((levels[j], K))
        np.add.at(counts, codes[:, j], resp)
        counts = counts.T + 1.0
        new.append(counts / counts.sum(axis=1, keepdims=True))
    return norm.sum(), resp.sum(axis=0), new


def best_of(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def main():
    from threadpoolctl import threadpool_info

    rng = np.random.default_rng(0)
    print(f"machine: {platform.processor() or platform.machine()}, "
          f"{len(__import__('os').sched_getaffinity(0))} cores")
    print("BLAS:", "; ".join(f"{i['internal_api']} {i.get('version')} "
                             f"({i.get('architecture')}, {i['num_threads']} threads)"
                             for i in threadpool_info() if i["user_api"] == "blas"))
    print(f"{'n':>8} {'d':>3} {'levels':>6} {'K':>3}  {'mixfit s':>9} {'numpy s':>9} "
          f"{'numpy/mixfit':>12}")
    for n, d, n_levels, K in [(100_000, 10, 5, 10), (100_000, 10, 20, 10),
                              (200_000, 20, 10, 20)]:
        levels = [n_levels] * d
        codes = rng.integers(0, n_levels, size=(n, d))
        family = CategoricalFamily(levels)
        probabilities = tuple(rng.dirichlet(np.ones(n_levels), size=K) for _ in range(d))
        params = em.MixtureParams(np.full(K, 1.0 / K), CategoricalParams(probabilities))
        X = codes.astype(np.float64)

        def ours():
            stats = em.e_step(family, X, params, n_jobs=2, kernel="numba")
            return stats, em.m_step(family, stats, X.dtype)

        ours()  # warm
        t_ours, (stats, new) = best_of(ours, 3)
        t_numpy, (log_lik, resp_sum, reference) = best_of(
            lambda: numpy_step(codes, levels, np.log(params.weights), probabilities), 3)
        assert np.isclose(stats.log_likelihood, log_lik, rtol=1e-10)
        for ours_p, theirs in zip(new.components.probabilities, reference):
            np.testing.assert_allclose(ours_p, theirs, rtol=1e-9)
        print(f"{n:>8} {d:>3} {n_levels:>6} {K:>3}  {t_ours:9.3f} {t_numpy:9.3f} "
              f"{t_numpy / t_ours:12.2f}")


if __name__ == "__main__":
    main()
