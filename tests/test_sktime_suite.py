"""sktime's own conformance suite over the forecaster, no check excluded."""

import pytest
from sktime.utils.estimator_checks import check_estimator, parametrize_with_checks

from sktime_logsparse import LogSparseTransformerForecaster


# sktime 1.2's update_predict joins the forecasts of its moving cutoffs with
# pd.concat(axis=1) over DatetimeIndexes, which pandas 3 flags (sktime's code,
# forecasts of any forecaster); nothing else is silenced here
@pytest.mark.filterwarnings(
    "ignore:Sorting by default when concatenating all DatetimeIndex"
    ":pandas.errors.Pandas4Warning:sktime.forecasting.base._base"
)
@parametrize_with_checks(LogSparseTransformerForecaster)
def test_sktime_suite(obj, test_name):
    check_estimator(obj, tests_to_run=test_name, raise_exceptions=True)
