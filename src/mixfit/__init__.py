"""mixfit: K-means and mixture models fitted by EM over additive sufficient statistics."""

from .estimators import GaussianMixture, KMeans
from .io import ModelFileError, load, save

__version__ = "0.1.0"

__all__ = ["GaussianMixture", "KMeans", "ModelFileError", "load", "save", "__version__"]
