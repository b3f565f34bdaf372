"""Sparse attention over offset patterns, and convolutional self-attention.

The sparse kernel never forms an (L, L) tensor. For a pattern with offsets
``o_0 = 0 < o_1 < ... < o_{K-1}`` the scores are a ``(B, H, K, L)`` tensor,

    s[b, h, j, l] = <q[b, h, l], k[b, h, l - o_j]> / sqrt(D),

computed one offset at a time on shifted views of ``k``. Softmax runs over the
K offsets (invalid ones masked), and the output gathers ``v`` the same way.
Two autograd functions, :class:`_OffsetScores` and :class:`_OffsetMix`, write
their own backward passes so that autograd saves only q, k, v and the
``(B, H, K, L)`` weights, not K shifted copies.

For narrow heads (D < 32, e.g. the forecaster's d_model 32 over 4 heads) the
kernel lays q, k and v out ``(B, H, D, L)``, positions last: every per-offset
operation then streams over contiguous rows of length L and the reduction over
D runs across rows instead of along a short last axis, several times faster
on CPU than ``(B, H, L, D)`` at D = 8. Wide heads stay ``(B, H, L, D)``, which
is faster there and needs no transposed copies.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import _compiled
from ._dropout import Dropout, dropout
from ._pattern import AttentionPattern

# Head widths below this run in the positions-last layout (see module docstring)
POSITIONS_LAST_BELOW = 32


def _shift(x: torch.Tensor, start: int, length: int, pos: int) -> torch.Tensor:
    """``length`` positions of ``x`` from ``start`` along the position axis."""
    return x.narrow(pos, start, length)


class _OffsetScores(torch.autograd.Function):
    """``s[..., j, l] = <q[..., l], k[..., l - o_j]>``, 0 where l < o_j.

    q and k are ``(B, H, L, D)`` (``pos=-2``) or ``(B, H, D, L)``
    (``pos=-1``); the scores are ``(B, H, K, L)`` either way.
    """

    @staticmethod
    def forward(ctx, q, k, offsets: tuple[int, ...], pos: int):
        L, feat = q.shape[pos], -1 if pos == -2 else -2
        s = q.new_zeros(*q.shape[:-2], len(offsets), L)
        for j, o in enumerate(offsets):
            if o < L:
                qs, ks = _shift(q, o, L - o, pos), _shift(k, 0, L - o, pos)
                s[..., j, o:] = (qs * ks).sum(feat)
        ctx.save_for_backward(q, k)
        ctx.offsets, ctx.pos = offsets, pos
        return s

    @staticmethod
    def backward(ctx, ds):
        q, k = ctx.saved_tensors
        pos = ctx.pos
        L, feat = q.shape[pos], -1 if pos == -2 else -2
        dq = torch.zeros_like(q) if ctx.needs_input_grad[0] else None
        dk = torch.zeros_like(k) if ctx.needs_input_grad[1] else None
        for j, o in enumerate(ctx.offsets):
            if o >= L:
                continue
            g = ds[..., j, o:].unsqueeze(feat)
            if dq is not None:
                _shift(dq, o, L - o, pos).addcmul_(g, _shift(k, 0, L - o, pos))
            if dk is not None:
                _shift(dk, 0, L - o, pos).addcmul_(g, _shift(q, o, L - o, pos))
        return dq, dk, None, None


class _OffsetMix(torch.autograd.Function):
    """``out[..., l] = sum_j w[..., j, l] v[..., l - o_j]`` (w = 0 if l < o_j).

    w is ``(B, H, K, L)``; v and the output ``(B, H, L, D)`` (``pos=-2``) or
    ``(B, H, D, L)`` (``pos=-1``).
    """

    @staticmethod
    def forward(ctx, w, v, offsets: tuple[int, ...], pos: int):
        L, feat = v.shape[pos], -1 if pos == -2 else -2
        out = torch.zeros_like(v)
        for j, o in enumerate(offsets):
            if o < L:
                _shift(out, o, L - o, pos).addcmul_(
                    w[..., j, o:].unsqueeze(feat), _shift(v, 0, L - o, pos)
                )
        ctx.save_for_backward(w, v)
        ctx.offsets, ctx.pos = offsets, pos
        return out

    @staticmethod
    def backward(ctx, dout):
        w, v = ctx.saved_tensors
        pos = ctx.pos
        L, feat = v.shape[pos], -1 if pos == -2 else -2
        dw = torch.zeros_like(w) if ctx.needs_input_grad[0] else None
        dv = torch.zeros_like(v) if ctx.needs_input_grad[1] else None
        for j, o in enumerate(ctx.offsets):
            if o >= L:
                continue
            d_o = _shift(dout, o, L - o, pos)
            if dw is not None:
                dw[..., j, o:] = (d_o * _shift(v, 0, L - o, pos)).sum(feat)
            if dv is not None:
                _shift(dv, 0, L - o, pos).addcmul_(w[..., j, o:].unsqueeze(feat), d_o)
        return dw, dv, None, None


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, length: int):
    if q.dim() != 4 or q.shape != k.shape or q.shape != v.shape:
        raise ValueError(
            "q, k and v must share one shape (B, H, L, D), got "
            f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if q.shape[-2] != length:
        raise ValueError(
            f"pattern length {length} does not match sequence length {q.shape[-2]}"
        )


def sparse_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    pattern: AttentionPattern,
    dropout_p: float = 0.0,
) -> torch.Tensor:
    """Scaled dot-product attention restricted to a pattern.

    Sparse kinds cost O(B*H*L*K*D) time and O(B*H*L*(K+D)) memory, forward and
    backward (in training on long sequences by kernels compiled with
    ``torch.compile`` where that works, see :mod:`._compiled`); ``"full"``
    routes to
    :func:`torch.nn.functional.scaled_dot_product_attention` with a causal mask.

    Parameters
    ----------
    q, k, v : torch.Tensor
        shape: ``(B, H, L, D)``.
    pattern : AttentionPattern
        From :func:`make_pattern`, with ``pattern.length == L``.
    dropout_p : float, default=0.0
        Dropout on the attention weights (apply only in training).

    Returns
    -------
    torch.Tensor
        shape: ``(B, H, L, D)``.

    Examples
    --------
    >>> import torch
    >>> from sktime_logsparse.nn import make_pattern, sparse_attention
    >>> q = k = v = torch.randn(2, 4, 100, 8)
    >>> sparse_attention(q, k, v, make_pattern("logsparse", 100)).shape
    torch.Size([2, 4, 100, 8])
    """
    _check_qkv(q, k, v, pattern.length)
    if pattern.is_full:
        return F.scaled_dot_product_attention(
            q, k, v, dropout_p=dropout_p, is_causal=True
        )
    if _compiled.wanted(q, pattern.length):
        out = _compiled.compiled_attention(
            q, k, v, pattern, lambda w: dropout(w, dropout_p) if dropout_p else w
        )
        if out is not None:
            return out
    if q.shape[-1] >= POSITIONS_LAST_BELOW:
        return _offset_attention(q, k, v, pattern, dropout_p, pos=-2)
    q, k, v = (x.transpose(-1, -2).contiguous() for x in (q, k, v))
    return _offset_attention(q, k, v, pattern, dropout_p, pos=-1).transpose(-1, -2)


def _offset_attention(q, k, v, pattern: AttentionPattern, dropout_p: float, pos: int):
    """Sparse attention of q, k, v with positions on axis ``pos`` (-2 or -1)."""
    offsets = tuple(pattern.offsets.tolist())
    invalid = ~pattern.valid.T.to(q.device)  # (K, L), the layout of the scores
    D = q.shape[-1 if pos == -2 else -2]
    # scaling the scores, not q: a scaled copy of q would be saved for backward
    scores = _OffsetScores.apply(q, k, offsets, pos) * (1.0 / math.sqrt(D))
    weights = torch.softmax(scores.masked_fill(invalid, float("-inf")), dim=-2)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p)
    return _OffsetMix.apply(weights, v, offsets, pos)


def dense_reference_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, pattern: AttentionPattern
) -> torch.Tensor:
    """Attention with a dense ``(L, L)`` masked score matrix: the test oracle.

    This is what public LogSparse implementations do (O(L^2) memory). It is
    kept only as an independent reference for :func:`sparse_attention`.

    Parameters
    ----------
    q, k, v : torch.Tensor
        shape: ``(B, H, L, D)``.
    pattern : AttentionPattern

    Returns
    -------
    torch.Tensor
        shape: ``(B, H, L, D)``.
    """
    _check_qkv(q, k, v, pattern.length)
    mask = pattern.to_dense().to(q.device)
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


class ConvSelfAttention(nn.Module):
    """Multi-head convolutional self-attention (Li et al., 2019, Sec. 3.2).

    Queries and keys come from a causal 1-D convolution of kernel ``kernel_size``
    over the sequence (left padding ``kernel_size - 1``, so position ``l`` sees
    inputs ``l - kernel_size + 1 .. l``); ``kernel_size=1`` is canonical
    attention. Values come from a pointwise projection.

    Parameters
    ----------
    d_model : int
        Model width; must be divisible by ``n_heads``.
    n_heads : int
        Number of heads, each of width ``d_model // n_heads``.
    kernel_size : int, default=1
        Kernel of the query/key convolution.
    dropout : float, default=0.0
        Dropout on attention weights and on the output.

    Examples
    --------
    >>> import torch
    >>> from sktime_logsparse.nn import ConvSelfAttention, make_pattern
    >>> att = ConvSelfAttention(d_model=16, n_heads=2, kernel_size=3)
    >>> att(torch.randn(4, 30, 16), make_pattern("logsparse", 30)).shape
    torch.Size([4, 30, 16])
    """

    def __init__(
        self, d_model: int, n_heads: int, kernel_size: int = 1, dropout: float = 0.0
    ):
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(
                f"d_model ({d_model}) must be divisible by n_heads ({n_heads})"
            )
        if kernel_size < 1:
            raise ValueError(f"kernel_size must be >= 1, got {kernel_size}")
        self.n_heads = n_heads
        self.kernel_size = kernel_size
        self.query_key = nn.Conv1d(d_model, 2 * d_model, kernel_size)
        self.value = nn.Linear(d_model, d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.dropout = dropout
        self.resid_dropout = Dropout(dropout)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        B, L, C = x.shape
        return x.view(B, L, self.n_heads, C // self.n_heads).transpose(1, 2)

    def project(self, x: torch.Tensor, left: torch.Tensor | None = None):
        """Queries, keys and values of ``x`` in head layout.

        Parameters
        ----------
        x : torch.Tensor
            shape: ``(B, L, C)``.
        left : torch.Tensor, optional
            shape: ``(B, kernel_size - 1, C)``: the inputs just before ``x``
            (a decoding cache). Zeros (causal padding) when omitted.

        Returns
        -------
        tuple of torch.Tensor
            q, k, v, each of shape ``(B, H, L, C // H)``.
        """
        xt = x.transpose(1, 2)  # (B, C, L)
        if left is None:
            xt = F.pad(xt, (self.kernel_size - 1, 0))
        else:
            xt = torch.cat([left.transpose(1, 2), xt], dim=2)
        q, k = self.query_key(xt).transpose(1, 2).chunk(2, dim=-1)
        return self._heads(q), self._heads(k), self._heads(self.value(x))

    def merge(self, y: torch.Tensor) -> torch.Tensor:
        """Merge heads ``(B, H, L, D)`` and apply the output projection."""
        B, H, L, D = y.shape
        y = y.transpose(1, 2).reshape(B, L, H * D)
        return self.resid_dropout(self.proj(y))

    def forward(self, x: torch.Tensor, pattern: AttentionPattern) -> torch.Tensor:
        """Attend over the whole sequence ``x`` of shape ``(B, L, C)``."""
        q, k, v = self.project(x)
        p = self.dropout if self.training else 0.0
        return self.merge(sparse_attention(q, k, v, pattern, dropout_p=p))
