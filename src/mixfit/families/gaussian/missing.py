"""The Gaussian family for data with missing values (NaN): exact EM on the observed values.

A row ``x`` with observed coordinates ``o`` and missing ones ``m`` has, under
component k, the marginal density ``N(x_o; μ_{k,o}, Σ_{k,oo})``; EM on those
densities raises the observed-data log-likelihood (Ghahramani & Jordan 1994;
``../shared/MODELS.md`` §5). Its E-step needs, besides the responsibilities,
the conditional moments of the missing coordinates given the observed ones:

    x̂_{m|k} = μ_{k,m} + Σ_{k,mo} Σ_{k,oo}⁻¹ (x_o − μ_{k,o})
    C_k     = Σ_{k,mm} − Σ_{k,mo} Σ_{k,oo}⁻¹ Σ_{k,om}

and the expected statistics are those of the completed rows ``x̂_k`` with
``C_k`` added to the scatter's missing block. They are returned as
:class:`~mixfit.families.gaussian.family.GaussianStats` of the structure's
own shape, so the wrapped family's M-step, Chan's merge and ``fixed`` work
unchanged.

Rows are grouped by missingness pattern (per chunk, the engine's unit), so
that ``Σ_{k,oo}`` is factorised once per pattern and component, not per row;
the numba kernels of :mod:`mixfit.kernels.missing` run the blocks (numpy's
per-pattern calls cost far more than the arithmetic when patterns are many).
For the axis-aligned structures (identity, spherical, diag and mclust's
models ending in "I") coordinates are independent within a component: the
conditional moments are ``x̂_m = μ_m`` and ``C = diag σ²_m``, and no pattern
grouping is needed.

The family wraps a :class:`~mixfit.families.gaussian.family.GaussianFamily`
and deliberately has no ``kernel_e_step``, ``sweep_e_step`` or
``sweep_posterior``: those fused kernels know nothing of NaN, so the engine
takes its numpy path with this family.
"""

from __future__ import annotations

import numpy as np

from mixfit.families.gaussian.covariance import (
    _LOG_2PI,
    CollapsedComponentError,
    Diag,
    Full,
    Identity,
    Spherical,
    Tied,
    _collapse_message,
)
from mixfit.families.gaussian.family import GaussianStats
from mixfit.kernels.missing import expected_moments, observed_log_density

__all__ = ["MissingGaussianFamily", "missingness_patterns"]


def missingness_patterns(mask):
    """The rows of a NaN mask grouped by pattern: an order and its blocks.

    Parameters
    ----------
    mask : ndarray of shape (n_samples, n_features), bool
        True where a value is missing.

    Returns
    -------
    order : ndarray of shape (n_samples,), intp
        Rows sorted by pattern (stable: row order within a pattern).
    blocks : list of (start, stop, pattern)
        ``order[start:stop]`` are the rows whose mask is ``pattern``
        (ndarray of shape (n_features,), bool).
    """
    n_samples, n_features = mask.shape
    if n_features <= 62:
        # One integer per row (its bits the missing features): a 1-D sort,
        # 0.2 ms on 4096 × 6 where np.unique over rows took 7.7 ms.
        codes = mask.astype(np.int64) @ (np.int64(1) << np.arange(n_features, dtype=np.int64))
    else:
        codes = np.unique(mask, axis=0, return_inverse=True)[1].reshape(-1)
    order = np.argsort(codes, kind="stable")
    starts = np.concatenate(
        ([0], np.flatnonzero(np.diff(codes[order])) + 1, [n_samples]))
    return order, [(int(start), int(stop), mask[order[start]])
                   for start, stop in zip(starts[:-1], starts[1:])]


def _sorted_blocks(mask):
    """:func:`missingness_patterns` as the kernels take it: order, starts, patterns."""
    order, blocks = missingness_patterns(mask)
    starts = np.array([start for start, _, _ in blocks] + [mask.shape[0]], dtype=np.int64)
    patterns = np.array([pattern for _, _, pattern in blocks], dtype=np.bool_)
    return order, starts, patterns.reshape(len(blocks), mask.shape[1])


def _raise_if_collapsed(component):
    """The kernels' report of a block that is not positive definite, as fit's error."""
    if component >= 0:
        # A principal block of a positive definite matrix is positive definite:
        # only a collapsed covariance gets here.
        raise CollapsedComponentError(_collapse_message(f"component {component}", np.float64))


