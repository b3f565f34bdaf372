"""Threads: concurrent ``predict`` calls, and the ``n_threads`` policy.

The policy tests read torch's and the BLAS thread counts from inside the
calls (through spies on training and sampling) and after them.
"""

import copy
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import series
from threadpoolctl import threadpool_info

import sktime_logsparse._predicting as predicting_module
import sktime_logsparse.forecaster as forecaster_module
from sktime_logsparse import LogSparseTransformerForecaster, _threads

HORIZONS = [[1], [1, 2], [1, 2, 3, 4, 5], [2, 4, 6, 8], list(range(1, 13))]


@pytest.fixture(scope="module")
def fitted():
    from conftest import TINY

    f = LogSparseTransformerForecaster(**TINY)
    return f.fit(series(80), fh=[1, 2])


def _call(f, fh, kind):
    if kind == "predict":
        return f.predict(fh=fh)
    return f.predict_quantiles(fh=fh, alpha=[0.1, 0.9])


def test_concurrent_predict_with_different_horizons(fitted):
    calls = [(fh, kind) for fh in HORIZONS for kind in ("predict", "quantiles")]
    # the answers one thread gets, one call at a time (each twice: the
    # cache of the last horizon must not leak into another horizon's call)
    expected = {}
    for fh, kind in calls + calls:
        expected[str(fh), kind] = _call(fitted, fh, kind)
    jobs = calls * 12  # 120 calls, the horizons interleaved
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda c: _call(fitted, *c), jobs))
    for (fh, kind), result in zip(jobs, results, strict=True):
        assert len(result) == len(fh)
        pd.testing.assert_frame_equal(result, expected[str(fh), kind])


def test_concurrent_horizons_do_not_mix_where_sktime_is_slow(fitted, monkeypatch):
    # sktime stores a call's horizon on the instance and reads it back a few
    # lines later; a pause there makes another thread's write land in between
    from sktime.forecasting.base import ForecastingHorizon

    slow = ForecastingHorizon.is_all_out_of_sample

    def paused(self, *args, **kwargs):
        time.sleep(0.002)
        return slow(self, *args, **kwargs)

    monkeypatch.setattr(ForecastingHorizon, "is_all_out_of_sample", paused)
    jobs = HORIZONS * 8
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda fh: _call(fitted, fh, "quantiles"), jobs))
    assert [len(r) for r in results] == [len(fh) for fh in jobs]


def test_concurrent_predict_on_a_loaded_forecaster(fitted, tmp_path):
    loaded = LogSparseTransformerForecaster.load_model(fitted.save_model(tmp_path))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda fh: loaded.predict(fh=fh), HORIZONS * 4))
    for fh, result in zip(HORIZONS * 4, results, strict=True):
        pd.testing.assert_frame_equal(result, fitted.predict(fh=fh))


# ------------------------------------------------------- the n_threads policy


def _panel(n_series: int = 4, n: int = 60) -> pd.DataFrame:
    """A panel of ``n_series`` hourly series."""
    frames = {f"s{i}": series(n, seed=i) for i in range(n_series)}
    return pd.concat(frames, names=["instance", "time"])


def _blas_threads() -> list[int]:
    return [
        lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"
    ]


@pytest.fixture
def spy(monkeypatch):
    """Torch's and the BLAS thread counts seen by training and by sampling."""
    seen = {"fit": [], "predict": [], "blas": []}

    def wrap(module, name, kind):
        original = getattr(module, name)

        def spied(*args, **kwargs):
            seen[kind].append(torch.get_num_threads())
            seen["blas"].append(_blas_threads())
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, spied)

    wrap(forecaster_module, "fit_model", "fit")
    wrap(predicting_module, "forecast_blocks", "predict")  # under predict's count
    return seen


@pytest.fixture
def untouched(monkeypatch):
    """Torch's count as at import (no user choice), no ``OMP_NUM_THREADS``.

    Restores torch's count afterwards.
    """
    threads = torch.get_num_threads()
    monkeypatch.setattr(_threads, "IMPORT_THREADS", threads)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    yield threads
    torch.set_num_threads(threads)


