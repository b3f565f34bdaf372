"""Incremental decoding: the per-layer KV cache, prefill and one-step decoding.

Sampling a forecast runs the network once over the conditioning range
(:func:`prefill`), which fills one :class:`KVCache` per layer, and then one
position at a time (:func:`decode_step`): each layer computes the query, key
and value of the new position only (the causal convolution reads the last
``kernel_size - 1`` layer inputs kept in the cache) and attends over the K
cached positions of its pattern row. :func:`decode_positions` runs several
known positions at once (teacher forcing: inputs that do not depend on the
outputs). In eval mode the result equals :meth:`LogSparseTransformer.forward`
over the whole sequence.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._attention import ConvSelfAttention, sparse_attention
from ._network import Block, LogSparseTransformer
from ._pattern import AttentionPattern


class KVCache:
    """Decoding state of one attention layer.

    A *prefix* of ``start`` positions is encoded once by :meth:`fill` (a
    prefill over ``S`` sequences); decoding then runs on ``S * group`` rows,
    ``group`` consecutive rows sharing one prefix (e.g. sample paths of one
    series), so the prefix keys and values are stored once, not per row. Each
    row keeps the keys and values of its own decoded positions and its last
    ``kernel_size - 1`` layer inputs, which the causal convolution of the next
    query and key needs.

    The prefix keys and values stay ``(S, H, L, D)``: a row attends to them
    by one batched matrix product per series and head (its ``group`` queries
    against the few prefix positions of the pattern row). A row's own keys
    and values are stored ``(positions, D, rows, H)``, so the product with the
    query and the reduction over D stream over contiguous runs of
    ``rows * H`` instead of along a short last axis.
    """

    def fill(self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, kernel_size: int):
        """Store a prefill: inputs ``(S, L, C)``, keys and values ``(S, H, L, D)``."""
        self.start, self.group = x.shape[1], 1
        left = x[:, max(0, x.shape[1] - (kernel_size - 1)) :]
        self.left = F.pad(left, (0, 0, kernel_size - 1 - left.shape[1], 0))
        self.prefix_k, self.prefix_v = k.contiguous(), v.contiguous()
        self.k = self.v = None

    def expand(self, group: int, steps: int) -> None:
        """Prepare ``group`` decoding rows per prefix row, for ``steps`` steps."""
        self.group = group
        self.left = self.left.repeat_interleave(group, 0)
        S, H, _, D = self.prefix_k.shape
        # every position is written (append, extend) before it is read
        self.k = self.prefix_k.new_empty(steps, D, S * group, H)
        self.v = self.prefix_v.new_empty(steps, D, S * group, H)

    def append(
        self, window: torch.Tensor, k: torch.Tensor, v: torch.Tensor, position: int
    ):
        """Record ``position``: its window, key and value.

        The window ``(B, kernel_size, C)`` holds the inputs of the causal
        convolution (the last ``kernel_size - 1`` inputs, then its own); key
        and value are ``(B, H, D)``.
        """
        self.left = window[:, 1:]
        self.k[position - self.start] = k.permute(2, 0, 1)
        self.v[position - self.start] = v.permute(2, 0, 1)

    def extend(self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, position: int):
        """Record ``m`` positions from ``position`` on (as ``m`` :meth:`append`).

        Layer inputs ``(B, m, C)``, keys and values ``(B, H, m, D)``.
        """
        m = x.shape[1]
        self.left = torch.cat([self.left, x], dim=1)[:, m:]
        at = position - self.start
        self.k[at : at + m] = k.permute(2, 3, 0, 1)
        self.v[at : at + m] = v.permute(2, 3, 0, 1)

    def attend(self, q: torch.Tensor, pattern: AttentionPattern, position: int):
        """Attention of decoded ``position`` (query ``(B, H, D)``) over its row.

        Reads only the K positions of the pattern row: O(B*H*K*D). Returns
        ``(B, H, D)``.
        """
        if pattern.is_full:
            idx = torch.arange(position + 1)
        else:
            pos = torch.tensor([position])
            idx = (pos - pattern.offsets)[pattern.valid_for(pos)[0]]
        own = (idx[idx >= self.start] - self.start).tolist()
        pre = idx[idx < self.start].to(q.device)
        B, H, D = q.shape
        S, g, n_pre = B // self.group, self.group, len(pre)
        scores = q.new_empty(n_pre + len(own), B, H)
        if n_pre:  # (S, H, g, D) queries @ (S, H, D, n_pre) keys, per series
            by_series = q.view(S, g, H, D).transpose(1, 2)
            keys = self.prefix_k.index_select(2, pre).transpose(-1, -2)
            pre_scores = torch.matmul(by_series, keys)  # (S, H, g, n_pre)
            scores[:n_pre] = pre_scores.permute(3, 0, 2, 1).reshape(n_pre, B, H)
        q_rows = q.permute(2, 0, 1).contiguous()  # (D, B, H), as the own keys
        for i, j in enumerate(own, start=n_pre):
            torch.sum(self.k[j] * q_rows, 0, out=scores[i])
        w = torch.softmax(scores.mul_(1.0 / math.sqrt(D)), dim=0)  # (K, B, H)
        out = self.v[own[0]] * w[n_pre]  # (D, B, H)
        for i, j in enumerate(own[1:], start=n_pre + 1):
            out.addcmul_(self.v[j], w[i])
        out = out.permute(1, 2, 0)  # (B, H, D)
        if n_pre:  # (S, H, g, n_pre) weights @ (S, H, n_pre, D) values
            w_pre = w[:n_pre].view(n_pre, S, g, H).permute(1, 3, 2, 0)
            mixed = torch.matmul(w_pre, self.prefix_v.index_select(2, pre))
            out = out + mixed.transpose(1, 2).reshape(B, H, D)
        return out


@torch.no_grad()
def prefill(
    network: LogSparseTransformer,
    x: torch.Tensor,
    series_id: torch.Tensor | None = None,
    group: int = 1,
    steps: int | None = None,
) -> tuple[torch.Tensor, list[KVCache]]:
    """Run ``network`` (eval mode) over a prefix and return decoding caches too.

    Parameters
    ----------
    network : LogSparseTransformer
    x : torch.Tensor
        shape: ``(S, L, n_inputs)``, positions ``0 .. L - 1``.
    series_id : torch.Tensor or None
        shape: ``(S,)``.
    group : int, default=1
        Decoding rows per prefix row: :func:`decode_step` then takes
        ``S * group`` rows, consecutive groups of ``group`` continuing one
        prefix.
    steps : int, optional
        Positions to decode; default up to ``max_length``.

    Returns
    -------
    params : torch.Tensor
        shape: ``(S, L, likelihood.args_dim)``.
    caches : list of KVCache
        One per layer, for :func:`decode_step`.
    """
    L = x.shape[1]
    pattern = network.pattern(L)
    caches = [KVCache() for _ in network.blocks]
    with network.autocast(x.device.type):
        h = network.embed(x, series_id)
        for block, cache in zip(network.blocks, caches, strict=True):
            attn = block.attn
            a = block.ln_1(h)
            q, k, v = attn.project(a)
            cache.fill(a, k, v, attn.kernel_size)
            h = h + attn.merge(sparse_attention(q, k, v, pattern))
            h = h + block.mlp(block.ln_2(h))
    remaining = network.config.max_length - L if steps is None else steps
    for cache in caches:
        cache.expand(group, remaining)
    return network.output(h, x), caches


@torch.no_grad()
def decode_step(
    network: LogSparseTransformer,
    x: torch.Tensor,
    series_id: torch.Tensor | None,
    position: int,
    caches: list[KVCache],
) -> torch.Tensor:
    """Distribution parameters of one new position, from the caches.

    Equals ``network(...)`` of the whole sequence at ``position`` (eval mode)
    at the cost of one position.

    Parameters
    ----------
    network : LogSparseTransformer
    x : torch.Tensor
        shape: ``(B, 1, n_inputs)``, the input at ``position``.
    series_id : torch.Tensor or None
    position : int
        ``0 .. position - 1`` were decoded (prefill or earlier steps).
    caches : list of KVCache
        Updated in place.

    Returns
    -------
    torch.Tensor
        shape: ``(B, 1, likelihood.args_dim)``.
    """
    pattern = network.pattern(network.config.max_length)
    with network.autocast(x.device.type):
        h = network.embed(x, series_id, start=position)
        for block, cache in zip(network.blocks, caches, strict=True):
            h = _block_step(block, h, pattern, position, cache)
    return network.output(h, x)


@torch.no_grad()
def decode_positions(
    network: LogSparseTransformer,
    x: torch.Tensor,
    series_id: torch.Tensor | None,
    position: int,
    caches: list[KVCache],
) -> torch.Tensor:
    """Distribution parameters of ``m`` known positions at once, from the caches.

    Equals ``m`` calls of :func:`decode_step` (positions ``position`` to
    ``position + m - 1``), with the projections and the MLP of the ``m``
    positions batched: for inputs known in advance (teacher forcing).

    Parameters
    ----------
    network : LogSparseTransformer
    x : torch.Tensor
        shape: ``(B, m, n_inputs)``.
    series_id : torch.Tensor or None
    position : int
        ``0 .. position - 1`` were decoded (prefill or earlier steps).
    caches : list of KVCache
        Updated in place.

    Returns
    -------
    torch.Tensor
        shape: ``(B, m, likelihood.args_dim)``.
    """
    pattern = network.pattern(network.config.max_length)
    with network.autocast(x.device.type):
        h = network.embed(x, series_id, start=position)
        for block, cache in zip(network.blocks, caches, strict=True):
            attn = block.attn
            a = block.ln_1(h)
            q, k, v = attn.project(a, left=cache.left)  # (B, H, m, D)
            cache.extend(a, k, v, position)
            q = q.permute(2, 0, 1, 3).contiguous()  # one query per position
            y = [cache.attend(q_i, pattern, position + i) for i, q_i in enumerate(q)]
            h = h + attn.merge(torch.stack(y, 2))
            h = h + block.mlp(block.ln_2(h))
    return network.output(h, x)


def _block_step(
    block: Block, x: torch.Tensor, pattern: AttentionPattern, position: int, cache
) -> torch.Tensor:
    """One position ``(B, 1, C)`` through a pre-LN block."""
    x = x + _attention_step(block.attn, block.ln_1(x), pattern, position, cache)
    return x + block.mlp(block.ln_2(x))


def _attention_step(
    attn: ConvSelfAttention,
    x: torch.Tensor,
    pattern: AttentionPattern,
    position: int,
    cache: KVCache,
) -> torch.Tensor:
    """Convolutional self-attention of one position ``(B, 1, C)``."""
    B, _, C = x.shape
    H = attn.n_heads
    window = torch.cat([cache.left, x], dim=1)  # (B, kernel_size, C)
    # the convolution at one position is a linear map of its window
    weight = attn.query_key.weight.transpose(1, 2).reshape(2 * C, -1)
    qk = F.linear(window.reshape(B, -1), weight, attn.query_key.bias)
    q, k = qk.view(B, 2, H, C // H).unbind(1)
    v = attn.value(x[:, 0]).view(B, H, C // H)
    cache.append(window, k, v, position)
    y = cache.attend(q, pattern, position).reshape(B, 1, C)
    return attn.resid_dropout(attn.proj(y))
