"""The columns the command line fits a model on, and finds again by name to predict.

``mixfit fit`` keeps the names of the columns it fitted on in the model, as
scikit-learn does (``feature_names_in_``), and, for data without column names
fitted with ``--columns``, the 0-based indices it selected (``_column_indices``).
``mixfit predict`` then takes the model's columns from the data file by name, in
the model's order, whatever order the file holds them in (extra columns are
ignored); it refuses a file that lacks any of them, naming each. Only data
without names (a text file without a header row, a plain ``.npy``) is taken by
position, and a note on standard error says so when the model or the file had
names to match, or the fit's index selection is applied.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

#: Names listed in full by ``mixfit info``; beyond, the first ones and the count.
MAX_LISTED_NAMES = 20


def remember_columns(estimator, names, columns):
    """Store in a fitted estimator which columns of its data file it was fitted on.

    Parameters
    ----------
    estimator : GaussianMixture or KMeans
        Fitted on the columns read; set after fitting, because fitting on an
        ndarray drops ``feature_names_in_``.
    names : list of str or None
        Names of the columns read, as ``read_data`` returns them.
    columns : str or None
        The ``--columns`` selection; for data without names it is stored as
        0-based indices (``read_data`` has accepted only those then).
    """
    if names is not None:
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
    elif columns is not None:
        estimator._column_indices = [int(item) for item in columns.split(",")]


def read_for_model(model, args, prog, read=None):
    """The rows of ``args.data`` as the model's features, matched by column name.

    Parameters
    ----------
    model : GaussianMixture or KMeans
        A loaded model. Its ``feature_names_in_`` is dropped from this
        in-memory copy once the columns have been matched: scikit-learn would
        otherwise warn that the ndarray handed to ``predict`` has no names.
    args : argparse.Namespace
        ``data``, ``columns``, ``key``, ``delimiter``, ``header`` and
        ``decimal_comma`` of ``mixfit predict``.
    prog : str
        The command's name, which starts the note line.
    read : callable, optional
        Reads the file as :func:`mixfit.io.data_files.read_data` does (the
        default); ``--scheduler`` passes one that returns a Dask array, whose
        NaN and infinite values it has refused already.

    Returns
    -------
    X : ndarray (or Dask array, from ``read``) of shape (n_samples, model.n_features_in_)

    Raises
    ------
    ValueError
        When the file lacks a column the model was fitted on (all such are
        named), when ``--columns`` selects other columns than the model's, or
        when the number of columns does not match.
    """
    from mixfit.cli.training import CLI_NAN_ADVICE
    from mixfit.estimators._data_checks import check_finite
    from mixfit.io.data_files import read_data

    read_data = read or read_data
    fitted_names = getattr(model, "feature_names_in_", None)
    fitted_names = None if fitted_names is None else [str(name) for name in fitted_names]
    fitted_indices = _fitted_indices(model)
    n_features = int(model.n_features_in_)
    notes = []

    def choose(names, n_columns):
        if fitted_names is not None and names is not None:
            return _by_name(fitted_names, names, args.data)
        indices = list(range(n_columns))
        if fitted_indices is not None and max(fitted_indices) < n_columns:
            indices = fitted_indices
            notes.append(f"columns {_listed(indices)} of '{args.data}' are taken by "
                         "position, as selected by --columns at fit")
        elif fitted_indices is not None:
            notes.append(f"'{args.data}' has {n_columns} column(s), too few for the fit's "
                         f"--columns {_listed(fitted_indices)}; they are taken as the "
                         "model's features, by position")
        elif fitted_names is not None:
            notes.append(f"'{args.data}' has no {_what_names(args.data)}; its columns are "
                         "taken by position")
        elif names is not None:
            notes.append(f"the model was fitted on data without column names; the columns "
                         f"of '{args.data}' are taken by position")
        _check_count(len(indices), n_features, fitted_names, args.data)
        return indices

    options = {"key": args.key, "delimiter": args.delimiter, "header": args.header,
               "decimal_comma": args.decimal_comma}
    if args.columns is None:
        X, _ = read_data(args.data, columns=choose, **options)
    else:
        X = _read_selected(read_data, args, options, fitted_names, n_features)
    if fitted_names is not None:
        # Matched here; an ndarray has no names for scikit-learn to compare.
        del model.feature_names_in_
    # Before the note (which an error must not follow), by the model's column names:
    # X holds the model's columns in its order.
    if read is None:  # a --scheduler reader counts them on the workers itself
        # A mixture predicts rows with missing cells from their observed values.
        check_finite(X, name=f"'{args.data}'", names=fitted_names,
                     allow_nan=type(model).__name__ == "GaussianMixture",
                     advice=CLI_NAN_ADVICE)
    if notes:
        print(f"{prog}: note: {notes[0]}", file=sys.stderr)
    return X


def _read_selected(read_data, args, options, fitted_names, n_features):
    """The columns ``--columns`` selects, put in the model's order by their names."""
    X, names = read_data(args.data, columns=args.columns, **options)
    _check_count(X.shape[1], n_features, fitted_names, args.data)
    if fitted_names is not None and names is not None:
        if sorted(names) != sorted(fitted_names):
            raise ValueError(
                f"--columns selects {_listed(names)}, but the model was fitted on "
                f"{_listed(fitted_names)}; select those columns (in any order), or drop "
                "--columns to find them by name")
        position = {name: i for i, name in enumerate(names)}
        X = X[:, [position[name] for name in fitted_names]]
        # A Dask array stays lazy (np.ascontiguousarray would compute it here).
        X = np.ascontiguousarray(X) if isinstance(X, np.ndarray) else X
    return X


