"""Figures and the EM animation: rendered on Agg, decoded with Pillow, inspected."""

import math
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from conftest import make_blobs  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Ellipse  # noqa: E402
from PIL import Image, ImageSequence  # noqa: E402
from sklearn.cluster import KMeans as SklearnKMeans  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402

from mixfit import GaussianMixture, KMeans, plot  # noqa: E402
from mixfit.plot import _common as plot_common  # noqa: E402
from mixfit.plot import animation as plot_animation  # noqa: E402

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical", "identity"]


@pytest.fixture(scope="module")
def data2d():
    return make_blobs(n_per=(40, 30, 35), seed=2)


@pytest.fixture(scope="module")
def data5d():
    return make_blobs(n_per=(40, 30, 35), n_features=5, seed=3)


def rendered_pixels(fig, path):
    """Save ``fig`` as PNG, decode it, check it is a real picture; return the RGB pixels."""
    fig.savefig(path, dpi=40)
    with Image.open(path) as image:
        assert image.format == "PNG"
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.shape[0] > 10 and pixels.shape[1] > 10
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 1, "the image is one flat colour"
    return pixels


def gif_frames(path):
    with Image.open(path) as image:
        assert image.format == "GIF"
        return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)]


def has_colour(pixels, rgb, tol=40):
    return bool(np.any(np.abs(pixels.astype(int) - rgb).max(axis=-1) <= tol))


# ---------------------------------------------------------------- lazy import


