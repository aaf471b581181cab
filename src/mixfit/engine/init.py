"""Initial centres: k-means++, random rows, and the lecture's mean-plus-noise.

Every sampler here treats a row of integer weight ``w`` exactly like ``w`` copies
of the row, with the same ``random_state``:

* each draw is ``u = rng.uniform() * total`` located in the cumulative sum of the
  (weighted) masses, so a weight-2 row owns the same interval as two adjacent
  copies, and a zero-weight row owns an empty interval and is never chosen;
* the cumulative sum runs over the rows in a *canonical order* that depends only on
  the row values (see :func:`_canonical_order`), not on their positions, so
  shuffling the rows, or repeating them, does not move the intervals. It sorts
  the rows by value, column 0 first, which rounding float64 to float32 does not
  change: a ``random_state`` gives the same start in either dtype (except where
  rounding makes distinct rows equal).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse
from sklearn.utils import check_random_state

from mixfit.engine import kmeans_sparse as _kmeans_sparse

from mixfit.kernels.row_order import lexicographic_row_order
from mixfit._validation import (
    DEFAULT_CHUNK_SIZE,
    row_chunks,
    check_chunk_size,
    check_n_samples_at_least,
    check_positive_int,
    check_sample_weight,
)
from mixfit.engine.column_stats import column_means, distance_shift_and_variance
from mixfit.engine.kmeans import lloyd, squared_distances
from mixfit.engine.hierarchical import hc_start
from mixfit._memory import HC_MAX_ROWS

__all__ = [
    "MIXTURE_INITS",
    "initial_mixture_params",
    "kmeans_plusplus",
    "lecture_means",
    "params_from_labels",
    "params_from_means",
    "params_from_resp",
    "random_from_data",
]


# ---------------------------------------------------------------------------
# helpers


def _check_inputs(X, n_clusters, sample_weight, *, picks_rows=True, ones=True):
    """Validate the arguments shared by the seeders; return (X, n_clusters, weight).

    Seeders that pick rows (``picks_rows``) need at least ``n_clusters`` rows of
    positive weight. Without sample weights, ``weight`` is an array of ones if
    ``ones``, else None (k-means++ then spares those n floats).
    """
    if sparse.issparse(X):
        X = _kmeans_sparse.as_csr(X)  # canonical CSR; the caller's matrix is not touched
    else:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(
                f"X must be a 2-D array of shape (n_samples, n_features), got {X.ndim}-D; "
                "reshape it, e.g. X.reshape(-1, 1) for a single feature."
            )
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    # A sparse matrix's implicit zeros are finite: only its stored values can fail.
    if not (np.isfinite(X.data).all() if sparse.issparse(X) else _all_finite(X)):
        raise ValueError("X contains NaN or infinity; remove or impute those values.")
    n_clusters = check_positive_int(n_clusters, "n_clusters")
    weight = check_sample_weight(sample_weight, X.shape[0])
    if picks_rows:
        check_n_samples_at_least(X, n_clusters, "n_clusters", weight)
    if weight is None and ones:
        weight = np.ones(X.shape[0])
    return X, n_clusters, weight


def _all_finite(X):
    """Whether every value of X is finite, without an n × d boolean temporary."""
    # A sum of finite values is finite unless they sit near the overflow limit;
    # only then are the rows looked at, a chunk at a time.
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(X)):
            return True
    return all(np.isfinite(X[sl]).all() for sl in row_chunks(X.shape[0], DEFAULT_CHUNK_SIZE))


def _canonical_order(X):
    """A row order that depends only on the multiset of row values, not on the dtype.

    Returns
    -------
    order : ndarray of shape (n_samples,), int64
        Row indices sorted by the rows' values (column 0 first); identical rows
        are adjacent, in the order of their indices.
    new_group : ndarray of shape (n_samples,), bool
        ``new_group[i]`` is True when ``X[order[i]]`` differs from the row before it.

    Sorting by value, not by a hash of the bytes, is what makes float32 and
    float64 copies of the data give the same order (rounding is monotone), so a
    ``random_state`` gives the same seeds whatever the dtype. X is dense or CSR
    (see :func:`mixfit.kernels.row_order.lexicographic_row_order`).
    """
    return lexicographic_row_order(X)


def _shift(X, weight):
    """Weighted mean (float64), subtracted before GEMMs to limit cancellation.

    Zeros for sparse X: shifting it would make it dense.
    """
    if sparse.issparse(X):
        return np.zeros(X.shape[1])
    return column_means(X, weight)


# ---------------------------------------------------------------------------
# public seeders


def kmeans_plusplus(
    X,
    n_clusters,
    *,
    sample_weight=None,
    random_state=None,
    n_local_trials=None,
    chunk_size=None,
):
    """Greedy k-means++ seeding (Arthur & Vassilvitskii, 2007), weighted.

    The first centre is a row drawn with probability ∝ weight; each next centre
    is the best (lowest resulting potential) of ``n_local_trials`` rows drawn
    with probability ∝ weight × squared distance to the nearest chosen centre.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_clusters : int
        Number of centres, at most the number of rows with positive weight.
    sample_weight : array-like of shape (n_samples,) or None
        Non-negative weights; zero-weight rows are never chosen, and a row of
        integer weight ``w`` is equivalent to ``w`` copies of it.
    random_state : int, RandomState instance or None
    n_local_trials : int or None
        Candidates per centre; None means ``2 + int(log(n_clusters))``.
    chunk_size : int or None
        Rows per GEMM block.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features), X's dtype
        Rows of X. They are distinct as long as X has at least ``n_clusters``
        distinct rows with positive weight.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
    >>> centers = kmeans_plusplus(X, 2, random_state=0)
    >>> sorted(centers[:, 0].tolist())
    [0.0, 10.0]
    """
    X, n_clusters, weight = _check_inputs(X, n_clusters, sample_weight, ones=False)
    chunk_size = check_chunk_size(chunk_size)
    if n_local_trials is None:
        n_local_trials = 2 + int(math.log(n_clusters))
    n_local_trials = check_positive_int(n_local_trials, "n_local_trials")
    rng = check_random_state(random_state)

    # Memory beyond X: the canonical order (n int64) and the distances to the
    # nearest centre (n float64), both needed at every draw; everything else is
    # per chunk. The cumulative masses are never stored: each draw recomputes
    # them a chunk at a time, adding in the same order as one np.cumsum, so the
    # draws (and hence the centres) are those of the whole-array version.
    order, _ = _canonical_order(X)
    shift = _shift(X, weight)
    total_weight = _total_mass(order, weight, None, chunk_size)

    centers = np.empty((n_clusters, X.shape[1]), dtype=X.dtype)
    u = rng.uniform(size=1) * total_weight
    first = order[_draw_chunked(order, weight, None, u, total_weight, chunk_size)[0]]
    centers[0] = _kmeans_sparse.dense_rows(X, [first])[0]
    closest = np.empty(X.shape[0], dtype=np.float64)
    _exact_sq_dist(X, centers[0], chunk_size, closest, minimum=False)

    for c in range(1, n_clusters):
        total = _total_mass(order, weight, closest, chunk_size)
        if total > 0:
            u = rng.uniform(size=n_local_trials) * total
            positions = _draw_chunked(order, weight, closest, u, total, chunk_size)
        else:
            # Every positive-weight row already is a centre (fewer distinct rows
            # than n_clusters): repeat rows, drawn ∝ weight.
            u = rng.uniform(size=n_local_trials) * total_weight
            positions = _draw_chunked(order, weight, None, u, total_weight, chunk_size)
        candidates = order[positions]
        potentials = _candidate_potentials(
            X, _kmeans_sparse.dense_rows(X, candidates), closest, weight, chunk_size, shift
        )
        # Potentials equal up to rounding are ties (summing w·d² over a weighted
        # row or over its copies rounds differently): break them by canonical
        # position, which does not depend on how the data were laid out.
        tied = potentials <= potentials.min() * (1 + 1e-9)
        best = order[positions[tied].min()]
        centers[c] = _kmeans_sparse.dense_rows(X, [best])[0]
        _exact_sq_dist(X, centers[c], chunk_size, closest, minimum=True)
    return centers


#: Positions per block of the cumulative-mass passes: 512 KiB of float64, few
#: enough Python steps per pass (40 at n = 2.6e6) that k-means++ keeps its speed.
_MASS_BLOCK = 1 << 16


def _cumulative_chunks(order, weight, closest, chunk_size):
    """Yield ``(start, cum)``: the cumulative masses of canonical positions, a chunk at a time.

    The mass of position i is ``weight[order[i]] · closest[order[i]]`` (a missing
    factor is one). The running total enters each chunk through its first element
    before ``np.cumsum``, so every value is the one a single ``np.cumsum`` over
    all positions gives: that adds strictly left to right too.
    """
    carry = 0.0
    for sl in row_chunks(order.shape[0], max(chunk_size, _MASS_BLOCK)):
        rows = order[sl]
        if closest is None:
            mass = np.ones(rows.shape[0]) if weight is None else weight[rows]
        else:
            mass = closest[rows]
            if weight is not None:
                mass *= weight[rows]
        mass[0] += carry
        cum = np.cumsum(mass, out=mass)
        carry = cum[-1]
        yield sl.start, cum


def _total_mass(order, weight, closest, chunk_size):
    """The last cumulative mass (what ``np.cumsum(masses)[-1]`` gives)."""
    total = 0.0
    for _, cum in _cumulative_chunks(order, weight, closest, chunk_size):
        total = cum[-1]
    return float(total)


def _draw_chunked(order, weight, closest, u, total, chunk_size):
    """Canonical positions whose cumulative-mass interval ``[cum[i-1], cum[i])`` holds ``u``.

    The cumulative masses are those of :func:`_cumulative_chunks`, ``total`` the
    last one. ``searchsorted(side="right")`` is what keeps zero-mass positions
    out: their interval is empty. ``u`` is below ``total`` in exact arithmetic;
    rounding can put it on the boundary, and then the last position with mass
    is taken. The masses are non-negative, so the cumulative ones never
    decrease and the first value above ``u`` lies in the first chunk that holds
    one; the scan stops once every draw and the last position with mass are placed.
    """
    u = np.asarray(u, dtype=np.float64)
    n_positions = order.shape[0]
    positions = np.full(u.shape, n_positions, dtype=np.intp)
    last = None
    for start, cum in _cumulative_chunks(order, weight, closest, chunk_size):
        open_ = positions == n_positions
        if open_.any():
            found = np.searchsorted(cum, u[open_], side="right")
            inside = found < cum.shape[0]
            positions[np.flatnonzero(open_)[inside]] = start + found[inside]
        if last is None and cum[-1] >= total:
            last = start + int(np.searchsorted(cum, total, side="left"))
        if last is not None and not (positions == n_positions).any():
            break
    return np.minimum(positions, last)


def _exact_sq_dist(X, point, chunk_size, out, *, minimum):
    """``‖x − point‖²`` per row, float64, by differences rather than GEMM, into ``out``.

    With ``minimum``, ``out`` keeps the smaller of its value and the distance
    (the running nearest-centre distance, updated without an n-sized temporary).

    One centre costs one pass over X either way, and differences give an exact 0
    for rows equal to ``point`` (the GEMM formula leaves a rounding residue), so
    copies of a chosen centre get exactly zero mass and are not drawn again.
    Sparse X: the same differences, over the columns stored in the row or nonzero
    in ``point`` (see :func:`mixfit.engine.kmeans_sparse.sq_dist_to_point`).
    """
    if sparse.issparse(X):
        return _kmeans_sparse.sq_dist_to_point(X, point, out, minimum=minimum)
    for sl in row_chunks(X.shape[0], chunk_size):
        diff = X[sl] - point
        distances = np.einsum("ij,ij->i", diff, diff)
        if minimum:
            np.minimum(out[sl], distances, out=out[sl])
        else:
            out[sl] = distances
    return out


def _candidate_potentials(X, candidates, closest, weight, chunk_size, shift):
    """Potential ``Σ w·min(closest, d²(x, cand))`` for each candidate, in float64.

    Parameters
    ----------
    candidates : ndarray of shape (n_candidates, n_features)
    closest : ndarray of shape (n_samples,)
        Squared distance of each row to its nearest chosen centre.
    weight : ndarray of shape (n_samples,) or None
        None: every row weighs one.

    Returns
    -------
    potentials : ndarray of shape (n_candidates,), float64
    """
    potentials = np.zeros(candidates.shape[0])
    # Without weights, a chunk of ones: the same products as weights of one.
    ones = np.ones(min(chunk_size, X.shape[0])) if weight is None else None
    for sl in row_chunks(X.shape[0], chunk_size):
        sq = squared_distances(X[sl], candidates, chunk_size=chunk_size, shift=shift)
        sq = np.minimum(sq.astype(np.float64), closest[sl, None])
        potentials += (weight[sl] if ones is None else ones[: sl.stop - sl.start]) @ sq
    return potentials


def random_from_data(X, n_clusters, *, sample_weight=None, random_state=None):
    """Distinct rows of X drawn without replacement, with probability ∝ weight.

    Rows with equal values count as one row whose weight is their total weight, so
    a row of integer weight ``w`` is equivalent to ``w`` copies of it. The draw is
    successive sampling, done in one pass with exponential keys (Efraimidis &
    Spirakis, 2006): each distinct row gets ``E / weight`` with ``E ~ Exp(1)``,
    and the ``n_clusters`` smallest keys win.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_clusters : int
    sample_weight : array-like of shape (n_samples,) or None
        Non-negative weights; zero-weight rows are never chosen.
    random_state : int, RandomState instance or None

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features), X's dtype
        Distinct rows when X has at least ``n_clusters`` distinct rows of positive
        weight; otherwise all of those rows, then repeated in the same order.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [1.0], [1.0], [2.0]])
    >>> np.unique(random_from_data(X, 3, random_state=0)).tolist()
    [0.0, 1.0, 2.0]
    """
    X, n_clusters, weight = _check_inputs(X, n_clusters, sample_weight)
    rng = check_random_state(random_state)
    order, new_group = _canonical_order(X)
    starts = np.flatnonzero(new_group)
    group_weight = np.add.reduceat(weight[order], starts)
    # Zero-weight groups get no key at all, so that the number of draws (and
    # hence every later draw) is the same as for data without those rows.
    positive = group_weight > 0
    representatives = order[starts[positive]]
    keys = rng.standard_exponential(size=representatives.size) / group_weight[positive]
    ranked = representatives[np.argsort(keys, kind="stable")[:n_clusters]]
    chosen = np.resize(ranked, n_clusters)  # repeats only when too few distinct rows
    return _kmeans_sparse.dense_rows(X, chosen)


def lecture_means(X, n_clusters, *, sample_weight=None, random_state=None):
    """The lecture's initialisation: the data mean plus a little noise.

    ``means[k] = mean + 0.01 · std · z_k`` with ``z_k ~ N(0, I)``, where ``mean``
    and ``std`` are the (weighted) per-feature mean and standard deviation.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_clusters : int
    sample_weight : array-like of shape (n_samples,) or None
    random_state : int, RandomState instance or None

    Returns
    -------
    means : ndarray of shape (n_clusters, n_features), X's dtype

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 10.0], [2.0, 10.0]])
    >>> means = lecture_means(X, 3, random_state=0)
    >>> bool(np.all(np.abs(means[:, 0] - 1.0) < 0.1)), means[:, 1].tolist()
    (True, [10.0, 10.0, 10.0])
    """
    X, n_clusters, weight = _check_inputs(
        X, n_clusters, sample_weight, picks_rows=False, ones=False
    )
    rng = check_random_state(random_state)
    if sparse.issparse(X):
        mean, variance = _kmeans_sparse.column_mean_and_variance(X, weight)
        noise = rng.standard_normal(size=(n_clusters, X.shape[1]))
        return (mean + 0.01 * np.sqrt(variance) * noise).astype(X.dtype)
    # One pass for the means and one chunked pass for the variances: whole-array
    # np.average made three float64 copies of X.
    mean = column_means(X, weight)
    square = np.zeros(X.shape[1])
    for sl in row_chunks(X.shape[0], DEFAULT_CHUNK_SIZE):
        centred = X[sl] - mean
        centred *= centred
        square += centred.sum(axis=0) if weight is None else weight[sl] @ centred
    total = float(X.shape[0]) if weight is None else float(weight.sum())
    std = np.sqrt(square / total)
    noise = rng.standard_normal(size=(n_clusters, X.shape[1]))
    return (mean + 0.01 * std * noise).astype(X.dtype)


# --- Mixture initialisations: seeds above become a first set of parameters ---

#: The names accepted by ``GaussianMixture(init_params=...)``.
MIXTURE_INITS = ("kmeans", "k-means++", "k-means||", "random", "random_from_data", "lecture", "hc")


def _stats_from_resp_blocks(family, X, resp_blocks, sample_weight, chunk_size):
    """Fold the E-step statistics of given responsibilities, chunk by chunk."""
    # Imported here: em imports nothing from init, but keep the module light.
    from mixfit.engine.em import MixtureStats

    total = None
    for rows in row_chunks(X.shape[0], chunk_size):
        resp = resp_blocks(rows)
        weight = None if sample_weight is None else sample_weight[rows]
        resp_sum = resp.sum(axis=0) if weight is None else weight @ resp
        block = MixtureStats(
            float(resp.shape[0]) if weight is None else float(weight.sum()),
            0.0,
            resp_sum,
            family.stats(X[rows], resp, weight),
        )
        total = block if total is None else total + block
    return total


def params_from_resp(family, X, resp, *, sample_weight=None, chunk_size=DEFAULT_CHUNK_SIZE):
    """Mixture parameters from responsibilities, shape (n_samples, n_components)."""
    from mixfit.engine.em import m_step

    resp = np.asarray(resp, dtype=np.float64)
    stats = _stats_from_resp_blocks(
        family, X, lambda rows: resp[rows], sample_weight, chunk_size
    )
    return m_step(family, stats, X.dtype)


def params_from_labels(family, X, labels, n_components, *, sample_weight=None, chunk_size=DEFAULT_CHUNK_SIZE):
    """Mixture parameters from hard labels, without an (n, K) one-hot matrix."""
    from mixfit.engine.em import m_step

    eye = np.eye(n_components)
    stats = _stats_from_resp_blocks(
        family, X, lambda rows: eye[labels[rows]], sample_weight, chunk_size
    )
    return m_step(family, stats, X.dtype)


def params_from_partition(family, X, rows, labels, n_components, *, sample_weight=None,
                          chunk_size=DEFAULT_CHUNK_SIZE):
    """Mixture parameters from a partition of some rows (a hierarchical start's).

    ``rows`` are the rows the partition covers (``labels[i]`` is the component
    of ``X[rows[i]]``). Where they are a weighted subsample, the draw already
    accounted for the weights (:func:`mixfit.engine.hierarchical.hc_start`), so
    the rows count once each; where they are every row of positive weight, the
    weights apply.
    """
    subsampled = sample_weight is not None and len(rows) < np.count_nonzero(sample_weight)
    weight = None if sample_weight is None or subsampled else sample_weight[rows]
    labels = _labels_by_mean(X[rows], np.asarray(labels), n_components, weight)
    return params_from_labels(family, X[rows], labels, n_components,
                              sample_weight=weight, chunk_size=chunk_size)


def _labels_by_mean(X, labels, n_components, sample_weight):
    """Labels renumbered so that the clusters' means are in lexicographic order.

    A tree numbers its clusters by their first row, which depends on the order
    of the rows; numbering by the means (the same for weighted rows and their
    copies) makes the fitted components independent of it.
    """
    weight = np.ones(len(labels)) if sample_weight is None else sample_weight
    mass = np.bincount(labels, weights=weight, minlength=n_components)
    sums = np.stack([np.bincount(labels, weights=weight * X[:, j], minlength=n_components)
                     for j in range(X.shape[1])], axis=1)
    means = sums / np.where(mass > 0, mass, 1.0)[:, None]
    order = np.lexsort(means.T[::-1])  # first column first
    rank = np.empty(n_components, dtype=np.intp)
    rank[order] = np.arange(n_components)
    return rank[labels]


def params_from_means(family, X, means, *, sample_weight=None):
    """Equal weights, the given means and the whole data's covariance."""
    from mixfit.engine.em import MixtureParams

    n_components = means.shape[0]
    weights = np.full(n_components, 1.0 / n_components, dtype=X.dtype)
    return MixtureParams(weights, family.params_from_means(X, means, sample_weight))


def initial_mixture_params(
    family, X, n_components, init, *, sample_weight=None, random_state=None, chunk_size=DEFAULT_CHUNK_SIZE
):
    """First parameters of a mixture, by name.

    Parameters
    ----------
    family : component family
    X : ndarray of shape (n_samples, n_features)
    n_components : int
    init : {"kmeans", "k-means++", "random", "random_from_data", "lecture", "hc"} ("k-means||": init_parallel)
        ``"kmeans"``: responsibilities from one K-means fit (k-means++ seeded).
        ``"hc"``: the M-step of the K-partition of model-based hierarchical
        clustering (Ward's criterion, on at most 2000 rows, SVD-rotated;
        :func:`mixfit.engine.hierarchical.hc_start`).
        ``"random"``: uniform random responsibilities, normalised per row.
        ``"k-means++"``, ``"random_from_data"``, ``"lecture"``: means from that
        seeding (the lecture's is data mean + 0.01 · std · noise), equal weights,
        and every component with the covariance of the whole data.
    sample_weight : ndarray of shape (n_samples,), optional
    random_state : int, RandomState or None
    chunk_size : int

    Returns
    -------
    MixtureParams
    """
    rng = check_random_state(random_state)
    if init == "hc":
        seed = rng.randint(np.iinfo(np.int32).max)
        rows, partitions = hc_start(X, [n_components], max_rows=HC_MAX_ROWS,
                                    sample_weight=sample_weight, random_state=seed)
        return params_from_partition(family, X, rows, partitions[n_components], n_components,
                                     sample_weight=sample_weight, chunk_size=chunk_size)
    if init == "kmeans":
        labels = kmeans_labels(X, n_components, sample_weight=sample_weight,
                               random_state=rng, chunk_size=chunk_size)
        return params_from_labels(
            family, X, labels, n_components, sample_weight=sample_weight, chunk_size=chunk_size
        )
    if init == "random":
        # Drawn a chunk at a time, in row order: the numbers of one (n, K) draw,
        # without the (n, K) array.
        def random_resp(rows):
            resp = rng.uniform(size=(rows.stop - rows.start, n_components))
            resp /= resp.sum(axis=1, keepdims=True)
            return resp

        from mixfit.engine.em import m_step

        stats = _stats_from_resp_blocks(family, X, random_resp, sample_weight, chunk_size)
        return m_step(family, stats, X.dtype)
    seeders = {
        "k-means++": kmeans_plusplus,
        "random_from_data": random_from_data,
        "lecture": lecture_means,
    }
    if init not in seeders:  # "k-means||" is init_parallel's, which builds on this module
        raise ValueError(f"init must be one of {list(MIXTURE_INITS)} but 'k-means||', got {init!r}.")
    means = seeders[init](X, n_components, sample_weight=sample_weight, random_state=rng)
    return params_from_means(family, X, means, sample_weight=sample_weight)


def kmeans_labels(X, n_clusters, *, sample_weight=None, random_state=None, chunk_size=None):
    """Labels of one K-means run: the ``"kmeans"`` start of a mixture.

    What ``KMeans(n_clusters, n_init=1, random_state=random_state).fit(X)`` does
    on data already validated and in range (the mixture's): one seed drawn from
    ``random_state``, k-means++ from it, then Lloyd's loop until the centres'
    squared shift is within 1e-4 of the mean column variance (scikit-learn's
    ``tol``) or 300 iterations. It calls the engine's loop, never the estimator.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_clusters : int
    sample_weight : ndarray of shape (n_samples,), optional
    random_state : int, RandomState or None
    chunk_size : int, optional

    Returns
    -------
    labels : ndarray of shape (n_samples,)
    """
    rng = check_random_state(random_state)
    seed = rng.randint(np.iinfo(np.int32).max, size=1)[0]
    shift, variance = distance_shift_and_variance(X, sample_weight)
    centers = kmeans_plusplus(X, n_clusters, sample_weight=sample_weight, random_state=seed)
    run = lloyd(X, centers, sample_weight=sample_weight, max_iter=300, tol=1e-4 * variance,
                chunk_size=chunk_size, shift=shift)
    return run.labels
