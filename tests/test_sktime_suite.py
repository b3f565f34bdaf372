"""sktime's own conformance suite over the forecaster, no check excluded."""

from sktime.utils.estimator_checks import check_estimator, parametrize_with_checks

from sktime_logsparse import LogSparseTransformerForecaster


@parametrize_with_checks(LogSparseTransformerForecaster)
def test_sktime_suite(obj, test_name):
    check_estimator(obj, tests_to_run=test_name, raise_exceptions=True)
