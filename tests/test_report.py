"""mixfit.report and its page (mixfit.reporting.page): structure, sections, refusals."""

import re

import numpy as np
import pytest

import mixfit
from sklearn.exceptions import NotFittedError

from mixfit.datasets import make_mixture
from mixfit.reporting.build import time_line, write_report
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

    width, height = Image.open(tmp_path / "page" / "figure-01.png").size
    assert width > 1.5 * FIGURE_DPI
    # ... and shown at half its pixels, its drawn size, so that every figure's
    # lettering is the same size on the page whatever the figure's width.
    assert f'width="{round(width / 2)}" height="{round(height / 2)}"' in html


def test_a_figure_file_is_shown_at_the_size_its_dpi_gives(tmp_path):
    from PIL import Image

    folder = tmp_path / "page"
    folder.mkdir()
    Image.new("RGB", (300, 120)).save(folder / "drawn.png")
    Image.new("RGB", (90, 60)).save(folder / "moving.gif")
    page = Page("Files").section("Both")
    page.figure_file("drawn.png", "Drawn at 300 dpi.", alt="A black box.", dpi=300)
    page.figure_file("moving.gif", "Shown pixel for pixel.", alt="A black box.")
    html = page.write(folder).read_text()
    assert '<img src="drawn.png" width="100" height="40" alt="A black box.">' in html
    assert '<img src="moving.gif" alt="A black box.">' in html
    with pytest.raises(ValueError, match="dpi"):
        page.figure_file("drawn.png", "x", alt="x", dpi=0)


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
                              "Clusters one by one", "Convergence", "Where the time went"]
    expected = mixfit.select(X, random_state=0, **GRID).best_params_
    assert selection.best_params_ == expected
    assert (f"The chosen model is {expected['covariance_type']} with K = "
            f"{expected['n_components']}") in html
    assert "height" in html and "weight" in html and "the two columns" in html
    assert len(images(html)) == 4  # criterion, clusters, uncertainty, log-likelihood
    assert html.count("<tr><td") >= 5 + 10  # top models + most uncertain rows
    # A line of links to every section, each to an anchor the page has.
    links = re.findall(r'<a href="#([\w-]+)">', html.split("<nav>")[1].split("</nav>")[0])
    assert len(links) == 7 and all(f'<section id="{link}">' in html for link in links)


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


def table_after(html, caption_start):
    """The rows (lists of cell texts) of the table whose caption starts with ``caption_start``."""
    table = re.search(r"<table><caption>" + re.escape(caption_start) + r".*?</table>", html,
                      re.S).group(0)
    return [re.findall(r"<td[^>]*>([^<]*)</td>", row)
            for row in re.findall(r"<tr>(<td.*?)</tr>", table)]


def header_cells(html):
    """The texts of every table header cell of the page."""
    return re.findall(r"<th[^>]*>([^<]*)</th>", html)


def test_report_drops_rows_with_missing_values_and_lists_them(tmp_path, X3):
    X = X3.copy()
    X[3, 1] = np.nan
    X[10, [0, 2]] = np.nan
    written = write_report(X, tmp_path / "r", columns=["a", "b", "c"], **GRID)
    kept = np.delete(np.arange(150), [3, 10])
    # The selection ran on the complete rows alone.
    assert written.result.best_params_ == mixfit.select(X[kept], random_state=0,
                                                        **GRID).best_params_
    assert written.dropped.tolist() == [3, 10] and written.missing_in == ["a", "b", "c"]
    html = check_page(tmp_path / "r")
    assert "Rows dropped: 2 of 150, because they have a missing value" in html
    assert table_after(html, "The rows dropped") == [["4", "b"], ["11", "a, c"]]
    # The uncertain rows keep their numbers in the data as given (dropped rows count).
    model = written.model
    uncertainty = 1 - model.predict_proba(X[kept]).max(axis=1)
    expected = kept[np.argsort(-uncertainty, kind="stable")[:10]] + 1
    listed = [int(row[0]) for row in table_after(html, "The 10 most uncertain rows")]
    assert listed == expected.tolist() and max(listed) > 11


