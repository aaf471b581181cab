"""Model files: save a fitted estimator to one file and load it back, without pickle.

A model file (conventionally ``*.mixfit``; the suffix is not required) is a zip
archive holding ``model.json`` and one ``.npy`` member per array. Loading never
unpickles anything: a pickle can run arbitrary code, a model file can only hold
numbers and strings. Every field is checked before an estimator is built, so a
damaged or foreign file raises :class:`ModelFileError` instead of producing a
model that predicts garbage.

``model.json`` (format version 1) is strict JSON: no ``NaN``/``Infinity`` tokens;
the one non-finite value a model holds, ``lower_bound_`` of a fit with
``max_iter=0``, is the string ``"-inf"``::

    format          "mixfit-model"
    format_version  1
    mixfit_version  version of mixfit that wrote the file (informative)
    estimator       "GaussianMixture" or "KMeans"
    params          constructor parameters (get_params()); an array parameter
                    is {"array": "<member name>"}; ``callback`` is always null (a
                    runtime hook, not data); ``random_state`` is kept when None
                    or an int, a RandomState instance is stored as null
    fitted          fitted scalars: n_iter_, n_features_in_, converged_,
                    lower_bound_, lower_bounds_ (GaussianMixture) or inertia_,
                    inertia_history_ (KMeans); feature_names_in_ and _scale when
                    the estimator has them (_scale is 1.0 when absent)
    arrays          manifest: {"<member name>": {"shape": [...], "dtype": "..."}}

Array members: ``weights_``, ``means_``, ``covariances_``,
``precisions_cholesky_`` (GaussianMixture; ``precisions_`` and ``_family`` are
rebuilt from them); ``cluster_centers_``, ``labels_``, ``_shift`` (KMeans); and
``param_<name>`` for array constructor parameters.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import secrets
import struct
import zipfile
import zlib
from contextlib import contextmanager, suppress
from io import BytesIO

import numpy as np
from sklearn.utils.validation import check_is_fitted

from . import em
from .estimators import GaussianMixture, KMeans
from .estimators.kmeans import _INITS as _KMEANS_INITS
from .families import GaussianFamily, GaussianParams
from .families.covariance import STRUCTURES
from .init import MIXTURE_INITS

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "ModelFileError", "load", "save"]

FORMAT_NAME = "mixfit-model"
#: The newest format this module writes and reads; raise it when the layout changes.
FORMAT_VERSION = 1

_JSON_MEMBER = "model.json"
_MAX_JSON_BYTES = 64 * 2**20
# np.save's header is 128 bytes for the shapes stored here; the slack only has
# to cover that, so a member's size is pinned to what its manifest entry says.
_NPY_HEADER_SLACK = 4096
# Deflate cannot expand data more than ~1032-fold: a member declaring a larger
# ratio is lying about its size (a zip bomb or damage).
_MAX_DEFLATE_RATIO = 1100
_ZIP64_THRESHOLD = (1 << 31) - _NPY_HEADER_SLACK
_FLOAT_DTYPES = ("float32", "float64")
_PARAM_DTYPES = _FLOAT_DTYPES + ("float16", "int8", "int16", "int32", "int64",
                                 "uint8", "uint16", "uint32", "uint64", "bool")
_NOT_A_MODEL = "expected a mixfit model file (a zip archive written by mixfit.io.save)"


class ModelFileError(ValueError):
    """A file is not a valid mixfit model file; the message says why."""


class _Invalid(Exception):
    """A problem in a model's content, worded without the file's name."""


# ----------------------------------------------------------------- JSON fields


def _describe(value):
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _encode_float(value):
    value = float(value)
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _field(value, name, spec):
    """Check one decoded JSON value against ``spec = (kind, argument)``; return it.

    Kinds: ``int`` (argument: (low, high)), ``int?`` (the same, or null), ``float``
    (finite, argument: minimum), ``bound`` (finite or "-inf"), ``floats`` (list of
    ``float``), ``bool``, ``str``, ``choice`` (argument: options), ``null``,
    ``array`` (null or a reference to the member named by the argument),
    ``init`` (a choice or an array reference), ``level`` (bool or int >= 0),
    ``names`` (list of strings), ``scale`` (positive power of two), ``any``.
    """
    kind, arg = spec
    if value is None and kind in ("int?", "array", "null"):
        return None
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    # Ints are finite whatever their size (math.isfinite would overflow on them).
    finite = number and (isinstance(value, int) or math.isfinite(value))
    if kind in ("int", "int?"):
        accepted, wanted = isinstance(value, int) and finite and arg[0] <= value <= arg[1], \
            f"an integer in [{arg[0]}, {arg[1]}]"
    elif kind == "float":
        accepted, wanted = finite and value >= arg, f"a finite number >= {arg}"
    elif kind == "bound":
        if value == "-inf":
            return -math.inf
        accepted, wanted = finite, 'a finite number or "-inf"'
    elif kind == "floats":
        if isinstance(value, list):
            return [_field(item, f"{name}[{i}]", ("float", arg)) for i, item in enumerate(value)]
        accepted, wanted = False, "a list of numbers"
    elif kind in ("bool", "str"):
        accepted, wanted = isinstance(value, bool if kind == "bool" else str), f"a JSON {kind}"
    elif kind in ("choice", "init"):
        options, member = (arg, None) if kind == "choice" else arg
        accepted = isinstance(value, str) and value in options or (
            member is not None and value == {"array": member})
        wanted = f"one of {sorted(options)}" + (f' or {{"array": "{member}"}}' if member else "")
    elif kind == "array":
        accepted, wanted = value == {"array": arg}, f'null or {{"array": "{arg}"}}'
    elif kind == "level":
        accepted, wanted = isinstance(value, int) and value >= 0, "a bool or an integer >= 0"
    elif kind == "names":
        accepted = isinstance(value, list) and all(isinstance(item, str) for item in value)
        wanted = "a list of strings"
    elif kind == "scale":
        accepted = finite and 0 < value <= 2.0**1023 and math.frexp(value)[0] == 0.5
        wanted = "a positive power of two"
        value = float(value) if accepted else value
    else:  # "null" (None returned above) and "any"
        accepted, wanted = kind == "any", "null (it is never stored)"
    if not accepted:
        raise _Invalid(f"{name} must be {wanted}, got {_describe(value)}")
    return value


def _fields(values, specs, where, optional=()):
    """Check a JSON object against ``{key: spec}``; ``optional`` keys may be absent."""
    if not isinstance(values, dict):
        raise _Invalid(f"{where} must be a JSON object, got {_describe(values)}")
    missing = sorted(set(specs) - set(values) - set(optional))
    if missing:
        raise _Invalid(f"{where} lacks the keys {missing}")
    unknown = sorted(set(values) - set(specs))
    if unknown:
        raise _Invalid(f"{where} has unknown keys {unknown}")
    return {key: _field(value, f"{where}.{key}", specs[key]) for key, value in values.items()}


def _to_json(value, spec):
    """Encode a fitted attribute as its spec's kind expects (numpy scalars become JSON)."""
    encoders = {"int": int, "bool": bool, "names": lambda names: list(names.tolist()),
                "floats": lambda values: [_encode_float(item) for item in values]}
    return encoders.get(spec[0], _encode_float)(value)


