"""Tests for hierarchical.py: model-based agglomerative hierarchical clustering."""

import itertools

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.special import multigammaln

from mixfit.kernels.agglomerate import _agglomerate
from mixfit.engine.hierarchical import (DEFAULT_PRIOR_COUNT, DEFAULT_RIDGE, HC_MODELS,
                          hc_partitions, hc_start, hc_tree)


def same_partition(labels_a, labels_b):
    """True when two label vectors describe the same partition (any numbering)."""
    pairs = set(zip(labels_a.tolist(), labels_b.tolist()))
    return len(pairs) == len(set(labels_a.tolist())) == len(set(labels_b.tolist()))


def blobs(seed, n_per=50, n_features=2, separation=20.0):
    rng = np.random.default_rng(seed)
    centres = np.zeros((3, n_features))
    centres[1, 0] = separation
    centres[2, 1 % n_features] = separation if n_features > 1 else 2 * separation
    X = np.concatenate([rng.normal(size=(n_per, n_features)) + c for c in centres])
    return X, np.repeat(np.arange(3), n_per)


def parallel_bars(seed, n_per=100, gap=1.5):
    """Two long thin horizontal bars one above the other: Ward cuts them across."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-10, 10, 2 * n_per)
    y = rng.normal(0.0, 0.3, 2 * n_per) + np.repeat([-gap, gap], n_per)
    return np.column_stack([x, y]), np.repeat([0, 1], n_per)


# ---------------------------------------------------------------- brute-force reference


def cluster_term(X, members, prior_scale, prior_count):
    """-2 log marginal likelihood of one cluster, up to per-cluster constants (module doc)."""
    Y = X[members]
    n_samples, n_features = Y.shape
    centred = Y - Y.mean(axis=0)
    shape = n_samples + prior_count + n_features - 1
    logdet = np.linalg.slogdet(prior_scale + centred.T @ centred)[1]
    return (shape * logdet - 2 * multigammaln(shape / 2, n_features)
            + n_features * np.log(n_samples))


def brute_force_merges(X, ridge=DEFAULT_RIDGE, prior_count=DEFAULT_PRIOR_COUNT,
                       clusters=None):
    """Every step: evaluate every pair in plain numpy and merge the cheapest."""
    prior_scale = ridge * np.atleast_2d(np.cov(X.T, bias=True))
    clusters = [[i] for i in range(len(X))] if clusters is None else clusters
    merges = []
    while len(clusters) > 1:
        costs = {}
        for i, j in itertools.combinations(range(len(clusters)), 2):
            costs[i, j] = (cluster_term(X, clusters[i] + clusters[j], prior_scale, prior_count)
                           - cluster_term(X, clusters[i], prior_scale, prior_count)
                           - cluster_term(X, clusters[j], prior_scale, prior_count))
        (i, j), cost = min(costs.items(), key=lambda item: item[1])
        runner_up = sorted(costs.values())[1] if len(costs) > 1 else np.inf
        merges.append((frozenset(clusters[i]), frozenset(clusters[j]), cost, runner_up))
        clusters[i] = clusters[i] + clusters[j]
        del clusters[j]
    return merges


def tree_merges(tree):
    """The tree's merges as pairs of row sets."""
    n_samples = len(tree) + 1
    members = {i: frozenset([i]) for i in range(n_samples)}
    merges = []
    for step, (left, right, height, size) in enumerate(tree):
        members[n_samples + step] = members[int(left)] | members[int(right)]
        merges.append((members[int(left)], members[int(right)], height, size))
    return merges


@pytest.mark.parametrize("seed, n_samples", [(0, 8), (1, 8), (2, 8), (3, 30)])
def test_vvv_every_merge_is_the_brute_force_minimiser(seed, n_samples):
    # n = 8 in 2-D: clusters pass through the singular (n_k <= d) stage;
    # n = 30 exercises the kernel's cached costs and best-partner bookkeeping.
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, 2)) @ rng.normal(size=(2, 2))
    reference = brute_force_merges(X)
    for step, ((left, right, height, size), (ref_a, ref_b, ref_cost, runner_up)) in enumerate(
            zip(tree_merges(hc_tree(X, "VVV")), reference)):
        assert runner_up - ref_cost > 1e-9, "tie in the reference; pick another seed"
        assert {left, right} == {ref_a, ref_b}, f"step {step}"
        # The tree leaves out multigammaln's per-cluster constant pi^(d(d-1)/4).
        assert height == pytest.approx(ref_cost - np.log(np.pi), rel=1e-9, abs=1e-9)
        assert size == len(left | right)


