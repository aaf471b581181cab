"""Component families: each gives log-densities, additive statistics and an M-step."""

from mixfit.families.gaussian.covariance import CollapsedComponentError
from mixfit.families.gaussian.registry import STRUCTURES
from mixfit.families.gaussian.family import GaussianFamily, GaussianParams, GaussianStats

__all__ = [
    "STRUCTURES",
    "CollapsedComponentError",
    "GaussianFamily",
    "GaussianParams",
    "GaussianStats",
]