def _strict_object(pairs):
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _Invalid("model.json repeats a key in one object")
    return dict(pairs)


def _reject_constant(token):
    raise _Invalid(f"model.json holds the non-standard token {token}; it must be strict JSON")


# ------------------------------------------------------------ the two estimators

_COUNT = ("int", (0, math.inf))
_POSITIVE = ("int", (1, math.inf))
_NON_NEGATIVE = ("float", 0)
_SEED = ("int?", (0, 2**32 - 1))  # the seeds numpy's RandomState accepts
_COMMON_PARAMS = {"tol": _NON_NEGATIVE, "random_state": _SEED,
                  "chunk_size": ("int?", (1, math.inf)), "callback": ("null", None)}
_COMMON_FITTED = {"n_iter_": _COUNT, "n_features_in_": _POSITIVE,
                  "feature_names_in_": ("names", None), "_scale": ("scale", None)}
_OPTIONAL_FITTED = ("feature_names_in_", "_scale")


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
        **{name: ("array", member) for name, member in array_params.items()},
        **_COMMON_PARAMS,
    }
    fitted_spec = {**_COMMON_FITTED, "converged_": ("bool", None),
                   "lower_bound_": ("bound", None), "lower_bounds_": ("floats", -math.inf)}

    def expected_arrays(self, params, K, d):
        """``{member: (shape, allowed dtypes)}``; None in a shape is any length."""
        structure = STRUCTURES[params["covariance_type"]]
        if params["precisions_init"] is not None and structure.name == "identity":
            raise _Invalid("params.precisions_init cannot go with covariance_type 'identity'")
        shape = structure.scatter_shape(K, d)
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
                   "n_init": _POSITIVE, "max_iter": _POSITIVE, **_COMMON_PARAMS}
    fitted_spec = {**_COMMON_FITTED, "inertia_": ("float", 0), "inertia_history_": ("floats", 0)}

    def expected_arrays(self, params, K, d):
        expected = {"cluster_centers_": ((K, d), _FLOAT_DTYPES),
                    "labels_": ((None,), ("int64",)), "_shift": ((d,), ("float64",))}
        if isinstance(params["init"], dict):
            expected["param_init"] = ((K, d), _PARAM_DTYPES)
        return expected

    def check_arrays(self, params, arrays):
        labels = arrays["labels_"]
        if labels.min() < 0 or labels.max() >= params["n_clusters"]:
            raise _Invalid(f"labels_ must lie in [0, {params['n_clusters']})")

    def build(self, params, arrays):
        estimator = KMeans(**params)
        for name in self.fitted_arrays:
            setattr(estimator, name, arrays[name])
        estimator._n_features_out = arrays["cluster_centers_"].shape[0]
        return estimator


