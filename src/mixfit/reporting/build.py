"""``mixfit.report``: from data to a page a person reads — the selection, the clusters, the fit.

:func:`report` runs :func:`mixfit.select` on the data and writes one
self-contained HTML page (:class:`mixfit.reporting.page.Page`) with the models
compared, the chosen one and why, the clusters in the data's own column names,
how sure each row's assignment is, each cluster's size, weight, means, standard
deviations and correlations, and how the chosen fit converged.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from mixfit.reporting.figures import cluster_planes, component_covariances, density_histogram
from mixfit.reporting.figures import uncertainty_histogram
from mixfit.reporting.page import Page

__all__ = ["report"]

#: Rows of the top models' table.
TOP_MODELS = 5
#: Most uncertain rows listed.
UNCERTAIN_ROWS = 10
#: Correlation tables are shown up to this many columns (d × d cells each).
MAX_CORRELATION_COLUMNS = 10


def report(X, out, *, n_components=range(1, 10), covariance_types="mclust", criterion="bic",
           columns=None, random_state=0, force=False, source=None):
    """Choose a Gaussian mixture for ``X`` and write a page about it: ``out/index.html``.

    The page has the selection (the criterion of every model against K, the top
    models, the chosen one and its margin over the runners-up), the clusters
    (scatter plots with the components' ellipses: every pair of columns up to 4
    columns, else the first two principal components; a histogram with the
    fitted densities for one column), the uncertainty of each row's cluster,
    each cluster's size, weight, means, standard deviations and correlations,
    and the convergence of the chosen fit. Figures are PNG files beside
    index.html; the page loads nothing from the network.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Finite numbers (a pandas DataFrame gives its column names).
    out : path-like
        The folder to write; it must not exist unless ``force``.
    n_components, covariance_types, criterion, random_state
        As :func:`mixfit.select`.
    columns : list of str, optional
        Names of the columns, for the axes and tables (default: a DataFrame's
        names, else "x1", "x2", ...).
    force : bool, default=False
        Write into an existing folder: only ``index.html`` and the page's
        ``figure-NN.png`` files are replaced; no other file is touched.
    source : str, optional
        Where the data came from (a file name), shown in the data summary.

    Returns
    -------
    Selection
        The selection the page describes (``.best_`` is the chosen mixture).

    Raises
    ------
    FileExistsError
        ``out`` exists and ``force`` is False, or ``out`` is a file.
    ValueError
        Bad data (as :func:`mixfit.select`), a column with a single value, or
        names that do not match the columns.
    """
    from mixfit.selection import select

    out = Path(out)
    _check_out(out, force)
    names = _column_names(X, columns)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"X must be a table (rows × columns), got an array of shape {X.shape}")
    if len(names) != X.shape[1]:
        raise ValueError(f"columns gives {len(names)} names for {X.shape[1]} columns of X")
    _refuse_constant_columns(X, names)
    start = time.perf_counter()
    selection = select(X, n_components=n_components, covariance_types=covariance_types,
                       criterion=criterion, random_state=random_state)
    seconds = time.perf_counter() - start
    page = Page("Gaussian mixture report" + (f": {source}" if source else ""))
    _data_section(page, X, names, source, selection, seconds)
    _selection_section(page, selection)
    model = selection.best_
    resp = model.predict_proba(X)
    labels = resp.argmax(axis=1)
    _cluster_section(page, X, labels, model, names)
    _uncertainty_section(page, X, resp, labels, names)
    _per_cluster_section(page, X, labels, model, names)
    _convergence_section(page, model)
    _check_out(out, force)  # again: the folder may have appeared while the fits ran
    page.write(out)
    return selection


def _check_out(out, force):
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"the output '{out}' is a file, not a folder; give a folder "
                              "name for the report")
    if out.exists() and not force:
        raise FileExistsError(f"the output folder '{out}' exists; give another folder, or "
                              "force (--force) to replace its index.html and figure files "
                              "(other files are kept)")


def _column_names(X, columns):
    if columns is not None:
        return [str(name) for name in columns]
    if hasattr(X, "columns"):  # a DataFrame
        return [str(name) for name in X.columns]
    n_features = 1 if np.ndim(X) == 1 else np.shape(X)[1]
    return [f"x{j + 1}" for j in range(n_features)]


def _refuse_constant_columns(X, names):
    # A column with one value has no variance: every covariance model is singular
    # along it and every cell would fail with a less helpful message.
    constant = [name for name, column in zip(names, X.T) if X.shape[0] and
                np.all(column == column[0])]
    if constant:
        listed = ", ".join(repr(name) for name in constant)
        raise ValueError(f"column(s) {listed} hold a single value in every row, which "
                         "cannot be clustered; leave them out (--columns)")


def _data_section(page, X, names, source, selection, seconds):
    page.section("Data", (f"{source}: " if source else "") +
                 f"{X.shape[0]} rows × {X.shape[1]} columns ({', '.join(names)}). "
                 "Rows dropped: none (rows with missing or infinite values are refused, "
                 "not dropped).")
    page.paragraph(f"The selection fitted {len(selection.results)} models in "
                   f"{seconds:.3g} s.")


def _selection_section(page, selection):
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
    page.figure(selection.plot().figure,
                caption=f"{name} of each covariance model against the number of components "
                "K; the chosen model is ringed. Lower is better.",
                alt=f"Line plot of {name} against K, one line per model; the lowest point "
                f"is {best.covariance_type} with K = {best.n_components}.")
    rows = [(r.covariance_type, r.n_components, getattr(r, selection.criterion),
             getattr(r, selection.criterion) - best_value, r.log_likelihood,
             r.n_parameters, r.n_iter) for r in ranked[:TOP_MODELS]]
    page.table(["model", "K", name, f"{name} − best", "log-likelihood", "parameters",
                "iterations"], rows,
               caption=f"The best {len(rows)} models by {name}.")


def _cluster_section(page, X, labels, model, names):
    n_components = model.means_.shape[0]
    if X.shape[1] == 1:
        page.section("Clusters", f"One column: the histogram of {names[0]} with the fitted "
                     f"mixture's density and its {n_components} weighted components.")
        page.figure(density_histogram(X[:, 0], model, names[0]),
                    caption="The data's histogram (as a density), the mixture's density "
                    "(black) and each component's weighted density (dashed).",
                    alt=f"Histogram of {names[0]} with {n_components} fitted Gaussian "
                    "densities and their sum.")
        return
    figure, planes = cluster_planes(X, labels, model, names)
    page.section("Clusters", f"The rows coloured by their most probable cluster, with "
                 f"each component's mean (cross) and 1σ and 2σ ellipses, on {planes}.")
    page.figure(figure, caption=f"Clusters on {planes}; equal units on both axes.",
                alt=f"Scatter plots of the data on {planes}, coloured by {n_components} "
                "clusters, with ellipses of the fitted components.")


def _uncertainty_section(page, X, resp, labels, names):
    uncertainty = 1.0 - resp.max(axis=1)
    page.section("Uncertainty", "How sure the model is of each row's cluster: 1 − the "
                 "largest posterior probability (0: certain). Rows near the boundary of "
                 f"two clusters are uncertain. Median {np.median(uncertainty):.3g}; "
                 f"{np.mean(uncertainty > 0.1):.0%} of the rows above 0.1.")
    page.figure(uncertainty_histogram(uncertainty, resp.shape[1]),
                caption="The distribution of the rows' uncertainty.",
                alt="Histogram of the uncertainty of each row's cluster.")
    order = np.argsort(-uncertainty, kind="stable")[:UNCERTAIN_ROWS]
    rows = [(int(i) + 1, uncertainty[i], int(labels[i]), *X[i]) for i in order]
    page.table(["row", "uncertainty", "cluster", *names], rows,
               caption=f"The {len(rows)} most uncertain rows (numbered from 1, in the "
               "order of the data) with their values.")


def _per_cluster_section(page, X, labels, model, names):
    covariances = component_covariances(model)
    stds = np.sqrt(np.einsum("kjj->kj", covariances))
    n_components = covariances.shape[0]
    sizes = np.bincount(labels, minlength=n_components)
    page.section("Clusters one by one", "Size: the rows whose most probable cluster it is; "
                 "weight: the component's mixing proportion; then the component's mean "
                 "and standard deviation of each column.")
    page.table(["cluster", "size", "weight", *(f"mean {name}" for name in names)],
               [(k, int(sizes[k]), float(model.weights_[k]), *model.means_[k])
                for k in range(n_components)], caption="Size, weight and mean of each cluster.")
    page.table(["cluster", *(f"std {name}" for name in names)],
               [(k, *stds[k]) for k in range(n_components)],
               caption="Standard deviation of each column within each cluster.")
    correlations = covariances / (stds[:, :, None] * stds[:, None, :])
    off_diagonal = correlations[:, ~np.eye(len(names), dtype=bool)]
    if len(names) < 2:
        return
    if not np.any(np.abs(off_diagonal) > 1e-12):
        page.paragraph(f"The model {model.covariance_type} has no correlations: within "
                       "a cluster the columns are independent.")
        return
    if len(names) > MAX_CORRELATION_COLUMNS:
        page.paragraph(f"Correlations are not listed for more than "
                       f"{MAX_CORRELATION_COLUMNS} columns.")
        return
    for k in range(n_components):
        page.table(["", *names], [(name, *correlations[k, j]) for j, name in enumerate(names)],
                   caption=f"Correlations between the columns within cluster {k}.")


def _convergence_section(page, model):
    from mixfit.plot import plot_loglik

    history = np.asarray(model.lower_bounds_, dtype=np.float64)
    state = "converged" if model.converged_ else "stopped before converging"
    page.section("Convergence", f"The chosen fit {state} after {model.n_iter_} EM "
                 f"iterations; its mean log-likelihood per row is {history[-1]:.4f}.")
    page.figure(plot_loglik(history), caption="Mean log-likelihood per row after each EM "
                "iteration of the chosen fit; EM never lowers it.",
                alt=f"Line plot of the log-likelihood rising over {len(history)} iterations.")
