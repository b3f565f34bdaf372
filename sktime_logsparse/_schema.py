"""The schema of ``forecaster.json``: its top level, parameters and state keys.

Checked before anything is decoded: the top-level keys and their values, and
the names of the parameters (exactly those of the class) and of the state
(only known keys). The tagged values are checked by :mod:`._structure`; the
decoded parameters by :func:`~._params.resolve_params`, the constructor's own
checks, and by a bound on ``num_samples``.

Every violation is a :class:`~._files.ModelFileError` (a ``ValueError``) naming
the file and the field, e.g. ``forecaster.json: params['n_layers']: ...``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ._files import fail
from ._params import MODEL_KWARGS, TRAINER_KWARGS, Settings, resolve_params
from ._structure import known_keys

__all__ = ["check_names", "check_params", "check_top_level", "param_names"]

FORMAT = "sktime-logsparse"
FORMAT_VERSION = 2
TOP_KEYS = ("format", "format_version", "class", "versions", "params", "state")
#: top-level keys that files of some versions lack
OPTIONAL_TOP_KEYS = ("checksums",)
PACKAGES = ("sktime-logsparse", "sktime", "torch", "pandas", "numpy")
#: parameters added since the current format was defined, with their defaults:
#: files written before them lack them and load with the default
ADDED_PARAMS = {"n_threads": None}
#: keys of the parameter dicts added since format 1, whose files lack them
ADDED_KWARGS = frozenset(
    {
        "calibration",
        "shard_series",
        "micro_batch_size",
        "precision",
        "ema_decay",
        "series_embedding",
    }
)
#: most sample paths a loaded forecaster may ask for (the constructor takes any
#: int >= 1; a file cannot make predict allocate without bound)
MAX_NUM_SAMPLES = 2**20


def check_top_level(config: Any, path: Path, cls_name: str, files: tuple) -> int:
    """Check the top level of ``forecaster.json``; return its format version."""
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        fail(path, "format", f"this is not a saved {FORMAT} forecaster")
    known_keys(config, TOP_KEYS, OPTIONAL_TOP_KEYS, path, "")
    version = config["format_version"]
    if type(version) is not int or version not in (1, FORMAT_VERSION):
        fail(
            path,
            "format_version",
            f"{version!r}; this version of sktime-logsparse reads versions 1 and "
            f"{FORMAT_VERSION}: save it again with the version that wrote it, "
            "or refit",
        )
    if config["class"] != cls_name:
        fail(path, "class", f"holds a {config['class']!r}, not a {cls_name!r}")
    versions = config["versions"]
    if not isinstance(versions, dict) or not all(
        key in PACKAGES and (value is None or isinstance(value, str))
        for key, value in versions.items()
    ):
        fail(path, "versions", f"must map some of {PACKAGES} to version strings")
    checksums = config.get("checksums")
    if checksums is not None and not (
        isinstance(checksums, dict)
        and set(checksums) == set(files)
        and all(
            isinstance(v, str) and re.fullmatch("sha256:[0-9a-f]{64}", v)
            for v in checksums.values()
        )
    ):
        fail(path, "checksums", f"must map {list(files)} to 'sha256:<hex>' digests")
    for name in ("params", "state"):
        if not isinstance(config[name], dict):
            fail(path, name, "must be a JSON object")
    return version


def param_names(cls: type, version: int) -> set[str]:
    """The parameter names of ``cls`` as files of ``version`` store them."""
    names = set(cls.get_param_names())
    if version == 1:  # the experiment knobs were flat parameters
        names = names - {"model_kwargs", "trainer_kwargs"}
        names |= (set(MODEL_KWARGS) | set(TRAINER_KWARGS)) - ADDED_KWARGS
    return names


def check_names(config: dict, cls: type, version: int, known_state, path) -> None:
    """The parameters must be exactly those of ``cls``; the state only known keys."""
    required = sorted(param_names(cls, version) - set(ADDED_PARAMS))
    known_keys(config["params"], required, tuple(ADDED_PARAMS), path, "params")
    unknown = sorted(set(config["state"]) - set(known_state), key=str)
    if unknown:
        fail(path, "state", f"holds state this version does not know: {unknown}")


def check_params(params: dict, cls_params: set, path: Path, version: int) -> Settings:
    """Check decoded parameters as the constructor does (:func:`resolve_params`)."""
    try:
        settings = resolve_params(params)
    except (ValueError, TypeError) as err:
        fail(path, _param_field(str(err), cls_params, version), str(err))
    if settings.num_samples > MAX_NUM_SAMPLES:
        fail(
            path,
            "params['num_samples']",
            f"{settings.num_samples} sample paths; a loaded forecaster draws at "
            f"most {MAX_NUM_SAMPLES} (set_params can raise it after loading)",
        )
    return settings


def _param_field(message: str, names: set, version: int) -> str:
    """``params['x']`` for the parameter that a message of resolve_params names."""
    match = re.match(r"(\w+)(?:\['(\w+)'\])?", message)
    if match is None or match.group(1) not in names:
        return "params"
    group, key = match.groups()
    if key is None:
        return f"params[{group!r}]"
    return f"params[{key!r}]" if version == 1 else f"params[{group!r}][{key!r}]"
