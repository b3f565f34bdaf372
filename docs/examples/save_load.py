"""Saving and loading a fitted forecaster: the safe format, sktime's and pickle.

Fits a model on 10 M4 Hourly series, saves it in each of the three formats,
loads it back and checks that the loaded forecaster predicts exactly what the
original did.

    python docs/examples/save_load.py
"""

# --8<-- [start:fit]
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse.datasets import HORIZON, load_m4_hourly_split

y_train, y_test = load_m4_hourly_split(series=10)
forecaster = LogSparseTransformerForecaster(
    context_length=168, max_epochs=5, windows_per_epoch=1024, random_state=0
)
forecaster.fit(y_train, fh=np.arange(1, HORIZON + 1))
y_pred = forecaster.predict()
folder = Path(tempfile.mkdtemp())
# --8<-- [end:fit]

# --8<-- [start:safe]
# a folder of JSON (parameters and fitted state) and safetensors (weights and
# arrays): loading it runs no code from the files
forecaster.save_model(folder / "safe")
loaded = LogSparseTransformerForecaster.load_model(folder / "safe", device="cpu")
pd.testing.assert_frame_equal(loaded.predict(), y_pred)
print(sorted(path.name for path in (folder / "safe").iterdir()))
# --8<-- [end:safe]

# --8<-- [start:sktime]
from sktime.base import load

# sktime's format: a zip archive of the pickled estimator. save() appends
# ".zip" to the path; load() takes the path of the zip file
forecaster.save(folder / "model")
loaded = load(folder / "model.zip")
pd.testing.assert_frame_equal(loaded.predict(), y_pred)
# --8<-- [end:sktime]

# --8<-- [start:pickle]
import pickle

# plain pickle works too; weights are stored on the CPU, whatever the device
with open(folder / "model.pkl", "wb") as file:
    pickle.dump(forecaster, file)
with open(folder / "model.pkl", "rb") as file:
    loaded = pickle.load(file)
pd.testing.assert_frame_equal(loaded.predict(), y_pred)
# --8<-- [end:pickle]
print("saved and loaded: same forecasts")
