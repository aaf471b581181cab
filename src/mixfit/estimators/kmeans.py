"""scikit-learn-compatible K-means on top of :mod:`mixfit.engine.kmeans`."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array

from mixfit.engine import kmeans as engine
from mixfit._memory import check_kmeans
from mixfit._parallel import check_n_jobs
from mixfit._validation import (
    MAX_COUNT,
    check_chunk_size,
    check_nonnegative_float,
    check_positive_int,
    check_seed,
    check_verbose,
)
from mixfit.estimators._dask_data import is_dask_array, lazy_query
from mixfit.estimators._kmeans_dask import fit_kmeans_dask
from mixfit.estimators._large_data import start_rows
from mixfit.estimators._kmeans_data import kmeans_data
from mixfit.estimators._kmeans_runs import (
    _callback_with_shift,
    _count_distinct,
    _is_numeric_table,
    _same_partition,
)
from mixfit.estimators._fit_state import (
    forget_data_records,
    keeps_state_on_failure,
)
from mixfit.estimators._kmeans_units import (
    callback_in_user_units,
    inertia_in_user_units,
)
from mixfit.estimators._sklearn_compat import (
    CenteredInPlace,
    KMeansProgress,
    call_init,
    centers_shape_mismatch,
    resolve_kmeans_n_init,
)
from mixfit.estimators._kmeans_queries import KMeansQueries
from mixfit.engine.init import kmeans_plusplus, lecture_means, random_from_data
from mixfit.engine.init_parallel import kmeans_parallel

_INITS = {
    "k-means++": kmeans_plusplus,
    "k-means||": kmeans_parallel,
    "random": random_from_data,
    "lecture": lecture_means,
}
#: Inits drawn at random, for which n_init="auto" makes several runs.
_RANDOM_INITS = ("random", "lecture")


class KMeans(
    KMeansQueries, ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator
):
    """K-means clustering: split the rows of X into K groups around K centres.

    Each sample is assigned to its nearest centre (in Euclidean distance), and
    each centre is the mean of its samples. Lloyd's algorithm alternates those
    two steps from initial centres until the assignments stop changing, which
    makes the inertia — the sum of squared distances of the samples to their
    centres — as small as that start allows; several starts (``n_init``) keep the
    best. A fitted KMeans labels new samples by their nearest centre
    (``predict``) and gives their distances to every centre (``transform``). The
    interface is scikit-learn's ``sklearn.cluster.KMeans``; samples may carry
    weights, and dense or sparse data of any size is processed in chunks of rows.

    Examples
    --------
    >>> import numpy as np
    >>> from mixfit import KMeans
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]])
    >>> km = KMeans(n_clusters=2, random_state=0).fit(X)
    >>> sorted(km.cluster_centers_.tolist())
    [[0.0, 0.5], [10.0, 0.5]]
    >>> km.inertia_
    1.0
    >>> bool(km.predict([[9.0, 0.0]])[0] == km.labels_[2])
    True

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters K, and of centres.
    init : {"k-means++", "k-means||", "random", "lecture"}, callable or \
            array-like of shape (n_clusters, n_features), default="k-means++"
        How to choose the initial centres: "k-means++", rows chosen far apart
        (greedy k-means++, K passes over X); "k-means||", Bahmani et al.'s
        parallel k-means++ in 7 passes whatever K (dense X only; see
        :mod:`mixfit.engine.init_parallel`); "random", distinct rows drawn with
        probability ∝ weight; "lecture", every centre at the data mean plus random noise of
        1 % of the data's standard deviation (the course's initialisation);
        a callable ``init(X, n_clusters, random_state)`` returning the centres
        (X as the fit sees it, ``random_state`` a RandomState seeded for the
        run); or the given centres (then a single run is made, with a
        RuntimeWarning if ``n_init`` asked for more, since every run would start
        from the same place).
        A callable init cannot be saved in a model file.
    n_init : "auto" or int, default="auto"
        Number of runs from different seeds; the run with the lowest inertia wins.
        "auto" (scikit-learn's meaning): 1 for "k-means++", "k-means||" and an
        array, 10 for "random", "lecture" and a callable.
    max_iter : int, default=300
        Maximum number of iterations per run.
    tol : float, default=1e-4
        Relative tolerance, scikit-learn's: a run stops when the sum over the
        centres of their squared shift in one iteration is at most ``tol`` times
        the mean over columns of the data's variance (weighted: a weight-``w``
        row counts as ``w`` copies; scikit-learn ignores the weights there), or
        when no label changes ("strict convergence"). ``tol=0`` stops only then.
    verbose : int, default=0
        Above 0, print scikit-learn's progress lines: "Initialization complete",
        the inertia at each iteration (numbered from 0) and how each run converged.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisations; an int makes ``fit`` reproducible.
    copy_x : bool, default=True
        True: X is never written to. False: data far from the origin, whose
        distances are computed relative to their mean, are centred in place for
        the fit instead of chunk by chunk, and restored bit for bit before ``fit``
        returns (or raises); when ``x − mean + mean == x`` does not hold for every
        value that restoration would not be exact, and X is left alone. Data that
        ``fit`` must convert anyway (another dtype, non-contiguous) are never written.
        Does not apply to sparse X, which is never centred (nor written to).
    chunk_size : int or None, default=None
        Rows per block in the distance computations (None: chosen so that a
        block of distances, ``chunk_size × n_clusters`` numbers, stays in the
        CPU cache: 256 to 4096 rows; fewer, down to 32, for many features and
        few clusters, see :func:`mixfit.engine.kmeans.auto_chunk_size`). Memory beyond
        the data is about ``n_jobs × chunk_size × n_clusters`` numbers plus, per
        sample, an int32 label and the squared norm. Sparse X is processed one
        row at a time (no distance blocks); there only ``transform`` writes its
        output in blocks of this many rows.
    callback : callable or None, default=None
        ``callback(iteration, centers, inertia)`` after every assignment step of
        every run (iterations count from 1; ``inertia`` belongs to ``centers``).
    algorithm : {"auto", "lloyd", "elkan", "hamerly", "yinyang"}, default="auto"
        "lloyd" computes all distances at every iteration; "hamerly" keeps one
        bound per sample and skips the samples whose centre provably does not
        change (the same labels as "lloyd"; one more float32 per sample of
        memory); "yinyang" (Ding et al., 2015) keeps a bound per sample for
        each group of about 10 centres (5 for at most ``n_features / 3`` and 64
        groups) and computes only the groups that may hold a nearer centre
        (Lloyd's labels; ``n_clusters / 10`` more float32 per sample, or up to
        64). "auto" uses "yinyang" from 128 clusters and 64 features on (32
        features for float64 data), where it took 0.53 to 0.91 of the time of
        Hamerly's bounds at 128 clusters, and 0.18 to 0.55 of scikit-learn's
        on the benchmark grid from 256 clusters; below 128 clusters, from 16
        features on where the E-step is a GEMM (from 32 clusters; from 8 with
        at least 2,048 features × clusters; from 16 on data of 128 MiB or
        more) or the SIMD kernel (from 32 clusters beyond 1,024 features ×
        clusters; from 16 with at least 1,024 on data of 128 MiB or more),
        and with any number of clusters on long rows of large data (float64:
        96 to 256 features, 256 MiB or more; float32: 160 to 256 features,
        512 MiB or more), Hamerly's upper and lower bound per sample once
        labels settle (two more float32 per sample), so that settled samples are not even
        read, the cluster sums carried between iterations (the same labels as
        "lloyd"; sums and inertia equal to rounding); and "hamerly" from 64
        clusters on elsewhere, once labels settle; each only while it pays.
        "elkan", scikit-learn's name for exact triangle-inequality pruning, runs
        "hamerly": its bounds are exact as Elkan's are, so labels, centres and
        ``n_iter_`` are those of "lloyd", without Elkan's K bounds per sample
        (with ``n_clusters=1`` it warns and runs "lloyd", as scikit-learn does).
        Where the SIMD kernel runs (8 to 1,024 clusters, or 3 to 7 from 16
        features, at most 1,024 features × clusters or any number with at
        most 16 features; float32 with 8 to 64 clusters and up to 160
        features and 5,120 features × clusters; float64 from 8 clusters and
        96 to 256 features up to 1,280 features × clusters; float64 with at
        most 3 features, over 32 clusters and at most 2,048 features ×
        clusters excepted) "auto" runs "lloyd" but for the two bounds above,
        and "hamerly", "elkan" and "yinyang" run "lloyd", whose labels they would
        give: it was 1.4 to 2.7 times faster there than the bounds at 8 to 32
        clusters, 1.3 to 2.8 times over 20 iterations at 64 to 1,024 (0.98 to
        1.7 times run on to 100 or 150), 1.5 to 2.1 times over 20 iterations at
        3 to 7 (to convergence 0.73 to 2.0: the bounds won once, at 100,000 ×
        32 × 5 float64).
        For sparse X, "auto" runs "lloyd": on text-like data (many features,
        clusters close in distance) the bounds rarely prune and "hamerly" was
        1.2 to 1.5 times slower at 20 and 100 clusters; "hamerly" and "elkan"
        (and "yinyang", which runs "hamerly" there) do prune sparse data too (faster for well-separated clusters), with the
        results of "lloyd" bit for bit.
    n_jobs : int or None, default=None
        Threads for the distance computations: None or -1 uses every available
        core, ``-k`` all but ``k − 1``; more than the available cores counts as
        all of them. Results do not depend on it.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Centres (the mean of each cluster's rows), float32 for float32 input
        and float64 otherwise.
    labels_ : ndarray of shape (n_samples,), int64
        Nearest centre of each training row (equal to ``predict(X)``); int32
        for a memory-mapped X, a Dask array for a Dask X (see Notes).
    inertia_ : float
        Weighted sum of squared distances of the training rows to their centres.
    n_iter_ : int
        Iterations of the winning run.
    converged_ : bool
        Whether the winning run met a stopping rule (``tol``, or no label
        changed) within ``max_iter`` iterations; when False, ``fit`` warned
        with a ConvergenceWarning.
    inertia_history_ : list of float
        Inertia at each iteration of the winning run, before that iteration's update.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X was a DataFrame with string column names; new data
        given with names must have the same ones, in the same order.

    See Also
    --------
    GaussianMixture : soft clustering, with clusters of any shape and size.

    Notes
    -----
    float32 data gives float32 centres and distances, float64 gives float64.
    Data whose largest magnitude is beyond 2**60 (about 1e18) or below 2**-60 is
    clustered internally in units of a power of two (exact in binary floating
    point), in float64, so squared distances neither overflow nor underflow;
    centres, distances and inertia are returned in the data's units, in float64.
    Data beyond 2**510 (about 3.4e153) is refused.

    Sparse data (``scipy.sparse``; CSR is used as is, other formats are
    converted to CSR, integers to float64) is clustered without ever being
    made dense: distances take the stored values only, and the largest dense
    arrays are the ``n_clusters × n_features`` centres and sums.

    A memory-mapped X (``np.load(path, mmap_mode="r")``) is read chunk by chunk
    and never copied or written (``copy_x=False`` is then moot): the fit keeps
    only the labels, as int32 (4 bytes a row), runs "lloyd" where "auto" would
    keep Hamerly's bounds, and a named start other than "k-means||" is chosen
    on a uniform sample of 100,000 rows (drawn with the run's seed).

    A Dask array is fitted where its blocks live (on the active
    ``dask.distributed.Client``, else Dask's default scheduler): each iteration
    is one pass returning K × d statistics per block, so every ``algorithm``
    runs as "lloyd" (same result; per-row bounds do not live on a cluster);
    "k-means||" starts on the blocks, other starts on a sample of 100,000 rows.
    ``labels_``, ``predict`` and ``transform`` then give lazy Dask arrays;
    ``score`` a number. Needs ``pip install "mixfit[dask]"``.
    """

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        n_init="auto",
        max_iter=300,
        tol=1e-4,
        verbose=0,
        random_state=None,
        copy_x=True,
        chunk_size=None,
        callback=None,
        algorithm="auto",
        n_jobs=None,
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.chunk_size = chunk_size
        self.callback = callback
        self.algorithm = algorithm
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # ClusterMixin empties this list; transform does keep float32.
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = True  # CSR (and other formats, converted)
        return tags

    @property
    def _n_init(self):
        """The number of runs ``fit`` makes, "auto" resolved (scikit-learn's name)."""
        return resolve_kmeans_n_init(self, _RANDOM_INITS, warn=False)

    # -- validation --------------------------------------------------------

    def _check_params(self):
        check_positive_int(self.n_clusters, "n_clusters")
        resolve_kmeans_n_init(self, _RANDOM_INITS, warn=False)
        check_verbose(self.verbose)
        if not isinstance(self.copy_x, (bool, np.bool_)):
            raise TypeError(f"copy_x must be True or False, got {self.copy_x!r}.")
        check_positive_int(self.max_iter, "max_iter", maximum=MAX_COUNT)
        check_nonnegative_float(self.tol, "tol")
        check_chunk_size(self.chunk_size)
        check_n_jobs(self.n_jobs)
        check_seed(self.random_state)
        if self.algorithm not in engine.ALGORITHMS:
            # scikit-learn removed "full" (its old name for "lloyd") in 1.3.
            hint = " ('full' is now called 'lloyd')" if self.algorithm == "full" else ""
            raise ValueError(
                f"algorithm must be one of {list(engine.ALGORITHMS)}, got "
                f"{self.algorithm!r}{hint}."
            )
        if self.callback is not None and not callable(self.callback):
            raise TypeError(f"callback must be callable, got {type(self.callback).__name__}.")
        if (isinstance(self.init, str) and self.init not in _INITS) or (
            not isinstance(self.init, str) and not callable(self.init)
            and not _is_numeric_table(self.init)
        ):
            # Never the whole array in the message: one line, whatever was passed.
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

    def _engine_algorithm(self):
        """The engine's ``algorithm``: "lloyd" (with scikit-learn's warning) for elkan and K=1."""
        if self.algorithm == "elkan" and self.n_clusters == 1:
            warnings.warn(
                "algorithm='elkan' doesn't make sense for a single cluster. "
                "Using 'lloyd' instead.",
                RuntimeWarning,
                stacklevel=4,  # the caller of fit, past fit's state-keeping wrapper
            )
            return "lloyd"
        return self.algorithm

    def _check_init_array(self, X):
        init = self.init
        if type(init) is np.ndarray and init.dtype == X.dtype and np.isfinite(init).all():
            # The common case, without check_array's tens of microseconds (which
            # a lecture-sized fit cannot afford); anything else gets its messages.
            centers = init.copy()
        else:
            centers = check_array(init, dtype=X.dtype, copy=True)
        expected = (self.n_clusters, X.shape[1])
        if centers.shape != expected:
            raise ValueError(
                f"{centers_shape_mismatch(centers.shape, *expected)}: init must have "
                f"shape {expected}, one row per cluster and one column per feature of "
                "X; pass such an array or change n_clusters."
            )
        return centers

    # -- fitting -------------------------------------------------------------

    @keeps_state_on_failure
    def fit(self, X, y=None, sample_weight=None):
        """Cluster X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data: an array, a DataFrame (its column names are then
            remembered) or a sparse matrix (see Notes); float32 stays float32,
            anything else becomes float64.
        y : Ignored
        sample_weight : array-like of shape (n_samples,) or None
            Non-negative weights; a row of integer weight ``w`` counts as ``w``
            copies of the row, except where an empty cluster is re-seeded at
            it: the row moves with its whole weight, as in scikit-learn, where
            of ``w`` copies one would move. Multiplying all by a constant
            multiplies ``inertia_`` by it and changes nothing else.

        Returns
        -------
        self : KMeans
        """
        if is_dask_array(X):
            return fit_kmeans_dask(self, X, sample_weight, _INITS, _RANDOM_INITS)
        self._check_params()
        algorithm = self._engine_algorithm()
        chunk_size = self.chunk_size  # None: the engine chooses from n_clusters
        n_jobs = check_n_jobs(self.n_jobs)
        # Validated, measured and in range (see _kmeans_data); results come back
        # in the user's units (scale, weight_scale).
        data = kmeans_data(self, X, sample_weight, n_jobs, variance=self.tol > 0)
        X, user_X, sample_weight, scale = data.X, data.user_X, data.sample_weight, data.scale
        mapped, shift, row_norms, weight_scale = (data.mapped, data.shift, data.row_norms,
                                                  data.weight_scale)
        n_init = resolve_kmeans_n_init(self, _RANDOM_INITS)
        fixed_init = (
            None if isinstance(self.init, str) or callable(self.init)
            else self._check_init_array(user_X)
        )
        if fixed_init is not None:
            if scale != 1.0:
                fixed_init = fixed_init.astype(np.float64) / scale
            seeds = [None]  # one run from the given centres: no seed is drawn
        else:
            rng = check_seed(self.random_state)
            seeds = rng.randint(np.iinfo(np.int32).max, size=n_init)
        # tol is relative to the data's mean column variance, as scikit-learn's is:
        # a run stops when the centres' squared shift falls within tol × variance.
        tol = self.tol * data.variance
        callback = callback_in_user_units(self.callback, scale, weight_scale)

        # Every run's start is chosen on X as given (n_init × K × d numbers), so
        # that copy_x does not change it and a callable init sees the user's data.
        # A memory-mapped X (larger than memory, say) starts from a sample of its
        # rows, one per run, except for k-means||, which streams (_large_data).
        starts = []
        for seed in seeds:
            rows, weight, user_rows = self._start_data(X, user_X, sample_weight, seed, mapped)
            starts.append(self._initial_centers(rows, fixed_init, seed, weight, user_rows, scale))
        # copy_x=False: centred in place (restored exactly on leaving, even on an
        # error), then the runs need no shift; the centres get it back below. A
        # memory map is never written to.
        in_place = not self.copy_x and not mapped
        with CenteredInPlace(X, shift if in_place else 0 * shift) as centred:
            run_shift = np.zeros_like(shift) if centred.active else shift
            if centred.active:
                callback = _callback_with_shift(callback, shift)
                starts = [start - shift.astype(start.dtype) for start in starts]
            progress = KMeansProgress(callback) if check_verbose(self.verbose) else None
            best = None
            for centers_init in starts:
                if progress is not None:
                    progress.start()
                run = engine.lloyd(
                    X, centers_init, sample_weight=sample_weight, max_iter=self.max_iter,
                    tol=tol, chunk_size=chunk_size,
                    callback=progress if progress is not None else callback,
                    shift=run_shift, algorithm=algorithm, n_jobs=n_jobs, lean=mapped,
                    x_squared_norms=row_norms,
                )
                if progress is not None:
                    progress.end(run, tol * scale**2)
                if best is None or (
                    run.inertia < best.inertia
                    and not _same_partition(run.labels, best.labels, sample_weight)
                ):
                    best = run
            if centred.active:
                best = dataclasses.replace(
                    best, centers=(best.centers + shift).astype(best.centers.dtype)
                )

        if not best.converged:
            warnings.warn(
                f"KMeans did not converge in max_iter={self.max_iter} iterations; "
                "increase max_iter or tol.",
                ConvergenceWarning,
                stacklevel=2,
            )
        n_distinct = _count_distinct(best.labels, sample_weight, self.n_clusters)
        if n_distinct < self.n_clusters:
            warnings.warn(
                # scikit-learn's wording (its users' filters match it), then the fix.
                f"Number of distinct clusters ({n_distinct}) found smaller than "
                f"n_clusters ({self.n_clusters}). Possibly due to duplicate points in X; "
                "reduce n_clusters.",
                ConvergenceWarning,
                stacklevel=2,
            )
        # In the user's units (it raises if they overflow): before any state is set.
        inertia = inertia_in_user_units(best.inertia, scale, weight_scale)
        history = [inertia_in_user_units(v, scale, weight_scale) for v in best.inertia_history]
        # Fitted state is set only here, once nothing can fail any more. What
        # `mixfit fit` recorded (columns, training score, standardization)
        # described the previous data.
        forget_data_records(self)
        self._scale = scale
        self._shift = shift
        self.cluster_centers_ = best.centers * scale if scale != 1.0 else best.centers
        self.labels_ = best.labels
        self.inertia_ = inertia
        self.n_iter_ = best.n_iter
        self.converged_ = bool(best.converged)
        self.inertia_history_ = history
        self._n_features_out = self.cluster_centers_.shape[0]
        return self

    def _start_data(self, X, user_X, sample_weight, seed, mapped):
        """The rows one run's start is chosen from: ``(X, sample_weight, user_X)``.

        Every row in memory; for a memory map (``mapped``), a uniform sample
        drawn with the run's seed (see :mod:`mixfit.estimators._large_data`),
        unless the start streams over the data itself ("k-means||").
        """
        if not mapped or seed is None or self.init == "k-means||":
            return X, sample_weight, user_X
        rows, weight = start_rows(X, sample_weight, np.random.RandomState(seed))
        if rows is X:
            return X, sample_weight, user_X
        return rows, weight, rows if user_X is X else start_rows(
            user_X, None, np.random.RandomState(seed))[0]

    def _initial_centers(self, X, fixed_init, seed, sample_weight, user_X, scale):
        """The starting centres of one run (``fixed_init`` when the user gave them).

        X is in the fit's units (``user_X / scale``); a callable init is given
        ``user_X`` and its centres are converted.
        """
        if fixed_init is not None:
            return fixed_init
        if callable(self.init):
            centers = call_init(self.init, user_X, self.n_clusters, np.random.RandomState(seed))
            return centers if scale == 1.0 else centers.astype(np.float64) / scale
        return _INITS[self.init](
            X, self.n_clusters, sample_weight=sample_weight, random_state=seed
        )

    def _check_memory(self, shape, itemsize, n_jobs=None, *, rescaled=False, pending_bytes=0,
                      nnz=None, warn=True):
        """Refuse or warn about a fit on data of this shape (:mod:`mixfit._memory`).

        ``nnz``: the number of stored values of sparse data (None for dense).
        ``warn``: as for :func:`mixfit._memory.check_fit`. Returns whether the
        fit is large enough to be warned about.
        """
        return check_kmeans(
            shape, self.n_clusters, itemsize=itemsize, chunk_size=self.chunk_size,
            n_jobs=check_n_jobs(self.n_jobs) if n_jobs is None else n_jobs,
            algorithm=self.algorithm, init=self.init if isinstance(self.init, str) else None,
            n_init=resolve_kmeans_n_init(self, _RANDOM_INITS, warn=False),
            rescaled=rescaled, pending_bytes=pending_bytes, nnz=nnz, warn=warn,
        )

    @keeps_state_on_failure
    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return ``labels_`` (equal to ``fit(X).predict(X)``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, as for :meth:`fit`.
        y : Ignored
        sample_weight : array-like of shape (n_samples,) or None
            Non-negative weights, as for :meth:`fit`.

        Returns
        -------
        labels : ndarray of shape (n_samples,), int64
        """
        return self.fit(X, sample_weight=sample_weight).labels_

    @keeps_state_on_failure
    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit, then return the distances of X to the centres (``fit(X).transform(X)``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, as for :meth:`fit`.
        y : Ignored
        sample_weight : array-like of shape (n_samples,) or None
            Non-negative weights, as for :meth:`fit`.

        Returns
        -------
        distances : ndarray of shape (n_samples, n_clusters)
        """
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def transform(self, X):
        """Euclidean distances to the centres, in X's floating dtype.

        Data beyond 2**60 of the fit's units is measured in float64, as ``fit``
        does, since its squared distances do not fit in float32.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data with the columns the model was fitted on.

        Returns
        -------
        distances : ndarray of shape (n_samples, n_clusters)
        """
        if is_dask_array(X):
            return lazy_query(self, "transform", X, n_columns=self.cluster_centers_.shape[0],
                              dtype=self.cluster_centers_.dtype)
        X, centers, scale, shift = self._validate_for_prediction(X)
        sq = engine.squared_distances(
            X, centers, chunk_size=check_chunk_size(self.chunk_size), shift=shift
        )
        distances = np.sqrt(sq, out=sq)
        return distances if scale == 1.0 else distances * scale
