"""What the fault campaign found to hold, kept holding.

Model files never reach pickle, whatever they hold; members whose names would
escape a folder, repeat, or are symbolic links are refused. (Concurrent saves,
concurrent predict and refit after an interrupted fit are tested beside the code
that guarantees them: tests/test_output_files.py and tests/test_fit_state.py.)
"""

import io
import pickle
import stat
import zipfile

import numpy as np
import pytest

from mixfit import GaussianMixture, KMeans
from mixfit.io import ModelFileError, load, save


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    """One saved model of each estimator, as ``{name: (path, members)}``."""
    folder = tmp_path_factory.mktemp("models")
    X = np.random.default_rng(0).normal(size=(200, 3))
    models = {"gmm": GaussianMixture(2, random_state=0).fit(X),
              "kmeans": KMeans(2, random_state=0, n_init=1).fit(X)}
    result = {}
    for name, model in models.items():
        path = folder / f"{name}.mixfit"
        save(model, path)
        with zipfile.ZipFile(path) as archive:
            result[name] = (path, {info.filename: archive.read(info) for info in archive.infolist()})
    return result


def _write(path, members, symlink=()):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = (stat.S_IFLNK | 0o777) if name in symlink else (stat.S_IFREG | 0o644)
            info.external_attr = mode << 16
            archive.writestr(info, data)


@pytest.fixture
def no_pickle(monkeypatch):
    """Make every way into pickle fail loudly, so that reaching it fails the test."""

    class Reached(BaseException):  # not an Exception: no except clause swallows it
        pass

    def refuse(*args, **kwargs):
        raise Reached("pickle was reached")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    return Reached


def _object_npy():
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"x": 1}, None], dtype=object), allow_pickle=True)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["gmm", "kmeans"])
def test_pickle_is_never_reached(kind, saved_models, no_pickle, tmp_path):
    path, members = saved_models[kind]
    load(path)  # a valid file loads without pickle
    hostile = {
        "whole file": pickle.dumps({"a": 1}, protocol=2),
        "object member": None,
    }
    target = tmp_path / "hostile.mixfit"
    for label, content in hostile.items():
        if content is None:
            edited = dict(members)
            first_array = next(name for name in members if name.endswith(".npy"))
            edited[first_array] = _object_npy()
            _write(target, edited)
        else:
            target.write_bytes(content)
        with pytest.raises(ModelFileError):
            load(target)


@pytest.mark.parametrize("member", ["../weights_.npy", "/weights_.npy", "sub/../weights_.npy",
                                    "..\\weights_.npy", "weights_.npy/"])
def test_members_that_escape_a_folder_are_refused(member, saved_models, tmp_path):
    path, members = saved_models["gmm"]
    edited = dict(members)
    edited[member] = edited.pop("weights_.npy")
    target = tmp_path / "traversal.mixfit"
    _write(target, edited)
    with pytest.raises(ModelFileError, match="member"):
        load(target)


def test_symlink_members_are_refused_or_harmless(saved_models, tmp_path):
    # A member marked as a symbolic link holds the link's target as its data; it
    # must be refused, never followed.
    path, members = saved_models["gmm"]
    edited = dict(members)
    edited["weights_.npy"] = b"/etc/passwd"
    target = tmp_path / "symlink.mixfit"
    _write(target, edited, symlink={"weights_.npy"})
    with pytest.raises(ModelFileError):
        load(target)


def test_repeated_members_are_refused(saved_models, tmp_path):
    path, members = saved_models["kmeans"]
    target = tmp_path / "repeat.mixfit"
    _write(target, members)
    with pytest.warns(UserWarning), zipfile.ZipFile(target, "a") as archive:
        archive.writestr("cluster_centers_.npy", members["cluster_centers_.npy"])
    with pytest.raises(ModelFileError, match="repeats"):
        load(target)
