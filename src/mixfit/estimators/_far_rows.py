"""Posteriors and log-likelihoods of samples far from every mixture component.

For each component the kernels compute
``g_k(x) = log w_k + log det L_k − ½‖(x − μ_k) L_k‖² − d/2 log 2π`` and normalise.
For a sample far from the model the squared norms are huge and nearly equal:
their differences, which decide the posterior, drown in the rounding of the
norms themselves (a sample at 1e150 under two components of equal covariance
gets posteriors 1 and 1), and beyond float64's range they overflow (−inf, then
NaN). This module recomputes such rows from differences,
``‖z_k‖² − ‖z_r‖² = (z_k − z_r)·(z_k + z_r)`` against a reference component r,
with ``z_k − z_r`` formed from ``L_k − L_r`` and ``μ_k L_k − μ_r L_r`` so that
what cancels exactly (equal covariances) cancels before rounding; the rows are
first scaled by a power of two (exact) so that nothing overflows on the way.
The posteriors come out finite and summing to one; ``log p(x)`` is ``−inf`` only
where its true value lies beyond float64's range, which ``score_samples`` then
reports (:func:`check_log_likelihoods`), as ``score``, ``bic`` and ``aic`` do
for means and totals that only their arithmetic would overflow
(:func:`mean_log_likelihood`, :func:`criterion`).
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from mixfit.kernels.em import far_bound
from mixfit.estimators._data_checks import check_magnitude

_LOG_2PI = float(np.log(2.0 * np.pi))

#: Rows whose |log p(x)| exceeds this are recomputed here. In float64 the kernels'
#: rounding then reaches 2**-12 in the log-posteriors (eps = 2**-52); float32
#: results carry their dtype's rounding everywhere, and are recomputed only where
#: it reaches 1/8 (eps = 2**-23), so that ordinary float32 data never pays for it.
_THRESHOLDS = {np.dtype(np.float64): 2.0**40, np.dtype(np.float32): 2.0**20}

#: Elements of one (rows, K, d) temporary.
_BLOCK_ELEMENTS = 2**21


def threshold(dtype):
    """``|log p(x)|`` beyond which a row's kernel posteriors may be rounded away."""
    return _THRESHOLDS[np.dtype(dtype)]


def _factors(covariance_type, precisions_cholesky, n_components, n_features):
    """Precision factors as (K, d, d) matrices (full, tied) or (K, d) diagonals."""
    chol = np.asarray(precisions_cholesky, dtype=np.float64)
    if covariance_type == "full":
        return chol, True
    if covariance_type == "tied":
        return np.broadcast_to(chol, (n_components, n_features, n_features)), True
    if covariance_type == "diag":
        return chol, False
    return np.repeat(chol[:, None], n_features, axis=1), False  # spherical, identity


def _log_dets(factors, matrix):
    diagonal = np.diagonal(factors, axis1=1, axis2=2) if matrix else factors
    return np.log(diagonal).sum(axis=1)


def may_be_far(X, params, covariance_type, column_largest=None):
    """Whether some row of X may lie where :func:`fix_far_rows` has work to do.

    A cheap bound on ``½‖(x − μ_k) L_k‖²`` from each column's largest magnitude
    ``m_j`` (``column_largest``, computed here unless the caller has it): with
    ``r_kj = m_j + |μ_kj|``, it is at most ``½ Σ_j (L_kj r_kj)²`` for diagonal
    factors and ``½ ‖L_k‖_F² Σ_j r_kj²`` for full and tied ones. Per column, so
    that features of small variance that the data never moves along (the border
    pixels of digits) do not trip it.
    """
    if column_largest is None:
        column_largest = check_magnitude(X, per_column=True)
    components = params.components
    factors = np.asarray(components.precisions_cholesky, dtype=np.float64)
    diagonal = covariance_type == "diag"
    # One row per component (tied: one shared row), as far_bound takes them.
    factors = factors.reshape(factors.shape[0] if covariance_type != "tied" else 1, -1)
    with np.errstate(over="ignore"):
        bound = far_bound(
            np.asarray(column_largest, dtype=np.float64),
            np.asarray(components.means, dtype=np.float64), factors, diagonal,
            np.asarray(params.weights, dtype=np.float64),
        )
    bound += components.means.shape[1] * 4.0
    return not bound < threshold(X.dtype)


