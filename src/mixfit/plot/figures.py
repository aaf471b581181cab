"""Static figures: clusters, posteriors, the log-likelihood curve, ellipses, the centre gallery."""

from __future__ import annotations

import math

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from mixfit._validation import check_positive_int
from mixfit.families import GaussianFamily
from mixfit.plot._common import (
    _CROSS_SIZE,
    _Plane,
    _check_centres,
    _check_order,
    _check_points,
    _check_resp,
    _component_colours,
    _component_entries,
    _draw_crosses,
    _draw_ellipses,
    _label_axes,
    _legend_outside,
    _new_axes,
    _posterior_colours,
    _scatter,
)



def plot_clusters(X, labels, centers=None, *, initial_centers=None, equal_axes=False,
                  title=None, ax=None):
    """Samples coloured by cluster, with the centres as black-and-white crosses.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        With more than two features, the first two are drawn.
    labels : array-like of shape (n_samples,)
        Cluster of each sample (any sortable values; one colour per distinct value).
    centers : array-like of shape (n_centers, n_features), optional
    initial_centers : array-like of shape (n_starts, n_features), optional
        Where the algorithm started (e.g. ``KMeans(init=...)``'s array), drawn as
        hollow black circles, so a poor start can be seen beside where it led.
    equal_axes : bool, default=False
        One unit the same length on both axes. Use it wherever distances
        matter (K-means assigns by Euclidean distance): with unequal scales a
        round cluster looks elongated and the boundary between two centres,
        their perpendicular bisector, no longer looks perpendicular.
    title : str, optional
    ax : matplotlib.axes.Axes, optional
        Draw here instead of on a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One legend entry per cluster, then one for the centres and one for the
        starts when given, right of the axes.
    """
    X = _check_points(X)
    labels = np.asarray(labels)
    if labels.shape != (X.shape[0],):
        raise ValueError(
            f"labels must have shape ({X.shape[0]},), one per row of X, got {labels.shape}."
        )
    plane = _Plane.first_two(X.shape[1])
    names, codes = np.unique(labels, return_inverse=True)
    colours = _component_colours(len(names))
    fig, ax = _new_axes(ax)
    points = plane.points(X)
    entries = []
    for code, name in enumerate(names):
        handle = _scatter(ax, points[codes == code], colours[code][None, :])
        entries.append((handle, f"cluster {name}"))
    if centers is not None:
        centers = _check_centres(centers, X.shape[1], "centers")
        entries.append(_draw_crosses(ax, plane.points(centers), "centres"))
    if initial_centers is not None:
        starts = plane.points(_check_centres(initial_centers, X.shape[1], "initial_centers"))
        handle = ax.scatter(starts[:, 0], starts[:, 1], s=_CROSS_SIZE, marker="o",
                            facecolors="none", edgecolors="black", linewidths=1.5, zorder=3)
        entries.append((handle, "starts"))
    if equal_axes:
        # "datalim" widens the limits rather than shrinking the box, so the
        # figure keeps its size and the legend its place.
        ax.set_aspect("equal", adjustable="datalim")
    _label_axes(ax, plane, title)
    _legend_outside(ax, entries)
    return fig


