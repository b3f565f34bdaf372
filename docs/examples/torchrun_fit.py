"""Data-parallel training: one model trained by several processes with torchrun.

A plain script, without any distributed code: run alone it trains in one
process; under torchrun every process runs it and ``fit`` trains one model
together, each process on its share of every batch. Either way it prints the
MASE of the forecasts of 40 M4 Hourly series on the M4 test horizon (under
torchrun, every process prints it: they all hold the same model).

    torchrun --nproc_per_node 2 docs/examples/torchrun_fit.py
    python docs/examples/torchrun_fit.py  # alone: the same model
"""

# --8<-- [start:script]
import numpy as np
from sktime.performance_metrics.forecasting import MeanAbsoluteScaledError

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse.datasets import HORIZON, SEASONALITY, load_m4_hourly_split

y_train, y_test = load_m4_hourly_split(series=40)
y_train, y_test = y_train.sort_index(), y_test.sort_index()

forecaster = LogSparseTransformerForecaster(
    context_length=168,
    dropout=0.0,  # with dropout, each process draws its own masks
    max_epochs=8,
    windows_per_epoch=1024,
    batch_size=64,  # the global batch: 32 windows per process with 2 processes
    early_stopping_patience=4,
    device="cpu",  # "auto": with GPUs, each process takes cuda:LOCAL_RANK
    random_state=0,  # the same windows on every process, as alone
    verbose=True,  # the progress bar of process 0 (the others show none)
)
forecaster.fit(y_train, fh=np.arange(1, HORIZON + 1))
y_pred = forecaster.predict()  # every process forecasts, all alike

mase = MeanAbsoluteScaledError(sp=SEASONALITY, multilevel="uniform_average")
print(f"MASE: {mase(y_test, y_pred, y_train=y_train):.3f}")
# --8<-- [end:script]
