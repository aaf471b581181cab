"""What a user may impose on a fit: fixed parameters and partial labels.

``fixed_params`` holds some parameters at their initial values while EM
updates the rest (:func:`mixfit.engine.em.m_step` and each family's
``m_step``); ``fit(X, y)`` with partial labels fixes the responsibilities of
labelled rows (:func:`mixfit.engine.em.e_step`). This module checks both and
gives semi-supervised EM its start: a start chosen without the labels numbers
its components arbitrarily, so they are matched to the classes first.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from mixfit._validation import DEFAULT_CHUNK_SIZE
from mixfit.engine import em
from mixfit.engine.init import params_from_resp

__all__ = ["check_fixed", "check_labels", "labelled_start", "partial_labels"]


def check_fixed(family, fixed):
    """``fixed`` as a frozenset of names the family (or the mixture) has; else a clear error.

    The names are ``"weights"`` and the family's ``parameter_names``.
    """
    if fixed is None:
        return frozenset()
    if isinstance(fixed, str):
        fixed = (fixed,)
    try:
        names = frozenset(fixed)
    except TypeError:
        raise TypeError(
            f"fixed_params must be a collection of parameter names, got "
            f"{type(fixed).__name__}.") from None
    valid = ("weights",) + tuple(getattr(family, "parameter_names", ()))
    unknown = sorted(str(name) for name in names if name not in valid)
    if unknown:
        raise ValueError(
            f"fixed_params names unknown parameter(s) {unknown}; this model's "
            f"parameters are {list(valid)}."
        )
    return names


def check_labels(labels, n_samples, n_components):
    """Partial labels as an int array: ``-1`` unlabelled, else a component in [0, K).

    The partial labels of semi-supervised EM (``fit(X, y)``): the class of a
    labelled row is the component it belongs to, so there must be no more
    classes than components.
    """
    array = np.asarray(labels)
    if array.ndim != 1 or array.shape[0] != n_samples:
        raise ValueError(
            f"y must be one label per row of X ({n_samples}), got shape {array.shape}.")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or (array != np.round(array)).any():
            raise ValueError(
                "y must hold integer component labels, with -1 for unlabelled rows; "
                "found a non-integer value.")
    elif array.dtype.kind not in "iu":
        raise ValueError(
            f"y must hold integer component labels (-1 for unlabelled rows), got "
            f"dtype {array.dtype}; encode class names as 0..K-1 first "
            "(e.g. sklearn.preprocessing.LabelEncoder).")
    array = array.astype(np.intp)
    bad = np.flatnonzero((array < -1) | (array >= n_components))
    if bad.size:
        row = int(bad[0])
        raise ValueError(
            f"y[{row}] = {int(array[row])}: labels must be -1 (unlabelled) or a component "
            f"in [0, {n_components}); raise n_components to at least the number of "
            "classes.")
    return array


def labelled_start(family, X, params, labels, *, sample_weight=None,
                   chunk_size=DEFAULT_CHUNK_SIZE, n_jobs=1, kernel="numba"):
    """A start for semi-supervised EM: ``params`` renumbered to match the classes.

    The components of a start chosen without the labels (K-means, random
    rows…) come in no particular order, and the first E-step with labels
    would pull component c towards class c whatever it started as. So the
    components are matched to the classes first: the assignment (Hungarian
    method) that maximises the responsibility mass the labelled rows give
    their own class's component. The start is then the M-step of those
    renumbered responsibilities with the labelled rows fixed to their class
    — one semi-supervised EM step from the renumbered start.

    Parameters
    ----------
    family : component family
    X : ndarray of shape (n_samples, n_features)
    params : MixtureParams
        The start chosen without the labels.
    labels : ndarray of shape (n_samples,) of int
        Checked by :func:`check_labels` (``-1`` unlabelled).
    sample_weight : ndarray of shape (n_samples,), optional

    Returns
    -------
    MixtureParams
    """
    n_components = params.weights.shape[0]
    log_resp, _ = em.log_resp(family, X, params, chunk_size, n_jobs=n_jobs, kernel=kernel)
    resp = np.exp(log_resp.astype(np.float64))
    labelled = np.flatnonzero(labels >= 0)
    weight = (np.ones(labelled.size) if sample_weight is None
              else np.asarray(sample_weight, dtype=np.float64)[labelled])
    # mass[c, k]: the labelled rows of class c, weighted, under component k.
    mass = np.zeros((n_components, n_components))
    np.add.at(mass, labels[labelled], resp[labelled] * weight[:, None])
    classes, components = linear_sum_assignment(mass, maximize=True)
    order = np.empty(n_components, dtype=np.intp)
    order[classes] = components
    resp = resp[:, order]
    resp[labelled] = 0.0
    resp[labelled, labels[labelled]] = 1.0
    return params_from_resp(family, X, resp, sample_weight=sample_weight,
                            chunk_size=chunk_size)


def partial_labels(y, semi_supervised, n_samples, n_components):
    """The partial labels of ``fit(X, y)``: a checked int array, or None for an unsupervised fit.

    scikit-learn's mixtures ignore ``y`` (pipelines and grid searches pass the
    target to every ``fit``), so ``y`` is read as labels only when the
    estimator was made with ``semi_supervised=True``. A ``y`` holding ``-1``
    (the unlabelled mark) without it is refused rather than ignored: it was
    surely meant as partial labels.
    """
    if not isinstance(semi_supervised, (bool, np.bool_)):
        raise TypeError(f"semi_supervised must be True or False, got {semi_supervised!r}.")
    if semi_supervised:
        if y is None:
            raise ValueError(
                "semi_supervised=True fits with partial labels: pass them as fit(X, y), "
                "-1 for unlabelled rows.")
        return check_labels(y, n_samples, n_components)
    if y is not None:
        array = np.asarray(y)
        if array.dtype.kind in "iuf" and (array == -1).any():
            raise ValueError(
                "y holds -1 (the mark of an unlabelled row) but the estimator ignores y: "
                "to fit with partial labels, create it with semi_supervised=True.")
    return None