_KINDS = {kind.cls.__name__: kind for kind in (_GaussianMixtureKind(), _KMeansKind())}


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
    # fit gives upper factors, precisions_init with max_iter=0 lower ones (as in
    # scikit-learn): both give the right log-determinant, a full matrix would not.
    triangular = ~np.tril(chol, -1).any(axis=(1, 2)) | ~np.triu(chol, 1).any(axis=(1, 2))
    if not (triangular.all() and (np.diagonal(chol, axis1=1, axis2=2) > 0).all()):
        raise _Invalid("precisions_cholesky_ must hold triangular matrices with a "
                       "positive diagonal")


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
    params = _fields(header["params"], kind.params_spec, "params")
    fitted = _fields(header["fitted"], kind.fitted_spec, "fitted", _OPTIONAL_FITTED)
    manifest = _manifest(header["arrays"])

    shape = manifest.get(kind.centres, ((),))[0]
    if len(shape) != 2:
        raise _Invalid(f"arrays must list {kind.centres} with a 2-D shape")
    K, d = shape
    if K != params[kind.size_param] or d != fitted["n_features_in_"]:
        raise _Invalid(f"{kind.centres} has shape {shape}, but {kind.size_param} is "
                       f"{params[kind.size_param]} and n_features_in_ is "
                       f"{fitted['n_features_in_']}")
    if len(fitted.get("feature_names_in_", [None] * d)) != d:
        raise _Invalid(f"fitted.feature_names_in_ must name {d} features")
    expected = kind.expected_arrays(params, K, d)
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


def _check_array_values(kind, params, arrays):
    # Overflow inside a check is an answer (the check fails), not a warning.
    with np.errstate(all="ignore"):
        for name, array in arrays.items():
            if array.dtype.kind == "f" and not np.isfinite(array).all():
                raise _Invalid(f"{name} holds NaN or infinite values")
        kind.check_arrays(params, arrays)


# ----------------------------------------------------------------------- saving


