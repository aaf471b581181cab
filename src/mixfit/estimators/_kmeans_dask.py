"""KMeans.fit on a Dask array: passes where the blocks live, parameters on the client.

The same estimator, the same checks and the same results as in memory (the
algorithms are exact, so Lloyd's passes give what the pruned ones give), with
these differences, documented in :class:`~mixfit.KMeans`:

- every iteration is one pass over the blocks returning K × d statistics
  (:mod:`mixfit.engine.kmeans_source`); the ``algorithm`` is Lloyd's whatever
  was asked, since pruning keeps per-row bounds that do not live on a cluster;
- ``init="k-means||"`` runs on the blocks; the other starts (k-means++,
  random rows, the lecture's, a callable) run on a uniform sample of at most
  :data:`~mixfit.estimators._dask_data.INIT_SAMPLE_ROWS` rows;
- ``labels_`` is a Dask array (one label per row, computed when asked for);
  the centres, inertia and history are NumPy values as usual.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from mixfit._validation import check_n_samples_at_least, check_seed, check_verbose
from mixfit.engine.kmeans_source import lloyd_over_source
from mixfit.engine.source_starts import shift_and_variance_about
from mixfit.engine.sources import DaskSource
from mixfit.estimators._dask_data import (
    check_dask_data,
    check_dask_sample_weight,
    init_sample,
    lazy_query,
    summarize,
)
from mixfit.estimators._data_checks import data_scale
from mixfit.estimators._fit_state import forget_data_records
from mixfit.estimators._kmeans_units import callback_in_user_units, inertia_in_user_units
from mixfit.estimators._sklearn_compat import KMeansProgress, resolve_kmeans_n_init

__all__ = ["fit_kmeans_dask"]

#: Starts that run on the blocks themselves rather than on a sample.
_BLOCKWISE_INITS = ("k-means||",)

def _shift_and_variance(source, summary, scale):
    """The distance shift and mean column variance, as in memory (one more pass)."""
    return shift_and_variance_about(source, summary.mean / scale, summary.weight)


def fit_kmeans_dask(estimator, X, sample_weight, inits, random_inits):
    """Fit ``estimator`` (a KMeans) on the Dask array X; see the module's notes.

    ``inits`` is KMeans' table of named starts, ``random_inits`` those that
    ``n_init="auto"`` repeats.
    """
    estimator._check_params()
    X = check_dask_data(estimator, X, reset=True)
    sample_weight, weight_scale = check_dask_sample_weight(sample_weight, X)
    summary = summarize(X, sample_weight)
    check_n_samples_at_least(SimpleNamespace(shape=(summary.positive,)),
                             estimator.n_clusters, "n_clusters")
    n_init = resolve_kmeans_n_init(estimator, random_inits)
    named = isinstance(estimator.init, str)
    fixed_init = None if named or callable(estimator.init) else estimator._check_init_array(X)
    scale = data_scale(X, None, summary.largest)
    data = X
    if scale != 1.0:
        X = X.astype(np.float64) / scale
        if fixed_init is not None:
            fixed_init = fixed_init.astype(np.float64) / scale
    rng = check_seed(estimator.random_state)
    seeds = [None] if fixed_init is not None else rng.randint(np.iinfo(np.int32).max,
                                                              size=n_init)
    source = DaskSource(X, sample_weight)
    shift, variance = _shift_and_variance(source, summary, scale)
    tol = estimator.tol * variance

    sample = None
    starts = []
    for seed in seeds:
        if named and estimator.init in _BLOCKWISE_INITS:
            starts.append(inits[estimator.init](source, estimator.n_clusters,
                                                random_state=seed))
            continue
        if sample is None and fixed_init is None:
            sample = init_sample(X, sample_weight, np.random.default_rng(seed))
        sample_X, sample_weight_in_memory = sample if sample is not None else (None, None)
        user_X = None if sample_X is None else (sample_X * scale if scale != 1.0 else sample_X)
        starts.append(estimator._initial_centers(
            sample_X, fixed_init, seed, sample_weight_in_memory, user_X, scale))

    callback = callback_in_user_units(estimator.callback, scale, weight_scale)
    progress = KMeansProgress(callback) if check_verbose(estimator.verbose) else None
    best = best_counts = None
    for centers_init in starts:
        if progress is not None:
            progress.start()
        run, counts = lloyd_over_source(
            source, centers_init, max_iter=estimator.max_iter, tol=tol, shift=shift,
            chunk_size=estimator.chunk_size,
            callback=progress if progress is not None else callback,
        )
        if progress is not None:
            progress.end(run, tol * scale**2)
        if best is None or run.inertia < best.inertia:
            best, best_counts = run, counts
    if not best.converged:
        warnings.warn(
            f"KMeans did not converge in max_iter={estimator.max_iter} iterations; "
            "increase max_iter or tol.",
            ConvergenceWarning,
            stacklevel=3,
        )
    n_distinct = int(np.count_nonzero(best_counts > 0))
    if n_distinct < estimator.n_clusters:
        warnings.warn(
            f"Number of distinct clusters ({n_distinct}) found smaller than "
            f"n_clusters ({estimator.n_clusters}). Possibly due to duplicate points in X; "
            "reduce n_clusters.",
            ConvergenceWarning,
            stacklevel=3,
        )
    inertia = inertia_in_user_units(best.inertia, scale, weight_scale)
    history = [inertia_in_user_units(v, scale, weight_scale) for v in best.inertia_history]
    forget_data_records(estimator)
    estimator._scale = scale
    estimator._shift = shift
    estimator.cluster_centers_ = best.centers * scale if scale != 1.0 else best.centers
    estimator.inertia_ = inertia
    estimator.n_iter_ = best.n_iter
    estimator.converged_ = bool(best.converged)
    estimator.inertia_history_ = history
    estimator._n_features_out = estimator.cluster_centers_.shape[0]
    estimator.labels_ = lazy_query(estimator, "predict", data, dtype=np.int64)
    return estimator
