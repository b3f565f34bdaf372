"""How the sampler splits a forecast: chunks of positions, batches of series.

A forecast longer than ``prediction_length`` P is decoded in chunks of P steps
(see :mod:`._sampling`); the caches of a chunk hold, per path, the positions
it decodes and, past the first chunk, the path's own conditioning positions.
:func:`series_per_batch` sizes the batches of whole series so that those
caches stay within what a one-chunk forecast holds, and :mod:`._memory`
estimates the memory of the same batches. :func:`run_batches` decodes the
batches, in threads; a large panel is sampled a block of whole batches at a
time (:func:`series_per_block`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch

#: paths decoded at once by default (``SamplerSettings.max_batch``)
MAX_BATCH = 8192
#: a path's own conditioning positions fed through the caches at once
FORCED_BLOCK = 16
#: sampled values (paths x steps) of one block of a forecast sampled in
#: blocks of series (:func:`series_per_block`): 32 MiB as float64
BLOCK_VALUES = 2**22


def cached_positions(context_length: int, prediction_length: int, horizon: int) -> int:
    """Positions a sample path holds in the decoding caches at most.

    The first chunk decodes ``min(P, horizon)`` positions per path after the
    prefill of its series. A chunk starting at step ``a > 0`` of the forecast
    adds the path's own conditioning positions, ``min(a - 1, C)`` of them (the
    window's inputs that read an earlier sample, see :mod:`._sampling`).
    """
    C, P = context_length, prediction_length
    last = (horizon - 1) // P * P  # the start of the last chunk
    most = horizon - last + (min(last - 1, C) if last else 0)
    if last >= P:  # the full chunk before it
        most = max(most, P + (min(last - P - 1, C) if last > P else 0))
    return most


def series_per_batch(
    n_series: int,
    num_samples: int,
    workers: int,
    max_batch: int = MAX_BATCH,
    cached: int = 1,
    first: int = 1,
) -> int:
    """Series the sampler decodes together (whole series, one at least).

    At most ``max_batch`` paths and ``ceil(n_series / workers)`` series, so
    that every worker gets a batch. A path that caches ``cached`` positions,
    more than the ``first`` of a forecast within the first chunk, counts
    ``cached / first`` times: the caches of a batch then hold at most
    ``max_batch * first`` path positions (or one series), as in the first
    chunk, whatever the number of chunks. Those batches are evened out to a
    multiple of ``workers``, so that no worker is left with a longer share
    (414 series of 100 paths on 2 workers: 6 batches of 69, not 5 of 81 and
    one of 9, which left one worker 243 series and the other 171).
    """
    workers = max(1, workers)
    most = -(-n_series // workers)
    paths = max_batch * first // max(cached, first)  # of a one-chunk forecast
    per_batch = max(1, min(paths // num_samples, most))
    batches = -(-n_series // per_batch)
    batches = -(-batches // workers) * workers
    return -(-n_series // batches)


def series_per_block(
    n_series: int,
    per_batch: int,
    workers: int,
    unit: int = 1,
    values_per_series: int = 1,
    block_values: int = BLOCK_VALUES,
) -> int:
    """Series of one block of a forecast sampled a block at a time.

    A multiple of ``workers`` batches of ``per_batch`` series (so that a
    block decodes as those batches do in one call for all series, every
    worker busy) and of ``unit`` (the series of one instance), holding about
    ``block_values`` sampled values at ``values_per_series`` each (paths x
    steps), at least one such multiple; all ``n_series`` if fewer.
    """
    step = math.lcm(max(1, per_batch) * max(1, workers), max(1, unit))
    count = max(1, block_values // (step * max(1, values_per_series)))
    return min(n_series, count * step)


def run_batches(
    group_fn: Callable[..., torch.Tensor],
    network: torch.nn.Module,
    context: torch.Tensor,
    covariates: torch.Tensor,
    series_id: torch.Tensor | None,
    generators: list | None,
    per_batch: int,
    workers: int,
    pooled: bool | None = None,
    shape: tuple[int, ...] | None = None,
) -> torch.Tensor:
    """Run ``group_fn`` on batches of ``per_batch`` whole series; their paths.

    ``group_fn(network, context, covariates, series_id, generators=...)`` samples
    the paths ``(B, *shape)`` of one batch (the sampler's other settings bound
    already); each batch's are written into one tensor ``(S, *shape)`` as it
    ends, so that the paths are never held twice (concatenated if ``shape``
    is None). The batches run in ``workers`` threads of one intra-op thread
    each if ``pooled`` (by default: if there are several batches).
    """
    S = context.shape[0]
    out = None if shape is None else context.new_empty(S, *shape)

    def run(lo: int) -> torch.Tensor | None:
        rows = slice(lo, min(S, lo + per_batch))
        with torch.no_grad():  # grad mode is per thread
            paths = group_fn(
                network,
                context[rows],
                covariates[rows],
                None if series_id is None else series_id[rows],
                generators=None if generators is None else generators[rows],
            )
        if out is None:
            return paths
        out[rows] = paths
        return None

    def collect(parts) -> torch.Tensor:
        parts = list(parts)  # every batch run (and any error raised) first
        return torch.cat(parts) if out is None else out

    starts = range(0, S, per_batch)
    if pooled is None:
        pooled = len(starts) > 1
    if workers <= 1 or not pooled:
        return collect(run(lo) for lo in starts)
    threads = torch.get_num_threads()
    if context.device.type == "cpu":
        torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(min(workers, len(starts))) as pool:
            return collect(pool.map(run, starts))
    finally:
        torch.set_num_threads(threads)
