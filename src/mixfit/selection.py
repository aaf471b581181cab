"""Choosing a Gaussian mixture: the (model, K) grid scored by BIC, ICL or AIC.

:func:`select` fits every covariance model (mclust's 14 by default) for every
number of components, from starts that every cell can share — one hierarchical
tree gives a nested partition for every K (:mod:`mixfit.engine.hierarchical`) —
and returns a :class:`Selection`: the table of fits and the best one. Cells
that fail (a covariance that collapses, more components than rows) are
recorded with their reason and never win. mclust's ``Mclust(X)`` answers the
same question; the criteria here are in scikit-learn's sign (lower is better),
so mclust's BIC is ``−bic`` here.
"""

from __future__ import annotations

import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from mixfit._parallel import check_n_jobs
from mixfit._validation import check_positive_int, check_sample_weight
from mixfit.engine.hierarchical import hc_start
from mixfit.engine.init import params_from_partition
from mixfit.estimators._data_checks import check_data
from mixfit.estimators.gaussian_mixture import GaussianMixture
from mixfit.families.gaussian.family import GaussianFamily
from mixfit.families.gaussian.registry import MCLUST_MODELS, SKLEARN_EQUIVALENTS, STRUCTURES

__all__ = ["CRITERIA", "Selection", "SelectionResult", "select"]

#: The criteria a selection can rank by (all lower-is-better).
CRITERIA = ("bic", "icl", "aic")

#: Starts a cell can use: the hierarchical partition, or any ``init_params``.
STARTS = ("hc", "kmeans", "k-means++", "random", "random_from_data")

#: With one feature the 14 models are two: equal ("E") or variable ("V") variance.
UNIVARIATE_MODELS = {"E": "EII", "V": "VII"}

#: Values of X (rows × columns) from which the cells run on threads (see select).
_THREADED_VALUES = 50_000

#: A covariance whose reciprocal condition number is below this is singular to
#: float64 (a component on a subspace): the cell is reported as failed, never
#: ranked, as a likelihood that grows without bound is no evidence for a model.
SINGULAR_RCOND = 1e3 * np.finfo(np.float64).eps


@dataclass(frozen=True)
class SelectionResult:
    """One cell of the grid: a model with a number of components, fitted or failed.

    Attributes
    ----------
    covariance_type : str
    n_components : int
    log_likelihood : float
        Total (weighted) log-likelihood of the data; NaN when the cell failed.
    n_parameters : int
    bic, aic, icl : float
        Lower is better; NaN when the cell failed.
    n_iter : int
    converged : bool
    error : str or None
        Why the cell failed, or None.
    start : str or None
        The start that gave this fit (``"hc"``, ``"kmeans"``, ...).
    """

    covariance_type: str
    n_components: int
    log_likelihood: float
    n_parameters: int
    bic: float
    aic: float
    icl: float
    n_iter: int
    converged: bool
    error: str | None = None
    start: str | None = None

    @property
    def failed(self):
        return self.error is not None


