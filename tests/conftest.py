"""Shared test fixtures: the tiny forecaster, window layouts, training configs."""

import dataclasses

import pytest
import torch

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse._params import resolve_params
from sktime_logsparse._training import TrainConfig
from sktime_logsparse._windows import WindowLayout

#: the tiny forecaster the tests share: a moment of training on a CPU
TINY = dict(
    context_length=6,
    prediction_length=2,
    d_model=8,
    n_heads=2,
    n_layers=1,
    max_epochs=1,
    batch_size=8,
    windows_per_epoch=16,
    num_samples=10,
    device="cpu",
    random_state=0,
)


@pytest.fixture
def tiny() -> dict:
    """The tiny forecaster's parameters (a copy, to extend with ``{**tiny, ...}``)."""
    return dict(TINY)


@pytest.fixture
def make_layout():
    """``make_layout(C, P=1, lags=(), scaling="mean", n_cov=0)``: a WindowLayout."""

    def make(C, P=1, lags=(), scaling="mean", n_cov=0) -> WindowLayout:
        return WindowLayout(C, P, tuple(lags), scaling, n_cov)

    return make


@pytest.fixture
def make_config():
    """``make_config(**overrides)``: the training settings of a default forecaster."""
    defaults = resolve_params(LogSparseTransformerForecaster().get_params())

    def make(**overrides) -> TrainConfig:
        config = defaults.train_config(None)
        return dataclasses.replace(config, **overrides)

    return make


@pytest.fixture
def one_thread():
    """Run torch on one intra-op thread (restored afterwards).

    Tiny networks gain nothing from intra-op threads, and on a busy machine
    every small operation waits for the slowest thread.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def series(n: int = 60, seed: int = 0, level: float = 10.0, scale: float = 1.0):
    """An hourly series around ``level`` (times ``scale``) with a daily cycle."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = level + 3 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.3, n)
    index = pd.date_range("2020-01-01", periods=n, freq="h")
    return pd.DataFrame({"y": values * scale}, index=index)
