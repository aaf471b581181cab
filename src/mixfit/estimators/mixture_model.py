"""``MixtureModel``: the general mixture estimator — any family, or mixed column groups.

``family`` is a name (``"gaussian"``, ``"bernoulli"``, ``"poisson"``,
``"categorical"``, ``"student"``), a family object, or a list of
``(family, columns)`` pairs, as ``ColumnTransformer``'s transformers: the
columns of each group are modelled by its family, independently of the other
groups within a component (:class:`~mixfit.families.product.ProductFamily`).
The named estimators (``BernoulliMixture``, ``PoissonMixture``,
``CategoricalMixture``, ``StudentMixture``) are its shortcuts.
"""

from __future__ import annotations

import numbers

import numpy as np

from mixfit.estimators._family_mixture import FamilyMixture
from mixfit.families.bernoulli import BernoulliFamily
from mixfit.families.categorical import CategoricalFamily
from mixfit.families.gaussian.family import GaussianFamily
from mixfit.families.poisson import PoissonFamily
from mixfit.families.student import StudentFamily

__all__ = ["FAMILY_NAMES", "MixtureModel", "family_from_name"]

#: The families ``family`` may name, each made with its defaults.
FAMILY_NAMES = {
    "gaussian": GaussianFamily,
    "bernoulli": BernoulliFamily,
    "poisson": PoissonFamily,
    "categorical": CategoricalFamily,
    "student": StudentFamily,
}

#: What a family object must have for the engine to fit it.
_PROTOCOL = ("log_prob", "stats", "empty_stats", "m_step", "n_parameters", "sample",
             "parameter_names")


def family_from_name(name):
    """A family with its default settings, from its name in :data:`FAMILY_NAMES`."""
    if name not in FAMILY_NAMES:
        raise ValueError(
            f"unknown family {name!r}; the families are {sorted(FAMILY_NAMES)}, or pass "
            "a family object (e.g. mixfit.families.GaussianFamily('diag'))."
        )
    return FAMILY_NAMES[name]()


def _family(spec, where="family"):
    """A family from a name or an object (checked for the engine's protocol)."""
    if isinstance(spec, str):
        return family_from_name(spec)
    missing = [name for name in _PROTOCOL if not hasattr(spec, name)]
    if missing:
        raise TypeError(
            f"{where} must be a family name ({sorted(FAMILY_NAMES)}) or a family object "
            f"with {', '.join(_PROTOCOL)}; {type(spec).__name__} lacks {', '.join(missing)}."
        )
    if isinstance(spec, CategoricalFamily) and spec.n_levels is not None:
        # The estimator finds the levels in the data (categories_); a given
        # n_levels would be overridden, so it is refused rather than ignored.
        raise ValueError(
            f"{where}: give CategoricalFamily without n_levels (e.g. "
            "CategoricalFamily(pseudocount=0.5)); the levels come from the data."
        )
    return spec


def _is_group_list(spec):
    return isinstance(spec, (list, tuple)) and not isinstance(spec, str)


