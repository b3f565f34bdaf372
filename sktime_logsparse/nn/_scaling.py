"""Per-series scaling of the target (DeepAR style)."""

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
    total = torch.where(observed, target.abs(), torch.zeros_like(target)).sum(-1)
    count = observed.sum(-1).clamp_min(1)
    return 1.0 + total / count
