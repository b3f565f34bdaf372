"""Checks of the decoded state of a saved forecaster, before it is set.

:mod:`._structure` checks the JSON form of each value; this module checks what
the values mean and that they fit together, so that a loaded forecaster
predicts or the load fails: the fit state, the sktime bookkeeping (by
:mod:`._sktime_state`), the time axis, the window lengths and lags, the exogenous
scaler, the fitted panel (instance keys, time indexes on the axis' grid,
values, magnitude factors, series ids), the cutoff, the horizon and the
networks' window layouts.

Every violation is a :class:`~._files.ModelFileError` (a ``ValueError``) naming
``forecaster.json`` and the state key.
"""

from __future__ import annotations

import datetime
import numbers
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._calendar import CALENDAR_FEATURES
from ._calibration import HIGH, KNOTS, LOW, GroupedFactors
from ._dataset import FittedPanel, n_covariates
from ._files import fail
from ._frequency import _nominal_duration
from ._model import GlobalModel
from ._panel import ExogScaler, Instance
from ._params import Settings
from ._sktime_state import check_sktime_state, is_scalar
from ._time_axis import TimeAxis
from ._windows import WindowLayout

__all__ = ["check_state"]

_NEEDS = {
    "new": (),
    "pretrained": (
        "time_axis_",
        "context_length_",
        "prediction_length_",
        "lags_",
        "exog_scaler_",
    ),
    "fitted": (
        "time_axis_",
        "context_length_",
        "prediction_length_",
        "lags_",
        "model_",
        "_panel",
        "_predict_seed",
        "_cutoff",
        "exog_scaler_",
        "_y_metadata",
        "_y_mtype_last_seen",
        "_is_vectorized",
    ),
}
_SCITYPES = {0: "Series", 1: "Panel"}  # instance levels: 2 and more Hierarchical
_UNITS = ("s", "ms", "us", "ns")
#: most steps ahead the saved horizon may reach (``predict()`` without ``fh``
#: decodes that many steps)
MAX_HORIZON = 10**6


def check_state(state: dict, settings: Settings, cls: type, path: Path) -> None:
    """Check the decoded ``state`` of a ``cls`` with parameters ``settings``."""
    _State(state, settings, cls, path).run()


def _is_int(value: Any, low: int | None = None) -> bool:
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    return ok and (low is None or value >= low)


