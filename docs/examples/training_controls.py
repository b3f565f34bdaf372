"""Training controls: early stopping, a time budget, the device, seeds, progress.

Fits one model on 20 M4 Hourly series with a progress bar, early stopping on
a held-out forecast score and a wall-time budget, plots its training history to
``docs/images/training_history.png``, and checks that the same seed gives the
same forecasts.

    python docs/examples/training_controls.py
"""

from pathlib import Path

IMAGES = Path(__file__).resolve().parents[1] / "images"  # docs/images

# --8<-- [start:controls]
import numpy as np
import pandas as pd

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse.datasets import HORIZON, load_m4_hourly_split

y_train, y_test = load_m4_hourly_split(series=20)
fh = np.arange(1, HORIZON + 1)

forecaster = LogSparseTransformerForecaster(
    context_length=168,
    dropout=0.0,
    learning_rate=2e-3,
    max_epochs=50,
    windows_per_epoch=1024,  # an "epoch" is this many windows drawn at random
    # the last prediction_length points of each series are held out: stop once
    # their forecast score has not improved for 4 epochs, keep the best weights
    early_stopping_patience=4,
    max_fit_seconds=90,  # and stop after 90 s at the latest (best weights)
    device="cpu",  # "auto" (the default) takes cuda, then mps, then cpu
    random_state=0,  # seeds weights, windows, dropout and sample paths
    verbose=True,  # a progress bar with the losses of each epoch
    # halve the step size when the validation score stalls
    trainer_kwargs={"lr_schedule": "plateau"},
)
forecaster.fit(y_train, fh=fh)

history = pd.DataFrame(forecaster.training_history_).set_index("epoch")
print(history.round(3).to_string())
# --8<-- [end:controls]

# --8<-- [start:plot]
import matplotlib.pyplot as plt

best = history["val_loss"].idxmin()
fig, ax = plt.subplots(figsize=(7, 3.2))
ax.plot(history.index, history["train_loss"], marker=".", label="training NLL")
ax.plot(history.index, history["val_loss"], marker=".", label="validation CRPS")
ax.axvline(best, color="grey", ls=":", label=f"best epoch ({best}): weights kept")
ax.set_xlabel("epoch")
ax.set_ylabel("loss per point")
ax.legend()
fig.tight_layout()
# --8<-- [end:plot]
fig.savefig(IMAGES / "training_history.png", dpi=100)

# --8<-- [start:seeds]
# the same random_state gives the same weights and the same sample paths; the
# global torch and numpy random states are left alone (no time budget here: a
# budget can stop two runs after different numbers of epochs)
settings = dict(max_epochs=2, windows_per_epoch=256, random_state=42)
first = LogSparseTransformerForecaster(**settings).fit(y_train, fh=fh).predict()
again = LogSparseTransformerForecaster(**settings).fit(y_train, fh=fh).predict()
pd.testing.assert_frame_equal(first, again)
print("same seed, same forecasts")
# --8<-- [end:seeds]
