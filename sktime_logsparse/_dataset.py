"""The data pipeline: instances to the per-series arrays of training and sampling.

:func:`choose_layout` decides, once per ``fit`` or ``pretrain``, the time axis,
the window lengths, the lags and the exogenous scaling of a panel. The other
functions turn instances into what :func:`~._training.fit_model` and
:func:`~._sampling.forecast` take: per series, its values (divided by the
series' magnitude factor) and covariates, or the last ``context_length`` values
and the covariates of the conditioning range and the forecast steps.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._calendar import age_feature, auto_lags
from ._checks import check_future_X, time_axis_of, warn_sparse_instances
from ._outputs import SamplePaths
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


def n_covariates(axis: TimeAxis, scaler: ExogScaler | None) -> int:
    """Covariates per step: calendar features, age and exogenous columns."""
    return axis.n_calendar + 1 + (0 if scaler is None else len(scaler.columns))


def covariates(
    axis: TimeAxis,
    index: pd.Index,
    positions: np.ndarray,
    exog: np.ndarray | None,
    scaler: ExogScaler | None,
) -> np.ndarray:
    """Covariates ``(T, C)``: calendar features, age, standardised exogenous."""
    parts = [axis.calendar_features(index), age_feature(positions)[:, None]]
    if scaler is not None:
        parts.append(scaler.transform(exog))
    return np.concatenate(parts, axis=1).astype(np.float32)


def instance_covariates(
    axis: TimeAxis, scaler: ExogScaler | None, inst: Instance, start: int = 0
) -> np.ndarray:
    """Covariates ``(T - start, C)`` of an instance's points from ``start``."""
    exog = None if inst.exog is None else inst.exog[start:]
    positions = np.arange(start, len(inst))
    return covariates(axis, inst.index[start:], positions, exog, scaler)


def training_arrays(
    axis: TimeAxis,
    scaler: ExogScaler | None,
    instances: list[Instance],
    factors: list[np.ndarray],
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per series: its values ``(T,)`` over its magnitude factor, covariates."""
    values, covs = [], []
    for inst, magnitude in zip(instances, factors, strict=True):
        cov = instance_covariates(axis, scaler, inst)
        for j in range(inst.values.shape[1]):
            values.append(inst.values[:, j] / magnitude[j])
            covs.append(cov)
    return values, covs


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
    if relative is not None and pd.api.types.is_integer_dtype(relative):
        rel = np.asarray(relative, dtype=np.int64)
        steps = [rel] * len(instances)
        indexes = [
            axis.future(inst.index[-1], int(rel.max()))[rel - 1] for inst in instances
        ]
    else:
        if fh.freq is None and axis.kind != "integer":
            # sktime finds no frequency on the cutoff of unequal-length panels
            fh = ForecastingHorizon(fh.to_pandas(), fh.is_relative, freq=axis.freq)
        index = fh.to_absolute_index(cutoff)
        steps = [
            np.array([axis.steps_between(inst.index[-1], t) for t in index])
            for inst in instances
        ]
        indexes = [index] * len(instances)
    if min(s.min() for s in steps) < 1:
        raise ValueError("fh must lie after the end of every series (out-of-sample)")
    return steps, indexes


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
) -> tuple[np.ndarray, np.ndarray, int]:
    """Contexts ``(S, lead + C)`` and covariates ``(S, C + H, n_cov)`` per series.

    ``H`` (returned too) is the largest step; ``lead`` the history a window
    needs before its first target. Series shorter than the context are
    left-padded (NaN values, zero covariates).
    """
    C, n_cov = context_length, n_covariates(axis, scaler)
    H = int(max(s.max() for s in steps))
    contexts, covs = [], []
    for inst, step, factor in zip(instances, steps, factors, strict=True):
        T = len(inst)
        future = axis.future(inst.index[-1], H)
        exog = future_exog(scaler, inst, future, X, step, n_levels)
        n_pad = max(0, C - T)
        cov = np.concatenate(
            [
                np.zeros((n_pad, n_cov), np.float32),
                instance_covariates(axis, scaler, inst, start=max(0, T - C)),
                covariates(axis, future, np.arange(T, T + H), exog, scaler),
            ]
        )
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

    def sample_paths(
        self,
        draw,
        axis: TimeAxis,
        scaler: ExogScaler | None,
        layout,
        fh,
        cutoff: Any,
        X: pd.DataFrame | None,
    ) -> SamplePaths:
        """The paths at ``fh``: ``draw(context=, covariates=, horizon=)`` samples them.

        ``draw`` returns ``(S, num_samples, H)`` for the series in model order;
        they are multiplied back by their magnitude factors.
        """
        steps, indexes = forecast_steps(fh, cutoff, self.instances, axis)
        contexts, covs, H = forecast_inputs(
            axis,
            scaler,
            layout.context_length,
            layout.lead,
            self.instances,
            self.factors,
            steps,
            X,
            len(self.level_names),
        )
        samples = draw(context=contexts, covariates=covs, horizon=H)
        bad = ~np.isfinite(samples)
        if bad.any():
            warnings.warn(
                f"{bad.mean():.1%} of the sampled forecast values are not finite "
                "(NaN or infinite): the network's outputs overflow. Refit with a "
                "lower learning_rate, or report the data that causes it",
                RuntimeWarning,
                stacklevel=5,
            )
        paths, s = [], 0
        for inst, step, factor in zip(self.instances, steps, self.factors, strict=True):
            n = inst.values.shape[1]
            paths.append(samples[s : s + n][:, :, step - 1] * factor[:, None, None])
            s += n
        keys = [inst.key for inst in self.instances]
        return SamplePaths(
            paths, indexes, keys, self.level_names, self.time_name, self.columns
        )
