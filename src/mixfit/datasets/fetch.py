"""Download MNIST and Fashion-MNIST once, check them, and read them from a cache.

:func:`fetch_mnist` and :func:`fetch_fashion_mnist` fetch the four original
gzipped IDX files of their data set into a cache folder, check each file's
SHA-256 against the published value (:data:`SHA256`), and then read them with
:func:`~mixfit.datasets.load_mnist`. Once the four files are in the cache and
intact, no network is used at all.

Only the standard library's :mod:`urllib` is used, so no dependency is added.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path

from mixfit.datasets.idx import _check_digits, load_mnist

__all__ = [
    "DownloadError", "SHA256", "cache_folder", "ensure_files", "fetch_fashion_mnist",
    "fetch_mnist",
]

#: The four files of each data set, in the order they are fetched.
FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

#: SHA-256 of each gzipped file as published (and checked against the lecture's
#: copies in ../shared/data/mnist and ../shared/data/fashion-mnist). A download
#: whose digest differs is refused.
SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte.gz":
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz":
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz":
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz":
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz":
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz":
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz":
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz":
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}

#: Mirrors tried in order; each serves the four files under their own names.
MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
}

#: Environment variable that replaces each data set's mirrors with one URL.
MIRROR_ENV = {"mnist": "MIXFIT_MNIST_MIRROR", "fashion-mnist": "MIXFIT_FASHION_MNIST_MIRROR"}

_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}

#: Seconds a connection or a read may stall before the mirror counts as failed.
TIMEOUT = 30.0

_CHUNK = 1 << 20


class DownloadError(OSError):
    """Raised when a data set's file could not be fetched intact from any mirror."""


def cache_folder(data_home=None):
    """The folder that holds the downloaded data sets.

    Parameters
    ----------
    data_home : str or os.PathLike, optional
        Used as is when given.

    Returns
    -------
    pathlib.Path
        ``data_home``, else the environment variable ``MIXFIT_DATA``, else
        ``~/.cache/mixfit``. Each data set has a subfolder in it.
    """
    if data_home is not None:
        return Path(data_home).expanduser()
    env = os.environ.get("MIXFIT_DATA")
    if env:
        return Path(env).expanduser()
    return Path("~/.cache/mixfit").expanduser()


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _mirrors(name, base_url):
    """The URLs to try in order: ``base_url``, else the environment, else the defaults."""
    if base_url is None:
        env = os.environ.get(MIRROR_ENV[name])
        urls = [env] if env else list(MIRRORS[name])
    elif isinstance(base_url, (str, os.PathLike)):
        urls = [os.fspath(base_url)]
    else:
        urls = [os.fspath(url) for url in base_url]
        if not urls or not all(isinstance(url, str) for url in urls):
            raise TypeError(
                f"base_url must be a URL string or a non-empty list of them, got {base_url!r}."
            )
    # Every mirror serves the files directly under its URL.
    return [url if url.endswith("/") else url + "/" for url in urls]


def _download(url, target, expected):
    """Fetch ``url`` into ``target`` only if its SHA-256 is ``expected``.

    The bytes go to a temporary file next to ``target`` and are moved into
    place (atomically) only once checked, so an interrupted or corrupted
    download never leaves a file under the real name. Raises OSError (HTTP
    errors and timeouts included) or ValueError for a wrong checksum.
    """
    handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                   suffix=".part")
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out, \
                urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
        got = digest.hexdigest()
        if got != expected:
            raise ValueError(
                f"checksum mismatch for {target.name}: expected SHA-256 {expected}, "
                f"got {got}"
            )
        # mkstemp makes the file private (0600); a cache file is an ordinary one.
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        # Also on KeyboardInterrupt: the partial file must not stay behind.
        Path(tmp).unlink(missing_ok=True)
        raise


def _ensure_file(name, folder, filename, mirrors):
    """Make ``folder/filename`` an intact copy, downloading it if needed."""
    expected = SHA256[name][filename]
    target = folder / filename
    note = ""
    if target.is_file():
        got = _sha256(target)
        if got == expected:
            return  # cached and intact: no network
        note = (f" (the cached copy had SHA-256 {got}, expected {expected}, so it "
                "was fetched again)")
    failures = []
    for mirror in mirrors:
        url = mirror + filename
        try:
            _download(url, target, expected)
            return
        except (OSError, ValueError) as error:
            # urllib.error.URLError and socket timeouts are OSErrors.
            failures.append(f"  {url}: {error}")
    title = _TITLES[name]
    raise DownloadError(
        f"could not fetch {title}'s {filename}{note} from any mirror:\n"
        + "\n".join(failures)
        + f"\nSet {MIRROR_ENV[name]} (or pass base_url=) to a mirror that serves the "
        f"four files, or download {', '.join(FILES)} by hand into {folder}."
    )