class Selection:
    """The outcome of :func:`select`: every cell of the grid and the best fit.

    Attributes
    ----------
    results : list of SelectionResult
        One per (model, K), in the order models × K.
    criterion : str
        What ``best_`` minimises ("bic", "icl" or "aic").
    best_ : GaussianMixture
        The fitted mixture of the best cell.
    best_params_ : dict
        ``{"covariance_type": ..., "n_components": ...}`` of the best cell.
    """

    def __init__(self, results, criterion, best, notes=()):
        self.results = list(results)
        self.criterion = criterion
        self.best_ = best
        self.best_params_ = {"covariance_type": best.covariance_type,
                             "n_components": int(best.n_components)}
        self.notes = tuple(notes)

    def ranked(self, criterion=None):
        """The fitted cells, best first by ``criterion`` (default: the selection's)."""
        criterion = _check_criterion(criterion or self.criterion)
        fitted = [result for result in self.results if not result.failed]
        return sorted(fitted, key=lambda result: getattr(result, criterion))

    def table(self, criterion=None):
        """``(models, n_components, values)``: the criterion as a models × K array (NaN = failed)."""
        criterion = _check_criterion(criterion or self.criterion)
        models = list(dict.fromkeys(result.covariance_type for result in self.results))
        ks = sorted({result.n_components for result in self.results})
        values = np.full((len(models), len(ks)), np.nan)
        for result in self.results:
            values[models.index(result.covariance_type), ks.index(result.n_components)] = (
                getattr(result, criterion))
        return models, ks, values

    def to_frame(self):
        """The results as a pandas DataFrame, one row per cell (pandas must be installed)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "Selection.to_frame needs pandas (pip install pandas); the same numbers "
                "are in Selection.results and Selection.table()."
            ) from None
        return pd.DataFrame([result.__dict__ for result in self.results])

    def __repr__(self):
        top = self.ranked()[:3]
        name = self.criterion.upper()
        best = getattr(top[0], self.criterion)
        cells = [f"{r.covariance_type},{r.n_components}" for r in top]
        width = max(12, *(len(cell) + 2 for cell in cells))
        lines = [
            f"Selection of {len(self.results)} fits by {name} (lower is better; mclust "
            f"reports −{name}).",
            f"Top {len(top)} models based on the {name} criterion:",
            " " * 10 + "".join(cell.rjust(width) for cell in cells),
            f"{name:<10}" + "".join(f"{getattr(r, self.criterion):{width}.3f}" for r in top),
            f"{name + ' diff':<10}" + "".join(
                f"{getattr(r, self.criterion) - best:{width}.3f}" for r in top),
        ]
        n_failed = sum(result.failed for result in self.results)
        if n_failed:
            lines.append(f"{n_failed} of {len(self.results)} cells failed (see .results).")
        lines.extend(self.notes)
        return "\n".join(lines)

    def plot(self, ax=None, criterion=None):
        """The criterion against K, one line per model, failed cells left out, the best marked.

        Returns
        -------
        matplotlib.axes.Axes
        """
        from mixfit.plot.selection import plot_selection

        return plot_selection(self, ax=ax, criterion=criterion)


def _check_criterion(criterion):
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {list(CRITERIA)}, got {criterion!r}.")
    return criterion


def resolve_covariance_types(covariance_types, n_features):
    """The list of models to fit, and a note when one feature merges them.

    ``"mclust"`` is the 14 models; ``"sklearn"`` scikit-learn's four names; a
    string is one model; a list is taken as given (every name checked).
    """
    if isinstance(covariance_types, str):
        if covariance_types == "mclust":
            models = list(MCLUST_MODELS)
        elif covariance_types == "sklearn":
            models = list(SKLEARN_EQUIVALENTS)
        else:
            models = [covariance_types]
    else:
        try:
            models = list(covariance_types)
        except TypeError:
            models = None
        if not models:
            raise ValueError(
                "covariance_types must be 'mclust', 'sklearn', a model name or a non-empty "
                f"list of them, got {covariance_types!r}."
            )
    unknown = [model for model in models if model not in STRUCTURES]
    if unknown:
        raise ValueError(
            f"unknown covariance type(s) {unknown}: choose among mclust's "
            f"{list(MCLUST_MODELS)}, scikit-learn's {list(SKLEARN_EQUIVALENTS)} and "
            "'identity', or pass 'mclust' (all 14) or 'sklearn'."
        )
    models = list(dict.fromkeys(models))
    notes = []
    mclust = [model for model in models if model in MCLUST_MODELS]
    if n_features == 1 and len(mclust) > 1:
        # Volume is the only part left: every model is E (equal variance) or V.
        merged = [model for model in models if model not in MCLUST_MODELS]
        kept = sorted({UNIVARIATE_MODELS[model[0]] for model in mclust})
        merged = kept + merged
        notes.append(
            "With one feature the 14 models reduce to two, equal variance (E, fitted as "
            "EII) and variable variance (V, fitted as VII): only those were fitted."
        )
        models = merged
    return models, notes


def resolve_n_components(n_components):
    values = [n_components] if isinstance(n_components, (int, np.integer)) else n_components
    try:
        values = [check_positive_int(value, "n_components") for value in values]
    except TypeError:
        raise ValueError(
            f"n_components must be a positive integer or a list of them, got {n_components!r}."
        ) from None
    if not values:
        raise ValueError("n_components must hold at least one number of components.")
    return sorted(set(values))


def resolve_starts(init):
    starts = [init] if isinstance(init, str) else list(init)
    unknown = [start for start in starts if start not in STARTS]
    if unknown or not starts:
        raise ValueError(f"init must be one of {list(STARTS)} or a list of them, got {init!r}.")
    return list(dict.fromkeys(starts))


class _Cell:
    """Fits one (model, K) cell from each start and keeps the best."""

    def __init__(self, X, sample_weight, options):
        self.X, self.sample_weight, self.options = X, sample_weight, options

    def fit(self, model, n_components, starts, partitions, seeds):
        best, errors = None, []
        for start in starts:
            for seed in seeds:
                try:
                    estimator = self._fit_one(model, n_components, start, partitions, seed)
                except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
                    errors.append(f"{start}: {_first_line(exc)}")
                    continue
                bound = estimator.lower_bound_
                if best is None or bound > best[0].lower_bound_:
                    best = (estimator, start)
                if partitions is not None and start == "hc":
                    break  # the hierarchical start is the same whatever the seed
        return best, errors

    def _fit_one(self, model, n_components, start, partitions, seed):
        options = self.options
        estimator = GaussianMixture(
            n_components, covariance_type=model, reg_covar=options["reg_covar"],
            tol=options["tol"], max_iter=options["max_iter"], random_state=seed, n_jobs=1,
        )
        if start == "hc":
            rows, labels = partitions
            family = GaussianFamily(model, options["reg_covar"])
            params = params_from_partition(family, self.X, rows, labels[n_components],
                                           n_components, sample_weight=self.sample_weight)
            estimator.set_params(
                weights_init=params.weights, means_init=params.components.means,
                precisions_init=None if model == "identity" else
                family.structure.precisions_from_cholesky(
                    params.components.precisions_cholesky),
            )
        else:
            estimator.set_params(init_params=start)
        # (ConvergenceWarning is silenced by select for all threads: catch_warnings
        # is not thread-safe; the result records converged.)
        estimator.fit(self.X, sample_weight=self.sample_weight)
        _refuse_singular(estimator)
        if start == "hc":
            # The fit's description, not its (K, d, d) starting arrays: a refit
            # starts from a hierarchical partition too (GaussianMixture's "hc"; the
            # same one up to 2000 rows, beyond them another subsample's).
            estimator.set_params(weights_init=None, means_init=None, precisions_init=None,
                                 init_params="hc")
        return estimator


def _first_line(exc):
    """The error's first line, cut to 300 characters at a sentence's or a word's end."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    if len(line) <= 300:
        return line
    head = line[:300]
    sentence = head.rfind(". ")
    return head[:sentence + 1] if sentence > 100 else head[:head.rfind(" ")] + " …"


