"""Component families: each gives log-densities, additive statistics and an M-step."""

from mixfit.families.bernoulli import BernoulliFamily, BernoulliParams, BernoulliStats
from mixfit.families.categorical import CategoricalFamily
from mixfit.families.gaussian.covariance import CollapsedComponentError
from mixfit.families.gaussian.registry import STRUCTURES
from mixfit.families.gaussian.family import GaussianFamily, GaussianParams, GaussianStats
from mixfit.families.poisson import PoissonFamily, PoissonParams, PoissonStats
from mixfit.families.product import ProductFamily
from mixfit.families.student import StudentFamily

__all__ = [
    "BernoulliFamily",
    "BernoulliParams",
    "BernoulliStats",
    "STRUCTURES",
    "CategoricalFamily",
    "CollapsedComponentError",
    "GaussianFamily",
    "GaussianParams",
    "GaussianStats",
    "PoissonFamily",
    "PoissonParams",
    "PoissonStats",
    "ProductFamily",
    "StudentFamily",
]
