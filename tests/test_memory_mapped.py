"""Fits on memory-mapped arrays: read chunk by chunk, never copied, same results.

The measured memory and time are in benchmarks/bench_memmap.py; here the
properties: the results equal the in-memory fit from the same start, the file is
never written, and what a fit allocates (numpy's allocations, traced by
tracemalloc) stays a small fraction of the input.
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from mixfit import GaussianMixture, KMeans
from mixfit.estimators import _dask_data
from mixfit.estimators._large_data import is_memory_mapped, start_rows


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=5, size=(4, 16))
    labels = rng.integers(4, size=300_000)
    X = (centres[labels] + rng.normal(size=(labels.size, 16))).astype(np.float32)
    path = tmp_path_factory.mktemp("mapped") / "x.npy"
    np.save(path, X)
    return np.load(path, mmap_mode="r")


def test_memory_maps_are_recognised(mapped):
    assert is_memory_mapped(mapped)
    assert is_memory_mapped(np.asarray(mapped)[10:20])
    assert not is_memory_mapped(np.array(mapped[:10]))


def test_start_rows_samples_a_memory_map_only(mapped):
    rows, weight = start_rows(mapped, None, np.random.RandomState(0), n_rows=1000)
    assert rows.shape == (1000, 16) and weight is None and not is_memory_mapped(rows)
    again, _ = start_rows(mapped, None, np.random.RandomState(0), n_rows=1000)
    np.testing.assert_array_equal(rows, again)
    in_memory = np.array(mapped[:5000])
    assert start_rows(in_memory, None, np.random.RandomState(0), n_rows=1000)[0] is in_memory


@pytest.mark.parametrize("covariance_type", ["diag", "full", "VEV"])
def test_gaussian_mixture_on_a_memory_map_equals_in_memory(mapped, covariance_type):
    X = mapped[:20_000]
    start = GaussianMixture(4, covariance_type=covariance_type, max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start.fit(np.array(X))
        given = dict(weights_init=start.weights_, means_init=start.means_,
                     precisions_init=start.precisions_)
        settings = dict(covariance_type=covariance_type, max_iter=5, tol=0, **given)
        expected = GaussianMixture(4, **settings).fit(np.array(X))
        fitted = GaussianMixture(4, **settings).fit(X)
    np.testing.assert_array_equal(fitted.means_, expected.means_)
    np.testing.assert_array_equal(fitted.covariances_, expected.covariances_)
    np.testing.assert_array_equal(fitted.predict(X), expected.predict(np.array(X)))


def test_kmeans_on_a_memory_map_equals_in_memory_and_keeps_int32_labels(mapped):
    X = mapped[:50_000]
    init = np.array(X[:5])
    expected = KMeans(5, init=init, n_init=1, tol=0).fit(np.array(X))
    fitted = KMeans(5, init=init, n_init=1, tol=0, copy_x=False).fit(X)
    np.testing.assert_allclose(fitted.cluster_centers_, expected.cluster_centers_, rtol=1e-6)
    np.testing.assert_array_equal(fitted.labels_, expected.labels_)
    # 4 bytes a row: the labels of data larger than memory need not take a quarter of it.
    assert fitted.labels_.dtype == np.int32
    # With many clusters "auto" would prune with Hamerly's 2 bounds a row; not here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 5 iterations on purpose
        many = KMeans(40, init=np.array(X[:40]), n_init=1, max_iter=5).fit(X)
        in_ram = KMeans(40, init=np.array(X[:40]), n_init=1, max_iter=5).fit(np.array(X))
    np.testing.assert_array_equal(many.labels_, in_ram.labels_)


def test_default_starts_on_a_memory_map_are_reproducible(mapped):
    first = KMeans(4, random_state=3).fit(mapped)
    second = KMeans(4, random_state=3).fit(mapped)
    np.testing.assert_array_equal(first.cluster_centers_, second.cluster_centers_)
    gmm = GaussianMixture(4, random_state=3).fit(mapped)
    assert gmm.converged_
    # The start came from 100,000 of the rows; EM then ran on all of them and
    # reaches the optimum that the best of several in-memory starts reaches.
    best_in_memory = GaussianMixture(4, n_init=4, random_state=0).fit(np.array(mapped))
    assert gmm.lower_bound_ >= best_in_memory.lower_bound_ - 1e-3


@pytest.mark.parametrize("make", [
    lambda: GaussianMixture(4, covariance_type="diag", max_iter=3, tol=0, random_state=0),
    lambda: KMeans(4, n_init=1, max_iter=3, tol=0, random_state=0),
], ids=["GaussianMixture", "KMeans"])
def test_a_fit_on_a_memory_map_allocates_a_small_fraction_of_it(mapped, make, monkeypatch):
    # The start's sample is a fixed number of rows (100,000), a large part of
    # this small file; at the files memory maps are for it is a small one.
    monkeypatch.setattr(_dask_data, "INIT_SAMPLE_ROWS", 10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        make().fit(mapped[:1000])  # compile the kernels first: numba allocates too
        tracemalloc.start()
        try:
            make().fit(mapped)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    # KMeans keeps its int32 labels (1/16 of these 16-column float32 rows); nothing
    # else is of size n_samples, and no copy of X is made.
    limit = 0.25 * mapped.nbytes
    assert peak < limit, f"the fit allocated {peak / 1e6:.1f} MB, over {limit / 1e6:.1f} MB"


def test_a_memory_map_is_never_written(mapped):
    before = np.array(mapped[:100])
    KMeans(3, n_init=1, copy_x=False, random_state=0).fit(mapped[:10_000])
    np.testing.assert_array_equal(mapped[:100], before)
