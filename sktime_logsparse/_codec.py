"""The JSON form of the values a saved forecaster holds, arrays on the side.

:class:`Writer` turns a value into plain JSON: numbers, strings and lists as
themselves, everything else as a tagged object such as
``{"__type__": "datetimeindex", ...}``; numeric arrays and network weights go
to two dicts that are saved as ``safetensors`` files and named by key.
:class:`Reader` does the reverse and only ever builds the whitelisted types
below (pandas indexes, frames and offsets, the package's dataclasses, the
network), so that a file cannot run code when it is loaded.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
from typing import Any

import numpy as np
import pandas as pd
import torch

from ._calibration import GroupedFactors
from ._dataset import FittedPanel
from ._files import is_timezone_name
from ._panel import ExogScaler, Instance
from ._time_axis import TimeAxis
from ._training import TrainResult
from ._windows import WindowLayout
from .nn import LogSparseConfig

#: dataclasses of the package that may appear in the state
_DATACLASSES = {
    cls.__name__: cls
    for cls in (
        TimeAxis,
        ExogScaler,
        GroupedFactors,
        FittedPanel,
        Instance,
        LogSparseConfig,
        TrainResult,
        WindowLayout,
    )
}
#: integers beyond this are written as strings (exact in every JSON parser)
_MAX_SAFE_INT = 2**53
_TAG = "__type__"


class Writer:
    """Encode values as JSON, collecting arrays and tensors on the side."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.tensors: dict[str, torch.Tensor] = {}

    def _array(self, values: np.ndarray, where: str) -> dict:
        values = np.asarray(values)
        if values.dtype.kind not in "biuf":
            raise TypeError(
                f"cannot save {where}: arrays of dtype {values.dtype} are not supported"
            )
        key = where
        while key in self.arrays:
            key += "'"
        self.arrays[key] = np.ascontiguousarray(values)
        return {_TAG: "ndarray", "key": key}

    def encode(self, value: Any, where: str) -> Any:
        """JSON form of ``value`` (``where`` names it in messages and keys)."""
        if type(value).__name__ == "DtypeKind":  # an IntEnum: before int
            return {_TAG: "dtypekind", "value": int(value.value)}
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int):
            if abs(value) >= _MAX_SAFE_INT:
                return {_TAG: "int", "value": str(value)}
            return value
        if isinstance(value, float):
            if math.isfinite(value):
                return value
            return {_TAG: "float", "value": repr(value)}
        if isinstance(value, np.generic) and value.dtype.kind in "biuf":
            return self.encode(value.item(), where)
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "mM":
                return {
                    _TAG: "datetime64",
                    "dtype": str(value.dtype),
                    "values": self._array(value.view(np.int64), where),
                }
            return self._array(value, where)
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            items = [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return {_TAG: "tuple", "items": items}
        if isinstance(value, dict):
            return {
                _TAG: "dict",
                "items": [
                    [self.encode(k, f"{where}.key"), self.encode(v, f"{where}[{k}]")]
                    for k, v in value.items()
                ],
            }
        if isinstance(value, pd.Index):
            return self._index(value, where)
        if isinstance(value, pd.DataFrame):
            return {
                _TAG: "frame",
                "index": self._index(value.index, f"{where}.index"),
                "columns": self._index(value.columns, f"{where}.columns"),
                "data": [
                    self._column(value.iloc[:, j], f"{where}.{j}")
                    for j in range(value.shape[1])
                ],
            }
        if isinstance(value, pd.Series):
            return {
                _TAG: "series",
                "index": self._index(value.index, f"{where}.index"),
                "name": self.encode(value.name, f"{where}.name"),
                "data": self._column(value, where),
            }
        if isinstance(value, pd.Timestamp):
            return {
                _TAG: "timestamp",
                "value": int(value.asm8.view(np.int64)),
                "unit": value.unit,
                "tz": self._tz(value.tz),
            }
        if isinstance(value, pd.Period):
            return {
                _TAG: "period",
                "ordinal": value.ordinal,
                "freq": self.encode(value.freq, where),
            }
        if isinstance(value, pd.Timedelta):
            return {
                _TAG: "timedelta",
                "value": int(value.asm8.view(np.int64)),
                "unit": value.unit,
            }
        if isinstance(value, datetime.timedelta):
            return {
                _TAG: "pytimedelta",
                "days": value.days,
                "seconds": value.seconds,
                "microseconds": value.microseconds,
            }
        if isinstance(value, pd.offsets.BaseOffset):
            return {
                _TAG: "offset",
                "name": type(value).__name__,
                "n": value.n,
                "normalize": value.normalize,
                "kwds": self.encode(dict(value.kwds), f"{where}.kwds"),
            }
        if isinstance(value, datetime.tzinfo):
            return self._tz(value)
        if isinstance(value, torch.device):
            return {_TAG: "device", "name": str(value)}
        if type(value).__name__ == "ForecastingHorizon":
            return {
                _TAG: "fh",
                "values": self.encode(value.to_pandas(), f"{where}.values"),
                "is_relative": bool(value.is_relative),
                "freq": self.encode(getattr(value, "_freq", None), f"{where}.freq"),
            }
        encoded = self.encode_other(value, where)
        if encoded is not None:
            return encoded
        if dataclasses.is_dataclass(value) and type(value).__name__ in _DATACLASSES:
            if _DATACLASSES[type(value).__name__] is not type(value):
                raise TypeError(f"cannot save {where}: unknown class {type(value)}")
            return {
                _TAG: "dataclass",
                "name": type(value).__name__,
                "fields": {
                    f.name: self.encode(getattr(value, f.name), f"{where}.{f.name}")
                    for f in dataclasses.fields(value)
                },
            }
        raise TypeError(
            f"cannot save {where}: values of type {type(value).__name__} are not "
            "supported by save_model"
        )

    def encode_other(self, value: Any, where: str) -> dict | None:
        """JSON form of a type this class does not know (subclasses); or None."""
        return None

    def _tz(self, tz) -> dict | None:
        return None if tz is None else {_TAG: "tz", "name": str(tz)}

    def _column(self, column: pd.Series, where: str) -> dict:
        if column.dtype.kind in "biuf":
            return {
                _TAG: "column",
                "dtype": str(column.dtype),
                "values": self._array(column.to_numpy(), where),
            }
        return {
            _TAG: "column",
            "dtype": str(column.dtype),
            "items": [self.encode(v, where) for v in column.tolist()],
        }

    def _index(self, index: pd.Index, where: str) -> dict:
        name = self.encode(index.name, f"{where}.name")
        if isinstance(index, pd.MultiIndex):
            return {
                _TAG: "multiindex",
                "levels": [
                    self._index(index.get_level_values(i), f"{where}.{i}")
                    for i in range(index.nlevels)
                ],
                "names": [self.encode(n, where) for n in index.names],
            }
        if isinstance(index, pd.RangeIndex):
            return {
                _TAG: "rangeindex",
                "start": index.start,
                "stop": index.stop,
                "step": index.step,
                "name": name,
            }
        if isinstance(index, pd.DatetimeIndex):
            return {
                _TAG: "datetimeindex",
                "values": self._array(index.asi8, where),
                "unit": index.unit,
                "tz": self._tz(index.tz),
                "freq": self.encode(index.freq, f"{where}.freq"),
                "name": name,
            }
        if isinstance(index, pd.PeriodIndex):
            return {
                _TAG: "periodindex",
                "values": self._array(index.asi8, where),
                "freq": self.encode(index.freq, f"{where}.freq"),
                "name": name,
            }
        if index.dtype.kind in "biuf":
            return {
                _TAG: "index",
                "dtype": str(index.dtype),
                "values": self._array(index.to_numpy(), where),
                "name": name,
            }
        return {
            _TAG: "index",
            "dtype": str(index.dtype),
            "items": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(index)],
            "name": name,
        }


