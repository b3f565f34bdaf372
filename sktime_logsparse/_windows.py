"""Model inputs for windows of a series: shared by training and sampling.

A window of length ``W = context_length + prediction_length`` is described by
``W + 1`` consecutive raw values ``raw`` (``raw[:, 0]`` is the value just before
the window) and the covariates of its ``W`` steps. Step ``t`` of the network
input is ``[lag / scale, lag observed, covariates_t]`` with ``lag = raw[:, t]``;
its target is ``raw[:, t + 1]``. NaN marks a missing or padded value: it is
forward-filled in the input, flagged by the indicator, and left out of the
likelihood. The scale is ``1 + mean |z|`` over the observed targets of the
conditioning range only.
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
) -> WindowBatch:
    """Assemble the network input of windows.

    Parameters
    ----------
    raw : torch.Tensor
        shape: ``(B, W + 1)``; NaN for missing or padded values.
    covariates : torch.Tensor
        shape: ``(B, W, C)``; covariates of the ``W`` target steps.
    context_length : int
        Conditioning range: the scale uses targets ``0 .. context_length - 1``.
    scaling : bool, default=True
        Mean scaling; if False the scale is 1.
    scale : torch.Tensor, optional
        shape: ``(B,)``; use this scale instead of computing it.

    Returns
    -------
    WindowBatch
    """
    lag, target = raw[:, :-1], raw[:, 1:]
    observed = ~torch.isnan(target)
    if scale is None:
        if scaling:
            scale = mean_abs_scale(
                target[:, :context_length], observed[:, :context_length]
            )
        else:
            scale = torch.ones(raw.shape[0], dtype=raw.dtype, device=raw.device)
    lag_observed = (~torch.isnan(lag)).to(raw.dtype)
    lag_scaled = forward_fill(lag) / scale.unsqueeze(-1)
    x = torch.cat(
        [lag_scaled.unsqueeze(-1), lag_observed.unsqueeze(-1), covariates], dim=-1
    )
    target = torch.where(observed, target, torch.zeros_like(target))
    return WindowBatch(x, target, observed, scale)
