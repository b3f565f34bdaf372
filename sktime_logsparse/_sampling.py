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

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from ._memory import check_predict_memory
from ._model import GlobalModel, isolated_rng
from ._windows import WindowLayout, build_window, forward_fill
from .nn import decode_step, prefill


@dataclass(frozen=True)
class SamplerSettings:
    """How :func:`sample_paths` decodes.

    Attributes
    ----------
    horizon : int
        Number of steps to forecast.
    num_samples : int
        Paths per series.
    max_batch : int, default=8192
        Paths decoded at once (whole series are never split).
    workers : int, default=1
        Batches of series decoded concurrently, by this many threads. On the
        CPU each thread then runs torch with one intra-op thread (the setting
        is restored afterwards): decoding is thousands of small operations,
        and splitting each of them across threads costs a synchronisation per
        operation, which stalls whenever another process holds a core.
        Batches are at most ``ceil(S / workers)`` series, so that every worker
        gets one. The paths do not depend on it.
    cache : bool, default=True
        Decode incrementally from per-layer caches; False re-encodes the
        window at every step (``O(L)`` positions per step instead of one): the
        reference for tests and benchmarks of the cached sampler.
    """

    horizon: int
    num_samples: int
    max_batch: int = 8192
    workers: int = 1
    cache: bool = True


@torch.no_grad()
def sample_paths(
    network: torch.nn.Module,
    context: torch.Tensor,
    covariates: torch.Tensor,
    series_id: torch.Tensor | None,
    layout: WindowLayout,
    settings: SamplerSettings,
    generators: list[torch.Generator] | None = None,
) -> torch.Tensor:
    """Draw sample paths for several series.

    Parameters
    ----------
    network : LogSparseTransformer
        In eval mode.
    context : torch.Tensor
        shape: ``(S, R + context_length)`` with ``R = layout.lead``; the last
        values of each series, NaN where missing or before its start.
    covariates : torch.Tensor
        shape: ``(S, context_length + horizon, C)``; covariates of the
        ``context_length`` conditioning targets, then of the forecast steps.
    series_id : torch.Tensor or None
        shape: ``(S,)``, long; -1 for none.
    layout : WindowLayout
        The training window layout.
    settings : SamplerSettings
    generators : list of torch.Generator, optional
        One per series (on the network's device); the global RNG if omitted.
        The paths of a series depend on its generator only.

    Returns
    -------
    torch.Tensor
        shape: ``(S, num_samples, horizon)``.
    """
    group = partial(
        _sample_group if settings.cache else _reencode_group,
        horizon=settings.horizon,
        n=settings.num_samples,
        layout=layout,
    )
    return _by_series(
        group,
        network,
        context,
        covariates,
        series_id,
        generators,
        settings.num_samples,
        settings.max_batch,
        settings.workers,
    )


def forecast(
    model: GlobalModel,
    context: np.ndarray,
    covariates: np.ndarray,
    series_id: np.ndarray,
    horizon: int,
    num_samples: int,
    seeds: np.ndarray,
) -> np.ndarray:
    """Sample paths ``(S, num_samples, horizon)`` of a model, numpy in and out.

    ``seeds`` holds one seed per series: a series' paths depend on its seed
    only, not on the other series sampled with it. On the CPU, batches of
    series are decoded by ``torch.get_num_threads()`` threads with one
    intra-op thread each (``SamplerSettings.workers``).

    Raises
    ------
    ValueError
        Before any path is allocated, if sampling would need more memory than
        is available (naming the parameters that drive it; see :mod:`._memory`).
    """
    dev = model.device
    settings = SamplerSettings(
        horizon,
        num_samples,
        workers=torch.get_num_threads() if dev.type == "cpu" else 1,
    )
    n_series = len(context)
    check_predict_memory(model, num_samples, n_series, horizon, settings.workers)
    with isolated_rng(int(seeds[0]) if len(seeds) else 0, dev):
        generators = [torch.Generator(device=dev).manual_seed(int(s)) for s in seeds]
        paths = sample_paths(
            model.network.eval(),
            torch.as_tensor(context, dtype=torch.float32, device=dev),
            torch.as_tensor(covariates, dtype=torch.float32, device=dev),
            torch.as_tensor(series_id, dtype=torch.long, device=dev),
            model.layout,
            settings,
            generators,
        )
    return paths.cpu().numpy().astype(np.float64)


