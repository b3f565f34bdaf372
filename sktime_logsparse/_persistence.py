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
JSON and safetensors and builds only whitelisted types. Files of format 1
(sktime-logsparse 0.1.0) load too: their flat parameters are mapped into
``model_kwargs`` and ``trainer_kwargs``.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

import safetensors.numpy
import safetensors.torch
import torch

from ._codec import _TAG, Reader, Writer
from ._dataset import FittedPanel
from ._model import GlobalModel, isolated_rng, resolve_device
from ._params import MODEL_KWARGS, TRAINER_KWARGS
from ._windows import WindowLayout
from .nn import LogSparseTransformer, get_scaler

__all__ = ["save_model", "load_model", "CONFIG_FILE", "WEIGHTS_FILE", "ARRAYS_FILE"]

FORMAT = "sktime-logsparse"
FORMAT_VERSION = 2
CONFIG_FILE = "forecaster.json"
WEIGHTS_FILE = "weights.safetensors"
ARRAYS_FILE = "arrays.safetensors"

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
    "_panel",
    "_predict_seed",
)
#: format 1 kept the fitted panel's fields as separate attributes
_PANEL_V1 = ("_instances", "_factors", "_ids", "_level_names", "_time_name", "_columns")
SAVED_STATE = SKTIME_STATE + OWN_STATE


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
    text = json.dumps(config, indent=1, allow_nan=False)
    path.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(writer.tensors, str(path / WEIGHTS_FILE))
    safetensors.numpy.save_file(writer.arrays, str(path / ARRAYS_FILE))
    (path / CONFIG_FILE).write_text(text, encoding="utf-8")
    return path


def load_model(path: str | Path, cls: type, device: Any = None):
    """Load a forecaster saved by :func:`save_model`.

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
    FileNotFoundError
        If a file is missing.
    ValueError
        If the files are not of this format or version, hold state this
        version does not know, or the saved device is not available here.
    """
    path = Path(path)
    config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"{path / CONFIG_FILE} is not a saved {FORMAT} forecaster")
    version = config.get("format_version")
    if version not in (1, FORMAT_VERSION):
        raise ValueError(
            f"{path} has format version {version!r}; this version of "
            f"sktime-logsparse reads versions 1 and {FORMAT_VERSION}: save it "
            "again with the version that wrote it, or refit"
        )
    if config.get("class") != cls.__name__:
        raise ValueError(
            f"{path} holds a {config.get('class')!r}, not a {cls.__name__!r}"
        )
    known = set(SAVED_STATE) | (set(_PANEL_V1) if version == 1 else set())
    unknown = sorted(set(config["state"]) - known)
    if unknown:
        raise ValueError(
            f"{path / CONFIG_FILE} holds state this version does not know: {unknown}"
        )
    arrays = safetensors.numpy.load_file(str(path / ARRAYS_FILE))
    tensors = safetensors.torch.load_file(str(path / WEIGHTS_FILE), device="cpu")
    reader = _ModelReader(arrays, tensors)
    params = {name: reader.decode(value) for name, value in config["params"].items()}
    if version == 1:
        params = _params_from_v1(params)
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
    state = {name: reader.decode(value) for name, value in config["state"].items()}
    if version == 1 and "_instances" in state:
        state["_panel"] = FittedPanel(*(state.pop(name) for name in _PANEL_V1))
    for name in SAVED_STATE:
        if name in state:
            setattr(forecaster, name, state[name])
    return forecaster


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
    """A :class:`Reader` that also builds models, on ``device``."""

    device = torch.device("cpu")

    def _decode_GlobalModel(self, value):  # noqa: N802
        attrs = {name: self.decode(attr) for name, attr in value["attrs"].items()}
        if "layout" not in attrs:  # format 1 kept the layout's fields apart
            attrs = _layout_from_v1(attrs)
        model = object.__new__(GlobalModel)
        model.config, model.layout = attrs["config"], attrs["layout"]
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
