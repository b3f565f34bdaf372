"""Time axes and calendar features of the series (pandas side, no torch).

A :class:`TimeAxis` records how the time index of the panel advances (its kind
and frequency) and which calendar features the frequency supports. It computes
the time points after the end of a series (:meth:`TimeAxis.future`), distances
between time points in steps (:meth:`TimeAxis.steps_between`) and the calendar
covariates of an index (:meth:`TimeAxis.calendar_features`). :func:`age_feature`
is the covariate of the position since the series start.

Calendar features follow the convention of GluonTS time features: an integer
calendar field with ``k`` possible values ``0, ..., k - 1`` is encoded as
``value / (k - 1) - 0.5``, so every feature lies in ``[-0.5, 0.5]``.
"""

from __future__ import annotations

import functools
import operator
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

__all__ = ["TimeAxis", "age_feature", "auto_lags", "CALENDAR_FEATURES"]

_ONE_DAY = pd.Timedelta(days=1)
# mean Gregorian month, to count the months of a calendar offset
_MONTH = pd.Timedelta(days=365.2425 / 12)
# longest sub-daily season (5-minute data over a day)
_MAX_SUBDAILY_SEASON = 288


def _minute_of_hour(index: pd.DatetimeIndex) -> np.ndarray:
    return index.minute.to_numpy() / 59.0 - 0.5


def _hour_of_day(index: pd.DatetimeIndex) -> np.ndarray:
    return index.hour.to_numpy() / 23.0 - 0.5


def _day_of_week(index: pd.DatetimeIndex) -> np.ndarray:
    return index.dayofweek.to_numpy() / 6.0 - 0.5


def _day_of_month(index: pd.DatetimeIndex) -> np.ndarray:
    return (index.day.to_numpy() - 1) / 30.0 - 0.5


def _day_of_year(index: pd.DatetimeIndex) -> np.ndarray:
    return (index.dayofyear.to_numpy() - 1) / 365.0 - 0.5


def _week_of_year(index: pd.DatetimeIndex) -> np.ndarray:
    week = index.isocalendar()["week"].to_numpy(dtype=np.float64)
    return (week - 1) / 52.0 - 0.5


def _month_of_year(index: pd.DatetimeIndex) -> np.ndarray:
    return (index.month.to_numpy() - 1) / 11.0 - 0.5


#: The calendar features by name: each maps a DatetimeIndex to values in
#: ``[-0.5, 0.5]`` (``value / (n_values - 1) - 0.5`` of a zero-based field).
CALENDAR_FEATURES: dict[str, Callable[[pd.DatetimeIndex], np.ndarray]] = {
    "minute_of_hour": _minute_of_hour,
    "hour_of_day": _hour_of_day,
    "day_of_week": _day_of_week,
    "day_of_month": _day_of_month,
    "day_of_year": _day_of_year,
    "week_of_year": _week_of_year,
    "month_of_year": _month_of_year,
}

# granularity of a frequency -> its calendar features
_FEATURES_BY_GRANULARITY: dict[str, tuple[str, ...]] = {
    "subhourly": (
        "minute_of_hour",
        "hour_of_day",
        "day_of_week",
        "day_of_month",
        "day_of_year",
    ),
    "hourly": ("hour_of_day", "day_of_week", "day_of_month", "day_of_year"),
    "daily": ("day_of_week", "day_of_month", "day_of_year"),
    "weekly": ("day_of_month", "week_of_year"),
    "monthly": ("month_of_year",),
    "quarterly": ("month_of_year",),
    "yearly": (),
}


# length of the cycle of each feature (see ``min_cycles`` of ``from_index``)
_CYCLES: dict[str, pd.Timedelta] = {
    "minute_of_hour": pd.Timedelta(hours=1),
    "hour_of_day": pd.Timedelta(days=1),
    "day_of_week": pd.Timedelta(days=7),
    "day_of_month": pd.Timedelta(days=31),
    "day_of_year": pd.Timedelta(days=366),
    "week_of_year": pd.Timedelta(days=366),
    "month_of_year": pd.Timedelta(days=366),
}


def _covered(names: tuple[str, ...], span: pd.Timedelta, cycles: float):
    """The features of ``names`` whose cycle ``span`` covers ``cycles`` times."""
    return tuple(name for name in names if span >= cycles * _CYCLES[name])


@functools.lru_cache(maxsize=256)
def _nominal_duration(offset: pd.DateOffset) -> pd.Timedelta:
    """Mean length of one step of ``offset``.

    Exact for fixed-duration (``Tick``) offsets; for calendar offsets (days,
    business days, weeks, months, quarters, years...) the mean step over 48
    consecutive steps from 2001-01-01, e.g. about 1.4 days for business days
    and 30.4 days for months.
    """
    if isinstance(offset, pd.offsets.Tick):
        return pd.Timedelta(offset)
    points = pd.date_range(pd.Timestamp("2001-01-01"), periods=49, freq=offset)
    return (points[-1] - points[0]) / 48


def _granularity(offset: pd.DateOffset) -> str:
    """Granularity class of a frequency, by its nominal step length."""
    step = _nominal_duration(offset)
    if step < pd.Timedelta(hours=1):
        return "subhourly"
    if step < _ONE_DAY:
        return "hourly"
    if step < pd.Timedelta(days=7):
        return "daily"
    if step < pd.Timedelta(days=28):
        return "weekly"
    if step < pd.Timedelta(days=88):
        return "monthly"
    if step < pd.Timedelta(days=360):
        return "quarterly"
    return "yearly"


def _cycle(cycle: float, step: float) -> int:
    """``cycle / step`` if it is a whole number greater than 1, else 1."""
    ratio = cycle / step
    whole = round(ratio)
    return whole if whole > 1 and abs(ratio - whole) < 1e-6 * whole else 1


