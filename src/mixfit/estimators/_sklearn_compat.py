"""scikit-learn's parameters of mixfit's estimators: n_init="auto", callable
inits, progress printing, in-place centring (``copy_x=False``) and warm starts.

Kept out of the estimator modules so that those stay about the fit itself.
"""

from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np
from sklearn.utils import check_array

from mixfit.engine import em as em
from mixfit._validation import MAX_COUNT, check_positive_int, row_chunks

#: ``n_init="auto"`` for an init drawn at random: scikit-learn's default count.
AUTO_N_INIT_RANDOM = 10


def resolve_kmeans_n_init(estimator, random_inits, *, warn=True):
    """The number of runs a KMeans fit makes, as scikit-learn resolves it.

    ``"auto"`` is 1 for ``"k-means++"`` and an explicit array, 10 for an init
    drawn at random (``random_inits``, and any callable); an explicit array with
    ``n_init > 1`` gets one run and a RuntimeWarning, since every run would start
    from the same centres.
    """
    init, n_init = estimator.init, estimator.n_init
    if isinstance(n_init, str) and n_init == "auto":
        if callable(init) or (isinstance(init, str) and init in random_inits):
            n_init = AUTO_N_INIT_RANDOM
        else:
            n_init = 1
    else:
        if isinstance(n_init, str):
            raise ValueError(f"n_init must be 'auto' or an integer >= 1, got {n_init!r}.")
        n_init = check_positive_int(n_init, "n_init", maximum=MAX_COUNT)
    if not isinstance(init, str) and not callable(init) and n_init != 1:
        if not warn:
            return 1
        warnings.warn(
            "Explicit initial center position passed: performing only one init in "
            f"{type(estimator).__name__} instead of n_init={n_init}.",
            RuntimeWarning,
            stacklevel=3,
        )
        n_init = 1
    return n_init


def call_init(init, X, n_clusters, random_state):
    """Centres from a callable ``init(X, n_clusters, random_state)``, checked.

    A failing callable or a result of the wrong shape or type gives a one-line
    error naming the callable and what it must return.
    """
    name = getattr(init, "__qualname__", type(init).__name__)
    wanted = (
        f"init={name} must accept (X, n_clusters, random_state) and return an array "
        f"of shape ({n_clusters}, {X.shape[1]})"
    )
    try:
        centers = init(X, n_clusters, random_state=random_state)
    except Exception as exc:  # the user's code: any failure is reported as one line
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        raise ValueError(f"{wanted}; it raised {type(exc).__name__}: {first_line}") from exc
    try:
        centers = check_array(centers, dtype=X.dtype, copy=True)
    except (TypeError, ValueError) as exc:
        first_line = str(exc).splitlines()[0]
        raise ValueError(
            f"{wanted}; it returned {type(centers).__name__}, refused: {first_line}"
        ) from None
    if centers.shape != (n_clusters, X.shape[1]):
        mismatch = centers_shape_mismatch(centers.shape, n_clusters, X.shape[1])
        raise ValueError(f"{mismatch}: {wanted}.")
    return centers


def centers_shape_mismatch(shape, n_clusters, n_features):
    """scikit-learn's words for initial centres of the wrong shape (code may match them)."""
    if len(shape) != 2 or shape[0] != n_clusters:
        return (f"The shape of the initial centers {shape} does not match the number "
                f"of clusters {n_clusters}")
    return (f"The shape of the initial centers {shape} does not match the number of "
            f"features of the data {n_features}")


class KMeansProgress:
    """scikit-learn's KMeans ``verbose`` lines, printed from mixfit's callback.

    Iterations are numbered from 0 as scikit-learn prints them.
    """

    def __init__(self, user_callback=None):
        self.user_callback = user_callback

    def start(self):
        """Announce a run whose initial centres are chosen."""
        print("Initialization complete")

    def __call__(self, iteration, centers, inertia):
        print(f"Iteration {iteration - 1}, inertia {inertia}.")
        if self.user_callback is not None:
            self.user_callback(iteration, centers, inertia)

    def end(self, run, tol):
        """Say how a run ended (nothing when it used up max_iter).

        ``tol`` is the absolute tolerance on the centres' squared shift, in the
        data's units.
        """
        if not run.converged:
            return
        last = run.n_iter - 1
        if run.strict:
            print(f"Converged at iteration {last}: strict convergence.")
        else:
            print(
                f"Converged at iteration {last}: center shift {run.center_shift:g} "
                f"within tolerance {tol:g}."
            )


