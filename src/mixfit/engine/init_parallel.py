"""k-means|| (Bahmani, Moseley, Vattani, Kumar & Vassilvitskii 2012): seeding in a few passes.

k-means++ picks K centres one after another, each after a pass over the data:
K passes, which for large K or for data on disk or on a cluster is the cost
that matters. k-means|| (``../shared/MODELS.md`` §4) oversamples instead:

1. one pass draws the first candidate, a row with probability ∝ its weight;
2. ``n_rounds`` passes each draw every row independently with probability
   ``min(1, ℓ · w · d²(x, C) / φ)``, where ``C`` are the candidates so far,
   ``φ = Σ w · d²(x, C)`` their cost and ``ℓ = oversampling_factor · K``;
3. one pass weights each candidate by the weight of the rows nearest to it;
4. in memory, weighted k-means++ and Lloyd's loop on the (about ``ℓ · n_rounds``)
   weighted candidates reduce them to K centres.

So ``n_rounds + 2`` passes whatever K over any source of
:mod:`mixfit.engine.sources` (an array in memory, a memory map, or a Dask
array where its blocks live), each returning candidate-sized results only.

Design choices, stated:

- **Per-row state only where the rows are.** A Dask cluster keeps nothing
  between passes, so on a Dask array every round measures each row against
  *all* the candidates so far (``source.map``; about ``ℓ · n_rounds² / 2``
  distances a row in all, as dask-ml's k-means|| does). An array in memory or
  a memory map keeps each row's nearest candidate and distance (16 bytes a
  row) and measures rows against the last round's new candidates only (about
  ``ℓ · n_rounds`` distances a row): one pass per round still, run chunk by
  chunk on ``n_jobs`` threads. Distances come from K-means' fused E-step
  (:func:`mixfit.engine.kmeans.assign`), shifted by the first candidate.
- **One pass per round, φ included.** A round needs φ of the current
  candidates to sample, and φ is known only at the end of the pass. Each
  block therefore returns its cost φ_b and the rows whose key
  ``w · d² / u`` exceeds ``φ_b / ℓ``, a lower bound of the threshold
  ``φ / ℓ`` (φ ≥ φ_b): in expectation at most ℓ rows per block, capped at
  ``2ℓ + 16`` (the highest keys; a Chernoff bound makes the cap unreachable
  in practice). The caller then keeps the rows with key > ``φ / ℓ``: exactly
  the rows with ``u < ℓ w d² / φ``.
- **Randomness from the rows, not from the blocks or threads.** Each row's
  uniform ``u`` is a hash (splitmix64) of its values' bytes, the seed and the
  round; the first candidate is the row with the smallest exponential key
  ``−log(u) / w`` (a draw ∝ weight). So the candidates do not depend on the
  number of threads or the scheduler, nor (but for a row whose key equals the
  threshold to rounding, since φ is summed per block) on the chunk size or the
  blocks of a Dask array: the same data, dtype and seed give the same
  candidates, and centres equal to rounding (the candidates' weights are
  sums over blocks; distances to a candidate come from GEMMs of other
  shapes in memory and on Dask). (Identical rows share their ``u``: they are drawn together, which
  only duplicates a candidate, and duplicates are merged.) The draws depend
  on the dtype: a float32 copy of the data hashes differently.
- **Fewer candidates than K** (tiny ``oversampling_factor``, or data with
  few distinct rows): more rounds are run, up to ``n_rounds`` more, while the
  cost is positive; if there are still fewer than K (the data has fewer
  distinct rows with positive weight than K), the candidates are returned
  with the heaviest ones repeated, as k-means++ repeats rows there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.utils import check_random_state

from mixfit._parallel import map_chunks
from mixfit._validation import DEFAULT_CHUNK_SIZE, check_positive_int, check_sample_weight
from mixfit.engine.column_stats import distance_shift_and_variance
from mixfit.engine.init import kmeans_plusplus, params_from_labels
from mixfit.engine.kmeans import assign, lloyd
from mixfit.engine.sources import (
    ArraySource,
    DaskSource,
    as_source,
    is_dask_array,
    is_memory_mapped,
    tree_sum,
)

__all__ = ["ParallelCandidates", "kmeans_parallel", "kmeans_parallel_candidates",
           "kmeans_parallel_labels", "kmeans_parallel_mixture_params"]

_MASK64 = (1 << 64) - 1


# ------------------------------------------------------------ row-hash draws


def _mix(h):
    """splitmix64's finaliser on a uint64 array (wrapping arithmetic, no warnings)."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _round_key(seed, round_index):
    """The 64-bit key of one round of one seed (a Python int, a literal in Dask graphs)."""
    value = np.array([(seed + 0x9E3779B97F4A7C15 * (round_index + 1)) & _MASK64],
                     dtype=np.uint64)
    return int(_mix(value)[0])


