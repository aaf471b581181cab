"""The demo's table: timings without numba's compilation, every column explained,
and ``mixfit demo --mnist`` with no folder fetching MNIST (no network here)."""

import html
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
from mixfit.reporting.page import CSS

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
    header = re.findall(r"<th[^>]*>([^<]*)</th>", page)
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
    # The look of mixfit report's page: its stylesheet (images no wider than the
    # screen), the figures in a grid.
    assert f"<style>{CSS}</style>" in page and "max-width: 100%" in CSS
    assert page.count('<div class="figures">') == 6
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


def test_the_demo_page_fits_a_phone_in_a_browser(probe, tmp_path):
    """The page of a real (quick) demo at a phone's width: no request, no sideways scroll."""
    from browser import PHONE, measure, render

    out, _ = probe
    _, requests = render(out, tmp_path, PHONE)
    assert requests == []
    layout = measure(out, tmp_path, PHONE)
    assert layout["scroll_width"] <= layout["inner_width"] == PHONE[0], layout
    assert layout["grid_columns"] == 1


def fake_demo(folder):
    """A DemoResult as :func:`demo.run` leaves it, made in a moment: no experiment runs.

    Every section has figures, written beside the page as the demo writes them:
    2× PNGs (one wider than any screen), a tall gallery and a GIF; the rows
    hold every kind of cell (blank where a column does not apply).
    """
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    result = demo.DemoResult(folder, warm_up_seconds=1.25)
    sizes = [(1280, 960), (2400, 1000), (400, 1600)]
    for index, (section, title, _) in enumerate(demo_page.SECTIONS):
        for number in range(2):
            size = sizes[(index + number) % len(sizes)]
            name = f"{index + 1:02d}_{section}_{number}.png"
            image = Image.new("RGB", size, "white")
            draw = ImageDraw.Draw(image)
            draw.rectangle([size[0] // 8, size[1] // 8, size[0] // 2, size[1] // 2], "navy")
            draw.line([0, size[1] - 1, size[0] - 1, 0], "black", width=8)
            image.save(folder / name)
            result.figures.append(demo.Figure(
                name, f"Figure {number + 1} of the section {title}, drawn for a test. "
                "Look at the square and the line.", section))
    frames = [Image.new("P", (640, 480), colour) for colour in (0, 255)]
    frames[0].save(folder / "09_em.gif", save_all=True, append_images=frames[1:],
                   duration=[250, 2000])
    result.figures.append(demo.Figure("09_em.gif", "EM's parameters during learning, as "
                                      "an animation. Watch the means move.", "em"))
    result.rows = [
        demo.Summary("K-means K=3", 3, inertia=1852.25, nmi=0.9871, seconds=0.011),
        demo.Summary("GMM identity K=20, scikit-learn's 8×8 digits", 24,
                     log_likelihood=-295.1325, nmi=0.7, seconds=1.5),
    ]
    return result


def test_write_index_builds_the_demo_page_with_the_reports_page(tmp_path):
    result = fake_demo(tmp_path / "demo")
    before = {f.filename: (tmp_path / "demo" / f.filename).read_bytes() for f in result.figures}
    demo_page.write_index(result)
    page = result.index.read_text(encoding="utf-8")
    assert f"<style>{CSS}</style>" in page
    assert re.findall(r"<h2>([^<]*)</h2>", page) == [
        title for _, title, _ in demo_page.SECTIONS] + ["All fits"]
    ids = [name for name, _, _ in demo_page.SECTIONS] + ["fits"]
    assert re.findall(r'href="#([^"]+)"', page) == ids
    assert re.findall(r'<section id="([^"]+)">', page) == ids
    # Each figure in its section's grid, referenced under its own name, not copied
    # nor rewritten; its alt text the caption's first sentence.
    sections = dict(re.findall(r'<section id="([^"]+)">(.*?)</section>', page, re.S))
    for figure in result.figures:
        shown = sections[figure.section]
        assert f'<img src="{figure.filename}"' in shown
        assert shown.count('<div class="figures">') == 1
        alt = re.search(rf'src="{figure.filename}" alt="([^"]*)"', shown).group(1)
        first_sentence = figure.caption.split(". ")[0] + "."
        assert html.unescape(alt) == first_sentence != figure.caption
    assert sorted(p.name for p in result.out.iterdir()) == sorted([*before, "index.html"])
    assert all((tmp_path / "demo" / name).read_bytes() == data for name, data in before.items())
    # The table's cells as the demo formatted them, numbers right-aligned.
    assert ('<tr><td>K-means K=3</td><td class="num">3</td><td></td>'
            '<td class="num">1852.2</td><td class="num">0.987</td>'
            '<td class="num">0.01</td></tr>') in page
    assert '<td class="num">-295.1325</td>' in page
    assert "warm-up fit of each model took 1.25 s" in page


def test_write_index_never_leaves_half_a_page(tmp_path, monkeypatch):
    import os

    from mixfit.reporting import page as page_module

    result = fake_demo(tmp_path / "demo")
    demo_page.write_index(result)
    first = result.index.read_bytes()
    result.rows.append(demo.Summary("GMM full K=3", 5, log_likelihood=-4.2, seconds=0.2))

    def interrupted(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(page_module.os, "replace", interrupted)
    with pytest.raises(OSError, match="disk full"):
        demo_page.write_index(result)
    monkeypatch.setattr(page_module.os, "replace", os.replace)
    # A figure the page shows but the demo did not write: refused before writing.
    (result.out / result.figures[0].filename).unlink()
    with pytest.raises(FileNotFoundError, match=result.figures[0].filename):
        demo_page.write_index(result)
    assert result.index.read_bytes() == first
    assert not [p.name for p in result.out.iterdir() if p.name.startswith(".")]
    result.figures[0].section = "clustering"
    with pytest.raises(ValueError, match="sections the page does not have: .'clustering'"):
        demo_page.write_index(result)


def test_page_sections_have_anchors_a_navigation_line_and_grids_where_asked(tmp_path):
    from PIL import Image

    from mixfit.reporting.page import Page

    for name in ("a.png", "b.gif"):
        Image.new("RGB", (40, 30), "navy").save(tmp_path / name)
    page = Page("t").nav()
    page.section("Clusters one by one").section("Clusters one by one").section("2 sizes")
    page.section("Fits", "Intro.", anchor="fits", grid=True)
    page.figure_file("a.png", "Caption a.", "Alt a").figure_file("b.gif", "Caption b.", "Alt b")
    page.paragraph("After the grid.")
    with pytest.raises(ValueError, match="two sections have the anchor 'fits'"):
        page.section("Again", anchor="fits")
    with pytest.raises(ValueError, match="a letter followed by"):
        page.section("Bad", anchor="1 x")
    html_text = page.write(tmp_path).read_text(encoding="utf-8")
    ids = ["clusters-one-by-one", "clusters-one-by-one-2", "section-2-sizes", "fits"]
    assert re.findall(r'<section id="([^"]+)">', html_text) == ids
    assert re.findall(r'<nav>(.*?)</nav>', html_text)[0] == " ".join(
        f'<a href="#{i}">{h}</a>' for i, h in zip(ids, ["Clusters one by one"] * 2
                                                  + ["2 sizes", "Fits"]))
    assert ('<p>Intro.</p>\n<div class="figures">\n'
            '<figure><img src="a.png" alt="Alt a"><figcaption>Caption a.</figcaption></figure>\n'
            '<figure><img src="b.gif" alt="Alt b"><figcaption>Caption b.</figcaption></figure>\n'
            '</div>\n<p>After the grid.</p>') in html_text
    assert '<body class="wide">' in html_text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.gif", "index.html"]
    # Without a grid, the page keeps the report's width and its figures their own blocks.
    plain = Page("t").section("S").figure_file("a.png", "c", "Alt a")
    plain_text = plain.write(tmp_path).read_text(encoding="utf-8")
    assert "<body>" in plain_text and '<div class="figures">' not in plain_text


def test_page_refuses_a_figure_file_it_cannot_show_and_then_writes_nothing(tmp_path):
    from matplotlib.figure import Figure

    from mixfit.reporting.page import Page

    with pytest.raises(ValueError, match="without a folder"):
        Page("t").figure_file("sub/a.png", "c", "alt")
    with pytest.raises(ValueError, match="must be one of .png, .gif, .svg"):
        Page("t").figure_file("a.jpg", "c", "alt")
    with pytest.raises(ValueError, match="alt text"):
        Page("t").figure_file("a.png", "c", "")
    figure = Figure(figsize=(1, 1))
    page = Page("t").figure(figure, "c", "alt").figure_file("missing.png", "c", "alt")
    with pytest.raises(FileNotFoundError, match="'missing.png', which is not in"):
        page.write(tmp_path / "out")
    assert not (tmp_path / "out").exists()  # not even the generated figure
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "figure-01.png").write_bytes(b"mine")
    clash = Page("t").figure(figure, "c", "alt").figure_file("figure-01.png", "c", "alt")
    with pytest.raises(ValueError, match="'figure-01.png' has the name of one of"):
        clash.write(tmp_path / "out")
    assert (tmp_path / "out" / "figure-01.png").read_bytes() == b"mine"


def test_page_tables_keep_formatted_cells_and_definitions_keep_their_order(tmp_path):
    from mixfit.reporting.page import Page

    page = Page("t").section("S").definitions([("model", "What was fitted."),
                                                ("seconds", "How long <it> took.")])
    page.table(["model", "seconds", "note"], [["GMM", "0.50", ""], ["KM", 12.0, "x 1"],
                                              ["Z", "−3.10", "2"]])
    text = page.write(tmp_path).read_text(encoding="utf-8")
    assert ("<dl>\n<dt>model</dt><dd>What was fitted.</dd>\n"
            "<dt>seconds</dt><dd>How long &lt;it&gt; took.</dd>\n</dl>") in text
    assert '<th>model</th><th class="num">seconds</th><th>note</th>' in text
    assert ('<tr><td>GMM</td><td class="num">0.50</td><td></td></tr>' in text
            and '<td class="num">12</td><td>x 1</td>' in text
            and '<td class="num">−3.10</td><td class="num">2</td>' in text)
    with pytest.raises(ValueError, match="at least one"):
        page.definitions([])


def test_printing_keeps_figures_and_rows_whole_and_hides_the_navigation():
    printed = CSS[CSS.index("@media print"):]
    rules = dict(re.findall(r"([^{}]+)\{([^{}]*)\}", printed.split("{", 1)[1]))
    rules = {selector.strip(): body for selector, body in rules.items()}
    assert "display: none" in rules["nav"]
    assert "break-inside: avoid" in rules["figure, tr, dt, dd"]
    assert "break-after: avoid" in rules["h2, dt"]  # a heading stays with what follows
    assert "display: block" in rules[".figures"]  # no grid cell split across pages
    # The grid is a screen layout: outside print, only where a section asks for it.
    assert "display: grid" in CSS and "display: grid" not in printed


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


# ---------------------------------------------------------------- colours as the truth
# (engineer F's block: the mixture figures and the GIF coloured as the true clusters)


def test_ellipses_gif_and_k6_figure_are_coloured_as_the_truth(monkeypatch, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from mixfit import plot
    from mixfit.datasets import lecture_data

    drawn = {"ellipses": [], "gif": [], "clusters": {}}
    real_ellipses, real_animate, real_clusters = (plot.plot_ellipses, plot.animate_fit,
                                                  plot.plot_clusters)

    def spy_ellipses(model, X=None, **kwargs):
        drawn["ellipses"].append((model, np.asarray(X), kwargs.get("order")))
        return real_ellipses(model, X, **kwargs)

    def spy_animate(estimator, X, path, **kwargs):
        fitted, written = real_animate(estimator, X, path, **kwargs)
        drawn["gif"].append((fitted, np.asarray(X), kwargs.get("order")))
        return fitted, written

    def spy_clusters(X, labels, centers=None, **kwargs):
        figure = real_clusters(X, labels, centers, **kwargs)
        drawn["clusters"][kwargs.get("title")] = (np.asarray(labels), figure)
        return figure

    monkeypatch.setattr(plot, "plot_ellipses", spy_ellipses)
    monkeypatch.setattr(plot, "animate_fit", spy_animate)
    monkeypatch.setattr(plot, "plot_clusters", spy_clusters)

    class Page:
        section = ""
        say = staticmethod(lambda line: None)

        class result:
            out = tmp_path

        def start(self, section):
            pass

        def save(self, figure, filename, caption):
            pass

        def add_file(self, filename, caption):
            pass

        def row(self, summary):
            pass

    demo._synthetic_experiments(Page(), 0, True)
    demo._animation(Page(), 0, True)
    assert (tmp_path / "09_em.gif").is_file()
    truths = [lecture_data("blobs", random_state=demo.DATA_SEED)[1],
              lecture_data("non_spherical", random_state=demo.NON_SPHERICAL_DATA_SEED)[1]]
    # Figures 07 (blobs, non-spherical) and the GIF: component order[i] is drawn
    # in colour i, so a point's colour index is rank[its component]; it must be
    # its true class (the models' own numbering would match by chance only).
    cases = [(*drawn["ellipses"][0], truths[0]), (*drawn["ellipses"][1], truths[1]),
             (*drawn["gif"][0], truths[0])]
    for model, X, order, y in cases:
        assert order is not None
        colour = np.argsort(order)[model.predict(X)]
        assert np.mean(colour == y) > 0.95, np.mean(colour == y)
    # Figure 03 (K=6): the three clusters matched to true classes have the
    # classes' pure red, green and blue of figure 01, whatever K is.
    labels, figure = drawn["clusters"]["K-means, K=6, poor initialisation"]
    assert sorted(np.unique(labels)) == list(range(6))
    faces = [tuple(c.get_facecolors()[0][:3]) for c in figure.axes[0].collections[:3]]
    assert faces == [(1, 0, 0), (0, 1, 0), (0, 0, 1)]