def test_importing_mixfit_does_not_import_matplotlib():
    code = (
        "import sys, mixfit, mixfit.plot\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] == 'matplotlib']\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- colours


@pytest.mark.parametrize("n_components", [1, 3, 4, 12, 25])
def test_every_component_gets_its_own_valid_colour(n_components):
    colours = plot_common._component_colours(n_components)
    assert colours.shape == (n_components, 3)
    assert colours.min() >= 0 and colours.max() <= 1
    assert len(np.unique(colours.round(6), axis=0)) == n_components


def test_a_components_colour_does_not_depend_on_k():
    # Component k keeps its colour whatever K: a K=6 fit whose first three
    # clusters match three true classes shows them in the classes' colours.
    longest = plot_common._component_colours(30)
    for n_components in range(1, 31):
        np.testing.assert_array_equal(plot_common._component_colours(n_components),
                                      longest[:n_components])
    np.testing.assert_array_equal(longest[:3], np.eye(3))
    # The palette's others are not mistaken for red, green or blue (past 20
    # components, hues go round the circle and some come close).
    distance = np.abs(longest[3:20, None, :] - np.eye(3)[None]).max(axis=-1)
    assert distance.min() > 0.35, distance.min()


def test_order_must_be_a_permutation():
    np.testing.assert_array_equal(plot_common._check_order([2, 0, 1], 3), [2, 0, 1])
    np.testing.assert_array_equal(plot_common._check_order(None, 3), [0, 1, 2])
    for bad in ([0, 0, 1], [0, 1], [1, 2, 3], [0.0, 2.0, 1.0], [[0, 1, 2]], [True, False, True]):
        with pytest.raises(ValueError, match=r"order must be a permutation of 0\.\.2"):
            plot_common._check_order(bad, 3)


# ---------------------------------------------------------------- plot_clusters


def test_plot_clusters_colours_each_cluster_and_adds_a_legend_entry(data2d, tmp_path):
    X, y = data2d
    km = KMeans(3, random_state=0).fit(X)
    fig = plot.plot_clusters(X, km.labels_, km.cluster_centers_, title="K-means")
    assert isinstance(fig, Figure)
    rendered_pixels(fig, tmp_path / "clusters.png")
    ax = fig.axes[0]
    texts = [text.get_text() for text in ax.get_legend().get_texts()]
    assert texts == ["cluster 0", "cluster 1", "cluster 2", "centres"]
    # One scatter per cluster with its own colour, then the two crosses.
    colours = [tuple(c.get_facecolors()[0][:3]) for c in ax.collections[:3]]
    assert len(set(colours)) == 3
    assert [len(c.get_offsets()) for c in ax.collections[:3]] == list(np.bincount(km.labels_))
    black, white = ax.collections[3:]
    np.testing.assert_allclose(black.get_offsets(), km.cluster_centers_)
    np.testing.assert_allclose(black.get_facecolors()[0], [0, 0, 0, 1])
    np.testing.assert_allclose(white.get_facecolors()[0], [1, 1, 1, 1])
    assert black.get_linewidths()[0] > white.get_linewidths()[0]
    # The legend lies right of the axes, not over the data.
    fig.canvas.draw()
    legend_box = ax.get_legend().get_window_extent()
    assert legend_box.x0 >= ax.get_window_extent().x1


def test_plot_clusters_accepts_any_labels_and_draws_on_a_given_axes(data5d, tmp_path):
    X, y = data5d
    labels = np.array(["a", "b", "c"])[y]
    fig = Figure()
    sub = fig.subfigures(1, 2)[1]
    ax = sub.add_subplot()
    assert plot.plot_clusters(X, labels, ax=ax) is fig
    texts = [text.get_text() for text in ax.get_legend().get_texts()]
    assert texts == ["cluster a", "cluster b", "cluster c"]
    # The first two coordinates are drawn.
    drawn = np.vstack([c.get_offsets() for c in ax.collections])
    np.testing.assert_allclose(np.sort(drawn[:, 0]), np.sort(X[:, 0]))
    rendered_pixels(fig, tmp_path / "clusters_ax.png")


def test_plot_clusters_rejects_mismatched_input(data2d):
    X, y = data2d
    with pytest.raises(ValueError, match="labels must have shape"):
        plot.plot_clusters(X, y[:-1])
    with pytest.raises(ValueError, match="centers has 3 features but X has 2"):
        plot.plot_clusters(X, y, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="minimum of 2"):
        plot.plot_clusters(X[:, :1], y)


@pytest.mark.parametrize("draw", [
    lambda X, y, **kw: plot.plot_clusters(X, y, **kw),
    lambda X, y, **kw: plot.plot_posteriors(X, np.eye(3)[y], **kw),
], ids=["plot_clusters", "plot_posteriors"])
def test_equal_axes_gives_both_axes_the_same_scale(draw, data2d, tmp_path):
    X, y = data2d
    # Stretched along x: without equal axes, matplotlib fills the box and one
    # unit of x is drawn shorter than one unit of y.
    stretched = X * [6.0, 1.0]

    def pixels_per_unit(fig):
        ax = fig.axes[0]
        fig.canvas.draw()
        box = ax.get_window_extent()
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        return box.width / (x1 - x0), box.height / (y1 - y0)

    free = draw(stretched, y)
    equal = draw(stretched, y, equal_axes=True)
    rendered_pixels(equal, tmp_path / "equal.png")
    sx, sy = pixels_per_unit(free)
    assert abs(sx / sy - 1) > 0.5
    sx, sy = pixels_per_unit(equal)
    assert sx / sy == pytest.approx(1, rel=1e-2)


def test_plot_clusters_draws_the_starts_as_hollow_circles(data2d, tmp_path):
    X, y = data2d
    starts = X[:4]
    fig = plot.plot_clusters(X, y, X[4:7], initial_centers=starts)
    rendered_pixels(fig, tmp_path / "starts.png")
    ax = fig.axes[0]
    texts = [text.get_text() for text in ax.get_legend().get_texts()]
    assert texts[-2:] == ["centres", "starts"]
    circles = ax.collections[-1]
    np.testing.assert_allclose(circles.get_offsets(), starts)
    assert len(circles.get_facecolors()) == 0  # hollow: edges only
    np.testing.assert_allclose(circles.get_edgecolors()[0], [0, 0, 0, 1])
    with pytest.raises(ValueError, match="initial_centers has 3 features but X has 2"):
        plot.plot_clusters(X, y, initial_centers=np.zeros((2, 3)))


# ---------------------------------------------------------------- plot_posteriors


def test_plot_posteriors_certain_component_0_is_pure_red(data2d, tmp_path):
    X, _ = data2d
    resp = np.tile([1.0, 0.0, 0.0], (len(X), 1))
    fig = plot.plot_posteriors(X, resp, means=np.zeros((3, 2)))
    pixels = rendered_pixels(fig, tmp_path / "red.png")
    points = fig.axes[0].collections[0]
    np.testing.assert_array_equal(points.get_facecolors(), np.tile([1, 0, 0, 1], (len(X), 1)))
    assert has_colour(pixels, (255, 0, 0), tol=10)


def test_plot_posteriors_mixes_rgb_for_few_components(data2d):
    X, _ = data2d
    resp = np.tile([0.25, 0.75], (len(X), 1))  # K=2: padded to (0.25, 0.75, 0) as RGB
    fig = plot.plot_posteriors(X, resp)
    np.testing.assert_allclose(fig.axes[0].collections[0].get_facecolors()[:, :3],
                               np.tile([0.25, 0.75, 0.0], (len(X), 1)))


def test_plot_posteriors_blends_a_palette_for_many_components(data2d, tmp_path):
    X, _ = data2d
    gm = GaussianMixture(5, covariance_type="diag", random_state=0).fit(X)
    resp = gm.predict_proba(X)
    fig = plot.plot_posteriors(X, resp, gm.means_, title="K=5")
    rendered_pixels(fig, tmp_path / "k5.png")
    palette = plot_common._component_colours(5)
    np.testing.assert_array_equal(palette[:3], np.eye(3))  # as for K <= 3
    np.testing.assert_allclose(fig.axes[0].collections[0].get_facecolors()[:, :3],
                               np.clip(resp @ palette, 0, 1), atol=1e-12)
    texts = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert texts == [f"component {k}" for k in range(5)] + ["means"]


def test_plot_posteriors_rejects_what_is_not_a_posterior(data2d):
    X, _ = data2d
    resp = np.full((len(X), 2), 0.5)
    with pytest.raises(ValueError, match="resp has 104 rows but X has 105"):
        plot.plot_posteriors(X, resp[:-1])
    with pytest.raises(ValueError, match="probabilities"):
        plot.plot_posteriors(X, np.log(resp))
    with pytest.raises(ValueError, match="probabilities"):
        plot.plot_posteriors(X, resp * 2)


# ---------------------------------------------------------------- plot_loglik


def test_plot_loglik_numbers_iterations_from_one(data2d, tmp_path):
    X, _ = data2d
    gm = GaussianMixture(3, init_params="random_from_data", tol=1e-5, random_state=0).fit(X)
    fig = plot.plot_loglik(gm.lower_bounds_)
    rendered_pixels(fig, tmp_path / "loglik.png")
    assert len(fig.axes) == 1
    (line,) = fig.axes[0].lines
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, gm.n_iter_ + 1))
    np.testing.assert_array_equal(line.get_ydata(), gm.lower_bounds_)
    assert fig.axes[0].get_xlabel() == "iteration"


