"""Windows, scaling and the training loop."""

import math
import warnings

import numpy as np
import pytest
import torch

from sktime_logsparse._training import (
    SeriesTensors,
    TrainConfig,
    make_windows,
    train,
    window_loss,
)
from sktime_logsparse._windows import build_window, forward_fill
from sktime_logsparse.nn import LogSparseConfig, LogSparseTransformer

NAN = float("nan")


def test_forward_fill():
    x = torch.tensor([[NAN, 1.0, NAN, NAN, 4.0, NAN], [2.0, NAN, 3.0, NAN, NAN, NAN]])
    expected = torch.tensor([[0.0, 1, 1, 1, 4, 4], [2.0, 2, 3, 3, 3, 3]])
    assert torch.equal(forward_fill(x), expected)


def test_scale_uses_the_conditioning_range_only():
    raw = torch.tensor([[9.0, 1.0, -3.0, 2.0, 100.0, 200.0]])
    cov = torch.zeros(1, 5, 0)
    batch = build_window(raw, cov, context_length=3)
    assert batch.scale.item() == pytest.approx(1 + (1 + 3 + 2) / 3)
    raw2 = raw.clone()
    raw2[0, 4:] = torch.tensor([-7.0, 1e6])
    assert torch.equal(build_window(raw2, cov, 3).scale, batch.scale)


def test_window_inputs_lag_indicator_and_targets():
    raw = torch.tensor([[NAN, 2.0, NAN, 6.0]])
    cov = torch.arange(3.0).reshape(1, 3, 1)
    b = build_window(raw, cov, context_length=2)
    scale = 1 + 2.0  # observed conditioning targets: [2.0]
    assert torch.allclose(b.x[0, :, 0], torch.tensor([0.0, 2.0, 2.0]) / scale)
    assert torch.equal(b.x[0, :, 1], torch.tensor([0.0, 1.0, 0.0]))
    assert torch.equal(b.x[0, :, 2], torch.tensor([0.0, 1.0, 2.0]))
    assert torch.equal(b.observed[0], torch.tensor([True, False, True]))
    assert torch.equal(b.target[0], torch.tensor([2.0, 0.0, 6.0]))
    unscaled = build_window(raw, cov, 2, scaling=False)
    assert unscaled.scale.item() == 1.0


def _data(lengths, pad, n_cov=1, seed=0):
    rng = np.random.default_rng(seed)
    values = [rng.normal(10, 1, n).astype(np.float32) for n in lengths]
    covs = [rng.normal(size=(n, n_cov)).astype(np.float32) for n in lengths]
    return SeriesTensors.from_arrays(values, covs, np.arange(len(lengths)), pad), values


def test_windows_are_consecutive_values_and_validation_is_held_out():
    C, P = 5, 3
    data, values = _data([30, 8, 4], pad=C + P)
    train_w, val_w = make_windows(data, C, P, validation=True)
    raw, cov = data.windows(train_w.ends, C + P)
    for row, s in enumerate(train_w.series.tolist()):
        end = int(train_w.ends[row] - data.starts[s])
        expected = np.full(C + P + 1, np.nan, dtype=np.float32)
        lo = end - (C + P)
        expected[max(0, -lo) :] = values[s][max(0, lo) : end + 1]
        np.testing.assert_array_equal(raw[row].numpy(), expected)
        # no training target in the held-out last P points of a series
        if s in (0, 1):
            assert end < len(values[s]) - P
        assert end >= min(P, len(values[s]) - 1)
    # series 2 (length 4 <= P + 1) is too short to hold anything out
    assert sorted(val_w.series.tolist()) == [0, 1]
    assert (
        val_w.ends == data.starts[val_w.series] + data.lengths[val_w.series] - 1
    ).all()


def test_scale_weighted_sampling_weights():
    data, values = _data([20], pad=6)
    data.z[data.starts[0] : data.starts[0] + 20] = torch.arange(20.0)
    w, _ = make_windows(data, 4, 2, validation=False, sampling="scale")
    for end, weight in zip(w.ends.tolist(), w.weights.tolist(), strict=True):
        e = end - int(data.starts[0])
        targets = np.arange(e - 5, e - 1)  # the 4 conditioning targets
        targets = targets[targets >= 0]
        expected = 1 + (np.abs(targets).mean() if len(targets) else 0)
        assert weight == pytest.approx(expected)


