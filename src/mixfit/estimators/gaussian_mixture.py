"""``GaussianMixture``: the scikit-learn-compatible estimator over the EM engine."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin

from mixfit.engine import em as em
from mixfit._validation import check_n_samples_at_least, check_sample_weight, check_seed
from mixfit.engine.sources import ArraySource, DaskSource, is_memory_mapped
from mixfit.estimators._dask_data import (
    check_dask_data,
    check_dask_sample_weight,
    dask_blocks,
    is_dask_array,
    lazy_query,
    summarize,
)
from mixfit.estimators._data_checks import check_data
from mixfit.families import GaussianFamily
from mixfit.engine.constraints import labelled_start
from mixfit.estimators._large_data import start_rows
from mixfit.estimators._fit_state import forget_data_records, keeps_state_on_failure
from mixfit.estimators._gmm_decomposition import set_decomposition
from mixfit.estimators._gmm_fitting import MixtureFitting
from mixfit.estimators._gmm_init import check_user_init, init_kind, rescaled_init
from mixfit.estimators._gmm_missing import (fit_has_missing, mean_observed, missing_family,
                                             start_data)
from mixfit.estimators._gmm_queries import MixtureQueries, rescaled_params
from mixfit.estimators._sklearn_compat import (
    MixtureProgress,
    params_in_dtype,
    warm_start_from,
    warn_not_converged,
)

__all__ = ["GaussianMixture"]


class GaussianMixture(MixtureFitting, MixtureQueries, DensityMixin, BaseEstimator):
    """Gaussian mixture model: soft clustering and density estimation, fitted by EM.

    A Gaussian mixture describes data as drawn from K bell-shaped groups
    (components), each with its own centre (mean), spread and shape
    (covariance) and share of the data (weight). Fitting finds those parameters
    by expectation-maximisation (EM), which alternates between giving each sample
    a probability of belonging to each component and re-estimating the
    components from those probabilities, until the average log-likelihood of the
    data stops improving. A fitted mixture labels samples (``predict``), gives
    their membership probabilities (``predict_proba``) and their density
    (``score_samples``), draws new samples (``sample``) and scores the number of
    components (``bic``, ``aic``). The interface is scikit-learn's
    ``sklearn.mixture.GaussianMixture``, with one more covariance type,
    ``"identity"``: every component is a round bell of variance 1 in every
    direction, so only the means and weights are learned (a soft form of K-means,
    for data in comparable, standardised units).

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit import GaussianMixture
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> np.sort(gm.means_[:, 0])
    array([ 1., 10.])
    >>> labels = gm.predict([[0, 1], [11, 3]])  # one point near each group
    >>> bool(labels[0] != labels[1])
    True
    >>> round(float(gm.predict_proba([[1, 2]]).max()), 3)  # surely in one component
    1.0

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components K.
    covariance_type : str, default="full"
        The shape each component may take. "full": its own covariance matrix
        (any ellipsoid); "tied": one covariance matrix shared by all components;
        "diag": its own variance per feature (ellipsoids along the axes);
        "spherical": one variance per component (balls of any size);
        "identity": variance 1 in every direction for every component, only
        means and weights are learned. Or one of mclust's 14 models, which
        write ``Σ_k = λ_k D_k A_k D_kᵀ`` (volume, shape, orientation) and say
        for each part, in that order, whether it is Equal for all components,
        Variable, or the Identity: "EII", "VII", "EEI", "VEI", "EVI", "VVI",
        "EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV" ("VII", "VVI",
        "EEE" and "VVV" are "spherical", "diag", "tied" and "full", with
        (K, d, d) attributes). :func:`mixfit.select` compares them.
    tol : float, default=1e-3
        EM stops when the mean per-sample log-likelihood improves by less than this.
    reg_covar : float, default=1e-6
        Added to the diagonal of every estimated covariance, keeping it positive
        definite when a component sits on few points (not used by ``"identity"``).
        For mclust's models it is added to each component's scatter as
        ``n_k · reg_covar · I`` before the model's M-step, which keeps the
        model's constraints (for VVV, VVI, VII and EEE that is the same as adding
        it to the covariances). 0 is allowed: a component that collapses then
        stops the fit with an error, never a NaN.
    max_iter : int, default=100
        EM iterations per initialisation (0 keeps the initial parameters).
    n_init : int, default=1
        Initialisations to run; the one with the highest final log-likelihood is kept.
    init_params : {"kmeans", "k-means||", "k-means++", "random", "random_from_data", \
"lecture", "hc"}, default="kmeans"
        How the initial parameters are chosen: "kmeans", memberships from one
        K-means fit; "k-means||", the same with that K-means seeded by
        k-means|| (a few passes over the data whatever K, see
        :mod:`mixfit.engine.init_parallel`); "random", random memberships; "k-means++" and
        "random_from_data", means at rows chosen by k-means++ or at random;
        "lecture", every mean at the data mean plus 1 % of the spread as noise;
        "hc", the partition of model-based hierarchical clustering (Ward's
        criterion, mclust's EII, on at most 2000 rows drawn from
        ``random_state``, scaled and rotated onto their principal axes) (see
        :func:`mixfit.engine.init.initial_mixture_params`).
    weights_init : array-like of shape (n_components,), optional
        Initial weights, in [0, 1] and summing to 1; override those of
        ``init_params``.
    means_init : array-like of shape (n_components, n_features), optional
        Initial means; override those of ``init_params``.
    precisions_init : array-like, optional
        Initial precision matrices (inverse covariances), in scikit-learn's shape
        for the covariance type: (K,) spherical, (K, d) diag, (d, d) tied,
        (K, d, d) full and mclust's models (diagonal matrices for the models
        ending in "I"); not accepted by "identity".
    resp_init : array-like of shape (n_samples, n_components), optional
        Initial responsibilities (membership probabilities) of the samples passed
        to ``fit``; replaces ``init_params``. Rows are normalised to sum to one.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisations and ``sample``; an int makes ``fit`` reproducible.
    chunk_size : int, optional
        Rows per chunk in the E-step; memory beyond the data is O(chunk_size × K).
        Defaults to 4096.
    n_jobs : int, optional
        Threads over row chunks in EM and in predict/score: None or -1 uses
        every available core, −k all but k−1; more than the available cores
        counts as all of them. Results do not depend on it.
    verbose : int, default=0
        scikit-learn's progress lines: 1 prints each initialisation's start and
        end and every ``verbose_interval``-th iteration; 2 adds times, the change
        of the log-likelihood and the final lower bound.
    callback : callable, optional
        ``callback(iteration, params, log_likelihood)`` after every EM iteration
        (``params`` is a :class:`mixfit.engine.em.MixtureParams`).
    fixed_params : collection of {"weights", "means", "covariances"}, optional
        Parameters held at their initial values (``weights_init``,
        ``means_init``, ``precisions_init``, or those of ``init_params``) while
        EM updates the rest: given fixed means, the covariances are those about
        them. ``bic`` and ``aic`` count only the free parameters. Not taken
        by :meth:`partial_fit` or with a Dask array.
    semi_supervised : bool, default=False
        When True, ``fit(X, y)`` takes ``y`` as partial labels (semi-supervised
        EM, see :meth:`fit`). When False, ``y`` is ignored, as scikit-learn's
        mixtures do (pipelines and grid searches pass a target to every
        ``fit``); a ``y`` holding ``-1`` is then refused, since it was surely
        meant as partial labels.
    warm_start : bool, default=False
        When True and the estimator is fitted, ``fit`` resumes from the fitted
        parameters (one run: ``n_init`` and the ``*_init`` parameters apply to
        the first fit only), and its first iteration is compared with the
        previous ``lower_bound_``, so a fit resumed at its optimum converges at
        once. The previous fit must have the same ``n_components``,
        ``covariance_type`` and number of features.
    verbose_interval : int, default=10
        Iterations between two progress lines.
    learning_decay : float, default=0.7
        How fast :meth:`partial_fit`'s steps shrink: the t-th batch moves the
        running statistics by ``γ_t = (t + learning_offset) ** -learning_decay``
        (capped at 1), in (0.5, 1] (scikit-learn's LatentDirichletAllocation
        has the same parameter). Larger values forget early batches faster at
        first but settle sooner. Not used by ``fit``.
    learning_offset : float, default=10.0
        ``t₀`` of those step sizes, >= 0: larger values make the first steps
        smaller, so the initial parameters count for longer; 0 makes the first
        step 1 (one EM iteration on the first batch). Not used by ``fit``.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Share of the data in each component (non-negative, summing to 1).
    means_ : ndarray of shape (n_components, n_features)
        Centre of each component.
    covariances_ : ndarray
        Spread of each component, shaped by ``covariance_type``: (K, d, d) for
        "full" and mclust's models, (d, d) for "tied", (K, d) for "diag", (K,) for
        "spherical" and "identity" (ones for the latter).
    precisions_ : ndarray, same shape as ``covariances_``
        Inverses of the covariances (reciprocals for "diag", "spherical" and
        "identity"), which the likelihood computations use.
    precisions_cholesky_ : ndarray, same shape as ``covariances_``
        A factor ``P`` with ``precisions_ = P Pᵀ``: upper triangular for "full",
        "tied" and mclust's models (also when given through ``precisions_init``
        with ``max_iter=0``), ``1/sqrt(variance)`` otherwise.
    volumes_, shapes_, orientations_ : ndarray of shapes (K,), (K, d), (K, d, d)
        mclust's models only: ``Σ_k = volumes_[k] · orientations_[k] @
        diag(shapes_[k]) @ orientations_[k].T``, with ``volumes_[k] = |Σ_k|^(1/d)``,
        shapes of determinant 1 (decreasing, except for the axis-aligned models
        ending in "I", whose orientations are the identity and shapes in the
        order of the features) and orthogonal orientations.
    inner_iterations_, inner_capped_ : int, bool
        mclust's models only: the rounds of the last M-step's inner loop (VEI,
        VEE, EVE, VVE and VEV have no closed form; their M-step iterates,
        warm-started from the previous one, at most 100 rounds per EM
        iteration) and whether it stopped at that cap rather than converging.
    converged_ : bool
        Whether the best run met ``tol`` within ``max_iter`` iterations; when
        False, ``fit`` warned with a ConvergenceWarning.
    n_iter_ : int
        EM iterations of the best run.
    lower_bound_ : float
        Mean per-sample log-likelihood of the training data at the last E-step of
        the best run (weighted by ``sample_weight``); higher is better.
    lower_bounds_ : list of float
        That quantity at every iteration of the best run (``n_iter_`` values).
        After :meth:`partial_fit`: the mean log-likelihood of every batch under
        the parameters before its step (so ``lower_bound_`` is the last batch's).
    n_steps_ : int
        Only after :meth:`partial_fit`: the online EM steps taken (batches
        seen); ``n_iter_`` equals it and ``converged_`` is False.
    n_features_in_ : int
        Number of features (columns) seen in ``fit``; new data must have as many.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X was a DataFrame with string column names; new data
        given with names must have the same ones, in the same order.

    See Also
    --------
    KMeans : hard clustering with the nearest of K centres.

    Notes
    -----
    float32 data gives float32 parameters and outputs, float64 gives float64.
    Data whose largest magnitude is beyond 2**60 (about 1e18) or below 2**-60 is
    fitted internally in units of a power of two — exact in binary floating point
    — so squares and sums of squares neither overflow nor underflow; parameters,
    log-likelihoods and ``reg_covar`` stay in the data's units. Such float32 data
    is fitted, and its parameters kept, in float64, since its variances do not fit
    in float32. The identity model refuses data beyond 2**60, where a unit
    variance is meaningless. Data beyond 2**510 (about 3.4e153) is refused.
    """

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        resp_init=None,
        random_state=None,
        chunk_size=None,
        n_jobs=None,
        verbose=0,
        callback=None,
        fixed_params=None,
        semi_supervised=False,
        warm_start=False,
        verbose_interval=10,
        learning_decay=0.7,
        learning_offset=10.0,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.resp_init = resp_init
        self.random_state = random_state
        self.chunk_size = chunk_size
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.callback = callback
        self.fixed_params = fixed_params
        self.semi_supervised = semi_supervised
        self.warm_start = warm_start
        self.verbose_interval = verbose_interval
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset

    # ------------------------------------------------------------------ fitting

    @keeps_state_on_failure
    def fit(self, X, y=None, sample_weight=None):
        """Fit the mixture by EM: estimate weights, means and covariances from X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, one row per sample (a NumPy array or a DataFrame, whose
            column names are then remembered); float32 stays float32, anything
            else becomes float64. At least two rows, and as many (with positive
            weight) as components. NaN marks a missing value: EM then uses each
            row's observed values (``docs/missing-values.md``; not with Dask).
            A memory map (``np.load(path,
            mmap_mode="r")``) is read chunk by chunk, never copied. A Dask array
            is fitted where its blocks live (the active ``dask.distributed``
            client, else Dask's scheduler): each iteration sums the blocks'
            statistics, and the result equals the in-memory fit from the same
            start. For both, a start that needs rows in memory (``init_params``)
            is chosen on a uniform sample of 100,000 rows; ``resp_init`` is
            refused for a Dask array.
        y : array-like of shape (n_samples,), optional
            Ignored unless ``semi_supervised=True``; then partial labels for
            semi-supervised EM: ``c`` in ``[0,
            n_components)`` fixes the row to component c (its
            responsibilities stay one-hot), ``-1`` leaves it unlabelled. There
            may be more components than classes. A start from ``init_params``
            is first renumbered to match the classes (see
            :func:`mixfit.engine.constraints.labelled_start`); a given start
            (``means_init``…) is taken in class order.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights; weight 2 is equivalent to a duplicated row.
            Only their ratios matter: multiplying all by a constant changes nothing.

        Returns
        -------
        self

        Raises
        ------
        mixfit.FitTooLargeError
            Before any large allocation, when the fit's estimated memory exceeds
            the limit (the available memory, or ``MIXFIT_MEMORY_LIMIT``); it is a
            MemoryError and a ValueError, and says what to change.

        Warns
        -----
        mixfit.LargeFitWarning
            When the fit will need more than 1 GiB beyond the data or very many
            operations per iteration.
        """
        self._fit(X, sample_weight, labels=False, y=y)
        return self

    @keeps_state_on_failure
    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit the mixture and return the most probable component of each sample.

        ``fit_predict(X)`` equals ``fit(X).predict(X)``: a final E-step runs on
        the fitted parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, as for :meth:`fit`.
        y : array-like of shape (n_samples,), optional
            Partial labels (-1 unlabelled), as for :meth:`fit`.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights, as for :meth:`fit`.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component index (0 to n_components − 1) of each sample (a Dask
            array, computed when asked for, for a Dask X).
        """
        return self._fit(X, sample_weight, labels=True, y=y)

    def _fit(self, X, sample_weight, *, labels, y=None):
        """Fit; return the labels of X only when asked (n integers a fit does not need)."""
        distributed = is_dask_array(X)
        column_largest = None
        if distributed:
            # Checked where the blocks live: one pass returns the columns' facts.
            X = check_dask_data(self, X, reset=True, ensure_min_samples=2)
            sample_weight, _ = check_dask_sample_weight(sample_weight, X)
            summary = summarize(X, sample_weight)
            column_largest = summary.largest
            n_positive = SimpleNamespace(shape=(summary.positive,))
        else:
            X = check_data(self, X, reset=True, ensure_min_samples=2, allow_nan=True)
            sample_weight = check_sample_weight(sample_weight, X.shape[0])
        missing = not distributed and fit_has_missing(X)  # EM on the observed values
        settings = self._check_settings()
        fixed, partial = self._constraints(X, y, settings, distributed)
        if distributed:
            check_n_samples_at_least(n_positive, settings["n_components"])
        else:
            check_n_samples_at_least(X, settings["n_components"], sample_weight=sample_weight)
        family = GaussianFamily(self.covariance_type, settings["reg_covar"])
        user_init = check_user_init(self, family, X, settings["n_components"])
        if distributed and "resp" in user_init:
            raise ValueError(
                "resp_init (one row of responsibilities per sample) is not taken with a "
                "Dask array; pass weights_init, means_init and precisions_init, or "
                "init_params, instead."
            )
        rng = check_seed(self.random_state)

        # Data too large or too small to square safely is fitted in units of a
        # power of two (exact), with reg_covar converted so that it keeps its
        # meaning in the data's units; parameters are converted back below.
        scale = self._fit_scale(X, settings["reg_covar"], column_largest)
        # Densities of the observed values: |o| of them per row where X has NaN.
        log_scale = (mean_observed(X, sample_weight) if missing else X.shape[1]) * np.log(scale)
        if not distributed:
            # Before anything of size d² or n·K is allocated (see mixfit._memory);
            # with Dask the client holds parameters and the start's sample only.
            self._check_memory(
                X.shape, X.dtype.itemsize, settings, rescaled=scale != 1.0,
                init=init_kind(family, user_init, self.init_params),
            )
        if scale != 1.0 and X.dtype == np.float32:
            # Variances of such data do not fit in float32 (max ~3e38, smallest
            # normal ~1e-38): fit, and keep the parameters, in float64.
            X = X.astype(np.float64)
        data = X
        if scale != 1.0:
            X = X / scale
            family = GaussianFamily(
                self.covariance_type, settings["reg_covar"] / scale / scale
            )
            user_init = rescaled_init(user_init, 1.0 / scale)

        # Starts that need rows in memory take a sample of a Dask array or a
        # memory map (see _large_data); EM runs on every row, where it lives.
        source = DaskSource(X, sample_weight) if distributed else X
        if (self.init_params == "k-means||" and "resp" not in user_init
                and (distributed or is_memory_mapped(X))):
            # k-means|| streams: its start is a few passes over every row.
            start_X, start_weight = source if distributed else ArraySource(
                X, sample_weight, chunk_size=settings["chunk_size"],
                n_jobs=settings["n_jobs"]), None
        else:
            start_X, start_weight = start_rows(X, sample_weight, rng)
        if missing:  # complete rows, or mean-imputed ones (see _gmm_missing)
            start_X, start_weight = start_data(X, sample_weight, (start_X, start_weight),
                                               settings["n_components"],
                                               "resp" in user_init or partial is not None)
        warm = warm_start_from(self, settings["n_components"], X.shape[1])
        # A warm start resumes the fitted parameters (in this fit's units and dtype).
        previous_bound = self.lower_bound_ + log_scale if warm else -np.inf
        progress = (MixtureProgress(settings["verbose"], settings["verbose_interval"])
                    if settings["verbose"] else None)
        best = None
        for restart in range(1 if warm else settings["n_init"]):
            if progress is not None:
                progress.start(restart, previous_bound - log_scale)
            if warm:
                params = params_in_dtype(rescaled_params(self._mixture_params(), 1.0 / scale), X.dtype)
            else:
                params = self._initial_params(
                    family, start_X, user_init, start_weight, rng, settings
                )
                if partial is not None and not user_init and not fixed:
                    params = labelled_start(family, start_X if missing else X, params, partial,
                                            sample_weight=sample_weight,
                                            chunk_size=settings["chunk_size"],
                                            n_jobs=settings["n_jobs"])
            if settings["max_iter"] == 0:
                result = em.EMResult(params, previous_bound, [], 0, False)
            else:
                result = em.fit_em(
                    missing_family(family) if missing else family,
                    source,
                    params,
                    sample_weight=None if distributed else sample_weight,
                    tol=settings["tol"],
                    max_iter=settings["max_iter"],
                    chunk_size=settings["chunk_size"],
                    callback=self._iteration_callback(scale, log_scale, progress),
                    n_jobs=settings["n_jobs"],
                    lower_bound=previous_bound,
                    fixed=fixed,
                    labels=partial,
                )
                if progress is not None:
                    progress.end(result.lower_bound - log_scale, result.converged)
            if best is None or result.lower_bound > best.lower_bound:
                best = result

        if not best.converged and settings["max_iter"] > 0:
            warn_not_converged(best.n_iter, stacklevel=2)
        # Fitted state is set only here, once nothing can fail any more. What
        # `mixfit fit` recorded (columns, training score, standardization)
        # described the previous data.
        forget_data_records(self)
        # A batch fit replaces whatever partial_fit had accumulated.
        self.__dict__.pop("n_steps_", None)
        self.__dict__.pop("_online_state", None)
        self._scale = scale
        self._set_params_from(
            GaussianFamily(self.covariance_type, settings["reg_covar"]),
            rescaled_params(best.params, scale),
        )
        self.converged_ = best.converged
        self.n_iter_ = best.n_iter
        self.lower_bound_ = best.lower_bound - log_scale
        self.lower_bounds_ = [value - log_scale for value in best.lower_bounds]
        if not labels:
            return None
        if distributed:
            return lazy_query(self, "predict", data, dtype=np.intp)
        return self._labels(data)

    @keeps_state_on_failure
    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the mixture with one mini-batch: a step of stepwise online EM.

        For data that arrive in batches or do not fit in memory. Running
        sufficient statistics (float64) are moved towards the batch's by the
        step size ``γ_t = (t + learning_offset) ** -learning_decay``, then the
        parameters are re-estimated from them (Cappé & Moulines 2009). The first
        call initialises from its batch as :meth:`fit` would (``init_params``,
        ``weights_init``…, ``random_state``; one initialisation) and then takes
        its step; it fixes ``n_features_in_`` (and ``feature_names_in_``), the
        dtype (later batches are converted to it) and the internal units. On a
        model fitted by :meth:`fit` or loaded from a file, the steps continue
        from its parameters (their statistics are rebuilt from them, exactly for
        scikit-learn's five covariance types; see
        :mod:`mixfit.estimators._gmm_online`). ``tol``, ``max_iter``,
        ``n_init``, ``warm_start``, ``verbose`` and ``verbose_interval`` apply
        to :meth:`fit` only; ``callback`` is called after every step.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            One mini-batch; the first needs at least ``n_components`` rows (and 2).
        y : ignored
            Present for scikit-learn's API.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights of the batch's rows; weight 2 is a duplicated
            row. Each batch's statistics are normalised, so every batch moves
            the model by ``γ_t`` whatever its size or total weight.

        Returns
        -------
        self

        Examples
        --------
        >>> import numpy as np
        >>> from mixfit import GaussianMixture
        >>> rng = np.random.default_rng(0)
        >>> X = np.concatenate([rng.normal(-5, 1, (500, 1)), rng.normal(5, 1, (500, 1))])
        >>> rng.shuffle(X)
        >>> gm = GaussianMixture(2, random_state=0)
        >>> for batch in np.array_split(X, 10):
        ...     gm = gm.partial_fit(batch)
        >>> np.round(np.sort(gm.means_[:, 0]))
        array([-5.,  5.])
        >>> gm.n_steps_
        10

        A Dask array is a stream of batches: one step per block, in order, each
        block computed when its step comes (its rows pass through this process,
        one block at a time).
        """
        from mixfit.estimators._gmm_online import partial_fit

        if is_dask_array(X):
            for block, weight in dask_blocks(self, X, sample_weight):
                partial_fit(self, block, weight)
            return self
        return partial_fit(self, X, sample_weight)

    # --------------------------------------------------------- fitted parameters

    def _set_params_from(self, family, params):
        components = params.components
        self._family = family
        self.weights_ = params.weights
        self.means_ = components.means
        self.covariances_ = components.covariances
        self.precisions_cholesky_ = components.precisions_cholesky
        self.precisions_ = family.structure.precisions_from_cholesky(
            components.precisions_cholesky
        )
        set_decomposition(self, family.structure, components)
