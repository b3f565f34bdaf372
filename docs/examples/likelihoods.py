"""Likelihoods: Gaussian, Student-t and negative binomial on the same series.

The first 20 M4 Hourly series are non-negative counts, so all three
likelihoods apply. Fits one model per likelihood with the same budget and
prints MASE, pinball loss and the coverage of the 90% prediction intervals on
the M4 test horizon; the table is also written to
``docs/images/likelihoods_results.md``.

    python docs/examples/likelihoods.py
"""

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sktime.performance_metrics.forecasting import MeanAbsoluteScaledError
from sktime.performance_metrics.forecasting.probabilistic import PinballLoss

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse.datasets import HORIZON, SEASONALITY, load_m4_hourly_split

# SKTIME_LOGSPARSE_DOCS_TINY=1 (tests/test_examples.py): tiny models trained for
# a moment, output to a scratch folder
TINY = os.environ.get("SKTIME_LOGSPARSE_DOCS_TINY") == "1"
SMOKE = dict(
    d_model=8, n_heads=2, n_layers=1, max_epochs=1, windows_per_epoch=32, num_samples=10
)
OUT = Path(
    os.environ.get("SKTIME_LOGSPARSE_DOCS_OUT")
    or (tempfile.mkdtemp() if TINY else Path(__file__).resolve().parents[1] / "images")
)

y_train, y_test = load_m4_hourly_split(series=3 if TINY else 20)
y_train, y_test = y_train.sort_index(), y_test.sort_index()  # for sktime's metrics
fh = np.arange(1, HORIZON + 1)

# --8<-- [start:example]
mase = MeanAbsoluteScaledError(sp=SEASONALITY, multilevel="uniform_average")
pinball = PinballLoss(alpha=[0.1, 0.5, 0.9])
rows = {}
for likelihood in ["gaussian", "student_t", "negative_binomial"]:
    forecaster = LogSparseTransformerForecaster(
        likelihood=likelihood,
        context_length=168,
        dropout=0.0,
        learning_rate=2e-3,
        lr_schedule="cosine",
        max_epochs=40,
        windows_per_epoch=2048,
        early_stopping_patience=8,
        max_fit_seconds=60,
        random_state=0,
    )
    if TINY:
        forecaster.set_params(**SMOKE)
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
(OUT / "likelihoods_results.md").write_text("\n".join(lines) + "\n")