def save(estimator, path):
    """Save a fitted estimator to a model file, atomically.

    The file is first written under a temporary name in the target's directory,
    flushed to disk, then renamed onto ``path``: a crash or an error mid-way
    leaves any previous file at ``path`` untouched and no temporary file behind.

    Parameters
    ----------
    estimator : GaussianMixture or KMeans
        A fitted mixfit estimator (not a subclass). ``callback`` is not saved (it
        is code, not data; the loaded model has ``callback=None``), nor is a
        ``random_state`` that is a RandomState instance (loaded as None).
    path : str or os.PathLike
        Where to write; conventionally ``*.mixfit``. An existing file is replaced.

    Raises
    ------
    TypeError
        If ``estimator`` is not a mixfit ``GaussianMixture`` or ``KMeans``.
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    ValueError
        If its parameters are such that :func:`load` would refuse the file (e.g.
        ``n_components`` changed by ``set_params`` after fitting).
    OSError
        If the file cannot be written.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from mixfit import GaussianMixture, KMeans
    >>> from mixfit.io import load, save
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    >>> km = KMeans(n_clusters=2, random_state=0).fit(X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save(gm, os.path.join(folder, "blobs.mixfit"))
    ...     save(km, os.path.join(folder, "blobs-kmeans.mixfit"))
    ...     gm_loaded = load(os.path.join(folder, "blobs.mixfit"))
    ...     km_loaded = load(os.path.join(folder, "blobs-kmeans.mixfit"))
    >>> np.array_equal(gm_loaded.predict_proba(X), gm.predict_proba(X))
    True
    >>> km_loaded.inertia_ == km.inertia_, np.array_equal(km_loaded.transform(X), km.transform(X))
    (True, True)
    """
    kind = _KINDS.get(type(estimator).__name__)
    if kind is None or type(estimator) is not kind.cls:
        raise TypeError(f"save writes mixfit's {' and '.join(_KINDS)} estimators, got "
                        f"{type(estimator).__module__}.{type(estimator).__qualname__}.")
    check_is_fitted(estimator, kind.fitted_arrays + ("n_iter_", "n_features_in_"))
    from . import __version__  # here, as mixfit/__init__.py imports this module

    params, arrays = {}, {}
    for name, value in estimator.get_params(deep=False).items():
        if name in kind.array_params and value is not None and not isinstance(value, str):
            array = np.asarray(value)
            # The manifest names dtypes without byte order: store native ones.
            arrays[kind.array_params[name]] = array.astype(array.dtype.newbyteorder("="))
            value = {"array": kind.array_params[name]}
        params[name] = _param_to_json(name, value)
    for name in kind.fitted_arrays:
        arrays[name] = np.asarray(getattr(estimator, name))
    header = {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION,
        "mixfit_version": __version__, "estimator": kind.cls.__name__,
        "params": params,
        "fitted": {name: _to_json(getattr(estimator, name), spec)
                   for name, spec in kind.fitted_spec.items() if hasattr(estimator, name)},
        "arrays": {name: {"shape": list(array.shape), "dtype": array.dtype.name}
                   for name, array in arrays.items()},
    }
    # The load-time checks, run before writing: what save writes, load reads.
    try:
        _, checked_params, _, _ = _check_header(json.loads(json.dumps(header)))
        _check_array_values(kind, checked_params, arrays)
    except _Invalid as exc:
        raise ValueError(f"cannot save this {kind.cls.__name__}: {exc}.") from None
    content = json.dumps(header, allow_nan=False, ensure_ascii=False)
    _write_atomically(os.fspath(path), content.encode("utf-8"), arrays)


def _param_to_json(name, value):
    """A constructor parameter as JSON; numpy scalars become Python ones."""
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
    raise TypeError(f"parameter {name}={value!r} cannot be stored in a model file; "
                    "model files hold numbers, strings and arrays.")


def _member_info(name):
    # A fixed timestamp makes the same model give the same bytes.
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
    return info


def _write_atomically(path, json_bytes, arrays):
    directory, filename = os.path.split(os.path.abspath(path))
    temporary = os.path.join(directory, f".{filename[:100]}.{secrets.token_hex(8)}.tmp")
    # os.open rather than mkstemp: mkstemp's 0600 mode would end up on the saved
    # file, while mode 0666 here lets the umask decide as for any new file.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            with zipfile.ZipFile(file, "w") as archive:
                archive.writestr(_member_info(_JSON_MEMBER), json_bytes)
                for name, array in arrays.items():
                    big = array.nbytes > _ZIP64_THRESHOLD
                    with archive.open(_member_info(f"{name}.npy"), "w", force_zip64=big) as out:
                        np.save(out, array, allow_pickle=False)
            file.flush()
            # Without fsync the rename can reach the disk before the data, and a
            # crash would leave an empty file where the old model was.
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    with suppress(OSError):  # makes the rename itself durable; not possible everywhere
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


# ---------------------------------------------------------------------- loading


