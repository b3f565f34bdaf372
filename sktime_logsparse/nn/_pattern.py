"""Attention patterns: which earlier positions each position attends to.

Every sparse pattern here is stored as a table of *offsets* shared by all rows
plus a per-row validity mask: row ``l`` attends to ``l - offsets[j]`` wherever
``valid[l, j]`` is true. The table costs O(L*K) memory, never O(L^2), and the
shared offsets let the attention kernel work on shifted views of the keys and
values instead of gathering them.

A row's set does not depend on the total length ``L`` (only on ``l`` and the
pattern's parameters), so a pattern built for a longer sequence agrees with a
shorter one on their common rows. Incremental decoding relies on this.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

#: The attention pattern kinds of :func:`make_pattern`
KINDS = ("logsparse", "local", "restart", "local_restart", "full")


@dataclass(frozen=True)
class AttentionPattern:
    """Which earlier positions each position attends to.

    Parameters
    ----------
    kind : str
        One of ``"logsparse"``, ``"local"``, ``"restart"``, ``"local_restart"``,
        ``"full"``.
    length : int
        Sequence length ``L``.
    offsets : torch.Tensor or None
        shape: ``(K,)``, long, strictly increasing, ``offsets[0] == 0``. Row ``l``
        attends to ``l - offsets[j]``. ``None`` for ``"full"``.
    valid : torch.Tensor or None
        shape: ``(L, K)``, bool: whether ``l - offsets[j]`` is attended. Column 0
        (the position itself) is always true, so no row is empty. ``None`` for
        ``"full"``.
    local_window : int
        Size of the dense left window (0 for the pure LogSparse kinds).
    sub_len : int or None
        Subsequence length of the restart kinds.
    """

    kind: str
    length: int
    offsets: torch.Tensor | None
    valid: torch.Tensor | None
    local_window: int = 0
    sub_len: int | None = None

    @property
    def is_full(self) -> bool:
        """Whether this is ordinary causal attention (no offset table)."""
        return self.kind == "full"

    @property
    def width(self) -> int:
        """Number of offset columns ``K`` (``L`` for full attention)."""
        return self.length if self.offsets is None else int(self.offsets.numel())

    def row(self, position: int) -> list[int]:
        """Attended positions of one row, ascending.

        Parameters
        ----------
        position : int
            Row index ``l`` with ``0 <= l < length``.

        Returns
        -------
        list of int
        """
        if not 0 <= position < self.length:
            raise ValueError(f"position must be in [0, {self.length}), got {position}")
        if self.is_full:
            return list(range(position + 1))
        cols = self.valid[position].nonzero().flatten()
        return sorted((position - self.offsets[cols]).tolist())

    def valid_for(self, positions: torch.Tensor) -> torch.Tensor:
        """Validity rows for arbitrary positions (used by incremental decoding).

        Parameters
        ----------
        positions : torch.Tensor
            shape: ``(N,)``, long positions ``>= 0``; may exceed ``length``.

        Returns
        -------
        torch.Tensor
            shape: ``(N, K)``, bool.
        """
        if self.is_full:
            raise ValueError("valid_for is defined for sparse patterns only")
        return _validity(positions, self.offsets, self.sub_len)

    def to_dense(self) -> torch.Tensor:
        """Dense ``(L, L)`` boolean mask, ``mask[l, m]`` true if l attends to m.

        O(L^2) memory: for tests and the reference implementation only.
        """
        L = self.length
        if self.is_full:
            return torch.ones(L, L, dtype=torch.bool).tril()
        rows = torch.arange(L).unsqueeze(1).expand(L, self.width)
        cols = rows - self.offsets
        mask = torch.zeros(L, L, dtype=torch.bool)
        mask[rows[self.valid], cols[self.valid]] = True
        return mask


def _log_offsets(max_offset: int, start: int = 0) -> list[int]:
    """``start + 2^j`` for ``j >= 0`` while it does not exceed ``max_offset``."""
    out, step = [], 1
    while start + step <= max_offset:
        out.append(start + step)
        step *= 2
    return out


def _validity(
    positions: torch.Tensor, offsets: torch.Tensor, sub_len: int | None
) -> torch.Tensor:
    """``(N, K)`` bool: target ``l - o`` exists and lies in ``l``'s subsequence."""
    positions = positions.reshape(-1, 1)
    first = (
        torch.zeros_like(positions)
        if sub_len is None
        else positions // sub_len * sub_len
    )
    return positions - offsets.reshape(1, -1) >= first


