"""Model files of the family mixtures: MixtureModel and its named shortcuts.

Kept apart from :mod:`mixfit.io.model_format` (the format and the other
estimators' files); importing this module adds the kinds ``MixtureModel``,
``BernoulliMixture``, ``PoissonMixture``, ``CategoricalMixture`` and
``StudentMixture`` to that module's table, and :mod:`mixfit.io.model_files`
imports it. These kinds read and write their own header (the ``encode``,
``check_header`` and ``decode`` hooks of ``model_format``):

``params``
    The constructor's parameters as JSON: numbers, strings, booleans, null;
    ``fixed_params`` a sorted list of names; an array parameter
    ``{"array": "param_<name>"}``, a list of arrays (a categorical
    ``probabilities_init``) ``{"arrays": [...]}``, ``params_init``
    ``{"dict": {name: ...}}``; MixtureModel's ``family`` as data, never
    code: a name, ``{"name": "bernoulli", "pseudocount": 1.0}`` (and the
    other families' settings), or a list of ``{"family": ..., "columns":
    ...}`` with columns as indices, names or ``{"slice": [start, stop,
    step]}``. A family object of any other class cannot be saved.
``fitted``
    ``n_iter_``, ``n_features_in_``, ``converged_``, ``lower_bound_``,
    ``lower_bounds_``, ``feature_names_in_`` (when set) and
    ``categories_``: per categorical column ``{"dtype": "str" | "int",
    "values": [...]}`` (only string or integer categories can be saved).
arrays
    ``weights_`` and, per parameter name of the family, ``<name>_`` — or
    ``<name>_col<j>`` for a list-valued parameter (a categorical family's
    probabilities, one array per column).

Loading builds the estimator from its parameters, checks them with the
estimator's own rules, and checks the fitted arrays with the family's:
shapes, ranges (probabilities in [0, 1] summing to one, rates >= 0,
covariances positive definite), weights summing to one, and a log-density
that is a number.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from mixfit.estimators import BernoulliMixture, CategoricalMixture, MixtureModel, PoissonMixture
from mixfit.estimators import StudentMixture
from mixfit.families.bernoulli import BernoulliFamily
from mixfit.families.categorical import CategoricalFamily
from mixfit.families.gaussian.family import GaussianFamily
from mixfit.families.poisson import PoissonFamily
from mixfit.families.student import StudentFamily
from mixfit.families.values import parameter_names
from mixfit.io.model_fields import _describe, _encode_float, _fields, _Invalid, _to_json
from mixfit.io.model_format import (
    _COUNT,
    _FLOAT_DTYPES,
    _KINDS,
    _NOT_A_MODEL,
    _POSITIVE,
    FORMAT_NAME,
    FORMAT_VERSION,
    _check_array_values,
    _check_weights,
    _manifest,
)

__all__ = []

_FITTED_SPEC = {"n_iter_": _COUNT, "n_features_in_": _POSITIVE, "converged_": ("bool", None),
                "lower_bound_": ("bound", None), "lower_bounds_": ("floats", -math.inf),
                "feature_names_in_": ("names", None), "categories_": ("any", None)}
_OPTIONAL_FITTED = ("feature_names_in_", "categories_")


# ------------------------------------------------------------------ families as data

def _family_to_json(family):
    """MixtureModel's ``family`` as JSON data (a name, settings, or column groups)."""
    if isinstance(family, str):
        return family
    if isinstance(family, (list, tuple)):
        return [{"family": _family_to_json(item[0]), "columns": _columns_to_json(item[1])}
                if isinstance(item, (list, tuple)) and len(item) == 2 else _unstorable(item)
                for item in family]
    kind = type(family)
    if kind is BernoulliFamily:
        return {"name": "bernoulli", "pseudocount": _number(family.pseudocount)}
    if kind is PoissonFamily:
        return {"name": "poisson"}
    if kind is CategoricalFamily and family.n_levels is None:
        return {"name": "categorical", "pseudocount": _number(family.pseudocount)}
    if kind is GaussianFamily:
        return {"name": "gaussian", "covariance_type": family.covariance_type,
                "reg_covar": _number(family.reg_covar)}
    if kind is StudentFamily:
        dof = family.degrees_of_freedom
        return {"name": "student", "covariance_type": family.covariance_type,
                "reg_covar": _number(family.reg_covar),
                "degrees_of_freedom": None if dof is None else _number(dof)}
    return _unstorable(family)


