"""Tests of the parsimonious M-steps: structure, closed forms, optimality, warm starts,
degenerate statistics and parameter counts."""

import itertools
import warnings

import numpy as np
import pytest
from scipy.linalg import expm
from scipy.optimize import minimize

from mixfit.families.gaussian.parsimonious import (
    ITERATIVE,
    MODEL_NAMES,
    Decomposition,
    decompose,
    m_step,
    m_step_objective,
    n_covariance_parameters,
)

CLOSED_FORMS = tuple(name for name in MODEL_NAMES if name not in ITERATIVE)
# Converge the iterative models fully where a test needs the exact maximiser.
TIGHT = dict(max_inner=20000, inner_tol=1e-14)


# ---------------------------------------------------------------- helpers

def random_statistics(rng, n_components, n_features, n_rows=None):
    """Counts and scatters of components with different volumes, shapes and axes."""
    counts = rng.uniform(5.0, 50.0, n_components)
    n_rows = n_features + 3 if n_rows is None else n_rows
    scatter = []
    for _ in range(n_components):
        mixing = rng.normal(size=(n_features, n_features)) * rng.uniform(0.3, 3.0)
        rows = rng.normal(size=(n_rows, n_features)) @ mixing
        scatter.append(rows.T @ rows)
    return counts, np.stack(scatter)


def reference_objective(counts, scatter, covariances):
    """F computed naively, one component at a time."""
    total = 0.0
    for count, component_scatter, covariance in zip(counts, scatter, covariances):
        sign, log_det = np.linalg.slogdet(covariance)
        assert sign > 0
        total += -0.5 * count * log_det - 0.5 * np.trace(np.linalg.solve(covariance,
                                                                          component_scatter))
    return total


def reconstruct(decomposition):
    return np.stack([volume * orientation @ np.diag(shape) @ orientation.T
                     for volume, shape, orientation in zip(decomposition.volumes,
                                                           decomposition.shapes,
                                                           decomposition.orientations)])


def random_orthogonal(rng, n_features):
    q, r = np.linalg.qr(rng.normal(size=(n_features, n_features)))
    return q * np.sign(np.diag(r))


def per_letter(letter, n_components, make, identity):
    """One part per component following a model letter: shared (E), free (V) or fixed (I)."""
    if letter == "I":
        return [identity] * n_components
    if letter == "E":
        return [make()] * n_components
    return [make() for _ in range(n_components)]


def random_feasible(model, n_components, n_features, rng, typical_volume, spread=1.0):
    """Random covariances with the model's structure."""
    def make_shape():
        logs = rng.normal(scale=spread, size=n_features)
        return np.exp(logs - logs.mean())

    volumes = per_letter(model[0], n_components,
                         lambda: typical_volume * np.exp(rng.normal(scale=spread)), None)
    shapes = per_letter(model[1], n_components, make_shape, np.ones(n_features))
    orientations = per_letter(model[2], n_components,
                              lambda: random_orthogonal(rng, n_features), np.eye(n_features))
    return Decomposition(np.array(volumes), np.array(shapes), np.array(orientations))


def perturb(model, decomposition, rng, size):
    """Move a decomposition a little while keeping the model's structure."""
    n_components, n_features = decomposition.shapes.shape

    def skew():
        upper = np.triu(rng.normal(scale=size, size=(n_features, n_features)), 1)
        return expm(upper - upper.T)

    def shape_factor():
        logs = rng.normal(scale=size, size=n_features)
        return np.exp(logs - logs.mean())

    volume_factors = per_letter(model[0], n_components,
                                lambda: np.exp(rng.normal(scale=size)), None)
    shape_factors = per_letter(model[1], n_components, shape_factor, np.ones(n_features))
    rotations = per_letter(model[2], n_components, skew, np.eye(n_features))
    return Decomposition(
        decomposition.volumes * np.array(volume_factors),
        decomposition.shapes * np.array(shape_factors),
        decomposition.orientations @ np.array(rotations))


def typical_volume(counts, scatter):
    return float(np.mean(np.einsum("kii->k", scatter) / (counts * scatter.shape[1])))