def test_plot_loglik_draws_an_objective_alone_or_on_a_twin_axis(data2d, tmp_path):
    X, _ = data2d
    km = KMeans(3, init="random", random_state=0).fit(X)
    alone = plot.plot_loglik(None, objective=km.inertia_history_)
    rendered_pixels(alone, tmp_path / "inertia.png")
    assert len(alone.axes) == 1
    assert "inertia" in alone.axes[0].get_ylabel()
    np.testing.assert_array_equal(alone.axes[0].lines[0].get_ydata(), km.inertia_history_)

    both = plot.plot_loglik([-3.0, -2.5, -2.4], objective=km.inertia_history_)
    rendered_pixels(both, tmp_path / "both.png")
    left, right = both.axes
    assert left.get_ylabel() == "log-likelihood" and "inertia" in right.get_ylabel()
    np.testing.assert_array_equal(right.lines[0].get_xdata(), np.arange(1, km.n_iter_ + 1))
    assert len(left.get_legend().get_texts()) == 2


def test_plot_loglik_needs_something_finite_to_plot():
    with pytest.raises(ValueError, match="nothing to plot"):
        plot.plot_loglik(None)
    with pytest.raises(ValueError, match="finite"):
        plot.plot_loglik([1.0, np.nan])
    with pytest.raises(ValueError, match="non-empty"):
        plot.plot_loglik([])


# ---------------------------------------------------------------- plot_ellipses


def ellipse_covariance(patch):
    """The covariance whose 1σ ellipse is ``patch`` (scaled by the patch's σ)."""
    angle = np.radians(patch.angle)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return rotation @ np.diag([(patch.width / 2) ** 2, (patch.height / 2) ** 2]) @ rotation.T


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_plot_ellipses_draws_1_and_2_sigma_of_each_component(covariance_type, data2d, tmp_path):
    X, _ = data2d
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    fig = plot.plot_ellipses(gm, X)
    rendered_pixels(fig, tmp_path / f"ellipses_{covariance_type}.png")
    ax = fig.axes[0]
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    assert len(ellipses) == 2 * 3
    family_cov = gm._family.structure.component_covariance
    for k in range(3):
        one, two = ellipses[2 * k], ellipses[2 * k + 1]
        expected = family_cov(gm.covariances_, k, 2)
        np.testing.assert_allclose(one.center, gm.means_[k])
        np.testing.assert_allclose(ellipse_covariance(one), expected, rtol=1e-7, atol=1e-12)
        np.testing.assert_allclose(ellipse_covariance(two), 4 * expected, rtol=1e-7, atol=1e-12)
    # The points take the colour of their predicted component.
    colours = plot_common._component_colours(3)[gm.predict(X)]
    np.testing.assert_allclose(ax.collections[0].get_facecolors()[:, :3], colours)


