"""The ``mixfit`` command line: ``fit``, ``predict``, ``info``, ``select``, ``report``, ``demo``.

Exit codes: 0 on success; 2 for bad usage or bad input (a missing file, data
that cannot be read or fitted, a damaged model file), reported as one line
``mixfit <command>: <message>`` on standard error; 1 for an unexpected
failure, reported as one line too, with the traceback only under ``--debug``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
import traceback
import warnings

from mixfit._version import __version__
from mixfit.cli.describe import (
    CONVERGED,
    changed_parameters,
    fit_summary,
    fit_document,
    format_numbers,
    jsonable,
    model_dtype,
    model_header,
    parameter_summary,
    table,
)
from mixfit.cli.columns import columns_line, describe_columns, read_for_model, remember_columns
from mixfit.cli.help import EPILOGS, HelpFormatter
from mixfit.cli.scheduler import add_scheduler_options, cluster_session
from mixfit.cli.select import add_select, run_select
from mixfit.cli.report_command import add_report, run_report
from mixfit.cli.training import (
    CLI_NAN_ADVICE,
    remember_training,
    standardization,
    standardize_like_training,
    standardize_line,
    standardize_with_note,
    training_criteria,
)
from mixfit.cli.files import (
    Terminated,
    check_outputs,
    output_errors,
    refuse_binary_on_terminal,
    signals_as_exceptions,
)
from mixfit.io.data_checks import check_path

#: A fit draws its progress line only once it has run this long (seconds), so
#: that quick fits print nothing extra.
PROGRESS_DELAY = 1.0
#: Least time between two redraws of the progress line (seconds).
PROGRESS_INTERVAL = 0.1

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
    parser = _Parser(prog="mixfit", description="K-means and mixture models fitted by EM.",
                     epilog=EPILOGS["mixfit"], formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"mixfit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_demo(commands)
    commands.choices["demo"].epilog = EPILOGS["demo"]
    commands.choices["demo"].formatter_class = HelpFormatter

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
    data.add_argument("--decimal-comma", action="store_true",
                      help="numbers are written with a decimal comma (0,5 is 0.5); the "
                      "delimiter is then not a comma")

    fit = commands.add_parser(
        "fit", parents=[data, common], help="fit a model to a data file",
        description="Fit a Gaussian mixture or K-means to DATA: CSV/TSV/whitespace text, "
        ".npy, .npz, IDX or .parquet (.npy and raw IDX memory-mapped). One-dimensional "
        "arrays are one feature; IDX images are flattened to one feature per pixel.",
        epilog=EPILOGS["fit"], formatter_class=HelpFormatter)
    fit.add_argument("data", metavar="DATA", help="the data file")
    fit.add_argument("--model", choices=("gmm", "kmeans"), default="gmm",
                     help="Gaussian mixture (default) or K-means")
    fit.add_argument("-k", "--n-components", type=_int_at_least(1), default=2, metavar="K",
                     help="number of components or clusters (default 2)")
    fit.add_argument("--covariance", choices=("identity", "spherical", "diag", "tied", "full"),
                     help="covariance structure of a gmm (default full)")
    # The estimator checks the value (>= 0, finite) and says what is wrong.
    fit.add_argument("--reg-covar", type=float, metavar="R",
                     help="added to every variance of a gmm, keeping covariances "
                     "invertible (default 1e-6)")
    fit.add_argument("--standardize", action="store_true",
                     help="z-score each column (its mean and standard deviation on DATA) "
                     "before fitting; stored in the model, and 'mixfit predict' applies it")
    fit.add_argument("--n-init", type=_int_at_least(1), metavar="N",
                     help="initialisations to run, keeping the best (default 1)")
    fit.add_argument("--max-iter", type=_int_at_least(1), metavar="N",
                     help="iterations per initialisation (default 100 gmm, 300 kmeans)")
    # The estimators check the value (>= 0, finite) and say what is wrong.
    fit.add_argument("--tol", type=float, metavar="T",
                     help="convergence tolerance (default 1e-3 gmm, 1e-4 kmeans)")
    fit.add_argument("--seed", type=_int_at_least(0), default=0, metavar="S",
                     help="random seed, for reproducible fits (default 0)")
    fit.add_argument("--out", metavar="MODEL", help="save the fitted model to this file "
                     "('-': stdout, which must not be a terminal; the summary then goes "
                     "to stderr)")
    fit.add_argument("--labels", metavar="FILE",
                     help="write each row's label to this CSV file (column 'label'; "
                     "'-': stdout, the summary then goes to stderr)")
    fit.add_argument("--json", action="store_true",
                     help="print a JSON document instead of the summary")
    fit.add_argument("-q", "--quiet", action="store_true",
                     help="no progress line and no summary (--json still prints)")
    add_scheduler_options(fit)
    fit.set_defaults(handler=_fit)

    predict = commands.add_parser(
        "predict", parents=[data, common], help="label new data with a saved model",
        description="Write the label (or with --proba the posterior probabilities) of "
        "each row of DATA as CSV.",
        epilog=EPILOGS["predict"], formatter_class=HelpFormatter)
    predict.add_argument("model", metavar="MODEL", help="a model file written by 'mixfit fit'")
    predict.add_argument("data", metavar="DATA", help="the data file")
    predict.add_argument("--proba", action="store_true",
                         help="posterior probabilities p0..p{K-1} (mixtures only)")
    predict.add_argument("--out", metavar="FILE",
                         help="CSV file to write (default, or '-': stdout)")
    predict.add_argument("-q", "--quiet", action="store_true",
                         help="no message about the file written")
    add_scheduler_options(predict)
    predict.set_defaults(handler=_predict)

    info = commands.add_parser(
        "info", parents=[common], help="describe a saved model",
        description="What a model file holds: the model, how it was fitted, its parameters.",
        epilog=EPILOGS["info"], formatter_class=HelpFormatter)
    info.add_argument("model", metavar="MODEL", help="a model file written by 'mixfit fit'")
    info.add_argument("--json", action="store_true", help="print a JSON document")
    info.set_defaults(handler=_info)
    add_select(commands, parents=[data, common]).set_defaults(handler=_select)
    add_report(commands, parents=[data, common]).set_defaults(
        handler=lambda args: run_report(args, warning_lines=_convergence_warnings))
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
    # nargs="?": "--mnist" alone gives const=True, which the demo takes as "fetch it".
    demo.add_argument("--mnist", metavar="DIR", nargs="?", const=True, default=None,
                      help="run the digits experiment on MNIST instead of "
                      "scikit-learn's 8x8 digits: read from DIR (the four IDX files), "
                      "or with no DIR downloaded once (checked by SHA-256) into "
                      "$MIXFIT_DATA or ~/.cache/mixfit and read from there")
    demo.add_argument("--quick", action="store_true",
                      help="smaller digits experiment and images (for tests)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.set_defaults(handler=_demo)


def _demo(args):
    from mixfit.cli import demo as demo
    from mixfit.datasets import DownloadError

    try:
        demo.run(args.out, mnist=args.mnist, quick=args.quick, random_state=args.seed)
    except DownloadError as error:
        # Not a usage error: the network or a mirror failed.
        print(f"mixfit demo: {error}", file=sys.stderr)
        return 1
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
        # SIGTERM and SIGHUP unwind like Ctrl-C, so a file being saved removes
        # its temporary file instead of leaving it behind.
        with signals_as_exceptions():
            return args.handler(args)
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return 130
    except Terminated as stop:
        print(f"{prog}: terminated by {stop}", file=sys.stderr)
        return 128 + stop.signum
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
        if isinstance(error, ImportError) and "pip install" in str(error):
            # An optional dependency (pyarrow, Dask) that the input needs: the user's fix.
            print(f"{prog}: {_one_line(error)}", file=sys.stderr)
            return 2
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
    with cluster_session(args) as cluster:  # None without --scheduler
        return _fit_with(args, cluster)


def _fit_with(args, cluster):
    from mixfit.cli.memory import check_before_reading
    from mixfit.estimators._data_checks import check_finite
    from mixfit.io.data_files import read_data, write_csv

    outputs = check_outputs([("--out", args.out), ("--labels", args.labels)],
                            [("DATA", args.data)], json_output=args.json)
    if "--out" in outputs:
        refuse_binary_on_terminal("--out", outputs["--out"])
    # An output on stdout ("-") has stdout to itself: the summary goes to stderr.
    summary_stream = sys.stderr if any(o.is_stdout for o in outputs.values()) else sys.stdout
    estimator = _make_estimator(args)
    check_path(args.data)  # before anything opens it: a FIFO would block, a device not end
    if cluster is not None:  # a Dask array, read by the workers
        X, names = cluster.read(args)
    else:
        check_before_reading(estimator, args.data, args.columns)  # too large for memory
        X, names = read_data(args.data, columns=args.columns, key=args.key,
                             delimiter=args.delimiter, header=args.header,
                             decimal_comma=args.decimal_comma)
        # Here, where the file's column names are known: the estimator sees an ndarray.
        # Empty or NA cells are NaN: missing values, which only the mixture models.
        check_finite(X, name=f"'{args.data}'", names=names, allow_nan=args.model == "gmm",
                     advice=CLI_NAN_ADVICE)
    mean = scale = None
    if args.standardize:
        X, mean, scale = (cluster.standardize if cluster else standardize_with_note)(
            X, names, f"mixfit {args.command}")
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

    document = fit_document(estimator, X, names, seconds,
                            scheduler=cluster.address if cluster else None)
    labels = estimator.predict(X) if args.labels else None
    if cluster is not None and labels is not None:
        labels = cluster.compute(labels)
    # Only now: fitting on an ndarray drops names, predicting with them warns.
    remember_columns(estimator, names, args.columns)
    remember_training(estimator, X.shape[0], document.get("log_likelihood"), mean, scale)
    if args.standardize:  # the means and stds that the parameters' units derive from
        document["standardize"] = standardization(estimator)
    # Files are written only now, after everything that could fail on the input.
    if args.out:
        from mixfit.io import model_files as model_io

        with output_errors("--out", args.out):
            model_io.save(estimator, args.out)  # atomic too
        document["model_path"] = str(args.out)
    if args.labels:
        with output_errors("--labels", args.labels):
            write_csv(args.labels, ["label"], labels[:, None])
    # Flushed here, so that a full disk is reported rather than lost at exit.
    with output_errors(None, "-"):
        if args.json:
            print(json.dumps(jsonable(document), indent=2), flush=True)
        elif not args.quiet:
            print(fit_summary(document, args.data, args.labels), file=summary_stream, flush=True)
    return 0


def _make_estimator(args):
    from mixfit.estimators import GaussianMixture, KMeans

    options = {"n_init": args.n_init, "max_iter": args.max_iter, "tol": args.tol}
    options = {name: value for name, value in options.items() if value is not None}
    if args.model == "kmeans":
        for option, value in (("--covariance", args.covariance),
                              ("--reg-covar", args.reg_covar)):
            if value is not None:
                raise UsageError(f"{option} applies to --model gmm only; K-means has no "
                                 "covariances (drop the option or use --model gmm)")
        return KMeans(n_clusters=args.n_components, random_state=args.seed, **options)
    if args.reg_covar is not None:
        options["reg_covar"] = args.reg_covar
    return GaussianMixture(n_components=args.n_components, random_state=args.seed,
                           covariance_type=args.covariance or "full", **options)


def _select(args):
    # The command is in mixfit.cli.select; it shares fit's progress and warning lines.
    return run_select(args, on_terminal=_stderr_is_terminal(),
                      warning_lines=_convergence_warnings)


# --------------------------------------------------------------------------- #
# predict and info
# --------------------------------------------------------------------------- #


def _predict(args):
    with cluster_session(args) as cluster:  # None without --scheduler
        return _predict_with(args, cluster)


def _predict_with(args, cluster):
    from mixfit.io.data_files import write_csv

    outputs = check_outputs([("--out", args.out)], [("MODEL", args.model), ("DATA", args.data)])
    model = _load_model(args.model)
    if args.proba and not hasattr(model, "predict_proba"):
        raise UsageError(f"--proba needs a mixture model, but '{args.model}' holds a "
                         f"{type(model).__name__}, which gives labels only; drop --proba")
    read = cluster.reader(args) if cluster else None  # Dask arrays on --scheduler
    X = read_for_model(model, args, f"mixfit {args.command}", read)  # matched by name
    # As fit --standardize did its data.
    X = (cluster.standardize_like_training if cluster else standardize_like_training)(model, X)
    if args.proba:
        values = model.predict_proba(X)
        header = [f"p{k}" for k in range(values.shape[1])]
    else:
        values = model.predict(X)[:, None]
        header = ["label"]
    if cluster is not None:
        values = cluster.compute(values)
    with output_errors("--out" if args.out else None, args.out or "-"):
        write_csv(args.out or "-", header, values)  # "-" flushes stdout, to catch errors
    if args.out is not None and not args.quiet and not outputs["--out"].is_stdout:
        what = "probabilities" if args.proba else "labels"
        print(f"wrote the {what} of {len(values)} rows to {args.out}")
    return 0


def _load_model(path):
    from mixfit.io import model_files as model_io

    if not os.path.exists(path):
        raise FileNotFoundError(f"model file '{path}' does not exist; write one with "
                                "'mixfit fit DATA --out MODEL'")
    # Before opening it: a FIFO would wait for a writer, a device never end.
    check_path(path, "model", "pass the model file that 'mixfit fit --out' wrote")
    return model_io.load(path)


def _info(args):
    from sklearn.utils.validation import check_is_fitted

    model = _load_model(args.model)
    check_is_fitted(model)
    document = {"class": type(model).__name__, **model_header(model),
                "n_features": int(model.n_features_in_), "dtype": str(model_dtype(model)),
                "n_iter": int(model.n_iter_) if hasattr(model, "n_iter_") else None,
                "converged": bool(model.converged_) if hasattr(model, "converged_") else None}
    if hasattr(model, "n_steps_") and not hasattr(model, "converged_"):  # MiniBatchKMeans
        document["n_steps"] = int(model.n_steps_)
    for attribute, key in (("lower_bound_", "lower_bound"), ("inertia_", "inertia")):
        if hasattr(model, attribute):
            document[key] = getattr(model, attribute)
    document.update(training_criteria(model), standardize=standardization(model))
    document.update(non_default_parameters=changed_parameters(model),
                    parameters=parameter_summary(model), model_path=str(args.model),
                    **describe_columns(model))
    if args.json:
        print(json.dumps(jsonable(document), indent=2))
        return 0
    described = document["class"]
    if document["model"] == "gmm":
        described += f", covariance {document['covariance_type']}"
    if "chosen_by" in document:
        described += f" (chosen by {document['chosen_by'].upper()} among the grid)"
    if "n_steps" in document:  # mini-batch steps, by fit (n_iter passes) or partial_fit
        fitted = f"{document['n_steps']} mini-batch steps"
    else:
        fitted = f"{document['n_iter']} iterations, {CONVERGED[document['converged']]}"
    if "lower_bound" in document:
        fitted += f", log-likelihood {document['lower_bound']:.6g} per sample"
    if "inertia" in document:
        fitted += f", inertia {document['inertia']:.6g}"
    if "bic" in document:
        training = (f"{document['bic']:.6g}, {document['aic']:.6g} on "
                    f"{document['training_n_samples']} training samples")
    else:
        training = ("none: K-means has no likelihood" if document["model"] == "kmeans" else
                    "not recorded in this file (written by mixfit.io.save or an older "
                    "mixfit); mixfit.load(MODEL).bic(X) computes it")
    changed = jsonable(document["non_default_parameters"])
    rows = [("model", described),
            ("size", f"K={document['n_components']}, d={document['n_features']}, "
                     f"{document['dtype']}"),
            ("columns", columns_line(document)),
            ("fit", fitted),
            ("BIC, AIC", training),
            ("standardize", standardize_line(document["standardize"])),
            ("settings", ", ".join(f"{k}={v!r}" for k, v in changed.items()) or "defaults")]
    for name, value in document["parameters"].items():
        if name != "shapes":
            rows.append((name, value if name == "note" else format_numbers(value)))
    print(table(rows))
    return 0


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
    """Show ConvergenceWarnings and LargeFitWarnings as one line each, each message once."""
    from sklearn.exceptions import ConvergenceWarning

    from mixfit._memory import LargeFitWarning

    messages = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        yield
    for warning in caught:
        if issubclass(warning.category, (ConvergenceWarning, LargeFitWarning)):
            message = _one_line(warning.message)
            if message not in messages:
                messages.append(message)
                print(f"{prog}: warning: {message}", file=sys.stderr)
        else:  # anything else goes on as if it had not been caught
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno, source=warning.source)


if __name__ == "__main__":
    sys.exit(main())