def assert_structure(model, step, n_features):
    """The covariances and their decomposition have the model's structure."""
    decomposition = step.decomposition
    covariances = step.covariances
    assert covariances.dtype == np.float64
    np.testing.assert_array_equal(covariances, np.swapaxes(covariances, 1, 2))
    np.testing.assert_allclose(reconstruct(decomposition), covariances,
                               rtol=1e-10, atol=1e-12 * np.abs(covariances).max())
    np.testing.assert_allclose(np.prod(decomposition.shapes, axis=1), 1.0, rtol=1e-10)
    gram = np.swapaxes(decomposition.orientations, 1, 2) @ decomposition.orientations
    np.testing.assert_allclose(gram, np.broadcast_to(np.eye(n_features), gram.shape),
                               atol=1e-10)
    np.testing.assert_allclose(decomposition.volumes ** n_features,
                               np.linalg.det(covariances), rtol=1e-8)
    volume_letter, shape_letter, orientation_letter = model
    if volume_letter == "E":
        np.testing.assert_allclose(decomposition.volumes, decomposition.volumes[0],
                                   rtol=1e-12)
    if shape_letter == "E":
        np.testing.assert_allclose(decomposition.shapes,
                                   np.broadcast_to(decomposition.shapes[0],
                                                   decomposition.shapes.shape), rtol=1e-10)
    if shape_letter == "I":
        np.testing.assert_allclose(decomposition.shapes, 1.0, rtol=1e-12)
        for covariance in covariances:
            np.testing.assert_allclose(covariance, covariance[0, 0] * np.eye(n_features),
                                       atol=1e-14 * covariance[0, 0])
    if orientation_letter == "E":
        np.testing.assert_allclose(decomposition.orientations,
                                   np.broadcast_to(decomposition.orientations[0],
                                                   decomposition.orientations.shape),
                                   atol=1e-12)
    if orientation_letter == "I":
        np.testing.assert_array_equal(decomposition.orientations,
                                      np.broadcast_to(np.eye(n_features),
                                                      decomposition.orientations.shape))
        off_diagonal = covariances - covariances * np.eye(n_features)
        np.testing.assert_array_equal(off_diagonal, 0.0)
    # The order can be chosen freely only when each component has its own axes
    # or the shape is common (the documented convention).
    if orientation_letter != "I" and model not in ("EVE", "VVE"):
        assert np.all(np.diff(decomposition.shapes, axis=1) <= 1e-12)
    if model in ("EVE", "VVE"):
        assert np.all(np.diff(np.log(decomposition.shapes).sum(axis=0)) <= 1e-12)


# ---------------------------------------------------------------- structure

@pytest.mark.parametrize("model", MODEL_NAMES)
@pytest.mark.parametrize("reg_covar", [0.0, 1e-3])
def test_result_has_the_model_structure(model, reg_covar):
    rng = np.random.default_rng(1)
    counts, scatter = random_statistics(rng, 3, 4)
    step = m_step(model, counts, scatter, reg_covar=reg_covar, max_inner=1000)
    assert_structure(model, step, 4)
    assert (step.inner_iterations == 0) == (model not in ITERATIVE)
    assert not step.capped


@pytest.mark.parametrize("model", ("EVE", "VVE"))
def test_common_orientation_shapes_are_sorted_for_one_component(model):
    rng = np.random.default_rng(2)
    counts, scatter = random_statistics(rng, 1, 5)
    shapes = m_step(model, counts, scatter).decomposition.shapes
    assert np.all(np.diff(shapes[0]) <= 0)


# ---------------------------------------------------------------- closed forms

def closed_form(model, counts, scatter):
    """The textbook formulas, written independently of the module."""
    n_components, n_features, _ = scatter.shape
    total = counts.sum()
    pooled = scatter.sum(axis=0)
    if model == "EII":
        return [np.trace(pooled) / (total * n_features) * np.eye(n_features)] * n_components
    if model == "VII":
        return [np.trace(w) / (n * n_features) * np.eye(n_features)
                for n, w in zip(counts, scatter)]
    if model == "EEI":
        return [np.diag(np.diag(pooled)) / total] * n_components
    if model == "VVI":
        return [np.diag(np.diag(w)) / n for n, w in zip(counts, scatter)]
    if model == "EVI":
        dets = [np.prod(np.diag(w)) ** (1.0 / n_features) for w in scatter]
        volume = sum(dets) / total
        return [volume * np.diag(np.diag(w)) / g for w, g in zip(scatter, dets)]
    if model == "EEE":
        return [pooled / total] * n_components
    if model == "VVV":
        return [w / n for n, w in zip(counts, scatter)]
    if model == "EVV":
        dets = [np.linalg.det(w) ** (1.0 / n_features) for w in scatter]
        volume = sum(dets) / total
        return [volume * w / g for w, g in zip(scatter, dets)]
    if model == "EEV":
        eigen = [np.linalg.eigh(w) for w in scatter]
        summed = sum(values[::-1] for values, _ in eigen)
        volume = np.prod(summed) ** (1.0 / n_features) / total
        shape = summed / np.prod(summed) ** (1.0 / n_features)
        return [volume * vectors[:, ::-1] @ np.diag(shape) @ vectors[:, ::-1].T
                for _, vectors in eigen]
    raise AssertionError(model)


