"""Saving and loading: sktime save/load, pickle, and the safe save_model format."""

import dataclasses
import json
import math
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY
from sktime.base import load
from sktime.forecasting.base import ForecastingHorizon
from sktime.utils._testing.hierarchical import _make_hierarchical

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse._model import GlobalModel
from sktime_logsparse._persistence import ARRAYS_FILE, CONFIG_FILE, WEIGHTS_FILE

pytestmark = pytest.mark.usefixtures("one_thread")


def _series(n, freq="h", start="2021-03-20", tz=None, seed=0):
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=n, freq=freq, tz=tz)
    values = 10 + np.sin(np.arange(n) / 4) + rng.normal(0, 0.1, n)
    return pd.DataFrame({"y": values}, index=index)


def _x_for(index):
    hours = [float(getattr(t, "hour", 0)) for t in index.get_level_values(-1)]
    x = np.cos(np.arange(len(index)) / 5.0)
    return pd.DataFrame({"x": x, "hour": hours}, index=index)


def _future_x(f, steps):
    """X over the next ``steps`` points of every instance of a fitted forecaster."""
    frames = {}
    for inst in f._panel.instances:
        future = f.time_axis_.future(inst.index[-1], steps)
        frames[inst.key] = _x_for(future)
    if not f._panel.level_names:
        return frames[()]
    keys = [k[0] if len(k) == 1 else k for k in frames]
    names = [*f._panel.level_names, f._panel.time_name]
    return pd.concat(list(frames.values()), keys=keys, names=names)


def _case_series_with_x():
    y = _series(50, start="2021-03-27", tz="Europe/Berlin")  # crosses a DST change
    f = LogSparseTransformerForecaster(**TINY)
    return f.fit(y, X=_x_for(y.index), fh=[1, 2, 3])


def _panel_y():
    y = pd.concat(
        {"a": _series(40), "b": _series(25, seed=1), "c": _series(12, seed=2)},
        names=["instance", "time"],
    )
    y.iloc[[3, 30]] = np.nan
    return y


def _case_panel_with_x():
    y = _panel_y()
    f = LogSparseTransformerForecaster(**TINY)
    return f.fit(y, X=_x_for(y.index), fh=[1, 2])


def _case_hierarchical():
    y = _make_hierarchical(
        hierarchy_levels=(2, 2), min_timepoints=10, max_timepoints=20, random_state=0
    )
    return LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2])


def _case_range_index_multivariate():
    y = pd.DataFrame({"a": np.arange(30.0) % 7, "b": np.arange(30.0) % 5 + 1})
    return LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2])


def _case_period_index_student_t():
    y = _series(36, freq="MS").to_period("M")
    params = {
        **TINY,
        "likelihood": "student_t",
        "lags": [12],
        "model_kwargs": {"time_features": "auto"},
    }
    return LogSparseTransformerForecaster(**params).fit(y, fh=[1, 2, 3])


def _case_pretrained_then_fit():
    panel = pd.concat({"a": _series(40), "b": _series(30, seed=1)}, names=["i", "t"])
    f = LogSparseTransformerForecaster(**{**TINY, "fine_tune_epochs": 1})
    f.pretrain(panel)
    return f.fit(_series(20, seed=5), fh=[1, 2])


CASES = {
    "series_with_x_tz": _case_series_with_x,
    "panel_with_x": _case_panel_with_x,
    "hierarchical": _case_hierarchical,
    "range_index_multivariate": _case_range_index_multivariate,
    "period_index_student_t": _case_period_index_student_t,
    "pretrained_then_fit": _case_pretrained_then_fit,
}


@pytest.fixture(scope="module", params=list(CASES), ids=list(CASES))
def fitted(request):
    return CASES[request.param]()


def _predictions(f):
    X = _future_x(f, 3) if f.exog_scaler_ is not None else None
    return {
        "predict": f.predict(X=X),
        "quantiles": f.predict_quantiles(X=X, alpha=[0.1, 0.5, 0.9]),
        "interval": f.predict_interval(X=X, coverage=0.8),
    }


def _assert_same_predictions(a, b):
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)


def _round_trips(f, tmp_path):
    yield "sktime_save_in_memory", load(f.save())
    f.save(tmp_path / "sktime")
    yield "sktime_save_to_path", load(str(tmp_path / "sktime"))
    yield "pickle", pickle.loads(pickle.dumps(f))
    f.save_model(tmp_path / "safe")
    yield "save_model", LogSparseTransformerForecaster.load_model(tmp_path / "safe")


