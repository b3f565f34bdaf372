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
from typing import NamedTuple

import torch
import torch.nn.functional as F

from ._attention import ConvSelfAttention, sparse_attention
from ._network import Block, LogSparseTransformer
from ._pattern import AttentionPattern


class KVCache:
    """Decoding state of one attention layer.

    A *prefix* of ``start`` positions is encoded once by :meth:`fill` (a
    prefill over ``S`` sequences); decoding then runs on ``B = S * group``
    rows, ``group`` consecutive rows sharing one prefix (e.g. sample paths of
    one series), so the prefix keys and values are stored once, not per row.
    Each row keeps the keys and values of its own decoded positions and its
    last ``kernel_size - 1`` layer inputs, which the causal convolution of the
    next query and key needs.

    Decoding works rows-last: queries, keys and values are ``(D, H, B)``,
    as the projections of a step produce them (see :func:`_attention_step`),
    so that storing them copies contiguous memory and the product with the
    query and the reduction over D stream over contiguous runs of ``H * B``.
    The prefix is kept ``(L, D, H, S)``: position ``p``'s keys broadcast
    over the ``group`` rows of each prefix row as ``(D, H, S, 1)``.
    """

    def fill(
        self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attn: ConvSelfAttention
    ):
        """Store a prefill of ``attn``: inputs, keys and values.

        Inputs are ``(S, L, C)``, keys and values ``(S, H, L, D)``; the layer's
        projections are kept as the decoding steps use them (:class:`_StepWeights`).
        """
        kernel_size = attn.kernel_size
        self.weights = _StepWeights.of(attn)
        self.start, self.group = x.shape[1], 1
        left = x[:, max(0, x.shape[1] - (kernel_size - 1)) :]
        self.left = F.pad(left, (0, 0, kernel_size - 1 - left.shape[1], 0))
        self.prefix_k = k.permute(2, 3, 1, 0).contiguous()  # (L, D, H, S)
        self.prefix_v = v.permute(2, 3, 1, 0).contiguous()
        self.k = self.v = None

    @property
    def rows(self) -> int:
        """Decoding rows ``B``."""
        return self.prefix_k.shape[-1] * self.group

    def expand(self, group: int, steps: int) -> None:
        """Prepare ``group`` decoding rows per prefix row, for ``steps`` steps."""
        self.group = group
        self.left = self.left.repeat_interleave(group, 0)
        _, D, H, S = self.prefix_k.shape
        # every position is written (append, extend) before it is read
        self.k = self.prefix_k.new_empty(steps, D, H, S * group)
        self.v = self.prefix_v.new_empty(steps, D, H, S * group)

    def append(
        self, window: torch.Tensor, k: torch.Tensor, v: torch.Tensor, position: int
    ):
        """Record ``position``: its window, key and value.

        The window ``(B, kernel_size, C)`` holds the inputs of the causal
        convolution (the last ``kernel_size - 1`` inputs, then its own); key
        and value are ``(D, H, B)``.
        """
        self.left = window[:, 1:]
        self.k[position - self.start] = k
        self.v[position - self.start] = v

    def extend(self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, position: int):
        """Record ``m`` positions from ``position`` on (as ``m`` :meth:`append`).

        Layer inputs ``(B, m, C)``, keys and values ``(B, H, m, D)``.
        """
        m = x.shape[1]
        self.left = torch.cat([self.left, x], dim=1)[:, m:]
        at = position - self.start
        self.k[at : at + m] = k.permute(2, 3, 1, 0)
        self.v[at : at + m] = v.permute(2, 3, 1, 0)

    def attend(self, q: torch.Tensor, pattern: AttentionPattern, position: int):
        """Attention of decoded ``position`` (query ``(D, H, B)``) over its row.

        Reads only the K positions of the pattern row: O(B*H*K*D). Returns
        ``(D, H, B)``.
        """
        if pattern.is_full:
            idx = torch.arange(position + 1)
        else:
            pos = torch.tensor([position])
            idx = (pos - pattern.offsets)[pattern.valid_for(pos)[0]]
        own = (idx[idx >= self.start] - self.start).tolist()
        pre = idx[idx < self.start].to(q.device)
        D, H, B = q.shape
        S, g, n_pre = B // self.group, self.group, len(pre)
        scores = q.new_empty(n_pre + len(own), H, B)
        if n_pre:  # the prefix keys of each row's series, broadcast over its rows
            keys = self.prefix_k.index_select(0, pre).unsqueeze(-1)  # (n, D, H, S, 1)
            by_series = q.view(1, D, H, S, g)
            scores[:n_pre] = (keys * by_series).sum(1).view(n_pre, H, B)
        for i, j in enumerate(own, start=n_pre):
            torch.sum(self.k[j] * q, 0, out=scores[i])
        w = torch.softmax(scores.mul_(1.0 / math.sqrt(D)), dim=0)  # (K, H, B)
        out = self.v[own[0]] * w[n_pre]  # (D, H, B)
        for i, j in enumerate(own[1:], start=n_pre + 1):
            out.addcmul_(self.v[j], w[i])
        if n_pre:  # prefix values weighted per row
            values = self.prefix_v.index_select(0, pre)  # (n, D, H, S)
            w_pre = w[:n_pre].view(n_pre, 1, H, S, g)
            by_series = out.view(D, H, S, g)
            for i in range(n_pre):
                by_series.addcmul_(values[i].unsqueeze(-1), w_pre[i])
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
            cache.fill(a, k, v, attn)
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
            q = q.permute(2, 3, 1, 0).contiguous()  # (m, D, H, B): one per position
            y = [cache.attend(q_i, pattern, position + i) for i, q_i in enumerate(q)]
            h = h + attn.merge(torch.stack(y).permute(3, 2, 0, 1))  # (B, H, m, D)
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
    """Convolutional self-attention of one position ``(B, 1, C)``.

    The projections are computed rows-last, ``W @ inputs^T``, with their
    output features ordered ``(D, H)``: queries, keys and values come out
    ``(D, H, B)``, the layout of the cache, without a transposed copy.
    """
    B, _, C = x.shape
    D, H = C // attn.n_heads, attn.n_heads
    w = cache.weights
    window = torch.cat([cache.left, x], dim=1)  # (B, kernel_size, C)
    # the convolution at one position is a linear map of its window
    qk = torch.addmm(w.qk_bias, w.qk, window.reshape(B, -1).T).view(2, D, H, B)
    v = torch.addmm(w.value_bias, w.value, x[:, 0].T).view(D, H, B)
    cache.append(window, qk[1], v, position)
    y = cache.attend(qk[0], pattern, position).view(C, B)  # features (D, H)
    out = F.linear(y.T, w.proj, attn.proj.bias)
    return attn.resid_dropout(out).unsqueeze(1)


