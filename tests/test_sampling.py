"""Cached incremental decoding and ancestral sampling."""

import pytest
import torch

from sktime_logsparse._sampling import SamplerSettings, sample_paths
from sktime_logsparse._windows import WindowLayout, forward_fill
from sktime_logsparse.nn import LogSparseConfig, LogSparseTransformer, get_scaler


def _net(
    kind="logsparse", kernel_size=3, max_length=40, likelihood="gaussian", n_inputs=4
):
    torch.manual_seed(0)
    config = LogSparseConfig(
        n_inputs=n_inputs,
        d_model=16,
        n_heads=2,
        n_layers=3,
        kernel_size=kernel_size,
        attention=kind,
        dropout=0.1,  # must be inactive in eval mode
        max_length=max_length,
        n_series=3,
        likelihood=likelihood,
    )
    return LogSparseTransformer(config).eval()


def _paths(net, context, cov, ids, horizon, n, C, P, scaling="mean", lags=(), **kw):
    """``sample_paths`` with the window layout and settings spelled out."""
    layout = WindowLayout(C, P, tuple(lags), scaling, cov.shape[-1])
    generators = kw.pop("generators", None)
    settings = SamplerSettings(horizon, n, **kw)
    return sample_paths(net, context, cov, ids, layout, settings, generators)


def _reencoding_sampler(net, context, cov, ids, horizon, n, C, P, gens):
    """Reference: re-encode the chunk's window at every step, written out.

    Mean scaling, no lags: the inputs are the previous value over the scale
    and its observed flag, then the covariates. Every window of a series is
    scaled by ``1 + mean |z|`` over the observed values of its first
    conditioning range (the last C values of the context).
    """
    first = context[:, 1:]
    seen = ~torch.isnan(first)
    scale = 1 + torch.where(seen, first.abs(), 0).sum(1) / seen.sum(1).clamp_min(1)
    traj = torch.cat([context, context.new_full((len(context), horizon), torch.nan)], 1)
    traj, cov = traj.repeat_interleave(n, 0), cov.repeat_interleave(n, 0)
    ids, scale = ids.repeat_interleave(n, 0), scale.repeat_interleave(n, 0)
    for t in range(horizon):
        k, i = divmod(t, P)
        a = k * P
        prev = traj[:, a : a + C + i + 1]  # the previous value of each position
        filled = forward_fill(prev, 0.0)  # before the first value: loc = 0
        x = torch.stack([filled / scale[:, None], (~prev.isnan()).float()], -1)
        x = torch.cat([x, cov[:, a : a + C + i + 1]], -1)
        params = net(x, ids)[:, -1]
        draws = [
            net.likelihood.sample(params[j * n : (j + 1) * n], s, g)
            for j, (s, g) in enumerate(zip(scale.split(n), gens, strict=True))
        ]
        traj[:, C + 1 + t] = torch.cat(draws)
    return traj[:, C + 1 :].reshape(len(context), n, horizon)


@pytest.mark.parametrize("kind", ["logsparse", "local", "local_restart", "full"])
def test_sampler_matches_reencoding_reference(kind):
    C, P, H, n = 12, 5, 13, 4  # three chunks, the last one partial
    net = _net(kind, 3, max_length=C + P)
    context = torch.randn(3, C + 1) + 10
    context[0, :4] = torch.nan  # a short series, left-padded
    context[1, -1] = torch.nan  # last value missing
    cov = torch.randn(3, C + H, 2)
    ids = torch.tensor([0, 1, -1])

    def gens():
        return [torch.Generator().manual_seed(s) for s in (1, 2, 3)]

    with torch.no_grad():
        fast = _paths(net, context, cov, ids, H, n, C, P, generators=gens())
        slow = _reencoding_sampler(net, context, cov, ids, H, n, C, P, gens())
    assert fast.shape == (3, n, H)
    assert torch.isfinite(fast).all()
    assert (fast - slow).abs().max() <= 1e-3 * slow.abs().max()


