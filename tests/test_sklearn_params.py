"""scikit-learn's parameters and warnings (issue 10): KMeans n_init="auto", callable
init, verbose, copy_x; GaussianMixture warm_start and verbose_interval."""

import json
import re
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest

from mixfit import GaussianMixture, KMeans
from mixfit.estimators._sklearn_compat import CenteredInPlace
from mixfit.io import load, save


def _blobs(seed=0, n=300, offset=0.0):
    rng = np.random.RandomState(seed)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0], [6.0, 6.0]])
    return centres[rng.randint(4, size=n)] + rng.normal(size=(n, 2)) + offset


def _count_runs(**params):
    """How many runs a KMeans fit makes (each run's first iteration calls back with 1)."""
    starts = []
    KMeans(4, random_state=0, callback=lambda i, c, v: starts.append(i), **params).fit(_blobs())
    return starts.count(1)


# ---------------------------------------------------------------- n_init="auto"


@pytest.mark.parametrize(
    "init, expected",
    [("k-means++", 1), ("random", 10), ("lecture", 10),
     (lambda X, k, random_state: X[:k], 10), ("array", 1)],
)
def test_n_init_auto_makes_scikit_learns_number_of_runs(init, expected):
    init = _blobs()[:4] if isinstance(init, str) and init == "array" else init
    assert _count_runs(init=init, n_init="auto") == expected
    assert KMeans(4, init=init, n_init="auto")._n_init == expected


def test_n_init_auto_is_the_default():
    assert KMeans().n_init == "auto"
    assert _count_runs(init="random") == 10


def test_n_init_other_strings_are_refused():
    with pytest.raises(ValueError, match="n_init must be 'auto' or an integer >= 1, got 'all'"):
        KMeans(4, n_init="all").fit(_blobs())


# ----------------------------------------------------- explicit init warning


def test_explicit_init_with_several_inits_warns_as_scikit_learn():
    X = _blobs()
    with pytest.warns(
        RuntimeWarning,
        match=r"^Explicit initial center position passed: performing only one init in "
        r"KMeans instead of n_init=10\.$",
    ):
        KMeans(4, init=X[:4], n_init=10).fit(X)
    with pytest.warns(RuntimeWarning, match="performing only one init"):
        assert _count_runs(init=X[:4], n_init=10) == 1


@pytest.mark.parametrize("n_init", [1, "auto"])
def test_explicit_init_with_one_init_does_not_warn(n_init):
    X = _blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KMeans(4, init=X[:4], n_init=n_init).fit(X)


# ------------------------------------------------------------ callable init


def test_callable_init_gives_the_start_and_a_random_state_per_run():
    X = _blobs()
    calls = []

    def init(data, n_clusters, random_state):
        calls.append((data is X, n_clusters, random_state.randint(2**31)))
        return data[:n_clusters]

    model = KMeans(4, init=init, n_init=3, random_state=0).fit(X)
    reference = KMeans(4, init=X[:4], n_init=1).fit(X)
    np.testing.assert_array_equal(model.cluster_centers_, reference.cluster_centers_)
    assert [call[:2] for call in calls] == [(True, 4)] * 3  # the user's own array
    assert len({call[2] for call in calls}) == 3  # a different stream per run
    again = []
    KMeans(4, init=lambda d, k, random_state: again.append(random_state.randint(2**31))
           or d[:k], n_init=3, random_state=0).fit(X)
    assert again == [call[2] for call in calls]  # reproducible from random_state


@pytest.mark.parametrize(
    "init, match",
    [
        (lambda X, k: X[:k], r"must accept \(X, n_clusters, random_state\).*it raised "
                             r"TypeError: .*unexpected keyword argument 'random_state'"),
        (lambda X, k, random_state: X[:k - 1], r"^The shape of the initial centers \(3, 2\) does not match the number of clusters 4: init=<lambda>"),
        (lambda X, k, random_state: np.full((k, 2), np.nan), r"it returned ndarray, refused"),
        (lambda X, k, random_state: 1 / 0, r"it raised ZeroDivisionError: division by zero$"),
    ],
)
def test_bad_callable_init_gives_one_line_errors(init, match):
    with pytest.raises(ValueError, match=match) as info:
        KMeans(4, init=init).fit(_blobs())
    assert "\n" not in str(info.value)
    assert "init=" in str(info.value) and "shape (4, 2)" in str(info.value)


