"""Checks every family shares: the pseudocount and the names ``fixed`` may hold.

Families validate their settings where they use them (scikit-learn's
convention: ``__init__`` only stores), and refuse a ``fixed`` name they do not
have rather than ignore it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_fixed_names", "check_pseudocount"]


def check_pseudocount(value):
    """A pseudocount as a float >= 0, or a clear error.

    The prior counts added to every component's counts in an M-step
    (Bernoulli's ``(Σ z x + a) / (n_k + 2a)``, the categorical's ``Σ z x + a``
    per level); 0 gives the maximum likelihood estimate.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"pseudocount must be a number, got {type(value).__name__}.")
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(
            f"pseudocount must be a finite number >= 0, got {value!r}; use 0 for the "
            "maximum likelihood estimate."
        )
    return value


def check_fixed_names(fixed, names, owner):
    """``fixed`` as a frozenset of names from ``names``; a ValueError for any other.

    Parameters
    ----------
    fixed : collection of str
        What a family's ``m_step`` or ``n_parameters`` was asked to hold.
    names : sequence of str
        The family's ``parameter_names``.
    owner : str
        The family, as the message names it (e.g. ``"BernoulliFamily"``).
    """
    fixed = frozenset(fixed)
    unknown = sorted(fixed - set(names))
    if unknown:
        raise ValueError(
            f"{owner} has no parameter(s) {unknown}; its parameters are {list(names)} "
            "(the mixture weights are held by the engine, not the family)."
        )
    return fixed