def _timedelta_offset(step: pd.Timedelta) -> pd.DateOffset:
    """A fixed step as an offset: whole days as ``Day`` (calendar days)."""
    if step % _ONE_DAY == pd.Timedelta(0):
        return pd.offsets.Day(int(step // _ONE_DAY))
    return to_offset(step)


def _infer_datetime_freq(index: pd.DatetimeIndex) -> pd.DateOffset:
    """Frequency of a strictly increasing DatetimeIndex (see ``from_index``)."""
    if index.freq is not None:
        return index.freq
    if len(index) >= 3:
        inferred = pd.infer_freq(index)
        if inferred is not None:
            return to_offset(inferred)
    if len(index) < 2:
        raise ValueError(
            "cannot determine the frequency of the time index: it has "
            f"{len(index)} time point(s) and no freq attribute"
        )
    diffs = (index[1:] - index[:-1]).asi8
    values, counts = np.unique(diffs, return_counts=True)
    mode = values[np.argmax(counts)]  # the smallest of equally common steps
    step = pd.Timedelta(int(mode), unit=index.unit)
    # Prefer a calendar offset (e.g. month starts) found by ``infer_freq`` on
    # short regular stretches of the index, if it takes the most common step
    # at its first occurrence; else the most common step as a fixed offset.
    first = int(np.argmax(diffs == mode))
    window = 5
    if len(index) >= window:
        starts = np.unique(np.linspace(0, len(index) - window, 25).astype(int))
        found = Counter(pd.infer_freq(index[i : i + window]) for i in starts)
        found.pop(None, None)
        for code, _ in found.most_common():
            candidate = to_offset(code)
            if index[first] + candidate == index[first + 1]:
                return candidate
    return _timedelta_offset(step)


def _calendar_steps(
    first: pd.Timestamp, last: pd.Timestamp, offset: pd.DateOffset
) -> int:
    """Steps of a calendar offset (months, business days...) from first to last.

    Estimates the count from the nominal step length, corrects it with the
    exact ``first + k * offset`` (a few O(1) offset applications whatever the
    distance) and checks that ``last`` is hit exactly.
    """
    if last < first:
        raise ValueError(f"end {last} is before start {first}")
    if not offset.is_on_offset(first):
        raise ValueError(
            f"start {first} is not on the grid of frequency {offset.freqstr}"
        )

    def point(k: int) -> pd.Timestamp:
        return first if k == 0 else first + k * offset

    nominal = _nominal_duration(offset)
    k = round((last - first) / nominal)
    for _ in range(8):  # converges in 1-2 corrections
        correction = round((last - point(k)) / nominal)
        if correction == 0:
            break
        k = max(0, k + correction)
    while point(k) < last:
        k += 1
    while k > 0 and point(k) > last:
        k -= 1
    if point(k) != last:
        raise ValueError(
            f"end {last} is not on the grid of frequency {offset.freqstr} "
            f"starting at {first}"
        )
    return k


def _integer_step(index: pd.Index) -> int:
    """Most common difference of a strictly increasing integer index (1 if <2)."""
    if len(index) < 2:
        return 1
    values, counts = np.unique(np.diff(index.to_numpy()), return_counts=True)
    return int(values[np.argmax(counts)])


def _check_increasing(index: pd.Index) -> None:
    if index.hasnans:
        raise ValueError(
            "cannot determine the frequency of the time index: it contains "
            "missing time points (NaT/NaN)"
        )
    if not index.is_unique:
        raise ValueError(
            "cannot determine the frequency of the time index: it has duplicate "
            "time points (steps of zero length)"
        )
    if not index.is_monotonic_increasing:
        raise ValueError(
            "cannot determine the frequency of the time index: it is not sorted "
            "(negative steps)"
        )


def _as_int(value: Any) -> int:
    if isinstance(value, bool | np.bool_):
        raise TypeError(f"expected an integer time point, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"expected an integer time point, got {value!r}") from None


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


def age_feature(positions: np.ndarray) -> np.ndarray:
    """Age covariate ``log10(2 + position)`` of positions since the series start.

    Parameters
    ----------
    positions : numpy.ndarray
        Integer positions since the first observation of the series (0 for the
        first); negative positions (padding before the start) count as 0.

    Returns
    -------
    numpy.ndarray
        float32, the shape of ``positions``.

    Examples
    --------
    >>> age_feature(np.array([-3, 0, 8]))
    array([0.30103, 0.30103, 1.     ], dtype=float32)
    """
    positions = np.clip(np.asarray(positions, dtype=np.float64), 0, None)
    return np.log10(2.0 + positions).astype(np.float32)


def auto_lags(season: int, weekly: bool = False) -> tuple[int, ...]:
    """Lagged targets of ``lags="auto"`` besides ``z_{t-1}``.

    ``z_{t-2}``; with a season ``s > 1`` also ``s - 1, s, s + 1`` and ``2 s``;
    with ``weekly`` (sub-daily data, ``s`` steps a day) also ``7 s - 1, 7 s,
    7 s + 1``. The neighbours of a seasonal lag make seasonal differences
    (``z_{t-s} - z_{t-s-1}``) linear functions of the inputs.

    Examples
    --------
    >>> auto_lags(24, weekly=True)
    (2, 23, 24, 25, 48, 167, 168, 169)
    >>> auto_lags(12)
    (2, 11, 12, 13, 24)
    >>> auto_lags(1)
    (2,)
    """
    lags = {2}
    if season > 1:
        lags |= {season - 1, season, season + 1, 2 * season}
        if weekly:
            lags |= {7 * season - 1, 7 * season, 7 * season + 1}
    return tuple(sorted(lag for lag in lags if lag > 1))
