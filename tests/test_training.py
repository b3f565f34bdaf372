"""Windows, scaling and the training loop."""

import dataclasses
import math
import warnings

import numpy as np
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from sktime_logsparse._averaging import averaged_weights
from sktime_logsparse._early_stopping import evaluate_crps, window_loss
from sktime_logsparse._linear_ar import fit_skip
from sktime_logsparse._sampling import SamplerSettings, sample_paths
from sktime_logsparse._series import (
    SeriesTensors,
    make_windows,
    window_batch,
)
from sktime_logsparse._training import train
from sktime_logsparse._windows import build_window, forward_fill
from sktime_logsparse.nn import LogSparseConfig, LogSparseTransformer

NAN = float("nan")


def test_forward_fill():
    x = torch.tensor([[NAN, 1.0, NAN, NAN, 4.0, NAN], [2.0, NAN, 3.0, NAN, NAN, NAN]])
    expected = torch.tensor([[0.0, 1, 1, 1, 4, 4], [2.0, 2, 3, 3, 3, 3]])
    assert torch.equal(forward_fill(x), expected)


def test_scale_uses_the_conditioning_range_only(make_layout):
    raw = torch.tensor([[9.0, 1.0, -3.0, 2.0, 100.0, 200.0]])
    cov = torch.zeros(1, 5, 0)
    batch = build_window(raw, cov, make_layout(3))
    assert batch.scale.item() == pytest.approx(1 + (1 + 3 + 2) / 3)
    raw2 = raw.clone()
    raw2[0, 4:] = torch.tensor([-7.0, 1e6])
    assert torch.equal(build_window(raw2, cov, make_layout(3)).scale, batch.scale)


def test_standard_scaling_inputs_and_likelihood_by_hand(make_layout):
    # a series whose level (1000) is far above its variation: the inputs are
    # standardised by the conditioning range's mean and deviation, the padding
    # before the start reads as the mean, the loss is the Gaussian NLL of z
    raw = torch.tensor([[NAN, 1001.0, 999.0, 1003.0, 997.0, 1010.0]])
    cov = torch.zeros(1, 5, 0)
    b = build_window(raw, cov, make_layout(4, lags=(1,), scaling="standard"))
    ctx = np.array([1001.0, 999.0, 1003.0, 997.0])
    loc, sd = ctx.mean(), ctx.std()
    assert b.loc.item() == pytest.approx(loc) and b.scale.item() == pytest.approx(sd)
    expected = (np.array([loc, 1001.0, 999.0, 1003.0, 997.0]) - loc) / sd
    np.testing.assert_allclose(b.x[0, :, 0].numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b.x[0, :, 2].numpy(), expected, rtol=1e-5, atol=1e-6)
    # the origin: where zero lies after scaling, asinh-compressed
    assert b.x.shape[-1] == 4
    np.testing.assert_allclose(b.x[0, :, 3].numpy(), np.arcsinh(-loc / sd), rtol=1e-5)
    assert torch.equal(b.target[0], raw[0, 1:])

    class Constant(torch.nn.Module):  # mu = 0.5, sigma = softplus(0) in u-space
        likelihood = LogSparseTransformer(
            LogSparseConfig(n_inputs=4, max_length=5)
        ).likelihood

        def forward(self, x, ids):
            return self.likelihood.domain_map(torch.tensor([0.5, 0.0]).expand(1, 5, 2))

    sigma = math.log(2.0) + 1e-6
    z = raw[0, 1:].double().numpy()
    mu_z, sigma_z = loc + 0.5 * sd, sigma * sd
    nll = np.log(sigma_z * math.sqrt(2 * math.pi)) + 0.5 * ((z - mu_z) / sigma_z) ** 2
    loss = window_loss(Constant(), b, None)
    assert loss.item() == pytest.approx(nll.mean(), rel=1e-4)