@pytest.mark.parametrize(
    "kind, lags, scaling",
    [
        ("logsparse", (), "mean"),
        ("logsparse", (3, 7), "mean"),
        ("logsparse", (3, 7), "standard"),
        ("local_restart", (2,), None),
        ("full", (), None),
    ],
)
def test_reencode_sample_paths_equals_cached_sampler(kind, lags, scaling):
    C, P, H, n = 12, 5, 13, 4  # three chunks, the last one partial
    R = max((1, *lags))
    # inputs: previous value, observed flag, lags, two covariates
    n_inputs = 4 + len(lags) + get_scaler(scaling).n_inputs
    net = _net(kind, 3, max_length=C + P, n_inputs=n_inputs)
    context = torch.randn(3, R + C) + 10
    context[0, :4] = torch.nan  # a short series, left-padded
    context[1, -1] = torch.nan  # last value missing
    cov = torch.randn(3, C + H, 2)
    ids = torch.tensor([0, 1, -1])
    args = (net, context, cov, ids, H, n, C, P, scaling, lags)

    def gens():
        return [torch.Generator().manual_seed(s) for s in (1, 2, 3)]

    fast = _paths(*args, generators=gens())
    slow = _paths(*args, generators=gens(), cache=False)
    assert slow.shape == (3, n, H) and torch.isfinite(slow).all()
    assert (fast - slow).abs().max() <= 1e-3 * slow.abs().max()
    if not lags and scaling == "mean":  # and the independent reference above
        ref = _reencoding_sampler(net, context, cov, ids, H, n, C, P, gens())
        assert (slow - ref).abs().max() <= 1e-4 * ref.abs().max()
    # series are split into batches without changing their paths
    split = _paths(*args, generators=gens(), max_batch=n, cache=False)
    assert torch.allclose(split, slow, rtol=1e-4, atol=1e-4)


def test_paths_do_not_depend_on_batch_composition():
    C, P, H, n = 10, 4, 6, 5
    net = _net(max_length=C + P)
    context = torch.randn(3, C + 1) + 5
    cov = torch.randn(3, C + H, 2)
    ids = torch.tensor([0, 1, 2])
    with torch.no_grad():
        gens = [torch.Generator().manual_seed(s) for s in (7, 8, 9)]
        together = _paths(net, context, cov, ids, H, n, C, P, generators=gens)
        alone = _paths(
            net,
            context[1:2],
            cov[1:2],
            ids[1:2],
            H,
            n,
            C,
            P,
            generators=[torch.Generator().manual_seed(8)],
        )
        split = _paths(
            net,
            context,
            cov,
            ids,
            H,
            n,
            C,
            P,
            max_batch=n,
            generators=[torch.Generator().manual_seed(s) for s in (7, 8, 9)],
        )
    threaded = _paths(
        net,
        context,
        cov,
        ids,
        H,
        n,
        C,
        P,
        workers=2,
        generators=[torch.Generator().manual_seed(s) for s in (7, 8, 9)],
    )
    # same noise; only floating-point rounding of differently sized batches
    assert torch.allclose(together[1:2], alone, rtol=1e-4, atol=1e-4)
    assert torch.allclose(together, split, rtol=1e-4, atol=1e-4)
    assert torch.allclose(together, threaded, rtol=1e-4, atol=1e-4)


def test_workers_restore_the_thread_setting():
    C, P, H, n = 10, 4, 6, 5
    net = _net(max_length=C + P)
    before = torch.get_num_threads()
    paths = _paths(
        net,
        torch.randn(4, C + 1) + 5,
        torch.randn(4, C + H, 2),
        None,
        H,
        n,
        C,
        P,
        workers=3,
    )
    assert paths.shape == (4, n, H)
    assert torch.get_num_threads() == before
    assert not paths.requires_grad  # no_grad in the worker threads too


@pytest.mark.parametrize("likelihood", ["student_t", "negative_binomial"])
def test_other_likelihoods_sample(likelihood):
    C, P = 8, 4
    net = _net(max_length=C + P, likelihood=likelihood)
    context = torch.randint(0, 20, (2, C + 1)).float()
    with torch.no_grad():
        paths = _paths(
            net,
            context,
            torch.randn(2, C + 6, 2),
            torch.tensor([0, 1]),
            6,
            7,
            C,
            P,
            generators=[torch.Generator().manual_seed(0)] * 2,
        )
    assert paths.shape == (2, 7, 6) and torch.isfinite(paths).all()
    if likelihood == "negative_binomial":
        assert (paths >= 0).all() and torch.equal(paths, paths.round())
