"""mixfit: K-means and mixture models fitted by EM over additive sufficient statistics."""

from ._memory import FitTooLargeError, LargeFitWarning
from .estimators import GaussianMixture, KMeans
from .io import ModelFileError, load, save

__version__ = "0.1.0"

__all__ = [
    "FitTooLargeError",
    "GaussianMixture",
    "KMeans",
    "LargeFitWarning",
    "ModelFileError",
    "load",
    "save",
    "__version__",
]