@pytest.mark.parametrize("model", CLOSED_FORMS)
def test_closed_forms_match_the_formulas(model):
    rng = np.random.default_rng(3)
    counts, scatter = random_statistics(rng, 4, 3)
    step = m_step(model, counts, scatter)
    np.testing.assert_allclose(step.covariances, np.stack(closed_form(model, counts, scatter)),
                               rtol=1e-10, atol=1e-12)


def test_vvv_and_vii_regularisation_adds_to_the_diagonal():
    rng = np.random.default_rng(4)
    counts, scatter = random_statistics(rng, 3, 4)
    reg = 0.25
    vvv = m_step("VVV", counts, scatter, reg_covar=reg).covariances
    np.testing.assert_allclose(vvv, scatter / counts[:, None, None] + reg * np.eye(4),
                               rtol=1e-14)
    vii = m_step("VII", counts, scatter, reg_covar=reg).covariances
    expected = np.einsum("kii->k", scatter) / (counts * 4) + reg
    np.testing.assert_allclose(vii, expected[:, None, None] * np.eye(4), rtol=1e-14)


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_regularisation_is_applied_to_the_scatter(model):
    rng = np.random.default_rng(5)
    counts, scatter = random_statistics(rng, 3, 3)
    reg = 0.1
    regularised = scatter + counts[:, None, None] * reg * np.eye(3)
    np.testing.assert_allclose(m_step(model, counts, scatter, reg_covar=reg).covariances,
                               m_step(model, counts, regularised).covariances, rtol=1e-12)


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_one_component_reduces_to_the_shared_closed_form(model):
    # With K = 1 the letters E and V coincide: every model is VVV, VVI or VII.
    rng = np.random.default_rng(6)
    counts, scatter = random_statistics(rng, 1, 4)
    reduced = {"I": "VVI", "V": "VVV", "E": "VVV"}[model[2]] if model[1] != "I" else "VII"
    np.testing.assert_allclose(m_step(model, counts, scatter, **TIGHT).covariances,
                               m_step(reduced, counts, scatter).covariances, rtol=1e-9)


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_one_feature_collapses_to_equal_or_variable(model):
    rng = np.random.default_rng(7)
    counts, scatter = random_statistics(rng, 4, 1)
    step = m_step(model, counts, scatter)
    if model[0] == "E":
        expected = np.full(4, scatter.sum() / counts.sum())
    else:
        expected = scatter[:, 0, 0] / counts
    np.testing.assert_allclose(step.covariances[:, 0, 0], expected, rtol=1e-12)
    assert_structure(model, step, 1)
    expected_count = 1 if model[0] == "E" else 4
    assert n_covariance_parameters(model, 4, 1) == expected_count


# ---------------------------------------------------------------- optimality

@pytest.mark.parametrize("model", MODEL_NAMES)
def test_result_beats_nearby_and_random_parameters_of_the_model(model):
    rng = np.random.default_rng(8)
    for _ in range(2):
        counts, scatter = random_statistics(rng, 3, 4)
        step = m_step(model, counts, scatter, **TIGHT)
        best = m_step_objective(counts, scatter, step.covariances)
        np.testing.assert_allclose(best, reference_objective(counts, scatter,
                                                             step.covariances), rtol=1e-9)
        for size in (1e-3, 1e-2, 1e-1):
            for _ in range(10):
                nearby = reconstruct(perturb(model, step.decomposition, rng, size))
                assert m_step_objective(counts, scatter, nearby) <= best + 1e-11 * abs(best)
        volume = typical_volume(counts, scatter)
        for _ in range(50):
            other = reconstruct(random_feasible(model, 3, 4, rng, volume))
            assert m_step_objective(counts, scatter, other) <= best


