"""How-to: ``ForecastingBenchmark`` against seasonal naive, Theta and ETS.

One task, the M4 Hourly test window (the last 48 hours) of 20 series, scored
by MASE, sMAPE and pinball loss; four forecasters. Writes the results table to
``docs/images/benchmark_results.md`` and a bar chart to
``docs/images/benchmark.png``.

    python docs/examples/benchmark.py
"""

from pathlib import Path

IMAGES = Path(__file__).resolve().parents[1] / "images"  # docs/images

# --8<-- [start:example]
import numpy as np
from sktime.benchmarking.forecasting import ForecastingBenchmark
from sktime.forecasting.ets import AutoETS
from sktime.forecasting.naive import NaiveForecaster
from sktime.forecasting.theta import ThetaForecaster
from sktime.performance_metrics.forecasting import (
    MeanAbsolutePercentageError,
    MeanAbsoluteScaledError,
)
from sktime.performance_metrics.forecasting.probabilistic import PinballLoss
from sktime.split import SingleWindowSplitter

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse.datasets import HORIZON, SEASONALITY, load_m4_hourly


def m4_hourly_20():
    """The first 20 M4 Hourly series, train and test (748 hours each), sorted."""
    return load_m4_hourly("full", series=20).sort_index()


logsparse = LogSparseTransformerForecaster(
    context_length=168,
    dropout=0.0,
    learning_rate=2e-3,
    max_epochs=40,
    windows_per_epoch=2048,
    early_stopping_patience=8,
    max_fit_seconds=150,
    random_state=0,
    trainer_kwargs={"lr_schedule": "cosine"},
)

benchmark = ForecastingBenchmark()
benchmark.add_estimator(logsparse, "LogSparse Transformer")
benchmark.add_estimator(
    NaiveForecaster(strategy="last", sp=SEASONALITY), "seasonal naive"
)
benchmark.add_estimator(ThetaForecaster(sp=SEASONALITY), "Theta")
benchmark.add_estimator(
    # ETS(A,N,A): additive errors and daily season, no trend
    AutoETS(
        error="add", seasonal="add", sp=SEASONALITY, initialization_method="heuristic"
    ),
    "ETS",
)
benchmark.add_task(
    m4_hourly_20,
    # the M4 split: train on the first 700 hours, score the last 48
    SingleWindowSplitter(fh=np.arange(1, HORIZON + 1), window_length=700),
    [
        MeanAbsoluteScaledError(sp=SEASONALITY),
        MeanAbsolutePercentageError(symmetric=True),  # sMAPE
        PinballLoss(alpha=[0.1, 0.5, 0.9]),
    ],
    task_id="M4 Hourly, 20 series",
)
results = benchmark.run()  # one row per (task, estimator); output_file= saves it
# the benchmark logs failed experiments and carries on: make them errors here
if benchmark.failed_experiments:
    raise RuntimeError(benchmark.failed_experiments)

table = results.set_index("model_id")[
    [
        "MeanAbsoluteScaledError_mean",
        "MeanAbsolutePercentageError_mean",
        "PinballLoss_mean",
        "fit_time_mean",
        "pred_time_mean",
    ]
]
table.columns = ["MASE", "sMAPE", "pinball loss", "fit (s)", "predict (s)"]
print(table.round(3).to_string())
# --8<-- [end:example]

# the table as markdown, for the docs page
rows = ["| model | " + " | ".join(table.columns) + " |", "|---" * 6 + "|"]
for name, row in table.iterrows():
    cells = [f"{row['MASE']:.3f}", f"{row['sMAPE']:.3f}", f"{row['pinball loss']:.1f}"]
    cells += [f"{row['fit (s)']:.1f}", f"{row['predict (s)']:.2f}"]
    rows.append(f"| {name} | " + " | ".join(cells) + " |")
(IMAGES / "benchmark_results.md").write_text("\n".join(rows) + "\n")

import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 3, figsize=(10, 3))
for ax, column in zip(axes, ["MASE", "sMAPE", "pinball loss"], strict=True):
    ax.barh(table.index, table[column], color=[f"C{i}" for i in range(len(table))])
    ax.set_title(column, fontsize=10)
    ax.invert_yaxis()
for ax in axes[1:]:
    ax.set_yticklabels([])
fig.tight_layout()
fig.savefig(IMAGES / "benchmark.png", dpi=100)
