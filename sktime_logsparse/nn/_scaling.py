"""Per-series scaling of the target.

``mean_abs_scale`` is DeepAR's (and the paper's) scale; ``standard_scale`` a
location and scale, for series whose level is large next to their variation.
"""

from __future__ import annotations

import torch


def mean_abs_scale(target: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """``1 + mean |z|`` over the observed entries of each row.

    Call it on the conditioning range only: including the prediction range
    would leak the future into the inputs (a bug of the authors' code).

    Parameters
    ----------
    target : torch.Tensor
        shape: ``(B, T)``; entries where ``observed`` is false are ignored
        (they may be NaN).
    observed : torch.Tensor
        shape: ``(B, T)``, bool.

    Returns
    -------
    torch.Tensor
        shape: ``(B,)``, every entry ``>= 1``.

    Examples
    --------
    >>> import torch
    >>> from sktime_logsparse.nn import mean_abs_scale
    >>> z = torch.tensor([[1.0, -3.0, float("nan")]])
    >>> mean_abs_scale(z, ~z.isnan())
    tensor([3.])
    """
    return 1.0 + _observed_mean(target.abs(), observed)


def _observed_mean(values: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """Mean over the observed entries of each row (0 for a row without any)."""
    total = torch.where(observed, values, torch.zeros_like(values)).sum(-1)
    return total / observed.sum(-1).clamp_min(1)


def standard_scale(
    target: torch.Tensor, observed: torch.Tensor, floor: float = 1e-4
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation over the observed entries of each row.

    The deviation is floored at ``floor`` times the row's mean ``|z|`` (a
    constant series keeps a finite scale). A row with one observed entry has
    no deviation: its scale is its ``|z|``; a row of zeros or without observed
    entries gets scale 1. Call it on the conditioning range only.

    Parameters
    ----------
    target, observed : torch.Tensor
        As for :func:`mean_abs_scale`.
    floor : float, default=1e-4
        Smallest scale, relative to the mean absolute value.

    Returns
    -------
    loc, scale : torch.Tensor
        shape: ``(B,)`` each; ``scale > 0``.

    Examples
    --------
    >>> import torch
    >>> from sktime_logsparse.nn import standard_scale
    >>> z = torch.tensor([[1.0, 3.0, float("nan")], [5.0, 5.0, 5.0]])
    >>> standard_scale(z, ~z.isnan())
    (tensor([2., 5.]), tensor([1.0000e+00, 5.0000e-04]))
    >>> one = torch.tensor([[-4.0, float("nan")]])
    >>> standard_scale(one, ~one.isnan())
    (tensor([-4.]), tensor([4.]))
    """
    loc = _observed_mean(target, observed)
    std = _observed_mean((target - loc.unsqueeze(-1)).square(), observed).sqrt()
    size = _observed_mean(target.abs(), observed)
    scale = torch.where(observed.sum(-1) > 1, torch.maximum(std, floor * size), size)
    return loc, torch.where(scale > 0, scale, torch.ones_like(scale))
