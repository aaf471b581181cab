"""The lecture's video of EM: one GIF frame per iteration of a fit."""

from __future__ import annotations

import math
import numbers
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.base import clone

from mixfit.engine import em as em
from mixfit.engine import kmeans as kmeans_engine
from mixfit._validation import check_chunk_size, check_positive_int
from mixfit.estimators import GaussianMixture, KMeans
from mixfit.families import GaussianFamily
from mixfit.plot._common import (
    _Plane,
    _check_order,
    _check_points,
    _component_colours,
    _draw_crosses,
    _draw_ellipses,
    _label_axes,
    _posterior_colours,
    _scatter,
)



def animate_fit(estimator, X, path, *, fps=2, max_frames=None, dpi=80, hold_last=2.0,
                drop_repeats=True, order=None):
    """Fit a clone of ``estimator`` on ``X`` and write a GIF of its iterations.

    The lecture's video of the parameters during learning. Each frame shows one
    iteration of the fit that was kept:

    - GaussianMixture: the samples coloured by their posteriors under that
      iteration's updated parameters (as :func:`plot_posteriors`), the means as
      crosses and the 1σ and 2σ ellipses; titled with the iteration and the mean
      log-likelihood that the iteration's E-step measured.
    - KMeans: the samples coloured by their nearest centre, the centres as
      crosses; titled with the iteration and the inertia of those centres.

    2-D data is drawn as is; higher-dimensional data is projected on its first
    two principal components (fitted once on ``X``; means are projected as
    points, covariances as ``W Σ Wᵀ``), with fixed axis limits so that the
    frames line up. With ``n_init > 1`` only the winning run is shown.

    The end of a fit often changes the parameters by less than a pixel for many
    iterations; with ``drop_repeats`` such a run of frames, whose drawings
    (everything inside the axes, the title aside) are pixel for pixel the same,
    becomes one frame, titled with the run's last iteration. The last frame is
    shown for ``hold_last`` seconds, so the result can be seen before the GIF
    loops.

    The estimator's own ``callback``, if any, is still called during the fit.
    The GIF is first written to a hidden file next to ``path`` and then renamed,
    so a failure (of the fit or of the writing) never leaves a partial GIF, and
    an existing file at ``path`` stays as it was.

    Parameters
    ----------
    estimator : GaussianMixture or KMeans
        Not modified: a clone (:func:`sklearn.base.clone`) is fitted.
    X : array-like of shape (n_samples, n_features)
        At least two features.
    path : str or os.PathLike
        Where to write the GIF; must end in ``.gif`` and its folder must exist.
    fps : float, default=2
        Frames per second.
    max_frames : int, optional
        None (the default) writes exactly one frame per iteration. Otherwise,
        when the fit ran more than ``max_frames`` iterations, only every k-th
        iteration is drawn (k the smallest step leaving at most ``max_frames``
        frames, counted back from the last iteration so the final state is
        always shown); the fit itself is not shortened.
    dpi : float, default=80
        Resolution; a frame is 5 × 4.5 inches.
    hold_last : float, default=2.0
        Seconds the last frame is shown (at least one frame's time, ``1 / fps``).
    drop_repeats : bool, default=True
        Merge consecutive frames whose drawings are identical (see above);
        False keeps one frame per drawn iteration.
    order : array-like of int, shape (K,), optional
        Which component (or cluster) gets which colour, in every frame:
        component ``order[i]`` is drawn in colour i (red, green, blue, ...
        as in every figure). A permutation of ``range(K)``, K the
        estimator's ``n_components`` or ``n_clusters``; None (the default)
        is the fit's own order. The components' numbers are only known
        once the fit has run, so to colour the frames as known classes, fit
        the estimator once (fits with an integer ``random_state`` are
        deterministic), pair its components with the classes, and pass
        that order here.

    Returns
    -------
    fitted : estimator
        The fitted clone, with ``callback`` set back to ``estimator.callback``.
    path : pathlib.Path
        The GIF written.
    """
    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise ValueError(f"path must end in .gif, got {str(path)!r}.")
    if not path.parent.is_dir():
        raise ValueError(
            f"the folder of path, {str(path.parent)!r}, does not exist; create it first."
        )
    fps = _check_positive_real(fps, "fps")
    hold_last = _check_positive_real(hold_last, "hold_last")
    if not isinstance(drop_repeats, (bool, np.bool_)):
        raise TypeError(f"drop_repeats must be True or False, got {drop_repeats!r}.")
    dpi = _check_positive_real(dpi, "dpi")
    if max_frames is not None:
        max_frames = check_positive_int(max_frames, "max_frames")
    params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
    if "callback" not in params:
        raise TypeError(
            f"animate_fit records the fit through a callback parameter, which "
            f"{type(estimator).__name__} does not have; pass a mixfit GaussianMixture or KMeans."
        )
    if isinstance(estimator, GaussianMixture):
        make_summariser, history_name, size_name = _mixture_frames, "lower_bounds_", "n_components"
    elif isinstance(estimator, KMeans):
        make_summariser, history_name, size_name = _kmeans_frames, "inertia_history_", "n_clusters"
    else:
        raise TypeError(
            f"animate_fit draws GaussianMixture and KMeans fits, got {type(estimator).__name__}."
        )
    if order is not None:
        # Checked before the fit, which would otherwise run for nothing.
        order = _check_order(order, check_positive_int(params[size_name], size_name))
    data = _check_points(X)
    plane = _Plane.principal(data)
    summarise = make_summariser(estimator, data, plane, order)

    user_callback = params["callback"]
    if user_callback is not None and not callable(user_callback):
        raise TypeError(f"callback must be callable, got {type(user_callback).__name__}.")
    runs = []

    def record(iteration, state, value):
        # Iterations restart from 1 with every n_init restart: one list per run.
        if iteration == 1 or not runs:
            runs.append([])
        # Only what a frame shows is kept (colours, projected means and
        # covariances), not the parameters: a full-covariance mixture in many
        # dimensions would otherwise hold K × d² numbers per iteration.
        runs[-1].append(summarise(iteration, state, float(value)))
        if user_callback is not None:
            user_callback(iteration, state, value)

    fitted = clone(estimator).set_params(callback=record)
    # The original X, not `data`: the fitted estimator keeps its feature names.
    fitted.fit(X)
    fitted.set_params(callback=user_callback)

    frames = _winning_run(runs, getattr(fitted, history_name))
    if max_frames is not None and len(frames) > max_frames:
        step = math.ceil(len(frames) / max_frames)
        frames = frames[::-1][::step][::-1]
    images = _render_frames(frames, plane, plane.points(data), dpi, drop_repeats)
    # GIF delays are whole hundredths of a second.
    frame_ms = max(10, 10 * round(100 / fps))
    durations = [frame_ms] * (len(images) - 1) + [max(frame_ms, 10 * round(100 * hold_last))]
    _write_gif_atomically(images, path, durations)
    return fitted, path