class _State:
    def __init__(self, state: dict, settings: Settings, cls: type, path: Path):
        self.s, self.settings, self.cls, self.path = state, settings, cls, path

    def fail(self, key: str, message: str, field: str = "") -> None:
        fail(self.path, f"state[{key!r}]{field}", message)

    def run(self) -> None:
        s = self.s
        if s.get("_state") not in _NEEDS:
            self.fail("_state", f"must be one of {tuple(_NEEDS)}")
        fitted = s["_state"] == "fitted"
        for key in _NEEDS[s["_state"]]:
            if key not in s:
                self.fail(key, f"missing; a {s['_state']} forecaster has it")
        if "_is_fitted" in s and s["_is_fitted"] is not fitted:
            self.fail("_is_fitted", f"must be {fitted} in state {s['_state']!r}")
        if s.get("_is_vectorized", False) is not False:
            self.fail("_is_vectorized", "must be false (this forecaster never is)")
        if not fitted:
            for key in ("model_", "_panel", "_predict_seed", "calibration_"):
                if key in s:
                    self.fail(key, f"only a fitted forecaster has it ({s['_state']})")
        if ("pretrained_model_" in s) != ("series_ids_" in s):
            self.fail("series_ids_", "comes with pretrained_model_, and only with it")
        if s["_state"] == "pretrained" and "pretrained_model_" not in s:
            self.fail("pretrained_model_", "missing; a pretrained forecaster has it")
        for key in ("_X", "_y"):
            if s.get(key) is not None and not isinstance(s[key], pd.DataFrame):
                self.fail(key, "must be None or a DataFrame")
        check_sktime_state(s, self.cls, self.fail)
        if "time_axis_" in s:
            self.own_state()
        if fitted:
            self.panel(s["_panel"])
            self.cutoff_and_horizon()
        else:
            for key in ("_cutoff", "_fh"):
                if s.get(key) is not None:
                    self.fail(key, f"must be None in state {s['_state']!r}")

    # ---------------------------------------------------------- own state
    def own_state(self) -> None:
        s = self.s
        axis = s["time_axis_"]
        self.time_axis(axis)
        for key in ("context_length_", "prediction_length_"):
            if not _is_int(s[key], 1):
                self.fail(key, "must be an int >= 1")
        lags = s["lags_"]
        if not (
            isinstance(lags, tuple)
            and all(_is_int(lag, 1) for lag in lags)
            and list(lags) == sorted(set(lags))
        ):
            self.fail("lags_", "must be a tuple of increasing ints >= 1")
        scaler = s.get("exog_scaler_")
        if scaler is not None:
            self.exog_scaler(scaler)
        layout = WindowLayout(
            s["context_length_"],
            s["prediction_length_"],
            lags,
            self.settings.scaling_,
            n_covariates(axis, scaler),
        )
        for key in ("model_", "pretrained_model_"):
            if key in s:
                if not isinstance(s[key], GlobalModel) or s[key].layout != layout:
                    self.fail(key, f"its layout must be {layout}", ".attrs.layout")
        ids = s.get("series_ids_")
        if ids is not None:
            n_series = s["pretrained_model_"].config.n_series
            values = list(ids.values()) if isinstance(ids, dict) else None
            if values is None or sorted(values) != list(range(n_series)):
                self.fail("series_ids_", f"must number {n_series} series from 0")
            if not all(isinstance(k, tuple) and len(k) == 2 for k in ids):
                self.fail("series_ids_", "keys must be (instance key, column)")
            if "model_" in s and s["model_"].config != s["pretrained_model_"].config:
                self.fail("model_", "must be the pretrained network, fine-tuned")
        history = s.get("training_history_", [])
        if not isinstance(history, list) or not all(
            isinstance(h, dict) and all(isinstance(k, str) for k in h) for h in history
        ):
            self.fail("training_history_", "must be a list of dicts")
        self.calibration(s.get("calibration_"))
        seed = s.get("_predict_seed", 0)
        if not (_is_int(seed, 0) and seed < 2**63):
            self.fail("_predict_seed", "must be an int in [0, 2**63)")

    def calibration(self, factors: Any) -> None:
        if factors is None:
            return
        if type(factors) is GroupedFactors:  # (groups, knots, steps) and edges
            edges, f = factors.edges, factors.factors
            ok = isinstance(edges, np.ndarray) and edges.dtype == np.float64
            ok = ok and edges.ndim == 1 and edges.size >= 1
            ok = ok and bool(np.isfinite(edges).all() and (np.diff(edges) > 0).all())
            ok = ok and isinstance(f, np.ndarray) and f.ndim == 3
            if not (ok and f.shape[0] == edges.size + 1):
                self.fail(
                    "calibration_",
                    "grouped factors must hold ascending finite float64 edges "
                    "and one (knots, steps) array of factors per group",
                )
            for group in f:
                self.calibration(group)
            return
        # (P,): one factor per step (files of earlier versions); else per knot
        ok = isinstance(factors, np.ndarray) and factors.dtype == np.float64
        ok = ok and (factors.ndim == 1 or factors.shape[:1] == (len(KNOTS),))
        ok = ok and factors.ndim <= 2 and 1 <= factors.shape[-1] <= MAX_HORIZON
        if not (ok and bool(((factors >= LOW) & (factors <= HIGH)).all())):
            self.fail(
                "calibration_",
                f"must be None or a float64 array of factors in [{LOW}, {HIGH}], "
                f"of shape (steps,) or ({len(KNOTS)}, steps)",
            )

    def time_axis(self, axis: Any) -> None:
        ok = type(axis) is TimeAxis and axis.kind in ("datetime", "period", "integer")
        if ok:
            names = axis.feature_names
            ok = isinstance(names, tuple) and len(set(names)) == len(names)
            ok = ok and all(
                isinstance(n, str) and n in CALENDAR_FEATURES for n in names
            )
        if ok and axis.kind == "integer":
            ok = _is_int(axis.freq, 1) and not names and axis.tz is None
            ok = ok and isinstance(axis.range_index, bool) and axis.unit is None
            ok = ok and isinstance(axis.dtype, str) and axis.dtype in _INT_DTYPES
        elif ok:
            freq = axis.freq
            ok = isinstance(freq, pd.offsets.BaseOffset) and _is_int(freq.n, 1)
            ok = ok and axis.range_index is False and axis.dtype is None
            if axis.kind == "datetime":
                ok = ok and axis.unit in _UNITS
                ok = ok and (axis.tz is None or isinstance(axis.tz, datetime.tzinfo))
            else:
                ok = ok and axis.tz is None and axis.unit is None
        if not ok:
            self.fail("time_axis_", f"not a valid time axis: {axis!r}"[:300])

    def exog_scaler(self, scaler: Any) -> None:
        ok = type(scaler) is ExogScaler and isinstance(scaler.columns, list)
        n = len(scaler.columns) if ok else 0
        ok = ok and n > 0 and all(is_scalar(c) for c in scaler.columns)
        for stats in ("mean", "std"):
            value = getattr(scaler, stats, None) if ok else None
            ok = ok and _floats(value, (n,)) and bool(np.isfinite(value).all())
        if not ok or not (scaler.std > 0).all():
            self.fail("exog_scaler_", "columns, and finite mean and std > 0 per column")

    # -------------------------------------------------------------- panel
    def panel(self, panel: Any) -> None:
        s, axis = self.s, self.s["time_axis_"]
        if type(panel) is not FittedPanel:
            self.fail("_panel", "must be a FittedPanel")
        columns, levels = panel.columns, panel.level_names
        if not (
            isinstance(columns, list)
            and columns
            and all(is_scalar(c) for c in columns)
            and isinstance(levels, list)
            and all(is_scalar(n) for n in levels)
            and is_scalar(panel.time_name)
            and isinstance(panel.instances, list)
            and panel.instances
            and isinstance(panel.factors, list)
            and len(panel.factors) == len(panel.instances)
        ):
            self.fail("_panel", "columns, level names, instances and factors")
        keys = set()
        scaler = s.get("exog_scaler_")
        for i, (inst, factor) in enumerate(
            zip(panel.instances, panel.factors, strict=True)
        ):
            self.instance(inst, i, len(levels), len(columns), scaler, axis)
            keys.add(inst.key)
            if not (_floats(factor, (len(columns),)) and _powers_of_ten(factor)):
                self.fail("_panel", "powers of ten in (0, 1]", f".factors[{i}]")
        if len(keys) != len(panel.instances):
            self.fail("_panel", "instance keys must be unique", ".instances")
        n_series = s["model_"].config.n_series
        ids = panel.ids
        if not (
            isinstance(ids, np.ndarray)
            and ids.dtype == np.int64
            and ids.shape == (len(panel.instances) * len(columns),)
            and ((ids >= -1) & (ids < n_series)).all()
        ):
            self.fail("_panel", f"an int64 id in [-1, {n_series}) per series", ".ids")
        meta = s["_y_metadata"]
        if meta["feature_names"] != columns:
            self.fail("_y_metadata", f"feature_names must be the columns {columns}")
        scitype = _SCITYPES.get(len(levels), "Hierarchical")
        if meta["scitype"] != scitype:
            self.fail("_y_metadata", f"scitype must be {scitype!r}")

    def instance(self, inst, i, n_levels, n_columns, scaler, axis) -> None:
        where = f".instances[{i}]"
        if not (
            type(inst) is Instance
            and isinstance(inst.key, tuple)
            and len(inst.key) == n_levels
            and all(is_scalar(k) and not isinstance(k, float | None) for k in inst.key)
        ):
            self.fail("_panel", f"an Instance with a key of {n_levels} levels", where)
        index = inst.index
        if not (isinstance(index, pd.Index) and _on_axis(index, axis)):
            self.fail("_panel", "its time index does not fit the time axis", where)
        T = len(index)
        if T == 0 or not (
            index.is_monotonic_increasing
            and index.is_unique
            and index[1:].equals(axis.future(index[0], T - 1))
        ):
            self.fail("_panel", "time points must be on the axis' grid", where)
        if not _floats(inst.values, (T, n_columns)) or np.isinf(inst.values).any():
            self.fail("_panel", f"float64 values ({T}, {n_columns})", where)
        exog_shape = None if scaler is None else (T, len(scaler.columns))
        if (inst.exog is None) != (exog_shape is None) or (
            exog_shape is not None and not _floats(inst.exog, exog_shape)
        ):
            self.fail("_panel", f"exogenous values must be {exog_shape}", where)

    def cutoff_and_horizon(self) -> None:
        s, axis = self.s, self.s["time_axis_"]
        cutoff = s["_cutoff"]
        last = max(inst.index[-1] for inst in s["_panel"].instances)
        if not (
            isinstance(cutoff, pd.Index)
            and len(cutoff) == 1
            and _on_axis(cutoff, axis)
            and cutoff[0] == last
        ):
            self.fail("_cutoff", f"must be the last time point {last}")
        freq = getattr(cutoff, "freq", None)
        if axis.kind != "integer" and freq is not None and freq != axis.freq:
            self.fail("_cutoff", f"its freq must be None or {axis.freq}")
        fh = s.get("_fh")
        if fh is None:
            return
        if type(fh).__name__ != "ForecastingHorizon":
            self.fail("_fh", "must be None or a ForecastingHorizon")
        values = fh.to_pandas()
        if fh.is_relative:
            ok = pd.api.types.is_integer_dtype(values) and len(values) > 0
            ok = ok and values.min() >= 1
        else:
            ok = _on_axis(values, axis, unit=False) and len(values) > 0
            ok = ok and values.min() > last
        if not ok or (
            axis.kind != "integer" and fh.freq is not None and fh.freq != axis.freq
        ):
            self.fail("_fh", "steps >= 1 (or time points) after the cutoff, axis freq")
        steps = values.max() if fh.is_relative else _steps(axis, last, values.max())
        if steps > MAX_HORIZON:
            self.fail("_fh", f"reaches {steps} steps ahead, more than {MAX_HORIZON}")