def _net(n_inputs=3, max_length=8, n_series=3):
    torch.manual_seed(0)
    config = LogSparseConfig(
        n_inputs=n_inputs,
        d_model=8,
        n_heads=2,
        n_layers=1,
        dropout=0.0,
        max_length=max_length,
        n_series=n_series,
    )
    return LogSparseTransformer(config)


def test_loss_ignores_unobserved_targets():
    net = _net()
    raw = torch.randn(2, 9) + 5
    cov = torch.randn(2, 8, 1)
    b = build_window(raw, cov, 5)
    base = window_loss(net, b, None)
    b.target[0, 3] = 1e6
    b.observed[0, 3] = False
    b2 = build_window(raw, cov, 5)
    b2.observed[0, 3] = False
    assert window_loss(net, b, None).item() == pytest.approx(
        window_loss(net, b2, None).item()
    )
    assert torch.isfinite(base)


def test_training_reduces_loss_and_restores_best():
    data, _ = _data([60, 50, 40], pad=8)
    net = _net()
    cfg = TrainConfig(
        context_length=5, prediction_length=3, max_epochs=6, batch_size=16
    )
    result = train(net, data, cfg, torch.Generator().manual_seed(0))
    losses = [h["val_loss"] for h in result.history]
    assert losses[-1] < losses[0]
    assert result.best_loss == min(losses)
    assert not net.training


def test_non_finite_loss_keeps_best_weights_with_a_warning():
    data, _ = _data([60, 50], pad=8)
    net = _net()
    cfg = TrainConfig(
        context_length=5, prediction_length=3, max_epochs=5, batch_size=16
    )
    calls = {"n": 0}
    forward = net.forward

    def flaky(*args, **kwargs):
        calls["n"] += 1
        out = forward(*args, **kwargs)
        return out * math.nan if calls["n"] > 12 else out

    net.forward = flaky
    with pytest.warns(RuntimeWarning, match="non-finite loss"):
        result = train(net, data, cfg, torch.Generator().manual_seed(0))
    assert result.stop_reason == "diverged"
    assert result.best_epoch is not None


def test_non_finite_loss_in_first_epoch_raises():
    data, _ = _data([60], pad=8)
    net = _net()
    net.forward = lambda *a, **k: torch.full((a[0].shape[0], a[0].shape[1], 2), NAN)
    cfg = TrainConfig(context_length=5, prediction_length=3, max_epochs=3)
    with pytest.raises(RuntimeError, match="diverged"):
        train(net, data, cfg, torch.Generator().manual_seed(0))


def test_time_budget_stops_training():
    data, _ = _data([200], pad=8)
    net = _net()
    cfg = TrainConfig(
        context_length=5, prediction_length=3, max_epochs=10_000, max_fit_seconds=0.5
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = train(net, data, cfg, torch.Generator().manual_seed(0))
    assert result.stop_reason == "max_fit_seconds"
    assert len(result.history) < 10_000


def test_early_stopping_patience():
    data, _ = _data([40, 40], pad=8)
    net = _net()
    cfg = TrainConfig(
        context_length=5,
        prediction_length=3,
        max_epochs=200,
        batch_size=8,
        windows_per_epoch=8,
        learning_rate=0.05,
        early_stopping_patience=2,
    )
    result = train(net, data, cfg, torch.Generator().manual_seed(0))
    assert result.stop_reason == "early_stopping"
    assert len(result.history) == result.best_epoch + 1 + 2


def test_keep_initial_weights_when_fine_tuning_only_hurts():
    """With keep_initial, the starting weights compete with every epoch."""
    data, _ = _data([60, 50, 40], pad=8)
    net = _net()
    good = TrainConfig(context_length=5, prediction_length=3, max_epochs=8)
    train(net, data, good, torch.Generator().manual_seed(0))
    start = {k: v.clone() for k, v in net.state_dict().items()}
    # a learning rate far too high: every epoch is worse than the start
    bad = TrainConfig(
        context_length=5,
        prediction_length=3,
        max_epochs=2,
        learning_rate=5.0,
        gradient_clip=None,
        keep_initial=True,
    )
    result = train(net, data, bad, torch.Generator().manual_seed(1))
    assert result.best_epoch is None
    for k, v in net.state_dict().items():
        assert torch.equal(v, start[k]), k
