"""Crafted and corrupted save_model files: a ValueError naming file and field, fast.

One tiny forecaster is fitted and saved once per module; each test copies its
folder, edits one file as an attacker (or a broken disk) would, and loads it.
The last test mutates the files at random (hypothesis): the load gives a
forecaster that predicts finite numbers, or a ValueError, never anything else.
"""

import copy
import json
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import safetensors.torch
import torch
from conftest import TINY
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse._files import MAX_JSON_BYTES, sha256
from sktime_logsparse._persistence import ARRAYS_FILE, CONFIG_FILE, WEIGHTS_FILE
from sktime_logsparse._weights import network_shapes, network_size
from sktime_logsparse.nn import LogSparseConfig, LogSparseTransformer

pytestmark = pytest.mark.usefixtures("one_thread")

load = LogSparseTransformerForecaster.load_model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Folder of a saved tiny fitted forecaster, and its forecast size."""
    index = pd.date_range("2021-01-01", periods=40, freq="h")
    y = pd.DataFrame({"y": 10 + np.sin(np.arange(40) / 4)}, index=index)
    f = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2])
    folder = f.save_model(tmp_path_factory.mktemp("saved") / "model")
    return folder, f.predict().size


@pytest.fixture
def folder(saved, tmp_path):
    """A fresh copy of the saved folder."""
    return Path(shutil.copytree(saved[0], tmp_path / "model"))


def edit_json(folder, edit):
    """Apply ``edit(config)`` (in place) to forecaster.json."""
    config = json.loads((folder / CONFIG_FILE).read_text())
    edit(config)
    (folder / CONFIG_FILE).write_text(json.dumps(config))


def edit_tensors(folder, edit):
    """Apply ``edit(tensors)`` to the weights, as a crafter: digest updated."""
    tensors = safetensors.torch.load_file(str(folder / WEIGHTS_FILE))
    edit(tensors)
    data = safetensors.torch.save(tensors)
    (folder / WEIGHTS_FILE).write_bytes(data)
    edit_json(folder, lambda c: c["checksums"].update({WEIGHTS_FILE: sha256(data)}))


def edit_header(folder, name, edit):
    """Apply ``edit(header)`` to the safetensors header of ``name``; digest updated."""
    data = (folder / name).read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    edit(header)
    raw = json.dumps(header).encode()
    data = len(raw).to_bytes(8, "little") + raw + data[8 + size :]
    (folder / name).write_bytes(data)
    edit_json(folder, lambda c: c["checksums"].update({name: sha256(data)}))


def refused(folder, pattern):
    """Load ``folder``: a ValueError matching ``pattern``, within 10 s."""
    start = time.perf_counter()
    with pytest.raises(ValueError, match=pattern) as info:
        load(folder)
    assert time.perf_counter() - start < 10
    return info.value


CONFIG = rf"{CONFIG_FILE}: "
WEIGHTS = rf"{WEIGHTS_FILE}: "
ARRAYS = rf"{ARRAYS_FILE}: "


# ------------------------------------------------------- forecaster.json


def test_huge_n_layers_is_refused(folder):
    edit_json(folder, lambda c: c["params"].update(n_layers=100_000))
    refused(folder, CONFIG + r"params\['n_layers'\]: 100000 does not match")


def test_huge_n_layers_in_params_and_config_needs_the_weights(folder):
    def edit(config):
        config["params"]["n_layers"] = 100_000
        config["state"]["model_"]["attrs"]["config"]["fields"]["n_layers"] = 100_000

    edit_json(folder, edit)
    refused(folder, WEIGHTS + r"'model_\.': holds 24 tensors of \d+ weights")


def test_huge_d_model_is_refused(folder):
    edit_json(folder, lambda c: c["params"].update(d_model=10**6))
    refused(folder, CONFIG + r"params\['d_model'\]: 1000000 does not match")


def test_negative_num_samples_is_refused(folder):
    edit_json(folder, lambda c: c["params"].update(num_samples=-5))
    refused(folder, CONFIG + r"params\['num_samples'\]: num_samples must be an int")


def test_a_state_key_shadowing_a_method_is_refused(folder):
    edit_json(folder, lambda c: c["state"].update(predict=1))
    refused(folder, CONFIG + r"state: .*does not know: \['predict'\]")


def test_deeply_nested_json_is_refused_before_parsing(folder):
    (folder / CONFIG_FILE).write_text("[" * 100_000 + "]" * 100_000)
    refused(folder, CONFIG + r"JSON nested 100000 deep, deeper than 64")


def test_deep_nesting_inside_a_valid_file_is_refused(folder):
    deep = 0
    for _ in range(100):
        deep = [deep]
    edit_json(folder, lambda c: c["state"].update(training_history_=deep))
    refused(folder, CONFIG + r"JSON nested \d+ deep")


def test_a_dateutil_path_as_time_zone_is_refused(folder):
    def edit(config):
        tz = {"__type__": "tz", "name": "dateutil//etc/passwd"}
        config["state"]["_cutoff"]["tz"] = tz

    edit_json(folder, edit)
    refused(folder, CONFIG + r"state\['_cutoff'\]\.tz\.name: .*tz database")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_a_fifo_in_place_of_the_json_does_not_block(folder):
    (folder / CONFIG_FILE).unlink()
    os.mkfifo(folder / CONFIG_FILE)
    outcome = []

    def target():
        try:
            load(folder)
        except Exception as err:  # reported below, whatever it is
            outcome.append(err)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout=10)
    if thread.is_alive():  # unblock the reader before failing
        os.close(os.open(folder / CONFIG_FILE, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("load_model blocked on a FIFO")
    (err,) = outcome
    assert isinstance(err, ValueError), err
    assert f"{CONFIG_FILE}: not a regular file" in str(err)


def test_an_oversized_json_is_refused_without_reading_it(folder):
    with open(folder / CONFIG_FILE, "r+b") as file:
        file.truncate(MAX_JSON_BYTES + 1)  # sparse: nothing is written
    refused(folder, CONFIG + rf"{MAX_JSON_BYTES + 1} bytes, larger than the limit")


def test_an_unknown_top_level_key_is_refused(folder):
    edit_json(folder, lambda c: c.update(extra=1))
    refused(folder, CONFIG + r"top level: unknown keys \['extra'\]")


def test_a_missing_file_is_a_clear_error(folder):
    (folder / ARRAYS_FILE).unlink()
    err = refused(folder, ARRAYS + r"no such file")
    assert isinstance(err, FileNotFoundError)


def test_an_array_of_the_wrong_dtype_is_refused(folder):
    def edit(header):
        header["_panel.ids"]["dtype"] = "F64"  # same size, other meaning

    edit_header(folder, ARRAYS_FILE, edit)
    refused(folder, CONFIG + r"state\['_panel'\]\.ids: an int64 id")


def test_an_array_of_three_dimensions_is_refused_where_two_are_the_most(folder):
    # only the grouped calibration factors may have three (_structure._FIELD_NDIM)
    def edit(header):
        header["_panel.instances[0].values"]["shape"] = [40, 1, 1]  # same bytes

    edit_header(folder, ARRAYS_FILE, edit)
    refused(folder, ARRAYS + r".*needs a number type with at most 2 dimensions")


def test_an_array_swapped_for_another_is_refused(folder):
    def edit(config):
        config["state"]["_fh"]["values"]["values"]["key"] = "_cutoff"

    edit_json(folder, edit)
    refused(folder, CONFIG + r"state\['_fh'\]\.values\.values: array '_cutoff' is also")


# ------------------------------------------------------ weights.safetensors


def test_a_tensor_of_the_wrong_shape_is_refused(folder):
    def edit(header):
        header["model_.head.weight"]["shape"] = [8, 2]  # same bytes

    edit_header(folder, WEIGHTS_FILE, edit)
    refused(folder, WEIGHTS + r"'model_\.head\.weight': shape \[8, 2\] of F32")


def test_a_missing_tensor_is_refused(folder):
    edit_tensors(folder, lambda t: t.pop("model_.ln_f.bias"))
    refused(folder, WEIGHTS + r"'model_\.ln_f\.bias': missing")


def test_an_extra_tensor_is_refused(folder):
    edit_tensors(folder, lambda t: t.update({"model_.extra": torch.zeros(3)}))
    refused(folder, WEIGHTS + r"'model_\.extra': not a tensor of the network")


def test_a_tensor_of_no_network_is_refused(folder):
    edit_tensors(folder, lambda t: t.update({"other.weight": torch.zeros(3)}))
    refused(folder, WEIGHTS + r"'other\.weight': not a tensor of a saved network")


def test_a_tensor_of_the_wrong_dtype_is_refused(folder):
    def edit(tensors):
        tensors["model_.head.weight"] = tensors["model_.head.weight"].double()

    edit_tensors(folder, edit)
    refused(folder, WEIGHTS + r"'model_\.head\.weight': shape \[2, 8\] of F64; .*F32")


def test_nan_weights_are_refused(folder):
    edit_tensors(folder, lambda t: t["model_.head.bias"].fill_(float("nan")))
    refused(folder, WEIGHTS + r"'model_\.head\.bias': holds NaN")


def test_a_flipped_byte_fails_the_digest(folder):
    data = bytearray((folder / WEIGHTS_FILE).read_bytes())
    data[-3] ^= 0x40
    (folder / WEIGHTS_FILE).write_bytes(bytes(data))
    refused(folder, WEIGHTS + r"its SHA-256 is not the sha256:")


def test_a_truncated_file_without_digests_is_refused(folder):
    edit_json(folder, lambda c: c.pop("checksums"))
    data = (folder / WEIGHTS_FILE).read_bytes()
    (folder / WEIGHTS_FILE).write_bytes(data[:-10])
    refused(folder, WEIGHTS + r"data: .*\(truncated or padded\)")


def test_a_file_without_digests_loads_and_predicts_the_same(saved, folder):
    edit_json(folder, lambda c: c.pop("checksums"))  # as the first format-2 files
    expected = load(saved[0]).predict()
    pd.testing.assert_frame_equal(load(folder).predict(), expected)


def test_an_unfitted_forecaster_loads_what_the_constructor_accepts(tmp_path):
    LogSparseTransformerForecaster(**TINY).save_model(tmp_path)
    edit_json(tmp_path, lambda c: c["params"].update(n_layers=100_000))
    start = time.perf_counter()
    loaded = load(tmp_path)  # nothing is built before fit, as after __init__
    assert time.perf_counter() - start < 10
    assert loaded.n_layers == 100_000 and not loaded.is_fitted


@pytest.mark.parametrize(
    "config",
    [
        dict(n_inputs=9, max_length=8, n_series=1, ar_skip=True),
        dict(n_inputs=3, d_model=16, n_layers=3, kernel_size=1, n_series=0),
        dict(n_inputs=5, likelihood="student_t", attention="local", n_series=7),
        dict(n_inputs=4, likelihood="negative_binomial", kernel_size=4),
    ],
)
def test_the_derived_sizes_and_shapes_are_the_network_s(config):
    config = LogSparseConfig(**config)
    state = LogSparseTransformer(config).state_dict()
    assert network_size(config) == (sum(t.numel() for t in state.values()), len(state))
    assert network_shapes(config) == {k: tuple(t.shape) for k, t in state.items()}
    assert {t.dtype for t in state.values()} == {torch.float32}


# ----------------------------------------------------------- random damage

_LEAF = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
_JSON = st.recursive(
    _LEAF | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
_REPLACEMENT = (
    _JSON
    | st.integers(2**31, 2**80)
    | st.integers(-(2**40), -1)
    | st.sampled_from(["", "int64", "nan", "UTC", "dateutil//etc/passwd", "Hour"])
)


def _nodes(value, path=()):
    """Paths of every value in a JSON document."""
    yield path
    if isinstance(value, dict | list):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            yield from _nodes(item, (*path, key))


def _mutate_json(config, data):
    """1 to 3 random edits of the JSON document ``config`` (in place)."""
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _nodes(config) if p]
        path = data.draw(st.sampled_from(paths))
        parent = config
        for key in path[:-1]:
            parent = parent[key]
        key, op = path[-1], data.draw(st.sampled_from(["set", "del", "add", "wrap"]))
        if op == "set":
            parent[key] = data.draw(_REPLACEMENT)
        elif op == "del":
            del parent[key]
        elif op == "wrap":
            parent[key] = [parent[key]]
        elif isinstance(parent[key], dict):
            parent[key][data.draw(st.text(max_size=8))] = data.draw(_REPLACEMENT)


def _mutate_binary(folder, config, data):
    """Damage a safetensors file: truncate, flip bytes, or edit a header entry."""
    name = data.draw(st.sampled_from([WEIGHTS_FILE, ARRAYS_FILE]))
    raw = bytearray((folder / name).read_bytes())
    op = data.draw(st.sampled_from(["truncate", "flip", "dtype", "shape"]))
    if op == "truncate":  # with or without the digest that tells
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
        if data.draw(st.booleans()):
            config.pop("checksums")
    elif op == "flip":  # a broken disk: the digest tells
        for _ in range(data.draw(st.integers(1, 4))):
            at = data.draw(st.integers(0, len(raw) - 1))
            raw[at] ^= data.draw(st.integers(1, 255))
    else:  # a crafter: a valid header with another dtype or shape, digest updated
        size = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8 : 8 + size])
        entry = header[data.draw(st.sampled_from(sorted(header)))]
        if op == "dtype":
            entry["dtype"] = data.draw(st.sampled_from(["F64", "I64", "F16", "U8"]))
        else:
            entry["shape"] = data.draw(st.lists(st.integers(0, 64), max_size=3))
        text = json.dumps(header).encode()
        raw = bytearray(len(text).to_bytes(8, "little") + text + raw[8 + size :])
        config["checksums"][name] = sha256(bytes(raw))
    (folder / name).write_bytes(bytes(raw))


@settings(
    max_examples=100,
    deadline=5000,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_damaged_files_load_and_predict_or_raise_value_error(saved, tmp_path, data):
    source, size = saved
    folder = tmp_path / f"m{time.perf_counter_ns()}"
    shutil.copytree(source, folder)
    config = json.loads((source / CONFIG_FILE).read_text())
    mutated = copy.deepcopy(config)
    if data.draw(st.booleans()):
        _mutate_json(mutated, data)
    else:
        _mutate_binary(folder, mutated, data)
    (folder / CONFIG_FILE).write_text(json.dumps(mutated))
    try:
        loaded = load(folder)
    except ValueError as err:
        event(f"refused: {str(err).split(': ')[0].rsplit('/', 1)[-1]}")
        return
    finally:
        shutil.rmtree(folder)
    event("loaded")
    assert loaded.is_fitted
    forecast = np.asarray(loaded.predict(), dtype=float)
    assert forecast.size == size and np.isfinite(forecast).all()
