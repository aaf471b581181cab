"""``mixfit.report``: from data (or a fitted mixture) to a page a person reads.

:func:`report` runs :func:`mixfit.select` on data, or takes a selection or a
fitted Gaussian mixture, and writes one self-contained HTML page
(:class:`mixfit.reporting.page.Page`) with the models compared, the chosen one
and why, the clusters in the data's own column names, how sure each row's
assignment is, each cluster's size, weight, means, standard deviations and
correlations, how the fit converged, and where the time went. The sections
themselves are in :mod:`mixfit.reporting.sections`.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mixfit.reporting import sections
from mixfit.reporting.page import Page

__all__ = ["Written", "report", "write_report"]

#: The options that choose a model: they apply to data only.
SELECTION_OPTIONS = ("n_components", "covariance_types", "criterion", "random_state")
#: Their values when not given (as :func:`mixfit.select`'s, with a fixed seed).
SELECTION_DEFAULTS = {"n_components": range(1, 10), "covariance_types": "mclust",
                      "criterion": "bic", "random_state": 0}

_ACCEPTED = ("data (an array or DataFrame), a mixfit.Selection, an AutoGaussianMixture, "
             "or a fitted GaussianMixture (mixfit's or scikit-learn's)")


def report(data, out, *, X=None, n_components=None, covariance_types=None, criterion=None,
           random_state=None, columns=None, force=False, source=None):
    """Write a page about a Gaussian mixture, ``out/index.html``: chosen for data, or given.

    Given data, the mixture is chosen by :func:`mixfit.select` and the page has
    the selection (the criterion of every model against K, the top models, the
    chosen one and its margin over the runners-up), the clusters (scatter plots
    with the components' ellipses: every pair of columns up to 4 columns, else
    the first two principal components; a histogram with the fitted densities
    for one column), the uncertainty of each row's cluster, each cluster's
    size, weight, means, standard deviations and correlations, the convergence
    of the chosen fit, and the time each step took. Given a selection or a
    fitted mixture, nothing is fitted: the page describes it, on the data
    ``X`` when given. Figures are PNG files beside index.html; the page loads
    nothing from the network.

    Rows with a missing value (NaN) are dropped before anything else; the
    page says how many and lists them (up to 20, with the columns they miss).

    Parameters
    ----------
    data : array-like of shape (n_samples, n_features), Selection, or fitted estimator
        Data (finite numbers or NaN; a pandas DataFrame gives its column names)
        to choose a mixture for; or the result of :func:`mixfit.select` (its
        selection is shown, no refit); or a fitted ``AutoGaussianMixture``
        (its selection); or a fitted ``mixfit.GaussianMixture`` (any
        covariance type, mclust's names included) or scikit-learn's
        ``GaussianMixture``.
    out : path-like
        The folder to write; it must not exist unless ``force``.
    X : array-like of shape (n_samples, n_features), optional
        With a selection or a fitted mixture only: the data to show it on (the
        rows in the cluster plots, the uncertainty of each row, the clusters'
        sizes). Without it the page shows what the model alone gives (the
        components' ellipses, weights, means, standard deviations,
        correlations and convergence) and says which sections need the data.
    n_components, covariance_types, criterion, random_state
        With data only, as :func:`mixfit.select` (defaults: ``range(1, 10)``,
        "mclust", "bic", 0). Given with a selection or a fitted mixture they
        are refused: nothing is selected then.
    columns : list of str, optional
        Names of the columns, for the axes and tables (default: a DataFrame's
        names, else the model's ``feature_names_in_``, else "x1", "x2", ...).
    force : bool, default=False
        Write into an existing folder: only ``index.html`` and the page's
        ``figure-NN.png`` files are replaced; no other file is touched.
    source : str, optional
        Where the data came from (a file name), shown in the data summary.

    Returns
    -------
    Selection or estimator
        The selection the page describes (``.best_`` is the chosen mixture)
        when given data or a selection (an AutoGaussianMixture's
        ``selection_``); the fitted mixture itself when given one.

    Raises
    ------
    FileExistsError
        ``out`` exists and ``force`` is False, or ``out`` is a file.
    TypeError
        ``data`` is another estimator (K-means, a Student-t mixture, ...).
    sklearn.exceptions.NotFittedError
        ``data`` is an estimator that is not fitted.
    ValueError
        Bad data (as :func:`mixfit.select`; infinite values are refused, not
        dropped), every row with a missing value, a column with a single value
        (when selecting), names that do not match the columns, ``X`` with data,
        selection options with a selection or model, or ``X`` whose number of
        columns differs from the model's.

    Examples
    --------
    >>> selection = mixfit.report(X, "page")                      # doctest: +SKIP
    >>> model = mixfit.GaussianMixture(3, covariance_type="VEV").fit(X)  # doctest: +SKIP
    >>> mixfit.report(model, "model-page", X=X)                   # doctest: +SKIP
    >>> mixfit.report(model, "parameters-only")                   # doctest: +SKIP
    """
    options = {"n_components": n_components, "covariance_types": covariance_types,
               "criterion": criterion, "random_state": random_state}
    return write_report(data, out, X=X, columns=columns, force=force, source=source,
                        **options).result


@dataclass
class Written:
    """What :func:`write_report` wrote: the result, the rows dropped and the times.

    Attributes
    ----------
    result : Selection or estimator
        What :func:`report` returns.
    model : estimator
        The mixture the page describes.
    path : Path
        The page, ``out/index.html``.
    n_rows : int
        Rows of the data as given (0 without data).
    dropped : ndarray of int
        Indices (from 0) of the rows dropped for a missing value.
    missing_in : list of str
        The columns in which those rows miss a value.
    n_fits : int or None
        Fits the selection ran (None when none ran).
    seconds : dict of str to float
        Wall-clock seconds of each step, in order: "selection" (when run),
        each section's name (drawing its figures included) and "writing".
    """

    result: object
    model: object
    path: Path
    n_rows: int = 0
    dropped: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    missing_in: list = field(default_factory=list)
    n_fits: int | None = None
    seconds: dict = field(default_factory=dict)

    def time_line(self, writing=True, detail=False):
        """Where the time went, in one line: "selection 4.1 s (84 fits), figures ..."."""
        return time_line(self.seconds, self.n_fits, writing=writing, detail=detail)


def time_line(seconds, n_fits, writing=True, detail=False):
    """The times of :attr:`Written.seconds` in one line ("writing" left out if asked).

    For example "selection 4.1 s (84 fits), figures and tables 1.2 s, writing
    0.01 s"; ``detail`` adds each section's seconds in parentheses.
    """
    parts = []
    if "selection" in seconds:
        parts.append(f"selection {_seconds(seconds['selection'])} s ({n_fits} fits)")
    drawn = {name: value for name, value in seconds.items()
             if name not in ("selection", "writing")}
    if drawn:
        parts.append(f"figures and tables {_seconds(sum(drawn.values()))} s" + (
            " (" + ", ".join(f"{name} {_seconds(value)}" for name, value in drawn.items())
            + ")" if detail else ""))
    if writing and "writing" in seconds:
        parts.append(f"writing {_seconds(seconds['writing'])} s")
    return ", ".join(parts)


def _seconds(value):
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def write_report(data, out, *, X=None, columns=None, force=False, source=None, **options):
    """:func:`report`, returning a :class:`Written` (the page's rows dropped and times).

    The command line uses it to print what the page says about dropped rows
    and time; the parameters are :func:`report`'s.
    """
    out = Path(out)
    _check_out(out, force)
    selection, model, given = _resolve(data, X, options)
    values = data if selection is None and model is None else X
    expected = None if model is None else model.n_features_in_
    # The names a fit on a DataFrame kept (an AutoGaussianMixture keeps them itself).
    owners = () if model is None else (model, data)
    fitted_names = next((owner.feature_names_in_ for owner in owners
                         if getattr(owner, "feature_names_in_", None) is not None), None)
    prepared = None if values is None else _prepare(values, columns, fitted_names, expected)
    names = prepared.names if prepared else _column_names(None, columns, fitted_names,
                                                          model.n_features_in_)
    seconds, n_fits = {}, None
    if selection is None and model is None:  # data: choose the model
        from mixfit.selection import select

        _refuse_constant_columns(prepared.X, names)
        chosen = {key: SELECTION_DEFAULTS[key] if value is None else value
                  for key, value in options.items()}
        with _timed(seconds, "selection"):
            selection = select(prepared.X, **chosen)
        given, n_fits = selection, len(selection.results)
    if model is None:
        model = selection.best_
    content = sections.Content(
        X=prepared.X if prepared else None, names=names, model=model, selection=selection,
        source=source, n_rows=prepared.n_rows if prepared else 0,
        dropped=prepared.dropped if prepared else np.zeros(0, dtype=np.intp),
        dropped_columns=prepared.dropped_columns if prepared else [])
    page = Page(("Gaussian mixture report" if given is selection else
                 f"Report of a fitted {type(model).__name__}")
                + (f": {source}" if source else "")).nav()  # links to every section
    with tempfile.TemporaryDirectory(prefix="mixfit-report-") as folder:
        content.folder = folder
        if content.X is not None:
            with _timed(seconds, "posteriors"):
                content.resp = _posteriors(model, content.X)
                content.labels = content.resp.argmax(axis=1)
        steps = [("data", sections.data_summary)]
        if selection is not None:
            steps.append(("selection plot", sections.selection_summary))
        steps.append(("clusters", sections.clusters))
        if content.X is not None:
            steps.append(("uncertainty", sections.uncertainty))
        steps += [("per cluster", sections.per_cluster), ("convergence", sections.convergence)]
        for name, add_section in steps:
            with _timed(seconds, name):
                add_section(page, content)
        line = time_line(seconds, n_fits, writing=False, detail=True)
        page.section("Where the time went", line[0].upper() + line[1:] + " (seconds; a "
                     "section's time includes drawing and saving its figures). Then this "
                     "page was written, which the command line reports too.")
        _check_out(out, force)  # again: the folder may have appeared while the fits ran
        with _timed(seconds, "writing"):
            path = page.write(out)
    return Written(result=given, model=model, path=path, n_rows=content.n_rows,
                   dropped=content.dropped,
                   missing_in=prepared.missing_in if prepared else [],
                   n_fits=n_fits, seconds=seconds)


@contextmanager
def _timed(seconds, name):
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start


def _resolve(data, X, options):
    """``(selection, model, result)`` from report's first argument; None, None, None for data."""
    from sklearn.base import BaseEstimator
    from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

    from mixfit.estimators.auto_gaussian_mixture import AutoGaussianMixture
    from mixfit.estimators.gaussian_mixture import GaussianMixture
    from mixfit.selection import Selection

    if not isinstance(data, (Selection, BaseEstimator)):
        if X is not None:
            raise ValueError("X= goes with a selection or a fitted mixture; the first "
                             "argument is already data: pass the data once")
        return None, None, None
    what = type(data).__name__
    given = [name for name, value in options.items() if value is not None]
    if given:
        raise ValueError(f"{', '.join(given)} choose a model for data, but a {what} was "
                         "given and nothing is selected: drop them, or pass the data to "
                         "run the selection")
    if isinstance(data, Selection):
        return data, data.best_, data
    if not isinstance(data, (AutoGaussianMixture, GaussianMixture, SklearnGaussianMixture)):
        raise TypeError(f"mixfit.report describes Gaussian mixtures; got a {what}. It "
                        f"accepts {_ACCEPTED}")
    fitted = ("selection_" if isinstance(data, AutoGaussianMixture) else "means_")
    if not hasattr(data, fitted):
        from sklearn.exceptions import NotFittedError

        raise NotFittedError(f"this {what} is not fitted: call its fit(X) first, or pass "
                             "the data itself to mixfit.report to choose a model")
    if isinstance(data, AutoGaussianMixture):
        return data.selection_, data.selection_.best_, data.selection_
    return None, data, data


@dataclass
class _Prepared:
    X: np.ndarray
    names: list
    n_rows: int
    dropped: np.ndarray
    dropped_columns: list  # per dropped row, the columns it misses
    missing_in: list  # the columns with any missing value


def _prepare(values, columns, fitted_names, expected):
    """The data as float64 rows × columns, checked, rows with NaN dropped (and recorded)."""
    from mixfit.estimators._data_checks import check_finite

    n_features = 1 if np.ndim(values) == 1 else (np.shape(values)[1]
                                                 if np.ndim(values) == 2 else None)
    names = _column_names(values, columns, fitted_names, n_features)
    X = np.asarray(values, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"X must be a table (rows × columns), got an array of shape {X.shape}")
    if expected is not None and X.shape[1] != expected:
        raise ValueError(f"the model was fitted on {expected} columns but X has "
                         f"{X.shape[1]}; give the data the model describes")
    if len(names) != X.shape[1]:
        raise ValueError(f"columns gives {len(names)} names for {X.shape[1]} columns of X")
    # Infinite values are refused as everywhere in mixfit; NaN cells are missing values.
    check_finite(X, name="X", names=names, allow_nan=True)
    missing = np.isnan(X)
    incomplete = missing.any(axis=1)
    dropped = np.flatnonzero(incomplete)
    if len(dropped) and len(dropped) == X.shape[0]:
        raise ValueError(f"every one of the {X.shape[0]} rows of X has a missing value "
                         "(NaN), so no row is left once they are dropped; fill them in, or "
                         "leave out the columns that are mostly empty (--columns)")
    rows_missing = [[names[j] for j in np.flatnonzero(missing[i])]
                    for i in dropped[:sections.MAX_DROPPED_LISTED]]
    missing_in = [names[j] for j in np.flatnonzero(missing.any(axis=0))]
    return _Prepared(X[~incomplete] if len(dropped) else X, names, X.shape[0], dropped,
                     rows_missing, missing_in)


def _posteriors(model, X):
    # X is a plain array; a model fitted on a DataFrame would warn that its names
    # are missing, which says nothing here (the names are on the page).
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return np.asarray(model.predict_proba(X), dtype=np.float64)


def _check_out(out, force):
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"the output '{out}' is a file, not a folder; give a folder "
                              "name for the report")
    if out.exists() and not force:
        raise FileExistsError(f"the output folder '{out}' exists; give another folder, or "
                              "force (--force) to replace its index.html and figure files "
                              "(other files are kept)")


def _column_names(X, columns, fitted_names, n_features):
    if columns is not None:
        return [str(name) for name in columns]
    if hasattr(X, "columns"):  # a DataFrame
        return [str(name) for name in X.columns]
    if fitted_names is not None and len(fitted_names) == n_features:
        return [str(name) for name in fitted_names]
    return [f"x{j + 1}" for j in range(n_features or 0)]


def _refuse_constant_columns(X, names):
    # A column with one value has no variance: every covariance model is singular
    # along it and every cell would fail with a less helpful message.
    constant = [name for name, column in zip(names, X.T) if X.shape[0] and
                np.all(column == column[0])]
    if constant:
        listed = ", ".join(repr(name) for name in constant)
        raise ValueError(f"column(s) {listed} hold a single value in every row, which "
                         "cannot be clustered; leave them out (--columns)")


