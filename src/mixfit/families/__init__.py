"""Component families: each gives log-densities, additive statistics and an M-step."""

from .covariance import STRUCTURES, CollapsedComponentError
from .gaussian import GaussianFamily, GaussianParams, GaussianStats

__all__ = [
    "STRUCTURES",
    "CollapsedComponentError",
    "GaussianFamily",
    "GaussianParams",
    "GaussianStats",
]
