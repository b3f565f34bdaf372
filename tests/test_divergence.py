"""A diverging training run is stopped, and never returns absurd forecasts silently."""

import math

import numpy as np
import pytest
from conftest import TINY, series

import sktime_logsparse._predicting as predicting
import sktime_logsparse._training as training
from sktime_logsparse import LogSparseTransformerForecaster

CONFIG = {**TINY, "max_epochs": 6, "windows_per_epoch": 64}


def _fake_scores(monkeypatch, values):
    """Validation scores in turn; None: the real score (the untrained one first)."""
    real, scores = training.SCORES["crps"], iter(values)

    def score(*args):
        value = next(scores)
        return real(*args) if value is None else value

    monkeypatch.setitem(training.SCORES, "crps", score)


@pytest.mark.parametrize("seed", [0, 1])
def test_far_too_high_learning_rate_raises_naming_the_rate_to_try(seed):
    params = {**CONFIG, "learning_rate": 1e3, "random_state": seed}
    f = LogSparseTransformerForecaster(**params)
    with pytest.raises(
        RuntimeError,
        match=r"training diverged \(training loss .* untrained\) in epoch 0 with "
        r"learning_rate=1000; try learning_rate=0.001 or lower",
    ):
        f.fit(series(120), fh=[1, 2])
    assert not f.is_fitted


def test_divergence_after_good_epochs_keeps_the_best_and_warns(monkeypatch):
    # the validation score improves for three epochs, then explodes
    _fake_scores(monkeypatch, [None, 0.9, 0.7, 0.8, 1e6])
    f = LogSparseTransformerForecaster(**CONFIG)
    with pytest.warns(
        RuntimeWarning,
        match=r"diverged \(validation score 1e\+06, against .* untrained\) in "
        r"epoch 3 .* try learning_rate=5e-05 or lower. Keeping the weights of epoch 1",
    ):
        f.fit(series(120), fh=[1, 2])
    assert [h["epoch"] for h in f.training_history_] == [0, 1, 2]
    assert np.isfinite(f.predict().to_numpy()).all()


def test_non_finite_validation_score_is_divergence(monkeypatch):
    _fake_scores(monkeypatch, [None, 0.9, math.nan])
    f = LogSparseTransformerForecaster(**CONFIG)
    with pytest.warns(RuntimeWarning, match="non-finite validation score"):
        f.fit(series(120), fh=[1, 2])
    assert len(f.training_history_) == 1


def test_sane_learning_rate_trains_without_a_warning(recwarn):
    f = LogSparseTransformerForecaster(**CONFIG)
    f.fit(series(120), fh=[1, 2])
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    pred = f.predict().to_numpy()
    assert np.all((pred > 5) & (pred < 15))  # the series lives in 10 +- 4


def test_non_finite_sample_paths_warn(monkeypatch):
    f = LogSparseTransformerForecaster(**CONFIG)
    f.fit(series(120), fh=[1, 2])
    real = predicting.forecast_blocks

    def forecast_blocks(*args, **kwargs):
        for rows, paths in real(*args, **kwargs):
            paths[..., 0, :] = np.nan  # one path of each series
            yield rows, paths

    monkeypatch.setattr(predicting, "forecast_blocks", forecast_blocks)
    with pytest.warns(RuntimeWarning, match=r"10\.0% of the sampled forecast values"):
        f.predict()
