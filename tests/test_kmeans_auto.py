"""``algorithm="auto"`` from 64 clusters on: Lloyd's and Hamerly's E-steps by turns.

The switches follow counts of rows (labels changed, rows the bounds left to
compute), so an auto fit gives Lloyd's labels, the same for any thread count,
and it does prune where the bounds hold and stops where they do not.
"""

import numpy as np
import pytest

from mixfit.engine import kmeans_hamerly, kmeans_steps
from mixfit.engine.kmeans import lloyd
from mixfit.engine.kmeans_loop import _lloyd_loop


def _blobs(n_samples, n_features, n_blobs, spread, dtype, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.uniform(-50, 50, size=(n_blobs, n_features))
    X = means[rng.integers(n_blobs, size=n_samples)]
    X = X + spread * rng.normal(size=(n_samples, n_features))
    return X.astype(dtype), rng


@pytest.mark.parametrize("n_features, dtype", [(2, np.float64), (12, np.float32),
                                               (12, np.float64)])
def test_auto_gives_lloyds_labels_for_any_thread_count(n_features, dtype):
    X, rng = _blobs(6000, n_features, 80, 1.0, dtype)
    centers = X[rng.choice(len(X), 64, replace=False)].astype(np.float64)
    reference = lloyd(X, centers, max_iter=100, tol=0.0, algorithm="lloyd")
    one = lloyd(X, centers, max_iter=100, tol=0.0, algorithm="auto", n_jobs=1)
    two = lloyd(X, centers, max_iter=100, tol=0.0, algorithm="auto", n_jobs=2)
    np.testing.assert_array_equal(one.labels, reference.labels)
    assert one.n_iter == reference.n_iter
    np.testing.assert_allclose(one.centers, reference.centers, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(two.labels, one.labels)
    np.testing.assert_array_equal(two.centers, one.centers)
    assert two.inertia == one.inertia


def _run_auto(X, centers, max_iter):
    runner = kmeans_steps._runner(1, X, len(centers), 256)
    with runner:
        e_step = kmeans_hamerly._AutoHamerly(X, None, 256, None, runner, len(centers))
        phases = []

        def watch(iteration, centers, inertia):
            phases.append(e_step.pruning)

        result = _lloyd_loop(X, centers, None, max_iter, 0.0, watch, e_step, "numba")
    return result, e_step, phases


def test_auto_prunes_once_labels_settle_where_the_bounds_hold():
    # Well-separated blobs, one centre each: the bounds hold once labels settle.
    X, rng = _blobs(8000, 10, 64, 0.5, np.float64)
    centers = X[rng.choice(len(X), 64, replace=False)].astype(np.float64)
    result, e_step, phases = _run_auto(X, centers, 60)
    assert not phases[0]  # Lloyd's E-step first, while every label moves
    assert e_step.pruning and e_step.backoff == 2  # it never had to back off
    assert e_step.computed.sum() < 0.5 * len(X)
    reference = lloyd(X, centers, max_iter=60, tol=0.0, algorithm="lloyd")
    np.testing.assert_array_equal(result.labels, reference.labels)


def test_auto_goes_back_to_lloyd_where_the_bounds_do_not_hold():
    # Uniform noise in 40 dimensions: the nearest and second-nearest centres are
    # about equally far, so the bounds leave almost every row to compute.
    rng = np.random.default_rng(1)
    X = rng.uniform(size=(6000, 40))
    centers = X[rng.choice(len(X), 64, replace=False)].astype(np.float64)
    result, e_step, phases = _run_auto(X, centers, 40)
    assert any(phases)  # it tried the bounds ...
    assert e_step.backoff > 2  # ... and went back to Lloyd's E-step
    assert sum(phases) < len(phases) / 2
    reference = lloyd(X, centers, max_iter=40, tol=0.0, algorithm="lloyd")
    np.testing.assert_array_equal(result.labels, reference.labels)


def _half_gaps(X, centers, n_threads, calls):
    """``half_gap`` as Hamerly's E-step measures it on each of ``calls`` calls."""
    gaps = []
    with kmeans_steps._Runner(n_threads, 8) as runner:
        e_step = kmeans_hamerly._Hamerly(X, None, 256, None, runner, len(centers))
        for _ in range(calls):
            gaps.append(e_step._centre_geometry(centers)[3])
            e_step(centers)
    return gaps


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_first_pruned_call_measures_the_gaps_only_where_they_are_cheap(dtype):
    # Before the first call no row has a bound, so every row is computed but
    # those the gaps alone would save. With 64 centres for 1,000 rows the gaps'
    # K × K GEMM costs more than 1/16 of that pass, and zeros (valid lower
    # bounds) stand in for them; the calls after it do measure them.
    X, rng = _blobs(1000, 12, 64, 0.5, dtype)
    centers = X[rng.choice(len(X), 64, replace=False)].astype(np.float64)
    first, second = _half_gaps(X, centers, 1, 2)
    assert not first.any() and (second > 0).all()
    # With 4,000 rows they are measured from the start.
    X, rng = _blobs(4000, 12, 64, 0.5, dtype)
    centers = X[rng.choice(len(X), 64, replace=False)].astype(np.float64)
    assert (_half_gaps(X, centers, 1, 1)[0] > 0).all()
    # Either way the labels are Lloyd's.
    for n_samples in (1000, 4000):
        X, rng = _blobs(n_samples, 12, 64, 0.5, dtype)
        centers = X[rng.choice(len(X), 64, replace=False)].astype(np.float64)
        pruned = lloyd(X, centers, max_iter=30, tol=0.0, algorithm="hamerly")
        reference = lloyd(X, centers, max_iter=30, tol=0.0, algorithm="lloyd")
        np.testing.assert_array_equal(pruned.labels, reference.labels)


def test_gaps_between_centres_do_not_depend_on_the_thread_count():
    # 300 centres are 3 blocks of the K × K GEMM, which the threads share.
    X, rng = _blobs(20000, 6, 300, 0.5, np.float64)
    centers = X[rng.choice(len(X), 300, replace=False)].astype(np.float64)
    one, two = (_half_gaps(X, centers, n_threads, 1)[0] for n_threads in (1, 2))
    assert (one > 0).all()
    np.testing.assert_array_equal(two, one)
    # A brute-force check of the bound: at most half the distance to the nearest other centre.
    between = np.sqrt(((centers[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2))
    np.fill_diagonal(between, np.inf)
    assert (one <= 0.5 * between.min(axis=1)).all()
    np.testing.assert_allclose(one, 0.5 * between.min(axis=1), rtol=1e-6)


@pytest.mark.parametrize("n_features, dtype", [(2, np.float64), (20, np.float32)])
def test_hamerly_blocks_on_numba_threads_give_the_pools_bits(n_features, dtype):
    # Hamerly's blocks (GEMM or direct kernels) run in one numba parallel region
    # where numba's threading layer allows; the statistics, bounds and the rows
    # each block computed are those of the Python pool's run.
    from mixfit.kernels.parallel import numba_threads_usable

    if not numba_threads_usable():
        pytest.skip("numba has no thread-safe threading layer (OpenMP or TBB) here")
    X, rng = _blobs(30_000, n_features, 80, 1.0, dtype)
    centers = X[rng.choice(len(X), 80, replace=False)].astype(np.float64)
    moved = centers + rng.normal(scale=0.05, size=centers.shape)
    runs = []
    for numba_threads in (True, False):
        with kmeans_steps._runner(2, X, 80, 256) as runner:
            assert runner.n_threads == 2 and runner.numba_threads
            runner.numba_threads = numba_threads
            e_step = kmeans_hamerly._Hamerly(X, None, 256, None, runner, 80)
            steps = [e_step(c) for c in (centers, moved)]  # the second call prunes
            runs.append((steps, e_step.labels.copy(), e_step.lower.copy(),
                         e_step.computed.copy()))
    (a_steps, a_labels, a_lower, a_computed), (b_steps, b_labels, b_lower, b_computed) = runs
    for (a_changed, a), (b_changed, b) in zip(a_steps, b_steps):
        assert a_changed == b_changed and a.inertia == b.inertia
        assert a.sums.tobytes() == b.sums.tobytes() and a.counts.tobytes() == b.counts.tobytes()
    np.testing.assert_array_equal(a_labels, b_labels)
    assert a_lower.tobytes() == b_lower.tobytes()
    np.testing.assert_array_equal(a_computed, b_computed)
    assert a_computed.sum() < len(X)  # the bounds did save rows
