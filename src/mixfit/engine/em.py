"""The EM loop over additive statistics.

One iteration is a fold over row chunks: each chunk's E-step yields a
:class:`MixtureStats` value, the values are added, and the M-step turns the
sum into new parameters. Memory beyond the data is O(chunk_size × K); the
same fold runs per thread or per Dask block once those backends exist.

Two implementations of a chunk's E-step exist, chosen by ``kernel``:
``"numba"`` (the default) uses the family's fused kernels where it has them
(:meth:`~mixfit.families.GaussianFamily.kernel_e_step`: GEMMs and numba loops,
see :mod:`mixfit.kernels.em`); ``"numpy"`` is the plain reference that the
kernels are tested against. Chunks run on ``n_jobs`` threads and their
statistics are added in chunk order, so neither the thread count nor the
implementation changes a result beyond rounding.

The engine assumes validated input (see :mod:`mixfit._validation`); the
estimators do the checking, the restarts and the warnings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import logsumexp

from mixfit._parallel import map_chunks
from mixfit._validation import DEFAULT_CHUNK_SIZE
from mixfit.engine.sources import DaskSource

#: The E-step implementations: fused kernels, and the numpy reference.
KERNELS = ("numba", "numpy")

__all__ = [
    "KERNELS",
    "EMResult",
    "MixtureParams",
    "MixtureStats",
    "e_step",
    "fit_em",
    "labels_and_log_norm",
    "log_resp",
    "m_step",
    "predict_labels",
    "sample_mixture",
]


@dataclass(frozen=True)
class MixtureParams:
    """Mixture weights and the family's component parameters.

    Attributes
    ----------
    weights : ndarray of shape (n_components,)
        Mixing proportions, summing to one.
    components : object
        The family's parameters (e.g. :class:`~mixfit.families.GaussianParams`).
    """

    weights: np.ndarray
    components: object


@dataclass(frozen=True)
class MixtureStats:
    """What an E-step over some samples contributes; ``a + b`` covers both sets.

    Attributes
    ----------
    total_weight : float
        Sum of the sample weights (the number of samples when unweighted).
    log_likelihood : float
        Weighted sum of the per-sample log-likelihoods ``log p(x)``.
    resp_sum : ndarray of shape (n_components,)
        Weighted sum of the responsibilities, float64.
    components : object
        The family's statistics, which support ``+``.
    """

    total_weight: float
    log_likelihood: float
    resp_sum: np.ndarray
    components: object = field(repr=False)

    def __add__(self, other):
        if not isinstance(other, MixtureStats):
            return NotImplemented
        return MixtureStats(
            self.total_weight + other.total_weight,
            self.log_likelihood + other.log_likelihood,
            self.resp_sum + other.resp_sum,
            self.components + other.components,
        )

    def scaled(self, factor):
        """These statistics with every sample weight multiplied by ``factor``.

        Online EM's running average ``(1 − γ) s + γ s̄`` is ``s.scaled(1 − γ) +
        s̄.scaled(γ)`` (see :mod:`mixfit.engine.online`).
        """
        factor = float(factor)
        return MixtureStats(
            self.total_weight * factor,
            self.log_likelihood * factor,
            self.resp_sum * factor,
            self.components.scaled(factor),
        )

    @property
    def mean_log_likelihood(self):
        """Weighted mean per-sample log-likelihood, the quantity ``tol`` applies to."""
        return self.log_likelihood / self.total_weight


@dataclass(frozen=True)
class EMResult:
    """Outcome of one EM run from one initialisation.

    Attributes
    ----------
    params : MixtureParams
        Parameters after the last M-step.
    lower_bound : float
        Mean log-likelihood measured in the last E-step (-inf if no iteration ran).
    lower_bounds : list of float
        The same quantity for every iteration.
    n_iter : int
    converged : bool
    """

    params: MixtureParams
    lower_bound: float
    lower_bounds: list
    n_iter: int
    converged: bool


def _log_weights(weights):
    # A user may give a zero weight: its component then never gets mass (-inf),
    # which logsumexp handles without a warning.
    with np.errstate(divide="ignore"):
        return np.log(weights)


def _check_kernel(kernel):
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}.")


def _uses_kernels(family, kernel):
    _check_kernel(kernel)
    return kernel == "numba" and hasattr(family, "kernel_e_step")


def log_resp_block(family, X, params, kernel="numpy"):
    """Log responsibilities and log p(x) for a block of rows, in X's dtype.

    Returns
    -------
    log_resp : ndarray of shape (n_samples, n_components)
    log_norm : ndarray of shape (n_samples,)
        ``log p(x) = logsumexp_k (log w_k + log p(x | θ_k))``, which never
        overflows however far a sample lies from every component.
    """
    if _uses_kernels(family, kernel):
        weighted = family.kernel_log_prob(X, params.components)
    else:
        weighted = family.log_prob(X, params.components)
    weighted += _log_weights(params.weights).astype(weighted.dtype, copy=False)
    log_norm = logsumexp(weighted, axis=1)
    weighted -= log_norm[:, None]
    return weighted, log_norm


def _swept(family, X, params, chunk_size, n_jobs, kernel, what):
    """The family's sweep kernels' posterior output, or None where it has none."""
    if not (_uses_kernels(family, kernel) and hasattr(family, "sweep_posterior")):
        return None
    log_weights = _log_weights(np.asarray(params.weights, dtype=np.float64))
    return family.sweep_posterior(X, log_weights, params.components, chunk_size, n_jobs, what)


def log_resp(family, X, params, chunk_size, *, n_jobs=1, kernel="numba"):
    """:func:`log_resp_block` over all rows, chunk by chunk, on ``n_jobs`` threads.

    With the numba kernels, the family's sweep computes the same quantities
    in one pass per thread where it has one.
    """
    swept = _swept(family, X, params, chunk_size, n_jobs, kernel, "log_resp")
    if swept is not None:
        return swept
    n_samples = X.shape[0]
    n_components = params.weights.shape[0]
    out = np.empty((n_samples, n_components), dtype=X.dtype)
    norm = np.empty(n_samples, dtype=X.dtype)

    def one(rows):
        out[rows], norm[rows] = log_resp_block(family, X[rows], params, kernel)

    map_chunks(one, n_samples, chunk_size, n_jobs)
    return out, norm


def predict_labels(family, X, params, chunk_size, *, n_jobs=1, kernel="numba"):
    """The most probable component of each row, chunk by chunk.

    The argmax of ``log w_k + log p(x | k)``: the normalisation by ``log p(x)``
    is the same for every k of a row, so it is skipped. Memory beyond X is the
    labels plus O(chunk_size × K).
    """
    labels = _swept(family, X, params, chunk_size, n_jobs, kernel, "labels")
    if labels is not None:
        return labels
    labels = np.empty(X.shape[0], dtype=np.intp)
    log_weights = _log_weights(params.weights)

    def one(rows):
        if _uses_kernels(family, kernel):
            weighted = family.kernel_log_prob(X[rows], params.components)
        else:
            weighted = family.log_prob(X[rows], params.components)
        weighted += log_weights.astype(weighted.dtype, copy=False)
        labels[rows] = weighted.argmax(axis=1)

    map_chunks(one, X.shape[0], chunk_size, n_jobs)
    return labels


def labels_and_log_norm(family, X, params, chunk_size, *, n_jobs=1, kernel="numba"):
    """The most probable component and ``log p(x)`` of each row, without an (n, K) array.

    What a caller needs to label rows and find those whose log-densities are so
    large that rounding may have decided their label (see
    :mod:`mixfit.estimators._far_rows`).

    Returns
    -------
    labels : ndarray of shape (n_samples,)
    log_norm : ndarray of shape (n_samples,), X's dtype
    """
    swept = _swept(family, X, params, chunk_size, n_jobs, kernel, "labels_and_log_norm")
    if swept is not None:
        return swept
    block_log_resp, log_norm = log_resp(family, X, params, chunk_size, n_jobs=n_jobs,
                                        kernel=kernel)
    return block_log_resp.argmax(axis=1), log_norm


def _apply_labels(weighted, block_labels):
    """Fix labelled rows to their component: −inf for every other component.

    A row labelled c then has responsibility 1 for c and log-likelihood
    ``log w_c + log p(x | c)``, the semi-supervised EM objective's term for
    it; ``-1`` (unlabelled) rows are left alone.
    """
    rows = np.flatnonzero(block_labels >= 0)
    if rows.size:
        classes = block_labels[rows]
        kept = weighted[rows, classes]
        weighted[rows] = -np.inf
        weighted[rows, classes] = kept
    return weighted


def _family_stats(family, X, resp, block_weight, params):
    """``family.stats``, given the E-step's parameters where the family needs them."""
    if getattr(family, "stats_need_params", False):
        return family.stats(X, resp, block_weight, params=params.components)
    return family.stats(X, resp, block_weight)