class _StepWeights(NamedTuple):
    """A layer's projections for one decoding step, output features ``(D, H)``.

    The rows of the query/key convolution (as a linear map of the window) and
    of the value projection, and the columns of the output projection, are
    reordered from ``(H, D)`` to ``(D, H)`` once per prefill, so that a step
    computes ``W @ inputs^T`` straight into the cache's ``(D, H, B)`` layout.
    """

    qk: torch.Tensor
    qk_bias: torch.Tensor
    value: torch.Tensor
    value_bias: torch.Tensor
    proj: torch.Tensor

    @classmethod
    def of(cls, attn: ConvSelfAttention) -> _StepWeights:
        conv, C, H = attn.query_key, attn.value.in_features, attn.n_heads
        D = C // H

        def rows(w: torch.Tensor, n: int) -> torch.Tensor:  # (n, H, D) -> (n, D, H)
            return w.reshape(n, H, D, -1).transpose(1, 2).reshape(n * C, -1)

        return cls(
            qk=rows(conv.weight.transpose(1, 2).reshape(2 * C, -1), 2),
            qk_bias=rows(conv.bias.unsqueeze(1), 2),
            value=rows(attn.value.weight, 1),
            value_bias=rows(attn.value.bias.unsqueeze(1), 1),
            proj=attn.proj.weight.view(C, H, D).transpose(1, 2).reshape(C, C),
        )