def _row_uniforms(X_block, key):
    """A uniform in (0, 1) per row, a hash of the row's values and ``key``.

    ``x + 0.0`` maps −0.0 to 0.0, so equal values hash equally.
    """
    values = np.ascontiguousarray(X_block + X_block.dtype.type(0.0))
    words = values.view(np.uint64 if values.dtype.itemsize == 8 else np.uint32)
    h = np.full(values.shape[0], key, dtype=np.uint64)
    for column in range(words.shape[1]):
        h = _mix(h ^ words[:, column].astype(np.uint64))
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def _nearest(X_block, candidates, shift):
    """Squared distance (float64) to, and index of, the nearest candidate of each row.

    K-means' fused E-step (GEMM + one numba pass per chunk, no (rows × candidates)
    array kept), on one thread: the source runs blocks in parallel.
    """
    index, distance = assign(X_block, candidates, chunk_size=None, shift=shift, n_jobs=1)
    return distance, index


# ------------------------------------------------- the block functions (passes)


def _first_block(X_block, weight_block, key):
    """Pass 1: this block's row with the smallest exponential key −log(u)/w, or None."""
    u = _row_uniforms(X_block, key)
    with np.errstate(divide="ignore"):
        keys = -np.log(u) if weight_block is None else -np.log(u) / weight_block
    if not np.isfinite(keys).any():  # every weight is zero
        return None
    best = int(np.argmin(keys))
    return float(keys[best]), np.array(X_block[best])


def _draw(X_block, weight_block, distance, key, oversampling, cap):
    """A block's part of a sampling round, given each row's squared distance to ``C``.

    Returns ``(cost, rows, keys)``: the block's ``Σ w d²`` (float64) and the
    rows with ``w d² / u > cost / ℓ`` (at most ``cap``, the highest keys), which
    include every row of the block that the round draws.
    """
    weighted = distance if weight_block is None else distance * weight_block
    cost = float(weighted.sum())
    keys = weighted / _row_uniforms(X_block, key)
    keep = np.flatnonzero(keys > cost / oversampling)
    if keep.size > cap:
        keep = keep[np.argsort(-keys[keep], kind="stable")[:cap]]
    return cost, np.array(X_block[keep]), keys[keep]


def _round_block(X_block, weight_block, candidates, shift, key, oversampling, cap):
    """A sampling round on one block of any source: distances to every candidate."""
    distance, _ = _nearest(X_block, candidates, shift)
    return _draw(X_block, weight_block, distance, key, oversampling, cap)


def _weight_block(X_block, weight_block, candidates, shift):
    """The last pass: the weight of this block's rows nearest to each candidate."""
    _, index = _nearest(X_block, candidates, shift)
    return np.bincount(index, weights=weight_block,
                       minlength=candidates.shape[0]).astype(np.float64)


