"""Global models: a hierarchy, and pretraining on other series then fitting.

Part 1 fits one model to a small hierarchy of M4 Hourly series with totals
added by sktime's ``Aggregator``, and reconciles the forecasts with
``ReconcilerForecaster``. Part 2 pretrains one model on 100 M4 Hourly series,
then forecasts 10 series it has never seen, zero-shot and after fine-tuning,
and prints MASE beside the seasonal naive.

    python docs/examples/global_models.py
"""

# --8<-- [start:hierarchy]
import numpy as np
from sktime.forecasting.reconcile import ReconcilerForecaster
from sktime.transformations.hierarchical.aggregate import Aggregator

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse.datasets import HORIZON, load_m4_hourly

# two groups of three series (they cover the same hours), as a 3-level hierarchy
groups = {"A": ["H1", "H2", "H3"], "B": ["H4", "H5", "H7"]}
y = load_m4_hourly("train", series=groups["A"] + groups["B"])
group_of = {sid: g for g, ids in groups.items() for sid in ids}
group = y.index.get_level_values("instances").map(group_of).rename("group")
y_hier = (
    y.set_index(group, append=True)
    .reorder_levels(["group", "instances", "timepoints"])
    .sort_index()
)
# add the group totals and the grand total: 9 series, all in one global model
y_hier = Aggregator(flatten_single_levels=True).fit_transform(y_hier)

forecaster = LogSparseTransformerForecaster(
    context_length=168,
    dropout=0.0,
    learning_rate=2e-3,
    max_epochs=40,
    windows_per_epoch=2048,
    early_stopping_patience=8,
    max_fit_seconds=120,
    random_state=0,
    trainer_kwargs={"lr_schedule": "cosine"},
)
fh = np.arange(1, HORIZON + 1)
reconciled = ReconcilerForecaster(forecaster, method="ols")  # coherent totals
reconciled.fit(y_hier, fh=fh)
y_pred = reconciled.predict()
print(y_pred.groupby(level=["group", "instances"]).mean().round(1))
# --8<-- [end:hierarchy]

# --8<-- [start:pretrain]
import copy

import pandas as pd
from sktime.forecasting.naive import NaiveForecaster
from sktime.performance_metrics.forecasting import MeanAbsoluteScaledError

from sktime_logsparse.datasets import SEASONALITY, load_m4_hourly_split

# pretrain on 100 series, then forecast 10 series the model has never seen
pretrain_ids = [f"H{i}" for i in range(21, 121)]
y_pretrain = load_m4_hourly("train", series=pretrain_ids)
y_train, y_test = load_m4_hourly_split(series=[f"H{i}" for i in range(1, 11)])
y_train, y_test = y_train.sort_index(), y_test.sort_index()  # for sktime's metrics

# a new network with the settings above (clone: unfitted), fine_tune_epochs=0
pretrained = forecaster.clone().pretrain(y_pretrain, fh=fh)

# zero-shot: fit only sets the context of the new series
zero_shot = copy.deepcopy(pretrained).fit(y_train, fh=fh)
# fine-tuned: fit trains 2 epochs on the new series, from the pretrained
# weights, gently (a quarter of the learning rate): a few series overfit fast.
# (set_params would reset the forecaster and drop the pretrained weights, so
# the copy's attributes are set directly)
fine_tuned = copy.deepcopy(pretrained)
fine_tuned.fine_tune_epochs = 2
fine_tuned.learning_rate = pretrained.learning_rate / 4
fine_tuned.fit(y_train, fh=fh)

naive = NaiveForecaster(strategy="last", sp=SEASONALITY).fit(y_train, fh=fh)
mase = MeanAbsoluteScaledError(sp=SEASONALITY, multilevel="uniform_average")
scores = pd.Series(
    {
        name: mase(y_test, model.predict(), y_train=y_train)
        for name, model in [
            ("pretrained, zero-shot", zero_shot),
            ("pretrained, fine-tuned", fine_tuned),
            ("seasonal naive", naive),
        ]
    },
    name="MASE",
)
print(scores.round(3).to_string())
# --8<-- [end:pretrain]