def test_report_lists_at_most_20_dropped_rows(tmp_path, X3):
    X = X3.copy()
    X[:25, 0] = np.nan
    mixfit.report(X, tmp_path / "r", **GRID)
    html = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert len(table_after(html, "The rows dropped")) == 20
    assert "the first 20, 5 more not listed" in html and "Rows dropped: 25 of 150" in html


@pytest.mark.parametrize("fill, match", [
    (np.inf, r"X contains 1 infinite \(inf\) value\(s\), in column\(s\) 'b'"),
    (np.nan, "every one of the 150 rows of X has a missing value"),
])
def test_report_refuses_infinite_values_and_data_without_a_complete_row(tmp_path, X3, fill,
                                                                        match):
    X = X3.copy()
    if np.isnan(fill):
        X[:, 1] = fill
    else:
        X[7, 1] = fill
    with pytest.raises(ValueError, match=match):
        mixfit.report(X, tmp_path / "r", columns=["a", "b", "c"], **GRID)
    assert not (tmp_path / "r").exists()


@pytest.fixture(scope="module")
def vev(X3):
    return mixfit.GaussianMixture(2, covariance_type="VEV", random_state=0).fit(X3)


def test_report_of_a_model_without_data_shows_what_the_parameters_give(tmp_path, vev):
    result = mixfit.report(vev, tmp_path / "r")
    assert result is vev
    html = check_page(tmp_path / "r")
    assert headings(html) == ["Data", "Clusters", "Clusters one by one", "Convergence",
                              "Where the time went"]
    assert "No data were given" in html and "Pass the data (X=)" in html
    assert "the uncertainty of each row" in html  # named as left out
    assert "Ellipses of the 2 fitted components" in html  # no points drawn
    assert len(images(html)) == 2  # clusters, log-likelihood
    assert "Weight and mean of each cluster" in html and "size" not in header_cells(html)


def test_report_of_a_model_with_data_fits_nothing(tmp_path, X3, vev, monkeypatch):
    import mixfit.selection

    def no_selection(*args, **kwargs):
        raise AssertionError("a fitted model must not be selected again")

    monkeypatch.setattr(mixfit.selection, "select", no_selection)
    means = vev.means_.copy()
    X = X3.copy()
    X[0, 0] = np.nan
    assert mixfit.report(vev, tmp_path / "r", X=X) is vev
    np.testing.assert_array_equal(vev.means_, means)
    html = check_page(tmp_path / "r")
    assert "Uncertainty" in headings(html) and "Model selection by BIC" not in headings(html)
    assert "Rows dropped: 1 of 150" in html and "no selection was run" in html
    sizes = table_after(html, "Size, weight and mean")
    labels = vev.predict(X3[1:])
    assert [int(row[1]) for row in sizes] == np.bincount(labels, minlength=2).tolist()


def test_report_of_a_selection_shows_it_without_refitting(tmp_path, X3, monkeypatch):
    import mixfit.selection

    selection = mixfit.select(X3, random_state=0, **GRID)
    monkeypatch.setattr(mixfit.selection, "select", lambda *a, **k: 1 / 0)
    written = write_report(selection, tmp_path / "r", X=X3)
    assert written.result is selection and written.n_fits is None
    html = check_page(tmp_path / "r")
    best = selection.best_params_
    assert (f"The chosen model is {best['covariance_type']} with K = "
            f"{best['n_components']}") in html
    assert "Uncertainty" in headings(html) and "fits)" not in html  # no fits timed


