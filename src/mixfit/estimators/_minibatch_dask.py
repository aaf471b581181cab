"""MiniBatchKMeans.fit on a Dask array: batches drawn from all blocks, fetched in bulk.

Batches are drawn as in memory: rows with replacement, with probability ∝
weight, over all rows. Drawing them one step at a time would cost a Dask
computation per step, so the rows of :data:`STEPS_AHEAD` steps are drawn at
once and fetched in one computation (``X[rows]``: each block gives the drawn
rows it holds); the steps then run on them in memory. The steps, the
reassignment rule and the early stopping are those of
:mod:`mixfit.engine.minibatch`, unchanged; only the order in which the random
stream is consumed differs from a fit in memory. (Sample weights, where given,
are brought to the client: 8 bytes a row, to draw rows ∝ weight.)

The start is chosen on a uniform sample of at most 100,000 rows (as
:class:`mixfit.KMeans` does for a Dask array); ``labels_`` is a Dask array,
``inertia_`` a number computed by one more pass.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from mixfit._parallel import check_n_jobs
from mixfit._validation import check_n_samples_at_least, check_seed, check_verbose
from mixfit.engine import minibatch as engine
from mixfit.engine.sources import DaskSource
from mixfit.estimators._dask_data import (
    blockwise_score,
    check_dask_data,
    check_dask_sample_weight,
    lazy_query,
    summarize,
)
from mixfit.estimators._data_checks import data_scale
from mixfit.estimators._fit_state import forget_data_records
from mixfit.estimators._kmeans_dask import _shift_and_variance
from mixfit.estimators._kmeans_units import inertia_in_user_units
from mixfit.estimators._large_data import start_rows

__all__ = ["fit_minibatch_dask"]


#: Steps whose batches are drawn and fetched from the blocks in one computation.
STEPS_AHEAD = 64


def fit_minibatch_dask(estimator, X, sample_weight):
    """Fit ``estimator`` (a MiniBatchKMeans) on the Dask array X; see the module's notes."""
    estimator._check_params()
    data = X = check_dask_data(estimator, X, reset=True)
    weight, weight_scale = check_dask_sample_weight(sample_weight, X)
    summary = summarize(X, weight)
    n_clusters = estimator.n_clusters
    check_n_samples_at_least(SimpleNamespace(shape=(summary.positive,)), n_clusters,
                             "n_clusters")
    n_samples = X.shape[0]
    n_jobs = check_n_jobs(estimator.n_jobs)
    batch_size, init_size = estimator._sizes(n_samples)
    fixed_init = (None if isinstance(estimator.init, str) or callable(estimator.init)
                  else estimator._check_init_array(X))
    scale = data_scale(X, None, summary.largest)
    if scale != 1.0:
        X = X.astype(np.float64) / scale
        if fixed_init is not None:
            fixed_init = fixed_init.astype(np.float64) / scale
    shift, variance = _shift_and_variance(DaskSource(X, weight), summary, scale)
    rng = check_seed(estimator.random_state)
    log = print if check_verbose(estimator.verbose) else None

    sample, sample_weight_in_memory = start_rows(X, weight, rng)
    user_sample = sample * scale if scale != 1.0 else sample
    chunk_size = engine.resolve_chunk_size(estimator.chunk_size, n_clusters, sample)
    valid = rng.randint(0, sample.shape[0], min(init_size, sample.shape[0]))
    centers = estimator._best_start(
        sample, user_sample, fixed_init, sample_weight_in_memory, scale,
        min(init_size, sample.shape[0]), rng, estimator._resolve_n_init(),
        valid=(sample[valid], None if sample_weight_in_memory is None
               else sample_weight_in_memory[valid]),
        shift=shift, chunk_size=chunk_size, n_jobs=n_jobs, log=log,
    )
    centers = engine.centres_for(sample, centers)
    counts = np.zeros(n_clusters)
    max_steps = max(1, (estimator.max_iter * n_samples) // batch_size)
    stopping = engine.EarlyStopping(batch_size, n_samples, estimator.tol * variance,
                                    estimator.max_no_improvement, log)
    clock = engine.ReassignClock(n_clusters)
    sampler = engine.RowSampler(n_samples, None if weight is None else weight.compute())
    step, batch_inertia, stopped = 0, 0.0, False
    with engine.batch_runner(n_jobs, batch_size, chunk_size, X.shape[1],
                             n_clusters) as runner:
        while step < max_steps and not stopped:
            draws = [sampler.draw(rng, batch_size)
                     for _ in range(min(STEPS_AHEAD, max_steps - step))]
            wanted = np.unique(np.concatenate(draws))
            fetched = np.asarray(X[wanted].compute())
            for drawn in draws:
                previous = centers.copy() if stopping.tol > 0.0 else None
                batch_inertia = engine.minibatch_step(
                    fetched[np.searchsorted(wanted, drawn)], centers, counts, None, rng=rng,
                    random_reassign=clock.due(batch_size, counts),
                    reassignment_ratio=estimator.reassignment_ratio, shift=shift,
                    chunk_size=chunk_size, runner=runner, log=log,
                )
                moved = 0.0
                if previous is not None:
                    previous -= centers
                    moved = float(np.einsum("ij,ij->", previous, previous))
                stopped = stopping(step, max_steps, moved, batch_inertia)
                step += 1
                if stopped:
                    break

    centers = np.ascontiguousarray(centers, dtype=X.dtype)
    forget_data_records(estimator)
    estimator._scale, estimator._shift = scale, shift
    estimator.cluster_centers_ = centers * scale if scale != 1.0 else centers
    estimator._counts = counts
    estimator._batch_size, estimator._init_size = batch_size, init_size
    estimator._rows_since_reassign = clock.rows_since
    estimator._random_state = rng
    estimator.n_steps_ = step
    estimator.n_iter_ = int(np.ceil(step * batch_size / n_samples))
    estimator._n_features_out = n_clusters
    estimator.__dict__.pop("labels_", None)
    if estimator.compute_labels:
        estimator.inertia_ = -blockwise_score(estimator, data, sample_weight)
        estimator.labels_ = lazy_query(estimator, "predict", data, dtype=np.int64)
    else:
        mean = stopping.ewa_inertia if stopping.ewa_inertia is not None else (
            batch_inertia / batch_size)
        estimator.inertia_ = inertia_in_user_units(mean * summary.weight, scale, weight_scale)
    return estimator
