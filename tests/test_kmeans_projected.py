"""Labelling through projection bounds (engine/kmeans_projected.py) gives exact labels.

The bounds must never exceed a true distance (else a nearer centre could be
skipped), the labels must be those of the exact distances to every centre, for
any block of rows and any thread count, and a pass whose bounds do not prune
must fall back to the GEMM path with the same labels.
"""

import numpy as np
import pytest

import mixfit
from mixfit.engine import kmeans as engine
from mixfit.engine import kmeans_projected as projected
from mixfit.engine.kmeans_steps import _Runner
from mixfit.kernels.kmeans_projected import label_by_bounds


@pytest.fixture
def small_shapes_projected(monkeypatch):
    """The projection's rules lowered to the small shapes of these tests; counts its passes."""
    monkeypatch.setattr(projected, "MIN_CLUSTERS", {"float32": 64, "float64": 64})
    monkeypatch.setattr(projected, "MIN_FEATURES", {"float32": 64, "float64": 64})
    monkeypatch.setattr(projected, "MIN_WORK_FLOAT64", 0)
    monkeypatch.setattr(projected, "MIN_STEP_CLUSTERS", 64)
    monkeypatch.setattr(projected, "screens_in_float32", lambda *args: False)
    passes = []
    label = projected.Projection.label

    def counted(self, X, *args, **kwargs):
        passes.append(X.shape[0])
        return label(self, X, *args, **kwargs)

    monkeypatch.setattr(projected.Projection, "label", counted)
    return passes


def _blobs(n, d, n_blobs, dtype, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    means = rng.uniform(-3.0, 3.0, size=(n_blobs, d)) + offset
    X = rng.standard_normal((n, d)) + means[rng.integers(0, n_blobs, size=n)]
    return X.astype(dtype)


def _fitted_centres(X, k, seed=0):
    """Means of the rows nearest k random rows: centres like a fit's, not rows."""
    rng = np.random.default_rng(seed)
    C = X[rng.choice(X.shape[0], k, replace=False)].astype(np.float64)
    labels = _exact(X, C)[0]
    for j in range(k):
        if np.any(labels == j):
            C[j] = X[labels == j].mean(axis=0)
    return C


def _exact(X, C):
    """Labels and distances from float64 differences to every centre."""
    X64 = np.asarray(X, dtype=np.float64)
    dist = np.stack([((X64 - c) ** 2).sum(axis=1) for c in np.asarray(C, np.float64)], axis=1)
    return dist.argmin(axis=1), dist


def _check_labels(X, C, labels, min_sq_dist, rel):
    """Each label is the exact nearest centre unless a nearer one is within rounding."""
    _, dist = _exact(X, C)
    rows = np.arange(X.shape[0])
    best = dist.min(axis=1)
    assert np.all(dist[rows, labels] <= best * (1 + rel) + 1e-300)
    np.testing.assert_allclose(min_sq_dist, dist[rows, labels], rtol=rel, atol=0)


def _label(X, C, n_jobs=1, rows=None):
    projection = projected.Projection(C, X.dtype)
    n = X.shape[0] if rows is None else rows.shape[0]
    labels = np.empty(n, dtype=np.int64)
    min_sq_dist = np.empty(n)
    with _Runner(n_jobs, 16) as runner:
        done = projection.label(X, C, labels, min_sq_dist, runner, rows=rows)
    return labels, min_sq_dist, done, projection


@pytest.mark.parametrize("dtype, rel", [(np.float64, 1e-12), (np.float32, 2e-4)])
@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_bounds_never_exceed_the_exact_distances(dtype, rel, offset):
    X = _blobs(600, 96, 8, dtype, offset=offset)
    C = _fitted_centres(X, 70)
    projection = projected.Projection(C, dtype, n_components=12)
    Cd, projected_t, terms = projection.centre_state(C)
    rows = np.arange(X.shape[0], dtype=np.int64)
    # as the kernel does: shifted in the data's dtype, rounded once to the bounds'
    shifted = (X[rows] - projection.shift).astype(projection.bounds_dtype)
    proj = shifted @ projection.basis_t
    dots = proj @ projected_t
    _, dist = _exact(X, Cd)
    label_by_bounds(X, rows, shifted, proj, dots, terms, Cd, projection.tau, projection.gamma,
                    np.empty(X.shape[0], np.int64), np.empty(X.shape[0]))
    assert projection.bounds_dtype == np.float32  # float64 data too: float32 bounds
    for i in range(X.shape[0]):
        bounds = dots[i]  # overwritten with the bounds
        assert np.all(bounds <= dist[i]), (i, np.max(bounds - dist[i]))
        # and they are not vacuous: far centres are bounded well above zero
        assert np.median(bounds) > 0.1 * np.median(dist[i])
        assert bounds.dtype == np.float32


@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_float64_data_gets_the_same_labels_through_float32_and_float64_bounds(offset):
    X = _blobs(2000, 80, 16, np.float64, offset=offset)
    C = _fitted_centres(X, 100)
    out = []
    for bounds_dtype in (np.float32, np.float64):
        projection = projected.Projection(C, np.float64, bounds_dtype=bounds_dtype)
        assert projection.bounds_dtype == bounds_dtype
        labels, min_sq_dist = np.empty(2000, dtype=np.int64), np.empty(2000)
        with _Runner(2, 16) as runner:
            assert projection.label(X, C, labels, min_sq_dist, runner) == 2000
        out.append((labels, min_sq_dist))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])  # the same float64 distances
    _check_labels(X, C, out[0][0], out[0][1], 1e-12)


