"""Data files checked before they are read: what the path is, and what its bytes are.

:func:`mixfit.io.data_files.read_data` picks a reader by the file's name; these
checks make sure the name tells the truth and that nothing unbounded is read,
so that a wrong file gets one sentence naming it and the fix instead of a hang,
a memory blow-up or a confusing error from deep inside a reader:

* only a regular file is read: a device (``/dev/zero`` never ends), a FIFO
  (opening one waits for a writer) or a socket is refused from its ``stat``,
  without opening it;
* an empty file, and a mixfit model file given where data belongs, are named
  as such;
* the first bytes must be the signature of the format the name promises;
* an array header (``.npy``, an ``.npz`` member, IDX) may not declare more bytes
  than the file can hold, so that no allocation is sized from a damaged header.

Only numpy and the standard library are used. Every problem raises ValueError
(FileNotFoundError and IsADirectoryError for those two), worded for the user.
"""

from __future__ import annotations

import gzip
import math
import os
import stat
import struct
import zipfile
import zlib

import numpy as np

#: How many bytes of a file are looked at to tell what it holds.
_HEAD_BYTES = 512
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a member first, or an empty archive
_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"  # at both ends of a Parquet file
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
#: Bytes per value of each IDX type code.
_IDX_ITEMSIZES = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}
#: Deflate expands data at most ~1032-fold: a member or stream declaring more is
#: damaged or a decompression bomb.
_MAX_DEFLATE_RATIO = 1100
_MODEL_MEMBER = "model.json"

_NOT_REGULAR = {stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
                stat.S_IFIFO: "a FIFO (named pipe)", stat.S_IFSOCK: "a socket"}


def check_path(path, role="data", fix="save the data to a file first"):
    """Refuse a path that is missing, a folder, or not a regular file; return its size.

    ``os.stat`` follows symbolic links and never opens the file, so a FIFO is
    refused without waiting for a writer. ``role`` ("data", "model") and ``fix``
    word the messages.
    """
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{role} file '{path}' does not exist; check the path.") from None
    except OSError as exc:  # a loop of links, a name too long, no permission on a folder
        raise ValueError(f"cannot read {role} file '{path}': {exc.strerror}.") from None
    if stat.S_ISDIR(status.st_mode):
        raise IsADirectoryError(f"{role} path '{path}' is a folder; pass a {role} file.")
    if not stat.S_ISREG(status.st_mode):
        what = _NOT_REGULAR.get(stat.S_IFMT(status.st_mode), "a special file")
        raise ValueError(f"'{path}' is {what}, not a regular file; {fix}.")
    return status.st_size


def check_content(path, kind):
    """Refuse a file whose first bytes are not what its name (``kind``) promises.

    ``kind`` is "npy", "npz", "IDX", "parquet" or "text", as :mod:`mixfit.io.data_files` names
    formats. Empty files and mixfit model files are refused whatever the name.
    """
    with open(path, "rb") as file:
        head = file.read(_HEAD_BYTES)
    if not head:
        raise ValueError(f"'{path}' is empty (0 bytes): it holds no data rows; check that "
                         "it was written completely.")
    if head.startswith(_ZIP_MAGICS) and _is_model_file(path):
        raise ValueError(f"'{path}' is a mixfit model file, not data; to label data with "
                         "it run 'mixfit predict MODEL DATA'.")
    found, fix = _what_it_holds(head)
    if kind == "npy" and not head.startswith(_NPY_MAGIC):
        raise ValueError(f"'{path}' is not a .npy file: it does not start with the .npy "
                         f"signature (\\x93NUMPY) and looks like {found}; {fix}.")
    if kind == "npz" and not head.startswith((*_ZIP_MAGICS, _NPY_MAGIC)):
        # np.load reads by content, so a .npy file named .npz is read as the .npy it is.
        raise ValueError(f"'{path}' is not an .npz archive: it does not start with the zip "
                         f"signature and looks like {found}; {fix}.")
    if kind == "IDX":
        _check_idx_head(path, head, found, fix)
    if kind == "parquet":
        _check_parquet_ends(path, head, found, fix)
    if kind == "text" and found != "text":
        raise ValueError(f"'{path}' is not delimited text: it looks like {found}; {fix}.")


def _check_parquet_ends(path, head, found, fix):
    if not head.startswith(_PARQUET_MAGIC):
        raise ValueError(f"'{path}' is not a Parquet file: it does not start with the "
                         f"Parquet signature (PAR1) and looks like {found}; {fix}.")
    with open(path, "rb") as file:
        file.seek(0, os.SEEK_END)
        size = file.tell()
        file.seek(max(0, size - len(_PARQUET_MAGIC)))
        tail = file.read()
    # The footer (the schema and row groups) is written last: without its closing
    # signature the file was cut short.
    if size < 3 * len(_PARQUET_MAGIC) or tail != _PARQUET_MAGIC:
        raise ValueError(f"'{path}' is a truncated Parquet file: it does not end with the "
                         "Parquet signature (PAR1), so its footer is missing; write or copy "
                         "the file again.")


def _is_model_file(path):
    try:
        with zipfile.ZipFile(path) as archive:
            return _MODEL_MEMBER in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False  # a damaged zip: the format's own reader says what is wrong


