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
                    the estimator has them (_scale is 1.0 when absent);
                    converged_ is absent for KMeans from files written before
                    KMeans kept it, and then loads as n_iter_ < max_iter (a run
                    that converged at its last iteration reads as not converged)
    arrays          manifest: {"<member name>": {"shape": [...], "dtype": "..."}}

Array members: ``weights_``, ``means_``, ``covariances_``,
``precisions_cholesky_`` (GaussianMixture; ``precisions_`` and ``_family`` are
rebuilt from them); ``cluster_centers_``, ``labels_``, ``_shift`` (KMeans); and
``param_<name>`` for array constructor parameters.
"""

from __future__ import annotations

import json
import math
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

from ._model_format import (  # FORMAT_NAME and FORMAT_VERSION are public here
    _KINDS,
    _NOT_A_MODEL,
    FORMAT_NAME,
    FORMAT_VERSION,
    _check_array_values,
    _check_header,
    _decode_model,
    _encode_model,
    _Invalid,
    _reject_constant,
    _strict_object,
)

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "ModelFileError", "load", "save"]

_JSON_MEMBER = "model.json"
_MAX_JSON_BYTES = 64 * 2**20
# np.save's header is 128 bytes for the shapes stored here; the slack only has
# to cover that, so a member's size is pinned to what its manifest entry says.
_NPY_HEADER_SLACK = 4096
# Deflate cannot expand data more than ~1032-fold: a member declaring a larger
# ratio is lying about its size (a zip bomb or damage).
_MAX_DEFLATE_RATIO = 1100
_ZIP64_THRESHOLD = (1 << 31) - _NPY_HEADER_SLACK


class ModelFileError(ValueError):
    """A file is not a valid mixfit model file; the message says why."""


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

    header, arrays = _encode_model(estimator, kind, __version__)
    # The load-time checks, run before writing: what save writes, load reads.
    try:
        _, checked_params, _, _ = _check_header(json.loads(json.dumps(header)))
        _check_array_values(kind, checked_params, arrays)
    except _Invalid as exc:
        raise ValueError(f"cannot save this {kind.cls.__name__}: {exc}.") from None
    content = json.dumps(header, allow_nan=False, ensure_ascii=False)
    _write_atomically(os.fspath(path), content.encode("utf-8"), arrays)


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
            estimator = _decode_model(kind, params, fitted, arrays)
        except _Invalid as exc:
            raise ModelFileError(f"Cannot load {path!r}: {exc}.") from None
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
