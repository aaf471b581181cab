"""How GaussianMixture's fit is checked, starts and reports: its settings and
memory, the constraints (fixed parameters, partial labels), the fit's scale,
the first parameters of a restart, and the per-iteration callback.

A mixin, so that ``fit``, ``partial_fit`` and the Dask path share them and
gaussian_mixture.py stays about one concern (the estimator's API and loop).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mixfit._memory import check_gaussian_mixture
from mixfit._parallel import check_n_jobs
from mixfit._validation import (
    MAX_COUNT,
    check_chunk_size,
    check_nonnegative_float,
    check_positive_int,
    check_seed,
    check_verbose,
)
from mixfit.engine import em as em
from mixfit.engine.constraints import check_fixed, partial_labels
from mixfit.engine.init import MIXTURE_INITS, params_from_resp
from mixfit.estimators._data_checks import column_magnitudes, data_scale, where_largest
from mixfit.estimators._gmm_init import is_complete, mixture_start
from mixfit.estimators._gmm_queries import rescaled_params
from mixfit.families import GaussianFamily
from mixfit.families.gaussian.registry import get_structure

__all__ = ["MixtureFitting"]


class MixtureFitting:
    """GaussianMixture's starts, scale and callback (see the module's notes)."""

    def _check_memory(self, shape, itemsize, settings=None, *, rescaled=False, init=None,
                      pending_bytes=0):
        """Refuse or warn about a fit on data of this shape (:mod:`mixfit._memory`)."""
        settings = self._check_settings() if settings is None else settings
        check_gaussian_mixture(
            shape, settings["n_components"], self.covariance_type, itemsize=itemsize,
            chunk_size=settings["chunk_size"], n_jobs=settings["n_jobs"],
            init=init or (self.init_params if self.resp_init is None else "resp"),
            n_init=settings["n_init"], rescaled=rescaled, pending_bytes=pending_bytes,
        )

    def _check_settings(self):
        """Validate the scalar constructor arguments; return them resolved."""
        settings = {
            "n_components": check_positive_int(self.n_components, "n_components"),
            "tol": check_nonnegative_float(self.tol, "tol"),
            "reg_covar": check_nonnegative_float(self.reg_covar, "reg_covar"),
            "max_iter": check_positive_int(
                self.max_iter, "max_iter", minimum=0, maximum=MAX_COUNT
            ),
            "n_init": check_positive_int(self.n_init, "n_init", maximum=MAX_COUNT),
            "chunk_size": check_chunk_size(self.chunk_size),
            "n_jobs": check_n_jobs(self.n_jobs),
            "verbose": check_verbose(self.verbose),
            "verbose_interval": check_positive_int(
                self.verbose_interval, "verbose_interval", maximum=MAX_COUNT
            ),
        }
        if not isinstance(self.warm_start, (bool, np.bool_)):
            raise TypeError(f"warm_start must be True or False, got {self.warm_start!r}.")
        check_seed(self.random_state)
        get_structure(self.covariance_type)
        if self.resp_init is None and (
            not isinstance(self.init_params, str) or self.init_params not in MIXTURE_INITS
        ):
            raise ValueError(
                f"init_params must be one of {list(MIXTURE_INITS)}, got "
                f"{self.init_params!r}; to start from given responsibilities pass resp_init."
            )
        if self.callback is not None and not callable(self.callback):
            raise TypeError(f"callback must be callable, got {type(self.callback).__name__}.")
        return settings

    def _fit_scale(self, X, reg_covar, column_largest=None):
        """The power of two the fit works in (1.0 for ordinary data).

        ``column_largest``: each column's largest magnitude, where an earlier
        pass found it (Dask input), so that X is not read again.
        """
        names = getattr(self, "feature_names_in_", None)  # this X's, set by check_data
        scale = data_scale(X, names, column_largest)
        if scale > 1.0 and self.covariance_type == "identity":
            if column_largest is None:
                column_largest = column_magnitudes(X)  # NaN (missing values) skipped
            raise ValueError(
                f"X holds values up to {np.max(column_largest):.3g}"
                f"{where_largest(X, column_largest, names=names)}: "
                "the identity-covariance model fixes every variance to 1, which at "
                "that scale makes every sample infinitely unlikely under all but one "
                "component. Standardise X first, or use covariance_type='spherical'."
            )
        # Tiny data needs no rescaling under the identity model: nothing is squared
        # except differences against a unit variance.
        if self.covariance_type == "identity":
            return 1.0
        if scale < 1.0 and reg_covar > 0:
            # Variances far below reg_covar are swamped by it anyway; zooming in
            # further would only overflow reg_covar / scale² in the fit's units.
            floor = float(np.ldexp(1.0, int(np.frexp(np.sqrt(reg_covar))[1]) - 30))
            scale = min(1.0, max(scale, floor))
        return scale

    def _initial_params(self, family, X, user_init, sample_weight, rng, settings):
        """First parameters of one restart: from init_params or resp_init, then overrides."""
        chunk_size = settings["chunk_size"]
        if is_complete(family, user_init):
            # Every parameter is given: a data-driven start (a K-means fit by
            # default) would be computed only to be overwritten.
            return self._given_params(family, X, user_init)
        if "resp" in user_init:
            params = params_from_resp(
                family, X, user_init["resp"], sample_weight=sample_weight, chunk_size=chunk_size
            )
        else:
            params = mixture_start(
                family,
                X,
                settings["n_components"],
                self.init_params,
                sample_weight=sample_weight,
                random_state=rng,
                chunk_size=chunk_size,
            )
        weights = user_init.get("weights", params.weights)
        components = params.components
        means = user_init.get("means", components.means)
        if "precisions" in user_init:
            components = family.params_from_precisions(means, user_init["precisions"], X.dtype)
        elif "means" in user_init:
            components = dataclasses.replace(components, means=np.asarray(means, dtype=X.dtype))
        return em.MixtureParams(np.asarray(weights, dtype=X.dtype), components)

    def _constraints(self, X, y, settings, distributed=False):
        """``fixed_params`` and the partial labels ``y``, checked: ``(fixed, labels)``.

        ``labels`` is None when ``y`` is None (an unsupervised fit).
        """
        fixed = check_fixed(GaussianFamily, self.fixed_params)
        labels = partial_labels(y, self.semi_supervised, X.shape[0], settings["n_components"])
        if distributed and (fixed or labels is not None):
            raise ValueError(
                "fixed_params and partial labels (y) are not taken with a Dask array; "
                "fit such a model on data in memory or in a memory map."
            )
        return fixed, labels

    def _given_params(self, family, X, user_init):
        means = user_init["means"]
        if "precisions" in user_init:
            components = family.params_from_precisions(means, user_init["precisions"], X.dtype)
        else:  # the identity structure: its covariance is fixed
            components = family.params_from_covariances(
                means, np.ones(means.shape[0]), X.dtype
            )
        return em.MixtureParams(np.asarray(user_init["weights"], dtype=X.dtype), components)

    def _iteration_callback(self, scale, log_scale, progress=None):
        """The engine's callback: progress printing and the user's callback, in data units."""
        user = self.callback
        if user is None and progress is None:
            return None

        def on_iteration(iteration, params, log_likelihood):
            log_likelihood -= log_scale
            if progress is not None:
                progress.iteration(iteration, log_likelihood)
            if user is not None:
                user(iteration, rescaled_params(params, scale), log_likelihood)

        return on_iteration
