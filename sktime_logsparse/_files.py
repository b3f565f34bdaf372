"""Reading the files of a saved forecaster without trusting them.

Every file is checked with ``os.stat`` before it is opened: it must be a
regular file (a FIFO or a device would block or never end) no larger than its
bound, and it is opened non-blocking and checked again on the open
descriptor, so that a file swapped in between cannot block either. JSON is
checked for nesting depth before it is parsed (the parser recurses), and the
header of a safetensors file is parsed and checked here (names, dtypes,
shapes, offsets) before any tensor is read.

Bounds (module constants): :data:`MAX_JSON_BYTES` (64 MiB) for
``forecaster.json``, :data:`MAX_JSON_DEPTH` (64) for its nesting,
:data:`MAX_BINARY_BYTES` (4 GiB) for each safetensors file and
:data:`MAX_HEADER_BYTES` (16 MiB) for a safetensors header. A load reads each
safetensors file into memory once and copies its tensors out, so it needs
about twice the size of the files in memory.

Every problem is a :class:`ModelFileError` (a ``ValueError``) whose message
names the file and the field.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import stat
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

__all__ = [
    "MAX_BINARY_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "MissingModelFile",
    "ModelFileError",
    "TensorEntry",
    "fail",
    "is_timezone_name",
    "parse_json",
    "read_file",
    "read_safetensors",
    "sha256",
]

MAX_JSON_BYTES = 64 * 2**20
MAX_JSON_DEPTH = 64
MAX_BINARY_BYTES = 4 * 2**30
MAX_HEADER_BYTES = 16 * 2**20
#: safetensors dtypes that numpy reads, little-endian
DTYPES = {
    "BOOL": np.dtype("?"),
    "U8": np.dtype("u1"),
    "I8": np.dtype("i1"),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
}
_MAX_NDIM = 8
# a JSON string, with escapes; what is left holds no quoted brackets
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


class ModelFileError(ValueError):
    """A saved forecaster's file is missing, too large, malformed or inconsistent."""


class MissingModelFile(ModelFileError, FileNotFoundError):
    """A file of a saved forecaster does not exist (also a ``FileNotFoundError``)."""


def fail(path: Path | str, field: str, message: str) -> NoReturn:
    """Raise a :class:`ModelFileError` naming ``path`` and ``field``."""
    where = f"{path}: {field}" if field else str(path)
    raise ModelFileError(f"{where}: {message}")


