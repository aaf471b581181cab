"""How closely GaussianMixture reproduces scikit-learn from identical starts.

For 10 data sets and each covariance type both libraries start from the same
weights, means and precisions; the script prints the largest relative
difference over per-iteration lower bounds, weights, means and covariances
(covariances relative to their largest entry), and checks the iteration counts
agree.

    python benchmarks/parity_sklearn.py
"""

import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import mixfit
from mixfit import GaussianMixture
from mixfit.families import GaussianFamily


def blobs(seed):
    rng = np.random.default_rng(seed)
    parts = [
        rng.normal(size=3) * 3 + rng.normal(size=(n, 3)) * rng.uniform(0.5, 1.5, 3)
        for n in (200, 150, 170)
    ]
    return np.vstack(parts)


def shared_start(X, covariance_type, seed):
    rng = np.random.default_rng(seed)
    family = GaussianFamily(covariance_type)
    resp = rng.dirichlet(np.ones(3), size=X.shape[0])
    params = family.m_step(family.stats(X, resp))
    return dict(
        weights_init=resp.sum(axis=0) / resp.sum(),
        means_init=params.means,
        precisions_init=family.structure.precisions_from_cholesky(params.precisions_cholesky),
    )


def relative(a, b, scale=None):
    a, b = np.asarray(a), np.asarray(b)
    scale = np.abs(b) if scale is None else scale
    return float(np.max(np.abs(a - b) / scale))


def main():
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(f"mixfit {mixfit.__version__}, scikit-learn {sklearn.__version__}, float64")
    print(f"{'covariance':<10} {'runs':>4} {'iterations':>10} {'max relative difference':>24}")
    for covariance_type in ("spherical", "diag", "tied", "full"):
        worst, iterations = 0.0, 0
        for seed in range(10):
            X = blobs(seed)
            kwargs = dict(covariance_type=covariance_type, tol=1e-8, max_iter=60,
                          **shared_start(X, covariance_type, seed))
            ours = GaussianMixture(3, chunk_size=97, **kwargs).fit(X)
            theirs = SkGaussianMixture(3, **kwargs).fit(X)
            if ours.n_iter_ != theirs.n_iter_:
                raise SystemExit(f"iteration counts differ: {ours.n_iter_} vs {theirs.n_iter_}")
            iterations += ours.n_iter_
            worst = max(
                worst,
                relative(ours.lower_bounds_, theirs.lower_bounds_),
                relative(ours.weights_, theirs.weights_),
                relative(ours.means_, theirs.means_),
                relative(ours.covariances_, theirs.covariances_,
                         np.abs(theirs.covariances_).max()),
            )
        print(f"{covariance_type:<10} {10:>4} {iterations:>10} {worst:>24.2e}")


if __name__ == "__main__":
    main()
