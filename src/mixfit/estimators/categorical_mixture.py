"""``CategoricalMixture``: a mixture of products of categorical distributions.

A named shortcut of :class:`~mixfit.MixtureModel` with the
:class:`~mixfit.families.categorical.CategoricalFamily` on every column:
the columns' values are encoded as OneHotEncoder would (``categories_``,
sorted per column) and the family reads their codes.
"""

from __future__ import annotations

from mixfit.estimators.discrete_mixtures import SingleFamilyMixture
from mixfit.families.categorical import CategoricalFamily

__all__ = ["CategoricalMixture"]


class CategoricalMixture(SingleFamilyMixture):
    """Mixture of products of categorical distributions, for columns of categories.

    Clusters rows of categories (answers to a survey, colours, codes):
    component k gives level l of column j the probability
    ``probabilities_[j][k, l]``, independently of the other columns. Fitted
    by EM. Any number of columns, each of strings, integers or a pandas
    categorical (any values that sort); each column needs at least two
    categories.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components K.
    pseudocount : float, default=1.0
        ``a`` in the M-step ``π = (count + a) / (observed + a L_j)``: ``a``
        imaginary rows of every category per component and column, in units
        of a row of weight 1 (Laplace's rule at the default). It keeps every
        probability positive, so no new row is impossible; 0 gives the
        maximum likelihood estimate. EM then maximises the log-likelihood
        plus ``a Σ log π``, so ``lower_bounds_`` (the log-likelihood alone)
        may fall slightly from one iteration to the next.
    tol : float, default=1e-3
        EM stops when the mean per-sample log-likelihood improves by less than this.
    max_iter : int, default=100
        EM iterations per initialisation (0 keeps the initial parameters).
    n_init : int, default=1
        Initialisations to run; the one with the highest final log-likelihood is kept.
    init_params : {"kmeans", "random"}, default="kmeans"
        "kmeans": memberships from one K-means fit on the rows' one-hot
        encoding (rows that share categories start together); "random":
        random memberships (uniform, normalised per row). The default differs
        from BernoulliMixture's: from random memberships the components start
        nearly equal, a saddle point that EM on categories leaves so slowly
        that ``tol`` stops it there.
    weights_init : array-like of shape (n_components,), optional
        Initial weights (they replace the start's).
    probabilities_init : list of array-like of shape (n_components, n_levels_j), optional
        Initial probabilities, one array per column, levels in the order of
        ``categories_`` (sorted); each row sums to 1.
    fixed_params : collection of str, optional
        Parameters held at their initial values (given, or from the start)
        while EM updates the others: any of ``"weights"``, ``"probabilities"``.
        BIC and AIC count only the free parameters.
    semi_supervised : bool, default=False
        Whether ``fit(X, y)`` reads ``y`` as partial labels (component
        indices, −1 for unlabelled rows); scikit-learn's mixtures ignore
        ``y``, so this must be asked for.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisations and ``sample``; an int makes ``fit`` reproducible.
    callback : callable, optional
        ``callback(iteration, params, log_likelihood)`` after every EM iteration
        (``params`` is a :class:`mixfit.engine.em.MixtureParams`).
    verbose : int, default=0
        GaussianMixture's progress lines (every 10th iteration).
    n_jobs : int, default=None
        Threads for the E-step (row chunks); None: every core. The result
        does not depend on it.

    Attributes
    ----------
    categories_ : list of ndarray
        The categories of each column, sorted (as ``OneHotEncoder.categories_``):
        int64 for integer columns, object otherwise.
    probabilities_ : list of ndarray of shape (n_components, n_levels_j)
        Probability of each category of column j in each component.
    weights_ : ndarray of shape (n_components,)
        Share of the data in each component.
    converged_ : bool
        Whether the best run met ``tol`` within ``max_iter`` iterations.
    n_iter_ : int
        EM iterations of the best run.
    lower_bound_ : float
        Mean per-sample log-likelihood of the training data at the last E-step
        of the best run (weighted by ``sample_weight``).
    lower_bounds_ : list of float
        That quantity at every iteration of the best run.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X was a DataFrame with string column names.

    Notes
    -----
    Missing values (None, NaN, pandas' NA) are skipped: a row's
    log-density is that of its observed values, and each column's
    probabilities come from the rows where it is observed. A category that
    ``fit`` did not see is refused at prediction with an error naming the
    column and the value (a model has no probability for it; map it to a
    known category or mark it missing). ``sample`` returns an object array
    of categories.

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit import CategoricalMixture
    >>> X = np.array([["red", "small"]] * 5 + [["blue", "large"]] * 5, dtype=object)
    >>> cm = CategoricalMixture(2, pseudocount=0.0, random_state=0).fit(X)
    >>> cm.categories_
    [array(['blue', 'red'], dtype=object), array(['large', 'small'], dtype=object)]
    >>> (cm.predict(X[:1]) == cm.predict(X[:5])).all()
    np.True_
    """

    _init_name = "probabilities"
    _impossible_hint = (
        "it holds a category that every component gives probability 0. Fit with "
        "pseudocount > 0 to keep every probability positive."
    )

    def __init__(self, n_components=1, *, pseudocount=1.0, tol=1e-3, max_iter=100,
                 n_init=1, init_params="kmeans", weights_init=None,
                 probabilities_init=None, fixed_params=None, semi_supervised=False,
                 random_state=None, callback=None, verbose=0, n_jobs=None):
        self.n_components = n_components
        self.pseudocount = pseudocount
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.probabilities_init = probabilities_init
        self.fixed_params = fixed_params
        self.semi_supervised = semi_supervised
        self.random_state = random_state
        self.callback = callback
        self.verbose = verbose
        self.n_jobs = n_jobs

    def _template(self):
        return CategoricalFamily(pseudocount=self.pseudocount)
