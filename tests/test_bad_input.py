"""Bad input fails early with a clear ValueError/TypeError naming the problem.

Every case asserts the exception type and a fragment of the message. Where
sktime's own input checks reject the data before the forecaster sees it, the
fragment is sktime's (it is clear enough: it names the problem).
"""

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY

from sktime_logsparse import LogSparseTransformerForecaster

pytestmark = pytest.mark.usefixtures("one_thread")


def _series(n=30, start="2020-01-01", freq="h", name="y"):
    index = pd.date_range(start, periods=n, freq=freq)
    return pd.DataFrame({name: 5 + np.sin(np.arange(n) / 3)}, index=index)


def _panel(lengths=(30, 20)):
    frames = {f"s{i}": _series(n) for i, n in enumerate(lengths)}
    return pd.concat(frames, names=["instance", "time"])


def _x(index, name="x"):
    return pd.DataFrame({name: np.arange(len(index), dtype=float)}, index=index)


def _future(y, steps=2):
    return pd.date_range(y.index[-1], periods=steps + 1, freq="h")[1:]


def _forecaster(**params):
    return LogSparseTransformerForecaster(**{**TINY, **params})


@pytest.fixture(scope="module")
def fitted_with_x():
    """A forecaster fitted with X (not modified by the cases: they deep-copy)."""
    y = _series()
    return _forecaster().fit(y, X=_x(y.index), fh=[1, 2]), y


# ------------------------------------------------------------ data at fit


def _with(y, row, value):
    y = y.copy()
    y.iloc[row, 0] = value
    return y


def _fit_inf_y():
    _forecaster().fit(_with(_series(), 5, np.inf), fh=[1])


def _fit_neg_inf_in_panel():
    _forecaster().fit(_with(_panel(), 40, -np.inf), fh=[1])


def _fit_inf_x():
    y = _series()
    _forecaster().fit(y, X=_with(_x(y.index), 3, np.inf), fh=[1])


def _fit_string_y():
    y = _series().astype(object)
    y.iloc[:, 0] = "a"
    _forecaster().fit(y, fh=[1])


def _fit_categorical_x():
    y = _series()
    x = pd.DataFrame({"x": pd.Categorical(["a", "b"] * 15)}, index=y.index)
    _forecaster().fit(y, X=x, fh=[1])


def _fit_complex_x():
    y = _series()
    x = pd.DataFrame({"x": np.arange(30) * (1 + 1j)}, index=y.index)
    _forecaster().fit(y, X=x, fh=[1])


def _fit_x_missing_an_instance():
    y = _panel()
    _forecaster().fit(y, X=_x(y.index).loc[["s0"]], fh=[1])


def _fit_duplicate_time_points():
    y = _series()
    _forecaster().fit(pd.concat([y.iloc[:10], y.iloc[9:]]), fh=[1])


def _fit_duplicate_time_points_in_instance():
    y = _panel()
    dup = pd.concat([y.loc[["s0"]], y.loc[["s1"]].iloc[[0, 1, 1, 2, 3, 4]]])
    _forecaster().fit(dup, fh=[1])


def _fit_duplicate_x_time_points():
    y = _series()
    x = _x(y.index)
    _forecaster().fit(y, X=pd.concat([x.iloc[:10], x.iloc[9:]]), fh=[1])


def _fit_unsorted():
    _forecaster().fit(_series().iloc[::-1], fh=[1])


def _fit_unsorted_instance():
    y = _panel()
    _forecaster().fit(pd.concat([y.loc[["s0"]], y.loc[["s1"]].iloc[::-1]]), fh=[1])


def _fit_all_nan():
    _forecaster().fit(_series() * np.nan, fh=[1])


def _fit_all_nan_instance():
    y = _panel()
    y.loc["s1"] = np.nan
    _forecaster().fit(y, fh=[1])


def _fit_one_point():
    _forecaster().fit(_series(1), fh=[1])


def _fit_one_observed_value():
    y = _series(10) * np.nan
    y.iloc[4, 0] = 3.0
    _forecaster().fit(y, fh=[1])


def _fit_off_grid():
    index = pd.DatetimeIndex(
        ["2020-01-01 00:00", "2020-01-01 01:00", "2020-01-01 02:30", "2020-01-01 04:00"]
    )
    _forecaster().fit(pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0]}, index=index), fh=[1])


def _fit_negative_counts():
    y = _series().round() - 6
    _forecaster(likelihood="negative_binomial").fit(y, fh=[1])


