"""``mixfit demo``: the lecture's experiments, in order, as figures and a web page.

The lecture on K-means, mixture models and EM runs these experiments; the demo
reproduces each one, writes its figure, and collects them in ``index.html``:

1. the synthetic data (three unit-covariance Gaussians in 2-D);
2. K-means on it;
3. K-means with K=6 started from a poor initialisation (a local optimum), its
   starting centres drawn beside the final ones;
4. K-means on non-spherical data (where its implicit model fails);
5. EM on the identity-covariance mixture, points coloured by their posteriors
   for the first iterations, and the log-likelihood curve;
6. full covariances with their 1σ and 2σ ellipses;
7. the digits experiment (the K=20 mixture of the lecture, on MNIST with
   ``--mnist DIR`` or, with ``--mnist`` alone, as downloaded by
   :func:`~mixfit.datasets.fetch_mnist`; otherwise on scikit-learn's bundled 8×8
   digits) with its gallery of centres and their most confident members, and
   beside it the Bernoulli mixture's gallery on the same digits binarised
   (the classic mixture of Bernoullis: each centre a map of ink probabilities);
8. the animation of EM's parameters during learning;
9. choosing K: :func:`~mixfit.selection.select` fits mclust's 14 covariance
   models for K = 1..6 to the lecture's data and plots BIC against K.
10. partial labels: K-means against a full-covariance mixture told the class
    of 1% of the non-spherical data's points (semi-supervised EM,
    :mod:`mixfit.cli.demo_labels`).

The page (:mod:`mixfit.cli.demo_page`) groups the figures in sections that
follow the lecture, each caption saying what to look at. Wherever the true
clusters are known, the clusters and components found (K-means', EM's in its
iterations, the ellipses and the GIF) are renumbered after the true ones
(:func:`_match`, the Hungarian method), so their colours can be compared with
the data's figure; figures where distances matter have equal axes.

The page's summary table times each fit after a warm-up fit of every model, so
its seconds leave out numba's one-off compilation (reported on its own line).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mixfit.cli.demo_labels import partial_labels_section
from mixfit.cli.demo_page import format_table
from mixfit.cli.demo_page import write_index as _write_index
from mixfit.reporting.page import FIGURE_DPI

__all__ = ["DemoResult", "format_table", "run"]

#: How many EM iterations are shown with posterior colouring.
POSTERIOR_ITERATIONS = (1, 2, 3, 5)

#: Seeds of the demo's data (``--seed`` seeds the algorithms, not the data). The
#: non-spherical transform A = 1.4·randn(2, 2) drawn from seed 7 is elongated
#: (condition number 4.4), so K-means' failure on it is visible, as in the lecture.
DATA_SEED = 0
#: The true cluster the poor initialisation puts all six K-means centres in.
POOR_START_CLUSTER = 2
NON_SPHERICAL_DATA_SEED = 7


@dataclass
class Figure:
    """One entry of the demo page: its file, what to look at, and its section's id."""

    filename: str
    caption: str
    section: str = ""
    #: The resolution it was saved at (None: shown pixel for pixel, as the GIF).
    dpi: float | None = None


@dataclass
class Summary:
    """One row of the summary table."""

    model: str
    n_iter: int
    log_likelihood: float | None = None
    inertia: float | None = None
    nmi: float | None = None
    seconds: float = 0.0


@dataclass
class DemoResult:
    """What :func:`run` produced."""

    out: Path
    figures: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    #: Seconds of the warm-up fits (numba compilation), kept out of the rows.
    warm_up_seconds: float = 0.0

    @property
    def index(self):
        return self.out / "index.html"


def _nmi(labels_true, labels_pred):
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(labels_true, labels_pred))


def _timed(fit):
    start = time.perf_counter()
    model = fit()
    return model, time.perf_counter() - start


