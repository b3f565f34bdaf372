"""numpy numbers are accepted wherever a Python number is."""

import numpy as np
import pandas as pd
import pytest
from conftest import TINY, series
from sktime.forecasting.model_selection import ForecastingGridSearchCV
from sktime.split import ExpandingWindowSplitter

from sktime_logsparse import LogSparseTransformerForecaster

NUMPY = {
    "context_length": np.int64(6),
    "prediction_length": np.int32(2),
    "d_model": np.int64(8),
    "n_heads": np.int16(2),
    "n_layers": np.uint8(1),
    "max_epochs": np.int64(1),
    "batch_size": np.int64(8),
    "windows_per_epoch": np.int64(16),
    "num_samples": np.int64(10),
    "random_state": np.int64(0),
    "learning_rate": np.float64(5e-4),
    "dropout": np.float32(0.1),
    "max_fit_seconds": np.float64(600.0),
    "lags": list(np.arange(2, 4)),
    "verbose": np.bool_(False),
    "model_kwargs": {"linear_ar": np.bool_(True)},
    "trainer_kwargs": {"gradient_clip": np.float64(1.0), "update_epochs": np.int64(1)},
}


def test_numpy_parameters_fit_and_forecast_as_python_ones(tmp_path):
    y = series(60)
    python = {
        k: (v.item() if isinstance(v, np.generic) else v) for k, v in NUMPY.items()
    }
    python["lags"] = [2, 3]
    python["model_kwargs"] = {"linear_ar": True}
    python["trainer_kwargs"] = {"gradient_clip": 1.0, "update_epochs": 1}
    a = LogSparseTransformerForecaster(**{**TINY, **NUMPY}).fit(y, fh=[1, 2])
    b = LogSparseTransformerForecaster(**{**TINY, **python}).fit(y, fh=[1, 2])
    pd.testing.assert_frame_equal(a.predict(), b.predict())
    loaded = LogSparseTransformerForecaster.load_model(a.save_model(tmp_path))
    pd.testing.assert_frame_equal(loaded.predict(), b.predict())


def test_grid_from_np_arange():
    y = series(72)
    grid = ForecastingGridSearchCV(
        LogSparseTransformerForecaster(**TINY),
        cv=ExpandingWindowSplitter(fh=[1, 2], initial_window=48, step_length=12),
        param_grid={"d_model": np.arange(8, 17, 8), "dropout": np.linspace(0, 0.2, 2)},
    )
    grid.fit(y)
    assert grid.best_params_["d_model"] in (8, 16)
    assert len(grid.predict(fh=[1, 2])) == 2


@pytest.mark.parametrize(
    "name, value, error",
    [
        ("d_model", np.float64(8.0), TypeError),
        ("d_model", np.int64(0), ValueError),
        ("learning_rate", np.float64(np.nan), ValueError),
        ("verbose", np.int64(1), TypeError),
    ],
)
def test_numpy_values_are_checked_as_python_ones(name, value, error):
    f = LogSparseTransformerForecaster(**{**TINY, name: value})
    with pytest.raises(error, match=name):
        f.fit(series(40), fh=[1])