def _structure_kind(structure):
    """Which of five computations a covariance structure needs.

    ``"identity"``, ``"spherical"`` and ``"diag"`` (with mclust's axis-aligned
    models, which are Diag subclasses) have independent coordinates; ``"tied"``
    and ``"full"`` (with mclust's other models) need the conditional moments.
    The order of the checks matters: Identity is a Spherical, Tied a Full.
    """
    for cls, kind in ((Identity, "identity"), (Spherical, "spherical"), (Diag, "diag"),
                      (Tied, "tied"), (Full, "full")):
        if isinstance(structure, cls):
            return kind
    raise TypeError(f"no missing-value computation for the structure {structure!r}")


class MissingGaussianFamily:
    """Gaussian components fitted on data with NaN entries (missing values).

    Parameters
    ----------
    gaussian : GaussianFamily
        The family of complete data: its structure shapes the statistics, and
        its M-step, parameter count and sampler are used as they are.

    Notes
    -----
    ``stats_need_params`` tells the engine to pass the E-step's component
    parameters to :meth:`stats`, which needs them for the conditional moments.

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit.families import GaussianFamily
    >>> family = MissingGaussianFamily(GaussianFamily("full"))
    >>> X = np.array([[0.0, 1.0], [2.0, np.nan], [4.0, 5.0]])
    >>> params = GaussianFamily("full").params_from_covariances(
    ...     np.array([[2.0, 3.0]]), np.eye(2)[None], np.float64)
    >>> family.log_prob(X, params).shape
    (3, 1)
    """

    stats_need_params = True

    def __init__(self, gaussian):
        self.gaussian = gaussian
        self.structure = gaussian.structure
        self._kind = _structure_kind(gaussian.structure)

    @property
    def covariance_type(self):
        return self.gaussian.covariance_type

    @property
    def reg_covar(self):
        return self.gaussian.reg_covar

    @property
    def parameter_names(self):
        return getattr(self.gaussian, "parameter_names", ("means", "covariances"))

    # ------------------------------------------------------------ densities

    def log_prob(self, X, params):
        """Marginal log-density of each row's observed values under each component.

        Shape (n, K), X's dtype; a row with no missing value gets the full
        Gaussian log-density, a row with no observed value gets 0 (the
        estimators refuse such rows). A block with no NaN at all is the
        wrapped family's.
        """
        mask = np.isnan(X)
        if not mask.any():
            return self.gaussian.log_prob(X, params)
        if self._kind in ("identity", "spherical", "diag"):
            out = self._independent_log_prob(X, mask, params)
        else:
            out = self._correlated_log_prob(X, mask, params)
        return out.astype(X.dtype, copy=False)

    def _independent_log_prob(self, X, mask, params):
        """Axis-aligned structures: the sum over observed coordinates only."""
        means = np.asarray(params.means, dtype=np.float64)
        scale = self._scales(params, means.shape)
        observed = (~mask).astype(np.float64)
        n_observed = observed.sum(axis=1)
        values = np.where(mask, 0.0, X).astype(np.float64, copy=False)
        out = np.empty((X.shape[0], means.shape[0]))
        for k in range(means.shape[0]):
            diff = (values - means[k]) * scale[k]
            diff[mask] = 0.0
            maha = np.einsum("ij,ij->i", diff, diff)
            out[:, k] = observed @ np.log(scale[k]) - 0.5 * (n_observed * _LOG_2PI + maha)
        return out

    def _correlated_log_prob(self, X, mask, params):
        """Full and tied structures: per pattern, the Cholesky of each ``Σ_{k,oo}``."""
        means = np.asarray(params.means, dtype=np.float64)
        order, starts, patterns = _sorted_blocks(mask)
        values = np.ascontiguousarray(X[order], dtype=np.float64)
        out = np.empty((X.shape[0], means.shape[0]))
        failed = observed_log_density(values, starts, patterns, means,
                                      self._covariances(params), out)
        _raise_if_collapsed(failed)
        result = np.empty_like(out)
        result[order] = out
        return result

    # ----------------------------------------------------------- statistics

    def stats(self, X, resp, sample_weight=None, params=None):
        """Expected sufficient statistics of a block of rows given its observed values.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features), NaN where missing
        resp : ndarray of shape (n_samples, n_components)
        sample_weight : ndarray of shape (n_samples,), optional
        params : GaussianParams
            The E-step's component parameters, which the conditional moments of
            the missing values depend on; needed only when X has NaN.

        Returns
        -------
        GaussianStats
            In the wrapped structure's shapes, float64.
        """
        mask = np.isnan(X)
        if not mask.any():
            return self.gaussian.stats(X, resp, sample_weight)
        if params is None:
            raise ValueError(
                "the statistics of rows with missing values depend on the current "
                "parameters: pass params= (the E-step's component parameters)."
            )
        weighted = np.asarray(resp, dtype=np.float64)
        if sample_weight is not None:
            weighted = weighted * np.asarray(sample_weight, dtype=np.float64)[:, None]
        counts = weighted.sum(axis=0)
        safe = np.where(counts > 0, counts, 1.0)
        if self._kind in ("identity", "spherical", "diag"):
            means, scatter = self._independent_stats(X, mask, weighted, safe, params)
        else:
            means, scatter = self._correlated_stats(X, mask, weighted, safe, params)
        means[counts <= 0] = 0.0
        return GaussianStats(counts, means, scatter, self.structure)

    def _independent_stats(self, X, mask, weighted, safe_counts, params):
        """Axis-aligned structures: ``x̂_m = μ_m`` and the missing variances ``σ²_m``."""
        component_means = np.asarray(params.means, dtype=np.float64)
        n_components, n_features = component_means.shape
        variances = 1.0 / self._scales(params, component_means.shape) ** 2
        missing = mask.astype(np.float64)
        values = X.astype(np.float64)
        means = np.empty((n_components, n_features))
        diag = np.empty((n_components, n_features))
        for k in range(n_components):
            completed = np.where(mask, component_means[k], values)
            means[k] = weighted[:, k] @ completed / safe_counts[k]
            centred = completed - means[k]
            np.square(centred, out=centred)
            diag[k] = weighted[:, k] @ centred + (weighted[:, k] @ missing) * variances[k]
        if self._kind == "identity":
            return means, np.zeros(n_components)  # the covariance is fixed: no scatter
        if self._kind == "spherical":
            return means, diag.sum(axis=1)
        return means, diag

    def _correlated_stats(self, X, mask, weighted, safe_counts, params):
        """Full and tied structures: conditional means and covariances per pattern.

        The kernel accumulates moments about the current means (a centre close
        to the result, as the fused E-step's kernels do); they are re-centred
        on the weighted means here.
        """
        component_means = np.asarray(params.means, dtype=np.float64)
        n_components, n_features = component_means.shape
        order, starts, patterns = _sorted_blocks(mask)
        values = np.ascontiguousarray(X[order], dtype=np.float64)
        first = np.zeros((n_components, n_features))
        second = np.zeros((n_components, n_features, n_features))
        failed = expected_moments(values, np.ascontiguousarray(weighted[order]), starts,
                                  patterns, component_means, self._covariances(params),
                                  first, second)
        _raise_if_collapsed(failed)
        shift = first / safe_counts[:, None]
        means = component_means + shift
        scatter = second - safe_counts[:, None, None] * shift[:, :, None] * shift[:, None, :]
        if self._kind == "tied":
            return means, scatter.sum(axis=0)
        return means, scatter

    # ------------------------------------------------------------ parameters

    def _scales(self, params, shape):
        """``1/σ`` per component and feature, (K, d) float64, for axis-aligned structures."""
        factors = np.asarray(params.precisions_cholesky, dtype=np.float64)
        if self._kind == "identity":
            return np.ones(shape)
        if factors.ndim == 3:  # mclust's axis-aligned models keep diagonal matrices
            factors = np.diagonal(factors, axis1=1, axis2=2)
        return np.broadcast_to(factors.reshape(shape[0], -1), shape)

    def _covariances(self, params):
        """Covariances as the kernels take them: (K, d, d), or (1, d, d) when tied."""
        covariances = np.asarray(params.covariances, dtype=np.float64)
        if self._kind == "tied":
            covariances = covariances[None]
        return np.ascontiguousarray(covariances)

    def empty_stats(self, n_components, n_features):
        """The zero of ``+``: statistics of no samples."""
        return self.gaussian.empty_stats(n_components, n_features)

    def m_step(self, stats, dtype=np.float64, previous=None, fixed=frozenset()):
        """The wrapped family's M-step: the expected statistics have its shapes."""
        if fixed:
            return self.gaussian.m_step(stats, dtype=dtype, previous=previous, fixed=fixed)
        return self.gaussian.m_step(stats, dtype=dtype, previous=previous)

    def n_parameters(self, n_components, n_features, fixed=frozenset()):
        """Free parameters of the components: missing values add none."""
        if fixed:
            return self.gaussian.n_parameters(n_components, n_features, fixed=fixed)
        return self.gaussian.n_parameters(n_components, n_features)

    def sample(self, params, component, n_samples, rng):
        """Complete draws from one component (the model, not the missingness)."""
        return self.gaussian.sample(params, component, n_samples, rng)

