"""The categorical family: columns of categories, independent within a component.

A component k gives level l of column j the probability ``π_kjl``
(``Σ_l π_kjl = 1``), so

    log p(x | k) = Σ_j log π_{k, j, x_j} = onehot(x) · log π_kᵀ,

one product of the rows' one-hot encoding (a sparse matrix with one entry per
observed value) with the (K, Σ_j L_j) matrix of log-probabilities
(``../shared/MODELS.md`` §6). The family works on *codes*: entry ``X[i, j]``
is the index (0 to ``L_j − 1``, as a float) of the row's level in column j's
sorted categories, or NaN where the value is missing; a missing entry adds
nothing to the row's log-density nor to any statistic (it is skipped, which is
exact EM on the observed values when values are missing at random). The
estimators turn categories into codes (``categories_``) and check them; the
family assumes valid codes.

Probabilities of exactly 0 are legal (``pseudocount=0``): a row with a level
of probability 0 is impossible under that component and gets exactly
``-inf``; the product never sees an infinite weight, so ``0 · (−inf)`` never
makes a NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from mixfit.families.checks import check_fixed_names, check_pseudocount

__all__ = ["CategoricalFamily", "CategoricalParams", "CategoricalStats"]


@dataclass(frozen=True)
class CategoricalParams:
    """Parameters of K categorical components, in the data's dtype.

    Attributes
    ----------
    probabilities : tuple of ndarray
        One array of shape (n_components, n_levels[j]) per column: the
        probability of each level of column j in each component (rows sum to 1).
    """

    probabilities: tuple


@dataclass(frozen=True)
class CategoricalStats:
    """Weighted count and weighted level counts of each component, float64.

    ``a + b`` is the statistics of the union of the samples behind ``a`` and
    ``b``: both members are plain sums.

    Attributes
    ----------
    resp_sum : ndarray of shape (n_components,)
        Σ responsibility × sample weight, ``n_k``.
    level_counts : ndarray of shape (n_components, Σ_j n_levels[j])
        Σ responsibility × sample weight × onehot(x): per component, the
        weighted count of each level of each column (missing entries count
        nowhere), columns one after another.
    """

    resp_sum: np.ndarray
    level_counts: np.ndarray

    def __add__(self, other):
        if not isinstance(other, CategoricalStats):
            return NotImplemented
        return CategoricalStats(self.resp_sum + other.resp_sum,
                                self.level_counts + other.level_counts)

    def scaled(self, factor):
        """These statistics with every sample weight multiplied by ``factor``."""
        factor = float(factor)
        return CategoricalStats(self.resp_sum * factor, self.level_counts * factor)


class CategoricalFamily:
    """Components that are products of independent categorical distributions.

    For columns of categories (colours, answers, codes). Each component has,
    per column, one probability per level; its statistics are the
    responsibility mass and the responsibility-weighted count of every level;
    the M-step is the smoothed frequency ``(count + a) / (observed + a L_j)``.

    Parameters
    ----------
    n_levels : sequence of int, optional
        Number of levels (categories) of each column, each >= 2. The
        estimators set it from the data (``categories_``); a family without
        it can still compute densities and draws from given parameters.
    pseudocount : float, default=1.0
        ``a``: imaginary observations of every level, per component and
        column, in units of a row of weight 1 (Laplace's rule at the default,
        the posterior mode under a Dirichlet(a + 1) prior; EM then raises the
        log-likelihood plus ``a Σ log π``). Any ``a > 0`` keeps every
        probability positive, so no new row is impossible; 0 gives the
        maximum likelihood estimate.

    Examples
    --------
    >>> import numpy as np
    >>> family = CategoricalFamily(n_levels=[2, 3], pseudocount=0.0)
    >>> codes = np.array([[0.0, 2.0], [1.0, 2.0]])
    >>> params = family.m_step(family.stats(codes, np.ones((2, 1))), dtype=codes.dtype)
    >>> [p.round(2).tolist() for p in params.probabilities]
    [[[0.5, 0.5]], [[0.0, 0.0, 1.0]]]
    >>> family.log_prob(np.array([[0.0, 2.0], [0.0, np.nan]]), params).round(4)
    array([[-0.6931],
           [-0.6931]])
    """

    #: The component parameters, by the names ``fixed_params`` uses.
    parameter_names = ("probabilities",)

    def __init__(self, n_levels=None, pseudocount=1.0):
        self.n_levels = n_levels
        self.pseudocount = pseudocount

    # ------------------------------------------------------------------ checks

    def _checked_pseudocount(self):
        # Validated where it is used (scikit-learn's convention: __init__ stores).
        return check_pseudocount(self.pseudocount)

    def _levels(self, params=None):
        """The number of levels per column: the family's, or the parameters' shapes."""
        if self.n_levels is not None:
            return np.asarray(self.n_levels, dtype=np.intp)
        if params is None:
            raise ValueError("CategoricalFamily needs n_levels (levels per column) here.")
        return np.array([p.shape[1] for p in params.probabilities], dtype=np.intp)

    # ------------------------------------------------------------------ densities

    @staticmethod
    def one_hot(X, n_levels, dtype=None):
        """The one-hot encoding of codes, a CSR matrix (n_samples, Σ n_levels).

        One entry 1 per observed value; a missing (NaN) value has none.
        """
        X = np.asarray(X)
        dtype = X.dtype if dtype is None else dtype
        offsets = np.concatenate([[0], np.cumsum(n_levels)[:-1]])
        observed = ~np.isnan(X)
        rows, columns = np.nonzero(observed)
        indices = offsets[columns] + X[rows, columns].astype(np.intp)
        return sparse.csr_matrix(
            (np.ones(rows.shape[0], dtype=dtype), (rows, indices)),
            shape=(X.shape[0], int(np.sum(n_levels))),
        )

    def log_prob(self, X, params):
        """Log-probability of each sample under each component, shape (n, K), X's dtype.

        The sum of the log-probabilities of the row's observed levels (0 for
        a row with none observed); ``-inf`` exactly where a row has a level
        of probability 0 under a component; never NaN.
        """
        levels = self._levels(params)
        p = np.concatenate([np.asarray(q, dtype=np.float64) for q in params.probabilities],
                           axis=1)
        zero = p == 0
        with np.errstate(divide="ignore"):
            log_p = np.where(zero, 0.0, np.log(np.where(zero, 1.0, p)))
        encoded = self.one_hot(X, levels)
        out = np.asarray(encoded @ log_p.T.astype(X.dtype), dtype=X.dtype)
        if zero.any():
            impossible = np.asarray(encoded @ zero.T.astype(X.dtype)) > 0.5
            out[impossible] = -np.inf
        return out

    # ------------------------------------------------------------------ statistics

    def stats(self, X, resp, sample_weight=None):
        """Statistics of a block of samples (float64 whatever X's dtype)."""
        weighted = np.asarray(resp, dtype=np.float64)
        if sample_weight is not None:
            weighted = weighted * np.asarray(sample_weight, dtype=np.float64)[:, None]
        encoded = self.one_hot(X, self._levels(), dtype=np.float64)
        level_counts = np.asarray(encoded.T @ weighted).T
        return CategoricalStats(weighted.sum(axis=0), np.ascontiguousarray(level_counts))

    def empty_stats(self, n_components, n_features):
        """The zero of ``+``: statistics of no samples."""
        total = int(self._levels().sum())
        return CategoricalStats(np.zeros(n_components), np.zeros((n_components, total)))

    def m_step(self, stats, dtype=np.float64, previous=None, fixed=frozenset()):
        """Probabilities ``(count + a) / (observed + a L_j)`` from summed statistics.

        ``observed`` is the component's mass over the rows where column j is
        observed (the sum of its level counts). A component with no observed
        mass in a column (possible only with ``pseudocount=0``) gets the
        uniform distribution there, the formula's limit as ``a → 0``. A fixed
        ``"probabilities"`` returns ``previous``'s.
        """
        if "probabilities" in fixed:
            if previous is None:
                raise ValueError("fixed probabilities need the previous parameters.")
            return CategoricalParams(tuple(np.array(p, dtype=dtype)
                                           for p in previous.probabilities))
        check_fixed_names(fixed, self.parameter_names, "CategoricalFamily")
        a = self._checked_pseudocount()
        out = []
        start = 0
        for n_level in self._levels():
            counts = stats.level_counts[:, start:start + n_level] + a
            start += n_level
            total = counts.sum(axis=1)
            empty = total <= 0
            p = counts / np.where(empty, 1.0, total)[:, None]
            p[empty] = 1.0 / n_level
            out.append(p.astype(dtype))
        return CategoricalParams(tuple(out))

    # ------------------------------------------------------------------ parameters

    def params_from_values(self, values, dtype=np.float64):
        """Parameters from ``{"probabilities": [(K, L_j) arrays]}``, checked."""
        given = values["probabilities"]
        if isinstance(given, np.ndarray) and given.ndim == 2:
            given = [given]  # one column
        arrays = [np.asarray(p, dtype=np.float64) for p in given]
        levels = None if self.n_levels is None else list(self._levels())
        if levels is not None and len(arrays) != len(levels):
            raise ValueError(
                f"probabilities must hold one (n_components, n_levels) array per column "
                f"({len(levels)}), got {len(arrays)}."
            )
        for j, p in enumerate(arrays):
            if p.ndim != 2 or (levels is not None and p.shape[1] != levels[j]):
                expected = "n_levels" if levels is None else levels[j]
                raise ValueError(
                    f"probabilities of column {j} must have shape (n_components, "
                    f"{expected}), got {p.shape}."
                )
            if not (np.isfinite(p).all() and (p >= 0).all()):
                raise ValueError(f"probabilities of column {j} must be finite and >= 0.")
            if not np.allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-6):
                raise ValueError(f"probabilities of column {j} must sum to 1 per component.")
        return CategoricalParams(tuple(p.astype(dtype) for p in arrays))

    def parameter_values(self, params):
        """``{"probabilities": list of (K, L_j) arrays}``."""
        return {"probabilities": list(params.probabilities)}

    def n_parameters(self, n_components, n_features, fixed=frozenset()):
        """Free parameters of the components: ``K Σ_j (L_j − 1)`` (0 if fixed)."""
        if "probabilities" in fixed:
            return 0
        return n_components * int((self._levels() - 1).sum())

    def sample(self, params, component, n_samples, rng):
        """Draw ``n_samples`` rows of codes from one component, in the parameters' dtype."""
        columns = []
        for p in params.probabilities:
            cumulative = np.cumsum(np.asarray(p[component], dtype=np.float64))
            u = rng.random(n_samples) * cumulative[-1]
            codes = np.searchsorted(cumulative, u, side="right")
            columns.append(np.minimum(codes, cumulative.shape[0] - 1))
        dtype = params.probabilities[0].dtype
        return np.stack(columns, axis=1).astype(dtype).reshape(n_samples, len(columns))
