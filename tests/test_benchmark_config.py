"""The benchmark scripts' mapping of old flat forecaster keys to the new dicts."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _config as C  # noqa: E402


def test_flat_keys_pass_through():
    config = {"context_length": 168, "max_epochs": 12, "scaling": "mean"}
    assert C.forecaster_params(config) == config


def test_old_flat_keys_move_into_their_dict():
    params = C.forecaster_params(
        {
            "max_epochs": 12,
            "lr_schedule": "cosine",
            "weight_decay": 0.01,
            "gradient_clip": 1.0,
            "early_stopping_metric": "nll",
            "window_sampling": "uniform",
            "update_epochs": 2,
            "local_window": 4,
            "sub_len": 2,
            "linear_ar": False,
            "time_features": None,
        }
    )
    assert params == {
        "max_epochs": 12,
        "trainer_kwargs": {
            "lr_schedule": "cosine",
            "weight_decay": 0.01,
            "gradient_clip": 1.0,
            "early_stopping_metric": "nll",
            "window_sampling": "uniform",
            "update_epochs": 2,
        },
        "model_kwargs": {
            "local_window": 4,
            "sub_len": 2,
            "linear_ar": False,
            "time_features": None,
        },
    }


def test_every_key_has_one_home():
    groups = C.GROUPS["model_kwargs"] | C.GROUPS["trainer_kwargs"]
    assert not C.FLAT & groups
    assert not C.GROUPS["model_kwargs"] & C.GROUPS["trainer_kwargs"]
    assert len(C.FLAT) == 24 and len(groups) == 16


def test_recorded_commands_config():
    # the --config of the ETTh1 page's command, as recorded
    recorded = json.loads(
        '{"early_stopping_patience": null, "max_epochs": 12, '
        '"windows_per_epoch": 4096, "lr_schedule": "cosine"}'
    )
    assert C.forecaster_params({"context_length": 168}, recorded) == {
        "context_length": 168,
        "early_stopping_patience": None,
        "max_epochs": 12,
        "windows_per_epoch": 4096,
        "trainer_kwargs": {"lr_schedule": "cosine"},
    }


def test_later_configs_override_inside_the_dicts():
    base = {"max_epochs": 72, "trainer_kwargs": {"lr_schedule": "cosine"}}
    params = C.forecaster_params(
        base,
        {"max_epochs": 12, "weight_decay": 0.1},
        {"trainer_kwargs": {"lr_schedule": None}},
    )
    assert params == {
        "max_epochs": 12,
        "trainer_kwargs": {"lr_schedule": None, "weight_decay": 0.1},
    }
    assert base == {"max_epochs": 72, "trainer_kwargs": {"lr_schedule": "cosine"}}


def test_new_form_is_kept():
    config = {"d_model": 64, "model_kwargs": {"linear_ar": False}}
    assert C.forecaster_params(config) == config
    assert C.forecaster_params({"model_kwargs": None}) == {}


def test_same_key_both_ways():
    same = {"lr_schedule": "cosine", "trainer_kwargs": {"lr_schedule": "cosine"}}
    assert C.forecaster_params(same) == {"trainer_kwargs": {"lr_schedule": "cosine"}}
    with pytest.raises(ValueError, match="lr_schedule"):
        C.forecaster_params(
            {"lr_schedule": "cosine", "trainer_kwargs": {"lr_schedule": None}}
        )


@pytest.mark.parametrize(
    "config, message",
    [
        ({"max_epoch": 3}, "unknown forecaster parameter 'max_epoch'"),
        ({"model_kwargs": {"lr_schedule": "cosine"}}, "unknown key 'lr_schedule'"),
        ({"trainer_kwargs": {"linear_ar": True}}, "unknown key 'linear_ar'"),
        ({"trainer_kwargs": "cosine"}, "must be a dict"),
    ],
)
def test_bad_configs(config, message):
    with pytest.raises(ValueError, match=message):
        C.forecaster_params(config)
