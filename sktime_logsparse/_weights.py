"""Checks of a saved network against the parameters and ``weights.safetensors``.

A saved network (``model_`` or ``pretrained_model_``) is described twice: by
its :class:`~.nn.LogSparseConfig` in ``forecaster.json`` and by its tensors in
``weights.safetensors``. Before any network is built, :func:`check_network`

1. checks the config's fields (types, ranges) and that the parameters that
   shape the network (``d_model``, ``n_heads``, ``n_layers``, ``kernel_size``,
   ...) are those of the forecaster (its ``params``);
2. estimates the number of weights and tensors from the config
   (:func:`network_size`, plain integer arithmetic) and compares them with
   what the file holds under the network's name: a config may ask for at most
   about twice that (so that step 3 can name a missing tensor), so a config
   that asks for a huge network needs a file that holds most of it, and that
   file is bounded (see :mod:`._files`);
3. compares every tensor name, shape and dtype with those of the network of
   the config (:func:`network_shapes`, derived from the config like the
   sizes, its cost bounded by step 2): the tensors must be exactly those of
   the network.

The shapes are derived, not read off a network built on the ``meta`` device:
the first random initialisation on that device imports ``torch._dynamo``,
seconds of work in every process that loads a model. The tests check both
derivations against real networks.

Every violation is a :class:`~._files.ModelFileError` (a ``ValueError``) naming
the file and the field or tensor.
"""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any

import torch

from ._files import TensorEntry, fail
from ._params import Settings
from ._windows import WindowLayout
from .nn import KINDS, LIKELIHOODS, LogSparseConfig

__all__ = [
    "check_layout",
    "check_network",
    "network_shapes",
    "network_size",
    "read_tensors",
]

#: network parameters of the forecaster and the config field each sets
_SHAPING = ("d_model", "n_heads", "n_layers", "kernel_size", "attention", "likelihood")
_SCALINGS = (None, "mean", "standard")
#: a config may ask for up to twice the weights (and tensors) the file holds,
#: plus this, before the exact check names the missing or wrong tensors
_SLACK = 1024


def network_size(c: Any) -> tuple[int, int]:
    """Number of weights and of tensors of the network of config ``c``.

    ``c`` needs the integer fields of a :class:`~.nn.LogSparseConfig`; nothing
    is allocated (Python integers, exact for any size).
    """
    d, args = c.d_model, LIKELIHOODS[c.likelihood].args_dim
    # ln_1, ln_2 (2d each); query/key conv (2d x d x k + 2d); value, proj
    # (d^2 + d each); mlp fc (4d^2 + 4d) and proj (4d^2 + d)
    block = (2 * c.kernel_size + 10) * d * d + 13 * d
    numel = (
        (c.n_inputs + 1) * d  # input_proj
        + c.max_length * d  # pos_emb
        + c.n_series * d  # series_emb
        + c.n_layers * block
        + 2 * d  # ln_f
        + (d + 1) * args  # head
        + (c.n_inputs + 1 if c.ar_skip else 0)  # skip
    )
    tensors = 2 + 1 + (c.n_series > 0) + 14 * c.n_layers + 2 + 2 + 2 * c.ar_skip
    return numel, tensors


def network_shapes(c: LogSparseConfig) -> dict[str, tuple[int, ...]]:
    """Name and shape of every tensor of the network of config ``c`` (float32)."""
    d, n_in, args = c.d_model, c.n_inputs, LIKELIHOODS[c.likelihood].args_dim

    def linear(name: str, n_out: int, n_in: int) -> dict:
        return {f"{name}.weight": (n_out, n_in), f"{name}.bias": (n_out,)}

    def norm(name: str) -> dict:
        return {f"{name}.weight": (d,), f"{name}.bias": (d,)}

    block = {
        **norm("ln_1"),
        "attn.query_key.weight": (2 * d, d, c.kernel_size),
        "attn.query_key.bias": (2 * d,),
        **linear("attn.value", d, d),
        **linear("attn.proj", d, d),
        **norm("ln_2"),
        **linear("mlp.fc", 4 * d, d),
        **linear("mlp.proj", d, 4 * d),
    }
    shapes = {**linear("input_proj", d, n_in), "pos_emb.weight": (c.max_length, d)}
    if c.n_series:
        shapes["series_emb.weight"] = (c.n_series, d)
    for i in range(c.n_layers):
        shapes.update({f"blocks.{i}.{k}": v for k, v in block.items()})
    shapes.update({**norm("ln_f"), **linear("head", args, d)})
    if c.ar_skip:
        shapes.update(linear("skip", 1, n_in))
    return shapes


