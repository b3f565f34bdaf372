"""How-to: tune ``kernel_size`` and ``attention`` with ``ForecastingGridSearchCV``.

Scores every combination on the last 48 hours of the training range of 20 M4
Hourly series (MASE), refits the best on the whole training range, and writes
``docs/images/grid_search.png`` (the scores as a heat map).

    python docs/examples/grid_search.py
"""

from pathlib import Path

IMAGES = Path(__file__).resolve().parents[1] / "images"  # docs/images

# --8<-- [start:example]
import numpy as np
import pandas as pd
from sktime.forecasting.model_selection import ForecastingGridSearchCV
from sktime.performance_metrics.forecasting import MeanAbsoluteScaledError
from sktime.split import SingleWindowSplitter

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
    max_fit_seconds=30,  # the same short budget for every candidate
    random_state=0,
    trainer_kwargs={"lr_schedule": "cosine"},
)

grid = ForecastingGridSearchCV(
    forecaster,
    # one validation window: the last 48 hours of each training series
    cv=SingleWindowSplitter(fh=fh),
    param_grid={
        "kernel_size": [1, 3, 6],
        "attention": ["logsparse", "local", "full"],
    },
    scoring=MeanAbsoluteScaledError(sp=SEASONALITY),
    # one candidate at a time, in this process; sktime's default "loky" runs
    # them in parallel worker processes of one thread each (see the how-to)
    backend=None,
)
grid.fit(y_train, fh=fh)  # refits the best candidate on the whole training range
print("best:", grid.best_params_)
y_pred = grid.predict()  # forecasts of the best candidate

results = pd.DataFrame(list(grid.cv_results_["params"]))
results["MASE"] = grid.cv_results_["mean_test_MeanAbsoluteScaledError"].to_numpy()
table = results.pivot(index="attention", columns="kernel_size", values="MASE")
print(table.round(3).to_string())
# --8<-- [end:example]

mase = MeanAbsoluteScaledError(sp=SEASONALITY, multilevel="uniform_average")
test_mase = mase(y_test, y_pred, y_train=y_train)
print(f"MASE of the best candidate on the test range: {test_mase:.3f}")

import matplotlib.pyplot as plt
from matplotlib.colors import LogNorm
from matplotlib.ticker import FormatStrFormatter

fig, ax = plt.subplots(figsize=(5, 3))
values = table.to_numpy()
image = ax.imshow(values, cmap="viridis_r", norm=LogNorm())
ax.set_xticks(range(table.shape[1]), [str(k) for k in table.columns])
ax.set_yticks(range(table.shape[0]), table.index)
ax.set_xlabel("kernel_size")
ax.set_ylabel("attention")
light = np.sqrt(np.nanmin(values) * np.nanmax(values))  # mid-scale, log norm
for (i, j), value in np.ndenumerate(values):
    color = "black" if value < light else "white"
    ax.text(j, i, f"{value:.3f}", ha="center", va="center", color=color, fontsize=9)
colorbar = fig.colorbar(image, ax=ax, label="validation MASE")
colorbar.ax.yaxis.set_major_formatter(FormatStrFormatter("%.1f"))
colorbar.ax.yaxis.set_minor_formatter(FormatStrFormatter("%.1f"))
fig.tight_layout()
fig.savefig(IMAGES / "grid_search.png", dpi=100)