def test_standard_scale_floor_and_empty_rows():
    from sktime_logsparse.nn import standard_scale

    z = torch.tensor([[5.0, 5.0, 5.0], [0.0, 0.0, 0.0], [NAN, NAN, NAN]])
    loc, scale = standard_scale(z, ~z.isnan())
    assert torch.allclose(loc, torch.tensor([5.0, 0.0, 0.0]))
    assert torch.allclose(scale, torch.tensor([5e-4, 1.0, 1.0]))


def test_window_inputs_lag_indicator_and_targets(make_layout):
    raw = torch.tensor([[NAN, 2.0, NAN, 6.0]])
    cov = torch.arange(3.0).reshape(1, 3, 1)
    b = build_window(raw, cov, make_layout(2))
    scale = 1 + 2.0  # observed conditioning targets: [2.0]
    assert torch.allclose(b.x[0, :, 0], torch.tensor([0.0, 2.0, 2.0]) / scale)
    assert torch.equal(b.x[0, :, 1], torch.tensor([0.0, 1.0, 0.0]))
    assert torch.equal(b.x[0, :, 2], torch.tensor([0.0, 1.0, 2.0]))
    assert torch.equal(b.observed[0], torch.tensor([True, False, True]))
    assert torch.equal(b.target[0], torch.tensor([2.0, 0.0, 6.0]))
    unscaled = build_window(raw, cov, make_layout(2, scaling=None))
    assert unscaled.scale.item() == 1.0


def _data(lengths, pad, n_cov=1, seed=0):
    rng = np.random.default_rng(seed)
    values = [rng.normal(10, 1, n).astype(np.float32) for n in lengths]
    covs = [rng.normal(size=(n, n_cov)).astype(np.float32) for n in lengths]
    return SeriesTensors.from_arrays(values, covs, np.arange(len(lengths)), pad), values


def test_windows_are_consecutive_values_and_validation_is_held_out(make_layout):
    C, P = 5, 3
    data, values = _data([30, 8, 4], pad=C + P)
    train_w, val_w = make_windows(data, make_layout(C, P), True, "uniform")
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


def test_targets_whose_lags_read_padding_are_not_trained_on(make_layout):
    # lag 6: a target is trained on only from position 6 of its series on
    # (position 5 of the 10-point series: half of it)
    C, P, lags = 4, 2, (6,)
    layout = make_layout(C, P, lags)
    data, _ = _data([40, 10], pad=C + P + 6)
    train_w, val_w = make_windows(data, layout, True, "uniform")
    assert train_w.first_target.tolist() == [6, 5]
    for windows in (train_w, val_w):
        batch, _ = window_batch(data, windows, torch.arange(len(windows)), layout)
        for row, s in enumerate(windows.series.tolist()):
            end = int(windows.ends[row] - data.starts[s])
            positions = np.arange(end - (C + P) + 1, end + 1)
            trained = batch.observed[row].numpy()
            np.testing.assert_array_equal(trained, positions >= [6, 5][s])
            # and every window holds at least one trained target
            assert trained.any()


def test_scale_weighted_sampling_weights(make_layout):
    data, values = _data([20], pad=6)
    data.z[data.starts[0] : data.starts[0] + 20] = torch.arange(20.0)
    w, _ = make_windows(data, make_layout(4, 2), False, "scale")
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


def test_loss_ignores_unobserved_targets(make_layout):
    net = _net()
    raw = torch.randn(2, 9) + 5
    cov = torch.randn(2, 8, 1)
    b = build_window(raw, cov, make_layout(5))
    base = window_loss(net, b, None)
    b.target[0, 3] = 1e6
    b.observed[0, 3] = False
    b2 = build_window(raw, cov, make_layout(5))
    b2.observed[0, 3] = False
    assert window_loss(net, b, None).item() == pytest.approx(
        window_loss(net, b2, None).item()
    )
    assert torch.isfinite(base)


