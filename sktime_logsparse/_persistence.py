"""Saving and loading a forecaster without pickle: safetensors and JSON.

:func:`save_model` writes a folder with three files:

``forecaster.json``
    Plain JSON (see :mod:`._codec`): the format version, the class, the
    library versions, the constructor parameters and the fitted state listed
    in :data:`SAVED_STATE`.
``weights.safetensors``
    The weights of every network (fitted and pretrained), one tensor per
    entry of the state dict, named ``<attribute>.<parameter>``.
``arrays.safetensors``
    The numpy arrays of the state (series values, exogenous values, time
    points...), which the JSON names by key.

:func:`load_model` rebuilds the forecaster from these files; it reads only
JSON and safetensors and builds only whitelisted types. It trusts nothing in
them: the files must be regular files within size bounds (:mod:`._files`),
the JSON must follow the schema (:mod:`._schema`, :mod:`._structure`), the
parameters pass the constructor's checks, every network's tensors must be
those its config makes (:mod:`._weights`, checked before the network is
built) and the state must hold together (:mod:`._consistency`). Any violation
is a ``ValueError`` naming the file and the field. ``forecaster.json`` also
records the SHA-256 digests of the two safetensors files, which detect a
corrupted weight or value that no schema could; files without digests
(format 1 and the first files of format 2) load without that check.

Files of format 1 (sktime-logsparse 0.1.0) load too: their flat parameters
are mapped into ``model_kwargs`` and ``trainer_kwargs``.

Under ``torchrun`` every rank holds the same model, and only rank 0 writes:
:func:`save_model` on another rank writes nothing and returns the folder.
"""

from __future__ import annotations

import json
import logging
from importlib import metadata
from pathlib import Path
from typing import Any

import safetensors.numpy
import safetensors.torch
import torch

from ._codec import _TAG, Reader, Writer
from ._consistency import check_state
from ._dataset import FittedPanel
from ._distributed import process_rank
from ._files import (
    MAX_BINARY_BYTES,
    MAX_JSON_BYTES,
    ModelFileError,
    fail,
    parse_json,
    read_file,
    read_safetensors,
    sha256,
)
from ._model import GlobalModel, isolated_rng, resolve_device
from ._params import MODEL_KWARGS, TRAINER_KWARGS
from ._schema import (
    ADDED_PARAMS,
    FORMAT,
    FORMAT_VERSION,
    check_names,
    check_params,
    check_top_level,
)
from ._structure import StructureCheck
from ._weights import check_layout, check_network, read_tensors
from ._windows import WindowLayout
from .nn import LogSparseTransformer, get_scaler

__all__ = ["save_model", "load_model", "CONFIG_FILE", "WEIGHTS_FILE", "ARRAYS_FILE"]

CONFIG_FILE = "forecaster.json"
WEIGHTS_FILE = "weights.safetensors"
ARRAYS_FILE = "arrays.safetensors"

logger = logging.getLogger(__name__)

