"""scikit-learn-compatible mini-batch K-means on top of :mod:`mixfit.engine.minibatch`.

The queries of a fitted model (``predict``, ``score``, ``transform``) and the
handling of ``init`` (strings, callables, arrays) are :class:`~mixfit.KMeans`'
own: a MiniBatchKMeans holds the same fitted attributes (``cluster_centers_``,
``_scale``, ``_shift``), so the same code answers for both.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import sparse
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)

from mixfit._parallel import check_n_jobs
from mixfit._validation import (
    MAX_COUNT,
    check_chunk_size,
    check_n_samples_at_least,
    check_nonnegative_float,
    check_positive_int,
    check_sample_weight,
    check_seed,
    check_verbose,
)
from mixfit.engine import minibatch as engine
from mixfit.engine.column_stats import distance_shift_and_variance
from mixfit.estimators._dask_data import dask_blocks, is_dask_array
from mixfit.estimators._data_checks import check_data, data_scale
from mixfit.estimators._minibatch_dask import fit_minibatch_dask
from mixfit.estimators._fit_state import forget_data_records, keeps_state_on_failure
from mixfit.estimators._kmeans_queries import KMeansQueries
from mixfit.estimators._kmeans_units import (
    far_labels,
    inertia_in_user_units,
    weighted_sum_in_user_units,
)
from mixfit.estimators._sklearn_compat import resolve_kmeans_n_init
from mixfit.estimators._kmeans_runs import _is_numeric_table
from mixfit.estimators.kmeans import _INITS, _RANDOM_INITS, KMeans

__all__ = ["MiniBatchKMeans"]

#: ``n_init="auto"`` for an init drawn at random: scikit-learn's MiniBatchKMeans count.
AUTO_N_INIT_RANDOM = 3

#: At least this many evenly spaced rows give a dense fit's distance shift when
#: no ``tol`` needs the data's variance (the standard error of each column's
#: mean is then under 1.6% of its deviation: a shift as good as the exact mean).
SHIFT_SAMPLE_ROWS = 4096


class MiniBatchKMeans(
    KMeansQueries, ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator
):
    """Mini-batch K-means: K-means fitted from small random batches of rows.

    For data too large for Lloyd's full passes, or arriving in pieces. Each step
    assigns a batch of ``batch_size`` rows to their nearest centres and moves
    every centre to the mean of all the rows it was ever given (Sculley, 2010:
    a learning rate of 1 / its accumulated weight); centres that get little
    weight are moved to random rows of the batch (``reassignment_ratio``).
    ``fit`` draws batches from X until the smoothed batch inertia stops
    improving (``max_no_improvement``), the centres stop moving (``tol``) or
    ``max_iter`` passes' worth of rows were drawn; ``partial_fit`` makes one
    step with the rows it is given, so a stream can be clustered piece by
    piece. The inertia is typically within a few percent of :class:`KMeans`'
    at a fraction of its time. The interface is scikit-learn's
    ``sklearn.cluster.MiniBatchKMeans``; samples may carry weights, and dense or
    sparse (CSR) data are taken.

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit import MiniBatchKMeans
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]] * 50)
    >>> km = MiniBatchKMeans(n_clusters=2, batch_size=20, random_state=0).fit(X)
    >>> sorted(km.cluster_centers_[:, 0].tolist())  # one centre per group of rows
    [0.0, 10.0]
    >>> bool(km.predict([[9.0, 0.0]])[0] == km.labels_[2])
    True

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters K, and of centres.
    init : {"k-means++", "k-means||", "random", "lecture"}, callable or \
            array-like of shape (n_clusters, n_features), default="k-means++"
        How to choose the initial centres, as for :class:`KMeans` (the same
        table of inits); the string and callable inits see a random sample of
        ``init_size`` rows (drawn with replacement), not the whole of X.
    max_iter : int, default=100
        Most passes over X's worth of rows that ``fit`` draws: at most
        ``max_iter × n_samples // batch_size`` steps.
    batch_size : int, default=1024
        Rows per batch (at most n_samples).
    verbose : int, default=0
        Above 0, print scikit-learn's progress lines (each init's inertia, each
        step's batch inertia and its smoothed value, and why the fit stopped).
    compute_labels : bool, default=True
        Whether ``fit`` and ``partial_fit`` end with one full assignment of
        their X to give ``labels_`` and ``inertia_`` (False: no ``labels_``,
        and ``fit``'s ``inertia_`` is estimated from the smoothed batch
        inertia).
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the batches and the reassignments; an int
        makes ``fit`` (and a sequence of ``partial_fit`` calls) reproducible.
    tol : float, default=0.0
        Stop when the centres' summed squared move in one step is at most
        ``tol`` times the mean over columns of the data's (weighted) variance,
        as :class:`KMeans` measures it; 0 disables this rule.
    max_no_improvement : int or None, default=10
        Stop after this many steps without a new minimum of the exponentially
        weighted average of the batch inertia (None disables this rule).
    init_size : int or None, default=None
        Rows sampled for the initialisation (None: ``3 × batch_size``, or
        ``3 × n_clusters`` if that is larger; at most n_samples). Below
        n_clusters it warns and uses ``3 × n_clusters``.
    n_init : "auto" or int, default="auto"
        Initialisations tried, each on its own sample; the one with the lowest
        inertia on a common validation sample of ``init_size`` rows is kept
        (``partial_fit``'s first call judges them on its batch; scikit-learn's
        tries only one there). "auto": 1 for "k-means++", "k-means||" and an
        array, 3 for "random", "lecture" and a callable (scikit-learn's meaning).
    reassignment_ratio : float, default=0.01
        Centres whose accumulated weight is below this fraction of the largest
        are moved to random rows of the batch (checked every ``10 × n_clusters``
        rows, and at every step while a centre has none). Larger values give
        better use of every centre but a noisier fit; 0 never reassigns.
    chunk_size : int or None, default=None
        Rows per block of the distance computations, as for :class:`KMeans`.
    n_jobs : int or None, default=None
        Threads for the full assignments (``labels_``, ``predict``) and for
        batches beyond 16384 rows, as for :class:`KMeans`. Results do not
        depend on it.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Centres, float32 for float32 input and float64 otherwise.
    labels_ : ndarray of shape (n_samples,), int64
        Nearest centre of each row of the last ``fit``'s (or ``partial_fit``'s)
        X, equal to ``predict(X)`` (only with ``compute_labels=True``).
    inertia_ : float
        Weighted sum of squared distances of that X's rows to their centres
        (``compute_labels=False``: in ``fit``, the smoothed mean batch inertia
        times the total weight; not set by ``partial_fit``).
    n_iter_ : int
        Passes over X started by ``fit``: ``ceil(n_steps_ × batch_size / n_samples)``.
    n_steps_ : int
        Mini-batch steps made (``partial_fit`` adds one per call).
    n_features_in_ : int
        Number of features seen in the first ``fit`` or ``partial_fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X was a DataFrame with string column names.

    See Also
    --------
    KMeans : Lloyd's algorithm over all rows at every iteration.

    Notes
    -----
    Batches are drawn with replacement with probability ∝ ``sample_weight``
    and then weighted equally, so a weight counts once (scikit-learn's
    convention); ``partial_fit`` weights the rows it is given by their weights.
    Centres and accumulated weights are float64 during a fit; distances are
    computed in the data's dtype. Data beyond 2**60 (about 1e18) or below
    2**-60 in magnitude are clustered in units of a power of two, as
    :class:`KMeans` does.

    References
    ----------
    D. Sculley, "Web-scale k-means clustering", WWW 2010.
    """

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        max_iter=100,
        batch_size=1024,
        verbose=0,
        compute_labels=True,
        random_state=None,
        tol=0.0,
        max_no_improvement=10,
        init_size=None,
        n_init="auto",
        reassignment_ratio=0.01,
        chunk_size=None,
        n_jobs=None,
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.verbose = verbose
        self.compute_labels = compute_labels
        self.random_state = random_state
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.init_size = init_size
        self.n_init = n_init
        self.reassignment_ratio = reassignment_ratio
        self.chunk_size = chunk_size
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = True  # CSR (and other formats, converted)
        return tags

    # KMeans' code, shared rather than copied: both estimators hold the same
    # attributes (init, n_clusters, chunk_size, cluster_centers_, _scale, _shift).
    _check_init_array = KMeans._check_init_array
    _initial_centers = KMeans._initial_centers
    fit_predict = KMeans.fit_predict
    fit_transform = KMeans.fit_transform
    transform = KMeans.transform
    # labels_ and predict both come from labelling passes (engine.assign), and
    # so do the batches' labels: the kernel rule for those.
    _labels_by_labelling_passes = True

    @property
    def _n_init(self):
        """The number of initialisations ``fit`` tries, "auto" resolved (scikit-learn's name)."""
        return self._resolve_n_init(warn=False)

    def _resolve_n_init(self, warn=True):
        if (isinstance(self.n_init, str) and self.n_init == "auto"
                and (callable(self.init) or (isinstance(self.init, str)
                                             and self.init in _RANDOM_INITS))):
            return AUTO_N_INIT_RANDOM
        return resolve_kmeans_n_init(self, _RANDOM_INITS, warn=warn)

    # -- validation --------------------------------------------------------

    def _check_params(self):
        check_positive_int(self.n_clusters, "n_clusters")
        self._resolve_n_init(warn=False)
        check_positive_int(self.max_iter, "max_iter", maximum=MAX_COUNT)
        check_positive_int(self.batch_size, "batch_size", maximum=MAX_COUNT)
        check_verbose(self.verbose)
        if not isinstance(self.compute_labels, (bool, np.bool_)):
            raise TypeError(
                f"compute_labels must be True or False, got {self.compute_labels!r}."
            )
        check_nonnegative_float(self.tol, "tol")
        if self.max_no_improvement is not None:
            check_positive_int(self.max_no_improvement, "max_no_improvement", minimum=0)
        if self.init_size is not None:
            check_positive_int(self.init_size, "init_size", maximum=MAX_COUNT)
        check_nonnegative_float(self.reassignment_ratio, "reassignment_ratio")
        check_chunk_size(self.chunk_size)
        check_n_jobs(self.n_jobs)
        check_seed(self.random_state)
        if (isinstance(self.init, str) and self.init not in _INITS) or (
            not isinstance(self.init, str) and not callable(self.init)
            and not _is_numeric_table(self.init)
        ):
            shown = (
                f"a {type(self.init).__name__}"
                if isinstance(self.init, (list, tuple, np.ndarray))
                else repr(self.init)[:80]
            )
            raise ValueError(
                f"init must be one of {sorted(_INITS)}, a callable (X, n_clusters, "
                f"random_state) or a numeric array of shape (n_clusters, n_features), "
                f"got {shown}."
            )

    def _sizes(self, n_samples):
        """``(batch_size, init_size)`` for data of ``n_samples`` rows (scikit-learn's rules)."""
        batch_size = min(self.batch_size, n_samples)
        init_size = self.init_size
        if init_size is None:
            init_size = 3 * batch_size
            if init_size < self.n_clusters:
                init_size = 3 * self.n_clusters
        elif init_size < self.n_clusters:
            warnings.warn(
                f"init_size={init_size} should be larger than n_clusters="
                f"{self.n_clusters}. Setting it to min(3*n_clusters, n_samples); "
                "pass init_size >= n_clusters to silence this.",
                RuntimeWarning,
                stacklevel=4,
            )
            init_size = 3 * self.n_clusters
        return batch_size, min(init_size, n_samples)

    # -- fitting -------------------------------------------------------------

    @keeps_state_on_failure
    def fit(self, X, y=None, sample_weight=None):
        """Cluster X by mini-batch steps on batches drawn from it.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Training data: an array (a memory map is read batch by batch), a
            DataFrame (its column names are then remembered) or a sparse
            matrix; float32 stays float32, anything else becomes float64. A
            Dask array is a stream: each pass visits its blocks in a random
            order, one at a time, drawing batches from the block in hand; the
            start is chosen on 100,000 rows, ``labels_`` is a Dask array.
        y : Ignored
        sample_weight : array-like of shape (n_samples,) or None
            Non-negative weights: batches draw rows with probability ∝ weight.

        Returns
        -------
        self : MiniBatchKMeans
        """
        if is_dask_array(X):
            # The blocks as a stream of batches (see _minibatch_dask).
            return fit_minibatch_dask(self, X, sample_weight)
        self._check_params()
        # The finiteness check also gives each column's largest magnitude (one
        # threaded pass; data_scale then needs no pass of its own).
        X, magnitudes = check_data(self, X, reset=True, accept_sparse=True, magnitudes=True)
        sample_weight, weight_scale = check_sample_weight(
            sample_weight, X.shape[0], return_scale=True
        )
        check_n_samples_at_least(X, self.n_clusters, "n_clusters", sample_weight)
        n_samples = X.shape[0]
        n_jobs = check_n_jobs(self.n_jobs)
        n_init = self._resolve_n_init()
        batch_size, init_size = self._sizes(n_samples)
        fixed_init = (
            None if isinstance(self.init, str) or callable(self.init)
            else self._check_init_array(X)
        )
        scale = data_scale(X, getattr(self, "feature_names_in_", None), magnitudes)
        user_X = X
        if scale != 1.0:
            X = X.astype(np.float64) / scale
            if fixed_init is not None:
                fixed_init = fixed_init.astype(np.float64) / scale
        shift, variance = self._shift_and_variance(X, sample_weight, n_jobs)
        rng = check_seed(self.random_state)
        log = print if check_verbose(self.verbose) else None
        chunk_size = engine.resolve_chunk_size(self.chunk_size, self.n_clusters, X)

        # Each start is chosen on its own sample and judged on a common one.
        valid = rng.randint(0, n_samples, init_size)
        best = self._best_start(
            X, user_X, fixed_init, sample_weight, scale, init_size, rng, n_init,
            valid=(X[valid], None if sample_weight is None else sample_weight[valid]),
            shift=shift, chunk_size=chunk_size, n_jobs=n_jobs, log=log,
        )

        with engine.batch_runner(n_jobs, batch_size, chunk_size, X.shape[1],
                                 self.n_clusters) as runner:
            run = engine.minibatch_kmeans(
                X, best, sample_weight=sample_weight, batch_size=batch_size,
                max_iter=self.max_iter, tol=self.tol * variance,
                max_no_improvement=self.max_no_improvement,
                reassignment_ratio=self.reassignment_ratio, rng=rng, shift=shift,
                chunk_size=chunk_size, runner=runner, log=log, n_jobs=n_jobs,
            )
        centers = np.ascontiguousarray(run.centers, dtype=X.dtype)  # float64 when rescaled
        # Fitted state is set only from here on, once nothing can fail any more
        # (but the labels, which need the centres as predict sees them).
        forget_data_records(self)
        self._scale, self._shift = scale, shift
        self.cluster_centers_ = centers * scale if scale != 1.0 else centers
        self._counts = run.weight_sums
        self._batch_size, self._init_size = batch_size, init_size
        self._rows_since_reassign = run.rows_since_reassign
        self._random_state = rng
        self.n_steps_ = run.n_steps
        self.n_iter_ = int(np.ceil(run.n_steps * batch_size / n_samples))
        self._n_features_out = self.cluster_centers_.shape[0]
        if self.compute_labels:
            self.labels_, self.inertia_ = self._labels_inertia(X, sample_weight, weight_scale)
        else:
            self.__dict__.pop("labels_", None)  # they belonged to a previous X
            mean = run.ewa_inertia if run.ewa_inertia is not None else run.last_batch_inertia
            total = n_samples if sample_weight is None else float(sample_weight.sum())
            self.inertia_ = inertia_in_user_units(mean * total, scale, weight_scale)
        return self

    @keeps_state_on_failure
    def partial_fit(self, X, y=None, sample_weight=None):
        """One mini-batch step with the rows of X (the first call also initialises).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            The batch; after the first call it must have the same columns. A
            Dask array is a stream of batches: one step per block, in order.
        y : Ignored
        sample_weight : array-like of shape (n_samples,) or None
            Non-negative weights of the batch's rows; their scale matters across
            calls (a weight-2 row counts as much as two weight-1 rows of
            another call).

        Returns
        -------
        self : MiniBatchKMeans
        """
        if is_dask_array(X):
            # A stream of batches: one step per block, each computed in turn.
            for block, weight in dask_blocks(self, X, sample_weight):
                self.partial_fit(block, sample_weight=weight)
            return self
        first = not hasattr(self, "cluster_centers_")
        if first:
            self._check_params()
        X, magnitudes = check_data(self, X, reset=first, accept_sparse=True, magnitudes=True)
        weight, weight_scale = check_sample_weight(sample_weight, X.shape[0], return_scale=True)
        n_jobs = check_n_jobs(self.n_jobs)
        rng = self.__dict__.get("_random_state") or check_seed(self.random_state)
        scale = data_scale(X, getattr(self, "feature_names_in_", None), magnitudes)
        if first:
            check_n_samples_at_least(X, self.n_clusters, "n_clusters", weight)
            batch_size, init_size = self._sizes(X.shape[0])
            fixed_init = None if isinstance(self.init, str) or callable(self.init) else (
                self._check_init_array(X))
            user_X = X
            if scale != 1.0:
                X = X.astype(np.float64) / scale
                if fixed_init is not None:
                    fixed_init = fixed_init.astype(np.float64) / scale
            shift = self._shift_and_variance(X, weight, n_jobs, need_variance=False)[0]
            # n_init starts judged on this first batch (scikit-learn makes only
            # one here): a stream's first start matters as much as a fit's.
            centers = self._best_start(
                X, user_X, fixed_init, weight, scale, init_size, rng, self._resolve_n_init(),
                valid=(X, weight), shift=shift, chunk_size=engine.resolve_chunk_size(
                    self.chunk_size, self.n_clusters, X),
                n_jobs=n_jobs, log=print if check_verbose(self.verbose) else None,
            )
            centers = engine.centres_for(X, centers)
            counts = np.zeros(self.n_clusters)
            rows_since, n_steps = 0, 0
        else:
            if scale > self._scale:
                raise ValueError(
                    f"X holds values up to about 2**{int(np.log2(scale))}, beyond what this "
                    f"model's first batch set its units for (2**{int(np.log2(self._scale))}"
                    " × 2**60); fit it again on data that include such values."
                )
            scale, shift, batch_size = self._scale, self._shift, self._batch_size
            if scale != 1.0:
                X = X.astype(np.float64) / scale
            centers = engine.centres_for(X, self.cluster_centers_)
            if scale != 1.0:
                centers /= scale
            # Copies: the step works in place, and a failed call must leave the model.
            counts, rows_since = self._counts.copy(), self._rows_since_reassign
            n_steps = getattr(self, "n_steps_", 0)
        # Raw weights: unlike a fit's, their scale matters from one call to the next.
        raw_weight = None if weight is None else weight * weight_scale
        chunk_size = engine.resolve_chunk_size(self.chunk_size, self.n_clusters, X)
        clock = engine.ReassignClock(self.n_clusters, rows_since)
        log = print if check_verbose(self.verbose) else None
        with engine.batch_runner(n_jobs, X.shape[0], chunk_size, X.shape[1],
                                 self.n_clusters) as runner:
            engine.minibatch_step(
                X, centers, counts, raw_weight, rng=rng,
                random_reassign=clock.due(batch_size, counts),
                reassignment_ratio=self.reassignment_ratio, shift=shift,
                chunk_size=chunk_size, runner=runner, log=log,
            )
        centers = np.ascontiguousarray(
            centers, dtype=X.dtype if first else self.cluster_centers_.dtype)
        if first:
            forget_data_records(self)
            self._batch_size, self._init_size = batch_size, init_size
        self._scale, self._shift = scale, shift
        self.cluster_centers_ = centers * scale if scale != 1.0 else centers
        self._counts = counts
        self._rows_since_reassign = clock.rows_since
        self._random_state = rng
        self.n_steps_ = n_steps + 1
        self._n_features_out = self.cluster_centers_.shape[0]
        if self.compute_labels:
            self.labels_, self.inertia_ = self._labels_inertia(X, weight, weight_scale)
        return self

    def _shift_and_variance(self, X, sample_weight, n_jobs, need_variance=True):
        """The distance shift and the mean column variance (one pass over X).

        Sparse data are never shifted, so without ``tol`` there is nothing to
        measure: the pass is skipped (it cost more than a hundred steps on
        text-like data). Without ``tol`` (or the variance) dense data need only
        the shift, taken from every ``n // SHIFT_SAMPLE_ROWS``-th row; the
        variance returned is then 0.
        """
        shift_only = self.tol == 0 or not need_variance
        if sparse.issparse(X) and shift_only:
            return np.zeros(X.shape[1]), 0.0
        if shift_only and X.shape[0] > SHIFT_SAMPLE_ROWS:
            # The shift only has to bring the data near the origin, which a
            # mean of evenly spaced rows does as well as the exact mean: a pass
            # over all of X cost 20 ms of a 325 ms one-pass fit at
            # 100,000 × 784 float32, where the fit reads each row about twice.
            # A strided view: no copy of the rows (nor a read of a memory map's others).
            step = X.shape[0] // SHIFT_SAMPLE_ROWS
            return distance_shift_and_variance(
                X[::step], None if sample_weight is None else sample_weight[::step],
                n_jobs)[0], 0.0
        return distance_shift_and_variance(X, sample_weight, n_jobs)

    def _init_name(self):
        """How the verbose lines name the init (scikit-learn prints the value)."""
        if isinstance(self.init, str) or callable(self.init):
            return self.init
        return "array"

    def _best_start(self, X, user_X, fixed_init, sample_weight, scale, init_size, rng, n_init,
                    *, valid, shift, chunk_size, n_jobs, log):
        """The start of lowest inertia on ``valid`` (rows, weights) among ``n_init`` starts."""
        best, best_inertia = None, None
        for index in range(n_init):
            if log:
                log(f"Init {index + 1}/{n_init} with method {self._init_name()}")
            centers = self._sample_start(X, user_X, fixed_init, sample_weight, scale,
                                         init_size, rng)
            with engine.batch_runner(n_jobs, valid[0].shape[0], chunk_size, X.shape[1],
                                     self.n_clusters) as runner:
                inertia = engine.batch_statistics(
                    valid[0], centers, valid[1], shift=shift, chunk_size=chunk_size,
                    runner=runner,
                ).inertia
            if log:
                log(f"Inertia for init {index + 1}/{n_init}: {inertia}")
            if best is None or inertia < best_inertia:
                best, best_inertia = centers, inertia
        return best

    def _sample_start(self, X, user_X, fixed_init, sample_weight, scale, init_size, rng):
        """Initial centres (float64, fit units) chosen on ``init_size`` rows drawn from X."""
        if fixed_init is not None:
            return fixed_init.astype(np.float64)
        n_samples = X.shape[0]
        weight = sample_weight
        if init_size < n_samples:
            rows = rng.randint(0, n_samples, init_size)
            X, user_X = X[rows], user_X[rows]
            weight = None if sample_weight is None else sample_weight[rows]
        seed = rng.randint(np.iinfo(np.int32).max)
        return np.asarray(
            self._initial_centers(X, None, seed, weight, user_X, scale), dtype=np.float64
        )

    def _labels_inertia(self, X, sample_weight, weight_scale):
        """Labels of X (in fit units) as ``predict`` gives them, and their inertia.

        The inertia is in the user's units (``weight_scale``: what the weights
        were divided by).
        """
        scale = self._scale
        centers = self.cluster_centers_
        if scale != 1.0:
            centers = centers.astype(np.float64) / scale
        shift = np.zeros_like(self._shift) if sparse.issparse(X) else self._shift
        labels, min_sq_dist = self._assign(X, centers, shift)
        labels = far_labels(X, centers, labels, min_sq_dist)
        weight = np.ones(X.shape[0]) if sample_weight is None else sample_weight
        return labels, weighted_sum_in_user_units(weight, min_sq_dist, scale, weight_scale,
                                                  "inertia")