class MixtureModel(FamilyMixture):
    """Mixture of any component family, or of mixed column groups, fitted by EM.

    The general estimator: a Gaussian, Bernoulli, Poisson, categorical or
    Student-t mixture by name, any family object, or a table whose columns
    are of different kinds (flags, counts, categories, measurements), each
    group of columns with its own family and the groups independent within
    a component.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components K.
    family : str, family object or list of (family, columns), default="gaussian"
        A name — ``"gaussian"`` (full covariances), ``"bernoulli"``,
        ``"poisson"``, ``"categorical"``, ``"student"`` — makes that family
        with its defaults; a family object (e.g.
        ``mixfit.families.BernoulliFamily(pseudocount=0.5)``) is used as it
        is; a list of ``(family, columns)`` pairs (each family a name or an
        object; ``columns`` an index, a DataFrame column name, a list of
        either, or a slice, as ``ColumnTransformer``) models each group of
        columns by its family. Every column must be in exactly one group.
    tol : float, default=1e-3
        EM stops when the mean per-sample log-likelihood improves by less than this.
    max_iter : int, default=100
        EM iterations per initialisation (0 keeps the initial parameters).
    n_init : int, default=1
        Initialisations to run; the one with the highest final log-likelihood is kept.
    init_params : {"kmeans", "random"}, default="kmeans"
        "kmeans": memberships from one K-means fit (k-means++ seeded), on the
        rows with categorical columns one-hot encoded and missing values
        filled with their column's mean (for K-means alone); "random": random
        memberships (uniform, normalised per row).
    weights_init : array-like of shape (n_components,), optional
        Initial weights (they replace the start's).
    params_init : dict, optional
        Initial values of the family's parameters, by name (the names of the
        fitted attributes without the trailing underscore, e.g.
        ``{"means": ...}`` or ``{"group0_probabilities": ...}``).
    fixed_params : collection of str, optional
        Parameters held at their initial values (given, or from the start)
        while EM updates the others: ``"weights"`` and any of the family's
        parameter names. BIC and AIC count only the free parameters.
    semi_supervised : bool, default=False
        Whether ``fit(X, y)`` reads ``y`` as partial labels (component
        indices, −1 for unlabelled rows); scikit-learn's mixtures ignore
        ``y``, so this must be asked for.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisations and ``sample``; an int makes ``fit`` reproducible.
    callback : callable, optional
        ``callback(iteration, params, log_likelihood)`` after every EM iteration.
    verbose : int, default=0
        GaussianMixture's progress lines (every 10th iteration).
    n_jobs : int, default=None
        Threads for the E-step (row chunks); None: every core. The result
        does not depend on it.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Share of the data in each component.
    <name>_ : ndarray (or list of ndarray)
        One attribute per parameter of the family (``family.parameter_names``):
        ``means_`` and ``covariances_`` (Gaussian), ``probabilities_``
        (Bernoulli; categorical: one (K, L_j) array per column), ``rates_``
        (Poisson), ``means_``, ``covariances_``, ``degrees_of_freedom_``
        (Student). With a list of groups, each group's names are prefixed by
        ``group{g}_``, g its position in the list: ``group0_probabilities_``,
        ``group1_means_``…
    categories_ : list of ndarray
        With categorical columns: the sorted categories of each, in the
        order of the columns in X.
    converged_, n_iter_, lower_bound_, lower_bounds_, n_features_in_, feature_names_in_
        As :class:`~mixfit.BernoulliMixture`'s.

    Notes
    -----
    Missing values (NaN, or None in categorical columns) are skipped by the
    Bernoulli, Poisson and categorical families (a row's density is that of
    its observed values); the Gaussian and Student families here refuse
    them (``GaussianMixture`` models them). Rows with no observed value are
    refused.

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit import MixtureModel
    >>> rng = np.random.default_rng(0)
    >>> flags = np.r_[rng.random((50, 2)) < 0.9, rng.random((50, 2)) < 0.1]
    >>> counts = np.r_[rng.poisson(1.0, (50, 1)), rng.poisson(9.0, (50, 1))]
    >>> X = np.hstack([flags, counts]).astype(float)
    >>> model = MixtureModel(2, family=[("bernoulli", [0, 1]), ("poisson", [2])],
    ...                      random_state=0).fit(X)
    >>> np.sort(model.group1_rates_[:, 0]).round(0)
    array([1., 9.])
    """

    def __init__(self, n_components=1, *, family="gaussian", tol=1e-3, max_iter=100,
                 n_init=1, init_params="kmeans", weights_init=None, params_init=None,
                 fixed_params=None, semi_supervised=False, random_state=None,
                 callback=None, verbose=0, n_jobs=None):
        self.n_components = n_components
        self.family = family
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.params_init = params_init
        self.fixed_params = fixed_params
        self.semi_supervised = semi_supervised
        self.random_state = random_state
        self.callback = callback
        self.verbose = verbose
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ the family

    def _pairs(self):
        """``[(family, columns spec)]``: one pair (all columns) unless a list was given."""
        spec = self.family
        if not _is_group_list(spec):
            return [(_family(spec), None)]
        if not spec:
            raise ValueError("family is an empty list; give (family, columns) pairs.")
        pairs = []
        for g, item in enumerate(spec):
            if not (isinstance(item, (list, tuple)) and len(item) == 2):
                raise ValueError(
                    f"family[{g}] must be a (family, columns) pair, got {item!r}."
                )
            pairs.append((_family(item[0], f"family[{g}][0]"), item[1]))
        return pairs

    def _family_templates(self):
        return [family for family, _ in self._pairs()]

    def _resolve_groups(self, n_features, names):
        pairs = self._pairs()
        if len(pairs) == 1 and pairs[0][1] is None:
            return [(pairs[0][0], np.arange(n_features))]
        owner = {}
        groups = []
        for g, (family, columns) in enumerate(pairs):
            indices = _column_indices(columns, n_features, names, g)
            for column in indices:
                if column in owner:
                    raise ValueError(
                        f"column {_label(column, names)} is in family[{owner[column]}] and "
                        f"in family[{g}]; put each column in one group."
                    )
                owner[column] = g
            groups.append((family, np.asarray(indices, dtype=np.intp)))
        missing = [c for c in range(n_features) if c not in owner]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise ValueError(
                f"column {_label(missing[0], names)}{more} is in no group of family; give "
                "every column a family (or drop it from X)."
            )
        return groups

    def _owner(self, family):
        return f"MixtureModel's {type(family).__name__}"

    def _given_values(self):
        given = self.params_init
        if given is None:
            return {}
        if not isinstance(given, dict):
            raise TypeError(
                f"params_init must be a dict of initial values by parameter name, got "
                f"{type(given).__name__}."
            )
        return given


def _label(column, names):
    return repr(str(names[column])) if names is not None else str(column)


def _column_indices(columns, n_features, names, g):
    """The integer positions of one group's ``columns`` (ColumnTransformer's forms)."""
    if isinstance(columns, slice):
        columns = list(range(n_features))[columns]
    if isinstance(columns, (str, numbers.Integral)) and not isinstance(columns, bool):
        columns = [columns]
    try:
        items = list(columns)
    except TypeError:
        raise ValueError(
            f"family[{g}]'s columns must be an index, a column name, a list of them or a "
            f"slice, got {columns!r}."
        ) from None
    if not items:
        raise ValueError(f"family[{g}] has no columns; give it at least one.")
    out = []
    for item in items:
        if isinstance(item, str):
            if names is None or item not in names:
                where = ("X has no column names (pass a DataFrame, or use indices)"
                         if names is None else f"X's columns are {list(names)[:10]}")
                raise ValueError(
                    f"family[{g}] names column {item!r}, which X does not have: {where}."
                )
            out.append(names.index(item))
        elif isinstance(item, numbers.Integral) and not isinstance(item, bool):
            index = int(item)
            if not -n_features <= index < n_features:
                raise ValueError(
                    f"family[{g}] names column {index}, out of range: X has {n_features} "
                    "column(s)."
                )
            out.append(index % n_features)
        else:
            raise ValueError(
                f"family[{g}]'s columns must be indices or column names, got {item!r}."
            )
    return out
