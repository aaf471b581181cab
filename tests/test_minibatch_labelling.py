"""MiniBatchKMeans labels by the kernel rule for labelling passes
(mixfit.engine.kmeans_simd.uses_simd_for_labelling): its batches, labels_ and
predict all take it, so labels_ equals predict(X), and the labels are the
nearest centres."""

from __future__ import annotations

import numpy as np
import pytest

from mixfit import KMeans, MiniBatchKMeans
from mixfit.engine import kmeans as kmeans_engine
from mixfit.engine import kmeans_simd, kmeans_steps, minibatch
from mixfit.engine.kmeans_simd import (LABELLING_CENTRE_BYTES, LABELLING_FLOAT32_CLUSTERS,
                                       uses_simd, uses_simd_for_labelling)


def test_labelling_rule_thresholds():
    # Every shape of the fits' rule...
    assert uses_simd(16, 8, np.float64) and uses_simd_for_labelling(16, 8, np.float64)
    # ... and from 8 clusters any shape whose centres take at most 1 MiB.
    assert not uses_simd(160, 64, np.float64) and uses_simd_for_labelling(160, 64, np.float64)
    assert uses_simd_for_labelling(128, 1024, np.float64)  # exactly 1 MiB
    assert LABELLING_CENTRE_BYTES == 128 * 1024 * 8
    assert not uses_simd_for_labelling(129, 1024, np.float64)
    assert not uses_simd_for_labelling(784, 256, np.float64)
    assert uses_simd_for_labelling(784, 256, np.float32)  # 784 KiB
    # 3 to 7 clusters from 16 features, however many (2 or 3 on long rows:
    # the fits' rule too).
    assert not uses_simd(784, 4, np.float64) and uses_simd_for_labelling(784, 4, np.float64)
    assert uses_simd(784, 3, np.float64) and uses_simd_for_labelling(784, 3, np.float64)
    assert uses_simd_for_labelling(784, 7, np.float32)
    assert uses_simd_for_labelling(784, 2, np.float64)
    assert not uses_simd_for_labelling(63, 2, np.float64)
    assert not uses_simd_for_labelling(8, 5, np.float32)  # fewer than 16 features
    # float32 only up to 512 clusters
    assert uses_simd_for_labelling(160, LABELLING_FLOAT32_CLUSTERS, np.float32)
    assert not uses_simd_for_labelling(160, LABELLING_FLOAT32_CLUSTERS + 1, np.float32)
    assert uses_simd_for_labelling(64, 1024, np.float64)
    assert not uses_simd_for_labelling(64, 256, np.int64)
    # The fits' own choice is unchanged by it.
    assert kmeans_steps._e_step_kernel(160, 64, np.float64) == "gemm"
    # Float64 labelling from 32 features and 8,192 terms is screened in float32.
    assert kmeans_steps._e_step_kernel(160, 64, np.float64, labelling=True) == "screened"
    assert kmeans_steps._e_step_kernel(160, 64, np.float32, labelling=True) == "simd"
    assert kmeans_steps._e_step_kernel(64, 64, np.float64, labelling=True) == "simd"
    assert kmeans_steps._e_step_kernel(16, 1024, np.float64, labelling=True) == "simd"
    assert kmeans_steps._e_step_kernel(2, 40, np.float64, labelling=True) == "direct"


