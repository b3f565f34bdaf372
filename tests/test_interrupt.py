"""Ctrl-C during fit: the first keeps the best weights, the second aborts."""

import signal

import numpy as np
import pytest
import torch
from conftest import TINY, series

import sktime_logsparse._early_stopping as losses
from sktime_logsparse import LogSparseTransformerForecaster

CONFIG = {**TINY, "max_epochs": 50, "windows_per_epoch": 32, "batch_size": 8}


@pytest.fixture(autouse=True)
def default_handler():
    # the guarantee holds where Ctrl-C has Python's default behaviour
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    yield
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def _ctrl_c_at(monkeypatch, presses):
    """Press Ctrl-C ``presses[step]`` times during the given (1-based) steps."""
    real = losses.window_loss
    count = {"n": 0}

    def window_loss(*args, **kwargs):
        count["n"] += 1
        for _ in range(presses.get(count["n"], 0)):
            signal.raise_signal(signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(losses, "window_loss", window_loss)
    return count


def test_first_ctrl_c_stops_after_the_step_and_leaves_a_fitted_forecaster(
    monkeypatch,
):
    count = _ctrl_c_at(monkeypatch, {10: 1})  # in epoch 2 (4 steps an epoch)
    f = LogSparseTransformerForecaster(**CONFIG)
    with pytest.warns(UserWarning, match=r"interrupted \(Ctrl-C\) in epoch 2"):
        f.fit(series(80), fh=[1, 2])
    assert count["n"] == 10  # the step in progress finished, no other began
    assert f.is_fitted
    assert [h["epoch"] for h in f.training_history_] == [0, 1, 2]
    assert np.isfinite(f.predict().to_numpy()).all()


def test_ctrl_c_in_the_first_step_still_fits(monkeypatch):
    _ctrl_c_at(monkeypatch, {1: 1})
    f = LogSparseTransformerForecaster(**CONFIG)
    with pytest.warns(UserWarning, match="keeping the weights of epoch 0"):
        f.fit(series(80), fh=[1, 2])
    assert len(f.training_history_) == 1
    assert np.isfinite(f.predict().to_numpy()).all()


def test_second_ctrl_c_aborts_and_a_refit_keeps_the_old_model(monkeypatch):
    f = LogSparseTransformerForecaster(**CONFIG).fit(series(80), fh=[1, 2])
    weights = {k: v.clone() for k, v in f.model_.network.state_dict().items()}
    pred = f.predict()
    _ctrl_c_at(monkeypatch, {3: 2})
    with pytest.raises(KeyboardInterrupt):
        f.fit(series(90, seed=1), fh=[1, 2])
    assert f.is_fitted
    for k, v in f.model_.network.state_dict().items():
        assert torch.equal(v, weights[k])
    assert f.predict().equals(pred)


def test_second_ctrl_c_on_a_first_fit_leaves_it_unfitted(monkeypatch):
    _ctrl_c_at(monkeypatch, {2: 2})
    f = LogSparseTransformerForecaster(**CONFIG)
    with pytest.raises(KeyboardInterrupt):
        f.fit(series(80), fh=[1, 2])
    assert not f.is_fitted
