"""The ``mixfit`` command line: ``fit``, ``predict``, ``info`` and ``demo``.

Exit codes: 0 on success; 2 for bad usage or bad input (a missing file, data
that cannot be read or fitted, a damaged model file), reported as one line
``mixfit <command>: <message>`` on standard error; 1 for an unexpected
failure, reported as one line too, with the traceback only under ``--debug``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import sys
import time
import traceback
import warnings
from pathlib import Path

from . import __version__

#: A fit draws its progress line only once it has run this long (seconds), so
#: that quick fits print nothing extra.
PROGRESS_DELAY = 1.0
#: Least time between two redraws of the progress line (seconds).
PROGRESS_INTERVAL = 0.1
#: Parameters are listed in full only up to this many numbers (K·d); beyond,
#: summaries give their shapes.
MAX_LISTED_VALUES = 1000

# What users cause and can fix: exit 2 with one line. mixfit.io.ModelFileError
# and sklearn's NotFittedError are ValueErrors, so they are among them.
_INPUT_ERRORS = (ValueError, TypeError, FileNotFoundError, IsADirectoryError,
                 NotADirectoryError, PermissionError)


class UsageError(Exception):
    """Bad command-line usage: reported as one line, exit code 2."""

    def __init__(self, message, prog=None):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    # argparse prints the usage and exits; the command reports one line instead.
    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')", prog=self.prog)


def _int_at_least(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a whole number >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}, got {value}")
        return value

    return parse


# --------------------------------------------------------------------------- #
# The parser
# --------------------------------------------------------------------------- #


def build_parser():
    """The ``mixfit`` argument parser with its subcommands."""
    parser = _Parser(prog="mixfit", description="K-means and mixture models fitted by EM.")
    parser.add_argument("--version", action="version", version=f"mixfit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_demo(commands)

    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true",
                        help="show the traceback of an error")
    data = _Parser(add_help=False)
    data.add_argument("--columns", metavar="COLS",
                      help="columns to use, by header name or 0-based index: a,b,c or 0,2")
    data.add_argument("--key", help="array of an .npz archive (needed if it holds several)")
    data.add_argument("--delimiter", metavar="CHAR",
                      help="delimiter of a text file (detected by default)")
    data.add_argument("--header", action=argparse.BooleanOptionalAction, default=None,
                      help="whether a text file's first row names the columns "
                      "(detected by default)")

    fit = commands.add_parser(
        "fit", parents=[data, common], help="fit a model to a data file",
        description="Fit a Gaussian mixture or K-means to DATA: CSV/TSV/whitespace text, "
        ".npy, .npz or IDX. One-dimensional arrays are one feature; IDX images are "
        "flattened to one feature per pixel.")
    fit.add_argument("data", metavar="DATA", help="the data file")
    fit.add_argument("--model", choices=("gmm", "kmeans"), default="gmm",
                     help="Gaussian mixture (default) or K-means")
    fit.add_argument("-k", "--n-components", type=_int_at_least(1), default=2, metavar="K",
                     help="number of components or clusters (default 2)")
    fit.add_argument("--covariance", choices=("identity", "spherical", "diag", "tied", "full"),
                     help="covariance structure of a gmm (default full)")
    fit.add_argument("--n-init", type=_int_at_least(1), metavar="N",
                     help="initialisations to run, keeping the best (default 1)")
    fit.add_argument("--max-iter", type=_int_at_least(1), metavar="N",
                     help="iterations per initialisation (default 100 gmm, 300 kmeans)")
    # The estimators check the value (>= 0, finite) and say what is wrong.
    fit.add_argument("--tol", type=float, metavar="T",
                     help="convergence tolerance (default 1e-3 gmm, 1e-4 kmeans)")
    fit.add_argument("--seed", type=_int_at_least(0), default=0, metavar="S",
                     help="random seed, for reproducible fits (default 0)")
    fit.add_argument("--out", metavar="MODEL", help="save the fitted model to this file")
    fit.add_argument("--labels", metavar="FILE",
                     help="write each row's label to this CSV file (column 'label')")
    fit.add_argument("--json", action="store_true",
                     help="print a JSON document instead of the summary")
    fit.add_argument("-q", "--quiet", action="store_true",
                     help="no progress line and no summary (--json still prints)")
    fit.set_defaults(handler=_fit)

    predict = commands.add_parser(
        "predict", parents=[data, common], help="label new data with a saved model",
        description="Write the label (or with --proba the posterior probabilities) of "
        "each row of DATA as CSV.")
    predict.add_argument("model", metavar="MODEL", help="a model file written by 'mixfit fit'")
    predict.add_argument("data", metavar="DATA", help="the data file")
    predict.add_argument("--proba", action="store_true",
                         help="posterior probabilities p0..p{K-1} (mixtures only)")
    predict.add_argument("--out", metavar="FILE", help="CSV file to write (default: stdout)")
    predict.add_argument("-q", "--quiet", action="store_true",
                         help="no message about the file written")
    predict.set_defaults(handler=_predict)

    info = commands.add_parser(
        "info", parents=[common], help="describe a saved model",
        description="What a model file holds: the model, how it was fitted, its parameters.")
    info.add_argument("model", metavar="MODEL", help="a model file written by 'mixfit fit'")
    info.add_argument("--json", action="store_true", help="print a JSON document")
    info.set_defaults(handler=_info)
    return parser


def _add_demo(commands):
    demo = commands.add_parser(
        "demo",
        help="run the lecture's experiments and write their figures and a web page",
        description="Reproduce the lecture: K-means, EM on Gaussian mixtures, the "
        "digits experiment and the EM animation, as PNGs, a GIF and index.html.",
    )
    demo.add_argument("--out", default="mixfit-demo", metavar="DIR",
                      help="folder for the figures and index.html (default: mixfit-demo)")
    demo.add_argument("--mnist", metavar="DIR", default=None,
                      help="folder with the MNIST IDX files: run the digits experiment "
                      "on MNIST instead of scikit-learn's 8x8 digits")
    demo.add_argument("--quick", action="store_true",
                      help="smaller digits experiment and images (for tests)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.set_defaults(handler=_demo)


def _demo(args):
    from . import demo

    try:
        demo.run(args.out, mnist=args.mnist, quick=args.quick, random_state=args.seed)
    except (FileNotFoundError, ValueError) as error:
        print(f"mixfit demo: {error}", file=sys.stderr)
        return 2
    return 0


# --------------------------------------------------------------------------- #
# Entry point and error reporting
# --------------------------------------------------------------------------- #


def main(argv=None):
    """Entry point of the ``mixfit`` console script; returns the exit code.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        0 on success, 2 for bad usage or input, 1 for an unexpected failure.
    """
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            prog = f"mixfit {args.command}" if getattr(args, "command", None) else "mixfit"
            raise UsageError(f"unrecognized arguments: {' '.join(extra)} (see '{prog} --help')",
                             prog=prog)
    except UsageError as error:
        print(f"{error.prog or 'mixfit'}: {error}", file=sys.stderr)
        return 2
    except SystemExit as stop:  # --help and --version
        return stop.code if isinstance(stop.code, int) else 0
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return 2
    prog = f"mixfit {args.command}"
    debug = getattr(args, "debug", False)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout stopped early (`| head`): not an error worth a
        # message, but the exit flush must not raise again.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (UsageError, *_INPUT_ERRORS) as error:
        if debug:
            traceback.print_exc()
        print(f"{prog}: {_one_line(error)}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 -- the last resort is the point
        if debug:
            traceback.print_exc()
        hint = "" if debug else "; run again with --debug for the traceback"
        print(f"{prog}: unexpected error: {type(error).__name__}: {_one_line(error)}{hint}",
              file=sys.stderr)
        return 1


def _one_line(error):
    if isinstance(error, OSError) and error.filename and error.strerror:
        text = f"{error.strerror}: '{error.filename}'"
    else:
        text = str(error) or type(error).__name__
    return re.sub(r"\s*\n\s*", " ", text).strip()


# --------------------------------------------------------------------------- #
# fit
# --------------------------------------------------------------------------- #


def _fit(args):
    from .data_files import read_data, write_csv

    _check_outputs(("--out", args.out), ("--labels", args.labels))
    estimator = _make_estimator(args)
    X, names = read_data(args.data, columns=args.columns, key=args.key,
                         delimiter=args.delimiter, header=args.header)
    progress = _Progress("log-likelihood" if args.model == "gmm" else "inertia",
                         enabled=not args.quiet and _stderr_is_terminal())
    estimator.set_params(callback=progress if progress.enabled else None)
    with _convergence_warnings(f"mixfit {args.command}"):
        start = time.perf_counter()
        try:
            estimator.fit(X)
        finally:
            progress.close()
        seconds = time.perf_counter() - start
    # A callback is not a parameter worth saving (nor one a model file can hold).
    estimator.set_params(callback=None)

    document = _fit_document(estimator, X, names, seconds)
    labels = estimator.predict(X) if args.labels else None
    # Files are written only now, after everything that could fail on the input.
    if args.out:
        from . import io as model_io

        model_io.save(estimator, args.out)  # atomic too
        document["model_path"] = str(args.out)
    if args.labels:
        write_csv(args.labels, ["label"], labels[:, None])
    if args.json:
        print(json.dumps(_jsonable(document), indent=2))
    elif not args.quiet:
        print(_fit_summary(document, args))
    return 0


def _make_estimator(args):
    from . import GaussianMixture, KMeans

    options = {"n_init": args.n_init, "max_iter": args.max_iter, "tol": args.tol}
    options = {name: value for name, value in options.items() if value is not None}
    if args.model == "kmeans":
        if args.covariance is not None:
            raise UsageError("--covariance applies to --model gmm only; K-means has no "
                             "covariances (drop the option or use --model gmm)")
        return KMeans(n_clusters=args.n_components, random_state=args.seed, **options)
    return GaussianMixture(n_components=args.n_components, random_state=args.seed,
                           covariance_type=args.covariance or "full", **options)


def _fit_document(estimator, X, names, seconds):
    document = _model_header(estimator)
    document.update(n_samples=X.shape[0], n_features=X.shape[1], columns=names,
                    parameters=_parameter_summary(estimator), n_iter=int(estimator.n_iter_),
                    converged=bool(estimator.converged_))
    if document["model"] == "gmm":
        document.update(log_likelihood=estimator.score(X), bic=estimator.bic(X),
                        aic=estimator.aic(X))
    else:
        document["inertia"] = estimator.inertia_
    document.update(time_seconds=round(seconds, 4), model_path=None)
    return document


def _fit_summary(document, args):
    kind = document["model"]
    model = f"{kind}, K={document['n_components']}"
    if kind == "gmm":
        model += f", covariance {document['covariance_type']}"
    data = f"{args.data}: {document['n_samples']} samples x {document['n_features']} features"
    names = document["columns"]
    if names:
        data += f" ({', '.join(names[:8])}{', ...' if len(names) > 8 else ''})"
    rows = [("model", model), ("data", data),
            ("iterations", f"{document['n_iter']}, {_CONVERGED[document['converged']]}")]
    if kind == "gmm":
        rows += [("log-likelihood", f"{document['log_likelihood']:.6g} per sample"),
                 ("BIC, AIC", f"{document['bic']:.6g}, {document['aic']:.6g}")]
    else:
        rows.append(("inertia", f"{document['inertia']:.6g}"))
    rows.append(("time", f"{document['time_seconds']:.3g} s"))
    rows.append(("model file", document["model_path"] or "not saved (use --out MODEL)"))
    if args.labels:
        rows.append(("labels", str(args.labels)))
    return _table(rows)


# --------------------------------------------------------------------------- #
# predict and info
# --------------------------------------------------------------------------- #


def _predict(args):
    from .data_files import read_data, write_csv

    _check_outputs(("--out", args.out))
    model = _load_model(args.model)
    if args.proba and not hasattr(model, "predict_proba"):
        raise UsageError(f"--proba needs a mixture model, but '{args.model}' holds a "
                         f"{type(model).__name__}, which gives labels only; drop --proba")
    X, _ = read_data(args.data, columns=args.columns, key=args.key,
                     delimiter=args.delimiter, header=args.header)
    expected = getattr(model, "n_features_in_", None)
    if expected is not None and X.shape[1] != expected:
        raise ValueError(
            f"the model was fitted on {expected} feature(s), but '{args.data}' gives "
            f"{X.shape[1]}; pass the same columns as for the fit (--columns)")
    if args.proba:
        values = model.predict_proba(X)
        header = [f"p{k}" for k in range(values.shape[1])]
    else:
        values = model.predict(X)[:, None]
        header = ["label"]
    write_csv(sys.stdout if args.out is None else args.out, header, values)
    if args.out is not None and not args.quiet:
        what = "probabilities" if args.proba else "labels"
        print(f"wrote the {what} of {len(values)} rows to {args.out}")
    return 0


def _load_model(path):
    from . import io as model_io

    if not os.path.exists(path):
        raise FileNotFoundError(f"model file '{path}' does not exist; write one with "
                                "'mixfit fit DATA --out MODEL'")
    return model_io.load(path)


def _info(args):
    from sklearn.utils.validation import check_is_fitted

    model = _load_model(args.model)
    check_is_fitted(model)
    document = {"class": type(model).__name__, **_model_header(model),
                "n_features": int(model.n_features_in_), "dtype": str(_centers(model).dtype),
                "n_iter": int(model.n_iter_), "converged": bool(model.converged_)}
    for attribute, key in (("lower_bound_", "lower_bound"), ("inertia_", "inertia")):
        if hasattr(model, attribute):
            document[key] = getattr(model, attribute)
    document.update(non_default_parameters=_changed_parameters(model),
                    parameters=_parameter_summary(model), model_path=str(args.model))
    if args.json:
        print(json.dumps(_jsonable(document), indent=2))
        return 0
    described = document["class"]
    if document["model"] == "gmm":
        described += f", covariance {document['covariance_type']}"
    fitted = f"{document['n_iter']} iterations, {_CONVERGED[document['converged']]}"
    if "lower_bound" in document:
        fitted += f", log-likelihood {document['lower_bound']:.6g} per sample"
    if "inertia" in document:
        fitted += f", inertia {document['inertia']:.6g}"
    changed = _jsonable(document["non_default_parameters"])
    rows = [("model", described),
            ("size", f"K={document['n_components']}, d={document['n_features']}, "
                     f"{document['dtype']}"),
            ("fit", fitted),
            ("settings", ", ".join(f"{k}={v!r}" for k, v in changed.items()) or "defaults")]
    for name, value in document["parameters"].items():
        if name != "shapes":
            rows.append((name, value if name == "note" else _format_numbers(value)))
    print(_table(rows))
    return 0


def _table(rows):
    return "\n".join(f"{name:<15} {value}" for name, value in rows)


# --------------------------------------------------------------------------- #
# Describing a model
# --------------------------------------------------------------------------- #

_CONVERGED = {True: "converged", False: "NOT converged"}


def _model_header(model):
    """model ("gmm", "kmeans"), n_components and, for mixtures, covariance_type."""
    name = type(model).__name__
    header = {"model": {"GaussianMixture": "gmm", "KMeans": "kmeans"}.get(name, name),
              "n_components": int(getattr(model, "n_components", getattr(model, "n_clusters", 0)))}
    if hasattr(model, "covariance_type"):
        header["covariance_type"] = model.covariance_type
    return header


def _centers(model):
    return model.means_ if hasattr(model, "means_") else model.cluster_centers_


def _parameter_summary(model):
    centers = _centers(model)
    n_components, n_features = centers.shape
    center_name = "means" if hasattr(model, "means_") else "cluster_centers"
    arrays = {}
    if hasattr(model, "weights_"):
        arrays["weights"] = model.weights_
    arrays[center_name] = centers
    if n_components * n_features <= MAX_LISTED_VALUES:
        return {name: value.tolist() for name, value in arrays.items()}
    return {
        "shapes": {name: list(value.shape) for name, value in arrays.items()},
        "note": f"K*d = {n_components * n_features} exceeds {MAX_LISTED_VALUES}: shapes "
        "only; load the model file with mixfit.io.load for the values",
    }


def _changed_parameters(model):
    defaults = type(model)().get_params()
    changed = {}
    for name, value in model.get_params().items():
        default = defaults.get(name)
        if name == "callback" or value is default:
            continue
        try:
            same = bool(value == default)
        except (TypeError, ValueError):  # arrays compare element-wise
            same = False
        if not same:
            changed[name] = value
    return changed


def _format_numbers(value):
    if isinstance(value, list):
        return "[" + ", ".join(_format_numbers(item) for item in value) + "]"
    return f"{value:.4g}"


def _jsonable(value):
    """``value`` with numpy types made plain and non-finite floats made null."""
    import numpy as np

    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        if value.size > MAX_LISTED_VALUES:
            return f"array of shape {list(value.shape)}"
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


# --------------------------------------------------------------------------- #
# Progress and warnings
# --------------------------------------------------------------------------- #


def _stderr_is_terminal():
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


class _Progress:
    """The estimators' ``callback``: one line on stderr, redrawn in place.

    Nothing is drawn before :data:`PROGRESS_DELAY` seconds, so quick fits stay
    silent; :meth:`close` ends a drawn line with a newline.
    """

    def __init__(self, quantity, enabled):
        self.quantity = quantity
        self.enabled = enabled
        self._start = time.monotonic()
        self._drawn_at = None
        self._width = 0
        self._run = 1
        self._iteration = 0
        self._value = self._change = None
        self._pending = False

    def __call__(self, iteration, _params, value):
        if iteration <= self._iteration:  # iterations restart with each n_init run
            self._run += 1
            self._value = None
        value = float(value)
        self._change = None if self._value is None else value - self._value
        self._iteration, self._value = iteration, value
        self._pending = True
        now = time.monotonic()
        if now - self._start < PROGRESS_DELAY:
            return
        if self._drawn_at is None or now - self._drawn_at >= PROGRESS_INTERVAL:
            self._draw()
            self._drawn_at = now

    def _draw(self):
        text = f"run {self._run}, " if self._run > 1 else ""
        text += f"iteration {self._iteration}: {self.quantity} {self._value:.6g}"
        if self._change is not None:
            text += f", change {self._change:+.3g}"
        # Spaces wipe what a longer previous line left behind.
        sys.stderr.write("\r" + text.ljust(self._width))
        sys.stderr.flush()
        self._width = len(text)
        self._pending = False

    def close(self):
        if self._drawn_at is not None:
            if self._pending:  # the last iterations came between two redraws
                self._draw()
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._drawn_at = None


@contextlib.contextmanager
def _convergence_warnings(prog):
    """Show ConvergenceWarnings as one line each, each message once."""
    from sklearn.exceptions import ConvergenceWarning

    messages = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        yield
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            message = _one_line(warning.message)
            if message not in messages:
                messages.append(message)
                print(f"{prog}: warning: {message}", file=sys.stderr)
        else:  # anything else goes on as if it had not been caught
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno, source=warning.source)


# --------------------------------------------------------------------------- #
# Output paths
# --------------------------------------------------------------------------- #


def _check_outputs(*options):
    """Refuse output paths that cannot be written, before any work is done."""
    given = [(option, Path(path)) for option, path in options if path is not None]
    for option, path in given:
        if path.is_dir():
            raise UsageError(f"{option} {path} is a folder; give a file name")
        if not path.parent.is_dir():
            raise UsageError(f"{option} {path}: folder '{path.parent}' does not exist; "
                             "create it first")
    resolved = [path.resolve() for _, path in given]
    if len(set(resolved)) < len(resolved):
        raise UsageError(" and ".join(option for option, _ in given)
                         + " name the same file; give each its own")


if __name__ == "__main__":
    sys.exit(main())