def _fit_fractional_counts():
    _forecaster(likelihood="negative_binomial").fit(_series(), fh=[1])


def _pretrain_inf():
    _forecaster().pretrain(_with(_panel(), 2, np.inf))


def _fit_after_pretrain_other_x_columns():
    y = _panel()
    f = _forecaster()
    f.pretrain(y, X=_x(y.index))
    target = _series(12)
    f.fit(target, X=_x(target.index, name="z"), fh=[1])


def _fit_after_pretrain_without_x():
    y = _panel()
    f = _forecaster()
    f.pretrain(y, X=_x(y.index))
    f.fit(_series(12), fh=[1])


# ---------------------------------------------------- data at predict/update


def _predict_without_x(fitted):
    f, _ = fitted
    f.predict()


def _predict_x_other_columns(fitted):
    f, y = fitted
    f.predict(X=_x(_future(y), name="z"))


def _predict_x_not_covering_fh(fitted):
    f, y = fitted
    f.predict(X=_x(_future(y, 1)))


def _predict_x_nan_in_horizon(fitted):
    f, y = fitted
    f.predict(X=_with(_x(_future(y)), 1, np.nan))


def _predict_x_inf(fitted):
    f, y = fitted
    f.predict(X=_with(_x(_future(y)), 0, np.inf))


def _predict_x_strings(fitted):
    f, y = fitted
    f.predict(X=pd.DataFrame({"x": ["1", "2"]}, index=_future(y)))


def _predict_in_sample(fitted):
    f, _ = fitted
    f.predict(fh=[-1, 0, 1], X=_x(_future(_series(40))))


def _update_without_x(fitted):
    f, y = fitted
    new = pd.DataFrame({"y": [5.0, 5.1]}, index=_future(y))
    copy.deepcopy(f).update(new, update_params=False)


def _update_other_columns(fitted):
    f, y = fitted
    new = pd.DataFrame({"z": [5.0, 5.1]}, index=_future(y))
    copy.deepcopy(f).update(new, X=_x(_future(y)), update_params=False)


def _update_inf(fitted):
    f, y = fitted
    new = pd.DataFrame({"y": [5.0, np.inf]}, index=_future(y))
    copy.deepcopy(f).update(new, X=_x(_future(y)), update_params=False)


DATA_CASES = {
    "inf_in_y": (_fit_inf_y, ValueError, "y passed to fit has infinite values"),
    "neg_inf_in_panel": (_fit_neg_inf_in_panel, ValueError, "infinite values"),
    "inf_in_x": (_fit_inf_x, ValueError, "X passed to fit has infinite values"),
    "string_y": (_fit_string_y, TypeError, "categorical"),
    "categorical_x": (_fit_categorical_x, TypeError, "categorical"),
    "complex_x": (_fit_complex_x, TypeError, "Found dtype: complex128"),
    "x_missing_an_instance": (
        _fit_x_missing_an_instance,
        ValueError,
        "X passed to fit must have a row for every time point of y",
    ),
    "duplicate_time_points": (
        _fit_duplicate_time_points,
        ValueError,
        "y passed to fit has duplicate time points",
    ),
    "duplicate_time_points_in_instance": (
        _fit_duplicate_time_points_in_instance,
        ValueError,
        "duplicate time points within an instance",
    ),
    "duplicate_x_time_points": (
        _fit_duplicate_x_time_points,
        ValueError,
        "duplicate",
    ),
    "unsorted_time_index": (_fit_unsorted, ValueError, "y passed to fit is not sorted"),
    "unsorted_instance": (
        _fit_unsorted_instance,
        ValueError,
        "y passed to fit is not sorted within the instance 's1'",
    ),
    "all_nan_y": (_fit_all_nan, ValueError, "no observed values in column 'y'"),
    "all_nan_instance": (
        _fit_all_nan_instance,
        ValueError,
        "no observed values in column 'y' of instance",
    ),
    "one_time_point": (_fit_one_point, ValueError, "too short to train on"),
    "one_observed_value": (
        _fit_one_observed_value,
        ValueError,
        "2 or more observed values",
    ),
    "time_points_off_any_grid": (
        _fit_off_grid,
        ValueError,
        "not on a regular grid of the frequency",
    ),
    "negative_counts": (
        _fit_negative_counts,
        ValueError,
        "needs non-negative integer counts",
    ),
    "fractional_counts": (
        _fit_fractional_counts,
        ValueError,
        "needs non-negative integer counts",
    ),
    "pretrain_inf": (_pretrain_inf, ValueError, "y passed to pretrain has infinite"),
    "fit_after_pretrain_other_x_columns": (
        _fit_after_pretrain_other_x_columns,
        ValueError,
        "X passed to fit lacks the columns ['x']",
    ),
    "fit_after_pretrain_without_x": (
        _fit_after_pretrain_without_x,
        ValueError,
        "X must be given to fit exactly when it was given to pretrain",
    ),
}

