"""Mini-batch steps on CSR data with scaled centres (engine/minibatch_sparse.py).

The scaled centres must move exactly as the eager update moves them (up to
rounding), keep their norms right across many steps, restart a centre with
no weight from its batch mean, reassign to batch rows as the eager path
does, and fold their scales in without changing a centre.
"""

import numpy as np
import pytest
from scipy import sparse

import mixfit
from mixfit.engine import minibatch
from mixfit.engine import minibatch_sparse
from mixfit.engine.kmeans_steps import _Runner
from mixfit.engine.minibatch_sparse import ScaledCentres


def _text_like(n, d, density, seed=0):
    rng = np.random.default_rng(seed)
    X = sparse.random(n, d, density=density, format="csr", random_state=seed,
                      data_rvs=lambda size: rng.exponential(size=size))
    # rows of very different lengths and some empty ones, as in text
    X = sparse.diags(rng.uniform(0.5, 2.0, size=n)) @ X
    return sparse.csr_matrix(X)


def _run_both(X, centers, n_steps, batch_size, ratio, seed=0):
    """The eager steps and the scaled ones over the same batches and draws."""
    eager = minibatch.centres_for(X, centers)
    eager_w = np.zeros(centers.shape[0])
    scaled = ScaledCentres(centers)
    scaled_w = np.zeros(centers.shape[0])
    rng_batches = np.random.default_rng(seed)
    rng_a, rng_b = np.random.RandomState(seed), np.random.RandomState(seed)
    inertias = []
    with _Runner(1, 1) as runner:
        for step in range(n_steps):
            batch = X[rng_batches.integers(0, X.shape[0], size=batch_size)]
            due = step % 3 == 2
            a = minibatch.minibatch_step(batch, eager, eager_w, None, rng=rng_a,
                                         random_reassign=due, reassignment_ratio=ratio,
                                         shift=None, chunk_size=256, runner=runner)
            b = scaled.step(batch, scaled_w, rng=rng_b, random_reassign=due,
                            reassignment_ratio=ratio)
            inertias.append((a, b))
    return eager, eager_w, scaled, scaled_w, inertias


@pytest.mark.parametrize("ratio", [0.0, 0.3])
def test_scaled_steps_move_the_centres_as_the_eager_ones(ratio):
    X = _text_like(3000, 400, 0.02)
    centers = X[:12].toarray()
    eager, eager_w, scaled, scaled_w, inertias = _run_both(X, centers, 40, 200, ratio)
    np.testing.assert_allclose(scaled.centers(), eager, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(scaled_w, eager_w)
    for a, b in inertias:
        assert b == pytest.approx(a, rel=1e-10)


def test_a_centre_without_weight_restarts_from_its_batch_mean():
    X = _text_like(500, 60, 0.1, seed=1)
    centers = X[:4].toarray() + 5.0  # far: the first batch moves them all at once
    scaled = ScaledCentres(centers)
    weight_sums = np.zeros(4)
    batch = X[100:300]
    scaled.step(batch, weight_sums, rng=np.random.RandomState(0), random_reassign=False,
                reassignment_ratio=0.0)
    labels = np.asarray(((batch.toarray()[:, None, :] - centers) ** 2).sum(axis=2).argmin(1))
    for k in range(4):
        members = batch.toarray()[labels == k]
        if len(members):
            np.testing.assert_allclose(scaled.centers()[k], members.mean(axis=0), rtol=1e-12)
            assert weight_sums[k] == len(members)


def test_norms_stay_exact_over_many_steps_and_folding_changes_no_centre(monkeypatch):
    X = _text_like(2000, 300, 0.03, seed=2)
    scaled = ScaledCentres(X[:8].toarray())
    weight_sums = np.zeros(8)
    rng = np.random.default_rng(0)
    for _ in range(minibatch_sparse.NORM_REFRESH - 1):
        scaled.step(X[rng.integers(0, 2000, size=100)], weight_sums,
                    rng=np.random.RandomState(0), random_reassign=False, reassignment_ratio=0.0)
    # the running norms, before their refresh, still match the centres
    exact = (scaled.centers() ** 2).sum(axis=1)
    np.testing.assert_allclose(scaled.scale ** 2 * scaled.v_sq, exact, rtol=1e-10)
    assert scaled.scale.min() < 1.0
    before = scaled.centers().copy()
    monkeypatch.setattr(minibatch_sparse, "RESCALE_BELOW", 2.0)
    scaled.step(X[:0], weight_sums, rng=np.random.RandomState(0), random_reassign=False,
                reassignment_ratio=0.0)
    np.testing.assert_array_equal(scaled.scale, 1.0)
    np.testing.assert_allclose(scaled.centers(), before, rtol=1e-14)
    np.testing.assert_allclose(scaled.v_sq, (before ** 2).sum(axis=1), rtol=1e-12)


def test_sparse_fit_matches_the_dense_fit_and_the_eager_path():
    X = _text_like(4000, 500, 0.02, seed=3)
    init = X[:10].toarray()
    params = dict(init=init, n_init=1, batch_size=256, max_iter=3, random_state=0)
    fit = mixfit.MiniBatchKMeans(10, **params).fit(X)
    dense = mixfit.MiniBatchKMeans(10, **params).fit(X.toarray())
    np.testing.assert_allclose(fit.cluster_centers_, dense.cluster_centers_, rtol=1e-8,
                               atol=1e-10)
    np.testing.assert_array_equal(fit.labels_, dense.labels_)
    # tol > 0 measures each step's move: the eager path, the same centres
    eager = mixfit.MiniBatchKMeans(10, tol=1e-300, **params).fit(X)
    np.testing.assert_allclose(fit.cluster_centers_, eager.cluster_centers_, rtol=1e-8,
                               atol=1e-10)


def test_the_kernels_refuse_indices_and_labels_outside_the_centres():
    from mixfit.kernels.kmeans_scaled import add_scaled_rows

    centers_t = np.zeros((5, 3))
    ones = np.ones(3)
    data, indptr = np.ones(2), np.array([0, 1, 2])
    with pytest.raises(ValueError, match="indices within the features"):
        add_scaled_rows(centers_t, ones, ones.copy(), ones, np.zeros(2, np.int32), data,
                        np.array([0, 5], np.int32), indptr)
    with pytest.raises(ValueError, match="labels in"):
        add_scaled_rows(centers_t, ones, ones.copy(), ones, np.array([0, 3], np.int32), data,
                        np.array([0, 4], np.int32), indptr)
