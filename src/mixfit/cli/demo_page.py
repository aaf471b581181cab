"""The demo's web page: its sections, the summary table and its legend, ``index.html``.

Kept apart from :mod:`mixfit.cli.demo`, which runs the experiments, for size.
The page follows the lecture: one section per part of it (:data:`SECTIONS`), each
with a sentence on what it shows and its figures, each figure with a caption
saying what to look at; then the table of every fit, its columns explained
above it. The page is a :class:`mixfit.reporting.page.Page`, so it looks like
``mixfit report``'s: self-contained (inline CSS, images beside it, no script
and no address outside the folder), its figures in a grid that follows the
screen's width (one column on a phone), printable.
"""

from __future__ import annotations

import re

from mixfit.reporting.page import Page

#: The page's sections, in the lecture's order: (id, heading, what it shows).
SECTIONS = (
    ("kmeans", "K-means",
     "The lecture's data, and K-means on it: each point goes to its nearest centre, "
     "each centre moves to the mean of its points, until nothing changes. The axes "
     "are drawn to the same scale, since K-means works with distances; wherever the "
     "true clusters are known, each cluster found is coloured as the true cluster "
     "it overlaps most (matched by the Hungarian method)."),
    ("kmeans-failures", "Where K-means fails",
     "K-means finds a local optimum of its objective, which depends on the start, "
     "and it assumes round clusters of equal size."),
    ("em", "Mixtures of Gaussians and EM",
     "A mixture gives each point a posterior over the components instead of a hard "
     "assignment; EM alternates computing those posteriors (E-step) and refitting "
     "the components to them (M-step), and never lowers the likelihood."),
    ("digits", "Digits",
     "The same mixture in 64 or 784 dimensions: each component's mean is an image, "
     "a prototype of a way of writing a digit."),
    ("choosing-k", "Choosing K",
     "The number of components and the covariance model chosen by BIC, a "
     "likelihood penalised by the number of parameters."),
    ("partial-labels", "Partial labels",
     "Knowing the class of a few points is enough to steer a mixture to the right "
     "clusters where K-means cannot find them."),
)

#: The table's columns and what each means, as the page explains them.
COLUMNS = (
    ("model", "The estimator, its number of clusters K, and the data it was fitted "
     "to (the lecture's blobs unless named)."),
    ("iterations", "Iterations until the fit stopped (EM's E- and M-steps, or "
     "K-means' assign-and-update steps), of the best start when there were several."),
    ("log-likelihood", "Mixtures only: the mean log-likelihood per sample, "
     "(1/n) Σᵢ log p(xᵢ), at the fitted parameters (lower_bound_). Higher is better; "
     "it compares models on the same data only (it depends on the data's scale and "
     "dimension), and a density can exceed 1, so it can be positive."),
    ("objective", "K-means only: its objective (inertia_), the sum over points of "
     "the squared distance to the nearest centre, Σᵢ ‖xᵢ − μ_c(i)‖². Lower is "
     "better for the same K and data; it always falls as K grows."),
    ("NMI", "Normalised mutual information between the clusters found (each "
     "point's most probable component) and the true labels: 1 when they are the "
     "same partition whatever the clusters' numbering, about 0 when unrelated."),
    ("seconds", "Wall-clock time of the fit alone (all its starts), measured after "
     "a warm-up fit of every model, so numba's one-off compilation is not in it; "
     "plotting and the NMI are not timed."),
)
HEADER = tuple(name for name, _ in COLUMNS)

#: The page's title and what it is, above the navigation line.
TITLE = "The lecture, run by mixfit"
INTRO = ("Each experiment of the lecture on K-means, mixture models and EM, run again by "
         "mixfit demo; under each figure, what to look at.")


def write_index(result):
    """Write ``result.index``: the sections with their figures, then the table.

    The page is a :class:`mixfit.reporting.page.Page`, the look of ``mixfit
    report``'s page: the figures, already written beside it by the demo, are
    referenced under their own names and laid out in a grid (one column on a
    phone). It is written to a file beside ``index.html`` and renamed, so an
    interrupted demo never leaves half a page.
    """
    known = {name for name, _, _ in SECTIONS}
    unknown = {f.section for f in result.figures} - known
    if unknown:
        raise ValueError(f"figures in sections the page does not have: {sorted(unknown)}")
    page = Page(TITLE).paragraph(INTRO).nav()
    for name, title, intro in SECTIONS:
        figures = [f for f in result.figures if f.section == name]
        if not figures:
            continue
        page.section(title, intro, anchor=name, grid=True)
        for figure in figures:
            page.figure_file(figure.filename, figure.caption, alt_text(figure.caption),
                             dpi=figure.dpi)
    page.section("All fits", "Every fit above, timed. The columns:", anchor="fits")
    page.definitions(COLUMNS)
    page.table(HEADER, [cells(row) for row in result.rows])
    page.paragraph(warm_up_note(result))
    page.write(result.out)  # result.index: out/index.html


def alt_text(caption):
    """A figure's alt text: the first sentence of its caption, which says what it shows.

    The rest of the caption (what to look at) is read in the caption itself;
    a caption of one short sentence serves whole.
    """
    first = re.split(r"(?<=[.!?])\s+(?=[A-Z])", caption.strip(), maxsplit=1)[0]
    return first if len(first) >= 30 else caption


def warm_up_note(result):
    """The sentence that reports the warm-up's seconds, kept out of the table."""
    return (f"Before the timed fits, a warm-up fit of each model took "
            f"{result.warm_up_seconds:.2f} s, mostly numba compiling its kernels (or "
            "loading them from its cache); that time is in no row of the table.")


def cells(row):
    """One table row as its formatted cells (blank where a column does not apply)."""
    def fmt(value, spec):
        return "" if value is None else format(value, spec)

    return (row.model, str(row.n_iter), fmt(row.log_likelihood, ".4f"),
            fmt(row.inertia, ".1f"), fmt(row.nmi, ".3f"), f"{row.seconds:.2f}")


def format_table(rows):
    """The summary table as aligned text lines."""
    table = [HEADER] + [cells(row) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    return [
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                  for i, (cell, w) in enumerate(zip(line, widths)))
        for line in table
    ]
