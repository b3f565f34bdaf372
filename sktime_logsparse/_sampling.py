"""Ancestral sampling of sample paths with cached incremental decoding.

Each path feeds its own sampled value back as the next input (the authors'
evaluation code feeds back the mean instead, which makes the quantiles those of
per-step marginals along the mean path).

The forecast is decoded in chunks of ``prediction_length`` P steps, each in a
window laid out exactly like a training window: ``context_length`` C
conditioning targets (observed history, then earlier samples) followed by the
prediction range, at positions ``0 .. C + P - 1``. So a horizon longer than the
training horizon never takes the network to a position it was not trained on.
Each step of a chunk costs one position: every layer reads only the K cached
positions of its pattern row (per-layer caches of the layer inputs for the
causal convolution, and of keys and values).

The conditioning range of the chunk starting at step ``a`` is the last C
values before step ``a``. Its first positions read observed history only (all
of them in the first chunk; ``C - a + 1`` of them while ``a <= C``): their
inputs are the same for the ``n`` paths of a series, so they are prefilled
once per series (``prefill(..., group=n)``). The positions that read a path's
own earlier samples (at most C of them) are then fed through the caches one
at a time, teacher-forced, before the chunk's P steps are sampled. Nothing of
the size ``paths x C`` is encoded while observed history is left in the
window; past ``C + P`` steps the window's first position is prefilled per
path. The caches of a chunk are dropped before the next one's are filled, and
batches of series are sized so that their caches hold no more path positions
than a one-chunk forecast (:func:`._batches.series_per_batch`).

Scaling: every chunk uses one ``loc`` and ``scale`` per series, those of the
first chunk's conditioning range (observed data only, never samples). This is
a deliberate, small departure from "each window is scaled from its own
conditioning range", as in training: it keeps the inputs of the observed part
identical across the paths of a series, so that part is encoded once, and the
scale of a long forecast never drifts with its own samples. Forecasts within
the first chunk are unaffected. ``SamplerSettings(cache=False)`` re-encodes
every window with the same scaling: the reference of the cached sampler.

Paths of one series draw from that series' own generator, so they do not
depend on which other series are predicted with it.

A large panel is sampled a block of series at a time (:func:`forecast_blocks`):
the inputs, generators and paths of one block exist at a time, so memory does
not grow with the number of series beyond what the caller keeps. Blocks are
made of whole batches of the sampler as it splits all series at once, so the
paths are those of one call for all series, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from ._batches import (
    FORCED_BLOCK,
    MAX_BATCH,
    cached_positions,
    run_batches,
    series_per_batch,
    series_per_block,
)
from ._memory import check_predict_memory
from ._model import GlobalModel, isolated_rng
from ._windows import WindowLayout, build_window, forward_fill
from .nn import decode_positions, decode_step, prefill


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
        Paths decoded at once (whole series are never split); fewer past the
        first chunk, whose paths cache more positions (see
        :func:`._batches.series_per_batch`).
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
        reference for tests and benchmarks of the cached sampler (with the
        same scaling, see the module docstring).
    """

    horizon: int
    num_samples: int
    max_batch: int = MAX_BATCH
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
    per_batch: int | None = None,
    pooled: bool | None = None,
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
    per_batch : int, optional
        Series decoded together; by default as :func:`batch_plan` splits
        these series.
    pooled : bool, optional
        Whether the batches run in the worker threads (one intra-op thread
        each) even if there is one; by default when there are several.
        :func:`forecast_blocks` passes both for a block of a larger forecast,
        so that its batches decode as in one call for all series.

    Returns
    -------
    torch.Tensor
        shape: ``(S, num_samples, horizon)``.
    """
    H, n = settings.horizon, settings.num_samples
    group = partial(
        _sample_group if settings.cache else _reencode_group,
        horizon=H,
        n=n,
        layout=layout,
    )
    if per_batch is None:
        per_batch, pooled = batch_plan(settings, layout, context.shape[0])
    return run_batches(
        group, network, context, covariates, series_id, generators, per_batch,
        settings.workers, pooled, (n, H),
    )  # fmt: skip


def batch_plan(
    settings: SamplerSettings, layout: WindowLayout, n_series: int
) -> tuple[int, bool]:
    """Series per batch of a forecast of ``n_series``, and whether threads run them.

    The batches run in ``settings.workers`` threads when there are several
    workers and several batches (:func:`._batches.series_per_batch`).
    """
    C, P, H = layout.context_length, layout.prediction_length, settings.horizon
    per_batch = series_per_batch(
        n_series,
        settings.num_samples,
        settings.workers,
        settings.max_batch,
        cached_positions(C, P, H),
        min(P, H),
    )
    return per_batch, settings.workers > 1 and n_series > per_batch


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
    intra-op thread each (``SamplerSettings.workers``). All series in one
    block: :func:`forecast_blocks` samples a large panel in pieces.

    Raises
    ------
    ValueError
        Before any path is allocated, if sampling would need more memory than
        is available (naming the parameters that drive it; see :mod:`._memory`).
    """
    blocks = forecast_blocks(
        model,
        lambda rows: (context[rows], covariates[rows]),
        series_id,
        horizon,
        num_samples,
        seeds,
    )
    paths = [block for _, block in blocks]  # one block: every series
    if not paths:
        return np.zeros((0, num_samples, horizon))
    return paths[0].astype(np.float64)


