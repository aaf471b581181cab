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

from numba import njit, types
from numba.extending import register_jitable

__all__ = ["check_blocks", "check_rows", "check_sweep", "require"]


# One compiled signature: numba types a string constant as a literal of its own
# value, so a plain ``@njit`` compiled ``require`` anew for every message (168
# versions, 35 s of a cold test run).
@njit(types.void(types.boolean, types.unicode_type, types.unicode_type), nogil=True,
      cache=True)
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


# The checks below are compiled into each kernel that calls them
# (``register_jitable`` types their arguments without literals first), rather than
# once per kernel name given as a literal.
@register_jitable
def check_sweep(kernel, X, sample_weight, n_components, chunk_size, chunk_begin, chunk_end, slot,
                log_likelihood, weight, resp_sum, first):
    """What every sweep of :mod:`mixfit.kernels.sweep` indexes: its chunks of X, the weights and
    its output slot."""
    n_samples, n_features = X.shape
    require(n_components >= 1 and n_features >= 1, kernel, "no components or no features")
    require(sample_weight.shape[0] == 0 or sample_weight.shape[0] == n_samples, kernel,
            "sample_weight must be empty or have one entry per row of X")
    require(chunk_size >= 1 and 0 <= chunk_begin <= chunk_end, kernel,
            "chunk_size >= 1 and 0 <= chunk_begin <= chunk_end")
    # Chunks past the data would only be empty, but chunk * chunk_size could overflow.
    require(chunk_end <= (n_samples + chunk_size - 1) // chunk_size, kernel,
            "chunk_end beyond the chunks of X")
    n_slots = log_likelihood.shape[0]
    require(0 <= slot < n_slots and weight.shape[0] == n_slots and resp_sum.shape[0] == n_slots
            and first.shape[0] == n_slots, kernel, "slot outside the output arrays")
    require(resp_sum.shape[1] == n_components and first.shape[1] == n_components
            and first.shape[2] == n_features, kernel,
            "resp_sum (slots, K) and first (slots, K, d) for K components of X's d features")


@register_jitable
def check_rows(kernel, X, n_components, row_begin, row_end, labels, log_resp, log_norm):
    """What every posterior kernel of :mod:`mixfit.kernels.sweep` indexes: rows of X and, where
    not empty, its outputs."""
    n_samples, n_features = X.shape
    require(n_components >= 1 and n_features >= 1, kernel, "no components or no features")
    require(0 <= row_begin <= row_end <= n_samples, kernel,
            "0 <= row_begin <= row_end <= rows of X")
    require(labels.shape[0] == 0 or labels.shape[0] >= row_end, kernel,
            "labels must be empty or cover the rows")
    require(log_norm.shape[0] == 0 or log_norm.shape[0] >= row_end, kernel,
            "log_norm must be empty or cover the rows")
    require(log_resp.shape[0] == 0 or (log_resp.shape[0] >= row_end
                                       and log_resp.shape[1] == n_components
                                       and log_norm.shape[0] >= row_end), kernel,
            "log_resp (n, K) must be empty or cover the rows, with log_norm")


@register_jitable
def check_blocks(kernel, n_rows, starts, sums, counts, inertia, n_changed):
    """The checks of a parallel driver over blocks, made before its threads start.

    ``starts`` must run from 0 to ``n_rows`` without decreasing (block ``b`` is
    ``starts[b]:starts[b + 1]``), and ``sums``, ``counts``, ``inertia`` and
    ``n_changed`` hold one entry per block. An error raised inside the
    threads would not come back as this message.
    """
    n_blocks = starts.shape[0] - 1
    ordered = n_blocks >= 0 and starts[0] == 0 and starts[n_blocks] == n_rows
    for b in range(max(0, n_blocks)):
        ordered = ordered and starts[b] <= starts[b + 1]
    require(ordered and sums.shape[0] == n_blocks and counts.shape[0] == n_blocks
            and inertia.shape[0] == n_blocks and n_changed.shape[0] == n_blocks, kernel,
            "starts from 0 to X's rows, increasing; sums, counts, inertia and n_changed "
            "with one entry per block")