@pytest.mark.parametrize("dtype, rel", [(np.float64, 1e-12), (np.float32, 2e-4)])
@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_labels_are_the_exact_nearest_centres(dtype, rel, offset):
    X = _blobs(2000, 80, 16, dtype, offset=offset)
    C = _fitted_centres(X, 100)
    labels, min_sq_dist, done, projection = _label(X, C)
    assert done == X.shape[0] and projection.pays
    # the bounds pruned: far fewer exact distances than rows × clusters
    assert projection.n_exact < 0.2 * X.shape[0] * C.shape[0]
    _check_labels(X, C.astype(dtype), labels, min_sq_dist, rel)


def test_ties_go_to_the_lowest_index_and_blocks_do_not_matter():
    X = _blobs(1500, 64, 8, np.float64, seed=3)
    C = _fitted_centres(X, 80, seed=1)
    C[50] = C[7]  # an exact duplicate: rows nearest it are labelled 7
    labels, min_sq_dist, _, _ = _label(X, C, n_jobs=2)
    assert not np.any(labels == 50) and np.any(labels == 7)
    rows = np.random.default_rng(0).permutation(X.shape[0])[:700].astype(np.int64)
    sub_labels, sub_dist, _, _ = _label(X, C, rows=rows)
    np.testing.assert_array_equal(sub_labels, labels[rows])
    np.testing.assert_array_equal(sub_dist, min_sq_dist[rows])


def test_bounds_that_do_not_prune_hand_the_pass_back(small_shapes_projected):
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(3000, 200))
    C = rng.uniform(size=(64, 200))
    labels, _, done, projection = _label(X, C)
    assert not projection.pays and done < X.shape[0]
    # engine.assign finishes such a pass on the GEMM path: the same labels
    full, dist = engine.assign(X, C, chunk_size=None, labelling=True)
    assert small_shapes_projected == [X.shape[0], X.shape[0]]
    _check_labels(X, C, full, dist, 1e-12)
    np.testing.assert_array_equal(full[:done], labels[:done])


def test_the_rule_takes_the_shapes_where_it_was_measured_to_pay():
    assert projected.uses_projection(784, 1024, np.float32)
    assert projected.uses_projection(784, 1024, np.float64)
    assert projected.uses_projection(520, 512, np.float64)
    # float64 shapes whose centres fit the float32 micro-kernel label faster there
    assert not projected.uses_projection(784, 256, np.float64)
    assert not projected.uses_projection(160, 1024, np.float64)
    assert not projected.uses_projection(784, 256, np.float32)
    assert not projected.uses_projection(160, 1024, np.float32)
    assert not projected.uses_projection(784, 64, np.float64)
    assert not projected.uses_projection(64, 1024, np.float64)
    for dtype in (np.float32, np.float64):
        assert projected.uses_projection(784, 1024, dtype, steps=True)
        assert not projected.uses_projection(784, 256, dtype, steps=True)
    assert projected.uses_projection(160, 1024, np.float64, steps=True)
    assert not projected.uses_projection(160, 1024, np.float32, steps=True)


