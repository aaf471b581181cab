"""``mixfit select``: choose a Gaussian mixture's model and K by BIC, ICL or AIC.

The command reads DATA as ``mixfit fit`` does (same readers, column selection
and data errors), runs :func:`mixfit.selection.select` over the grid of
covariance models × numbers of components, prints the best cells and the chosen
model, and can save the chosen mixture (``--out``) and the criterion plot
(``--plot``) through the same checked, atomic output files as ``fit``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict

from mixfit.cli.describe import jsonable
from mixfit.cli.files import (
    OutputFileError,
    _isatty,
    check_outputs,
    output_errors,
    refuse_binary_on_terminal,
)
from mixfit.cli.help import EPILOGS, HelpFormatter

__all__ = ["add_grid_options", "add_select", "parse_components", "parse_models",
           "read_for_selection", "run_select"]

# Written out rather than imported from mixfit.selection and the model registry:
# those load numba and scikit-learn, which `--help` and usage errors must not wait
# for (tests/test_cli_select.py checks that these match the library's).
#: The criteria of :func:`mixfit.selection.select`.
CRITERIA = ("bic", "icl", "aic")
#: mclust's 14 models, in mclust's order.
MCLUST_MODELS = ("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE",
                 "EEV", "VEV", "EVV", "VVV")
#: The other names a model can be given by: scikit-learn's four and the lecture's.
OTHER_MODELS = ("spherical", "diag", "tied", "full", "identity")

#: Rows of the printed table: the best cells by the criterion.
TABLE_ROWS = 10
#: Largest number of components the command accepts (a typo such as 1-900 would
#: otherwise start hours of fits).
MAX_COMPONENTS = 100
#: Progress is drawn only once the selection has run this long (seconds), and
#: redrawn at most this often, as ``fit``'s progress line is.
PROGRESS_DELAY = 1.0
PROGRESS_INTERVAL = 0.1

_COMPONENTS_FORM = ("a whole number K, a range A-B or a list such as 1,2,5 "
                    f"(each between 1 and {MAX_COMPONENTS})")


def parse_components(text):
    """``--components``: "3", "1-9" or "1,2,5" (ranges inside a list too) → sorted list."""
    values = set()
    for item in str(text).split(","):
        low, dash, high = item.strip().partition("-")
        try:
            first = int(low)
            last = int(high) if dash else first
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be {_COMPONENTS_FORM}, got {text!r}") from None
        if not 1 <= first <= last <= MAX_COMPONENTS:
            raise argparse.ArgumentTypeError(f"must be {_COMPONENTS_FORM}, got {text!r}")
        values.update(range(first, last + 1))
    return sorted(values)


def parse_models(text):
    """``--models``: "mclust", "sklearn" or a comma list of model names."""
    text = str(text).strip()
    if text in ("mclust", "sklearn"):
        return text
    models = [item.strip() for item in text.split(",")]
    unknown = [model for model in models if model not in MCLUST_MODELS + OTHER_MODELS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown model(s) {', '.join(repr(m) for m in unknown)}: give 'mclust' (all 14), "
            f"'sklearn', or a comma list of {', '.join(MCLUST_MODELS + OTHER_MODELS)}")
    return list(dict.fromkeys(models))


def add_grid_options(parser):
    """``--components``, ``--models`` and ``--criterion``: the grid a selection runs.

    Shared by ``mixfit select`` and ``mixfit report``, which choose the same way.
    """
    parser.add_argument("--components", type=parse_components, default=list(range(1, 10)),
                        metavar="KS", help="numbers of components to try: 1-9 (default), "
                        "3, or 1,2,5")
    parser.add_argument("--models", type=parse_models, default="mclust", metavar="MODELS",
                        help="covariance models: mclust (its 14, default), sklearn "
                        "(spherical, diag, tied, full), or a list such as EII,VVV")
    parser.add_argument("--criterion", choices=CRITERIA, default="bic",
                        help="what the chosen model minimises (default bic)")


def add_select(commands, parents):
    """Register ``mixfit select`` on the subparsers ``commands`` (``parents``: data options)."""
    select = commands.add_parser(
        "select", parents=parents, help="choose a Gaussian mixture's model and K by BIC",
        description="Fit every covariance model (mclust's 14 by default) for every number "
        "of components to DATA and choose the best by BIC, ICL or AIC (lower is better; "
        "mclust reports -BIC). DATA is read as 'mixfit fit' reads it.",
        epilog=EPILOGS["select"], formatter_class=HelpFormatter)
    select.add_argument("data", metavar="DATA", help="the data file")
    add_grid_options(select)
    select.add_argument("--reg-covar", type=_non_negative, default=0.0, metavar="R",
                        help="added to every covariance (default 0, as mclust: a fit whose "
                        "covariance collapses is reported as failed; e.g. 1e-6 regularises it)")
    select.add_argument("--seed", type=_seed, default=0, metavar="S",
                        help="random seed, for reproducible selections (default 0)")
    select.add_argument("--out", metavar="MODEL", help="save the chosen mixture to this "
                        "model file ('-': stdout, which must not be a terminal; the "
                        "summary then goes to stderr)")
    select.add_argument("--plot", metavar="PNG",
                        help="write the criterion against K, one line per model, as a PNG")
    select.add_argument("--json", action="store_true",
                        help="print a JSON document (the best cell and every cell) instead "
                        "of the summary")
    return select


def _non_negative(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text!r}")
    return value


def read_for_selection(args, *, allow_nan=False):
    """``(X, names)``: DATA read and checked as ``mixfit select`` (and ``report``) read it.

    The file is checked before it is opened (a FIFO would block), the largest
    cell's memory before a large ``.npy`` file is read, and NaN or infinite
    values are refused naming their columns (selection has no model of
    missing values). ``allow_nan``: only infinite values are refused, with
    ``mixfit fit``'s message (``report`` drops the rows with NaN itself).
    """
    from mixfit.cli.memory import check_before_reading
    from mixfit.estimators._data_checks import check_finite
    from mixfit.estimators.gaussian_mixture import GaussianMixture
    from mixfit.io.data_checks import check_path
    from mixfit.io.data_files import read_data

    check_path(args.data)
    check_before_reading(GaussianMixture(max(args.components)), args.data, args.columns)
    X, names = read_data(args.data, columns=args.columns, key=args.key,
                         delimiter=args.delimiter, header=args.header,
                         decimal_comma=args.decimal_comma)
    check_finite(X, name=f"'{args.data}'", names=names, allow_nan=allow_nan)
    return X, names


def run_select(args, *, on_terminal, warning_lines):
    """The ``mixfit select`` command; returns the exit code (errors raise, as in ``fit``).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.
    on_terminal : bool
        Whether stderr is a terminal, where a progress line is drawn.
    warning_lines : callable
        ``warning_lines(prog)``, a context manager that prints the warnings of the
        fits as ``fit`` does (one line each); :mod:`mixfit.cli.commands` passes
        its own, which this module cannot import (commands imports this one).
    """
    from mixfit.selection import select

    prog = f"mixfit {args.command}"
    outputs = check_outputs([("--out", args.out), ("--plot", args.plot)],
                            [("DATA", args.data)], json_output=args.json)
    if "--out" in outputs:
        refuse_binary_on_terminal("--out", outputs["--out"])
    if "--plot" in outputs and outputs["--plot"].is_stdout and _isatty(sys.stdout):
        raise OutputFileError("--plot - would print a PNG image on the terminal; redirect "
                              "it (--plot - > bic.png) or give a file name")
    summary_stream = sys.stderr if any(o.is_stdout for o in outputs.values()) else sys.stdout
    X, names = read_for_selection(args)
    progress = _Progress(enabled=on_terminal)
    with warning_lines(prog):
        start = time.perf_counter()
        try:
            selection = select(X, n_components=args.components, covariance_types=args.models,
                               criterion=args.criterion, random_state=args.seed,
                               reg_covar=args.reg_covar,
                               callback=progress if progress.enabled else None)
        finally:
            progress.close()
        seconds = time.perf_counter() - start
    best = selection.ranked()[0]
    if args.json and selection.notes:  # stdout holds the JSON document alone
        for note in selection.notes:
            print(f"{prog}: note: {note}", file=sys.stderr)
    # Files only now, after everything that could fail on the input.
    if args.out:
        from mixfit.cli.columns import remember_columns
        from mixfit.cli.training import remember_training
        from mixfit.io import model_files as model_io

        model = selection.best_
        # Scored before the names are set: scoring an ndarray would then warn.
        remember_training(model, X.shape[0], model.score(X))
        remember_columns(model, names, args.columns)  # as fit does: predict matches them
        with output_errors("--out", args.out):
            model_io.save(model, args.out)  # atomic
    if args.plot:
        _write_plot(selection, outputs["--plot"])
    with output_errors(None, "-"):  # flushed here, so that a full disk is reported
        if args.json:
            print(json.dumps(json_document(selection), indent=2, allow_nan=False), flush=True)
        else:
            print(summary(selection, args, X.shape, seconds, best), file=summary_stream,
                  flush=True)
    return 0


def _write_plot(selection, output):
    import matplotlib

    from mixfit.io.output_files import writing

    matplotlib.use("Agg")  # a file only: no display needed
    import matplotlib.pyplot as plt

    figure = selection.plot().figure
    try:
        with output_errors("--plot", output.path), writing(output, binary=True) as file:
            figure.savefig(file, format="png", dpi=100, bbox_inches="tight")
    finally:
        plt.close(figure)


def json_document(selection):
    """``--json``'s document: the best cell, the criterion and every cell (NaN → null)."""
    best = selection.ranked()[0]
    keys = ("covariance_type", "n_components", "bic", "icl", "aic", "log_likelihood",
            "n_parameters")
    return jsonable({"best": {key: getattr(best, key) for key in keys},
                     "criterion": selection.criterion,
                     "table": [asdict(result) for result in selection.results]})


