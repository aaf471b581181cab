"""Output files: finding where a result goes and writing it without losing data.

Every file mixfit writes (model files, CSV labels and probabilities) goes
through :func:`writing`, which picks one of three ways by what the path names:

* a regular file, existing or not, is written under a hidden temporary name in
  its folder, synced, then renamed onto it: readers see the old file or the
  complete new one, and a failure or a signal leaves the old file and no
  temporary file. A symbolic link is resolved first, so the link survives and
  its target gets the new content;
* anything else — a character device (``/dev/null``), a FIFO, a socket, a
  descriptor path (``/dev/stdout``, ``/proc/self/fd/N``) — is opened and
  written in place: renaming a file over it would replace the device or the
  link rather than write to it, and ``/dev/stdout`` would lose the output when
  the shell redirected it to a file;
* ``-`` is standard output.

Errors name the path the caller gave, never the temporary file. This module is
at the bottom of the package: it imports nothing from mixfit.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
import sys
from contextlib import contextmanager, suppress

#: The path that means standard output.
STDOUT = "-"

# A descriptor of some process: /proc/<pid>/fd/N, /dev/fd/N, /dev/std{in,out,err}.
_DESCRIPTOR = re.compile(r"/proc/(?P<pid>self|\d+)/fd/(?P<fd>\d+)|/dev/fd/(?P<devfd>\d+)"
                         r"|/dev/(?P<std>stdin|stdout|stderr)")
_STANDARD = {"stdin": 0, "stdout": 1, "stderr": 2}
# More symbolic links than this in one chain is a loop (Linux's own limit is 40).
_MAX_LINKS = 40


class Output:
    """Where one output goes, found before anything is written.

    Attributes
    ----------
    path : str
        The path as the caller gave it, for messages.
    kind : {"stdout", "descriptor", "through", "replace"}
        Standard output; a descriptor of this process; a non-regular file written
        in place; a regular file replaced atomically.
    real : str or None
        The file to open ("through") or to replace ("replace", symbolic links
        resolved).
    fd : int or None
        The descriptor, for "stdout" (1) and "descriptor".
    """

    __slots__ = ("path", "kind", "real", "fd")

    def __init__(self, path, kind, real=None, fd=None):
        self.path, self.kind, self.real, self.fd = path, kind, real, fd

    @property
    def is_stdout(self):
        """Whether the output lands on this process's standard output."""
        return self.fd == 1

    def __repr__(self):
        return f"Output({self.path!r}, {self.kind!r}, real={self.real!r}, fd={self.fd!r})"


