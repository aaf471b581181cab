"""The figures of :func:`mixfit.report` that :mod:`mixfit.plot` does not draw.

The clusters of a fitted Gaussian mixture seen in planes of the data (every pair
of columns, or the first two principal components), the 1-D histogram with the
fitted densities, and the histogram of the rows' uncertainty. Without data (a
report of a fitted model alone) the planes show the components' ellipses only,
and the 1-D figure the fitted densities only. Each returns a
:class:`matplotlib.figure.Figure` (no pyplot state), as :mod:`mixfit.plot` does.
"""

from __future__ import annotations

import itertools

import numpy as np

from mixfit.families.gaussian.family import GaussianFamily
from mixfit.plot._common import _component_colours, _draw_crosses, _draw_ellipses

#: Largest number of columns drawn as all their pairs (4 columns: 6 panels);
#: beyond it the data are drawn on their first two principal components.
MAX_PAIR_COLUMNS = 4

_POINT_SIZE = 8


def component_covariances(model):
    """Each component's full covariance matrix, shape (K, d, d), whatever the model."""
    means = np.asarray(model.means_, dtype=np.float64)
    n_components, n_features = means.shape
    structure = GaussianFamily(model.covariance_type).structure
    return np.stack([np.asarray(structure.component_covariance(model.covariances_, k,
                                                               n_features), dtype=np.float64)
                     for k in range(n_components)])


def principal_axes(X):
    """The data's mean, its first two principal directions (2, d) and their variance shares."""
    mean = X.mean(axis=0)
    _, singular, vt = np.linalg.svd(X - mean, full_matrices=False)
    variance = singular ** 2
    share = variance / variance.sum() if variance.sum() > 0 else np.zeros_like(variance)
    return mean, vt[:2], share[:2]


def mixture_principal_axes(model):
    """As :func:`principal_axes`, from the mixture's own mean and covariance (no data needed).

    The mixture's covariance is the components' covariances plus the spread of
    their means: Σ_k w_k (Σ_k + μ_k μ_kᵀ) − μ μᵀ.
    """
    weights = np.asarray(model.weights_, dtype=np.float64)
    means = np.asarray(model.means_, dtype=np.float64)
    mean = weights @ means
    spread = means - mean
    total = np.einsum("k,kij->ij", weights, component_covariances(model)) + (
        spread.T * weights) @ spread
    variance, vectors = np.linalg.eigh(total)
    variance, vectors = variance[::-1], vectors[:, ::-1]
    share = variance / variance.sum() if variance.sum() > 0 else np.zeros_like(variance)
    return mean, vectors[:, :2].T, share[:2]


def cluster_planes(X, labels, model, names):
    """Scatter plots of the rows coloured by cluster, with each component's 1σ/2σ ellipses.

    Every pair of columns when there are at most :data:`MAX_PAIR_COLUMNS`,
    otherwise the first two principal components of ``X`` (the ellipses are the
    components projected on them). With ``X`` None (a model without its data)
    only the ellipses and means are drawn, and the principal components are
    those of the fitted mixture.

    Returns
    -------
    figure : matplotlib.figure.Figure
    planes : str
        Which planes were drawn, in words (for the caption).
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    covariances = component_covariances(model)
    n_features = covariances.shape[1]
    means = np.asarray(model.means_, dtype=np.float64)
    colours = _component_colours(means.shape[0])
    if n_features <= MAX_PAIR_COLUMNS:
        pairs = list(itertools.combinations(range(n_features), 2))
        # A plane is the columns themselves: axes (2, d) picking them out.
        planes = [(np.eye(n_features)[[i, j]], np.zeros(n_features), names[i], names[j])
                  for i, j in pairs]
        words = ("the two columns" if len(pairs) == 1 else
                 f"every pair of the {n_features} columns")
    else:
        centre, axes, share = principal_axes(X) if X is not None else mixture_principal_axes(
            model)
        planes = [(axes, centre, f"PC1 ({share[0]:.0%} of the variance)",
                   f"PC2 ({share[1]:.0%} of the variance)")]
        words = (f"the first two principal components of the {n_features} columns "
                 f"({share.sum():.0%} of the " + ("data's" if X is not None else "mixture's")
                 + " variance)")
    # Two panels a row at most: a figure about as wide as the page, so that its
    # lettering is shown near its drawn size (Page shows figures at 100 dpi).
    n_cols = min(len(planes), 2)
    n_rows = -(-len(planes) // n_cols)
    figure = Figure(figsize=(4.2 * n_cols + 1.6, 4.0 * n_rows), layout="constrained")
    axes_grid = np.atleast_1d(figure.subplots(n_rows, n_cols, squeeze=False)).ravel()
    for ax, (basis, offset, xlabel, ylabel) in zip(axes_grid, planes):
        if X is not None:
            points = (X - offset) @ basis.T
            ax.scatter(points[:, 0], points[:, 1], s=_POINT_SIZE, c=colours[labels],
                       linewidths=0, alpha=0.7)
        projected = [basis @ cov @ basis.T for cov in covariances]
        _draw_ellipses(ax, (means - offset) @ basis.T, projected, colours)
        _draw_crosses(ax, (means - offset) @ basis.T, "means")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        # Equal units, or the ellipses' shapes and angles would lie.
        ax.set_aspect("equal", adjustable="datalim")
    for ax in axes_grid[len(planes):]:
        ax.set_visible(False)
    handles = [Line2D([], [], marker="o", linestyle="none", color=colours[k],
                      label=f"cluster {k}") for k in range(means.shape[0])]
    figure.legend(handles=handles, loc="outside right upper", fontsize="small")
    return figure, words


def density_histogram(x, model, name):
    """1-D data: the histogram (as a density) with the mixture's density and its components.

    With ``x`` None (a model without its data) the densities alone, over the
    components' means ± 4 standard deviations.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.0, 4.2), layout="constrained")
    ax = figure.add_subplot()
    means = np.asarray(model.means_, dtype=np.float64)[:, 0]
    variances = component_covariances(model)[:, 0, 0]
    if x is not None:
        ax.hist(x, bins="auto", density=True, color="0.8", edgecolor="0.6", label="data")
        low, high = x.min(), x.max()
    else:
        low = np.min(means - 4 * np.sqrt(variances))
        high = np.max(means + 4 * np.sqrt(variances))
    span = high - low
    grid = np.linspace(low - 0.05 * span, high + 0.05 * span, 400)
    colours = _component_colours(len(means))
    total = np.zeros_like(grid)
    for k, (weight, mean, variance) in enumerate(zip(model.weights_, means, variances)):
        density = weight * np.exp(-0.5 * (grid - mean) ** 2 / variance) / np.sqrt(
            2 * np.pi * variance)
        total += density
        ax.plot(grid, density, color=colours[k], linestyle="--", label=f"cluster {k}")
    ax.plot(grid, total, color="black", linewidth=2, label="mixture")
    ax.set_xlabel(name)
    ax.set_ylabel("density")
    figure.legend(loc="outside right upper", fontsize="small")
    return figure


def uncertainty_histogram(uncertainty, n_components):
    """The distribution of the rows' uncertainty, 1 − their largest posterior."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = figure.add_subplot()
    # The largest possible uncertainty with K components is 1 − 1/K.
    high = max(1.0 - 1.0 / n_components, 1e-9)
    ax.hist(uncertainty, bins=np.linspace(0.0, high, 31), color="C0")
    ax.set_xlabel("uncertainty (1 − largest posterior probability)")
    ax.set_ylabel("rows")
    ax.set_xlim(0.0, high)
    return figure
