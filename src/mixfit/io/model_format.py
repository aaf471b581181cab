"""The model file format as data: the fields of ``model.json`` and how each is checked.

:mod:`mixfit.io.model_files` documents the layout and handles the zip archive; this module
says what the archive's ``model.json`` and arrays must hold for each estimator
(a spec per JSON field, one "kind" per estimator class), turns a fitted
estimator into that header and those arrays, and checks them and builds the
estimator back. A problem raises :class:`_Invalid`, worded without the file's
name; :mod:`mixfit.io.model_files` adds the name and raises ``ModelFileError``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import scipy.linalg

from mixfit.engine import em as em
from mixfit.estimators import GaussianMixture, KMeans
from mixfit.estimators.auto_gaussian_mixture import AutoGaussianMixture, selection_from_records
from mixfit.estimators.kmeans import _INITS as _KMEANS_INITS
from mixfit.families import GaussianFamily, GaussianParams
from mixfit.families.gaussian.registry import STRUCTURES
from mixfit._memory import covariance_layout
from mixfit._validation import LARGEST_MAGNITUDE, MAX_EXPONENT
from mixfit.engine.init import MIXTURE_INITS
from mixfit.engine.online import check_step_settings
from mixfit.io.model_fields import _describe, _encode_float, _field, _fields, _Invalid, _to_json

FORMAT_NAME = "mixfit-model"
#: The newest format this module writes and reads; raise it when the layout changes.
#: 2: KMeans labels_ in the smallest unsigned dtype, the CLI's _column_indices.
FORMAT_VERSION = 2

_FLOAT_DTYPES = ("float32", "float64")
_PARAM_DTYPES = _FLOAT_DTYPES + ("float16", "int8", "int16", "int32", "int64",
                                 "uint8", "uint16", "uint32", "uint64", "bool")
_LABEL_DTYPES = ("uint8", "uint16", "uint32", "int64")
_NOT_A_MODEL = "expected a mixfit model file (a zip archive written by mixfit.io.save)"


# ------------------------------------------------------------ the two estimators

_COUNT = ("int", (0, math.inf))
_POSITIVE = ("int", (1, math.inf))
_NON_NEGATIVE = ("float", 0)
_SEED = ("int?", (0, 2**32 - 1))  # the seeds numpy's RandomState accepts
_COMMON_PARAMS = {"tol": _NON_NEGATIVE, "random_state": _SEED,
                  "chunk_size": ("int?", (1, math.inf)), "callback": ("null", None),
                  "n_jobs": ("jobs", None)}
_COMMON_FITTED = {"n_iter_": _COUNT, "n_features_in_": _POSITIVE,
                  "feature_names_in_": ("names", None), "_scale": ("scale", None),
                  "converged_": ("bool", None),
                  # mixfit fit's --columns on data without names: 0-based indices.
                  "_column_indices": ("floats", 0),
                  # mixfit fit's record of its training data, for mixfit info's BIC and
                  # AIC: the mean log-likelihood per sample and the number of samples.
                  "_train_score": ("float", -math.inf), "_train_n_samples": _POSITIVE,
                  # mixfit fit --standardize: the training columns' means and standard
                  # deviations, which mixfit predict applies to new data.
                  "_standardize_mean": ("floats", -math.inf),
                  "_standardize_scale": ("floats", 0)}
_OPTIONAL_FITTED = ("feature_names_in_", "_scale", "_column_indices", "_train_score",
                    "_train_n_samples", "_standardize_mean", "_standardize_scale")


class _GaussianMixtureKind:
    """What a GaussianMixture file holds, and how to check and rebuild it."""

    cls = GaussianMixture
    centres, size_param = "means_", "n_components"
    fitted_arrays = ("weights_", "means_", "covariances_", "precisions_cholesky_")
    array_params = {name: f"param_{name}" for name in
                    ("weights_init", "means_init", "precisions_init", "resp_init")}
    params_spec = {
        "n_components": _POSITIVE, "covariance_type": ("choice", tuple(STRUCTURES)),
        "reg_covar": _NON_NEGATIVE, "max_iter": _COUNT, "n_init": _POSITIVE,
        "init_params": ("choice", MIXTURE_INITS), "verbose": ("level", None),
        "warm_start": ("bool", None), "verbose_interval": _POSITIVE,
        "learning_decay": _NON_NEGATIVE, "learning_offset": _NON_NEGATIVE,
        "fixed_params": ("names?", None), "semi_supervised": ("bool", None),
        **{name: ("array", member) for name, member in array_params.items()},
        **_COMMON_PARAMS,
    }
    list_params = ("fixed_params",)
    # Parameters added after format 2 files were written: their values there.
    param_defaults = {"warm_start": False, "verbose_interval": 10,
                      "learning_decay": 0.7, "learning_offset": 10.0,
                      "fixed_params": None, "semi_supervised": False}
    # n_steps_: an online fit's (partial_fit's) step count, which n_iter_ equals.
    fitted_spec = {**_COMMON_FITTED, "lower_bound_": ("bound", None),
                   "lower_bounds_": ("floats", -math.inf), "n_steps_": _COUNT}
    optional_fitted = _OPTIONAL_FITTED + ("n_steps_",)

    def fitted_defaults(self, params, fitted):
        """Values for the optional fitted keys that a file may lack (besides _scale)."""
        return {}

    def expected_arrays(self, params, K, d):
        """``{member: (shape, allowed dtypes)}``; None in a shape is any length."""
        structure = STRUCTURES[params["covariance_type"]]
        if params["precisions_init"] is not None and structure.name == "identity":
            raise _Invalid("params.precisions_init cannot go with covariance_type 'identity'")
        shape = structure.covariance_shape(K, d)
        expected = {"weights_": (K,), "means_": (K, d), "covariances_": shape,
                    "precisions_cholesky_": shape}
        expected = {name: (shape, _FLOAT_DTYPES) for name, shape in expected.items()}
        shapes = {"weights_init": (K,), "means_init": (K, d), "resp_init": (None, K),
                  "precisions_init": structure.precisions_shape(K, d)}
        for name, member in self.array_params.items():
            if params[name] is not None:
                expected[member] = (shapes[name], _PARAM_DTYPES)
        return expected

    def check_arrays(self, params, arrays):
        structure = STRUCTURES[params["covariance_type"]].name
        weights, cov, chol = (arrays[name] for name in self.fitted_arrays if name != "means_")
        _check_weights(weights, "weights_", 1e-6 + 4 * weights.size * np.finfo(weights.dtype).eps)
        if structure == "identity":
            if not ((cov == 1).all() and (chol == 1).all()):
                raise _Invalid("identity covariances_ and precisions_cholesky_ must be all ones")
        elif structure in ("spherical", "diag"):
            if not ((cov > 0).all() and (chol > 0).all()):
                raise _Invalid("covariances_ and precisions_cholesky_ must be positive")
            # P = 1/sqrt(var) up to rounding: the two must agree.
            if not np.abs(cov.astype(np.float64) * chol.astype(np.float64) ** 2 - 1).max() < 1e-3:
                raise _Invalid("precisions_cholesky_ is not 1/sqrt(covariances_)")
        else:
            _check_matrices(cov.reshape(-1, *cov.shape[-2:]), chol.reshape(-1, *chol.shape[-2:]))
        if "param_weights_init" in arrays:  # the estimator's own rule for weights_init
            _check_weights(arrays["param_weights_init"], "params.weights_init", 1e-6)
        if "param_precisions_init" in arrays:
            try:  # factorising is the estimator's check of precisions_init
                STRUCTURES[structure].precisions_cholesky_from_precisions(
                    arrays["param_precisions_init"].astype(np.float64))
            except ValueError as exc:
                raise _Invalid(f"params.precisions_init: {exc}") from None
        if "param_resp_init" in arrays:
            resp = arrays["param_resp_init"].astype(np.float64)
            if (resp < 0).any() or not (resp.sum(axis=1) > 0).all():
                raise _Invalid("params.resp_init must be >= 0 with a positive sum in every row")

    def check_params(self, estimator):
        estimator._check_settings()
        check_step_settings(estimator.learning_decay, estimator.learning_offset)

    def build(self, params, arrays):
        estimator = GaussianMixture(**params)
        family = GaussianFamily(params["covariance_type"], float(params["reg_covar"]))
        components = GaussianParams(arrays["means_"], arrays["covariances_"],
                                    arrays["precisions_cholesky_"])
        # The estimator's own setter derives precisions_ and _family as fit does.
        with np.errstate(over="ignore"):
            estimator._set_params_from(family, em.MixtureParams(arrays["weights_"], components))
        if not np.isfinite(estimator.precisions_).all():
            raise _Invalid("precisions_cholesky_ is too large: its square overflows")
        return estimator


class _KMeansKind:
    """What a KMeans file holds, and how to check and rebuild it."""

    cls = KMeans
    centres, size_param = "cluster_centers_", "n_clusters"
    fitted_arrays = ("cluster_centers_", "labels_", "_shift")
    array_params = {"init": "param_init"}
    params_spec = {"n_clusters": _POSITIVE, "init": ("init", (tuple(_KMEANS_INITS), "param_init")),
                   "n_init": ("n_init", None), "max_iter": _POSITIVE,
                   "algorithm": ("choice", ("auto", "lloyd", "elkan", "hamerly", "yinyang")),
                   "verbose": ("level", None), "copy_x": ("bool", None), **_COMMON_PARAMS}
    # Parameters added after format 2 files were written: their values there.
    param_defaults = {"verbose": 0, "copy_x": True}
    fitted_spec = {**_COMMON_FITTED, "inertia_": ("float", 0), "inertia_history_": ("floats", 0)}
    # Files written before KMeans kept converged_ lack it.
    optional_fitted = _OPTIONAL_FITTED + ("converged_",)

    def fitted_defaults(self, params, fitted):
        # A run that stopped before max_iter met a stopping rule; one that used all
        # max_iter iterations reads as not converged, though its last one may have.
        return {"converged_": fitted["n_iter_"] < params["max_iter"]}

    def expected_arrays(self, params, K, d):
        # labels_ is saved in the smallest unsigned dtype that holds K (files
        # written before that hold int64); it loads as int64 either way.
        expected = {"cluster_centers_": ((K, d), _FLOAT_DTYPES),
                    "labels_": ((None,), _LABEL_DTYPES), "_shift": ((d,), ("float64",))}
        if isinstance(params["init"], dict):
            expected["param_init"] = ((K, d), _PARAM_DTYPES)
        return expected

    def check_arrays(self, params, arrays):
        labels = arrays["labels_"]
        if labels.min() < 0 or int(labels.max()) >= params["n_clusters"]:
            raise _Invalid(f"labels_ must lie in [0, {params['n_clusters']})")

    def check_params(self, estimator):
        estimator._check_params()

    def build(self, params, arrays):
        estimator = KMeans(**params)
        arrays["labels_"] = arrays["labels_"].astype(np.int64, copy=False)
        for name in self.fitted_arrays:
            setattr(estimator, name, arrays[name])
        estimator._n_features_out = arrays["cluster_centers_"].shape[0]
        return estimator


class _AutoGaussianMixtureKind(_GaussianMixtureKind):
    """An AutoGaussianMixture file: the chosen mixture's arrays, the grid it was chosen
    from (its parameters), and the selection's table.

    The arrays and the fitted fields are checked as a GaussianMixture's of the
    chosen model (``complete_params`` adds its covariance type and K to the
    parameters the checks read); the grid parameters are checked by the
    estimator's own rules.
    """

    cls = AutoGaussianMixture
    size_param = "_chosen_n_components"
    list_params = ("n_components", "covariance_types", "init")
    array_params = {}
    params_spec = {"n_components": ("any", None), "covariance_types": ("any", None),
                   "criterion": ("choice", ("bic", "icl", "aic")), "init": ("any", None),
                   "n_init": _POSITIVE, "reg_covar": _NON_NEGATIVE, "tol": _NON_NEGATIVE,
                   "max_iter": _COUNT, "n_jobs": ("jobs", None), "random_state": _SEED}
    param_defaults = {}
    fitted_spec = {**_GaussianMixtureKind.fitted_spec,
                   "covariance_type_": ("choice", tuple(STRUCTURES)),
                   "n_components_": _POSITIVE, "_selection_records": ("any", None)}
    _added = ("covariance_type", "_chosen_n_components", "weights_init", "means_init",
              "precisions_init", "resp_init")

    def complete_params(self, params, fitted):
        return {**params, "covariance_type": fitted["covariance_type_"],
                "_chosen_n_components": fitted["n_components_"], "weights_init": None,
                "means_init": None, "precisions_init": None, "resp_init": None}

    def check_params(self, estimator):
        estimator._check_params()

    def build(self, params, arrays):
        own = {name: value for name, value in params.items() if name not in self._added}
        estimator = self.cls(**own)
        best = super().build({
            "n_components": params["_chosen_n_components"],
            "covariance_type": params["covariance_type"], "reg_covar": params["reg_covar"],
            "tol": params["tol"], "max_iter": params["max_iter"],
            "random_state": params["random_state"], "n_jobs": params["n_jobs"],
        }, arrays)
        estimator._pending_best = best  # adopted once the fitted fields are set
        return estimator

    def adopt(self, estimator):
        """Hand the rebuilt mixture the fitted record the decoder set on ``estimator``."""
        best = estimator.__dict__.pop("_pending_best")
        for name in ("_scale", "n_iter_", "converged_", "lower_bound_", "lower_bounds_",
                     "n_features_in_"):
            setattr(best, name, getattr(estimator, name))
        records = estimator.__dict__.get("_selection_records") or []
        estimator._set_best(best, selection_from_records(records, estimator.criterion, best))


_KINDS = {kind.cls.__name__: kind for kind in (_GaussianMixtureKind(), _KMeansKind(),
                                                _AutoGaussianMixtureKind())}


def _check_weights(weights, name, tolerance):
    total = weights.astype(np.float64).sum()
    if (weights < 0).any() or not abs(total - 1.0) <= tolerance:
        raise _Invalid(f"{name} must be non-negative and sum to 1, got a sum of {total!r}")


def _check_matrices(cov, chol):
    """Full or tied covariances and precision factors, as stacks of (d, d) matrices."""
    # Loose on purpose: inverting an ill-conditioned precision leaves rounding-level
    # asymmetry; this catches damage, not rounding.
    asymmetry = np.abs(cov - np.swapaxes(cov, 1, 2)).max(axis=(1, 2))
    if not ((np.diagonal(cov, axis1=1, axis2=2) > 0).all()
            and (asymmetry <= 1e-3 * np.abs(cov).max(axis=(1, 2))).all()):
        raise _Invalid("covariances_ must be symmetric with a positive diagonal")
    # Factors are upper; files written before precisions_init gave upper ones too
    # hold lower ones (as scikit-learn's): both give the right log-determinant, a
    # full matrix would not.
    triangular = ~np.tril(chol, -1).any(axis=(1, 2)) | ~np.triu(chol, 1).any(axis=(1, 2))
    if not (triangular.all() and (np.diagonal(chol, axis1=1, axis2=2) > 0).all()):
        raise _Invalid("precisions_cholesky_ must hold triangular matrices with a "
                       "positive diagonal")
    # P = C Cᵀ for upper and lower C alike, so Σ = P⁻¹ = C⁻ᵀ C⁻¹. Compared in
    # the covariance's own units (each entry relative to sqrt(Σii Σjj)), real
    # fits differ by at most 3 eps (measured up to condition numbers of 1e16),
    # while Cᵀ Σ C − I reached 2e3 on a legitimate float32 fit (condition 8e8):
    # half the dtype's digits is the tolerance.
    tolerance = np.sqrt(np.finfo(cov.dtype).eps)
    cov64, chol64 = cov.astype(np.float64), chol.astype(np.float64)
    identity = np.eye(cov.shape[-1])
    for index, (sigma, factor) in enumerate(zip(cov64, chol64)):
        lower = not np.triu(factor, 1).any()
        inverse = scipy.linalg.solve_triangular(factor, identity, lower=lower)
        rebuilt = inverse.T @ inverse
        spread = np.sqrt(np.diagonal(sigma))
        error = (np.abs(sigma - rebuilt) / np.outer(spread, spread)).max()
        if not error <= tolerance:
            raise _Invalid(f"precisions_cholesky_[{index}] does not match covariances_[{index}] "
                           f"(relative difference {error:.3g}, more than rounding's "
                           f"{tolerance:.3g}): the two were edited or damaged")


# -------------------------------------------------------------- checking a model


def _check_header(header):
    """Validate ``model.json``; return ``(kind, params, fitted, manifest)``."""
    if not isinstance(header, dict):
        raise _Invalid(f"model.json holds {_describe(header)}, not a JSON object; {_NOT_A_MODEL}")
    if header.get("format") != FORMAT_NAME:
        raise _Invalid(f"model.json describes format {header.get('format')!r}, not "
                       f"{FORMAT_NAME!r}; {_NOT_A_MODEL}")
    version = _field(header.get("format_version"), "format_version", _POSITIVE)
    if version > FORMAT_VERSION:
        raise _Invalid(f"written by format version {version}, this mixfit reads up to "
                       f"{FORMAT_VERSION}; upgrade mixfit")
    _fields(header, {**dict.fromkeys(("format", "format_version", "params", "fitted",
                                      "arrays"), ("any", None)),
                     "mixfit_version": ("str", None), "estimator": ("choice", tuple(_KINDS))},
            "model.json")
    kind = _KINDS[header["estimator"]]
    if hasattr(kind, "check_header"):  # a kind that reads its own header (model_mixtures)
        return kind.check_header(header)
    params = {**kind.param_defaults, **_fields(header["params"], kind.params_spec, "params",
                                               tuple(kind.param_defaults))}
    fitted = _fields(header["fitted"], kind.fitted_spec, "fitted", kind.optional_fitted)
    if hasattr(kind, "complete_params"):
        params = kind.complete_params(params, fitted)
    manifest = _manifest(header["arrays"])

    shape = manifest.get(kind.centres, ((),))[0]
    if len(shape) != 2:
        raise _Invalid(f"arrays must list {kind.centres} with a 2-D shape")
    K, d = shape
    if K != params[kind.size_param] or d != fitted["n_features_in_"]:
        raise _Invalid(f"{kind.centres} has shape {shape}, but {kind.size_param} is "
                       f"{params[kind.size_param]} and n_features_in_ is "
                       f"{fitted['n_features_in_']}")
    if hasattr(kind, "check_fitted"):  # a kind without an iteration history
        kind.check_fitted(params, fitted)
        history = None
    else:
        history = fitted.get("lower_bounds_", fitted.get("inertia_history_"))
    # An online fit takes one step per batch, however many max_iter allows fit.
    online = "n_steps_" in fitted and fitted["n_steps_"] == fitted.get("n_iter_")
    if history is not None and (not (online or fitted["n_iter_"] <= params["max_iter"])
                                or len(history) != fitted["n_iter_"]):
        raise _Invalid(f"fitted.n_iter_ is {fitted['n_iter_']} with max_iter "
                       f"{params['max_iter']} and {len(history)} values in its history: a fit "
                       "runs at most max_iter iterations and records one value per iteration")
    # Not len(fitted.get(..., [None] * d)): d comes from the file, and a list of
    # 2**40 Nones is a MemoryError.
    if "feature_names_in_" in fitted and len(fitted["feature_names_in_"]) != d:
        raise _Invalid(f"fitted.feature_names_in_ must name {d} features")
    _check_cli_fields(fitted, d)
    expected = kind.expected_arrays(params, K, d)
    # Arrays a fit may lack (MiniBatchKMeans' labels_ without compute_labels, see
    # mixfit.io.model_minibatch, which adds its kind to _KINDS).
    expected = {name: spec for name, spec in expected.items()
                if name in manifest or name not in getattr(kind, "optional_arrays", ())}
    if set(manifest) != set(expected):
        raise _Invalid(f"arrays lists {sorted(manifest)}, expected {sorted(expected)}")
    for name, (shape, dtypes) in expected.items():
        actual, dtype = manifest[name]
        if len(actual) != len(shape) or 0 in actual or any(
            want is not None and got != want for got, want in zip(actual, shape)
        ):
            raise _Invalid(f"{name} has shape {actual}, expected {shape} (None: any length)")
        if dtype not in dtypes:
            raise _Invalid(f"{name} has dtype {dtype}, expected one of {list(dtypes)}")
    float_dtypes = {manifest[name][1] for name in kind.fitted_arrays
                    if expected[name][1] is _FLOAT_DTYPES}
    if len(float_dtypes) > 1:
        raise _Invalid(f"the fitted parameters mix dtypes {sorted(float_dtypes)}")
    return kind, params, fitted, manifest


def _check_cli_fields(fitted, d):
    """The fields that ``mixfit fit`` adds come in pairs, one value per feature."""
    for pair in (("_train_score", "_train_n_samples"),
                 ("_standardize_mean", "_standardize_scale")):
        if (pair[0] in fitted) != (pair[1] in fitted):
            raise _Invalid(f"fitted holds only one of {list(pair)}; both or neither")
    if "_standardize_mean" in fitted:
        if len(fitted["_standardize_mean"]) != d or len(fitted["_standardize_scale"]) != d:
            raise _Invalid(f"fitted._standardize_mean and _standardize_scale must hold {d} "
                           "values, one per feature")
        if not all(value > 0 for value in fitted["_standardize_scale"]):
            raise _Invalid("fitted._standardize_scale must be positive")


def _manifest(value):
    """``{member: (shape, dtype name)}`` from the ``arrays`` object."""
    if not isinstance(value, dict):
        raise _Invalid(f"arrays must be a JSON object, got {_describe(value)}")
    manifest = {}
    for name, entry in value.items():
        where = f"arrays.{name}"
        entry = _fields(entry, {"shape": ("any", None),
                                "dtype": ("choice", _PARAM_DTYPES)}, where)
        if not isinstance(entry["shape"], list) or len(entry["shape"]) > 3:
            raise _Invalid(f"{where}.shape must be a list of at most 3 integers")
        shape = tuple(_field(size, f"{where}.shape", _COUNT) for size in entry["shape"])
        manifest[name] = (shape, entry["dtype"])
    return manifest


def _check_magnitudes(kind, params, fitted, arrays):
    """Refuse parameters that no fit produces and that make predictions overflow.

    A fit works in units of ``_scale`` (see :func:`mixfit.estimators._data_checks.data_scale`):
    there the data are below 2**MAX_EXPONENT, so centres and ``_shift`` are too,
    and float32 parameters only come from fits with ``_scale`` 1 (others run in
    float64). Float64 centres get the room ``fit`` gives data, LARGEST_MAGNITUDE.
    Squared norms of centres must be finite (the distance formulas add them up),
    and a fit adds ``reg_covar`` to every variance once it has run an iteration.
    """
    scale = fitted.get("_scale", 1.0)
    dtype = arrays[kind.centres].dtype
    if not 2.0**-1074 <= scale <= 2.0 * LARGEST_MAGNITUDE:
        raise _Invalid(f"fitted._scale is {scale!r}, outside the powers of two a fit uses "
                       "(2**-1074 to 2**511)")
    if dtype == np.float32 and scale != 1.0:
        raise _Invalid(f"fitted._scale is {scale!r} with float32 parameters: a fit that "
                       "rescales its data keeps float64 parameters")
    largest = {np.dtype(np.float32): 2.0**MAX_EXPONENT,
               np.dtype(np.float64): LARGEST_MAGNITUDE}[np.dtype(dtype)]
    with np.errstate(all="ignore"):
        centres = arrays[kind.centres].astype(np.float64) / scale
        norms = np.square(centres).sum(axis=1)
        if not (np.abs(centres).max() <= largest
                and norms.max() <= float(np.finfo(dtype).max) / 16):
            raise _Invalid(f"{kind.centres} reach {np.abs(centres).max() * scale:.3g}, beyond "
                           f"what a fit with _scale {scale!r} produces ({largest * scale:.3g}); "
                           "the file was edited or damaged")
        if "_shift" in arrays and not np.abs(arrays["_shift"]).max() <= 2.0**MAX_EXPONENT:
            raise _Invalid(f"_shift reaches {np.abs(arrays['_shift']).max():.3g}, beyond "
                           "2**60, the largest data mean a fit works with")
        if "covariances_" in arrays:
            _check_variance_scale(params, scale, arrays, fitted["n_iter_"])


def _check_variance_scale(params, scale, arrays, n_iter):
    """Precision factors within float range in fit units, variances >= reg_covar."""
    chol = arrays["precisions_cholesky_"].astype(np.float64) * scale
    if not np.abs(chol).max() <= 2.0 * LARGEST_MAGNITUDE:
        raise _Invalid(f"precisions_cholesky_ reaches {np.abs(chol).max() / scale:.3g}, beyond "
                       f"2**511 / _scale, the most a fit's variances allow")
    cov = arrays["covariances_"]
    layout = covariance_layout(params["covariance_type"])
    variances = np.diagonal(cov, axis1=-2, axis2=-1) if layout in ("full", "tied") else cov
    reg_covar = float(params["reg_covar"])
    # Rounding of the variances in their own dtype, with room to spare.
    floor = reg_covar * (1 - 64 * float(np.finfo(cov.dtype).eps))
    # Without an iteration (max_iter=0) the covariances are the initial ones.
    # mclust's constrained models share a volume or a shape between components,
    # which can leave one component's variance below reg_covar: not checked there.
    floored = params["covariance_type"] in ("full", "tied", "diag", "spherical")
    if n_iter > 0 and floored and not variances.min() >= floor:
        raise _Invalid(f"covariances_ hold a variance of {variances.min():.3g}, below "
                       f"reg_covar {reg_covar:.3g}, which a fit adds to every variance")


def _check_array_values(kind, params, arrays):
    # Overflow inside a check is an answer (the check fails), not a warning.
    with np.errstate(all="ignore"):
        for name, array in arrays.items():
            if array.dtype.kind == "f" and not np.isfinite(array).all():
                raise _Invalid(f"{name} holds NaN or infinite values")
        kind.check_arrays(params, arrays)


# ---------------------------------------------------- estimator <-> header


def _param_to_json(name, value, lists=False):
    """A constructor parameter as JSON; numpy scalars become Python ones.

    ``lists``: whether the parameter may be a list (AutoGaussianMixture's grids).
    """
    integer = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    if name == "callback" or (name == "random_state" and not (value is None or integer)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if integer:
        return int(value)
    if isinstance(value, numbers.Real):
        return _encode_float(value)
    if value is None or isinstance(value, (str, dict)):  # dict: a reference to an array
        return value
    if lists and isinstance(value, (set, frozenset)):  # e.g. fixed_params: sorted names
        value = sorted(value, key=str)
    if lists and isinstance(value, (list, tuple, range)):
        return [_param_to_json(f"{name}[{i}]", item) for i, item in enumerate(value)]
    raise TypeError(f"parameter {name}={value!r} cannot be stored in a model file; "
                    "model files hold numbers, strings and arrays.")


def _encode_model(estimator, kind, mixfit_version):
    """``(header, arrays)``: the content of ``model.json`` and the array members."""
    if hasattr(kind, "encode"):  # a kind that writes its own header (model_mixtures)
        return kind.encode(estimator, mixfit_version)
    params, arrays = {}, {}
    for name, value in estimator.get_params(deep=False).items():
        if callable(value) and name != "callback":
            raise TypeError(f"parameter {name}={getattr(value, '__qualname__', value)} is a "
                            "callable, which a model file cannot hold (it is code, not data); "
                            f"set_params({name}=...) to a string or an array before saving, "
                            "e.g. init=model.cluster_centers_.")
        if name in kind.array_params and value is not None and not isinstance(value, str):
            array = np.asarray(value)
            # The manifest names dtypes without byte order: store native ones.
            arrays[kind.array_params[name]] = array.astype(array.dtype.newbyteorder("="))
            value = {"array": kind.array_params[name]}
        params[name] = _param_to_json(name, value, name in getattr(kind, "list_params", ()))
    for name in kind.fitted_arrays:
        arrays[name] = np.asarray(getattr(estimator, name))
    for name in getattr(kind, "optional_arrays", ()):
        if hasattr(estimator, name):
            arrays[name] = np.asarray(getattr(estimator, name))
    if "labels_" in arrays:  # one entry per training sample: store it compactly
        arrays["labels_"] = arrays["labels_"].astype(_label_dtype(estimator.n_clusters))
    header = {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION,
        "mixfit_version": mixfit_version, "estimator": kind.cls.__name__,
        "params": params,
        "fitted": {name: _to_json(getattr(estimator, name), spec)
                   for name, spec in kind.fitted_spec.items() if hasattr(estimator, name)},
        "arrays": {name: {"shape": list(array.shape), "dtype": array.dtype.name}
                   for name, array in arrays.items()},
    }
    finite = all(np.isfinite(array).all() for array in arrays.values() if array.dtype.kind == "f")
    try:  # what load refuses is not written (save runs the other load checks, NaN first)
        if finite:
            params = header["params"]
            if hasattr(kind, "complete_params"):
                params = kind.complete_params(params, header["fitted"])
            _check_magnitudes(kind, params, {"_scale": 1.0, **header["fitted"]}, arrays)
    except _Invalid as exc:
        raise ValueError(f"cannot save this {kind.cls.__name__}: {exc}.") from None
    return header, arrays


def _label_dtype(n_clusters):
    """The smallest of the unsigned label dtypes that holds 0 .. n_clusters - 1."""
    return next((np.dtype(name) for name in _LABEL_DTYPES[:-1]
                 if n_clusters - 1 <= np.iinfo(name).max), np.dtype(np.int64))


def _loaded_bytes(kind, manifest):
    """The bytes the arrays that ``manifest`` lists take once loaded and built.

    Counted from the manifest alone, before anything is read: ``labels_`` loads
    as int64 whatever its stored dtype, and a GaussianMixture also derives
    ``precisions_`` of the size of ``precisions_cholesky_``.
    """
    sizes = {name: math.prod(shape) * (8 if name == "labels_" else np.dtype(dtype).itemsize)
             for name, (shape, dtype) in manifest.items()}
    return sum(sizes.values()) + sizes.get("precisions_cholesky_", 0)


def _decode_model(kind, params, fitted, arrays):
    """The estimator that a checked header describes, once its arrays are checked.

    ``params``, ``fitted`` and ``arrays`` are what :func:`_check_header` returned
    and the arrays its manifest lists; ``params`` and ``arrays`` are consumed.
    """
    if hasattr(kind, "decode"):  # a kind that builds its own estimator (model_mixtures)
        return kind.decode(params, fitted, arrays)
    _check_array_values(kind, params, arrays)
    _check_magnitudes(kind, params, fitted, arrays)
    for name, member in kind.array_params.items():
        if isinstance(params[name], dict):
            params[name] = arrays.pop(member)
    estimator = kind.build(params, arrays)
    try:  # the estimator's own rules for its parameters (bounds on chunk_size...)
        kind.check_params(estimator)
    except (ValueError, TypeError) as exc:
        raise _Invalid(f"params: {str(exc).rstrip('.')}") from None
    # Files written before the estimators scaled data hold parameters in data units.
    fitted = {"_scale": 1.0, **kind.fitted_defaults(params, fitted), **fitted}
    for name, value in fitted.items():
        setattr(estimator, name, value)
    if "feature_names_in_" in fitted:  # scikit-learn keeps them in an object array
        estimator.feature_names_in_ = np.asarray(fitted["feature_names_in_"], dtype=object)
    if hasattr(kind, "adopt"):
        kind.adopt(estimator)
    return estimator
