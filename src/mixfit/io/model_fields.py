"""The fields of a model file's ``model.json``: how each JSON value is checked and encoded.

Each field has a spec ``(kind, argument)`` (see :func:`_field`); a problem raises
:class:`_Invalid`, worded without the file's name (:mod:`mixfit.io.model_files` adds it).
"""

from __future__ import annotations

import math


class _Invalid(Exception):
    """A problem in a model's content, worded without the file's name."""


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
    ``names`` (list of strings), ``names?`` (the same, or null), ``scale`` (positive power of two), ``jobs`` (null or
    a non-zero integer, as ``n_jobs``), ``n_init`` ("auto" or an integer >= 1), ``any``.
    """
    kind, arg = spec
    if value is None and kind in ("int?", "array", "null", "jobs", "names?"):
        return None
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    # Ints are finite whatever their size (math.isfinite would overflow on them).
    finite = number and (isinstance(value, int) or math.isfinite(value))
    if kind in ("int", "int?"):
        accepted, wanted = isinstance(value, int) and finite and arg[0] <= value <= arg[1], \
            f"an integer in [{arg[0]}, {arg[1]}]"
    elif kind == "jobs":
        accepted = isinstance(value, int) and not isinstance(value, bool) and value != 0
        wanted = "null or a non-zero integer"
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
    elif kind == "n_init":
        accepted = value == "auto" or isinstance(value, int) and not isinstance(value, bool) \
            and value >= 1
        wanted = '"auto" or an integer >= 1'
    elif kind == "level":
        accepted, wanted = isinstance(value, int) and value >= 0, "a bool or an integer >= 0"
    elif kind in ("names", "names?"):
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
                "floats": lambda values: [_encode_float(item) for item in values],
                "choice": str, "any": lambda value: value}  # "any": JSON already
    return encoders.get(spec[0], _encode_float)(value)


def _strict_object(pairs):
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _Invalid("model.json repeats a key in one object")
    return dict(pairs)


def _reject_constant(token):
    raise _Invalid(f"model.json holds the non-standard token {token}; it must be strict JSON")
