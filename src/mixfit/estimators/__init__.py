"""scikit-learn-compatible estimators.

``AutoGaussianMixture`` is imported on first use (PEP 562): it builds on
:mod:`mixfit.selection`, which itself imports ``GaussianMixture`` from here.
"""

from mixfit.estimators.categorical_mixture import CategoricalMixture
from mixfit.estimators.discrete_mixtures import BernoulliMixture, PoissonMixture
from mixfit.estimators.gaussian_mixture import GaussianMixture
from mixfit.estimators.kmeans import KMeans
from mixfit.estimators.minibatch_kmeans import MiniBatchKMeans
from mixfit.estimators.mixture_model import MixtureModel
from mixfit.estimators.student_mixture import StudentMixture

__all__ = [
    "AutoGaussianMixture",
    "BernoulliMixture",
    "CategoricalMixture",
    "GaussianMixture",
    "KMeans",
    "MiniBatchKMeans",
    "MixtureModel",
    "PoissonMixture",
    "StudentMixture",
]


def __getattr__(name):
    if name == "AutoGaussianMixture":
        from mixfit.estimators.auto_gaussian_mixture import AutoGaussianMixture

        globals()[name] = AutoGaussianMixture
        return AutoGaussianMixture
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
