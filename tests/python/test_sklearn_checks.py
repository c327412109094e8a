"""scikit-learn's estimator checks, each run as its own test: those of check_estimator, and its
DataFrame checks, which scikit-learn runs in its own test suite rather than in check_estimator
(column names kept and compared, feature names out, set_output to pandas)."""
import warnings

import pandas  # noqa: F401  (the DataFrame checks would skip themselves without it)
import pytest
from sklearn.utils.estimator_checks import (check_dataframe_column_names_consistency,
                                            check_get_feature_names_out_error,
                                            check_global_output_transform_pandas,
                                            check_set_output_transform,
                                            check_set_output_transform_pandas,
                                            check_transformer_get_feature_names_out,
                                            check_transformer_get_feature_names_out_pandas,
                                            parametrize_with_checks)

import ae

FAST = dict(hidden=(8,), code=2, epochs=3, random_state=0, verbose=0)
ESTIMATORS = [ae.Autoencoder(**FAST), ae.Autoencoder("vae", **FAST), ae.AnomalyDetector(**FAST)]
TRANSFORMERS = [e for e in ESTIMATORS if hasattr(e, "transform")]

# Checks that do not apply, with the reason (none at present).
EXPECTED_FAILED = {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_sklearn_compatible(estimator, check):
    check(estimator)


DATAFRAME_CHECKS = [(e, check_dataframe_column_names_consistency) for e in ESTIMATORS] + [
    (e, check) for e in TRANSFORMERS
    for check in (check_transformer_get_feature_names_out,
                  check_transformer_get_feature_names_out_pandas, check_get_feature_names_out_error,
                  check_set_output_transform, check_set_output_transform_pandas,
                  check_global_output_transform_pandas)]


@pytest.mark.parametrize("estimator, check", DATAFRAME_CHECKS,
                         ids=[f"{e!r}-{c.__name__}" for e, c in DATAFRAME_CHECKS])
def test_sklearn_dataframe_checks(estimator, check):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check(type(estimator).__name__, estimator)
    if check is check_dataframe_column_names_consistency:  # as scikit-learn's own test of it
        assert not [w for w in caught if "was fitted without feature names" in str(w.message)]
