"""Seeders: k-means++, random rows, the lecture's mean plus noise."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.utils import shuffle

from mixfit.engine.init import kmeans_plusplus, lecture_means, random_from_data

SEEDERS_FROM_ROWS = [kmeans_plusplus, random_from_data]


def _row_index(X, row):
    """Indices of the rows of X equal to ``row``."""
    return np.flatnonzero(np.all(X == row, axis=1))


def _blobs(n_blobs, per_blob, n_features, rng, spread=0.1, gap=100.0):
    centres = rng.normal(scale=gap, size=(n_blobs, n_features))
    X = np.repeat(centres, per_blob, axis=0) + rng.normal(
        scale=spread, size=(n_blobs * per_blob, n_features)
    )
    return X, np.repeat(np.arange(n_blobs), per_blob)


# ---------------------------------------------------------------------------
# behaviour shared by the seeders that return data rows


@pytest.mark.parametrize("seeder", SEEDERS_FROM_ROWS)
def test_centres_are_distinct_rows_of_X(seeder):
    rng = np.random.RandomState(0)
    # Heavy duplication: 5 distinct values, 60 rows.
    X = rng.randint(0, 5, size=(5, 3)).astype(float)
    X = X[rng.randint(0, 5, size=60)]
    n_distinct = len(np.unique(X, axis=0))
    for seed in range(20):
        centers = seeder(X, n_distinct, random_state=seed)
        assert all(_row_index(X, c).size for c in centers)
        assert len(np.unique(centers, axis=0)) == n_distinct


@pytest.mark.parametrize("seeder", SEEDERS_FROM_ROWS)
def test_zero_weight_rows_are_never_chosen(seeder):
    rng = np.random.RandomState(1)
    X = rng.normal(size=(30, 2))
    # The zero-weight rows are far away: D² sampling would love them.
    X[:10] += 1000.0
    weight = np.ones(30)
    weight[:10] = 0.0
    for seed in range(30):
        centers = seeder(X, 5, sample_weight=weight, random_state=seed)
        chosen = np.concatenate([_row_index(X, c) for c in centers])
        assert chosen.min() >= 10


@pytest.mark.parametrize("seeder", SEEDERS_FROM_ROWS)
def test_first_draw_is_proportional_to_weight(seeder):
    X = np.array([[0.0], [1.0]])
    weight = np.array([1.0, 3.0])
    picks = [seeder(X, 1, sample_weight=weight, random_state=s)[0, 0] for s in range(2000)]
    # Binomial(2000, 0.75): sd ≈ 0.0097, so ±0.04 is beyond 4 sd.
    assert np.mean(picks) == pytest.approx(0.75, abs=0.04)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n_samples=st.integers(3, 30),
    n_features=st.integers(1, 6),
    n_clusters=st.integers(1, 4),
    seeder=st.sampled_from(SEEDERS_FROM_ROWS),
)
def test_integer_weight_equals_repeated_rows_in_any_order(
    seed, n_samples, n_features, n_clusters, seeder
):
    rng = np.random.RandomState(seed)
    X = rng.rand(n_samples, n_features)
    weight = rng.randint(0, 4, size=n_samples)
    weight[rng.randint(n_samples)] = 1  # at least one positive weight
    n_clusters = min(n_clusters, np.count_nonzero(weight))
    X_repeated = np.repeat(X, weight, axis=0)
    X_weighted, w_weighted = shuffle(X, weight, random_state=seed)

    from_repeats = seeder(X_repeated, n_clusters, random_state=seed)
    from_weights = seeder(X_weighted, n_clusters, sample_weight=w_weighted, random_state=seed)
    np.testing.assert_array_equal(from_repeats, from_weights)


@pytest.mark.parametrize("seeder", SEEDERS_FROM_ROWS + [lecture_means])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved_and_reproducible(seeder, dtype):
    X = np.random.RandomState(0).rand(40, 3).astype(dtype)
    first = seeder(X, 4, random_state=7)
    assert first.dtype == dtype and first.shape == (4, 3)
    np.testing.assert_array_equal(first, seeder(X, 4, random_state=7))
    assert not np.array_equal(first, seeder(X, 4, random_state=8))


@pytest.mark.parametrize("seeder", SEEDERS_FROM_ROWS)
def test_more_clusters_than_weighted_rows_is_rejected(seeder):
    X = np.random.RandomState(0).rand(5, 2)
    with pytest.raises(ValueError, match="n_samples=5 should be >= n_clusters=6"):
        seeder(X, 6)
    with pytest.raises(ValueError, match="positive weight"):
        seeder(X, 3, sample_weight=[1, 1, 0, 0, 0])


@pytest.mark.parametrize("seeder", SEEDERS_FROM_ROWS + [lecture_means])
def test_bad_input_is_rejected_with_a_clear_message(seeder):
    X = np.random.RandomState(0).rand(5, 2)
    with pytest.raises(ValueError, match="negative"):
        seeder(X, 2, sample_weight=[1, -1, 1, 1, 1])
    with pytest.raises(ValueError, match="2-D"):
        seeder(X[:, 0], 2)
    with pytest.raises(TypeError, match="n_clusters"):
        seeder(X, 2.5)


# ---------------------------------------------------------------------------
# k-means++


def test_kmeans_plusplus_puts_one_centre_in_each_separated_blob():
    rng = np.random.RandomState(0)
    X, blob = _blobs(6, 50, 2, rng)
    for seed in range(10):
        centers = kmeans_plusplus(X, 6, random_state=seed)
        hit = {int(blob[_row_index(X, c)[0]]) for c in centers}
        assert hit == set(range(6))


def test_kmeans_plusplus_greedy_trials_lower_the_potential():
    # More local trials choose the best of more candidates, so on average the
    # potential of the seeding must not get worse (and usually gets better).
    rng = np.random.RandomState(3)
    X = rng.normal(size=(400, 2))

    def potential(centers):
        return ((X[:, None, :] - centers[None]) ** 2).sum(-1).min(1).sum()

    one = np.mean([potential(kmeans_plusplus(X, 8, random_state=s, n_local_trials=1))
                   for s in range(30)])
    many = np.mean([potential(kmeans_plusplus(X, 8, random_state=s, n_local_trials=10))
                    for s in range(30)])
    assert many < 0.95 * one


def test_kmeans_plusplus_chunk_size_does_not_change_the_choice():
    X = np.random.RandomState(4).rand(300, 5)
    reference = kmeans_plusplus(X, 7, random_state=0)
    for chunk_size in (1, 13, 299, 1000):
        np.testing.assert_array_equal(
            kmeans_plusplus(X, 7, random_state=0, chunk_size=chunk_size), reference
        )


def test_kmeans_plusplus_with_fewer_distinct_rows_than_clusters():
    X = np.array([[0.0, 0.0]] * 5 + [[1.0, 1.0]] * 5)
    centers = kmeans_plusplus(X, 4, random_state=0)
    assert np.isfinite(centers).all()
    # Both distinct values come first; the rest can only repeat them.
    assert len(np.unique(centers[:2], axis=0)) == 2


def test_kmeans_plusplus_handles_negative_zero_as_zero():
    X = np.array([[0.0], [-0.0], [1.0]])
    Y = np.array([[0.0], [0.0], [1.0]])
    for seed in range(10):
        np.testing.assert_array_equal(
            kmeans_plusplus(X, 2, random_state=seed), kmeans_plusplus(Y, 2, random_state=seed)
        )


# ---------------------------------------------------------------------------
# random rows


def test_random_from_data_repeats_only_when_too_few_distinct_rows():
    X = np.array([[0.0], [0.0], [1.0], [2.0]])
    centers = random_from_data(X, 4, random_state=0)
    assert sorted(np.unique(centers).tolist()) == [0.0, 1.0, 2.0]
    np.testing.assert_array_equal(centers[3], centers[0])


def test_random_from_data_duplicates_count_as_weight():
    # Row 0.0 appears 3 times, row 1.0 once: the first pick is 0.0 with p = 3/4.
    X = np.array([[0.0], [0.0], [0.0], [1.0]])
    picks = [random_from_data(X, 1, random_state=s)[0, 0] for s in range(2000)]
    assert np.mean(picks) == pytest.approx(0.25, abs=0.04)


# ---------------------------------------------------------------------------
# the lecture's mean plus noise


def test_lecture_means_have_the_data_mean_and_one_percent_spread():
    rng = np.random.RandomState(0)
    scale = np.array([1.0, 10.0, 100.0])
    X = rng.normal(loc=[5.0, -3.0, 50.0], scale=scale, size=(5000, 3))
    means = lecture_means(X, 4000, random_state=0)
    z = (means - X.mean(0)) / (0.01 * X.std(0))
    # z should be standard normal per feature: mean ±4·(1/√4000) ≈ 0.06, sd within 5 %.
    np.testing.assert_allclose(z.mean(0), 0.0, atol=0.07)
    np.testing.assert_allclose(z.std(0), 1.0, rtol=0.05)


def test_lecture_means_use_the_weighted_mean_and_std():
    X = np.array([[0.0], [4.0]])
    means = lecture_means(X, 2000, sample_weight=[3.0, 1.0], random_state=0)
    # Weighted mean 1, weighted std sqrt(3/4·1 + 1/4·9) = sqrt(3).
    assert means.mean() == pytest.approx(1.0, abs=0.01 * np.sqrt(3) * 0.1)
    assert (means - 1.0).std() == pytest.approx(0.01 * np.sqrt(3), rel=0.05)


def test_lecture_means_on_constant_feature_is_that_constant():
    X = np.column_stack([np.arange(10.0), np.full(10, 7.0)])
    means = lecture_means(X, 3, random_state=0)
    np.testing.assert_array_equal(means[:, 1], 7.0)
    assert np.isfinite(means).all()