class CenteredInPlace:
    """Context manager that centres X in place and restores it bit for bit.

    ``copy_x=False``: the fit then runs on centred data without the per-chunk
    shifted copies. Centring is done only when ``(x − shift) + shift == x`` holds
    for every value (checked chunk by chunk before anything is written), so that
    leaving restores X exactly; otherwise X is left alone and ``active`` is False.
    No copy of X is made: the work is done on blocks of rows.
    """

    def __init__(self, X, shift, block_values=2**15):
        self.X = X
        self.shift = np.asarray(shift, dtype=X.dtype)
        # Blocks of about 256 KiB in float64: the check's temporaries stay small.
        self.chunk_size = max(1, block_values // max(1, X.shape[1]))
        self.active = False

    def __enter__(self):
        X, shift = self.X, self.shift
        if not np.any(shift) or not X.flags.writeable:
            return self
        for rows in row_chunks(X.shape[0], self.chunk_size):
            block = X[rows]
            if not np.array_equal((block - shift) + shift, block):
                return self
        for rows in row_chunks(X.shape[0], self.chunk_size):
            X[rows] -= shift
        self.active = True
        return self

    def __exit__(self, *exc_info):
        if self.active:
            for rows in row_chunks(self.X.shape[0], self.chunk_size):
                self.X[rows] += self.shift
            self.active = False
        return False


class MixtureProgress:
    """scikit-learn's GaussianMixture ``verbose`` lines.

    ``verbose=1`` prints each initialisation's start and end and every
    ``verbose_interval``-th iteration number; ``verbose>=2`` adds the time per
    line, the log-likelihood change and the final lower bound.
    """

    def __init__(self, verbose, verbose_interval):
        self.verbose = verbose
        self.interval = verbose_interval
        self.init_time = self.iter_time = time.perf_counter()
        self.previous = -np.inf

    def start(self, restart, previous_bound=-np.inf):
        print(f"Initialization {restart}")
        self.init_time = self.iter_time = time.perf_counter()
        self.previous = previous_bound

    def iteration(self, n_iter, lower_bound):
        change, self.previous = lower_bound - self.previous, lower_bound
        if n_iter % self.interval:
            return
        if self.verbose == 1:
            print(f"  Iteration {n_iter}")
        else:
            now = time.perf_counter()
            print(
                f"  Iteration {n_iter}\t time lapse {now - self.iter_time:.5f}s\t "
                f"ll change {change:.5f}"
            )
            self.iter_time = now

    def end(self, lower_bound, converged):
        status = "converged" if converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {status}.")
        else:
            lapse = time.perf_counter() - self.init_time
            print(f"Initialization {status}. time lapse {lapse:.5f}s\t lower bound {lower_bound:.5f}.")


def warm_start_from(estimator, n_components, n_features):
    """Whether a GaussianMixture fit resumes the previous one (scikit-learn's warm_start).

    It does when ``warm_start`` is set and a fit exists; that fit must have the
    current ``n_components``, ``covariance_type`` and number of features, or
    resuming it is meaningless and a ValueError says so.
    """
    if not estimator.warm_start or not hasattr(estimator, "converged_"):
        return False
    previous = (estimator.means_.shape, estimator._family.covariance_type)
    current = ((n_components, n_features), estimator.covariance_type)
    if previous != current:
        raise ValueError(
            f"warm_start=True resumes the previous fit, which has means of shape "
            f"{previous[0]} and covariance_type={previous[1]!r}, but this fit asks for "
            f"{current[0]} and {current[1]!r}; set warm_start=False to start afresh."
        )
    return True


def params_in_dtype(params, dtype):
    """Mixture parameters with every array in ``dtype`` (a warm start on new data)."""
    components = params.components
    return em.MixtureParams(
        params.weights.astype(dtype, copy=False),
        dataclasses.replace(
            components,
            means=components.means.astype(dtype, copy=False),
            covariances=components.covariances.astype(dtype, copy=False),
            precisions_cholesky=components.precisions_cholesky.astype(dtype, copy=False),
        ),
    )


def warn_not_converged(n_iter, stacklevel):
    """The ConvergenceWarning of a mixture whose best run hit ``max_iter``.

    scikit-learn's wording, which its users' warning filters match, then how
    many iterations ran. ``stacklevel`` counts from this function's caller, so
    that the warning points at the user's ``fit``.
    """
    from sklearn.exceptions import ConvergenceWarning

    warnings.warn(
        "Best performing initialization did not converge. Try different init "
        "parameters, or increase max_iter, tol, or check for degenerate data. "
        f"It stopped after max_iter={n_iter} iterations.",
        ConvergenceWarning,
        stacklevel=stacklevel + 1,
    )
