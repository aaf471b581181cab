"""What the command line says about a model: its kind, settings and parameters.

``mixfit fit`` and ``mixfit info`` print these as a table or as JSON; the
functions here turn a fitted estimator into plain values for either.
"""

from __future__ import annotations

import math

__all__ = [
    "CONVERGED",
    "MAX_LISTED_VALUES",
    "centres",
    "changed_parameters",
    "format_numbers",
    "jsonable",
    "model_header",
    "parameter_summary",
]

#: Parameters are listed in full only up to this many numbers (K·d); beyond,
#: summaries give their shapes.
MAX_LISTED_VALUES = 1000

#: How a fit's convergence reads in a summary.
CONVERGED = {True: "converged", False: "NOT converged"}


def model_header(model):
    """model ("gmm", "kmeans"), n_components and, for mixtures, covariance_type."""
    name = type(model).__name__
    header = {"model": {"GaussianMixture": "gmm", "KMeans": "kmeans"}.get(name, name),
              "n_components": int(getattr(model, "n_components", getattr(model, "n_clusters", 0)))}
    if hasattr(model, "covariance_type"):
        header["covariance_type"] = model.covariance_type
    return header


def centres(model):
    """The model's component centres: ``means_`` of a mixture, ``cluster_centers_`` of K-means."""
    return model.means_ if hasattr(model, "means_") else model.cluster_centers_


def parameter_summary(model):
    """Weights and centres as lists, or only their shapes when there are too many numbers."""
    centers = centres(model)
    n_components, n_features = centers.shape
    center_name = "means" if hasattr(model, "means_") else "cluster_centers"
    arrays = {}
    if hasattr(model, "weights_"):
        arrays["weights"] = model.weights_
    arrays[center_name] = centers
    if n_components * n_features <= MAX_LISTED_VALUES:
        return {name: value.tolist() for name, value in arrays.items()}
    return {
        "shapes": {name: list(value.shape) for name, value in arrays.items()},
        "note": f"K*d = {n_components * n_features} exceeds {MAX_LISTED_VALUES}: shapes "
        "only; load the model file with mixfit.io.load for the values",
    }


def changed_parameters(model):
    """The constructor parameters that differ from their defaults (callback left out)."""
    defaults = type(model)().get_params()
    changed = {}
    for name, value in model.get_params().items():
        default = defaults.get(name)
        if name == "callback" or value is default:
            continue
        try:
            same = bool(value == default)
        except (TypeError, ValueError):  # arrays compare element-wise
            same = False
        if not same:
            changed[name] = value
    return changed


def format_numbers(value):
    """A number, or nested lists of numbers, written with four significant digits."""
    if isinstance(value, list):
        return "[" + ", ".join(format_numbers(item) for item in value) + "]"
    return f"{value:.4g}"


def jsonable(value):
    """``value`` with numpy types made plain and non-finite floats made null."""
    import numpy as np

    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        if value.size > MAX_LISTED_VALUES:
            return f"array of shape {list(value.shape)}"
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)
