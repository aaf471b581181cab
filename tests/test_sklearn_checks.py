"""scikit-learn's own estimator checks, run on mixfit's estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from mixfit import GaussianMixture


@parametrize_with_checks(
    [
        GaussianMixture(),
        GaussianMixture(n_components=2, covariance_type="diag", n_init=2, random_state=0),
        GaussianMixture(n_components=2, covariance_type="identity", init_params="lecture",
                        random_state=0),
    ]
)
def test_sklearn_compatible_gaussian_mixture(estimator, check):
    check(estimator)
