"""Parallel tuning and backtests: loky, dask and ray give the results of one process.

Each backend runs a small grid search or backtest of the tiny forecaster on a
panel of three series and must find what ``backend=None`` finds: the same
best parameters and the same scores (float tolerance). Each backend's workers
must also resolve the forecaster's default thread counts to no more threads
in all than the machine has cores (``_threads``). dask (with distributed)
and ray are optional (the ``parallel`` extra; CI's ``dev`` extra installs
dask only): their tests skip where they are not installed. One ray session,
started once for the module, serves every ray test.
"""

import os

import numpy as np
import pandas as pd
import pytest
from conftest import TINY, series
from sktime.forecasting.model_evaluation import evaluate
from sktime.forecasting.model_selection import ForecastingGridSearchCV
from sktime.performance_metrics.forecasting import MeanAbsoluteError
from sktime.split import ExpandingWindowSplitter
from sktime.utils.parallel import parallelize

from sktime_logsparse import LogSparseTransformerForecaster

FH = [1, 2]
GRID = {"kernel_size": [1, 3], "d_model": [4, 8]}


def _panel() -> pd.DataFrame:
    parts = {f"s{i}": series(48, seed=i, level=10.0 + 5 * i) for i in range(3)}
    return pd.concat(parts, names=["id", "time"])


def _cv():
    return ExpandingWindowSplitter(fh=FH, initial_window=40, step_length=3)


def _search(backend=None, backend_params=None) -> ForecastingGridSearchCV:
    grid = ForecastingGridSearchCV(
        LogSparseTransformerForecaster(**TINY),
        cv=_cv(),
        param_grid=GRID,
        scoring=MeanAbsoluteError(),
        backend=backend,
        backend_params=backend_params,
        refit=False,
    )
    return grid.fit(_panel(), fh=FH)


def _backtest(backend=None, backend_params=None) -> pd.DataFrame:
    return evaluate(
        LogSparseTransformerForecaster(**TINY),
        _cv(),
        _panel(),
        scoring=MeanAbsoluteError(),
        backend=backend,
        backend_params=backend_params,
    )


@pytest.fixture(scope="module")
def sequential_search():
    return _search()


@pytest.fixture(scope="module")
def sequential_backtest():
    return _backtest()


def _same_search(got, expected):
    assert got.best_params_ == expected.best_params_
    score = "mean_test_MeanAbsoluteError"
    pd.testing.assert_series_equal(
        got.cv_results_[score], expected.cv_results_[score], rtol=1e-6
    )
    assert list(got.cv_results_["params"]) == list(expected.cv_results_["params"])


def _same_backtest(got, expected):
    score = "test_MeanAbsoluteError"
    assert len(got) == len(expected) == _cv().get_n_splits(_panel())
    np.testing.assert_allclose(got[score], expected[score], rtol=1e-6)


def _threads_probe():
    """A function that reports the thread counts of ``n_threads=None`` where run.

    Made inside a function, so that it is pickled by value: ray's workers
    cannot import this test module.
    """

    def threads_in_worker(_, meta=None) -> dict:
        from sktime_logsparse import _threads

        return {
            "pid": os.getpid(),
            "cores": _threads._cores(),
            "fit": _threads.resolve_threads(None, "fit"),
            "predict": _threads.resolve_threads(None, "predict"),
        }

    return threads_in_worker


def _no_oversubscription(found: list[dict], workers: int) -> None:
    """Each worker's threads times the workers: at most the cores (or workers)."""
    for counts in found:
        limit = max(counts["cores"], workers)
        assert workers * counts["fit"] <= limit, counts
        assert workers * counts["predict"] <= limit, counts


# ------------------------------------------------------------------ loky


def test_loky_grid_search_finds_what_one_process_finds(sequential_search):
    got = _search("loky", {"n_jobs": 2})
    _same_search(got, sequential_search)


def test_loky_workers_share_the_cores():
    found = parallelize(
        _threads_probe(), range(4), backend="loky", backend_params={"n_jobs": 2}
    )
    _no_oversubscription(found, workers=2)


# ------------------------------------------------------------------ dask


@pytest.fixture(scope="module")
def dask_client():
    dask = pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    # as docs/how-to/scale-out.md advises: dask's MALLOC_TRIM_THRESHOLD_ in
    # the workers' environment makes training about twice as slow
    trim = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
    with dask.config.set({trim: None}):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,  # errors only
        )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_backtest_matches_one_process(dask_client, sequential_backtest):
    got = _backtest("dask")
    _same_backtest(got, sequential_backtest)


def test_dask_grid_search_finds_what_one_process_finds(dask_client, sequential_search):
    got = _search("dask")
    _same_search(got, sequential_search)


def test_dask_workers_share_the_cores(dask_client):
    # the nanny sets OMP_NUM_THREADS=1 in every worker process
    found = parallelize(_threads_probe(), range(4), backend="dask")
    _no_oversubscription(found, workers=2)


# ------------------------------------------------------------------- ray


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="error",
    )
    yield {"shutdown_ray": False, "mute_warnings": True}
    ray.shutdown()


def test_ray_grid_search_finds_what_one_process_finds(ray_session, sequential_search):
    got = _search("ray", ray_session)
    _same_search(got, sequential_search)


def test_ray_backtest_matches_one_process(ray_session, sequential_backtest):
    got = _backtest("ray", ray_session)
    _same_backtest(got, sequential_backtest)


def test_ray_workers_share_the_cores(ray_session):
    # ray sets OMP_NUM_THREADS to a task's CPUs (1 by default) in its workers
    found = parallelize(
        _threads_probe(), range(4), backend="ray", backend_params=ray_session
    )
    _no_oversubscription(found, workers=2)
