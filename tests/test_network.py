"""End-to-end properties of LogSparseTransformer: causality, reach, shapes."""

import math

import pytest
import torch

from sktime_logsparse.nn import (
    KINDS,
    LogSparseConfig,
    LogSparseTransformer,
    decode_step,
    prefill,
)


def _net(kind, kernel_size, n_layers=2, length=40, n_series=0, **kw):
    torch.manual_seed(0)
    config = LogSparseConfig(
        n_inputs=3,
        d_model=16,
        n_heads=2,
        n_layers=n_layers,
        kernel_size=kernel_size,
        attention=kind,
        dropout=0.0,
        max_length=length,
        n_series=n_series,
        **kw,
    )
    return LogSparseTransformer(config).eval()


@pytest.mark.parametrize("kernel_size", [1, 3, 6])
@pytest.mark.parametrize("kind", KINDS)
def test_future_inputs_do_not_change_past_outputs(kind, kernel_size):
    L = 40
    net = _net(kind, kernel_size, n_layers=3, length=L, n_series=5, sub_len=7)
    x = torch.randn(2, L, 3)
    ids = torch.tensor([1, 4])
    base = net(x, ids)
    for t in (0, 1, 5, 17, L - 2):
        x2 = x.clone()
        x2[:, t + 1 :] = torch.randn_like(x2[:, t + 1 :]) * 10
        out = net(x2, ids)
        assert torch.equal(out[:, : t + 1], base[:, : t + 1]), (kind, kernel_size, t)
        assert not torch.allclose(out[:, t + 1 :], base[:, t + 1 :])


def _reach(L, n_layers):
    """Positions the last output reaches through ``n_layers`` LogSparse hops."""
    frontier = {L - 1}
    for _ in range(n_layers):
        nxt = set()
        for pos in frontier:
            nxt.add(pos)
            j = 1
            while pos - j >= 0:
                nxt.add(pos - j)
                j *= 2
        frontier = nxt
    return frontier


def _input_gradient(L, n_layers):
    net = _net("logsparse", 1, n_layers=n_layers, length=L)
    x = torch.randn(1, L, 3, dtype=torch.float64, requires_grad=True)
    net = net.double()
    net(x)[0, L - 1, 0].backward()
    return x.grad[0].abs().sum(-1)


@pytest.mark.parametrize("L", [2, 7, 16, 33, 100])
def test_log_layers_reach_every_earlier_position(L):
    grad = _input_gradient(L, math.floor(math.log2(L)) + 1)
    assert bool((grad > 0).all())


@pytest.mark.parametrize("L", [7, 16, 33, 100])
def test_too_few_layers_leave_a_position_unreachable(L):
    # Theorem 1's floor(log2 L) + 1 layers suffice; reaching distance d takes
    # popcount(d) hops, so floor(log2 L) layers already do, and one fewer misses
    # the distance 2^m - 1 (m = floor(log2 L)).
    m = math.floor(math.log2(L))
    assert _reach(L, m) == set(range(L))
    grad = _input_gradient(L, m - 1)
    unreachable = sorted(set(range(L)) - _reach(L, m - 1))
    assert L - 1 - (2**m - 1) in unreachable
    assert bool((grad[unreachable] == 0).all())
    reachable = sorted(_reach(L, m - 1))
    assert bool((grad[reachable] > 0).all())


def test_output_shapes_and_positive_scales():
    for likelihood, dim in [
        ("gaussian", 2),
        ("student_t", 3),
        ("negative_binomial", 2),
    ]:
        net = _net("logsparse", 3, length=20, likelihood=likelihood)
        out = net(torch.randn(4, 20, 3))
        assert out.shape == (4, 20, dim)
        assert torch.isfinite(out).all()


def test_shorter_sequences_use_the_same_rows():
    net = _net("local_restart", 3, length=64)
    x = torch.randn(2, 64, 3)
    assert torch.allclose(net(x)[:, :30], net(x[:, :30]), atol=1e-6)


