"""Synthetic Gaussian mixtures: any mixture, and the lecture's settings."""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from mixfit._validation import check_positive_int

__all__ = ["LECTURE_MEANS", "lecture_data", "make_mixture"]

# --------------------------------------------------------------------------- #
# Synthetic mixtures
# --------------------------------------------------------------------------- #

#: The lecture's component means, one row per component: (-2, 2), (2, -2), (4, 4).
#: (The lecture wrote them as the columns of 2·[[-1, 1, 2], [1, -1, 2]].)
#: Read-only, so that no caller can change every later data set by accident.
LECTURE_MEANS = 2.0 * np.array([[-1.0, 1.0, 2.0], [1.0, -1.0, 2.0]]).T
LECTURE_MEANS.flags.writeable = False

_LECTURE_KINDS = ("blobs", "poor_init", "non_spherical")

# Weights must sum to one within this; looser sums are a caller's mistake, not rounding.
_WEIGHT_SUM_TOL = 1e-8


def _numeric_array(value, name, shape_hint):
    """``value`` as a float64 array, or a TypeError naming ``name``."""
    array = np.asarray(value)
    if array.dtype.kind not in "iuf":
        raise TypeError(
            f"{name} must be a numeric array of shape {shape_hint}, got dtype "
            f"{array.dtype}; pass real numbers."
        )
    return array.astype(np.float64)


def _check_finite(array, name):
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinity; pass finite numbers only.")


def _check_weights(weights):
    weights = _numeric_array(weights, "weights", "(n_components,)")
    if weights.ndim != 1 or weights.size == 0:
        raise ValueError(
            f"weights must be a non-empty 1-D array of shape (n_components,), got "
            f"shape {weights.shape}."
        )
    _check_finite(weights, "weights")
    if np.any(weights < 0):
        raise ValueError(
            f"weights must be non-negative, got {weights.tolist()}; they are the "
            "probabilities of the components."
        )
    total = weights.sum()
    if abs(total - 1.0) > _WEIGHT_SUM_TOL:
        raise ValueError(
            f"weights must sum to 1, but they sum to {total!r}; normalise it "
            "first: weights = weights / weights.sum()."
        )
    # Remove the tolerated rounding so that the categorical draw sees exact probabilities.
    return weights / total


def _check_means(means, n_components):
    means = _numeric_array(means, "means", "(n_components, n_features)")
    if means.ndim != 2:
        hint = (
            " For one-dimensional data pass np.reshape(means, (-1, 1))."
            if means.ndim == 1 else ""
        )
        raise ValueError(
            f"means must be 2-D of shape (n_components, n_features), one row per "
            f"component, got shape {means.shape}.{hint}"
        )
    if means.shape[0] != n_components or means.shape[1] < 1:
        raise ValueError(
            f"means has shape {means.shape}, but weights has {n_components} "
            f"entries; means needs one row per component, shape "
            f"({n_components}, n_features) with n_features >= 1."
        )
    _check_finite(means, "means")
    return means


def _psd_factor(covariance, name):
    """A matrix L with ``L @ L.T == covariance``, or a ValueError naming ``name``."""
    try:
        return np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:
        pass
    # Cholesky refuses singular matrices; a positive semi-definite covariance (a
    # component lying in a subspace) is still a valid Gaussian, so factor it by eigh.
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    scale = max(float(np.max(np.abs(eigenvalues))), np.finfo(np.float64).tiny)
    if eigenvalues[0] < -1e-10 * scale:
        raise ValueError(
            f"{name} is not positive semi-definite (smallest eigenvalue "
            f"{eigenvalues[0]:.3g}); a covariance must satisfy v' C v >= 0 for "
            "every v. Build it as A @ A.T, or pass transform=A instead."
        )
    return eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))


def _check_covariances(covariances, n_components, n_features):
    shape = (n_components, n_features, n_features)
    covariances = _numeric_array(covariances, "covariances", shape)
    if covariances.shape != shape:
        raise ValueError(
            f"covariances must have shape (n_components, n_features, n_features) "
            f"= {shape} to match weights and means, got shape {covariances.shape}."
        )
    _check_finite(covariances, "covariances")
    factors = np.empty_like(covariances)
    for k, covariance in enumerate(covariances):
        asymmetry = np.max(np.abs(covariance - covariance.T))
        if asymmetry > 1e-8 * max(1.0, float(np.max(np.abs(covariance)))):
            raise ValueError(
                f"covariances[{k}] is not symmetric (largest |C - C.T| is "
                f"{asymmetry:.3g}); pass (C + C.T) / 2 if the asymmetry is rounding."
            )
        factors[k] = _psd_factor(0.5 * (covariance + covariance.T), f"covariances[{k}]")
    return factors


def _check_transform(transform, n_features):
    shape = (n_features, n_features)
    transform = _numeric_array(transform, "transform", shape)
    if transform.shape != shape:
        raise ValueError(
            f"transform must be a square matrix of shape (n_features, n_features) "
            f"= {shape} to match means, got shape {transform.shape}."
        )
    _check_finite(transform, "transform")
    return transform