def _steps(axis: TimeAxis, last: Any, point: Any) -> float:
    """About how many steps of ``axis`` ``point`` lies after ``last`` (cheap)."""
    if axis.kind == "integer":
        return (point - last) / axis.freq
    if axis.kind == "period":
        return (point.ordinal - last.ordinal) / axis.freq.n
    return (point - last) / _nominal_duration(axis.freq)


_INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def _floats(value: Any, shape: tuple) -> bool:
    return (
        isinstance(value, np.ndarray)
        and value.dtype == np.float64
        and value.shape == shape
    )


def _powers_of_ten(factor: np.ndarray) -> bool:
    with np.errstate(all="ignore"):
        exponent = np.round(np.log10(factor))
        ok = (factor > 0) & (factor <= 1) & (exponent >= -300)
        return bool(ok.all() and (np.power(10.0, exponent) == factor).all())


def _on_axis(index: pd.Index, axis: TimeAxis, unit: bool = True) -> bool:
    """Whether ``index`` has the type, zone, unit (if ``unit``) or freq of ``axis``."""
    if axis.kind == "datetime":
        return (
            isinstance(index, pd.DatetimeIndex)
            and str(index.tz) == str(axis.tz)
            and (index.unit == axis.unit or not unit)
        )
    if axis.kind == "period":
        return isinstance(index, pd.PeriodIndex) and index.freq == axis.freq
    return (
        not isinstance(index, pd.MultiIndex)
        and pd.api.types.is_integer_dtype(index.dtype)
        and not pd.api.types.is_bool_dtype(index.dtype)
    )
