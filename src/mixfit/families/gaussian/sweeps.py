"""How a chunk of rows is swept: the fused E-step and statistics kernels of the
Gaussian family, and the plumbing that runs them over threads.

A covariance *model* (:mod:`mixfit.families.gaussian.covariance`) says what its
parameters are and how the M-step sets them; the classes here say how the
log-densities and the statistics of a block of rows are computed from those
parameters, by the numba kernels of :mod:`mixfit.kernels.sweep` and
:mod:`mixfit.kernels.em`. There are three sweeps — full (one triangular factor per
component), tied (one factor shared) and per-feature variances — and a model
reuses whichever matches the shape of its precision factors instead of growing a
kernel of its own.
"""

from __future__ import annotations

import numpy as np

from mixfit._parallel import map_ranges
from mixfit.kernels.em import mahalanobis_blocks, mahalanobis_scaled, moments_diag
from mixfit.kernels.sweep import (
    posterior_diag,
    posterior_full,
    posterior_tied,
    sweep_diag,
    sweep_full,
    sweep_tied,
)

_LOG_2PI = np.log(2.0 * np.pi)

def _centre_of(means):
    """A point among the means: whitening GEMMs act on data centred there."""
    return means.astype(np.float64).mean(axis=0)

def _reference(reference, dtype):
    """The reference in the data's dtype, and exactly that value in float64."""
    rounded = np.ascontiguousarray(reference, dtype=dtype)
    return rounded, rounded.astype(np.float64)

def _shifted_to_centred(first, counts, reference):
    """Chunk means from first moments about ``reference``; zero for empty components."""
    nonzero = counts > 0
    safe = np.where(nonzero, counts, 1.0)
    means = np.where(nonzero[:, None], reference + first / safe[:, None], 0.0)
    return means, nonzero, safe

def _diag_moments(X, weighted_resp, counts, reference, with_second=True):
    n_components, n_features = reference.shape
    ref = np.ascontiguousarray(reference, dtype=np.float64)
    first = np.zeros((n_components, n_features))
    second = np.zeros((n_components if with_second else 0, n_features))
    moments_diag(X, weighted_resp, ref, first, second)
    means, nonzero, safe = _shifted_to_centred(first, counts, ref)
    if not with_second:
        return means, None
    scatter = np.where(nonzero[:, None], second - first**2 / safe[:, None], 0.0)
    return means, scatter

def _scaled_mahalanobis(X, means, scale):
    maha = np.empty((X.shape[0], means.shape[0]))
    mahalanobis_scaled(
        X,
        np.ascontiguousarray(means, dtype=X.dtype),
        np.ascontiguousarray(scale, dtype=X.dtype),
        maha,
    )
    return maha

class SweepResult:
    """Totals of one fused sweep: ``Σ w log p(x)``, ``Σ w``, ``Σ r`` and the statistics.

    Attributes
    ----------
    log_likelihood, total_weight : float
    resp_sum : ndarray of shape (n_components,)
    means : ndarray of shape (n_components, n_features), float64
    scatter : ndarray, the structure's scatter shape, float64
    """

    __slots__ = ("log_likelihood", "total_weight", "resp_sum", "means", "scatter")

    def __init__(self, log_likelihood, total_weight, resp_sum, means, scatter):
        self.log_likelihood = log_likelihood
        self.total_weight = total_weight
        self.resp_sum = resp_sum
        self.means = means
        self.scatter = scatter

#: Partial sums per sweep (see mixfit.kernels.sweep): enough groups of chunks to
#: share between many threads, few enough that their sums take little memory
#: (at most _SWEEP_PARTIAL_BYTES, which caps the count for wide full covariances:
#: at d=32, K=16 a group holds 131 kB, and 49 groups took 28% of a float32 input).
_SWEEP_GROUPS = 64

_SWEEP_PARTIAL_BYTES = 2 << 20

