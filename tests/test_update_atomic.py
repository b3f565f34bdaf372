"""A failed ``update`` or refit leaves the forecaster exactly as it was."""

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import series

import sktime_logsparse.forecaster as adapter
from sktime_logsparse import LogSparseTransformerForecaster


@pytest.fixture
def fitted(tiny):
    y = series(80)
    f = LogSparseTransformerForecaster(**tiny).fit(y.iloc[:70], fh=[1, 2])
    return f, y


def _state(f):
    """What a failure must not change: cutoff, data, weights, forecasts."""
    weights = {k: v.clone() for k, v in f.model_.network.state_dict().items()}
    lengths = [len(inst.index) for inst in f._panel.instances]
    return f.cutoff, lengths, weights, f.predict(), f.predict_quantiles(alpha=[0.1])


def _assert_same(f, before):
    cutoff, lengths, weights, pred, quantiles = before
    assert f.cutoff.equals(cutoff)
    assert [len(inst.index) for inst in f._panel.instances] == lengths
    for k, v in f.model_.network.state_dict().items():
        assert torch.equal(v, weights[k]), k
    pd.testing.assert_frame_equal(f.predict(), pred)
    pd.testing.assert_frame_equal(f.predict_quantiles(alpha=[0.1]), quantiles)


def _failing_fit_model(exc):
    """``fit_model`` that trains (changing the weights), then raises ``exc``."""
    real = adapter.fit_model

    def fit_model(model, *args, **kwargs):
        real(model, *args, **kwargs)
        with torch.no_grad():
            for p in model.network.parameters():
                p.add_(1.0)
        raise exc

    return fit_model


def test_update_with_infinite_value_restores_the_cutoff(fitted):
    f, y = fitted
    before = _state(f)
    new = y.iloc[70:].copy()
    new.iloc[3, 0] = np.inf
    with pytest.raises(ValueError, match="infinite values.*'y'"):
        f.update(new)
    _assert_same(f, before)


def test_update_failing_in_training_restores_weights_data_and_cutoff(
    fitted, monkeypatch
):
    f, y = fitted
    before = _state(f)
    monkeypatch.setattr(adapter, "fit_model", _failing_fit_model(RuntimeError("x")))
    with pytest.raises(RuntimeError, match="^x$"):
        f.update(y.iloc[70:], update_params=True)
    _assert_same(f, before)


def test_update_interrupted_restores_and_reraises(fitted, monkeypatch):
    f, y = fitted
    before = _state(f)
    monkeypatch.setattr(adapter, "fit_model", _failing_fit_model(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        f.update(y.iloc[70:], update_params=True)
    _assert_same(f, before)


@pytest.mark.parametrize("part", ["old", "same"])
def test_update_with_data_not_after_the_cutoff_is_refused(fitted, part):
    f, y = fitted
    before = _state(f)
    new = y.iloc[60:65] if part == "old" else y.iloc[60:70]
    with pytest.raises(ValueError, match="no time point after the cutoff"):
        f.update(new, update_params=False)
    _assert_same(f, before)


def test_update_after_a_failed_update_works(fitted):
    f, y = fitted
    bad = y.iloc[70:].copy()
    bad.iloc[0, 0] = -np.inf
    with pytest.raises(ValueError):
        f.update(bad)
    f.update(y.iloc[70:], update_params=False)
    assert f.cutoff[0] == y.index[-1]
    assert f.predict().index[0] == y.index[-1] + pd.Timedelta("1h")


def test_failed_refit_on_bad_data_keeps_the_fitted_model(fitted):
    f, y = fitted
    before = _state(f)
    bad = y.copy()
    bad.iloc[5, 0] = np.inf
    with pytest.raises(ValueError, match="infinite values"):
        f.fit(bad, fh=[1, 2])
    assert f.is_fitted
    _assert_same(f, before)


def test_failed_refit_in_training_keeps_the_fitted_model(fitted, monkeypatch):
    f, y = fitted
    before = _state(f)
    monkeypatch.setattr(adapter, "fit_model", _failing_fit_model(RuntimeError("x")))
    with pytest.raises(RuntimeError, match="^x$"):
        f.fit(y, fh=[1, 2])
    assert f.is_fitted
    _assert_same(f, before)


def test_failed_first_fit_leaves_the_forecaster_unfitted(tiny):
    bad = series(40)
    bad.iloc[5, 0] = np.inf
    f = LogSparseTransformerForecaster(**tiny)
    with pytest.raises(ValueError, match="infinite values"):
        f.fit(bad, fh=[1])
    assert not f.is_fitted
    f.fit(series(40), fh=[1])  # and it can still be fitted
    assert f.is_fitted


@pytest.mark.parametrize("method", ["fit", "update"])
def test_unsorted_index_gets_a_message_naming_it(fitted, method):
    f, y = fitted
    new = y.iloc[70:].iloc[::-1] if method == "update" else y.iloc[::-1]
    call = f.update if method == "update" else lambda d: f.fit(d, fh=[1])
    with pytest.raises(ValueError, match=f"y passed to {method} is not sorted"):
        call(new)


def test_unsorted_panel_names_the_instance(tiny):
    y = pd.concat({"a": series(30), "b": series(30, seed=1)})
    y = y.iloc[[*range(30), *range(59, 29, -1)]]
    f = LogSparseTransformerForecaster(**tiny)
    with pytest.raises(ValueError, match="not sorted within the instance 'b'"):
        f.fit(y, fh=[1])
