"""Model inputs for windows of a series: shared by training and sampling.

A window of length ``W = context_length + prediction_length`` is described by
``R + W`` consecutive raw values ``raw``, whose last ``W`` are the window's
targets and whose first ``R = max(1, *lags)`` are the history the inputs need,
and by the covariates of its ``W`` steps. Step ``t`` of the network input is
``[u_{t-1}, z_{t-1} observed, u_{t-l} for l in lags, (origin,) covariates_t]``
with ``u = (z - loc) / scale``. NaN marks a missing or padded value: it is
forward-filled in the input, flagged by the indicator, and left out of the
likelihood. ``loc`` and ``scale`` come from the observed targets of the
conditioning range only: ``scaling="mean"`` (DeepAR's) has ``loc = 0`` and
``scale = 1 + mean |z|``; ``"standard"`` the mean and standard deviation;
``None`` ``loc = 0`` and ``scale = 1``. The network models ``u``. Standard
scaling removes the level, which can matter (a series that cannot go below
zero, or reverts to a level shared by all series): its windows get one more
input, the ``origin`` ``asinh(-loc / scale)`` where zero lies after scaling
(``asinh`` keeps it moderate for series whose level dwarfs their spread).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .nn import mean_abs_scale, standard_scale

SCALINGS = ("mean", "standard", None)


@dataclass
class WindowBatch:
    """Network inputs and targets of a batch of windows.

    Attributes
    ----------
    x : torch.Tensor
        shape: ``(B, W, n_inputs)``, the network input (see the module docstring).
    target : torch.Tensor
        shape: ``(B, W)``, NaN replaced by 0 (see ``observed``).
    observed : torch.Tensor
        shape: ``(B, W)``, bool: whether the target takes part in the loss.
    scale : torch.Tensor
        shape: ``(B,)``.
    loc : torch.Tensor
        shape: ``(B,)``; the network models ``(target - loc) / scale``.
    """

    x: torch.Tensor
    target: torch.Tensor
    observed: torch.Tensor
    scale: torch.Tensor
    loc: torch.Tensor


def forward_fill(
    values: torch.Tensor, before: torch.Tensor | float = 0.0
) -> torch.Tensor:
    """Fill NaN along the last axis with the previous non-NaN value.

    NaN before the first value of a row become ``before`` (broadcast against
    ``values``; 0 by default).
    """
    observed = ~torch.isnan(values)
    n = values.shape[-1]
    pos = torch.arange(n, device=values.device).expand_as(values)
    last = torch.where(observed, pos, torch.full_like(pos, -1)).cummax(-1).values
    filled = values.gather(-1, last.clamp_min(0))
    return torch.where(last >= 0, filled, before)


def extra_inputs(scaling: str | None) -> int:
    """Number of :func:`scaling_inputs` of a ``scaling``."""
    return int(scaling == "standard")


def scaling_inputs(
    loc: torch.Tensor, scale: torch.Tensor, scaling: str | None
) -> list[torch.Tensor]:
    """Inputs, ``(B,)`` each and the same at every step, that a scaling adds.

    Standard scaling adds the ``origin`` ``asinh(-loc / scale)``, where zero
    lies after scaling; the other scalings add none.
    """
    return [torch.asinh(-loc / scale)] if scaling == "standard" else []


def build_window(
    raw: torch.Tensor,
    covariates: torch.Tensor,
    context_length: int,
    scaling: str | None = "mean",
    scale: tuple[torch.Tensor, torch.Tensor] | None = None,
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
    scaling : {"mean", "standard", None}, default="mean"
        How ``loc`` and ``scale`` are computed (see the module docstring).
    scale : tuple of torch.Tensor, optional
        ``(loc, scale)``, shape ``(B,)`` each; used instead of computing them.
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
    if scale is not None:
        loc, scale = scale
    elif scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")
    elif scaling == "standard":
        loc, scale = standard_scale(
            target[:, :context_length], observed[:, :context_length]
        )
    else:
        loc = torch.zeros(raw.shape[0], dtype=raw.dtype, device=raw.device)
        scale = torch.ones_like(loc)
        if scaling == "mean":
            scale = mean_abs_scale(
                target[:, :context_length], observed[:, :context_length]
            )
    # values before the series start read as its location (0 after scaling)
    loc_, scale_ = loc.unsqueeze(-1), scale.unsqueeze(-1)
    filled = (forward_fill(raw, loc_) - loc_) / scale_
    parts = [filled[:, R - 1 : -1], (~torch.isnan(lag)).to(raw.dtype)]
    parts += [filled[:, R - lag_ : R - lag_ + W] for lag_ in lags]
    parts += [
        v.unsqueeze(-1).expand(-1, W) for v in scaling_inputs(loc, scale, scaling)
    ]
    x = torch.cat([torch.stack(parts, dim=-1), covariates], dim=-1)
    target = torch.where(observed, target, torch.zeros_like(target))
    return WindowBatch(x, target, observed, scale, loc)
