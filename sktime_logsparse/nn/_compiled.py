"""The sparse kernel compiled by ``torch.compile``: an optional path for long sequences.

Eagerly, each offset of the pattern costs a product tensor the size of ``q``
and a reduction of it (see :mod:`._attention`): at long lengths the kernel is
bound by that memory traffic. Compiled by TorchInductor, the product and the
reduction of an offset fuse into one loop over ``q`` and ``k`` that writes only
the scores, and the weighted sum over the offsets into one pass over ``v``;
backward is derived and fused the same way. About 2-3x faster at L = 8,192 on
CPU, identical results to float rounding.

The compiled path is taken only where it pays and can work: in training
(inputs that require a gradient), for sequences of at least
:data:`MIN_LENGTH` positions, when ``torch.compile`` can build a kernel here
(TorchInductor needs a C++ compiler on CPU). The first call of a shape
compiles (tens of seconds); a failure to compile is logged once and the
eager kernel is used from then on. The environment variable
``SKTIME_LOGSPARSE_COMPILE`` chooses: ``auto`` (the default, as above),
``always`` (any length) or ``never``.
"""

from __future__ import annotations

import logging
import math
import os
import threading

import torch
import torch.nn.functional as F

from ._pattern import AttentionPattern

logger = logging.getLogger(__name__)

#: sequences shorter than this stay eager under ``auto``: compiling takes tens
#: of seconds, which a short sequence's training does not win back
MIN_LENGTH = 2048
ENV = "SKTIME_LOGSPARSE_COMPILE"
MODES = ("auto", "always", "never")

_lock = threading.Lock()
_failed = False  # compiling failed once: eager from then on
_kernels: dict[tuple[int, ...], tuple] = {}


def compile_mode() -> str:
    """``SKTIME_LOGSPARSE_COMPILE``, validated; ``auto`` when unset.

    Raises
    ------
    ValueError
        If the variable holds anything but ``auto``, ``always`` or ``never``.
    """
    mode = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if mode not in MODES:
        raise ValueError(f"{ENV} must be one of {MODES}, got {mode!r}")
    return mode


def wanted(q: torch.Tensor, length: int) -> bool:
    """Whether a call on ``q`` of ``length`` positions takes the compiled path."""
    mode = compile_mode()
    if mode == "never" or _failed or not q.requires_grad:
        return False
    return mode == "always" or length >= MIN_LENGTH


def _scores(q, k, offsets: tuple[int, ...]):
    """``s[..., j, l] = <q[..., l, :], k[..., l - o_j, :]>``, 0 where l < o_j."""
    L = q.shape[-2]
    cols = [
        F.pad((q[..., o:, :] * k[..., : L - o, :]).sum(-1), (o, 0)) for o in offsets
    ]
    return torch.stack(cols, -2)


def _mix(w, v, offsets: tuple[int, ...]):
    """``out[..., l, :] = sum_j w[..., j, l] v[..., l - o_j, :]``."""
    L = v.shape[-2]
    out = None
    for j, o in enumerate(offsets):
        part = F.pad(w[..., j, o:].unsqueeze(-1) * v[..., : L - o, :], (0, 0, o, 0))
        out = part if out is None else out + part
    return out


def _kernels_for(offsets: tuple[int, ...]):
    with _lock:
        if offsets not in _kernels:
            _kernels[offsets] = (
                torch.compile(_scores, dynamic=False),
                torch.compile(_mix, dynamic=False),
            )
        return _kernels[offsets]


def compiled_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    pattern: AttentionPattern,
    dropout,
) -> torch.Tensor | None:
    """Sparse attention of ``(B, H, L, D)`` inputs by the compiled kernels.

    ``dropout(weights)`` is applied to the attention weights between the two
    kernels. None if compiling failed (then logged, and never tried again).
    """
    global _failed
    offsets = tuple(int(o) for o in pattern.offsets.tolist())
    invalid = ~pattern.valid.T.to(q.device)
    scores_fn, mix_fn = _kernels_for(offsets)
    try:
        scores = scores_fn(q, k, offsets) * (1.0 / math.sqrt(q.shape[-1]))
        weights = dropout(
            torch.softmax(scores.masked_fill(invalid, float("-inf")), dim=-2)
        )
        return mix_fn(weights, v, offsets)
    except Exception as err:  # no compiler, or a backend that cannot build it
        _failed = True
        logger.warning(
            "torch.compile of the sparse attention kernel failed (%s: %s); "
            "using the eager kernel. Set %s=never to skip the attempt.",
            type(err).__name__,
            err,
            ENV,
        )
        return None
