"""A GaussianMixture's user-given starting parameters: checks and conversions.

``weights_init``, ``means_init``, ``precisions_init`` and ``resp_init`` are checked
once per fit, rescaled with the data when the fit works in units of a power of
two, and tell which start the fit takes (and so what memory it needs).
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_user_init", "init_kind", "is_complete", "rescaled_init"]


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
        weights = _finite_array(estimator.weights_init, "weights_init", (n_components,))
        if (weights < 0).any() or (weights > 1).any():
            raise ValueError("weights_init must lie in [0, 1]; got values outside.")
        if not np.isclose(weights.sum(), 1.0, rtol=0, atol=1e-6):
            raise ValueError(
                f"weights_init must sum to 1, got a sum of {weights.sum():.6g}; "
                "normalise it (weights_init / weights_init.sum())."
            )
        init["weights"] = weights
    if estimator.means_init is not None:
        init["means"] = _finite_array(
            estimator.means_init, "means_init", (n_components, n_features)
        )
    if estimator.precisions_init is not None:
        shape = family.structure.precisions_shape(n_components, n_features)
        precisions = _finite_array(estimator.precisions_init, "precisions_init", shape)
        # Factorising is the check: it raises on non-symmetric or indefinite input.
        family.structure.precisions_cholesky_from_precisions(precisions)
        init["precisions"] = precisions
    if estimator.resp_init is not None:
        resp = _finite_array(estimator.resp_init, "resp_init", (n_samples, n_components))
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


def _finite_array(value, name, shape):
    """``value`` as a float64 array of ``shape`` with finite entries, or a clear error."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {array.dtype}.")
    array = array.astype(np.float64)
    if array.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {array.shape}.")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinite values; pass finite numbers.")
    return array
