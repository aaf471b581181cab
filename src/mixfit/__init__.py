"""mixfit: K-means and Gaussian mixtures for clustering and density estimation.

mixfit groups the rows of a numeric table into clusters and models where data
are likely: :class:`KMeans` assigns each row to its nearest of K centres, and
:class:`GaussianMixture` fits K Gaussian bells by the EM algorithm, giving each
row a probability of belonging to each component and each point a density.
Both follow scikit-learn's interface (``fit``, ``predict``, ``score``, ...),
take NumPy arrays or pandas DataFrames (KMeans also SciPy sparse matrices),
keep float32 data in float32, and work on large data chunk by chunk.

Main objects
------------
GaussianMixture
    Gaussian mixture fitted by EM, with scikit-learn's covariance types and
    mclust's 14 models; ``bic``/``aic``/``icl`` help choose the number of
    components.
select, AutoGaussianMixture
    Choose the covariance model and the number of components by BIC (ICL, AIC):
    every (model, K) fitted from one hierarchical tree, as R's ``Mclust``.
report
    Choose a mixture for the data and write a self-contained HTML page about it:
    the models compared, the clusters, their uncertainty, the fit's convergence.
BernoulliMixture, PoissonMixture, CategoricalMixture
    Mixtures for binary (0/1) features, for counts and for categories, fitted by EM.
MixtureModel
    The general mixture: any family by name or object, or mixed column groups.
StudentMixture
    Mixture of multivariate t distributions: clusters robust to outliers.
KMeans
    K-means clustering (Lloyd's algorithm, with exact pruning for many clusters).
MiniBatchKMeans
    K-means from small random batches of rows (``partial_fit`` for streams).
save, load
    Write a fitted estimator to a model file (a zip of JSON and arrays, no pickle)
    and read it back; a damaged file raises :class:`ModelFileError`.
FitTooLargeError, LargeFitWarning
    Raised or warned before a fit that would not fit in memory or take very long.

The subpackages :mod:`mixfit.datasets` (example data and the MNIST files),
:mod:`mixfit.plot` (figures of a fit) and :mod:`mixfit.engine.em` (the EM engine under
``GaussianMixture``) are imported by name.

Examples
--------
>>> import numpy as np
>>> import mixfit
>>> X = np.array([[0.0, 0.1], [0.2, 0.0], [0.1, 0.2], [5.0, 5.1], [5.2, 5.0], [5.1, 5.2]])
>>> model = mixfit.GaussianMixture(n_components=2, random_state=0).fit(X)
>>> np.sort(model.means_, axis=0).round(1)  # one group near (0.1, 0.1), one near (5.1, 5.1)
array([[0.1, 0.1],
       [5.1, 5.1]])
>>> labels = mixfit.KMeans(n_clusters=2, random_state=0).fit_predict(X)
>>> bool(labels[0] == labels[1] == labels[2] != labels[3])
True

Command line: ``mixfit --help`` lists the commands (``fit``, ``predict``,
``info``, ``select``, ``demo``); ``mixfit demo`` runs a short tour. The README and the
``docs/`` folder of the repository (``docs/design.md`` for how the code is
organised) say more.
"""

from mixfit._version import __version__

# The public names are imported on first use (PEP 562), not here: the estimators
# pull in scikit-learn, numba and scipy (about 1.5 s), which `mixfit --help` and
# argument errors must not wait for.
_LAZY = {
    "FitTooLargeError": "._memory",
    "LargeFitWarning": "._memory",
    "AutoGaussianMixture": ".estimators",
    "BernoulliMixture": ".estimators",
    "CategoricalMixture": ".estimators",
    "GaussianMixture": ".estimators",
    "KMeans": ".estimators",
    "MiniBatchKMeans": ".estimators",
    "MixtureModel": ".estimators",
    "PoissonMixture": ".estimators",
    "StudentMixture": ".estimators",
    "ModelFileError": ".io",
    "load": ".io",
    "save": ".io",
    "Selection": ".selection",
    "select": ".selection",
    "report": ".reporting",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AutoGaussianMixture",
    "BernoulliMixture",
    "CategoricalMixture",
    "FitTooLargeError",
    "GaussianMixture",
    "KMeans",
    "LargeFitWarning",
    "MiniBatchKMeans",
    "MixtureModel",
    "ModelFileError",
    "PoissonMixture",
    "StudentMixture",
    "load",
    "report",
    "save",
    "select",
    "Selection",
    "__version__",
]