def test_plot_ellipses_order_gives_component_order_i_colour_i(data2d, tmp_path):
    X, _ = data2d
    gm = GaussianMixture(3, covariance_type="full", random_state=0).fit(X)
    order = [2, 0, 1]
    fig = plot.plot_ellipses(gm, X, order=order)
    rendered_pixels(fig, tmp_path / "ordered.png")
    ax = fig.axes[0]
    colours = plot_common._component_colours(3)
    inner = [p for p in ax.patches if isinstance(p, Ellipse)][::2]
    for i, (patch, k) in enumerate(zip(inner, order)):
        np.testing.assert_allclose(patch.center, gm.means_[k])
        np.testing.assert_allclose(patch.get_edgecolor()[:3], colours[i])
    # Points of component 2 are red (colour 0), of component 0 green, of 1 blue.
    labels = gm.predict(X)
    np.testing.assert_allclose(ax.collections[0].get_facecolors()[:, :3],
                               colours[np.array([1, 2, 0])[labels]])
    texts = [text.get_text() for text in ax.get_legend().get_texts()]
    assert texts == ["component 2", "component 0", "component 1", "means"]
    with pytest.raises(ValueError, match=r"order must be a permutation of 0\.\.2"):
        plot.plot_ellipses(gm, X, order=[0, 1, 1])


def test_plot_ellipses_uses_the_marginal_of_the_first_two_coordinates(data5d, tmp_path):
    X, _ = data5d
    gm = GaussianMixture(2, covariance_type="full", random_state=0).fit(X)
    fig = plot.plot_ellipses(gm)
    rendered_pixels(fig, tmp_path / "ellipses5d.png")
    ellipses = [p for p in fig.axes[0].patches if isinstance(p, Ellipse)]
    assert len(ellipses) == 4
    for k in range(2):
        np.testing.assert_allclose(ellipse_covariance(ellipses[2 * k]),
                                   gm.covariances_[k][:2, :2], rtol=1e-7, atol=1e-12)


def test_plot_ellipses_needs_a_fitted_gaussian_mixture(data2d):
    with pytest.raises(NotFittedError):
        plot.plot_ellipses(GaussianMixture(2))
    km = KMeans(2, random_state=0).fit(data2d[0])
    with pytest.raises(TypeError, match="Gaussian mixture"):
        plot.plot_ellipses(km)


# ---------------------------------------------------------------- plot_centers


@pytest.fixture(scope="module")
def digits():
    rng = np.random.default_rng(0)
    # 3 "digit" prototypes on 4×5 images, 20 noisy copies of each.
    prototypes = rng.uniform(0, 16, size=(3, 20))
    X = np.repeat(prototypes, 20, axis=0) + rng.normal(scale=0.5, size=(60, 20))
    gm = GaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    return X, gm.means_, gm.predict_proba(X)


def test_plot_centers_shows_each_centre_and_its_most_confident_members(digits, tmp_path):
    X, means, resp = digits
    fig = plot.plot_centers(means, X, resp, top=4, image_shape=(4, 5))
    rendered_pixels(fig, tmp_path / "centres.png")
    assert len(fig.axes) == 3 * (1 + 4)
    assert all(len(ax.images) == 1 for ax in fig.axes)
    grid = np.array(fig.axes).reshape(3, 5)
    for k in range(3):
        np.testing.assert_allclose(grid[k, 0].images[0].get_array(), means[k].reshape(4, 5))
        shown = [ax.images[0].get_array().ravel() for ax in grid[k, 1:]]
        best = np.argsort(-resp[:, k], kind="stable")[:4]
        np.testing.assert_allclose(shown, X[best])


