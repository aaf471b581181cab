"""How much memory a fit will take, checked before it starts.

A fit whose parameters or buffers cannot fit in memory used to run until numpy
raised ``MemoryError`` (full covariances on 100,000 features asked for 149 GB),
and a merely huge one ran for minutes without a word. The estimators now call
:func:`check_fit` before they allocate anything whose size depends on d² or
n·K: it refuses, with :class:`FitTooLargeError`, a fit whose estimated memory
beyond the data exceeds the limit, and warns, with :class:`LargeFitWarning`,
above :data:`WARN_BYTES` or :data:`WARN_FLOPS` per iteration.

The estimates (:func:`gaussian_mixture_bytes`, :func:`kmeans_bytes`) add up
what the code allocates — parameters, statistics, per-chunk and per-thread
buffers, per-row arrays, the copies that initialisations and rescaling make —
and were checked against measured peaks (tracemalloc and RSS): on fits from
1e4 × 8 to 6000 × 2000 they came within 0.7 and 1.6 times the measured peak.

The limit is, in this order: :data:`memory_limit` if set (bytes), the
environment variable ``MIXFIT_MEMORY_LIMIT`` (bytes, or a number with a
suffix K, M, G or T, powers of 1024), else the memory the system has available
(Linux: ``MemAvailable`` of ``/proc/meminfo``; elsewhere the physical memory).
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from dataclasses import dataclass, field

__all__ = [
    "MEMORY_LIMIT_ENV",
    "WARN_BYTES",
    "WARN_FLOPS",
    "FitTooLargeError",
    "FitEstimate",
    "LargeFitWarning",
    "check_fit",
    "check_gaussian_mixture",
    "check_kmeans",
    "gaussian_mixture_bytes",
    "kmeans_bytes",
    "memory_limit",
    "memory_limit_bytes",
    "parse_bytes",
]

#: Environment variable holding the memory limit of a fit (see the module docstring).
MEMORY_LIMIT_ENV = "MIXFIT_MEMORY_LIMIT"

#: The memory limit in bytes, overriding the environment and the system when not None.
memory_limit = None

#: Fits estimated to need more than this beyond their data warn (1 GiB).
WARN_BYTES = 1 << 30

#: Fits estimated to take more floating-point operations per iteration than this
#: warn: at the tens of GFLOP/s a few cores sustain, each iteration takes
#: half a minute or more.
WARN_FLOPS = 1e12

#: Estimates below this are not compared with the system's memory: reading it
#: costs more than such a fit, and no machine that runs Python lacks 64 MiB.
_UNCHECKED_BYTES = 64 << 20

#: Rows per block of the sweeps and of the full kernel's whitened block
#: (mixfit.kernels.sweep.BLOCK, mixfit.families.gaussian.sweeps._WHITENED_BLOCK).
_SWEEP_BLOCK = 128
_WHITENED_BLOCK = 1 << 18
#: Widths up to which full and tied covariances use the fused sweep
#: (mixfit.families.gaussian.sweeps._FULL_SWEEP_MAX_FEATURES and _TIED_…).
_FULL_SWEEP_MAX_FEATURES = 160
_TIED_SWEEP_MAX_FEATURES = 1024
#: The sweep's partial sums: at most 64 groups and 2 MiB unless one group is more.
_SWEEP_GROUPS = 64
_SWEEP_PARTIAL_BYTES = 2 << 20
#: K-means: rows per block of work, groups of blocks, Hamerly's threshold.
_KMEANS_BLOCK_ROWS = 16384
_KMEANS_GROUPS = 16
_HAMERLY_MIN_CLUSTERS = 64  # mixfit.engine.kmeans.HAMERLY_MIN_CLUSTERS (SIMD shapes keep no
# bounds there: counted anyway, the estimate errs high)
# mixfit.engine.kmeans.YINYANG_MIN_CLUSTERS and YINYANG_MIN_FEATURES (by bytes per value).
_YINYANG_MIN_CLUSTERS = {4: 128, 8: 128}
_YINYANG_MIN_FEATURES = {4: 64, 8: 32}
# mixfit.engine.kmeans_yinyang.group_count: 5 centres a group while that makes at
# most d / 3 groups and 64, else 10.
_YINYANG_GROUP_SIZES = (5, 10)
_YINYANG_MOST_FEW_GROUPS = 64
# mixfit.engine.kmeans.TWO_BOUND_MAX_CLUSTERS, TWO_BOUND_MIN_FEATURES,
# TWO_BOUND_MANY_CLUSTERS, TWO_BOUND_WORK and TWO_BOUND_LARGE: "auto" keeps two
# float32 bounds per row there (where the E-step is the GEMM's; counted for
# the SIMD shapes too, which keep them on a subset, TWO_BOUND_SIMD: an
# estimate errs high).
_TWO_BOUND_MAX_CLUSTERS = 128
_TWO_BOUND_MIN_FEATURES = 16
_TWO_BOUND_MANY_CLUSTERS = 32
_TWO_BOUND_WORK = (8, 2048)  # clusters, features × clusters
_TWO_BOUND_LARGE = (16, 1 << 27)  # clusters, bytes


class FitTooLargeError(MemoryError, ValueError):
    """A fit would need more memory than the limit allows; nothing was allocated.

    A ``MemoryError`` (what the fit would have ended in) and a ``ValueError``
    (the input asks for too much: the command line reports it as bad input,
    exit code 2). The message gives the estimate, the limit and what to change.
    """


class LargeFitWarning(UserWarning):
    """A fit will take much memory or time; the message says how much and how to avoid it."""


@dataclass
class FitEstimate:
    """Estimated cost of a fit.

    Attributes
    ----------
    bytes : int
        Peak memory beyond the data (X as given to ``fit``).
    flops : float
        Floating-point operations per iteration (E-step and M-step).
    parts : dict
        The largest contributions, name → bytes, for the messages.
    """

    bytes: int
    flops: float
    parts: dict = field(default_factory=dict)


def _format_bytes(n_bytes):
    """``1.5 GiB``-style size."""
    value = float(n_bytes)
    if value < 1024:
        return f"{value:.0f} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


_SUFFIXES = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_bytes(text, name=MEMORY_LIMIT_ENV):
    """Bytes from ``"123456"``, ``"512M"``, ``"2.5G"`` (K, M, G, T: powers of 1024).

    Raises
    ------
    ValueError
        For anything else, naming ``name`` and the accepted forms.
    """
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)i?B?\s*", str(text), re.IGNORECASE)
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(
            f"{name}={text!r} is not a memory size; give a positive number of bytes, "
            "optionally with a suffix K, M, G or T (e.g. 512M or 8G), or unset it."
        )
    return int(float(match.group(1)) * _SUFFIXES[match.group(2).upper()])


def _system_available():
    """Bytes the system can give this process now, or None where unknown."""
    try:
        with open("/proc/meminfo", "rb") as meminfo:
            for line in meminfo:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def memory_limit_bytes():
    """The memory limit of a fit and where it comes from: ``(bytes or None, source)``."""
    if memory_limit is not None:
        return int(memory_limit), "mixfit._memory.memory_limit"
    text = os.environ.get(MEMORY_LIMIT_ENV)
    if text:
        return parse_bytes(text), f"{MEMORY_LIMIT_ENV}={text}"
    return _system_available(), "the memory available on this machine"


def _user_limit_set():
    return memory_limit is not None or bool(os.environ.get(MEMORY_LIMIT_ENV))


def _stacklevel():
    """The warning's stacklevel for :func:`check_fit`: the first frame outside mixfit."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(2), 2  # level 1 is check_fit, 2 its caller
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def check_fit(estimate, *, what, advice, pending_bytes=0, warn=True):
    """Refuse a fit that cannot fit in memory; warn about one that is very large.

    Parameters
    ----------
    estimate : FitEstimate
    what : str
        The fit in words, e.g. ``"GaussianMixture(covariance_type='full') on
        10000 × 5000 float64 data"``.
    advice : str
        How to need less, ending without a full stop.
    pending_bytes : int
        Memory still to be allocated outside the fit (the data, when the check
        runs before it is read); counted against the limit.
    warn : bool, default=True
        False: refuse only (a second check of the same fit, which warned already).

    Returns
    -------
    warned : bool
        Whether the fit is large enough to be warned about (and was, if ``warn``).

    Raises
    ------
    FitTooLargeError
        When ``estimate.bytes + pending_bytes`` exceeds the limit.
    """
    needed = int(estimate.bytes) + int(pending_bytes)
    if needed >= _UNCHECKED_BYTES or _user_limit_set():
        limit, source = memory_limit_bytes()
        if limit is not None and needed > limit:
            data = f" plus {_format_bytes(pending_bytes)} of data" if pending_bytes else ""
            raise FitTooLargeError(
                f"{what} would need about {_format_bytes(estimate.bytes)} of memory beyond "
                f"the data{data} ({_largest_parts(estimate)}), more than the "
                f"{_format_bytes(limit)} allowed by {source}. To need less: {advice}. "
                f"(The limit can be set with the environment variable {MEMORY_LIMIT_ENV}, "
                "e.g. 16G.)"
            )
    slow = estimate.flops > WARN_FLOPS
    large = estimate.bytes > WARN_BYTES or slow
    if large and warn:
        time = (
            f" and about {estimate.flops:.1e} floating-point operations per iteration "
            "(tens of seconds or more each)" if slow else ""
        )
        warnings.warn(
            f"{what} will need about {_format_bytes(estimate.bytes)} of memory beyond the "
            f"data ({_largest_parts(estimate)}){time}. To need less: {advice}.",
            LargeFitWarning,
            stacklevel=_stacklevel(),
        )
    return large