class _Recomputed:
    """The passes on any source (a Dask array's included): nothing is kept per row,
    so every pass measures each row against all the candidates so far."""

    def __init__(self, source, shift):
        self.source, self.shift = source, shift

    def round(self, candidates, measured, key, oversampling, cap):
        return self.source.map(_round_block, candidates, self.shift, key, oversampling, cap)

    def weights(self, candidates, measured):
        return self.source.fold(_weight_block, candidates, self.shift)


class _Kept:
    """The passes on an array in memory or a memory map: each row's nearest
    candidate and its squared distance are kept between passes (16 bytes a row,
    as k-means++ keeps 8), so a pass measures rows against the candidates added
    since the last one only: about ``ℓ · n_rounds`` distances a row in all,
    instead of about ``ℓ · n_rounds²`` when recomputed."""

    def __init__(self, source, shift):
        self.source, self.shift = source, shift
        n_samples = source.shape[0]
        self.closest = np.full(n_samples, np.inf)
        self.nearest = np.zeros(n_samples, dtype=np.intp)

    def _chunks(self, function):
        source = self.source
        return map_chunks(function, source.shape[0], source.chunk_size, source.n_jobs)

    def _measure(self, rows, candidates, measured):
        """This chunk's rows against ``candidates[measured:]``; returns the rows."""
        X_block = self.source.X[rows]
        if measured < candidates.shape[0]:
            distance, index = _nearest(X_block, candidates[measured:], self.shift)
            old = self.closest[rows]
            closer = distance < old  # ties keep the earlier candidate, as argmin
            self.closest[rows] = np.where(closer, distance, old)
            self.nearest[rows] = np.where(closer, index + measured, self.nearest[rows])
        return X_block

    def _weight(self, rows):
        weight = self.source.sample_weight
        return None if weight is None else weight[rows]

    def round(self, candidates, measured, key, oversampling, cap):
        def one(rows):
            X_block = self._measure(rows, candidates, measured)
            return _draw(X_block, self._weight(rows), self.closest[rows], key, oversampling,
                         cap)

        return self._chunks(one)

    def weights(self, candidates, measured):
        def one(rows):
            self._measure(rows, candidates, measured)
            return np.bincount(self.nearest[rows], weights=self._weight(rows),
                               minlength=candidates.shape[0]).astype(np.float64)

        return tree_sum(self._chunks(one))


# ----------------------------------------------------------------- the driver


@dataclass(frozen=True)
class ParallelCandidates:
    """The weighted candidates of k-means|| before their reduction to K centres.

    Attributes
    ----------
    candidates : ndarray of shape (n_candidates, n_features)
        Distinct rows of the data, in the data's dtype (in lexicographic order
        within each round).
    weights : ndarray of shape (n_candidates,)
        Weight of the rows nearest to each candidate (float64, positive).
    n_passes : int
        Passes over the data taken (``n_rounds + 2`` unless more rounds were
        needed for K candidates).
    cost : float
        ``φ`` of the candidates before the last round's draws were added.
    """

    candidates: np.ndarray
    weights: np.ndarray
    n_passes: int
    cost: float


def _check_settings(n_clusters, oversampling_factor, n_rounds):
    n_clusters = check_positive_int(n_clusters, "n_clusters")
    n_rounds = check_positive_int(n_rounds, "n_rounds")
    if isinstance(oversampling_factor, (bool, np.bool_)) or not isinstance(
            oversampling_factor, (int, float, np.number)) or not (
            math.isfinite(oversampling_factor) and oversampling_factor > 0):
        raise ValueError(
            f"oversampling_factor must be a finite number > 0, got {oversampling_factor!r}; "
            "each round draws about oversampling_factor × n_clusters rows (2.0 is usual)."
        )
    return n_clusters, float(oversampling_factor), n_rounds


