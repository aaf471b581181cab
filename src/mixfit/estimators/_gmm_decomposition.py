"""The volume, shape and orientation attributes of a mixture fitted with an mclust model.

For mclust's three-letter models, ``Σ_k = λ_k D_k diag(A_k) D_kᵀ``: a fitted
:class:`~mixfit.GaussianMixture` exposes ``volumes_`` (λ_k), ``shapes_`` (the
diagonal of A_k, determinant 1) and ``orientations_`` (D_k), so that a user can
read which parts the model shares between components. They come from the last
M-step where the fit just ran (exactly the model's decomposition), and from the
covariances otherwise (a loaded model, or parameters given with ``max_iter=0``).
"""

from __future__ import annotations

import numpy as np

_ATTRIBUTES = ("volumes_", "shapes_", "orientations_", "inner_iterations_", "inner_capped_")


def set_decomposition(estimator, structure, components):
    """Set (or, for the other covariance types, remove) the decomposition attributes.

    Parameters
    ----------
    estimator : GaussianMixture
    structure : CovarianceStructure
        The fit's structure; only mclust's models have a ``decomposition``.
    components : GaussianParams
        The fitted parameters, in the data's units; ``components.step`` is the
        last M-step's record where one ran.
    """
    for name in _ATTRIBUTES:
        estimator.__dict__.pop(name, None)  # a previous fit's, of another model
    if not hasattr(structure, "decomposition"):
        return
    dtype = components.covariances.dtype
    step = components.step
    if step is not None:
        decomposition = step.decomposition
        estimator.inner_iterations_ = int(step.inner_iterations)
        estimator.inner_capped_ = bool(step.capped)
    else:
        decomposition = structure.decomposition(components.covariances)
        estimator.inner_iterations_ = 0
        estimator.inner_capped_ = False
    estimator.volumes_ = np.asarray(decomposition.volumes).astype(dtype)
    estimator.shapes_ = np.asarray(decomposition.shapes).astype(dtype)
    estimator.orientations_ = np.asarray(decomposition.orientations).astype(dtype)
