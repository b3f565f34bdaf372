"""Frequencies of time indexes: inference, nominal durations, calendar steps.

Helpers of :class:`~._time_axis.TimeAxis` for the pandas side; no torch.
"""

from __future__ import annotations

import functools
import operator
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from ._calendar import _CYCLES

_ONE_DAY = pd.Timedelta(days=1)
# mean Gregorian month, to count the months of a calendar offset
_MONTH = pd.Timedelta(days=365.2425 / 12)
#: calendar offsets tried on an index too short for ``pd.infer_freq``
_CALENDAR_ANCHORS = ("MS", "ME", "QS", "QE", "YS", "YE")
# longest sub-daily season (5-minute data over a day)
_MAX_SUBDAILY_SEASON = 288


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
    elif step >= pd.Timedelta(days=28):
        # too few points for infer_freq: month, quarter or year anchors that
        # take every step (2020-01-01, 2020-02-01 is month starts, not 31 days)
        for code in _CALENDAR_ANCHORS:
            candidate = to_offset(code)
            if (index[:-1] + candidate).equals(index[1:]):
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