def _component_covariances(estimator):
    structure = estimator._family.structure
    n_components, n_features = estimator.means_.shape
    cov = np.asarray(estimator.covariances_, dtype=np.float64)
    return np.stack([structure.component_covariance(cov, k, n_features)
                     for k in range(n_components)])


def _refuse_singular(estimator):
    eigenvalues = np.linalg.eigvalsh(_component_covariances(estimator))
    rcond = eigenvalues[:, 0] / eigenvalues[:, -1]
    if not np.all(rcond > SINGULAR_RCOND):
        k = int(np.argmin(rcond))
        raise ValueError(
            f"singular covariance: component {k} has a condition number of "
            f"{1 / max(rcond[k], 1e-300):.3g} (it collapsed onto a subspace); a positive "
            "reg_covar would regularise it."
        )


def _scores(estimator, X, sample_weight):
    """Total log-likelihood, BIC, AIC and ICL of a fitted cell, weights counting as copies."""
    log_resp, log_norm = estimator._log_resp(X)
    weight = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    total = float(weight @ log_norm.astype(np.float64))
    n_eff = float(weight.sum())
    n_parameters = int(estimator._n_parameters())
    bic = -2.0 * total + n_parameters * math.log(n_eff)
    aic = -2.0 * total + 2.0 * n_parameters
    icl = bic - 2.0 * float(weight @ log_resp.max(axis=1).astype(np.float64))
    return total, n_parameters, bic, aic, icl


