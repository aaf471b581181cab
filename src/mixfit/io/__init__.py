"""Files: fitted models (:func:`save`, :func:`load`; a versioned zip of JSON and
arrays, no pickle) and data (CSV, NumPy, IDX; :mod:`mixfit.io.data_files`).

The model-file names are imported on first use (PEP 562): the command line reads
data files through this package, and `mixfit --help` must not wait for the
estimators that the model format imports.
"""

_MODEL_FILE_NAMES = (
    "DEFAULT_MAX_BYTES", "FORMAT_NAME", "FORMAT_VERSION", "ModelFileError", "load", "save",
)


def __getattr__(name):
    if name in _MODEL_FILE_NAMES:
        from mixfit.io import model_files

        value = getattr(model_files, name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_MODEL_FILE_NAMES))


__all__ = list(_MODEL_FILE_NAMES)
