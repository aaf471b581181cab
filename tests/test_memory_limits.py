"""Fits whose memory is known before they start (mixfit._memory), and k-means++ in O(n).

A fit that cannot fit in memory is refused before it allocates anything large,
with advice; a very large one warns; the command line reports the refusal as
bad input (exit 2, one line). k-means++ keeps only O(n) beyond the data and
still picks exactly the centres of the whole-array implementation it replaced
(kept below as the reference).
"""

import math
import tracemalloc
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils import check_random_state

import mixfit
from mixfit import FitTooLargeError, GaussianMixture, KMeans, LargeFitWarning
from mixfit import cli
from mixfit import _memory
from mixfit.engine.init import _shift, kmeans_plusplus
from mixfit.engine.kmeans import squared_distances


@pytest.fixture(autouse=True)
def _no_user_limit(monkeypatch):
    """Each test sets the limit it needs; none leaks from the environment."""
    monkeypatch.delenv(_memory.MEMORY_LIMIT_ENV, raising=False)
    monkeypatch.setattr(_memory, "memory_limit", None)


def _data(n_samples, n_features, seed=0, dtype=np.float64):
    X = np.random.default_rng(seed).standard_normal((n_samples, n_features)).astype(dtype)
    X[: n_samples // 2] += 4.0
    return X


def _refusal(estimator, X):
    """Fit under tracemalloc; return (the FitTooLargeError, peak bytes traced)."""
    calls = []
    estimator.set_params(callback=lambda *args: calls.append(args))
    tracemalloc.start()
    try:
        with pytest.raises(FitTooLargeError) as caught:
            estimator.fit(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert calls == []  # no iteration ran
    return caught.value, peak


# --------------------------------------------------------------------------- #
# Refusal


def test_full_covariances_on_100000_features_are_refused_against_the_machine():
    # The fault campaign's case: 149 GB asked of numpy, then "unexpected error:
    # MemoryError". No limit is set: the machine's available memory decides.
    X = _data(3, 100_000)
    error, peak = _refusal(GaussianMixture(2), X)
    assert isinstance(error, MemoryError) and isinstance(error, ValueError)
    message = str(error)
    assert "3 × 100000" in message and "memory available on this machine" in message
    assert "covariance_type='diag'" in message and "PCA" in message
    assert "chunk_size" in message and "fewer components" in message
    assert "MIXFIT_MEMORY_LIMIT" in message
    # A single (d, d) covariance would be 80 GB; far less than X was allocated.
    assert peak < X.nbytes


@pytest.mark.parametrize(
    "estimator, shape",
    [
        (GaussianMixture(2, covariance_type="full"), (40, 1500)),
        (GaussianMixture(2, covariance_type="tied"), (40, 2000)),
        (GaussianMixture(3, covariance_type="diag"), (200_000, 3)),
        (KMeans(3), (200_000, 2)),
    ],
    ids=["full", "tied", "diag", "kmeans"],
)
def test_a_fit_above_the_limit_is_refused_before_any_large_allocation(
    monkeypatch, estimator, shape
):
    X = _data(*shape)
    # numba's first load of a cached kernel in a process imports its registries
    # (megabytes traced, run alone): done here, on a small fit, not measured.
    clone(estimator).fit(_data(60, shape[1]))
    # 4 MiB: less than the parameters (full, tied) or the per-row arrays (diag,
    # K-means) need, which are each several times that.
    monkeypatch.setenv(_memory.MEMORY_LIMIT_ENV, "4M")
    error, peak = _refusal(estimator, X)
    message = str(error)
    assert "4.0 MiB allowed by MIXFIT_MEMORY_LIMIT=4M" in message
    assert "PCA" in message and "chunk_size" in message
    if isinstance(estimator, GaussianMixture) and estimator.covariance_type != "diag":
        assert "covariance_type='diag' or 'spherical'" in message
    # Nothing of the fit's size was allocated: only validation's small change.
    assert peak < (1 << 20)


def test_the_same_fit_runs_when_the_limit_allows_it(monkeypatch):
    X = _data(40, 100)
    estimate = _memory.gaussian_mixture_bytes(40, 100, 2, "full", itemsize=8, n_jobs=2)
    monkeypatch.setenv(_memory.MEMORY_LIMIT_ENV, str(2 * estimate.bytes))
    with warnings.catch_warnings():
        warnings.simplefilter("error", LargeFitWarning)
        gm = GaussianMixture(2, max_iter=2, n_jobs=2, reg_covar=1e-2).fit(X)
    assert np.isfinite(gm.covariances_).all()
    monkeypatch.setenv(_memory.MEMORY_LIMIT_ENV, str(estimate.bytes // 2))
    with pytest.raises(FitTooLargeError):
        GaussianMixture(2, max_iter=2, n_jobs=2, reg_covar=1e-2).fit(X)


def test_the_module_setting_overrides_the_environment(monkeypatch):
    X = _data(2000, 3)
    monkeypatch.setenv(_memory.MEMORY_LIMIT_ENV, "1K")
    monkeypatch.setattr(_memory, "memory_limit", 1 << 30)
    KMeans(2, random_state=0).fit(X)  # 1 GiB is plenty
    monkeypatch.setattr(_memory, "memory_limit", 1000)
    with pytest.raises(FitTooLargeError, match=r"mixfit\._memory\.memory_limit"):
        KMeans(2, random_state=0).fit(X)


@pytest.mark.parametrize(
    "text, expected",
    [("123456", 123456), ("512M", 512 << 20), ("2.5G", int(2.5 * (1 << 30))),
     ("8g", 8 << 30), ("1T", 1 << 40), ("64KiB", 64 << 10)],
)
def test_limit_sizes_are_read_with_binary_suffixes(text, expected):
    assert _memory.parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["lots", "-1G", "0", "1.5.2M", "12Q"])
def test_a_bad_limit_is_an_error_naming_the_variable(monkeypatch, text):
    monkeypatch.setenv(_memory.MEMORY_LIMIT_ENV, text)
    with pytest.raises(ValueError, match="MIXFIT_MEMORY_LIMIT=.*e.g. 512M or 8G"):
        KMeans(2).fit(_data(100, 2))


# --------------------------------------------------------------------------- #
# Warning


def test_a_large_fit_warns_with_its_size_and_the_advice(monkeypatch):
    X = _data(500, 6)
    monkeypatch.setattr(_memory, "WARN_BYTES", 1000)
    with pytest.warns(LargeFitWarning) as record:
        GaussianMixture(2, covariance_type="full", random_state=0).fit(X)
    message = str(record[0].message)
    assert "GaussianMixture(n_components=2, covariance_type='full') on 500 × 6 data" in message
    assert "will need about" in message and "KiB" in message
    assert "covariance_type='diag'" in message and "PCA" in message
    assert record[0].filename == __file__  # points at the caller, not into mixfit
    assert issubclass(LargeFitWarning, UserWarning) and mixfit.LargeFitWarning is LargeFitWarning


def test_a_slow_fit_warns_about_its_operations(monkeypatch):
    monkeypatch.setattr(_memory, "WARN_FLOPS", 1.0)
    with pytest.warns(LargeFitWarning, match="floating-point operations per iteration"):
        KMeans(2, random_state=0).fit(_data(200, 3))


def test_an_ordinary_fit_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", LargeFitWarning)
        GaussianMixture(3, random_state=0).fit(_data(3000, 10))
        KMeans(3, random_state=0).fit(_data(3000, 10))


def test_full_covariances_on_5000_features_are_announced_before_they_start():
    # 3.5 GB and minutes for two iterations used to pass "without a word".
    estimate = _memory.gaussian_mixture_bytes(20_000, 5000, 2, "full", n_jobs=2)
    assert estimate.bytes > _memory.WARN_BYTES and estimate.flops > _memory.WARN_FLOPS
    assert estimate.bytes > 2 * 8 * 2 * 5000**2  # at least the covariances and factors


# --------------------------------------------------------------------------- #
# The estimate against what fits allocate


@pytest.mark.parametrize(
    "make, shape, estimate",
    [
        (lambda: GaussianMixture(3, covariance_type="full", init_params="k-means++",
                                 max_iter=2, random_state=0, n_jobs=1),
         (20_000, 20),
         lambda: _memory.gaussian_mixture_bytes(20_000, 20, 3, "full", init="k-means++")),
        (lambda: GaussianMixture(4, covariance_type="diag", max_iter=2, random_state=0,
                                 n_jobs=1),
         (50_000, 8),
         lambda: _memory.gaussian_mixture_bytes(50_000, 8, 4, "diag")),
        (lambda: KMeans(5, max_iter=3, random_state=0, n_jobs=1),
         (100_000, 2),
         lambda: _memory.kmeans_bytes(100_000, 2, 5)),
        # Yinyang's group bounds ("auto" from 256 clusters and 32 float64 features).
        (lambda: KMeans(300, init="random", max_iter=3, random_state=0, n_jobs=1),
         (30_000, 40),
         lambda: _memory.kmeans_bytes(30_000, 40, 300, init="random")),
    ],
    ids=["gmm-full-kmeans++", "gmm-diag-kmeans", "kmeans", "kmeans-yinyang"],
)
def test_the_estimate_is_within_a_factor_two_of_the_traced_peak(make, shape, estimate):
    X = _data(*shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two iterations do not converge
        make().fit(X[:500])  # compiles the kernels outside the measurement
        tracemalloc.start()
        try:
            make().fit(X)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert 0.5 * peak <= estimate().bytes <= 2 * peak


# --------------------------------------------------------------------------- #
# The command line


def test_the_command_line_refuses_a_fit_too_large_with_exit_2_and_one_line(
    tmp_path, monkeypatch, capsys
):
    path = tmp_path / "wide.npy"
    np.save(path, _data(40, 1500))
    monkeypatch.setenv(_memory.MEMORY_LIMIT_ENV, "8M")
    code = cli.main(["fit", str(path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("mixfit fit: GaussianMixture(")
    assert "8.0 MiB allowed by MIXFIT_MEMORY_LIMIT=8M" in err and "covariance" in err


def test_the_command_line_checks_an_npy_file_before_reading_it(tmp_path, monkeypatch, capsys):
    path = tmp_path / "wide.npy"
    # int32: read as float64 (7.6 MiB); a float64 file would be memory-mapped instead.
    np.save(path, _data(2000, 500).astype(np.int32))

    def read_data(*args, **kwargs):
        raise AssertionError("the data was read before the memory check")

    monkeypatch.setattr("mixfit.io.data_files.read_data", read_data)
    monkeypatch.setenv(_memory.MEMORY_LIMIT_ENV, "4M")
    code = cli.main(["fit", str(path), "--model", "kmeans", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "KMeans(n_clusters=2) on 2000 × 500 data" in err
    assert "plus 7.6 MiB of data" in err  # the data still to be read counts too


def test_a_truncated_npy_file_is_left_to_the_reader_to_report(tmp_path, monkeypatch, capsys):
    # Its header promises 10⁶ × 10⁴ float64 (80 GB) but nothing follows: the file
    # is damaged, which is what the user must hear, not that memory is short.
    path = tmp_path / "huge.npy"
    with open(path, "wb") as file:
        np.lib.format.write_array_header_1_0(
            file, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**4)}
        )
    from mixfit.cli.memory import npy_shape

    assert npy_shape(path) is None
    monkeypatch.setenv(_memory.MEMORY_LIMIT_ENV, "16G")
    code = cli.main(["fit", str(path), "--model", "kmeans", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "memory" not in err


def test_the_command_line_shows_the_large_fit_warning_as_one_line(
    tmp_path, monkeypatch, capsys
):
    path = tmp_path / "small.npy"
    np.save(path, _data(300, 3))
    monkeypatch.setattr(_memory, "WARN_BYTES", 1000)
    code = cli.main(["fit", str(path), "--quiet"])
    err = capsys.readouterr().err
    assert code == 0
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mixfit fit: warning: GaussianMixture(")


# --------------------------------------------------------------------------- #
# k-means++: the whole-array implementation it replaced, as the reference


def _reference_canonical_order(X):
    # Rows by value, column 0 first (lexsort's last key is primary), ties by index.
    return np.lexsort(tuple(X[:, j] for j in range(X.shape[1] - 1, -1, -1)))


def _reference_draw(cum_mass, u):
    pos = np.searchsorted(cum_mass, u, side="right")
    last = np.searchsorted(cum_mass, cum_mass[-1], side="left")
    return np.minimum(pos, last)


def _reference_sq_dist(X, point, chunk_size):
    out = np.empty(X.shape[0], dtype=np.float64)
    for start in range(0, X.shape[0], chunk_size):
        diff = X[start:start + chunk_size] - point
        out[start:start + chunk_size] = np.einsum("ij,ij->i", diff, diff)
    return out


def _reference_kmeans_plusplus(X, n_clusters, sample_weight=None, random_state=None,
                               chunk_size=4096):
    """mixfit.engine.init.kmeans_plusplus before its memory was bounded (cumsum over all rows)."""
    n_local_trials = 2 + int(math.log(n_clusters))
    weight = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    rng = check_random_state(random_state)
    order = _reference_canonical_order(X)
    weight_sorted = weight[order]
    cum_weight = np.cumsum(weight_sorted)
    shift = _shift(X, weight)
    centers = np.empty((n_clusters, X.shape[1]), dtype=X.dtype)
    first = order[_reference_draw(cum_weight, rng.uniform(size=1) * cum_weight[-1])[0]]
    centers[0] = X[first]
    closest = _reference_sq_dist(X, X[first], chunk_size)
    for c in range(1, n_clusters):
        cum_mass = np.cumsum(weight_sorted * closest[order])
        if cum_mass[-1] > 0:
            positions = _reference_draw(cum_mass, rng.uniform(size=n_local_trials) * cum_mass[-1])
        else:
            positions = _reference_draw(
                cum_weight, rng.uniform(size=n_local_trials) * cum_weight[-1]
            )
        candidates = X[order[positions]]
        potentials = np.zeros(candidates.shape[0])
        for start in range(0, X.shape[0], chunk_size):
            rows = slice(start, start + chunk_size)
            sq = squared_distances(X[rows], candidates, chunk_size=chunk_size, shift=shift)
            sq = np.minimum(sq.astype(np.float64), closest[rows, None])
            potentials += weight[rows] @ sq
        tied = potentials <= potentials.min() * (1 + 1e-9)
        best = order[positions[tied].min()]
        centers[c] = X[best]
        np.minimum(closest, _reference_sq_dist(X, X[best], chunk_size), out=closest)
    return centers


def _shapes():
    rng = np.random.default_rng(7)
    blobs = _data(20_000, 2, seed=1)
    wide = _data(3000, 17, seed=2).astype(np.float32)
    repeated = np.repeat(_data(40, 3, seed=3), 25, axis=0)
    few = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    return [
        ("blobs", blobs, 9, None),
        ("weighted", blobs[:7000], 6, rng.uniform(0, 3, 7000)),
        ("zero-weights", wide, 5, np.where(rng.uniform(size=3000) < 0.3, 0.0, 1.0)),
        ("float32", wide, 12, None),
        ("repeated-rows", repeated, 8, rng.integers(1, 4, repeated.shape[0]).astype(float)),
        ("fewer-distinct-than-k", few, 5, None),
    ]


@pytest.mark.parametrize("name, X, n_clusters, weight", _shapes(), ids=[s[0] for s in _shapes()])
@pytest.mark.parametrize("seed", [0, 1])
def test_kmeans_plusplus_picks_the_centres_of_the_whole_array_version(
    monkeypatch, name, X, n_clusters, weight, seed
):
    # Blocks of 300 positions over chunks of 256 rows: the cumulative masses are
    # carried across many block boundaries, as on data of millions of rows.
    monkeypatch.setattr(mixfit.engine.init, "_MASS_BLOCK", 300)
    expected = _reference_kmeans_plusplus(X, n_clusters, weight, random_state=seed,
                                          chunk_size=256)
    got = kmeans_plusplus(X, n_clusters, sample_weight=weight, random_state=seed,
                          chunk_size=256)
    np.testing.assert_array_equal(got, expected)


def _traced_peak(function, *args, **kwargs):
    tracemalloc.start()
    try:
        function(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_kmeans_plusplus_keeps_memory_to_the_order_and_the_distances():
    X = _data(200_000, 2)
    n = X.shape[0]
    # Beyond X: the canonical order (int64) and the nearest distances (float64),
    # 16 bytes a row, plus per-block buffers of fixed size (positions and masses
    # of one block of the cumulative passes); before them, the value sort's
    # arrays, 35 bytes a row (mixfit._memory._canonical_order_bytes).
    bound = _memory._canonical_order_bytes(n) + n + 4 * 8 * mixfit.engine.init._MASS_BLOCK
    new = _traced_peak(kmeans_plusplus, X, 8, random_state=0)
    old = _traced_peak(_reference_kmeans_plusplus, X, 8, random_state=0)
    assert new < bound < old
    assert old > 3 * X.nbytes  # the whole-array version: several n-sized temporaries


@pytest.mark.parametrize("weighted", [False, True])
def test_cumulative_masses_by_blocks_are_bitwise_those_of_one_cumsum(monkeypatch, weighted):
    # What keeps every draw identical: the same additions in the same order.
    monkeypatch.setattr(mixfit.engine.init, "_MASS_BLOCK", 333)
    rng = np.random.default_rng(3)
    n = 10_000
    order = rng.permutation(n)
    closest = rng.exponential(size=n) * 10.0 ** rng.integers(-8, 8, n)
    weight = rng.uniform(0, 5, n) if weighted else None
    expected = np.cumsum((np.ones(n) if weight is None else weight)[order] * closest[order])
    blocks = list(mixfit.engine.init._cumulative_chunks(order, weight, closest, 100))
    assert len(blocks) > 20
    np.testing.assert_array_equal(np.concatenate([cum for _, cum in blocks]), expected)
    assert mixfit.engine.init._total_mass(order, weight, closest, 100) == expected[-1]


# --------------------------------------------------------------------------- #
# The other initialisations: a chunk at a time


def test_random_responsibilities_drawn_by_chunks_are_those_of_one_draw():
    from mixfit.families import GaussianFamily
    from mixfit.engine.init import initial_mixture_params, params_from_resp

    X = _data(10_000, 3)
    family = GaussianFamily("diag")
    got = initial_mixture_params(family, X, 4, "random", random_state=5, chunk_size=1000)
    resp = np.random.RandomState(5).uniform(size=(10_000, 4))
    resp /= resp.sum(axis=1, keepdims=True)
    expected = params_from_resp(family, X, resp, chunk_size=1000)
    np.testing.assert_array_equal(got.weights, expected.weights)
    np.testing.assert_array_equal(got.components.means, expected.components.means)
    np.testing.assert_array_equal(got.components.covariances, expected.components.covariances)


def test_lecture_means_keep_their_meaning_without_copies_of_x():
    from mixfit.engine.init import lecture_means

    X = _data(100_000, 4)
    weight = np.random.default_rng(1).uniform(0, 2, X.shape[0])
    mean = np.average(X, axis=0, weights=weight)
    std = np.sqrt(np.average((X - mean) ** 2, axis=0, weights=weight))
    noise = np.random.RandomState(0).standard_normal(size=(3, 4))
    peak = _traced_peak(lecture_means, X, 3, sample_weight=weight, random_state=0)
    np.testing.assert_allclose(
        lecture_means(X, 3, sample_weight=weight, random_state=0), mean + 0.01 * std * noise,
        rtol=1e-12,
    )
    assert peak < X.nbytes / 4  # np.average and (X − mean)² took three copies


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_the_covariance_of_the_data_is_taken_a_chunk_at_a_time(covariance_type):
    from mixfit.families import GaussianFamily

    X = _data(100_000, 6)
    family = GaussianFamily(covariance_type)
    means = X[:3]
    peak = _traced_peak(family.params_from_means, X, means)
    params = family.params_from_means(X, means)
    covariance = np.cov(X, rowvar=False, bias=True) + 1e-6 * np.eye(6)
    expected = covariance if covariance_type == "full" else np.diag(covariance)
    np.testing.assert_allclose(params.covariances, np.broadcast_to(expected, (3,) + expected.shape),
                               rtol=1e-10)
    assert peak < X.nbytes / 4  # the whole data centred and weighted took two copies
