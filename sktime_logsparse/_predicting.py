"""The sample paths behind a forecaster's outputs: kept, or drawn in blocks.

Every output of ``predict`` (point forecasts, quantiles, intervals,
variances) is a :class:`._outputs.Summary` of the sample paths at the
horizon. A forecast whose paths take up to :data:`._outputs.CACHE_BYTES` is
sampled at once and its paths are kept (:class:`._outputs.PathCache`), so
that the outputs of one horizon sample once. A larger one is sampled a block
of series at a time and each block is summarised and dropped
(:func:`summary`): its memory is that of the output and of one block, and
each output samples again, with the same values. ``predict_proba`` returns
every path and takes them at once (:func:`paths`).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import pandas as pd

from ._batches import BLOCK_VALUES
from ._checks import check_X
from ._dataset import forecast_steps
from ._model import mixed_precision, series_seeds
from ._outputs import CACHE_BYTES, PathCache, SamplePaths, Summary, summarise
from ._sampling import forecast_blocks
from ._threads import threads_for


def summary(forecaster, fh, X, what: Summary) -> pd.DataFrame:
    """The output ``what`` of ``forecaster``'s paths at ``fh`` (``X``: as passed).

    From the kept paths of the horizon, or of paths sampled and kept now if
    they fit in :data:`._outputs.CACHE_BYTES`; else sampled and summarised a
    block of series at a time.
    """
    X = check_X(X, method="predict", columns=forecaster._exog_columns())
    kept = cache(forecaster).peek(key(forecaster, fh, X))
    if kept is None and paths_bytes(forecaster, fh) <= CACHE_BYTES:
        kept = forecaster._paths(fh, X)
    if kept is not None:
        return kept.summarise(what)
    return summarise(path_blocks(forecaster, fh, X, BLOCK_VALUES), what)


def paths_bytes(forecaster, fh) -> int:
    """Bytes of the float32 paths of every series at ``fh``."""
    panel = forecaster._panel
    steps, _ = forecast_steps(
        fh, forecaster.cutoff, panel.instances, forecaster.time_axis_
    )
    horizon = int(max(s.max() for s in steps))
    return len(panel.ids) * int(forecaster.num_samples) * horizon * 4


def cache(forecaster) -> PathCache:
    """The forecaster's path cache (made on first use, never saved)."""
    # setdefault: one cache even where threads predict on a loaded model
    return vars(forecaster).setdefault("_path_cache", PathCache())


def key(forecaster, fh, X) -> tuple:
    """The key of the paths at ``fh``: the cutoff, the horizon, ``X``."""
    return (tuple(forecaster.cutoff), fh.is_relative, tuple(fh.to_pandas()), X)


def path_blocks(
    forecaster, fh, X, block_values: int | None = None
) -> Iterator[SamplePaths]:
    """The paths at ``fh``, in blocks of about ``block_values`` sampled values.

    None: one block of every series. Yields the :class:`._outputs.SamplePaths`
    of each block (:meth:`._dataset.FittedPanel.sample_blocks`), widened as
    calibrated, sampled under the forecaster's thread count for predict.
    """
    panel, model, n = forecaster._panel, forecaster.model_, int(forecaster.num_samples)
    sampler = partial(
        forecast_blocks,
        model,
        series_id=panel.ids,
        num_samples=n,
        seeds=series_seeds(forecaster._predict_seed, panel.keys),
        block_values=block_values,
    )
    settings = forecaster._settings()
    counts = settings.likelihood_.integer_data
    factors = getattr(forecaster, "calibration_", None)
    axis, scaler = forecaster.time_axis_, forecaster.exog_scaler_
    with (
        threads_for(forecaster, n_series=len(panel.ids)),
        mixed_precision(model, settings.precision),
    ):
        yield from panel.sample_blocks(
            sampler,
            axis,
            scaler,
            model.layout,
            fh,
            forecaster.cutoff,
            X,
            factors,
            counts,
        )
