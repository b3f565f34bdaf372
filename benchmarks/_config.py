"""Forecaster parameters of the benchmark scripts, old flat keys included.

``LogSparseTransformerForecaster`` keeps a set of flat parameters and groups
the rest into two dicts: ``model_kwargs`` (network options) and
``trainer_kwargs`` (training-loop options). Earlier versions took every option
flat, and the commands recorded on the benchmark pages pass such flat keys in
``--config`` (for example ``{"lr_schedule": "cosine"}``). :func:`forecaster_params`
accepts both spellings and returns the parameters of the current signature, so
that those commands still run::

    >>> forecaster_params({"max_epochs": 12, "lr_schedule": "cosine"})
    {'max_epochs': 12, 'trainer_kwargs': {'lr_schedule': 'cosine'}}
"""

from __future__ import annotations

from collections.abc import Mapping

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse._params import MODEL_KWARGS, TRAINER_KWARGS

#: the dict parameters and the keys each one takes (formerly flat parameters)
GROUPS = {
    "model_kwargs": frozenset(MODEL_KWARGS),
    "trainer_kwargs": frozenset(TRAINER_KWARGS),
}
#: parameters that stay flat arguments of the forecaster
FLAT = frozenset(LogSparseTransformerForecaster.get_param_names()) - set(GROUPS)

#: old flat key -> the dict parameter it now belongs to
GROUP_OF = {key: group for group, keys in GROUPS.items() for key in keys}


def _set(out: dict, group: str, key: str, value, origin: dict) -> None:
    """Set ``out[group][key]``; a key given twice in one config must agree."""
    where = origin.setdefault((group, key), value)
    if where is not value and where != value:
        raise ValueError(
            f"{key!r} is given both flat and in {group!r} with different values "
            f"({where!r} and {value!r})"
        )
    out.setdefault(group, {})[key] = value


def normalize(config: Mapping) -> dict:
    """One config in the current form: flat keys and the two dicts.

    Old flat keys (``lr_schedule``, ``linear_ar``, ...) move into
    ``trainer_kwargs`` or ``model_kwargs``; keys already inside those dicts
    stay there. A key given both ways with different values, an unknown key,
    or a dict parameter that is not a mapping raises ``ValueError``.
    """
    out: dict = {}
    origin: dict = {}
    for key, value in config.items():
        if key in FLAT:
            out[key] = value
        elif key in GROUP_OF:
            _set(out, GROUP_OF[key], key, value, origin)
        elif key in GROUPS:
            if value is None:
                continue
            if not isinstance(value, Mapping):
                raise ValueError(f"{key} must be a dict, got {value!r}")
            for inner, inner_value in value.items():
                if inner not in GROUPS[key]:
                    raise ValueError(
                        f"unknown key {inner!r} in {key}; known: "
                        + ", ".join(sorted(GROUPS[key]))
                    )
                _set(out, key, inner, inner_value, origin)
        else:
            known = sorted(FLAT | set(GROUP_OF) | set(GROUPS))
            raise ValueError(
                f"unknown forecaster parameter {key!r}; known: " + ", ".join(known)
            )
    return out


def forecaster_params(*configs: Mapping) -> dict:
    """Merge configs left to right into ``LogSparseTransformerForecaster`` kwargs.

    Each config may use the old flat keys or the current dicts (see
    :func:`normalize`). Later configs override earlier ones key by key, inside
    ``model_kwargs`` and ``trainer_kwargs`` too, so an override
    ``{"trainer_kwargs": {"weight_decay": 0.1}}`` keeps the base config's
    ``lr_schedule``. The dicts are left out when empty.
    """
    merged: dict = {}
    for config in configs:
        for key, value in normalize(config).items():
            if key in GROUPS:
                merged[key] = {**merged.get(key, {}), **value}
            else:
                merged[key] = value
    return merged


def add_forecaster_args(parser, budget: float | None) -> None:
    """The forecaster options of ``etth1.py`` and ``m4_hourly.py``.

    ``--config`` (JSON parameters, either spelling, see :func:`normalize`),
    ``--budget`` (fit seconds, ``budget`` by default) and ``--verbose``.
    """
    parser.add_argument("--config", default="{}", help="JSON forecaster overrides")
    parser.add_argument("--budget", type=float, default=budget, help="fit seconds")
    parser.add_argument("--verbose", action="store_true")