def _numpy_chunk(family, X, params, block_weight, block_labels=None, kernel="numpy"):
    """The plain E-step of one chunk: log-densities, logsumexp, family.stats.

    ``kernel="numba"`` takes the log-densities from the family's kernels (the
    path partial labels use, where the fused E-step cannot fix rows).
    """
    if _uses_kernels(family, kernel):
        weighted = family.kernel_log_prob(X, params.components)
    else:
        weighted = family.log_prob(X, params.components)
    weighted += _log_weights(params.weights).astype(weighted.dtype, copy=False)
    if block_labels is not None:
        _apply_labels(weighted, block_labels)
    log_norm = logsumexp(weighted, axis=1)
    weighted -= log_norm[:, None]
    resp = np.exp(weighted)
    log_norm = log_norm.astype(np.float64)
    if block_weight is None:
        weight = float(log_norm.shape[0])
        log_lik = float(log_norm.sum())
        resp_sum = resp.sum(axis=0, dtype=np.float64)
    else:
        weight = float(block_weight.sum())
        log_lik = float(block_weight @ log_norm)
        resp_sum = block_weight @ resp.astype(np.float64)
    stats = _family_stats(family, X, resp, block_weight, params)
    return MixtureStats(weight, log_lik, resp_sum, stats)


def e_step(
    family,
    X,
    params,
    sample_weight=None,
    chunk_size=DEFAULT_CHUNK_SIZE,
    *,
    n_jobs=1,
    kernel="numba",
    labels=None,
):
    """Statistics of all rows under ``params``: the fold of per-chunk E-steps.

    Parameters
    ----------
    family : component family
    X : ndarray of shape (n_samples, n_features), or DaskSource
        A Dask source folds this function over its blocks on the cluster; its
        sample weights are its own (passing ``sample_weight`` too is an error).
    params : MixtureParams
    sample_weight : ndarray of shape (n_samples,), optional
    chunk_size : int
    n_jobs : int, default=1
        Threads (resolved by :func:`mixfit._parallel.check_n_jobs`).
    kernel : {"numba", "numpy"}, default="numba"
    labels : ndarray of shape (n_samples,) of int, optional
        Partial labels: ``c >= 0`` fixes the row's responsibilities to
        component c (see :func:`_apply_labels`), ``-1`` leaves the row to the
        E-step. The family's fused E-step cannot fix rows, so with labels each
        chunk runs its log-densities (by the kernels where the family has
        them), a logsumexp and ``family.stats``.

    Returns
    -------
    MixtureStats
    """
    if isinstance(X, DaskSource):
        if labels is not None:
            raise ValueError("Partial labels are not supported on Dask input; "
                             "fit labelled data in memory.")
        # Each block's fold runs where the block lives; the cluster adds the
        # blocks' statistics in block order (sample weights live in the source).
        if sample_weight is not None:
            raise ValueError("A DaskSource carries its own sample weights; pass them to it.")
        return X.fold(_e_step_block, family, params, chunk_size, kernel)
    fused = _uses_kernels(family, kernel) and labels is None
    if fused:
        log_weights = _log_weights(np.asarray(params.weights, dtype=np.float64))
        swept = None
        if hasattr(family, "sweep_e_step"):
            swept = family.sweep_e_step(
                X, log_weights, params.components, sample_weight, chunk_size, n_jobs
            )
        if swept is not None:
            log_lik, weight, resp_sum, stats = swept
            return MixtureStats(float(weight), float(log_lik), resp_sum, stats)

    def one(rows):
        block_weight = None if sample_weight is None else sample_weight[rows]
        if not fused:
            block_labels = None if labels is None else labels[rows]
            return _numpy_chunk(family, X[rows], params, block_weight, block_labels, kernel)
        log_lik, weight, resp_sum, stats = family.kernel_e_step(
            X[rows], log_weights, params.components, block_weight
        )
        return MixtureStats(float(weight), float(log_lik), resp_sum, stats)

    parts = map_chunks(one, X.shape[0], chunk_size, n_jobs)
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def _e_step_block(X, sample_weight, family, params, chunk_size, kernel):
    """:func:`e_step` of one Dask block, on the worker that holds it."""
    return e_step(family, X, params, sample_weight, chunk_size, n_jobs=1, kernel=kernel)


