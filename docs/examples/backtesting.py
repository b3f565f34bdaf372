"""How-to: backtest with ``evaluate``, ``ExpandingWindowSplitter``, pinball loss, CRPS.

The protocol of the paper: rolling-day forecasts for seven days. The model is
trained once on everything before the first of the last seven days of 20 M4
Hourly series; each following day it only receives the new observations
(``strategy="no-update_params"``: ``update`` without training) and forecasts
the next 24 hours. Seasonal naive is scored alike (but for CRPS: sktime cannot
give ``predict_proba`` of per-series forecasters on a panel). Writes
``docs/images/backtesting.png``.

    python docs/examples/backtesting.py
"""

from pathlib import Path

IMAGES = Path(__file__).resolve().parents[1] / "images"  # docs/images

# --8<-- [start:example]
import numpy as np
import pandas as pd
from sktime.forecasting.model_evaluation import evaluate
from sktime.forecasting.naive import NaiveForecaster
from sktime.performance_metrics.forecasting import MeanAbsoluteScaledError
from sktime.performance_metrics.forecasting.probabilistic import CRPS, PinballLoss
from sktime.split import ExpandingWindowSplitter

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse.datasets import SEASONALITY, load_m4_hourly

# whole series (train and test), sorted as the forecasts will be; the first 169
# M4 Hourly series all have 748 hourly points
y = load_m4_hourly("full", series=20).sort_index()
days = 7
cv = ExpandingWindowSplitter(
    fh=np.arange(1, 25),  # forecast the next 24 hours ...
    initial_window=748 - days * 24,  # ... from the start of each of the last days
    step_length=24,  # ... one day apart
)
forecaster = LogSparseTransformerForecaster(
    context_length=168,
    prediction_length=24,
    dropout=0.0,
    learning_rate=2e-3,
    max_epochs=40,
    windows_per_epoch=2048,
    early_stopping_patience=8,
    max_fit_seconds=120,
    random_state=0,
    trainer_kwargs={"lr_schedule": "cosine"},
)

pinball = PinballLoss(alpha=[0.1, 0.5, 0.9])  # from predict_quantiles
crps = CRPS()  # from predict_proba: the empirical distribution of the sample paths
mase = MeanAbsoluteScaledError(sp=SEASONALITY)  # from predict
results = {
    "LogSparse Transformer": evaluate(
        forecaster,
        cv=cv,
        y=y,
        scoring=[pinball, crps, mase],
        strategy="no-update_params",  # fit once, then only new observations
        error_score="raise",  # fail loudly instead of scoring NaN
    ),
    # sktime fits per-series forecasters to each series of a panel; their
    # predict_proba does not work on panels, so no CRPS for them
    "seasonal naive": evaluate(
        NaiveForecaster(strategy="last", sp=SEASONALITY),
        cv=cv,
        y=y,
        scoring=[pinball, mase],
        strategy="no-update_params",
        error_score="raise",
    ),
}
columns = ["test_PinballLoss", "test_CRPS", "test_MeanAbsoluteScaledError"]
summary = pd.DataFrame(
    {name: r.reindex(columns=columns).mean() for name, r in results.items()}
).T
print(summary.round(3).to_string())
# --8<-- [end:example]

import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 3.2))
for name, result in results.items():
    ax.plot(np.arange(1, days + 1), result["test_PinballLoss"], marker="o", label=name)
ax.set_xlabel("forecast day (24 hours each)")
ax.set_ylabel("pinball loss (10/50/90%)")
ax.set_xticks(np.arange(1, days + 1))
ax.legend()
fig.tight_layout()
fig.savefig(IMAGES / "backtesting.png", dpi=100)