def test_plot_centers_heads_each_column_and_writes_q_only_when_in_doubt(digits, tmp_path):
    X, means, resp = digits
    # Well-separated data: every member is certain. Centre 0 keeps its most
    # confident member certain; its other members are made 60% sure.
    members = np.argsort(-resp[:, 0], kind="stable")[:20]
    assert resp[members, 0].min() >= plot.figures.CONFIDENT
    resp = resp.copy()
    resp[members[1:]] = [0.6, 0.2, 0.2]
    fig = plot.plot_centers(means, X, resp, top=3, image_shape=(4, 5))
    rendered_pixels(fig, tmp_path / "gallery.png")
    grid = np.array(fig.axes).reshape(3, 4)
    assert [ax.get_title() for ax in grid[0]] == ["centre", "1st", "2nd", "3rd"]
    assert all(ax.get_title() == "" for ax in grid[1:].flat)
    labels = [[ax.get_xlabel() for ax in row[1:]] for row in grid]
    assert labels[0] == ["", "q=0.60", "q=0.60"]
    assert labels[1] == labels[2] == ["", "", ""]
    assert plot.figures._column_headers(12)[-2:] == ["11th", "12th"]
    assert plot.figures._column_headers(22)[-1] == "22nd"


def test_plot_centers_alone_and_with_fewer_samples_than_top(digits, tmp_path):
    X, means, resp = digits
    alone = plot.plot_centers(means, image_shape=(4, 5))
    rendered_pixels(alone, tmp_path / "alone.png")
    assert len(alone.axes) == 3
    few = plot.plot_centers(means, X[:2], resp[:2], top=5, image_shape=(4, 5))
    assert len(few.axes) == 3 * (1 + 2)


def test_plot_centers_validates_the_image_shape_and_inputs(digits):
    X, means, resp = digits
    message = r"image_shape \(28, 28\) holds 784 pixels but the means have 20 features"
    with pytest.raises(ValueError, match=message):
        plot.plot_centers(means)
    with pytest.raises(ValueError, match=r"image_shape=\(8, 8\)"):
        plot.plot_centers(np.zeros((2, 64)), image_shape=(4, 4))
    with pytest.raises(ValueError, match="both X and resp"):
        plot.plot_centers(means, X, image_shape=(4, 5))
    with pytest.raises(ValueError, match="resp has 2 columns but there are 3 means"):
        plot.plot_centers(means, X, np.full((len(X), 2), 0.5), image_shape=(4, 5))
    with pytest.raises(ValueError, match="shape"):
        plot.plot_centers(means, X[:, :10], resp, image_shape=(4, 5))


# ---------------------------------------------------------------- animate_fit


ANIMATED = [
    ("gmm-2d", lambda: GaussianMixture(3, covariance_type="full", init_params="random_from_data",
                                       tol=1e-5, random_state=0), False),
    ("gmm-5d", lambda: GaussianMixture(3, covariance_type="diag", init_params="lecture",
                                       tol=1e-5, random_state=0), True),
    ("kmeans-2d", lambda: KMeans(3, init="lecture", random_state=0), False),
    ("kmeans-5d", lambda: KMeans(3, init="random", random_state=0), True),
]


@pytest.mark.parametrize("name, make, five_d", ANIMATED, ids=[a[0] for a in ANIMATED])
def test_animate_fit_writes_one_frame_per_iteration(name, make, five_d, data2d, data5d, tmp_path):
    X = (data5d if five_d else data2d)[0]
    estimator = make()
    fitted, path = plot.animate_fit(estimator, X, tmp_path / "fit.gif", dpi=30,
                                    drop_repeats=False)
    assert path == tmp_path / "fit.gif"
    assert fitted.n_iter_ > 1, "the test needs a fit of several iterations"
    frames = gif_frames(path)
    assert len(frames) == fitted.n_iter_
    assert all(len(np.unique(f.reshape(-1, 3), axis=0)) > 1 for f in frames)
    assert not np.array_equal(frames[0], frames[-1])
    # The clone was fitted exactly as the estimator alone would be.
    reference = make().fit(X)
    assert fitted.n_iter_ == reference.n_iter_
    assert fitted.callback is None and estimator.callback is None
    assert not hasattr(estimator, "n_iter_")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.gif"]


def test_animate_fit_gif_shows_the_three_component_colours(data2d, tmp_path):
    X, _ = data2d
    model = GaussianMixture(3, covariance_type="full", init_params="random_from_data",
                            tol=1e-5, random_state=0)
    _, path = plot.animate_fit(model, X, tmp_path / "em.gif", dpi=40)
    last = gif_frames(path)[-1]
    # K=3: points and ellipses of each component in (nearly) pure R, G or B,
    # after the GIF's 256-colour quantisation.
    for rgb in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]:
        assert has_colour(last, rgb), rgb


