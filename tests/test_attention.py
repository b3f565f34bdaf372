"""Sparse attention kernel and convolutional self-attention.

Expectations come from a masked softmax attention written here, over masks
built from row sets written here (independently of ``make_pattern``'s own
helpers), and from the library's ``dense_reference_attention`` oracle.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd.graph import saved_tensors_hooks
from torch.utils._python_dispatch import TorchDispatchMode

from sktime_logsparse.nn import (
    ConvSelfAttention,
    dense_reference_attention,
    make_pattern,
    sparse_attention,
)

SPARSE_KINDS = ("logsparse", "local", "restart", "local_restart")
KINDS = (*SPARSE_KINDS, "full")
LENGTHS = (1, 2, 3, 7, 64, 200, 1000)
ATOL = 1e-5


# ---------------------------------------------------------------------------
# independent references
# ---------------------------------------------------------------------------


def reference_mask(
    kind: str, length: int, local_window: int | None = None, sub_len: int | None = None
) -> torch.Tensor:
    """Dense ``(L, L)`` bool mask from the documented row rules, by plain loops."""
    if kind in ("restart", "local_restart") and sub_len is None:
        sub_len = -(-length // 4)
    if kind in ("local", "local_restart") and local_window is None:
        local_window = ((length if kind == "local" else sub_len) - 1).bit_length()
    if kind in ("logsparse", "restart"):
        local_window = 0
    mask = torch.zeros(length, length, dtype=torch.bool)
    for l in range(length):  # noqa: E741
        if kind == "full":
            mask[l, : l + 1] = True
            continue
        start = l // sub_len * sub_len if kind in ("restart", "local_restart") else 0
        for m in range(max(start, l - local_window), l + 1):
            mask[l, m] = True
        step = 1
        while l - local_window - step >= start:
            mask[l, l - local_window - step] = True
            step *= 2
    return mask


def masked_attention(q, k, v, mask):
    """Softmax attention of ``(B, H, L, D)`` inputs under a dense bool mask."""
    scores = torch.einsum("bhld,bhmd->bhlm", q, k) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~mask, float("-inf"))
    return torch.einsum("bhlm,bhmd->bhld", torch.softmax(scores, dim=-1), v)


def random_qkv(shape, seed, dtype=torch.float32, requires_grad=True):
    gen = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn(shape, generator=gen, dtype=dtype).requires_grad_(requires_grad)
        for _ in range(3)
    )


def output_and_grads(fn, q, k, v, upstream):
    out = fn(q, k, v)
    grads = torch.autograd.grad(out, (q, k, v), upstream)
    return out, grads


def assert_close(actual, expected, atol=ATOL):
    assert actual.shape == expected.shape
    diff = (actual - expected).abs().max().item() if actual.numel() else 0.0
    assert diff <= atol, f"max abs diff {diff:.3g} > {atol:g}"


# ---------------------------------------------------------------------------
# equivalence with dense attention: outputs and gradients
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("kind", KINDS)
def test_sparse_matches_dense_outputs_and_grads(kind, length):
    pattern = make_pattern(kind, length)
    mask = reference_mask(kind, length)
    q, k, v = random_qkv((2, 2, length, 8), seed=length)
    upstream = torch.randn(2, 2, length, 8, generator=torch.Generator().manual_seed(1))

    out, grads = output_and_grads(
        lambda q, k, v: sparse_attention(q, k, v, pattern), q, k, v, upstream
    )
    oracle_out, oracle_grads = output_and_grads(
        lambda q, k, v: dense_reference_attention(q, k, v, pattern), q, k, v, upstream
    )
    ref_out, ref_grads = output_and_grads(
        lambda q, k, v: masked_attention(q, k, v, mask), q, k, v, upstream
    )
    assert out.shape == (2, 2, length, 8)
    assert out.dtype == torch.float32
    for expected_out, expected_grads in (
        (oracle_out, oracle_grads),
        (ref_out, ref_grads),
    ):
        assert_close(out, expected_out)
        for g, expected in zip(grads, expected_grads, strict=True):
            assert_close(g, expected)


@pytest.mark.parametrize("length", [1, 7, 64, 200])
@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("local", {"local_window": 0}),
        ("local", {"local_window": 5}),
        ("local", {"local_window": 500}),
        ("restart", {"sub_len": 1}),
        ("restart", {"sub_len": 9}),
        ("restart", {"sub_len": 1000}),
        ("local_restart", {"sub_len": 1, "local_window": 2}),
        ("local_restart", {"sub_len": 16, "local_window": 3}),
        ("local_restart", {"sub_len": 300, "local_window": 0}),
    ],
)
def test_sparse_matches_reference_with_explicit_parameters(kind, params, length):
    pattern = make_pattern(kind, length, **params)
    mask = reference_mask(kind, length, **params)
    q, k, v = random_qkv((2, 3, length, 4), seed=7 * length)
    upstream = torch.randn(2, 3, length, 4, generator=torch.Generator().manual_seed(2))
    out, grads = output_and_grads(
        lambda q, k, v: sparse_attention(q, k, v, pattern), q, k, v, upstream
    )
    ref_out, ref_grads = output_and_grads(
        lambda q, k, v: masked_attention(q, k, v, mask), q, k, v, upstream
    )
    assert_close(out, ref_out)
    for g, expected in zip(grads, ref_grads, strict=True):
        assert_close(g, expected)


@pytest.mark.parametrize("kind", SPARSE_KINDS)
@pytest.mark.parametrize("wanted", ["q", "k", "v", "qk", "kv"])
def test_grads_for_a_subset_of_inputs(kind, wanted):
    length = 37
    pattern = make_pattern(kind, length)
    q, k, v = random_qkv((1, 2, length, 5), seed=3, requires_grad=False)
    inputs = {"q": q, "k": k, "v": v}
    for name in wanted:
        inputs[name].requires_grad_(True)
    targets = [inputs[name] for name in wanted]
    out = sparse_attention(q, k, v, pattern)
    grads = torch.autograd.grad(out.square().sum(), targets)
    ref = masked_attention(q, k, v, reference_mask(kind, length))
    ref_grads = torch.autograd.grad(ref.square().sum(), targets)
    for g, expected in zip(grads, ref_grads, strict=True):
        assert_close(g, expected, atol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_non_contiguous_inputs(kind):
    length = 50
    pattern = make_pattern(kind, length)
    gen = torch.Generator().manual_seed(11)
    # (B, L, H, D) transposed to (B, H, L, D): the layout ConvSelfAttention uses
    q, k, v = (
        torch.randn(2, length, 3, 4, generator=gen).transpose(1, 2) for _ in "qkv"
    )
    assert not q.is_contiguous()
    expected = masked_attention(q, k, v, reference_mask(kind, length))
    assert_close(sparse_attention(q, k, v, pattern), expected)
    assert_close(
        sparse_attention(q.contiguous(), k.contiguous(), v.contiguous(), pattern),
        expected,
    )


@pytest.mark.parametrize("kind", SPARSE_KINDS)
def test_large_scores_are_stable(kind):
    # softmax over the offset columns must be max-shifted like a dense softmax
    length = 64
    pattern = make_pattern(kind, length)
    q, k, v = random_qkv((1, 1, length, 8), seed=5, requires_grad=False)
    q, k = 30 * q, 30 * k
    out = sparse_attention(q, k, v, pattern)
    assert torch.isfinite(out).all()
    assert_close(out, masked_attention(q, k, v, reference_mask(kind, length)), 1e-4)


# ---------------------------------------------------------------------------
# float64 gradcheck
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("length", [1, 5, 13])
@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("logsparse", {}),
        ("local", {}),
        ("local", {"local_window": 0}),
        ("local", {"local_window": 2}),
        ("restart", {}),
        ("restart", {"sub_len": 1}),
        ("restart", {"sub_len": 4}),
        ("local_restart", {}),
        ("local_restart", {"sub_len": 6, "local_window": 1}),
        ("full", {}),
    ],
)
def test_gradcheck(kind, params, length):
    pattern = make_pattern(kind, length, **params)
    q, k, v = random_qkv((1, 2, length, 3), seed=length, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda q, k, v: sparse_attention(q, k, v, pattern), (q, k, v)
    )


# ---------------------------------------------------------------------------
# dropout
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_dropout_changes_output_and_keeps_shape(kind):
    length = 40
    pattern = make_pattern(kind, length)
    q, k, v = random_qkv((2, 2, length, 8), seed=0)
    plain = sparse_attention(q, k, v, pattern)
    assert torch.equal(plain, sparse_attention(q, k, v, pattern, dropout_p=0.0))
    torch.manual_seed(0)
    dropped = sparse_attention(q, k, v, pattern, dropout_p=0.5)
    assert dropped.shape == plain.shape
    assert not torch.allclose(dropped, plain)
    (dropped * torch.randn_like(dropped)).sum().backward()
    for t in (q, k, v):
        assert t.grad is not None
        assert torch.isfinite(t.grad).all()
    # same seed, same mask
    torch.manual_seed(0)
    assert torch.equal(dropped, sparse_attention(q, k, v, pattern, dropout_p=0.5))


@pytest.mark.parametrize("kind", SPARSE_KINDS)
def test_dropout_is_unbiased(kind):
    # inverted dropout on the weights: the mean over many draws is the output
    length = 8
    pattern = make_pattern(kind, length)
    q, k, v = random_qkv((1, 1, length, 4), seed=4, requires_grad=False)
    n = 4000
    torch.manual_seed(0)
    draws = sparse_attention(
        q.expand(n, -1, -1, -1),
        k.expand(n, -1, -1, -1),
        v.expand(n, -1, -1, -1),
        pattern,
        dropout_p=0.3,
    )
    assert_close(draws.mean(0, keepdim=True), sparse_attention(q, k, v, pattern), 0.1)


# ---------------------------------------------------------------------------
# no (L, L) tensor is ever materialised
# ---------------------------------------------------------------------------

BIG_L = 512


class _RecordShapes(TorchDispatchMode):
    """Records the shape of every tensor any aten op returns."""

    def __init__(self):
        super().__init__()
        self.shapes = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(t, torch.Tensor):
                self.shapes.append(tuple(t.shape))
        return out


def _is_quadratic(shape, length):
    return (
        len(shape) >= 2 and shape[-1] >= length and shape[-2] >= length
    ) or math.prod(shape) >= length * length


def _footprint(attention, pattern):
    """Shapes of saved tensors and of all op outputs, forward and backward."""
    q, k, v = random_qkv((1, 1, pattern.length, 8), seed=0)
    saved = []

    def pack(t):
        saved.append(tuple(t.shape))
        return t

    forward, backward = _RecordShapes(), _RecordShapes()
    with saved_tensors_hooks(pack, lambda t: t):
        with forward:
            out = attention(q, k, v, pattern)
        with backward:
            out.sum().backward()
    # the recorders did see the computation, backward included
    assert saved and forward.shapes and backward.shapes
    assert q.grad is not None and k.grad is not None and v.grad is not None
    return saved, forward.shapes + backward.shapes


@pytest.mark.parametrize("kind", SPARSE_KINDS)
def test_sparse_attention_never_forms_a_quadratic_tensor(kind):
    pattern = make_pattern(kind, BIG_L)
    saved, produced = _footprint(sparse_attention, pattern)
    assert not [s for s in saved if _is_quadratic(s, BIG_L)]
    assert not [s for s in produced if _is_quadratic(s, BIG_L)]
    # the largest tensor is O(L * max(K, D)), K ~ log L
    largest = max(math.prod(s) for s in produced)
    assert largest <= BIG_L * max(pattern.width, 8)


@pytest.mark.parametrize("kind", SPARSE_KINDS)
def test_quadratic_check_catches_dense_attention(kind):
    pattern = make_pattern(kind, BIG_L)
    saved, produced = _footprint(dense_reference_attention, pattern)
    assert [s for s in saved if _is_quadratic(s, BIG_L)]
    assert [s for s in produced if _is_quadratic(s, BIG_L)]


# ---------------------------------------------------------------------------
# wrong shapes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("q_shape", "k_shape", "v_shape"),
    [
        ((2, 2, 10, 4), (2, 2, 9, 4), (2, 2, 10, 4)),
        ((2, 2, 10, 4), (2, 2, 10, 4), (2, 2, 10, 5)),
        ((2, 2, 10, 4), (2, 3, 10, 4), (2, 3, 10, 4)),
        ((2, 2, 10, 4), (1, 2, 10, 4), (2, 2, 10, 4)),
        ((2, 10, 4), (2, 10, 4), (2, 10, 4)),
        ((1, 2, 2, 10, 4), (1, 2, 2, 10, 4), (1, 2, 2, 10, 4)),
    ],
)
def test_mismatched_qkv_raise(kind, q_shape, k_shape, v_shape):
    pattern = make_pattern(kind, 10)
    q, k, v = torch.randn(q_shape), torch.randn(k_shape), torch.randn(v_shape)
    with pytest.raises(ValueError, match="shape"):
        sparse_attention(q, k, v, pattern)
    with pytest.raises(ValueError, match="shape"):
        dense_reference_attention(q, k, v, pattern)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("pattern_length", [1, 9, 11, 20])
def test_pattern_length_mismatch_raises(kind, pattern_length):
    q = k = v = torch.randn(2, 2, 10, 4)
    pattern = make_pattern(kind, pattern_length)
    with pytest.raises(ValueError, match="length"):
        sparse_attention(q, k, v, pattern)
    with pytest.raises(ValueError, match="length"):
        dense_reference_attention(q, k, v, pattern)


# ---------------------------------------------------------------------------
# ConvSelfAttention
# ---------------------------------------------------------------------------

PATTERN_PARAMS = {
    "logsparse": {},
    "local": {"local_window": 2},
    "restart": {"sub_len": 6},
    "local_restart": {"sub_len": 8, "local_window": 1},
    "full": {},
}


def reference_conv_attention(module, x, mask):
    """Conv self-attention by hand from the module's weights (no module calls)."""
    B, L, C = x.shape
    H = module.n_heads
    D = C // H
    ks = module.kernel_size
    weight = module.query_key.weight  # (2C, C, ks)
    bias = module.query_key.bias
    padded = torch.cat([x.new_zeros(B, ks - 1, C), x], dim=1)
    # tap i of the kernel sees input position l - (ks - 1) + i
    qk = bias + sum(padded[:, i : i + L] @ weight[:, :, i].T for i in range(ks))
    q, k = qk[..., :C], qk[..., C:]
    v = x @ module.value.weight.T + module.value.bias

    def heads(t):
        return t.reshape(B, L, H, D).permute(0, 2, 1, 3)

    y = masked_attention(heads(q), heads(k), heads(v), mask)
    y = y.permute(0, 2, 1, 3).reshape(B, L, C)
    return y @ module.proj.weight.T + module.proj.bias


