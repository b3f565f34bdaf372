"""An exponential moving average of the weights over the gradient steps.

The network scored after each epoch, kept as the best and forecast with is
not the last step's weights but their running average, ``a <- d a + (1 - d) w``
after every step (Polyak averaging; ``torch.optim.swa_utils`` keeps the copy).
The last step's weights carry the noise of its few batches; the average
smooths it out, and training from different seeds then ends much nearer the
same forecasts, most visibly on the few series of a panel whose levels
dominate absolute errors (``docs/design.md``, "Averaged weights").

The decay warms up: at step ``n`` it is ``min(d, (1 + n) / (10 + n))``, so a
short fit (a few steps, or an ``update``) averages over the steps it has, not
over its starting weights.
"""

from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel


def _ema(decay: float):
    """``multi_avg_fn`` of :class:`AveragedModel`: the warmed-up moving average."""

    def update(averaged: list, current: list, n_averaged: torch.Tensor) -> None:
        n = int(n_averaged)
        d = min(decay, (1 + n) / (10 + n))
        torch._foreach_lerp_(averaged, current, 1.0 - d)

    return update


def averaged_weights(network: torch.nn.Module, decay: float | None):
    """A moving average of ``network``'s weights, or None when ``decay`` is off.

    Call ``update_parameters(network)`` after each optimizer step; the
    averaged network is the result's ``module``. Buffers are copied, not
    averaged.
    """
    if not decay:
        return None
    return AveragedModel(network, multi_avg_fn=_ema(decay), use_buffers=False)
