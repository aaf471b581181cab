"""A self-contained HTML page of sections, figures and tables: the look of mixfit's pages.

:class:`Page` collects sections in order and :meth:`Page.write` writes them as
``index.html`` with its figures beside it. The page needs nothing from the
network (inline CSS, no script, no web font), reads on a laptop and on a phone
(a bounded text width, images that shrink to the screen, wide tables that
scroll inside their box) and prints (``@media print``: no page break inside a
figure or a table row, no navigation line). Both ``mixfit report`` and ``mixfit
demo`` build their pages with it, so they look alike: one stylesheet,
:data:`CSS`.

A figure is either a matplotlib Figure (saved as ``figure-NN.png`` when the
page is written), a PNG file copied under that name, or, with
:meth:`Page.figure_file`, an image already in the page's folder (PNG, GIF or
SVG), referenced by its own name. Every section gets an anchor (its ``id``),
which :meth:`Page.nav` links to; a section may lay its figures out in a grid
(one column on a phone, two side by side on a wide screen).

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
import re
import shutil
from pathlib import Path

__all__ = ["CSS", "FIGURE_DPI", "Page"]

#: Figures are saved at twice the usual 100 dpi, so that they stay sharp on
#: high-density screens and in print.
FIGURE_DPI = 200
#: The resolution at which a figure is shown at its intended size: an image
#: saved at FIGURE_DPI is shown at half its pixels (a 6.4-inch figure 640 CSS
#: pixels wide), so that every figure's lettering comes out the same size,
#: whatever the figure's width in inches.
DISPLAY_DPI = 100

#: The file names a page writes into its folder: ``index.html`` and these.
FIGURE_PATTERN = "figure-{:02d}.png"

#: The image files :meth:`Page.figure_file` may reference: what every browser shows.
FILE_SUFFIXES = (".png", ".gif", ".svg")

_ANCHOR = re.compile(r"[A-Za-z][\w-]*")

#: The stylesheet of every mixfit page, inlined in its ``<head>``. In print, a
#: figure is never taller than 20cm, so that a tall one (the demo's galleries)
#: keeps its caption on its page, A4 or Letter.
CSS = """
:root { color-scheme: light; }
body { margin: 0 auto; max-width: 60rem; padding: 1rem 1.25rem 3rem;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1d1d1f; background: #fff; overflow-wrap: break-word; }
body.wide { max-width: 84rem; }
h1 { font-size: 1.8rem; line-height: 1.25; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.35rem; margin: 2.2rem 0 0.5rem; padding-bottom: 0.2rem;
  border-bottom: 1px solid #ddd; }
p, dl { margin: 0.5rem 0; max-width: 45rem; }
nav { margin: 1rem 0; max-width: 45rem; }
nav a { display: inline-block; margin-right: 1rem; }
a { color: #0b57d0; }
figure { margin: 1rem 0; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption, caption { font-size: 0.92rem; color: #444; margin-top: 0.3rem;
  caption-side: bottom; text-align: left; }
.figures { display: grid; gap: 1.5rem; margin: 1rem 0; align-items: start;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 30rem), 1fr)); }
.figures figure { margin: 0; }
dt { font-weight: 600; margin-top: 0.5rem; }
dd { margin: 0 0 0 1.5rem; }
.table { overflow-x: auto; margin: 1rem 0; }
table { border-collapse: collapse; font-size: 0.92rem;
  font-variant-numeric: tabular-nums; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #e4e4e4; }
th { text-align: left; background: #f5f5f7; }
th.num, td.num { text-align: right; }
@media (max-width: 40rem) { body { font-size: 15px; padding: 0.5rem; }
  h1 { font-size: 1.5rem; } dd { margin-left: 1rem; }
  th, td { padding: 0.2rem 0.35rem; } }
@media print { body { max-width: none; padding: 0; font-size: 11pt; }
  nav { display: none; }
  h2, dt { break-after: avoid; }
  figure, tr, dt, dd { break-inside: avoid; }
  .figures { display: block; } .figures figure { margin: 0 0 1rem; }
  figure img { max-height: 20cm; width: auto; }
  thead { display: table-header-group; }
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
    :meth:`write`, which saves them. A page with a grid section (``section(...,
    grid=True)``) is wider than one without, so that two figures fit side by
    side; its paragraphs keep the same reading width.
    """

    def __init__(self, title):
        self.title = str(title)
        # ("section" | "paragraph" | "nav" | "figure" | "file" | "table" | "definitions",
        #  payload), in the page's order.
        self._blocks = []
        self._anchors = set()

    def section(self, heading, intro=None, *, anchor=None, grid=False):
        """Start a section: a heading, then an optional introductory paragraph.

        Parameters
        ----------
        heading : str
        intro : str, optional
        anchor : str, optional
            The section's ``id``, for links to it (``page.html#anchor``): a
            letter, then letters, digits, ``-`` or ``_``. Default: made from the
            heading ("Clusters one by one" → ``clusters-one-by-one``).
        grid : bool, default=False
            Lay the section's figures out in a grid: as many columns of at
            least 30rem as the screen holds (one on a phone).
        """
        heading = str(heading)
        if anchor is None:
            anchor = self._unique(_slug(heading))
        elif not _ANCHOR.fullmatch(str(anchor)):
            raise ValueError(f"a section's anchor must be a letter followed by letters, "
                             f"digits, '-' or '_', got {anchor!r}")
        elif anchor in self._anchors:
            raise ValueError(f"two sections have the anchor {anchor!r}: give each its own")
        self._anchors.add(anchor)
        self._blocks.append(("section", (heading, anchor, bool(grid))))
        if intro:
            self.paragraph(intro)
        return self

    def paragraph(self, text):
        """Add a paragraph of plain text."""
        self._blocks.append(("paragraph", str(text)))
        return self

    def nav(self):
        """Add, here, a line of links to every section of the page (hidden in print)."""
        self._blocks.append(("nav", None))
        return self

    def figure(self, figure, caption, alt):
        """Add a figure: a matplotlib Figure, or the path of a PNG file to copy.

        Parameters
        ----------
        figure : matplotlib.figure.Figure or path-like
            Saved at :data:`FIGURE_DPI` as PNG (or copied) when the page is
            written, as ``figure-NN.png`` (:meth:`figure_names`).
        caption : str
            What to see in the figure, shown under it.
        alt : str
            The figure described for a reader who cannot see it (required: a
            page of mixfit has alt text on every image).
        """
        _check_alt(alt)
        if isinstance(figure, (str, os.PathLike)) and Path(figure).suffix.lower() != ".png":
            raise ValueError(f"a figure file must be a PNG, got {str(figure)!r}")
        self._blocks.append(("figure", (figure, str(caption), str(alt),
                                        FIGURE_DPI / DISPLAY_DPI)))
        return self

    def figure_file(self, name, caption, alt, dpi=None):
        """Add an image that is already a file in the page's folder, shown under its name.

        The file is referenced, not copied: :meth:`write` checks that it is in
        the folder it writes to.

        Parameters
        ----------
        name : str
            A file name (no folder) ending in .png, .gif or .svg; it must not
            be one of the names :meth:`figure_names` gives this page's figures.
        caption, alt : str
            As :meth:`figure`.
        dpi : float, optional
            The resolution the image was saved at: it is shown at
            ``dpi / DISPLAY_DPI`` image pixels per CSS pixel, the size its
            figure was drawn for (as :meth:`figure`'s). None shows it pixel for
            pixel (an animation drawn at screen resolution, an SVG).
        """
        _check_alt(alt)
        if dpi is not None and not (isinstance(dpi, (int, float)) and dpi > 0):
            raise ValueError(f"dpi must be a positive number or None, got {dpi!r}")
        name = str(name)
        if Path(name).name != name or name in ("", ".", ".."):
            raise ValueError(f"a figure file is named without a folder (it lies beside "
                             f"index.html), got {name!r}")
        if Path(name).suffix.lower() not in FILE_SUFFIXES:
            raise ValueError(f"a figure file must be one of {', '.join(FILE_SUFFIXES)}, "
                             f"got {name!r}")
        self._blocks.append(("file", (name, str(caption), str(alt),
                                      None if dpi is None else dpi / DISPLAY_DPI)))
        return self

    def table(self, columns, rows, caption=None):
        """Add a table: ``columns`` (header names) and ``rows`` (sequences of cells).

        Numbers are right-aligned; floats are shown with 4 significant digits
        (at least one decimal from 1000 on). Strings are shown as given, so a
        caller may format numbers itself ("0.9871"); a string that reads as a
        number is right-aligned like one. A column whose cells are all numbers
        (blank cells aside) has its heading right-aligned too.
        """
        columns = [str(column) for column in columns]
        rows = [list(row) for row in rows]
        for row in rows:
            if len(row) != len(columns):
                raise ValueError(f"a table row has {len(row)} cells for {len(columns)} "
                                 f"columns: {row!r}")
        self._blocks.append(("table", (columns, rows, caption)))
        return self

    def definitions(self, items):
        """Add a definition list: ``items`` is a sequence of (term, what it means) pairs."""
        items = [(str(term), str(text)) for term, text in items]
        if not items:
            raise ValueError("a definition list needs at least one (term, text) pair")
        self._blocks.append(("definitions", items))
        return self

    def figure_names(self):
        """The file names of this page's figures, in order (written beside index.html)."""
        count = sum(kind == "figure" for kind, _ in self._blocks)
        return [FIGURE_PATTERN.format(index + 1) for index in range(count)]

    def write(self, folder):
        """Write ``folder/index.html`` and the figures beside it; returns index.html's path.

        The folder is created if needed. Only ``index.html`` and this page's
        figure files are written (replacing files of the same name); nothing
        else in the folder is touched. The page is written to a file beside
        and renamed, so a reader never sees half of it.

        Raises
        ------
        FileNotFoundError
            A file of :meth:`figure_file` is not in ``folder`` (nothing is written).
        ValueError
            A file of :meth:`figure_file` has the name of one of the page's
            generated figures (nothing is written).
        """
        folder = Path(folder)
        generated = self.figure_names()
        for kind, payload in self._blocks:
            if kind != "file":
                continue
            if payload[0] in generated:
                raise ValueError(f"the figure file {payload[0]!r} has the name of one of "
                                 "the page's own figures: rename it")
            if not (folder / payload[0]).is_file():
                raise FileNotFoundError(f"the page shows {payload[0]!r}, which is not in "
                                        f"{folder}: write the figure there first")
        folder.mkdir(parents=True, exist_ok=True)
        figures = (payload[0] for kind, payload in self._blocks if kind == "figure")
        for figure, name in zip(figures, generated):
            _save_figure(figure, folder / name)
        document = self._document(generated, folder)  # the images' sizes read back
        path = folder / "index.html"
        partial = folder / ".index.html.partial"
        try:
            partial.write_text(document, encoding="utf-8")
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        return path

    def _unique(self, anchor):
        candidate, number = anchor, 2
        while candidate in self._anchors:
            candidate, number = f"{anchor}-{number}", number + 1
        return candidate

    def _document(self, generated, folder):
        names = iter(generated)
        sections = [payload for kind, payload in self._blocks if kind == "section"]
        parts = [f"<h1>{_text(self.title)}</h1>"]
        open_section = grid = in_grid = False
        for kind, payload in self._blocks:
            # In a grid section, each run of consecutive figures is one grid.
            is_figure = kind in ("figure", "file")
            if in_grid and not is_figure:
                parts.append("</div>")
                in_grid = False
            elif grid and is_figure and not in_grid:
                parts.append('<div class="figures">')
                in_grid = True
            if kind == "section":
                if open_section:
                    parts.append("</section>")
                heading, anchor, grid = payload
                parts.append(f'<section id="{anchor}">\n<h2>{_text(heading)}</h2>')
                open_section = True
            elif kind == "paragraph":
                parts.append(f"<p>{_text(payload)}</p>")
            elif kind == "nav":
                links = " ".join(f'<a href="#{anchor}">{_text(heading)}</a>'
                                 for heading, anchor, _ in sections)
                parts.append(f"<nav>{links}</nav>")
            elif kind in ("figure", "file"):
                source = next(names) if kind == "figure" else payload[0]
                size = _display_size(folder / source, payload[3])
                parts.append(f'<figure><img src="{_text(source)}"{size} '
                             f'alt="{_text(payload[2])}">'
                             f"<figcaption>{_text(payload[1])}</figcaption></figure>")
            elif kind == "definitions":
                parts.append("<dl>\n" + "\n".join(
                    f"<dt>{_text(term)}</dt><dd>{_text(text)}</dd>" for term, text in payload)
                    + "\n</dl>")
            else:
                parts.append(_table_html(*payload))
        if in_grid:
            parts.append("</div>")
        if open_section:
            parts.append("</section>")
        wide = ' class="wide"' if any(grid for _, _, grid in sections) else ""
        return (
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_text(self.title)}</title>\n<style>{CSS}</style>\n</head>\n"
            f"<body{wide}>\n" + "\n".join(parts) + "\n</body>\n</html>\n")


def _check_alt(alt):
    if not str(alt).strip():
        raise ValueError("a figure needs alt text: describe what the figure shows")


def _slug(heading):
    words = re.findall(r"[a-z0-9]+", heading.lower())
    # An id starts with a letter (so that it is also a valid CSS selector).
    return "-".join(["section"] * (not words or not words[0][0].isalpha()) + words)


def _text(value):
    return html.escape(str(value), quote=True)


def _is_number(value):
    if isinstance(value, bool) or (hasattr(value, "dtype") and value.dtype.kind == "b"):
        return False
    if isinstance(value, (int, float)) or (hasattr(value, "dtype")
                                           and value.dtype.kind in "iuf"):
        return True
    if isinstance(value, str) and value.strip():
        try:
            float(value.replace("−", "-"))
        except ValueError:
            return False
        return True
    return False


def _cell(value):
    if isinstance(value, str):
        return ('<td class="num">' if _is_number(value) else "<td>") + _text(value) + "</td>"
    if not _is_number(value):
        return "<td>" + _text(value) + "</td>"
    if isinstance(value, int) or (hasattr(value, "dtype") and value.dtype.kind in "iu"):
        return f'<td class="num">{int(value)}</td>'
    return f'<td class="num">{_number(float(value))}</td>'


def _number(value):
    # 4 significant digits, but never fewer than 1 decimal for values up to 1e15: a
    # BIC of 3894.39 shown as "3894" would hide the differences that decide a model.
    if 1e3 <= abs(value) < 1e15:
        return f"{value:.1f}"
    return f"{value:.4g}"


def _numeric_column(rows, index):
    cells = [row[index] for row in rows
             if not (isinstance(row[index], str) and not row[index].strip())]
    return bool(cells) and all(_is_number(cell) for cell in cells)


def _table_html(columns, rows, caption):
    head = "".join(
        ('<th class="num">' if _numeric_column(rows, index) else "<th>")
        + _text(column) + "</th>" for index, column in enumerate(columns))
    body = "\n".join("<tr>" + "".join(_cell(value) for value in row) + "</tr>"
                     for row in rows)
    caption_html = f"<caption>{_text(caption)}</caption>" if caption else ""
    return (f'<div class="table"><table>{caption_html}<thead><tr>{head}</tr></thead>'
            f"<tbody>\n{body}\n</tbody></table></div>")


def _display_size(path, pixel_ratio):
    """`` width="…" height="…"``: the image's pixels over ``pixel_ratio`` ("" if None).

    Giving the browser the size also reserves the image's place before it
    loads; the stylesheet still shrinks it to a narrower screen.
    """
    if pixel_ratio is None or path.suffix.lower() == ".svg":
        return ""
    from PIL import Image  # matplotlib's own dependency

    with Image.open(path) as image:
        width, height = image.size
    return (f' width="{max(1, round(width / pixel_ratio))}"'
            f' height="{max(1, round(height / pixel_ratio))}"')


def _save_figure(figure, path):
    if isinstance(figure, (str, os.PathLike)):
        shutil.copyfile(figure, path)
        return
    # mixfit's figures are plain Figure objects (no pyplot state): nothing to close.
    figure.savefig(path, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
