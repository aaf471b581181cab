"""``mixfit fit/predict ... --scheduler ADDRESS``: fitting and labelling on a Dask cluster.

The command connects a ``dask.distributed.Client`` to the scheduler (within
``--scheduler-timeout`` seconds: an unreachable address is one line on stderr and
exit code 2, never a hang), builds a Dask array whose blocks the workers read
from DATA themselves (:func:`mixfit.io.dask_files.dask_array_from_file`: ``.npy``,
raw IDX or Parquet, on a path every worker can read), and hands it to the
estimator, whose passes then run where the blocks are. Only parameter-sized
values, the summary's numbers, and the labels or probabilities written to a file
come back to the client.

What differs from a local fit: NaN and infinite values are counted on the
workers (the message is the local one); ``--standardize`` computes the columns'
means and standard deviations on the workers (Dask's reductions, which may differ
from the local ones in the last digits); CSV and ``.npz`` files are refused
(workers cannot read them by rows; save them as ``.npy`` or ``.parquet``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys

import numpy as np

from mixfit.cli.training import CLI_NAN_ADVICE, CLUSTER_NAN_ADVICE

__all__ = ["DEFAULT_TIMEOUT", "Cluster", "add_scheduler_options", "cluster_session"]

#: Seconds ``--scheduler`` waits for the scheduler to answer by default.
DEFAULT_TIMEOUT = 10.0


def _positive_seconds(text):
    import argparse

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text!r}")
    return value


def add_scheduler_options(parser):
    """Add ``--scheduler`` and ``--scheduler-timeout`` to a ``fit`` or ``predict`` parser."""
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on the Dask cluster of this scheduler (tcp://host:8786); "
                        "its workers read DATA (.npy, IDX or .parquet) themselves, at the "
                        "same absolute path (needs mixfit[dask])")
    parser.add_argument("--scheduler-timeout", type=_positive_seconds, default=None,
                        metavar="SECONDS", help="how long to wait for the scheduler to "
                        f"answer (default {DEFAULT_TIMEOUT:g})")


@contextlib.contextmanager
def cluster_session(args):
    """A :class:`Cluster` for ``args.scheduler`` (closed on exit), or None without one."""
    if args.scheduler is None:
        if args.scheduler_timeout is not None:
            raise ValueError("--scheduler-timeout applies with --scheduler only; add "
                             "--scheduler ADDRESS or drop the option.")
        yield None
        return
    cluster = Cluster(args.scheduler, args.scheduler_timeout or DEFAULT_TIMEOUT)
    try:
        yield cluster
    finally:
        cluster.close()


class Cluster:
    """The Dask client of one command, connected on first use.

    Parameters
    ----------
    address : str
        The scheduler's address, such as ``tcp://10.0.0.5:8786``.
    timeout : float
        Seconds to wait for the scheduler before giving up.
    """

    def __init__(self, address, timeout):
        self.address = address
        self.timeout = timeout
        self.client = None

    def connect(self):
        """Connect (once); an unreachable or malformed address raises a one-line ValueError."""
        if self.client is not None:
            return self.client
        from mixfit.engine.sources import require_dask

        require_dask("--scheduler")
        try:
            from dask.distributed import Client
        except ImportError as error:
            raise ImportError('--scheduler needs dask.distributed: pip install '
                              '"mixfit[dask]"') from error
        # distributed logs each failed attempt; the one line below says it all.
        quiet = logging.getLogger("distributed")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            self.client = Client(self.address, timeout=self.timeout, set_as_default=True)
        except (OSError, TimeoutError, ValueError) as error:
            text = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise ValueError(
                f"cannot reach the Dask scheduler at {self.address} within "
                f"{self.timeout:g} s ({text}); check the address (such as "
                "tcp://host:8786) and that the scheduler is running, or wait longer "
                "with --scheduler-timeout") from None
        finally:
            quiet.setLevel(level)
        return self.client

    def close(self):
        if self.client is not None:
            with contextlib.suppress(Exception):  # closing must not hide the result
                self.client.close()
            self.client = None

    # ------------------------------------------------------------------ data

    def reader(self, args):
        """A ``read_data``-like function: ``(Dask array, names)`` of a file, checked finite."""
        for option, value in (("--key", args.key), ("--delimiter", args.delimiter),
                              ("--header", args.header),
                              ("--decimal-comma", args.decimal_comma or None)):
            if value is not None:
                raise ValueError(f"{option} applies to .npz or text files, which --scheduler "
                                 "does not read; save the data as .npy or .parquet")

        def read(path, columns=None, **_options):  # the options were refused above
            from mixfit.io.dask_files import dask_array_from_file

            X, names = dask_array_from_file(path, columns=columns)  # checks the file first
            self.connect()
            advice = (CLI_NAN_ADVICE if getattr(args, "model", None) == "kmeans"
                      else CLUSTER_NAN_ADVICE)
            self.check_finite(X, f"'{args.data}'", names, advice)
            return X, names

        return read

    def read(self, args):
        """``(X, names)``: DATA as a Dask array, its NaN and infinite values refused."""
        return self.reader(args)(args.data, columns=args.columns)

    @staticmethod
    def check_finite(X, name, names=None, advice=""):
        """Count NaN and infinite values per column on the workers; raise as a local read does.

        ``advice``: the sentence a NaN error adds (which model takes missing cells).
        """
        import dask
        import dask.array as da

        from mixfit.estimators._data_checks import non_finite_message

        n_nan, n_inf = dask.compute(da.isnan(X).sum(axis=0), da.isinf(X).sum(axis=0))
        if n_nan.any() or n_inf.any():
            columns = np.flatnonzero(n_nan + n_inf).tolist()
            raise ValueError(non_finite_message(int(n_nan.sum()), int(n_inf.sum()), columns,
                                                name, names) + (advice if n_nan.any() else ""))

    @staticmethod
    def compute(values):
        """A Dask result as a NumPy array (a NumPy one is returned as it is)."""
        return np.asarray(values.compute() if hasattr(values, "compute") else values)

    # ------------------------------------------------------------------ standardize

    @staticmethod
    def standardize(X, names, prog):
        """``(Z, mean, scale)`` as ``fit --standardize`` gives them, Z lazy on the workers."""
        import dask

        values = X.astype(np.float64)
        mean, scale = dask.compute(values.mean(axis=0), values.std(axis=0))
        constant = [int(j) for j in np.flatnonzero(~(scale > 0))]
        scale[constant] = 1.0
        if constant:
            listed = ", ".join(repr(names[j]) if names else str(j) for j in constant[:8])
            print(f"{prog}: note: column(s) {listed}{', ...' if len(constant) > 8 else ''} "
                  "are constant: their standard deviation of 0 is taken as 1",
                  file=sys.stderr)
        return Cluster.scaled(X, mean, scale), mean, scale

    @staticmethod
    def scaled(X, mean, scale):
        """``(X - mean) / scale`` lazily, in X's float dtype (as :mod:`mixfit.cli.training`)."""
        return ((X.astype(np.float64) - mean) / scale).astype(X.dtype)

    @staticmethod
    def standardize_like_training(model, X):
        """X z-scored as the model's training data was (``fit --standardize``), lazily."""
        mean = getattr(model, "_standardize_mean", None)
        if mean is None:
            return X
        return Cluster.scaled(X, np.asarray(mean, dtype=np.float64),
                              np.asarray(model._standardize_scale, dtype=np.float64))