def _by_series(
    group_fn,
    network,
    context,
    covariates,
    series_id,
    generators,
    num_samples,
    max_batch,
    workers,
):
    """Run ``group_fn`` on batches of whole series of at most ``max_batch`` paths.

    ``group_fn(network, context, covariates, series_id, generators=...)`` samples
    the paths of one batch (the other settings bound already).
    """
    S = context.shape[0]
    per_batch = max(1, min(max_batch // num_samples, -(-S // max(1, workers))))

    def run(lo: int) -> torch.Tensor:
        rows = slice(lo, min(S, lo + per_batch))
        with torch.no_grad():  # grad mode is per thread
            return group_fn(
                network,
                context[rows],
                covariates[rows],
                None if series_id is None else series_id[rows],
                generators=None if generators is None else generators[rows],
            )

    starts = range(0, S, per_batch)
    if workers <= 1 or len(starts) == 1:
        return torch.cat([run(lo) for lo in starts])
    threads = torch.get_num_threads()
    if context.device.type == "cpu":
        torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(min(workers, len(starts))) as pool:
            return torch.cat(list(pool.map(run, starts)))
    finally:
        torch.set_num_threads(threads)


def _draw(likelihood, params, scale, loc, n, generators):
    """One value per path; the ``n`` paths of series ``j`` use ``generators[j]``."""
    if generators is None:
        value = likelihood.sample(params, scale)
    else:
        value = torch.cat(
            [
                likelihood.sample(params[j * n : (j + 1) * n], s, g)
                for j, (s, g) in enumerate(zip(scale.split(n), generators, strict=True))
            ]
        )
    return value + loc


def _reencode_group(
    network, context, covariates, series_id, horizon, n, layout, generators
):
    C, P = layout.context_length, layout.prediction_length
    S = context.shape[0]
    R = context.shape[1] - C
    traj = torch.cat([context, context.new_full((S, horizon), float("nan"))], dim=1)
    traj = traj.repeat_interleave(n, 0)
    cov = covariates.repeat_interleave(n, 0)
    ids = None if series_id is None else series_id.repeat_interleave(n, 0)
    for t in range(horizon):
        a, i = t - t % P, t % P  # chunk start, step within the chunk
        w = build_window(
            traj[:, a : a + R + C + i + 1], cov[:, a : a + C + i + 1], layout
        )
        params = network(w.x, ids)[:, -1]
        traj[:, R + C + t] = _draw(
            network.likelihood, params, w.scale, w.loc, n, generators
        )
    return traj[:, R + C :].reshape(S, n, horizon)


def _sample_group(
    network, context, covariates, series_id, horizon, n, layout, generators
):
    C, P, lags = layout.context_length, layout.prediction_length, layout.lags
    scaler = layout.scaler
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
            cond = build_window(traj[:, :known], covariates[:, :C], layout)
            _, caches = prefill(network, cond.x, series_id, group=n, steps=steps)
            traj = traj.repeat_interleave(n, 0)  # (S * n, R + C + horizon)
            scale = cond.scale.repeat_interleave(n, 0)
            loc = cond.loc.repeat_interleave(n, 0)
        else:  # later chunks condition on each path's own samples
            cond = build_window(traj[:, a:known], cov[:, a : a + C], layout)
            _, caches = prefill(network, cond.x, ids, steps=steps)
            scale, loc = cond.scale, cond.loc
        # inputs read forward-filled values; samples are never missing
        before = forward_fill(traj[:, :known], loc.unsqueeze(-1))
        filled = torch.cat([before, traj[:, known:]], dim=1)
        observed = (~torch.isnan(traj[:, known - 1])).to(traj.dtype)
        extra = scaler.inputs(loc, scale)  # fixed within the chunk
        for i in range(steps):
            t = known + i  # traj index of this step's target
            values = [scaler.transform(filled[:, t - 1], loc, scale), observed]
            values += [scaler.transform(filled[:, t - lag], loc, scale) for lag in lags]
            values += extra
            x = torch.cat([torch.stack(values, -1), cov[:, a + C + i]], -1)
            params = decode_step(network, x.unsqueeze(1), ids, C + i, caches)[:, 0]
            value = _draw(likelihood, params, scale, loc, n, generators)
            traj[:, t] = filled[:, t] = value
            observed = torch.ones_like(observed)
    return traj[:, R + C :].reshape(S, n, horizon)
