"""The ``mixfit`` command through its entry point and as a subprocess."""

import subprocess
import sys

import numpy as np

from mixfit import cli, demo


def test_demo_prints_iterations_and_recovers_the_lecture_means(capsys):
    assert cli.main(["demo", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "iteration  1: mean log-likelihood" in out
    assert "converged: True" in out
    assert "NMI against the true labels" in out


def test_demo_recovers_the_true_parameters():
    kmeans, gmm = demo.run(out=lambda line: None, random_state=2)
    true = demo.LECTURE_MEANS.T
    order = demo._matched(gmm.means_, true)
    # 1000 points, unit variance: each mean is within a few standard errors.
    np.testing.assert_allclose(gmm.means_[order], true, atol=0.25)
    np.testing.assert_allclose(gmm.weights_, 1 / 3, atol=0.06)
    assert np.diff(gmm.lower_bounds_).min() >= -1e-12


def test_console_script_without_command_exits_2():
    result = subprocess.run(
        [sys.executable, "-m", "mixfit"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "usage: mixfit" in result.stderr


def test_console_script_runs_demo():
    result = subprocess.run(
        [sys.executable, "-m", "mixfit", "demo"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "Mixture of identity-covariance Gaussians" in result.stdout