def test_animate_fit_projects_5d_posteriors_means_and_ellipses(data5d, tmp_path, monkeypatch):
    X, _ = data5d
    drawn = {"points": [], "ellipses": []}
    scatter, ellipses = plot_animation._scatter, plot_animation._draw_ellipses

    def spy_scatter(ax, points, colours, **kwargs):
        drawn["points"].append((points, colours))
        return scatter(ax, points, colours, **kwargs)

    def spy_ellipses(ax, means, covariances, colours):
        drawn["ellipses"].append((means, covariances))
        return ellipses(ax, means, covariances, colours)

    monkeypatch.setattr(plot_animation, "_scatter", spy_scatter)
    monkeypatch.setattr(plot_animation, "_draw_ellipses", spy_ellipses)
    model = GaussianMixture(3, covariance_type="full", init_params="k-means++", random_state=0)
    fitted, path = plot.animate_fit(model, X, tmp_path / "em5d.gif", dpi=20,
                                    drop_repeats=False)
    assert len(gif_frames(path)) == fitted.n_iter_
    assert len(drawn["points"]) == len(drawn["ellipses"]) == fitted.n_iter_

    # The plane is that of the first two principal components (up to their signs).
    pca = PCA(2).fit(X)
    plane = plot_common._Plane.principal(X)
    np.testing.assert_allclose(np.abs(np.sum(plane.basis * pca.components_, axis=1)), 1.0)
    points, colours = drawn["points"][-1]
    np.testing.assert_allclose(np.abs(points), np.abs(pca.transform(X)), atol=1e-9)
    # The last frame shows the fitted parameters: posterior colours, projected
    # means and W Σ Wᵀ.
    expected = plot_common._posterior_colours(fitted.predict_proba(X))
    np.testing.assert_allclose(colours, expected, atol=0.5 / 255 + 1e-12)
    means, covariances = drawn["ellipses"][-1]
    np.testing.assert_allclose(means, plane.points(fitted.means_))
    W = plane.basis
    np.testing.assert_allclose(covariances, W @ fitted.covariances_ @ W.T, atol=1e-12)


def spy_frames(monkeypatch):
    """Record, per rendered frame, the point colours and the ellipses' centres."""
    drawn = {"colours": [], "means": []}
    # The originals, not plot_animation's, which an earlier spy may have replaced.
    scatter, ellipses = plot_common._scatter, plot_common._draw_ellipses

    def spy_scatter(ax, points, colours, **kwargs):
        drawn["colours"].append(np.asarray(colours))
        return scatter(ax, points, colours, **kwargs)

    def spy_ellipses(ax, means, covariances, colours):
        drawn["means"].append(np.asarray(means))
        return ellipses(ax, means, covariances, colours)

    monkeypatch.setattr(plot_animation, "_scatter", spy_scatter)
    monkeypatch.setattr(plot_animation, "_draw_ellipses", spy_ellipses)
    return drawn


def test_animate_fit_order_colours_every_mixture_frame(data2d, tmp_path, monkeypatch):
    X, _ = data2d
    model = GaussianMixture(3, covariance_type="full", init_params="random_from_data",
                            tol=1e-5, random_state=0)
    order = [1, 2, 0]
    own = spy_frames(monkeypatch)
    plot.animate_fit(model, X, tmp_path / "own.gif", dpi=20, drop_repeats=False)
    ordered = spy_frames(monkeypatch)
    fitted, _ = plot.animate_fit(model, X, tmp_path / "ordered.gif", dpi=20,
                                 drop_repeats=False, order=order)
    assert len(ordered["means"]) == len(own["means"]) == fitted.n_iter_ > 1
    # Every frame draws component order[i]'s ellipses in colour i ...
    for mine, theirs in zip(ordered["means"], own["means"]):
        np.testing.assert_array_equal(mine, theirs[order])
    # ... and blends the points' posteriors with the components reordered.
    expected = plot_common._posterior_colours(fitted.predict_proba(X)[:, order])
    np.testing.assert_allclose(ordered["colours"][-1], expected, atol=0.5 / 255 + 1e-12)
    assert not np.allclose(own["colours"][-1], ordered["colours"][-1], atol=0.1)


