"""Model inputs for windows of a series: shared by training and sampling.

A window of length ``W = context_length + prediction_length`` is described by
``R + W`` consecutive raw values ``raw``, whose last ``W`` are the window's
targets and whose first ``R = max(1, *lags)`` are the history the inputs need,
and by the covariates of its ``W`` steps. Step ``t`` of the network input is
``[z_{t-1} / scale, z_{t-1} observed, z_{t-l} / scale for l in lags,
covariates_t]``. NaN marks a missing or padded value: it is forward-filled in
the input, flagged by the indicator, and left out of the likelihood. The scale
is ``1 + mean |z|`` over the observed targets of the conditioning range only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .nn import mean_abs_scale


@dataclass
class WindowBatch:
    """Network inputs and targets of a batch of windows.

    Attributes
    ----------
    x : torch.Tensor
        shape: ``(B, W, 2 + C)``, the network input.
    target : torch.Tensor
        shape: ``(B, W)``, NaN replaced by 0 (see ``observed``).
    observed : torch.Tensor
        shape: ``(B, W)``, bool: whether the target takes part in the loss.
    scale : torch.Tensor
        shape: ``(B,)``.
    """

    x: torch.Tensor
    target: torch.Tensor
    observed: torch.Tensor
    scale: torch.Tensor


def forward_fill(values: torch.Tensor) -> torch.Tensor:
    """Fill NaN along the last axis with the previous non-NaN value, else 0."""
    observed = ~torch.isnan(values)
    n = values.shape[-1]
    pos = torch.arange(n, device=values.device).expand_as(values)
    last = torch.where(observed, pos, torch.full_like(pos, -1)).cummax(-1).values
    filled = values.gather(-1, last.clamp_min(0))
    return torch.where(last >= 0, filled, torch.zeros_like(filled))


def build_window(
    raw: torch.Tensor,
    covariates: torch.Tensor,
    context_length: int,
    scaling: bool = True,
    scale: torch.Tensor | None = None,
    lags: tuple[int, ...] = (),
) -> WindowBatch:
    """Assemble the network input of windows.

    Parameters
    ----------
    raw : torch.Tensor
        shape: ``(B, R + W)`` with ``R >= max(1, *lags)``; NaN for missing or
        padded values.
    covariates : torch.Tensor
        shape: ``(B, W, C)``; covariates of the ``W`` target steps.
    context_length : int
        Conditioning range: the scale uses targets ``0 .. context_length - 1``.
    scaling : bool, default=True
        Mean scaling; if False the scale is 1.
    scale : torch.Tensor, optional
        shape: ``(B,)``; use this scale instead of computing it.
    lags : tuple of int, default=()
        Further lagged targets in the input (e.g. one season back).

    Returns
    -------
    WindowBatch
    """
    W = covariates.shape[1]
    R = raw.shape[1] - W
    lag, target = raw[:, R - 1 : -1], raw[:, R:]
    observed = ~torch.isnan(target)
    if scale is None:
        if scaling:
            scale = mean_abs_scale(
                target[:, :context_length], observed[:, :context_length]
            )
        else:
            scale = torch.ones(raw.shape[0], dtype=raw.dtype, device=raw.device)
    filled = forward_fill(raw) / scale.unsqueeze(-1)
    parts = [filled[:, R - 1 : -1], (~torch.isnan(lag)).to(raw.dtype)]
    parts += [filled[:, R - lag_ : R - lag_ + W] for lag_ in lags]
    x = torch.cat([torch.stack(parts, dim=-1), covariates], dim=-1)
    target = torch.where(observed, target, torch.zeros_like(target))
    return WindowBatch(x, target, observed, scale)
