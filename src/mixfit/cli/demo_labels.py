"""The demo's section on partial labels: K-means against a mixture told 1% of the classes.

Kept apart from :mod:`mixfit.cli.demo` for size. On the lecture's non-spherical
data, K-means cuts the elongated clusters by distance; a full-covariance
mixture fitted by semi-supervised EM (``GaussianMixture(semi_supervised=True)
.fit(X, y)`` with ``-1`` for unlabelled rows) is given the class of 1% of the
points, which also names its components after the classes, so its accuracy
can be read directly.
"""

from __future__ import annotations

import numpy as np

#: The share of rows whose class the semi-supervised mixture is told.
LABELLED_SHARE = 0.01


def partial_labels_section(page, random_state, *, data_seed, summary, nmi, timed):
    """Fit K-means and a 1%-labelled mixture; add the figure and the table's rows.

    ``page`` is the demo's page; ``data_seed`` the non-spherical data's seed;
    ``summary``, ``nmi`` and ``timed`` are the demo's table row class, its
    NMI and its fit timer (passed in, since the demo imports this module).
    """
    import matplotlib.pyplot as plt

    from mixfit import plot
    from mixfit.datasets import lecture_data
    from mixfit.estimators.gaussian_mixture import GaussianMixture
    from mixfit.estimators.kmeans import KMeans

    X, y = lecture_data("non_spherical", random_state=data_seed)
    rng = np.random.default_rng(random_state)
    n_labelled = max(len(np.unique(y)), int(round(LABELLED_SHARE * X.shape[0])))
    # One labelled row per class at least, the rest at random: 1% of the rows.
    chosen = [rng.choice(np.flatnonzero(y == c)) for c in np.unique(y)]
    others = np.setdiff1d(np.arange(X.shape[0]), chosen)
    chosen += list(rng.choice(others, n_labelled - len(chosen), replace=False))
    partial = np.full(y.shape, -1)
    partial[chosen] = y[chosen]

    # The table already has K-means on this data; refitted here for the caption only.
    kmeans = KMeans(3, n_init=5, random_state=random_state).fit(X)
    labelled, seconds = timed(lambda: GaussianMixture(
        3, covariance_type="full", semi_supervised=True,
        random_state=random_state).fit(X, partial))
    predicted = labelled.predict(X)
    page.row(summary(f"GMM full K=3, {len(chosen)} labels (1%)", labelled.n_iter_,
                     log_likelihood=labelled.lower_bound_, nmi=nmi(y, predicted),
                     seconds=seconds))
    accuracy = float(np.mean(predicted == y))
    # The components carry the classes' numbers (the labels name them), so the
    # colours are the true clusters' without any matching; equal axes, as in
    # the K-means figure of the same data, so the two can be compared.
    figure = plot.plot_clusters(X, predicted, labelled.means_, equal_axes=True,
                                title=f"A mixture told the class of {len(chosen)} points (1%)")
    axes = figure.axes[0]
    axes.scatter(X[chosen, 0], X[chosen, 1], s=120, facecolors="none", edgecolors="black",
                 linewidths=1.5, label="labelled")
    page.save(
        figure,
        "11_partial_labels.png",
        f"Partial labels: the non-spherical data again, with the class of "
        f"{len(chosen)} points (circled, 1%) given to a full-covariance mixture "
        "(semi-supervised EM: GaussianMixture(semi_supervised=True).fit(X, y), y = -1 "
        f"for the rest). Its components carry the classes' numbers, and {accuracy:.1%} "
        f"of all points get their true class; K-means' NMI on the same data is "
        f"{nmi(y, kmeans.labels_):.2f}, the mixture's {nmi(y, predicted):.2f}. Compare "
        "with K-means' figure of this data: here each elongated cluster is one colour "
        "along its whole length.",
    )
    plt.close(figure)
    page.say(f"  1% labels: accuracy {accuracy:.1%}")
