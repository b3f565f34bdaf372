"""How the sampler splits a forecast: chunks of positions, batches of series.

A forecast longer than ``prediction_length`` P is decoded in chunks of P steps
(see :mod:`._sampling`); the caches of a chunk hold, per path, the positions
it decodes and, past the first chunk, the path's own conditioning positions.
:func:`series_per_batch` sizes the batches of whole series so that those
caches stay within what a one-chunk forecast holds, and :mod:`._memory`
estimates the memory of the same batches.
"""

from __future__ import annotations

#: paths decoded at once by default (``SamplerSettings.max_batch``)
MAX_BATCH = 8192
#: a path's own conditioning positions fed through the caches at once
FORCED_BLOCK = 16


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
    multiple of ``workers``, so that no worker is left with a longer share.
    """
    workers = max(1, workers)
    most = -(-n_series // workers)
    if cached <= first:  # one chunk: the batches of the first sampler
        return max(1, min(max_batch // num_samples, most))
    per_batch = max(1, min(max_batch * first // cached // num_samples, most))
    batches = -(-n_series // per_batch)
    batches = -(-batches // workers) * workers
    return -(-n_series // batches)
