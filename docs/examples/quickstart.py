"""Quickstart: one global model for 60 M4 Hourly series, and their fan charts.

Trains one LogSparse Transformer on 60 hourly series of the M4 competition
(shipped with the package), forecasts the 48 hours of the M4 test horizon,
prints MASE beside sktime's seasonal naive, and writes
``docs/images/quickstart_fan_chart.png``.

    python docs/examples/quickstart.py
"""

from pathlib import Path

IMAGES = Path(__file__).resolve().parents[1] / "images"  # docs/images

# --8<-- [start:example]
import numpy as np
from sktime.forecasting.naive import NaiveForecaster
from sktime.performance_metrics.forecasting import MeanAbsoluteScaledError

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse.datasets import HORIZON, SEASONALITY, load_m4_hourly_split

y_train, y_test = load_m4_hourly_split(series=60)  # pd-multiindex panels
# sktime's probabilistic metrics need lexsorted panels (H1, H10, H11, ...);
# forecasts keep the order of the data they were fitted on
y_train, y_test = y_train.sort_index(), y_test.sort_index()
fh = np.arange(1, HORIZON + 1)  # the 48 hours after the end of each series

forecaster = LogSparseTransformerForecaster(
    context_length=168,  # condition on one week of hourly history
    scaling="mean",  # DeepAR's (the paper's); the default is "standard"
    learning_rate=5e-4,
    max_epochs=30,
    windows_per_epoch=2048,
    early_stopping_patience=8,
    max_fit_seconds=170,  # then stop, keeping the best weights so far
    random_state=0,
    trainer_kwargs={"lr_schedule": "cosine"},
)
forecaster.fit(y_train, fh=fh)  # one global model for all the series
print(f"trained {len(forecaster.training_history_)} epochs")
y_pred = forecaster.predict()  # mean of 100 sample paths per series
quantiles = forecaster.predict_quantiles(alpha=[0.05, 0.25, 0.5, 0.75, 0.95])

mase = MeanAbsoluteScaledError(sp=SEASONALITY, multilevel="uniform_average")
score = mase(y_test, y_pred, y_train=y_train)
naive = NaiveForecaster(strategy="last", sp=SEASONALITY).fit(y_train, fh=fh)
naive_score = mase(y_test, naive.predict(), y_train=y_train)
print(f"MASE, LogSparse Transformer: {score:.3f}")
print(f"MASE, seasonal naive:        {naive_score:.3f}")
# --8<-- [end:example]

# --8<-- [start:fan_chart]
import matplotlib.dates as mdates
import matplotlib.pyplot as plt

series = y_test.index.unique("instances")[:4]  # the first four of the panel
fig, axes = plt.subplots(len(series), 1, figsize=(9, 2.3 * len(series)))
for ax, sid in zip(axes, series, strict=True):
    history = y_train.loc[sid, "value"].iloc[-168:]  # the last week
    q = quantiles.loc[sid, "value"]  # columns: the quantile levels
    ax.plot(history.index, history, color="black", lw=1, label="history")
    ax.plot(
        y_test.loc[sid].index, y_test.loc[sid, "value"], "k--", lw=1, label="actual"
    )
    ax.fill_between(q.index, q[0.05], q[0.95], alpha=0.25, color="C0", label="90%")
    ax.fill_between(q.index, q[0.25], q[0.75], alpha=0.45, color="C0", label="50%")
    ax.plot(q.index, q[0.5], color="C0", lw=1.5, label="median")
    ax.set_title(sid, fontsize=9, loc="left")
    ax.xaxis.set_major_formatter(
        mdates.ConciseDateFormatter(ax.xaxis.get_major_locator())
    )
axes[0].legend(loc="upper left", fontsize=8, ncol=5)
fig.tight_layout()
# --8<-- [end:fan_chart]
fig.savefig(IMAGES / "quickstart_fan_chart.png", dpi=100)