def test_training_reduces_loss_and_restores_best(make_layout, make_config):
    data, _ = _data([60, 50, 40], pad=8)
    net = _net()
    cfg = make_config(max_epochs=6, batch_size=16, validation_metric="nll")
    result = train(net, data, make_layout(5, 3), cfg, torch.Generator().manual_seed(0))
    losses = [h["val_loss"] for h in result.history]
    assert losses[-1] < losses[0]
    assert result.best_loss == min(losses)
    assert not net.training
    # wall time since training began, growing epoch by epoch
    seconds = [h["seconds"] for h in result.history]
    assert 0 < seconds[0] and all(np.diff(seconds) > 0)


def test_non_finite_loss_keeps_best_weights_with_a_warning(make_layout, make_config):
    data, _ = _data([60, 50], pad=8)
    net = _net()
    cfg = make_config(max_epochs=5, batch_size=16, validation_metric="nll")
    calls = {"n": 0}
    forward = net.forward

    def flaky(*args, **kwargs):
        calls["n"] += 1
        out = forward(*args, **kwargs)
        return out * math.nan if calls["n"] > 12 else out

    net.forward = flaky
    with pytest.warns(RuntimeWarning, match="non-finite loss"):
        result = train(
            net, data, make_layout(5, 3), cfg, torch.Generator().manual_seed(0)
        )
    assert result.stop_reason == "diverged"
    assert result.best_epoch is not None


def test_non_finite_loss_in_first_epoch_raises(make_layout, make_config):
    data, _ = _data([60], pad=8)
    net = _net()
    net.forward = lambda *a, **k: torch.full((a[0].shape[0], a[0].shape[1], 2), NAN)
    cfg = make_config(max_epochs=3)
    with pytest.raises(RuntimeError, match="diverged"):
        train(net, data, make_layout(5, 3), cfg, torch.Generator().manual_seed(0))


def test_time_budget_stops_training(make_layout, make_config):
    data, _ = _data([200], pad=8)
    net = _net()
    cfg = make_config(max_epochs=10_000, max_fit_seconds=0.5, validation_metric="nll")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = train(
            net, data, make_layout(5, 3), cfg, torch.Generator().manual_seed(0)
        )
    assert result.stop_reason == "max_fit_seconds"
    assert len(result.history) < 10_000


def test_early_stopping_patience(make_layout, make_config):
    data, _ = _data([40, 40], pad=8)
    net = _net()
    cfg = make_config(
        validation_metric="nll",
        max_epochs=200,
        batch_size=8,
        windows_per_epoch=8,
        learning_rate=0.05,
        early_stopping_patience=2,
    )
    result = train(net, data, make_layout(5, 3), cfg, torch.Generator().manual_seed(0))
    assert result.stop_reason == "early_stopping"
    assert len(result.history) == result.best_epoch + 1 + 2


def test_keep_initial_weights_when_fine_tuning_only_hurts(make_layout, make_config):
    """With keep_initial, the starting weights compete with every epoch."""
    data, _ = _data([60, 50, 40], pad=8)
    net = _net()
    layout = make_layout(5, 3)
    # the last step's weights: a moving average would dampen the divergence
    good = make_config(max_epochs=8, validation_metric="nll", ema_decay=None)
    train(net, data, layout, good, torch.Generator().manual_seed(0))
    start = {k: v.clone() for k, v in net.state_dict().items()}
    # a learning rate far too high: every epoch is worse than the start
    bad = make_config(
        validation_metric="nll",
        max_epochs=2,
        learning_rate=5.0,
        gradient_clip=None,
        keep_initial=True,
        ema_decay=None,
    )
    # the rate is so high that the run diverges: the start is kept, with a warning
    with pytest.warns(RuntimeWarning, match="Keeping the weights of the start"):
        result = train(net, data, layout, bad, torch.Generator().manual_seed(1))
    assert result.best_epoch is None
    for k, v in net.state_dict().items():
        assert torch.equal(v, start[k]), k