def _largest_parts(estimate, count=2):
    parts = sorted(estimate.parts.items(), key=lambda item: -item[1])[:count]
    return ", ".join(f"{name} {_format_bytes(size)}" for name, size in parts if size > 0)


def check_gaussian_mixture(shape, n_components, covariance_type, *, pending_bytes=0, **options):
    """:func:`check_fit` of a ``GaussianMixture`` fit on data of ``shape``.

    ``options`` are those of :func:`gaussian_mixture_bytes`.
    """
    n_samples, n_features = shape
    estimate = gaussian_mixture_bytes(
        n_samples, n_features, n_components, covariance_type, **options
    )
    wide = covariance_layout(covariance_type) in ("full", "tied")
    advice = (
        "use covariance_type='diag' or 'spherical' (memory and time grow with the "
        "number of features squared for 'full' and 'tied'), " if wide else ""
    ) + (
        "reduce the number of features (e.g. with sklearn.decomposition.PCA), use fewer "
        "components, or pass a smaller chunk_size"
    )
    check_fit(
        estimate,
        what=(
            f"GaussianMixture(n_components={n_components}, covariance_type="
            f"{covariance_type!r}) on {n_samples} × {n_features} data"
        ),
        advice=advice,
        pending_bytes=pending_bytes,
    )