def _is_int(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def check_layout(layout: Any, path: Path, where: str) -> None:
    """Check the field types of a saved :class:`WindowLayout`."""
    if type(layout) is not WindowLayout:
        fail(path, where, f"must be a WindowLayout, got {type(layout).__name__}")
    for name, low in (("context_length", 1), ("prediction_length", 1)):
        if not _is_int(getattr(layout, name), low):
            fail(path, f"{where}.{name}", f"must be an int >= {low}")
    if not _is_int(layout.n_covariates, 0):
        fail(path, f"{where}.n_covariates", "must be an int >= 0")
    lags = layout.lags
    if not (
        isinstance(lags, tuple)
        and all(_is_int(lag, 1) for lag in lags)
        and list(lags) == sorted(set(lags))
    ):
        fail(path, f"{where}.lags", f"must be increasing ints >= 1, got {lags!r}")
    if layout.scaling not in _SCALINGS:
        fail(path, f"{where}.scaling", f"must be one of {_SCALINGS}")


def _check_fields(c: Any, path: Path, where: str) -> None:
    if type(c) is not LogSparseConfig:
        fail(path, where, f"must be a LogSparseConfig, got {type(c).__name__}")
    where = f"{where}.fields"
    for name in ("n_inputs", "d_model", "n_heads", "n_layers", "kernel_size"):
        if not _is_int(getattr(c, name), 1):
            fail(path, f"{where}.{name}", "must be an int >= 1")
    for name, low in (("max_length", 1), ("n_series", 0)):
        if not _is_int(getattr(c, name), low):
            fail(path, f"{where}.{name}", f"must be an int >= {low}")
    for name, low in (("local_window", 0), ("sub_len", 1)):
        if getattr(c, name) is not None and not _is_int(getattr(c, name), low):
            fail(path, f"{where}.{name}", f"must be None or an int >= {low}")
    if not (isinstance(c.attention, str) and c.attention in KINDS):
        fail(path, f"{where}.attention", f"must be one of {KINDS}")
    if not (isinstance(c.likelihood, str) and c.likelihood in LIKELIHOODS):
        fail(path, f"{where}.likelihood", f"must be one of {sorted(LIKELIHOODS)}")
    if not isinstance(c.ar_skip, bool):
        fail(path, f"{where}.ar_skip", "must be true or false")
    dropout = c.dropout
    if not (
        isinstance(dropout, numbers.Real)
        and not isinstance(dropout, bool)
        and 0 <= dropout < 1
    ):
        fail(path, f"{where}.dropout", "must be a number in [0, 1)")


def check_network(
    config: Any,
    layout: WindowLayout,
    settings: Settings,
    entries: dict[str, TensorEntry],
    name: str,
    paths: tuple[Path, Path],
) -> LogSparseConfig:
    """Check the saved network ``name`` before it is built; return its config.

    Parameters
    ----------
    config : LogSparseConfig
        As decoded (its ``__post_init__`` has not run).
    layout : WindowLayout
        The network's window layout (checked by :func:`check_layout`).
    settings : Settings
        The forecaster's checked parameters.
    entries : dict of str to TensorEntry
        The header of ``weights.safetensors``.
    name : str
        State key of the network; its tensors are named ``<name>.<key>``.
    paths : (Path, Path)
        ``forecaster.json`` and ``weights.safetensors``, for messages.
    """
    path, weights_path = paths
    where = f"state[{name!r}].attrs.config"
    _check_fields(config, path, where)
    if config.n_inputs != layout.n_inputs or config.max_length != layout.length:
        fail(
            path,
            where,
            f"n_inputs {config.n_inputs} and max_length {config.max_length} do not "
            f"fit the layout ({layout.n_inputs} inputs, windows of {layout.length})",
        )
    prefix = f"{name}."
    mine = {k[len(prefix) :]: e for k, e in entries.items() if k.startswith(prefix)}
    held = sum(e.numel for e in mine.values())
    expected = dict(
        zip(_SHAPING, (getattr(settings, k) for k in _SHAPING), strict=True),
        dropout=float(settings.dropout),
        ar_skip=bool(settings.linear_ar) and settings.likelihood_.loc_index is not None,
    )
    for field in ("local_window", "sub_len"):  # None: derived from the length
        if getattr(settings, field) is not None:
            expected[field] = getattr(settings, field)
    for field, value in expected.items():
        if getattr(config, field) != value:
            asked = network_size(_Fields(config, **{field: value}))[0]
            label = "linear_ar" if field == "ar_skip" else field
            nested = label not in (*_SHAPING, "dropout")  # a key of model_kwargs
            fail(
                path,
                f"params['model_kwargs'][{label!r}]"
                if nested
                else f"params[{label!r}]",
                f"{getattr(settings, label)!r} does not match the saved network "
                f"{name!r} ({field}={getattr(config, field)!r}): the parameters "
                f"make {asked} weights, {weights_path.name} holds {held} under "
                f"{prefix!r}",
            )
    numel, count = network_size(config)
    if numel > 2 * held + _SLACK or count > 2 * len(mine) + _SLACK:
        fail(
            weights_path,
            repr(prefix),
            f"holds {len(mine)} tensors of {held} weights under {prefix!r}; the "
            f"config of {name!r} makes {count} tensors of {numel} weights",
        )
    fields = {k: getattr(config, k) for k in LogSparseConfig.__dataclass_fields__}
    try:
        built = LogSparseConfig(**fields)
    except (ValueError, TypeError) as err:
        fail(path, where, str(err))
    reference = network_shapes(built)
    for key in sorted(set(reference) | set(mine)):
        field = repr(prefix + key)
        if key not in mine:
            fail(weights_path, field, f"missing (the network {name!r} has it)")
        if key not in reference:
            fail(weights_path, field, f"not a tensor of the network {name!r}")
        entry = mine[key]
        if entry.shape != reference[key] or entry.dtype != "F32":
            fail(
                weights_path,
                field,
                f"shape {list(entry.shape)} of {entry.dtype}; the network needs "
                f"{list(reference[key])} of F32",
            )
    return built


def read_tensors(
    entries: dict, data: memoryview, base: int, name: str, path: Path
) -> dict[str, torch.Tensor]:
    """The tensors of network ``name`` (checked by :func:`check_network`), finite."""
    prefix, tensors = f"{name}.", {}
    for key, entry in entries.items():
        if key.startswith(prefix):
            tensor = torch.from_numpy(entry.read(data, base))
            if not torch.isfinite(tensor).all():
                fail(path, repr(key), "holds NaN or infinite weights")
            tensors[key[len(prefix) :]] = tensor
    return tensors


class _Fields:
    """The integer fields of a config with some replaced (for messages)."""

    def __init__(self, config: Any, **changes: Any):
        self.__dict__.update(vars(config), **changes)