def test_vvv_weight_two_equals_a_duplicated_row():
    # A row of integer weight w is w copies already merged: n_k, W_k and the
    # prior scale are those of the repeated data, so the weighted tree must make
    # the brute-force merges of the repeated rows started from their copy groups.
    rng = np.random.default_rng(5)
    X = rng.normal(size=(7, 3))
    weights = np.array([1, 2, 1, 1, 3, 1, 1])
    repeated_from = np.repeat(np.arange(7), weights)
    copy_groups = [np.flatnonzero(repeated_from == i).tolist() for i in range(7)]
    reference = brute_force_merges(X[repeated_from], clusters=copy_groups)
    weighted = hc_tree(X, "VVV", sample_weight=weights.astype(float))
    for (left, right, height, size), (ref_a, ref_b, ref_cost, _) in zip(
            tree_merges(weighted), reference):
        as_rows = {frozenset(repeated_from[list(ref_a)]), frozenset(repeated_from[list(ref_b)])}
        assert {left, right} == as_rows
        assert height == pytest.approx(ref_cost - np.log(np.pi) * 3, rel=1e-9)
        assert size == len(ref_a) + len(ref_b)
    unweighted = hc_tree(X, "VVV")
    assert [set(m[:2]) for m in tree_merges(unweighted)] == [
        set(m[:2]) for m in brute_force_merges(X)]


def test_ties_go_to_the_smallest_pair():
    # Equally spaced points: every neighbouring pair costs the same, bit for bit.
    X = np.arange(6.0)[:, None]
    for model in HC_MODELS:
        tree = hc_tree(X, model)
        assert tree[0, :2].tolist() == [0, 1], model


# ---------------------------------------------------------------- Ward (EII)


@pytest.mark.parametrize("seed", [0, 1])
def test_eii_matches_scipy_fcluster(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 3))
    partitions = hc_partitions(hc_tree(X, "EII"), range(1, 12))
    scipy_tree = linkage(X, method="ward")
    for n_components, labels in partitions.items():
        reference = fcluster(scipy_tree, n_components, criterion="maxclust")
        assert same_partition(labels, reference), n_components


def test_own_ward_kernel_matches_scipy():
    # The numba kernel serves weighted EII; with unit masses it must be scipy's Ward.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 4))
    ours = _agglomerate(X, np.ones(len(X)), np.eye(4), 1.0, 0)
    theirs = linkage(X, method="ward")
    np.testing.assert_allclose(ours[:, 2], theirs[:, 2], rtol=1e-10)
    assert [set(m[:2]) for m in tree_merges(ours)] == [set(m[:2]) for m in tree_merges(theirs)]


# ---------------------------------------------------------------- partitions


@pytest.mark.parametrize("model", HC_MODELS)
def test_partitions_are_nested_and_numbered_by_first_row(model):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(120, 3))
    partitions = hc_partitions(hc_tree(X, model), range(1, 16))
    for n_components, labels in partitions.items():
        assert sorted(set(labels.tolist())) == list(range(n_components))
        _, first_rows = np.unique(labels, return_index=True)
        assert np.all(np.diff(first_rows) > 0), "label k must first appear before label k+1"
        if n_components > 1:
            coarser = partitions[n_components - 1]
            # Each K-cluster lies inside exactly one (K-1)-cluster ...
            for k in range(n_components):
                assert len(set(coarser[labels == k].tolist())) == 1
            # ... and exactly two K-clusters were merged.
            assert len(set(zip(labels.tolist(), coarser.tolist()))) == n_components
    assert np.all(partitions[1] == 0)
    assert np.array_equal(hc_partitions(hc_tree(X, model), [120])[120], np.arange(120))


@pytest.mark.parametrize("model", HC_MODELS)
def test_three_separated_blobs_recovered_exactly(model):
    for seed in range(3):
        X, truth = blobs(seed)
        rows, partitions = hc_start(X, [2, 3, 4], model=model)
        assert np.array_equal(rows, np.arange(len(X)))
        assert same_partition(partitions[3], truth), seed
        assert not same_partition(partitions[2], truth)


def test_vvv_recovers_parallel_bars_where_ward_fails():
    for seed in range(3):
        X, truth = parallel_bars(seed)
        _, vvv = hc_start(X, [2], model="VVV", transform=None)
        _, ward = hc_start(X, [2], model="EII", transform=None)
        assert same_partition(vvv[2], truth), seed
        assert not same_partition(ward[2], truth), seed


def test_vvv_tree_is_affine_invariant():
    # The prior scale follows the data's covariance, so x -> A x + b shifts
    # every merge cost by one constant: same merges, costs differ by a constant.
    rng = np.random.default_rng(11)
    X = rng.normal(size=(40, 3)) * [1.0, 5.0, 0.2]
    A = rng.normal(size=(3, 3))
    tree = hc_tree(X, "VVV")
    moved = hc_tree(X @ A.T * 1e3 + 7.0, "VVV")
    assert np.array_equal(tree[:, [0, 1, 3]], moved[:, [0, 1, 3]])
    shift = moved[:, 2] - tree[:, 2]
    np.testing.assert_allclose(shift, shift[0], atol=1e-6 * np.abs(tree[:, 2]).max())


# ---------------------------------------------------------------- hc_start