def check_kmeans(shape, n_clusters, *, pending_bytes=0, warn=True, **options):
    """:func:`check_fit` of a ``KMeans`` fit on data of ``shape``, and its answer.

    ``options`` are those of :func:`kmeans_bytes`.
    """
    n_samples, n_features = shape
    nnz = options.get("nnz")
    stored = "" if nnz is None else f" sparse (with {nnz} stored values)"
    return check_fit(
        kmeans_bytes(n_samples, n_features, n_clusters, **options),
        what=f"KMeans(n_clusters={n_clusters}) on {n_samples} × {n_features}{stored} data",
        advice=(
            "reduce the number of features (e.g. with sklearn.decomposition.PCA) or of "
            "samples (fit on a subsample, then predict the rest), use fewer clusters, "
            "or pass a smaller chunk_size"
        ),
        pending_bytes=pending_bytes,
        warn=warn,
    )


# --------------------------------------------------------------------------- #
# K-means


def _kmeans_chunk(n_clusters, n_features, itemsize, chunk_size):
    """The rows per chunk K-means uses (mixfit.engine.kmeans.auto_chunk_size when None)."""
    if chunk_size is not None:
        return int(chunk_size)
    if n_features >= 4 * n_clusters:
        small = 1_000_000 // (n_clusters * n_features)
        if small >= 32:
            return int(min(4096, small))
    rows = (1 << 17) // max(1, n_clusters * itemsize)
    return int(min(4096, max(256, 1 << max(0, rows.bit_length() - 1))))


