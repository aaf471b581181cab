"""The command line's output files: checked before any work, errors that say the fix.

:func:`check_outputs` runs first in ``mixfit fit`` and ``mixfit predict``: an
output that is a folder, that lies in a missing or read-only folder, or that is
one of the command's input files is refused before data is read or a model
fitted. :func:`output_errors` turns a failure of the final write (a full disk)
into the same kind of one-line message, and :func:`signals_as_exceptions` lets
SIGTERM and SIGHUP unwind the program like Ctrl-C does, so that a model file
being saved leaves no temporary file behind.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
from contextlib import contextmanager

from mixfit.io.output_files import (
    STDOUT,
    check_writable,
    is_regular_file,
    resolve_output,
    same_file,
)

# What the user can do about an OSError, by errno name (not every system has all).
_FIXES = {
    getattr(errno, name): fix for name, fix in (
        ("EROFS", "the file system is read-only; write it to another folder"),
        ("EACCES", "permission denied; write it to a folder you may write to"),
        ("EPERM", "permission denied; write it to a folder you may write to"),
        ("ENOSPC", "no space left on the device; free some space or write it elsewhere"),
        ("EDQUOT", "the disk quota is exhausted; free some space or write it elsewhere"),
        ("ENOTDIR", "a part of the path is a file, not a folder; check the path"),
        ("ELOOP", "the path has a loop of symbolic links; check the links"),
        ("ENAMETOOLONG", "the file name is too long; give a shorter one"),
        ("EBADF", "that file descriptor is not open; give a file name"),
    ) if hasattr(errno, name)
}


class OutputFileError(ValueError):
    """An output cannot be written; the message names it and the fix (exit 2)."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived; unwinds like KeyboardInterrupt, which it mirrors.

    A BaseException, so that no ``except Exception`` on the way swallows it.
    """

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def check_outputs(outputs, inputs=(), *, json_output=False):
    """Refuse outputs that cannot be written or would destroy an input.

    Parameters
    ----------
    outputs : list of (str, str or None)
        (option, path) of each output; None paths (option not given) are skipped.
    inputs : list of (str, str)
        (name, path) of each input file, such as ``("DATA", "d.csv")``.
    json_output : bool
        Whether the command prints a JSON document on stdout, which an output
        to stdout (``-``) would then corrupt.

    Returns
    -------
    dict
        option -> :class:`~mixfit.io.output_files.Output` of each given output.

    Raises
    ------
    OutputFileError
        Naming the option, the path and the fix.
    """
    given = [(option, os.fspath(path)) for option, path in outputs if path is not None]
    resolved = {}
    for option, path in given:
        if not path:
            raise OutputFileError(f"{option} is empty; give a file name (or - for stdout)")
        try:
            resolved[option] = resolve_output(path)
        except OSError as exc:
            raise _error(option, path, exc) from None
    for index, (option, path) in enumerate(given):
        for other_option, other in given[:index]:
            if same_file(path, other):
                raise OutputFileError(f"{other_option} '{other}' and {option} '{path}' name "
                                      "the same file; give each its own")
        # Only a regular file is replaced or truncated; writing to a terminal that
        # is also the input, say, destroys nothing.
        if path != STDOUT and is_regular_file(path):
            for name, input_path in inputs:
                if same_file(path, input_path):
                    raise OutputFileError(
                        f"{option} '{path}' is the input {name} '{input_path}' (the same "
                        f"file), which writing would destroy; give {option} another file")
    on_stdout = [option for option, output in resolved.items() if output.is_stdout]
    if on_stdout and json_output:
        option = on_stdout[0]
        raise OutputFileError(f"--json and {option} {resolved[option].path} would both write "
                              f"to stdout; give {option} a file name or drop --json")
    for option, output in resolved.items():
        try:
            check_writable(output)
        except OSError as exc:
            raise _error(option, output.path, exc, output.real) from None
    return resolved


@contextmanager
def output_errors(option, path):
    """Report an OSError of the final write as an :class:`OutputFileError`.

    ``option`` is None for standard output that no option named (``path`` "-").
    A reader that went away (BrokenPipeError) is left to the caller, which
    treats it as ``| head``.
    """
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise _error(option, os.fspath(path), exc) from None


def _error(option, path, exc, real=None):
    if exc.errno == errno.ENOENT:
        folder = os.path.dirname(path) or "."
        if os.path.isdir(folder) and real:  # the folder a symbolic link points into
            folder = os.path.dirname(real)
        return OutputFileError(f"{option} '{path}': folder '{folder}' does not exist; "
                               "create it first")
    if exc.errno == errno.EISDIR:
        return OutputFileError(f"{option} '{path}' is a folder; give a file name")
    reason = _FIXES.get(exc.errno)
    if reason is None:
        reason = f"{exc.strerror or exc}; check the path or write it elsewhere"
    what = f"{option} '{path}'" if path != STDOUT else (
        f"{option} - (standard output)" if option else "standard output")
    return OutputFileError(f"{what} cannot be written: {reason}")


def stdout_outputs(resolved):
    """The options among ``resolved`` (from :func:`check_outputs`) that write to stdout."""
    return [option for option, output in resolved.items() if output.is_stdout]


def refuse_binary_on_terminal(option, output):
    """Refuse to write a binary file to standard output when it is a terminal."""
    if output.is_stdout and _isatty(sys.stdout):
        raise OutputFileError(f"{option} {output.path} would print a binary model file on the "
                              f"terminal; redirect it ({option} - > model.mixfit) or give a "
                              "file name")


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _raise_terminated(signum, _frame):
    raise Terminated(signum)


@contextmanager
def signals_as_exceptions():
    """Turn SIGTERM and SIGHUP into :class:`Terminated` while the block runs.

    Only signals left at their default action are taken over (``nohup`` sets
    SIGHUP to be ignored, and that stays so), only in the main thread (the only
    one that may set handlers), and the previous handlers come back afterwards.
    """
    installed = {}
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGTERM", "SIGHUP"):
            signum = getattr(signal, name, None)
            if signum is not None and signal.getsignal(signum) is signal.SIG_DFL:
                installed[signum] = signal.signal(signum, _raise_terminated)
    try:
        yield
    finally:
        for signum, previous in installed.items():
            signal.signal(signum, previous)
