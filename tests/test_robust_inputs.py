"""Unusual but valid inputs that must simply work, and the time budget."""

import time

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY as SHARED
from sktime.datatypes import check_is_mtype
from sktime.utils._testing.hierarchical import _make_hierarchical

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse._early_stopping import evaluate_nll
from sktime_logsparse._series import SeriesTensors, make_windows, validation_count
from sktime_logsparse._training import train
from sktime_logsparse.nn import LogSparseConfig, LogSparseTransformer

# the shared tiny forecaster, a little larger for these tests
TINY = {
    **SHARED,
    "context_length": 8,
    "prediction_length": 3,
}
# enough training to get the level of a simple series right (a few seconds)
TRAINED = {
    **TINY,
    "max_epochs": 15,
    "batch_size": 16,
    "windows_per_epoch": 64,
    "learning_rate": 1e-2,
    "early_stopping_patience": None,
}


pytestmark = pytest.mark.usefixtures("one_thread")


def _frame(values, index=None, freq="D"):
    values = np.asarray(values)
    if index is None:
        index = pd.date_range("2021-01-01", periods=len(values), freq=freq)
    return pd.DataFrame({"y": values}, index=index)


def _wave(n=60, level=1.0):
    return level * (1 + 0.2 * np.sin(np.arange(n) / 3))


def _assert_forecast(pred, expected_index):
    assert pred.index.equals(expected_index)
    assert np.isfinite(pred.to_numpy()).all()


def _next(y, steps):
    return pd.date_range(y.index[-1], periods=steps + 1, freq=y.index.freq)[1:]


def test_constant_series():
    y = _frame(np.full(60, 3.0))
    f = LogSparseTransformerForecaster(**TRAINED).fit(y, fh=[1, 2, 3])
    pred = f.predict()
    _assert_forecast(pred, _next(y, 3))
    assert np.allclose(pred.to_numpy(), 3.0, rtol=0.3)
    q = f.predict_quantiles(alpha=[0.1, 0.9])
    assert np.isfinite(q.to_numpy()).all()


def test_all_zero_series():
    y = _frame(np.zeros(40))
    pred = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2]).predict()
    _assert_forecast(pred, _next(y, 2))


@pytest.mark.parametrize("level", [1e9, 1e-9])
def test_extreme_magnitudes_are_forecast_on_their_scale(level):
    y = _frame(_wave(level=level))
    f = LogSparseTransformerForecaster(**TRAINED).fit(y, fh=[1, 2, 3])
    pred = f.predict()
    _assert_forecast(pred, _next(y, 3))
    ratio = pred.to_numpy() / level
    assert ((ratio > 0.5) & (ratio < 2)).all(), ratio
    q = f.predict_quantiles(alpha=[0.1, 0.9]).to_numpy()
    width = (q[:, 1] - q[:, 0]) / level
    assert np.isfinite(q).all() and (width > 0).all() and (width < 2).all()


def test_tiny_values_match_unit_values_exactly():
    # small-valued series are rescaled by a power of ten, and nothing else
    unit = LogSparseTransformerForecaster(**TINY).fit(_frame(_wave(level=1)), fh=[1])
    tiny = LogSparseTransformerForecaster(**TINY).fit(_frame(_wave(level=0.01)), fh=[1])
    assert np.allclose(tiny.predict().to_numpy() * 100, unit.predict().to_numpy())


def test_panel_with_one_instance():
    y = pd.concat({"only": _frame(_wave(30))}, names=["instance", "time"])
    f = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2])
    pred = f.predict()
    assert check_is_mtype(pred, "pd-multiindex")
    expected = pd.MultiIndex.from_product(
        [["only"], _next(y.loc["only"].asfreq("D"), 2)], names=["instance", "time"]
    )
    assert pred.index.equals(expected)
    assert np.isfinite(pred.to_numpy()).all()
    q = f.predict_interval(coverage=0.8)
    assert q.index.equals(expected)


def test_hierarchical_unequal_lengths_each_instance_forecast_from_its_end():
    y = _make_hierarchical(
        hierarchy_levels=(2, 2), min_timepoints=5, max_timepoints=25, random_state=3
    )
    f = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2])
    pred = f.predict()
    assert check_is_mtype(pred, "pd_multiindex_hier")
    assert np.isfinite(pred.to_numpy()).all()
    for key, part in y.groupby(level=[0, 1]):
        times = part.index.get_level_values(-1)
        got = pred.xs(key, level=[0, 1]).index
        assert list(got) == [times[-1] + pd.Timedelta(days=k) for k in (1, 2)]


def test_integer_valued_y():
    y = _frame(np.arange(40) % 7)
    assert y["y"].dtype.kind == "i"
    pred = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2]).predict()
    _assert_forecast(pred, _next(y, 2))


def test_integer_counts_with_negative_binomial():
    y = _frame((np.arange(40) % 5) * 2)
    f = LogSparseTransformerForecaster(**{**TINY, "likelihood": "negative_binomial"})
    pred = f.fit(y, fh=[1, 2]).predict()
    _assert_forecast(pred, _next(y, 2))
    assert (pred.to_numpy() >= 0).all()


def test_range_index_has_no_calendar_features():
    y = pd.DataFrame({"y": _wave(40)})
    assert isinstance(y.index, pd.RangeIndex)
    f = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2, 3])
    assert f.time_axis_.kind == "integer" and f.time_axis_.n_calendar == 0
    pred = f.predict()
    assert list(pred.index) == [40, 41, 42]
    assert np.isfinite(pred.to_numpy()).all()