def test_hc_start_subsample_is_reproducible_and_seeded():
    X, _ = blobs(0, n_per=100)
    rows_a, parts_a = hc_start(X, [1, 3, 5], max_rows=120, random_state=4)
    rows_b, parts_b = hc_start(X, [1, 3, 5], max_rows=120, random_state=4)
    rows_c, _ = hc_start(X, [1, 3, 5], max_rows=120, random_state=5)
    assert len(rows_a) == 120 and len(set(rows_a.tolist())) == 120
    assert np.all(np.diff(rows_a) > 0)
    assert np.array_equal(rows_a, rows_b)
    assert all(np.array_equal(parts_a[k], parts_b[k]) for k in (1, 3, 5))
    assert not np.array_equal(rows_a, rows_c)
    assert parts_a[5].shape == (120,)


@pytest.mark.parametrize("model", HC_MODELS)
def test_tree_is_deterministic(model):
    rng = np.random.default_rng(2)
    X = np.round(rng.normal(size=(90, 2)), 1)  # rounding creates ties
    assert np.array_equal(hc_tree(X, model), hc_tree(X.copy(), model))


def test_sampling_follows_the_weights():
    n_samples = 400
    X = np.random.default_rng(0).normal(size=(n_samples, 2))
    weight = np.zeros(n_samples)
    weight[:100] = 1.0     # 100 light rows
    weight[100:200] = 9.0  # 100 heavy rows
    picked_light = picked_heavy = 0
    for seed in range(5):
        rows, _ = hc_start(X, [2], max_rows=50, sample_weight=weight, random_state=seed)
        assert np.all(weight[rows] > 0), "zero-weight rows must never be drawn"
        picked_light += np.sum(rows < 100)
        picked_heavy += np.sum((rows >= 100) & (rows < 200))
    # Without weights each group would give about half of the draws.
    assert picked_heavy > 3 * picked_light


def test_small_weighted_data_uses_weights_as_masses():
    X, _ = blobs(1, n_per=10)
    weight = np.ones(len(X))
    weight[3] = 0.0
    rows, _ = hc_start(X, [2], sample_weight=weight)
    assert 3 not in rows and len(rows) == len(X) - 1
    # Unit masses give the unweighted tree; unequal masses change it.
    np.testing.assert_allclose(hc_tree(X, "VVV", sample_weight=np.ones(len(X))),
                               hc_tree(X, "VVV"))
    uneven = np.linspace(0.5, 3.0, len(X))
    assert not np.allclose(hc_tree(X, "EII", sample_weight=uneven)[:, 2],
                           hc_tree(X, "EII")[:, 2])


# ---------------------------------------------------------------- degenerate data


@pytest.mark.parametrize("model", HC_MODELS)
def test_one_feature_duplicates_and_constant_columns(model):
    X1 = np.concatenate([np.zeros(5), np.full(5, 10.0), [0.5, 9.5]])[:, None]
    rows, partitions = hc_start(X1, [1, 2, 3], model=model)
    assert same_partition(partitions[2], (X1[:, 0] > 5).astype(int))
    duplicated = np.repeat(np.random.default_rng(0).normal(size=(6, 3)), 4, axis=0)
    duplicated[:, 2] = 1.0  # constant column
    tree = hc_tree(duplicated, model)
    assert np.all(np.isfinite(tree))
    # Six distinct points, four copies each: the 6-partition is the copies.
    labels = hc_partitions(tree, [6])[6]
    assert np.array_equal(labels, np.repeat(np.arange(6), 4))
    assert hc_tree(np.ones((1, 2)), model).shape == (0, 4)
    assert np.array_equal(hc_start(np.ones((3, 2)), [3], model=model)[1][3], [0, 1, 2])


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("call, message", [
    (lambda X: hc_start(X, [31]), "larger than the 30 rows"),
    (lambda X: hc_start(X, [0, 2]), ">= 1"),
    (lambda X: hc_start(X, [2.5]), "integers"),
    (lambda X: hc_start(X, []), "empty"),
    (lambda X: hc_start(X, [3], max_rows=2), "larger than the 2 rows"),
    (lambda X: hc_start(np.where(X > 1, np.nan, X), [2]), "NaN"),
    (lambda X: hc_start(X[:, 0], [2]), "reshape"),
    (lambda X: hc_start(X, [2], model="VVI"), "VVV"),
    (lambda X: hc_start(X, [2], transform="pca"), "svd"),
    (lambda X: hc_start(X, [2], sample_weight=-np.ones(30)), "non-negative"),
    (lambda X: hc_start(X, [2], sample_weight=np.ones(5)), "shape"),
    (lambda X: hc_start(X, [2], sample_weight=np.zeros(30)), "zero everywhere"),
    (lambda X: hc_tree(X, sample_weight=np.r_[0.0, np.ones(29)]), "zeros"),
    (lambda X: hc_tree(X, ridge=0.0), "ridge"),
    (lambda X: hc_partitions(hc_tree(X), [40]), "larger than the 30 rows"),
    (lambda X: hc_partitions(np.array([[0, 5]]), [1]), "invalid node ids"),
])
def test_bad_input_raises_value_error_naming_it(call, message):
    X = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.raises(ValueError, match=message):
        call(X)
