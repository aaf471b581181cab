"""Figures of clusterings and mixtures, and the animation of EM during learning.

Every function builds its own :class:`matplotlib.figure.Figure` (or draws on the
``ax`` it is given) instead of using pyplot's current figure, so nothing leaks
from one call to the next and the figures render on Agg without a display.
matplotlib is imported inside the functions, never at module level: ``import
mixfit`` (and ``import mixfit.plot``) must stay cheap and work without a
working matplotlib.

Colours are shared by all figures, and component k's colour does not depend on
the number of components: components 0, 1 and 2 are pure red, green and blue
(the lecture's convention, under which a K ≤ 3 posterior *is* a colour), the
next ones qualitative colours unlike those three. :func:`plot_ellipses` and
:func:`animate_fit` take ``order`` to colour a fit's components as known
classes. Centres and means are drawn as a thick black cross under a thin white
one, visible on any colour.

Data with more than two features: the static figures draw the first two
columns (for ellipses, the marginal covariance of those two coordinates); project
the data yourself (e.g. with PCA) for another view. :func:`animate_fit` cannot
leave that to the caller, since the fit must see the original data, so it
projects on the first two principal components of ``X``.
"""


from mixfit.plot.animation import animate_fit
from mixfit.plot.figures import plot_centers, plot_clusters, plot_ellipses, plot_loglik, plot_posteriors

__all__ = [
    "animate_fit",
    "plot_centers",
    "plot_clusters",
    "plot_ellipses",
    "plot_loglik",
    "plot_posteriors",
]