def _unstorable(value):
    raise TypeError(
        f"family {value!r} cannot be stored in a model file (files hold data, never code): "
        "use a family name or a BernoulliFamily, PoissonFamily, CategoricalFamily, "
        "GaussianFamily or StudentFamily, alone or in (family, columns) pairs."
    )


def _number(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{value!r} cannot be stored in a model file: a number is expected.")
    return _encode_float(value)


def _columns_to_json(columns):
    if isinstance(columns, slice):
        return {"slice": [columns.start, columns.stop, columns.step]}
    if isinstance(columns, (str, numbers.Integral)) and not isinstance(columns, bool):
        return columns if isinstance(columns, str) else int(columns)
    items = list(np.asarray(columns, dtype=object).ravel()) if not isinstance(
        columns, (list, tuple)) else list(columns)
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, numbers.Integral) and not isinstance(item, bool):
            out.append(int(item))
        else:
            raise TypeError(f"columns {columns!r} cannot be stored: use indices or names.")
    return out


def _family_from_json(value, where="params.family"):
    """The ``family`` parameter back from :func:`_family_to_json`'s data, checked."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        pairs = []
        for g, item in enumerate(value):
            item = _fields(item, {"family": ("any", None), "columns": ("any", None)},
                           f"{where}[{g}]")
            if isinstance(item["family"], list):
                raise _Invalid(f"{where}[{g}].family cannot itself be a list")
            pairs.append((_family_from_json(item["family"], f"{where}[{g}].family"),
                          _columns_from_json(item["columns"], f"{where}[{g}].columns")))
        return pairs
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise _Invalid(f"{where} must be a name, a family's settings or a list of groups, "
                       f"got {_describe(value)}")
    specs = {
        "bernoulli": {"pseudocount": ("float", 0)},
        "poisson": {},
        "categorical": {"pseudocount": ("float", 0)},
        "gaussian": {"covariance_type": ("str", None), "reg_covar": ("float", 0)},
        "student": {"covariance_type": ("str", None), "reg_covar": ("float", 0),
                    "degrees_of_freedom": ("any", None)},
    }
    name = value["name"]
    if name not in specs:
        raise _Invalid(f"{where}.name is {name!r}, not one of {sorted(specs)}")
    settings = _fields(value, {"name": ("str", None), **specs[name]}, where)
    settings.pop("name")
    build = {"bernoulli": BernoulliFamily, "poisson": PoissonFamily,
             "categorical": CategoricalFamily, "gaussian": GaussianFamily,
             "student": StudentFamily}[name]
    try:
        return build(**settings)
    except (TypeError, ValueError, KeyError) as exc:
        raise _Invalid(f"{where}: {str(exc).rstrip('.')}") from None


def _columns_from_json(value, where):
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return value
    if isinstance(value, dict):
        value = _fields(value, {"slice": ("any", None)}, where)["slice"]
        if not (isinstance(value, list) and len(value) == 3 and all(
                v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in value)):
            raise _Invalid(f"{where}.slice must be [start, stop, step] of integers or null")
        return slice(*value)
    if isinstance(value, list) and all(
            isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))
            for v in value):
        return value
    raise _Invalid(f"{where} must be an index, a name, a list of them or a slice, got "
                   f"{_describe(value)}")


# ------------------------------------------------------------------ categories as data

def _categories_to_json(categories):
    out = []
    for j, levels in enumerate(categories):
        values = levels.tolist()
        if all(isinstance(v, str) for v in values):
            out.append({"dtype": "str", "values": values})
        elif all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            out.append({"dtype": "int", "values": values})
        else:
            raise TypeError(
                f"the categories of categorical column {j} are not all strings or all "
                "integers, which is what a model file stores; convert that column (e.g. "
                "X[column].astype(str)) and fit again."
            )
    return out


def _categories_from_json(value):
    if not isinstance(value, list):
        raise _Invalid(f"fitted.categories_ must be a list, got {_describe(value)}")
    out = []
    for j, entry in enumerate(value):
        where = f"fitted.categories_[{j}]"
        entry = _fields(entry, {"dtype": ("choice", ("str", "int")), "values": ("any", None)},
                        where)
        values = entry["values"]
        wanted = str if entry["dtype"] == "str" else int
        if not (isinstance(values, list) and len(values) >= 2 and all(
                isinstance(v, wanted) and not isinstance(v, bool) for v in values)):
            raise _Invalid(f"{where}.values must be a list of at least 2 {entry['dtype']}s")
        if any(a >= b for a, b in zip(values, values[1:])):
            raise _Invalid(f"{where}.values must be sorted and distinct (as a fit finds them)")
        out.append(np.array(values, dtype=object if wanted is str else np.int64))
    return out


# ------------------------------------------------------------------ the kind

class _FamilyMixtureKind:
    """What the file of one family-mixture class holds, and how to check and rebuild it."""

    fitted_arrays = ("weights_",)
    required_fitted = ("n_iter_", "n_features_in_")

    def __init__(self, cls):
        self.cls = cls

    # ---------------------------------------------------------------- writing

    def encode(self, estimator, mixfit_version):
        """``(header, arrays)`` of a fitted estimator (TypeError for what cannot be stored)."""
        params, arrays = {}, {}
        for name, value in estimator.get_params(deep=False).items():
            params[name] = self._param_to_json(name, value, arrays)
        arrays["weights_"] = np.asarray(estimator.weights_)
        family = estimator._fitted_family()
        for name in parameter_names(family):
            value = getattr(estimator, name + "_")
            if isinstance(value, (list, tuple)):
                for j, part in enumerate(value):
                    arrays[f"{name}_col{j}"] = np.asarray(part)
            else:
                arrays[f"{name}_"] = np.asarray(value)
        fitted = {name: _to_json(getattr(estimator, name), spec)
                  for name, spec in _FITTED_SPEC.items()
                  if name != "categories_" and hasattr(estimator, name)}
        if hasattr(estimator, "categories_"):
            fitted["categories_"] = _categories_to_json(estimator.categories_)
        header = {
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION,
            "mixfit_version": mixfit_version, "estimator": self.cls.__name__,
            "params": params, "fitted": fitted,
            "arrays": {name: {"shape": list(array.shape), "dtype": array.dtype.name}
                       for name, array in arrays.items()},
        }
        return header, arrays

    def _param_to_json(self, name, value, arrays):
        if name == "callback":
            return None
        if name == "family":
            return {"family": _family_to_json(value)}
        if name == "random_state":
            integer = isinstance(value, numbers.Integral) and not isinstance(value, bool)
            return int(value) if integer else None
        if name == "fixed_params" and value is not None:
            names = [value] if isinstance(value, str) else list(value)
            if not all(isinstance(item, str) for item in names):
                raise TypeError(f"fixed_params={value!r} cannot be stored: names are strings.")
            return sorted(names)
        if name == "params_init" and isinstance(value, dict):
            return {"dict": {key: self._param_to_json(f"params_init_{key}", item, arrays)
                             for key, item in value.items()}}
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, numbers.Real) and np.ndim(value) == 0:
            return int(value) if isinstance(value, numbers.Integral) else _encode_float(value)
        if isinstance(value, (list, tuple)) and value and all(np.ndim(v) == 2 for v in value):
            members = []
            for j, part in enumerate(value):
                members.append(f"param_{name}_col{j}")
                arrays[members[-1]] = _native(np.asarray(part))
            return {"arrays": members}
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"parameter {name}={value!r} cannot be stored in a model file; "
                            "model files hold numbers, strings and arrays.")
        arrays[f"param_{name}"] = _native(array)
        return {"array": f"param_{name}"}

    # ---------------------------------------------------------------- reading

    def check_header(self, header):
        """``(kind, params, fitted, manifest)`` of a header, its JSON types checked."""
        _fields(header, {**dict.fromkeys(("format", "format_version", "params", "fitted",
                                          "arrays"), ("any", None)),
                         "mixfit_version": ("str", None),
                         "estimator": ("choice", (self.cls.__name__,))}, "model.json")
        params = header["params"]
        if not isinstance(params, dict):
            raise _Invalid(f"params must be a JSON object, got {_describe(params)}; "
                           f"{_NOT_A_MODEL}")
        expected = set(self.cls().get_params(deep=False))
        if set(params) != expected:
            raise _Invalid(f"params has keys {sorted(params)}, expected {sorted(expected)}")
        fitted = _fields(header["fitted"], _FITTED_SPEC, "fitted", _OPTIONAL_FITTED)
        manifest = _manifest(header["arrays"])
        if "weights_" not in manifest or len(manifest["weights_"][0]) != 1:
            raise _Invalid("arrays must list weights_ with a 1-D shape")
        if len(fitted["lower_bounds_"]) != fitted["n_iter_"]:
            raise _Invalid(f"fitted.n_iter_ is {fitted['n_iter_']} with "
                           f"{len(fitted['lower_bounds_'])} values in lower_bounds_: a fit "
                           "records one value per iteration")
        if "feature_names_in_" in fitted and \
                len(fitted["feature_names_in_"]) != fitted["n_features_in_"]:
            raise _Invalid(f"fitted.feature_names_in_ must name {fitted['n_features_in_']} "
                           "features")
        return self, params, fitted, manifest

    def check_arrays(self, params, arrays):
        """The weights: non-negative, summing to one (the rest is checked by :meth:`decode`)."""
        weights = arrays["weights_"]
        if weights.dtype.name in _FLOAT_DTYPES:
            _check_weights(weights, "weights_",
                           1e-6 + 4 * weights.size * np.finfo(weights.dtype).eps)

    def decode(self, params, fitted, arrays):
        """The estimator, once its parameters and arrays pass its own and its family's checks."""
        _check_array_values(self, params, arrays)
        used = {"weights_"}
        values = {name: self._param_from_json(name, value, arrays, used)
                  for name, value in params.items()}
        try:
            estimator = self.cls(**values)
            settings = estimator._check_settings()
            estimator._family_templates()
        except (TypeError, ValueError) as exc:
            raise _Invalid(f"params: {str(exc).rstrip('.')}") from None
        for name in ("n_iter_", "n_features_in_", "converged_", "lower_bound_",
                     "lower_bounds_"):
            setattr(estimator, name, fitted[name])
        if fitted["n_iter_"] > settings["max_iter"]:
            raise _Invalid(f"fitted.n_iter_ is {fitted['n_iter_']} with max_iter "
                           f"{settings['max_iter']}: a fit runs at most max_iter iterations")
        if "feature_names_in_" in fitted:
            estimator.feature_names_in_ = np.asarray(fitted["feature_names_in_"], dtype=object)
        if "categories_" in fitted:
            estimator.categories_ = _categories_from_json(fitted["categories_"])
        try:
            groups = estimator._resolve_groups(estimator.n_features_in_, estimator._names())
            self._check_categories(estimator, groups)
            family = estimator._fitted_family()
        except (TypeError, ValueError) as exc:
            raise _Invalid(f"the family does not fit the data's columns: "
                           f"{str(exc).rstrip('.')}") from None
        weights = arrays["weights_"]
        if weights.dtype.name not in _FLOAT_DTYPES or weights.shape != (
                settings["n_components"],):
            raise _Invalid(f"weights_ is {weights.dtype} {weights.shape}, expected float32 or "
                           f"float64 of shape ({settings['n_components']},)")
        estimator.weights_ = weights
        for name in parameter_names(family):
            value = self._fitted_array(name, arrays, used, weights)
            setattr(estimator, name + "_", value)
        extra = sorted(set(arrays) - used)
        if extra:
            raise _Invalid(f"arrays lists {extra}, which this {self.cls.__name__} does not have")
        self._check_parameters(estimator, family)
        return estimator

    @staticmethod
    def _param_from_json(name, value, arrays, used):
        if isinstance(value, dict):
            if set(value) == {"array"} and value["array"] in arrays:
                used.add(value["array"])
                return arrays[value["array"]]
            if set(value) == {"arrays"} and isinstance(value["arrays"], list) and all(
                    member in arrays for member in value["arrays"]):
                used.update(value["arrays"])
                return [arrays[member] for member in value["arrays"]]
            if set(value) == {"dict"} and isinstance(value["dict"], dict):
                return {key: _FamilyMixtureKind._param_from_json(key, item, arrays, used)
                        for key, item in value["dict"].items()}
            if set(value) == {"family"} and name == "family":
                return _family_from_json(value["family"])
            raise _Invalid(f"params.{name} is {_describe(value)}, which names no array of "
                           "the file")
        if isinstance(value, list):
            if not all(isinstance(item, str) for item in value):
                raise _Invalid(f"params.{name} must be a list of names")
            return value
        if value is not None and not isinstance(value, (bool, int, float, str)):
            raise _Invalid(f"params.{name} is {_describe(value)}")
        return value

    @staticmethod
    def _fitted_array(name, arrays, used, weights):
        def checked(member):
            array = arrays[member]
            if array.dtype != weights.dtype or array.ndim < 1 or array.shape[0] != \
                    weights.shape[0]:
                raise _Invalid(f"{member} is {array.dtype} {array.shape}; expected "
                               f"{weights.dtype} with one row per component "
                               f"({weights.shape[0]})")
            used.add(member)
            return array

        if f"{name}_" in arrays:
            return checked(f"{name}_")
        parts = []
        while f"{name}_col{len(parts)}" in arrays:
            parts.append(checked(f"{name}_col{len(parts)}"))
        if not parts:
            raise _Invalid(f"arrays lack {name}_ (or {name}_col0, ...)")
        return parts

    @staticmethod
    def _check_categories(estimator, groups):
        columns = estimator._categorical_columns(groups)
        found = getattr(estimator, "categories_", None)
        if columns and (found is None or len(found) != len(columns)):
            raise _Invalid(f"fitted.categories_ must list the categories of the "
                           f"{len(columns)} categorical column(s)")
        if not columns and found is not None:
            raise _Invalid("fitted.categories_ is given, but the model has no categorical column")

    @staticmethod
    def _check_parameters(estimator, family):
        """The family's checks of its parameters, and a log-density that is a number."""
        try:
            params = estimator._params(family)
            with np.errstate(all="ignore"):
                log_prob = family.log_prob(np.zeros((1, estimator.n_features_in_),
                                                    dtype=estimator.weights_.dtype),
                                           params.components)
        except (ValueError, TypeError, IndexError, np.linalg.LinAlgError) as exc:
            raise _Invalid(f"the fitted parameters are invalid: {str(exc).rstrip('.')}") from None
        if np.isnan(log_prob).any() or log_prob.shape != (1, estimator.weights_.shape[0]):
            raise _Invalid("the fitted parameters give no log-density (NaN): the file was "
                           "edited or damaged")


def _native(array):
    # The manifest names dtypes without byte order: store native ones.
    return array.astype(array.dtype.newbyteorder("="))


for _cls in (MixtureModel, BernoulliMixture, PoissonMixture, CategoricalMixture,
             StudentMixture):
    _KINDS[_cls.__name__] = _FamilyMixtureKind(_cls)
