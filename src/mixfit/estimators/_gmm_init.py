"""A GaussianMixture's user-given starting parameters: checks and conversions.

``weights_init``, ``means_init``, ``precisions_init`` and ``resp_init`` are checked
once per fit, rescaled with the data when the fit works in units of a power of
two, and tell which start the fit takes (and so what memory it needs).
"""

from __future__ import annotations

import numpy as np

from mixfit._validation import DEFAULT_CHUNK_SIZE
from mixfit.engine.init import initial_mixture_params
from mixfit.engine.init_parallel import kmeans_parallel_mixture_params
from mixfit.engine.source_starts import kmeans_parallel_params_over
from mixfit.engine.sources import ArraySource, DaskSource

__all__ = ["check_user_init", "init_kind", "is_complete", "mixture_start", "rescaled_init"]


def mixture_start(family, X, n_components, init, *, sample_weight=None, random_state=None,
                  chunk_size=DEFAULT_CHUNK_SIZE):
    """First parameters of a mixture for the name ``init`` (``init_params``).

    :func:`mixfit.engine.init.initial_mixture_params`, plus ``"k-means||"``: the
    ``"kmeans"`` start seeded by k-means||
    (:func:`mixfit.engine.init_parallel.kmeans_parallel_mixture_params`), which
    engine/init.py cannot dispatch to since init_parallel builds on it.
    """
    if isinstance(X, (ArraySource, DaskSource)):
        # Data that stays where it is (see GaussianMixture's fit): a start of
        # passes over it; only k-means|| is one (the others take a sample).
        if init != "k-means||":
            raise ValueError(f"the {init!r} start needs rows in memory, not a source.")
        return kmeans_parallel_params_over(family, X, n_components, random_state=random_state)
    options = {"sample_weight": sample_weight, "random_state": random_state,
               "chunk_size": chunk_size}
    if init == "k-means||":
        return kmeans_parallel_mixture_params(family, X, n_components, **options)
    return initial_mixture_params(family, X, n_components, init, **options)


def check_user_init(estimator, family, X, n_components):
    """Validate a GaussianMixture's weights_init, means_init, precisions_init and resp_init.

    Returns
    -------
    dict
        The given ones, as float64 arrays, under "weights", "means",
        "precisions" and "resp" (rows normalised to sum to one).
    """
    n_samples, n_features = X.shape
    init = {}
    if estimator.weights_init is not None:
        weights = _finite_array(estimator.weights_init, "weights_init", (n_components,),
                                "'weights'")
        # Messages open with scikit-learn's words (code that matches them keeps
        # working), then say which parameter to change and how.
        if (weights < 0).any() or (weights > 1).any():
            raise ValueError(
                "The parameter 'weights' should be in the range [0, 1], but got max "
                f"value {weights.max():.5f}, min value {weights.min():.5f}; pass "
                "weights_init with entries in [0, 1]."
            )
        if not np.isclose(weights.sum(), 1.0, rtol=0, atol=1e-6):
            raise ValueError(
                "The parameter 'weights' should be normalized, but got sum(weights) = "
                f"{weights.sum():.5f}; normalise weights_init (weights_init / "
                "weights_init.sum())."
            )
        init["weights"] = weights
    if estimator.means_init is not None:
        init["means"] = _finite_array(
            estimator.means_init, "means_init", (n_components, n_features), "'means'"
        )
    if estimator.precisions_init is not None:
        shape = family.structure.precisions_shape(n_components, n_features)
        precisions = _finite_array(estimator.precisions_init, "precisions_init", shape,
                                   f"'{family.covariance_type} precision'")
        # Factorising is the check: it raises on non-symmetric or indefinite input.
        family.structure.precisions_cholesky_from_precisions(precisions)
        init["precisions"] = precisions
    if estimator.resp_init is not None:
        resp = _finite_array(estimator.resp_init, "resp_init", (n_samples, n_components),
                             "'resp'")
        row_sums = resp.sum(axis=1)
        if (resp < 0).any() or not (row_sums > 0).all():
            raise ValueError(
                "resp_init must be non-negative with a positive sum in every row."
            )
        init["resp"] = resp / row_sums[:, None]
    return init


def init_kind(family, user_init, init_params):
    """How a fit starts, in the terms of :func:`mixfit._memory.gaussian_mixture_bytes`."""
    if is_complete(family, user_init):
        return "given"
    return "resp" if "resp" in user_init else init_params


def is_complete(family, user_init):
    """Whether weights_init, means_init and (unless fixed) precisions_init are all given."""
    needs_precisions = family.covariance_type != "identity"
    return (
        "weights" in user_init
        and "means" in user_init
        and ("precisions" in user_init or not needs_precisions)
    )


def rescaled_init(user_init, factor):
    """User-given initial means and precisions for data multiplied by ``factor``."""
    rescaled = dict(user_init)
    if "means" in rescaled:
        rescaled["means"] = rescaled["means"] * factor
    if "precisions" in rescaled:
        rescaled["precisions"] = rescaled["precisions"] / factor**2
    return rescaled


def _finite_array(value, name, shape, label):
    """``value`` as a float64 array of ``shape`` with finite entries, or a clear error.

    ``label`` names the parameter as scikit-learn's messages do ("'weights'").
    """
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {array.dtype}.")
    array = array.astype(np.float64)
    if array.shape != tuple(shape):
        raise ValueError(
            f"The parameter {label} should have the shape of {tuple(shape)}, but got "
            f"{array.shape}; pass {name} of shape {tuple(shape)}."
        )
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinite values; pass finite numbers.")
    return array