def ensure_files(name, data_home=None, base_url=None):
    """Make the cache hold the four intact files of a data set; return its folder.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}
    data_home, base_url
        As for :func:`fetch_mnist`.

    Returns
    -------
    pathlib.Path
        ``<cache folder>/<name>``, ready for :func:`~mixfit.datasets.load_mnist`.
    """
    if name not in SHA256:
        raise ValueError(f"name must be one of {sorted(SHA256)}, got {name!r}.")
    mirrors = _mirrors(name, base_url)
    folder = cache_folder(data_home) / name
    folder.mkdir(parents=True, exist_ok=True)
    # All four files, not only those of one kind: once fetched, both splits work offline.
    for filename in FILES:
        _ensure_file(name, folder, filename, mirrors)
    return folder


def _fetch(name, data_home, kind, digits, base_url):
    if kind not in ("train", "t10k"):
        hint = " (the test set's files are called t10k)" if kind == "test" else ""
        raise ValueError(f"kind must be 'train' or 't10k', got {kind!r}{hint}.")
    _check_digits(digits)  # fail on a bad argument before touching the network
    folder = ensure_files(name, data_home, base_url)
    images, labels = load_mnist(folder, kind=kind, digits=digits)
    return images.reshape(len(images), -1), labels


_DOC = """Fetch {title} (once), check it, and return its images as rows of pixels.

    The first call downloads the four gzipped IDX files into the cache folder
    ``<data_home>/{name}`` and checks each one's SHA-256 against
    :data:`mixfit.datasets.fetch.SHA256`; later calls read the cache without
    using the network. A file that fails its checksum is never kept.

    Parameters
    ----------
    data_home : str or os.PathLike, optional
        The cache folder; default: the environment variable ``MIXFIT_DATA``,
        else ``~/.cache/mixfit``.
    kind : {{"train", "t10k"}}, default="train"
        The 60000 training or the 10000 test images.
    digits : iterable of int in 0..9, optional
        Keep only the images of these classes (in file order); None keeps all.{classes}
    base_url : str or list of str, optional
        Mirror(s) to download from, tried in order, each serving the four files
        under their original names (``file://`` URLs work too). Default: the
        environment variable ``{env}``, else the usual mirrors (:data:`MIRRORS`).

    Returns
    -------
    X : ndarray of shape (n_images, 784), uint8
        One row per image, its 28×28 pixels row by row, 0 background to 255.
    y : ndarray of shape (n_images,), uint8
        The class of each image, 0 to 9.

    Raises
    ------
    DownloadError
        When a missing (or corrupted) file could be fetched intact from no
        mirror; the message lists each URL with its error (HTTP status, timeout,
        checksum mismatch with the expected and actual SHA-256) and how to fix it.
    ValueError
        For a bad ``kind`` or class, before any download.

    Examples
    --------
    >>> from mixfit.datasets import {func}
    >>> X, y = {func}(kind="t10k", digits=[0, 1])  # doctest: +SKIP
    >>> X.shape, X.dtype  # doctest: +SKIP
    ((2115, 784), dtype('uint8'))
    """


def fetch_mnist(data_home=None, *, kind="train", digits=None, base_url=None):
    return _fetch("mnist", data_home, kind, digits, base_url)


def fetch_fashion_mnist(data_home=None, *, kind="train", digits=None, base_url=None):
    return _fetch("fashion-mnist", data_home, kind, digits, base_url)


fetch_mnist.__doc__ = _DOC.format(
    title="MNIST", name="mnist", env="MIXFIT_MNIST_MIRROR", func="fetch_mnist", classes="")
fetch_fashion_mnist.__doc__ = _DOC.format(
    title="Fashion-MNIST", name="fashion-mnist", env="MIXFIT_FASHION_MNIST_MIRROR",
    func="fetch_fashion_mnist",
    classes="\n        Classes 0..9: T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal,"
            "\n        Shirt, Sneaker, Bag, Ankle boot.")
