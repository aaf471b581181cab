"""mixfit.report and its page (mixfit.reporting.page): structure, sections, refusals."""

import re

import numpy as np
import pytest

import mixfit
from mixfit.datasets import make_mixture
from mixfit.reporting.page import FIGURE_DPI, Page

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Tiny grids keep each report to about a second.
GRID = {"n_components": range(1, 4), "covariance_types": ["EII", "VVV"]}


@pytest.fixture(scope="module")
def X3():
    X, _ = make_mixture(150, [0.5, 0.5], [[0, 0, 0], [4, 4, 4]], random_state=0)
    return X


def images(html):
    return re.findall(r"<img [^>]*>", html)


def check_page(folder):
    """The page's invariants: alt text on every image, PNG files beside it, no URL."""
    html = (folder / "index.html").read_text(encoding="utf-8")
    assert "http" not in html and "//" not in html.replace("<!DOCTYPE", "")
    assert "<script" not in html and "@import" not in html
    assert "max-width: 100%" in html and "@media print" in html
    tags = images(html)
    assert tags
    for tag in tags:
        alt = re.search(r'alt="([^"]*)"', tag)
        assert alt and alt.group(1).strip(), tag
        source = re.search(r'src="([^"]+)"', tag).group(1)
        assert "/" not in source  # beside index.html
        assert (folder / source).read_bytes()[:8] == PNG_SIGNATURE
    return html


def headings(html):
    return re.findall(r"<h2>([^<]*)</h2>", html)


def test_page_writes_sections_tables_and_sharp_figures(tmp_path):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 1))
    figure.add_subplot().plot([0, 1], [0, 1])
    page = Page("A <title> & more")
    page.section("First", "Intro text.").figure(figure, caption="A line.", alt="A rising line.")
    page.table(["name", "value"], [["a<b", 1.234567], ["c", 3], ["bic", 3894.39]],
               caption="Numbers.")
    page.paragraph("Done.")
    path = page.write(tmp_path / "page")
    html = check_page(tmp_path / "page")
    assert path == tmp_path / "page" / "index.html"
    assert "A &lt;title&gt; &amp; more" in html and "a&lt;b" in html  # escaped
    assert '<td class="num">1.235</td>' in html and '<td class="num">3</td>' in html
    assert '<td class="num">3894.4</td>' in html  # a criterion keeps its decimal
    assert headings(html) == ["First"]
    # 2 × 1 inches at FIGURE_DPI (bbox_inches="tight" trims a little).
    from PIL import Image

    width, _ = Image.open(tmp_path / "page" / "figure-01.png").size
    assert width > 1.5 * FIGURE_DPI


def test_page_refuses_a_figure_without_alt_text_and_ragged_rows():
    page = Page("t")
    with pytest.raises(ValueError, match="alt text"):
        page.figure("x.png", caption="c", alt=" ")
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        page.table(["a", "b", "c"], [[1, 2]])


def test_report_2d_has_every_section_and_the_selections_choice(tmp_path, X3):
    X = X3[:, :2]
    selection = mixfit.report(X, tmp_path / "r", columns=["height", "weight"], **GRID)
    html = check_page(tmp_path / "r")
    assert headings(html) == ["Data", "Model selection by BIC", "Clusters", "Uncertainty",
                              "Clusters one by one", "Convergence"]
    expected = mixfit.select(X, random_state=0, **GRID).best_params_
    assert selection.best_params_ == expected
    assert (f"The chosen model is {expected['covariance_type']} with K = "
            f"{expected['n_components']}") in html
    assert "height" in html and "weight" in html and "the two columns" in html
    assert len(images(html)) == 4  # criterion, clusters, uncertainty, log-likelihood
    assert html.count("<tr><td") >= 5 + 10  # top models + most uncertain rows


