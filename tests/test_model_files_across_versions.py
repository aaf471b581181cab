"""Model files written by mixfit before the package was reorganised (issue 12) still load.

``tests/data/model_files_v0.1`` holds files saved by commit 4b85673 (the last one
before the move into kernels/, families/, engine/, io/, cli/), with the
predictions that code made on the stored rows. Loading them with today's code
must give the same estimator and the same answers.
"""

import json
import pathlib

import numpy as np
import pytest

from mixfit import GaussianMixture, KMeans, load

FOLDER = pathlib.Path(__file__).parent / "data" / "model_files_v0.1"
EXPECTED = json.loads((FOLDER / "expected.json").read_text())
X = np.array(EXPECTED["X"])


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical", "identity"])
def test_gaussian_mixture_files_from_before_the_move_load(covariance_type):
    model = load(FOLDER / f"gaussian_{covariance_type}.mixfit")
    assert type(model) is GaussianMixture and model.covariance_type == covariance_type
    expected = EXPECTED[f"gaussian_{covariance_type}"]
    np.testing.assert_allclose(model.predict_proba(X), expected["proba"], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(model.score_samples(X), expected["score_samples"], rtol=1e-12)


def test_kmeans_file_from_before_the_move_loads():
    model = load(FOLDER / "kmeans.mixfit")
    assert type(model) is KMeans
    np.testing.assert_array_equal(model.predict(X), EXPECTED["kmeans"]["labels"])
    np.testing.assert_allclose(model.transform(X), EXPECTED["kmeans"]["transform"], rtol=1e-12)
