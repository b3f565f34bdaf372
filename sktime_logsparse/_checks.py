"""Checks of the data given to the forecaster, with clear messages.

``check_y`` and ``check_X`` run on the data given to ``fit``, ``pretrain``,
``update`` and ``predict`` before any of it reaches the network, so that bad
input fails with a ``ValueError`` or ``TypeError`` naming the argument and the
problem instead of a torch or pandas traceback, a diverged training run or
silently dropped data. (The hyperparameters are checked by ``_params``.)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._time_axis import TimeAxis

# ------------------------------------------------------------------- data


def check_y(
    y: pd.DataFrame,
    *,
    likelihood: Any = None,
    method: str = "fit",
    columns: Sequence | None = None,
    require_observed: bool = True,
    train: bool = False,
) -> None:
    """Validate the target ``y`` given to ``fit``, ``pretrain`` or ``update``.

    Parameters
    ----------
    y : pd.DataFrame
        A series, or a panel or hierarchy (MultiIndex, time last).
    likelihood : Likelihood, optional
        Its ``check_values`` finds values outside its support (counts).
    method : str, default="fit"
        Name of the calling method, for the messages.
    columns : sequence, optional
        The columns ``y`` must have (those seen by ``fit``).
    require_observed : bool, default=True
        Whether every series (instance and column) needs an observed value.
    train : bool, default=False
        Whether a network is trained on ``y``: then one series at least needs
        two observed values (a target and an observed value before it).

    Raises
    ------
    TypeError
        If a column is not numeric.
    ValueError
        If ``y`` has infinite values, duplicate or unsorted time points, other
        columns than ``columns``, an all-NaN series, too few observed values
        to train on, or values that ``likelihood`` cannot model.
    """
    where = f"y passed to {method}"
    if columns is not None and list(y.columns) != list(columns):
        raise ValueError(
            f"{where} must have the columns of the data the forecaster was "
            f"fitted on, {list(columns)}, got {list(y.columns)}"
        )
    _check_numeric(y, where)
    _check_time_index(y.index, where)
    values = y.to_numpy(dtype=np.float64)
    _check_finite(values, y, where)
    observed = ~np.isnan(values)
    if require_observed:
        counts = _observed_counts(y, observed)
        empty = np.argwhere(counts.to_numpy() == 0)
        if len(empty):
            i, j = empty[0]
            raise ValueError(
                f"{where} has no observed values in "
                f"{_series_name(counts.index[i], counts.columns[j])}: all its "
                "values are NaN; drop that series or give it observed values"
            )
        if train and counts.to_numpy().max() < 2:
            raise ValueError(
                f"{where} is too short to train on: no series has 2 observed "
                "values (a target and an observed value before it), the "
                f"longest has {int(counts.to_numpy().max())}; give at least one "
                "series 2 or more observed values (series shorter than "
                "context_length are padded)"
            )
    bad = None if likelihood is None else likelihood.check_values(values)
    if bad is not None:
        i, j = bad
        raise ValueError(
            f"likelihood={likelihood.name!r} needs {likelihood.support}, but "
            f"{where} has the value {float(values[i, j])!r} in column "
            f"{y.columns[j]!r} at {y.index[i]!r}; use 'gaussian' or "
            "'student_t' for real-valued data"
        )


def check_sorted(method: str, **data: Any) -> None:
    """Our message for an unsorted or duplicated time index of pandas ``data``.

    Runs before sktime's input checks, whose message for an unsorted index
    is a generic "unsupported input data type". ``data`` maps argument names
    (``y=``, ``X=``) to what was passed; other containers are left to sktime.
    """
    for name, value in data.items():
        if isinstance(value, pd.Series | pd.DataFrame):
            _check_time_index(value.index, f"{name} passed to {method}")


def check_X(
    X: pd.DataFrame | None,
    *,
    method: str = "fit",
    columns: Sequence | None = None,
    index: pd.Index | None = None,
) -> pd.DataFrame | None:
    """Validate exogenous ``X`` and return the columns the forecaster uses.

    Parameters
    ----------
    X : pd.DataFrame or None
        Exogenous data on the time index of ``y`` (``fit``, ``update``) or
        over the forecasting horizon (``predict``).
    method : str, default="fit"
        ``"fit"``, ``"pretrain"``, ``"update"`` or ``"predict"``.
    columns : sequence, optional
        The exogenous columns the forecaster was fitted (or pretrained) with;
        None if it was fitted without ``X``. ``update`` and ``predict`` then
        ignore ``X``; ``fit`` after ``pretrain`` passes the pretrained columns.
    index : pd.Index, optional
        The index of ``y`` (``fit``, ``pretrain``, ``update``): ``X`` needs a
        row for each of its time points.

    Returns
    -------
    pd.DataFrame or None
        ``X`` restricted to ``columns`` in their fitted order (all of ``X``
        without ``columns``), or None where ``X`` is not used.

    Raises
    ------
    TypeError
        If a used column is not numeric.
    ValueError
        If ``X`` is required but missing, lacks fitted columns or rows of
        ``y``, has infinite values or duplicate time points.
    """
    where = f"X passed to {method}"
    if columns is None:
        if X is None or method in ("update", "predict"):
            return None
    else:
        columns = list(columns)
        if X is None:
            raise ValueError(
                f"X is required by {method}: the forecaster was fitted with X "
                f"(columns {columns}), so X must be given"
                + (" over the forecasting horizon" if method == "predict" else "")
            )
        missing = [c for c in columns if c not in X.columns]
        if missing:
            raise ValueError(
                f"{where} lacks the columns {missing} that the forecaster was "
                f"fitted with (expected {columns}, got {list(X.columns)})"
            )
        extra = [c for c in X.columns if c not in columns]
        if extra:
            warnings.warn(
                f"{where} has the columns {extra} that the forecaster was not "
                "fitted with; they are ignored",
                UserWarning,
                stacklevel=4,
            )
        X = X[columns]
    _check_numeric(X, where)
    _check_time_index(X.index, where)
    _check_finite(X.to_numpy(dtype=np.float64), X, where)
    if index is not None:
        absent = ~index.isin(X.index)
        if absent.any():
            raise ValueError(
                f"{where} must have a row for every time point of y, but lacks "
                f"{int(absent.sum())} of them, e.g. {index[absent][0]!r}"
            )
    return X


def check_future_X(values: np.ndarray, times: pd.Index, key: tuple) -> None:
    """Reject missing exogenous values at the requested forecast steps.

    Parameters
    ----------
    values : np.ndarray
        shape: ``(len(times), n_x)``; the rows of ``X`` at the steps of ``fh``.
    times : pd.Index
        Their time points.
    key : tuple
        Instance key (``()`` for a single series).

    Raises
    ------
    ValueError
        If a value is NaN.
    """
    missing = np.isnan(values).any(axis=1)
    if missing.any():
        instance = f" (instance {key})" if key else ""
        raise ValueError(
            "X passed to predict has missing values (NaN) at the forecast time "
            f"points {list(times[missing][:3])}{instance}; exogenous values must "
            "be known over the forecasting horizon"
        )


def check_after(new: list, fitted: list, method: str = "update") -> None:
    """Refuse data with no time point after the cutoff.

    Parameters
    ----------
    new : list of Instance
        The instances of the ``y`` given to ``update``.
    fitted : list of Instance
        The instances the forecaster holds; their latest point is the cutoff.
    method : str, default="update"
        Name of the calling method, for the message.

    Raises
    ------
    ValueError
        If the latest time point of ``new`` is not after the cutoff: the
        update would move the cutoff back (sktime's default) or be a no-op.
    """
    cutoff = max(inst.index[-1] for inst in fitted)
    latest = max((inst.index[-1] for inst in new if len(inst.index)), default=None)
    if latest is None or not latest > cutoff:
        raise ValueError(
            f"y passed to {method} has no time point after the cutoff {cutoff!r} "
            f"(its latest is {latest!r}); {method} appends data after the "
            "cutoff: pass the new points, or call fit to train on other data"
        )


def time_axis_of(index: pd.Index, **kwargs: Any):
    """``TimeAxis.from_index(index, **kwargs)`` with messages naming ``y``.

    Parameters
    ----------
    index : pd.Index
        The time index of the longest series of ``y``.
    **kwargs
        Passed to :meth:`TimeAxis.from_index`.

    Returns
    -------
    TimeAxis

    Raises
    ------
    ValueError, TypeError
        If the frequency of the index cannot be determined.
    """
    try:
        return TimeAxis.from_index(index, **kwargs)
    except ValueError as err:
        hint = ""
        if "no freq" in str(err):
            hint = (
                "; give y more than one time point, or a DatetimeIndex with a "
                "freq (e.g. y.asfreq('D')) or a PeriodIndex"
            )
        raise ValueError(f"y: {err}{hint}") from err
    except TypeError as err:
        raise TypeError(f"y: {err}") from err


def grid_steps(axis, first: Any, last: Any, key: tuple) -> int:
    """Steps of ``axis`` from ``first`` to ``last`` of one instance of ``y``.

    Parameters
    ----------
    axis : TimeAxis
        The time axis of the data.
    first, last : time points
        First and last time point of the instance.
    key : tuple
        Instance key (``()`` for a single series).

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If the instance is not on the grid of the frequency of the data.
    """
    try:
        return axis.steps_between(first, last)
    except ValueError as err:
        instance = f" (instance {key})" if key else ""
        raise ValueError(
            f"the time points of y{instance} are not on a regular grid of the "
            f"frequency {axis.freq!r} inferred from the data ({err}); resample "
            "y to one regular frequency, e.g. with y.asfreq(...)"
        ) from err


def _check_numeric(frame: pd.DataFrame, where: str) -> None:
    for column, dtype in frame.dtypes.items():
        if not pd.api.types.is_numeric_dtype(dtype) or (
            pd.api.types.is_complex_dtype(dtype)
        ):
            raise TypeError(
                f"{where} must have numeric columns, but column {column!r} has "
                f"the non-numeric dtype {dtype}; encode categorical columns as "
                "numbers (e.g. one-hot) or drop them"
            )


def _check_finite(values: np.ndarray, frame: pd.DataFrame, where: str) -> None:
    infinite = np.isinf(values)
    if infinite.any():
        i, j = np.argwhere(infinite)[0]
        raise ValueError(
            f"{where} has infinite values, e.g. {float(values[i, j])!r} in column "
            f"{frame.columns[j]!r} at {frame.index[i]!r}; replace them by NaN "
            "(missing) or by finite values"
        )


def _check_time_index(index: pd.Index, where: str) -> None:
    """Unique and ascending time points within every instance."""
    if not isinstance(index, pd.MultiIndex):
        duplicated = index.duplicated()
        if duplicated.any():
            raise ValueError(
                f"{where} has duplicate time points, e.g. {index[duplicated][0]!r}; "
                "aggregate or drop them (e.g. data[~data.index.duplicated()])"
            )
        if not index.is_monotonic_increasing:
            raise ValueError(
                f"the time index of {where} is not sorted; sort it with sort_index()"
            )
        return
    if strictly_sorted(index):  # the usual panel: no per-instance check needed
        return
    duplicated = index.duplicated()
    if duplicated.any():
        raise ValueError(
            f"{where} has duplicate time points within an instance, e.g. "
            f"{index[duplicated][0]!r}; aggregate or drop them "
            "(e.g. data[~data.index.duplicated()])"
        )
    times = pd.Series(index.get_level_values(-1))
    keys = [index.get_level_values(i) for i in range(index.nlevels - 1)]
    ordered = times.groupby(keys, sort=False).is_monotonic_increasing
    if not ordered.all():
        raise ValueError(
            f"the time index of {where} is not sorted within the instance "
            f"{ordered.index[~ordered.to_numpy()][0]!r}; sort it with sort_index()"
        )


def strictly_sorted(index: pd.MultiIndex) -> bool:
    """Whether the rows of ``index`` strictly increase, instance level first.

    Then every instance's rows are consecutive and its time points unique
    and ascending. Read from the integer codes of the levels, in one pass
    over the rows (no tuple per row): a panel of 10^8 points takes seconds.
    False where a level is not sorted or holds a missing value: the caller
    then checks instance by instance.
    """
    try:
        if not all(level.is_monotonic_increasing for level in index.levels):
            return False
    except TypeError:  # values that do not compare
        return False
    if len(index) < 2:
        return True
    greater = np.zeros(len(index) - 1, dtype=bool)
    equal = np.ones(len(index) - 1, dtype=bool)
    for codes in index.codes:  # level by level: code order is value order
        if (codes < 0).any():
            return False
        step = np.diff(codes)
        greater |= equal & (step > 0)
        equal &= step == 0
    return bool(greater.all())


def _observed_counts(y: pd.DataFrame, observed: np.ndarray) -> pd.DataFrame:
    """Observed values per instance (rows) and column."""
    frame = pd.DataFrame(observed, index=y.index, columns=y.columns)
    if not isinstance(y.index, pd.MultiIndex):
        return frame.sum().to_frame().T.set_axis(pd.Index([None], dtype=object))
    levels = list(range(y.index.nlevels - 1))
    return frame.groupby(level=levels, sort=False).sum()


def _series_name(key: Any, column: Any) -> str:
    if key == () or key is None:
        return f"column {column!r}"
    return f"column {column!r} of instance {key!r}"


def warn_sparse_instances(raw: list, regular: list, freq: Any) -> None:
    """Warn about instances that fill less than half of their regular grid.

    An instance whose time points are, say, daily in an hourly panel is put
    on the hourly grid with missing values between its points: probably not
    what was meant, so say so (it is not an error: gaps are allowed).

    Parameters
    ----------
    raw, regular : list of Instance
        The instances before and after :meth:`_regularise`, in one order.
    freq : offset or int
        The frequency of the time axis.
    """
    for before, after in zip(raw, regular, strict=True):
        if len(before) >= 3 and len(after) > 2 * len(before):
            instance = f"instance {before.key} of y" if before.key else "y"
            warnings.warn(
                f"{instance} has time points at only {len(before)} of the "
                f"{len(after)} steps of the frequency {freq!r} between its first "
                "and last point; the others are treated as missing values. If its "
                "frequency differs from the other series', resample it first.",
                UserWarning,
                stacklevel=4,
            )