def test_every_round_trip_gives_identical_predictions(fitted, tmp_path):
    expected = _predictions(fitted)
    for how, loaded in _round_trips(fitted, tmp_path):
        assert loaded is not fitted, how
        assert loaded.is_fitted and loaded.cutoff.equals(fitted.cutoff), how
        _assert_same_predictions(expected, _predictions(loaded))


def test_save_model_restores_the_whole_state(fitted, tmp_path):
    fitted.save_model(tmp_path)
    loaded = LogSparseTransformerForecaster.load_model(str(tmp_path))
    assert loaded.get_params() == fitted.get_params()
    transient = {"_path_cache", "_call_lock"}  # a cache and a lock, made on demand
    assert set(vars(loaded)) == set(vars(fitted)) - transient
    for name, value in vars(fitted).items():
        if name not in transient:
            _assert_same(value, getattr(loaded, name), name)


def test_update_and_refit_after_load_match_the_original(tmp_path):
    f = _case_panel_with_x()
    f.save_model(tmp_path)
    loaded = LogSparseTransformerForecaster.load_model(tmp_path)
    new_y = {}
    for inst in f._panel.instances:
        future = f.time_axis_.future(inst.index[-1], 2)
        new_y[inst.key[0]] = pd.DataFrame({"y": [10.0, 10.5]}, index=future)
    new_y = pd.concat(new_y, names=["instance", "time"])
    new_X = _x_for(new_y.index)
    for g in (f, loaded):
        g.update(new_y, X=new_X, update_params=True)
    _assert_same_predictions(_predictions(f), _predictions(loaded))
    # the data seen so far, pooled as sktime's update_data pools it; built
    # here, since the forecaster keeps sktime's copy (_y, _X) only while its
    # remember_data config is on
    y0 = _panel_y()
    y, X = new_y.combine_first(y0), new_X.combine_first(_x_for(y0.index))
    if f.get_config()["remember_data"]:
        _assert_same(f._y, y, "_y after update")
        _assert_same(f._y, loaded._y, "_y after update, loaded")
        _assert_same(f._X, X, "_X after update")
    refit = loaded.fit(y, X=X, fh=[1, 2])
    again = LogSparseTransformerForecaster(**TINY).fit(y, X=X, fh=[1, 2])
    _assert_same_predictions(_predictions(again), _predictions(refit))


def test_unfitted_forecaster_round_trip(tmp_path):
    f = LogSparseTransformerForecaster(**{**TINY, "lags": [1, 3], "d_model": 16})
    f.save_model(tmp_path)
    loaded = LogSparseTransformerForecaster.load_model(tmp_path)
    assert not loaded.is_fitted
    assert loaded.get_params() == f.get_params()


def test_files_are_plain_json_and_safetensors(tmp_path):
    f = _case_panel_with_x()
    f.save_model(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [CONFIG_FILE, WEIGHTS_FILE, ARRAYS_FILE]
    )

    def reject(constant):
        raise AssertionError(f"not plain JSON: {constant}")

    text = (tmp_path / CONFIG_FILE).read_text()
    config = json.loads(text, parse_constant=reject)
    assert config["format"] == "sktime-logsparse"
    assert config["class"] == "LogSparseTransformerForecaster"
    assert config["params"]["d_model"] == 8
    assert config["params"]["device"] == "cpu"
    with open(tmp_path / WEIGHTS_FILE, "rb") as file:
        header_size = int.from_bytes(file.read(8), "little")
        header = json.loads(file.read(header_size))
    assert any(key.startswith("model_.") for key in header)


def test_loading_never_unpickles(tmp_path, monkeypatch):
    f = _case_pretrained_then_fit()
    expected = _predictions(f)
    f.save_model(tmp_path)

    def forbidden(*args, **kwargs):
        raise AssertionError("load_model must not unpickle")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    loaded = LogSparseTransformerForecaster.load_model(tmp_path)
    _assert_same_predictions(expected, _predictions(loaded))


def test_unknown_types_in_the_file_are_rejected(tmp_path):
    _case_range_index_multivariate().save_model(tmp_path)
    config = json.loads((tmp_path / CONFIG_FILE).read_text())
    config["state"]["_predict_seed"] = {"__type__": "os.system", "command": "echo hi"}
    (tmp_path / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ValueError, match="unknown saved value"):
        LogSparseTransformerForecaster.load_model(tmp_path)


def test_not_a_saved_forecaster(tmp_path):
    (tmp_path / CONFIG_FILE).write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="is not a saved sktime-logsparse"):
        LogSparseTransformerForecaster.load_model(tmp_path)
    with pytest.raises(FileNotFoundError):
        LogSparseTransformerForecaster.load_model(tmp_path / "missing")