def _by_name(fitted_names, names, path):
    position = {}
    for i, name in enumerate(names):
        position.setdefault(name, i)
    missing = [name for name in fitted_names if name not in position]
    if missing:
        raise ValueError(
            f"'{path}' lacks the column(s) {_listed(missing, quote=True)} that the model was "
            f"fitted on; its columns are {_listed(names, quote=True)}; give the file "
            "those columns, named in its header (any order)")
    return [position[name] for name in fitted_names]


def _check_count(given, n_features, fitted_names, path):
    if given != n_features:
        named = "" if fitted_names is None else f" ({_listed(fitted_names)})"
        raise ValueError(
            f"the model was fitted on {n_features} feature(s){named}, but '{path}' gives "
            f"{given}; pass the same columns as for the fit (--columns)")


def _fitted_indices(model):
    """The fit's ``--columns`` indices, checked, or None."""
    indices = getattr(model, "_column_indices", None)
    if indices is None:
        return None
    values = [float(item) for item in indices]
    if len(values) != model.n_features_in_ or not all(
            value.is_integer() and value >= 0 for value in values):
        raise ValueError(f"the model file is damaged: _column_indices must list "
                         f"{model.n_features_in_} 0-based column indices, got {indices!r}")
    return [int(value) for value in values]


def _what_names(path):
    from mixfit.io.data_files import _file_kind

    return "header row" if _file_kind(Path(path)) == "text" else "column names"


def _listed(items, quote=False, limit=MAX_LISTED_NAMES):
    shown = [repr(item) if quote else str(item) for item in items[:limit]]
    more = f", ... ({len(items)} in all)" if len(items) > limit else ""
    return ", ".join(shown) + more


def describe_columns(model):
    """``{"columns": names or None, "column_indices": indices or None}`` of a model."""
    names = getattr(model, "feature_names_in_", None)
    return {"columns": None if names is None else [str(name) for name in names],
            "column_indices": _fitted_indices(model)}


def columns_line(document):
    """The ``columns`` line of ``mixfit info``, from :func:`describe_columns`' keys."""
    if document["columns"] is not None:
        return _listed(document["columns"])
    if document["column_indices"] is not None:
        return (f"{_listed(document['column_indices'])} by position (fitted on data "
                "without column names)")
    return "by position (fitted on data without column names)"
