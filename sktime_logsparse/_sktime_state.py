"""Checks of sktime's own state of a saved forecaster (see :mod:`._consistency`).

sktime keeps bookkeeping on a forecaster that ``predict`` reads: the metadata
and mtype of ``y`` (the output is converted back to that mtype, with the
converter's store), dynamic tags and config. A loaded forecaster may hold
only what sktime itself would have set: known keys, mtypes that sktime can
convert to here, tags that repeat the class's own, config values of the right
type or among the known choices.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pandas as pd

__all__ = ["check_sktime_state", "is_plain", "is_scalar"]

_METADATA = ("n_features", "feature_names", "feature_kind", "mtype", "scitype")
_STORE = ("name", "columns", "index", "coords")
_CONFIG_CHOICES = {
    "display": ("diagram", "text"),
    "warnings": ("on", "off"),
    "backend:parallel": (None, "None", "loky", "multiprocessing", "threading")
    + ("joblib", "dask", "ray"),
}


def is_scalar(value: Any) -> bool:
    """None, a string, a bool or a number."""
    return value is None or isinstance(value, str | bool | int | float)


def is_plain(value: Any) -> bool:
    """A scalar, or a list or tuple of plain values (safe to compare)."""
    if isinstance(value, list | tuple):
        return all(is_plain(v) for v in value)
    return is_scalar(value)


@functools.cache
def mtypes() -> dict[str, str]:
    """The mtypes sktime can convert to here (soft dependencies present)."""
    from sktime.datatypes._registry import generate_mtype_cls_list

    classes = generate_mtype_cls_list(soft_deps="present")
    return {c.get_class_tag("name"): c.get_class_tag("scitype") for c in classes}


def check_sktime_state(s: dict, cls: type, fail: Callable) -> None:
    """Check sktime's state of a forecaster of class ``cls``.

    ``fail(key, message, field='')`` raises the error naming the state key.
    """
    attrs = s.get("_pretrained_attrs", [])
    if not (isinstance(attrs, list) and all(isinstance(a, str) for a in attrs)):
        fail("_pretrained_attrs", "must be a list of attribute names")
    for key in ("_y_mtype_last_seen", "_X_mtype_last_seen"):
        value = s.get(key)
        if value is not None and (not isinstance(value, str) or value not in mtypes()):
            fail(key, f"{value!r} is not an mtype sktime converts here")
    meta = s.get("_y_metadata")
    if meta is not None:
        _metadata(s, meta, fail)
    store = s.get("_converter_store_y", {})
    if not isinstance(store, dict) or set(store) - set(_STORE):
        fail("_converter_store_y", f"must be a dict with keys among {_STORE}")
    for key, value in store.items():
        ok = is_scalar(value) if key == "name" else isinstance(value, pd.Index)
        if key == "coords":
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        if not ok:
            fail("_converter_store_y", f"bad value {value!r}", f"[{key!r}]")
    tags = s.get("_tags_dynamic", {})
    class_tags = cls.get_class_tags()
    if not isinstance(tags, dict):
        fail("_tags_dynamic", "must be a dict")
    for key, value in tags.items():
        if key == "sktime_version":
            ok = isinstance(value, str)
        else:  # a dynamic tag may only repeat the class's value
            ok = key in class_tags and is_plain(value) and value == class_tags[key]
        if not ok:
            fail("_tags_dynamic", "only the class's own tags", f"[{key!r}]")
    _config(s.get("_config_dynamic", {}), cls, fail)


def _metadata(s: dict, meta: Any, fail: Callable) -> None:
    if not isinstance(meta, dict) or set(meta) != set(_METADATA):
        fail("_y_metadata", f"must be a dict with the keys {_METADATA}")
    names, kinds = meta["feature_names"], meta["feature_kind"]
    if not (
        isinstance(meta["n_features"], int)
        and not isinstance(meta["n_features"], bool)
        and meta["n_features"] >= 1
        and isinstance(names, list)
        and all(is_scalar(n) for n in names)
        and isinstance(kinds, list)
        and all(type(k).__name__ == "DtypeKind" for k in kinds)
        and len(names) == len(kinds) == meta["n_features"]
    ):
        fail("_y_metadata", "n_features, feature_names and feature_kind")
    mtype, scitype = meta["mtype"], meta["scitype"]
    if not isinstance(mtype, str) or mtypes().get(mtype) != scitype:
        fail("_y_metadata", f"mtype {mtype!r} of scitype {scitype!r}")
    last = s.get("_y_mtype_last_seen")
    if last is not None and mtypes()[last] != scitype:
        fail("_y_mtype_last_seen", f"must be an mtype of scitype {scitype!r}")


def _config(config: Any, cls: type, fail: Callable) -> None:
    defaults = cls().get_config()
    if not isinstance(config, dict):
        fail("_config_dynamic", "must be a dict")
    for key, value in config.items():
        if key not in defaults:
            ok = False
        elif key in _CONFIG_CHOICES:
            ok = is_scalar(value) and value in _CONFIG_CHOICES[key]
        elif key == "backend:parallel:params":
            ok = value is None or (
                isinstance(value, dict) and all(isinstance(k, str) for k in value)
            )
        else:
            ok = type(value) is type(defaults[key])
        if not ok:
            fail("_config_dynamic", f"bad value {value!r}", f"[{key!r}]")