FITTED_CASES = {
    "predict_without_x": (_predict_without_x, ValueError, "X is required by predict"),
    "predict_x_other_columns": (
        _predict_x_other_columns,
        ValueError,
        "X passed to predict lacks the columns ['x']",
    ),
    "predict_x_not_covering_fh": (
        _predict_x_not_covering_fh,
        ValueError,
        "does not cover the forecasting horizon",
    ),
    "predict_x_nan_in_horizon": (
        _predict_x_nan_in_horizon,
        ValueError,
        "X passed to predict has missing values (NaN)",
    ),
    "predict_x_inf": (_predict_x_inf, ValueError, "X passed to predict has infinite"),
    "predict_x_strings": (_predict_x_strings, TypeError, "categorical features"),
    "predict_in_sample": (_predict_in_sample, NotImplementedError, "in-sample"),
    "update_without_x": (_update_without_x, ValueError, "X is required by update"),
    "update_other_columns": (
        _update_other_columns,
        ValueError,
        "y passed to update must have the columns",
    ),
    "update_inf": (_update_inf, ValueError, "y passed to update has infinite values"),
}


@pytest.mark.parametrize("case", list(DATA_CASES), ids=list(DATA_CASES))
def test_bad_data_raises_clear_error(case):
    call, error, fragment = DATA_CASES[case]
    with pytest.raises(error) as info:
        call()
    assert fragment in str(info.value)


@pytest.mark.parametrize("case", list(FITTED_CASES), ids=list(FITTED_CASES))
def test_bad_data_for_fitted_forecaster_raises_clear_error(case, fitted_with_x):
    call, error, fragment = FITTED_CASES[case]
    with pytest.raises(error) as info:
        call(fitted_with_x)
    assert fragment in str(info.value)


# ----------------------------------------------------------- parameters