def plot_posteriors(X, resp, means=None, *, equal_axes=False, title=None, ax=None):
    """Samples coloured by their posteriors, with the means as crosses.

    A sample's colour is ``resp @ colours``: for K ≤ 3 components the
    responsibilities padded to three columns, read as RGB (a point red for
    component 0, green for 1, blue for 2, and mixed in between); for larger K
    the responsibility-weighted blend of a palette that starts with the same
    red, green and blue. To colour components as known classes, reorder the
    columns (``resp[:, order]``, ``means[order]``).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        With more than two features, the first two are drawn.
    resp : array-like of shape (n_samples, n_components)
        Posteriors ``q(h=k | x)``: rows in [0, 1] summing to 1.
    means : array-like of shape (n_components, n_features), optional
    equal_axes : bool, default=False
        One unit the same length on both axes (as in :func:`plot_clusters`).
    title : str, optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    X = _check_points(X)
    resp = _check_resp(resp, X.shape[0])
    plane = _Plane.first_two(X.shape[1])
    fig, ax = _new_axes(ax)
    _scatter(ax, plane.points(X), _posterior_colours(resp))
    entries = _component_entries(_component_colours(resp.shape[1]))
    if means is not None:
        means = _check_centres(means, X.shape[1], "means")
        entries.append(_draw_crosses(ax, plane.points(means), "means"))
    if equal_axes:
        ax.set_aspect("equal", adjustable="datalim")
    _label_axes(ax, plane, title)
    _legend_outside(ax, entries)
    return fig


def plot_loglik(history, *, objective=None, ax=None):
    """Log-likelihood and/or K-means objective per iteration (numbered from 1).

    Parameters
    ----------
    history : array-like of shape (n_iter,) or None
        Log-likelihood per iteration, e.g. ``GaussianMixture.lower_bounds_``
        (the mean per-sample log-likelihood).
    objective : array-like of shape (n_iter,), optional
        An objective to minimise per iteration, e.g. ``KMeans.inertia_history_``.
        Alone it is drawn on ``ax``; with ``history`` on a twin y-axis at the right.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    from matplotlib.ticker import MaxNLocator

    series = []
    if history is not None:
        series.append((_check_history(history, "history"), "log-likelihood", "C0"))
    if objective is not None:
        series.append((_check_history(objective, "objective"), "objective (inertia)", "C1"))
    if not series:
        raise ValueError(
            "nothing to plot: pass a log-likelihood history, objective=, or both "
            "(e.g. plot_loglik(None, objective=kmeans.inertia_history_))."
        )
    fig, ax = _new_axes(ax)
    lines = []
    for position, (values, label, colour) in enumerate(series):
        target = ax if position == 0 else ax.twinx()
        (line,) = target.plot(np.arange(1, values.size + 1), values, marker="o",
                              markersize=3, color=colour, label=label)
        target.set_ylabel(label, color=colour)
        lines.append(line)
    ax.set_xlabel("iteration")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(lines) > 1:
        ax.legend(lines, [line.get_label() for line in lines], loc="center right")
    return fig


def _check_history(values, name):
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0 or not np.isfinite(values).all():
        raise ValueError(
            f"{name} must be a non-empty 1-D sequence of finite numbers (one per "
            f"iteration), got shape {values.shape}."
        )
    return values


def plot_ellipses(model, X=None, *, order=None, ax=None):
    """The 1σ and 2σ ellipses of each component of a fitted Gaussian mixture.

    Each ellipse comes from the eigen-decomposition of the component's 2 × 2
    covariance: its axes lie along the eigenvectors, with half-lengths of 1 and
    2 square roots of the eigenvalues (solid and dashed). With more than two
    features the first two coordinates are drawn, with the *marginal*
    covariance of those two (the top-left 2 × 2 block), which is the exact
    distribution of those coordinates under each component.

    Parameters
    ----------
    model : fitted GaussianMixture
        Any covariance type (identity, spherical, diag, tied, full).
    X : array-like of shape (n_samples, n_features), optional
        Drawn under the ellipses, coloured by ``model.predict(X)``.
    order : array-like of int, shape (n_components,), optional
        Which component gets which colour: component ``order[i]`` is drawn
        in colour i (red, green, blue, ... as in every figure), i-th in the
        legend, which still names it by its number in the model. A
        permutation of ``range(n_components)``; None (the default) is the
        model's own order. Component numbers are arbitrary, so to colour a
        fit as known classes, pair components with classes (e.g. by the
        Hungarian method on the contingency table) and pass the components
        in the classes' order.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    fig : matplotlib.figure.Figure
        Two :class:`~matplotlib.patches.Ellipse` patches per component, in
        the order of ``order``.
    """
    if not hasattr(model, "covariance_type"):
        raise TypeError(
            f"plot_ellipses needs a Gaussian mixture (with covariance_type, means_ and "
            f"covariances_), got {type(model).__name__}."
        )
    check_is_fitted(model, ["means_", "covariances_"])
    means = np.asarray(model.means_, dtype=np.float64)
    n_components, n_features = means.shape
    if n_features < 2:
        raise ValueError("plot_ellipses needs at least 2 features; the model has 1.")
    order = _check_order(order, n_components)
    structure = GaussianFamily(model.covariance_type).structure
    plane = _Plane.first_two(n_features)
    covariances = [
        plane.covariance(structure.component_covariance(model.covariances_, k, n_features))
        for k in order
    ]
    colours = _component_colours(n_components)
    fig, ax = _new_axes(ax)
    if X is not None:
        X = _check_points(X)
        # rank[k]: the colour of component k (the inverse permutation of order).
        rank = np.argsort(order)
        _scatter(ax, plane.points(X), colours[rank[model.predict(X)]], alpha=0.6)
    inner = _draw_ellipses(ax, plane.points(means[order]), covariances, colours)
    entries = [(patch, f"component {k}") for k, patch in zip(order, inner)]
    entries.append(_draw_crosses(ax, plane.points(means), "means"))
    # Equal units on both axes, or the ellipses' shapes and angles would lie.
    ax.set_aspect("equal", adjustable="datalim")
    ax.autoscale_view()
    _label_axes(ax, plane)
    _legend_outside(ax, entries)
    return fig