def _warm_up():
    """Run a tiny fit of each model the demo times; return the seconds it took.

    The first fit of a model compiles its numba kernels (or loads them from
    numba's cache): seconds, against hundredths for the fit itself. Paying that
    here keeps it out of the table's timings, which then measure the algorithms.
    The fits mirror the timed ones (k-means++ and explicit starts, identity and
    full covariances, a callback, partial labels, a Bernoulli mixture on 0/1
    data, 2 and 64 float64 features) because numba compiles one version per
    argument type and code path.
    """
    from mixfit.estimators.discrete_mixtures import BernoulliMixture
    from mixfit.estimators.gaussian_mixture import GaussianMixture
    from mixfit.estimators.kmeans import KMeans

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        # Two iterations on noise do not converge; that is expected here.
        warnings.simplefilter("ignore")
        for n_features in (2, 64):
            X = rng.standard_normal((60, n_features))
            KMeans(3, n_init=2, random_state=0).fit(X)
            KMeans(3, init=X[:3]).fit(X)
            GaussianMixture(3, covariance_type="identity", init_params="lecture",
                            max_iter=2, callback=lambda *args: None).fit(X).predict_proba(X)
            GaussianMixture(3, covariance_type="full", n_init=2, max_iter=2,
                            random_state=0).fit(X).predict(X)
            binary = (X > 0).astype(np.float64)
            BernoulliMixture(3, max_iter=2, random_state=0).fit(binary).predict_proba(binary)
            GaussianMixture(3, covariance_type="full", max_iter=2, semi_supervised=True,
                            random_state=0).fit(X, np.arange(60) % 3 - 1)
    return time.perf_counter() - start


class _Page:
    """Collects figures and table rows, saving each figure as it comes."""

    def __init__(self, out, dpi, say):
        self.result = DemoResult(Path(out))
        self.dpi = dpi
        self.say = say
        #: The page section (an id of demo_page.SECTIONS) the next figures go in.
        self.section = ""

    def start(self, section):
        """Put the figures that follow in ``section``."""
        self.section = section

    def save(self, figure, filename, caption):
        figure.savefig(self.result.out / filename, dpi=self.dpi, bbox_inches="tight")
        self.add_file(filename, caption, dpi=self.dpi)

    def add_file(self, filename, caption, dpi=None):
        self.result.figures.append(Figure(filename, caption, self.section, dpi))
        self.say(f"  wrote {filename}")

    def row(self, summary):
        self.result.rows.append(summary)


def _match(y_true, labels, n_clusters):
    """The number each cluster gets: that of the true class it overlaps most.

    Cluster numbers are arbitrary, so a K-means or mixture figure coloured by
    them rarely matches the figure of the truth. The Hungarian method
    (:func:`scipy.optimize.linear_sum_assignment`) on the contingency table
    pairs clusters with classes so that the most points keep their colour;
    clusters left over (more clusters than classes) get the numbers after the
    classes', in their own order.

    Parameters
    ----------
    y_true : ndarray of shape (n_samples,)
        True classes, numbered 0..C-1.
    labels : ndarray of shape (n_samples,)
        Clusters found, numbered 0..n_clusters-1.
    n_clusters : int

    Returns
    -------
    new : ndarray of shape (n_clusters,)
        ``new[k]`` is cluster k's number on the figures, so ``new[labels]``
        relabels the points; distinct, and a permutation of 0..n_clusters-1
        when ``n_clusters`` is at least C.
    """
    from scipy.optimize import linear_sum_assignment

    n_classes = int(y_true.max()) + 1
    table = np.zeros((n_clusters, n_classes), dtype=np.int64)
    np.add.at(table, (labels, y_true), 1)
    rows, columns = linear_sum_assignment(table, maximize=True)
    new = np.full(n_clusters, -1)
    new[rows] = columns
    spare = np.flatnonzero(new < 0)
    new[spare] = n_classes + np.arange(spare.size)
    return new


def _shares(y_true, labels, n_clusters):
    """How many clusters found fall in each true class, e.g. "3, 1 and 2".

    A cluster found counts for the true class most of its points belong to.
    """
    table = np.zeros((n_clusters, int(y_true.max()) + 1), dtype=np.int64)
    np.add.at(table, (labels, y_true), 1)
    counts = [str(n) for n in np.bincount(table.argmax(axis=1), minlength=table.shape[1])]
    return counts[0] if len(counts) == 1 else ", ".join(counts[:-1]) + " and " + counts[-1]


