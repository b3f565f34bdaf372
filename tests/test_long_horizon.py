"""Forecasts past the training horizon: chunks continue from cached state.

The cached sampler and the re-encoding reference (``cache=False``) must draw
the same paths for any number of chunks, and the caches of a batch must not
grow with the number of chunks.
"""

import pytest
import torch

from sktime_logsparse import _sampling
from sktime_logsparse._batches import cached_positions, series_per_batch
from sktime_logsparse._sampling import SamplerSettings, sample_paths
from sktime_logsparse._windows import WindowLayout
from sktime_logsparse.nn import LogSparseConfig, LogSparseTransformer

pytestmark = pytest.mark.usefixtures("one_thread")

P = 5  # prediction length: a chunk


def _net(kind, kernel_size, n_inputs, max_length):
    torch.manual_seed(0)
    config = LogSparseConfig(
        n_inputs=n_inputs,
        d_model=8,
        n_heads=2,
        n_layers=2,
        kernel_size=kernel_size,
        attention=kind,
        dropout=0.1,  # must be inactive in eval mode
        max_length=max_length,
        n_series=3,
    )
    return LogSparseTransformer(config).eval()


def _case(kind, kernel_size, C, lags, scaling, horizon):
    """A network, three series with gaps, and the sampler's other arguments."""
    R = max((1, *lags))
    layout = WindowLayout(C, P, tuple(lags), scaling, 2)
    net = _net(kind, kernel_size, layout.n_inputs, C + P)
    gen = torch.Generator().manual_seed(1)
    context = torch.randn(3, R + C, generator=gen) + 10
    context[0, :4] = torch.nan  # a short series, left-padded
    context[1, -1] = torch.nan  # last value missing
    context[2, P] = torch.nan  # where the second chunk's window starts
    cov = torch.randn(3, C + horizon, 2, generator=gen)
    return net, (context, cov, torch.tensor([0, 1, -1]), layout)


def _gens():
    return [torch.Generator().manual_seed(s) for s in (4, 5, 6)]


def _sample(net, args, horizon, n=3, **settings):
    return sample_paths(net, *args, SamplerSettings(horizon, n, **settings), _gens())


def _close(fast, slow):
    assert fast.shape == slow.shape and torch.isfinite(slow).all()
    assert (fast - slow).abs().max() <= 1e-4 * slow.abs().max()


# (context_length, horizon): one chunk; two; three, the last one partial; a
# chunk starting at step C (one observed value left in its window); chunks
# starting past C (horizon > C + P: no observed value left)
HORIZONS = [(8, 1), (8, P), (8, 2 * P), (8, 13), (10, 13), (8, 19)]


@pytest.mark.parametrize("kernel_size", [1, 3])
@pytest.mark.parametrize("kind", ["logsparse", "local", "restart", "full"])
def test_cached_chunks_equal_reencoded_ones(kind, kernel_size):
    # lag 7 is longer than a chunk: it reads history and samples of other chunks
    for C, horizon in HORIZONS:
        net, args = _case(kind, kernel_size, C, (2, 7), "standard", horizon)
        fast = _sample(net, args, horizon)
        _close(fast, _sample(net, args, horizon, cache=False))


@pytest.mark.parametrize("lags, scaling", [((), "mean"), ((3,), None)])
def test_cached_chunks_equal_reencoded_ones_for_other_scalings(lags, scaling):
    for C, horizon in HORIZONS[2:]:
        net, args = _case("logsparse", 3, C, lags, scaling, horizon)
        _close(_sample(net, args, horizon), _sample(net, args, horizon, cache=False))


def test_the_first_chunk_does_not_depend_on_the_horizon():
    net, args = _case("logsparse", 3, 8, (7,), "standard", 4 * P)
    whole = _sample(net, args, 4 * P)
    for horizon in (1, 3, P, P + 1):
        head = min(horizon, P)
        assert torch.equal(_sample(net, args, horizon)[..., :head], whole[..., :head])