def test_period_index():
    index = pd.period_range("2000-01", periods=40, freq="M")
    y = _frame(_wave(40), index=index)
    pred = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2]).predict()
    assert list(pred.index) == list(pd.period_range("2003-05", periods=2, freq="M"))


def test_series_shorter_than_context_is_padded():
    y = _frame(_wave(5))
    f = LogSparseTransformerForecaster(**{**TINY, "context_length": 24}).fit(
        y, fh=[1, 2, 3]
    )
    _assert_forecast(f.predict(), _next(y, 3))


def test_panel_mixing_long_and_short_series():
    y = pd.concat(
        {"long": _frame(_wave(60)), "short": _frame(_wave(3))},
        names=["instance", "time"],
    )
    f = LogSparseTransformerForecaster(**{**TINY, "context_length": 24})
    pred = f.fit(y, fh=[1, 2]).predict()
    assert np.isfinite(pred.to_numpy()).all()
    assert len(pred.loc["short"]) == 2


def test_two_observed_values_are_enough():
    y = _frame([np.nan, 1.0, np.nan, 2.0])
    pred = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1]).predict()
    _assert_forecast(pred, _next(y, 1))


def test_missing_month_falls_back_to_the_calendar_frequency():
    # no freq can be inferred (a month is missing): the most common step is
    # recognised as month starts, and the gap is a missing value
    index = pd.date_range("2000-01-01", periods=36, freq="MS").delete(10)
    y = _frame(_wave(35), index=pd.DatetimeIndex(list(index)))
    assert y.index.freq is None
    f = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2])
    assert f.time_axis_.freq == pd.offsets.MonthBegin()
    assert list(f.predict().index) == list(
        pd.date_range("2003-01-01", periods=2, freq="MS")
    )


def test_trailing_missing_values():
    y = _frame(_wave(40))
    y.iloc[-5:] = np.nan
    pred = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2]).predict()
    _assert_forecast(pred, _next(y, 2))


def test_max_fit_seconds_stops_training_and_predicts():
    y = _frame(_wave(200))
    f = LogSparseTransformerForecaster(
        **{**TINY, "max_epochs": 100_000, "max_fit_seconds": 0.5}
    )
    start = time.perf_counter()
    f.fit(y, fh=[1, 2])
    assert time.perf_counter() - start < 30
    assert 1 <= len(f.training_history_) < 100_000
    _assert_forecast(f.predict(), _next(y, 2))


def test_time_budget_keeps_the_best_weights(make_layout, make_config):
    rng = np.random.default_rng(0)
    values = [rng.normal(10, 1, 200).astype(np.float32)]
    covs = [np.zeros((200, 1), np.float32)]
    data = SeriesTensors.from_arrays(values, covs, np.arange(1), pad=9)
    torch.manual_seed(0)
    net = LogSparseTransformer(
        LogSparseConfig(n_inputs=3, d_model=8, n_heads=2, n_layers=1, max_length=8)
    )
    layout = make_layout(5, 3, n_cov=1)
    cfg = make_config(
        validation_metric="nll",
        max_epochs=100_000,
        batch_size=8,
        windows_per_epoch=8,
        learning_rate=0.01,
        early_stopping_patience=10**6,
        max_fit_seconds=0.5,
    )
    result = train(net, data, layout, cfg, torch.Generator().manual_seed(0))
    assert result.stop_reason == "max_fit_seconds"
    assert result.best_loss == min(h["val_loss"] for h in result.history)
    # a single series holds out several validation windows
    n_val = validation_count(data.lengths, layout.prediction_length)
    _, val = make_windows(data, layout, n_val, "uniform")
    score = evaluate_nll(net, data, val, layout, cfg)
    assert score == pytest.approx(result.best_loss, rel=1e-6)


def test_instance_of_another_frequency_warns_and_works():
    hourly = _frame(_wave(72), freq="h")
    daily = _frame(_wave(3), freq="D")
    y = pd.concat({"hourly": hourly, "daily": daily}, names=["instance", "time"])
    f = LogSparseTransformerForecaster(**TINY)
    with pytest.warns(UserWarning, match="treated as missing values"):
        f.fit(y, fh=[1])
    pred = f.predict()
    assert np.isfinite(pred.to_numpy()).all()
    # on the hourly grid: the daily instance is forecast one hour after its end
    end = daily.index[-1]
    assert list(pred.loc["daily"].index) == [end + pd.Timedelta(hours=1)]


def test_two_point_month_start_series_forecast_month_starts():
    # too short for pd.infer_freq: 2020-02-01 -> 2020-03-01 is a month start
    # step, not 29 (or, from another series, 31) days
    index = pd.MultiIndex.from_tuples(
        [
            ("s0", pd.Timestamp("2020-01-01")),
            ("s0", pd.Timestamp("2020-02-01")),
            ("s1", pd.Timestamp("2020-02-01")),
            ("s1", pd.Timestamp("2020-03-01")),
        ],
        names=["instance", "time"],
    )
    y = pd.DataFrame({"y": [0.1, -0.1, -0.5, 0.4]}, index=index)
    f = LogSparseTransformerForecaster(**SHARED).fit(y, fh=[1])
    times = f.predict().index.get_level_values(-1)
    assert list(times) == [pd.Timestamp("2020-03-01"), pd.Timestamp("2020-04-01")]
