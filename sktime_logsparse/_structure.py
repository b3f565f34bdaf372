"""The structure of the tagged values of ``forecaster.json``, and their arrays.

Checked before anything is decoded: every tagged value of :mod:`._codec` has
exactly its fields, of their JSON types (units, dtype names, time zones from
the tz database, offsets of ``pandas.offsets``, the fields of the package's
dataclasses). Arrays named by the JSON must exist in ``arrays.safetensors``,
each named once, with a dtype and a number of dimensions that fit where they
are named; the file may hold no other arrays.

Every violation is a :class:`~._files.ModelFileError` (a ``ValueError``) naming
the file and the field, e.g. ``forecaster.json: state['_cutoff'].unit: ...``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ._codec import _DATACLASSES, _TAG
from ._files import DTYPES, TensorEntry, fail, is_timezone_name

__all__ = ["StructureCheck", "known_keys"]

_UNITS = ("s", "ms", "us", "ns")
_INT_TEXT = re.compile(r"-?[0-9]{1,400}")
_DATETIME64 = re.compile(r"(datetime64|timedelta64)\[(s|ms|us|ns)\]")
_DEVICE = re.compile(r"(cpu|cuda|mps|xpu|meta)(:[0-9]{1,4})?")
_OFFSETS = frozenset(
    name
    for name in dir(pd.offsets)
    if isinstance(getattr(pd.offsets, name), type)
    and issubclass(getattr(pd.offsets, name), pd.offsets.BaseOffset)
)
#: numpy dtype names an index or a column may declare for array-backed values
_NUMERIC = {
    **{f"int{n}": "i" for n in (8, 16, 32, 64)},
    **{f"uint{n}": "u" for n in (8, 16, 32, 64)},
    **{f"float{n}": "f" for n in (16, 32, 64)},
    "bool": "b",
    **{f"Int{n}": "i" for n in (8, 16, 32, 64)},
    **{f"UInt{n}": "u" for n in (8, 16, 32, 64)},
    **{f"Float{n}": "f" for n in (32, 64)},
    "boolean": "b",
}


def known_keys(obj: dict, required, optional, path: Path, where: str) -> None:
    unknown = sorted(set(obj) - set(required) - set(optional), key=str)
    if unknown:
        fail(path, where or "top level", f"unknown keys {unknown}")
    missing = [key for key in required if key not in obj]
    if missing:
        fail(path, where or "top level", f"missing keys {missing}")


Check = Callable[["StructureCheck", Any, str], None]


class StructureCheck:
    """Check the structure of encoded values and collect their array references.

    Parameters
    ----------
    path : Path
        ``forecaster.json``, for messages.
    arrays : dict of str to TensorEntry
        The entries of ``arrays.safetensors``.
    arrays_path : Path
        ``arrays.safetensors``, for messages.
    version : int
        Format version of the file.
    """

    def __init__(self, path: Path, arrays: dict, arrays_path: Path, version: int):
        self.path, self.arrays, self.arrays_path = path, arrays, arrays_path
        self.version = version
        self.named: dict[str, str] = {}  # array key -> where the JSON names it

    def value(self, value: Any, where: str) -> None:
        """Check one encoded value (any JSON, tagged objects by their schema)."""
        if value is None or isinstance(value, bool | int | float | str):
            return
        if isinstance(value, list):
            for i, item in enumerate(value):
                self.value(item, f"{where}[{i}]")
            return
        if not isinstance(value, dict):  # pragma: no cover - json gives no others
            fail(self.path, where, f"unexpected {type(value).__name__}")
        self.tagged(value, where, _TAGS)

    def tagged(self, value: Any, where: str, tags: dict) -> None:
        """Check a tagged object whose tag is one of ``tags``."""
        tag = value.get(_TAG) if isinstance(value, dict) else None
        if not isinstance(tag, str) or tag not in tags:
            fail(
                self.path,
                where,
                f"expected a saved value of type {sorted(tags)}, got "
                f"{_describe(value)} (unknown saved value)",
            )
        layouts = tags[tag] if isinstance(tags[tag], list) else [tags[tag]]
        fields = set(value) - {_TAG}
        for layout in layouts:
            if fields == set(layout):
                for name, check in layout.items():
                    check(self, value[name], f"{where}.{name}")
                if tag in _WHOLE:
                    _WHOLE[tag](self, value, where)
                return
        expected = " or ".join(str(sorted(layout)) for layout in layouts)
        fail(
            self.path,
            where,
            f"a {tag!r} has the fields {expected}, got {sorted(fields)}",
        )

    def model(self, value: Any, where: str, name: str) -> None:
        """A saved network (state ``model_`` or ``pretrained_model_``)."""
        self.tagged(value, where, {"GlobalModel": {"weights": _str, "attrs": _any_obj}})
        if value["weights"] != name:
            fail(self.path, f"{where}.weights", f"must be {name!r}")
        attrs = value["attrs"]
        if self.version == 1:
            names = ("config", "context_length", "prediction_length", "scaling", "lags")
        else:
            names = ("config", "layout")
        known_keys(attrs, names, (), self.path, f"{where}.attrs")
        self.tagged(attrs["config"], f"{where}.attrs.config", {"dataclass": _DC})
        if attrs["config"]["name"] != "LogSparseConfig":
            fail(self.path, f"{where}.attrs.config.name", "must be 'LogSparseConfig'")
        for key in names[1:]:
            self.value(attrs[key], f"{where}.attrs.{key}")

    def array(self, value: Any, where: str, dtype: str | None, ndim: int) -> None:
        """An ``ndarray`` reference to an existing, unshared array.

        ``dtype``: the safetensors dtype it must have (None: any numeric);
        ``ndim``: its number of dimensions at most.
        """
        if not (
            isinstance(value, dict)
            and value.get(_TAG) == "ndarray"
            and set(value) == {_TAG, "key"}
            and isinstance(value["key"], str)
        ):
            fail(self.path, where, f"must name an array, got {_describe(value)}")
        key = value["key"]
        entry: TensorEntry | None = self.arrays.get(key)
        if entry is None:
            fail(self.arrays_path, repr(key), f"missing (named by {where})")
        if key in self.named:
            fail(self.path, where, f"array {key!r} is also named by {self.named[key]}")
        self.named[key] = where
        if len(entry.shape) > ndim or (dtype is not None and entry.dtype != dtype):
            fail(
                self.arrays_path,
                repr(key),
                f"{entry.dtype} of shape {list(entry.shape)}; {where} needs "
                f"{dtype or 'a number type'} with at most {ndim} dimensions",
            )

    def unnamed_arrays(self) -> None:
        """Refuse arrays that the JSON does not name."""
        extra = sorted(set(self.arrays) - set(self.named))
        if extra:
            fail(self.arrays_path, repr(extra[0]), "not named by forecaster.json")


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return f"an object with the type {value.get(_TAG)!r}"
    return f"{type(value).__name__} {value!r}"[:80]


def _int(self: StructureCheck, value: Any, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        fail(self.path, where, f"must be an int, got {_describe(value)}")


def _bool(self: StructureCheck, value: Any, where: str) -> None:
    if not isinstance(value, bool):
        fail(self.path, where, f"must be true or false, got {_describe(value)}")


def _str(self: StructureCheck, value: Any, where: str) -> None:
    if not isinstance(value, str):
        fail(self.path, where, f"must be a string, got {_describe(value)}")


def _matching(pattern: re.Pattern | frozenset | tuple, what: str) -> Check:
    def check(self: StructureCheck, value: Any, where: str) -> None:
        ok = isinstance(value, str) and (
            value in pattern
            if isinstance(pattern, frozenset | tuple)
            else pattern.fullmatch(value) is not None
        )
        if not ok:
            fail(self.path, where, f"must be {what}, got {_describe(value)}")

    return check


def _tz_name(self: StructureCheck, value: Any, where: str) -> None:
    if not is_timezone_name(value):
        fail(
            self.path,
            where,
            f"{_describe(value)} is not a time zone of the tz database (such as "
            "'Europe/Berlin') or a fixed offset such as 'UTC+01:00'",
        )


def _any(self: StructureCheck, value: Any, where: str) -> None:
    self.value(value, where)


def _list(self: StructureCheck, value: Any, where: str) -> None:
    if not isinstance(value, list):
        fail(self.path, where, f"must be a list, got {_describe(value)}")
    self.value(value, where)


def _list_of(check: Check) -> Check:
    def checked(self: StructureCheck, value: Any, where: str) -> None:
        if not isinstance(value, list):
            fail(self.path, where, f"must be a list, got {_describe(value)}")
        for i, item in enumerate(value):
            check(self, item, f"{where}[{i}]")

    return checked


def _pair(self: StructureCheck, value: Any, where: str) -> None:
    if not (isinstance(value, list) and len(value) == 2):
        fail(self.path, where, f"must be a [key, value] pair, got {_describe(value)}")
    self.value(value, where)


def _tag(*names: str) -> Check:
    def check(self: StructureCheck, value: Any, where: str) -> None:
        self.tagged(value, where, {name: _TAGS[name] for name in names})

    return check


def _optional(check: Check) -> Check:
    def checked(self: StructureCheck, value: Any, where: str) -> None:
        if value is not None:
            check(self, value, where)

    return checked


def _ints64(self: StructureCheck, value: Any, where: str) -> None:
    self.array(value, where, "I64", 1)


def _datetime64_values(self: StructureCheck, value: Any, where: str) -> None:
    self.array(value, where, "I64", 2)


def _any_obj(self: StructureCheck, value: Any, where: str) -> None:
    if not isinstance(value, dict) or _TAG in value:
        fail(self.path, where, f"must be a JSON object, got {_describe(value)}")


def _later(self: StructureCheck, value: Any, where: str) -> None:
    """Checked with the whole object (see ``_WHOLE``)."""


#: arrays of more than two dimensions, by saved dataclass and field
_FIELD_NDIM = {("GroupedFactors", "factors"): 3}


def _ndarray(self: StructureCheck, value: dict, where: str) -> None:
    self.array(value, where, None, 2)


def _dataclass(self: StructureCheck, value: dict, where: str) -> None:
    cls = _DATACLASSES.get(value["name"])
    if cls is None:
        fail(self.path, f"{where}.name", f"unknown saved class {value['name']!r}")
    fields = value["fields"]
    if not isinstance(fields, dict) or _TAG in fields:
        fail(self.path, f"{where}.fields", "must be a JSON object")
    names = [f.name for f in dataclasses.fields(cls)]
    known_keys(fields, names, (), self.path, f"{where}.fields")
    for name in names:
        ndim = _FIELD_NDIM.get((value["name"], name))
        if ndim is None:
            self.value(fields[name], f"{where}.fields.{name}")
        else:  # a field that must be an array of up to ndim dimensions
            self.array(fields[name], f"{where}.fields.{name}", None, ndim)


def _dtype_and_values(self: StructureCheck, value: dict, where: str) -> None:
    """Array-backed index or column: a numeric dtype and a 1-D array of its kind."""
    if "values" not in value:
        return
    dtype = value["dtype"]
    kind = _NUMERIC.get(dtype)
    if kind is None:
        fail(self.path, f"{where}.dtype", f"{dtype!r} is not a numeric dtype")
    self.array(value["values"], f"{where}.values", None, 1)
    key = value["values"]["key"]
    if DTYPES[self.arrays[key].dtype].kind != kind:
        fail(
            self.arrays_path,
            repr(key),
            f"{self.arrays[key].dtype} cannot hold the {dtype} values of {where}",
        )


_INDEXES = ("index", "rangeindex", "datetimeindex", "periodindex", "multiindex")
_OFFSET = _tag("offset")
_TZ = _optional(_tag("tz"))
_NAME = _any
_TAGS: dict[str, Any] = {
    "int": {"value": _matching(_INT_TEXT, "an integer as text")},
    "float": {"value": _matching(("nan", "inf", "-inf"), "'nan', 'inf' or '-inf'")},
    "ndarray": {"key": _str},
    "dtypekind": {"value": _int},
    "datetime64": {
        "dtype": _matching(_DATETIME64, "a datetime64 or timedelta64 dtype"),
        "values": _datetime64_values,
    },
    "tuple": {"items": _list},
    "dict": {"items": _list_of(_pair)},
    "frame": {
        "index": _tag(*_INDEXES),
        "columns": _tag(*_INDEXES),
        "data": _list_of(_tag("column")),
    },
    "series": {"index": _tag(*_INDEXES), "name": _NAME, "data": _tag("column")},
    "column": [{"dtype": _str, "values": _later}, {"dtype": _str, "items": _list}],
    "timestamp": {
        "value": _int,
        "unit": _matching(_UNITS, f"one of {_UNITS}"),
        "tz": _TZ,
    },
    "period": {"ordinal": _int, "freq": _OFFSET},
    "timedelta": {"value": _int, "unit": _matching(_UNITS, f"one of {_UNITS}")},
    "pytimedelta": {"days": _int, "seconds": _int, "microseconds": _int},
    "offset": {
        "name": _matching(_OFFSETS, "the name of a pandas offset"),
        "n": _int,
        "normalize": _bool,
        "kwds": _tag("dict"),
    },
    "tz": {"name": _tz_name},
    "device": {"name": _matching(_DEVICE, "a device name such as 'cpu'")},
    "fh": {
        "values": _tag(*_INDEXES),
        "is_relative": _bool,
        "freq": _optional(_OFFSET),
    },
    "multiindex": {"levels": _list_of(_tag(*_INDEXES)), "names": _list},
    "rangeindex": {"start": _int, "stop": _int, "step": _int, "name": _NAME},
    "datetimeindex": {
        "values": _ints64,
        "unit": _matching(_UNITS, f"one of {_UNITS}"),
        "tz": _TZ,
        "freq": _optional(_OFFSET),
        "name": _NAME,
    },
    "periodindex": {"values": _ints64, "freq": _OFFSET, "name": _NAME},
    "index": [
        {"dtype": _str, "values": _later, "name": _NAME},
        {"dtype": _str, "items": _list, "name": _NAME},
    ],
    "dataclass": {"name": _str, "fields": _later},
}
_DC = _TAGS["dataclass"]
#: checks of a whole tagged object, after its fields
_WHOLE = {
    "ndarray": _ndarray,
    "dataclass": _dataclass,
    "index": _dtype_and_values,
    "column": _dtype_and_values,
}
