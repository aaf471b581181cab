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
from mixfit.cli import demo_page
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
    assert tuple(header) == demo_page.HEADER
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
    assert gaussian < bernoulli < page.index('src="10_')
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


# ---------------------------------------------------------------- the page's look


def test_the_page_follows_the_lecture_in_sections(probe):
    out, _ = probe
    page = (out / "index.html").read_text(encoding="utf-8")
    headings = re.findall(r"<h2>([^<]*)</h2>", page)
    assert headings == ["K-means", "Where K-means fails", "Mixtures of Gaussians and EM",
                        "Digits", "Choosing K", "Partial labels", "All fits"]
    # Each figure in its part of the lecture.
    sections = dict(re.findall(r'<section id="([^"]+)">(.*?)</section>', page, re.S))
    expected = {"kmeans": ["01_", "02_"], "kmeans-failures": ["03_", "04_"],
                "em": ["05_", "06_", "07_", "09_"], "digits": ["08_"],
                "choosing-k": ["10_"], "partial-labels": ["11_"]}
    for name, prefixes in expected.items():
        shown = re.findall(r'<img src="(\d\d_)', sections[name])
        assert sorted(set(shown)) == prefixes, name
    # The columns are explained before the table they head.
    fits = sections["fits"]
    assert fits.index("<dl>") < fits.index("<table>")


def test_the_page_is_self_contained_and_fits_any_screen(probe):
    out, _ = probe
    page = (out / "index.html").read_text(encoding="utf-8")
    images = re.findall(r"<img [^>]*>", page)
    assert len(images) >= 14
    for image in images:
        alt = re.search(r'alt="([^"]*)"', image)
        assert alt and len(alt.group(1)) > 20, image
    # Nothing from the network: every address is a file beside the page or an
    # anchor in it, and there is no script.
    addresses = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert addresses and all(re.fullmatch(r"#[\w-]+|[\w.-]+", a) for a in addresses)
    assert "<script" not in page and "url(" not in page and "@import" not in page
    assert 'name="viewport" content="width=device-width' in page
    assert re.search(r"img\{max-width:100%", page)
    # Every caption says what to look at, not only what was fitted.
    captions = re.findall(r"<figcaption>([^<]*)</figcaption>", page)
    looking = ("look", "see", "watch", "compare")
    assert all(any(word in c.lower() for word in looking) for c in captions), captions


def test_the_em_gif_holds_its_last_frame(probe):
    from PIL import Image, ImageSequence

    out, _ = probe
    with Image.open(out / "09_em.gif") as image:
        durations = [frame.info["duration"] for frame in ImageSequence.Iterator(image)]
    assert len(durations) > 2
    assert set(durations[:-1]) == {250} and durations[-1] == 2000


# ---------------------------------------------------------------- K-means figures


def test_match_gives_each_cluster_the_number_of_its_true_class():
    y = np.repeat([0, 1, 2], 10)
    found = np.repeat([2, 0, 1], 10)
    found[0] = 0  # one point astray does not change the matching
    new = demo._match(y, found, 3)
    assert list(new) == [1, 2, 0]
    assert np.mean(new[found] == y) == 29 / 30
    # More clusters than classes: the leftovers get the numbers after the classes'.
    six = np.repeat([5, 3, 1, 0, 2, 4], 5)
    y6 = np.repeat([0, 0, 1, 1, 2, 2], 5)
    new = demo._match(y6, six, 6)
    assert sorted(new) == list(range(6))
    assert all(new[k] == y6[six == k][0] for k in np.unique(six) if new[k] < 3)
    assert list(new[np.flatnonzero(new >= 3)]) == [3, 4, 5]
    # Fewer clusters than classes: distinct class numbers, the best overlaps.
    assert list(demo._match(np.repeat([0, 1, 2], [5, 10, 10]),
                            np.repeat([1, 0], [15, 10]), 2)) == [2, 1]


def test_kmeans_figures_have_true_colours_equal_axes_and_the_poor_start(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    from mixfit import plot
    from mixfit.datasets import lecture_data

    drawn = {}
    real = plot.plot_clusters

    def spy(X, labels, centers=None, **kwargs):
        drawn[kwargs.get("title")] = (np.asarray(X), np.asarray(labels), kwargs)
        return real(X, labels, centers, **kwargs)

    monkeypatch.setattr(plot, "plot_clusters", spy)

    class Page:
        section = ""
        say = staticmethod(lambda line: None)

        def start(self, section):
            pass

        def save(self, figure, filename, caption):
            pass

        def row(self, summary):
            pass

    demo._synthetic_experiments(Page(), 0, True)
    kmeans = {title: value for title, value in drawn.items() if title.startswith("K-means")}
    assert len(kmeans) == 3
    for title, (X, labels, kwargs) in kmeans.items():
        assert kwargs["equal_axes"] is True, title
        kind = "non_spherical" if "non-spherical" in title else "blobs"
        seed = demo.NON_SPHERICAL_DATA_SEED if kind == "non_spherical" else demo.DATA_SEED
        _, y = lecture_data(kind, random_state=seed)
        # Colours as the truth's: most points carry their own class's number,
        # which without the matching would hold only by chance.
        agree = np.mean(labels == y)
        assert agree > (0.9 if title == "K-means, K=3" else 0.3), (title, agree)
    X, y = lecture_data("poor_init", random_state=demo.DATA_SEED)
    starts = kmeans["K-means, K=6, poor initialisation"][2]["initial_centers"]
    assert starts.shape == (6, 2)
    assert all(y[np.flatnonzero((X == start).all(axis=1))[0]] == demo.POOR_START_CLUSTER
               for start in starts)
