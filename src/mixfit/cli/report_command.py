"""``mixfit report``: from a data file to a page a person reads (``DIR/index.html``).

The command reads DATA as ``mixfit select`` does (same readers, column
selection, data errors and exit codes, infinite values refused as ``mixfit
fit`` refuses them), then :func:`mixfit.report` drops the rows with a missing
value (a note on stderr says how many; the page lists them), runs the
selection and writes the page with its figures beside it. Its last line says
where the time went (reading, selection, figures and tables, writing). An
output folder that exists is refused without ``--force``; with it only the
page's own files (index.html, figure-NN.png) are replaced.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from mixfit.cli.help import HelpFormatter
from mixfit.cli.select import _seed, add_grid_options, read_for_selection

__all__ = ["add_report", "run_report"]

#: Where the page goes without --out.
DEFAULT_OUT = "mixfit-report"

_EPILOG = """\
examples:
  mixfit report data.csv                          mclust's 14 models, K = 1..9, in ./mixfit-report
  mixfit report data.csv --components 1-5 --models EII,VVV --out /tmp/page
  mixfit report data.csv --columns height,weight --force

Open DIR/index.html in a browser; the page loads nothing from the network, so the
folder can be sent as it is."""


def add_report(commands, parents):
    """Register ``mixfit report`` on the subparsers ``commands`` (``parents``: data options)."""
    report = commands.add_parser(
        "report", parents=parents, help="choose a Gaussian mixture and write a web page "
        "about it", description="Choose a Gaussian mixture for DATA as 'mixfit select' does "
        "and write DIR/index.html: the models compared, the clusters, the uncertainty of "
        "each row, each cluster's statistics and the convergence of the fit. DATA is read "
        "as 'mixfit fit' reads it; rows with an empty or NA cell are dropped (the page "
        "lists them).", epilog=_EPILOG, formatter_class=HelpFormatter)
    report.add_argument("data", metavar="DATA", help="the data file")
    report.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                        help=f"the folder to write (default {DEFAULT_OUT}); it must not "
                        "exist, unless --force")
    add_grid_options(report)
    report.add_argument("--seed", type=_seed, default=0, metavar="S",
                        help="random seed, for reproducible pages (default 0)")
    report.add_argument("--force", action="store_true",
                        help="write into an existing folder, replacing only its index.html "
                        "and figure-NN.png files")
    return report


def run_report(args, *, warning_lines):
    """The ``mixfit report`` command; returns the exit code (errors raise, as in ``select``).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.
    warning_lines : callable
        ``warning_lines(prog)``, the context manager of :mod:`mixfit.cli.commands`
        that prints the fits' warnings one line each.
    """
    from mixfit.reporting.build import write_report

    prog = f"mixfit {args.command}"
    out = Path(args.out)
    _check_out(out, args.force)  # before the data are read: a refusal costs nothing
    start = time.perf_counter()
    # Infinite values are refused as 'mixfit fit' refuses them; rows with NaN are
    # dropped by the report, which lists them on the page.
    X, names = read_for_selection(args, allow_nan=True)
    reading = time.perf_counter() - start
    if names is None:
        names = [f"x{j + 1}" for j in range(X.shape[1])]
    with warning_lines(prog):
        try:
            written = write_report(X, out, n_components=args.components,
                                   covariance_types=args.models, criterion=args.criterion,
                                   columns=names, random_state=args.seed, force=args.force,
                                   source=Path(args.data).name)
        except FileExistsError as error:  # the folder appeared while the fits ran
            raise ValueError(str(error)) from None
    if len(written.dropped):
        listed = ", ".join(repr(name) for name in written.missing_in)
        print(f"{prog}: note: dropped {len(written.dropped)} of {written.n_rows} rows with "
              f"a missing value (NaN) in column(s) {listed}; the page lists them",
              file=sys.stderr)
    best = written.result.best_params_
    print(f"chosen model: {best['covariance_type']} with K={best['n_components']}; "
          f"page: {out / 'index.html'}")
    print(f"time: reading {reading:.2f} s, {written.time_line()}")
    return 0


def _check_out(out, force):
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out '{out}' is a file, not a folder; give a folder name")
    if out.exists() and not force:
        raise ValueError(f"--out '{out}' exists; give another folder, or --force to replace "
                         "its index.html and figure files (other files are kept)")
