"""The command line's memory check before the data is read (see :mod:`mixfit._memory`).

A ``.npy`` file states its shape and dtype in a header of a few hundred bytes,
so a fit that cannot fit in memory is refused before gigabytes are read. Other
formats only reveal their shape once parsed; for them the estimator's own check,
at the start of ``fit``, is the one that runs.
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np

from mixfit._memory import LargeFitWarning

__all__ = ["check_before_reading", "npy_shape"]


def npy_shape(path):
    """``(shape, dtype)`` from the header of an ``.npy`` file, or None if it cannot be read.

    None too when the file is shorter than its header says: a damaged file is
    for the data reader to report, not a memory problem. Reading problems are
    left to the data reader, which reports them properly.
    """
    try:
        with open(path, "rb") as file:
            version = np.lib.format.read_magic(file)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(file)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(file)
            claimed = file.tell() + math.prod(shape) * np.dtype(dtype).itemsize
            if os.fstat(file.fileno()).st_size < claimed:
                return None
    except (OSError, ValueError, TypeError, SyntaxError, OverflowError):
        return None
    return shape, dtype


def check_before_reading(estimator, path, columns=None):
    """Refuse (FitTooLargeError) a fit of ``estimator`` on an ``.npy`` file too large for memory.

    Only the refusal happens here; the warning about a large fit is left to
    ``fit``, so that it is shown once. Counts the data still to be read against
    the limit too, unless the file is memory-mapped (a plain float array). Does
    nothing for other files, for a column selection (the fit then sees fewer
    features), or when the header cannot be read.
    """
    if columns is not None or not str(path).lower().endswith(".npy"):
        return
    from mixfit.io.mapped_files import float_dtype

    header = npy_shape(path)
    if header is None:
        return
    shape, dtype = header
    dtype = np.dtype(dtype)
    if len(shape) == 1:
        shape = (shape[0], 1)
    if len(shape) != 2 or shape[0] < 2 or shape[1] < 1:
        return
    # The data reader's float type (mixfit.io.mapped_files); a plain float array is
    # memory-mapped, so its pages need no memory of their own: nothing to read first.
    itemsize = float_dtype(dtype).itemsize
    mapped = (dtype.kind == "f" and dtype.itemsize == itemsize and dtype.isnative
              and not _fortran_order(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LargeFitWarning)
        estimator._check_memory(
            shape, itemsize,
            pending_bytes=0 if mapped else int(shape[0]) * int(shape[1]) * itemsize)


def _fortran_order(path):
    from mixfit.io.mapped_files import npy_layout

    return npy_layout(path)[2]
