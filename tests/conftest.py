"""Shared fixtures: small, well-separated data sets used across the tests."""

import hashlib
import importlib.util
import os
import shutil
from pathlib import Path


def _kernels_digest():
    """A digest of the source of the mixfit under test's numba kernels (``kernels/``).

    numba's on-disk cache checks only the timestamp of a function's own file,
    so a cached kernel keeps the machine code of a callee from another file
    (inlined, or a numba intrinsic) after that file changed. Keying the
    tests' cache folder by every kernel file's content means an edit anywhere
    in ``kernels/`` compiles afresh rather than running stale code. Found
    without importing mixfit: numba must not be imported before the folder is set.
    """
    spec = importlib.util.find_spec("mixfit")
    digest = hashlib.sha256()
    for location in spec.submodule_search_locations or ():
        for path in sorted((Path(location) / "kernels").glob("*.py")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


# Each test process keeps numba's compiled kernels in a cache folder of its own
# (set before numba is imported), under one named by the kernels' digest. Under
# pytest-xdist (the README's test command runs two workers) numba names a new
# cache entry's file after the entries it has read, so two processes adding
# entries to one function's cache at the same moment could pair one's index
# entry with the other's code. The process that starts the run drops the
# folders of other digests (kernels since edited). Worker processes inherit
# its environment, so the root travels in a variable of its own.
_CACHE_ROOT = Path(os.environ.get("MIXFIT_TEST_NUMBA_CACHE_ROOT")
                   or os.environ.get("NUMBA_CACHE_DIR")
                   or Path(__file__).parent.parent / ".numba-cache")
os.environ["MIXFIT_TEST_NUMBA_CACHE_ROOT"] = str(_CACHE_ROOT)
_DIGEST = _kernels_digest()
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER is None and _CACHE_ROOT.is_dir() and _CACHE_ROOT.name == ".numba-cache":
    for stale in _CACHE_ROOT.iterdir():
        if stale.is_dir() and stale.name != _DIGEST:
            shutil.rmtree(stale, ignore_errors=True)
os.environ["NUMBA_CACHE_DIR"] = str(_CACHE_ROOT / _DIGEST / (_WORKER or "main"))

import numpy as np
import pytest
from hypothesis import settings


def make_blobs(n_per=(150, 100, 120), n_features=2, separation=6.0, seed=0, dtype=np.float64):
    """Well-separated Gaussian clusters with different shapes; returns (X, y)."""
    rng = np.random.default_rng(seed)
    parts, labels = [], []
    for k, n in enumerate(n_per):
        centre = rng.normal(size=n_features) * separation
        scale = rng.uniform(0.5, 1.5, size=n_features)
        parts.append(centre + rng.normal(size=(n, n_features)) * scale)
        labels.append(np.full(n, k))
    return np.vstack(parts).astype(dtype), np.concatenate(labels)


@pytest.fixture
def blobs():
    return make_blobs()


@pytest.fixture
def blobs3d():
    return make_blobs(n_features=3, seed=1)


# CI runs a fixed set of examples (derandomize) so that a submission's result does
# not depend on the draw; local runs keep exploring new examples.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
