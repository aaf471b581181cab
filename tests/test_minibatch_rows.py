"""The rows of a mini-batch taken out of X (mixfit.engine.minibatch.BatchRows)
and the centre update's two paths (every centre reached, or some)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from mixfit.engine import minibatch
from mixfit.engine.kmeans_common import KMeansStats
from mixfit.kernels import gather


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", [gather.gather_rows, gather.gather_rows_parallel])
def test_gather_kernels_copy_the_rows_bit_for_bit(kernel, dtype):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(500, 37)).astype(dtype)
    X[3, 5] = -0.0
    rows = rng.randint(0, 500, 300).astype(np.int64)
    rows[:3] = [3, 0, 499]
    out = np.full((300, 37), np.nan, dtype=dtype)
    kernel(X, rows, out)
    assert out.tobytes() == X[rows].tobytes()  # -0.0 and every bit kept


@pytest.mark.parametrize("bad", [[0, 500], [-1, 2]])
def test_gather_refuses_rows_out_of_range(bad):
    X = np.zeros((500, 4))
    with pytest.raises(ValueError, match="gather_rows"):
        gather.gather_rows(X, np.array(bad, dtype=np.int64), np.empty((2, 4)))


def test_gather_refuses_a_buffer_of_the_wrong_shape():
    X = np.zeros((10, 4))
    with pytest.raises(ValueError, match="gather_rows"):
        gather.gather_rows(X, np.arange(3, dtype=np.int64), np.empty((2, 4)))


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("layout", ["C", "F", "memmap", "csr", "int"])
def test_batch_rows_are_x_rows_whatever_the_data(layout, n_jobs, tmp_path):
    rng = np.random.RandomState(1)
    X = rng.normal(size=(2000, 40))
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "memmap":
        path = tmp_path / "x.npy"
        np.save(path, X)
        X = np.load(path, mmap_mode="r")
    elif layout == "csr":
        X = sparse.csr_matrix(np.where(X > 1.0, X, 0.0))
    elif layout == "int":
        X = (10 * X).astype(np.int64)
    take = minibatch.BatchRows(X, 1024, n_jobs)
    # Dense float C-ordered data (memory maps too) goes through the kernels.
    assert (take.buffer is not None) == (layout in ("C", "memmap"))
    for size in (1024, 700):  # a last, shorter batch
        rows = rng.randint(0, 2000, size)
        batch = take(rows)
        expected = X[rows]
        if sparse.issparse(X):
            assert (batch != expected).nnz == 0
        else:
            np.testing.assert_array_equal(batch, expected)
            assert batch.dtype == X.dtype and batch.shape == (size, 40)


def test_batch_rows_go_parallel_only_from_enough_bytes():
    small = np.zeros((100, 2))
    large = np.zeros((100, 64))
    assert not minibatch.BatchRows(small, 1024, 2).parallel  # 16 KiB a batch
    assert not minibatch.BatchRows(large, 1024, 1).parallel
    parallel = minibatch.BatchRows(large, 1024, 2).parallel  # 512 KiB a batch
    from mixfit.kernels.parallel import numba_threads_usable

    assert parallel == numba_threads_usable()


@pytest.mark.parametrize("reached", ["all", "some"])
def test_centre_update_is_the_same_arithmetic_on_both_paths(reached):
    # Every centre reached: updated in place; some: through their indices. The
    # result must be c·W/(W+m) + s/(W+m), rounded the same way either way.
    rng = np.random.RandomState(2)
    centers = rng.normal(size=(6, 5))
    weight_sums = rng.uniform(1.0, 9.0, 6)
    counts = rng.uniform(1.0, 3.0, 6)
    if reached == "some":
        counts[[1, 4]] = 0.0
    sums = rng.normal(size=(6, 5)) * counts[:, None]
    expected = centers.copy()
    for k in np.flatnonzero(counts):
        new = weight_sums[k] + counts[k]
        expected[k] = centers[k] * (weight_sums[k] / new) + sums[k] * (1.0 / new)
    new_centers, new_sums = centers.copy(), weight_sums.copy()
    minibatch.update_centers(new_centers, new_sums, KMeansStats(counts, sums, 0.0))
    assert new_centers.tobytes() == expected.tobytes()  # in place: the steps rely on it
    np.testing.assert_array_equal(new_sums, weight_sums + counts)
    # Fortran-ordered centres take numpy's indexed path: the same bytes.
    fortran, fortran_sums = np.asfortranarray(centers), weight_sums.copy()
    minibatch.update_centers(fortran, fortran_sums, KMeansStats(counts, sums, 0.0))
    assert np.ascontiguousarray(fortran).tobytes() == expected.tobytes()
    np.testing.assert_array_equal(fortran_sums, new_sums)


def test_move_centres_refuses_arrays_of_other_shapes():
    from mixfit.kernels import kmeans_totals

    with pytest.raises(ValueError, match="move_centres"):
        kmeans_totals.move_centres(np.zeros((3, 4)), np.ones(3), np.ones(3), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="move_centres"):
        kmeans_totals.move_centres(np.zeros((3, 4)), np.ones(2), np.ones(3), np.zeros((3, 4)))


def test_sparse_sums_move_fortran_centres_as_they_move_c_ordered_ones():
    # Fortran-ordered centres (CSR data) take one numba call; C-ordered ones
    # numpy's np.add.at. Repeated (centre, column) pairs add up in both, and a
    # centre the batch did not reach stays exactly where it was.
    rng = np.random.RandomState(3)
    centers = rng.normal(size=(6, 40))
    weight_sums = rng.uniform(1.0, 9.0, 6)
    rows = rng.randint(0, 6, 300)
    rows = rows[rows != 4]
    cols = rng.randint(0, 40, rows.size)
    rows[:3], cols[:3] = 2, 7
    counts = np.bincount(rows, minlength=6).astype(np.float64)
    sums = sparse.coo_matrix((rng.normal(size=rows.size), (rows, cols)), shape=(6, 40))
    moved = []
    for order in ("F", "C"):
        new_centers, new_sums = np.array(centers, order=order), weight_sums.copy()
        minibatch.update_centers(new_centers, new_sums, KMeansStats(counts, sums, 0.0))
        moved.append(new_centers)
    assert moved[0].tobytes(order="C") == moved[1].tobytes(order="C")
    assert np.array_equal(moved[0][4], centers[4])
    dense = np.zeros((6, 40))
    np.add.at(dense, (rows, cols), sums.data)
    new = weight_sums + counts
    expected = centers * (weight_sums / new)[:, None] + dense * (1.0 / new)[:, None]
    expected[4] = centers[4]
    np.testing.assert_allclose(moved[0], expected, rtol=1e-12, atol=1e-12)


def test_move_centres_by_triples_refuses_coordinates_outside_the_centres():
    from mixfit.kernels import kmeans_totals

    centers_t = np.zeros((5, 3))
    for row, col in ((3, 0), (0, 5), (-1, 0)):
        with pytest.raises(ValueError, match="move_centres_by_triples"):
            kmeans_totals.move_centres_by_triples(
                centers_t, np.ones(3), np.array([row], dtype=np.int32),
                np.array([col], dtype=np.int32), np.ones(1), np.ones(3))


def test_column_sq_norms_are_the_centres_squared_norms():
    from mixfit.kernels import kmeans_sparse

    rng = np.random.RandomState(4)
    centers = np.asfortranarray(rng.normal(size=(7, 300)))
    c_sq = kmeans_sparse.column_sq_norms(centers.T, np.empty(7))
    np.testing.assert_allclose(c_sq, (centers ** 2).sum(axis=1), rtol=1e-14)
    with pytest.raises(ValueError, match="column_sq_norms"):
        kmeans_sparse.column_sq_norms(centers.T, np.empty(6))


@pytest.mark.parametrize("n_parts", [1, 2, 3, 7])
def test_sums_shared_out_by_centres_are_the_serial_sums_to_the_last_bit(n_parts):
    from mixfit.kernels import kmeans as kernels
    from mixfit.kernels import kmeans_totals

    rng = np.random.default_rng(4)
    X = rng.standard_normal((500, 9)) * 1e3
    rows = rng.integers(0, 500, size=300).astype(np.int64)
    labels = rng.integers(0, 11, size=300).astype(np.int32)
    serial = np.zeros((11, 9))
    kernels.add_rows_by_label(X, labels, np.empty(0), serial, rows)
    expected = np.zeros((11, 9))
    np.add.at(expected, labels, X[rows])
    np.testing.assert_allclose(serial, expected, rtol=1e-12)
    shared = np.zeros((11, 9))
    kmeans_totals.add_rows_by_label_parallel(X, labels, shared, rows, n_parts)
    assert shared.tobytes() == serial.tobytes()
    labels[5] = 11
    with pytest.raises(ValueError, match="add_rows_by_label_parallel"):
        kmeans_totals.add_rows_by_label_parallel(X, labels, shared, rows, n_parts)
