"""scikit-learn's estimator checks, each run as its own test."""
from sklearn.utils.estimator_checks import parametrize_with_checks

import ae

FAST = dict(hidden=(8,), code=2, epochs=3, random_state=0, verbose=0)

# Checks that do not apply, with the reason (none at present).
EXPECTED_FAILED = {}


@parametrize_with_checks([ae.Autoencoder(**FAST), ae.Autoencoder("vae", **FAST),
                          ae.AnomalyDetector(**FAST)],
                         expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_sklearn_compatible(estimator, check):
    check(estimator)
