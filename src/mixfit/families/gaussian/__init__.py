"""The Gaussian family: the density, statistics and M-step (:mod:`.family`), its
covariance models (:mod:`.covariance`) and how a chunk of rows is swept
(:mod:`.sweeps`)."""

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
