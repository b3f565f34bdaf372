"""How-to: a ``ForecastingPipeline`` that builds exogenous features ``X``.

The LogSparse Transformer takes exogenous columns ``X`` that are known in
advance: ``predict`` needs their values over the horizon. Here a
``ForecastingPipeline`` turns the time index of ``X`` into Fourier terms of the
daily and weekly cycles (known for any future hour), for 20 M4 Hourly series.
Prints MASE with and without them and writes
``docs/images/pipeline_exogenous.png``.

    python docs/examples/pipeline_exogenous.py
"""

from pathlib import Path

IMAGES = Path(__file__).resolve().parents[1] / "images"  # docs/images

# --8<-- [start:example]
import numpy as np
import pandas as pd
from sktime.forecasting.compose import ForecastingPipeline
from sktime.transformations.series.fourier import FourierFeatures

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse.datasets import HORIZON, load_m4_hourly_split

y_train, y_test = load_m4_hourly_split(series=20)
y_train, y_test = y_train.sort_index(), y_test.sort_index()  # for sktime's metrics
fh = np.arange(1, HORIZON + 1)

# X must have the rows of y in fit, and the rows of the horizon in predict (here
# the test hours). The pipeline only needs its index: a placeholder column
# stands in for real known-in-advance variables (prices, holidays, weather
# forecasts, ...), which would simply be further columns
X_train = pd.DataFrame({"placeholder": 0.0}, index=y_train.index)
X_future = pd.DataFrame({"placeholder": 0.0}, index=y_test.index)

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

fourier = FourierFeatures(
    sp_list=[24, 168],  # daily and weekly cycles of hourly data
    fourier_terms_list=[2, 2],  # sin and cos of the first two harmonics of each
    keep_original_columns=False,
)
pipeline = ForecastingPipeline([("fourier", fourier), ("forecaster", forecaster)])
pipeline.fit(y_train, X=X_train, fh=fh)
y_pred = pipeline.predict(X=X_future)
print("columns of X seen by the network:")
print(list(fourier.fit_transform(X_train.loc["H1"]).columns))
# --8<-- [end:example]

# --8<-- [start:compare]
from sktime.performance_metrics.forecasting import MeanAbsoluteScaledError

from sktime_logsparse.datasets import SEASONALITY

plain = forecaster.clone().fit(y_train, fh=fh)  # calendar features only
mase = MeanAbsoluteScaledError(sp=SEASONALITY, multilevel="uniform_average")
print(f"MASE with Fourier X: {mase(y_test, y_pred, y_train=y_train):.3f}")
print(f"MASE without X:      {mase(y_test, plain.predict(), y_train=y_train):.3f}")
# --8<-- [end:compare]

import matplotlib.pyplot as plt

# the terms of the horizon, in phase with those of the training range
features = fourier.fit(X_train.loc["H1"]).transform(X_future.loc["H1"])
fig, axes = plt.subplots(2, 1, figsize=(9, 4.5), sharex=True)
axes[0].plot(features.index, features.to_numpy(), lw=1)
axes[0].set_title("Fourier terms of the horizon (H1)", fontsize=9, loc="left")
axes[0].legend(features.columns, fontsize=6, ncol=4, loc="upper right")
axes[1].plot(y_test.loc["H1"].index, y_test.loc["H1", "value"], "k--", label="actual")
axes[1].plot(y_pred.loc["H1"].index, y_pred.loc["H1", "value"], label="with X")
axes[1].plot(y_pred.loc["H1"].index, plain.predict().loc["H1", "value"], label="no X")
axes[1].set_title("H1: forecasts", fontsize=9, loc="left")
axes[1].legend(fontsize=8)
fig.autofmt_xdate()
fig.tight_layout()
fig.savefig(IMAGES / "pipeline_exogenous.png", dpi=100)