@pytest.mark.parametrize("kernel_size", [1, 3, 6])
@pytest.mark.parametrize("kind", KINDS)
def test_conv_attention_matches_hand_written(kind, kernel_size):
    torch.manual_seed(0)
    length = 30
    module = ConvSelfAttention(d_model=12, n_heads=3, kernel_size=kernel_size)
    x = torch.randn(2, length, 12)
    pattern = make_pattern(kind, length, **PATTERN_PARAMS[kind])
    out = module(x, pattern)
    assert out.shape == (2, length, 12)
    expected = reference_conv_attention(
        module, x, reference_mask(kind, length, **PATTERN_PARAMS[kind])
    )
    assert_close(out, expected)


@pytest.mark.parametrize("kind", KINDS)
def test_kernel_size_one_is_canonical_attention(kind):
    # kernel 1: q, k are plain linear maps of x_l, exactly the vanilla Transformer
    torch.manual_seed(1)
    B, L, C, H = 2, 25, 8, 2
    D = C // H
    module = ConvSelfAttention(d_model=C, n_heads=H, kernel_size=1)
    x = torch.randn(B, L, C)
    w = module.query_key.weight.squeeze(-1)
    b = module.query_key.bias
    w_q, w_k, b_q, b_k = w[:C], w[C:], b[:C], b[C:]
    mask = reference_mask(kind, L)
    out = torch.empty(B, L, C)
    for batch in range(B):
        heads = []
        for h in range(H):
            cols = slice(h * D, (h + 1) * D)
            q = x[batch] @ w_q[cols].T + b_q[cols]
            k = x[batch] @ w_k[cols].T + b_k[cols]
            v = x[batch] @ module.value.weight[cols].T + module.value.bias[cols]
            scores = (q @ k.T / math.sqrt(D)).masked_fill(~mask, float("-inf"))
            heads.append(torch.softmax(scores, dim=-1) @ v)
        out[batch] = torch.cat(heads, dim=-1) @ module.proj.weight.T + module.proj.bias
    assert_close(module(x, make_pattern(kind, L)), out)


