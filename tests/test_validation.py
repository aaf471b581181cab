"""The shared input checks' own numerics: the finiteness fast path and the moment pass."""

import numpy as np
import pytest

from mixfit.estimators._data_checks import check_finite
from mixfit.engine.column_stats import column_means, distance_shift


def test_finite_float32_whose_sum_overflows_is_accepted():
    # The fast path sums in float32 (overflows to inf here); the exact check decides.
    X = np.full((1000, 3), 3e38, dtype=np.float32)
    check_finite(X)
    X[5, 1] = np.inf
    with pytest.raises(ValueError, match="1 infinite"):
        check_finite(X)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_column_moments_match_numpy(dtype, weighted):
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(10_000, 7)) * 3 + 100).astype(dtype)
    weight = rng.uniform(0, 2, X.shape[0]) if weighted else None
    X64 = X.astype(np.float64)
    expected = np.average(X64, axis=0, weights=weight)
    np.testing.assert_allclose(column_means(X, weight), expected, rtol=1e-12)


def test_distance_shift_threads_change_nothing_and_it_decides_by_spread():
    rng = np.random.default_rng(1)
    far = rng.normal(size=(50_000, 4)) + 1e3  # 13 groups of rows, shared unevenly by 2 or 3 threads
    shifts = [distance_shift(far, None, n_jobs) for n_jobs in (1, 2, 3)]
    for other in shifts[1:]:
        np.testing.assert_array_equal(other, shifts[0])
    np.testing.assert_allclose(shifts[0], far.mean(axis=0), rtol=1e-12)
    near = rng.normal(size=(1000, 4))
    assert np.all(distance_shift(near) == 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_moment_pass_gives_each_rows_squared_norm(dtype):
    from mixfit.kernels.moments import column_moments

    rng = np.random.default_rng(2)
    X = (rng.normal(size=(9_000, 37)) * 3).astype(dtype)
    row_squares = np.empty(len(X), dtype=dtype)
    means, mean_square = column_moments(X, None, 2, row_squares)
    expected = np.einsum("ij,ij->i", X.astype(np.float64), X.astype(np.float64))
    # Summed in float64 and rounded once to the array's dtype.
    np.testing.assert_allclose(row_squares, expected.astype(dtype),
                               rtol=1e-6 if dtype == np.float32 else 1e-13)
    np.testing.assert_array_equal(column_moments(X, None, 1)[0], means)
    np.testing.assert_allclose(mean_square, expected.mean(), rtol=1e-12)
    with pytest.raises(ValueError, match="row_squares must be"):
        column_moments(X, None, 1, np.empty(len(X) - 1, dtype=dtype))