def _canonical_order_bytes(n_samples):
    """mixfit.engine.init._canonical_order (mixfit.kernels.row_order) on dense rows, its larger case.

    The order and its spare (n × 8 each), the gathered column and its spare
    (n × 8 each), the new-group flags (n), and at most n/17 pending ranges of
    25 bytes. CSR rows need only the order, its spare and the flags.
    """
    return 35 * n_samples


def _seeding_bytes(init, n_samples, n_features):
    """Peak of a seeder of mixfit.engine.init beyond X (its output is K × d, counted elsewhere)."""
    # Distances take float64 temporaries of a few chunks.
    rows = 4 * 8 * min(n_samples, 4096) * n_features
    if init == "k-means++":
        # The sort's arrays while sorting; then order + the running nearest distances.
        return _canonical_order_bytes(n_samples) + rows
    if init in ("random", "random_from_data"):
        # The canonical order, then the ones, group starts, weights in that order,
        # group sums, representatives and their exponential keys and ranks.
        return _canonical_order_bytes(n_samples) + 48 * n_samples + rows
    if init == "lecture":
        # Squared deviations a chunk at a time.
        return rows // 2
    return 0  # given centres


def _peak(parts, phases):
    """``parts`` plus the largest of ``phases`` (which follow each other), as a FitEstimate's."""
    name = max(phases, key=phases.get)
    parts = {**parts, name: phases[name]}
    return int(sum(parts.values())), parts