def resolve_output(path):
    """Find where writing to ``path`` would go; writes nothing.

    Parameters
    ----------
    path : str or os.PathLike
        ``-`` for standard output.

    Returns
    -------
    Output

    Raises
    ------
    IsADirectoryError
        If ``path`` is a folder.
    OSError
        If the path cannot be looked at (a loop of links, a file used as a
        folder); the error names ``path``.
    """
    path = os.fspath(path)
    if not path:  # realpath("") is the current folder: never a file to replace
        raise FileNotFoundError(errno.ENOENT, "the path is empty; give a file name", path)
    if path == STDOUT:
        return Output(path, "stdout", fd=1)
    fd, descriptor_path = _descriptor_of(path)
    if fd is not None:
        return Output(path, "descriptor", real=path, fd=fd)
    try:
        status = os.stat(path)
    except FileNotFoundError:
        status = None
    except OSError as exc:
        raise naming(exc, path) from None
    if status is not None and stat.S_ISDIR(status.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a folder; give a file name", path)
    if descriptor_path or (status is not None and not stat.S_ISREG(status.st_mode)):
        return Output(path, "through", real=path)
    return Output(path, "replace", real=os.path.realpath(path))


def _descriptor_of(path):
    """(fd, True) when ``path`` leads to a descriptor of this process, (None, True)
    when it leads to another process's, (None, False) otherwise.

    The chain of links is followed one step at a time, because resolving it in
    one go loses the step that matters: ``/dev/stdout`` resolves to the file
    the shell redirected standard output to.
    """
    current = os.path.abspath(path)
    for _ in range(_MAX_LINKS):
        head, tail = os.path.split(current)
        current = os.path.join(os.path.realpath(head), tail)
        match = _DESCRIPTOR.fullmatch(current)
        if match:
            if match["std"]:
                return _STANDARD[match["std"]], True
            if match["devfd"]:
                return int(match["devfd"]), True
            ours = match["pid"] in ("self", str(os.getpid()))
            return (int(match["fd"]) if ours else None), True
        if not os.path.islink(current):
            break
        try:
            target = os.readlink(current)
        except OSError:
            break
        current = os.path.normpath(os.path.join(os.path.dirname(current), target))
    return None, False


def check_writable(output):
    """Make sure ``output`` can be written, by creating and removing a file.

    Permission bits cannot tell (root passes them all; a read-only file system
    or a full quota does not show in them), so a temporary file is created in
    the folder that will receive the result, then removed.

    Parameters
    ----------
    output : Output
        From :func:`resolve_output`.

    Raises
    ------
    OSError
        If the output cannot be written; it names ``output.path``.
    """
    if output.kind in ("stdout", "descriptor"):
        try:
            os.fstat(output.fd)
        except OSError as exc:
            raise naming(exc, output.path) from None
        return
    if output.kind == "through":
        return  # opening a FIFO to try it would block until it has a reader
    temporary = _temporary_name(output.real)
    try:
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise naming(exc, output.path) from None
    finally:
        with suppress(OSError):
            os.unlink(temporary)


def same_file(output, other):
    """Whether writing ``output`` would write over the file ``other``.

    Both are paths (``-`` is standard output). Files compare by device and
    inode, so a symbolic or hard link to the same data counts; an output that
    does not exist yet is the same as another output only if both resolve to
    one path.
    """
    output, other = os.fspath(output), os.fspath(other)
    if output == other == STDOUT:
        return True
    first, second = _status(output), _status(other)
    if first is not None and second is not None:
        return os.path.samestat(first, second)
    if STDOUT in (output, other):
        return False
    return os.path.realpath(output) == os.path.realpath(other)


def _status(path):
    try:
        return os.fstat(1) if path == STDOUT else os.stat(path)
    except OSError:
        return None


def is_regular_file(path):
    """Whether ``path`` (``-``: standard output) is an existing regular file."""
    status = _status(os.fspath(path))
    return status is not None and stat.S_ISREG(status.st_mode)


def naming(exc, path):
    """``exc``, an OSError, as one that names ``path`` instead of the file it named."""
    if exc.errno is None:
        return OSError(f"cannot write '{path}': {exc}")
    # OSError(errno, ...) makes the matching subclass (PermissionError, ...).
    return OSError(exc.errno, exc.strerror or os.strerror(exc.errno), os.fspath(path))


def _temporary_name(real):
    directory, filename = os.path.split(real)
    return os.path.join(directory, f".{filename[:100]}.{secrets.token_hex(8)}.tmp")


@contextmanager
def writing(target, *, binary):
    """Open an output for writing; what is written lands only on success.

    Parameters
    ----------
    target : str, os.PathLike or Output
        The path (``-`` for standard output) or its :func:`resolve_output`.
    binary : bool
        A binary file, or a UTF-8 text file with ``newline=""`` (what the csv
        module wants).

    Yields
    ------
    file
        Write to it inside the ``with`` block. A regular file is replaced when
        the block ends without error; on an error or a signal (any exception)
        the previous file stays and the temporary one is removed.

    Raises
    ------
    OSError
        If the output cannot be written; it names the path given, not the
        temporary file.
    """
    output = target if isinstance(target, Output) else resolve_output(target)
    if output.kind == "replace":
        with _replacing(output, binary) as file:
            yield file
        return
    if output.kind == "stdout":
        stream = sys.stdout.buffer if binary else sys.stdout
        yield stream
        stream.flush()
        return
    try:
        if output.kind == "descriptor":
            # Written through a duplicate of the descriptor: opening the path anew
            # would truncate a file the shell opened for appending (>>).
            for stream in (sys.stdout, sys.stderr):
                with suppress(AttributeError, ValueError, OSError):
                    stream.flush()
            handle = os.dup(output.fd)
        else:
            handle = os.open(output.real, os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                             | getattr(os, "O_BINARY", 0), 0o666)
        mode = {"mode": "wb"} if binary else {"mode": "w", "newline": "", "encoding": "utf-8"}
        with os.fdopen(handle, **mode) as file:
            yield file
    except BrokenPipeError:
        raise  # the reader went away: the command line treats it as `| head`
    except OSError as exc:
        raise naming(exc, output.path) from None


@contextmanager
def _replacing(output, binary):
    temporary = _temporary_name(output.real)
    directory = os.path.dirname(output.real)
    try:
        previous = os.stat(output.real)
    except OSError:
        previous = None
    try:
        # os.open rather than mkstemp: mkstemp's 0600 would end up on a new file,
        # while 0666 lets the umask decide, as for any new file.
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                         | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as exc:
        raise naming(exc, output.path) from None
    try:
        mode = {"mode": "wb"} if binary else {"mode": "w", "newline": "", "encoding": "utf-8"}
        with os.fdopen(handle, **mode) as file:
            yield file
            file.flush()
            # Without fsync the rename can reach the disk before the data, and a
            # crash would leave an empty file where the old one was.
            os.fsync(file.fileno())
        if previous is not None and stat.S_ISREG(previous.st_mode):
            # A replaced file keeps its permissions (a private file stays private).
            os.chmod(temporary, stat.S_IMODE(previous.st_mode))
        os.replace(temporary, output.real)
    except BaseException as exc:
        with suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise naming(exc, output.path) from None
        raise
    with suppress(OSError):  # makes the rename itself durable; not possible everywhere
        dir_fd = os.open(directory or ".", os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