def _matched_clusters(plot, X, y, model, **kwargs):
    """:func:`~mixfit.plot.plot_clusters` of a K-means fit, coloured as the truth."""
    new = _match(y, model.labels_, model.n_clusters)
    return plot.plot_clusters(X, new[model.labels_], model.cluster_centers_,
                              equal_axes=True, **kwargs)


def _synthetic_experiments(page, random_state, quick):
    from mixfit import plot
    from mixfit.datasets import lecture_data
    from mixfit.estimators.gaussian_mixture import GaussianMixture
    from mixfit.estimators.kmeans import KMeans

    page.start("kmeans")
    X, y = lecture_data("blobs", random_state=DATA_SEED)
    page.save(
        plot.plot_clusters(X, y, equal_axes=True,
                           title="The data: 3 Gaussians, unit covariance"),
        "01_data.png",
        "The lecture's data: 1000 points from three unit-covariance Gaussians, "
        "coloured by the component that drew them. See three round clouds of the "
        "same size, barely overlapping: the case K-means is made for.",
    )

    kmeans, seconds = _timed(lambda: KMeans(3, random_state=random_state).fit(X))
    page.save(
        _matched_clusters(plot, X, y, kmeans, title="K-means, K=3"),
        "02_kmeans.png",
        f"K-means with K=3 (k-means++ start), {kmeans.n_iter_} iterations. Compare "
        "with the data's figure: the colours agree almost everywhere; between two "
        "clusters K-means draws a straight boundary, halfway between their centres "
        "(the crosses).",
    )
    page.row(Summary("K-means K=3", kmeans.n_iter_, inertia=kmeans.inertia_,
                     nmi=_nmi(y, kmeans.labels_), seconds=seconds))

    page.start("kmeans-failures")
    # A poor start: all six centres among the points of one cluster. The one at
    # (4, 4), the farthest from the others: started in either of the other two,
    # K-means still finds (nearly) the best of 5 k-means++ starts on these data.
    X_poor, y_poor = lecture_data("poor_init", random_state=DATA_SEED)
    poor_init = X_poor[np.flatnonzero(y_poor == POOR_START_CLUSTER)[:6]]
    poor, seconds = _timed(lambda: KMeans(6, init=poor_init).fit(X_poor))
    good = KMeans(6, n_init=5, random_state=random_state).fit(X_poor)
    page.save(
        _matched_clusters(plot, X_poor, y_poor, poor, initial_centers=poor_init,
                          title="K-means, K=6, poor initialisation"),
        "03_kmeans_poor_init.png",
        f"K=6 started with all six centres (the circles) inside one cluster. Look "
        f"at where they ended (the crosses): the three true clusters (the one they "
        f"started in last) got {_shares(y_poor, poor.labels_, 6)} centres, where the "
        f"best of 5 k-means++ starts gives them {_shares(y_poor, good.labels_, 6)}. A "
        f"local optimum: objective {poor.inertia_:.0f}, against {good.inertia_:.0f}.",
    )
    page.row(Summary("K-means K=6, poor init", poor.n_iter_, inertia=poor.inertia_,
                     nmi=_nmi(y_poor, poor.labels_), seconds=seconds))

    X_ns, y_ns = lecture_data("non_spherical", random_state=NON_SPHERICAL_DATA_SEED)
    ns, seconds = _timed(lambda: KMeans(3, n_init=5, random_state=random_state).fit(X_ns))
    page.save(
        _matched_clusters(plot, X_ns, y_ns, ns, title="K-means on non-spherical data"),
        "04_kmeans_non_spherical.png",
        "Elongated clusters (x = A z + μ with a shared A), on equal axes. Look "
        "across the long clusters: K-means' straight boundaries, halfway between "
        "centres, cut through them, because it only knows distance to a centre.",
    )
    page.row(Summary("K-means K=3, non-spherical", ns.n_iter_, inertia=ns.inertia_,
                     nmi=_nmi(y_ns, ns.labels_), seconds=seconds))

    page.start("em")
    # EM on the lecture's model, recording the posteriors of the first iterations.
    snapshots = {}
    from mixfit.engine import em as em
    from mixfit.families import GaussianFamily

    def record(iteration, params, log_likelihood):
        if iteration in POSTERIOR_ITERATIONS:
            snapshots[iteration] = params

    identity, seconds = _timed(lambda: GaussianMixture(
        3, covariance_type="identity", init_params="lecture", tol=1e-6, max_iter=200,
        random_state=random_state, callback=record).fit(X))
    family = GaussianFamily("identity")
    # Components in the order of the true clusters they end on, so that every
    # iteration's colours match the data's figure.
    order = np.argsort(_match(y, identity.predict(X), 3))
    for iteration in sorted(snapshots):
        params = snapshots[iteration]
        log_resp, _ = em.log_resp(family, X, params, chunk_size=4096)
        page.save(
            plot.plot_posteriors(X, np.exp(log_resp)[:, order],
                                 params.components.means[order], equal_axes=True,
                                 title=f"EM, after iteration {iteration}"),
            f"05_em_iteration_{iteration}.png",
            f"EM on the identity-covariance mixture after iteration {iteration}: each "
            "point's colour mixes red, green and blue by its posterior. Watch the "
            "means (crosses) move apart from the centre of the data, and the mixed "
            "colours (points the model is unsure of) shrink to the borders.",
        )
    page.save(
        plot.plot_loglik(identity.lower_bounds_),
        "06_loglik.png",
        f"Mean log-likelihood per EM iteration: see it rise at every step, fast at "
        f"first, then flatten; EM stopped after {identity.n_iter_} iterations.",
    )
    page.row(Summary("GMM identity K=3", identity.n_iter_,
                     log_likelihood=identity.lower_bound_, nmi=_nmi(y, identity.predict(X)),
                     seconds=seconds))

    for data, labels, name, tag, see in (
        (X, y, "the lecture's data", "blobs",
         "See the ellipses come out nearly round and alike: the data is what the "
         "identity model assumes."),
        (X_ns, y_ns, "the non-spherical data", "non_spherical",
         "Look at the ellipses: each follows its elongated cluster, where "
         "K-means above cut across them."),
    ):
        full, seconds = _timed(lambda data=data: GaussianMixture(
            3, covariance_type="full", n_init=3, random_state=random_state).fit(data))
        # Each component in the colour of the true cluster it matches, as in 01-05.
        order = np.argsort(_match(labels, full.predict(data), 3))
        page.save(
            plot.plot_ellipses(full, data, order=order),
            f"07_full_{tag}.png",
            f"Full covariances on {name}: the 1σ (solid) and 2σ (dashed) ellipses of "
            f"each component, in the colour of the true cluster it matches. {see}",
        )
        page.row(Summary(f"GMM full K=3, {tag}", full.n_iter_,
                         log_likelihood=full.lower_bound_,
                         nmi=_nmi(labels, full.predict(data)), seconds=seconds))


