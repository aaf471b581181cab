"""A self-contained HTML page of sections, figures and tables: the look of mixfit's pages.

:class:`Page` collects sections in order and :meth:`Page.write` writes them as
``index.html`` with its figures beside it as PNG files. The page needs nothing
from the network (inline CSS, no script, no web font), reads on a laptop and on
a phone (a bounded text width, images that shrink to the screen) and prints
(``@media print``: no page break inside a figure or a table row). Both ``mixfit
report`` and ``mixfit demo`` build their pages with it, so they look alike.

Examples
--------
>>> page = Page("My data")                                       # doctest: +SKIP
>>> page.section("Clusters", "Three groups, well separated.")    # doctest: +SKIP
>>> page.figure(fig, caption="The data by cluster.", alt="Scatter plot of ...")  # doctest: +SKIP
>>> page.table(["cluster", "size"], [[1, 50], [2, 48]], caption="Sizes.")  # doctest: +SKIP
>>> page.write("out")  # out/index.html, out/figure-01.png     # doctest: +SKIP
"""

from __future__ import annotations

import html
import os
import shutil
from pathlib import Path

__all__ = ["FIGURE_DPI", "Page"]

#: Figures are saved at twice the usual 100 dpi, so that they stay sharp on
#: high-density screens and in print.
FIGURE_DPI = 200

#: The file names a page writes into its folder: ``index.html`` and these.
FIGURE_PATTERN = "figure-{:02d}.png"

_CSS = """
:root { color-scheme: light; }
body { margin: 0 auto; max-width: 60rem; padding: 1rem 1.25rem 3rem;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1d1d1f; background: #fff; }
h1 { font-size: 1.8rem; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.35rem; margin: 2.2rem 0 0.5rem; padding-bottom: 0.2rem;
  border-bottom: 1px solid #ddd; }
p { margin: 0.5rem 0; }
figure { margin: 1rem 0; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption, caption { font-size: 0.92rem; color: #444; margin-top: 0.3rem;
  caption-side: bottom; text-align: left; }
.table { overflow-x: auto; margin: 1rem 0; }
table { border-collapse: collapse; font-size: 0.92rem;
  font-variant-numeric: tabular-nums; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #e4e4e4; }
th { text-align: left; background: #f5f5f7; }
td.num { text-align: right; }
@media (max-width: 40rem) { body { font-size: 15px; padding: 0.5rem; }
  th, td { padding: 0.2rem 0.35rem; } }
@media print { body { max-width: none; padding: 0; font-size: 11pt; }
  h2 { break-after: avoid; } figure, tr { break-inside: avoid; }
  .table { overflow: visible; } }
"""