def test_callable_init_cannot_be_saved_and_the_message_says_what_to_do(tmp_path):
    model = KMeans(4, init=lambda X, k, random_state: X[:k]).fit(_blobs())
    with pytest.raises(TypeError, match=r"init=.*<lambda> is a callable.*set_params\(init="):
        save(model, tmp_path / "model.mixfit")
    assert not (tmp_path / "model.mixfit").exists()
    model.set_params(init=model.cluster_centers_)
    save(model, tmp_path / "model.mixfit")
    np.testing.assert_array_equal(load(tmp_path / "model.mixfit").init, model.cluster_centers_)


# ------------------------------------------------------------------ verbose


def test_kmeans_verbose_prints_scikit_learns_lines(capsys):
    X = _blobs()
    KMeans(4, init=X[:4], tol=0, verbose=1).fit(X)
    out = capsys.readouterr().out
    assert out.startswith("Initialization complete\nIteration 0, inertia ")
    iterations = re.findall(r"^Iteration (\d+), inertia [0-9.e+]+\.$", out, re.M)
    assert iterations == [str(i) for i in range(len(iterations))]
    assert out.endswith(f"Converged at iteration {len(iterations) - 1}: strict convergence.\n")


def test_kmeans_verbose_tolerance_stop_names_the_tolerance(capsys):
    X = _blobs(n=3000)
    model = KMeans(4, init="random", n_init=1, tol=0.5, random_state=1, verbose=1).fit(X)
    out = capsys.readouterr().out
    found = re.search(r"Converged at iteration \d+: center shift (\S+) within tolerance (\S+)\.\n", out)
    assert found, out
    # scikit-learn's tolerance: tol times the mean column variance, in data units.
    shift, tolerance = float(found[1]), float(found[2])
    np.testing.assert_allclose(tolerance, 0.5 * np.var(X, axis=0).mean(), rtol=1e-5)
    assert 0 < shift <= tolerance
    assert model.converged_


def test_kmeans_verbose_zero_prints_nothing(capsys):
    KMeans(4, random_state=0).fit(_blobs())
    assert capsys.readouterr().out == ""


def test_kmeans_verbose_is_checked():
    with pytest.raises(ValueError, match="verbose must be an integer >= 0"):
        KMeans(4, verbose=-1).fit(_blobs())


# ------------------------------------------------------------------- copy_x


def _far_data():
    # Far from the origin compared with the spread: distances relative to the mean.
    return _blobs(n=2000, offset=1000.0)


def test_copy_x_false_centres_in_place_and_restores_bit_for_bit():
    X = _far_data()
    original = X.copy()
    seen = []
    model = KMeans(4, random_state=0, copy_x=False,
                   callback=lambda i, c, v: seen.append(X.mean(axis=0))).fit(X)
    assert np.abs(seen[0]).max() < 1e-9  # centred during the fit: honoured
    np.testing.assert_array_equal(X, original)  # restored exactly
    # Centres come back in X's coordinates (the callback's too) and match copy_x=True.
    reference = KMeans(4, random_state=0).fit(original)
    np.testing.assert_allclose(model.cluster_centers_, reference.cluster_centers_, rtol=1e-12)
    np.testing.assert_array_equal(model.labels_, reference.labels_)


def test_copy_x_true_never_writes_to_x():
    X = _far_data()
    original = X.copy()
    seen = []
    KMeans(4, random_state=0, callback=lambda i, c, v: seen.append(X.copy())).fit(X)
    assert all(np.array_equal(snapshot, original) for snapshot in seen)
    np.testing.assert_array_equal(X, original)


def test_copy_x_false_restores_x_when_the_fit_fails():
    X = _far_data()
    original = X.copy()

    def fail(iteration, centers, inertia):
        raise KeyboardInterrupt  # an interruption mid-fit

    with pytest.raises(KeyboardInterrupt):
        KMeans(4, random_state=0, copy_x=False, callback=fail).fit(X)
    np.testing.assert_array_equal(X, original)


