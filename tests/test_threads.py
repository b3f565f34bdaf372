"""Concurrent ``predict`` calls on one fitted forecaster are correct."""

from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
from conftest import series

from sktime_logsparse import LogSparseTransformerForecaster

HORIZONS = [[1], [1, 2], [1, 2, 3, 4, 5], [2, 4, 6, 8], list(range(1, 13))]


@pytest.fixture(scope="module")
def fitted():
    from conftest import TINY

    f = LogSparseTransformerForecaster(**TINY)
    return f.fit(series(80), fh=[1, 2])


def _call(f, fh, kind):
    if kind == "predict":
        return f.predict(fh=fh)
    return f.predict_quantiles(fh=fh, alpha=[0.1, 0.9])


def test_concurrent_predict_with_different_horizons(fitted):
    calls = [(fh, kind) for fh in HORIZONS for kind in ("predict", "quantiles")]
    # the answers one thread gets, one call at a time (each twice: the
    # cache of the last horizon must not leak into another horizon's call)
    expected = {}
    for fh, kind in calls + calls:
        expected[str(fh), kind] = _call(fitted, fh, kind)
    jobs = calls * 12  # 120 calls, the horizons interleaved
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda c: _call(fitted, *c), jobs))
    for (fh, kind), result in zip(jobs, results, strict=True):
        assert len(result) == len(fh)
        pd.testing.assert_frame_equal(result, expected[str(fh), kind])


def test_concurrent_predict_on_a_loaded_forecaster(fitted, tmp_path):
    loaded = LogSparseTransformerForecaster.load_model(fitted.save_model(tmp_path))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda fh: loaded.predict(fh=fh), HORIZONS * 4))
    for fh, result in zip(HORIZONS * 4, results, strict=True):
        pd.testing.assert_frame_equal(result, fitted.predict(fh=fh))
