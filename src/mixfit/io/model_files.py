"""Model files: save a fitted estimator to one file and load it back, without pickle.

A model file (conventionally ``*.mixfit``; the suffix is not required) is a zip
archive holding ``model.json`` and one ``.npy`` member per array. Loading never
unpickles anything: a pickle can run arbitrary code, a model file can only hold
numbers and strings. Every field is checked before an estimator is built, so a
damaged or foreign file raises :class:`ModelFileError` instead of producing a
model that predicts garbage.

``model.json`` (format version 2) is strict JSON: no ``NaN``/``Infinity`` tokens;
the one non-finite value a model holds, ``lower_bound_`` of a fit with
``max_iter=0``, is the string ``"-inf"``::

    format          "mixfit-model"
    format_version  2; version 1 files (mixfit before the fault campaign of
                    issue 9: ``labels_`` always int64, no ``_column_indices``)
                    load as they are, but version 2 files need this mixfit
    mixfit_version  version of mixfit that wrote the file (informative)
    estimator       "GaussianMixture", "KMeans" or "MiniBatchKMeans" (the
                    family mixtures — MixtureModel, BernoulliMixture,
                    PoissonMixture, CategoricalMixture, StudentMixture — are
                    described in mixfit.io.model_mixtures)
    params          constructor parameters (get_params()); an array parameter
                    is {"array": "<member name>"}; ``callback`` is always null (a
                    runtime hook, not data); ``random_state`` is kept when None
                    or an int, a RandomState instance is stored as null
    fitted          fitted scalars: n_iter_, n_features_in_, converged_,
                    lower_bound_, lower_bounds_ (GaussianMixture) or inertia_,
                    inertia_history_ (KMeans); feature_names_in_ and _scale when
                    the estimator has them (_scale is 1.0 when absent);
                    _column_indices, the 0-based indices that 'mixfit fit
                    --columns' selected from data without column names;
                    _train_score and _train_n_samples, the mean log-likelihood
                    per sample and sample count of 'mixfit fit's training data
                    (for 'mixfit info's BIC and AIC); _standardize_mean and
                    _standardize_scale, the per-column means and standard
                    deviations of 'mixfit fit --standardize', which 'mixfit
                    predict' applies to new data (all four optional, in pairs);
                    converged_ is absent for KMeans from files written before
                    KMeans kept it, and then loads as n_iter_ < max_iter (a run
                    that converged at its last iteration reads as not converged);
                    MiniBatchKMeans: inertia_ and n_iter_ (when its fit set
                    them), n_steps_, _batch_size, _init_size and
                    _rows_since_reassign (what partial_fit goes on from), no
                    converged_ or history
    arrays          manifest: {"<member name>": {"shape": [...], "dtype": "..."}}

Array members: ``weights_``, ``means_``, ``covariances_``,
``precisions_cholesky_`` (GaussianMixture; ``precisions_`` and ``_family`` are
rebuilt from them); ``cluster_centers_``, ``labels_``, ``_shift`` (KMeans; and
``_counts``, the weight each centre accumulated, for MiniBatchKMeans, whose
``labels_`` is absent when its last fit did not compute labels); and
``param_<name>`` for array constructor parameters. ``labels_`` is stored in the
smallest of uint8, uint16 and uint32 that holds ``n_clusters - 1`` (files written
before hold int64) and always loads as int64.

Sizes: what a file may make :func:`load` allocate. Every fitted array but
``labels_`` (and ``param_resp_init``) is sized by the number of components K and
of features d, which ``model.json`` fixes; ``labels_`` has one entry per training
sample, which nothing in the model bounds, and legitimately compresses very well:
measured on 10**6 labels (zlib level 6, bytes once loaded as int64 per byte of
the deflated member), random labels give 50 (K = 2), 17 (K = 10), 5 (K = 1000),
sorted labels or K = 1 about 7,400 (1,800 for K = 1000), deflate's maximum being
~1,032 per stored byte. A 1 MB file can thus declare a 1 GB ``labels_`` that
really inflates to it. So :func:`load` adds up what the manifest declares (arrays
as loaded, the derived ``precisions_``, and 24 bytes per byte of ``model.json``,
the worst case of decoded JSON) and refuses the file before reading any array if
that exceeds 256 MiB and 128 times the file's size, or 4 GiB in any case
(:data:`DEFAULT_MAX_BYTES`). Random labels stay under the ratio; ordered labels of
more than ~32 million samples need ``load(path, max_bytes=...)``, which replaces
both limits. Arrays are then read in 1 MiB pieces straight into their final
arrays, so loading takes what was declared and no second copy.

Magnitudes: a fit works in units of ``_scale`` (a power of two from 2**-1074 to
2**511, and 1 for float32 parameters), where its data lie below 2**60; centres
are refused beyond 2**510 (float32: 2**60) in those units or with squared norms
near overflow, ``_shift`` beyond 2**60, precision factors beyond 2**511, and
variances below ``reg_covar`` once a fit has iterated: each of these made
``predict`` and the others return NaN or overflow.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import struct
import zipfile
import zlib
from contextlib import contextmanager

import numpy as np
from sklearn.utils.validation import check_is_fitted

from mixfit.io import model_minibatch  # noqa: F401 (adds MiniBatchKMeans to _KINDS)
from mixfit.io import model_mixtures  # noqa: F401 (adds the family mixtures to _KINDS)
from mixfit.io.model_format import (  # FORMAT_NAME and FORMAT_VERSION are public here
    _KINDS,
    _NOT_A_MODEL,
    FORMAT_NAME,
    FORMAT_VERSION,
    _check_array_values,
    _check_header,
    _decode_model,
    _encode_model,
    _loaded_bytes,
)
from mixfit.io.model_fields import _Invalid, _reject_constant, _strict_object
from mixfit.io.output_files import resolve_output, writing

__all__ = ["DEFAULT_MAX_BYTES", "FORMAT_NAME", "FORMAT_VERSION", "ModelFileError", "load",
           "save"]

_JSON_MEMBER = "model.json"
_MAX_JSON_BYTES = 64 * 2**20
# np.save's header is 128 bytes for the shapes stored here; the slack only has
# to cover that, so a member's size is pinned to what its manifest entry says.
_NPY_HEADER_SLACK = 4096
# Deflate cannot expand data more than ~1032-fold: a member declaring a larger
# ratio is lying about its size (a zip bomb or damage).
_MAX_DEFLATE_RATIO = 1100
_ZIP64_THRESHOLD = (1 << 31) - _NPY_HEADER_SLACK
# What a file may make load allocate (see "Sizes" in the module docstring).
_FREE_BYTES = 256 * 2**20
_MAX_EXPANSION = 128
#: The most bytes :func:`load` allocates for a file unless ``max_bytes`` says more.
DEFAULT_MAX_BYTES = 4 * 2**30
# Memory per byte of model.json once decoded (a 24-byte float and an 8-byte list
# slot per "0.0,"; "[]," gives a 56-byte list and a slot), rounded up.
_JSON_EXPANSION = 24
_READ_PIECE = 2**20


class ModelFileError(ValueError):
    """A file is not a valid mixfit model file; the message says why."""


# ----------------------------------------------------------------------- saving


def save(estimator, path):
    """Save a fitted estimator to a model file, atomically.

    The file is first written under a temporary name in the target's directory,
    flushed to disk, then renamed onto ``path``: a crash or an error mid-way
    leaves any previous file at ``path`` untouched and no temporary file behind.
    A symbolic link is followed (the link stays, its target gets the model);
    a device, a FIFO or a descriptor path such as ``/dev/stdout`` is written
    in place, as renaming over it would replace it; ``"-"`` is standard output.

    Parameters
    ----------
    estimator : GaussianMixture or KMeans
        A fitted mixfit estimator (not a subclass). ``callback`` is not saved (it
        is code, not data; the loaded model has ``callback=None``), nor is a
        ``random_state`` that is a RandomState instance (loaded as None). A
        KMeans with a callable ``init`` is refused (TypeError): unlike the
        callback, the init decides what a refit does, so dropping it silently
        would change the model; ``set_params(init=model.cluster_centers_)`` first.
    path : str or os.PathLike
        Where to write; conventionally ``*.mixfit``. An existing file is replaced.

    Raises
    ------
    TypeError
        If ``estimator`` is not a mixfit ``GaussianMixture`` or ``KMeans``, or
        a parameter is a callable other than ``callback``.
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    ValueError
        If its parameters are such that :func:`load` would refuse the file (e.g.
        ``n_components`` changed by ``set_params`` after fitting).
    OSError
        If the file cannot be written; the error names ``path`` (not the
        temporary file).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from mixfit import GaussianMixture, KMeans
    >>> from mixfit.io.model_files import load, save
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
    check_is_fitted(estimator, kind.fitted_arrays + getattr(
        kind, "required_fitted", ("n_iter_", "n_features_in_")))
    from mixfit._version import __version__

    header, arrays = _encode_model(estimator, kind, __version__)
    # The load-time checks, run before writing: what save writes, load reads.
    try:
        _, checked_params, _, _ = _check_header(json.loads(json.dumps(header)))
        _check_array_values(kind, checked_params, arrays)
    except _Invalid as exc:
        raise ValueError(f"cannot save this {kind.cls.__name__}: {exc}.") from None
    content = json.dumps(header, allow_nan=False, ensure_ascii=False)
    _write_model(os.fspath(path), content.encode("utf-8"), arrays)


