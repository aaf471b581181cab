"""Helpers shared by the figures and the animation: colours, crosses, ellipses, the 2-D view."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_array


#: Marker area (points²) of the samples; small, since data sets have thousands of rows.
_POINT_SIZE = 10
#: Marker area of the centre crosses.
_CROSS_SIZE = 150
#: Radii, in standard deviations, of the ellipses drawn for each Gaussian.
_ELLIPSE_STDS = (1.0, 2.0)




@dataclass(frozen=True)
class _Plane:
    """An affine map from the feature space onto the two plotted coordinates.

    Attributes
    ----------
    offset : ndarray of shape (n_features,)
    basis : ndarray of shape (2, n_features)
        Orthonormal rows: points map to ``(x - offset) @ basis.T`` and
        covariances to ``basis @ cov @ basis.T``.
    names : tuple of str
        Axis labels.
    """

    offset: np.ndarray
    basis: np.ndarray
    names: tuple

    @classmethod
    def first_two(cls, n_features):
        """The first two coordinates (the identity for 2-D data)."""
        return cls(np.zeros(n_features), np.eye(2, n_features), ("feature 0", "feature 1"))

    @classmethod
    def principal(cls, X):
        """The plane of the two principal components of ``X`` (identity when 2-D)."""
        if X.shape[1] == 2:
            return cls.first_two(2)
        offset = X.mean(axis=0, dtype=np.float64)
        centred = X - offset
        # Eigenvectors of the d × d scatter: one GEMM over the rows, cheaper than
        # an SVD of the (n, d) data when n is large.
        _, vectors = np.linalg.eigh(centred.T @ centred)
        basis = vectors[:, ::-1][:, :2].T
        # Eigenvectors have arbitrary signs; fixing them keeps the picture stable.
        signs = np.sign(basis[np.arange(2), np.abs(basis).argmax(axis=1)])
        basis = basis * np.where(signs == 0, 1.0, signs)[:, None]
        return cls(offset, basis, ("principal component 1", "principal component 2"))

    def points(self, X):
        return (np.asarray(X, dtype=np.float64) - self.offset) @ self.basis.T

    def covariance(self, covariance):
        return self.basis @ np.asarray(covariance, dtype=np.float64) @ self.basis.T


#: The palette, in 0..255: pure red, green and blue first (the lecture's colours, under
#: which a K ≤ 3 posterior *is* a colour); then tab10 without its blue, green and red
#: (too like the first three); then tab20's light shades of those ten.
_PALETTE = np.array([
    (255, 0, 0), (0, 255, 0), (0, 0, 255),
    (255, 127, 14), (148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127),
    (188, 189, 34), (23, 190, 207),
    (255, 187, 120), (197, 176, 213), (196, 156, 148), (247, 182, 210), (199, 199, 199),
    (219, 219, 141), (158, 218, 229), (174, 199, 232), (152, 223, 138), (255, 152, 150),
]) / 255.0
#: Hue step of the colours past the palette: the golden ratio's fraction, so hues
#: never repeat and each new one falls in the widest gap left.
_GOLDEN_HUE = (5 ** 0.5 - 1) / 2


def _component_colours(n_components):
    """RGB colour of each component, shape (n_components, 3), values in [0, 1].

    Component k's colour does not depend on ``n_components``: rows 0, 1 and 2
    are pure red, green and blue, so that for K ≤ 3 ``resp @ colours`` is the
    responsibility vector itself read as RGB (the lecture's colouring), and a
    K=6 fit whose first three components are matched to three true classes
    shows them in the classes' colours. Then come 17 qualitative colours
    (:data:`_PALETTE`) and, past 20 components, hues around the circle.
    """
    if n_components <= len(_PALETTE):
        return _PALETTE[:n_components].copy()
    from matplotlib.colors import hsv_to_rgb

    hues = (np.arange(n_components - len(_PALETTE)) * _GOLDEN_HUE) % 1.0
    extra = hsv_to_rgb(np.column_stack([hues, np.full_like(hues, 0.75),
                                        np.full_like(hues, 0.85)]))
    return np.vstack([_PALETTE, extra])


def _check_order(order, n_components):
    """``order`` as an int array, a permutation of range(n_components); None is the identity.

    ``order[i]`` is the component drawn in colour i (see :func:`_component_colours`).
    """
    if order is None:
        return np.arange(n_components)
    values = np.asarray(order)
    if (values.shape != (n_components,) or values.dtype.kind not in "iu"
            or not np.array_equal(np.sort(values), np.arange(n_components))):
        raise ValueError(
            f"order must be a permutation of 0..{n_components - 1}, one entry per "
            f"component (order[i] is the component drawn in colour i); got {order!r}."
        )
    return values.astype(np.intp)


def _posterior_colours(resp):
    """Each sample's colour: the responsibility-weighted blend of the component colours."""
    colours = resp.astype(np.float64) @ _component_colours(resp.shape[1])
    # Rounding can push a blend a hair past 1, which matplotlib rejects.
    return np.clip(colours, 0.0, 1.0)


def _new_axes(ax, figsize=(6.4, 4.8)):
    """The figure to return and the axes to draw on (a new figure when ``ax`` is None)."""
    from matplotlib.figure import Figure

    if ax is None:
        # Constrained layout keeps legends placed outside the axes inside the image.
        fig = Figure(figsize=figsize, layout="constrained")
        return fig, fig.add_subplot()
    fig = ax.figure
    while not isinstance(fig, Figure):  # an axes of a SubFigure: return the root
        fig = fig.figure
    return fig, ax


def _scatter(ax, points, colours, **kwargs):
    return ax.scatter(points[:, 0], points[:, 1], s=_POINT_SIZE, c=colours,
                      linewidths=0, **kwargs)


def _draw_crosses(ax, points, label):
    """Centres as a thick black x under a thin white x; returns the legend handle."""
    under = ax.scatter(points[:, 0], points[:, 1], s=_CROSS_SIZE, marker="x",
                       c="black", linewidths=4, zorder=3)
    over = ax.scatter(points[:, 0], points[:, 1], s=_CROSS_SIZE, marker="x",
                      c="white", linewidths=1.5, zorder=4)
    # A tuple handle overlays both markers in the legend, as drawn on the axes.
    return (under, over), label


def _draw_ellipses(ax, means, covariances, colours):
    """The 1σ and 2σ ellipses of 2-D Gaussians; returns the 1σ patches.

    Parameters
    ----------
    means : ndarray of shape (n_components, 2)
    covariances : sequence of (2, 2) ndarrays
    colours : ndarray of shape (n_components, 3)
    """
    from matplotlib.patches import Ellipse

    inner = []
    for mean, covariance, colour in zip(means, covariances, colours):
        variances, axes = np.linalg.eigh(covariance)
        # A covariance that rounding made slightly indefinite is a flat ellipse.
        std = np.sqrt(np.clip(variances, 0.0, None))
        # eigh sorts ascending: the last eigenvector is the major axis.
        angle = np.degrees(np.arctan2(axes[1, 1], axes[0, 1]))
        for n_std in _ELLIPSE_STDS:
            patch = Ellipse(mean, width=2 * n_std * std[1], height=2 * n_std * std[0],
                            angle=angle, fill=False, edgecolor=colour,
                            linewidth=2.0 if n_std == 1 else 1.0,
                            linestyle="-" if n_std == 1 else "--", zorder=2)
            ax.add_patch(patch)
            if n_std == 1:
                inner.append(patch)
    return inner


def _legend_outside(ax, entries):
    """A legend right of the axes, from (handle, label) pairs."""
    handles, labels = zip(*entries)
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0),
              borderaxespad=0.0, frameon=False)


