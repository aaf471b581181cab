"""fetch_mnist / fetch_fashion_mnist against a local HTTP server, never the internet.

The server listens on 127.0.0.1 (a free port) in a thread and serves small IDX
files the tests write; every request it answers is logged, so a test can check
which mirror was used, and that a cached call used none.
"""

import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from mixfit.datasets import DownloadError, fetch_fashion_mnist, fetch_mnist, write_idx
from mixfit.datasets import fetch

N_TRAIN, N_TEST = 12, 5


def _write_dataset(folder, seed):
    """The four files of a tiny MNIST-like data set; returns their SHA-256 and data."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    data = {}
    for kind, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = np.arange(n, dtype=np.uint8) % 10
        write_idx(folder / f"{kind}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{kind}-labels-idx1-ubyte.gz", labels)
        data[kind] = images, labels
    sums = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
            for name in fetch.FILES}
    return sums, data


class _Server:
    """A static file server over ``root`` on 127.0.0.1 that logs each request."""

    def __init__(self, root, delay=None):
        self.requests = []
        log = self.requests
        stall = delay

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self):
                log.append(self.path)
                if stall is not None:
                    stall.wait(10)  # hold the answer until the test lets go
                super().do_GET()

            def log_message(self, *args):  # keep pytest's output clean
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No test may reach the real mirrors: point them at a closed local port."""
    dead = ("http://127.0.0.1:9/dead-default-mirror/",)
    monkeypatch.setitem(fetch.MIRRORS, "mnist", dead)
    monkeypatch.setitem(fetch.MIRRORS, "fashion-mnist", dead)
    for name in ("MIXFIT_DATA", "MIXFIT_MNIST_MIRROR", "MIXFIT_FASHION_MNIST_MIRROR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(fetch, "TIMEOUT", 5.0)  # a stuck test fails in seconds


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A server whose /good/ serves a tiny data set and /empty/ serves nothing (404)."""
    sums, data = _write_dataset(tmp_path / "www" / "good", seed=0)
    (tmp_path / "www" / "empty").mkdir()
    monkeypatch.setitem(fetch.SHA256, "mnist", sums)
    monkeypatch.setitem(fetch.SHA256, "fashion-mnist", sums)
    server = _Server(tmp_path / "www")
    yield server, data
    server.stop()


def _cache_files(folder):
    return sorted(p.name for p in Path(folder).rglob("*") if p.is_file())


def test_a_404_on_the_first_mirror_falls_back_to_the_second(served, tmp_path):
    server, data = served
    X, y = fetch_mnist(tmp_path / "cache", kind="t10k",
                       base_url=[server.url + "empty", server.url + "good/"])
    images, labels = data["t10k"]
    np.testing.assert_array_equal(X, images.reshape(N_TEST, 784))
    np.testing.assert_array_equal(y, labels)
    assert X.dtype == np.uint8 and X.shape == (N_TEST, 784)
    # Each file was asked of the first mirror, refused, then fetched from the second.
    assert server.requests[:2] == ["/empty/train-images-idx3-ubyte.gz",
                                   "/good/train-images-idx3-ubyte.gz"]
    assert _cache_files(tmp_path / "cache") == sorted(fetch.FILES)


def test_a_corrupted_file_is_refused_and_nothing_is_left(served, tmp_path, monkeypatch):
    server, _ = served
    bad = dict(fetch.SHA256["mnist"])
    expected = "0" * 64
    bad["train-labels-idx1-ubyte.gz"] = expected
    monkeypatch.setitem(fetch.SHA256, "mnist", bad)
    with pytest.raises(DownloadError) as caught:
        fetch_mnist(tmp_path / "cache", base_url=server.url + "good/")
    message = str(caught.value)
    got = hashlib.sha256(
        (tmp_path / "www" / "good" / "train-labels-idx1-ubyte.gz").read_bytes()).hexdigest()
    assert "checksum mismatch for train-labels-idx1-ubyte.gz" in message
    assert expected in message and got in message
    # The good file before it stays; the bad one (and any partial download) does not.
    assert _cache_files(tmp_path / "cache") == ["train-images-idx3-ubyte.gz"]


def test_a_cached_data_set_needs_no_network(served, tmp_path):
    server, data = served
    first = fetch_mnist(tmp_path / "cache", base_url=server.url + "good/")
    n_requests = len(server.requests)
    assert n_requests == 4
    server.stop()  # any request now would fail
    second = fetch_mnist(tmp_path / "cache", base_url=server.url + "good/")
    test = fetch_mnist(tmp_path / "cache", kind="t10k", base_url=server.url + "good/")
    assert len(server.requests) == n_requests
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(test[1], data["t10k"][1])


def test_a_damaged_cached_file_is_fetched_again(served, tmp_path):
    server, data = served
    fetch_mnist(tmp_path / "cache", base_url=server.url + "good/")
    target = tmp_path / "cache" / "mnist" / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(b"not a gzip file")
    server.requests.clear()
    _, y = fetch_mnist(tmp_path / "cache", kind="t10k", base_url=server.url + "good/")
    assert server.requests == ["/good/t10k-labels-idx1-ubyte.gz"]
    np.testing.assert_array_equal(y, data["t10k"][1])


def test_the_environment_chooses_mirror_and_cache(served, tmp_path, monkeypatch):
    server, _ = served
    monkeypatch.setenv("MIXFIT_MNIST_MIRROR", server.url + "good")
    monkeypatch.setenv("MIXFIT_DATA", str(tmp_path / "env-cache"))
    X, _ = fetch_mnist()
    assert len(X) == N_TRAIN
    assert _cache_files(tmp_path / "env-cache" / "mnist") == sorted(fetch.FILES)
    # base_url= wins over the environment variable (which now points at a 404).
    monkeypatch.setenv("MIXFIT_MNIST_MIRROR", server.url + "empty/")
    server.requests.clear()
    fetch_mnist(tmp_path / "other", base_url=server.url + "good/")
    assert len(server.requests) == 4
    assert all(path.startswith("/good/") for path in server.requests)


def test_fashion_mnist_has_its_own_variable_and_folder(served, tmp_path, monkeypatch):
    server, data = served
    monkeypatch.setenv("MIXFIT_FASHION_MNIST_MIRROR", server.url + "good/")
    monkeypatch.setenv("MIXFIT_MNIST_MIRROR", server.url + "empty/")  # not for fashion
    X, y = fetch_fashion_mnist(tmp_path, kind="t10k", digits=[3])
    np.testing.assert_array_equal(y, [3])
    np.testing.assert_array_equal(X[0], data["t10k"][0][3].ravel())
    assert _cache_files(tmp_path / "fashion-mnist") == sorted(fetch.FILES)
    assert not (tmp_path / "mnist").exists()


def test_digits_keeps_only_those_classes_in_file_order(served, tmp_path):
    server, data = served
    X, y = fetch_mnist(tmp_path, digits=[7, 1], base_url=server.url + "good/")
    images, labels = data["train"]
    keep = np.isin(labels, [1, 7])
    np.testing.assert_array_equal(y, labels[keep])
    np.testing.assert_array_equal(X, images[keep].reshape(-1, 784))
    assert set(y.tolist()) == {1, 7}


def test_when_every_mirror_fails_the_error_lists_them_and_the_fix(served, tmp_path):
    server, _ = served
    with pytest.raises(DownloadError) as caught:
        fetch_mnist(tmp_path / "cache",
                    base_url=[server.url + "empty/", "http://127.0.0.1:9/"])
    message = str(caught.value)
    assert f"{server.url}empty/train-images-idx3-ubyte.gz: HTTP Error 404" in message
    assert "http://127.0.0.1:9/train-images-idx3-ubyte.gz:" in message
    assert "MIXFIT_MNIST_MIRROR" in message
    assert f"by hand into {tmp_path / 'cache' / 'mnist'}" in message
    assert _cache_files(tmp_path / "cache") == []


def test_a_stalled_mirror_times_out_and_the_next_one_is_used(tmp_path, monkeypatch):
    sums, _ = _write_dataset(tmp_path / "www", seed=1)
    monkeypatch.setitem(fetch.SHA256, "mnist", sums)
    monkeypatch.setattr(fetch, "TIMEOUT", 0.3)
    release = threading.Event()
    stalled, good = _Server(tmp_path / "www", delay=release), _Server(tmp_path / "www")
    try:
        X, _ = fetch_mnist(tmp_path / "cache", kind="t10k",
                           base_url=[stalled.url, good.url])
    finally:
        release.set()
        stalled.stop()
        good.stop()
    assert len(X) == N_TEST
    assert len(stalled.requests) == 4 and len(good.requests) == 4


# The module's own table, saved before any fixture replaces it.
_REAL = {name: dict(table) for name, table in fetch.SHA256.items()}


def test_the_published_checksums_are_checked_by_default(served, tmp_path, monkeypatch):
    """With the module's own table, the tiny files fail against the real SHA-256s."""
    server, _ = served
    real = {
        "mnist": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "fashion-mnist": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    }
    for name, fetcher in (("mnist", fetch_mnist), ("fashion-mnist", fetch_fashion_mnist)):
        monkeypatch.setitem(fetch.SHA256, name, _REAL[name])
        with pytest.raises(DownloadError, match=f"expected SHA-256 {real[name]}"):
            fetcher(tmp_path / "cache", base_url=server.url + "good/")
    assert _cache_files(tmp_path / "cache") == []


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_the_checksums_match_the_lectures_copies(name):
    """Where ../shared holds the original files, the table agrees with them."""
    folder = Path(__file__).resolve().parents[2] / "shared" / "data" / name
    if not folder.is_dir():
        pytest.skip(f"no {folder} here")
    for filename in fetch.FILES:
        digest = hashlib.sha256((folder / filename).read_bytes()).hexdigest()
        assert _REAL[name][filename] == digest, filename


def test_bad_arguments_fail_before_any_request(served, tmp_path):
    server, _ = served
    with pytest.raises(ValueError, match="t10k"):
        fetch_mnist(tmp_path, kind="test", base_url=server.url + "good/")
    with pytest.raises(ValueError, match="0 to 9"):
        fetch_mnist(tmp_path, digits=[10], base_url=server.url + "good/")
    with pytest.raises(TypeError, match="base_url"):
        fetch_mnist(tmp_path, base_url=[])
    assert server.requests == []
