"""Data sets: synthetic Gaussian mixtures (the lecture's generator) and MNIST.

* **Synthetic mixtures** — :func:`make_mixture` draws labelled samples from any
  Gaussian mixture; :func:`lecture_data` fixes the lecture's settings
  (:data:`LECTURE_MEANS`, 1000 points, three equally likely components).
* **IDX files** — :func:`read_idx` and :func:`write_idx` handle the whole IDX
  format (every type code, any rank, gzipped or raw); :func:`load_mnist` reads
  the four original MNIST files from a folder.
* **Downloads** — :func:`fetch_mnist` and :func:`fetch_fashion_mnist` fetch the
  original files once into a cache folder (``MIXFIT_DATA``, else
  ``~/.cache/mixfit``), check their SHA-256, and return ``(X, y)``.
"""

from mixfit.datasets.fetch import DownloadError, fetch_fashion_mnist, fetch_mnist
from mixfit.datasets.idx import load_mnist, read_idx, write_idx
from mixfit.datasets.synthetic import LECTURE_MEANS, lecture_data, make_mixture

__all__ = [
    "DownloadError",
    "LECTURE_MEANS",
    "fetch_fashion_mnist",
    "fetch_mnist",
    "lecture_data",
    "load_mnist",
    "make_mixture",
    "read_idx",
    "write_idx",
]