def _component_entries(colours, label="component"):
    from matplotlib.lines import Line2D

    return [
        (Line2D([], [], marker="o", linestyle="", color=colour), f"{label} {k}")
        for k, colour in enumerate(colours)
    ]


def _label_axes(ax, plane, title=None):
    ax.set_xlabel(plane.names[0])
    ax.set_ylabel(plane.names[1])
    if title is not None:
        ax.set_title(title)


def _check_points(X, name="X"):
    """``X`` as a finite float array of shape (n_samples, n_features ≥ 2)."""
    return check_array(X, dtype=[np.float64, np.float32], ensure_min_features=2,
                       input_name=name)


def _check_centres(centres, n_features, name):
    centres = check_array(centres, dtype=np.float64, input_name=name)
    if centres.shape[1] != n_features:
        raise ValueError(
            f"{name} has {centres.shape[1]} features but X has {n_features}; pass "
            "one row per centre in the coordinates of X."
        )
    return centres


def _check_resp(resp, n_samples):
    """Responsibilities of shape (n_samples, K): in [0, 1], rows summing to 1."""
    resp = check_array(resp, dtype=np.float64, input_name="resp")
    if resp.shape[0] != n_samples:
        raise ValueError(
            f"resp has {resp.shape[0]} rows but X has {n_samples}; pass one row of "
            "posteriors per sample (e.g. model.predict_proba(X))."
        )
    # float32 posteriors sum to 1 only to about 1e-6 per term.
    atol = 1e-4
    if resp.min() < -atol or resp.max() > 1 + atol or not np.allclose(
        resp.sum(axis=1), 1.0, rtol=0, atol=atol * resp.shape[1]
    ):
        raise ValueError(
            "resp must hold probabilities, each row in [0, 1] summing to 1; pass "
            "posteriors (e.g. model.predict_proba(X)), not log-posteriors or scores."
        )
    return resp


