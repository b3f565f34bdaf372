"""Bit-identical refits on CPU, and global random states left untouched.

Extends ``test_forecaster.py`` (same seed, same frame; untouched RNG with
``random_state=None``): here every random code path is switched on (dropout,
scale-weighted window sampling, a learning-rate schedule, fine-tuning,
``update`` with training) and the outputs must be equal bit for bit.
"""

import random

import numpy as np
import pandas as pd
import pytest
import torch

from sktime_logsparse import LogSparseTransformerForecaster

PARAMS = dict(
    context_length=6,
    prediction_length=2,
    d_model=8,
    n_heads=2,
    n_layers=1,
    dropout=0.2,
    trainer_kwargs={"window_sampling": "scale", "lr_schedule": "cosine"},
    max_epochs=2,
    batch_size=8,
    windows_per_epoch=16,
    num_samples=10,
    fine_tune_epochs=1,
    device="cpu",
    random_state=7,
)


pytestmark = pytest.mark.usefixtures("one_thread")


def _panel(n_instances=3, seed=0):
    rng = np.random.default_rng(seed)
    frames = {}
    for i in range(n_instances):
        n = 30 + 5 * i
        index = pd.date_range("2022-01-01", periods=n, freq="D")
        values = 5 + np.sin(np.arange(n) / 3 + i) + rng.normal(0, 0.2, n)
        frames[f"s{i}"] = pd.DataFrame({"y": values}, index=index)
    return pd.concat(frames, names=["instance", "time"])


def _x(index):
    return pd.DataFrame({"x": np.sin(np.arange(len(index)) / 7)}, index=index)


def _future(f, steps=3):
    frames = {
        inst.key[0]: _x(f.time_axis_.future(inst.index[-1], steps))
        for inst in f._panel.instances
    }
    return pd.concat(frames, names=["instance", "time"])


def _run(params=PARAMS, pretrain=True):
    """Pretrain, fit, predict, update with training, predict: all the outputs."""
    y = _panel()
    f = LogSparseTransformerForecaster(**params)
    if pretrain:
        f.pretrain(_panel(4, seed=1), X=_x(_panel(4, seed=1).index))
    f.fit(y, X=_x(y.index), fh=[1, 2, 3])
    X = _future(f)
    out = {
        "predict": f.predict(X=X),
        "quantiles": f.predict_quantiles(X=X, alpha=[0.05, 0.5, 0.95]),
        "weights": {k: v.clone() for k, v in f.model_.network.state_dict().items()},
    }
    new = pd.concat(
        {
            inst.key[0]: pd.DataFrame(
                {"y": [5.0, 5.5]}, index=f.time_axis_.future(inst.index[-1], 2)
            )
            for inst in f._panel.instances
        },
        names=["instance", "time"],
    )
    f.update(new, X=_x(new.index), update_params=True)
    out["after_update"] = f.predict(X=_future(f))
    return out


def _assert_identical(a, b):
    for name in ("predict", "quantiles", "after_update"):
        assert a[name].index.equals(b[name].index)
        assert np.array_equal(a[name].to_numpy(), b[name].to_numpy()), name
    for key, value in a["weights"].items():
        assert torch.equal(value, b["weights"][key]), key


def test_same_random_state_is_bit_identical():
    _assert_identical(_run(), _run())


def test_global_seeds_do_not_matter():
    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    a = _run(pretrain=False)
    torch.manual_seed(2)
    np.random.seed(2)
    random.seed(2)
    b = _run(pretrain=False)
    _assert_identical(a, b)


def test_other_random_state_differs():
    a = _run(pretrain=False)
    b = _run({**PARAMS, "random_state": 8}, pretrain=False)
    assert not np.array_equal(a["predict"].to_numpy(), b["predict"].to_numpy())


def test_repeated_predictions_are_identical():
    y = _panel()
    f = LogSparseTransformerForecaster(**PARAMS).fit(y, fh=[1, 2])
    first = f.predict_quantiles(fh=[1, 2], alpha=[0.1, 0.9])
    f.predict(fh=[1, 2, 3, 4])  # another horizon in between
    again = f.predict_quantiles(fh=[1, 2], alpha=[0.1, 0.9])
    assert np.array_equal(first.to_numpy(), again.to_numpy())


@pytest.mark.parametrize("random_state", [None, 3])
def test_global_random_states_are_untouched(random_state, tmp_path):
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()
    py_state = random.getstate()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    _run({**PARAMS, "random_state": random_state})
    y = _panel()
    f = LogSparseTransformerForecaster(**{**PARAMS, "random_state": random_state})
    f.fit(y, fh=[1, 2])
    f.predict_interval(coverage=0.9)
    f.save_model(tmp_path)
    LogSparseTransformerForecaster.load_model(tmp_path).predict()
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1])
    assert after[2:] == np_state[2:]
    assert random.getstate() == py_state
    for before, now in zip(cuda_states, torch.cuda.get_rng_state_all(), strict=True):
        assert torch.equal(before, now)