@pytest.mark.filterwarnings("ignore:KMeans did not converge")
def test_copy_x_false_makes_no_copy_of_x():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20000, 50)) + 1000.0  # 8 MB
    init = X[:3].copy()  # not k-means++, whose own work is not what is measured
    peaks = {}
    for copy_x in (False, True):
        KMeans(3, init=init, max_iter=5, copy_x=copy_x).fit(X)  # compile, warm caches
        tracemalloc.start()
        KMeans(3, init=init, max_iter=5, tol=0, copy_x=copy_x).fit(X)
        peaks[copy_x] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    # Labels and distances are n numbers; a copy of X would be 50 n. Centring in
    # place also spares the chunk-by-chunk shifted copies of copy_x=True.
    assert peaks[False] < X.nbytes / 10, peaks
    assert peaks[False] < peaks[True], peaks


def test_centring_that_would_not_restore_exactly_leaves_x_alone():
    X = np.array([[0.1], [1e17], [3.0]])
    original = X.copy()
    with CenteredInPlace(X, np.array([5e16])) as centred:
        assert not centred.active  # 0.1 − 5e16 + 5e16 is not 0.1
        np.testing.assert_array_equal(X, original)
    exact = np.array([[1.0], [3.0]])
    with CenteredInPlace(exact, np.array([2.0])) as centred:
        assert centred.active
        np.testing.assert_array_equal(exact, [[-1.0], [1.0]])
    np.testing.assert_array_equal(exact, [[1.0], [3.0]])


def test_copy_x_must_be_a_bool():
    with pytest.raises(TypeError, match="copy_x must be True or False"):
        KMeans(4, copy_x="no").fit(_blobs())


# ------------------------------------------------------------- model files


def test_new_kmeans_parameters_survive_a_round_trip(tmp_path):
    model = KMeans(4, random_state=0, n_init="auto", verbose=2, copy_x=False).fit(_blobs())
    save(model, tmp_path / "km.mixfit")
    loaded = load(tmp_path / "km.mixfit")
    assert (loaded.n_init, loaded.verbose, loaded.copy_x) == ("auto", 2, False)
    np.testing.assert_array_equal(loaded.predict(_blobs(1)), model.predict(_blobs(1)))


def test_new_mixture_parameters_survive_a_round_trip(tmp_path):
    model = GaussianMixture(2, random_state=0, warm_start=True, verbose_interval=3).fit(_blobs())
    save(model, tmp_path / "gm.mixfit")
    loaded = load(tmp_path / "gm.mixfit")
    assert (loaded.warm_start, loaded.verbose_interval) == (True, 3)


