"""Incremental decoding: prefill and decoding from the caches equal the full forward."""

import pytest
import torch

from sktime_logsparse.nn import (
    KINDS,
    LogSparseConfig,
    LogSparseTransformer,
    decode_positions,
    decode_step,
    prefill,
)


def _net(kind, kernel_size):
    torch.manual_seed(0)
    config = LogSparseConfig(
        n_inputs=4,
        d_model=16,
        n_heads=2,
        n_layers=3,
        kernel_size=kernel_size,
        attention=kind,
        dropout=0.1,  # must be inactive in eval mode
        max_length=40,
        n_series=3,
    )
    return LogSparseTransformer(config).eval()


@pytest.mark.parametrize("kernel_size", [1, 3, 6])
@pytest.mark.parametrize("kind", KINDS)
def test_cached_decoding_equals_reencoding(kind, kernel_size):
    net = _net(kind, kernel_size)
    g, prefix = 3, 17
    x = torch.randn(2, 40, 4).repeat_interleave(g, 0)
    x[:, prefix:] += torch.randn(2 * g, 40 - prefix, 4)  # paths diverge
    ids = torch.tensor([0, -1]).repeat_interleave(g)
    with torch.no_grad():
        pre, caches = prefill(net, x[::g, :prefix], ids[::g], group=g)
        steps = [
            decode_step(net, x[:, p : p + 1], ids, p, caches) for p in range(prefix, 40)
        ]
        for p in range(prefix, 40):  # re-encode the window up to p at every step
            full = net(x[:, : p + 1], ids)[:, -1]
            assert (steps[p - prefix][:, 0] - full).abs().max() <= 1e-5
        whole = net(x, ids)
    assert (pre - whole[::g, :prefix]).abs().max() <= 1e-5


@pytest.mark.parametrize("kernel_size", [1, 3, 6])
@pytest.mark.parametrize("kind", KINDS)
def test_several_known_positions_at_once_equal_reencoding(kind, kernel_size):
    net = _net(kind, kernel_size)
    g, prefix = 3, 9
    x = torch.randn(2, 40, 4).repeat_interleave(g, 0)
    x[:, prefix:] += torch.randn(2 * g, 40 - prefix, 4)  # paths diverge
    ids = torch.tensor([0, -1]).repeat_interleave(g)
    with torch.no_grad():
        _, caches = prefill(net, x[::g, :prefix], ids[::g], group=g)
        blocks = [(9, 10), (10, 17), (17, 18), (18, 30)]  # then one at a time
        out = [decode_positions(net, x[:, lo:hi], ids, lo, caches) for lo, hi in blocks]
        steps = range(30, 40)
        out += [decode_step(net, x[:, p : p + 1], ids, p, caches) for p in steps]
        whole = net(x, ids)
    assert (torch.cat(out, 1) - whole[:, prefix:]).abs().max() <= 1e-5