def _check_positive_real(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not (
        math.isfinite(value) and value > 0
    ):
        raise ValueError(f"{name} must be a positive number, got {value!r}.")
    return float(value)


@dataclass(frozen=True)
class _Frame:
    """What one frame of the animation shows.

    Attributes
    ----------
    value : float
        The log-likelihood or inertia the estimator reported for the iteration.
    title : str
    colours : ndarray of shape (n_samples, 3), uint8
        Sample colours; bytes rather than floats, since a long fit keeps one
        array per iteration and a GIF holds 256 colours anyway.
    centres : ndarray of shape (n_components, 2)
        Projected means or centres.
    covariances : ndarray of shape (n_components, 2, 2), or None
        Projected covariances, whose ellipses are drawn.
    """

    value: float
    title: str
    colours: np.ndarray
    centres: np.ndarray
    covariances: np.ndarray | None = None


def _as_bytes(colours):
    return np.round(colours * 255).astype(np.uint8)


def _winning_run(runs, history):
    """The recorded frames of the run whose history the estimator kept."""
    history = np.asarray(history, dtype=np.float64)
    if history.size == 0:
        raise ValueError(
            "the fit ran no iterations (max_iter=0?), so there is nothing to animate."
        )
    for run in runs:
        if np.array_equal([frame.value for frame in run], history):
            return run
    raise RuntimeError(
        "none of the recorded runs matches the fitted history; the estimator's "
        "callback did not report every iteration of its winning run."
    )


def _mixture_frames(estimator, X, plane, order=None):
    """``summarise(iteration, params, log_likelihood) -> _Frame`` for a GaussianMixture.

    Components are put in ``order`` (None: their own), so component ``order[i]``
    takes colour i.
    """
    family = GaussianFamily(estimator.covariance_type, estimator.reg_covar)
    chunk_size = check_chunk_size(estimator.chunk_size)
    n_features = X.shape[1]

    def summarise(iteration, params, log_likelihood):
        log_resp, _ = em.log_resp(family, X, params, chunk_size)
        ranks = np.arange(log_resp.shape[1]) if order is None else order
        components = params.components
        covariances = np.array([
            plane.covariance(
                family.structure.component_covariance(components.covariances, k, n_features)
            )
            for k in ranks
        ])
        return _Frame(
            log_likelihood,
            f"iteration {iteration}, log-likelihood {log_likelihood:.4f}",
            _as_bytes(_posterior_colours(np.exp(log_resp)[:, ranks])),
            plane.points(components.means[ranks]),
            covariances,
        )

    return summarise


def _kmeans_frames(estimator, X, plane, order=None):
    """``summarise(iteration, centers, inertia) -> _Frame`` for a KMeans.

    Cluster ``order[i]`` (None: cluster i) takes colour i.
    """
    chunk_size = check_chunk_size(estimator.chunk_size)

    def summarise(iteration, centers, inertia):
        labels, _ = kmeans_engine.assign(X, centers, chunk_size=chunk_size)
        colours = _component_colours(centers.shape[0])
        if order is not None:
            # Colour of cluster k: its place in order (the inverse permutation).
            colours = colours[np.argsort(order)]
        return _Frame(
            inertia,
            f"iteration {iteration}, inertia {inertia:.6g}",
            _as_bytes(colours[labels]),
            plane.points(centers),
        )

    return summarise


def _render_frames(frames, plane, points, dpi, drop_repeats=False):
    """One palette image per frame, drawn on a single reused figure.

    With ``drop_repeats``, a frame whose axes (the drawing, not the title or
    the ticks, which are outside them) match the previous frame's pixel for
    pixel replaces that frame instead of following it.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    fig = Figure(figsize=(5, 4.5), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    # A fixed layout and fixed limits: frames that moved would hide the motion
    # of the parameters.
    fig.subplots_adjust(left=0.14, right=0.96, bottom=0.12, top=0.92)
    ax = fig.add_subplot()
    limits = _padded_limits(points)
    images = []
    previous = None
    for frame in frames:
        ax.clear()
        _scatter(ax, points, frame.colours / 255.0)
        if frame.covariances is not None:
            colours = _component_colours(len(frame.centres))
            _draw_ellipses(ax, frame.centres, frame.covariances, colours)
        _draw_crosses(ax, frame.centres, "centres")
        ax.set_xlim(limits[0])
        ax.set_ylim(limits[1])
        _label_axes(ax, plane, frame.title)
        canvas.draw()
        rgb = np.asarray(canvas.buffer_rgba())[..., :3]
        drawing = _inside_axes(rgb, ax)
        if drop_repeats and previous is not None and np.array_equal(drawing, previous):
            # Keep the later one: its title names the later iteration.
            images.pop()
        previous = drawing.copy()
        # Palette images hold a third of the RGB bytes while the frames wait to be
        # written; GIF stores 256 colours anyway.
        images.append(Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE))
    return images


def _inside_axes(rgb, ax):
    """The pixels of ``rgb`` (a rendered canvas) inside the axes' box."""
    x0, y0, x1, y1 = (int(round(v)) for v in ax.bbox.extents)
    height = rgb.shape[0]
    # Display coordinates count from the bottom, array rows from the top.
    return rgb[height - y1:height - y0, x0:x1]


def _padded_limits(points, margin=0.05):
    low, high = points.min(axis=0), points.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    return [(lo - margin * s, hi + margin * s) for lo, hi, s in zip(low, high, span)]


def _write_gif_atomically(images, path, durations):
    """Write the frames to a hidden file beside ``path``, then rename it over ``path``.

    The rename is atomic within a folder, so readers see the old file or the
    whole new one, never a partial GIF.
    """
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    try:
        # "xb" rather than mkstemp: the file gets the usual permissions (umask),
        # which it keeps after the rename.
        with open(partial, "xb") as handle:
            images[0].save(handle, format="GIF", save_all=True, append_images=images[1:],
                           duration=durations, loop=0)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
