"""The Student-t family: multivariate t components, robust to outliers.

A component has a location ``μ_k``, a scale matrix ``Σ_k`` (scipy's ``shape``;
the covariance is ``Σ_k ν_k/(ν_k − 2)`` when ``ν_k > 2``) and ``ν_k`` degrees of
freedom::

    log p(x | k) = log Γ((ν+d)/2) − log Γ(ν/2) − (d/2) log(νπ) − ½ log|Σ|
                   − ((ν+d)/2) log(1 + δ/ν),       δ = (x − μ)ᵀ Σ⁻¹ (x − μ).

EM follows Peel & McLachlan (2000): a t variable is a Gaussian whose precision
is scaled by a latent gamma variable ``U ~ Γ(ν/2, ν/2)``. Given the row and
the current parameters, ``E[U | x, k] = u = (ν + d)/(ν + δ)`` and
``E[log U | x, k] = log u + ψ((ν+d)/2) − log((ν+d)/2)``. The statistics are
therefore those of a Gaussian fitted with weights ``z·u·w`` (means and
scatter), plus the plain mass ``Σ z w`` and ``Σ z w (E[log U] − u)`` for the
degrees of freedom; they depend on the parameters of the E-step, which is why
the family sets ``stats_need_params``.

The M-step is the ECM of Peel & McLachlan (not Liu & Rubin's ECME): ν_k
maximises the expected complete-data log-likelihood with the E-step's ``u``,
so every iteration is an exact EM step and the observed log-likelihood never
drops. ν_k is the root of

    log(ν/2) − ψ(ν/2) + 1 + Σ z w (E[log U] − u) / Σ z w = 0,

whose left side decreases in ν, clipped to :data:`DOF_BOUNDS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import gammaln

from mixfit.kernels.em import normalise
from mixfit.families.checks import check_fixed_names
from mixfit.families.gaussian.family import GaussianFamily, GaussianParams, GaussianStats
from mixfit.families.student_dof import (
    DOF_BOUNDS,
    INITIAL_DOF,
    check_dof,
    latent_scales,
    solve_dof,
)

__all__ = [
    "DOF_BOUNDS",
    "INITIAL_DOF",
    "StudentFamily",
    "StudentParams",
    "StudentStats",
    "solve_dof",
]

#: The family's own parameter names, which ``fixed`` may hold.
PARAMETER_NAMES = ("means", "covariances", "degrees_of_freedom")


@dataclass(frozen=True)
class StudentParams:
    """Parameters of K multivariate t components, in the data's dtype.

    Attributes
    ----------
    means : ndarray of shape (n_components, n_features)
        Locations μ_k (the means when ν_k > 1).
    covariances : ndarray, shape set by the covariance structure
        Scale matrices Σ_k (scipy's ``shape``), not covariances: the
        covariance of component k is ``Σ_k ν_k/(ν_k − 2)`` for ν_k > 2 and
        infinite otherwise. Named as ``GaussianMixture``'s so that the same
        structures, shapes and plots apply.
    precisions_cholesky : ndarray, same shape as ``covariances``
        ``P`` with ``inv(Σ_k) = P Pᵀ``.
    degrees_of_freedom : ndarray of shape (n_components,)
        ν_k > 0.
    """

    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray
    degrees_of_freedom: np.ndarray
    #: The Gaussian M-step record of mclust's models (see GaussianParams.step).
    step: object = field(default=None, compare=False, repr=False)

    def gaussian(self):
        """The location and scale as :class:`GaussianParams` (for the structure's code)."""
        return GaussianParams(self.means, self.covariances, self.precisions_cholesky,
                              step=self.step)

    def rescaled(self, factor):
        """The same distributions for data multiplied by ``factor`` (ν unchanged)."""
        scaled = self.gaussian().rescaled(factor)
        return StudentParams(scaled.means, scaled.covariances, scaled.precisions_cholesky,
                             self.degrees_of_freedom, step=scaled.step)


@dataclass(frozen=True)
class StudentStats:
    """What a block of rows contributes to the M-step; ``a + b`` covers both blocks.

    Attributes
    ----------
    moments : GaussianStats
        Count ``Σ z u w``, mean and centred scatter of the rows weighted by
        ``z u w``: Chan's merge in ``+`` is then exact, as for a Gaussian.
    mass : ndarray of shape (n_components,)
        ``Σ z w``, float64.
    tail : ndarray of shape (n_components,)
        ``Σ z w (E[log U] − u)``, float64: what the equation for ν needs.
    measured : bool
        False for statistics of given responsibilities without parameters
        (a start): ``u = 1`` then, and ``tail`` says nothing of ν.
    """

    moments: GaussianStats
    mass: np.ndarray
    tail: np.ndarray
    measured: bool = True

    def __add__(self, other):
        if not isinstance(other, StudentStats):
            return NotImplemented
        return StudentStats(self.moments + other.moments, self.mass + other.mass,
                            self.tail + other.tail, self.measured and other.measured)

    def scaled(self, factor):
        """These statistics with every sample weight multiplied by ``factor``."""
        factor = float(factor)
        return StudentStats(self.moments.scaled(factor), self.mass * factor,
                            self.tail * factor, self.measured)


class StudentFamily:
    """Multivariate t components with any of the Gaussian family's covariance structures.

    For data with outliers or heavy tails: a far row gets a small latent
    scale ``u`` and so pulls the component's location and scale matrix far
    less than under a Gaussian.

    Parameters
    ----------
    covariance_type : str, default="full"
        The structure of the scale matrices: any ``GaussianFamily`` accepts
        (scikit-learn's four, ``"identity"``, mclust's 14 models).
    reg_covar : float, default=1e-6
        Added to the diagonal of every estimated scale matrix.
    degrees_of_freedom : float or None, default=None
        None: ν_k is estimated per component, within :data:`DOF_BOUNDS`.
        A positive number: every component has this ν, never estimated (and
        not counted as a parameter).

    Examples
    --------
    >>> import numpy as np
    >>> family = StudentFamily("diag", degrees_of_freedom=4.0)
    >>> params = family.params_from_covariances([[0.0, 0.0]], [[1.0, 1.0]])
    >>> family.log_prob(np.array([[0.0, 0.0]]), params).round(6)
    array([[-1.837877]])
    """

    #: The E-step's statistics depend on the parameters (through ``u``).
    stats_need_params = True
    #: The family's own parameter names, which ``fixed`` may hold.
    parameter_names = PARAMETER_NAMES

    def __init__(self, covariance_type="full", reg_covar=1e-6, degrees_of_freedom=None):
        self._gaussian = GaussianFamily(covariance_type, reg_covar)
        self.structure = self._gaussian.structure
        self.reg_covar = reg_covar
        self.degrees_of_freedom = (None if degrees_of_freedom is None
                                   else check_dof(degrees_of_freedom, "degrees_of_freedom"))

    @property
    def covariance_type(self):
        return self.structure.name

    @property
    def initial_dof(self):
        """ν of every component at a start: the fixed value, or :data:`INITIAL_DOF`."""
        return INITIAL_DOF if self.degrees_of_freedom is None else self.degrees_of_freedom

    # ------------------------------------------------------------ densities

    def log_prob(self, X, params):
        """Log t density of each sample under each component, shape (n, K), X's dtype.

        The Mahalanobis distances and log-determinants are the Gaussian
        structure's (X's dtype, centred differences); the rest is float64,
        with ``log1p`` so that near rows lose no digits.
        """
        log_det, maha = self.structure.log_det_and_mahalanobis(
            X, params.means, params.precisions_cholesky
        )
        return _log_t(log_det, maha, params.degrees_of_freedom, X.shape[1]).astype(
            X.dtype, copy=False)

    # ------------------------------------------------------------ statistics

    def stats(self, X, resp, sample_weight=None, params=None):
        """Statistics of a block of samples under the E-step's parameters.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        resp : ndarray of shape (n_samples, n_components)
            Responsibilities (any non-negative weights per component).
        sample_weight : ndarray of shape (n_samples,), optional
        params : StudentParams, optional
            The parameters of the E-step behind ``resp``, which give the
            latent scales ``u``. Without them (a start from responsibilities)
            ``u = 1``: the Gaussian moments, marked as not measuring ν.

        Returns
        -------
        StudentStats
        """
        X = np.asarray(X, dtype=np.float64)
        weighted = np.asarray(resp, dtype=np.float64)
        if sample_weight is not None:
            weighted = weighted * np.asarray(sample_weight, dtype=np.float64)[:, None]
        mass = weighted.sum(axis=0)
        if params is None:
            return StudentStats(self._gaussian.stats(X, weighted), mass, -mass, measured=False)
        _, maha = self.structure.log_det_and_mahalanobis(
            X, np.asarray(params.means, dtype=np.float64),
            np.asarray(params.precisions_cholesky, dtype=np.float64),
        )
        u, tail = latent_scales(maha, params.degrees_of_freedom, X.shape[1], weighted)
        moments = self._gaussian.stats(X, weighted * u)
        return StudentStats(moments, mass, tail)

    def kernel_log_prob(self, X, params):
        """:meth:`log_prob` with the distances from the structure's kernels
        (:mod:`mixfit.kernels.em`): GEMMs on centred data, float64 results."""
        log_det, maha = self.structure.kernel_mahalanobis(
            X, params.means, params.precisions_cholesky
        )
        return _log_t(log_det, maha, params.degrees_of_freedom, X.shape[1]).astype(
            X.dtype, copy=False)

    def kernel_e_step(self, X, log_weights, params, sample_weight=None):
        """One chunk's E-step and statistics by the structure's kernels.

        The same quantities as :meth:`log_prob`, a logsumexp and :meth:`stats`
        (with ``params``), without converting the chunk to float64: the
        distances and the ``z·u·w`` moments (taken about the current
        locations) come from the Gaussian structure's kernels.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        log_weights : ndarray of shape (n_components,)
            Log mixture weights (``-inf`` for a zero weight).
        params : StudentParams
        sample_weight : ndarray of shape (n_samples,), optional

        Returns
        -------
        log_likelihood, total_weight : float
        resp_sum : ndarray of shape (n_components,)
        stats : StudentStats
        """
        n_features = X.shape[1]
        log_det, maha = self.structure.kernel_mahalanobis(
            X, params.means, params.precisions_cholesky
        )
        # log w_k t_k(x) = const_k − ½·shrunk_ik: the Gaussian family's
        # normalisation kernel then gives z·w, log p(x) and Σ z w per row in
        # float64, with no (n, K) temporaries beyond ``shrunk`` and ``resp``.
        const, shrunk = _log_t_parts(log_det, maha, params.degrees_of_freedom, n_features)
        const += np.asarray(log_weights, dtype=np.float64)
        weights = (np.empty(0) if sample_weight is None
                   else np.ascontiguousarray(sample_weight, dtype=np.float64))
        resp = np.empty(maha.shape)
        log_likelihood, total_weight, resp_sum = normalise(shrunk, const, weights, resp)
        u, tail = latent_scales(maha, params.degrees_of_freedom, n_features, resp)
        resp *= u
        counts = resp.sum(axis=0)
        means, scatter = self.structure.kernel_stats(
            X, resp, counts, np.asarray(params.means, dtype=np.float64))
        moments = GaussianStats(counts, means, scatter, self.structure)
        return log_likelihood, total_weight, resp_sum, StudentStats(moments, resp_sum, tail)

    def empty_stats(self, n_components, n_features):
        """The zero of ``+``: statistics of no samples."""
        return StudentStats(self._gaussian.empty_stats(n_components, n_features),
                            np.zeros(n_components), np.zeros(n_components))

    # ------------------------------------------------------------ M-step

    def m_step(self, stats, dtype=np.float64, previous=None, fixed=frozenset()):
        """Parameters that maximise the expected complete-data log-likelihood.

        Locations are the ``z u w``-weighted means. The scale matrices come
        from the Gaussian M-step given ``counts = Σ z w`` and the ``z u w``
        scatter about the locations: the terms of the expected log-likelihood
        in Σ_k are ``−(Σ z w / 2) log|Σ_k| − ½ tr(W^u_k Σ_k⁻¹)`` with
        ``W^u_k = Σ z w u (x − μ_k)(x − μ_k)ᵀ``, which is exactly the objective
        ``−(n_k/2) log|Σ_k| − ½ tr(W_k Σ_k⁻¹)`` that every structure's M-step
        maximises (MODELS.md §1) with n_k = Σ z w and W_k = W^u_k — tied's
        ``W/N``, the closed forms and the iterative ones of mclust's 14
        models alike. So each structure gives the t M-step unchanged.

        Parameters
        ----------
        stats : StudentStats
        dtype : numpy dtype
            Of the returned parameters.
        previous : StudentParams, optional
            The parameters of the E-step behind ``stats``: the values of the
            ``fixed`` ones, the warm start of mclust's iterative models, ν of
            a component with no mass.
        fixed : frozenset of str
            Names among ``parameter_names`` kept at ``previous``'s values; the
            others are computed given them (with fixed means, the scatter is
            taken about them). The mixture weights are the engine's, not named here.

        Returns
        -------
        StudentParams
        """
        fixed = self.check_fixed(fixed)
        if fixed and previous is None:
            raise ValueError(
                f"{sorted(fixed)} fixed but no previous parameters were given to keep; "
                "pass previous= (the parameters of the last E-step)."
            )
        moments = stats.moments
        means = moments.means
        scatter = moments.scatter
        if "means" in fixed:
            means = np.asarray(previous.means, dtype=np.float64)
            # The scatter about the fixed means, by the same parallel-axis term
            # that Chan's merge adds (weighted by the z·u·w count).
            scatter = scatter + self.structure.merge_correction(moments.means - means,
                                                                moments.counts)
        if "covariances" in fixed:
            covariances = previous.covariances
            precisions_cholesky = previous.precisions_cholesky
            step = previous.step
        else:
            gaussian = self._gaussian.m_step(
                GaussianStats(stats.mass, means, scatter, self.structure),
                dtype=dtype,
                previous=None if previous is None else previous.gaussian(),
            )
            covariances, precisions_cholesky = gaussian.covariances, gaussian.precisions_cholesky
            step = gaussian.step
        dof = self._m_step_dof(stats, previous, fixed)
        return StudentParams(
            means=np.asarray(means).astype(dtype, copy=True),
            covariances=np.asarray(covariances).astype(dtype, copy=False),
            precisions_cholesky=np.asarray(precisions_cholesky).astype(dtype, copy=False),
            degrees_of_freedom=dof.astype(dtype),
            step=step,
        )

    def _m_step_dof(self, stats, previous, fixed):
        """ν per component: fixed, kept, or the root of the ECM equation."""
        n_components = stats.mass.shape[0]
        if self.degrees_of_freedom is not None:
            return np.full(n_components, self.degrees_of_freedom)
        if previous is not None:
            kept = np.asarray(previous.degrees_of_freedom, dtype=np.float64)
        else:
            kept = np.full(n_components, INITIAL_DOF)
        if "degrees_of_freedom" in fixed or not stats.measured:
            return kept.copy()
        dof = kept.copy()
        for k in range(n_components):
            # A component with no mass has no equation: it keeps its ν.
            if stats.mass[k] > 0:
                dof[k] = solve_dof(stats.tail[k] / stats.mass[k])
        return dof

    def check_fixed(self, fixed):
        """``fixed`` as a frozenset, or a ValueError naming what is not a parameter."""
        return check_fixed_names(fixed, PARAMETER_NAMES, "StudentFamily")

    # ------------------------------------------------------------ the rest

    def n_parameters(self, n_components, n_features, fixed=frozenset()):
        """Free parameters of the components (not the weights), for BIC.

        ``K·d`` locations, the structure's scale parameters and K degrees of
        freedom, less those ``fixed`` holds (ν is never counted when the
        family fixes it).
        """
        fixed = self.check_fixed(fixed)
        count = 0
        if "means" not in fixed:
            count += n_components * n_features
        if "covariances" not in fixed:
            count += self.structure.n_parameters(n_components, n_features)
        if self.degrees_of_freedom is None and "degrees_of_freedom" not in fixed:
            count += n_components
        return count

    def sample(self, params, component, n_samples, rng):
        """Draw ``n_samples`` points from one component, shape (n_samples, n_features).

        ``μ + z / sqrt(g/ν)`` with ``z ~ N(0, Σ)`` and ``g ~ χ²(ν)``: the t
        variable as a Gaussian with a gamma-distributed precision scale.
        """
        n_features = params.means.shape[1]
        scale = self.structure.component_covariance(
            np.asarray(params.covariances, dtype=np.float64), component, n_features
        )
        dof = float(params.degrees_of_freedom[component])
        z = rng.multivariate_normal(np.zeros(n_features), scale, size=n_samples)
        g = rng.chisquare(dof, size=n_samples) / dof
        return np.asarray(params.means[component], dtype=np.float64) + z / np.sqrt(g)[:, None]

    def params_from_means(self, X, means, sample_weight=None):
        """Parameters with the given locations, the data's covariance as every
        scale matrix and ν = :attr:`initial_dof` (the starts that choose means)."""
        gaussian = self._gaussian.params_from_means(X, means, sample_weight)
        dof = np.full(gaussian.means.shape[0], self.initial_dof, dtype=X.dtype)
        return StudentParams(gaussian.means, gaussian.covariances,
                             gaussian.precisions_cholesky, dof)

    def params_from_covariances(self, means, covariances, degrees_of_freedom=None,
                                dtype=np.float64):
        """Parameters from locations, scale matrices (structure-shaped) and ν.

        ``degrees_of_freedom``: a number or one per component; None gives
        :attr:`initial_dof`. A family with fixed ν refuses another value.
        """
        gaussian = self._gaussian.params_from_covariances(means, covariances, dtype)
        n_components = gaussian.means.shape[0]
        if degrees_of_freedom is None:
            degrees_of_freedom = self.initial_dof
        raw = np.asarray(degrees_of_freedom, dtype=object)
        if raw.ndim > 1 or raw.size not in (1, n_components):
            raise ValueError(
                f"degrees_of_freedom must be one number or {n_components} (one per "
                f"component), got shape {raw.shape}."
            )
        raw = np.broadcast_to(raw.reshape(-1), (n_components,))
        dof = np.array([check_dof(value, f"degrees_of_freedom[{k}]")
                        for k, value in enumerate(raw)])
        if self.degrees_of_freedom is not None:
            # A fitted float32 model holds the fixed ν rounded to float32.
            if not np.allclose(dof, self.degrees_of_freedom, rtol=1e-6, atol=0):
                raise ValueError(
                    f"degrees_of_freedom {dof.tolist()} differ from the family's fixed "
                    f"{self.degrees_of_freedom}; leave them out or make them equal."
                )
            dof[:] = self.degrees_of_freedom
        return StudentParams(gaussian.means, gaussian.covariances,
                             gaussian.precisions_cholesky, dof.astype(dtype))

    def params_from_values(self, values, dtype=np.float64):
        """Parameters from ``{"means", "covariances", "degrees_of_freedom"}`` (an
        estimator's fitted or initial values), checked."""
        return self.params_from_covariances(
            np.asarray(values["means"], dtype=np.float64), np.asarray(values["covariances"]),
            values["degrees_of_freedom"], dtype)


def _log_t_parts(log_det, maha, dof, n_features):
    """``(const (K,), shrunk (n, K))`` with ``log t = const − ½·shrunk``, float64.

    ``const = log Γ((ν+d)/2) − log Γ(ν/2) − (d/2) log(νπ) + ½ log|Σ⁻¹|`` from
    ``log_det = ½ log|Σ⁻¹|``; ``shrunk = (ν + d)·log1p(δ/ν)``, the t's
    counterpart of the Gaussian's δ.
    """
    dof = np.asarray(dof, dtype=np.float64)
    const = (gammaln(0.5 * (dof + n_features)) - gammaln(0.5 * dof)
             - 0.5 * n_features * np.log(dof * np.pi) + np.asarray(log_det, dtype=np.float64))
    shrunk = np.log1p(np.asarray(maha, dtype=np.float64) / dof)
    shrunk *= dof + n_features
    return const, shrunk


def _log_t(log_det, maha, dof, n_features):
    """log t densities from ``½ log|Σ⁻¹|`` (K,) and Mahalanobis distances (n, K), float64."""
    const, shrunk = _log_t_parts(log_det, maha, dof, n_features)
    shrunk *= -0.5
    shrunk += const
    return shrunk