class Reader:
    """Decode what :class:`Writer` encoded; only whitelisted types."""

    def __init__(self, arrays: dict, tensors: dict) -> None:
        self.arrays = arrays
        self.tensors = tensors

    def decode(self, value: Any) -> Any:
        """The value that ``value`` (JSON) encodes."""
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        kind = value.get(_TAG)
        method = getattr(self, f"_decode_{kind}", None)
        if not isinstance(kind, str) or method is None:
            raise ValueError(f"unknown saved value of type {kind!r}")
        return method(value)

    def _decode_int(self, value):
        return int(value["value"])

    def _decode_float(self, value):
        return float(value["value"])

    def _decode_ndarray(self, value):
        return self.arrays[value["key"]].copy()

    def _decode_datetime64(self, value):
        return self.decode(value["values"]).view(np.dtype(value["dtype"]))

    def _decode_tuple(self, value):
        return tuple(self.decode(v) for v in value["items"])

    def _decode_dict(self, value):
        return {_hashable(self.decode(k)): self.decode(v) for k, v in value["items"]}

    def _decode_frame(self, value):
        index = self.decode(value["index"])
        columns = self.decode(value["columns"])
        data = {j: self.decode(c) for j, c in enumerate(value["data"])}
        frame = pd.DataFrame(data, index=index)
        frame.columns = columns
        return frame

    def _decode_series(self, value):
        index = self.decode(value["index"])
        return pd.Series(
            self.decode(value["data"]), index=index, name=self.decode(value["name"])
        )

    def _decode_column(self, value):
        if "values" in value:
            return self.decode(value["values"]).astype(value["dtype"])
        return pd.array([self.decode(v) for v in value["items"]], dtype=value["dtype"])

    def _decode_timestamp(self, value):
        stamp = pd.Timestamp(np.datetime64(value["value"], value["unit"]))
        tz = self.decode(value["tz"])
        return stamp if tz is None else stamp.tz_localize("UTC").tz_convert(tz)

    def _decode_period(self, value):
        return pd.Period(ordinal=value["ordinal"], freq=self.decode(value["freq"]))

    def _decode_timedelta(self, value):
        return pd.Timedelta(np.timedelta64(value["value"], value["unit"]))

    def _decode_pytimedelta(self, value):
        return datetime.timedelta(
            days=value["days"],
            seconds=value["seconds"],
            microseconds=value["microseconds"],
        )

    def _decode_offset(self, value):
        cls = getattr(pd.offsets, value["name"], None)
        if not (isinstance(cls, type) and issubclass(cls, pd.offsets.BaseOffset)):
            raise ValueError(f"unknown pandas offset {value['name']!r}")
        return cls(
            value["n"], normalize=value["normalize"], **self.decode(value["kwds"])
        )

    def _decode_tz(self, value):
        name = value["name"]
        if not is_timezone_name(name):
            raise ValueError(f"{name!r} is not a time zone of the tz database")
        return pd.Timestamp("2000-01-01", tz=name).tz

    def _decode_device(self, value):
        return torch.device(value["name"])

    def _decode_dtypekind(self, value):
        from sktime.datatypes._dtypekind import DtypeKind

        return DtypeKind(value["value"])

    def _decode_fh(self, value):
        from sktime.forecasting.base import ForecastingHorizon

        return ForecastingHorizon(
            self.decode(value["values"]),
            is_relative=value["is_relative"],
            freq=self.decode(value["freq"]),
        )

    def _decode_multiindex(self, value):
        levels = [self.decode(level) for level in value["levels"]]
        names = [self.decode(n) for n in value["names"]]
        return pd.MultiIndex.from_arrays(levels, names=names)

    def _decode_rangeindex(self, value):
        return pd.RangeIndex(
            value["start"],
            value["stop"],
            value["step"],
            name=self.decode(value["name"]),
        )

    def _decode_datetimeindex(self, value):
        values = self.decode(value["values"]).view(f"M8[{value['unit']}]")
        index = pd.DatetimeIndex(values)
        tz = self.decode(value["tz"])
        if tz is not None:
            index = index.tz_localize("UTC").tz_convert(tz)
        freq = self.decode(value["freq"])
        if freq is not None:
            index = pd.DatetimeIndex(index, freq=freq)
        return index.rename(self.decode(value["name"]))

    def _decode_periodindex(self, value):
        freq = self.decode(value["freq"])
        ordinals = self.decode(value["values"])
        index = pd.PeriodIndex.from_ordinals(ordinals, freq=freq)
        return index.rename(self.decode(value["name"]))

    def _decode_index(self, value):
        name = self.decode(value["name"])
        if "values" in value:
            return pd.Index(
                self.decode(value["values"]), dtype=value["dtype"], name=name
            )
        items = [self.decode(v) for v in value["items"]]
        return pd.Index(items, dtype=value["dtype"], name=name)

    def _decode_dataclass(self, value):
        cls = _DATACLASSES.get(value["name"])
        if cls is None:
            raise ValueError(f"unknown saved class {value['name']!r}")
        obj = object.__new__(cls)
        for name, field in value["fields"].items():
            object.__setattr__(obj, name, self.decode(field))
        return obj


def _hashable(value: Any) -> Any:
    """Lists decoded from JSON as dictionary keys: tuples."""
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value