def load(path):
    """Load an estimator saved by :func:`save`.

    Nothing is unpickled, and every field is checked (format and version, the
    JSON types, array dtypes, shapes, finiteness, weights summing to one,
    triangular precision factors, constructor parameters) before the estimator is
    built; the loaded estimator predicts exactly what the saved one did.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    estimator : GaussianMixture or KMeans

    Raises
    ------
    ModelFileError
        If the file is not a valid mixfit model file (a pickle, an empty file, a
        directory, another zip, a damaged or edited file, a newer format version).
    FileNotFoundError, PermissionError
        If the file cannot be opened.

    Examples
    --------
    See :func:`save`.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ModelFileError(f"Cannot load {path!r}: it is a directory; {_NOT_A_MODEL}.")
    with open(path, "rb") as file:
        try:
            kind, params, fitted, arrays = _read(file)
            _check_array_values(kind, params, arrays)
            for name, member in kind.array_params.items():
                if isinstance(params[name], dict):
                    params[name] = arrays.pop(member)
            estimator = kind.build(params, arrays)
        except _Invalid as exc:
            raise ModelFileError(f"Cannot load {path!r}: {exc}.") from None
    for name, value in fitted.items():
        setattr(estimator, name, value)
    if "feature_names_in_" in fitted:  # scikit-learn keeps them in an object array
        estimator.feature_names_in_ = np.asarray(fitted["feature_names_in_"], dtype=object)
    # Files written before the estimators scaled data hold parameters in data units.
    estimator._scale = fitted.get("_scale", 1.0)
    return estimator


@contextmanager
def _reading(what):
    """Turn the errors that damaged zip or npy data raise into one message."""
    try:
        yield
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
            ValueError, NotImplementedError, RuntimeError, struct.error, OverflowError,
            MemoryError) as exc:
        raise _Invalid(f"{what} is damaged ({type(exc).__name__}: {exc})") from None


def _read(file):
    head = file.read(4)
    if not head:
        raise _Invalid(f"the file is empty; {_NOT_A_MODEL}")
    if head[:1] == b"\x80":
        raise _Invalid("the file looks like a Python pickle, which mixfit never loads "
                       "(unpickling can run arbitrary code); " + _NOT_A_MODEL)
    if head != b"PK\x03\x04":
        raise _Invalid(f"the file is not a zip archive; {_NOT_A_MODEL}")
    file.seek(0)
    with _reading("the zip archive"):
        archive = zipfile.ZipFile(file)  # closed with the file, which load closes
    infos = archive.infolist()
    members = {info.filename: info for info in infos}
    if len(members) != len(infos):
        raise _Invalid("the zip archive repeats a member name")
    if _JSON_MEMBER not in members:
        raise _Invalid(f"the zip archive has no {_JSON_MEMBER}; {_NOT_A_MODEL}")
    for name, info in members.items():
        if name != _JSON_MEMBER and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\.npy", name):
            raise _Invalid(f"unexpected member {name!r} in the archive")
        if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED,
                                                              zipfile.ZIP_DEFLATED):
            raise _Invalid(f"member {name!r} is encrypted or uses an unsupported compression")
        ratio = _MAX_DEFLATE_RATIO if info.compress_type == zipfile.ZIP_DEFLATED else 1
        if info.file_size > ratio * max(info.compress_size, 1):
            raise _Invalid(f"member {name!r} declares more data than it can hold")

    raw = _read_member(archive, members[_JSON_MEMBER], _MAX_JSON_BYTES)
    with _reading(_JSON_MEMBER):
        header = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant,
                            object_pairs_hook=_strict_object)
    kind, params, fitted, manifest = _check_header(header)
    extra = set(members) - {_JSON_MEMBER} - {f"{name}.npy" for name in manifest}
    if extra:
        raise _Invalid(f"unexpected members {sorted(extra)} in the archive")
    arrays = {name: _read_array(archive, members.get(f"{name}.npy"), name, shape, dtype)
              for name, (shape, dtype) in manifest.items()}
    return kind, params, fitted, arrays


def _read_member(archive, info, limit):
    if info.file_size > limit:
        raise _Invalid(f"member {info.filename!r} declares {info.file_size} bytes, more than "
                       f"the {limit} its content allows")
    with _reading(f"member {info.filename!r}"), archive.open(info) as member:
        data = member.read(limit + 1)
    if len(data) != info.file_size:
        raise _Invalid(f"member {info.filename!r} does not hold its declared size")
    return data


def _read_array(archive, info, name, shape, dtype):
    if info is None:
        raise _Invalid(f"the archive lacks the member {name}.npy listed in arrays")
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    data = _read_member(archive, info, nbytes + _NPY_HEADER_SLACK)
    buffer = BytesIO(data)
    with _reading(f"member {name}.npy"):
        version = np.lib.format.read_magic(buffer)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"unsupported .npy version {version}")
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        # The header is checked before np.load, which allocates what it declares.
        header_shape, _, header_dtype = read_header(buffer)
        if header_shape != shape or header_dtype != np.dtype(dtype):
            raise _Invalid(f"{name}.npy holds {header_dtype} {header_shape}, but arrays lists "
                           f"{dtype} {shape}")
        buffer.seek(0)
        array = np.load(buffer, allow_pickle=False)
    if buffer.tell() != len(data):
        raise _Invalid(f"{name}.npy has bytes after its data")
    return array
