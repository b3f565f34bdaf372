"""Training controls: early stopping, a time budget, the device, seeds, progress.

Fits one model on 20 M4 Hourly series with a progress bar, early stopping on
the validation NLL and a wall-time budget, plots its training history to
``docs/images/training_history.png``, and checks that the same seed gives the
same forecasts.

    python docs/examples/training_controls.py
"""

import os
import tempfile
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse.datasets import HORIZON, load_m4_hourly_split

# SKTIME_LOGSPARSE_DOCS_TINY=1 (tests/test_examples.py): a tiny model trained for
# a moment, figures to a scratch folder
TINY = os.environ.get("SKTIME_LOGSPARSE_DOCS_TINY") == "1"
SMOKE = dict(
    d_model=8, n_heads=2, n_layers=1, max_epochs=2, windows_per_epoch=32, num_samples=10
)
OUT = Path(
    os.environ.get("SKTIME_LOGSPARSE_DOCS_OUT")
    or (tempfile.mkdtemp() if TINY else Path(__file__).resolve().parents[1] / "images")
)
matplotlib.use("Agg")  # write files, open no window

y_train, y_test = load_m4_hourly_split(series=4 if TINY else 20)
fh = np.arange(1, HORIZON + 1)

# --8<-- [start:controls]
forecaster = LogSparseTransformerForecaster(
    context_length=168,
    dropout=0.0,
    learning_rate=2e-3,
    lr_schedule="plateau",  # halve the step size when the validation NLL stalls
    max_epochs=50,
    windows_per_epoch=1024,  # an "epoch" is this many windows drawn at random
    # the last prediction_length points of each series are held out: stop once
    # their NLL has not improved for 4 epochs, and keep the best weights
    early_stopping_patience=4,
    max_fit_seconds=90,  # and stop after 90 s at the latest (best weights)
    device="cpu",  # "auto" (the default) takes cuda, then mps, then cpu
    random_state=0,  # seeds weights, windows, dropout and sample paths
    verbose=True,  # a progress bar with the losses of each epoch
)
if TINY:
    forecaster.set_params(**SMOKE)
forecaster.fit(y_train, fh=fh)

history = pd.DataFrame(forecaster.training_history_).set_index("epoch")
print(history.round(3).to_string())
# --8<-- [end:controls]

# --8<-- [start:plot]
best = history["val_loss"].idxmin()
fig, ax = plt.subplots(figsize=(7, 3.2))
ax.plot(history.index, history["train_loss"], marker=".", label="training NLL")
ax.plot(history.index, history["val_loss"], marker=".", label="validation NLL")
ax.axvline(best, color="grey", ls=":", label=f"best epoch ({best}): weights kept")
ax.set_xlabel("epoch")
ax.set_ylabel("negative log-likelihood per point")
ax.legend()
fig.tight_layout()
fig.savefig(OUT / "training_history.png", dpi=100)
# --8<-- [end:plot]

# --8<-- [start:seeds]
# the same random_state gives the same weights and the same sample paths; the
# global torch and numpy random states are left alone (no time budget here: a
# budget can stop two runs after different numbers of epochs)
settings = dict(max_epochs=2, windows_per_epoch=256, random_state=42)
if TINY:
    settings.update(SMOKE, max_epochs=1)
first = LogSparseTransformerForecaster(**settings).fit(y_train, fh=fh).predict()
again = LogSparseTransformerForecaster(**settings).fit(y_train, fh=fh).predict()
pd.testing.assert_frame_equal(first, again)
print("same seed, same forecasts")
# --8<-- [end:seeds]
