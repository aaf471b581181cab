"""``mixfit info`` and ``mixfit predict`` on the model files of the family mixtures."""

import json

import numpy as np
import pytest

from mixfit import (
    BernoulliMixture,
    CategoricalMixture,
    MixtureModel,
    PoissonMixture,
    StudentMixture,
)
from mixfit.cli import commands as cli
from mixfit.io.model_files import save

RNG = np.random.default_rng(0)
BINARY = (RNG.random((120, 4)) < 0.3).astype(float)
COUNTS = RNG.poisson(3.0, (120, 3)).astype(float)
REAL = RNG.standard_t(3, (120, 2))
LEVELS = RNG.integers(0, 3, (120, 2))

CASES = {
    "bernoulli": (BernoulliMixture(2, random_state=0), BINARY, ["probabilities"]),
    "poisson": (PoissonMixture(2, random_state=0), COUNTS, ["rates"]),
    "student": (StudentMixture(2, random_state=0), REAL,
                ["means", "covariances", "degrees_of_freedom"]),
    "categorical": (CategoricalMixture(2, random_state=0), LEVELS, ["probabilities"]),
    "mixed": (MixtureModel(2, family=[("bernoulli", [0, 1]), ("poisson", [2, 3])],
                           random_state=0),
              np.column_stack([BINARY[:, :2], COUNTS[:, :2]]),
              ["group0_probabilities", "group1_rates"]),
}


def run_cli(capsys, *argv):
    code = cli.main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", sorted(CASES))
def test_info_lists_the_family_parameters(tmp_path, capsys, case):
    estimator, X, names = CASES[case]
    model = estimator.fit(X)
    path = tmp_path / "model.mixfit"
    save(model, path)
    code, out, err = run_cli(capsys, "info", path, "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["class"] == type(model).__name__
    assert list(document["parameters"]) == ["weights", *names]
    np.testing.assert_allclose(document["parameters"]["weights"], model.weights_)
    code, out, err = run_cli(capsys, "info", path)
    assert code == 0, err
    assert names[0] in out


@pytest.mark.parametrize("case", ["bernoulli", "poisson", "student", "mixed"])
def test_predict_with_a_family_model_equals_the_library(tmp_path, capsys, case):
    estimator, X, _ = CASES[case]
    model = estimator.fit(X)
    path, data = tmp_path / "model.mixfit", tmp_path / "data.csv"
    save(model, path)
    np.savetxt(data, X, delimiter=",")
    code, out, err = run_cli(capsys, "predict", path, data)
    assert code == 0, err
    labels = np.array([int(line) for line in out.splitlines()[1:]])
    np.testing.assert_array_equal(labels, model.predict(X))