def forecast_blocks(
    model: GlobalModel,
    inputs: Callable[[slice], tuple[np.ndarray, np.ndarray]],
    series_id: np.ndarray,
    horizon: int,
    num_samples: int,
    seeds: np.ndarray,
    block_values: int | None = None,
    unit: int = 1,
) -> Iterator[tuple[slice, np.ndarray]]:
    """Sample paths of the series ``0 .. S - 1`` a block of series at a time.

    Yields ``(rows, paths)``: consecutive slices of the series and their
    float32 paths ``(len(rows), num_samples, horizon)``. ``inputs(rows)``
    returns the contexts ``(len(rows), lead + C)`` and covariates
    ``(len(rows), C + horizon, n_cov)`` of a block, as :func:`forecast` takes
    them for all series; ``series_id`` and ``seeds`` are those of all ``S``
    series. A block holds about ``block_values`` sampled values (paths x
    steps; all series in one block if None), a multiple of ``unit`` series
    and of the sampler's batches (:func:`._batches.series_per_block`): the
    paths are those of :func:`forecast` of all series, bit for bit, and only
    one block's inputs, generators and paths exist at a time.

    Raises
    ------
    ValueError
        Before the first block, if sampling would need more memory than is
        available (naming the parameters that drive it; see :mod:`._memory`).
    """
    dev = model.device
    S = len(series_id)
    settings = SamplerSettings(
        horizon,
        num_samples,
        workers=torch.get_num_threads() if dev.type == "cpu" else 1,
    )
    per_batch, pooled = batch_plan(settings, model.layout, S)
    block = S
    if block_values is not None:
        block = series_per_block(
            S, per_batch, settings.workers, unit, num_samples * horizon, block_values
        )
    check_predict_memory(model, num_samples, S, horizon, settings.workers, block)
    network = model.network.eval()
    seed = int(seeds[0]) if len(seeds) else 0
    for lo in range(0, S, max(1, block)):
        rows = slice(lo, min(S, lo + block))
        context, covariates = inputs(rows)
        with isolated_rng(seed, dev):
            generators = [
                torch.Generator(device=dev).manual_seed(int(s)) for s in seeds[rows]
            ]
            paths = sample_paths(
                network,
                torch.as_tensor(context, dtype=torch.float32, device=dev),
                torch.as_tensor(covariates, dtype=torch.float32, device=dev),
                torch.as_tensor(series_id[rows], dtype=torch.long, device=dev),
                model.layout,
                settings,
                generators,
                per_batch=per_batch,
                pooled=pooled,
            )
        yield rows, paths.cpu().numpy()
        del context, covariates, generators, paths  # before the next block


def _draw(likelihood, params, scale, loc, generators):
    """One value per path; series ``j``'s consecutive paths use ``generators[j]``."""
    if generators is None:
        value = likelihood.sample(params, scale)
    else:
        value = likelihood.sample_groups(params, scale, generators)
    return value + loc


def _reencode_group(
    network, context, covariates, series_id, horizon, n, layout, generators
):
    C, P = layout.context_length, layout.prediction_length
    S = context.shape[0]
    R = context.shape[1] - C
    first = build_window(context, covariates[:, :C], layout)
    loc_scale = first.loc.repeat_interleave(n, 0), first.scale.repeat_interleave(n, 0)
    traj = torch.cat([context, context.new_full((S, horizon), float("nan"))], dim=1)
    traj = traj.repeat_interleave(n, 0)
    cov = covariates.repeat_interleave(n, 0)
    ids = None if series_id is None else series_id.repeat_interleave(n, 0)
    for t in range(horizon):
        a, i = t - t % P, t % P  # chunk start, step within the chunk
        w = build_window(
            traj[:, a : a + R + C + i + 1], cov[:, a : a + C + i + 1], layout, loc_scale
        )
        params = network(w.x, ids)[:, -1]
        traj[:, R + C + t] = _draw(
            network.likelihood, params, w.scale, w.loc, generators
        )
    return traj[:, R + C :].reshape(S, n, horizon)


