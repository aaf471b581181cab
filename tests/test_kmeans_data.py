"""A K-means fit reads dense data once before its runs (mixfit.estimators._kmeans_data).

The finiteness check, the columns' magnitudes, the moments and the row norms
come from one pass (:func:`mixfit.kernels.moments.finite_column_moments`); it
must give what the two passes it replaced gave, refuse what they refused, and
leave the memory check before anything of size n is allocated.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mixfit import KMeans, LargeFitWarning, _memory
from mixfit.kernels import moments


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_samples", [7, 5000, 20000])
def test_one_pass_gives_what_the_two_passes_gave(dtype, weighted, n_samples):
    rng = np.random.default_rng(n_samples)
    X = (rng.standard_normal((n_samples, 5)) * [1, 10, 100, 1e-3, 1] + 7).astype(dtype)
    weight = rng.random(n_samples) + 0.5 if weighted else None
    norms, fused_norms = np.empty(n_samples, dtype), np.empty(n_samples, dtype)
    means, mean_square = moments.column_moments(X, weight, 2, norms)
    finite, magnitudes = moments.finite_column_magnitudes(X, 2)
    result = moments.finite_column_moments(X, weight, 2, fused_norms)
    assert result[0] is finite is True
    np.testing.assert_array_equal(result[1], magnitudes)
    np.testing.assert_array_equal(result[2], means)  # the same groups, added in order
    assert result[3] == mean_square
    np.testing.assert_array_equal(fused_norms, norms)
    # The thread count changes nothing.
    assert moments.finite_column_moments(X, weight, 1, None)[2].tobytes() == means.tobytes()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("row", [0, 4096 * 3 + 1, 19999])
def test_one_pass_finds_a_value_that_is_not_finite(bad, row):
    X = np.random.default_rng(0).standard_normal((20000, 3))
    X[row, 2] = bad
    assert moments.finite_column_moments(X, None, 2)[0] is False


def test_a_fit_makes_no_separate_finiteness_or_moment_pass(monkeypatch):
    def refused(*args, **kwargs):
        raise AssertionError("a second pass over X")

    # Given starting centres (k-means++ measures the rows it starts from itself).
    X = np.random.default_rng(1).standard_normal((3000, 4)).astype(np.float32)
    start = X[:3].copy()
    expected = KMeans(3, init=start, n_init=1).fit(X)
    monkeypatch.setattr(moments, "column_moments", refused)
    monkeypatch.setattr(moments, "finite_column_magnitudes", refused)
    monkeypatch.setattr("mixfit.engine.column_stats.column_moments", refused)
    monkeypatch.setattr("mixfit.estimators._data_checks.check_finite", refused)
    got = KMeans(3, init=start, n_init=1).fit(X)
    np.testing.assert_array_equal(got.labels_, expected.labels_)
    assert got.inertia_ == expected.inertia_


def test_data_that_are_not_finite_are_refused_naming_the_column():
    X = np.random.default_rng(2).standard_normal((500, 3))
    X[10, 1] = np.nan
    X[20, 1] = np.inf
    with pytest.raises(ValueError, match=r"1 NaN.*1 infinite.*column.*1") as error:
        KMeans(2, n_init=1).fit(X)
    assert "drop" in str(error.value)  # the fix


@pytest.mark.parametrize("factor", [1e100, 1e-200])
def test_data_out_of_range_are_rescaled_and_measured_again(factor):
    # The one pass squares values of 1e200 to inf and of 1e-200 to 0; the
    # rescaled fit must not use those moments.
    X = np.random.default_rng(3).standard_normal((400, 2)) + [[0.0, 50.0]]
    plain = KMeans(3, n_init=1, random_state=0, tol=1e-4).fit(X)
    scaled = KMeans(3, n_init=1, random_state=0, tol=1e-4).fit(X * factor)
    np.testing.assert_array_equal(scaled.labels_, plain.labels_)
    np.testing.assert_allclose(scaled.cluster_centers_ / factor, plain.cluster_centers_,
                               rtol=1e-12)
    assert np.isfinite(scaled.inertia_)


def test_a_large_rescaled_fit_warns_once(monkeypatch):
    # Its memory is checked twice (without the rescaled copy before the pass
    # that finds the magnitudes, with it after); the warning comes once.
    monkeypatch.setattr(_memory, "WARN_BYTES", 1000)
    X = np.random.default_rng(4).standard_normal((300, 3)) * 1e100
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        KMeans(2, n_init=1, random_state=0).fit(X)
    large = [w for w in record if issubclass(w.category, LargeFitWarning)]
    assert len(large) == 1
    assert large[0].filename == __file__  # points at the caller, not into mixfit


def test_a_rescaled_fit_too_large_for_the_limit_is_refused(monkeypatch):
    # Within the limit without the float64 copy that rescaling makes, beyond it
    # with the copy: the second check, after the pass, refuses it.
    from mixfit._memory import kmeans_bytes

    X = np.random.default_rng(5).standard_normal((2000, 8)).astype(np.float32)
    options = dict(itemsize=4, n_jobs=1, init="k-means++", n_init=1)
    plain = kmeans_bytes(2000, 8, 2, **options).bytes
    rescaled = kmeans_bytes(2000, 8, 2, rescaled=True, **options).bytes
    assert rescaled > plain
    monkeypatch.setattr(_memory, "memory_limit", (plain + rescaled) // 2)
    KMeans(2, n_init=1, n_jobs=1, random_state=0).fit(X)  # in range: no copy, accepted
    with pytest.raises(_memory.FitTooLargeError, match="would need about"):
        KMeans(2, n_init=1, n_jobs=1, random_state=0).fit(X * np.float32(1e30))
