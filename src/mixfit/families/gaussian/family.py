"""The Gaussian family: log-densities, additive statistics and the M-step.

The family knows nothing of mixtures: it receives responsibilities as weights
(the pomegranate idea), returns statistics as values that add, and turns summed
statistics into parameters. The covariance shape is delegated to a strategy
from :mod:`mixfit.families.gaussian.covariance`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from mixfit.kernels.em import normalise
from mixfit._validation import DEFAULT_CHUNK_SIZE, row_chunks
from mixfit.families.checks import check_fixed_names
from mixfit.families.gaussian.covariance import _LOG_2PI, CovarianceStructure
from mixfit.families.gaussian.registry import get_structure

__all__ = ["GaussianFamily", "GaussianParams", "GaussianStats"]


@dataclass(frozen=True)
class GaussianParams:
    """Parameters of K Gaussian components, in the data's dtype.

    Attributes
    ----------
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray, shape set by the covariance structure
    precisions_cholesky : ndarray, same shape as ``covariances``
        ``P`` with ``inv(covariance) = P Pᵀ``.
    """

    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray
    #: For mclust's models, the M-step that produced these parameters
    #: (``parsimonious.ParsimoniousMStep``: volumes, shapes, orientations, inner
    #: iterations, whether the cap was hit); the next M-step warm-starts from it.
    step: object = field(default=None, compare=False, repr=False)

    def rescaled(self, factor):
        """The same distributions for data multiplied by ``factor``.

        Means scale by ``factor``, covariances by ``factor²`` and precision
        factors by ``1/factor``, whatever the covariance structure — except the
        identity structure, whose covariance is fixed and cannot be rescaled
        (the estimators never rescale it).
        """
        factor = float(factor)
        dtype = self.means.dtype
        step = self.step
        if step is not None:
            decomposition = replace(step.decomposition,
                                    volumes=step.decomposition.volumes * factor**2)
            step = replace(step, covariances=step.covariances * factor**2,
                           decomposition=decomposition)
        return GaussianParams(
            means=(self.means * factor).astype(dtype),
            covariances=(self.covariances * factor**2).astype(dtype),
            precisions_cholesky=(self.precisions_cholesky / factor).astype(dtype),
            step=step,
        )


@dataclass(frozen=True)
class GaussianStats:
    """Weighted count, mean and centred scatter of each component, float64.

    ``a + b`` is the statistics of the union of the samples behind ``a`` and
    ``b``. The merge is Chan, Golub and LeVeque's pairwise update, so the
    scatter stays centred: covariances are never formed as E[x²] − μ², which
    cancels catastrophically in float32 and for data far from the origin.

    Attributes
    ----------
    counts : ndarray of shape (n_components,)
        Sum over samples of responsibility × sample weight.
    means : ndarray of shape (n_components, n_features)
        Weighted means (zero for a component with zero count).
    scatter : ndarray
        Centred scatter, shape set by ``structure`` (e.g. (K, d, d) for full).
    structure : CovarianceStructure
    """

    counts: np.ndarray
    means: np.ndarray
    scatter: np.ndarray
    structure: CovarianceStructure = field(compare=False, repr=False)

    def __add__(self, other):
        if not isinstance(other, GaussianStats):
            return NotImplemented
        if type(other.structure) is not type(self.structure):
            raise ValueError(
                f"cannot add statistics of {self.structure.name!r} and "
                f"{other.structure.name!r} covariance structures"
            )
        total = self.counts + other.counts
        nonzero = total > 0
        safe_total = np.where(nonzero, total, 1.0)
        delta = other.means - self.means
        share = np.where(nonzero, other.counts / safe_total, 0.0)
        means = self.means + share[:, None] * delta
        coef = np.where(nonzero, self.counts * other.counts / safe_total, 0.0)
        scatter = self.scatter + other.scatter + self.structure.merge_correction(delta, coef)
        return GaussianStats(total, means, scatter, self.structure)

    def scaled(self, factor):
        """These statistics with every sample weight multiplied by ``factor``.

        Counts and scatter scale, means do not; ``a.scaled(1 − γ) + b.scaled(γ)``
        is then the weighted average that online EM keeps.
        """
        factor = float(factor)
        return GaussianStats(self.counts * factor, self.means, self.scatter * factor,
                             self.structure)


class GaussianFamily:
    """Gaussian components with one of five covariance structures.

    Parameters
    ----------
    covariance_type : {"identity", "spherical", "diag", "tied", "full"}
    reg_covar : float, default=1e-6
        Added to the diagonal of every estimated covariance so it stays positive
        definite (ignored by ``"identity"``, whose covariance is fixed).

    Examples
    --------
    >>> import numpy as np
    >>> family = GaussianFamily("diag")
    >>> X = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    >>> stats = family.stats(X, np.ones((3, 1)))
    >>> params = family.m_step(stats, dtype=X.dtype)
    >>> params.means
    array([[2., 3.]])
    """

    #: The component parameters, by the names ``fixed_params`` uses.
    parameter_names = ("means", "covariances")

    def __init__(self, covariance_type="full", reg_covar=1e-6):
        self.structure = get_structure(covariance_type)
        self.reg_covar = reg_covar

    @property
    def covariance_type(self):
        return self.structure.name

    def log_prob(self, X, params):
        """Log-density of each sample under each component, shape (n, K), X's dtype."""
        return self.structure.log_prob(X, params.means, params.precisions_cholesky)

    def kernel_log_prob(self, X, params):
        """:meth:`log_prob` by the kernels of :mod:`mixfit.kernels.em`."""
        log_det, maha = self.structure.kernel_mahalanobis(
            X, params.means, params.precisions_cholesky
        )
        log_prob = log_det - 0.5 * (X.shape[1] * _LOG_2PI + maha)
        return log_prob.astype(X.dtype, copy=False)

    def kernel_e_step(self, X, log_weights, params, sample_weight=None):
        """One chunk's E-step and statistics in fused kernels.

        The same quantities as :meth:`log_prob`, a logsumexp and :meth:`stats` of
        the responsibilities, without (n, K) temporaries in X's dtype: the
        responsibilities are formed per row in float64, and the moments are
        taken about the current means (see :mod:`mixfit.kernels.em`).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        log_weights : ndarray of shape (n_components,)
            Log mixture weights (``-inf`` for a zero weight).
        params : GaussianParams
        sample_weight : ndarray of shape (n_samples,), optional

        Returns
        -------
        log_likelihood, total_weight : float
        resp_sum : ndarray of shape (n_components,)
        stats : GaussianStats
        """
        log_det, maha = self.structure.kernel_mahalanobis(
            X, params.means, params.precisions_cholesky
        )
        const = np.asarray(log_weights, dtype=np.float64) + log_det - 0.5 * X.shape[1] * _LOG_2PI
        weights = (
            np.empty(0) if sample_weight is None
            else np.ascontiguousarray(sample_weight, dtype=np.float64)
        )
        weighted_resp = np.empty(maha.shape)
        log_likelihood, total_weight, resp_sum = normalise(
            maha, const, weights, weighted_resp
        )
        means, scatter = self.structure.kernel_stats(
            X, weighted_resp, resp_sum, params.means.astype(np.float64)
        )
        stats = GaussianStats(resp_sum, means, scatter, self.structure)
        return log_likelihood, total_weight, resp_sum, stats

    def sweep_e_step(self, X, log_weights, params, sample_weight, chunk_size, n_jobs):
        """The E-step and statistics of all rows in one fused pass, where the structure has one.

        Same quantities as :meth:`kernel_e_step` summed over every chunk, from
        one numba call per thread (:mod:`mixfit.kernels.sweep`).

        Returns
        -------
        (log_likelihood, total_weight, resp_sum, stats) or None
            None where the structure has no sweep for this shape.
        """
        result = self.structure.sweep(
            X, sample_weight, params.means, params.precisions_cholesky, log_weights,
            chunk_size, n_jobs,
        )
        if result is None:
            return None
        stats = GaussianStats(result.resp_sum, result.means, result.scatter, self.structure)
        return result.log_likelihood, result.total_weight, result.resp_sum, stats

    def sweep_posterior(self, X, log_weights, params, chunk_size, n_jobs, what="labels"):
        """Labels (``what="labels"``), ``(labels, log_norm)``
        (``"labels_and_log_norm"``) or ``(log_resp, log_norm)`` (``"log_resp"``)
        of every row by the sweep kernels; None where the structure has no sweep
        for this shape."""
        return self.structure.sweep_posterior(
            X, params.means, params.precisions_cholesky, log_weights, chunk_size, n_jobs, what
        )

    def stats(self, X, resp, sample_weight=None):
        """Statistics of a block of samples.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        resp : ndarray of shape (n_samples, n_components)
            Responsibilities (any non-negative weights per component).
        sample_weight : ndarray of shape (n_samples,), optional

        Returns
        -------
        GaussianStats
        """
        X = np.asarray(X, dtype=np.float64)
        weighted = np.asarray(resp, dtype=np.float64)
        if sample_weight is not None:
            weighted = weighted * sample_weight[:, None]
        counts = weighted.sum(axis=0)
        nonzero = counts > 0
        means = (weighted.T @ X) / np.where(nonzero, counts, 1.0)[:, None]
        means[~nonzero] = 0.0
        scatter = self.structure.chunk_scatter(X, weighted, means)
        return GaussianStats(counts, means, scatter, self.structure)

    def empty_stats(self, n_components, n_features):
        """The zero of ``+``: statistics of no samples."""
        shape = self.structure.scatter_shape(n_components, n_features)
        return GaussianStats(
            np.zeros(n_components),
            np.zeros((n_components, n_features)),
            np.zeros(shape),
            self.structure,
        )

    def m_step(self, stats, dtype=np.float64, previous=None, fixed=frozenset()):
        """Parameters that maximise the expected log-likelihood given ``stats``.

        A component with (near) zero count keeps a finite mean and a covariance of
        ``reg_covar`` times the identity, as in scikit-learn; ten machine epsilons
        are added to every count so nothing is divided by zero. Rounding never
        leaves a variance below zero, and for diag and spherical covariances
        those epsilons count as a pseudo-sample at the origin, as in
        scikit-learn, so a component on one point away from the origin keeps a
        positive variance (about 1e-15 times its squared mean) when
        ``reg_covar=0`` (see ``CovarianceStructure.bounded_scatter``).

        ``previous``: the parameters of the last M-step (GaussianParams), from
        which mclust's iterative models (VEI, VEE, EVE, VVE, VEV) resume their
        inner loop; each inner round then raises the expected log-likelihood
        from its value at ``previous``, so EM stays monotone.

        ``fixed`` (names from :attr:`parameter_names`) holds parameters at
        ``previous``'s values: fixed means make the covariances those about
        them (the scatter gains ``n_k (m_k − μ_k)(m_k − μ_k)ᵀ``, the maximiser
        given μ); fixed covariances keep ``previous``'s covariances and
        precision factors while the means move.
        """
        if fixed:
            stats = self._about_fixed_means(stats, previous, fixed)
        pseudo_count = 10 * np.finfo(np.float64).eps
        counts = stats.counts + pseudo_count
        n_features = stats.means.shape[1]
        scatter = self.structure.bounded_scatter(stats.scatter, stats.means, pseudo_count)
        step = None
        if hasattr(self.structure, "covariances_and_step"):
            # mclust's models: the iterative ones resume from the last M-step,
            # or, where none ran (a resumed fit, given precisions), from the
            # decomposition of the previous covariances, so that the inner loop
            # starts where EM is and the log-likelihood cannot drop.
            start = None
            if previous is not None:
                start = (previous.step.decomposition if previous.step is not None
                         else self.structure.warm_start(previous.covariances))
            covariances, step = self.structure.covariances_and_step(
                scatter, counts, self.reg_covar, n_features, previous=start,
            )
        else:
            covariances = self.structure.covariances(
                scatter, counts, self.reg_covar, n_features
            )
        if "covariances" in fixed:
            return GaussianParams(
                means=stats.means.astype(dtype, copy=True),
                covariances=previous.covariances.astype(dtype, copy=True),
                precisions_cholesky=previous.precisions_cholesky.astype(dtype, copy=True),
                step=previous.step,
            )
        precisions_cholesky = self.structure.precisions_cholesky(covariances, dtype)
        return GaussianParams(
            means=stats.means.astype(dtype, copy=True),
            covariances=covariances.astype(dtype, copy=False),
            precisions_cholesky=precisions_cholesky,
            step=step,
        )

    def _about_fixed_means(self, stats, previous, fixed):
        """``stats`` re-centred on ``previous``'s means where those are fixed."""
        check_fixed_names(fixed, self.parameter_names, "GaussianFamily")
        if previous is None:
            raise ValueError("fixed parameters need the previous parameters to hold.")
        if "means" not in fixed:
            return stats
        held = np.asarray(previous.means, dtype=np.float64)
        # Σ z (x − μ)(x − μ)ᵀ = S + n (m − μ)(m − μ)ᵀ: Chan's merge term with
        # coefficient n, in the structure's own scatter shape.
        scatter = stats.scatter + self.structure.merge_correction(stats.means - held,
                                                                  stats.counts)
        return GaussianStats(stats.counts, held, scatter, self.structure)

    def params_from_means(self, X, means, sample_weight=None):
        """Parameters with the given means and the covariance of all the data.

        Used by initialisations that only choose means (the lecture's, random
        rows, k-means++): every component starts with the data's covariance under
        this structure, a neutral shape that EM then refines.
        """
        n_components = means.shape[0]
        # Chunk by chunk, added by Chan's merge: the whole of X at once would take
        # two or three float64 copies of it (converted, centred, weighted).
        pooled = None
        for rows in row_chunks(X.shape[0], DEFAULT_CHUNK_SIZE):
            weight = None if sample_weight is None else sample_weight[rows]
            block = self.stats(X[rows], np.ones((rows.stop - rows.start, 1)), weight)
            pooled = block if pooled is None else pooled + block
        one = self.m_step(pooled, dtype=np.float64)
        # One component's covariance, broadcast to K (a no-op for "tied").
        shape = self.structure.covariance_shape(n_components, X.shape[1])
        covariances = np.broadcast_to(one.covariances, shape).copy()
        return self.params_from_covariances(means, covariances, X.dtype)

    def params_from_covariances(self, means, covariances, dtype):
        """Parameters from means and covariances (structure-shaped)."""
        covariances = np.asarray(covariances, dtype=np.float64)
        return GaussianParams(
            means=np.asarray(means, dtype=dtype),
            covariances=covariances.astype(dtype),
            precisions_cholesky=self.structure.precisions_cholesky(covariances, dtype),
        )

    def params_from_precisions(self, means, precisions, dtype):
        """Parameters from means and precision matrices (structure-shaped)."""
        precisions = np.asarray(precisions, dtype=np.float64)
        precisions_cholesky = self.structure.precisions_cholesky_from_precisions(precisions)
        covariances = self.structure.covariances_from_precisions_cholesky(
            precisions_cholesky
        )
        return GaussianParams(
            means=np.asarray(means, dtype=dtype),
            covariances=covariances.astype(dtype),
            precisions_cholesky=precisions_cholesky.astype(dtype),
        )

    def n_parameters(self, n_components, n_features, fixed=frozenset()):
        """Free parameters of the components (means and covariances, not weights).

        Parameters named in ``fixed`` are not free and are not counted.
        """
        n_mean = 0 if "means" in fixed else n_components * n_features
        if "covariances" in fixed:
            return n_mean
        return n_mean + self.structure.n_parameters(n_components, n_features)

    def sample(self, params, component, n_samples, rng):
        """Draw ``n_samples`` points from one component, shape (n_samples, n_features)."""
        n_features = params.means.shape[1]
        covariance = self.structure.component_covariance(
            np.asarray(params.covariances, dtype=np.float64), component, n_features
        )
        return rng.multivariate_normal(
            params.means[component].astype(np.float64), covariance, size=n_samples
        )