def make_pattern(
    kind: str,
    length: int,
    *,
    local_window: int | None = None,
    sub_len: int | None = None,
) -> AttentionPattern:
    """Build the attention pattern of one kind for sequences of ``length``.

    Parameters
    ----------
    kind : {"logsparse", "local", "restart", "local_restart", "full"}
        ``"logsparse"``: row ``l`` is ``{l} U {l - 2^j : j >= 0, l - 2^j >= 0}``.
        ``"local"``: the ``local_window`` previous positions densely, then jumps
        ``2^j`` back from the window edge (offsets ``w + 2^j``).
        ``"restart"``: LogSparse inside consecutive subsequences of ``sub_len``
        positions (positions ``[0, sub_len)``, ``[sub_len, 2 sub_len)``, ...).
        ``"local_restart"``: the local pattern inside those subsequences.
        ``"full"``: ordinary causal attention (computed by SDPA).
    length : int
        Sequence length ``L >= 1``.
    local_window : int, optional
        Dense window of the local kinds. Default ``ceil(log2 L)`` for
        ``"local"`` and ``ceil(log2 sub_len)`` for ``"local_restart"``.
    sub_len : int, optional
        Subsequence length of the restart kinds. Default ``ceil(L / 4)``, so a
        window holds four subsequences (the paper takes it proportional to L).
        Pass it explicitly when rows must not depend on ``L``.

    Returns
    -------
    AttentionPattern

    Examples
    --------
    >>> from sktime_logsparse.nn import make_pattern
    >>> p = make_pattern("logsparse", 16)
    >>> p.row(13)
    [5, 9, 11, 12, 13]
    >>> p.width
    5
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not isinstance(length, int) or isinstance(length, bool) or length < 1:
        raise ValueError(f"length must be a positive int, got {length!r}")
    if kind == "full":
        return AttentionPattern(kind, length, None, None)

    restart = kind in ("restart", "local_restart")
    if restart:
        if sub_len is None:
            sub_len = max(1, math.ceil(length / 4))
        if not isinstance(sub_len, int) or isinstance(sub_len, bool) or sub_len < 1:
            raise ValueError(f"sub_len must be a positive int, got {sub_len!r}")
    else:
        sub_len = None
    # the largest offset any row can use: the row's distance to its first target
    span = length if sub_len is None else min(length, sub_len)
    max_offset = span - 1

    if kind in ("local", "local_restart"):
        if local_window is None:
            # ceil(log2 L) for "local", ceil(log2 sub_len) for "local_restart"
            basis = length if sub_len is None else sub_len
            local_window = max(1, math.ceil(math.log2(max(basis, 2))))
        if (
            not isinstance(local_window, int)
            or isinstance(local_window, bool)
            or local_window < 0
        ):
            raise ValueError(
                f"local_window must be a non-negative int, got {local_window!r}"
            )
        w = min(local_window, max_offset)
        offsets = list(range(w + 1)) + _log_offsets(max_offset, start=w)
    else:
        w = 0
        offsets = [0, *_log_offsets(max_offset)]

    offsets_t = torch.tensor(offsets, dtype=torch.long)
    valid = _validity(torch.arange(length), offsets_t, sub_len)
    return AttentionPattern(kind, length, offsets_t, valid, w, sub_len)