def test_every_chunk_is_scaled_by_the_observed_conditioning_range():
    # a series whose samples would change the scale of later windows: a model
    # that predicts (in the scaled space) a level far above the history
    C, horizon = 8, 4 * P
    net, (context, cov, ids, layout) = _case("logsparse", 1, C, (), "mean", horizon)
    with torch.no_grad():
        net.head.bias.copy_(torch.tensor([30.0, -5.0]))  # mean 30, tiny sigma
    args = (context.nan_to_num(1.0), cov, ids, layout)
    paths = _sample(net, args, horizon)
    scale = 1 + args[0][:, 1:].abs().mean(1)  # the first conditioning range's
    # the output's location is 30 + the network's (small) correction, in
    # units of the series' first scale at every step of every chunk
    level = paths / scale[:, None, None]
    assert ((level - 30).abs() < 3).all()


# ----------------------------------------------------------------- memory


def _cache_positions(monkeypatch):
    """Record, per prefill of the sampler: rows x positions held per layer."""
    seen = []
    prefill = _sampling.prefill

    def spy(network, x, series_id=None, group=1, steps=None):
        params, caches = prefill(network, x, series_id, group, steps)
        cache = caches[0]
        length, *_, n_prefix = cache.prefix_k.shape  # (L, D, H, S)
        prefix = n_prefix * length
        own = cache.k.shape[0] * cache.rows  # (steps, D, H, rows)
        per_path = cache.k.shape[0] + (length if group == 1 else 0)
        seen.append({"positions": prefix + own, "per_path": per_path})
        return params, caches

    monkeypatch.setattr(_sampling, "prefill", spy)
    return seen


@pytest.mark.parametrize("horizon", [1, P, P + 1, 2 * P, 13, 4 * P, 9 * P])
def test_cached_positions_are_those_the_sampler_holds(monkeypatch, horizon):
    seen = _cache_positions(monkeypatch)
    net, args = _case("logsparse", 3, 8, (), "mean", horizon)
    _sample(net, args, horizon)
    assert max(s["per_path"] for s in seen) == cached_positions(8, P, horizon)


def test_the_caches_of_a_batch_do_not_grow_with_the_number_of_chunks(monkeypatch):
    seen = _cache_positions(monkeypatch)
    net, (context, cov, ids, layout) = _case("logsparse", 3, 8, (), "mean", 12 * P)
    context, cov = context.repeat(4, 1), cov.repeat(4, 1, 1)  # twelve series
    ids = ids.repeat(4)
    peaks = []
    for horizon in (P, 2 * P, 4 * P, 12 * P):
        seen.clear()
        args = (context, cov[:, : 8 + horizon], ids, layout)
        paths = sample_paths(
            net, *args, SamplerSettings(horizon, 4, max_batch=16), None
        )
        assert paths.shape == (12, 4, horizon) and torch.isfinite(paths).all()
        peaks.append(max(s["positions"] for s in seen))
    # a one-chunk forecast holds 4 series x 4 paths x P positions, plus the
    # prefill of each series; no later chunk holds more
    assert peaks[0] == 4 * 4 * P + 4 * 8
    assert max(peaks) == peaks[0]


def test_batches_past_the_first_chunk_hold_fewer_series():
    # one chunk: as many paths as max_batch allows, or a worker's share, in
    # batches evened out over the workers: 414 series are 6 batches of 69
    # (at most 81 fit in 8192 paths), 3 per worker
    assert series_per_batch(100, 100, 2, 8192, 24, 24) == 50
    assert series_per_batch(414, 100, 2, 8192, 48, 48) == 69
    assert series_per_batch(414, 100, 1, 8192, 48, 48) == 69
    assert series_per_batch(415, 100, 2, 8192, 48, 48) == 70  # 6 batches, 4 of 70
    # 47 cached positions instead of 24: at most 8192 * 24 / 47 paths, in a
    # number of batches that the two workers share evenly
    assert series_per_batch(100, 100, 2, 8192, 47, 24) == 25
    assert series_per_batch(3, 10**5, 4, 8192, 200, 24) == 1  # never split
    assert cached_positions(168, 24, 48) == 47
    assert cached_positions(168, 24, 24) == 24
    assert cached_positions(168, 24, 10**4) == 168 + 24