def _what_it_holds(head):
    """(description, fix) of what the first bytes of a file look like."""
    if head.startswith(_NPY_MAGIC):
        return "a .npy file", "name it .npy"
    if head.startswith(_ZIP_MAGICS):
        return "a zip archive", "if numpy.savez wrote it, name it .npz"
    if head.startswith(_PARQUET_MAGIC) and b"\x00" in head:
        # Binary after the signature: a text file may well start with "PAR1,".
        return "a Parquet file", "name it .parquet"
    if head.startswith(_GZIP_MAGIC):
        return ("gzip-compressed data", "decompress it first (gunzip), or name it "
                "...-ubyte.gz if it is a gzipped IDX file")
    if head.startswith(_UTF16_BOMS) or _looks_utf16(head):
        return "UTF-16 text", "save it as UTF-8 text (CSV), which mixfit reads"
    if _looks_idx(head):
        return "an IDX file", "name it ...-ubyte or .idx"
    if b"\x00" not in head:
        # Text, or binary without NUL bytes: the text reader tells those apart.
        return "text", "name it .csv (or .txt, .tsv)"
    return "binary data of an unknown format", ("mixfit reads CSV/TSV text, .npy, .npz, "
                                                ".parquet and IDX files (named .idx or "
                                                "-ubyte)")


def _looks_utf16(head):
    # UTF-16 text of ASCII characters has a NUL byte in every other place.
    pairs = head[: len(head) // 2 * 2]
    if len(pairs) < 4:
        return False
    even, odd = pairs[0::2], pairs[1::2]
    return (odd.count(0) == len(odd) and even.count(0) == 0) or (
        even.count(0) == len(even) and odd.count(0) == 0)


def _looks_idx(head):
    return len(head) >= 4 and head[:2] == b"\x00\x00" and head[2] in _IDX_ITEMSIZES


def _check_idx_head(path, head, found, fix):
    if _looks_idx(head):
        return
    if not head.startswith(_GZIP_MAGIC):
        raise ValueError(f"'{path}' is not an IDX file: it does not start with the IDX "
                         f"magic number (two zero bytes, a type code, the rank) and looks "
                         f"like {found}; {fix}.")
    try:
        with gzip.open(path, "rb") as file:
            inner = file.read(4)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"cannot read IDX file '{path}': damaged gzip stream ({exc}); "
                         "download or copy the file again.") from None
    if not _looks_idx(inner):
        raise ValueError(f"'{path}' is gzip-compressed, but what it holds is not an IDX file "
                         "(no IDX magic number: two zero bytes, a type code, the rank); "
                         "decompress it (gunzip) and name it after its format.")


def read_gzipped_idx(path, size):
    """The decompressed bytes of a gzipped IDX file, read no further than its header says.

    The header declares the payload's size; a stream longer than that, or one
    declaring more than deflate can hold in ``size`` compressed bytes, is refused
    before it is decompressed, so a decompression bomb costs no memory.
    """
    name = os.fspath(path)
    try:
        with gzip.open(path, "rb") as file:
            head = file.read(4)
            rank = head[3] if len(head) == 4 else 0
            dims = file.read(4 * rank)
            if len(dims) < 4 * rank:
                return head + dims  # read_idx reports the truncated header
            declared = math.prod(struct.unpack(f">{rank}I", dims)) * _IDX_ITEMSIZES[head[2]]
            if declared > _MAX_DEFLATE_RATIO * max(size, 1):
                raise ValueError(
                    f"cannot read IDX file '{name}': its header declares {declared} bytes "
                    f"of values, more than a {size}-byte gzip file can hold; the file is "
                    "damaged: download or copy it again.")
            # One byte more than declared, so that trailing bytes are still reported.
            return head + dims + file.read(declared + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"cannot read IDX file '{name}': damaged gzip stream ({exc}); "
                         "download or copy the file again.") from None


def check_npy_header(file, available, where):
    """Refuse a .npy header that declares more bytes than the ``available`` ones.

    ``file`` is open at the start of the .npy data; ``where`` names it in
    messages. Headers of object arrays pass: ``np.load`` refuses those itself.
    """
    try:
        version = np.lib.format.read_magic(file)
        # Version 3 differs from 2 only in the header's text encoding (UTF-8),
        # which changes field names, not sizes.
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read(file)
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as exc:
        raise ValueError(f"cannot read {where} as a .npy array: damaged header "
                         f"({_first_line(exc)}).") from None
    declared = math.prod(shape) * dtype.itemsize
    left = available - file.tell()
    if not dtype.hasobject and declared > left:
        raise ValueError(f"{where} is truncated or damaged: its header declares shape "
                         f"{shape} of {dtype} ({declared} bytes), but only {left} bytes "
                         "follow; write the file again.")


def check_npz_member(archive_path, member):
    """Refuse an .npz member that is not a .npy array or whose sizes cannot be true."""
    where = f"array {member.removesuffix('.npy')!r} of '{archive_path}'"
    try:
        with zipfile.ZipFile(archive_path) as archive:
            info = archive.getinfo(member)
            if info.file_size > _MAX_DEFLATE_RATIO * max(info.compress_size, 1) + 4096:
                raise ValueError(f"{where} is damaged: it declares {info.file_size} bytes "
                                 f"compressed into {info.compress_size}, more than deflate "
                                 "can hold; write the archive again.")
            with archive.open(info) as file:
                if file.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
                    raise ValueError(f"{where} is not a .npy array; an .npz archive holds "
                                     "arrays saved with numpy.savez.")
                file.seek(0)
                check_npy_header(file, info.file_size, where)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as exc:
        raise ValueError(f"cannot read {where}: {_first_line(exc)}; write the archive "
                         "again.") from None


def _first_line(exc):
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
