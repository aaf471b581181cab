"""Data for the model-selection benchmarks and the mclust reference numbers.

Every array here comes from numpy with a fixed seed, so that
``make_mclust_reference.py`` (which feeds it to R's mclust) and
``bench_select.py`` (which times mixfit on it) see the same rows. The arrays are
returned as generated; ``make_mclust_reference.py`` additionally rounds the
small reference set to 10 significant digits and stores it, because numpy does
not promise that a seeded ``Generator`` gives the same numbers in every future
version.

    from select_data import three_orientations, selection_benchmark_data, TIMING_CASES
"""

from __future__ import annotations

import numpy as np

THREE_ORIENTATIONS_SEED = 20261201
SELECTION_BENCHMARK_SEED = 12
# (n_samples, n_features) of the timed full-grid runs (14 models x K = 1..9).
TIMING_CASES = ((5000, 4), (20000, 6))


def _rotation_2d(angle_degrees: float) -> np.ndarray:
    angle = np.deg2rad(angle_degrees)
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def three_orientations(n_samples: int = 300, seed: int = THREE_ORIENTATIONS_SEED):
    """Draw a 2-D mixture whose three components point in three directions.

    Built so that the orientation letter of a model matters: the components
    have different volumes, elongations and axes (0, 60 and 125 degrees), so
    models with a common or axis-aligned orientation fit it worse than the
    ones with variable orientation.

    Parameters
    ----------
    n_samples : int, default 300
        Number of rows.
    seed : int, default THREE_ORIENTATIONS_SEED
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    labels : ndarray of shape (n_samples,), int64
        The component each row was drawn from.
    """
    rng = np.random.default_rng(seed)
    weights = np.array([0.40, 0.35, 0.25])
    means = np.array([[0.0, 0.0], [6.0, 1.0], [2.5, 6.0]])
    axis_std = np.array([[2.4, 0.4], [1.2, 0.8], [1.0, 0.3]])
    angles = (0.0, 60.0, 125.0)
    labels = rng.choice(len(weights), size=n_samples, p=weights)
    X = np.empty((n_samples, 2))
    for component, angle in enumerate(angles):
        rows = labels == component
        standard = rng.standard_normal((rows.sum(), 2)) * axis_std[component]
        X[rows] = means[component] + standard @ _rotation_2d(angle).T
    return X, labels


def selection_benchmark_data(
    n_samples: int, n_features: int, n_components: int = 5, seed: int = SELECTION_BENCHMARK_SEED
):
    """Draw the mixture that the full-grid selection is timed on.

    Components have random means, random orientations (Haar-like, from the QR
    factor of a Gaussian matrix), axis standard deviations between 0.5 and 2
    and unequal weights, so that the best model is a variable-orientation one
    and every cell of the grid has real work to do.

    Parameters
    ----------
    n_samples, n_features : int
        Shape of the data; ``TIMING_CASES`` lists the timed ones.
    n_components : int, default 5
        Number of components drawn from.
    seed : int, default SELECTION_BENCHMARK_SEED
        Seed of ``numpy.random.default_rng``; the shape is mixed into it so that
        each case has its own stream.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    labels : ndarray of shape (n_samples,), int64
    """
    rng = np.random.default_rng([seed, n_samples, n_features])
    weights = rng.dirichlet(np.full(n_components, 5.0))
    means = rng.normal(scale=4.0, size=(n_components, n_features))
    labels = rng.choice(n_components, size=n_samples, p=weights)
    X = np.empty((n_samples, n_features))
    for component in range(n_components):
        rows = labels == component
        orientation, upper = np.linalg.qr(rng.standard_normal((n_features, n_features)))
        orientation *= np.sign(np.diag(upper))  # QR's sign convention would bias the axes
        axis_std = np.exp(rng.uniform(np.log(0.5), np.log(2.0), size=n_features))
        standard = rng.standard_normal((rows.sum(), n_features)) * axis_std
        X[rows] = means[component] + standard @ orientation.T
    return X, labels
