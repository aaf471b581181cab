"""The nearest of at most 3 centres for long rows, features along the vectors.

:mod:`mixfit.kernels.kmeans_simd_wide` reassociates each row's sums, so what
must hold is that a row's values do not depend on where it sits (among the 4
rows of a group, in the padded last group, in a chunk, in a block, on a
thread) nor on how it reaches the kernel (in place with the shift subtracted
as it is read, copied from F-ordered or indexed rows, or shifted beforehand
as the two-bound E-step passes it): a fit's labels and ``predict``'s agree.
Labels against a float64 brute force and the runner-up against the kernel's
own values are checked in ``test_kmeans_simd.py``.
"""

import numpy as np
import pytest

from mixfit import KMeans
from mixfit.engine.kmeans_simd import padded_operands
from mixfit.kernels import kmeans_simd as simd
from mixfit.kernels import kmeans_simd_wide as wide


def _takes(n_features, dtype, n_clusters):
    centres = np.zeros((n_clusters, n_features))
    _, c_sq = padded_operands(centres, None, np.dtype(dtype))
    return wide.takes_by_feature(n_features, np.dtype(dtype).itemsize, c_sq)


def test_the_shapes_that_take_the_kernel():
    assert _takes(64, np.float64, 3) and _takes(160, np.float64, 2)
    assert not _takes(63, np.float64, 3)  # the paired kernel was as fast from cache
    assert not _takes(161, np.float64, 3)  # 2 KB rows, 4 at a time, lost from memory
    assert not _takes(64, np.float64, 4)  # 16 sums lost from memory
    assert _takes(128, np.float32, 3) and _takes(256, np.float32, 3)
    assert not _takes(127, np.float32, 3) and not _takes(257, np.float32, 3)


def _blobs(seed, n_samples, n_features, dtype, offset):
    rng = np.random.default_rng(seed)
    means = rng.uniform(-4, 4, size=(5, n_features))
    X = means[rng.integers(5, size=n_samples)] + rng.normal(size=(n_samples, n_features))
    return (X + offset).astype(dtype), rng


def _nearest(rows, C_t, c_sq):
    n_samples, n_features = rows.shape
    best = np.empty(n_samples, rows.dtype)
    labels = np.empty(n_samples, np.int32)
    second = np.empty(n_samples, rows.dtype)
    simd._nearest_in_chunk(np.ascontiguousarray(rows), n_samples, C_t, c_sq, best, labels,
                           np.empty((simd.ROWS, n_features), rows.dtype),
                           np.empty(simd.ROWS, rows.dtype), np.empty(simd.ROWS, np.int32),
                           second, np.empty(simd.ROWS, rows.dtype))
    return best, labels, second


@pytest.mark.parametrize("dtype, n_features", [(np.float64, 64), (np.float64, 97),
                                               (np.float32, 131)])
def test_a_rows_values_do_not_depend_on_its_place(dtype, n_features):
    X, rng = _blobs(n_features, 263, n_features, dtype, 0.0)
    centres = X[rng.choice(len(X), 3, replace=False)].astype(np.float64)
    C_t, c_sq = padded_operands(centres, None, X.dtype)
    assert wide.takes_by_feature(n_features, X.itemsize, c_sq)
    best, labels, second = _nearest(X, C_t, c_sq)
    # Each row alone (the padded last group), and the rows in another order.
    for i in (0, 1, 2, 3, 130, 262):
        alone = _nearest(X[i:i + 1], C_t, c_sq)
        assert (alone[0][0], alone[1][0], alone[2][0]) == (best[i], labels[i], second[i])
    order = rng.permutation(len(X))
    shuffled = _nearest(X[order], C_t, c_sq)
    for got, expected in zip(shuffled, (best, labels, second)):
        assert got.tobytes() == expected[order].tobytes()


def _block(X, C_t, c_sq, shift, row_index=None):
    n = len(X) if row_index is None else len(row_index)
    labels = np.zeros(n, np.int32)
    dist = np.empty(n)
    sums = np.zeros((3, X.shape[1]))
    counts = np.zeros(3)
    inertia, _ = simd.lloyd_simd_block(X, shift, C_t, c_sq, 3, np.empty(0, X.dtype),
                                       np.empty(0), labels, dist, sums, counts, False, row_index)
    return labels, dist, inertia, counts


@pytest.mark.parametrize("dtype, n_features", [(np.float64, 64), (np.float32, 160)])
def test_rows_in_place_copied_or_shifted_beforehand_agree(dtype, n_features):
    # Far from the origin, so that the shift matters.
    X, rng = _blobs(3, 1001, n_features, dtype, 50.0)
    shift = X[::7].mean(axis=0).astype(dtype)
    centres = X[rng.choice(len(X), 3, replace=False)].astype(np.float64)
    C_t, c_sq = padded_operands(centres, shift.astype(np.float64), X.dtype)
    labels, dist, inertia, counts = _block(X, C_t, c_sq, shift)
    # F-ordered (copied unshifted, shifted as read) and indexed rows: bit for bit.
    for other in (_block(np.asfortranarray(X), C_t, c_sq, shift),
                  _block(X, C_t, c_sq, shift, np.arange(len(X), dtype=np.int64))):
        np.testing.assert_array_equal(other[0], labels)
        assert other[1].tobytes() == dist.tobytes() and other[2] == inertia
        np.testing.assert_array_equal(other[3], counts)
    # Rows shifted beforehand, as the two-bound E-step passes them.
    _, before, _ = _nearest(X - shift, C_t, c_sq)
    np.testing.assert_array_equal(before, labels)


@pytest.mark.parametrize("dtype, n_features", [(np.float64, 64), (np.float32, 128)])
def test_fit_predict_threads_and_slices_agree(dtype, n_features):
    X, rng = _blobs(5, 6001, n_features, dtype, 10.0)
    init = X[rng.choice(len(X), 3, replace=False)]
    fits = [KMeans(3, init=init, n_init=1, max_iter=30, tol=0.0, n_jobs=n_jobs).fit(X)
            for n_jobs in (1, 2)]
    np.testing.assert_array_equal(fits[0].labels_, fits[1].labels_)
    assert fits[0].inertia_ == fits[1].inertia_
    assert fits[0].cluster_centers_.tobytes() == fits[1].cluster_centers_.tobytes()
    model = fits[0]
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    order = rng.permutation(len(X))
    np.testing.assert_array_equal(model.predict(X[order]), model.labels_[order])
    pieces = [model.predict(X[start:start + 333]) for start in range(0, len(X), 333)]
    np.testing.assert_array_equal(np.concatenate(pieces), model.labels_)
