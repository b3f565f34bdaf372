"""Ancestral sampling of sample paths.

Each path feeds its own sampled value back as the next input (the authors'
evaluation code feeds back the mean instead, which makes the quantiles those of
per-step marginals along the mean path).

The forecast is decoded in chunks of ``prediction_length`` steps, each in a
window laid out exactly like a training window: ``context_length`` conditioning
targets (observed history, then earlier samples) followed by the prediction
range. So a horizon longer than the training horizon never takes the network to
positions or conditioning it was not trained on. This version re-encodes the
window at every step.
"""

from __future__ import annotations

import torch

from ._windows import build_window


@torch.no_grad()
def sample_paths(
    network: torch.nn.Module,
    context: torch.Tensor,
    covariates: torch.Tensor,
    series_id: torch.Tensor | None,
    horizon: int,
    num_samples: int,
    context_length: int,
    prediction_length: int,
    scaling: bool = True,
    generator: torch.Generator | None = None,
    max_batch: int = 4096,
) -> torch.Tensor:
    """Draw sample paths for several series.

    Parameters
    ----------
    network : LogSparseTransformer
    context : torch.Tensor
        shape: ``(S, context_length + 1)``; the last values of each series,
        NaN where missing or before the series start.
    covariates : torch.Tensor
        shape: ``(S, context_length + horizon, C)``; covariates of the
        ``context_length`` conditioning targets, then of the forecast steps.
    series_id : torch.Tensor or None
        shape: ``(S,)``, long; -1 for none.
    horizon : int
        Number of steps to forecast.
    num_samples : int
        Paths per series.
    context_length, prediction_length : int
        The training window layout.
    scaling : bool, default=True
    generator : torch.Generator, optional
        Source of randomness (on the network's device).
    max_batch : int, default=4096
        Paths decoded at once.

    Returns
    -------
    torch.Tensor
        shape: ``(S, num_samples, horizon)``.
    """
    S = context.shape[0]
    C, P = context_length, prediction_length
    paths = context.repeat_interleave(num_samples, 0)
    cov = covariates.repeat_interleave(num_samples, 0)
    ids = None if series_id is None else series_id.repeat_interleave(num_samples, 0)
    out = []
    for rows in torch.arange(paths.shape[0], device=paths.device).split(max_batch):
        traj = torch.cat(
            [paths[rows], paths.new_full((len(rows), horizon), float("nan"))], dim=1
        )
        for t in range(horizon):
            k, i = divmod(t, P)
            a = k * P
            window = build_window(
                traj[:, a : a + C + i + 2], cov[rows, a : a + C + i + 1], C, scaling
            )
            params = network(window.x, None if ids is None else ids[rows])[:, -1]
            traj[:, C + 1 + t] = network.likelihood.sample(
                params, window.scale, generator
            )
        out.append(traj[:, C + 1 :])
    return torch.cat(out).reshape(S, num_samples, horizon)
