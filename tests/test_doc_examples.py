"""The runnable examples of the user docs run: every ```python block of the pages below.

Each page's blocks run in order in one namespace (a later block may use an
earlier one's names), in a subprocess so that a crash fails the test.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted([*DOCS.glob("families/*.md"), *DOCS.glob("fixed-and-labels.md"),
                *DOCS.glob("missing-values.md"), *DOCS.glob("report.md")])


def blocks(page):
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)


def test_the_pages_exist_and_have_examples():
    assert DOCS.joinpath("fixed-and-labels.md") in PAGES
    assert all(blocks(page) for page in PAGES), "a page without a runnable example"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(DOCS).as_posix())
def test_the_examples_run(page, tmp_path):
    code = "\n\n".join(blocks(page))
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"{page.name}:\n{done.stderr[-3000:]}"
