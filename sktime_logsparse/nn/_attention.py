"""Sparse attention over offset patterns, and convolutional self-attention.

The sparse kernel never forms an (L, L) tensor. For a pattern with offsets
``o_0 = 0 < o_1 < ... < o_{K-1}`` the scores are a ``(B, H, K, L)`` tensor,

    s[b, h, j, l] = <q[b, h, l], k[b, h, l - o_j]> / sqrt(D),

computed one offset at a time on shifted views of ``k``. Softmax runs over the
K offsets (invalid ones masked), and the output gathers ``v`` the same way.
Two autograd functions, :class:`_OffsetScores` and :class:`_OffsetMix`, write
their own backward passes so that autograd saves only q, k, v and the
``(B, H, K, L)`` weights, not K shifted copies.

Inside the kernel q, k and v are laid out ``(B, H, D, L)``, positions last.
Every per-offset operation then streams over contiguous rows of length L, and
the reductions over D and over K run across rows instead of along a short
last axis; on CPU this is several times faster than ``(B, H, L, D)`` with a
head width D of 8 to 16 and K around 10.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._pattern import AttentionPattern


class _OffsetScores(torch.autograd.Function):
    """``s[..., j, l] = <q[..., :, l], k[..., :, l - o_j]>``, 0 where l < o_j.

    q and k are ``(B, H, D, L)``; the scores ``(B, H, K, L)``.
    """

    @staticmethod
    def forward(ctx, q, k, offsets: tuple[int, ...]):
        L = q.shape[-1]
        s = q.new_zeros(*q.shape[:-2], len(offsets), L)
        for j, o in enumerate(offsets):
            if o < L:
                s[..., j, o:] = (q[..., o:] * k[..., : L - o]).sum(-2)
        ctx.save_for_backward(q, k)
        ctx.offsets = offsets
        return s

    @staticmethod
    def backward(ctx, ds):
        q, k = ctx.saved_tensors
        L = q.shape[-1]
        dq = torch.zeros_like(q) if ctx.needs_input_grad[0] else None
        dk = torch.zeros_like(k) if ctx.needs_input_grad[1] else None
        for j, o in enumerate(ctx.offsets):
            if o >= L:
                continue
            g = ds[..., j, o:].unsqueeze(-2)
            if dq is not None:
                dq[..., o:].addcmul_(g, k[..., : L - o])
            if dk is not None:
                dk[..., : L - o].addcmul_(g, q[..., o:])
        return dq, dk, None


class _OffsetMix(torch.autograd.Function):
    """``out[..., :, l] = sum_j w[..., j, l] v[..., :, l - o_j]`` (w = 0 if l < o_j).

    w is ``(B, H, K, L)``; v and the output ``(B, H, D, L)``.
    """

    @staticmethod
    def forward(ctx, w, v, offsets: tuple[int, ...]):
        L = v.shape[-1]
        out = torch.zeros_like(v)
        for j, o in enumerate(offsets):
            if o < L:
                out[..., o:].addcmul_(w[..., j, o:].unsqueeze(-2), v[..., : L - o])
        ctx.save_for_backward(w, v)
        ctx.offsets = offsets
        return out

    @staticmethod
    def backward(ctx, dout):
        w, v = ctx.saved_tensors
        L = v.shape[-1]
        dw = torch.zeros_like(w) if ctx.needs_input_grad[0] else None
        dv = torch.zeros_like(v) if ctx.needs_input_grad[1] else None
        for j, o in enumerate(ctx.offsets):
            if o >= L:
                continue
            if dw is not None:
                dw[..., j, o:] = (dout[..., o:] * v[..., : L - o]).sum(-2)
            if dv is not None:
                dv[..., : L - o].addcmul_(w[..., j, o:].unsqueeze(-2), dout[..., o:])
        return dw, dv, None


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
    backward; ``"full"`` routes to
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
    q, k, v = (x.transpose(-1, -2).contiguous() for x in (q, k, v))
    return _positions_last(q, k, v, pattern, dropout_p).transpose(-1, -2)


def _positions_last(q, k, v, pattern: AttentionPattern, dropout_p: float = 0.0):
    """Sparse attention of contiguous ``(B, H, D, L)`` q, k, v; same layout out."""
    offsets = tuple(pattern.offsets.tolist())
    invalid = ~pattern.valid.T.to(q.device)  # (K, L), the layout of the scores
    scores = _OffsetScores.apply(q * (1.0 / math.sqrt(q.shape[-2])), k, offsets)
    weights = torch.softmax(scores.masked_fill(invalid, float("-inf")), dim=-2)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return _OffsetMix.apply(weights, v, offsets)


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


class KVCache:
    """Decoding state of one attention layer.

    A *prefix* of ``start`` positions is encoded once by :meth:`fill` (a
    prefill over ``S`` sequences); decoding then runs on ``S * group`` rows,
    ``group`` consecutive rows sharing one prefix (e.g. sample paths of one
    series), so the prefix keys and values are stored once, not per row. Each
    row keeps the keys and values of its own decoded positions and its last
    ``kernel_size - 1`` layer inputs, which the causal convolution of the next
    query and key needs.
    """

    def fill(self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, kernel_size: int):
        """Store a prefill: inputs ``(S, L, C)``, keys and values ``(S, H, L, D)``."""
        self.start, self.group = x.shape[1], 1
        self.prefix_k, self.prefix_v = k, v
        left = x[:, max(0, x.shape[1] - (kernel_size - 1)) :]
        self.left = F.pad(left, (0, 0, kernel_size - 1 - left.shape[1], 0))
        self.k = self.v = k[:, :, :0]

    def expand(self, group: int, steps: int) -> None:
        """Prepare ``group`` decoding rows per prefix row, for ``steps`` steps."""
        self.group = group
        self.left = self.left.repeat_interleave(group, 0)
        S, H, _, D = self.prefix_k.shape
        self.k = self.prefix_k.new_zeros(S * group, H, steps, D)
        self.v = self.prefix_v.new_zeros(S * group, H, steps, D)

    def append(self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, position: int):
        """Record ``position``: input ``(B, 1, C)``, key, value ``(B, H, 1, D)``."""
        if self.left.shape[1]:  # keep the last kernel_size - 1 inputs
            self.left = torch.cat([self.left[:, 1:], x], dim=1)
        self.k[:, :, position - self.start] = k[:, :, 0]
        self.v[:, :, position - self.start] = v[:, :, 0]

    def attend(self, q: torch.Tensor, pattern: AttentionPattern, position: int):
        """Attention of decoded ``position`` (query ``(B, H, 1, D)``) over its row.

        Reads only the K positions of the pattern row: O(B*H*K*D).
        """
        if pattern.is_full:
            idx = torch.arange(position + 1)
        else:
            pos = torch.tensor([position])
            idx = (pos - pattern.offsets)[pattern.valid_for(pos)[0]]
        own = (idx[idx >= self.start] - self.start).to(q.device)
        pre = idx[idx < self.start].to(q.device)
        B, H, _, D = q.shape
        S, g = B // self.group, self.group
        qg = q.view(S, g, H, D)
        pk, pv = self.prefix_k[:, :, pre], self.prefix_v[:, :, pre]  # (S, H, Kp, D)
        ok, ov = self.k[:, :, own], self.v[:, :, own]  # (B, H, Ko, D)
        scores = torch.cat(
            [
                torch.einsum("sghd,shkd->sghk", qg, pk).reshape(B, H, -1),
                (ok @ q.transpose(-1, -2)).squeeze(-1),
            ],
            dim=-1,
        ) / math.sqrt(D)
        w = torch.softmax(scores, dim=-1)
        wp, wo = w[..., : len(pre)], w[..., len(pre) :]
        out = torch.einsum("sghk,shkd->sghd", wp.view(S, g, H, -1), pv).reshape(B, H, D)
        return out.unsqueeze(-2) + wo.unsqueeze(-2) @ ov  # (B, H, 1, D)


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
        self.resid_dropout = nn.Dropout(dropout)

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

    def forward(
        self,
        x: torch.Tensor,
        pattern: AttentionPattern,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """Attend over the whole sequence ``x`` of shape ``(B, L, C)``.

        With ``cache``, it is filled with this prefix for later :meth:`step`.
        """
        q, k, v = self.project(x)
        if cache is not None:
            cache.fill(x, k, v, self.kernel_size)
        p = self.dropout if self.training else 0.0
        return self.merge(sparse_attention(q, k, v, pattern, dropout_p=p))

    def step(
        self,
        x: torch.Tensor,
        pattern: AttentionPattern,
        position: int,
        cache: KVCache,
    ) -> torch.Tensor:
        """Output of one new position from the cache (eval mode, no dropout).

        Parameters
        ----------
        x : torch.Tensor
            shape: ``(B, 1, C)``, the layer input at ``position``.
        pattern : AttentionPattern
        position : int
            Index of the new step; the positions before it are in ``cache``.
        cache : KVCache
            Updated in place with this step.

        Returns
        -------
        torch.Tensor
            shape: ``(B, 1, C)``.
        """
        q, k, v = self.project(x, left=cache.left)
        cache.append(x, k, v, position)
        return self.merge(cache.attend(q, pattern, position))