def test_report_of_a_scikit_learn_mixture_with_and_without_its_history(tmp_path, X3):
    from sklearn.mixture import GaussianMixture

    model = GaussianMixture(2, covariance_type="tied", random_state=0).fit(X3)
    mixfit.report(model, tmp_path / "r", X=X3, columns=["a", "b", "c"])
    html = check_page(tmp_path / "r")
    assert "Correlations between the columns within cluster 1" in html
    assert len(images(html)) == 3  # clusters, uncertainty, log-likelihood
    del model.lower_bounds_  # as scikit-learn before 1.7 kept it
    mixfit.report(model, tmp_path / "old")
    html = check_page(tmp_path / "old")
    assert "keeps no per-iteration history" in html and len(images(html)) == 1


def test_report_of_an_auto_mixture_shows_its_selection_in_the_frames_names(tmp_path, X3):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X3, columns=["length", "width", "depth"])
    auto = mixfit.AutoGaussianMixture(random_state=0, **GRID)
    with pytest.raises(NotFittedError, match="AutoGaussianMixture is not fitted"):
        mixfit.report(auto, tmp_path / "r")
    auto.fit(frame)
    assert mixfit.report(auto, tmp_path / "r", X=frame) is auto.selection_
    html = check_page(tmp_path / "r")
    assert "Model selection by BIC" in headings(html)
    assert "mean length" in header_cells(html) and "std depth" in header_cells(html)
    # Without X the names come from the estimator (fitted on the frame).
    mixfit.report(auto, tmp_path / "alone")
    assert "mean width" in header_cells((tmp_path / "alone" / "index.html").read_text(
        encoding="utf-8"))


@pytest.mark.parametrize("case, error, match", [
    ("kmeans", TypeError, "describes Gaussian mixtures; got a KMeans. It accepts data"),
    ("unfitted", NotFittedError, "this GaussianMixture is not fitted"),
    ("options", ValueError, "n_components, criterion choose a model for data"),
    ("columns", ValueError, "the model was fitted on 3 columns but X has 2"),
    ("data_twice", ValueError, "X= goes with a selection or a fitted mixture"),
])
def test_report_refuses_contradictions_and_other_estimators(tmp_path, X3, vev, case, error,
                                                            match):
    first, options = vev, {}
    if case == "kmeans":
        first = mixfit.KMeans(2, random_state=0).fit(X3)
    elif case == "unfitted":
        first = mixfit.GaussianMixture(2)
    elif case == "options":
        options = {"n_components": 3, "criterion": "icl"}
    elif case == "columns":
        options = {"X": X3[:, :2]}
    else:
        first, options = X3, {"X": X3}
    with pytest.raises(error, match=match):
        mixfit.report(first, tmp_path / "r", **options)
    assert not (tmp_path / "r").exists()


def test_report_times_each_step_and_says_so_on_the_page(tmp_path, X3):
    written = write_report(X3, tmp_path / "r", **GRID)
    assert list(written.seconds) == ["selection", "posteriors", "data", "selection plot",
                                     "clusters", "uncertainty", "per cluster", "convergence",
                                     "writing"]
    assert all(value >= 0 for value in written.seconds.values())
    html = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert re.search(r"<p>Selection [0-9.]+ s \(6 fits\), figures and tables [0-9.]+ s "
                     r"\(posteriors [0-9.]+, data", html)
    assert written.time_line().startswith("selection ") and ", writing " in (
        written.time_line())


def test_time_line_rounds_to_what_a_reader_needs():
    seconds = {"selection": 4.14, "clusters": 0.5, "uncertainty": 0.7, "writing": 0.012}
    assert time_line(seconds, 84) == ("selection 4.1 s (84 fits), figures and tables 1.2 s, "
                                      "writing 0.01 s")
    assert time_line(seconds, 84, writing=False, detail=True) == (
        "selection 4.1 s (84 fits), figures and tables 1.2 s (clusters 0.50, "
        "uncertainty 0.70)")
    assert time_line({"clusters": 0.25}, None) == "figures and tables 0.25 s"


# Chromium's screenshot and the page's requests: tests/browser.py, shared with
# tests/test_pages_browser.py.
from browser import render  # noqa: E402


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