def two_dimensional_covariances(model, parameters, n_components):
    """Covariances of a model in d = 2 from unconstrained parameters (log volume,
    log shape ratio, angle), for a brute-force optimiser."""
    sizes = {"E": 1, "V": n_components, "I": 0}
    counts = [sizes[letter] for letter in model]
    log_volumes, log_shapes, angles = np.split(parameters, np.cumsum(counts)[:2])
    covariances = []
    for k in range(n_components):
        volume = np.exp(log_volumes[min(k, len(log_volumes) - 1)])
        a = log_shapes[min(k, len(log_shapes) - 1)] if len(log_shapes) else 0.0
        t = angles[min(k, len(angles) - 1)] if len(angles) else 0.0
        rotation = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        covariances.append(volume * rotation @ np.diag([np.exp(a), np.exp(-a)]) @ rotation.T)
    return np.stack(covariances), sum(counts)


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_matches_a_brute_force_optimiser_in_two_dimensions(model):
    rng = np.random.default_rng(9)
    counts, scatter = random_statistics(rng, 3, 2)
    step = m_step(model, counts, scatter, **TIGHT)
    ours = m_step_objective(counts, scatter, step.covariances)
    _, n_parameters = two_dimensional_covariances(model, np.zeros(20), 3)
    best = -np.inf
    for _ in range(5):
        start = rng.normal(size=n_parameters) + np.log(typical_volume(counts, scatter)) * (
            np.arange(n_parameters) < {"E": 1, "V": 3}[model[0]])
        found = minimize(lambda p: -reference_objective(
            counts, scatter, two_dimensional_covariances(model, p, 3)[0]), start,
            method="BFGS", options={"gtol": 1e-9})
        best = max(best, -found.fun)
    assert ours >= best - 1e-7 * abs(best)
    assert ours <= best + 1e-5 * abs(best)   # the optimiser reaches the same optimum


# ---------------------------------------------------------------- warm starts

@pytest.mark.parametrize("model", sorted(ITERATIVE))
@pytest.mark.parametrize("max_inner", [1, 100])
def test_warm_start_never_lowers_the_objective(model, max_inner):
    rng = np.random.default_rng(10)
    for trial in range(40):
        n_components, n_features = int(rng.integers(1, 5)), int(rng.integers(1, 6))
        counts, scatter = random_statistics(rng, n_components, n_features)
        previous = random_feasible(model, n_components, n_features, rng,
                                   typical_volume(counts, scatter), spread=trial % 3)
        before = m_step_objective(counts, scatter, reconstruct(previous))
        step = m_step(model, counts, scatter, previous=previous, max_inner=max_inner)
        after = m_step_objective(counts, scatter, step.covariances)
        assert after >= before - 1e-12 * abs(before)
        assert step.inner_iterations <= max_inner


@pytest.mark.parametrize("model", sorted(ITERATIVE))
def test_iterations_are_counted_capped_and_warm_started(model):
    rng = np.random.default_rng(11)
    counts, scatter = random_statistics(rng, 3, 4)
    one = m_step(model, counts, scatter, max_inner=1, inner_tol=0.0)
    assert (one.inner_iterations, one.capped) == (1, True)
    converged = m_step(model, counts, scatter, max_inner=5000)
    assert not converged.capped and 1 <= converged.inner_iterations < 5000
    # Restarting from a converged step converges at once, to the same covariances.
    again = m_step(model, counts, scatter, previous=converged.decomposition)
    assert again.inner_iterations == 1 and not again.capped
    np.testing.assert_allclose(again.covariances, converged.covariances, rtol=0,
                               atol=1e-3 * np.abs(converged.covariances).max())
    # Warm rounds from one step reach the converged objective as cold rounds do.
    chained = one
    for _ in range(5000):
        chained = m_step(model, counts, scatter, previous=chained.decomposition, max_inner=1)
        if not chained.capped:
            break
    np.testing.assert_allclose(m_step_objective(counts, scatter, chained.covariances),
                               m_step_objective(counts, scatter, converged.covariances),
                               rtol=1e-6)


# ---------------------------------------------------------------- degenerate input