PARAM_CASES = {
    "d_model_zero": ({"d_model": 0}, ValueError, "d_model must be an int >= 1"),
    "d_model_float": ({"d_model": 8.0}, TypeError, "d_model must be an int >= 1"),
    "n_heads_zero": ({"n_heads": 0}, ValueError, "n_heads must be an int >= 1"),
    "n_layers_zero": ({"n_layers": 0}, ValueError, "n_layers must be an int >= 1"),
    "not_divisible": ({"d_model": 10, "n_heads": 4}, ValueError, "divisible"),
    "kernel_size_zero": ({"kernel_size": 0}, ValueError, "kernel_size must be"),
    "num_samples_zero": ({"num_samples": 0}, ValueError, "num_samples must be"),
    "batch_size_negative": ({"batch_size": -4}, ValueError, "batch_size must be"),
    "context_length_zero": ({"context_length": 0}, ValueError, "context_length"),
    "prediction_length_zero": (
        {"prediction_length": 0},
        ValueError,
        "prediction_length must be",
    ),
    "max_epochs_negative": ({"max_epochs": -1}, ValueError, "max_epochs must be"),
    "fine_tune_epochs_negative": (
        {"fine_tune_epochs": -1},
        ValueError,
        "fine_tune_epochs must be",
    ),
    "update_epochs_float": (
        {"trainer_kwargs": {"update_epochs": 1.5}},
        TypeError,
        "trainer_kwargs['update_epochs'] must be",
    ),
    "windows_per_epoch_zero": ({"windows_per_epoch": 0}, ValueError, "windows_per"),
    "patience_negative": (
        {"early_stopping_patience": -1},
        ValueError,
        "early_stopping_patience must be",
    ),
    "local_window_negative": (
        {"model_kwargs": {"local_window": -1}},
        ValueError,
        "model_kwargs['local_window'] must be",
    ),
    "sub_len_zero": (
        {"model_kwargs": {"sub_len": 0}},
        ValueError,
        "model_kwargs['sub_len'] must be",
    ),
    "unknown_attention": ({"attention": "dense"}, ValueError, "attention must be"),
    "unknown_likelihood": ({"likelihood": "poisson"}, ValueError, "likelihood must"),
    "unknown_time_features": (
        {"model_kwargs": {"time_features": "all"}},
        ValueError,
        "model_kwargs['time_features'] must be",
    ),
    "unknown_scaling": ({"scaling": "std"}, ValueError, "scaling must be"),
    "unknown_window_sampling": (
        {"trainer_kwargs": {"window_sampling": "x"}},
        ValueError,
        "trainer_kwargs['window_sampling'] must be",
    ),
    "unknown_lr_schedule": (
        {"trainer_kwargs": {"lr_schedule": "step"}},
        ValueError,
        "trainer_kwargs['lr_schedule'] must",
    ),
    "precision_fp16": (
        {"trainer_kwargs": {"precision": "16-mixed"}},
        ValueError,
        "trainer_kwargs['precision'] must be one of ('32', 'bf16-mixed')",
    ),
    "trainer_kwargs_unknown_key": (
        {"trainer_kwargs": {"epochs": 3}},
        ValueError,
        "trainer_kwargs has the unknown keys ['epochs']",
    ),
    "model_kwargs_not_a_dict": (
        {"model_kwargs": [("linear_ar", False)]},
        TypeError,
        "model_kwargs must be a dict or None",
    ),
    "lags_zero": ({"lags": [0, 24]}, ValueError, "lags must be"),
    "lags_string": ({"lags": "season"}, ValueError, "lags must be"),
    "lags_array": ({"lags": np.array([24])}, ValueError, "lags must be"),
    "attention_list": ({"attention": ["full"]}, ValueError, "attention must be"),
    "dropout_one": ({"dropout": 1.0}, ValueError, "dropout must be in"),
    "dropout_string": ({"dropout": "0.1"}, TypeError, "dropout must be a number"),
    "learning_rate_zero": ({"learning_rate": 0.0}, ValueError, "learning_rate"),
    "learning_rate_nan": ({"learning_rate": float("nan")}, ValueError, "learning_"),
    "weight_decay_negative": (
        {"trainer_kwargs": {"weight_decay": -0.1}},
        ValueError,
        "trainer_kwargs['weight_decay'] must be",
    ),
    "ema_decay_one": (
        {"trainer_kwargs": {"ema_decay": 1.0}},
        ValueError,
        "trainer_kwargs['ema_decay'] must be in [0.0, 1.0)",
    ),
    "ema_decay_string": (
        {"trainer_kwargs": {"ema_decay": "0.99"}},
        TypeError,
        "trainer_kwargs['ema_decay'] must be a number",
    ),
    "gradient_clip_zero": (
        {"trainer_kwargs": {"gradient_clip": 0.0}},
        ValueError,
        "trainer_kwargs['gradient_clip'] must be",
    ),
    "max_fit_seconds_zero": ({"max_fit_seconds": 0}, ValueError, "max_fit_seconds"),
    "random_state_float": ({"random_state": 1.5}, TypeError, "random_state must"),
    "random_state_generator": (
        {"random_state": np.random.default_rng(0)},
        TypeError,
        "random_state must be a non-negative int",
    ),
    "random_state_negative": ({"random_state": -1}, ValueError, "random_state"),
    "device_unknown": ({"device": "tpu"}, ValueError, "device must be"),
    "device_type": ({"device": 0.5}, TypeError, "device must be"),
    "verbose_string": ({"verbose": "yes"}, TypeError, "verbose must be a bool"),
    "linear_ar_string": (
        {"model_kwargs": {"linear_ar": "yes"}},
        TypeError,
        "model_kwargs['linear_ar'] must be a bool",
    ),
    "series_embedding_int": (
        {"model_kwargs": {"series_embedding": 1}},
        TypeError,
        "model_kwargs['series_embedding'] must be a bool",
    ),
    "early_stopping_metric_unknown": (
        {"trainer_kwargs": {"early_stopping_metric": "mae"}},
        ValueError,
        "trainer_kwargs['early_stopping_metric'] must be one of",
    ),
}
if not torch.cuda.is_available():
    PARAM_CASES["device_cuda_unavailable"] = (
        {"device": "cuda"},
        ValueError,
        "device 'cuda' is not available",
    )


@pytest.mark.parametrize("case", list(PARAM_CASES), ids=list(PARAM_CASES))
def test_invalid_parameter_raises_at_fit(case):
    params, error, fragment = PARAM_CASES[case]
    f = _forecaster(**params)  # construction never fails (sktime's contract)
    with pytest.raises(error) as info:
        f.fit(_series(), fh=[1])
    assert fragment in str(info.value)
    assert not f.is_fitted


def test_number_of_distinct_cases():
    assert len(DATA_CASES) + len(FITTED_CASES) + len(PARAM_CASES) >= 20