def test_animate_fit_order_colours_every_kmeans_frame(data2d, tmp_path, monkeypatch):
    X, _ = data2d
    model = KMeans(3, init="random", random_state=0)
    palette = plot_common._component_colours(3)
    own = spy_frames(monkeypatch)
    plot.animate_fit(model, X, tmp_path / "own.gif", dpi=20, drop_repeats=False)
    ordered = spy_frames(monkeypatch)
    fitted, _ = plot.animate_fit(model, X, tmp_path / "ordered.gif", dpi=20,
                                 drop_repeats=False, order=[2, 0, 1])
    assert len(ordered["colours"]) == len(own["colours"]) == fitted.n_iter_ > 1
    for mine, theirs in zip(ordered["colours"], own["colours"]):
        # Pure R, G, B: each point's colour names its cluster in that frame.
        labels = np.argmax(theirs, axis=1)
        np.testing.assert_array_equal(mine, palette[np.array([1, 2, 0])[labels]])
    np.testing.assert_array_equal(np.argmax(ordered["colours"][-1], axis=1),
                                  np.array([1, 2, 0])[fitted.labels_])


def test_animate_fit_checks_order_before_fitting(data2d, tmp_path):
    X, _ = data2d
    calls = []
    model = KMeans(3, random_state=0, callback=lambda *args: calls.append(args))
    with pytest.raises(ValueError, match=r"order must be a permutation of 0\.\.2"):
        plot.animate_fit(model, X, tmp_path / "fit.gif", order=[0, 1])
    with pytest.raises(ValueError, match=r"order must be a permutation of 0\.\.1"):
        plot.animate_fit(GaussianMixture(2), X, tmp_path / "fit.gif", order=[1, 2])
    assert calls == [] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "make, expected_runs",
    [
        # Seeds chosen so the winning run is neither the first nor the last
        # (KMeans) or not the last (GaussianMixture), with its own length.
        (lambda cb: KMeans(4, init="random", n_init=3, random_state=1, callback=cb), [9, 7, 6]),
        (lambda cb: GaussianMixture(4, covariance_type="diag", init_params="random", n_init=3,
                                    random_state=13, callback=cb), [19, 2, 3]),
    ],
)
def test_animate_fit_shows_only_the_winning_run_and_still_calls_the_callback(
    make, expected_runs, data2d, tmp_path
):
    X, _ = data2d
    runs = []

    def count(iteration, *_):
        if iteration == 1:
            runs.append(0)
        runs[-1] += 1

    fitted, path = plot.animate_fit(make(count), X, tmp_path / "runs.gif", dpi=20,
                                    drop_repeats=False)
    assert runs == expected_runs
    assert len(gif_frames(path)) == fitted.n_iter_
    assert fitted.callback is count


def test_animate_fit_max_frames_keeps_every_kth_iteration_ending_with_the_last(data2d, tmp_path):
    X, _ = data2d
    model = GaussianMixture(3, covariance_type="full", init_params="random_from_data",
                            tol=1e-5, random_state=0)
    fitted, path = plot.animate_fit(model, X, tmp_path / "few.gif", max_frames=5, dpi=20,
                                    drop_repeats=False)
    n_iter = fitted.n_iter_
    assert n_iter > 5
    assert len(gif_frames(path)) == math.ceil(n_iter / math.ceil(n_iter / 5))
    # The fit is not shortened, and the final iteration is the last frame.
    full_fit, full_path = plot.animate_fit(model, X, tmp_path / "all.gif", dpi=20)
    assert full_fit.n_iter_ == n_iter
    np.testing.assert_array_equal(gif_frames(path)[-1], gif_frames(full_path)[-1])


def gif_durations(path):
    with Image.open(path) as image:
        return [frame.info["duration"] for frame in ImageSequence.Iterator(image)]


def test_animate_fit_holds_the_last_frame(data2d, tmp_path):
    X, _ = data2d
    model = KMeans(3, init="lecture", random_state=0)
    _, path = plot.animate_fit(model, X, tmp_path / "hold.gif", fps=4, dpi=20)
    durations = gif_durations(path)
    assert len(durations) > 1
    assert durations[:-1] == [250] * (len(durations) - 1) and durations[-1] == 2000
    _, path = plot.animate_fit(model, X, tmp_path / "short.gif", fps=4, hold_last=0.1, dpi=20)
    assert gif_durations(path)[-1] == 250  # never shorter than one frame
    with pytest.raises(ValueError, match="hold_last must be a positive number"):
        plot.animate_fit(model, X, tmp_path / "bad.gif", hold_last=-1)
    with pytest.raises(TypeError, match="drop_repeats must be True or False"):
        plot.animate_fit(model, X, tmp_path / "bad.gif", drop_repeats="yes")