def _ar_series(n=400, seed=0):
    rng = np.random.default_rng(seed)
    z = np.zeros(n)
    for t in range(2, n):
        z[t] = 2.0 + 0.6 * z[t - 1] + 0.3 * z[t - 2] + rng.normal(0, 0.5)
    return z[50:].astype(np.float32)


def test_linear_skip_is_the_least_squares_fit_and_stays_fixed(make_layout, make_config):
    C, P, lags = 8, 4, (2,)
    values = [_ar_series(seed=s) for s in range(3)]
    covs = [np.zeros((len(v), 1), dtype=np.float32) for v in values]
    data = SeriesTensors.from_arrays(values, covs, np.arange(3), pad=C + P + 2)
    layout = make_layout(C, P, lags, scaling=None, n_cov=1)
    config = make_config(
        max_epochs=2,
        windows_per_epoch=64,
        early_stopping_patience=None,
        calibration_samples=0,  # nothing held out: the windows fitted above
        fit_skip=True,
    )
    torch.manual_seed(0)
    net = LogSparseTransformer(
        LogSparseConfig(
            n_inputs=4, d_model=8, n_heads=2, n_layers=1, max_length=C + P, ar_skip=True
        )
    )
    train_w, _ = make_windows(data, layout, False, "uniform")
    fit_skip(net, data, train_w, layout, torch.Generator().manual_seed(0))
    # the reference: numpy least squares over every trained target, by hand
    rows, targets = [], []
    for v in values:
        for t in range(2, len(v)):  # lag 2 inside the series
            rows.append([v[t - 1], 1.0, v[t - 2], 0.0, 1.0])
            targets.append(v[t])
    coef = np.linalg.lstsq(np.array(rows), np.array(targets), rcond=None)[0]
    weight = net.skip.weight[0].detach().numpy()
    # lag 1 and lag 2 coefficients (the flag, the zero column and the bias
    # share the intercept)
    np.testing.assert_allclose(weight[[0, 2]], coef[[0, 2]], atol=0.03)
    assert weight[0] == pytest.approx(0.6, abs=0.08)
    assert weight[2] == pytest.approx(0.3, abs=0.08)
    fitted = [p.detach().clone() for p in net.skip.parameters()]
    train(net, data, layout, config, torch.Generator().manual_seed(0))
    for before, after in zip(fitted, net.skip.parameters(), strict=True):
        assert torch.equal(before, after)  # gradient training leaves it alone


def test_crps_validation_score_matches_the_sample_formula(make_layout, make_config):
    C, P = 6, 3
    data, values = _data([30, 20], pad=C + P)
    layout = make_layout(C, P, n_cov=1)
    config = make_config(validation_samples=5)
    net = LogSparseTransformer(
        LogSparseConfig(n_inputs=3, d_model=8, n_heads=2, n_layers=1, max_length=C + P)
    ).eval()
    _, val = make_windows(data, layout, True, "uniform")
    score = evaluate_crps(net, data, val, layout, config)
    total, count = 0.0, 0
    for row, s in enumerate(val.series.tolist()):
        raw, cov = data.windows(val.ends[row : row + 1], C + P, 1)
        paths = sample_paths(
            net,
            raw[:, : 1 + C],
            cov,
            data.series_id[[s]],
            layout,
            SamplerSettings(P, 5),
            generators=[torch.Generator().manual_seed(row)],
        )[0].numpy()  # (5, P)
        truth = values[s][-P:]
        scale = 1 + np.abs(values[s][-P - C : -P]).mean()
        for t in range(P):
            x = paths[:, t]
            crps = (
                np.abs(x - truth[t]).mean()
                - 0.5 * np.abs(x[:, None] - x[None, :]).mean()
            )
            total += crps / scale
            count += 1
    assert score == pytest.approx(total / count, rel=1e-4)


