"""mixfit: K-means and mixture models fitted by EM over additive sufficient statistics."""

from .estimators import GaussianMixture, KMeans

__version__ = "0.1.0"

__all__ = ["GaussianMixture", "KMeans", "__version__"]