def plot_centers(means, X=None, resp=None, *, top=5, image_shape=(28, 28)):
    """The gallery of centres as images, each beside its most confident members.

    Row k shows centre k as a grey image, then (when ``X`` and ``resp`` are
    given) the ``top`` samples with the highest ``resp[:, k]``, most confident
    first. Each column has a header ("centre", "1st", "2nd", ...: the rank of
    the member by its posterior). A member's posterior is written under it
    only when it is below 0.995 (:data:`CONFIDENT`): on most data sets nearly
    every member is certain, and a grid of "q=1.00" says nothing while hiding
    the few members that are in doubt. Each image is scaled to its own grey
    range.

    Parameters
    ----------
    means : array-like of shape (n_components, n_features)
        ``n_features`` must equal the number of pixels of ``image_shape``.
    X : array-like of shape (n_samples, n_features), optional
    resp : array-like of shape (n_samples, n_components), optional
        Posteriors of ``X`` (e.g. ``model.predict_proba(X)``); pass it with ``X``.
    top : int, default=5
        Members shown per centre (fewer when ``X`` has fewer rows).
    image_shape : tuple of two ints, default=(28, 28)
        (height, width) of one image.

    Returns
    -------
    fig : matplotlib.figure.Figure
        ``n_components`` rows of ``1 + top`` image axes (1 without ``X``).
    """
    from matplotlib.figure import Figure

    means = check_array(means, dtype=np.float64, input_name="means")
    n_components, n_features = means.shape
    image_shape = _check_image_shape(image_shape, n_features)
    top = check_positive_int(top, "top", minimum=0)
    if (X is None) != (resp is None):
        raise ValueError(
            "pass both X and resp (to show each centre's most confident members) "
            "or neither (to show the centres alone)."
        )
    n_members = 0
    if X is not None:
        # Not check_array: a float copy of, say, MNIST would cost hundreds of MB
        # to show a few rows; only the rows drawn are converted.
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != n_features or X.dtype.kind not in "biuf":
            raise ValueError(
                f"X must be a numeric array of shape (n_samples, {n_features}), like "
                f"the means; got shape {X.shape} and dtype {X.dtype}."
            )
        resp = _check_resp(resp, X.shape[0])
        if resp.shape[1] != n_components:
            raise ValueError(
                f"resp has {resp.shape[1]} columns but there are {n_components} "
                "means; pass the posteriors of the model the means come from."
            )
        n_members = min(top, X.shape[0])

    n_columns = 1 + n_members
    fig = Figure(figsize=(1.3 * n_columns + 0.6, 1.3 * n_components + 0.3),
                 layout="constrained")
    axes = fig.subplots(n_components, n_columns, squeeze=False)
    for column, header in enumerate(_column_headers(n_members)):
        axes[0, column].set_title(header, fontsize=8)
    for k in range(n_components):
        axes[k, 0].imshow(means[k].reshape(image_shape), cmap="gray")
        axes[k, 0].set_ylabel(f"centre {k}")
        if n_members:
            # Stable sort: equal posteriors keep row order, so the gallery is reproducible.
            members = np.argsort(-resp[:, k], kind="stable")[:n_members]
            for column, row in enumerate(members, start=1):
                axes[k, column].imshow(
                    np.asarray(X[row], dtype=np.float64).reshape(image_shape), cmap="gray"
                )
                if resp[row, k] < CONFIDENT:
                    axes[k, column].set_xlabel(f"q={resp[row, k]:.2f}", fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


#: Posterior from which :func:`plot_centers` writes no "q=" under a member:
#: at or above it the label would read "q=1.00" (or 0.99), which says nothing.
CONFIDENT = 0.995


def _column_headers(n_members):
    """"centre", then each member's rank by posterior: "1st", "2nd", "3rd", "4th", ..."""
    def ordinal(n):
        suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        return f"{n}{suffix}"

    return ["centre"] + [ordinal(n) for n in range(1, n_members + 1)]


def _check_image_shape(image_shape, n_features):
    try:
        shape = tuple(int(side) for side in image_shape)
    except (TypeError, ValueError):
        shape = None
    if shape is None or len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"image_shape must be (height, width), got {image_shape!r}.")
    if shape[0] * shape[1] != n_features:
        side = math.isqrt(n_features)
        hint = f" (e.g. image_shape=({side}, {side}))" if side * side == n_features else ""
        raise ValueError(
            f"image_shape {shape} holds {shape[0] * shape[1]} pixels but the means "
            f"have {n_features} features; pass the shape of one image{hint}."
        )
    return shape


