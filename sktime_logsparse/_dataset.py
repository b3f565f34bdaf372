"""The data pipeline: instances to the per-series arrays of training and sampling.

:func:`choose_layout` decides, once per ``fit`` or ``pretrain``, the time axis,
the window lengths, the lags and the exogenous scaling of a panel. The other
functions turn instances into what :func:`~._training.fit_model` and
:func:`~._sampling.forecast_blocks` take: per series, its values (divided by
the series' magnitude factor) and covariates, or the last ``context_length``
values and the covariates of the conditioning range and the forecast steps.

Large panels: the per-series training arrays are made one series at a time
(:mod:`._arrays`); a forecast is sampled a block of series at a time
(:meth:`FittedPanel.sample_blocks`), with the inputs of that block only.
Instances on the same grid share their calendar features and forecast time
points, which are computed once.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._arrays import Calendar, covariates, instance_covariates, n_covariates
from ._calendar import auto_lags
from ._calibration import widen
from ._checks import check_future_X, time_axis_of, warn_sparse_instances
from ._outputs import InstancePaths, SamplePaths
from ._panel import (
    ExogScaler,
    Instance,
    exog_for,
    extend,
    instance_levels,
    magnitudes,
    regularise,
    series_keys,
    split_instances,
)
from ._time_axis import TimeAxis


@dataclass(frozen=True)
class LayoutChoice:
    """What :func:`choose_layout` decides for a panel."""

    axis: TimeAxis
    context_length: int
    prediction_length: int
    lags: tuple[int, ...]
    exog_scaler: ExogScaler | None


def choose_layout(
    y: pd.DataFrame, X: pd.DataFrame | None, fh_max: int | None, settings
) -> tuple[LayoutChoice, list[Instance]]:
    """Time axis, window lengths, lags and exogenous scaling of a panel.

    ``fh_max`` is the largest step of the ``fh`` given to ``fit`` (None
    without one); ``settings`` the forecaster's resolved parameters. Returns
    the choice and the instances of ``y``, on the axis' grid.
    """
    raw = split_instances(y, X)
    longest = max((inst.index for inst in raw), key=len)
    # calendar features only where the data span two of their cycles
    axis = time_axis_of(
        longest, calendar=settings.time_features == "auto", min_cycles=2
    )
    instances = [regularise(axis, inst) for inst in raw]
    warn_sparse_instances(raw, instances, axis.freq)
    season = axis.season_length
    if settings.prediction_length is not None:
        P = settings.prediction_length
    elif fh_max is not None:
        P = fh_max
    else:
        P = season if season > 1 else 8
    if settings.context_length is not None:
        C = clip_context(settings.context_length, P, instances)
    else:
        median = int(np.median([len(inst) for inst in instances]))
        C = max(1, min(7 * season if season > 1 else 4 * P, median - P))
    if settings.lags == "auto":
        # weekly lags for sub-daily data spanning two weeks
        names = axis.feature_names
        weekly = "hour_of_day" in names and "day_of_week" in names
        lags = auto_lags(season, weekly=weekly)
    else:
        lags = tuple(sorted(set(settings.lags or ())))
    scaler = None if X is None else ExogScaler.fit(X)
    return LayoutChoice(axis, C, P, lags, scaler), instances


def clip_context(
    context_length: int, prediction_length: int, instances: list[Instance]
) -> int:
    """``context_length``, at most what the longest series can fill.

    A window is ``context_length + prediction_length`` consecutive points, so
    the longest series of ``T`` points holds a whole window for a context of
    at most ``T - prediction_length`` (and at least 1). A longer context is
    clipped to that, with a ``UserWarning``: beyond it every window would be
    mostly padding (missing values on the left), at a cost in time and memory
    that grows with the context, not with the data.
    """
    longest = max(len(inst) for inst in instances)
    usable = max(1, longest - prediction_length)
    if context_length <= usable:
        return context_length
    warnings.warn(
        f"context_length={context_length} is longer than the data allow: using "
        f"context_length={usable}, so that a window (the context and "
        f"prediction_length={prediction_length}) spans the longest series "
        f"({longest} points)",
        UserWarning,
        stacklevel=4,
    )
    return usable


def forecast_steps(
    fh, cutoff: Any, instances: list[Instance], axis: TimeAxis
) -> tuple[list[np.ndarray], list[pd.Index]]:
    """Per instance: the steps (from 1) of ``fh`` after its end, their times.

    A relative ``fh`` counts from each instance's own last point (as sktime's
    per-series forecasters do when a panel's series end at different times);
    an absolute ``fh`` names the same time points for every instance.
    """
    from sktime.forecasting.base import ForecastingHorizon

    relative = fh.to_pandas() if fh.is_relative else None
    ends = _shared(inst.index[-1] for inst in instances)  # one per end point
    if relative is not None and pd.api.types.is_integer_dtype(relative):
        rel = np.asarray(relative, dtype=np.int64)
        steps = [rel] * len(instances)
        future = {end: axis.future(end, int(rel.max()))[rel - 1] for end in ends}
        indexes = [future[inst.index[-1]] for inst in instances]
    else:
        if fh.freq is None and axis.kind != "integer":
            # sktime finds no frequency on the cutoff of unequal-length panels
            fh = ForecastingHorizon(fh.to_pandas(), fh.is_relative, freq=axis.freq)
        index = fh.to_absolute_index(cutoff)
        after = {
            end: np.array([axis.steps_between(end, t) for t in index]) for end in ends
        }
        steps = [after[inst.index[-1]] for inst in instances]
        indexes = [index] * len(instances)
    if min(s.min() for s in steps) < 1:
        raise ValueError("fh must lie after the end of every series (out-of-sample)")
    return steps, indexes


def _shared(points) -> list:
    """The distinct time points of ``points``, in order of appearance."""
    return list(dict.fromkeys(points))


def forecast_inputs(
    axis: TimeAxis,
    scaler: ExogScaler | None,
    context_length: int,
    lead: int,
    instances: list[Instance],
    factors: list[np.ndarray],
    steps: list[np.ndarray],
    X: pd.DataFrame | None,
    n_levels: int,
    horizon: int | None = None,
    calendar: Calendar | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Contexts ``(S, lead + C)`` and covariates ``(S, C + H, n_cov)`` per series.

    ``H`` (returned too) is ``horizon``, by default the largest step; ``lead``
    the history a window needs before its first target. Series shorter than
    the context are left-padded (NaN values, zero covariates). ``calendar``
    shares calendar features between calls.
    """
    C, n_cov = context_length, n_covariates(axis, scaler)
    H = int(max(s.max() for s in steps)) if horizon is None else int(horizon)
    calendar = calendar or Calendar(axis)
    futures: dict = {}
    contexts, covs = [], []
    for inst, step, factor in zip(instances, steps, factors, strict=True):
        T, end = len(inst), inst.index[-1]
        if end not in futures:
            futures[end] = axis.future(end, H)
        future = futures[end]
        exog = future_exog(scaler, inst, future, X, step, n_levels)
        n_pad = max(0, C - T)
        known = instance_covariates(axis, scaler, inst, max(0, T - C), calendar)
        ahead = covariates(axis, future, np.arange(T, T + H), exog, scaler, calendar)
        cov = np.concatenate([np.zeros((n_pad, n_cov), np.float32), known, ahead])
        ctx = np.full((lead + C, inst.values.shape[1]), np.nan)
        tail = inst.values[max(0, T - C - lead) :]
        ctx[lead + C - len(tail) :] = tail / factor
        for j in range(inst.values.shape[1]):
            contexts.append(ctx[:, j])
            covs.append(cov)
    return np.stack(contexts), np.stack(covs), H


