"""Mini-batches read where they lie (mixfit.engine.minibatch_rows.IndexedRows):
the SIMD kernel reading X[row_index] gives bit for bit what it gives on the
copied rows, and a fit that reads its batches in place ends exactly where one
that copies them does."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

import mixfit
from mixfit.engine import minibatch
from mixfit.engine.minibatch_rows import BatchRows, IndexedRows
from mixfit.kernels import kmeans_simd as simd


def _centres(rng, n_clusters, X, shift):
    C = (X[rng.randint(0, X.shape[0], n_clusters)] + 0.1).astype(np.float64)
    shifted = (C - shift).astype(X.dtype)
    return simd.padded_centres(-2 * shifted, np.einsum("ij,ij->i", shifted, shifted))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_features, n_clusters", [(784, 3), (784, 16), (160, 9), (5, 12)])
@pytest.mark.parametrize("shifted", [True, False])
def test_indexed_rows_give_the_copied_rows_results_bit_for_bit(n_features, n_clusters, dtype,
                                                               shifted):
    rng = np.random.RandomState(0)
    X = (rng.normal(size=(3000, n_features)) + rng.randint(0, 4, (3000, 1))).astype(dtype)
    # 301 rows: chunks of every length the kernel cuts (and a tail of 5).
    rows = rng.randint(0, 3000, 301).astype(np.int64)
    rows[:2] = [0, 2999]
    shift = X.mean(axis=0).astype(dtype) if shifted else np.empty(0, dtype=dtype)
    C_t, c_sq = _centres(rng, n_clusters, X, shift if shifted else 0.0)
    none = np.empty(0, dtype=dtype)
    results = []
    for data, index in ((X[rows], None), (X, rows)):
        labels = np.full(301, -1, dtype=np.int32)
        sums, counts = np.zeros((n_clusters, n_features)), np.zeros(n_clusters)
        args = (data, shift, C_t, c_sq, n_clusters, none, np.empty(0), labels, none, sums,
                counts, False)
        inertia, _ = simd.lloyd_simd_block(*args) if index is None else simd.lloyd_simd_block(
            *args, index)
        results.append((inertia, labels, sums, counts))
    (a_inertia, a_labels, a_sums, a_counts), (b_inertia, b_labels, b_sums, b_counts) = results
    assert a_inertia == b_inertia
    assert np.array_equal(a_labels, b_labels) and a_labels.min() >= 0
    assert a_sums.tobytes() == b_sums.tobytes() and np.array_equal(a_counts, b_counts)
    assert a_counts.sum() == 301
    # The sums are those of the rows each label names.
    expected = np.zeros_like(a_sums)
    np.add.at(expected, a_labels, X[rows].astype(np.float64))
    np.testing.assert_allclose(a_sums, expected, rtol=1e-12, atol=1e-9)


def test_the_parallel_driver_sums_its_blocks_like_the_serial_kernel():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(2000, 200))
    rows = rng.randint(0, 2000, 1024).astype(np.int64)
    shift = X.mean(axis=0)
    C_t, c_sq = _centres(rng, 10, X, shift)
    starts = np.array([0, 300, 1024])
    labels = np.empty(1024, dtype=np.int32)
    sums, counts = np.zeros((2, 10, 200)), np.zeros((2, 10))
    inertia, changed = np.zeros(2), np.zeros(2, dtype=np.int64)
    simd.lloyd_simd_rows_blocks(X, rows, starts, shift, C_t, c_sq, 10, labels, sums, counts,
                                inertia, changed)
    for b in range(2):
        lo, hi = starts[b], starts[b + 1]
        block_labels = np.empty(hi - lo, dtype=np.int32)
        block_sums, block_counts = np.zeros((10, 200)), np.zeros(10)
        block_inertia, _ = simd.lloyd_simd_block(
            X[rows[lo:hi]], shift, C_t, c_sq, 10, np.empty(0), np.empty(0), block_labels,
            np.empty(0), block_sums, block_counts, False)
        assert inertia[b] == block_inertia
        assert np.array_equal(labels[lo:hi], block_labels)
        assert np.array_equal(sums[b], block_sums) and np.array_equal(counts[b], block_counts)


@pytest.mark.parametrize("bad", [2000, -1])
def test_rows_out_of_range_are_refused_before_the_threads_start(bad):
    rng = np.random.RandomState(2)
    X = rng.normal(size=(2000, 20))
    rows = np.arange(64, dtype=np.int64)
    rows[10] = bad
    C_t, c_sq = _centres(rng, 8, X, 0.0)
    with pytest.raises(ValueError, match="lloyd_simd_rows_blocks"):
        simd.lloyd_simd_rows_blocks(X, rows, np.array([0, 64]), np.empty(0), C_t, c_sq, 8,
                                    np.empty(64, dtype=np.int32), np.zeros((1, 8, 20)),
                                    np.zeros((1, 8)), np.zeros(1), np.zeros(1, dtype=np.int64))
    with pytest.raises(ValueError, match="lloyd_simd_block"):
        simd.lloyd_simd_block(X, np.empty(0), C_t, c_sq, 8, np.empty(0), np.empty(0),
                              np.empty(64, dtype=np.int32), np.empty(0), np.zeros((8, 20)),
                              np.zeros(8), False, rows)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_batch_statistics_in_place_equal_those_of_the_copied_batch(n_jobs):
    rng = np.random.RandomState(3)
    X = rng.normal(size=(5000, 784))
    rows = rng.randint(0, 5000, 1024)
    centers = minibatch.centres_for(X, X[:16] + 0.5)
    shift = X.mean(axis=0)
    chunk = minibatch.resolve_chunk_size(None, 16, X)
    with minibatch.batch_runner(n_jobs, 1024, chunk, 784, 16) as runner:
        copied = minibatch.batch_statistics(X[rows], centers, shift=shift, chunk_size=chunk,
                                            runner=runner)
        in_place = minibatch.batch_statistics(IndexedRows(X, rows.astype(np.int64)), centers,
                                              shift=shift, chunk_size=chunk, runner=runner)
    assert copied.inertia == in_place.inertia
    assert np.array_equal(copied.counts, in_place.counts)
    assert np.array_equal(copied.sums, in_place.sums)


def test_an_indexed_batch_the_kernel_cannot_read_in_place_is_copied_out():
    # 2 clusters run the GEMM path: the batch is taken out first.
    rng = np.random.RandomState(4)
    X = rng.normal(size=(3000, 40))
    rows = rng.randint(0, 3000, 512).astype(np.int64)
    centers = minibatch.centres_for(X, X[:2])  # 2 clusters: not the SIMD kernel
    chunk = minibatch.resolve_chunk_size(None, 2, X)
    with minibatch.batch_runner(1, 512, chunk, 40, 2) as runner:
        copied = minibatch.batch_statistics(X[rows], centers, chunk_size=chunk, runner=runner)
        indexed = minibatch.batch_statistics(IndexedRows(X, rows), centers, chunk_size=chunk,
                                             runner=runner)
    assert copied.inertia == indexed.inertia and np.array_equal(copied.sums, indexed.sums)


def test_which_batches_are_read_in_place():
    wide = np.zeros((3000, 784))
    # The micro-kernel with the sums in its blocks, two blocks a batch: in place.
    assert minibatch.reads_rows_in_place(wide, 1024, 256, 16, n_jobs=2)
    assert minibatch.reads_rows_in_place(wide, 1024, 256, 3, n_jobs=2)
    # The GEMM path (784 × 1024 float64) copies its batches; so do CSR and
    # Fortran-ordered data.
    assert not minibatch.reads_rows_in_place(wide, 1024, 256, 1024, n_jobs=2)
    assert not minibatch.reads_rows_in_place(sparse.csr_matrix(wide), 1024, 256, 16, n_jobs=2)
    assert not minibatch.reads_rows_in_place(np.asfortranarray(wide), 1024, 256, 16, n_jobs=2)
    # One block a batch: the copy on two threads reads faster, on one slower.
    narrow = np.zeros((3000, 32), dtype=np.float32)
    assert minibatch.batch_block_rows(1024, 256, 32, 8) == 1024
    assert BatchRows.copies_in_parallel(narrow, 1024, 2) == (
        not minibatch.reads_rows_in_place(narrow, 1024, 256, 8, n_jobs=2))
    assert minibatch.reads_rows_in_place(narrow, 1024, 256, 8, n_jobs=1)


def test_a_reassigned_centre_moves_to_the_same_row_from_an_indexed_batch():
    rng = np.random.RandomState(5)
    X = rng.normal(size=(500, 30))
    rows = rng.randint(0, 500, 64).astype(np.int64)
    moved = []
    for batch in (X[rows], IndexedRows(X, rows)):
        centers = np.zeros((6, 30))
        weights = np.array([100.0, 100.0, 1.0, 100.0, 0.5, 100.0])
        n = minibatch.reassign(centers, weights, batch, 0.05, np.random.RandomState(7))
        moved.append((n, centers.copy(), weights.copy()))
    assert moved[0][0] == moved[1][0] == 2
    assert np.array_equal(moved[0][1], moved[1][1]) and np.array_equal(moved[0][2], moved[1][2])
    assert set(map(tuple, moved[0][1][[2, 4]])) <= set(map(tuple, X[rows]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_features, n_clusters", [(784, 3), (784, 16), (160, 40), (24, 9)])
def test_a_fit_reading_in_place_ends_where_a_copying_one_does(monkeypatch, n_features,
                                                              n_clusters, dtype):
    rng = np.random.RandomState(6)
    X = (rng.normal(size=(4000, n_features))
         + 3 * rng.randint(0, n_clusters, (4000, 1))).astype(dtype)
    taken = []
    original = BatchRows.__call__

    def recording(self, rows):
        batch = original(self, rows)
        taken.append(isinstance(batch, IndexedRows))
        return batch

    monkeypatch.setattr(BatchRows, "__call__", recording)
    fits = []
    for in_place in (True, False):
        if not in_place:
            monkeypatch.setattr(minibatch, "reads_rows_in_place", lambda *args: False)
        for n_jobs in (1, 2):
            taken.clear()
            model = mixfit.MiniBatchKMeans(n_clusters, batch_size=1024, max_iter=2, n_init=1,
                                           random_state=0, n_jobs=n_jobs).fit(X)
            # In place whenever the copy would run on one thread; never when told not to.
            assert taken and (all(taken) if in_place and n_jobs == 1 else True)
            assert in_place or not any(taken)
            fits.append(model)
    for model in fits[1:]:
        assert np.array_equal(model.cluster_centers_, fits[0].cluster_centers_)
        assert np.array_equal(model.labels_, fits[0].labels_)
        assert model.inertia_ == fits[0].inertia_ and model.n_steps_ == fits[0].n_steps_