def test_animate_fit_merges_frames_whose_drawing_repeats(data2d, tmp_path, monkeypatch):
    X, _ = data2d
    # A long tail of iterations that move nothing visible at this size.
    model = GaussianMixture(3, covariance_type="full", init_params="random_from_data",
                            tol=1e-12, max_iter=60, random_state=0)
    rendered = []
    render = plot_animation._render_frames

    def spy(frames, *args):
        rendered.append(len(frames))
        return render(frames, *args)

    monkeypatch.setattr(plot_animation, "_render_frames", spy)
    fitted, kept = plot.animate_fit(model, X, tmp_path / "kept.gif", dpi=20)
    _, every = plot.animate_fit(model, X, tmp_path / "every.gif", dpi=20, drop_repeats=False)
    assert rendered == [fitted.n_iter_] * 2
    frames, all_frames = gif_frames(kept), gif_frames(every)
    assert len(all_frames) == fitted.n_iter_ > len(frames) > 1
    # The last frame is the last iteration's, title included.
    np.testing.assert_array_equal(frames[-1], all_frames[-1])
    # No two consecutive kept frames draw the same picture inside the axes
    # (the title, at the top, is cut off).
    cut = frames[0].shape[0] // 8
    assert all(not np.array_equal(a[cut:], b[cut:]) for a, b in zip(frames, frames[1:]))


class FailingKMeans(KMeans):
    """Runs its iterations (so the recorder fires) and then fails."""

    def fit(self, X, y=None, sample_weight=None):
        super().fit(X, y, sample_weight)
        raise RuntimeError("fit failed")


def test_animate_fit_leaves_no_partial_gif_when_the_fit_fails(data2d, tmp_path):
    X, _ = data2d
    with pytest.raises(RuntimeError, match="fit failed"):
        plot.animate_fit(FailingKMeans(3, random_state=0), X, tmp_path / "fail.gif")
    assert list(tmp_path.iterdir()) == []
    # An older file at the path survives a failed attempt untouched.
    (tmp_path / "fail.gif").write_bytes(b"old")
    with pytest.raises(RuntimeError, match="fit failed"):
        plot.animate_fit(FailingKMeans(3, random_state=0), X, tmp_path / "fail.gif")
    assert [p.name for p in tmp_path.iterdir()] == ["fail.gif"]
    assert (tmp_path / "fail.gif").read_bytes() == b"old"


def test_animate_fit_leaves_no_partial_gif_when_writing_fails(data2d, tmp_path, monkeypatch):
    X, _ = data2d
    target = tmp_path / "write.gif"
    target.write_bytes(b"old")

    def save_half_then_fail(self, fp, *args, **kwargs):
        fp.write(b"GIF89a half")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", save_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        plot.animate_fit(KMeans(3, random_state=0), X, target, dpi=20)
    assert [p.name for p in tmp_path.iterdir()] == ["write.gif"]
    assert target.read_bytes() == b"old"


def test_animate_fit_validates_its_arguments(data2d, tmp_path):
    X, _ = data2d
    model = KMeans(3, random_state=0)
    with pytest.raises(ValueError, match=r"must end in \.gif"):
        plot.animate_fit(model, X, tmp_path / "fit.mp4")
    with pytest.raises(ValueError, match="does not exist"):
        plot.animate_fit(model, X, tmp_path / "missing" / "fit.gif")
    with pytest.raises(TypeError, match="callback parameter"):
        plot.animate_fit(SklearnKMeans(3), X, tmp_path / "fit.gif")
    with pytest.raises(TypeError, match="callback must be callable"):
        plot.animate_fit(KMeans(3, callback=1), X, tmp_path / "fit.gif")
    with pytest.raises(ValueError, match="fps must be a positive number"):
        plot.animate_fit(model, X, tmp_path / "fit.gif", fps=0)
    with pytest.raises(ValueError, match="max_frames"):
        plot.animate_fit(model, X, tmp_path / "fit.gif", max_frames=0)
    with pytest.raises(ValueError, match="minimum of 2"):
        plot.animate_fit(model, X[:, :1], tmp_path / "fit.gif")
    with pytest.raises(ValueError, match="no iterations"):
        plot.animate_fit(GaussianMixture(2, max_iter=0), X, tmp_path / "fit.gif")
    assert list(tmp_path.iterdir()) == []
