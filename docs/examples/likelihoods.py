"""Likelihoods: Gaussian, Student-t and negative binomial on the same series.

The first 20 M4 Hourly series are non-negative counts, so all three
likelihoods apply. Fits one model per likelihood with the same budget and
prints MASE, pinball loss and the coverage of the 90% prediction intervals on
the M4 test horizon; the table is also written to
``docs/images/likelihoods_results.md``.

    python docs/examples/likelihoods.py
"""

from pathlib import Path

IMAGES = Path(__file__).resolve().parents[1] / "images"  # docs/images

# --8<-- [start:example]
import numpy as np
import pandas as pd
from sktime.performance_metrics.forecasting import MeanAbsoluteScaledError
from sktime.performance_metrics.forecasting.probabilistic import PinballLoss

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse.datasets import HORIZON, SEASONALITY, load_m4_hourly_split

y_train, y_test = load_m4_hourly_split(series=20)
y_train, y_test = y_train.sort_index(), y_test.sort_index()  # for sktime's metrics
fh = np.arange(1, HORIZON + 1)

mase = MeanAbsoluteScaledError(sp=SEASONALITY, multilevel="uniform_average")
pinball = PinballLoss(alpha=[0.1, 0.5, 0.9])
rows = {}
for likelihood in ["gaussian", "student_t", "negative_binomial"]:
    forecaster = LogSparseTransformerForecaster(
        likelihood=likelihood,
        context_length=168,
        dropout=0.0,
        learning_rate=2e-3,
        max_epochs=40,
        windows_per_epoch=2048,
        early_stopping_patience=8,
        max_fit_seconds=60,
        random_state=0,
        trainer_kwargs={"lr_schedule": "cosine"},
    )
    forecaster.fit(y_train, fh=fh)
    band = forecaster.predict_interval(coverage=0.9)["value"][0.9]
    inside = (y_test["value"] >= band["lower"]) & (y_test["value"] <= band["upper"])
    rows[likelihood] = {
        "MASE": mase(y_test, forecaster.predict(), y_train=y_train),
        "pinball loss": pinball(
            y_test, forecaster.predict_quantiles(alpha=pinball.alpha)
        ),
        "90% interval coverage": inside.mean(),
    }
table = pd.DataFrame(rows).T
print(table.round(3).to_string())
# --8<-- [end:example]

lines = [
    "| likelihood | MASE | pinball loss | 90% interval coverage |",
    "|---|---|---|---|",
]
for name, row in table.iterrows():
    lines.append(
        f"| `{name}` | {row['MASE']:.3f} | {row['pinball loss']:.1f} | "
        f"{row['90% interval coverage']:.0%} |"
    )
(IMAGES / "likelihoods_results.md").write_text("\n".join(lines) + "\n")