def _without_params(path, names):
    """Rewrite a model file as format 2 wrote it, before ``names`` existed."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = json.loads(members["model.json"])
    for name in names:
        del header["params"][name]
    members["model.json"] = json.dumps(header).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def test_files_written_before_the_new_parameters_load_with_their_defaults(tmp_path):
    X = _blobs()
    km = KMeans(4, random_state=0, n_init=1).fit(X)
    gm = GaussianMixture(2, random_state=0).fit(X)
    save(km, tmp_path / "km.mixfit")
    save(gm, tmp_path / "gm.mixfit")
    _without_params(tmp_path / "km.mixfit", ["verbose", "copy_x"])
    _without_params(tmp_path / "gm.mixfit", ["warm_start", "verbose_interval"])
    loaded_km, loaded_gm = load(tmp_path / "km.mixfit"), load(tmp_path / "gm.mixfit")
    assert (loaded_km.verbose, loaded_km.copy_x) == (0, True)
    assert (loaded_gm.warm_start, loaded_gm.verbose_interval) == (False, 10)


def test_a_model_file_with_a_bad_n_init_is_refused(tmp_path):
    save(KMeans(4, random_state=0).fit(_blobs()), tmp_path / "km.mixfit")
    with zipfile.ZipFile(tmp_path / "km.mixfit") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = json.loads(members["model.json"])
    header["params"]["n_init"] = "many"
    members["model.json"] = json.dumps(header).encode()
    with zipfile.ZipFile(tmp_path / "km.mixfit", "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    with pytest.raises(ValueError, match=r"n_init must be \"auto\" or an integer >= 1"):
        load(tmp_path / "km.mixfit")


# -------------------------------------------------------------- warm_start


def _mixture(**params):
    return GaussianMixture(2, reg_covar=0, random_state=0, **params)


def test_warm_start_resumes_where_the_previous_fit_stopped():
    X = np.random.RandomState(0).rand(500, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter=1 does not converge
        two = _mixture(max_iter=2).fit(X)
        warm = _mixture(max_iter=1, warm_start=True)
        first = warm.fit(X).score(X)
        second = warm.fit(X).score(X)
    np.testing.assert_allclose(warm.means_, two.means_, rtol=1e-12)
    np.testing.assert_allclose(warm.precisions_, two.precisions_, rtol=1e-12)
    assert second > first
    cold = _mixture(max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cold.fit(X)
        before = cold.means_.copy()
        cold.fit(X)
    np.testing.assert_array_equal(cold.means_, before)  # without warm_start: afresh


def test_warm_start_detects_convergence_against_the_previous_bound():
    X = _blobs()
    model = _mixture(tol=1e-3).fit(X)
    model.set_params(warm_start=True, max_iter=1)
    model.fit(X)  # resumed at its optimum: one iteration, converged, no warning
    assert model.converged_ and model.n_iter_ == 1


def test_warm_start_runs_one_initialisation_whatever_n_init(capsys):
    X = _blobs()
    model = _mixture(n_init=3, warm_start=True, verbose=1).fit(X)
    assert capsys.readouterr().out.count("Initialization ") == 2 * 3
    model.fit(X)
    assert capsys.readouterr().out.count("Initialization ") == 2


def test_warm_start_refuses_a_fit_that_does_not_match_the_previous_one():
    X = _blobs()
    model = _mixture(warm_start=True).fit(X)
    means = model.means_.copy()
    model.set_params(n_components=3)
    with pytest.raises(ValueError, match=r"warm_start=True resumes the previous fit.*"
                                         r"set warm_start=False"):
        model.fit(X)
    np.testing.assert_array_equal(model.means_, means)  # the fit left it as it was


def test_warm_start_must_be_a_bool():
    with pytest.raises(TypeError, match="warm_start must be True or False"):
        GaussianMixture(2, warm_start="yes").fit(_blobs())


# ----------------------------------------------------- mixture verbose


def test_mixture_verbose_one_prints_every_interval(capsys):
    X = _blobs()
    model = _mixture(verbose=1, verbose_interval=2, tol=0, max_iter=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    out = capsys.readouterr().out
    assert out == ("Initialization 0\n  Iteration 2\n  Iteration 4\n  Iteration 6\n"
                   "Initialization did not converge.\n")


def test_mixture_verbose_two_prints_changes_and_the_bound(capsys):
    X = _blobs()
    model = _mixture(verbose=2, verbose_interval=1).fit(X)
    out = capsys.readouterr().out
    changes = re.findall(r"^  Iteration (\d+)\t time lapse [0-9.]+s\t ll change (\S+)$", out, re.M)
    assert [int(n) for n, _ in changes] == list(range(1, model.n_iter_ + 1))
    bounds = model.lower_bounds_
    np.testing.assert_allclose([float(c) for _, c in changes[1:]], np.diff(bounds), atol=1e-5)
    assert re.search(
        rf"^Initialization converged\. time lapse [0-9.]+s\t lower bound {model.lower_bound_:.5f}\.$",
        out, re.M,
    )


def test_verbose_interval_is_checked():
    with pytest.raises(ValueError, match="verbose_interval must be an integer >= 1"):
        GaussianMixture(2, verbose_interval=0).fit(_blobs())


# ------------------------------------------- warnings in scikit-learn's words


def test_convergence_warnings_use_scikit_learns_wording():
    X = _blobs()
    with pytest.warns(Warning, match=r"^Best performing initialization did not converge\. Try "
                      r"different init parameters, or increase max_iter, tol, or check for "
                      r"degenerate data\. It stopped after max_iter=1 iterations\.$"):
        GaussianMixture(2, max_iter=1, random_state=0).fit(X)
    duplicated = np.array([[0, 0], [0, 1], [1, 0], [1, 0]], dtype=float)
    with pytest.warns(Warning, match=r"^Number of distinct clusters \(3\) found smaller than "
                      r"n_clusters \(4\)\. Possibly due to duplicate points in X; reduce "
                      r"n_clusters\.$"):
        KMeans(4, random_state=0).fit(duplicated)