def select(X, n_components=range(1, 10), covariance_types="mclust", criterion="bic",
           init="hc", n_init=1, sample_weight=None, n_jobs=None, random_state=None, *,
           reg_covar=0.0, tol=5e-6, max_iter=1000, hc_rows=2000, callback=None):
    """Fit every (model, K) and choose by BIC, ICL or AIC, as mclust's ``Mclust(X)`` does.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_components : int or iterable of int, default=range(1, 10)
    covariance_types : "mclust", "sklearn", a name, or a list of names, default="mclust"
        "mclust": the 14 parsimonious models (EII ... VVV); "sklearn": "spherical",
        "diag", "tied", "full". With one feature the 14 reduce to E and V
        (fitted as EII and VII), and the selection says so.
    criterion : {"bic", "icl", "aic"}, default="bic"
        What the best cell minimises (scikit-learn's sign: lower is better).
    init : str or list of str, default="hc"
        "hc": the partitions of one model-based hierarchical tree (Ward's
        criterion, mclust's EII, on at most ``hc_rows`` rows, scaled and
        SVD-rotated; see :mod:`mixfit.engine.hierarchical`), cut at every K; or any of
        GaussianMixture's ``init_params`` ("kmeans", "k-means++", "random",
        "random_from_data"). A list fits every cell from each and keeps the best.
    n_init : int, default=1
        Runs per random start (the hierarchical start is deterministic: one run).
    sample_weight : array-like of shape (n_samples,), optional
        Weights counting as copies of the rows (BIC's n is their sum).
    n_jobs : int, optional
        Cells fitted at once, on threads (each fit runs on one); None: every
        core. Data of fewer than 50,000 values run on one thread whatever
        ``n_jobs`` (their fits are bound by Python, where threads only contend).
        The results do not depend on it.
    random_state : int, RandomState or None
        Seeds the subsample of the tree and the random starts.
    reg_covar : float, default=0.0
        As GaussianMixture's; 0, as mclust, so that a collapsing component is a
        failed cell instead of a regularised fit.
    tol, max_iter : float, int, default=5e-6, 1000
        EM's stopping rule per cell, relative as mclust's (which stops at 1e-5):
        a fit stops when its mean per-row log-likelihood changes by less than
        ``tol × max(1, |ℓ₁|)``, with ℓ₁ the data's mean log-likelihood under one
        Gaussian (so the rule does not depend on the data's units more than
        mclust's does).
    hc_rows : int, default=2000
        Rows the hierarchical tree is built on (its cost is quadratic in them).
    callback : callable, optional
        ``callback(done, total, result)`` after each cell (progress bars).

    Returns
    -------
    Selection

    Raises
    ------
    ValueError
        For unknown names, or when every cell fails (with the reasons).

    Examples
    --------
    >>> import numpy as np
    >>> import mixfit
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (100, 2)), rng.normal(8, 1, (100, 2))])
    >>> selection = mixfit.select(X, n_components=range(1, 4), covariance_types=["EII", "VVV"])
    >>> selection.best_params_["n_components"]
    2
    """
    criterion = _check_criterion(criterion)
    estimator = GaussianMixture()
    X = check_data(estimator, X, reset=True, ensure_min_samples=2)
    # Weights come back scaled to a largest weight in [1, 2) (exact); the
    # criteria count them as copies of rows, so they are scored in the user's units.
    sample_weight, weight_scale = check_sample_weight(sample_weight, X.shape[0],
                                                      return_scale=True)
    counts = None if sample_weight is None else sample_weight * weight_scale
    ks = resolve_n_components(n_components)
    models, notes = resolve_covariance_types(covariance_types, X.shape[1])
    starts = resolve_starts(init)
    n_init = check_positive_int(n_init, "n_init")
    hc_rows = check_positive_int(hc_rows, "hc_rows", minimum=2)
    rng = check_random_state(random_state)
    n_usable = X.shape[0] if sample_weight is None else int(np.count_nonzero(sample_weight))

    # Both drawn whatever the starts, so that a start's seed does not depend on
    # which other starts run beside it.
    hc_seed = rng.randint(np.iinfo(np.int32).max)
    seeds = rng.randint(np.iinfo(np.int32).max, size=n_init)
    partitions = None
    if "hc" in starts:
        usable_ks = [k for k in ks if k <= min(n_usable, hc_rows)]
        if usable_ks:
            rows, labels = hc_start(X, usable_ks, max_rows=hc_rows,
                                    sample_weight=sample_weight, random_state=hc_seed)
            partitions = (rows, labels)
    tol = _absolute_tol(X, counts, tol)
    options = {"reg_covar": reg_covar, "tol": tol, "max_iter": max_iter}
    cell = _Cell(X, sample_weight, options)

    def run(model_and_k):
        model, k = model_and_k
        return _run_cell(cell, model, k, starts, partitions, seeds, n_usable, X, counts)

    grid = [(model, k) for model in models for k in ks]
    results, best = [], None
    # Cells on threads, each fit on one: the fits' numba sweeps release the GIL,
    # and per-iteration thread dispatch inside one small fit cost more than it
    # gained (20,000 × 6, 14 × 9 cells: 13.5 s with 2 threads per fit, 11.4 s with 1).
    # On small data the fits are Python-bound (the GIL) and threads only contend:
    # iris 2.8 s on 2 threads, 2.2 s on 1; wine 3.3 s and 2.9 s; 20,000 × 6
    # 7.2 s on 2 and 9.1 s on 1.
    n_threads = min(check_n_jobs(n_jobs), len(grid))
    if X.size < _THREADED_VALUES:
        n_threads = 1
    # BLAS on one thread: the cells are the parallelism, and the small matrices of
    # the M-steps lose time to BLAS threads fighting the cells' threads.
    with warnings.catch_warnings(), threadpool_limits(1), ThreadPoolExecutor(n_threads) as pool:
        warnings.simplefilter("ignore", ConvergenceWarning)
        for result, fitted in (pool.map(run, grid) if n_threads > 1 else map(run, grid)):
            results.append(result)
            if fitted is not None and (
                    best is None or getattr(result, criterion) < getattr(best[0], criterion)):
                best = (result, fitted)
            if callback is not None:
                callback(len(results), len(grid), result)
    if best is None:
        reasons = sorted({result.error for result in results})
        raise ValueError(
            f"every one of the {len(results)} fits failed; reasons: {'; '.join(reasons[:5])}. "
            "Try fewer components, a positive reg_covar (e.g. 1e-6; mixfit select "
            "--reg-covar), or standardised data."
        )
    chosen = best[1]
    if hasattr(estimator, "feature_names_in_"):
        # The cells were fitted on the validated array; the chosen mixture keeps
        # the DataFrame's column names, so that it checks them as a fit on X would.
        chosen.feature_names_in_ = estimator.feature_names_in_
    return Selection(results, criterion, chosen, notes)