@pytest.mark.parametrize("kernel_size", [1, 3, 6])
@pytest.mark.parametrize("kind", KINDS)
def test_conv_attention_is_causal(kind, kernel_size):
    torch.manual_seed(2)
    length = 20
    module = ConvSelfAttention(d_model=8, n_heads=2, kernel_size=kernel_size).eval()
    pattern = make_pattern(kind, length, **PATTERN_PARAMS[kind])
    x = torch.randn(2, length, 8)
    with torch.no_grad():
        base = module(x, pattern)
        for t in range(length):
            perturbed = x.clone()
            perturbed[:, t + 1 :] += 10 * torch.randn(2, length - t - 1, 8)
            out = module(perturbed, pattern)
            assert torch.allclose(out[:, : t + 1], base[:, : t + 1], atol=1e-6), t
            if t + 1 < length:
                # the perturbation is seen from its own position on
                assert not torch.allclose(out[:, t + 1], base[:, t + 1], atol=1e-3)


@pytest.mark.parametrize("kernel_size", [1, 3, 6])
def test_conv_attention_project_with_left_cache(kernel_size):
    # queries/keys of a suffix, given the kernel_size - 1 inputs before it
    torch.manual_seed(3)
    module = ConvSelfAttention(d_model=8, n_heads=2, kernel_size=kernel_size)
    x = torch.randn(2, 20, 8)
    start = 10
    full = module.project(x)
    left = x[:, start - (kernel_size - 1) : start]
    part = module.project(x[:, start:], left=left)
    for a, b in zip(part, full, strict=True):
        assert_close(a, b[:, :, start:], 1e-6)


