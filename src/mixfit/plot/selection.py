"""The figure of a model selection: the criterion against K, one line per model."""

from __future__ import annotations

import numpy as np

from mixfit.plot._common import _new_axes

#: Line styles cycled with the colours, so that 14 models stay distinguishable.
_STYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "v", "D", "P", "X")


def plot_selection(selection, ax=None, criterion=None):
    """Draw ``selection``'s criterion against the number of components.

    One line per covariance model over the numbers of components it fitted;
    failed cells are left out (a line breaks there), and the best cell is
    ringed. Lower is better (scikit-learn's sign), so the best is the lowest
    point.

    Parameters
    ----------
    selection : mixfit.selection.Selection
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    criterion : {"bic", "icl", "aic"}, optional
        Default: the criterion the selection ranked by.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.ticker import MaxNLocator

    criterion = criterion or selection.criterion
    models, ks, values = selection.table(criterion)
    _, ax = _new_axes(ax, figsize=(7.0, 4.8))
    for index, model in enumerate(models):
        ax.plot(ks, values[index], linestyle=_STYLES[index // 10 % len(_STYLES)],
                marker=_MARKERS[index % len(_MARKERS)], markersize=4,
                color=f"C{index % 10}", label=model)
    best = selection.ranked(criterion)[0]
    best_value = getattr(best, criterion)
    ax.plot([best.n_components], [best_value], marker="o", markersize=14,
            markerfacecolor="none", markeredgecolor="black", linestyle="none",
            label=f"best: {best.covariance_type}, K={best.n_components}")
    ax.set_xlabel("number of components K")
    ax.set_ylabel(f"{criterion.upper()} (lower is better)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    finite = values[np.isfinite(values)]
    if finite.size:
        # Zoom on the better half: a poor model at K = 1 would flatten the rest.
        low, high = finite.min(), np.percentile(finite, 75)
        margin = 0.05 * max(high - low, abs(low) * 1e-6, 1e-9)
        ax.set_ylim(low - margin, high + margin)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
              ncol=1 if len(models) <= 8 else 2)
    ax.set_title(f"{criterion.upper()} of each model and number of components")
    return ax
