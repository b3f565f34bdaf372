"""Ancestral sampling of sample paths with cached incremental decoding.

Each path feeds its own sampled value back as the next input (the authors'
evaluation code feeds back the mean instead, which makes the quantiles those of
per-step marginals along the mean path).

The forecast is decoded in chunks of ``prediction_length`` steps, each in a
window laid out exactly like a training window: ``context_length`` conditioning
targets (observed history, then earlier samples) followed by the prediction
range. So a horizon longer than the training horizon never takes the network to
positions or conditioning it was not trained on. A chunk starts with one
``prefill`` of its conditioning range, which fills per-layer caches (layer
inputs for the causal convolution, keys and values); each further step then
costs one position: every layer reads only the K cached positions of its
pattern row.

Paths of one series draw from that series' own generator, so they do not
depend on which other series are predicted with it.
"""

from __future__ import annotations

import torch

from ._windows import build_window, forward_fill


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
    lags: tuple[int, ...] = (),
    generators: list[torch.Generator] | None = None,
    max_batch: int = 8192,
) -> torch.Tensor:
    """Draw sample paths for several series.

    Parameters
    ----------
    network : LogSparseTransformer
        In eval mode.
    context : torch.Tensor
        shape: ``(S, R + context_length)`` with ``R = max(1, *lags)``; the
        last values of each series, NaN where missing or before its start.
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
    lags : tuple of int, default=()
        Further lagged targets in the input (as in training).
    generators : list of torch.Generator, optional
        One per series (on the network's device); the global RNG if omitted.
    max_batch : int, default=8192
        Paths decoded at once (whole series are never split).

    Returns
    -------
    torch.Tensor
        shape: ``(S, num_samples, horizon)``.
    """
    S = context.shape[0]
    per_batch = max(1, max_batch // num_samples)
    out = []
    for lo in range(0, S, per_batch):
        rows = slice(lo, min(S, lo + per_batch))
        out.append(
            _sample_group(
                network,
                context[rows],
                covariates[rows],
                None if series_id is None else series_id[rows],
                horizon,
                num_samples,
                context_length,
                prediction_length,
                scaling,
                tuple(lags),
                None if generators is None else generators[rows],
            )
        )
    return torch.cat(out)


def _sample_group(
    network, context, covariates, series_id, horizon, n, C, P, scaling, lags, generators
):
    S = context.shape[0]
    R = context.shape[1] - C  # history before the first conditioning target
    traj = torch.cat([context, context.new_full((S, horizon), float("nan"))], dim=1)
    cov = covariates.repeat_interleave(n, 0)
    ids = None if series_id is None else series_id.repeat_interleave(n, 0)
    likelihood = network.likelihood
    for a in range(0, horizon, P):  # one chunk: the window starting at step a
        steps = min(P, horizon - a)
        known = a + R + C  # traj[:, :known] is history or earlier samples
        if a == 0:  # the conditioning range is the observed history: share it
            cond = build_window(
                traj[:, :known], covariates[:, :C], C, scaling, lags=lags
            )
            _, caches = network.prefill(cond.x, series_id, group=n, steps=steps)
            traj = traj.repeat_interleave(n, 0)  # (S * n, R + C + horizon)
            scale = cond.scale.repeat_interleave(n, 0)
        else:  # later chunks condition on each path's own samples
            cond = build_window(
                traj[:, a:known], cov[:, a : a + C], C, scaling, lags=lags
            )
            _, caches = network.prefill(cond.x, ids, steps=steps)
            scale = cond.scale
        # inputs read forward-filled values; samples are never missing
        filled = torch.cat([forward_fill(traj[:, :known]), traj[:, known:]], dim=1)
        observed = (~torch.isnan(traj[:, known - 1])).to(traj.dtype)
        for i in range(steps):
            t = known + i  # traj index of this step's target
            values = [filled[:, t - 1] / scale, observed]
            values += [filled[:, t - lag] / scale for lag in lags]
            x = torch.cat([torch.stack(values, -1), cov[:, a + C + i]], -1)
            params = network.step(x.unsqueeze(1), ids, C + i, caches)[:, 0]
            if generators is None:
                value = likelihood.sample(params, scale)
            else:
                value = torch.cat(
                    [
                        likelihood.sample(params[j * n : (j + 1) * n], s, g)
                        for j, (s, g) in enumerate(
                            zip(scale.split(n), generators, strict=True)
                        )
                    ]
                )
            traj[:, t] = filled[:, t] = value
            observed = torch.ones_like(observed)
    return traj[:, R + C :].reshape(S, n, horizon)