class Page:
    """An HTML page built section by section: headings, paragraphs, figures and tables.

    Parameters
    ----------
    title : str
        The page's title and top heading.

    Notes
    -----
    Text is escaped: pass plain text, not HTML. Figures are kept until
    :meth:`write`, which saves them.
    """

    def __init__(self, title):
        self.title = str(title)
        self._blocks = []  # ("section" | "paragraph" | "figure" | "table", payload)

    def section(self, heading, intro=None):
        """Start a section: a heading, then an optional introductory paragraph."""
        self._blocks.append(("section", str(heading)))
        if intro:
            self.paragraph(intro)
        return self

    def paragraph(self, text):
        """Add a paragraph of plain text."""
        self._blocks.append(("paragraph", str(text)))
        return self

    def figure(self, figure, caption, alt):
        """Add a figure: a matplotlib Figure, or the path of a PNG file to copy.

        Parameters
        ----------
        figure : matplotlib.figure.Figure or path-like
            Saved at :data:`FIGURE_DPI` as PNG when the page is written.
        caption : str
            What to see in the figure, shown under it.
        alt : str
            The figure described for a reader who cannot see it (required: a
            page of mixfit has alt text on every image).
        """
        if not str(alt).strip():
            raise ValueError("a figure needs alt text: describe what the figure shows")
        if isinstance(figure, (str, os.PathLike)) and Path(figure).suffix.lower() != ".png":
            raise ValueError(f"a figure file must be a PNG, got {str(figure)!r}")
        self._blocks.append(("figure", (figure, str(caption), str(alt))))
        return self

    def table(self, columns, rows, caption=None):
        """Add a table: ``columns`` (header names) and ``rows`` (sequences of cells).

        Numbers are right-aligned; floats are shown with 4 significant digits
        (at least one decimal from 1000 on).
        """
        columns = [str(column) for column in columns]
        rows = [list(row) for row in rows]
        for row in rows:
            if len(row) != len(columns):
                raise ValueError(f"a table row has {len(row)} cells for {len(columns)} "
                                 f"columns: {row!r}")
        self._blocks.append(("table", (columns, rows, caption)))
        return self

    def figure_names(self):
        """The file names of this page's figures, in order (written beside index.html)."""
        count = sum(kind == "figure" for kind, _ in self._blocks)
        return [FIGURE_PATTERN.format(index + 1) for index in range(count)]

    def write(self, folder):
        """Write ``folder/index.html`` and the figures beside it; returns index.html's path.

        The folder is created if needed. Only ``index.html`` and this page's
        figure files are written (replacing files of the same name); nothing
        else in the folder is touched.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        names = iter(self.figure_names())
        parts = [f"<h1>{_text(self.title)}</h1>"]
        open_section = False
        for kind, payload in self._blocks:
            if kind == "section":
                if open_section:
                    parts.append("</section>")
                parts.append(f"<section>\n<h2>{_text(payload)}</h2>")
                open_section = True
            elif kind == "paragraph":
                parts.append(f"<p>{_text(payload)}</p>")
            elif kind == "figure":
                name = next(names)
                _save_figure(payload[0], folder / name)
                parts.append(f'<figure><img src="{name}" alt="{_text(payload[2])}">'
                             f"<figcaption>{_text(payload[1])}</figcaption></figure>")
            else:
                parts.append(_table_html(*payload))
        if open_section:
            parts.append("</section>")
        document = (
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_text(self.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(parts) + "\n</body>\n</html>\n")
        path = folder / "index.html"
        # Written beside and renamed: a reader never sees half a page.
        partial = folder / ".index.html.partial"
        partial.write_text(document, encoding="utf-8")
        os.replace(partial, path)
        return path


def _text(value):
    return html.escape(str(value), quote=True)


def _cell(value):
    if isinstance(value, bool):
        return "<td>" + _text(value) + "</td>"
    if isinstance(value, int) or (hasattr(value, "dtype") and value.dtype.kind in "iu"):
        return f'<td class="num">{int(value)}</td>'
    if isinstance(value, float) or (hasattr(value, "dtype") and value.dtype.kind == "f"):
        return f'<td class="num">{_number(float(value))}</td>'
    return "<td>" + _text(value) + "</td>"


def _number(value):
    # 4 significant digits, but never fewer than 1 decimal for values up to 1e15: a
    # BIC of 3894.39 shown as "3894" would hide the differences that decide a model.
    if 1e3 <= abs(value) < 1e15:
        return f"{value:.1f}"
    return f"{value:.4g}"


def _table_html(columns, rows, caption):
    head = "".join(f"<th>{_text(column)}</th>" for column in columns)
    body = "\n".join("<tr>" + "".join(_cell(value) for value in row) + "</tr>"
                     for row in rows)
    caption_html = f"<caption>{_text(caption)}</caption>" if caption else ""
    return (f'<div class="table"><table>{caption_html}<thead><tr>{head}</tr></thead>'
            f"<tbody>\n{body}\n</tbody></table></div>")


def _save_figure(figure, path):
    if isinstance(figure, (str, os.PathLike)):
        shutil.copyfile(figure, path)
        return
    # mixfit's figures are plain Figure objects (no pyplot state): nothing to close.
    figure.savefig(path, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