def test_config_validation():
    with pytest.raises(ValueError, match="divisible"):
        LogSparseConfig(n_inputs=2, d_model=10, n_heads=3)
    with pytest.raises(ValueError, match="attention"):
        LogSparseConfig(n_inputs=2, attention="dense")
    with pytest.raises(ValueError, match="likelihood"):
        LogSparseConfig(n_inputs=2, likelihood="poisson")
    with pytest.raises(ValueError, match="kernel_size"):
        LogSparseConfig(n_inputs=2, kernel_size=0)
    net = _net("logsparse", 1, length=10)
    with pytest.raises(ValueError, match="max_length"):
        net(torch.randn(1, 11, 3))
    with pytest.raises(ValueError, match="features"):
        net(torch.randn(1, 5, 4))


def test_pattern_parameters_pinned_from_max_length():
    c = LogSparseConfig(n_inputs=1, attention="local_restart", max_length=200)
    assert c.sub_len == 50 and c.local_window == 6


def test_pickle_round_trip():
    import pickle

    net = _net("restart", 3, length=30, sub_len=5)
    x = torch.randn(2, 30, 3)
    clone = pickle.loads(pickle.dumps(net))
    assert torch.equal(clone(x), net(x))


@pytest.mark.parametrize("likelihood", ["gaussian", "student_t"])
def test_linear_skip_adds_to_the_location_only(likelihood):
    net = _net("logsparse", 3, ar_skip=True, likelihood=likelihood)
    x = torch.randn(4, 40, 3)
    # a new network is the linear model alone: the head starts at zero
    torch.nn.init.normal_(net.skip.weight)
    torch.nn.init.normal_(net.skip.bias)
    plain = net.likelihood.domain_map(torch.zeros(4, 40, net.likelihood.args_dim))
    params = net(x)
    i = net.likelihood.loc_index
    torch.testing.assert_close(params[..., i], net.skip(x)[..., 0])
    others = [j for j in range(params.shape[-1]) if j != i]
    torch.testing.assert_close(params[..., others], plain[..., others])
    # incremental decoding adds the same term
    _, caches = prefill(net, x[:, :30])
    step = decode_step(net, x[:, 30:31], None, 30, caches)
    torch.testing.assert_close(step[:, 0], params[:, 30], atol=1e-5, rtol=1e-5)


def test_linear_skip_needs_a_location():
    with pytest.raises(ValueError, match="ar_skip needs a likelihood"):
        LogSparseConfig(n_inputs=3, ar_skip=True, likelihood="negative_binomial")


# ------------------------------------------------------------------ dropout


@pytest.mark.parametrize("p", [0.05, 0.1, 0.5, 0.9])
def test_dropout_drops_p_and_keeps_the_mean(p):
    from sktime_logsparse.nn import dropout

    torch.manual_seed(0)
    x = torch.ones(400_000)
    y = dropout(x, p)
    # 400,000 draws: the share dropped is within 5 standard errors of p
    se = (p * (1 - p) / x.numel()) ** 0.5
    assert abs(float((y == 0).float().mean()) - p) < 5 * se
    kept = y[y != 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / (1 - p)), rtol=1e-4)
    assert abs(float(y.mean()) - 1.0) < 5 * se / (1 - p)


def test_dropout_masks_are_independent_within_a_draw():
    from sktime_logsparse.nn import dropout

    torch.manual_seed(1)
    # four mask elements come from one 64-bit draw: neighbours must not agree
    m = (dropout(torch.ones(1_000_000), 0.5) == 0).view(-1, 4).float()
    for i in range(4):
        for j in range(i + 1, 4):
            assert abs(float((m[:, i] * m[:, j]).mean()) - 0.25) < 0.005


def test_dropout_is_seeded_identity_in_eval_and_scales_gradients():
    from sktime_logsparse.nn import Dropout, dropout

    x = torch.randn(3, 50, 8, requires_grad=True)
    torch.manual_seed(2)
    a = dropout(x, 0.3)
    torch.manual_seed(2)
    b = dropout(x, 0.3)
    assert torch.equal(a, b)
    a.sum().backward()
    assert torch.allclose(x.grad, (a / x).detach())  # mask times 1 / (1 - p)
    layer = Dropout(0.3).eval()
    assert layer(x) is x
    assert dropout(x, 0.0) is x
    net = LogSparseTransformer(LogSparseConfig(n_inputs=3, dropout=0.1))
    assert not any(isinstance(m, torch.nn.Dropout) for m in net.modules())
