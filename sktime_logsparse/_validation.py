"""Validation of the forecaster's hyperparameters and data, with clear messages.

``check_params`` runs at fit time; ``check_y`` and ``check_X`` run on the data
given to ``fit``, ``pretrain``, ``update`` and ``predict`` before any of it
reaches the network, so that bad input fails with a ``ValueError`` or
``TypeError`` naming the argument and the problem instead of a torch or pandas
traceback, a diverged training run or silently dropped data.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .nn import KINDS, LIKELIHOODS


def check_params(est) -> None:
    """Validate the hyperparameters of a forecaster, with clear messages.

    Raises
    ------
    ValueError, TypeError
        Naming the parameter, the expected values and the value given.
    """
    _check_int(est, "context_length", 1, optional=True)
    _check_int(est, "prediction_length", 1, optional=True)
    for name in ("d_model", "n_heads", "n_layers", "kernel_size", "batch_size"):
        _check_int(est, name, 1)
    for name in ("max_epochs", "fine_tune_epochs", "update_epochs"):
        _check_int(est, name, 0)
    _check_int(est, "num_samples", 1)
    _check_int(est, "windows_per_epoch", 1, optional=True)
    _check_int(est, "early_stopping_patience", 0, optional=True)
    _check_int(est, "local_window", 0, optional=True)
    _check_int(est, "sub_len", 1, optional=True)
    if est.d_model % est.n_heads:
        raise ValueError(
            f"d_model ({est.d_model}) must be divisible by n_heads ({est.n_heads})"
        )
    if not (
        est.lags is None or (isinstance(est.lags, str) and est.lags == "auto")
    ) and (
        not isinstance(est.lags, (list, tuple))
        or not all(
            isinstance(lag, numbers.Integral) and not isinstance(lag, bool) and lag >= 1
            for lag in est.lags
        )
    ):
        raise ValueError(
            f"lags must be 'auto', None or a list of ints >= 1, got {est.lags!r}"
        )
    _check_choice(est, "attention", KINDS)
    _check_choice(est, "likelihood", tuple(LIKELIHOODS))
    _check_choice(est, "time_features", ("auto", None))
    _check_choice(est, "scaling", ("auto", "standard", "mean", None))
    if est.scaling == "standard" and est.likelihood == "negative_binomial":
        raise ValueError(
            "scaling='standard' shifts the target by its mean, which counts do "
            "not allow: use scaling='mean' or None with "
            "likelihood='negative_binomial'"
        )
    _check_choice(est, "window_sampling", ("uniform", "scale"))
    _check_choice(est, "point_forecast", ("mean", "median"))
    _check_choice(est, "lr_schedule", (None, "cosine", "plateau"))
    _check_choice(est, "early_stopping_metric", ("crps", "nll"))
    _check_float(est, "dropout", 0.0, 1.0, upper_open=True)
    _check_float(est, "learning_rate", 0.0, math.inf, lower_open=True)
    _check_float(est, "weight_decay", 0.0, math.inf)
    if est.gradient_clip is not None:
        _check_float(est, "gradient_clip", 0.0, math.inf, lower_open=True)
    if est.max_fit_seconds is not None:
        _check_float(est, "max_fit_seconds", 0.0, math.inf, lower_open=True)
    _check_random_state(est.random_state)
    for name in ("verbose", "linear_ar"):
        if not isinstance(getattr(est, name), bool | np.bool_):
            raise TypeError(f"{name} must be a bool, got {getattr(est, name)!r}")
    _check_device_type(est.device)


def _check_int(obj, name: str, low: int, optional: bool = False) -> None:
    value = getattr(obj, name)
    if value is None and optional:
        return
    expected = f"an int >= {low}" + (" or None" if optional else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {expected}, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be {expected}, got {value!r}")


def _check_float(obj, name, low, high, lower_open=False, upper_open=False) -> None:
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    too_low = value <= low if lower_open else value < low
    too_high = value >= high if upper_open else value > high
    if too_low or too_high or math.isnan(value):
        lo, hi = "(" if lower_open else "[", ")" if upper_open else "]"
        raise ValueError(f"{name} must be in {lo}{low}, {high}{hi}, got {value!r}")


def _check_choice(obj, name: str, choices: tuple) -> None:
    value = getattr(obj, name)
    # the choices are strings and None: anything else (arrays...) is invalid
    if not (value is None or isinstance(value, str)) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def _check_random_state(value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"random_state must be a non-negative int or None (a seed), got {value!r}"
        )
    if value < 0:
        raise ValueError(
            f"random_state must be a non-negative int or None, got {value!r}"
        )


def _check_device_type(value: Any) -> None:
    if isinstance(value, str) or type(value).__name__ == "device":
        return
    raise TypeError(
        "device must be 'auto', a device name such as 'cpu' or 'cuda:0', or a "
        f"torch.device, got {value!r}"
    )


# ------------------------------------------------------------------- data


def check_y(
    y: pd.DataFrame,
    *,
    likelihood: str = "gaussian",
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
    likelihood : str, default="gaussian"
        ``"negative_binomial"`` needs non-negative integer counts.
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
    if likelihood == "negative_binomial":
        bad = observed & ((values < 0) | (values != np.round(values)))
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ValueError(
                "likelihood='negative_binomial' needs non-negative integer "
                f"counts, but {where} has the value {float(values[i, j])!r} in column "
                f"{y.columns[j]!r} at {y.index[i]!r}; use 'gaussian' or "
                "'student_t' for real-valued data"
            )


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
    from ._features import TimeAxis

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