def _animation(page, random_state, quick):
    from mixfit import plot
    from mixfit.datasets import lecture_data
    from mixfit.estimators.gaussian_mixture import GaussianMixture

    X, y = lecture_data("blobs", random_state=DATA_SEED)
    model = GaussianMixture(3, covariance_type="identity", init_params="lecture",
                            tol=1e-6, max_iter=200, random_state=random_state)
    # The components' numbers are known only after the fit: fit once (a few
    # milliseconds; the same seed gives the same fit) to pair them with the true
    # clusters, so that every frame is coloured as the data's figure.
    order = np.argsort(_match(y, model.fit(X).predict(X), 3))
    fps, hold_last = 4, 2.0
    fitted, _ = plot.animate_fit(model, X, page.result.out / "09_em.gif", fps=fps,
                                 hold_last=hold_last, dpi=50 if quick else 100, order=order)
    page.add_file("09_em.gif", f"EM's parameters during learning, {fitted.n_iter_} "
                  f"iterations at {fps} a second (iterations that change nothing visible "
                  f"are shown once); the last is held {hold_last:.0f} s. Watch the means "
                  "leave the centre of the data and the colours separate within the "
                  "first few iterations, then only small adjustments; each component "
                  "is in the colour of the true cluster it ends on.")


#: The numbers of components the "choosing K" section tries.
SELECT_COMPONENTS = range(1, 7)


