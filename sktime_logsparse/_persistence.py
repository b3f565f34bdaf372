"""Saving and loading a forecaster without pickle: safetensors and JSON.

:func:`save_model` writes a folder with three files:

``forecaster.json``
    Plain JSON: the format version, the class, the library versions, the
    constructor parameters and the rest of the forecaster's state (sktime's
    own state included: cutoff, horizon, ``_y``, ``_X``, tags, fitted state),
    as tagged values such as ``{"__type__": "datetimeindex", ...}``.
``weights.safetensors``
    The weights of every network (fitted and pretrained), one tensor per
    entry of the state dict, named ``<attribute>.<parameter>``.
``arrays.safetensors``
    The numpy arrays of the state (series values, exogenous values, time
    points...), which the JSON names by key.

:func:`load_model` rebuilds the forecaster from these files. It only ever
reads JSON and safetensors, and only instantiates the whitelisted types below
(pandas indexes, frames and offsets, the package's dataclasses, the network),
so a file cannot run code when it is loaded, unlike a pickle.

Caches (attributes named in ``_TRANSIENT``) are not saved; they are rebuilt on
demand.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import safetensors.numpy
import safetensors.torch
import torch

from ._data import ExogScaler, Instance
from ._features import TimeAxis
from ._model import GlobalModel, isolated_rng, resolve_device
from ._training import TrainResult
from .nn import LogSparseConfig, LogSparseTransformer

__all__ = ["save_model", "load_model", "CONFIG_FILE", "WEIGHTS_FILE", "ARRAYS_FILE"]

FORMAT = "sktime-logsparse"
FORMAT_VERSION = 1
CONFIG_FILE = "forecaster.json"
WEIGHTS_FILE = "weights.safetensors"
ARRAYS_FILE = "arrays.safetensors"

#: attributes that are caches: never saved, rebuilt on demand
_TRANSIENT = frozenset({"_path_cache"})
#: dataclasses of the package that may appear in the state
_DATACLASSES = {
    cls.__name__: cls
    for cls in (TimeAxis, ExogScaler, Instance, LogSparseConfig, TrainResult)
}
#: integers beyond this are written as strings (exact in every JSON parser)
_MAX_SAFE_INT = 2**53
_TAG = "__type__"


# ------------------------------------------------------------------ public


def save_model(forecaster, path: str | Path) -> Path:
    """Save ``forecaster`` to the folder ``path`` (created if needed).

    Parameters
    ----------
    forecaster : LogSparseTransformerForecaster
        Fitted, pretrained or new.
    path : str or Path
        Folder for ``forecaster.json``, ``weights.safetensors`` and
        ``arrays.safetensors``; existing files of these names are replaced.

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    TypeError
        If the state holds a value the format cannot represent (e.g. an
        instance key that is neither a string, a number nor a timestamp).
    """
    path = Path(path)
    writer = _Writer()
    params = forecaster.get_params(deep=False)
    state = {
        name: writer.encode(value, name)
        for name, value in vars(forecaster).items()
        if name not in params and name not in _TRANSIENT
    }
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class": type(forecaster).__name__,
        "versions": _versions(),
        "params": {
            name: writer.encode(value, f"params.{name}")
            for name, value in params.items()
        },
        "state": state,
    }
    text = json.dumps(config, indent=1, allow_nan=False)
    path.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(writer.tensors, str(path / WEIGHTS_FILE))
    safetensors.numpy.save_file(writer.arrays, str(path / ARRAYS_FILE))
    (path / CONFIG_FILE).write_text(text, encoding="utf-8")
    return path


def load_model(path: str | Path, cls: type | None = None, device: Any = None):
    """Load a forecaster saved by :func:`save_model`.

    Parameters
    ----------
    path : str or Path
        The folder given to :func:`save_model`.
    cls : type, optional
        The forecaster class (default: ``LogSparseTransformerForecaster``);
        the file must have been saved from a class of this name.
    device : str or torch.device, optional
        Device for the networks; it also replaces the ``device`` parameter.
        None: the saved ``device`` parameter (e.g. ``"auto"``).

    Returns
    -------
    LogSparseTransformerForecaster
        Predicts, updates and refits as the saved forecaster did.

    Raises
    ------
    FileNotFoundError
        If a file is missing.
    ValueError
        If the files are not of this format or version, or the saved device
        is not available here (pass ``device="cpu"``).
    """
    if cls is None:
        from .forecaster import LogSparseTransformerForecaster as cls
    path = Path(path)
    config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"{path / CONFIG_FILE} is not a saved {FORMAT} forecaster")
    if config.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} has format version {config.get('format_version')!r}; this "
            f"version of sktime-logsparse reads version {FORMAT_VERSION}"
        )
    if config.get("class") != cls.__name__:
        raise ValueError(
            f"{path} holds a {config.get('class')!r}, not a {cls.__name__!r}"
        )
    arrays = safetensors.numpy.load_file(str(path / ARRAYS_FILE))
    tensors = safetensors.torch.load_file(str(path / WEIGHTS_FILE), device="cpu")
    reader = _Reader(arrays, tensors)
    params = {name: reader.decode(value) for name, value in config["params"].items()}
    if device is not None:
        params["device"] = device
    forecaster = cls(**params)
    try:
        reader.device = resolve_device(forecaster.device)
    except ValueError as err:
        raise ValueError(
            f"cannot load {path} onto its device: {err}; pass device='cpu' "
            "(or another available device) to load_model"
        ) from err
    for name, value in config["state"].items():
        setattr(forecaster, name, reader.decode(value))
    return forecaster


def _versions() -> dict:
    versions = {}
    for package in ("sktime-logsparse", "sktime", "torch", "pandas", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:  # pragma: no cover
            versions[package] = None
    return versions


# ----------------------------------------------------------------- encoding


class _Writer:
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
        if isinstance(value, GlobalModel):
            return self._model(value, where)
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

    def _model(self, model: GlobalModel, where: str) -> dict:
        for key, tensor in model.network.state_dict().items():
            self.tensors[f"{where}.{key}"] = tensor.detach().cpu().clone().contiguous()
        attrs = {
            name: self.encode(value, f"{where}.{name}")
            for name, value in vars(model).items()
            if name not in ("network", "device")
        }
        return {_TAG: "GlobalModel", "weights": where, "attrs": attrs}


# ----------------------------------------------------------------- decoding


class _Reader:
    """Decode what :class:`_Writer` encoded; only whitelisted types."""

    def __init__(self, arrays: dict, tensors: dict) -> None:
        self.arrays = arrays
        self.tensors = tensors
        self.device = torch.device("cpu")

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
        return pd.Timestamp("2000-01-01", tz=value["name"]).tz

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

    def _decode_GlobalModel(self, value):  # noqa: N802
        model = object.__new__(GlobalModel)
        for name, attr in value["attrs"].items():
            setattr(model, name, self.decode(attr))
        if isinstance(model.scaling, bool):  # older files store a flag
            model.scaling = "mean" if model.scaling else None
        prefix = value["weights"] + "."
        weights = {
            key[len(prefix) :]: tensor
            for key, tensor in self.tensors.items()
            if key.startswith(prefix)
        }
        # building the network initialises weights: keep the global RNG intact
        with isolated_rng(0, torch.device("cpu")):
            network = LogSparseTransformer(model.config)
        network.load_state_dict(weights, strict=True)
        model.network = network.to(self.device).eval()
        model.device = self.device
        return model


def _hashable(value: Any) -> Any:
    """Lists decoded from JSON as dictionary keys: tuples."""
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value
