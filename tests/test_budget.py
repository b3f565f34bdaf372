"""``max_fit_seconds`` is honoured to within one training step.

Time is a fake clock here: each gradient step takes 1 s, each validation pass
3 s, so that the test measures the loop's decisions, not the machine.
"""

import pytest
from conftest import TINY, series

import sktime_logsparse._early_stopping as losses
import sktime_logsparse._training as training
from sktime_logsparse import LogSparseTransformerForecaster

STEP, VALIDATION = 1.0, 3.0


@pytest.fixture
def clock(monkeypatch):
    now = {"t": 0.0}

    class FakeTime:
        @staticmethod
        def perf_counter():
            return now["t"]

    real_loss, real_score = losses.window_loss, training.SCORES["crps"]

    def window_loss(*args, **kwargs):
        now["t"] += STEP
        return real_loss(*args, **kwargs)

    def score(*args, **kwargs):
        now["t"] += VALIDATION
        return real_score(*args, **kwargs)

    monkeypatch.setattr(training, "time", FakeTime)
    monkeypatch.setattr(losses, "window_loss", window_loss)
    monkeypatch.setitem(training.SCORES, "crps", score)
    return now


@pytest.mark.parametrize("budget", [8.0, 20.0, 33.5])
def test_fit_ends_within_one_step_of_the_budget(clock, budget):
    # 4 steps an epoch: an epoch and its validation take 7 s
    f = LogSparseTransformerForecaster(
        **{**TINY, "max_epochs": 1000, "windows_per_epoch": 32, "batch_size": 8},
        max_fit_seconds=budget,
    )
    f.fit(series(80), fh=[1, 2])
    assert clock["t"] <= budget + STEP
    # and it used the budget: stopping earlier would leave room for a step
    # and the validation pass that must follow it
    assert clock["t"] > budget - STEP - VALIDATION
    assert f.is_fitted


def test_a_budget_shorter_than_the_first_score_takes_one_step(clock):
    f = LogSparseTransformerForecaster(**TINY, max_fit_seconds=2.0)
    f.fit(series(80), fh=[1, 2])
    # the untrained score, the one step every run takes, its validation
    assert clock["t"] == VALIDATION + STEP + VALIDATION
    assert len(f.training_history_) == 1
    assert f.is_fitted
