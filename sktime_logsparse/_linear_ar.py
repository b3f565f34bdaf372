"""The linear autoregressive term under the Transformer, fitted by least squares.

With ``LogSparseConfig(ar_skip=True)`` the location of the likelihood is a
linear function of the step's inputs (lagged targets, covariates) plus the
Transformer's output. The linear part is fitted here, once, before training,
and then kept fixed: a linear seasonal autoregression is a stable base for
forecasts that iterate a one-step model many steps ahead, and the Transformer
learns what it misses.
"""

from __future__ import annotations

import torch

from ._series import SeriesTensors, WindowIndex, window_batch
from ._windows import WindowLayout


@torch.no_grad()
def fit_skip(
    network: torch.nn.Module,
    data: SeriesTensors,
    windows: WindowIndex,
    layout: WindowLayout,
    generator: torch.Generator,
    n_windows: int = 4096,
) -> None:
    """Fit the network's linear skip by least squares on training windows.

    The skip maps a step's inputs to the location of the scaled target; it is
    fitted to the trained targets of up to ``n_windows`` windows drawn at
    random (with ``generator``), in float64.
    """
    rows = torch.randint(
        len(windows), (min(n_windows, len(windows)),), generator=generator
    )
    batch, _ = window_batch(data, windows, rows.to(data.z.device), layout)
    # on the CPU in float64, by gelsd: the minimum-norm solution, also where
    # inputs are constant or collinear (the observed flag and the intercept)
    x = batch.x[batch.observed].double().cpu()
    u = layout.scaler.transform(
        batch.target, batch.loc.unsqueeze(-1), batch.scale.unsqueeze(-1)
    )
    y = u[batch.observed].double().cpu()
    if len(y) == 0:
        return
    design = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
    coef = torch.linalg.lstsq(design, y.unsqueeze(1), driver="gelsd").solution[:, 0]
    skip = network.skip
    skip.weight.copy_(coef[:-1].to(skip.weight.dtype).unsqueeze(0))
    skip.bias.copy_(coef[-1:].to(skip.bias.dtype))
