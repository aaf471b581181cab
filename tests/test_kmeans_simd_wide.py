"""The nearest of at most 3 centres for long rows, features along the vectors.

:mod:`mixfit.kernels.kmeans_simd_wide` writes each row's sums as vectors in a
fixed order, so what must hold is that a row's values do not depend on where
it sits (computed alone, 2 or 4 rows at a time, in a chunk, a block, on a
thread, with the rows taken to be in cache or not) nor on how it reaches the
kernel (in place with the shift subtracted as it is read, copied from
F-ordered or indexed rows, or shifted beforehand as the two-bound E-step
passes it): a fit's labels and ``predict``'s agree. Labels against a float64
brute force and the runner-up against the kernel's own values are checked in
``test_kmeans_simd.py``.
"""

import numpy as np
import pytest
from numba import njit

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
    assert not _takes(63, np.float64, 3)  # the paired kernel was faster
    assert _takes(161, np.float64, 3) and _takes(5000, np.float64, 3)  # however long
    assert not _takes(64, np.float64, 4) and not _takes(784, np.float32, 4)  # 4: paired
    assert _takes(128, np.float32, 3) and _takes(784, np.float32, 2)
    assert not _takes(127, np.float32, 3)


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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_features", [1, 7, 16, 17, 33, 64, 100, 131, 256, 300])
def test_the_dots_of_1_2_and_4_rows_at_once_agree_to_the_bit(dtype, n_features):
    # Full vectors in pairs, an odd one, a partial one: every way through the loop.
    rng = np.random.default_rng(n_features)
    rows = (rng.normal(size=(9, n_features)) * 10 + 3).astype(dtype)
    centres = rng.normal(size=(3, n_features)) * 10 + 3
    C_p, _ = padded_operands(centres, None, np.dtype(dtype))
    shift = rows.mean(axis=0)
    C_f, shift_f = wide.by_feature_operands(C_p, shift, n_features)
    assert C_f.shape[1] % (64 // np.dtype(dtype).itemsize) == 0
    assert not C_f[:, n_features:].any() and not shift_f[n_features:].any()
    one = np.empty((9, 3), dtype)
    out = np.empty(12, dtype)
    for i in range(9):
        _dots_1(rows, i, shift_f, C_f, out)
        one[i] = out[:3]
    for i in range(8):
        _dots_2(rows, i, shift_f, C_f, out)
        assert out[:6].tobytes() == one[i:i + 2].tobytes()
    for i in range(6):
        _dots_4(rows, i, shift_f, C_f, out)
        assert out.tobytes() == one[i:i + 4].tobytes()
    # And they are the dots, within X's dtype's rounding.
    expected = (rows.astype(np.float64) - shift.astype(dtype)) @ C_f[:, :n_features].T.astype(
        np.float64)
    scale = np.abs(rows.astype(np.float64) - shift.astype(dtype)) @ np.abs(
        C_f[:, :n_features].T.astype(np.float64))
    assert np.all(np.abs(one - expected) <= 4 * n_features * np.finfo(dtype).eps * scale + 1e-30)


@njit
def _dots_1(rows, i, shift_f, C_f, out):
    wide.dots_1_row(rows, i, shift_f, C_f, out)


@njit
def _dots_2(rows, i, shift_f, C_f, out):
    wide.dots_2_rows(rows, i, shift_f, C_f, out)


@njit
def _dots_4(rows, i, shift_f, C_f, out):
    wide.dots_4_rows(rows, i, shift_f, C_f, out)


@pytest.mark.parametrize("dtype, n_features", [(np.float64, 64), (np.float64, 160),
                                               (np.float64, 300), (np.float32, 131),
                                               (np.float32, 300), (np.float32, 784)])
def test_rows_taken_in_cache_or_not_get_the_same_values(dtype, n_features):
    # 4, 2 or 1 rows at a time by the rows' bytes; 2 at a time when in cache.
    # Near the origin, unshifted: the norms then do not swamp the dots' last bits.
    X, rng = _blobs(n_features, 101, n_features, dtype, 0.0)
    centres = X[rng.choice(len(X), 3, replace=False)].astype(np.float64)
    C_p, c_sq = padded_operands(centres, None, X.dtype)
    C_f, shift_f = wide.by_feature_operands(C_p, np.empty(0, dtype), n_features)
    results = []
    for in_cache in (False, True):
        best, labels, second = (np.empty(len(X), dtype), np.empty(len(X), np.int32),
                                np.empty(len(X), dtype))
        wide.nearest_by_feature(X, len(X), shift_f, C_f, c_sq, best, labels, second,
                                np.empty(12, dtype), in_cache)
        results.append((best.tobytes(), labels.tobytes(), second.tobytes()))
    assert results[0] == results[1]


@pytest.mark.parametrize("dtype, n_features", [(np.float64, 64), (np.float64, 97),
                                               (np.float32, 131), (np.float64, 300),
                                               (np.float32, 784)])
def test_a_rows_values_do_not_depend_on_its_place(dtype, n_features):
    X, rng = _blobs(n_features, 263, n_features, dtype, 0.0)
    centres = X[rng.choice(len(X), 3, replace=False)].astype(np.float64)
    C_t, c_sq = padded_operands(centres, None, X.dtype)
    assert wide.takes_by_feature(n_features, X.itemsize, c_sq)
    best, labels, second = _nearest(X, C_t, c_sq)
    # Each row alone, and the rows in another order.
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


@pytest.mark.parametrize("dtype, n_features", [(np.float64, 64), (np.float32, 160),
                                               (np.float64, 300), (np.float32, 784)])
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


@pytest.mark.parametrize("dtype, n_features, n_clusters, n_samples", [
    (np.float64, 64, 3, 6001), (np.float32, 128, 3, 6001),
    # Beyond 16 MiB (IN_CACHE_BYTES) a fit takes rows of 2 KiB or more one at a
    # time, and predict's slices two at a time.
    (np.float32, 784, 3, 6001), (np.float64, 300, 2, 7001)])
def test_fit_predict_threads_and_slices_agree(dtype, n_features, n_clusters, n_samples):
    X, rng = _blobs(5, n_samples, n_features, dtype, 10.0)
    init = X[rng.choice(len(X), n_clusters, replace=False)]
    fits = [KMeans(n_clusters, init=init, n_init=1, max_iter=30, tol=0.0, n_jobs=n_jobs).fit(X)
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