def _run_cell(cell, model, k, starts, partitions, seeds, n_usable, X, counts):
    """One cell's SelectionResult and fitted estimator (None when it failed).

    ``counts``: the sample weights in the user's units (they count as rows).
    """
    n_parameters = GaussianFamily(model).n_parameters(k, X.shape[1]) + k - 1
    if k > n_usable:
        error = f"{k} components but only {n_usable} rows with positive weight"
        return _failed(model, k, n_parameters, error), None
    cell_starts = [s for s in starts if s != "hc" or (partitions is not None
                                                       and k in partitions[1])]
    if not cell_starts:
        return _failed(model, k, n_parameters, "no start applies to this many components"), None
    fitted, errors = cell.fit(model, k, cell_starts, partitions, seeds)
    if fitted is None:
        return _failed(model, k, n_parameters, "; ".join(dict.fromkeys(errors))), None
    estimator, start = fitted
    total, n_parameters, bic, aic, icl = _scores(estimator, X, counts)
    if not np.isfinite([total, bic, aic, icl]).all():
        return _failed(model, k, n_parameters, "the log-likelihood is not finite"), None
    result = SelectionResult(model, k, total, n_parameters, bic, aic, icl,
                             int(estimator.n_iter_), bool(estimator.converged_), None, start)
    return result, estimator


def _absolute_tol(X, counts, tol):
    """``tol × max(1, |ℓ₁|)``: ℓ₁ the mean log-likelihood of one Gaussian fitted to X.

    From the weighted covariance's eigenvalues (a singular one, e.g. a constant
    column, leaves the scale at 1).
    """
    if not (isinstance(tol, (int, float, np.floating)) and math.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}.")
    weight = None if counts is None else counts
    covariance = np.atleast_2d(np.cov(X.astype(np.float64), rowvar=False, aweights=weight,
                                      bias=True))
    eigenvalues = np.linalg.eigvalsh(covariance)
    if not eigenvalues.min() > 0:
        return float(tol)
    n_features = X.shape[1]
    mean_log_likelihood = -0.5 * (n_features * (math.log(2 * math.pi) + 1)
                                  + float(np.log(eigenvalues).sum()))
    return float(tol) * max(1.0, abs(mean_log_likelihood))


def _failed(model, k, n_parameters, error):
    nan = float("nan")
    return SelectionResult(model, k, nan, n_parameters, nan, nan, nan, 0, False, error, None)