def _source(X, sample_weight, chunk_size, n_jobs):
    if isinstance(X, (ArraySource, DaskSource)):
        if sample_weight is not None:
            raise ValueError("pass sample_weight to the source, not to kmeans_parallel, "
                             "when X is already a source.")
        return X
    if sparse.issparse(X):
        raise TypeError("init='k-means||' takes dense data only; use init='k-means++' "
                        "for sparse X.")
    if is_dask_array(X):
        return as_source(X, sample_weight)
    if not isinstance(X, np.ndarray) or X.dtype not in (np.float32, np.float64):
        X = np.asarray(X, dtype=np.float64)  # a memory map stays one
    if sample_weight is not None:  # checked; the unit scaling undone (a power of two: exact)
        sample_weight, scale = check_sample_weight(sample_weight, X.shape[0], return_scale=True)
        sample_weight = sample_weight * scale
    return as_source(X, sample_weight, chunk_size=chunk_size, n_jobs=n_jobs)


def _merged(rows):
    """Distinct rows in lexicographic order (independent of the blocks' order)."""
    if rows.shape[0] < 2:
        return rows
    return np.unique(rows, axis=0)


def kmeans_parallel_candidates(X, n_clusters, *, sample_weight=None, oversampling_factor=2.0,
                               n_rounds=5, random_state=None, chunk_size=DEFAULT_CHUNK_SIZE,
                               n_jobs=1):
    """Steps 1–3 of k-means||: the weighted candidates, in ``n_rounds + 2`` passes.

    Parameters are those of :func:`kmeans_parallel`; ``random_state`` may also
    be a RandomState, from which one 62-bit seed is drawn.

    Returns
    -------
    ParallelCandidates
    """
    n_clusters, oversampling, n_rounds = _check_settings(n_clusters, oversampling_factor,
                                                         n_rounds)
    source = _source(X, sample_weight, chunk_size, n_jobs)
    rng = check_random_state(random_state)
    seed = int(rng.randint(0, 2**62, dtype=np.int64))
    ell = oversampling * n_clusters
    cap = int(2 * math.ceil(ell)) + 16

    firsts = [found for found in source.map(_first_block, _round_key(seed, 0))
              if found is not None]
    if not firsts:
        raise ValueError("k-means|| needs at least one row with a positive weight.")
    # The smallest key; equal keys (identical rows) hold identical rows.
    candidates = min(firsts, key=lambda found: found[0])[1][None, :]
    shift = candidates[0].astype(np.float64)  # a data row: distances stay well conditioned
    # Rows on a cluster keep no state between passes; nor do those of a memory
    # map, whose fits keep nothing of size n beside it (16 bytes a row here).
    lean = source.is_distributed or is_memory_mapped(source.X)
    passes = (_Recomputed if lean else _Kept)(source, shift)
    n_passes, cost, round_index, measured = 1, math.inf, 0, 0
    while round_index < n_rounds or (candidates.shape[0] < n_clusters and cost > 0
                                     and round_index < 2 * n_rounds):
        round_index += 1
        parts = passes.round(candidates, measured, _round_key(seed, round_index), ell, cap)
        measured = candidates.shape[0]
        n_passes += 1
        cost = math.fsum(part[0] for part in parts)
        threshold = cost / ell
        drawn = [part[1][part[2] > threshold] for part in parts]
        drawn = _merged(np.concatenate(drawn)) if drawn else candidates[:0]
        if drawn.shape[0]:
            candidates = np.concatenate([candidates, drawn])
    weights = passes.weights(candidates, measured)
    n_passes += 1
    keep = weights > 0
    return ParallelCandidates(candidates[keep], weights[keep], n_passes, cost)


