"""scikit-learn-compatible estimators."""

from .gaussian_mixture import GaussianMixture
from .kmeans import KMeans

__all__ = ["GaussianMixture", "KMeans"]
