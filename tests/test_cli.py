"""The ``mixfit`` command through its entry point and as a subprocess."""

import re
import subprocess
import sys

import pytest

from mixfit import cli


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One quick demo through the console entry point, shared by the tests below."""
    out = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [sys.executable, "-m", "mixfit", "demo", "--quick", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    return out, result


def test_demo_runs_end_to_end(demo_run):
    out, result = demo_run
    assert result.returncode == 0, result.stderr
    assert f"open {(out / 'index.html').resolve()}" in result.stdout


def test_demo_writes_every_file_the_page_references(demo_run):
    out, _ = demo_run
    page = (out / "index.html").read_text(encoding="utf-8")
    referenced = re.findall(r'<img src="([^"]+)"', page)
    # The lecture's sequence: data, K-means, poor init, non-spherical, EM
    # posteriors, log-likelihood, full covariances, digits gallery, animation.
    for prefix in ("01_", "02_", "03_", "04_", "05_", "06_", "07_", "08_", "09_"):
        assert any(name.startswith(prefix) for name in referenced), prefix
    for name in referenced:
        path = out / name
        assert path.is_file() and path.stat().st_size > 1000, name


def test_demo_prints_a_summary_table(demo_run):
    _, result = demo_run
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("model"))
    assert all(word in header for word in ("iterations", "log-likelihood", "NMI"))
    # The identity mixture on the lecture's well-separated data finds the clusters.
    row = next(line for line in lines if line.startswith("GMM identity K=3"))
    assert float(row.split()[-2]) > 0.9


def test_demo_with_a_missing_mnist_folder_exits_2(tmp_path, capsys):
    code = cli.main(["demo", "--quick", "--out", str(tmp_path / "o"),
                     "--mnist", str(tmp_path / "nowhere")])
    assert code == 2
    err = capsys.readouterr().err
    assert "no such folder" in err and "Traceback" not in err


def test_console_script_without_command_exits_2():
    result = subprocess.run(
        [sys.executable, "-m", "mixfit"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "usage: mixfit" in result.stderr