def fix_far_rows(X, params, covariance_type, log_resp, log_norm):
    """Recompute, in place, the rows of the kernels' output that lie too far out.

    Those are the rows whose ``log p(x)`` is NaN, −inf, or so large that
    rounding blurs their posteriors (see :func:`threshold`); ``log_resp`` and
    ``log_norm`` are the kernels' outputs for X, in X's dtype.
    """
    far = np.flatnonzero(~(log_norm >= -threshold(X.dtype)))
    if far.size:
        components = params.components
        with np.errstate(over="ignore"):  # log p(x) beyond float32: -inf
            log_resp[far], log_norm[far] = far_log_resp(
                X[far], params.weights, components.means, covariance_type,
                components.precisions_cholesky, reference=first_guess(log_resp[far]),
            )


def fix_far_labels(X, params, covariance_type, labels, log_norm):
    """Relabel, in place, the rows that :func:`fix_far_rows` would recompute.

    ``labels`` and ``log_norm`` are the kernels' (see
    :func:`mixfit.engine.em.labels_and_log_norm`); only the far rows' posteriors are
    formed, so labelling stays free of an (n, K) array.
    """
    far = np.flatnonzero(~(log_norm >= -threshold(X.dtype)))
    if far.size:
        components = params.components
        with np.errstate(over="ignore"):
            far_resp, _ = far_log_resp(
                X[far], params.weights, components.means, covariance_type,
                components.precisions_cholesky, reference=labels[far].astype(np.intp),
            )
        labels[far] = far_resp.argmax(axis=1)