def future_exog(
    scaler: ExogScaler | None,
    inst: Instance,
    future: pd.Index,
    X: pd.DataFrame | None,
    steps: np.ndarray,
    n_levels: int,
) -> np.ndarray | None:
    """Exogenous rows ``(H, n_x)`` of the forecast steps (unstandardised).

    ``X`` must hold the rows of the requested steps (``steps``, 1-based).
    Steps between them that ``X`` lacks (e.g. step 1 of ``fh=[2, 5]``, still
    decoded autoregressively) take the last earlier row, as do steps after
    the last requested one, whose samples are not returned.
    """
    if scaler is None:
        return None
    if X is None:
        raise ValueError(
            "X is required by predict: the forecaster was fitted with X, so X "
            "must cover the forecasting horizon"
        )
    part = exog_for(X, inst.key, n_levels)
    missing = [c for c in scaler.columns if c not in part.columns]
    if missing:
        raise ValueError(f"X passed to predict lacks the columns {missing}")
    part = part[scaler.columns]
    rows = part.index.get_indexer(future)
    if (rows[steps - 1] < 0).any():
        absent = list(future[steps - 1][rows[steps - 1] < 0][:3])
        raise ValueError(
            f"X passed to predict does not cover the forecasting horizon: no "
            f"rows for {absent} (instance {inst.key or 'of y'})"
        )
    check_future_X(
        part.to_numpy(np.float64)[rows[steps - 1]], future[steps - 1], inst.key
    )
    last = inst.exog[-1] if len(inst.exog) else scaler.mean
    values = np.vstack([last, part.to_numpy(dtype=np.float64)])
    # row 0 of `values` is the last known row: forward fill through it
    known = np.where(rows >= 0, rows + 1, 0)
    return values[np.maximum.accumulate(known)]


def series_ids(n: int, embedding: bool) -> np.ndarray:
    """Each series' row of the id embedding: 0 to n - 1, or -1 (none) without one."""
    return np.arange(n, dtype=np.int64) if embedding else np.full(n, -1, np.int64)


