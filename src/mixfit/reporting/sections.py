"""The sections of :func:`mixfit.report`'s page, each drawn from what the report was given.

Every function adds one section to a :class:`~mixfit.reporting.page.Page` from a
:class:`Content`: the data (rows with a missing value already dropped, or None
for a fitted model given without its data), the column names, the mixture, the
selection (None for a model given alone) and the rows' posteriors. A section
that needs the data says so when it has none, rather than disappearing.
Figures are saved as PNG files right away (:meth:`Content.figure`), so that the
time a section takes includes drawing its figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mixfit.reporting.figures import cluster_planes, component_covariances, density_histogram
from mixfit.reporting.figures import uncertainty_histogram
from mixfit.reporting.page import FIGURE_DPI

__all__ = ["Content", "MAX_DROPPED_LISTED", "clusters", "convergence", "data_summary",
           "per_cluster", "selection_summary", "uncertainty"]

#: Rows of the top models' table.
TOP_MODELS = 5
#: Most uncertain rows listed.
UNCERTAIN_ROWS = 10
#: Correlation tables are shown up to this many columns (d × d cells each).
MAX_CORRELATION_COLUMNS = 10
#: Rows dropped for missing values that the page lists one by one.
MAX_DROPPED_LISTED = 20

#: What a report of a model without its data leaves out.
NEEDS_DATA = ("the rows in the cluster plots", "the uncertainty of each row",
              "the size of each cluster")


@dataclass
class Content:
    """What the sections draw from.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features) or None
        The rows kept (float64), or None for a model given without data.
    names : list of str
        The columns' names.
    model : GaussianMixture
        The fitted mixture (mixfit's or scikit-learn's).
    selection : Selection or None
        The selection that chose ``model``, if any.
    source : str or None
        Where the data came from (a file name).
    n_rows : int
        The data's rows before any was dropped (0 without data).
    dropped : ndarray of int
        Indices (from 0) of the rows dropped for a missing value.
    dropped_columns : list of list of str
        For each of the first :data:`MAX_DROPPED_LISTED` dropped rows, the
        columns it missed.
    folder : path-like
        Where figures are saved before the page copies them beside index.html.
    """

    X: np.ndarray | None
    names: list
    model: object
    selection: object = None
    source: str | None = None
    n_rows: int = 0
    dropped: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    dropped_columns: list = field(default_factory=list)
    folder: Path | None = None
    resp: np.ndarray | None = None
    labels: np.ndarray | None = None
    n_figures: int = 0

    def figure(self, page, figure, caption, alt):
        """Save ``figure`` as the next PNG (at the page's resolution) and add it to ``page``."""
        self.n_figures += 1
        path = Path(self.folder) / f"drawn-{self.n_figures:02d}.png"
        figure.savefig(path, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
        page.figure(path, caption=caption, alt=alt)


def data_summary(page, content):
    """The data: rows, columns, rows dropped and why (or what a model alone leaves out)."""
    names = content.names
    model = content.model
    described = (f"{type(model).__name__} ({_model_name(model)}, K = {len(model.weights_)})")
    if content.X is None:
        page.section("Data", f"No data were given: this page describes a fitted "
                     f"{described} on {len(names)} columns ({', '.join(names)}) from its "
                     f"parameters alone. Left out, as they need the data: "
                     f"{', '.join(NEEDS_DATA)}. Pass the data (X=) to see them.")
        return
    n_kept, n_dropped = content.X.shape[0], len(content.dropped)
    page.section("Data", (f"{content.source}: " if content.source else "") +
                 f"{content.n_rows} rows × {len(names)} columns ({', '.join(names)}). " +
                 ("Rows dropped: none." if not n_dropped else
                  f"Rows dropped: {n_dropped} of {content.n_rows}, because they have a "
                  f"missing value (an empty or NA cell, read as NaN); the {n_kept} complete "
                  "rows are the data of every section below."))
    if content.selection is None:
        page.paragraph(f"The model is a fitted {described}, given with these data; no "
                       "selection was run.")
    if n_dropped:
        rows = [(int(i) + 1, ", ".join(columns)) for i, columns in
                zip(content.dropped, content.dropped_columns)]
        more = n_dropped - len(rows)
        page.table(["row", "missing in"], rows, caption=(
            f"The rows dropped (numbered from 1 in the order of the data"
            + (", the header not counted" if content.source else "") + ")"
            + (f"; the first {len(rows)}, {more} more not listed." if more else ".")))


def selection_summary(page, content):
    """The models compared: the criterion plot, the top models, the chosen one and why."""
    selection = content.selection
    name = selection.criterion.upper()
    ranked = selection.ranked()
    best = ranked[0]
    best_value = getattr(best, selection.criterion)
    why = (f"The chosen model is {best.covariance_type} with K = {best.n_components} "
           f"components: it has the lowest {name} ({best_value:.2f}; lower is better, "
           f"mclust reports −{name}).")
    if len(ranked) > 1:
        runner = ranked[1]
        gap = getattr(runner, selection.criterion) - best_value
        why += (f" The runner-up, {runner.covariance_type} with K = {runner.n_components}, "
                f"is {gap:.2f} higher; a difference above 10 is usually read as strong "
                "evidence.")
    page.section(f"Model selection by {name}", why)
    for note in selection.notes:
        page.paragraph(note)
    failed = [result for result in selection.results if result.failed]
    if failed:
        page.paragraph(f"{len(failed)} of {len(selection.results)} fits failed and are "
                       "not ranked (e.g. " f"{failed[0].covariance_type}, K = "
                       f"{failed[0].n_components}: {failed[0].error}).")
    content.figure(page, selection.plot().figure,
                   caption=f"{name} of each covariance model against the number of "
                   "components K; the chosen model is ringed. Lower is better.",
                   alt=f"Line plot of {name} against K, one line per model; the lowest "
                   f"point is {best.covariance_type} with K = {best.n_components}.")
    rows = [(r.covariance_type, r.n_components, getattr(r, selection.criterion),
             getattr(r, selection.criterion) - best_value, r.log_likelihood,
             r.n_parameters, r.n_iter) for r in ranked[:TOP_MODELS]]
    page.table(["model", "K", name, f"{name} − best", "log-likelihood", "parameters",
                "iterations"], rows,
               caption=f"The best {len(rows)} models by {name}.")


def clusters(page, content):
    """The clusters: scatter plots with the components' ellipses (a histogram for 1 column)."""
    X, model, names = content.X, content.model, content.names
    n_components = len(model.weights_)
    if len(names) == 1:
        x = None if X is None else X[:, 0]
        page.section("Clusters", (f"One column: the histogram of {names[0]} with the fitted "
                                  "mixture's density" if X is not None else
                                  f"One column, {names[0]}: the fitted mixture's density")
                     + f" and its {n_components} weighted components.")
        content.figure(page, density_histogram(x, model, names[0]),
                       caption=("The data's histogram (as a density), the" if X is not None
                                else "The") + " mixture's density (black) and each "
                       "component's weighted density (dashed).",
                       alt=("Histogram of " if X is not None else "Density curves of ")
                       + f"{names[0]} with {n_components} fitted Gaussian densities and "
                       "their sum.")
        return
    figure, planes = cluster_planes(X, content.labels, model, names)
    page.section("Clusters", (f"The rows coloured by their most probable cluster, with "
                              if X is not None else "Without the data, only ")
                 + f"each component's mean (cross) and 1σ and 2σ ellipses, on {planes}.")
    content.figure(page, figure, caption=f"Clusters on {planes}; equal units on both axes.",
                   alt=(f"Scatter plots of the data on {planes}, coloured by {n_components} "
                        "clusters, with ellipses of the fitted components." if X is not None
                        else f"Ellipses of the {n_components} fitted components on {planes}."))


def uncertainty(page, content):
    """How sure each row's cluster is: the histogram and the most uncertain rows."""
    X, resp, labels, names = content.X, content.resp, content.labels, content.names
    values = 1.0 - resp.max(axis=1)
    page.section("Uncertainty", "How sure the model is of each row's cluster: 1 − the "
                 "largest posterior probability (0: certain). Rows near the boundary of "
                 f"two clusters are uncertain. Median {np.median(values):.3g}; "
                 f"{np.mean(values > 0.1):.0%} of the rows above 0.1.")
    content.figure(page, uncertainty_histogram(values, resp.shape[1]),
                   caption="The distribution of the rows' uncertainty.",
                   alt="Histogram of the uncertainty of each row's cluster.")
    order = np.argsort(-values, kind="stable")[:UNCERTAIN_ROWS]
    # Row numbers of the data as given: dropped rows do not shift them.
    kept = np.delete(np.arange(content.n_rows), content.dropped)
    rows = [(int(kept[i]) + 1, values[i], int(labels[i]), *X[i]) for i in order]
    page.table(["row", "uncertainty", "cluster", *names], rows,
               caption=f"The {len(rows)} most uncertain rows (numbered from 1, in the "
               "order of the data) with their values.")


def per_cluster(page, content):
    """Each cluster's size, weight, means, standard deviations and correlations."""
    model, names = content.model, content.names
    covariances = component_covariances(model)
    stds = np.sqrt(np.einsum("kjj->kj", covariances))
    n_components = covariances.shape[0]
    weights = np.asarray(model.weights_, dtype=np.float64)
    means = np.asarray(model.means_, dtype=np.float64)
    if content.labels is not None:
        sizes = np.bincount(content.labels, minlength=n_components)
        page.section("Clusters one by one", "Size: the rows whose most probable cluster it "
                     "is; weight: the component's mixing proportion; then the component's "
                     "mean and standard deviation of each column.")
        page.table(["cluster", "size", "weight", *(f"mean {name}" for name in names)],
                   [(k, int(sizes[k]), float(weights[k]), *means[k])
                    for k in range(n_components)],
                   caption="Size, weight and mean of each cluster.")
    else:
        page.section("Clusters one by one", "Weight: the component's mixing proportion; "
                     "then the component's mean and standard deviation of each column (the "
                     "clusters' sizes need the data).")
        page.table(["cluster", "weight", *(f"mean {name}" for name in names)],
                   [(k, float(weights[k]), *means[k]) for k in range(n_components)],
                   caption="Weight and mean of each cluster.")
    page.table(["cluster", *(f"std {name}" for name in names)],
               [(k, *stds[k]) for k in range(n_components)],
               caption="Standard deviation of each column within each cluster.")
    if len(names) < 2:
        return
    correlations = covariances / (stds[:, :, None] * stds[:, None, :])
    off_diagonal = correlations[:, ~np.eye(len(names), dtype=bool)]
    if not np.any(np.abs(off_diagonal) > 1e-12):
        page.paragraph(f"The model {_model_name(model)} has no correlations: within "
                       "a cluster the columns are independent.")
        return
    if len(names) > MAX_CORRELATION_COLUMNS:
        page.paragraph(f"Correlations are not listed for more than "
                       f"{MAX_CORRELATION_COLUMNS} columns.")
        return
    for k in range(n_components):
        page.table(["", *names], [(name, *correlations[k, j]) for j, name in enumerate(names)],
                   caption=f"Correlations between the columns within cluster {k}.")


def convergence(page, content):
    """How the fit converged: the log-likelihood per EM iteration, when the model kept it."""
    from mixfit.plot import plot_loglik

    model = content.model
    state = "converged" if model.converged_ else "stopped before converging"
    history = getattr(model, "lower_bounds_", None)
    if history is None or len(history) == 0:
        # scikit-learn before 1.7 keeps only the last value (lower_bound_).
        page.section("Convergence", f"The fit {state} after {model.n_iter_} EM iterations. "
                     f"This {type(model).__name__} keeps no per-iteration history "
                     "(lower_bounds_), so the log-likelihood per iteration cannot be drawn.")
        return
    history = np.asarray(history, dtype=np.float64)
    page.section("Convergence", f"The fit {state} after {model.n_iter_} EM "
                 f"iterations; its mean log-likelihood per row is {history[-1]:.4f}.")
    content.figure(page, plot_loglik(history), caption="Mean log-likelihood per row after "
                   "each EM iteration of the fit; EM never lowers it.",
                   alt=f"Line plot of the log-likelihood rising over {len(history)} "
                   "iterations.")


def _model_name(model):
    return str(model.covariance_type)