def far_log_resp(X, weights, means, covariance_type, precisions_cholesky, reference=None):
    """Log-posteriors and ``log p(x)`` of the rows of X, accurate however far they lie.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
    weights, means, precisions_cholesky : ndarray
        The mixture, in X's units (``precisions_cholesky`` in the structure's shape).
    covariance_type : str
    reference : ndarray of shape (n_rows,) of int, optional
        A first guess of each row's most probable component.

    Returns
    -------
    log_resp : ndarray of shape (n_rows, n_components), float64
        Each row's exponentials sum to one; ``-inf`` where a component's share
        is below float64's range (or its weight is zero).
    log_norm : ndarray of shape (n_rows,), float64
        ``log p(x)``; ``-inf`` where it lies below float64's range.
    """
    X = np.asarray(X, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    n_components, n_features = means.shape
    factors, matrix = _factors(covariance_type, precisions_cholesky, n_components, n_features)
    with np.errstate(divide="ignore"):
        constants = np.log(np.asarray(weights, dtype=np.float64)) + _log_dets(factors, matrix)
    log_resp = np.empty((X.shape[0], n_components))
    log_norm = np.empty(X.shape[0])
    if reference is None:  # the heaviest component: never one of zero weight
        reference = np.full(X.shape[0], int(np.argmax(constants)), dtype=np.intp)
    rows_per_block = max(1, _BLOCK_ELEMENTS // (n_components * n_features))
    for start in range(0, X.shape[0], rows_per_block):
        block = slice(start, start + rows_per_block)
        log_resp[block], log_norm[block] = _block(
            X[block], means, factors, matrix, constants, reference[block].copy()
        )
    return log_resp, log_norm


def _block(X, means, factors, matrix, constants, reference):
    # Work in units where the rows and means are at most 1 (a power of two:
    # exact); squared norms are scaled back by ldexp, overflowing to ±inf only
    # where the true value is beyond float64.
    largest = max(float(np.abs(X).max(initial=0.0)), float(np.abs(means).max(initial=0.0)))
    exponent = int(np.frexp(largest)[1]) if largest > 0 else 0
    X = np.ldexp(X, -exponent)
    means = np.ldexp(means, -exponent)
    projected = (
        np.einsum("kd,kde->ke", means, factors) if matrix else means * factors
    )  # μ_k L_k
    delta = np.empty((X.shape[0], means.shape[0]))
    pending = np.arange(X.shape[0])
    for _ in range(3):
        for r in np.unique(reference[pending]):
            rows = pending[reference[pending] == r]
            delta[rows] = _relative(
                X[rows], factors, matrix, projected, constants, r, exponent
            )
        # Re-reference rows whose reference was not their most probable component
        # (then some δ is positive, possibly +inf).
        worse = delta[pending].max(axis=1) > 0
        pending = pending[worse]
        if pending.size == 0:
            break
        reference[pending] = delta[pending].argmax(axis=1)
    with np.errstate(divide="ignore"):
        total = logsumexp(delta, axis=1)
    z = _project(X, factors[reference], matrix, single=True) - projected[reference]
    with np.errstate(over="ignore"):
        quadratic = np.ldexp(np.einsum("nd,nd->n", z, z), 2 * exponent)
        log_norm = (
            constants[reference] - 0.5 * quadratic - 0.5 * X.shape[1] * _LOG_2PI + total
        )
    return delta - total[:, None], log_norm


def _project(X, factors, matrix, single=False):
    """``x L`` per row: (n, K, d) for all components, or (n, d) with one factor per row."""
    if single:
        return np.einsum("nd,nde->ne", X, factors) if matrix else X * factors
    return np.einsum("nd,kde->nke", X, factors) if matrix else X[:, None, :] * factors


def _relative(X, factors, matrix, projected, constants, r, exponent):
    """``g_k(x) − g_r(x)`` for every k, rows of X (scaled by 2**-exponent)."""
    difference = _project(X, factors - factors[r], matrix) - (projected - projected[r])
    total = _project(X, factors + factors[r], matrix) - (projected + projected[r])
    scaled = np.einsum("nkd,nkd->nk", difference, total)
    with np.errstate(over="ignore", invalid="ignore"):
        quadratic = np.ldexp(scaled, 2 * exponent)
        relative = constants - constants[r] - 0.5 * quadratic
    relative[:, r] = 0.0
    # A zero-weight component (constant −inf) never takes mass.
    relative[np.isnan(relative)] = -np.inf
    return relative


def mean_log_likelihood(values, weights):
    """(Weighted) mean of finite values, without overflow in the sum."""
    largest = float(np.abs(values).max(initial=0.0))
    if largest <= 2.0**500:
        return float(np.average(values, weights=weights))
    # Values near float64's limit: average them brought near 1 (a power of two,
    # exact), then scale back; the mean is no larger than the largest value.
    exponent = int(np.frexp(largest)[1])
    return float(np.ldexp(np.average(np.ldexp(values, -exponent), weights=weights), exponent))


def criterion(name, score, n_samples, penalty):
    """``-2 · score · n_samples + penalty``, refused when beyond float64's range."""
    with np.errstate(over="ignore"):
        value = -2 * score * n_samples + penalty
    if not np.isfinite(value):
        raise ValueError(
            f"{name} on X is beyond float64's range: its samples lie too far from the "
            f"model (mean log-likelihood {score:.3g}); check X's units against the model's."
        )
    return float(value)


def first_guess(log_resp):
    """Each row's most probable component by the kernels (0 where they gave NaN)."""
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(log_resp, nan=-np.inf).argmax(axis=1)


def check_log_likelihoods(log_norm):
    """``log_norm``, or a clear error where a value lies beyond its dtype's range."""
    out_of_range = np.flatnonzero(~np.isfinite(log_norm))
    if out_of_range.size:
        limit = float(np.finfo(log_norm.dtype).max)
        hint = (
            "pass X as float64 for its value"
            if log_norm.dtype == np.float32
            else "check X's units against the model's"
        )
        raise ValueError(
            f"{out_of_range.size} sample(s) of X, the first at row {out_of_range[0]}, "
            f"lie so far from every component that log p(x) is below {-limit:.3g}, "
            f"beyond {log_norm.dtype}'s range; {hint} (predict_proba still works)."
        )
    return log_norm