def summary(selection, args, shape, seconds, best):
    """The text printed without ``--json``: the repr, the best cells and the choice."""
    name = selection.criterion.upper()
    header = ("model", "K", "log-likelihood", "parameters", "BIC", "ICL", "AIC", "iterations")
    rows = [header] + [
        (r.covariance_type, str(r.n_components), f"{r.log_likelihood:.3f}",
         str(r.n_parameters), f"{r.bic:.3f}", f"{r.icl:.3f}", f"{r.aic:.3f}",
         str(r.n_iter) + ("" if r.converged else " (not converged)"))
        for r in selection.ranked()[:TABLE_ROWS]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    table = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths))) for row in rows]
    lines = [
        f"data: {args.data}: {shape[0]} samples x {shape[1]} features; "
        f"{len(selection.results)} fits in {seconds:.3g} s",
        repr(selection), "",
        f"The best {len(rows) - 1} by {name}:", *table, "",
        f"chosen model: {best.covariance_type} with K={best.n_components} "
        f"({name} {getattr(best, selection.criterion):.3f})",
    ]
    lines.append(f"model file: {args.out}" if args.out else
                 "model file: not saved (use --out MODEL)")
    if args.plot:
        lines.append(f"plot: {args.plot}")
    return "\n".join(lines)


class _Progress:
    """select's ``callback``: "fitted 12 of 84 cells" on stderr, redrawn in place.

    Nothing is drawn before :data:`PROGRESS_DELAY` seconds, so that quick
    selections print nothing extra; :meth:`close` ends a drawn line.
    """

    def __init__(self, enabled):
        self.enabled = enabled
        self._start = time.monotonic()
        self._drawn_at = None
        self._width = 0

    def __call__(self, done, total, result):
        now = time.monotonic()
        if now - self._start < PROGRESS_DELAY:
            return
        if self._drawn_at is None or now - self._drawn_at >= PROGRESS_INTERVAL or done == total:
            text = (f"fitted {done} of {total} cells (last: {result.covariance_type}, "
                    f"K={result.n_components})")
            # Spaces wipe what a longer previous line left behind.
            sys.stderr.write("\r" + text.ljust(self._width))
            sys.stderr.flush()
            self._width = len(text)
            self._drawn_at = now

    def close(self):
        if self._drawn_at is not None:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._drawn_at = None
