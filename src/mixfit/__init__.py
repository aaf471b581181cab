"""mixfit: K-means and mixture models fitted by EM over additive sufficient statistics."""

__version__ = "0.1.0"