def _member_info(name):
    # A fixed timestamp makes the same model give the same bytes.
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
    return info


def _write_model(path, json_bytes, arrays):
    output = resolve_output(path)
    with writing(output, binary=True) as file:
        if output.kind != "replace":
            # Zip's writer seeks back to fill in sizes when it can; a device or a
            # pipe cannot seek, and a file the shell opened for appending (>>)
            # would be corrupted by it, so it streams there instead.
            file = _Sequential(file)
        with zipfile.ZipFile(file, "w") as archive:
            archive.writestr(_member_info(_JSON_MEMBER), json_bytes)
            for name, array in arrays.items():
                big = array.nbytes > _ZIP64_THRESHOLD
                with archive.open(_member_info(f"{name}.npy"), "w", force_zip64=big) as out:
                    np.save(out, array, allow_pickle=False)


class _Sequential:
    """A write-only view of a file that hides its ability to seek."""

    def __init__(self, file):
        self._file = file

    def write(self, data):
        return self._file.write(data)

    def flush(self):
        self._file.flush()


# ---------------------------------------------------------------------- loading


def load(path, *, max_bytes=None):
    """Load an estimator saved by :func:`save`.

    Nothing is unpickled, and every field is checked (format and version, the
    JSON types, array dtypes, shapes, finiteness, magnitudes, weights summing to
    one, precision factors that match the covariances, constructor parameters)
    before the estimator is built; the loaded estimator predicts exactly what the
    saved one did. What a file may make :func:`load` allocate is bounded, and
    checked from its ``model.json`` before any array is read (see the module
    docstring, "Sizes").

    Parameters
    ----------
    path : str or os.PathLike
    max_bytes : int, optional
        The most memory, in bytes, that the file's arrays (and its decoded
        ``model.json``) may take once loaded. By default a file may declare up to
        256 MiB, or up to 128 times its own size, whichever is larger, and never
        more than 4 GiB. Pass a number to load a model you trust beyond that,
        e.g. a KMeans fitted on a billion samples (8 GB of ``labels_``) or on
        ordered data whose ``labels_`` compress more than 128-fold; the given
        number then replaces both defaults.

    Returns
    -------
    estimator : GaussianMixture or KMeans

    Raises
    ------
    ModelFileError
        If the file is not a valid mixfit model file (a pickle, an empty file, a
        directory, another zip, a damaged or edited file, a newer format version),
        or declares more data than ``max_bytes`` allows.
    FileNotFoundError, PermissionError
        If the file cannot be opened.

    Examples
    --------
    See :func:`save`.
    """
    path = os.fspath(path)
    if max_bytes is not None and (isinstance(max_bytes, bool)
                                  or not isinstance(max_bytes, numbers.Integral)
                                  or max_bytes < 1):
        raise ValueError(f"max_bytes must be a positive integer (a number of bytes), got "
                         f"{max_bytes!r}; pass e.g. max_bytes=2**33 for 8 GiB.")
    if os.path.isdir(path):
        raise ModelFileError(f"Cannot load {path!r}: it is a directory; {_NOT_A_MODEL}.")
    with open(path, "rb") as file:
        try:
            kind, params, fitted, arrays = _read(file, max_bytes)
            estimator = _decode_model(kind, params, fitted, arrays)
        except _Invalid as exc:
            raise ModelFileError(f"Cannot load {path!r}: {exc}.") from None
    return estimator