def m_step(family, stats, dtype, previous=None, fixed=frozenset()):
    """New mixture parameters from summed statistics.

    Ten machine epsilons are added to every component's mass before
    normalising (as scikit-learn), so an empty component keeps a tiny positive
    weight instead of a log of zero. ``previous`` (MixtureParams), the
    parameters of the E-step behind ``stats``, lets a family whose M-step is
    iterative resume from them.

    ``fixed``: names of parameters held at ``previous``'s values —
    ``"weights"`` here, the family's own names (its ``parameter_names``) in
    ``family.m_step``, which updates the others given them. With fixed
    parameters EM still raises the likelihood: each M-step maximises the
    expected log-likelihood over the free parameters only.
    """
    fixed = frozenset(fixed)
    if fixed and previous is None:
        raise ValueError("fixed parameters need the previous parameters to hold.")
    if "weights" in fixed:
        weights = np.asarray(previous.weights).astype(dtype, copy=True)
    else:
        mass = stats.resp_sum + 10 * np.finfo(np.float64).eps
        weights = (mass / mass.sum()).astype(dtype)
    if previous is None:
        return MixtureParams(weights, family.m_step(stats.components, dtype=dtype))
    own = fixed - {"weights"}
    if own:
        components = family.m_step(stats.components, dtype=dtype,
                                   previous=previous.components, fixed=own)
    else:
        components = family.m_step(stats.components, dtype=dtype,
                                   previous=previous.components)
    return MixtureParams(weights, components)


