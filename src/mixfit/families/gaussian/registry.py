"""The covariance structures by name: the one place where ``covariance_type`` is looked up.

scikit-learn's four names and the lecture's ``identity`` keep scikit-learn's
shapes; mclust's 14 three-letter names (:mod:`.parsimonious_structures`) have
(K, d, d) parameters. ``spherical``, ``diag``, ``tied`` and ``full`` are the
models VII, VVI, EEE and VVV.
"""

from __future__ import annotations

from mixfit.families.gaussian.covariance import Diag, Full, Identity, Spherical, Tied
from mixfit.families.gaussian.parsimonious import MODEL_NAMES
from mixfit.families.gaussian.parsimonious_structures import parsimonious_structures

__all__ = ["MCLUST_MODELS", "SKLEARN_EQUIVALENTS", "STRUCTURES", "get_structure"]

#: mclust's 14 model names, in mclust's order.
MCLUST_MODELS = MODEL_NAMES

#: scikit-learn's names and the mclust model each one is.
SKLEARN_EQUIVALENTS = {"spherical": "VII", "diag": "VVI", "tied": "EEE", "full": "VVV"}

STRUCTURES = {cls.name: cls() for cls in (Identity, Spherical, Diag, Tied, Full)}
STRUCTURES.update(parsimonious_structures())


def get_structure(covariance_type):
    """The strategy for ``covariance_type``, or a ValueError listing the choices."""
    try:
        return STRUCTURES[covariance_type]
    except (KeyError, TypeError):
        raise ValueError(
            f"covariance_type must be one of {sorted(STRUCTURES)}, got {covariance_type!r}: "
            "scikit-learn's 'full', 'tied', 'diag', 'spherical', the lecture's "
            "'identity', or one of mclust's 14 models (e.g. 'VVV', 'EEE', 'VEV')."
        ) from None
