"""scikit-learn-compatible estimators."""

from mixfit.estimators.gaussian_mixture import GaussianMixture
from mixfit.estimators.kmeans import KMeans

__all__ = ["GaussianMixture", "KMeans"]
