"""The seeders' canonical row order: rows sorted by value, whatever the dtype or layout.

k-means++ and random seeding draw over cumulative masses in this order
(mixfit.kernels.row_order.lexicographic_row_order via mixfit.engine.init._canonical_order). It
used to be a hash of the rows' bytes, which made float32 and float64 copies of the
same data start from different rows (issue 10).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from sklearn.datasets import make_blobs

from mixfit import KMeans
from mixfit.kernels.row_order import _RADIX, _SMALL, lexicographic_row_order
from mixfit.engine.init import kmeans_plusplus, random_from_data


def _reference(X):
    """np.lexsort over the columns reversed (its last key is primary); stable, so ties by index."""
    order = np.lexsort(tuple(X[:, j] for j in range(X.shape[1] - 1, -1, -1)))
    sorted_rows = X[order]
    new_group = np.ones(X.shape[0], dtype=bool)
    new_group[1:] = ~np.all(sorted_rows[1:] == sorted_rows[:-1], axis=1)
    return order, new_group


def _tied_data(rng, n_samples, n_features, n_values):
    """Few distinct values per column, duplicated rows and -0.0 among the zeros."""
    X = rng.integers(-(n_values // 2), n_values - n_values // 2, size=(n_samples, n_features))
    X = X.astype(np.float64) * 0.25
    X[rng.integers(0, n_samples, n_samples // 4)] = X[rng.integers(0, n_samples, n_samples // 4)]
    zeros = np.flatnonzero(X == 0)
    X.flat[zeros[::2]] = -0.0
    return X


def _messy_csr(X, rng):
    """CSR copy of X with shuffled indices per row, explicit zeros and split (repeated) entries."""
    rows, cols = np.nonzero(X)
    values = X[rows, cols]
    # Explicit zeros (one of them -0.0), and one value split into two entries that add up.
    extra_rows = rng.integers(0, X.shape[0], 30)
    extra_cols = rng.integers(0, X.shape[1], 30)
    extra_values = np.where(np.arange(30) == 0, -0.0, 0.0)
    split = np.flatnonzero(values == 0.5)[:1]
    rows = np.concatenate([rows, extra_rows, rows[split]])
    cols = np.concatenate([cols, extra_cols, cols[split]])
    values = np.concatenate([values, extra_values, values[split]])
    values[split] = 0.25
    values[-split.size:] = 0.25
    # Shuffle the entries, then group them by row (stable): columns stay unsorted.
    shuffle = rng.permutation(rows.size)
    rows, cols, values = rows[shuffle], cols[shuffle], values[shuffle]
    by_row = np.argsort(rows, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=X.shape[0]))])
    csr = sparse.csr_matrix((values[by_row].astype(X.dtype), cols[by_row], indptr), shape=X.shape)
    assert not csr.has_sorted_indices and csr.nnz > np.count_nonzero(X)
    np.testing.assert_array_equal(csr.toarray(), X)
    return csr


# --------------------------------------------------------------------------- #
# the order itself


@pytest.mark.parametrize("n_samples", [0, 1, 2, _SMALL, 200, 5 * _RADIX])
@pytest.mark.parametrize("n_values", [3, 40, 10**6])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_order_is_lexsort_of_the_values(n_samples, n_values, dtype):
    # Small sizes take the insertion sort, medium ones the partitions, large ones
    # with many distinct values the radix sort.
    rng = np.random.default_rng(n_samples + n_values)
    X = _tied_data(rng, n_samples, 4, n_values).astype(dtype)
    order, new_group = lexicographic_row_order(X)
    expected_order, expected_new_group = _reference(X)
    assert order.dtype == np.int64
    np.testing.assert_array_equal(order, expected_order)
    np.testing.assert_array_equal(new_group, expected_new_group)
    # The same order read through another memory layout.
    for layout in (np.asfortranarray(X), X[:, ::-1][:, ::-1]):
        np.testing.assert_array_equal(lexicographic_row_order(layout)[0], expected_order)


def test_leading_constant_columns_are_skipped_correctly():
    # Image-like rows: blank leading columns, then a few columns that decide.
    rng = np.random.default_rng(0)
    X = np.zeros((3000, 60), dtype=np.float32)
    X[:, 40:50] = rng.integers(0, 3, size=(3000, 10)) * (rng.random((3000, 10)) < 0.3)
    X[::7, 55] = 1.0
    order, new_group = lexicographic_row_order(X)
    expected_order, expected_new_group = _reference(X)
    np.testing.assert_array_equal(order, expected_order)
    np.testing.assert_array_equal(new_group, expected_new_group)


@pytest.mark.parametrize("n_samples", [50, 3000])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_csr_order_is_the_dense_order(n_samples, dtype):
    rng = np.random.default_rng(n_samples)
    X = _tied_data(rng, n_samples, 6, 5).astype(dtype)
    X[rng.random(X.shape) < 0.5] = 0.0  # sparse enough that missing entries matter
    expected_order, expected_new_group = _reference(X)
    messy = _messy_csr(X, rng)
    sorted_messy = messy.copy()
    sorted_messy.sort_indices()  # sorted, but still with repeats and explicit zeros
    assert sorted_messy.nnz == messy.nnz
    for csr in (sparse.csr_matrix(X), sparse.csr_array(X), messy, sorted_messy):
        order, new_group = lexicographic_row_order(csr)
        np.testing.assert_array_equal(order, expected_order)
        np.testing.assert_array_equal(new_group, expected_new_group)


def test_the_sorted_values_do_not_depend_on_the_row_positions():
    rng = np.random.default_rng(1)
    X = _tied_data(rng, 4000, 3, 7)
    shuffled = X[rng.permutation(X.shape[0])]
    order, new_group = lexicographic_row_order(X)
    shuffled_order, shuffled_new_group = lexicographic_row_order(shuffled)
    np.testing.assert_array_equal(shuffled[shuffled_order] + 0.0, X[order] + 0.0)
    np.testing.assert_array_equal(shuffled_new_group, new_group)


@pytest.mark.parametrize("n_samples", [5, 40])
def test_rows_without_features_are_one_group(n_samples):
    for X in (np.empty((n_samples, 0)), sparse.csr_matrix((n_samples, 0)),
              sparse.csr_matrix((n_samples, 3))):
        order, new_group = lexicographic_row_order(X)
        np.testing.assert_array_equal(order, np.arange(n_samples))
        assert new_group.tolist() == [True] + [False] * (n_samples - 1)


def test_negative_zero_equals_zero():
    X = np.array([[0.0, 1.0], [-0.0, 1.0], [-0.0, -1.0], [0.0, -1.0]])
    order, new_group = lexicographic_row_order(X)
    assert order.tolist() == [2, 3, 0, 1]
    assert new_group.tolist() == [True, False, True, False]


def test_float32_and_float64_copies_give_the_same_order():
    X, _ = make_blobs(n_samples=5000, n_features=5, centers=4, random_state=0)
    np.testing.assert_array_equal(lexicographic_row_order(X.astype(np.float32))[0],
                                  lexicographic_row_order(X)[0])


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros((3, 2), dtype=np.int64), "float32 or float64.*astype"),
        (np.zeros(3), "2-D numpy array.*1 dimensions"),
        ([[0.0, 1.0]], "2-D numpy array.*list"),
        (sparse.coo_matrix(np.eye(3)), "CSR.*'coo'.*tocsr"),
        (sparse.csr_matrix(np.eye(3, dtype=np.int32)), "float32 or float64"),
    ],
)
def test_bad_input_is_refused_with_the_fix(X, match):
    with pytest.raises(TypeError, match=match):
        lexicographic_row_order(X)


def test_inconsistent_csr_is_refused():
    # The kernel indexes without bounds checks: it must look before it reads.
    csr = sparse.csr_matrix(np.eye(3))
    csr.indices[1] = 7  # a column outside the matrix
    with pytest.raises(ValueError, match="column index lies outside"):
        lexicographic_row_order(csr)
    csr = sparse.csr_matrix(np.eye(3))
    csr.indptr[1] = 3  # row 0 would run past row 1's start
    with pytest.raises(ValueError, match="indptr is not non-decreasing"):
        lexicographic_row_order(csr)


# --------------------------------------------------------------------------- #
# the seeders: same start in float32 and float64, weights still exact


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(n_samples=3000, n_features=4, centers=6, cluster_std=0.8, random_state=1)
    return X


@pytest.mark.parametrize("seeder", [kmeans_plusplus, random_from_data])
@pytest.mark.parametrize("seed", [0, 1, 42])
def test_seeders_start_from_the_same_rows_in_float32_and_float64(blobs, seeder, seed):
    centres64 = seeder(blobs, 6, random_state=seed)
    centres32 = seeder(blobs.astype(np.float32), 6, random_state=seed)
    assert centres32.dtype == np.float32
    np.testing.assert_allclose(centres32.astype(np.float64), centres64, rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 3, 7, 42])
def test_kmeans_labels_do_not_depend_on_the_dtype(blobs, seed):
    labels = [
        KMeans(n_clusters=6, n_init=1, random_state=seed).fit(blobs.astype(dtype)).labels_
        for dtype in (np.float64, np.float32)
    ]
    np.testing.assert_array_equal(labels[0], labels[1])


@pytest.mark.parametrize("seeder", [kmeans_plusplus, random_from_data])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weighted_rows_seed_like_shuffled_copies(blobs, seeder, dtype):
    rng = np.random.default_rng(5)
    X = blobs[:400].astype(dtype)
    weight = rng.integers(0, 4, X.shape[0])
    repeated = np.repeat(X, weight, axis=0)
    shuffled = repeated[rng.permutation(repeated.shape[0])]
    for seed in (0, 1, 2):
        weighted = seeder(X, 5, sample_weight=weight.astype(float), random_state=seed)
        copies = seeder(shuffled, 5, random_state=seed)
        np.testing.assert_array_equal(weighted, copies)
