"""How-to: a grid search on loky workers and a backtest on a dask cluster.

Both spread independent fits over worker processes that share the machine's
cores; the forecaster's default thread count follows what each backend sets
in its workers. A short budget per fit, so that it runs in a minute or two on
a laptop: 20 M4 Hourly series, 2 candidates x 2 folds.

    python docs/examples/parallel_tuning.py
"""

# --8<-- [start:example]
import dask
import numpy as np
from dask.distributed import Client, LocalCluster
from sktime.forecasting.model_evaluation import evaluate
from sktime.forecasting.model_selection import ForecastingGridSearchCV
from sktime.performance_metrics.forecasting import MeanAbsoluteScaledError
from sktime.split import ExpandingWindowSplitter

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse.datasets import HORIZON, SEASONALITY, load_m4_hourly

# worker processes start by importing this script: the guard keeps them from
# running it again
if __name__ == "__main__":
    y = load_m4_hourly(series=20).sort_index()
    fh = np.arange(1, HORIZON + 1)
    length = y.groupby(level=0).size().min()  # of the shortest series
    # 2 folds: the last two 48-hour windows of every series
    cv = ExpandingWindowSplitter(
        fh=fh, initial_window=length - 2 * HORIZON, step_length=HORIZON
    )
    scoring = MeanAbsoluteScaledError(sp=SEASONALITY)
    forecaster = LogSparseTransformerForecaster(
        context_length=168, max_epochs=2, windows_per_epoch=512, random_state=0
    )

    # loky: worker processes on this machine (sktime's default for grid searches);
    # each gets cores / workers threads
    grid = ForecastingGridSearchCV(
        forecaster,
        cv=cv,
        param_grid={"kernel_size": [3, 6]},
        scoring=scoring,
        backend="loky",
        backend_params={"n_jobs": 2},  # workers (default: one per core)
    )
    grid.fit(y, fh=fh)
    print("best:", grid.best_params_)

    # dask: the workers of a dask cluster, here 2 local processes of 1 thread.
    # Before the cluster starts, leave glibc's allocator at its defaults in the
    # workers: dask sets MALLOC_TRIM_THRESHOLD_ there, which halves training speed
    dask.config.set(
        {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
    )
    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster):
        results = evaluate(forecaster, cv, y, scoring=scoring, backend="dask")
    print("backtest MASE per fold:", results.iloc[:, 0].round(3).tolist())
# --8<-- [end:example]