def make_mixture(n_samples, weights, means, covariances=None, transform=None,
                 random_state=None):
    """Draw labelled samples from a Gaussian mixture.

    Each sample first draws its component ``y`` from the categorical
    distribution ``weights``, then ``x = A z + means[y]`` with ``z ~ N(0, I)``,
    where ``A`` is the shared ``transform``, or a square root (Cholesky factor)
    of ``covariances[y]``, or the identity when neither is given.

    Parameters
    ----------
    n_samples : int
        Number of samples to draw, at least 1.
    weights : array-like of shape (n_components,)
        Prior probabilities of the components: finite, non-negative, summing to 1
        (within 1e-8). Components of weight 0 are never drawn.
    means : array-like of shape (n_components, n_features)
        One row per component; ``n_features >= 1``.
    covariances : array-like of shape (n_components, n_features, n_features), optional
        Symmetric positive semi-definite covariance of each component (singular
        ones are allowed: such a component lies in a subspace).
    transform : array-like of shape (n_features, n_features), optional
        A matrix ``A`` shared by all components, whose covariance is then
        ``A @ A.T``. Give ``transform`` or ``covariances``, not both.
    random_state : int, numpy.random.RandomState or None
        Seed or generator, as in scikit-learn; an int makes the draw reproducible.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
        The samples.
    y : ndarray of shape (n_samples,), int64
        The component each sample was drawn from.

    Raises
    ------
    ValueError, TypeError
        When an argument has the wrong type, shape or value; the message names it.

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit.datasets import make_mixture
    >>> X, y = make_mixture(6000, weights=[0.5, 0.3, 0.2],
    ...                     means=[[0, 0], [5, 5], [-5, 5]], random_state=0)
    >>> X.shape, X.dtype, y.dtype
    ((6000, 2), dtype('float64'), dtype('int64'))
    >>> np.round(np.bincount(y) / len(y), 1)
    array([0.5, 0.3, 0.2])
    """
    n_samples = check_positive_int(n_samples, "n_samples")
    weights = _check_weights(weights)
    means = _check_means(means, len(weights))
    n_features = means.shape[1]
    if covariances is not None and transform is not None:
        raise ValueError(
            "pass either covariances (one per component) or transform (shared by "
            "all components), not both; a shared transform A is the same as "
            "covariances = A @ A.T for every component."
        )
    factors = None if covariances is None else _check_covariances(
        covariances, len(weights), n_features)
    if transform is not None:
        transform = _check_transform(transform, n_features)
    rng = check_random_state(random_state)

    y = rng.choice(len(weights), size=n_samples, p=weights).astype(np.int64)
    z = rng.standard_normal((n_samples, n_features))
    if transform is not None:
        X = z @ transform.T
    elif factors is not None:
        # One GEMM per component instead of an (n, d, d) stack of factors: K is small,
        # n * d * d memory may not be.
        X = np.empty_like(z)
        for k, factor in enumerate(factors):
            members = y == k
            X[members] = z[members] @ factor.T
    else:
        X = z
    X += means[y]
    return X, y


def lecture_data(kind="blobs", random_state=0):
    """The lecture's synthetic data: 1000 points from three 2-D Gaussians.

    Equal weights, means :data:`LECTURE_MEANS` = (-2, 2), (2, -2), (4, 4).

    Parameters
    ----------
    kind : {"blobs", "poor_init", "non_spherical"}
        ``"blobs"``: unit covariance. ``"poor_init"``: the very same points as
        ``"blobs"``; the kind exists so that the demo can show what K=6 with a
        poor initialisation does to these data. ``"non_spherical"``: every
        component has covariance ``A @ A.T`` with a shared ``A = 1.4 * randn(2, 2)``,
        drawn from ``random_state`` before the points.
    random_state : int, numpy.random.RandomState or None
        Seed or generator; the default 0 gives the same data every time.

    Returns
    -------
    X : ndarray of shape (1000, 2), float64
    y : ndarray of shape (1000,), int64
        Component labels 0, 1, 2, the rows of :data:`LECTURE_MEANS`.

    Examples
    --------
    >>> from mixfit.datasets import lecture_data, LECTURE_MEANS
    >>> X, y = lecture_data("blobs")
    >>> X.shape, y.shape
    ((1000, 2), (1000,))
    >>> LECTURE_MEANS
    array([[-2.,  2.],
           [ 2., -2.],
           [ 4.,  4.]])
    >>> bool((lecture_data("poor_init")[0] == X).all())
    True
    """
    if kind not in _LECTURE_KINDS:
        raise ValueError(
            f"unknown kind {kind!r}; choose one of {', '.join(map(repr, _LECTURE_KINDS))}."
        )
    rng = check_random_state(random_state)
    n_components = LECTURE_MEANS.shape[0]
    weights = np.full(n_components, 1.0 / n_components)
    transform = None
    if kind == "non_spherical":
        transform = 1.4 * rng.standard_normal((2, 2))
    return make_mixture(1000, weights, LECTURE_MEANS, transform=transform,
                        random_state=rng)