def read_file(path: Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Raises
    ------
    MissingModelFile
        If ``path`` does not exist.
    ModelFileError
        If it is not a regular file, is larger than ``limit`` bytes or cannot
        be read.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise MissingModelFile(
            f"{path}: no such file (a saved forecaster is a folder written by "
            "save_model)"
        ) from None
    except OSError as err:
        fail(path, "", f"cannot read it: {err.strerror or err}")
    _check_regular(path, info, limit)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        fail(path, "", f"cannot open it: {err.strerror or err}")
    with os.fdopen(fd, "rb") as file:
        _check_regular(path, os.fstat(file.fileno()), limit)  # swapped meanwhile?
        data = file.read(limit + 1)
    if len(data) > limit:
        fail(path, "", f"larger than the limit of {limit} bytes")
    return data


def _check_regular(path: Path, info: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        fail(path, "", "not a regular file (a folder, FIFO, device or socket)")
    if info.st_size > limit:
        fail(
            path,
            "",
            f"{info.st_size} bytes, larger than the limit of {limit} bytes",
        )


def parse_json(data: bytes, path: Path, field: str = "") -> Any:
    """Parse ``data`` as strict JSON (UTF-8, no NaN/Infinity), depth-checked."""
    depth = json_depth(data)
    if depth > MAX_JSON_DEPTH:
        fail(path, field, f"JSON nested {depth} deep, deeper than {MAX_JSON_DEPTH}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        fail(path, field, f"not UTF-8 text ({err})")

    def constant(name):
        raise ValueError(f"{name} is not JSON")

    try:
        return json.loads(text, parse_constant=constant)
    except ValueError as err:
        fail(path, field, f"not valid JSON: {err}")


def json_depth(data: bytes, chunk: int = 2**20) -> int:
    """Deepest nesting of brackets in the JSON text ``data``, strings skipped."""
    codes = np.frombuffer(_STRING.sub(b'""', data), dtype=np.uint8)
    depth = peak = 0
    for start in range(0, len(codes), chunk):
        part = codes[start : start + chunk]
        opens = (part == ord("[")) | (part == ord("{"))
        closes = (part == ord("]")) | (part == ord("}"))
        steps = opens.astype(np.int64) - closes
        if not steps.any():
            continue
        running = depth + np.cumsum(steps)
        peak, depth = max(peak, int(running.max())), int(running[-1])
    return peak


def sha256(data: bytes) -> str:
    """``"sha256:<hex digest>"`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class TensorEntry:
    """One entry of a safetensors header: dtype name, shape and byte range."""

    dtype: str
    shape: tuple[int, ...]
    start: int
    stop: int

    @property
    def numel(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape, dtype=object))

    def read(self, data: memoryview, base: int) -> np.ndarray:
        """The array, copied out of ``data`` (``base``: start of the tensors)."""
        dtype = DTYPES[self.dtype]
        flat = np.frombuffer(data, dtype, self.numel, base + self.start)
        return flat.reshape(self.shape).copy()


def read_safetensors(data: bytes, path: Path) -> tuple[dict[str, TensorEntry], int]:
    """Parse and check the header of a safetensors file.

    Returns the entries by name and the offset of the first tensor byte.
    Checked: the header's size and JSON, each entry's keys, dtype (one that
    numpy reads), shape and byte range, and that the ranges tile the rest of
    the file exactly (no gap, overlap or missing byte: a truncated file fails).
    """
    if len(data) < 8:
        fail(path, "header", f"{len(data)} bytes, too short for a safetensors file")
    size = int.from_bytes(data[:8], "little")
    if size > MAX_HEADER_BYTES or 8 + size > len(data):
        fail(
            path,
            "header",
            f"declares a header of {size} bytes in a file of {len(data)} bytes",
        )
    header = parse_json(data[8 : 8 + size], path, "header")
    if not isinstance(header, dict):
        fail(path, "header", "not a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (
        isinstance(metadata, dict)
        and all(isinstance(v, str) for v in metadata.values())
    ):
        fail(path, "__metadata__", "must map strings to strings")
    entries = {name: _entry(info, path, name) for name, info in header.items()}
    end = 0
    for name, entry in sorted(entries.items(), key=lambda e: e[1].start):
        if entry.start != end:
            fail(path, name, f"data starts at byte {entry.start}, expected {end}")
        end = entry.stop
    if end != len(data) - 8 - size:
        fail(
            path,
            "data",
            f"the header describes {end} bytes of tensors, the file holds "
            f"{len(data) - 8 - size} (truncated or padded)",
        )
    return entries, 8 + size


def _entry(info: Any, path: Path, name: str) -> TensorEntry:
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        fail(path, name, "an entry must have exactly dtype, shape and data_offsets")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        fail(path, name, f"dtype {dtype!r} is not one of {sorted(DTYPES)}")
    if not (
        isinstance(shape, list)
        and len(shape) <= _MAX_NDIM
        and all(_is_count(n) for n in shape)
    ):
        fail(path, name, f"shape {shape!r} is not a list of at most 8 sizes >= 0")
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(_is_count(n) for n in offsets)
        and offsets[0] <= offsets[1]
    ):
        fail(path, name, f"data_offsets {offsets!r} is not [start, stop]")
    entry = TensorEntry(dtype, tuple(shape), offsets[0], offsets[1])
    nbytes = entry.numel * DTYPES[dtype].itemsize
    if nbytes != entry.stop - entry.start:
        fail(
            path,
            name,
            f"shape {list(shape)} of {dtype} needs {nbytes} bytes, "
            f"data_offsets give {entry.stop - entry.start}",
        )
    return entry


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_timezone_name(name: Any) -> bool:
    """Whether ``name`` is a tz database name or a fixed offset ``UTC+01:00``.

    Only such names are read: pandas would otherwise take ``dateutil/...``
    names as paths of zone files and open them.
    """
    return isinstance(name, str) and (
        name in _timezone_names() or _FIXED_OFFSET.fullmatch(name) is not None
    )


_FIXED_OFFSET = re.compile(r"UTC[+-][0-2][0-9]:[0-5][0-9]")


@functools.cache
def _timezone_names() -> frozenset:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}
