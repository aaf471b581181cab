"""Lloyd's E-step that carries the clusters' statistics between iterations.

The kernel's ``changes_only`` mode is checked bit for bit against a loop that
takes each changed row out of its old cluster and into its new one, rows in
order; the E-step against the plain one on the same centres (labels, counts
and inertia equal, sums within rounding), for each of its rules for summing
afresh; an emptied cluster holds exact zeros; and whole fits against fits that
never carry, across thread counts.
"""

import numpy as np
import pytest

from mixfit import KMeans
from mixfit.engine import kmeans_carried
from mixfit.engine.kmeans import lloyd
from mixfit.engine.kmeans_carried import _CarriedLloydEStep
from mixfit.engine.kmeans_simd import uses_simd
from mixfit.engine.kmeans_steps import _e_step_kernel, _LloydEStep, _runner
from mixfit.kernels import kmeans_direct as direct
from mixfit.kernels import kmeans_simd as simd


def _blobs(seed, n_samples, n_features, dtype, n_blobs=6):
    rng = np.random.default_rng(seed)
    means = rng.uniform(-4, 4, size=(n_blobs, n_features))
    X = means[rng.integers(n_blobs, size=n_samples)] + rng.normal(size=(n_samples, n_features))
    return X.astype(dtype), rng


def _block(X, centers, labels, changes_only, weight=None, kernel="simd"):
    """One block by the SIMD micro-kernel or the direct kernel (lloyd_direct)."""
    n_clusters, n_features = centers.shape
    sums, counts = np.zeros((n_clusters, n_features)), np.zeros(n_clusters)
    weight = np.empty(0) if weight is None else weight
    if kernel == "direct":
        inertia, n_changed = direct.lloyd_direct(
            X, centers.astype(np.float64), weight, labels, np.empty(0), sums, counts,
            changes_only)
        return counts, sums, inertia, n_changed
    C = centers.astype(X.dtype)
    C_t, c_sq = simd.padded_centres(-2 * C, np.einsum("ij,ij->i", C, C))
    empty = np.empty(0, X.dtype)
    inertia, n_changed = simd.lloyd_simd_block(
        X, empty, C_t, c_sq, n_clusters, empty, weight, labels, np.empty(0), sums, counts,
        changes_only)
    return counts, sums, inertia, n_changed


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel, n_features, n_clusters",
                         [("simd", 6, 3), ("simd", 16, 8), ("simd", 13, 20), ("direct", 3, 5),
                          ("direct", 2, 40)])
@pytest.mark.parametrize("weighted", [False, True])
def test_changes_only_is_the_change_row_by_row(dtype, kernel, n_features, n_clusters, weighted):
    X, rng = _blobs(0, 1003, n_features, dtype)
    weight = rng.uniform(0.5, 2.0, size=len(X)) if weighted else None
    old = X[rng.choice(len(X), n_clusters, replace=False)].astype(np.float64)
    new = old + rng.normal(scale=0.5, size=old.shape)
    labels = np.full(len(X), -1, dtype=np.int32)
    _block(X, old, labels, False, weight, kernel)
    previous = labels.copy()
    fresh = labels.copy()
    _, _, fresh_inertia, fresh_changed = _block(X, new, fresh, False, weight, kernel)
    counts, sums, inertia, n_changed = _block(X, new, labels, True, weight, kernel)
    # Labels, inertia and the changed count are the plain pass's.
    np.testing.assert_array_equal(labels, fresh)
    assert inertia == fresh_inertia and n_changed == fresh_changed
    assert 0 < n_changed < len(X)
    # The change, added row by row in row order, float64 products as add_row's.
    expect_counts, expect_sums = np.zeros(n_clusters), np.zeros((n_clusters, n_features))
    for i in np.flatnonzero(previous != labels):
        w = 1.0 if weight is None else weight[i]
        x = X[i].astype(np.float64)
        expect_counts[previous[i]] -= w
        expect_counts[labels[i]] += w
        expect_sums[previous[i]] += -w * x
        expect_sums[labels[i]] += x if weight is None else w * x
    np.testing.assert_array_equal(counts, expect_counts)
    np.testing.assert_array_equal(sums, expect_sums)


@pytest.mark.parametrize("kernel", ["simd", "direct"])
def test_changes_only_refuses_rows_without_a_previous_label(kernel):
    X, rng = _blobs(1, 100, 3 if kernel == "direct" else 6, np.float64)
    labels = np.zeros(len(X), dtype=np.int32)
    labels[7] = -1
    with pytest.raises(ValueError, match="previous label"):
        _block(X, X[:3].astype(np.float64), labels, True, kernel=kernel)


def _steps(X, n_clusters, n_jobs=1):
    runner = _runner(n_jobs, X, n_clusters, None)
    carried = _CarriedLloydEStep(X, 4096, None, runner, n_clusters)
    plain = _LloydEStep(X, None, 4096, None, runner, n_clusters)
    return runner, carried, plain


def _compare(carried, plain, centers):
    """One call of each on the same centres; returns whether the carried one carried
    (and keeps its statistics in ``carried.last``)."""
    carries = carried._carry()
    n_carried, stats_carried = carried(centers)
    n_plain, stats_plain = plain(centers)
    np.testing.assert_array_equal(carried.labels, plain.labels)
    assert n_carried == n_plain
    assert stats_carried.inertia == stats_plain.inertia
    np.testing.assert_array_equal(stats_carried.counts, stats_plain.counts)
    np.testing.assert_allclose(stats_carried.sums, stats_plain.sums, rtol=1e-12, atol=1e-9)
    carried.last = stats_carried
    return carries


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_carried_statistics_are_the_plain_steps_through_a_run(dtype):
    X, rng = _blobs(2, 20_000, 16, dtype)
    assert uses_simd(16, 8, dtype)
    runner, carried, plain = _steps(X, 8)
    centers = X[rng.choice(len(X), 8, replace=False)].astype(np.float64)
    carries = []
    with runner:
        for _ in range(12):
            carries.append(_compare(carried, plain, centers))
            # Small moves: few rows change, the statistics are carried.
            centers = centers + rng.normal(scale=0.02, size=centers.shape)
    assert carries[0] is False and sum(carries) >= 8


