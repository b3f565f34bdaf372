"""How-to: probabilistic forecasts, and plotting them with sktime's ``plot_series``.

Fits one model on 20 M4 Hourly series, asks for every kind of probabilistic
forecast, and writes three figures: ``docs/images/plot_series.png`` (one
series with 50% and 90% prediction intervals), ``plot_series_panel.png``
(several series of the panel) and ``sample_paths.png`` (sample paths drawn from
``predict_proba``).

    python docs/examples/plotting.py
"""

from pathlib import Path

IMAGES = Path(__file__).resolve().parents[1] / "images"  # docs/images

# --8<-- [start:forecasts]
import numpy as np

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse.datasets import HORIZON, load_m4_hourly_split

y_train, y_test = load_m4_hourly_split(series=20)
# lexsorted (H1, H10, H11, ...), as sktime's probabilistic metrics need
y_train, y_test = y_train.sort_index(), y_test.sort_index()
forecaster = LogSparseTransformerForecaster(
    context_length=168,
    dropout=0.0,
    learning_rate=2e-3,
    max_epochs=40,
    windows_per_epoch=2048,
    early_stopping_patience=8,
    max_fit_seconds=120,
    random_state=0,
    trainer_kwargs={"lr_schedule": "cosine"},
)
forecaster.fit(y_train, fh=np.arange(1, HORIZON + 1))

# every output comes from the same 100 sample paths per series (drawn once and
# kept for the horizon), so they are consistent with each other
y_pred = forecaster.predict()  # the mean of the paths (point_forecast="median": median)
interval = forecaster.predict_interval(coverage=[0.5, 0.9])  # central intervals
quantiles = forecaster.predict_quantiles(alpha=[0.1, 0.5, 0.9])
variance = forecaster.predict_var()
dist = forecaster.predict_proba()  # skpro Empirical distribution of the paths
print(interval.loc["H1"].head(3).round(1))
print(dist.mean().loc["H1"].head(3).round(1))  # equals y_pred
# --8<-- [end:forecasts]

# --8<-- [start:plot_series]
from sktime.utils.plotting import plot_series

sid = "H1"
fig, ax = plot_series(
    y_train.loc[sid].iloc[-120:],  # the last five days of history
    y_test.loc[sid],
    y_pred.loc[sid],
    labels=["history", "actual", "forecast (mean)"],
    pred_interval=interval.loc[sid],  # one band per coverage
    title=f"M4 Hourly {sid}",
)
# --8<-- [end:plot_series]
fig.savefig(IMAGES / "plot_series.png", dpi=90, bbox_inches="tight")

# --8<-- [start:paths]
import matplotlib.pyplot as plt

# with marginal=False a draw is a whole path: the paths are joint over time
paths = forecaster.predict_proba(marginal=False).sample(20)  # (sample, series, hour)
fig, ax = plt.subplots(figsize=(9, 3))
for _, path in paths.xs("H1", level=1).groupby(level=0):
    ax.plot(
        path.index.get_level_values(-1), path["value"], color="C0", lw=0.6, alpha=0.5
    )
ax.plot(
    y_test.loc["H1"].index, y_test.loc["H1", "value"], "k--", lw=1.5, label="actual"
)
ax.set_title("H1: 20 sample paths", fontsize=9, loc="left")
ax.legend()
fig.autofmt_xdate()
fig.tight_layout()
# --8<-- [end:paths]
fig.savefig(IMAGES / "sample_paths.png", dpi=100)

# --8<-- [start:panel]
series = ["H1", "H2", "H3", "H4"]
interval90 = forecaster.predict_interval(coverage=0.9)  # the same paths again
fig, axes = plt.subplots(2, 2, figsize=(12, 6))
for ax, sid in zip(axes.flat, series, strict=True):
    plot_series(
        y_train.loc[sid].iloc[-72:],
        y_test.loc[sid],
        y_pred.loc[sid],
        labels=["history", "actual", "forecast"],
        pred_interval=interval90.loc[sid],
        markers=["", "", ""],
        ax=ax,
        title=sid,
    )
    ax.tick_params(axis="x", labelsize=7)
    ax.set_ylabel("")
    ax.legend(fontsize=7, loc="upper left")
fig.tight_layout()
# --8<-- [end:panel]
fig.savefig(IMAGES / "plot_series_panel.png", dpi=90)