@pytest.mark.parametrize("model", MODEL_NAMES)
def test_rank_deficient_scatter_gives_no_nan_and_no_warning(model):
    rng = np.random.default_rng(12)
    basis = rng.normal(size=(2, 4))          # every sample lies in one plane of R^4
    scatter = []
    for _ in range(3):
        rows = rng.normal(size=(3, 2)) @ basis
        scatter.append(rows.T @ rows)
    scatter.append(np.zeros((4, 4)))         # a component holding a single sample
    counts = np.array([3.0, 3.0, 3.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        step = m_step(model, counts, np.stack(scatter))
    assert np.all(np.isfinite(step.covariances))
    for part in (step.decomposition.volumes, step.decomposition.shapes,
                 step.decomposition.orientations):
        assert np.all(np.isfinite(part))
    # Models with free axes see the plane: every covariance is singular (to
    # rounding), so the caller's Cholesky or its conditioning check reports the
    # collapse. Axis-aligned ones are singular only for the empty component,
    # when its volume or shape is its own.
    if model[2] != "I":
        singular = range(4)
    else:
        singular = [3] if "V" in model[:2] else []
    for k in singular:
        eigenvalues = np.linalg.eigvalsh(step.covariances[k])
        assert eigenvalues[0] <= 1e-10 * max(eigenvalues[-1], 1e-300)


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_one_empty_scatter_among_full_rank_ones_is_finite(model):
    rng = np.random.default_rng(13)
    counts, scatter = random_statistics(rng, 3, 3)
    scatter[1] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        step = m_step(model, counts, scatter)
    assert np.all(np.isfinite(step.covariances))
    if model[0] == "V" or model in ("EVI", "EVV"):
        # Its own volume has no lower bound: the M-step reports it as collapsed.
        assert step.decomposition.volumes[1] == 0.0


# ---------------------------------------------------------------- parameter counts

def test_parameter_counts_match_the_table():
    k, d = 3, 5
    table = {"EII": 1, "VII": k, "EEI": d, "VEI": k + d - 1, "EVI": 1 + k * (d - 1),
             "VVI": k * d, "EEE": d * (d + 1) // 2, "VEE": k - 1 + d * (d + 1) // 2,
             "EVE": 1 + k * (d - 1) + d * (d - 1) // 2, "VVE": k * d + d * (d - 1) // 2,
             "EEV": d + k * d * (d - 1) // 2, "VEV": k + d - 1 + k * d * (d - 1) // 2,
             "EVV": 1 + k * (d * (d + 1) // 2 - 1), "VVV": k * d * (d + 1) // 2}
    assert {model: n_covariance_parameters(model, k, d) for model in MODEL_NAMES} == table
    iris = n_covariance_parameters("VEV", 2, 4)
    assert iris == 17 and (2 - 1) + 2 * 4 + iris == 26


def test_parameter_counts_grow_as_the_letters_say():
    for model, (k, d) in itertools.product(MODEL_NAMES, [(1, 1), (2, 3), (4, 2)]):
        count = n_covariance_parameters(model, k, d)
        assert 1 <= count <= n_covariance_parameters("VVV", k, d)
        assert n_covariance_parameters(model, 1, d) <= d * (d + 1) // 2


# ---------------------------------------------------------------- decompose and checks

def test_decompose_reconstructs_spd_and_marks_singular_matrices():
    rng = np.random.default_rng(14)
    matrices = np.stack([a @ a.T for a in rng.normal(size=(5, 4, 4))])
    decomposition = decompose(matrices)
    np.testing.assert_allclose(reconstruct(decomposition), matrices, rtol=1e-10, atol=1e-12)
    assert np.all(np.diff(decomposition.shapes, axis=1) <= 0)
    np.testing.assert_allclose(decomposition.volumes ** 4, np.linalg.det(matrices), rtol=1e-8)
    singular = decompose(np.zeros((1, 3, 3)))
    assert singular.volumes[0] == 0.0 and np.all(singular.shapes == 1.0)


def test_bad_input_raises_value_errors_that_say_what_to_do():
    counts, scatter = random_statistics(np.random.default_rng(15), 2, 3)
    with pytest.raises(ValueError, match="one of EII"):
        m_step("vvv", counts, scatter)
    with pytest.raises(ValueError, match="counts must have shape"):
        m_step("VVV", counts[:1], scatter)
    with pytest.raises(ValueError, match="> 0"):
        m_step("VVV", np.array([1.0, 0.0]), scatter)
    with pytest.raises(ValueError, match="scatter must have shape"):
        m_step("VVV", counts, scatter[:, :2])
    with pytest.raises(ValueError, match="NaN"):
        m_step("VVV", counts, scatter * np.nan)
    with pytest.raises(ValueError, match="reg_covar"):
        m_step("VVV", counts, scatter, reg_covar=-1.0)
    with pytest.raises(ValueError, match="max_inner"):
        m_step("VEI", counts, scatter, max_inner=0)
    with pytest.raises(ValueError, match="previous has shapes"):
        m_step("VEI", counts, scatter, previous=decompose(np.stack([np.eye(3)] * 3)))
    with pytest.raises(ValueError, match="collapsed"):
        m_step("VEI", counts, scatter, previous=decompose(np.zeros((2, 3, 3))))
    with pytest.raises(ValueError, match="n_features"):
        n_covariance_parameters("VVV", 2, 0)


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_zero_scatter_gives_zero_or_the_regularisation(model):
    # All samples of every component coincide with its mean: without
    # regularisation every covariance is 0 (singular), with it reg * I.
    counts, zero = np.array([1.0, 3.0]), np.zeros((2, 3, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(m_step(model, counts, zero).covariances, 0.0)
        regularised = m_step(model, counts, zero, reg_covar=1e-6).covariances
    np.testing.assert_allclose(regularised, np.broadcast_to(1e-6 * np.eye(3), (2, 3, 3)),
                               rtol=1e-12, atol=1e-20)
