"""Shape checks at the entry of every numba kernel.

numba compiles array indexing without bounds checks (that is much of its
speed), so a kernel handed arrays of inconsistent shapes reads and writes
outside them: wrong numbers at best, a corrupted heap or a segmentation fault
at worst. The Python above the kernels validates its inputs, but a kernel must
be safe whatever calls it — a fitted model with attributes of another width, a
future caller that gets one size wrong — so each kernel entry checks, in O(1)
(O(rows) where it reads indices from an array), that every index it will use
lies inside its arrays, and raises ``ValueError`` otherwise.

A failed check is always a bug in mixfit, never bad user input: the
estimators refuse bad input with their own messages long before this.
"""

from __future__ import annotations

from numba import njit

__all__ = ["require"]


@njit(nogil=True, cache=True)
def require(condition, kernel, what):
    """Raise ``ValueError`` naming ``kernel`` and ``what`` unless ``condition`` holds.

    Parameters
    ----------
    condition : bool
        The shape relation the kernel relies on.
    kernel, what : str
        The kernel's name and the relation, for the message.
    """
    if not condition:
        raise ValueError(
            "mixfit internal error: kernel " + kernel + " was given arrays whose "
            "shapes do not match (" + what + "); nothing was computed. This is a bug "
            "in mixfit: please report it with the code that led here."
        )