#: sktime's own state of a forecaster (cutoff, horizon, data, tags...)
SKTIME_STATE = (
    "_X",
    "_y",
    "_cutoff",
    "_fh",
    "_state",
    "_is_fitted",
    "_is_vectorized",
    "_pretrained_attrs",
    "_y_metadata",
    "_y_mtype_last_seen",
    "_X_mtype_last_seen",
    "_converter_store_y",
    "_tags_dynamic",
    "_config_dynamic",
)
#: what a fitted (or pretrained) forecaster holds besides its parameters
OWN_STATE = (
    "time_axis_",
    "context_length_",
    "prediction_length_",
    "lags_",
    "exog_scaler_",
    "model_",
    "pretrained_model_",
    "series_ids_",
    "training_history_",
    "calibration_",
    "_panel",
    "_predict_seed",
)
#: format 1 kept the fitted panel's fields as separate attributes
_PANEL_V1 = ("_instances", "_factors", "_ids", "_level_names", "_time_name", "_columns")
SAVED_STATE = SKTIME_STATE + OWN_STATE
_NETWORKS = ("model_", "pretrained_model_")
#: what decoding a checked value can still raise (pandas refusing a value)
_DECODE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    ArithmeticError,
    RuntimeError,
)


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
        The folder. In a process group of several ranks (``torchrun``) only
        rank 0 writes; on the others this writes nothing and returns it.

    Raises
    ------
    TypeError
        If the state holds a value the format cannot represent (e.g. an
        instance key that is neither a string, a number nor a timestamp).
    """
    path = Path(path)
    rank = process_rank()
    if rank != 0:  # every rank holds the same model: rank 0 writes it
        logger.debug("rank %d: save_model(%s) left to rank 0", rank, path)
        return path
    writer = _ModelWriter()
    params = forecaster.get_params(deep=False)
    state = {
        name: writer.encode(getattr(forecaster, name), name)
        for name in SAVED_STATE
        if name in forecaster.__dict__  # set on the instance, not class defaults
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
    weights = safetensors.torch.save(writer.tensors)
    arrays = safetensors.numpy.save(writer.arrays)
    config["checksums"] = {WEIGHTS_FILE: sha256(weights), ARRAYS_FILE: sha256(arrays)}
    text = json.dumps(config, indent=1, allow_nan=False)
    path.mkdir(parents=True, exist_ok=True)
    (path / WEIGHTS_FILE).write_bytes(weights)
    (path / ARRAYS_FILE).write_bytes(arrays)
    (path / CONFIG_FILE).write_text(text, encoding="utf-8")
    return path


def load_model(path: str | Path, cls: type, device: Any = None):
    """Load a forecaster saved by :func:`save_model`, checking every file.

    Parameters
    ----------
    path : str or Path
        The folder given to :func:`save_model`.
    cls : type
        The forecaster class; the file must have been saved from a class of
        this name.
    device : str or torch.device, optional
        Device for the networks; it also replaces the ``device`` parameter.
        None: the saved ``device`` parameter (e.g. ``"auto"``).

    Returns
    -------
    LogSparseTransformerForecaster
        Predicts, updates and refits as the saved forecaster did.

    Raises
    ------
    ValueError
        If a file is missing (then also a ``FileNotFoundError``), not a regular
        file, too large (``forecaster.json`` 64 MiB, each safetensors file 4
        GiB), not of this format or version, breaks the schema, holds
        parameters the constructor refuses, networks whose tensors are not
        those of their config, state that does not hold together, or the saved
        device is not available here. The message names the file and field.
        Also if ``device`` is not available here.
    """
    path = Path(path)
    if device is not None:
        resolve_device(device)  # a ValueError naming the argument
    config_path = path / CONFIG_FILE
    config = parse_json(read_file(config_path, MAX_JSON_BYTES), config_path)
    version = check_top_level(
        config, config_path, cls.__name__, (WEIGHTS_FILE, ARRAYS_FILE)
    )
    known = set(SAVED_STATE) | (set(_PANEL_V1) if version == 1 else set())
    check_names(config, cls, version, known, config_path)
    blobs = {}
    for name in (WEIGHTS_FILE, ARRAYS_FILE):
        blobs[name] = read_file(path / name, MAX_BINARY_BYTES)
        digest = config.get("checksums", {}).get(name)
        if digest is not None and sha256(blobs[name]) != digest:
            fail(path / name, "", f"its SHA-256 is not the {digest} of {CONFIG_FILE}")
    weights, weights_base = read_safetensors(blobs[WEIGHTS_FILE], path / WEIGHTS_FILE)
    arrays, arrays_base = read_safetensors(blobs[ARRAYS_FILE], path / ARRAYS_FILE)
    structure = StructureCheck(config_path, arrays, path / ARRAYS_FILE, version)
    for name, value in config["params"].items():
        structure.value(value, f"params[{name!r}]")
    for name, value in config["state"].items():
        if name in _NETWORKS:
            structure.model(value, f"state[{name!r}]", name)
        else:
            structure.value(value, f"state[{name!r}]")
    structure.unnamed_arrays()
    for key in weights:
        if key.split(".")[0] not in set(config["state"]) & set(_NETWORKS):
            fail(path / WEIGHTS_FILE, repr(key), "not a tensor of a saved network")
    data = memoryview(blobs[ARRAYS_FILE])
    values = {key: entry.read(data, arrays_base) for key, entry in arrays.items()}
    reader = _ModelReader(values, {})
    params = {
        name: _decode(reader, value, config_path, f"params[{name!r}]")
        for name, value in config["params"].items()
    }
    params = {**ADDED_PARAMS, **params}  # files from before a parameter existed
    if version == 1:
        params = _guarded(_params_from_v1, params, config_path, "params")
    if device is not None:
        params["device"] = device
    settings = check_params(params, set(cls.get_param_names()), config_path, version)
    forecaster = cls(**params)
    try:
        reader.device = resolve_device(forecaster.device)
    except ValueError as err:
        fail(
            config_path,
            "params['device']",
            f"cannot load {path} onto its device: {err}; pass device='cpu' "
            "(or another available device) to load_model",
        )
    reader.networks = (settings, weights, memoryview(blobs[WEIGHTS_FILE]))
    reader.networks_at = (weights_base, config_path, path / WEIGHTS_FILE)
    state = {
        name: _decode(reader, value, config_path, f"state[{name!r}]")
        for name, value in config["state"].items()
    }
    if version == 1 and set(_PANEL_V1) & set(state):
        missing = [name for name in _PANEL_V1 if name not in state]
        if missing:
            fail(config_path, "state", f"format 1 keeps the panel in {_PANEL_V1}")
        panel = [state.pop(name) for name in _PANEL_V1]
        state["_panel"] = _guarded(
            lambda p: FittedPanel(*p), panel, config_path, "state"
        )
    _guarded(check_state, state, config_path, "state", settings, cls, config_path)
    for name in SAVED_STATE:
        if name in state:
            setattr(forecaster, name, state[name])
    return forecaster


def _decode(reader: Reader, value: Any, path: Path, field: str) -> Any:
    """Decode a checked value; what pandas or numpy still refuse names the field."""
    return _guarded(reader.decode, value, path, field)


def _guarded(function, value: Any, path: Path, field: str, *args) -> Any:
    try:
        return function(value, *args)
    except ModelFileError:
        raise
    except _DECODE_ERRORS as err:
        fail(path, field, f"cannot be read: {type(err).__name__}: {err}")


def _params_from_v1(params: dict) -> dict:
    """Format 1 parameters: the experiment knobs were flat parameters."""
    out = {}
    for group, defaults in (
        ("model_kwargs", MODEL_KWARGS),
        ("trainer_kwargs", TRAINER_KWARGS),
    ):
        moved = {k: params.pop(k) for k in defaults if k in params}
        changed = {k: v for k, v in moved.items() if v != defaults[k]}
        out[group] = changed or None
    return {**params, **out}


def _versions() -> dict:
    versions = {}
    for package in ("sktime-logsparse", "sktime", "torch", "pandas", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:  # pragma: no cover
            versions[package] = None
    return versions


class _ModelWriter(Writer):
    """A :class:`Writer` that also saves models (config, layout, weights)."""

    def encode_other(self, value: Any, where: str) -> dict | None:
        if not isinstance(value, GlobalModel):
            return None
        for key, tensor in value.network.state_dict().items():
            self.tensors[f"{where}.{key}"] = tensor.detach().cpu().clone().contiguous()
        attrs = {
            name: self.encode(getattr(value, name), f"{where}.{name}")
            for name in ("config", "layout")
        }
        return {_TAG: "GlobalModel", "weights": where, "attrs": attrs}


class _ModelReader(Reader):
    """A :class:`Reader` that also builds models, on ``device``.

    ``networks``: the forecaster's checked settings, the header of
    ``weights.safetensors`` and its bytes; ``networks_at``: the offset of its
    first tensor byte and the two paths for messages. A network is built only
    after :func:`~._weights.check_network` has checked its tensors.
    """

    device = torch.device("cpu")
    networks: tuple = ()
    networks_at: tuple = ()

    def _decode_GlobalModel(self, value):  # noqa: N802
        settings, entries, data = self.networks
        base, config_path, weights_path = self.networks_at
        name = value["weights"]
        attrs = {name: self.decode(attr) for name, attr in value["attrs"].items()}
        if "layout" not in attrs:  # format 1 kept the layout's fields apart
            attrs = _layout_from_v1(attrs)
        where = f"state[{name!r}].attrs"
        check_layout(attrs["layout"], config_path, f"{where}.layout")
        paths = (config_path, weights_path)
        config = check_network(
            attrs["config"], attrs["layout"], settings, entries, name, paths
        )
        weights = read_tensors(entries, data, base, name, weights_path)
        model = object.__new__(GlobalModel)
        model.config, model.layout = config, attrs["layout"]
        # building the network initialises weights: keep the global RNG intact
        with isolated_rng(0, torch.device("cpu")):
            network = LogSparseTransformer(model.config)
        network.load_state_dict(weights, strict=True)
        model.network = network.to(self.device).eval()
        model.device = self.device
        return model


def _layout_from_v1(attrs: dict) -> dict:
    """The model attributes of format 1 as a :class:`WindowLayout`."""
    scaling = attrs["scaling"]
    if isinstance(scaling, bool):  # the first files stored a flag
        scaling = "mean" if scaling else None
    lags = tuple(attrs["lags"])
    config = attrs["config"]
    n_cov = config.n_inputs - 2 - len(lags) - get_scaler(scaling).n_inputs
    layout = WindowLayout(
        attrs["context_length"], attrs["prediction_length"], lags, scaling, n_cov
    )
    return {"config": config, "layout": layout}
