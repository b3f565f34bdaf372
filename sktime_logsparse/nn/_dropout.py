"""Dropout whose random mask costs what it should on the CPU.

Torch's CPU dropout draws one Bernoulli variable per element from its
Mersenne Twister, about 8 ns each: for the small networks of this package the
masks took a third of a training step (``benchmarks/training.py``). Here one
64-bit draw of the same generator gives the masks of four elements (16 bits
each), and the drop probability is rounded to a multiple of 1/65536 (0.1
becomes 0.100006), with the kept values scaled by the exact inverse of the
keep probability, so the expected output still equals the input. On other
devices torch's own fused dropout is used. ``torch.manual_seed`` governs both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_LEVELS = 1 << 16  # a mask element is 16 random bits


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """Zero each element of ``x`` with probability ``p``, scale the rest.

    Examples
    --------
    >>> import torch
    >>> from sktime_logsparse.nn import dropout
    >>> _ = torch.manual_seed(0)
    >>> y = dropout(torch.ones(100_000), 0.1)
    >>> round(float((y == 0).float().mean()), 2), round(float(y.mean()), 2)
    (0.1, 1.0)
    """
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu":
        return F.dropout(x, p, True)
    drop = min(max(1, round(p * _LEVELS)), _LEVELS - 1)
    n = x.numel()
    words = torch.randint(-(2**63), 2**63 - 1, ((n + 3) // 4,), dtype=torch.int64)
    bits = words.view(torch.int16)[:n].view(x.shape)  # uniform on [-2^15, 2^15)
    keep = bits >= drop - _LEVELS // 2  # probability 1 - drop / 2^16
    return x * (keep.to(x.dtype) * (_LEVELS / (_LEVELS - drop)))


class Dropout(nn.Module):
    """:func:`dropout` as a module (active in training mode), like ``nn.Dropout``."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