def test_many_changes_a_shrunken_cluster_or_many_carries_sum_afresh(monkeypatch):
    X, rng = _blobs(3, 20_000, 16, np.float64)
    runner, carried, plain = _steps(X, 8)
    centers = X[rng.choice(len(X), 8, replace=False)].astype(np.float64)
    with runner:
        assert not _compare(carried, plain, centers)  # first call
        assert not _compare(carried, plain, centers)  # after one that changed every row
        assert _compare(carried, plain, centers)  # after one that changed none: carried
        assert _compare(carried, plain, centers[::-1].copy())  # carried, changes them all
        assert not _compare(carried, plain, centers)  # so this one sums afresh
        assert not _compare(carried, plain, centers)
        assert _compare(carried, plain, centers)
        # Cluster 0's centre far away: it loses every row in a carried call, and
        # holds exact zeros (the counts are whole numbers).
        away = centers.copy()
        away[0] = 1e3
        before = carried.counts[0]
        assert before > 0 and before < 0.25 * len(X)
        # What rounding may leave after taking every row back out (here the rows
        # come out in the order they went in, which happens to cancel exactly).
        carried.sums[0] += 1e-13
        assert _compare(carried, plain, away)
        assert carried.last.counts[0] == 0 and np.all(carried.last.sums[0] == 0)
        assert not carried._carry()  # below half its weight at the last fresh sum
        assert not _compare(carried, plain, away)
        # Carried steps until the changed rows add up to n: then afresh.
        carried.changed_since_fresh = len(X) - 1
        carried.n_changed = 1
        assert not carried._carry()
    monkeypatch.setattr(kmeans_carried, "CARRY_MAX_CHANGED_SHARE", -1.0)
    assert not carried._carry()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_features, n_clusters", [(64, 8), (160, 3), (3, 12), (2, 5)])
def test_fits_with_and_without_carrying_agree_on_any_thread_count(monkeypatch, dtype,
                                                                   n_features, n_clusters):
    X, rng = _blobs(4, 30_000, n_features, dtype, n_blobs=n_clusters)
    # The SIMD micro-kernel, and at 2 × 5 the direct kernel (float64) or the GEMM path.
    expected = (("direct" if dtype == np.float64 else "gemm") if n_clusters == 5 else "simd")
    assert _e_step_kernel(n_features, n_clusters, dtype) == expected
    init = X[rng.choice(len(X), n_clusters, replace=False)]
    calls = []
    original = _CarriedLloydEStep.__call__

    def counted(self, centers):
        calls.append(self._carry())
        return original(self, centers)

    monkeypatch.setattr(_CarriedLloydEStep, "__call__", counted)
    fits = [KMeans(n_clusters, init=init, tol=0, max_iter=30, n_jobs=n_jobs).fit(X)
            for n_jobs in (1, 2)]
    assert any(calls)  # the carried steps ran
    np.testing.assert_array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    np.testing.assert_array_equal(fits[0].labels_, fits[1].labels_)
    monkeypatch.setattr(kmeans_carried, "CARRY_MAX_CHANGED_SHARE", -1.0)
    calls.clear()
    never = KMeans(n_clusters, init=init, tol=0, max_iter=30).fit(X)
    assert not any(calls)
    np.testing.assert_array_equal(never.labels_, fits[0].labels_)
    assert never.n_iter_ == fits[0].n_iter_
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(never.cluster_centers_, fits[0].cluster_centers_, rtol=rtol,
                               atol=rtol)
    np.testing.assert_allclose(never.inertia_, fits[0].inertia_, rtol=rtol)


def test_weighted_fits_do_not_carry(monkeypatch):
    X, rng = _blobs(5, 5000, 16, np.float64)
    created = []
    original = _CarriedLloydEStep.__init__

    def recorded(self, *args, **kwargs):
        created.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(_CarriedLloydEStep, "__init__", recorded)
    KMeans(8, random_state=0, n_init=1).fit(X, sample_weight=rng.uniform(1, 2, len(X)))
    assert not created
    KMeans(8, random_state=0, n_init=1).fit(X)
    assert created


@pytest.mark.parametrize("offset", [0.0, 1e4])
def test_a_fit_keeps_the_norms_of_its_moment_pass_unless_it_shifts(monkeypatch, offset):
    from mixfit.engine import kmeans_steps

    X, rng = _blobs(6, 20_000, 40, np.float64)
    X += offset
    computed = []
    original = kmeans_steps._kept_row_sq_norms

    def recorded(*args):
        computed.append(args)
        return original(*args)

    monkeypatch.setattr(kmeans_steps, "_kept_row_sq_norms", recorded)
    init = X[:5]
    model = KMeans(5, init=init, n_init=1, tol=0, max_iter=15).fit(X)
    # With a shift the norms are of x − shift: the run computes them itself.
    assert len(computed) == (1 if offset else 0)
    reference = lloyd(X, init, max_iter=15, tol=0, kernel="numpy",
                      shift=X.mean(axis=0) if offset else None)
    np.testing.assert_array_equal(model.labels_, reference.labels)
    np.testing.assert_allclose(model.inertia_, reference.inertia, rtol=1e-9)
