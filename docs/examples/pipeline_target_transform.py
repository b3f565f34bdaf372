"""How-to: a ``TransformedTargetForecaster`` with target transforms.

Forecasts 20 M4 Hourly series with the LogSparse Transformer behind a log
transform and a daily deseasonalisation (per series), compares MASE and
pinball loss with the plain model under the same training budget, and writes
``docs/images/pipeline_target_transform.png``.

    python docs/examples/pipeline_target_transform.py
"""

from pathlib import Path

IMAGES = Path(__file__).resolve().parents[1] / "images"  # docs/images

# --8<-- [start:example]
import numpy as np
from sktime.forecasting.compose import TransformedTargetForecaster
from sktime.transformations.series.boxcox import LogTransformer
from sktime.transformations.series.detrend import Deseasonalizer

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse.datasets import HORIZON, SEASONALITY, load_m4_hourly_split

y_train, y_test = load_m4_hourly_split(series=20)
y_train, y_test = y_train.sort_index(), y_test.sort_index()  # for sktime's metrics
fh = np.arange(1, HORIZON + 1)

forecaster = LogSparseTransformerForecaster(
    context_length=168,
    dropout=0.0,
    learning_rate=2e-3,
    max_epochs=40,
    windows_per_epoch=2048,
    early_stopping_patience=8,
    max_fit_seconds=90,
    random_state=0,
    trainer_kwargs={"lr_schedule": "cosine"},
)

# log, then remove each series' daily profile (additive on the log scale); the
# network models what is left, and forecasts, intervals and quantiles are
# transformed back step by step in reverse order
pipeline = TransformedTargetForecaster(
    [
        ("log", LogTransformer()),
        ("deseasonalize", Deseasonalizer(sp=SEASONALITY, model="additive")),
        ("forecaster", forecaster),
    ]
)
pipeline.fit(y_train, fh=fh)
y_pred = pipeline.predict()
interval = pipeline.predict_interval(coverage=0.9)
# --8<-- [end:example]

# --8<-- [start:compare]
import pandas as pd
from sktime.performance_metrics.forecasting import MeanAbsoluteScaledError
from sktime.performance_metrics.forecasting.probabilistic import PinballLoss

plain = forecaster.clone().fit(y_train, fh=fh)  # the same model without transforms
alpha = [0.1, 0.5, 0.9]
mase = MeanAbsoluteScaledError(sp=SEASONALITY, multilevel="uniform_average")
pinball = PinballLoss(alpha=alpha)
scores = pd.DataFrame(
    {
        name: {
            "MASE": mase(y_test, model.predict(), y_train=y_train),
            "pinball loss": pinball(y_test, model.predict_quantiles(alpha=alpha)),
        }
        for name, model in [("log + deseasonalize", pipeline), ("plain", plain)]
    }
).T
print(scores.round(3).to_string())
# --8<-- [end:compare]

import matplotlib.pyplot as plt

fig, axes = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
for ax, sid in zip(axes, ["H1", "H2"], strict=True):
    history = y_train.loc[sid, "value"].iloc[-96:]
    band = interval.loc[sid, "value"][0.9]
    ax.plot(history.index, history, color="black", lw=1, label="history")
    ax.plot(
        y_test.loc[sid].index, y_test.loc[sid, "value"], "k--", lw=1, label="actual"
    )
    ax.fill_between(band.index, band["lower"], band["upper"], alpha=0.3, label="90%")
    ax.plot(y_pred.loc[sid].index, y_pred.loc[sid, "value"], lw=1.5, label="forecast")
    ax.set_title(f"{sid}: log + deseasonalize + LogSparse", fontsize=9, loc="left")
axes[0].legend(fontsize=8, ncol=4, loc="upper left")
fig.autofmt_xdate()
fig.tight_layout()
fig.savefig(IMAGES / "pipeline_target_transform.png", dpi=100)
