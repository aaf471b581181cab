"""A family's parameters as named arrays, and back: what estimators and model files use.

An estimator exposes a family's parameters as ``{name}_`` attributes (one per
name of ``family.parameter_names``) and takes initial values by the same
names; a model file stores them as arrays. These two functions convert
between those named values and the family's parameter object. A family may
define ``parameter_values(params)`` and ``params_from_values(values, dtype)``
itself (the categorical and product families do); the families that predate
that protocol are handled here.
"""

from __future__ import annotations

import copy

import numpy as np

from mixfit.families.bernoulli import BernoulliFamily
from mixfit.families.gaussian.family import GaussianFamily
from mixfit.families.poisson import PoissonFamily

__all__ = ["parameter_names", "parameter_values", "params_from_values", "with_weight_scale"]


def parameter_names(family):
    """The family's parameter names (``family.parameter_names``)."""
    names = getattr(family, "parameter_names", None)
    if names is None:
        raise TypeError(
            f"{type(family).__name__} has no parameter_names: a family must name its "
            "parameters (e.g. parameter_names = ('means', 'covariances'))."
        )
    return tuple(names)


def parameter_values(family, params):
    """``{name: value}`` of the component parameters ``params``."""
    own = getattr(family, "parameter_values", None)
    if own is not None:
        return own(params)
    return {name: getattr(params, name) for name in parameter_names(family)}


def params_from_values(family, values, dtype):
    """The family's parameter object from ``{name: value}`` (every name given), checked."""
    own = getattr(family, "params_from_values", None)
    if own is not None:
        return own(values, dtype)
    if isinstance(family, GaussianFamily):
        means = np.asarray(values["means"], dtype=np.float64)
        return family.params_from_covariances(means, np.asarray(values["covariances"]), dtype)
    if isinstance(family, BernoulliFamily):
        return family.params_from_probabilities(values["probabilities"], dtype)
    if isinstance(family, PoissonFamily):
        return family.params_from_rates(values["rates"], dtype)
    raise TypeError(
        f"{type(family).__name__} cannot build parameters from given values: give it a "
        "params_from_values(values, dtype) method."
    )


def with_weight_scale(family, weight_scale):
    """The family with its prior counts (``pseudocount``) divided by ``weight_scale``.

    The estimators divide sample weights by a power of two
    (:func:`mixfit._validation.check_sample_weight`); a pseudocount is in units
    of a row of weight 1, so it is divided too and the fit stays the one in
    the user's units. Families without prior counts are returned as they are.
    """
    own = getattr(family, "with_weight_scale", None)
    if own is not None:
        return own(weight_scale)
    if not hasattr(family, "pseudocount"):
        return family
    pseudocount = family._checked_pseudocount()
    if weight_scale == 1.0:
        return family
    scaled = copy.copy(family)
    scaled.pseudocount = pseudocount / weight_scale
    return scaled
