"""The demo's table: timings without numba's compilation, every column explained,
and ``mixfit demo --mnist`` with no folder fetching MNIST (no network here)."""

import json
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mixfit import cli
from mixfit.cli import demo as demo
from mixfit.datasets import DownloadError

# Runs in a fresh interpreter, where no kernel has been compiled or loaded yet
# (in pytest's process earlier tests may already have done it, hiding a miss).
# It counts the compiled versions of every numba kernel around each timed fit.
_PROBE = textwrap.dedent("""
    import json, sys
    import numpy as np
    from numba.core.dispatcher import Dispatcher
    import mixfit.cli.demo as demo
    from mixfit.datasets import fetch, write_idx

    def compiled():
        return sum(len(value.overloads)
                   for name, module in list(sys.modules.items())
                   if name.startswith("mixfit")
                   for value in vars(module).values() if isinstance(value, Dispatcher))

    events, new_versions = [], []
    real_timed, real_warm_up = demo._timed, demo._warm_up

    def timed(fit):
        before = compiled()
        result = real_timed(fit)
        events.append("timed")
        new_versions.append(compiled() - before)
        return result

    def warm_up():
        events.append("warm-up")
        return real_warm_up()

    demo._timed, demo._warm_up = timed, warm_up

    # "--mnist" without a folder, served from a tiny MNIST written here.
    out, mnist = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    write_idx(mnist + "/train-images-idx3-ubyte.gz",
              rng.integers(0, 256, (300, 28, 28), dtype=np.uint8))
    write_idx(mnist + "/train-labels-idx1-ubyte.gz",
              (np.arange(300) % 10).astype(np.uint8))
    asked = []
    fetch.ensure_files = lambda name: asked.append(name) or __import__("pathlib").Path(mnist)
    lines = []
    result = demo.run(out, mnist=True, quick=True, say=lines.append)
    # The other digits source (scikit-learn's), timed after the same warm-up.
    demo._digits_experiment(demo._Page(out, 60, lines.append), None, 0, True)
    print(json.dumps({"events": events, "new_versions": new_versions, "asked": asked,
                      "warm_up_seconds": result.warm_up_seconds, "lines": lines}))
""")


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    mnist = tmp_path_factory.mktemp("mnist")
    done = subprocess.run([sys.executable, "-c", _PROBE, str(out), str(mnist)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return out, json.loads(done.stdout.splitlines()[-1])


def test_the_warm_up_runs_once_before_any_timed_fit(probe):
    _, report = probe
    events = report["events"]
    assert events[0] == "warm-up" and events.count("warm-up") == 1
    # The nine table rows of run() plus the scikit-learn digits rows (Gaussian
    # and Bernoulli).
    assert events.count("timed") == 11
    assert report["warm_up_seconds"] > 0


def test_no_timed_fit_compiles_a_kernel(probe):
    """Each timed fit finds every numba kernel it needs already compiled."""
    _, report = probe
    assert report["new_versions"] == [0] * 11


def test_the_page_explains_every_column(probe):
    out, _ = probe
    page = (out / "index.html").read_text(encoding="utf-8")
    header = re.findall(r"<th>([^<]*)</th>", page)
    assert tuple(header) == demo._HEADER
    explained = dict(re.findall(r"<dt>([^<]*)</dt><dd>([^<]+)</dd>", page))
    assert set(explained) == set(header)
    assert "mean log-likelihood per sample" in explained["log-likelihood"]
    assert "squared distance to the nearest centre" in explained["objective"]
    assert "mutual information" in explained["NMI"]
    assert "compilation is not in it" in explained["seconds"]
    # The warm-up's own time is reported apart, on the page and in the printout.
    assert re.search(r"warm-up fit of each model took \d+\.\d\d s", page)
    _, report = probe
    assert any("after a" in line and "warm-up" in line for line in report["lines"])


def test_demo_run_with_mnist_true_fetches_mnist(probe):
    out, report = probe
    assert report["asked"] == ["mnist"]
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "GMM identity K=20, MNIST" in page


def test_the_bernoulli_gallery_is_drawn_beside_the_gaussian_one(probe):
    from PIL import Image

    out, report = probe
    page = (out / "index.html").read_text(encoding="utf-8")
    gaussian = page.index('src="08_digit_centres.png"')
    bernoulli = page.index('src="08_bernoulli_digit_centres.png"')
    assert gaussian < bernoulli < page.index('src="09_')
    assert "Bernoulli K=20, MNIST binarised" in page
    # 20 centres, each with five members: a tall figure, with ink in it.
    image = Image.open(out / "08_bernoulli_digit_centres.png").convert("L")
    width, height = image.size
    assert height > 2 * width and len(np.unique(np.asarray(image))) > 16


def _capture_run(monkeypatch):
    calls = []
    monkeypatch.setattr(demo, "run", lambda out, **kwargs: calls.append(kwargs))
    return calls


def test_mnist_without_a_folder_asks_the_demo_to_fetch(monkeypatch, tmp_path):
    calls = _capture_run(monkeypatch)
    assert cli.main(["demo", "--mnist", "--quick", "--out", str(tmp_path)]) == 0
    assert cli.main(["demo", "--out", str(tmp_path), "--mnist"]) == 0
    assert cli.main(["demo", "--mnist", str(tmp_path), "--out", str(tmp_path)]) == 0
    assert cli.main(["demo", "--out", str(tmp_path)]) == 0
    assert [call["mnist"] for call in calls] == [True, True, str(tmp_path), None]


def test_a_failed_download_stops_the_demo_before_any_work(monkeypatch, tmp_path, capsys):
    from mixfit.datasets import fetch

    def fail(name):
        raise DownloadError(f"could not fetch {name}: every mirror failed")

    monkeypatch.setattr(fetch, "ensure_files", fail)
    out = tmp_path / "out"
    assert cli.main(["demo", "--mnist", "--quick", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "mixfit demo: could not fetch mnist" in err and "Traceback" not in err
    assert not any(out.iterdir())  # no figure was made before the download failed
