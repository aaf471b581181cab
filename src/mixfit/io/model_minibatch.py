"""The model file of a MiniBatchKMeans: a KMeans file plus what ``partial_fit`` goes on from.

Kept apart from :mod:`mixfit.io.model_format` (which describes the format and the
other estimators' files) for size; importing this module adds the kind to that
module's table of kinds, and :mod:`mixfit.io.model_files` imports it.
"""

from __future__ import annotations

import math

import numpy as np

from mixfit.estimators import MiniBatchKMeans
from mixfit.io.model_fields import _Invalid
from mixfit.io.model_format import (
    _COMMON_FITTED,
    _COMMON_PARAMS,
    _COUNT,
    _KINDS,
    _NON_NEGATIVE,
    _OPTIONAL_FITTED,
    _POSITIVE,
    _KMeansKind,
)

__all__ = []


class _MiniBatchKMeansKind(_KMeansKind):
    """What a MiniBatchKMeans file holds: KMeans' centres and shift, the weight each
    centre accumulated and the step counts (so that ``partial_fit`` goes on after
    ``load`` as it would have), and ``labels_`` when the last fit computed them.

    The random stream of a ``partial_fit`` sequence is not stored: a loaded model
    draws its reassignments from ``random_state`` afresh.
    """

    cls = MiniBatchKMeans
    fitted_arrays = ("cluster_centers_", "_shift", "_counts")
    optional_arrays = ("labels_",)
    params_spec = {
        "n_clusters": _POSITIVE, "init": _KMeansKind.params_spec["init"],
        "n_init": ("n_init", None), "max_iter": _POSITIVE, "batch_size": _POSITIVE,
        "verbose": ("level", None), "compute_labels": ("bool", None),
        "max_no_improvement": ("int?", (0, math.inf)), "init_size": ("int?", (1, math.inf)),
        "reassignment_ratio": _NON_NEGATIVE,
        **{name: spec for name, spec in _COMMON_PARAMS.items() if name != "callback"},
    }
    param_defaults = {}
    fitted_spec = {**{name: spec for name, spec in _COMMON_FITTED.items()
                      if name != "converged_"},
                   "inertia_": ("float", 0), "n_steps_": _POSITIVE, "_batch_size": _POSITIVE,
                   "_init_size": _POSITIVE, "_rows_since_reassign": _COUNT}
    # partial_fit sets no n_iter_, and no inertia_ without compute_labels.
    optional_fitted = _OPTIONAL_FITTED + ("n_iter_", "inertia_")
    #: What save requires besides the fitted arrays (KMeans': n_iter_ too).
    required_fitted = ("n_features_in_",)

    def fitted_defaults(self, params, fitted):
        return {}

    def check_fitted(self, params, fitted):
        """``n_iter_`` (passes over X started by fit) within ``max_iter``."""
        if fitted.get("n_iter_", 0) > params["max_iter"]:
            raise _Invalid(f"fitted.n_iter_ is {fitted['n_iter_']} with max_iter "
                           f"{params['max_iter']}: a fit starts at most max_iter passes")

    def expected_arrays(self, params, K, d):
        expected = super().expected_arrays(params, K, d)
        expected["_counts"] = ((K,), ("float64",))
        return expected

    def check_arrays(self, params, arrays):
        if "labels_" in arrays:
            super().check_arrays(params, arrays)
        if (arrays["_counts"] < 0).any():
            raise _Invalid("_counts (the weight each centre accumulated) must be >= 0")

    def build(self, params, arrays):
        estimator = MiniBatchKMeans(**params)
        if "labels_" in arrays:
            estimator.labels_ = arrays["labels_"].astype(np.int64, copy=False)
        for name in self.fitted_arrays:
            setattr(estimator, name, arrays[name])
        estimator._n_features_out = arrays["cluster_centers_"].shape[0]
        return estimator


_KINDS[MiniBatchKMeans.__name__] = _MiniBatchKMeansKind()
