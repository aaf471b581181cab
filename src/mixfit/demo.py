"""``mixfit demo``: the lecture's synthetic experiment, printed step by step.

Three Gaussian clusters in 2-D (1000 points, unit covariance, means
2·[[-1, 1, 2], [1, -1, 2]] as columns) are clustered by K-means and then fitted
by the lecture's identity-covariance mixture. Figures come with the plotting
module; this version prints what the lecture plotted.
"""

from __future__ import annotations

import time

import numpy as np

#: The lecture's means, one column per component.
LECTURE_MEANS = 2.0 * np.array([[-1.0, 1.0, 2.0], [1.0, -1.0, 2.0]])


def lecture_blobs(n_samples=1000, random_state=0):
    """The lecture's data: equal priors, unit covariance, ``LECTURE_MEANS``.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
    y : ndarray of shape (n_samples,)
    """
    rng = np.random.default_rng(random_state)
    means = LECTURE_MEANS.T
    y = rng.choice(means.shape[0], size=n_samples)
    X = rng.standard_normal((n_samples, means.shape[1])) + means[y]
    return X, y


def _matched(estimated, true):
    """Order estimated rows to the nearest true rows (3 components: brute force)."""
    from itertools import permutations

    best = min(
        permutations(range(len(true))),
        key=lambda p: np.sum((estimated[list(p)] - true) ** 2),
    )
    return list(best)


def run(out=print, random_state=0):
    """Run the demo, writing lines through ``out``; returns the fitted estimators."""
    from sklearn.metrics import normalized_mutual_info_score

    from .estimators.gaussian_mixture import GaussianMixture
    from .estimators.kmeans import KMeans

    X, y = lecture_blobs(random_state=random_state)
    true_means = LECTURE_MEANS.T
    true_weights = np.bincount(y, minlength=3) / y.size
    out(f"Data: {X.shape[0]} points in 2-D from 3 unit-covariance Gaussians")
    out("  true means: " + "  ".join(f"({m[0]:+.2f}, {m[1]:+.2f})" for m in true_means))

    out("\nK-means (K=3, k-means++), objective per iteration:")
    start = time.perf_counter()
    kmeans = KMeans(3, random_state=random_state).fit(X)
    elapsed = time.perf_counter() - start
    for i, inertia in enumerate(kmeans.inertia_history_, 1):
        out(f"  iteration {i:2d}: sum of squared distances {inertia:12.4f}")
    order = _matched(kmeans.cluster_centers_, true_means)
    out("  centres:    " + "  ".join(
        f"({c[0]:+.2f}, {c[1]:+.2f})" for c in kmeans.cluster_centers_[order]))
    out(f"  NMI against the true labels: "
        f"{normalized_mutual_info_score(y, kmeans.labels_):.3f}  ({elapsed * 1e3:.0f} ms)")

    out("\nMixture of identity-covariance Gaussians (the lecture's model), "
        "lecture init, log-likelihood per iteration:")

    def show(iteration, params, log_likelihood):
        out(f"  iteration {iteration:2d}: mean log-likelihood {log_likelihood:.6f}")

    start = time.perf_counter()
    gmm = GaussianMixture(
        3, covariance_type="identity", init_params="lecture", tol=1e-6,
        max_iter=200, random_state=random_state, callback=show,
    ).fit(X)
    elapsed = time.perf_counter() - start
    order = _matched(gmm.means_, true_means)
    out("  means:      " + "  ".join(f"({m[0]:+.2f}, {m[1]:+.2f})" for m in gmm.means_[order]))
    out("  weights:    " + "  ".join(f"{w:.3f}" for w in gmm.weights_[order])
        + "   (true: " + "  ".join(f"{w:.3f}" for w in true_weights) + ")")
    out(f"  converged: {gmm.converged_} after {gmm.n_iter_} iterations; NMI "
        f"{normalized_mutual_info_score(y, gmm.predict(X)):.3f}  ({elapsed * 1e3:.0f} ms)")
    return kmeans, gmm