def _budget(file_size, max_bytes):
    """The bytes a file of ``file_size`` bytes may make load allocate, and why."""
    if max_bytes is not None:
        return int(max_bytes), f"max_bytes={max_bytes}"
    budget = min(DEFAULT_MAX_BYTES, max(_FREE_BYTES, _MAX_EXPANSION * file_size))
    return budget, (f"the default limit for a file of {file_size} bytes: "
                    f"{_FREE_BYTES // 2**20} MiB, or {_MAX_EXPANSION} times the file's size, "
                    f"at most {DEFAULT_MAX_BYTES // 2**30} GiB")


def _check_budget(declared, budget, what):
    if declared > budget[0]:
        raise _Invalid(f"{what} would take {declared} bytes once loaded, beyond {budget[1]} "
                       f"({budget[0]} bytes); if you trust this file, load it with "
                       f"mixfit.io.load(path, max_bytes={max(declared, 1)})")


@contextmanager
def _reading(what):
    """Turn the errors that damaged zip or npy data raise into one message."""
    try:
        yield
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
            ValueError, NotImplementedError, RuntimeError, struct.error, OverflowError,
            MemoryError) as exc:
        raise _Invalid(f"{what} is damaged ({type(exc).__name__}: {exc})") from None


def _read(file, max_bytes=None):
    head = file.read(4)
    if not head:
        raise _Invalid(f"the file is empty; {_NOT_A_MODEL}")
    if head[:1] == b"\x80":
        raise _Invalid("the file looks like a Python pickle, which mixfit never loads "
                       "(unpickling can run arbitrary code); " + _NOT_A_MODEL)
    if head != b"PK\x03\x04":
        raise _Invalid(f"the file is not a zip archive; {_NOT_A_MODEL}")
    budget = _budget(file.seek(0, os.SEEK_END), max_bytes)
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

    # Decoded JSON takes far more memory than its text (a list of "0.0," holds
    # one 24-byte float and an 8-byte slot per 4 bytes), hence the factor.
    _check_budget(members[_JSON_MEMBER].file_size * _JSON_EXPANSION, budget, _JSON_MEMBER)
    raw = _read_member(archive, members[_JSON_MEMBER], _MAX_JSON_BYTES)
    with _reading(_JSON_MEMBER):
        header = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant,
                            object_pairs_hook=_strict_object)
    kind, params, fitted, manifest = _check_header(header)
    # Before reading any array: a small file can hold a member that inflates
    # ~1000-fold (see "Sizes" above).
    _check_budget(len(raw) * _JSON_EXPANSION + _loaded_bytes(kind, manifest), budget,
                  "its arrays")
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
    """One array member, read in bounded pieces straight into its final array."""
    if info is None:
        raise _Invalid(f"the archive lacks the member {name}.npy listed in arrays")
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    if info.file_size > nbytes + _NPY_HEADER_SLACK:
        raise _Invalid(f"member {info.filename!r} declares {info.file_size} bytes, more than "
                       f"the {nbytes + _NPY_HEADER_SLACK} its content allows")
    with _reading(f"member {name}.npy"), archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version not in ((1, 0), (2, 0)):
            raise ValueError(f"unsupported .npy version {version}")
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        # The header is checked before anything the size of the data is allocated.
        header_shape, fortran_order, header_dtype = read_header(member)
        if header_shape != shape or header_dtype != np.dtype(dtype):
            raise _Invalid(f"{name}.npy holds {header_dtype} {header_shape}, but arrays lists "
                           f"{dtype} {shape}")
        array = np.empty(shape, dtype, order="F" if fortran_order else "C")
        # A Fortran-ordered array's transpose is C-contiguous, with the same bytes.
        view = memoryview(array.T if fortran_order else array).cast("B")
        filled = 0
        while filled < nbytes:
            piece = member.read(min(_READ_PIECE, nbytes - filled))
            if not piece:
                raise _Invalid(f"{name}.npy ends before its data does")
            view[filled:filled + len(piece)] = piece
            filled += len(piece)
        if member.read(1):
            raise _Invalid(f"{name}.npy has bytes after its data")
    return array