@dataclass
class FittedPanel:
    """The series a forecaster was fitted on (and updated with), as arrays.

    Attributes
    ----------
    instances : list of Instance
        On the grid of the time axis, in the order of the fitted data.
    factors : list of np.ndarray
        Per instance, the magnitude factor of each column (fixed when the
        instance is first seen, so that later data never changes it).
    ids : np.ndarray
        Per series, its embedding id (-1 for a series the model never saw).
    level_names : list
        Names of the instance levels of ``y`` (empty for a plain series).
    time_name : Any
        Name of the time level of ``y``.
    columns : list
        The columns of ``y``.
    """

    instances: list[Instance]
    factors: list[np.ndarray]
    ids: np.ndarray
    level_names: list
    time_name: Any
    columns: list

    @classmethod
    def build(
        cls, instances: list[Instance], ids, integer: bool, y: pd.DataFrame
    ) -> FittedPanel:
        """The panel of ``instances`` of ``y``, their magnitude factors computed.

        ``integer``: whether the likelihood models counts (factor 1).
        """
        factors = [magnitudes(inst.values, integer) for inst in instances]
        levels = instance_levels(y)
        return cls(instances, factors, ids, levels, y.index.names[-1], list(y.columns))

    @property
    def keys(self) -> list[tuple]:
        """The key ``(instance key, column)`` of every series."""
        return series_keys(self.instances, self.columns)

    def extend(self, axis: TimeAxis, instances: list[Instance], integer: bool):
        """Append new points (``update``); new instances get the unknown id."""
        position = {inst.key: i for i, inst in enumerate(self.instances)}
        for inst in instances:
            if inst.key in position:
                i = position[inst.key]
                self.instances[i] = extend(axis, self.instances[i], inst)
            else:
                self.instances.append(inst)
                self.factors.append(magnitudes(inst.values, integer))
                self.ids = np.append(self.ids, np.full(len(self.columns), -1))

    def sample_blocks(
        self,
        sampler: Callable[..., Iterator[tuple[slice, np.ndarray]]],
        axis: TimeAxis,
        scaler: ExogScaler | None,
        layout,
        fh,
        cutoff: Any,
        X: pd.DataFrame | None,
        calibration: np.ndarray | None = None,
        counts: bool = False,
    ) -> Iterator[SamplePaths]:
        """The paths at ``fh``, a block of whole instances at a time.

        ``sampler(inputs=, horizon=, unit=)`` (:func:`._sampling.forecast_blocks`
        with the model, ids and seeds bound) yields ``(rows, samples)``: the
        float32 paths ``(len(rows), num_samples, H)`` of consecutive blocks of
        the series (model order), whose inputs it reads from ``inputs(rows)``,
        contexts and covariates made for those series only
        (:func:`forecast_inputs`); its blocks hold whole instances (multiples
        of ``unit`` series). Each block comes back as the
        :class:`SamplePaths` of its instances (their steps of ``fh``,
        widened by the ``calibration`` factors, times their magnitude
        factors; rounded with ``counts``), made from the samples when read.
        After the last block, a ``RuntimeWarning`` if any sampled value was
        not finite.
        """
        steps, indexes = forecast_steps(fh, cutoff, self.instances, axis)
        H = int(max(s.max() for s in steps))
        c = len(self.columns)
        calendar = Calendar(axis)

        def inputs(rows: slice) -> tuple[np.ndarray, np.ndarray]:
            part = slice(rows.start // c, rows.stop // c)
            contexts, covs, _ = forecast_inputs(
                axis,
                scaler,
                layout.context_length,
                layout.lead,
                self.instances[part],
                self.factors[part],
                steps[part],
                X,
                len(self.level_names),
                horizon=H,
                calendar=calendar,
            )
            return contexts, covs

        bad, total = 0, 0
        for rows, samples in sampler(inputs=inputs, horizon=H, unit=c):
            total += samples.size
            if not np.isfinite(samples).all():  # finite samples stay finite widened
                widened = widen(samples.astype(np.float64), calibration)
                bad += int((~np.isfinite(widened)).sum())
                del widened
            part = slice(rows.start // c, rows.stop // c)
            yield SamplePaths(
                InstancePaths(
                    samples, steps[part], self.factors[part], calibration, counts
                ),
                indexes[part],
                [inst.key for inst in self.instances[part]],
                self.level_names,
                self.time_name,
                self.columns,
            )
            del samples  # the caller holds the block's paths as long as it needs
        if bad:
            warnings.warn(
                f"{bad / total:.1%} of the sampled forecast values are not finite "
                "(NaN or infinite): the network's outputs overflow. Refit with a "
                "lower learning_rate, or report the data that causes it",
                RuntimeWarning,
                stacklevel=2,
            )