def test_conv_attention_dropout_only_in_training():
    torch.manual_seed(4)
    module = ConvSelfAttention(d_model=8, n_heads=2, kernel_size=3, dropout=0.5)
    x = torch.randn(2, 16, 8)
    pattern = make_pattern("logsparse", 16)
    module.eval()
    evaluated = module(x, pattern)
    assert torch.equal(evaluated, module(x, pattern))
    module.train()
    trained = module(x, pattern)
    assert trained.shape == evaluated.shape
    assert not torch.allclose(trained, evaluated)
    trained.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in module.parameters())


@pytest.mark.parametrize(("d_model", "n_heads"), [(10, 3), (8, 3), (7, 2)])
def test_conv_attention_rejects_indivisible_heads(d_model, n_heads):
    with pytest.raises(ValueError, match="divisible"):
        ConvSelfAttention(d_model=d_model, n_heads=n_heads)


@pytest.mark.parametrize("kernel_size", [0, -1])
def test_conv_attention_rejects_bad_kernel_size(kernel_size):
    with pytest.raises(ValueError, match="kernel_size"):
        ConvSelfAttention(d_model=8, n_heads=2, kernel_size=kernel_size)


@pytest.mark.parametrize("positions_last", [True, False])
@pytest.mark.parametrize("kind", ["logsparse", "local", "restart"])
def test_both_kernel_layouts_match_the_dense_oracle(kind, positions_last, monkeypatch):
    """Narrow heads run positions-last, wide ones (B, H, L, D): both exact."""
    import sktime_logsparse.nn._attention as attention

    monkeypatch.setattr(
        attention, "POSITIONS_LAST_BELOW", 10_000 if positions_last else 0
    )
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 50, 8, requires_grad=True) for _ in range(3))
    pattern = make_pattern(kind, 50)
    out = sparse_attention(q, k, v, pattern)
    grads = torch.autograd.grad(out.square().sum(), (q, k, v))
    ref = dense_reference_attention(q, k, v, pattern)
    ref_grads = torch.autograd.grad(ref.square().sum(), (q, k, v))
    assert (out - ref).abs().max() <= 1e-5
    for g, r in zip(grads, ref_grads, strict=True):
        assert (g - r).abs().max() <= 1e-5
