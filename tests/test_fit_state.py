"""A failed fit leaves the estimator as it was; kernels refuse arrays of the wrong shapes.

Regression tests for the fault campaign's first finding: after a refused refit on
wider data, ``n_features_in_`` described the new data while ``means_`` were the old
fit's, and ``predict`` handed the numba kernels arrays of different widths — a
double free, a segmentation fault or silently wrong labels. The crash-prone
sequences run in a subprocess, so that a crash fails the test instead of ending
the test run.
"""

import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from mixfit import GaussianMixture, KMeans

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical", "identity"]


def _run_isolated(code, timeout=120):
    """Run ``code`` in a fresh interpreter; return its stdout (the test fails on a crash)."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=timeout,
    )
    assert result.returncode == 0, (
        f"exit code {result.returncode} (negative: killed by signal)\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr[-3000:]}"
    )
    return result.stdout


def _fitted_state(estimator):
    """The attributes of an estimator, arrays copied, for comparing before and after."""
    return {name: (value.copy() if isinstance(value, np.ndarray) else value)
            for name, value in vars(estimator).items()}


def _assert_same_value(value, other, name):
    if isinstance(value, np.ndarray):
        assert np.array_equal(value, other), name
    elif isinstance(value, list):
        assert len(value) == len(other), name
        for item, other_item in zip(value, other):
            _assert_same_value(item, other_item, name)
    elif hasattr(value, "__dict__") and not callable(value):
        # Helper objects (the fitted family) have no __eq__: compare their content.
        assert type(value) is type(other), name
        _assert_same_state(vars(value), vars(other))
    else:
        assert value is other or value == other, name


def _assert_same_state(before, after):
    assert set(before) == set(after)
    for name, value in before.items():
        if name != "callback":
            _assert_same_value(value, after[name], name)


ESTIMATOR_NAMES = [f"gmm-{c}" for c in COVARIANCE_TYPES] + ["kmeans"]


@pytest.fixture(params=ESTIMATOR_NAMES)
def estimator(request):
    """A new, unfitted estimator of each kind (a new one per test)."""
    if request.param == "kmeans":
        return KMeans(3, n_init=2, random_state=0)
    return GaussianMixture(3, covariance_type=request.param[4:], random_state=0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    narrow = rng.normal(size=(300, 2))
    wide = rng.normal(size=(300, 8))
    wide[5, 3] = np.inf  # refused by every estimator (GaussianMixture models NaN)
    return narrow, wide


def test_refused_refit_on_other_width_keeps_the_previous_model(estimator, data):
    narrow, wide = data
    estimator.fit(narrow)
    before = _fitted_state(estimator)
    labels = estimator.predict(narrow)
    for method in ("fit", "fit_predict") + (("fit_transform",) if isinstance(estimator, KMeans)
                                             else ()):
        with pytest.raises(ValueError, match="infinite"):
            getattr(estimator, method)(wide)
        _assert_same_state(before, _fitted_state(estimator))
        assert estimator.n_features_in_ == 2
        assert np.array_equal(estimator.predict(narrow), labels)
        with pytest.raises(ValueError, match="8 features"):
            estimator.predict(np.zeros((4, 8)))


def test_failed_refit_then_predict_on_other_widths_never_crashes():
    # The campaign's exact sequences, every covariance type: 2 → 8 (abort), 2 → 50
    # (segfault), 8 → 2 (silently wrong labels).
    out = _run_isolated("""
        import numpy as np
        from mixfit import GaussianMixture, KMeans
        rng = np.random.default_rng(1)
        checked = 0
        for make in [lambda: GaussianMixture(3, covariance_type=c, random_state=0)
                     for c in ("full", "tied", "diag", "spherical", "identity")] + [
                     lambda: KMeans(3, random_state=0, n_init=1)]:
            for fitted_width, bad_width in ((2, 8), (2, 50), (8, 2)):
                est = make().fit(rng.normal(size=(400, fitted_width)))
                reference = est.predict(np.ones((300, fitted_width)))
                bad = rng.normal(size=(400, bad_width))
                bad[0, 0] = np.inf  # GaussianMixture models NaN; inf is refused by all
                try:
                    est.fit(bad)
                except ValueError:
                    pass
                else:
                    raise SystemExit("the inf refit was accepted")
                try:
                    est.predict(rng.normal(size=(3000, bad_width)))
                except ValueError as error:
                    assert f"{fitted_width} features" in str(error), error
                else:
                    raise SystemExit("predict on the wrong width was accepted")
                assert np.array_equal(est.predict(np.ones((300, fitted_width))), reference)
                checked += 1
        print("checked", checked)
    """)
    assert "checked 18" in out


class _Stop(Exception):
    pass


@pytest.mark.parametrize("exception", [_Stop, KeyboardInterrupt])
def test_callback_that_raises_keeps_the_previous_model(estimator, exception, data):
    narrow, _ = data
    shifted = narrow * 3.0 + 5.0
    estimator.fit(narrow)
    before = _fitted_state(estimator)

    def stop(iteration, *_):
        if iteration == 2:
            raise exception()

    estimator.set_params(callback=stop, max_iter=50, tol=0)
    with pytest.raises(exception):
        estimator.fit(shifted)
    after = _fitted_state(estimator)
    after.pop("callback"), after.pop("max_iter"), after.pop("tol")
    for name in ("callback", "max_iter", "tol"):
        before.pop(name)
    _assert_same_state(before, after)


def test_failed_first_fit_leaves_the_estimator_unfitted(estimator, data):
    _, wide = data
    with pytest.raises(ValueError):
        estimator.fit(wide)
    assert not hasattr(estimator, "n_features_in_")
    with pytest.raises(NotFittedError):
        estimator.predict(np.zeros((3, 8)))


def test_interrupted_fit_then_refit_equals_a_fresh_fit(estimator, data):
    narrow, _ = data
    fresh = _fitted_state(estimator.__class__(**estimator.get_params()).fit(narrow))

    def interrupt(iteration, *_):
        if iteration == 2:
            raise KeyboardInterrupt

    estimator.set_params(callback=interrupt)
    with pytest.raises(KeyboardInterrupt):
        estimator.fit(narrow)
    estimator.set_params(callback=None)
    estimator.fit(narrow)
    _assert_same_state(fresh, _fitted_state(estimator))


def test_attributes_set_by_hand_that_disagree_are_refused_not_crashed():
    out = _run_isolated("""
        import numpy as np
        from mixfit import GaussianMixture, KMeans
        rng = np.random.default_rng(2)
        refused = 0
        estimators = [GaussianMixture(3, covariance_type=c, random_state=0)
                      for c in ("full", "tied", "diag", "spherical", "identity")]
        estimators.append(KMeans(40, random_state=0, n_init=1))
        for est in estimators:
            est.fit(rng.normal(size=(2000, 2)))
            for width in (1, 8, 50):
                est.n_features_in_ = width
                methods = (("predict", "transform", "score") if isinstance(est, KMeans)
                           else ("predict", "predict_proba", "score_samples", "score"))
                for method in methods:
                    try:
                        getattr(est, method)(rng.normal(size=(3000, width)))
                    except ValueError as error:
                        assert "inconsistent" in str(error), error
                        refused += 1
                    else:
                        raise SystemExit(f"{est!r}.{method} on width {width}: no error")
        print("refused", refused)
    """)
    assert "refused 69" in out  # 5 covariance types × 3 widths × 4 methods + 3 × 3


def test_every_kernel_entry_refuses_mismatched_shapes():
    # Called directly, below every Python check: each must raise, not read or
    # write outside its arrays.
    out = _run_isolated("""
        import numpy as np
        from mixfit.kernels import em as em
        from mixfit.kernels import sweep as sw
        from mixfit.kernels import kmeans as km
        from mixfit.kernels import kmeans_direct as kd
        from mixfit.kernels import kmeans_totals as kt
        from mixfit.kernels import moments as mo

        K, d, n = 3, 4, 300
        rng = np.random.default_rng(0)
        X = rng.normal(size=(n, d))
        wide = rng.normal(size=(n, d + 5))
        f = np.zeros
        cases = {
            "sweep_diag": lambda: sw.sweep_diag(
                wide, f(0), f((K, d)), f((K, d)), f(K), True, 128, 0, 3, 0,
                f(1), f(1), f((1, K)), f((1, K, d)), f((1, K, d))),
            "sweep_diag chunk_end": lambda: sw.sweep_diag(
                X, f(0), f((K, d)), f((K, d)), f(K), True, 2**61, 0, 5, 0,
                f(1), f(1), f((1, K)), f((1, K, d)), f((1, K, d))),
            "sweep_diag slot": lambda: sw.sweep_diag(
                X, f(0), f((K, d)), f((K, d)), f(K), True, 128, 0, 3, 7,
                f(1), f(1), f((1, K)), f((1, K, d)), f((1, K, d))),
            "sweep_diag weights": lambda: sw.sweep_diag(
                X, f(5), f((K, d)), f((K, d)), f(K), True, 128, 0, 3, 0,
                f(1), f(1), f((1, K)), f((1, K, d)), f((1, K, d))),
            "sweep_tied": lambda: sw.sweep_tied(
                X, f(0), f((K, d)), f(d), f((d + 1, d + 1)), f((K, d)), f(K), 128, 0, 3, 0,
                f(1), f(1), f((1, K)), f((1, K, d)), f((1, d, d))),
            "sweep_full": lambda: sw.sweep_full(
                X, f(0), f((K, d)), f((K - 1, d, d)), f(K), 128, 0, 3, 0,
                f(1), f(1), f((1, K)), f((1, K, d)), f((1, K, d, d))),
            "posterior_diag": lambda: sw.posterior_diag(
                wide, f((K, d)), f((K, d)), f(K), 0, n, np.zeros(n, np.intp), f((0, K)), f(0)),
            "posterior_diag rows": lambda: sw.posterior_diag(
                X, f((K, d)), f((K, d)), f(K), 0, n + 100, np.zeros(n, np.intp),
                f((0, K)), f(0)),
            "posterior_diag labels": lambda: sw.posterior_diag(
                X, f((K, d)), f((K, d)), f(K), 0, n, np.zeros(10, np.intp), f((0, K)), f(0)),
            "posterior_tied": lambda: sw.posterior_tied(
                wide, f(d), f((d, d)), f((K, d)), f(K), 0, n, np.zeros(n, np.intp),
                f((0, K)), f(0)),
            "posterior_full": lambda: sw.posterior_full(
                X, f((K, d)), f((K, d, d)), f(K), 0, n, f(0, np.intp), f((n, K + 1)), f(n)),
            "exp_nonpositive": lambda: sw.exp_nonpositive(f(50), f(10), f(50)),
            "mahalanobis_scaled": lambda: em.mahalanobis_scaled(wide, f((K, d)), f((K, d)),
                                                                f((n, K))),
            "mahalanobis_blocks": lambda: em.mahalanobis_blocks(f((n, K * d - 1)), f((K, d)),
                                                                f((n, K))),
            "normalise": lambda: em.normalise(f((n, K)), f(K), f(n - 1), f((n, K))),
            "moments_diag": lambda: em.moments_diag(X, f((n, K)), f((K, d + 1)), f((K, d)),
                                                    f((K, d))),
            "moments_full": lambda: em.moments_full(X, f((n, K)), f((K, d)), f((K, d)),
                                                    f((K, d, d - 1))),
            "lloyd_chunk": lambda: km.lloyd_chunk(
                f((K, n)), f(K), f(n), X, f(0), np.zeros(n, np.int32), f(0), f((K - 1, d)),
                f(K)),
            "update_centers": lambda: kt.update_centers(f((K, d)), f(K), f((K, d - 1))),
            "hamerly_screen labels": lambda: km.hamerly_screen(
                X, f(0), f(n), f((K, d)), np.full(n, K, np.int32), f(n, np.float32), f(K),
                f(K), 0, 0.0, 0.0, 0.0, 0.0, f((K, d)), f(K), np.zeros(n, np.int64)),
            "hamerly_full rows": lambda: km.hamerly_full(
                f((K, 10)), f(K), f(10), X[:10], f(0), np.arange(n, n + 10), 0.0, 0.0,
                np.zeros(n, np.int32), f(n, np.float32), f((K, d)), f(K)),
            "lloyd_direct": lambda: kd.lloyd_direct(
                X, f((K, d - 1)), f(0), np.zeros(n, np.int32), f(0), f((K, d)), f(K)),
            "hamerly_direct_full todo": lambda: kd.hamerly_direct_full(
                X, f(0), np.full(4, n, np.int64), 4, f((K, d)), 0.0, np.zeros(n, np.int32),
                f(n, np.float32), f((K, d)), f(K)),
            "moment_rows": lambda: mo._moment_rows(X, f(0), 0, n + 1, 0, f((1, d)), f(1), f(0)),
            "moment_rows row_squares": lambda: mo._moment_rows(
                X, f(0), 0, n, 0, f((1, d)), f(1), f(n - 1)),
            "finite_max_abs_rows": lambda: mo._finite_max_abs_rows(
                X, 0, n, 0, f((1, d + 1)), np.ones(1, np.int8)),
            "far_bound": lambda: em.far_bound(f(d), f((K, d)), f((K, d - 1)), True, f(K)),
        }
        for name, call in cases.items():
            try:
                call()
            except ValueError as error:
                assert "mixfit internal error" in str(error), (name, error)
            else:
                raise SystemExit(f"{name}: no error")
        print("refused", len(cases))
    """, timeout=300)
    assert "refused 27" in out


@pytest.mark.parametrize("estimator", [GaussianMixture(4, covariance_type="full", random_state=0),
                                       KMeans(40, n_init=1, random_state=0)],
                         ids=["gmm", "kmeans"])
def test_concurrent_predict_equals_serial(estimator):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20000, 5))
    estimator.fit(X)
    method = estimator.predict_proba if hasattr(estimator, "predict_proba") else estimator.transform
    serial = method(X)
    results = [None] * 4

    def work(slot):
        results[slot] = method(X)

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        assert np.array_equal(result, serial)
