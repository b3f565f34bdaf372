"""Data of any finite magnitude fits and forecasts; non-finite data is refused."""

import numpy as np
import pandas as pd
import pytest
from conftest import TINY, series

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse._panel import magnitudes


@pytest.fixture(scope="module")
def unit_forecasts():
    """Forecasts of the series and of its negative, at unit scale."""
    out = {}
    for sign in (1, -1):
        f = LogSparseTransformerForecaster(**TINY)
        f.fit(series(60, scale=sign), fh=[1, 2])
        out[sign] = f.predict(), f.predict_quantiles(alpha=[0.1, 0.9])
    return out


@pytest.mark.parametrize("scale", [1e-300, 1e-9, 1e20, 1e37, 1e100, 1e300, -1e300])
def test_forecasts_scale_with_the_data(scale, unit_forecasts):
    # the series is rescaled by a power of ten in float64 before float32: the
    # network sees the same numbers up to rounding, so the forecasts are the
    # unit-scale forecasts (of the series of the same sign) times the scale
    sign = 1 if scale > 0 else -1
    pred, quantiles = unit_forecasts[sign]
    scale = abs(scale)
    y = series(60, scale=sign * scale)
    f = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2])
    scaled = f.predict()
    assert np.isfinite(scaled.to_numpy()).all()
    np.testing.assert_allclose(scaled.to_numpy() / scale, pred.to_numpy(), rtol=1e-4)
    q = f.predict_quantiles(alpha=[0.1, 0.9]).to_numpy() / scale
    np.testing.assert_allclose(q, quantiles.to_numpy(), rtol=1e-4)


def test_magnitude_factors():
    values = np.array(
        [[1e300, 5e-7, 3.0, np.nan, 0.0], [3e300, 5e-7, 4.0, np.nan, 0.0]]
    )
    factors = magnitudes(values, integer_data=False)
    np.testing.assert_array_equal(factors, [1e300, 1e-7, 1.0, 1.0, 1.0])
    assert (magnitudes(values, integer_data=True) == 1).all()


def test_near_the_float64_limit_there_is_no_overflow():
    values = np.full((100, 1), 1.7e308)
    assert magnitudes(values, integer_data=False)[0] == 1e308


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_non_finite_y_names_the_series_and_time(bad):
    y = series(40)
    y.iloc[17, 0] = bad
    with pytest.raises(ValueError, match=r"infinite values.*column 'y' at Timestamp"):
        LogSparseTransformerForecaster(**TINY).fit(y, fh=[1])


def test_non_finite_y_in_a_panel_names_the_instance():
    y = pd.concat({"a": series(30), "b": series(30, seed=1)})
    y.iloc[40, 0] = np.inf
    with pytest.raises(ValueError, match=r"column 'y' at \('b', Timestamp"):
        LogSparseTransformerForecaster(**TINY).fit(y, fh=[1])
