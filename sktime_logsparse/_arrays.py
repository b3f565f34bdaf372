"""Per-point arrays of a panel: covariates, and the per-series training arrays.

Covariates of a point are its calendar features, its age (position since the
series' start) and the standardised exogenous columns. Instances and
forecast horizons lie on the regular grid of the time axis, so a panel of
series on the same dates shares one computation of its calendar features
(:class:`Calendar`). The training arrays of a panel are made one series at a
time as they are read (:class:`SeriesArrays`), so that only the flat layout
of :mod:`._series` ever holds every series at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ._calendar import age_feature
from ._panel import ExogScaler, Instance
from ._time_axis import TimeAxis


def n_covariates(axis: TimeAxis, scaler: ExogScaler | None) -> int:
    """Covariates per step: calendar features, age and exogenous columns."""
    return axis.n_calendar + 1 + (0 if scaler is None else len(scaler.columns))


class Calendar:
    """The calendar features of an axis, computed once per run of time points.

    Instances and forecast horizons lie on the regular grid of the axis, so
    their time points are fixed by the first one and their number: a panel
    of series on the same dates computes its features once. The arrays
    returned are read-only and shared.
    """

    def __init__(self, axis: TimeAxis):
        self.axis = axis
        self._seen: dict = {}

    def features(self, index: pd.Index) -> np.ndarray:
        """``axis.calendar_features(index)``, for ``index`` on the axis' grid."""
        if not len(index):
            return self.axis.calendar_features(index)
        key = (type(index), index[0], len(index), getattr(index, "tz", None))
        found = self._seen.get(key)
        if found is None:
            found = self.axis.calendar_features(index)
            found.flags.writeable = False
            self._seen[key] = found
        return found


def covariates(
    axis: TimeAxis,
    index: pd.Index,
    positions: np.ndarray,
    exog: np.ndarray | None,
    scaler: ExogScaler | None,
    calendar: Calendar | None = None,
) -> np.ndarray:
    """Covariates ``(T, C)``: calendar features, age, standardised exogenous.

    ``calendar`` (of ``axis``) shares the features of equal runs of time
    points between calls.
    """
    features = (calendar or Calendar(axis)).features(index)
    parts = [features, age_feature(positions)[:, None]]
    if scaler is not None:
        parts.append(scaler.transform(exog))
    return np.concatenate(parts, axis=1).astype(np.float32)


def instance_covariates(
    axis: TimeAxis,
    scaler: ExogScaler | None,
    inst: Instance,
    start: int = 0,
    calendar: Calendar | None = None,
) -> np.ndarray:
    """Covariates ``(T - start, C)`` of an instance's points from ``start``."""
    exog = None if inst.exog is None else inst.exog[start:]
    positions = np.arange(start, len(inst))
    return covariates(axis, inst.index[start:], positions, exog, scaler, calendar)


class SeriesArrays(Sequence):
    """Per series, an array made from its instance when it is read.

    Series ``i`` is column ``j`` of instance ``k`` (``i = k * columns + j``);
    ``make(instance, j, factors)`` makes its array. Nothing is kept, so that a
    large panel is not held twice, as instances and as per-series arrays.
    """

    def __init__(
        self,
        instances: list[Instance],
        factors: list[np.ndarray],
        make: Callable[[Instance, int, np.ndarray], np.ndarray],
    ):
        self.instances, self.factors, self.make = instances, factors, make
        self.columns = instances[0].values.shape[1] if instances else 0

    def __len__(self) -> int:
        return len(self.instances) * self.columns

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i) + (len(self) if i < 0 else 0)
        if not 0 <= i < len(self):
            raise IndexError(f"series {i} of {len(self)}")
        k, j = divmod(i, self.columns)
        return self.make(self.instances[k], j, self.factors[k])


def training_arrays(
    axis: TimeAxis,
    scaler: ExogScaler | None,
    instances: list[Instance],
    factors: list[np.ndarray],
) -> tuple[SeriesArrays, SeriesArrays]:
    """Per series: its values ``(T,)`` over its magnitude factor, covariates.

    Sequences whose items are made when read (:class:`SeriesArrays`):
    :meth:`._series.SeriesTensors.from_arrays` copies each into the flat
    layout and drops it.
    """
    calendar = Calendar(axis)

    def cov(inst: Instance, j: int, factor: np.ndarray) -> np.ndarray:
        return instance_covariates(axis, scaler, inst, calendar=calendar)

    values = SeriesArrays(
        instances, factors, lambda inst, j, f: inst.values[:, j] / f[j]
    )
    return values, SeriesArrays(instances, factors, cov)