def test_scalers_transform_and_inverse_round_trip():
    from sktime_logsparse.nn import get_scaler

    z = torch.tensor([[1.0, 3.0, NAN, 8.0], [100.0, 101.0, 99.0, NAN]])
    for name in ("mean", "standard", None):
        scaler = get_scaler(name)
        loc, scale = scaler.fit(z, ~z.isnan())
        u = scaler.transform(z, loc[:, None], scale[:, None])
        back = scaler.inverse(u, loc[:, None], scale[:, None])
        assert torch.allclose(back, z, equal_nan=True), name


@pytest.mark.parametrize("micro", [1, 3])
def test_micro_batches_take_the_step_of_the_whole_batch(
    make_layout, make_config, micro
):
    # the same windows, one forward/backward pass or several: the same weights
    # (micro-batches count by their observed targets: some are missing here)
    data, _ = _data([60, 45, 80], pad=8)
    data.z[data.starts[1] + 10 : data.starts[1] + 30] = float("nan")
    results = []
    for size in (None, micro):
        net = _net()
        cfg = make_config(max_epochs=2, batch_size=8, micro_batch_size=size)
        train(net, data, make_layout(5, 3), cfg, torch.Generator().manual_seed(0))
        results.append(torch.cat([p.detach().flatten() for p in net.parameters()]))
    torch.testing.assert_close(results[1], results[0], atol=1e-5, rtol=1e-4)


def test_moving_average_of_weights_follows_its_recurrence():
    """``a_0 = w_0``; ``a_n = d_n a_(n-1) + (1 - d_n) w_n``, ``d_n`` warmed up."""
    net = torch.nn.Linear(2, 1)
    averaged = averaged_weights(net, 0.9)
    steps = [torch.full((1, 2), float(v)) for v in (1.0, 5.0, -2.0, 3.0, 0.5, 4.0)]
    expected = None
    for n, w in enumerate(steps):
        with torch.no_grad():
            net.weight.copy_(w)
        averaged.update_parameters(net)
        if expected is None:
            expected = w.clone()
        else:  # the n-th update after the first (a copy) decays by min(d, (1+n)/(10+n))
            d = min(0.9, (1 + n) / (10 + n))
            expected = d * expected + (1 - d) * w
    torch.testing.assert_close(averaged.module.weight, expected)
    assert averaged_weights(net, None) is None


def test_training_keeps_the_moving_average_of_step_weights(make_layout, make_config):
    """One epoch: the weights returned are the average of every step's, by hand."""
    data, _ = _data([60, 50, 40], pad=8)
    layout = make_layout(5, 3)
    config = make_config(
        validation_metric="nll",
        max_epochs=1,
        batch_size=8,
        windows_per_epoch=48,
        learning_rate=0.05,
        ema_decay=None,
    )
    seen = []  # the weights after every step, of a run without averaging
    hook = register_optimizer_step_post_hook(
        lambda opt, args, kwargs: seen.append(
            [p.detach().clone() for g in opt.param_groups for p in g["params"]]
        )
    )
    try:
        plain = _net()
        train(plain, data, layout, config, torch.Generator().manual_seed(0))
    finally:
        hook.remove()
    decay = 0.8
    averaged = _net()
    with_average = dataclasses.replace(config, ema_decay=decay)
    train(averaged, data, layout, with_average, torch.Generator().manual_seed(0))
    assert len(seen) == 6
    expected = seen[0]
    for n, step in enumerate(seen[1:], start=1):
        d = min(decay, (1 + n) / (10 + n))
        expected = [d * a + (1 - d) * w for a, w in zip(expected, step, strict=True)]
    skip_net = getattr(averaged, "skip", None)
    skip = set() if skip_net is None else {id(p) for p in skip_net.parameters()}
    trained = [p for p in averaged.parameters() if id(p) not in skip]
    for got, want in zip(trained, expected, strict=True):
        torch.testing.assert_close(got, want)
    # the last step's weights differ: the average is what was kept
    assert not torch.equal(trained[0], seen[-1][0])
