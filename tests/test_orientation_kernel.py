"""The plane-rotation kernel of EVE/VVE's common orientation, and the new kernels' shape checks."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mixfit.kernels.orientation import jacobi_orientation_sweep


def objective(scatter, orientation, weights):
    """Σ_k tr(W_k D B_k Dᵀ), computed plainly."""
    return sum(np.trace(w @ orientation @ np.diag(b) @ orientation.T)
               for w, b in zip(scatter, weights))


def random_problem(seed, n_components=3, n_features=5):
    rng = np.random.default_rng(seed)
    scatter = []
    for _ in range(n_components):
        a = rng.normal(size=(n_features, 2 * n_features))
        scatter.append(a @ a.T)
    scatter = np.array(scatter)
    weights = rng.uniform(0.2, 3.0, size=(n_components, n_features))
    orientation = np.linalg.qr(rng.normal(size=(n_features, n_features)))[0]
    return scatter, weights, orientation


@pytest.mark.parametrize("seed", range(6))
def test_a_sweep_lowers_the_objective_by_what_it_reports(seed):
    scatter, weights, orientation = random_problem(seed)
    before = objective(scatter, orientation, weights)
    rotated = np.einsum("ji,kjl,lm->kim", orientation, scatter, orientation)
    decrease = jacobi_orientation_sweep(rotated, orientation, weights)
    after = objective(scatter, orientation, weights)
    assert decrease >= 0
    assert before - after == pytest.approx(decrease, rel=1e-9, abs=1e-9 * before)
    np.testing.assert_allclose(orientation.T @ orientation, np.eye(5), atol=1e-12)
    # The kernel kept M_k = Dᵀ W_k D up to date with the rotated D.
    np.testing.assert_allclose(
        rotated, np.einsum("ji,kjl,lm->kim", orientation, scatter, orientation),
        rtol=1e-9, atol=1e-9 * np.abs(scatter).max())


@pytest.mark.parametrize("seed", range(4))
def test_sweeps_reach_a_minimum_no_rotation_improves(seed):
    scatter, weights, orientation = random_problem(seed, n_features=4)
    for _ in range(200):
        rotated = np.einsum("ji,kjl,lm->kim", orientation, scatter, orientation)
        if jacobi_orientation_sweep(rotated, orientation, weights) < 1e-13:
            break
    best = objective(scatter, orientation, weights)
    rng = np.random.default_rng(seed)
    for _ in range(200):  # small random rotations around the result never do better
        skew = rng.normal(scale=1e-3, size=(4, 4))
        nearby = orientation @ np.linalg.qr(np.eye(4) + (skew - skew.T))[0]
        assert objective(scatter, nearby, weights) >= best - 1e-9 * best


def test_new_kernel_entries_refuse_mismatched_shapes():
    code = textwrap.dedent("""
        import numpy as np
        from mixfit.kernels.orientation import jacobi_orientation_sweep
        from mixfit.kernels.agglomerate import _agglomerate
        f = np.zeros
        cases = {
            "orientation rotated": lambda: jacobi_orientation_sweep(
                f((2, 4, 4)), np.eye(4), f((3, 4))),
            "orientation D": lambda: jacobi_orientation_sweep(
                f((3, 4, 4)), np.eye(5), f((3, 4))),
            "agglomerate mass": lambda: _agglomerate(
                np.random.default_rng(0).normal(size=(6, 2)), np.ones(5), np.eye(2), 1.0, 1),
            "agglomerate ridge": lambda: _agglomerate(
                np.random.default_rng(0).normal(size=(6, 2)), np.ones(6), np.eye(3), 1.0, 1),
        }
        for name, call in cases.items():
            try:
                call()
            except ValueError as error:
                assert "mixfit internal error" in str(error), (name, error)
            else:
                raise SystemExit(f"{name}: no error")
        print("refused", len(cases))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "refused 4" in result.stdout
