"""Both pages, ``mixfit report``'s and ``mixfit demo``'s, in headless Chromium.

At a phone's width and a laptop's, each page must load nothing from the
network, fit the window (no sideways scrolling: the page is no wider than the
screen), show something (the screenshot is not blank) and, for the demo, lay
its figures out one per row on the phone and side by side on the laptop. The
demo's page is built from a made-up DemoResult (tests/test_demo_table.py's
``fake_demo``: every section, figures wider than any screen, a GIF) so that no
demo runs; tests/test_demo_table.py checks the page of a real one. Skips, with
the reason, where Chromium is not installed.
"""

import numpy as np
import pytest
from browser import LAPTOP, PHONE, chromium, measure, render
from PIL import Image
from test_demo_table import fake_demo

import mixfit
from mixfit.cli import demo_page
from mixfit.datasets import make_mixture
from mixfit.reporting.page import Page


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    chromium()  # skips every test here where there is no browser
    root = tmp_path_factory.mktemp("pages")
    X, _ = make_mixture(120, [0.5, 0.5], [[0, 0], [4, 4]], random_state=0)
    # Long column names: the tables that carry them must scroll in their box on a
    # phone, not widen the page.
    mixfit.report(X, root / "report", n_components=range(1, 3),
                  covariance_types=["EII", "VVV"],
                  columns=["length_of_the_left_wing_in_mm", "width_of_the_left_wing_in_mm"])
    demo_page.write_index(fake_demo(root / "demo"))
    return {"report": root / "report", "demo": root / "demo"}


def dark_share(shot, width):
    """The share of dark pixels in the screenshot's first ``width`` columns."""
    pixels = np.asarray(Image.open(shot).convert("L"))[:, :width]
    return (pixels < 128).mean()


@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["phone", "laptop"])
@pytest.mark.parametrize("name", ["report", "demo"])
def test_the_page_fits_the_screen_and_loads_nothing_from_the_network(pages, name, size,
                                                                     tmp_path):
    shot, requests = render(pages[name], tmp_path / "shot", size)
    assert requests == []
    assert dark_share(shot, size[0]) > 0.01  # text and figures, not a blank page
    layout = measure(pages[name], tmp_path / "measure", size)
    assert layout["inner_width"] == size[0]
    assert layout["scroll_width"] <= layout["inner_width"], layout
    if name == "demo":
        assert layout["grid_columns"] == (1 if size == PHONE else 2), layout


def test_the_checks_catch_a_page_too_wide_for_a_phone_and_a_blank_one(tmp_path):
    chromium()
    wide = tmp_path / "wide"
    Page("Too wide").section("S", "A paragraph.").write(wide)
    index = wide / "index.html"
    index.write_text(index.read_text(encoding="utf-8").replace(
        "</body>", '<div style="width:2000px">wide</div></body>'), encoding="utf-8")
    layout = measure(wide, tmp_path / "measure", PHONE)
    assert layout["inner_width"] == PHONE[0] and layout["scroll_width"] >= 2000
    blank = tmp_path / "blank"
    blank.mkdir()
    (blank / "index.html").write_text("<!DOCTYPE html><html><body></body></html>")
    shot, _ = render(blank, tmp_path / "shot", PHONE)
    assert dark_share(shot, PHONE[0]) == 0