def _run_sweep(kernel, X, sample_weight, params, chunk_size, n_jobs, n_components, second_shape):
    """Run a sweep kernel over every chunk on ``n_jobs`` threads; group sums added in order.

    Returns ``(log_likelihood, total_weight, resp_sum, first, second)``. The
    chunks are cut into at most ``_SWEEP_GROUPS`` groups whose boundaries do
    not depend on ``n_jobs``; threads take contiguous runs of groups.
    """
    n_samples, n_features = X.shape
    n_chunks = max(1, -(-n_samples // chunk_size))
    slot_bytes = 8 * (2 + n_components * (1 + n_features) + int(np.prod(second_shape)))
    n_groups = min(n_chunks, _SWEEP_GROUPS, max(1, _SWEEP_PARTIAL_BYTES // slot_bytes))
    bounds = [n_chunks * group // n_groups for group in range(n_groups + 1)]
    weights = (
        np.empty(0) if sample_weight is None
        else np.ascontiguousarray(sample_weight, dtype=np.float64)
    )
    log_likelihood = np.zeros(n_groups)
    total_weight = np.zeros(n_groups)
    resp_sum = np.zeros((n_groups, n_components))
    first = np.zeros((n_groups, n_components, n_features))
    second = np.zeros((n_groups,) + second_shape)

    def run(group_begin, group_end):
        for group in range(group_begin, group_end):
            kernel(
                X, weights, *params, chunk_size, bounds[group], bounds[group + 1], group,
                log_likelihood, total_weight, resp_sum, first, second,
            )

    map_ranges(run, n_groups, n_jobs)
    return (
        float(log_likelihood.sum()), float(total_weight.sum()),
        resp_sum.sum(axis=0), first.sum(axis=0), second.sum(axis=0),
    )

def _run_posterior(kernel, X, params, chunk_size, n_jobs, what):
    """Labels, or log-responsibilities and ``log p(x)``, of every row by a posterior kernel.

    ``what`` is ``"labels"``, ``"labels_and_log_norm"`` (labels and ``log p(x)``,
    without the (n, K) array) or ``"log_resp"``; rows are written in place,
    chunks shared between threads.
    """
    n_samples = X.shape[0]
    n_components = params[-1].shape[0]  # const, one per component
    nothing_int, nothing = np.empty(0, dtype=np.intp), np.empty((0, 0), dtype=X.dtype)
    if what == "labels":
        outputs = (np.empty(n_samples, dtype=np.intp), nothing, np.empty(0, dtype=X.dtype))
    elif what == "labels_and_log_norm":
        outputs = (np.empty(n_samples, dtype=np.intp), nothing, np.empty(n_samples, dtype=X.dtype))
    else:
        outputs = (
            nothing_int,
            np.empty((n_samples, n_components), dtype=X.dtype),
            np.empty(n_samples, dtype=X.dtype),
        )
    n_chunks = max(1, -(-n_samples // chunk_size))

    def run(chunk_begin, chunk_end):
        rows_end = min(n_samples, chunk_end * chunk_size)
        kernel(X, *params, chunk_begin * chunk_size, rows_end, *outputs)

    map_ranges(run, n_chunks, n_jobs)
    if what == "labels":
        return outputs[0]
    return (outputs[0], outputs[2]) if what == "labels_and_log_norm" else outputs[1:]

def _sweep_const(log_weights, log_det, n_features):
    """``log w_k + log det P_k − d/2 · log 2π`` in float64."""
    return np.asarray(log_weights, dtype=np.float64) + log_det - 0.5 * n_features * _LOG_2PI

def _mirror_upper(upper):
    """Symmetric matrices from their upper triangles (last two axes)."""
    lower = np.tril(np.swapaxes(upper, -1, -2), -1)
    return np.triu(upper) + lower

def _upper_factor(chol):
    """An upper-triangular ``U`` with ``U Uᵀ = chol cholᵀ`` (the sweeps' whitening needs one).

    Factors from fitting and from ``precisions_init`` are upper triangular
    already; lower ones (model files written before both were upper, or a
    user's own parameters) are re-factored here: with J the exchange matrix,
    ``J chol_lower(J A J) J``.
    """
    chol = np.ascontiguousarray(chol, dtype=np.float64)
    if not np.any(np.tril(chol, -1)):
        return chol
    precision = chol @ np.swapaxes(chol, -1, -2)
    flipped = precision[..., ::-1, ::-1]
    lower = np.linalg.cholesky(flipped)
    return np.ascontiguousarray(lower[..., ::-1, ::-1])

def _variance_sweep(X, sample_weight, params, chunk_size, n_jobs, with_second):
    """The diag-type sweep: weighted means and per-feature centred scatter (K, d)."""
    means64 = params[0]
    n_components, n_features = means64.shape
    log_lik, weight, resp_sum, first, second = _run_sweep(
        sweep_diag, X, sample_weight, params + (with_second,), chunk_size, n_jobs,
        n_components, (n_components, n_features),
    )
    new_means, nonzero, safe = _shifted_to_centred(first, resp_sum, means64)
    scatter = np.where(nonzero[:, None], second - first**2 / safe[:, None], 0.0)
    return SweepResult(log_lik, weight, resp_sum, new_means, scatter)

#: Largest d for which the fused sweep replaces the per-chunk GEMM path. Its
#: triangular whitening and scatter cost ~d² per row and component, like the
#: GEMMs, but without their (rows × K·d) temporaries; measured one thread, CPU
#: time per E-step, sweep vs GEMM path: full d=64 f64 96 vs 157 ms, d=128 f64
#: 175 vs 224 ms, d=192 f32 224 vs 218 ms; tied d=192 f64 63 vs 281 ms.
_FULL_SWEEP_MAX_FEATURES = 160

_TIED_SWEEP_MAX_FEATURES = 1024

#: Elements of the whitened block ``Y`` (rows × K·d) the full kernel holds at once.
_WHITENED_BLOCK = 1 << 18


class SweepInterface:
    """What a covariance model offers the E-step: the kernel path and the fused sweeps.

    The kernel path (:mod:`mixfit.kernels.em`) computes the same quantities as a
    structure's numpy ``log_det_and_mahalanobis`` and ``chunk_scatter`` by GEMMs and
    numba loops; the numpy methods are the reference they are tested against. The
    sweeps (:mod:`mixfit.kernels.sweep`) fuse the E-step and the statistics of all
    rows in one pass. The defaults say "no sweep for this shape" (None).
    """

    def kernel_mahalanobis(self, X, means, precisions_chol):
        """``(log_det (K,) float64, maha (n, K) float64)`` by the kernels."""
        raise NotImplementedError

    def kernel_stats(self, X, weighted_resp, counts, reference):
        """Weighted means and centred scatter of a chunk, via moments about ``reference``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features), float32 or float64
        weighted_resp : ndarray of shape (n_samples, n_components), float64
        counts : ndarray of shape (n_components,)
            Column sums of ``weighted_resp``.
        reference : ndarray of shape (n_components, n_features)
            A point near each component (the current means); any value is
            correct, a near one keeps ``S2 − S1 S1ᵀ / N`` free of cancellation.

        Returns
        -------
        means : ndarray of shape (n_components, n_features), float64
        scatter : ndarray of shape ``scatter_shape``, float64
        """
        raise NotImplementedError

    def sweep(self, X, sample_weight, means, precisions_chol, log_weights, chunk_size, n_jobs):
        """E-step and statistics of all rows in one fused pass (:mod:`mixfit.kernels.sweep`).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        sample_weight : ndarray of shape (n_samples,) or None
        means, precisions_chol : ndarray
            The current parameters (in X's dtype).
        log_weights : ndarray of shape (n_components,), float64
        chunk_size, n_jobs : int
            Rows per partial sum, and threads.

        Returns
        -------
        SweepResult or None
            None where the structure has no sweep for this shape (the caller
            then takes the per-chunk path).
        """
        return None

    def sweep_posterior(self, X, means, precisions_chol, log_weights, chunk_size, n_jobs,
                        what="labels"):
        """Labels, or log-responsibilities and ``log p(x)``, by the sweep's log-densities.

        Parameters
        ----------
        what : {"labels", "labels_and_log_norm", "log_resp"}

        Returns
        -------
        labels : ndarray of shape (n_samples,), for ``what="labels"``
        (labels, log_norm) : ndarrays of shape (n_samples,), for
            ``what="labels_and_log_norm"``
        (log_resp, log_norm) : ndarrays of shapes (n_samples, K) and (n_samples,)
            in X's dtype, for ``what="log_resp"``
        None
            Where the structure has no sweep for this shape.
        """
        return None


class FullSweep(SweepInterface):
    """One upper-triangular precision factor per component: ``precisions_chol`` (K, d, d)."""

    def kernel_mahalanobis(self, X, means, precisions_chol):
        # y_k = (x − c) P_k − (μ_k − c) P_k: one GEMM against all K factors
        # stacked (d × K·d), on data centred at c so nothing far from the
        # origin is squared; then a numba pass for ‖y_k − b_k‖².
        n_components, n_features = means.shape
        dtype = X.dtype
        centre = _centre_of(means)
        chol = np.asarray(precisions_chol, dtype=np.float64)
        stacked = np.ascontiguousarray(
            chol.transpose(1, 0, 2).reshape(n_features, n_components * n_features),
            dtype=dtype,
        )
        offsets = np.einsum("kd,kde->ke", means.astype(np.float64) - centre, chol)
        offsets = np.ascontiguousarray(offsets, dtype=dtype)
        centred = X - centre.astype(dtype)
        maha = np.empty((X.shape[0], n_components))
        block = max(1, _WHITENED_BLOCK // (n_components * n_features))
        for start in range(0, X.shape[0], block):
            rows = slice(start, start + block)
            mahalanobis_blocks(centred[rows] @ stacked, offsets, maha[rows])
        log_det = np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
        return log_det, maha

    def kernel_stats(self, X, weighted_resp, counts, reference):
        # One GEMM per component on the shifted, weighted chunk, in X's dtype
        # (faster than a numba triple loop at every d measured, 8 to 32);
        # each chunk's sums are moved to float64 before they add.
        n_components, n_features = reference.shape
        ref, ref64 = _reference(reference, X.dtype)
        weights = weighted_resp.astype(X.dtype, copy=False)
        first = np.zeros((n_components, n_features))
        second = np.zeros((n_components, n_features, n_features))
        for k in range(n_components):
            if counts[k] <= 0:
                continue
            shifted = X - ref[k]
            first[k] = weights[:, k] @ shifted
            second[k] = (shifted * weights[:, k, None]).T @ shifted
        means, nonzero, safe = _shifted_to_centred(first, counts, ref64)
        scatter = second - first[:, :, None] * (first / safe[:, None])[:, None, :]
        scatter[~nonzero] = 0.0
        return means, scatter

    def _sweep_params(self, dtype, means, precisions_chol, log_weights):
        """(means, factors, const) for :func:`sweep_full`, or None beyond the sweep's width.

        Whitening and scatter run in the data's dtype (see ``sweep_full``).
        """
        n_features = means.shape[1]
        if n_features > _FULL_SWEEP_MAX_FEATURES:
            return None
        chol = _upper_factor(precisions_chol)
        log_det = np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
        const = _sweep_const(log_weights, log_det, n_features)
        return np.ascontiguousarray(means, dtype=dtype), chol.astype(dtype), const

    def sweep(self, X, sample_weight, means, precisions_chol, log_weights, chunk_size, n_jobs):
        params = self._sweep_params(X.dtype, means, precisions_chol, log_weights)
        if params is None:
            return None
        n_components, n_features = means.shape
        log_lik, weight, resp_sum, first, second = _run_sweep(
            sweep_full, X, sample_weight, params, chunk_size, n_jobs,
            n_components, (n_components, n_features, n_features),
        )
        # The reference of the moments: the means as the kernel saw them.
        means64 = params[0].astype(np.float64)
        new_means, nonzero, safe = _shifted_to_centred(first, resp_sum, means64)
        second = _mirror_upper(second)
        scatter = second - first[:, :, None] * (first / safe[:, None])[:, None, :]
        scatter[~nonzero] = 0.0
        return SweepResult(log_lik, weight, resp_sum, new_means, scatter)

    #: The posterior kernel of this structure and the part of ``_sweep_params`` it takes.
    _posterior_kernel = staticmethod(posterior_full)

    def _posterior_params(self, params):
        return params

    def sweep_posterior(self, X, means, precisions_chol, log_weights, chunk_size, n_jobs,
                        what="labels"):
        params = self._sweep_params(X.dtype, means, precisions_chol, log_weights)
        if params is None:
            return None
        return _run_posterior(
            self._posterior_kernel, X, self._posterior_params(params), chunk_size, n_jobs, what
        )


class TiedSweep(FullSweep):
    """One precision factor shared by all components: ``precisions_chol`` (d, d)."""

    def kernel_mahalanobis(self, X, means, precisions_chol):
        # One whitening GEMM of the centred chunk, then plain squared distances.
        centre = _centre_of(means)
        chol = np.asarray(precisions_chol, dtype=np.float64)
        whitened = (X - centre.astype(X.dtype)) @ chol.astype(X.dtype)
        offsets = (means.astype(np.float64) - centre) @ chol
        maha = _scaled_mahalanobis(whitened, offsets, np.ones_like(offsets))
        log_det = np.log(np.diag(chol)).sum()
        return np.full(means.shape[0], log_det), maha

    def kernel_stats(self, X, weighted_resp, counts, reference):
        means, scatter = super().kernel_stats(X, weighted_resp, counts, reference)
        return means, scatter.sum(axis=0)

    def _sweep_params(self, dtype, means, precisions_chol, log_weights):
        """(means, centre, factor, offsets, const) for :func:`sweep_tied`, or None."""
        n_components, n_features = means.shape
        if n_features > _TIED_SWEEP_MAX_FEATURES:
            return None
        chol = _upper_factor(precisions_chol)
        means64 = np.ascontiguousarray(means, dtype=np.float64)
        centre = _centre_of(means)
        offsets = np.ascontiguousarray((means64 - centre) @ chol)
        log_det = np.full(n_components, np.log(np.diag(chol)).sum())
        const = _sweep_const(log_weights, log_det, n_features)
        return means64, centre, chol, offsets, const

    def sweep(self, X, sample_weight, means, precisions_chol, log_weights, chunk_size, n_jobs):
        params = self._sweep_params(X.dtype, means, precisions_chol, log_weights)
        if params is None:
            return None
        means64, centre = params[:2]
        n_components, n_features = means.shape
        log_lik, weight, resp_sum, first, second = _run_sweep(
            sweep_tied, X, sample_weight, params, chunk_size, n_jobs,
            n_components, (n_features, n_features),
        )
        new_means, _, _ = _shifted_to_centred(first, resp_sum, means64)
        # Within scatter = scatter about c − between-component scatter (module
        # docstring of mixfit.kernels.sweep); empty components have zero count.
        between = new_means - centre
        scatter = _mirror_upper(second) - (resp_sum[:, None] * between).T @ between
        return SweepResult(log_lik, weight, resp_sum, new_means, scatter)

    _posterior_kernel = staticmethod(posterior_tied)

    def _posterior_params(self, params):
        # The centre, factor, offsets and constants: the means enter through the offsets.
        return params[1:]


class VarianceSweep(SweepInterface):
    """Per-feature variances: the structure gives ``1/σ`` per feature and component.

    A structure using this sweep defines ``_scale_and_log_det`` (its factors as
    per-feature scales) and ``_scatter_from_diag`` (its scatter from the
    per-feature one).
    """

    def _scale_and_log_det(self, chol, n_features):
        """Per-feature ``1/σ`` (K, d) and ``log det P`` (K,) from the factors."""
        raise NotImplementedError

    def _scatter_from_diag(self, scatter):
        """This structure's scatter from the per-feature one (K, d)."""
        raise NotImplementedError

    def _sweep_params(self, means, precisions_chol, log_weights):
        n_features = means.shape[1]
        chol = np.asarray(precisions_chol, dtype=np.float64)
        scale, log_det = self._scale_and_log_det(chol, n_features)
        const = _sweep_const(log_weights, log_det, n_features)
        return (
            np.ascontiguousarray(means, dtype=np.float64),
            np.ascontiguousarray(scale, dtype=np.float64),
            const,
        )

    def sweep(self, X, sample_weight, means, precisions_chol, log_weights, chunk_size, n_jobs):
        params = self._sweep_params(means, precisions_chol, log_weights)
        result = _variance_sweep(
            X, sample_weight, params, chunk_size, n_jobs, with_second=self.name != "identity"
        )
        result.scatter = self._scatter_from_diag(result.scatter)
        return result

    def sweep_posterior(self, X, means, precisions_chol, log_weights, chunk_size, n_jobs,
                        what="labels"):
        params = self._sweep_params(means, precisions_chol, log_weights)
        return _run_posterior(posterior_diag, X, params, chunk_size, n_jobs, what)
