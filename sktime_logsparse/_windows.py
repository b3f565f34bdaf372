"""The window layout and the network inputs of windows, for training and sampling.

A window of length ``W = context_length + prediction_length`` is described by
``R + W`` consecutive raw values ``raw``, whose last ``W`` are the window's
targets and whose first ``R = max(1, *lags)`` are the history the inputs need,
and by the covariates of its ``W`` steps. Step ``t`` of the network input is
``[u_{t-1}, z_{t-1} observed, u_{t-l} for l in lags, scaling inputs,
covariates_t]`` with ``u = (z - loc) / scale``. NaN marks a missing or padded
value: it is forward-filled in the input, flagged by the indicator, and left
out of the likelihood. ``loc`` and ``scale`` come from the observed targets of
the conditioning range only (see :mod:`sktime_logsparse.nn._scaling`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .nn import Scaler, get_scaler


@dataclass(frozen=True)
class WindowLayout:
    """How a window is laid out, shared by training and sampling.

    Attributes
    ----------
    context_length : int
        Conditioning range: the scale uses its targets.
    prediction_length : int
        Prediction range; forecasts are decoded in chunks of this length.
    lags : tuple of int
        Lagged targets in the input besides the previous one.
    scaling : {"mean", "standard", None}
        How each window is scaled.
    n_covariates : int
        Covariates per step (calendar, age, exogenous).
    """

    context_length: int
    prediction_length: int
    lags: tuple[int, ...]
    scaling: str | None
    n_covariates: int

    @property
    def length(self) -> int:
        """Window length ``W``."""
        return self.context_length + self.prediction_length

    @property
    def lead(self) -> int:
        """History ``R`` a window needs before its first target."""
        return max((1, *self.lags))

    @property
    def scaler(self) -> Scaler:
        """The :class:`~sktime_logsparse.nn.Scaler` of ``scaling``."""
        return get_scaler(self.scaling)

    @property
    def n_inputs(self) -> int:
        """Network inputs per step (see the module docstring)."""
        # previous value, its observed flag, further lags, scaling, covariates
        return 2 + len(self.lags) + self.scaler.n_inputs + self.n_covariates


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


def build_window(
    raw: torch.Tensor,
    covariates: torch.Tensor,
    layout: WindowLayout,
    loc_scale: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> WindowBatch:
    """Assemble the network input of windows.

    Parameters
    ----------
    raw : torch.Tensor
        shape: ``(B, R + W')`` with ``R >= layout.lead``; NaN for missing or
        padded values. ``W' <= W``: a window may stop early (sampling).
    covariates : torch.Tensor
        shape: ``(B, W', C)``; covariates of the ``W'`` target steps.
    layout : WindowLayout
        The scale uses targets ``0 .. context_length - 1``.
    loc_scale : tuple of torch.Tensor, optional
        ``(loc, scale)``, shape ``(B,)`` each: use these instead of fitting
        them on the conditioning range (sampling past the first chunk keeps
        the scale of the first one, see :mod:`._sampling`).

    Returns
    -------
    WindowBatch
    """
    W = covariates.shape[1]
    R = raw.shape[1] - W
    C = layout.context_length
    scaler = layout.scaler
    lag, target = raw[:, R - 1 : -1], raw[:, R:]
    observed = ~torch.isnan(target)
    if loc_scale is None:
        loc, scale = scaler.fit(target[:, :C], observed[:, :C])
    else:
        loc, scale = loc_scale
    # values before the series start read as its location (0 after scaling)
    loc_, scale_ = loc.unsqueeze(-1), scale.unsqueeze(-1)
    filled = scaler.transform(forward_fill(raw, loc_), loc_, scale_)
    parts = [filled[:, R - 1 : -1], (~torch.isnan(lag)).to(raw.dtype)]
    parts += [filled[:, R - lag_ : R - lag_ + W] for lag_ in layout.lags]
    parts += [v.unsqueeze(-1).expand(-1, W) for v in scaler.inputs(loc, scale)]
    x = torch.cat([torch.stack(parts, dim=-1), covariates], dim=-1)
    target = torch.where(observed, target, torch.zeros_like(target))
    return WindowBatch(x, target, observed, scale, loc)