def kmeans_bytes(
    n_samples, n_features, n_clusters, *, itemsize=8, chunk_size=None, n_jobs=1,
    algorithm="auto", init="k-means++", n_init=1, rescaled=False, nnz=None,
):
    """Estimated memory and work of ``KMeans.fit`` beyond X.

    Parameters
    ----------
    n_samples, n_features, n_clusters : int
    itemsize : int
        Bytes per value of X (4 or 8).
    chunk_size, n_jobs, algorithm, init, n_init :
        As the estimator's (``init`` a name, or None for given centres).
    rescaled : bool
        Whether the data will be rescaled (then a float64 copy of X is made).
    nnz : int or None
        For sparse (CSR) data, the number of stored values: the estimate then
        depends on it, not on ``n_samples × n_features`` (see :func:`_sparse_kmeans_bytes`).

    Returns
    -------
    FitEstimate
    """
    n, d, k = int(n_samples), int(n_features), int(n_clusters)
    if nnz is not None:
        return _sparse_kmeans_bytes(n, d, k, int(nnz), algorithm, init, n_init,
                                    rescaled)
    work = 8 if rescaled else itemsize
    chunk = max(1, min(n, _kmeans_chunk(k, d, work, chunk_size)))
    # Blocks as mixfit.engine.kmeans_steps._blocks cuts them (up to 8 for
    # small data, each of at least 2**17 distance terms): threads take whole ones.
    block_rows = min(_KMEANS_BLOCK_ROWS, max(n // 8, -(-(1 << 17) // max(1, d * k))))
    threads = max(1, min(int(n_jobs), -(-n // max(1, block_rows))))
    yinyang = algorithm == "yinyang" or (
        algorithm == "auto" and k >= _YINYANG_MIN_CLUSTERS.get(work, k + 1)
        and d >= _YINYANG_MIN_FEATURES.get(work, d + 1)
    )
    two_bound = (algorithm == "auto" and not yinyang and k < _TWO_BOUND_MAX_CLUSTERS
                 and d >= _TWO_BOUND_MIN_FEATURES
                 and (k >= _TWO_BOUND_MANY_CLUSTERS
                      or (k >= _TWO_BOUND_WORK[0] and d * k >= _TWO_BOUND_WORK[1])
                      or (k >= _TWO_BOUND_LARGE[0] and n * d * work >= _TWO_BOUND_LARGE[1])))
    hamerly = not yinyang and not two_bound and (algorithm in ("hamerly", "elkan") or (
        algorithm == "auto" and k >= _HAMERLY_MIN_CLUSTERS
    ))
    # astype(float64) then the division: two float64 copies for a moment, one after.
    parts = {"a float64 copy of X": 8 * n * d if rescaled else 0}
    # The best run's int64 labels while the next run goes.
    best = 8 * n if int(n_init) > 1 else 0
    centres = 6 * 8 * k * d + 8 * 128 * k
    parts["centres"] = centres
    # Lloyd: ‖x‖², int32 labels (Hamerly, Yinyang: bounds too), the int64 labels of the
    # result; per thread the distance block (and its transposed copy), the
    # shifted or gathered rows, Hamerly's list of rows; K × d sums per group.
    # Yinyang: a float32 bound per group of ~10 centres (~5 while that makes at
    # most d / 3 groups and 64); per thread, per row of its block, ~16 words
    # (the group filter now works row by row in scratch of a chunk: errs high).
    groups = -(-k // _YINYANG_GROUP_SIZES[0])
    if 3 * groups > d or groups > _YINYANG_MOST_FEW_GROUPS:
        groups = -(-k // _YINYANG_GROUP_SIZES[1])
    per_row = (work + 4 + (4 if hamerly else 0) + (8 if two_bound else 0)
               + (4 * groups if yinyang else 0) + 8)
    per_thread = (2 * chunk * k * work + 2 * chunk * d * work + 8 * _KMEANS_BLOCK_ROWS
                  + (8 * 16 * _KMEANS_BLOCK_ROWS if yinyang else 0))
    sums = (_KMEANS_GROUPS + 2 * threads) * 8 * k * (d + 1)
    phases = {
        "rescaling": 8 * n * d if rescaled else 0,
        "seeding": _seeding_bytes(init, n, d) + best,
        "Lloyd iterations": per_row * n + best + threads * per_thread + sums,
    }
    total, parts = _peak(parts, phases)
    flops = 2.0 * n * k * d + 3.0 * n * d  # the distance GEMM and the sums
    return FitEstimate(total, flops, parts)


def _sparse_kmeans_bytes(n, d, k, nnz, algorithm, init, n_init, rescaled):
    """:func:`kmeans_bytes` for CSR data of ``nnz`` stored values (mixfit.engine.kmeans_sparse).

    Nothing of size n × d is made: per row a float64 norm, labels and
    distances; one K × d float64 array of sums (each cluster's row written by
    one task) and the transposed centres.
    Hamerly's bounds (only when asked for: "auto" runs Lloyd on sparse data)
    add a float32 per row.
    """
    # A rescaled fit makes a float64 copy of the values and the index arrays.
    copy = (8 + 8) * nnz + 8 * (n + 1) if rescaled else 0
    parts = {"a float64 copy of X": copy, "centres": 8 * 8 * k * d + 8 * 128 * k}
    best = 8 * n if int(n_init) > 1 else 0
    # Seeding: the canonical order and distances (k-means++) or a float64 copy of
    # the values (lecture's variances), a few dense rows, a chunk of distances.
    # k-means|| keeps each row's nearest candidate and its distance (16 bytes).
    seeding = {"k-means++": _canonical_order_bytes(n) + 16 * n,
               "k-means||": 16 * n,
               "random": _canonical_order_bytes(n) + 48 * n,
               "random_from_data": _canonical_order_bytes(n) + 48 * n,
               "lecture": 16 * nnz + 8 * n}.get(init, 0)
    phases = {
        "rescaling": copy,
        "seeding": seeding + 8 * 4096 * k + best,
        "Lloyd iterations": (8 + 4 + 8 + 8) * n + best
        + (4 * n if algorithm in ("hamerly", "elkan") else 0)
        + 2 * 8 * k * (d + 1),
    }
    total, parts = _peak(parts, phases)
    flops = 2.0 * nnz * k + 3.0 * nnz + 3.0 * n * k  # dot products, sums, argmin
    return FitEstimate(total, flops, parts)


# --------------------------------------------------------------------------- #
# Gaussian mixtures


#: Rows the hierarchical start builds its tree on (mixfit.engine.init).
HC_MAX_ROWS = 2000

#: The parameter layouts of the covariance types, by scikit-learn's names.
_LAYOUTS = ("full", "tied", "diag", "spherical", "identity")


def covariance_layout(covariance_type):
    """The shapes a ``covariance_type`` gives its parameters, as one of scikit-learn's names.

    mclust's three-letter models keep (K, d, d) covariances and factors, as "full".
    """
    return covariance_type if covariance_type in _LAYOUTS else "full"


def _covariance_size(covariance_type, n_components, n_features):
    """Numbers in one covariance-shaped array (covariances_, its factor, the scatter)."""
    k, d = n_components, n_features
    return {
        "full": k * d * d, "tied": d * d, "diag": k * d, "spherical": k, "identity": k,
    }[covariance_type]


def _uses_sweep(covariance_type, n_features):
    if covariance_type == "full":
        return n_features <= _FULL_SWEEP_MAX_FEATURES
    if covariance_type == "tied":
        return n_features <= _TIED_SWEEP_MAX_FEATURES
    return True


def gaussian_mixture_bytes(
    n_samples, n_features, n_components, covariance_type, *, itemsize=8, chunk_size=4096,
    n_jobs=1, init="kmeans", n_init=1, rescaled=False,
):
    """Estimated memory and work of ``GaussianMixture.fit`` beyond X.

    Parameters
    ----------
    n_samples, n_features, n_components : int
    covariance_type : str
        scikit-learn's names, "identity", or one of mclust's 14 (sized as "full").
    itemsize : int
        Bytes per value of X (4 or 8).
    chunk_size, n_jobs, n_init : int
        Resolved, as the estimator uses them.
    init : str
        ``init_params``, ``"resp"`` for given responsibilities, or ``"given"``
        when every parameter is given.
    rescaled : bool
        Whether the data will be rescaled (float32 data then becomes float64).

    Returns
    -------
    FitEstimate
    """
    n, d, k = int(n_samples), int(n_features), int(n_components)
    covariance_type = covariance_layout(covariance_type)
    work = 8 if rescaled else itemsize
    chunk = max(1, min(n, int(chunk_size)))
    n_chunks = -(-n // chunk)
    threads = max(1, min(int(n_jobs), n_chunks))
    cov = _covariance_size(covariance_type, k, d)
    # The per-chunk scatter of the wide path: Full's (K, d, d) for tied as well.
    chunk_scatter = k * d * d if covariance_type in ("full", "tied") else cov

    # Rescaled float32 data is fitted in float64: a converted copy and a divided one.
    parts = {"rescaled copies of X": 8 * n * d * (2 if itemsize == 4 else 1) if rescaled else 0}
    # Parameters (means, covariances, their factors) of the current run and the
    # next (M-step), and the best run's when there are restarts.
    params = 8 * (k * d + 2 * cov + k)
    parts["parameters"] = (2 + (int(n_init) > 1)) * params
    # The M-step from the summed scatter: its symmetrised copy, the covariances,
    # the factors one by one and then stacked.
    m_step = 5 * 8 * cov

    if _uses_sweep(covariance_type, d):
        second = {"full": k * d * d, "tied": d * d}.get(covariance_type, k * d)
        slot = 8 * (2 + k * (1 + d) + second)
        groups = min(n_chunks, _SWEEP_GROUPS, max(1, _SWEEP_PARTIAL_BYTES // slot))
        # Partial sums, then their sum mirrored and centred (a few scatters).
        e_step = max(groups * slot + 8 * cov, 4 * 8 * cov)
        labels = 8 * n  # the final E-step's labels (per-thread buffers are small)
    else:
        # Each chunk's statistics are kept until all are added. Per thread, one
        # after the other: the log-densities (the factors stacked, K·d × d; the
        # chunk centred; the whitened block), the moments (the (K, d, d) sums; the
        # chunk shifted and weighted), the scatter from them (two more K·d²);
        # throughout, the chunk's (rows, K) densities and responsibilities.
        kept = n_chunks * 8 * (cov + k * (d + 2))
        stacked = work * (k * d * d if covariance_type == "full" else d * d)
        per_thread = 24 * chunk * k + max(
            stacked + work * chunk * d + work * max(_WHITENED_BLOCK, k * d),
            8 * chunk_scatter + 2 * work * chunk * d,
            3 * 8 * chunk_scatter,
        )
        e_step = kept + max(threads * per_thread, 3 * 8 * cov)
        labels = 8 * n + threads * (stacked + 2 * work * chunk * d + 16 * chunk * k)

    # Initialisations. From labels or responsibilities: the statistics a chunk at
    # a time (the chunk in float64, centred and weighted; its scatter), added.
    folded = max(8 * chunk * (2 * d + 2 * k) + 8 * chunk_scatter, 8 * 3 * cov, m_step)
    if init in ("kmeans", "k-means||"):
        seeder = "k-means++" if init == "kmeans" else init
        start = kmeans_bytes(n, d, k, itemsize=work, chunk_size=chunk, n_jobs=n_jobs,
                             init=seeder).bytes
        start = max(start, 8 * n + folded)
    elif init == "random":
        # Random responsibilities drawn a chunk at a time.
        start = folded
    elif init == "resp":
        # resp_init converted to float64 and normalised: two (n, K) copies.
        start = 8 * n * (2 * k + 1) + folded
    elif init in ("k-means++", "random_from_data", "lecture"):
        seed = _seeding_bytes("random" if init == "random_from_data" else init, n, d)
        # GaussianFamily.params_from_means: one component's statistics a chunk
        # at a time (the chunk in float64, centred, weighted; its scatter, and
        # the merge's), then K covariances and their factors.
        one = d * d if covariance_type in ("full", "tied") else d
        start = max(seed, 8 * 3 * chunk * d + 4 * 8 * one + 3 * 8 * cov)
    elif init == "hc":
        # The hierarchical start (mixfit.engine.hierarchical) on at most
        # HC_MAX_ROWS rows: all pairwise merge costs, each cluster's scatter,
        # the transformed copy; then the statistics of its partition.
        rows = min(n, HC_MAX_ROWS)
        start = 8 * rows * rows + 8 * rows * (d * d + 3 * d + 8) + folded
    else:
        start = 0
    phases = {"initialisation": start, "E-step buffers": max(e_step, m_step),
              "final labels": labels}
    total, parts = _peak(parts, phases)
    # E-step: the log-densities (whitening for full and tied) and the scatter;
    # M-step: a Cholesky factor and its inverse per covariance.
    if covariance_type == "full":
        flops = 4.0 * n * k * d * d + k * (2.0 / 3.0) * d**3
    elif covariance_type == "tied":
        flops = 2.0 * n * d * d + 2.0 * n * k * d + (2.0 / 3.0) * d**3
    else:
        flops = 8.0 * n * k * d
    return FitEstimate(total, flops, parts)