def test_few_centres_or_features_use_an_exact_basis():
    X = _blobs(500, 70, 4, np.float64)
    C = _fitted_centres(X, 12)
    mean, basis = projected.projection_basis(C, n_components=32)
    assert basis.shape == (12, 70)
    np.testing.assert_allclose(basis @ basis.T, np.eye(12), atol=1e-12)
    labels, min_sq_dist, done, _ = _label(X, C)
    # one exact distance a row is more than MOST_EXACT_FRACTION of 12 centres:
    # the first block was labelled, the rest is left to the GEMM path
    assert done == min(X.shape[0], projected.MOST_BLOCK_ROWS)
    _check_labels(X[:done], C, labels[:done], min_sq_dist[:done], 1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_minibatch_fit_through_the_projection_is_exact_and_thread_free(
        dtype, small_shapes_projected):
    X = _blobs(6000, 96, 32, dtype, seed=2)
    fits = [mixfit.MiniBatchKMeans(64, batch_size=512, max_iter=2, random_state=0,
                                   n_jobs=n_jobs).fit(X) for n_jobs in (1, 2)]
    np.testing.assert_array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    np.testing.assert_array_equal(fits[0].labels_, fits[1].labels_)
    # each fit: 2 × 6,000 // 512 = 23 steps and its final labels through the projection
    assert small_shapes_projected.count(512) == 46 and small_shapes_projected.count(6000) == 2
    km = fits[0]
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    rel = 1e-12 if dtype == np.float64 else 2e-4
    exact_labels, dist = _exact(X, km.cluster_centers_.astype(dtype))
    rows = np.arange(X.shape[0])
    assert np.all(dist[rows, km.labels_] <= dist.min(axis=1) * (1 + rel))
    assert km.inertia_ == pytest.approx(dist.min(axis=1).sum(), rel=10 * rel)


def test_the_kernel_refuses_rows_outside_the_data():
    X = _blobs(50, 70, 2, np.float64)
    C = _fitted_centres(X, 5)
    projection = projected.Projection(C, np.float64)
    Cd, projected_t, terms = projection.centre_state(C)
    rows = np.array([0, 50], dtype=np.int64)
    shifted = X[[0, 0]] - projection.shift
    proj = shifted @ projection.basis_t
    with pytest.raises(ValueError, match="rows of X"):
        label_by_bounds(X, rows, shifted, proj, proj @ projected_t, terms, Cd,
                        projection.tau, projection.gamma, np.empty(2, np.int64),
                        np.empty(2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["constant", "two points", "low rank", "offset"])
def test_degenerate_data_through_the_projection_gets_the_nearest_centres(
        kind, dtype, monkeypatch):
    rng = np.random.default_rng(0)
    n, d, k = 1500, 520, 512  # a shape the rule sends through the projection
    assert projected.uses_projection(d, k, np.dtype(dtype))
    X = {"constant": np.ones((n, d)),
         "two points": np.repeat(rng.standard_normal((2, d)), n // 2, axis=0),
         "low rank": rng.standard_normal((n, 3)) @ rng.standard_normal((3, d)),
         "offset": rng.standard_normal((n, d)) + 1e4}[kind].astype(dtype)
    passes = []
    label = projected.Projection.label
    monkeypatch.setattr(projected.Projection, "label",
                        lambda self, X, *a, **kw: passes.append(1) or label(self, X, *a, **kw))
    km = mixfit.MiniBatchKMeans(k, batch_size=256, max_iter=1, random_state=0).fit(X)
    assert passes  # the final labels went through it
    rel = 1e-12 if dtype == np.float64 else 1e-4
    _, dist = _exact(X, km.cluster_centers_.astype(dtype))
    rows = np.arange(n)
    scale = (X.astype(np.float64) ** 2).sum(axis=1)
    assert np.all(dist[rows, km.labels_] <= dist.min(axis=1) + rel * (scale + 1))
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    assert np.isfinite(km.inertia_)