def _choosing_k(page, random_state):
    """BIC over mclust's 14 models × K = 1..6 on the lecture's data; the chosen model.

    All 14 models: 84 fits of 1000 2-D points take about 2 s (the hierarchical
    start is shared by every cell), so no subset is needed to keep the demo fast.
    """
    from mixfit.datasets import lecture_data
    from mixfit.selection import select

    X, _ = lecture_data("blobs", random_state=DATA_SEED)
    start = time.perf_counter()
    selection = select(X, n_components=SELECT_COMPONENTS, random_state=random_state)
    seconds = time.perf_counter() - start
    best = selection.ranked()[0]
    runner_up = selection.ranked()[1]
    chosen = (f"{best.covariance_type} with K={best.n_components} "
              f"(BIC {best.bic:.1f}, {runner_up.bic - best.bic:.1f} below the next, "
              f"{runner_up.covariance_type} with K={runner_up.n_components})")
    figure = selection.plot().figure
    page.save(
        figure,
        "10_choosing_k.png",
        f"Choosing K: mixfit.select fitted mclust's 14 covariance models for "
        f"K = {SELECT_COMPONENTS.start}..{SELECT_COMPONENTS.stop - 1} to the lecture's "
        f"data ({len(selection.results)} fits in {seconds:.1f} s). Each line is a "
        f"model; look for the lowest point (lower BIC is better): it chose {chosen}.",
    )
    _close(figure)
    page.say(f"  chosen by BIC: {chosen}")


def _close(figure):
    import matplotlib.pyplot as plt

    plt.close(figure)


def _digits(mnist, quick, random_state):
    """Digit images as rows of intensities, their labels, the image shape, a name
    and the intensity above which a pixel counts as ink (for the binarised digits)."""
    if mnist is not None:
        from mixfit.datasets import load_mnist

        images, labels = load_mnist(mnist, kind="train")
        if quick:
            images, labels = images[:5000], labels[:5000]
        # Intensities in [0, 1]: unit variance is then about a quarter of the
        # ink range, which keeps the identity model's posteriors informative.
        X = images.reshape(len(images), -1).astype(np.float64) / 255.0
        # Binarised for the Bernoulli mixture at pixel > 127, as is usual.
        return X, labels, images.shape[1:], f"MNIST ({len(X)} training images)", 127.5 / 255
    from sklearn.datasets import load_digits

    digits = load_digits()
    # A C-ordered copy: load_digits' array is a strided view, for which numba
    # would compile (in the timed fit) a second version of the kernels.
    X, labels = np.ascontiguousarray(digits.data), digits.target
    if quick:
        X, labels = X[:600], labels[:600]
    # Raw intensities 0..16: unit variance is one grey level. Binarised at half
    # the range for the Bernoulli mixture.
    return X, labels, (8, 8), f"scikit-learn's 8×8 digits ({len(X)} images)", 8.0


def _digits_experiment(page, mnist, random_state, quick):
    from mixfit import plot
    from mixfit.estimators.gaussian_mixture import GaussianMixture

    X, labels, shape, name, threshold = _digits(mnist, quick, random_state)
    model, seconds = _timed(lambda: GaussianMixture(
        20, covariance_type="identity", init_params="lecture", tol=1e-4,
        max_iter=60 if quick else 300, random_state=random_state).fit(X))
    resp = model.predict_proba(X)
    page.save(
        plot.plot_centers(model.means_, X, resp, top=5, image_shape=shape),
        "08_digit_centres.png",
        f"The K=20 identity-covariance mixture on {name}: each row is a centre (its "
        "mean, an image), then its five most confident members, best first. See "
        "centres that look like blurred digits, several per digit (ways of writing "
        "it), and members that look like their centre; a posterior is written under "
        "a member only when it is below 0.995.",
    )
    page.row(Summary(f"GMM identity K=20, {name.split(' (')[0]}", model.n_iter_,
                     log_likelihood=model.lower_bound_,
                     nmi=_nmi(labels, resp.argmax(axis=1)), seconds=seconds))
    _bernoulli_gallery(page, X > threshold, labels, shape, name, random_state, quick)