def test_saved_device_unavailable_then_load_on_cpu(tmp_path):
    f = _case_series_with_x()
    f.save_model(tmp_path)
    config = json.loads((tmp_path / CONFIG_FILE).read_text())
    config["params"]["device"] = "cuda"  # as if trained on a GPU machine
    (tmp_path / CONFIG_FILE).write_text(json.dumps(config))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="pass device='cpu'"):
            LogSparseTransformerForecaster.load_model(tmp_path)
    loaded = LogSparseTransformerForecaster.load_model(tmp_path, device="cpu")
    assert loaded.device == "cpu" and loaded.model_.device == torch.device("cpu")
    _assert_same_predictions(_predictions(f), _predictions(loaded))


def test_pickle_moves_the_network_to_cpu(monkeypatch):
    f = _case_range_index_multivariate()
    moved = []
    cpu = torch.nn.Module.cpu

    def spy(module):
        moved.append(module)
        return cpu(module)

    monkeypatch.setattr(torch.nn.Module, "cpu", spy)
    f.model_.device = torch.device("cuda", 0)  # as if it were trained on a GPU
    payload = pickle.dumps(f)
    assert moved and moved[0] is not f.model_.network  # a copy is moved
    assert f.model_.device == torch.device("cuda", 0)  # the original is unchanged
    assert b"cuda" not in payload
    loaded = pickle.loads(payload)
    assert loaded.model_.device == torch.device("cpu")
    for tensor in loaded.model_.network.state_dict().values():
        assert tensor.device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_model_pickles_and_saves_to_cpu(tmp_path):
    y = _series(40)
    f = LogSparseTransformerForecaster(**{**TINY, "device": "cuda"}).fit(y, fh=[1, 2])
    assert f.model_.network.parameters().__next__().is_cuda
    loaded = pickle.loads(pickle.dumps(f))
    for tensor in loaded.model_.network.state_dict().values():
        assert tensor.device.type == "cpu"
    f.save_model(tmp_path)
    on_cpu = LogSparseTransformerForecaster.load_model(tmp_path, device="cpu")
    assert np.isfinite(on_cpu.predict().to_numpy()).all()


# ---------------------------------------------------------------- helpers


def _assert_same(a, b, where):
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=where)
        _assert_same(a.index, b.index, f"{where}.index")
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, check_exact=True, obj=where)
    elif isinstance(a, pd.Index):
        pd.testing.assert_index_equal(a, b, exact=True, obj=where)
        assert getattr(a, "freq", None) == getattr(b, "freq", None), where
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), where
    elif isinstance(a, dict):
        assert type(a) is type(b) and list(a) == list(b), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, list | tuple):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            _assert_same(u, v, f"{where}[{i}]")
    elif isinstance(a, GlobalModel):
        assert set(vars(a)) == set(vars(b)), where
        for name in vars(a):
            if name != "network":
                _assert_same(getattr(a, name), getattr(b, name), f"{where}.{name}")
        sa, sb = a.network.state_dict(), b.network.state_dict()
        assert list(sa) == list(sb), where
        for key in sa:
            assert torch.equal(sa[key].cpu(), sb[key].cpu()), f"{where}.{key}"
    elif isinstance(a, ForecastingHorizon):
        _assert_same(a.to_pandas(), b.to_pandas(), where)
        assert a.is_relative == b.is_relative and a.freq == b.freq, where
    elif dataclasses.is_dataclass(a):
        assert type(a) is type(b), where
        for field in dataclasses.fields(a):
            name = field.name
            _assert_same(getattr(a, name), getattr(b, name), f"{where}.{name}")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), where
    else:
        assert type(a) is type(b) or (isinstance(a, int) and isinstance(b, int)), (
            where,
            type(a),
            type(b),
        )
        assert a == b, (where, a, b)


def test_a_file_saved_by_version_0_1_0_loads_and_predicts_the_same():
    """Format 1 (0.1.0): flat experiment knobs, the fitted panel's fields apart."""
    folder = Path(__file__).parent / "data" / "model_format1"
    loaded = LogSparseTransformerForecaster.load_model(folder)
    assert loaded.get_params()["trainer_kwargs"] == {"lr_schedule": "cosine"}
    assert loaded.get_params()["model_kwargs"] == {"linear_ar": False}
    expected = json.loads((folder / "expected_predict.json").read_text())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        np.testing.assert_allclose(
            loaded.predict().to_numpy().ravel(), expected, rtol=1e-6
        )
    finally:
        torch.set_num_threads(threads)


def test_unknown_state_is_refused(tmp_path):
    _case_range_index_multivariate().save_model(tmp_path)
    config = json.loads((tmp_path / CONFIG_FILE).read_text())
    config["state"]["predict"] = 1
    (tmp_path / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"does not know: \['predict'\]"):
        LogSparseTransformerForecaster.load_model(tmp_path)
