"""The product family: groups of columns, each with its own family, independent within a component.

For tables whose columns are of different kinds (binary flags, counts,
categories, measurements): within component k the column groups are
independent, so

    log p(x | k) = Σ_g log p_g(x[cols_g] | k),

the statistics are the tuple of the groups' statistics, and the M-step runs
group by group (``../shared/MODELS.md`` §6, "mixed columns"). The mixture
weights are shared by all groups (the engine's).

Parameter names are the groups' own, prefixed by the group's position in the
list: ``group0_probabilities``, ``group1_means``, ``group1_covariances``…
(the estimators expose them as ``group0_probabilities_`` and so on, and
``fixed_params`` takes the same names).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixfit.families.checks import check_fixed_names
from mixfit.families.values import (
    parameter_names,
    parameter_values,
    params_from_values,
    with_weight_scale,
)

__all__ = ["ProductFamily", "ProductParams", "ProductStats", "group_prefix"]


def group_prefix(index):
    """The prefix of group ``index``'s parameter names: ``"group{index}_"``."""
    return f"group{index}_"


@dataclass(frozen=True)
class ProductParams:
    """The parameters of every group, in the order of the groups.

    Attributes
    ----------
    parts : tuple
        ``parts[g]`` is group g's family's parameter object.
    """

    parts: tuple


@dataclass(frozen=True)
class ProductStats:
    """The statistics of every group; ``a + b`` and ``scaled`` act group by group."""

    parts: tuple

    def __add__(self, other):
        if not isinstance(other, ProductStats):
            return NotImplemented
        return ProductStats(tuple(a + b for a, b in zip(self.parts, other.parts)))

    def scaled(self, factor):
        """These statistics with every sample weight multiplied by ``factor``."""
        return ProductStats(tuple(part.scaled(factor) for part in self.parts))


class ProductFamily:
    """Independent column groups within each component, each group with its own family.

    Parameters
    ----------
    groups : sequence of (family, columns)
        ``columns``: the integer positions (in X) of the group's columns. The
        groups must cover the columns ``0 .. n_features − 1`` exactly once
        (the estimators check this, naming the column).

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit.families import BernoulliFamily, PoissonFamily
    >>> family = ProductFamily([(BernoulliFamily(0.0), [0]), (PoissonFamily(), [1])])
    >>> family.parameter_names
    ('group0_probabilities', 'group1_rates')
    >>> X = np.array([[1.0, 3.0], [1.0, 5.0]])
    >>> params = family.m_step(family.stats(X, np.ones((2, 1))), dtype=X.dtype)
    >>> params.parts[0].probabilities, params.parts[1].rates
    (array([[1.]]), array([[4.]]))
    """

    def __init__(self, groups):
        self.groups = [(family, np.asarray(columns, dtype=np.intp))
                       for family, columns in groups]
        self.stats_need_params = any(getattr(family, "stats_need_params", False)
                                     for family, _ in self.groups)

    @property
    def parameter_names(self):
        """Every group's parameter names, prefixed by ``group{g}_``."""
        return tuple(group_prefix(g) + name
                     for g, (family, _) in enumerate(self.groups)
                     for name in parameter_names(family))

    @property
    def n_features(self):
        return sum(columns.shape[0] for _, columns in self.groups)

    def _own(self, names, g):
        """The names in ``names`` that belong to group g, without the prefix."""
        prefix = group_prefix(g)
        return frozenset(name[len(prefix):] for name in names if name.startswith(prefix))

    # ------------------------------------------------------------------ densities

    def log_prob(self, X, params):
        """Sum of the groups' log-densities, shape (n, K), X's dtype."""
        out = None
        for (family, columns), part in zip(self.groups, params.parts):
            block = family.log_prob(X[:, columns], part)
            if out is None:
                out = np.array(block, dtype=X.dtype)
            else:
                out += block
        return out

    def kernel_log_prob(self, X, params):
        """As :meth:`log_prob`, with each group's kernels where it has them."""
        out = None
        for (family, columns), part in zip(self.groups, params.parts):
            compute = getattr(family, "kernel_log_prob", family.log_prob)
            block = compute(np.ascontiguousarray(X[:, columns]), part)
            if out is None:
                out = np.array(block, dtype=X.dtype)
            else:
                out += block
        return out

    # ------------------------------------------------------------------ statistics

    def stats(self, X, resp, sample_weight=None, params=None):
        """Each group's statistics of a block of samples, as a :class:`ProductStats`."""
        parts = []
        for g, (family, columns) in enumerate(self.groups):
            if getattr(family, "stats_need_params", False):
                # None: statistics of a start from memberships alone, which such
                # a family takes at its neutral values (e.g. Student-t scales of 1).
                parts.append(family.stats(X[:, columns], resp, sample_weight,
                                          params=None if params is None else params.parts[g]))
            else:
                parts.append(family.stats(X[:, columns], resp, sample_weight))
        return ProductStats(tuple(parts))

    def empty_stats(self, n_components, n_features):
        """The zero of ``+``: statistics of no samples."""
        return ProductStats(tuple(family.empty_stats(n_components, columns.shape[0])
                                  for family, columns in self.groups))

    def m_step(self, stats, dtype=np.float64, previous=None, fixed=frozenset()):
        """Each group's M-step; ``fixed`` names (prefixed) are routed to their group."""
        check_fixed_names(fixed, self.parameter_names, "this ProductFamily")
        parts = []
        for g, (family, _) in enumerate(self.groups):
            own = self._own(fixed, g)
            kwargs = {"fixed": own} if own else {}
            if previous is not None:
                kwargs["previous"] = previous.parts[g]
            parts.append(family.m_step(stats.parts[g], dtype=dtype, **kwargs))
        return ProductParams(tuple(parts))

    # ------------------------------------------------------------------ parameters

    def n_parameters(self, n_components, n_features=None, fixed=frozenset()):
        """Sum of the groups' free parameters (names in ``fixed`` are not counted)."""
        total = 0
        for g, (family, columns) in enumerate(self.groups):
            own = self._own(fixed, g)
            if own:
                total += family.n_parameters(n_components, columns.shape[0], own)
            else:
                total += family.n_parameters(n_components, columns.shape[0])
        return total

    def parameter_values(self, params):
        """``{prefixed name: value}`` over every group."""
        values = {}
        for g, ((family, _), part) in enumerate(zip(self.groups, params.parts)):
            for name, value in parameter_values(family, part).items():
                values[group_prefix(g) + name] = value
        return values

    def params_from_values(self, values, dtype=np.float64):
        """The parameters from ``{prefixed name: value}`` (every name given)."""
        parts = []
        for g, (family, _) in enumerate(self.groups):
            prefix = group_prefix(g)
            own = {name: values[prefix + name] for name in parameter_names(family)}
            parts.append(params_from_values(family, own, dtype))
        return ProductParams(tuple(parts))

    def with_weight_scale(self, weight_scale):
        """The family with every group's prior counts divided by ``weight_scale``."""
        return ProductFamily([(with_weight_scale(family, weight_scale), columns)
                              for family, columns in self.groups])

    def sample(self, params, component, n_samples, rng):
        """Draw ``n_samples`` rows from one component, columns in X's order.

        Groups are drawn one after another (in group order), each with its
        family's ``sample``.
        """
        blocks = [family.sample(part, component, n_samples, rng)
                  for (family, _), part in zip(self.groups, params.parts)]
        dtype = np.result_type(*[block.dtype for block in blocks])
        out = np.empty((n_samples, self.n_features), dtype=dtype)
        for (_, columns), block in zip(self.groups, blocks):
            out[:, columns] = block
        return out