def _bernoulli_gallery(page, ink, labels, shape, name, random_state, quick):
    """The Bernoulli mixture's centres on the binarised digits, beside the Gaussian's.

    Same K, restarts and iteration cap as the Gaussian gallery; its start,
    random memberships, is the Bernoulli analogue of the lecture's "data mean
    plus noise". Each centre is ``probabilities_[k]``: the chance of ink at
    every pixel.
    """
    from mixfit import plot
    from mixfit.estimators.discrete_mixtures import BernoulliMixture

    binary = ink.astype(np.float64)
    model, seconds = _timed(lambda: BernoulliMixture(
        20, init_params="random", tol=1e-4, max_iter=60 if quick else 300,
        random_state=random_state).fit(binary))
    resp = model.predict_proba(binary)
    page.save(
        plot.plot_centers(model.probabilities_, binary, resp, top=5, image_shape=shape),
        "08_bernoulli_digit_centres.png",
        "The K=20 Bernoulli mixture on the same digits binarised (ink or not): each "
        "centre is the probability of ink at every pixel (white: ink is certain), "
        "then its five most confident members. Compare with the Gaussian gallery: "
        "the centres of both models should show the same kinds of digit.",
    )
    page.row(Summary(f"Bernoulli K=20, {name.split(' (')[0]} binarised", model.n_iter_,
                     log_likelihood=model.lower_bound_,
                     nmi=_nmi(labels, resp.argmax(axis=1)), seconds=seconds))


def run(out="mixfit-demo", *, mnist=None, quick=False, random_state=0, say=print):
    """Run the lecture's experiments and write their figures and ``index.html``.

    Parameters
    ----------
    out : path, default="mixfit-demo"
        Folder for the PNGs, the GIF and the page (created if missing).
    mnist : path, True or None
        Folder with the MNIST IDX files; True fetches MNIST with
        :func:`~mixfit.datasets.fetch_mnist` (downloaded once into its cache
        folder); None uses scikit-learn's 8×8 digits.
    quick : bool
        Fewer digits and iterations and smaller images, for tests.
    random_state : int
    say : callable
        Receives each progress line.

    Returns
    -------
    DemoResult
    """
    import matplotlib

    if mnist is not None and mnist is not True and not Path(mnist).is_dir():
        raise FileNotFoundError(
            f"--mnist {mnist}: no such folder; give the folder that holds the MNIST "
            "IDX files (e.g. ../shared/data/mnist)."
        )
    matplotlib.use("Agg")  # files only: no display needed
    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # At 2× (FIGURE_DPI), as mixfit report's figures: sharp on high-density screens.
    page = _Page(out, dpi=60 if quick else FIGURE_DPI, say=say)
    if mnist is True:
        # First, so that a failed download stops the demo before any work.
        from mixfit.datasets.fetch import ensure_files

        mnist = ensure_files("mnist")
        say(f"MNIST: checked in the cache folder {mnist}")
    say("Warming up (compiling the numba kernels before any timing):")
    page.result.warm_up_seconds = _warm_up()
    say(f"  {page.result.warm_up_seconds:.2f} s")
    say("The lecture's synthetic experiments:")
    _synthetic_experiments(page, random_state, quick)
    say("The EM animation:")
    page.start("em")
    _animation(page, random_state, quick)
    say("The digits experiment:")
    page.start("digits")
    _digits_experiment(page, mnist, random_state, quick)
    say("Choosing K (the model and number of components, by BIC):")
    page.start("choosing-k")
    _choosing_k(page, random_state)
    say("Partial labels (K-means against a mixture told 1% of the classes):")
    page.start("partial-labels")
    partial_labels_section(page, random_state, data_seed=NON_SPHERICAL_DATA_SEED,
                           summary=Summary, nmi=_nmi, timed=_timed)
    _write_index(page.result)
    say("")
    for line in format_table(page.result.rows):
        say(line)
    say(f"(seconds: the fit alone, after a {page.result.warm_up_seconds:.2f} s warm-up "
        f"in which numba compiled or loaded its kernels; {page.result.index.name} "
        "explains every column)")
    say(f"\nDone in {time.perf_counter() - start:.1f} s; open {page.result.index.resolve()}")
    return page.result
