"""The time axis of a panel: its frequency, future time points, steps between points.

A :class:`TimeAxis` records how the time index of the panel advances (its kind
and frequency) and which calendar features the frequency supports (see
:mod:`._calendar`). It computes the time points after the end of a series
(:meth:`TimeAxis.future`), distances between time points in steps
(:meth:`TimeAxis.steps_between`) and the calendar covariates of an index
(:meth:`TimeAxis.calendar_features`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._calendar import _FEATURES_BY_GRANULARITY, CALENDAR_FEATURES
from ._frequency import (
    _MAX_SUBDAILY_SEASON,
    _MONTH,
    _ONE_DAY,
    _as_int,
    _calendar_steps,
    _check_increasing,
    _covered,
    _cycle,
    _granularity,
    _infer_datetime_freq,
    _integer_step,
    _nominal_duration,
)


@dataclass(frozen=True)
class TimeAxis:
    """How one panel's time index advances and which calendar features it has.

    Build it with :meth:`from_index`. It is small and picklable.

    Parameters
    ----------
    kind : {"datetime", "period", "integer"}
        Type of the time index.
    freq : pandas.DateOffset or int
        Step of the index: a pandas offset for ``"datetime"`` and ``"period"``
        (for periods, the ``PeriodIndex.freq`` offset), a positive int for
        ``"integer"``.
    feature_names : tuple of str, default=()
        Names of the calendar features (keys of ``CALENDAR_FEATURES``), in the
        column order of :meth:`calendar_features`.
    tz : tzinfo or str, optional
        Time zone of a ``"datetime"`` axis; naive time points passed to the
        methods are localised to it.
    unit : str, optional
        Resolution (``"s"``, ``"ms"``, ``"us"``, ``"ns"``) of a ``"datetime"``
        axis; :meth:`future` returns this resolution.
    dtype : str, optional
        Dtype of an ``"integer"`` index, e.g. ``"int64"``.
    range_index : bool, default=False
        Whether an ``"integer"`` index was a ``RangeIndex``; :meth:`future`
        then returns a ``RangeIndex``.

    Attributes
    ----------
    n_calendar : int
        Number of calendar features.
    season_length : int
        Steps of the main seasonal cycle (1 if none).

    Examples
    --------
    >>> import pandas as pd
    >>> index = pd.date_range("2015-07-01", periods=48, freq="h")
    >>> axis = TimeAxis.from_index(index)
    >>> axis.kind, axis.freq, axis.season_length
    ('datetime', <Hour>, 24)
    >>> axis.feature_names
    ('hour_of_day', 'day_of_week', 'day_of_month', 'day_of_year')
    >>> axis.future(index[-1], 2).strftime("%Y-%m-%d %H:%M").tolist()
    ['2015-07-03 00:00', '2015-07-03 01:00']
    >>> axis.steps_between(index[0], index[-1])
    47
    >>> axis.calendar_features(index[12:13]).round(3)  # 2015-07-01 12:00, a Wed
    array([[ 0.022, -0.167, -0.5  , -0.004]], dtype=float32)
    """

    kind: str
    freq: Any
    feature_names: tuple[str, ...] = ()
    tz: Any = None
    unit: str | None = None
    dtype: str | None = None
    range_index: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("datetime", "period", "integer"):
            raise ValueError(f"unknown time axis kind {self.kind!r}")
        unknown = set(self.feature_names) - set(CALENDAR_FEATURES)
        if unknown:
            raise ValueError(f"unknown calendar features {sorted(unknown)}")
        if self.kind == "integer" and self.feature_names:
            raise ValueError("an integer time axis has no calendar features")
        object.__setattr__(self, "feature_names", tuple(self.feature_names))

    # ------------------------------------------------------------------ build
    @classmethod
    def from_index(
        cls, index: pd.Index, *, calendar: bool = True, min_cycles: float = 0
    ) -> TimeAxis:
        """Time axis of a time index.

        The frequency is ``index.freq`` if set, else ``pd.infer_freq(index)``
        (3 or more points), else a fallback: the most common difference
        between consecutive points. For a DatetimeIndex that step becomes a
        calendar offset if ``pd.infer_freq`` recognises one on short regular
        stretches of the index that takes that step (e.g. ``"MS"`` for
        monthly data with a missing month), else a fixed offset (``Day`` for
        whole days, else a ``Tick`` like ``"90min"``). A PeriodIndex always
        has its ``freq``. An integer index steps by its most common
        difference (1 for a single point).

        Parameters
        ----------
        index : pandas.DatetimeIndex, pandas.PeriodIndex or integer Index
            Strictly increasing time index (e.g. the longest series).
        calendar : bool, default=True
            Whether to use calendar features (chosen by the granularity of the
            frequency; never for an integer index).
        min_cycles : float, default=0
            Keep only the calendar features whose cycle (a day for
            ``hour_of_day``, a month for ``day_of_month``, ...) the index spans
            at least this many times. A model trained on one month of hourly
            data would otherwise meet values of ``day_of_month`` in a forecast
            that it never saw in training.

        Returns
        -------
        TimeAxis

        Raises
        ------
        ValueError
            If the frequency cannot be determined: the index has missing,
            duplicate or unsorted time points, or a DatetimeIndex without
            ``freq`` has fewer than 2 points.
        TypeError
            If the index is neither datetime, period nor integer.
        """
        if isinstance(index, pd.MultiIndex):
            raise TypeError("expected the time index of one series, got a MultiIndex")
        if isinstance(index, pd.DatetimeIndex):
            _check_increasing(index)
            freq = _infer_datetime_freq(index)
            names = _FEATURES_BY_GRANULARITY[_granularity(freq)] if calendar else ()
            names = _covered(names, index[-1] - index[0], min_cycles)
            return cls("datetime", freq, names, tz=index.tz, unit=index.unit)
        if isinstance(index, pd.PeriodIndex):
            _check_increasing(index)
            freq = index.freq
            names = _FEATURES_BY_GRANULARITY[_granularity(freq)] if calendar else ()
            span = index[-1].start_time - index[0].start_time
            return cls("period", freq, _covered(names, span, min_cycles))
        if pd.api.types.is_integer_dtype(index.dtype) and not (
            pd.api.types.is_bool_dtype(index.dtype)
        ):
            _check_increasing(index)
            step = index.step if isinstance(index, pd.RangeIndex) else None
            step = int(step) if step is not None else _integer_step(index)
            return cls(
                "integer",
                step,
                (),
                dtype=str(index.dtype),
                range_index=isinstance(index, pd.RangeIndex),
            )
        raise TypeError(
            "the time index must be a DatetimeIndex, PeriodIndex or an integer "
            f"index, got {type(index).__name__} of dtype {index.dtype}"
        )

    # ------------------------------------------------------------- properties
    @property
    def n_calendar(self) -> int:
        """Number of calendar features."""
        return len(self.feature_names)

    @property
    def season_length(self) -> int:
        """Steps of the main seasonal cycle of the frequency, 1 if none.

        A heuristic for default window lengths. Sub-daily: steps per day (24
        for ``"h"``, 96 for ``"15min"``), or per hour or minute where a day has
        more than 288 steps (60 for ``"min"`` and ``"s"``). Daily: 7 (business
        days: 5). Weekly: 52 (other sub-monthly steps, e.g. ``"SME"``: steps
        per year). Monthly: 12. Quarterly: 4. Multiples divide the cycle where
        they divide it evenly (``"2h"``: 12, ``"2MS"``: 6), else 1. Yearly and
        integer axes: 1.
        """
        if self.kind == "integer":
            return 1
        offset = self.freq
        step = _nominal_duration(offset)
        granularity = _granularity(offset)
        if granularity in ("subhourly", "hourly"):
            if not isinstance(offset, pd.offsets.Tick):
                return 1  # e.g. business hours
            for cycle in (_ONE_DAY, pd.Timedelta(hours=1), pd.Timedelta(minutes=1)):
                if cycle / step <= _MAX_SUBDAILY_SEASON:
                    return _cycle(cycle / step, 1)
            return 1
        if granularity == "daily":
            if isinstance(
                offset, pd.offsets.BusinessDay | pd.offsets.CustomBusinessDay
            ):
                return _cycle(5, offset.n)
            return _cycle(7, step / _ONE_DAY)
        if granularity == "weekly":
            week = pd.Timedelta(days=7)
            if step % week == pd.Timedelta(0):
                return _cycle(52, step // week)
            return max(1, round(pd.Timedelta(days=365.2425) / step))  # e.g. "SME"
        if granularity in ("monthly", "quarterly"):
            return _cycle(12, round(step / _MONTH))
        return 1

    # ----------------------------------------------------------- time points
    def _timestamp(self, value: Any) -> pd.Timestamp:
        stamp = pd.Timestamp(value)
        if stamp is pd.NaT:
            raise ValueError("time point is NaT")
        if stamp.tz is None and self.tz is not None:
            stamp = stamp.tz_localize(self.tz)
        return stamp

    def _period(self, value: Any) -> pd.Period:
        period = value if isinstance(value, pd.Period) else pd.Period(value, self.freq)
        if period.freq != self.freq:
            raise ValueError(
                f"period {period} has frequency {period.freq!r}, the time axis "
                f"{self.freq!r}"
            )
        return period

    def future(self, last: Any, steps: int) -> pd.Index:
        """The ``steps`` time points strictly after ``last``.

        Parameters
        ----------
        last : pandas.Timestamp, pandas.Period or int
            A time point of the index (typically the last one of a series).
            For anchored offsets (``"MS"``, ``"B"``, ...) a point off the grid
            is followed by the next points on the grid.
        steps : int
            Number of time points, >= 0.

        Returns
        -------
        pandas.Index
            DatetimeIndex (with ``freq``, time zone and resolution of the
            axis), PeriodIndex, or integer index (``RangeIndex`` if the data
            had one).
        """
        steps = _as_int(steps)
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        if self.kind == "datetime":
            start = self._timestamp(last) + self.freq
            out = pd.date_range(start=start, periods=steps, freq=self.freq)
            return out.as_unit(self.unit) if self.unit else out
        if self.kind == "period":
            start = self._period(last) + 1
            return pd.period_range(start=start, periods=steps, freq=self.freq)
        last = _as_int(last)
        first, stop = last + self.freq, last + self.freq * (steps + 1)
        if self.range_index:
            return pd.RangeIndex(first, stop, self.freq)
        return pd.Index(np.arange(first, stop, self.freq), dtype=self.dtype)

    def steps_between(self, start: Any, end: Any) -> int:
        """Number of steps from ``start`` to ``end`` (0 if equal).

        Exact for any distance: fixed-duration offsets divide the time
        difference, calendar days divide the wall-clock difference, periods
        and integers use ordinals, other calendar offsets count the points of
        ``pd.date_range(start, end)``.

        Parameters
        ----------
        start, end : pandas.Timestamp, pandas.Period or int
            Time points of the axis.

        Returns
        -------
        int

        Raises
        ------
        ValueError
            If ``end`` is before ``start``, or ``end`` (or, for anchored
            offsets, ``start``) is not on the grid of the axis.
        """
        if self.kind == "integer":
            first, last = _as_int(start), _as_int(end)
            return self._whole_steps(last - first, self.freq, start, end)
        if self.kind == "period":
            first, last = self._period(start), self._period(end)
            distance = last.ordinal - first.ordinal
            return self._whole_steps(distance, self.freq.n, first, last)
        first, last = self._timestamp(start), self._timestamp(end)
        offset = self.freq
        if isinstance(offset, pd.offsets.Tick):
            return self._whole_steps(last - first, pd.Timedelta(offset), first, last)
        if isinstance(offset, pd.offsets.Day):
            # calendar days: count on the wall clock (DST-proof)
            wall = last.tz_localize(None) - first.tz_localize(None)
            return self._whole_steps(wall, pd.Timedelta(days=offset.n), first, last)
        return _calendar_steps(first, last, offset)

    @staticmethod
    def _whole_steps(distance: Any, step: Any, start: Any, end: Any) -> int:
        """``distance / step`` as int; ValueError if negative or not whole."""
        count, rest = divmod(distance, step)
        if count < 0:
            raise ValueError(f"end {end} is before start {start}")
        if rest:
            raise ValueError(
                f"end {end} is not on the grid of the time axis starting at {start}"
            )
        return int(count)

    # -------------------------------------------------------------- features
    def calendar_features(self, index: pd.Index) -> np.ndarray:
        """Calendar features of the time points of ``index``.

        Parameters
        ----------
        index : pandas.Index
            Time points of the axis (DatetimeIndex or PeriodIndex; periods are
            represented by their start time).

        Returns
        -------
        numpy.ndarray
            shape: ``(len(index), n_calendar)``, float32 in ``[-0.5, 0.5]``, the
            columns in the order of ``feature_names``.
        """
        if not self.feature_names:
            return np.zeros((len(index), 0), dtype=np.float32)
        if isinstance(index, pd.PeriodIndex):
            stamps = index.to_timestamp(how="start")
        else:
            stamps = pd.DatetimeIndex(index)
        columns = [CALENDAR_FEATURES[name](stamps) for name in self.feature_names]
        return np.stack(columns, axis=1).astype(np.float32)