@pytest.fixture
def simd_calls(monkeypatch):
    """Counts the E-steps that run the micro-kernel."""
    calls = []
    original = kmeans_steps.simd_e_step

    def counting(*args, **kwargs):
        calls.append(args[0].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(kmeans_steps, "simd_e_step", counting)
    return calls


#: Clusters at 72 features where a fit runs the GEMM path and labelling the micro-kernel.
FIT_GEMM_CLUSTERS = {np.float64: 40, np.float32: 96}


def _blobs(n, d, k, dtype, seed=0):
    rng = np.random.RandomState(seed)
    means = rng.normal(scale=4.0, size=(k, d))
    X = means[rng.randint(0, k, n)] + rng.normal(size=(n, d))
    return X.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_assign_takes_the_labelling_rule_only_when_asked(dtype, simd_calls):
    # GEMM for a fit, micro-kernel for labelling: float64 72 × 40, float32 72 × 96.
    k = FIT_GEMM_CLUSTERS[dtype]
    X = _blobs(3000, 72, 20, dtype)
    centers = X[:k].astype(np.float64) + 0.1
    assert not uses_simd(72, k, dtype) and uses_simd_for_labelling(72, k, dtype)
    fit_labels, fit_dist = kmeans_engine.assign(X, centers, chunk_size=None, n_jobs=2)
    assert simd_calls == []
    labels, dist = kmeans_engine.assign(X, centers, chunk_size=None, n_jobs=2, labelling=True)
    assert simd_calls
    exact = ((X.astype(np.float64)[:, None, :] - centers[None]) ** 2).sum(axis=2)
    order = np.sort(exact, axis=1)
    clear = order[:, 1] - order[:, 0] > 1e-3 * order[:, 0]  # no near-tie
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(labels[clear], exact.argmin(axis=1)[clear])
    np.testing.assert_array_equal(labels[clear], fit_labels[clear])
    rtol = 1e-4 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(dist, exact.min(axis=1), rtol=rtol, atol=rtol * 72)


@pytest.mark.filterwarnings("ignore:KMeans did not converge")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_minibatch_labels_equal_predict_on_the_micro_kernel(dtype, simd_calls):
    k = FIT_GEMM_CLUSTERS[dtype]
    X = _blobs(5000, 72, 20, dtype, seed=1)
    km = MiniBatchKMeans(k, batch_size=512, max_iter=2, n_init=1, random_state=0,
                         n_jobs=2).fit(X)
    steps = len(simd_calls)
    assert steps >= 2 * 5000 // 512  # the batches, then labels_
    np.testing.assert_array_equal(km.labels_, km.predict(X))
    assert len(simd_calls) > steps
    centers = km.cluster_centers_.astype(np.float64)
    exact = ((X.astype(np.float64)[:, None, :] - centers[None]) ** 2).sum(axis=2)
    order = np.sort(exact, axis=1)
    clear = order[:, 1] - order[:, 0] > 1e-3 * order[:, 0]
    np.testing.assert_array_equal(km.labels_[clear], exact.argmin(axis=1)[clear])
    assert km.inertia_ == pytest.approx(exact.min(axis=1).sum(), rel=1e-5)
    # KMeans keeps the fits' rule (its labels_ come from its E-steps).
    simd_calls.clear()
    KMeans(k, init=km.cluster_centers_, n_init=1, max_iter=2, n_jobs=2).fit(X).predict(X)
    assert simd_calls == []


def test_batch_statistics_on_the_micro_kernel_match_the_definition(simd_calls):
    rng = np.random.RandomState(4)
    X = rng.normal(size=(1024, 96))
    centers = X[rng.choice(1024, 48, replace=False)] + 0.01
    shift = X.mean(axis=0)
    chunk = minibatch.resolve_chunk_size(None, 48, X)
    with minibatch.batch_runner(2, 1024, chunk, 96, 48) as runner:
        stats = minibatch.batch_statistics(X, centers, shift=shift, chunk_size=chunk,
                                           runner=runner)
    assert simd_calls
    distances = ((X[:, None, :] - centers[None]) ** 2).sum(axis=2)
    labels = distances.argmin(axis=1)
    np.testing.assert_array_equal(stats.counts, np.bincount(labels, minlength=48))
    expected = np.zeros((48, 96))
    np.add.at(expected, labels, X)
    np.testing.assert_allclose(stats.sums, expected, rtol=1e-12, atol=1e-12)
    assert stats.inertia == pytest.approx(distances.min(axis=1).sum(), rel=1e-10)


def test_the_labelling_rule_module_constant_is_what_the_rule_reads(monkeypatch):
    # The threshold is read at call time (no copy taken at import).
    monkeypatch.setattr(kmeans_simd, "LABELLING_CENTRE_BYTES", 0)
    assert not uses_simd_for_labelling(160, 64, np.float64)