def fit_em(
    family,
    X,
    params,
    *,
    sample_weight=None,
    tol=1e-3,
    max_iter=100,
    chunk_size=DEFAULT_CHUNK_SIZE,
    callback=None,
    n_jobs=1,
    kernel="numba",
    lower_bound=-np.inf,
    fixed=frozenset(),
    labels=None,
):
    """Run EM from ``params`` until the mean log-likelihood changes by less than ``tol``.

    Parameters
    ----------
    family : component family
    X : ndarray of shape (n_samples, n_features)
    params : MixtureParams
        Initial parameters.
    sample_weight : ndarray of shape (n_samples,), optional
        Multiplies each sample's responsibilities; weight 2 is a duplicated row.
    tol : float
        Convergence threshold on the change of the mean per-sample
        log-likelihood between iterations (so it does not grow with n).
    max_iter : int
    chunk_size : int
    callback : callable, optional
        ``callback(iteration, params, log_likelihood)`` after every iteration,
        with the updated parameters and the mean log-likelihood that this
        iteration's E-step measured (that of the parameters before the update).
    n_jobs : int, default=1
        Threads over row chunks; the result does not depend on it.
    kernel : {"numba", "numpy"}, default="numba"
        Fused kernels, or the numpy reference.
    lower_bound : float, default=-inf
        The mean log-likelihood the first iteration is compared with: a warm
        start passes the previous fit's, so that a fit resumed at its optimum
        converges at once.
    fixed : frozenset of str, default=frozenset()
        Parameters held at their values in ``params`` (see :func:`m_step`).
    labels : ndarray of shape (n_samples,) of int, optional
        Partial labels, ``-1`` for unlabelled rows (see :func:`e_step`): the
        log-likelihood EM raises is then the semi-supervised one, which counts
        a labelled row only under its own component.

    Returns
    -------
    EMResult
    """
    lower_bounds = []
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        previous = lower_bound
        stats = e_step(
            family, X, params, sample_weight, chunk_size, n_jobs=n_jobs, kernel=kernel,
            labels=labels,
        )
        params = m_step(family, stats, X.dtype, previous=params, fixed=fixed)
        lower_bound = stats.mean_log_likelihood
        lower_bounds.append(lower_bound)
        if callback is not None:
            callback(n_iter, params, lower_bound)
        if abs(lower_bound - previous) < tol:
            converged = True
            break
    return EMResult(params, lower_bound, lower_bounds, n_iter, converged)


def sample_mixture(family, params, n_samples, rng, dtype):
    """Draws from a mixture, grouped by component: ``(X, y)``.

    The number of draws of each component is multinomial with the mixture's
    weights; each component's draws come from ``family.sample``.

    Parameters
    ----------
    family : component family
    params : MixtureParams
    n_samples : int
        Validated, >= 1.
    rng : numpy.random.RandomState
    dtype : numpy dtype
        Of the returned draws.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Component of each draw.
    """
    weights = np.asarray(params.weights, dtype=np.float64)
    counts = rng.multinomial(n_samples, weights / weights.sum())
    X = np.vstack([family.sample(params.components, k, count, rng)
                   for k, count in enumerate(counts)]).astype(dtype, copy=False)
    return X, np.repeat(np.arange(counts.shape[0]), counts)