def _fresh_thread_count() -> int:
    """Torch's count as a new thread sees it (the process-wide setting)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(torch.get_num_threads).result()


def _tiny(**params):
    from conftest import TINY

    return LogSparseTransformerForecaster(**{**TINY, **params})


def test_default_counts_are_set_during_the_calls_and_restored(untouched, spy):
    outside, blas = untouched, _blas_threads()
    f = _tiny().fit(_panel(4), fh=[1, 2])
    assert torch.get_num_threads() == outside and _blas_threads() == blas
    f.predict()
    assert torch.get_num_threads() == outside and _blas_threads() == blas
    assert spy["fit"] == [_threads.DEFAULT_THREADS["fit"]]
    assert spy["predict"] == [_threads.DEFAULT_THREADS["predict"]]
    expected = [_threads.DEFAULT_THREADS[k] for k in ("fit", "predict")]
    assert [set(b) for b in spy["blas"]] == [{n} for n in expected]


def test_explicit_n_threads_is_set_in_fit_update_and_predict(untouched, spy):
    k = untouched + 1  # differs from the count outside the calls
    f = _tiny(n_threads=k).fit(_panel(k + 1), fh=[1, 2])
    f.predict()
    f.update(_panel(k + 1, 62).groupby(level=0).tail(2))
    assert spy["fit"] == [k, k] and spy["predict"] == [k]
    assert torch.get_num_threads() == untouched
    assert _fresh_thread_count() == untouched


def test_a_single_series_decodes_on_one_thread(untouched, spy):
    f = _tiny(n_threads=2).fit(series(60), fh=[1, 2])
    f.predict()
    assert spy["fit"] == [2] and spy["predict"] == [1]
    f = _tiny(n_threads=2).fit(_panel(3), fh=[1, 2])
    f.predict()
    assert spy["predict"] == [1, 2]


def test_the_count_is_restored_when_fit_raises(untouched, monkeypatch):
    k = untouched + 1
    seen = []

    def failing(*args, **kwargs):
        seen.append(torch.get_num_threads())
        raise RuntimeError("boom")

    monkeypatch.setattr(forecaster_module, "fit_model", failing)
    with pytest.raises(RuntimeError, match="boom"):
        _tiny(n_threads=k).fit(series(60), fh=[1])
    assert seen == [k] and torch.get_num_threads() == untouched


def test_the_count_is_restored_after_bad_input(untouched):
    bad = series(60).assign(y=np.nan)  # nothing observed
    with pytest.raises(ValueError):
        _tiny(n_threads=untouched + 1).fit(bad, fh=[1])
    assert torch.get_num_threads() == untouched
    assert _fresh_thread_count() == untouched


def test_the_users_set_num_threads_is_respected(untouched, spy):
    k = untouched + 1
    torch.set_num_threads(k)  # the user's choice, after the package's import
    _tiny().fit(_panel(k), fh=[1, 2]).predict()
    assert spy["fit"] == [k] and spy["predict"] == [k]
    assert torch.get_num_threads() == k  # and left as the user set it


def test_n_threads_wins_over_the_users_count(untouched, spy):
    torch.set_num_threads(untouched + 1)
    _tiny(n_threads=1).fit(_panel(3), fh=[1, 2]).predict()
    assert spy["fit"] == [1] and spy["predict"] == [1]
    assert torch.get_num_threads() == untouched + 1


@pytest.mark.parametrize("env, expected", [("3", 3), ("1", 1), ("3,1", 3)])
def test_omp_num_threads_is_respected(untouched, spy, monkeypatch, env, expected):
    monkeypatch.setenv("OMP_NUM_THREADS", env)
    _tiny().fit(_panel(4), fh=[1, 2]).predict()
    assert spy["fit"] == [expected] and spy["predict"] == [expected]


@pytest.mark.parametrize("env", ["", "0", "many"])
def test_an_unusable_omp_num_threads_means_the_default(
    untouched, spy, monkeypatch, env
):
    monkeypatch.setenv("OMP_NUM_THREADS", env)
    _tiny().fit(_panel(4), fh=[1, 2])
    assert spy["fit"] == [_threads.DEFAULT_THREADS["fit"]]


@pytest.mark.parametrize(
    "value, error",
    [
        (0, ValueError),
        (-2, ValueError),
        (1.5, TypeError),
        ("2", TypeError),
        (True, TypeError),
    ],
)
def test_invalid_n_threads_raises_naming_it(untouched, value, error):
    f = _tiny(n_threads=value)
    with pytest.raises(error, match="n_threads must be an int >= 1 or None"):
        f.fit(series(60), fh=[1])
    assert not f.is_fitted
    assert torch.get_num_threads() == untouched


def test_same_seed_and_n_threads_give_the_same_forecasts():
    y = _panel(3)
    for k in (1, 2):
        first = _tiny(n_threads=k, max_epochs=2).fit(y, fh=[1, 2, 3])
        second = _tiny(n_threads=k, max_epochs=2).fit(y, fh=[1, 2, 3])
        pd.testing.assert_frame_equal(first.predict(), second.predict())
        q = [f.predict_quantiles(alpha=[0.1, 0.9]) for f in (first, second)]
        pd.testing.assert_frame_equal(*q)


def test_paths_do_not_depend_on_the_decoding_threads(untouched):
    fitted = _tiny(n_threads=1).fit(_panel(4), fh=[1, 2, 3])
    paths = {}
    for k in (1, 2, 4):
        f = copy.deepcopy(fitted)  # no cached paths
        f.n_threads = k  # set_params would unfit it
        paths[k] = f.predict_quantiles(alpha=[0.1, 0.5, 0.9])
    pd.testing.assert_frame_equal(paths[1], paths[2])
    pd.testing.assert_frame_equal(paths[1], paths[4])


def test_concurrent_calls_with_different_counts_restore_the_count(untouched):
    fitted = {k: _tiny(n_threads=k).fit(_panel(3), fh=[1, 2]) for k in (1, 3)}
    jobs = [(k, fh) for k in (1, 3) for fh in HORIZONS] * 3
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda job: fitted[job[0]].predict(fh=job[1]), jobs))
    assert torch.get_num_threads() == untouched
    assert _fresh_thread_count() == untouched
    assert _threads._state.depth == 0


def test_n_threads_survives_save_and_load(tmp_path):
    f = _tiny(n_threads=1).fit(series(60), fh=[1, 2])
    loaded = LogSparseTransformerForecaster.load_model(f.save_model(tmp_path / "m"))
    assert loaded.get_params()["n_threads"] == 1
    pd.testing.assert_frame_equal(loaded.predict(), f.predict())


def test_a_file_saved_before_n_threads_existed_loads_with_the_default(tmp_path):
    import json

    from sktime_logsparse._persistence import CONFIG_FILE

    f = _tiny(n_threads=1).fit(series(60), fh=[1, 2])
    folder = f.save_model(tmp_path / "m")
    config = json.loads((folder / CONFIG_FILE).read_text())
    del config["params"]["n_threads"]
    (folder / CONFIG_FILE).write_text(json.dumps(config))
    loaded = LogSparseTransformerForecaster.load_model(folder)
    assert loaded.get_params()["n_threads"] is None