def kmeans_parallel(X, n_clusters, *, sample_weight=None, oversampling_factor=2.0, n_rounds=5,
                    random_state=None, chunk_size=DEFAULT_CHUNK_SIZE, n_jobs=1):
    """K initial centres by k-means|| (Bahmani et al. 2012), in ``n_rounds + 2`` passes.

    See the module's notes for how each pass works and what it returns.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), memory map, or a source
        Validated dense data (float32 or float64), or an
        :class:`~mixfit.engine.sources.ArraySource` / ``DaskSource`` (which
        carries its own weights).
    n_clusters : int
    sample_weight : ndarray of shape (n_samples,), optional
        Non-negative weights (not with a source).
    oversampling_factor : float, default=2.0
        ``ℓ / K``: each round draws about ``oversampling_factor × n_clusters`` rows.
    n_rounds : int, default=5
        Sampling rounds (passes); Bahmani et al. find five enough.
    random_state : int, RandomState instance or None
    chunk_size : int, default=4096
        Rows per block for an in-memory or memory-mapped X (a Dask array's
        own blocks are used as they are).
    n_jobs : int, default=1
        Threads over blocks (resolved); the result does not depend on it.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features), X's dtype
        After weighted k-means++ and Lloyd's loop on the candidates (so not
        rows of X, in general).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
    >>> centers = kmeans_parallel(X, 2, random_state=0)
    >>> sorted(centers[:, 0].tolist())
    [0.0, 10.0]
    """
    rng = check_random_state(random_state)
    found = kmeans_parallel_candidates(
        X, n_clusters, sample_weight=sample_weight, oversampling_factor=oversampling_factor,
        n_rounds=n_rounds, random_state=rng, chunk_size=chunk_size, n_jobs=n_jobs)
    candidates, weights = found.candidates, found.weights
    if candidates.shape[0] <= n_clusters:
        # Fewer distinct rows than K: all of them, the heaviest repeated.
        extra = np.argsort(-weights, kind="stable")[np.arange(n_clusters - candidates.shape[0])
                                                    % candidates.shape[0]]
        return np.concatenate([candidates, candidates[extra]])
    seed = int(rng.randint(np.iinfo(np.int32).max))
    centers = kmeans_plusplus(candidates, n_clusters, sample_weight=weights, random_state=seed)
    shift, _ = distance_shift_and_variance(candidates, weights)
    run = lloyd(candidates, centers, sample_weight=weights, max_iter=300, tol=0.0, shift=shift)
    return run.centers.astype(candidates.dtype, copy=False)


def kmeans_parallel_labels(X, n_clusters, *, sample_weight=None, random_state=None,
                           chunk_size=None):
    """Labels of one K-means run started by k-means||: a mixture's ``"k-means||"`` start.

    As :func:`mixfit.engine.init.kmeans_labels` (one seed from
    ``random_state``, Lloyd's loop to 1e-4 of the mean column variance or 300
    iterations), with :func:`kmeans_parallel` in place of k-means++.
    """
    rng = check_random_state(random_state)
    seed = rng.randint(np.iinfo(np.int32).max, size=1)[0]
    shift, variance = distance_shift_and_variance(X, sample_weight)
    centers = kmeans_parallel(X, n_clusters, sample_weight=sample_weight, random_state=seed,
                              chunk_size=chunk_size or DEFAULT_CHUNK_SIZE)
    run = lloyd(X, centers, sample_weight=sample_weight, max_iter=300, tol=1e-4 * variance,
                chunk_size=chunk_size, shift=shift)
    return run.labels


def kmeans_parallel_mixture_params(family, X, n_components, *, sample_weight=None,
                                   random_state=None, chunk_size=DEFAULT_CHUNK_SIZE):
    """A mixture's ``init_params="k-means||"`` start: the M-step of a K-means partition.

    The ``"kmeans"`` start (:func:`mixfit.engine.init.initial_mixture_params`)
    with its centres seeded by k-means|| instead of k-means++.

    Returns
    -------
    MixtureParams
    """
    labels = kmeans_parallel_labels(X, n_components, sample_weight=sample_weight,
                                    random_state=random_state, chunk_size=chunk_size)
    return params_from_labels(family, X, labels, n_components, sample_weight=sample_weight,
                              chunk_size=chunk_size)