class _Paths:
    """What the inputs of a chunk read: observed history and each path's samples.

    Trajectory index ``u`` runs over the context (``0 .. R + C - 1``, one row
    per series) and then the forecast steps (``R + C + t``, one row per path).
    """

    def __init__(self, context, n, horizon, loc, scale, layout: WindowLayout):
        self.history, self.n, self.layout = context, n, layout
        self.known = context.shape[1]  # trajectory index of the first sample
        self.samples = context.new_empty(context.shape[0] * n, horizon)
        self.series_loc, self.series_scale = loc, scale
        self.loc = loc.repeat_interleave(n, 0)
        self.scale = scale.repeat_interleave(n, 0)
        self.extra = layout.scaler.inputs(self.loc, self.scale)
        self.start(0)

    def start(self, a: int) -> None:
        """Read as the window of the chunk starting at step ``a`` does."""
        self.a = a  # the window's history is forward-filled from its first value
        if a < self.known:
            loc = self.series_loc.unsqueeze(-1)
            self.filled = forward_fill(self.history[:, a:], loc)

    def _read(self, lo: int, hi: int, history, samples) -> torch.Tensor:
        parts = []
        if lo < self.known:
            part = history(lo - self.a, min(hi, self.known) - self.a)
            parts.append(part.repeat_interleave(self.n, 0))
        if hi > self.known:
            parts.append(samples(max(lo, self.known) - self.known, hi - self.known))
        return parts[0] if len(parts) == 1 else torch.cat(parts, 1)

    def values(self, lo: int, hi: int) -> torch.Tensor:
        """Forward-filled values at indices ``lo .. hi - 1``: ``(S * n, hi - lo)``."""
        return self._read(
            lo, hi, lambda i, j: self.filled[:, i:j], lambda i, j: self.samples[:, i:j]
        )

    def observed(self, lo: int, hi: int) -> torch.Tensor:
        """1.0 where those values were observed (samples always are), else 0.0."""
        history = self.history[:, self.a :]
        return self._read(
            lo,
            hi,
            lambda i, j: (~torch.isnan(history[:, i:j])).to(history.dtype),
            lambda i, j: self.samples.new_ones(len(self.samples), j - i),
        )

    def inputs(self, covariates, a: int, lo: int, hi: int) -> torch.Tensor:
        """Inputs ``(S * n, hi - lo, n_inputs)`` of the window positions ``lo:hi``."""
        first = a + self.known - self.layout.context_length  # index of target 0
        loc, scale = self.loc.unsqueeze(-1), self.scale.unsqueeze(-1)
        transform = self.layout.scaler.transform
        u, m = first + lo, hi - lo
        values = [transform(self.values(u - 1, u + m - 1), loc, scale)]
        values.append(self.observed(u - 1, u + m - 1))
        values += [
            transform(self.values(u - lag, u + m - lag), loc, scale)
            for lag in self.layout.lags
        ]
        values += [v.unsqueeze(-1).expand(-1, m) for v in self.extra]
        cov = covariates[:, a + lo : a + hi].repeat_interleave(self.n, 0)
        return torch.cat([torch.stack(values, -1), cov], -1)


def _condition(network, paths: _Paths, covariates, series_id, ids, a: int, steps: int):
    """Caches of the window of the chunk starting at step ``a > 0``, ready to decode."""
    layout = paths.layout
    C = layout.context_length
    shared = max(0, C - a + 1)  # positions whose inputs read observed history only
    if shared:  # prefilled once per series
        history = paths.history[:, a:]
        raw = torch.cat([history, history.new_full((len(history), 1), torch.nan)], 1)
        loc_scale = paths.series_loc, paths.series_scale
        x = build_window(raw, covariates[:, a : a + shared], layout, loc_scale).x
        _, caches = prefill(
            network, x, series_id, group=paths.n, steps=C - shared + steps
        )
    else:  # the whole window reads samples: its first position is the path's own
        x = paths.inputs(covariates, a, 0, 1)
        _, caches = prefill(network, x, ids, steps=C - 1 + steps)
        shared = 1
    # the path's own earlier samples, teacher-forced a block of positions at a time
    for lo in range(shared, C, FORCED_BLOCK):
        hi = min(C, lo + FORCED_BLOCK)
        decode_positions(network, paths.inputs(covariates, a, lo, hi), ids, lo, caches)
    return caches


def _sample_group(
    network, context, covariates, series_id, horizon, n, layout, generators
):
    C, P = layout.context_length, layout.prediction_length
    S = context.shape[0]
    # one loc and scale per series for every chunk: the first chunk's
    first = build_window(context, covariates[:, :C], layout)
    paths = _Paths(context, n, horizon, first.loc, first.scale, layout)
    ids = None if series_id is None else series_id.repeat_interleave(n, 0)
    likelihood = network.likelihood
    for a in range(0, horizon, P):  # one chunk: the window starting at step a
        steps = min(P, horizon - a)
        caches = None  # the previous chunk's caches go before new ones are filled
        paths.start(a)
        if a == 0:  # the conditioning range is the observed history: share it
            _, caches = prefill(network, first.x, series_id, group=n, steps=steps)
        else:
            caches = _condition(network, paths, covariates, series_id, ids, a, steps)
        for i in range(steps):
            x = paths.inputs(covariates, a, C + i, C + i + 1)
            params = decode_step(network, x, ids, C + i, caches)[:, 0]
            paths.samples[:, a + i] = _draw(
                likelihood, params, paths.scale, paths.loc, generators
            )
    return paths.samples.reshape(S, n, horizon)
