"""``GaussianMixture.partial_fit``: stepwise online EM, one mini-batch per call.

The algorithm is :mod:`mixfit.engine.online`; this module is the estimator's
side of it: the first call validates the batch, fixes ``n_features_in_``, the
dtype and the fit's units (a power of two, as ``fit``) and initialises as
``fit`` would; every call then takes one step and sets the fitted attributes.

Where the running statistics live: in memory, in float64, as
``_online_state`` (the statistics and the ``weights_`` array they produced).
A model whose parameters did not come from the last ``partial_fit`` (fitted
by ``fit``, loaded from a model file, or edited by hand) has no valid state:
its statistics are rebuilt from its parameters
(:func:`mixfit.engine.online.stats_from_params`), exactly so for
scikit-learn's five covariance types, so model files store nothing more than
``n_steps_``.
"""

from __future__ import annotations

import numpy as np

from mixfit._validation import check_n_samples_at_least, check_sample_weight, check_seed
from mixfit.engine.constraints import check_fixed
from mixfit.engine.online import check_step_settings, online_step, stats_from_params
from mixfit.estimators._data_checks import check_data, data_scale, where_largest
from mixfit.estimators._fit_state import check_consistent_fit, forget_data_records
from mixfit.estimators._gmm_init import check_user_init, init_kind, rescaled_init
from mixfit.estimators._gmm_queries import rescaled_params
from mixfit.estimators._sklearn_compat import params_in_dtype
from mixfit.families import GaussianFamily

__all__ = ["partial_fit"]


def partial_fit(estimator, X, sample_weight=None):
    """One online EM step of ``estimator`` (a GaussianMixture) on the batch ``X``.

    See :meth:`mixfit.GaussianMixture.partial_fit`. Fitted attributes are set
    only once the step has succeeded (the caller restores them on failure).
    """
    decay, offset = check_step_settings(estimator.learning_decay, estimator.learning_offset)
    settings = estimator._check_settings()
    if check_fixed(GaussianFamily, estimator.fixed_params):
        raise ValueError(
            "fixed_params is not taken by partial_fit (online EM updates every "
            "parameter); use fit, or set fixed_params=None."
        )
    reg_covar = settings["reg_covar"]
    if hasattr(estimator, "precisions_cholesky_"):
        start = _continued(estimator, X, sample_weight, settings)
    else:
        start = _first(estimator, X, sample_weight, settings)
    X, sample_weight, scale, stats, params, step, history = start
    log_scale = X.shape[1] * np.log(scale)
    family = GaussianFamily(estimator.covariance_type, reg_covar / scale / scale)
    result = online_step(
        family, stats, params, X, step, sample_weight=sample_weight,
        learning_decay=decay, learning_offset=offset,
        chunk_size=settings["chunk_size"], n_jobs=settings["n_jobs"],
    )
    callback = estimator._iteration_callback(scale, log_scale)
    if callback is not None:
        callback(step, result.params, result.log_likelihood)

    # Fitted state, set only now that nothing can fail any more.
    if step == 1:
        forget_data_records(estimator)
    estimator._scale = scale
    estimator._set_params_from(GaussianFamily(estimator.covariance_type, reg_covar),
                               rescaled_params(result.params, scale))
    estimator._online_state = (result.stats, estimator.weights_)
    estimator.n_steps_ = step
    estimator.n_iter_ = step
    estimator.converged_ = False
    estimator.lower_bound_ = result.log_likelihood - log_scale
    estimator.lower_bounds_ = history + [estimator.lower_bound_]
    return estimator


def _first(estimator, X, sample_weight, settings):
    """The first call: validate, choose the units, initialise from the batch as ``fit``."""
    X = check_data(estimator, X, reset=True, ensure_min_samples=2)
    sample_weight = check_sample_weight(sample_weight, X.shape[0])
    n_components = settings["n_components"]
    check_n_samples_at_least(X, n_components, sample_weight=sample_weight)
    family = GaussianFamily(estimator.covariance_type, settings["reg_covar"])
    user_init = check_user_init(estimator, family, X, n_components)
    rng = check_seed(estimator.random_state)
    scale = estimator._fit_scale(X, settings["reg_covar"])
    estimator._check_memory(X.shape, X.dtype.itemsize, settings, rescaled=scale != 1.0,
                            init=init_kind(family, user_init, estimator.init_params))
    if scale != 1.0 and X.dtype == np.float32:
        X = X.astype(np.float64)  # as fit: such variances do not fit in float32
    if scale != 1.0:
        X = X / scale
        family = GaussianFamily(estimator.covariance_type,
                                settings["reg_covar"] / scale / scale)
        user_init = rescaled_init(user_init, 1.0 / scale)
    params = estimator._initial_params(family, X, user_init, sample_weight, rng, settings)
    return X, sample_weight, scale, stats_from_params(family, params), params, 1, []


def _continued(estimator, X, sample_weight, settings):
    """A later call: the batch in the fitted model's width, dtype and units."""
    check_consistent_fit(estimator, "means_")
    fitted = (estimator.means_.shape[0], estimator._family.covariance_type)
    wanted = (settings["n_components"], estimator.covariance_type)
    if fitted != wanted:
        raise ValueError(
            f"partial_fit continues the fitted mixture, which has n_components="
            f"{fitted[0]} and covariance_type={fitted[1]!r}, but the estimator now asks "
            f"for {wanted[0]} and {wanted[1]!r}; set them back, or start afresh with "
            "sklearn.base.clone(model)."
        )
    X = check_data(estimator, X, reset=False)
    sample_weight = check_sample_weight(sample_weight, X.shape[0])
    estimator._check_memory(X.shape, X.dtype.itemsize, settings, init="given")
    scale = getattr(estimator, "_scale", 1.0)
    names = getattr(estimator, "feature_names_in_", None)
    # The units (a power of two) were chosen on the first batch; a later batch
    # must be representable in them (data_scale raises beyond 2**510).
    if data_scale(X, names) != scale and data_scale(X / scale) != 1.0:
        raise ValueError(
            f"this batch holds values up to {float(np.abs(X).max()):.3g}"
            f"{where_largest(X, names=names)}, out of the range that the first batch "
            f"set for this online fit (it works in units of {scale:g}); scale every "
            "batch by the same constant, or start afresh with sklearn.base.clone(model)."
        )
    dtype = estimator.means_.dtype  # the first batch's (float32 stays float32)
    X = X.astype(dtype, copy=False)
    if scale != 1.0:
        X = X / scale
    params = params_in_dtype(rescaled_params(estimator._mixture_params(), 1.0 / scale), dtype)
    state = getattr(estimator, "_online_state", None)
    if state is not None and state[1] is estimator.weights_:
        # The statistics of the last step, kept exactly (float64).
        return (X, sample_weight, scale, state[0], params, estimator.n_steps_ + 1,
                list(estimator.lower_bounds_))
    fitted_family = GaussianFamily(estimator._family.covariance_type,
                                   estimator._family.reg_covar / scale / scale)
    stats = stats_from_params(fitted_family, params)
    steps = getattr(estimator, "n_steps_", None)
    if state is None and steps is not None and steps == estimator.n_iter_ == len(
            estimator.lower_bounds_):
        # A model file of an online fit (not of a fit() run after one, whose
        # n_iter_ and history are its own): continue its step count and history.
        return (X, sample_weight, scale, stats, params, estimator.n_steps_ + 1,
                list(estimator.lower_bounds_))
    # Parameters from fit (or set by hand): the online run starts here.
    return X, sample_weight, scale, stats, params, 1, []
