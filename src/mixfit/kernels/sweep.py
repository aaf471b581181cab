"""One fused sweep over all rows: E-step, log-likelihood and moments together.

The per-chunk path of :mod:`mixfit.engine.em` calls numpy and numba several times per
chunk of rows; with few features those calls cost more than the arithmetic
(n=1e6 rows of d=8 are ~250 chunks, each a dozen array operations). Here one
numba call per thread walks its share of the chunks and does everything for a
row block before the next one is read:

1. the block of rows is transposed into a (d, B) float64 buffer, so that every
   inner loop below runs over the B rows of the block — contiguous, and
   vectorised by LLVM whatever d and K are (loops over d = 8 or K = 8 would
   fall into scalar remainders);
2. the log-densities ``log w_k + log N(x | μ_k, Σ_k)`` of the block, per structure;
3. the logsumexp per row with :func:`exp_nonpositive`, a vectorisable exp
   (numba has no vector exp without Intel's SVML, which pip's llvmlite lacks);
4. the responsibilities times the sample weight, and the moments of the block
   about the current means, added into the group's float64 partial sums.

Partial sums are kept per **group of chunks** (``chunk_size`` rows, the unit
of the rest of the engine; at most 64 groups, whatever the thread count) and
added in group order by the caller: the order of every addition is fixed by
the data's size and the chunk size alone, so neither the number of threads
nor how groups are shared between them changes a result, and the partial sums
take O(64 · K · d²) memory, not a share of the input.

Moments are taken about one reference per component — the current means —
for every chunk, so they add directly; the conversion to centred statistics
happens once, after the sum (see :mod:`mixfit.families.gaussian.covariance`). The tied
structure instead accumulates the scatter of all rows about a single centre
``c`` and subtracts the between-component part once (``W = Σ w (x − c)(x − c)ᵀ
− Σ_k N_k (x̄_k − c)(x̄_k − c)ᵀ``): its relative rounding error is
``eps · (spread of the means / within-component spread)²``, negligible in
float64 unless components are ~1e6 standard deviations apart.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from mixfit.kernels.checks import check_rows, check_sweep, require

__all__ = [
    "BLOCK",
    "exp_nonpositive",
    "posterior_diag",
    "posterior_full",
    "posterior_tied",
    "sweep_diag",
    "sweep_full",
    "sweep_tied",
]

#: Rows per block: the transposed block and the (K, BLOCK) work arrays stay in L1/L2.
BLOCK = 128

# Reassociation lets the reductions over a block vectorise; nothing here
# assumes finite values (a zero mixture weight gives a log-weight of -inf).
_FAST = {"reassoc", "contract", "nsz", "arcp"}

# exp(t) = 2**n · exp(r), n = round(t / ln 2), |r| ≤ ln(2)/2 (Cody–Waite split of
# ln 2 so that t − n·ln 2 is exact), exp(r) by its Taylor polynomial of degree 13
# (truncation error < 1e-17 relative on that interval). 2**n is built in the
# exponent bits: adding 1.5·2**52 rounds t/ln 2 to an integer held in the low
# mantissa bits, which a shift by 52 moves into the exponent field.
_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238
_LN2_LO = 1.9082149292705877e-10
_ROUND_SHIFT = 6755399441055744.0  # 1.5 · 2**52
_EXP_BIAS = 1023 << 52
# Below this the result would be subnormal; the sweep calls it 0 (np.exp gives
# < 3e-308, nothing that changes a sum of terms of which the largest is 1).
_EXP_FLOOR = -708.0
_C = [1.0 / np.prod(np.arange(1.0, k + 1)) for k in range(14)]
(_C0, _C1, _C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11, _C12, _C13) = _C


@njit(nogil=True, cache=True, fastmath={"contract"})
def exp_nonpositive(t, out, scratch):
    """``out[:m] = exp(t[:m])`` for ``t ≤ 0`` (``-inf`` allowed), m = len(t), vectorisable.

    Within 2 units in the last place of ``np.exp`` for ``t ≥ -708``; 0 below.
    ``scratch`` is a float64 buffer of at least ``len(t)`` elements.
    """
    m = t.shape[0]
    require(out.shape[0] >= m and scratch.shape[0] >= m, "exp_nonpositive",
            "out and scratch at least as long as t")
    bits = scratch.view(np.int64)
    for i in range(m):
        x = max(t[i], _EXP_FLOOR)
        shifted = x * _LOG2E + _ROUND_SHIFT
        n = shifted - _ROUND_SHIFT
        r = x - n * _LN2_HI
        r = r - n * _LN2_LO
        p = _C13
        p = p * r + _C12
        p = p * r + _C11
        p = p * r + _C10
        p = p * r + _C9
        p = p * r + _C8
        p = p * r + _C7
        p = p * r + _C6
        p = p * r + _C5
        p = p * r + _C4
        p = p * r + _C3
        p = p * r + _C2
        p = p * r + _C1
        p = p * r + _C0
        out[i] = p
        scratch[i] = shifted
    for i in range(m):
        bits[i] = (bits[i] << 52) + _EXP_BIAS
    for i in range(m):
        out[i] = out[i] * scratch[i] if t[i] >= _EXP_FLOOR else 0.0


@njit(nogil=True, cache=True)
def _transpose_block(X, start, m, xt):
    """``xt[j, i] = X[start + i, j]`` in float64."""
    n_features = X.shape[1]
    for i in range(m):
        for j in range(n_features):
            xt[j, i] = X[start + i, j]


@njit(nogil=True, cache=True, fastmath=_FAST)
def _normalise_block(joint, m, sample_weight, start, resp, work, slot, log_likelihood, weight,
                     resp_sum):
    """Responsibilities × weight of a block from its joint log-densities.

    ``joint[k, i] = log w_k + log p(x_i | k)``; writes ``resp[k, :m]`` and adds
    ``Σ w log p(x)``, ``Σ w`` and the rows sums of ``resp`` into ``slot`` of
    the outputs. An empty ``sample_weight`` means weight one; ``work`` holds
    at least 4 · BLOCK floats.
    """
    n_components = joint.shape[0]
    weighted = sample_weight.shape[0] > 0
    top = work[:m]
    total = work[BLOCK:BLOCK + m]
    scratch = work[2 * BLOCK:]
    for i in range(m):
        top[i] = joint[0, i]
    for k in range(1, n_components):
        for i in range(m):
            top[i] = max(top[i], joint[k, i])
    for i in range(m):
        total[i] = 0.0
    for k in range(n_components):
        for i in range(m):
            scratch[i] = joint[k, i] - top[i]
        exp_nonpositive(scratch[:m], resp[k], scratch[m:])
        for i in range(m):
            total[i] += resp[k, i]
    ll = 0.0
    weight_sum = 0.0
    for i in range(m):
        w = sample_weight[start + i] if weighted else 1.0
        if w != 0.0:
            ll += w * (top[i] + np.log(total[i]))
        weight_sum += w
        total[i] = w / total[i]
    for k in range(n_components):
        acc = 0.0
        for i in range(m):
            value = resp[k, i] * total[i]
            resp[k, i] = value
            acc += value
        resp_sum[slot, k] += acc
    log_likelihood[slot] += ll
    weight[slot] += weight_sum


@njit(nogil=True, cache=True, fastmath=_FAST)
def _first_moments(xt, m, resp, means, first):
    """``first[k, j] += Σ_i resp[k, i] (x_ij − μ_kj)`` over a block."""
    n_components, n_features = means.shape
    for k in range(n_components):
        for j in range(n_features):
            mu = means[k, j]
            acc = 0.0
            for i in range(m):
                acc += resp[k, i] * (xt[j, i] - mu)
            first[k, j] += acc


@njit(nogil=True, cache=True, fastmath=_FAST)
def _joint_diag(xt, m, means, scale, const, acc, joint):
    """``joint[k, i] = const[k] − ½ Σ_j ((x_ij − μ_kj) · scale_kj)²`` for a block."""
    n_components, n_features = means.shape
    for k in range(n_components):
        for i in range(m):
            acc[i] = 0.0
        for j in range(n_features):
            mu = means[k, j]
            s = scale[k, j]
            for i in range(m):
                t = (xt[j, i] - mu) * s
                acc[i] += t * t
        c = const[k]
        for i in range(m):
            joint[k, i] = c - 0.5 * acc[i]


@njit(nogil=True, cache=True, fastmath=_FAST)
def sweep_diag(
    X, sample_weight, means, scale, const, with_second, chunk_size, chunk_begin, chunk_end, slot,
    log_likelihood, weight, resp_sum, first, second,
):
    """Fused sweep for variance structures (identity, spherical, diag).

    ``log p(x, k) = const[k] − ½ Σ_j ((x_j − μ_kj) · scale_kj)²``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, C-contiguous
    sample_weight : ndarray of shape (n_samples,) or (0,), float64
    means, scale : ndarray of shape (n_components, n_features), float64
        Means (also the moments' reference) and ``1/σ`` per feature.
    const : ndarray of shape (n_components,), float64
        ``log w_k + log det P_k − d/2 · log 2π``.
    with_second : bool
        Accumulate second moments (False for the identity model).
    chunk_size, chunk_begin, chunk_end : int
        This call covers chunks ``chunk_begin … chunk_end − 1``.
    slot : int
        Where this call's sums go in the outputs.
    log_likelihood, weight : ndarray of shape (n_slots,)
    resp_sum : ndarray of shape (n_slots, n_components)
    first, second : ndarray of shape (n_slots, n_components, n_features)
        Sums, added to: ``Σ w log p(x)``, ``Σ w``, ``Σ r``, ``Σ r (x − μ)``
        and ``Σ r (x − μ)²`` (r: responsibility × weight).
    """
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    check_sweep("sweep_diag", X, sample_weight, n_components, chunk_size, chunk_begin,
                chunk_end, slot, log_likelihood, weight, resp_sum, first)
    require(means.shape[1] == n_features and scale.shape[0] == n_components
            and scale.shape[1] == n_features and const.shape[0] == n_components, "sweep_diag",
            "means and scale (K, d), const (K,)")
    require(not with_second or (second.shape[0] == first.shape[0]
                                and second.shape[1] == n_components
                                and second.shape[2] == n_features), "sweep_diag",
            "second (slots, K, d)")
    xt = np.empty((n_features, BLOCK))
    joint = np.empty((n_components, BLOCK))
    resp = np.empty((n_components, BLOCK))
    acc = np.empty(BLOCK)
    work = np.empty(4 * BLOCK)
    for chunk in range(chunk_begin, chunk_end):
        stop = min(n_samples, (chunk + 1) * chunk_size)
        for start in range(chunk * chunk_size, stop, BLOCK):
            m = min(BLOCK, stop - start)
            _transpose_block(X, start, m, xt)
            _joint_diag(xt, m, means, scale, const, acc, joint)
            _normalise_block(
                joint, m, sample_weight, start, resp, work, slot,
                log_likelihood, weight, resp_sum,
            )
            for k in range(n_components):
                for j in range(n_features):
                    mu = means[k, j]
                    s1 = 0.0
                    s2 = 0.0
                    for i in range(m):
                        z = xt[j, i] - mu
                        rz = resp[k, i] * z
                        s1 += rz
                        s2 += rz * z
                    first[slot, k, j] += s1
                    if with_second:
                        second[slot, k, j] += s2


@njit(nogil=True, cache=True, fastmath=_FAST)
def _centre_block(xt, m, centre, zt):
    """``zt[:, i] = x_i − centre``."""
    for a in range(xt.shape[0]):
        c = centre[a]
        for i in range(m):
            zt[a, i] = xt[a, i] - c


@njit(nogil=True, cache=True, fastmath=_FAST)
def _whiten_block(zt, m, chol, yt):
    """``yt[:, i] = Pᵀ z_i`` for an upper-triangular ``P`` (y_a = Σ_{b≤a} z_b P_ba).

    Four terms per pass over the block: the loop is bound by loads and stores
    of ``yt``, not by the multiplications, so each pass does four of them.
    """
    n_features = zt.shape[0]
    for a in range(n_features):
        for i in range(m):
            yt[a, i] = 0
        b = 0
        while b + 4 <= a + 1:
            p0 = chol[b, a]
            p1 = chol[b + 1, a]
            p2 = chol[b + 2, a]
            p3 = chol[b + 3, a]
            for i in range(m):
                yt[a, i] += zt[b, i] * p0 + zt[b + 1, i] * p1 + zt[b + 2, i] * p2 + zt[b + 3, i] * p3
            b += 4
        while b <= a:
            p = chol[b, a]
            for i in range(m):
                yt[a, i] += zt[b, i] * p
            b += 1


@njit(nogil=True, cache=True, fastmath=_FAST)
def _scatter_block(zt, m, weight, weighted_z, zero, out):
    """``out[a, b] += Σ_i weight_i z_ai z_bi`` for a ≤ b; block sums in zt's dtype.

    Four columns b per pass over the block (each load of ``weighted_z`` serves four
    products).
    """
    n_features = zt.shape[0]
    for a in range(n_features):
        for i in range(m):
            weighted_z[i] = weight[i] * zt[a, i]
        b = a
        while b + 4 <= n_features:
            s0 = zero
            s1 = zero
            s2 = zero
            s3 = zero
            for i in range(m):
                w = weighted_z[i]
                s0 += w * zt[b, i]
                s1 += w * zt[b + 1, i]
                s2 += w * zt[b + 2, i]
                s3 += w * zt[b + 3, i]
            out[a, b] += s0
            out[a, b + 1] += s1
            out[a, b + 2] += s2
            out[a, b + 3] += s3
            b += 4
        while b < n_features:
            s = zero
            for i in range(m):
                s += weighted_z[i] * zt[b, i]
            out[a, b] += s
            b += 1


@njit(nogil=True, cache=True, fastmath=_FAST)
def _joint_tied(xt, m, centre, chol, offsets, unit, const, zt, yt, acc, joint):
    """``joint[k, i] = const[k] − ½ ‖Pᵀ(x_i − c) − offsets_k‖²``; leaves x − c in ``zt``.

    Whitened, the tied model is the diag one with unit scales (``unit``: ones, K × d).
    """
    _centre_block(xt, m, centre, zt)
    _whiten_block(zt, m, chol, yt)
    _joint_diag(yt, m, offsets, unit, const, acc, joint)


@njit(nogil=True, cache=True, fastmath=_FAST)
def sweep_tied(
    X, sample_weight, means, centre, chol, offsets, const, chunk_size, chunk_begin, chunk_end, slot,
    log_likelihood, weight, resp_sum, first, second,
):
    """Fused sweep for a tied covariance with precision factor ``chol`` (upper, d × d).

    ``log p(x, k) = const[k] − ½ ‖Pᵀ(x − c) − offsets_k‖²`` with
    ``offsets_k = Pᵀ(μ_k − c)``. Outputs as :func:`sweep_diag`, except
    ``second`` of shape (n_slots, d, d): the upper triangle of
    ``Σ w (x − c)(x − c)ᵀ`` over all rows (see the module docstring).
    """
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    check_sweep("sweep_tied", X, sample_weight, n_components, chunk_size, chunk_begin,
                chunk_end, slot, log_likelihood, weight, resp_sum, first)
    require(means.shape[1] == n_features and offsets.shape[0] == n_components
            and offsets.shape[1] == n_features and const.shape[0] == n_components
            and centre.shape[0] == n_features and chol.shape[0] == n_features
            and chol.shape[1] == n_features, "sweep_tied",
            "means and offsets (K, d), const (K,), centre (d,), chol (d, d)")
    require(second.shape[0] == first.shape[0] and second.shape[1] == n_features
            and second.shape[2] == n_features, "sweep_tied", "second (slots, d, d)")
    xt = np.empty((n_features, BLOCK))
    unit = np.ones((n_components, n_features))
    zt = np.empty((n_features, BLOCK))
    yt = np.empty((n_features, BLOCK))
    weighted_z = np.empty(BLOCK)
    joint = np.empty((n_components, BLOCK))
    resp = np.empty((n_components, BLOCK))
    acc = np.empty(BLOCK)
    work = np.empty(4 * BLOCK)
    weighted = sample_weight.shape[0] > 0
    for chunk in range(chunk_begin, chunk_end):
        stop = min(n_samples, (chunk + 1) * chunk_size)
        for start in range(chunk * chunk_size, stop, BLOCK):
            m = min(BLOCK, stop - start)
            _transpose_block(X, start, m, xt)
            _joint_tied(xt, m, centre, chol, offsets, unit, const, zt, yt, acc, joint)
            _normalise_block(
                joint, m, sample_weight, start, resp, work, slot,
                log_likelihood, weight, resp_sum,
            )
            _first_moments(xt, m, resp, means, first[slot])
            # Σ w (x − c)(x − c)ᵀ (zt holds x − c; acc the weights).
            for i in range(m):
                acc[i] = sample_weight[start + i] if weighted else 1.0
            _scatter_block(zt, m, acc, weighted_z, 0.0, second[slot])


@njit(nogil=True, cache=True, fastmath=_FAST)
def _joint_full(xt, m, means, chol, const, zt, yt, maha, joint):
    """``joint[k, i] = const[k] − ½ ‖P_kᵀ (x_i − μ_k)‖²``, whitening in xt's dtype."""
    n_components, n_features = means.shape
    for k in range(n_components):
        _centre_block(xt, m, means[k], zt)
        _whiten_block(zt, m, chol[k], yt)
        for i in range(m):
            maha[i] = 0
        for a in range(n_features):
            for i in range(m):
                maha[i] += yt[a, i] * yt[a, i]
        c = const[k]
        for i in range(m):
            joint[k, i] = c - 0.5 * maha[i]


@njit(nogil=True, cache=True, fastmath=_FAST)
def sweep_full(
    X, sample_weight, means, chol, const, chunk_size, chunk_begin, chunk_end, slot,
    log_likelihood, weight, resp_sum, first, second,
):
    """Fused sweep for full covariances, ``chol[k]`` upper triangular (K, d, d).

    ``log p(x, k) = const[k] − ½ ‖P_kᵀ (x − μ_k)‖²``. Outputs as
    :func:`sweep_diag`, except ``second`` of shape (n_slots, K, d, d): the
    upper triangle of ``Σ r (x − μ_k)(x − μ_k)ᵀ``.

    The d²-per-component work (whitening, scatter) runs in X's dtype, with
    ``means`` and ``chol`` given in that dtype: float32 data get twice the
    vector width. Sums over a block of rows are formed in that dtype and then
    added to the float64 chunk totals; responsibilities are float64 throughout.
    """
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    check_sweep("sweep_full", X, sample_weight, n_components, chunk_size, chunk_begin,
                chunk_end, slot, log_likelihood, weight, resp_sum, first)
    require(means.shape[1] == n_features and const.shape[0] == n_components
            and chol.shape[0] == n_components and chol.shape[1] == n_features
            and chol.shape[2] == n_features, "sweep_full",
            "means (K, d), const (K,), chol (K, d, d)")
    require(second.shape[0] == first.shape[0] and second.shape[1] == n_components
            and second.shape[2] == n_features and second.shape[3] == n_features, "sweep_full",
            "second (slots, K, d, d)")
    zero = np.zeros(1, dtype=X.dtype)[0]
    xt = np.empty((n_features, BLOCK), dtype=X.dtype)
    zt = np.empty((n_features, BLOCK), dtype=X.dtype)
    yt = np.empty((n_features, BLOCK), dtype=X.dtype)
    maha = np.empty(BLOCK, dtype=X.dtype)
    weighted_z = np.empty(BLOCK, dtype=X.dtype)
    joint = np.empty((n_components, BLOCK))
    resp = np.empty((n_components, BLOCK))
    work = np.empty(4 * BLOCK)
    for chunk in range(chunk_begin, chunk_end):
        stop = min(n_samples, (chunk + 1) * chunk_size)
        for start in range(chunk * chunk_size, stop, BLOCK):
            m = min(BLOCK, stop - start)
            _transpose_block(X, start, m, xt)
            _joint_full(xt, m, means, chol, const, zt, yt, maha, joint)
            _normalise_block(
                joint, m, sample_weight, start, resp, work, slot,
                log_likelihood, weight, resp_sum,
            )
            for k in range(n_components):
                # zt ← x − μ_k; first moments in float64, the scatter in X's dtype.
                for a in range(n_features):
                    mu = means[k, a]
                    s1 = 0.0
                    for i in range(m):
                        z = xt[a, i] - mu
                        zt[a, i] = z
                        s1 += resp[k, i] * z
                    first[slot, k, a] += s1
                for i in range(m):
                    maha[i] = resp[k, i]
                _scatter_block(zt, m, maha, weighted_z, zero, second[slot, k])


@njit(nogil=True, cache=True, fastmath=_FAST)
def _posterior_block(joint, m, start, scratch, labels, log_resp, log_norm):
    """What a caller wants of a block's joint log-densities, written at its rows.

    ``labels`` (if not empty): the argmax over k, the first of equal maxima as
    numpy. ``log_norm`` (if not empty): ``log p(x) = logsumexp_k joint``;
    ``log_resp`` (if not empty, and then ``log_norm`` too): ``joint − log p(x)``;
    both in their own dtype.
    """
    n_components = joint.shape[0]
    if labels.shape[0] > 0:
        for i in range(m):
            best = joint[0, i]
            label = 0
            for k in range(1, n_components):
                if joint[k, i] > best:
                    best = joint[k, i]
                    label = k
            labels[start + i] = label
    if log_norm.shape[0] > 0:
        top = scratch[:m]
        total = scratch[m:2 * m]
        terms = scratch[2 * m:3 * m]
        powers = scratch[3 * m:4 * m]
        work = scratch[4 * m:]
        for i in range(m):
            top[i] = joint[0, i]
            total[i] = 0.0
        for k in range(1, n_components):
            for i in range(m):
                top[i] = max(top[i], joint[k, i])
        for k in range(n_components):
            for i in range(m):
                terms[i] = joint[k, i] - top[i]
            exp_nonpositive(terms, powers, work)
            for i in range(m):
                total[i] += powers[i]
        for i in range(m):
            top[i] += np.log(total[i])
            log_norm[start + i] = top[i]
        if log_resp.shape[0] > 0:
            for i in range(m):
                for k in range(n_components):
                    log_resp[start + i, k] = joint[k, i] - top[i]


@njit(nogil=True, cache=True)
def posterior_diag(X, means, scale, const, row_begin, row_end, labels, log_resp, log_norm):
    """Rows ``row_begin … row_end − 1`` under :func:`sweep_diag`'s model (see
    :func:`_posterior_block` for the outputs; an empty one is skipped)."""
    n_components, n_features = means.shape
    check_rows("posterior_diag", X, n_components, row_begin, row_end, labels, log_resp,
               log_norm)
    require(X.shape[1] == n_features and scale.shape[0] == n_components
            and scale.shape[1] == n_features and const.shape[0] == n_components,
            "posterior_diag", "means and scale (K, d) for X's d features, const (K,)")
    xt = np.empty((n_features, BLOCK))
    joint = np.empty((n_components, BLOCK))
    acc = np.empty(BLOCK)
    scratch = np.empty(5 * BLOCK)
    for start in range(row_begin, row_end, BLOCK):
        m = min(BLOCK, row_end - start)
        _transpose_block(X, start, m, xt)
        _joint_diag(xt, m, means, scale, const, acc, joint)
        _posterior_block(joint, m, start, scratch, labels, log_resp, log_norm)


@njit(nogil=True, cache=True)
def posterior_tied(X, centre, chol, offsets, const, row_begin, row_end, labels, log_resp,
                   log_norm):
    """Rows ``row_begin … row_end − 1`` under :func:`sweep_tied`'s model."""
    n_components, n_features = offsets.shape
    check_rows("posterior_tied", X, n_components, row_begin, row_end, labels, log_resp,
               log_norm)
    require(X.shape[1] == n_features and const.shape[0] == n_components
            and centre.shape[0] == n_features and chol.shape[0] == n_features
            and chol.shape[1] == n_features, "posterior_tied",
            "offsets (K, d) for X's d features, const (K,), centre (d,), chol (d, d)")
    xt = np.empty((n_features, BLOCK))
    unit = np.ones((n_components, n_features))
    zt = np.empty((n_features, BLOCK))
    yt = np.empty((n_features, BLOCK))
    joint = np.empty((n_components, BLOCK))
    acc = np.empty(BLOCK)
    scratch = np.empty(5 * BLOCK)
    for start in range(row_begin, row_end, BLOCK):
        m = min(BLOCK, row_end - start)
        _transpose_block(X, start, m, xt)
        _joint_tied(xt, m, centre, chol, offsets, unit, const, zt, yt, acc, joint)
        _posterior_block(joint, m, start, scratch, labels, log_resp, log_norm)


@njit(nogil=True, cache=True)
def posterior_full(X, means, chol, const, row_begin, row_end, labels, log_resp, log_norm):
    """Rows ``row_begin … row_end − 1`` under :func:`sweep_full`'s model."""
    n_components, n_features = means.shape
    check_rows("posterior_full", X, n_components, row_begin, row_end, labels, log_resp,
               log_norm)
    require(X.shape[1] == n_features and const.shape[0] == n_components
            and chol.shape[0] == n_components and chol.shape[1] == n_features
            and chol.shape[2] == n_features, "posterior_full",
            "means (K, d) for X's d features, const (K,), chol (K, d, d)")
    xt = np.empty((n_features, BLOCK), dtype=X.dtype)
    zt = np.empty((n_features, BLOCK), dtype=X.dtype)
    yt = np.empty((n_features, BLOCK), dtype=X.dtype)
    maha = np.empty(BLOCK, dtype=X.dtype)
    joint = np.empty((n_components, BLOCK))
    scratch = np.empty(5 * BLOCK)
    for start in range(row_begin, row_end, BLOCK):
        m = min(BLOCK, row_end - start)
        _transpose_block(X, start, m, xt)
        _joint_full(xt, m, means, chol, const, zt, yt, maha, joint)
        _posterior_block(joint, m, start, scratch, labels, log_resp, log_norm)