def test_report_6d_draws_principal_components_and_says_so(tmp_path, X3):
    X = np.hstack([X3, X3[:, ::-1] + np.random.default_rng(0).normal(size=X3.shape)])
    mixfit.report(X, tmp_path / "r", **GRID)
    html = check_page(tmp_path / "r")
    assert "the first two principal components of the 6 columns" in html
    assert "Clusters" in headings(html)


def test_report_1d_draws_the_density_histogram(tmp_path, X3):
    mixfit.report(X3[:, 0], tmp_path / "r", columns=["size"], **GRID)
    html = check_page(tmp_path / "r")
    assert "One column: the histogram of size" in html
    assert "Histogram of size with" in html  # the density figure's alt text


def test_report_shows_correlations_only_for_models_with_them(tmp_path, X3):
    mixfit.report(X3, tmp_path / "vvv", n_components=[2], covariance_types=["VVV"])
    assert "Correlations between the columns within cluster 1" in (
        tmp_path / "vvv" / "index.html").read_text(encoding="utf-8")
    mixfit.report(X3, tmp_path / "eii", n_components=[2], covariance_types=["EII"])
    assert "has no correlations" in (tmp_path / "eii" / "index.html").read_text(
        encoding="utf-8")


def test_report_refuses_an_existing_folder_and_force_keeps_other_files(tmp_path, X3):
    out = tmp_path / "r"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="exists.*force"):
        mixfit.report(X3, out, **GRID)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    mixfit.report(X3, out, force=True, **GRID)
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "index.html").exists() and (out / "figure-01.png").exists()


def test_report_refuses_a_constant_column_by_name(tmp_path, X3):
    X = X3.copy()
    X[:, 1] = 2.5
    with pytest.raises(ValueError, match="'b' hold a single value"):
        mixfit.report(X, tmp_path / "r", columns=["a", "b", "c"], **GRID)
    assert not (tmp_path / "r").exists()


def test_mixfit_report_is_the_function_even_after_the_page_module_is_imported():
    # A package named mixfit.report would replace the function on import of a submodule.
    import mixfit.reporting.page  # noqa: F401
    from mixfit.reporting import report

    assert mixfit.report is report and callable(mixfit.report)


def test_report_refuses_missing_values_without_writing(tmp_path, X3):
    X = X3.copy()
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        mixfit.report(X, tmp_path / "r", **GRID)
    assert not (tmp_path / "r").exists()


def render(folder, tmp_path):
    """Open folder/index.html in headless Chromium: its screenshot and the page's requests.

    The requests are read from Chromium's network log: those whose top frame is
    the file:// page (the browser's own background requests, to update servers
    and the like, have another site and are not the page's doing).
    """
    import json
    import shutil
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")
    shot, log = tmp_path / "shot.png", tmp_path / "net.json"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,1400",
         # Nothing may leave the machine, even if the page asked: names resolve nowhere.
         "--host-resolver-rules=MAP * ~NOTFOUND",
         f"--screenshot={shot}", f"--log-net-log={log}", (folder / "index.html").as_uri()],
        check=True, capture_output=True, timeout=120)
    events = json.loads(log.read_text())
    start_job = events["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    requests = [event["params"]["url"] for event in events["events"]
                if event["type"] == start_job
                and event["params"].get("network_isolation_key", "").startswith("file://")]
    return shot, requests


def test_a_browser_renders_the_page_without_any_request(tmp_path, X3):
    from PIL import Image

    mixfit.report(X3[:, :2], tmp_path / "r", **GRID)
    shot, requests = render(tmp_path / "r", tmp_path)
    assert requests == []
    pixels = np.asarray(Image.open(shot).convert("L"))
    assert (pixels < 128).mean() > 0.01  # text and figures, not a blank page
    # The check can fail: a page that loads an image from the network is caught.
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "index.html").write_text('<img src="http://example.com/x.png" alt="x">')
    _, requests = render(bad, tmp_path / "second")
    assert requests == ["http://example.com/x.png"]
