"""Covariates of a time step: calendar features, the age of the series, lags.

Calendar features follow the convention of GluonTS time features: an integer
calendar field with ``k`` possible values ``0, ..., k - 1`` is encoded as
``value / (k - 1) - 0.5``, so every feature lies in ``[-0.5, 0.5]``. Which
features a frequency gets is decided by :class:`~._time_axis.TimeAxis`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


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
