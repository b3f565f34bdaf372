"""Behaviour of LogSparseTransformerForecaster beyond sktime's own suite."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY as SHARED
from sktime.datatypes import check_is_mtype
from sktime.utils._testing.hierarchical import _make_hierarchical

from sktime_logsparse import LogSparseTransformerForecaster

# the shared tiny forecaster, a little larger for these tests
TINY = {
    **SHARED,
    "context_length": 12,
    "prediction_length": 4,
    "d_model": 16,
    "n_layers": 2,
    "max_epochs": 2,
    "batch_size": 16,
    "windows_per_epoch": 64,
    "num_samples": 20,
}


def _series(n=60, freq="h", seed=0, columns=("y",)):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    data = {
        c: 10 + 3 * np.sin(2 * np.pi * t / 24 + i) + rng.normal(0, 0.3, n)
        for i, c in enumerate(columns)
    }
    return pd.DataFrame(data, index=pd.date_range("2020-01-01", periods=n, freq=freq))


def _panel(n_instances=3, n=50, seed=0):
    frames = {f"s{i}": _series(n, seed=seed + i) for i in range(n_instances)}
    return pd.concat(frames, names=["instance", "time"])


def test_single_series_point_and_quantiles():
    y = _series()
    f = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2, 3])
    pred = f.predict()
    assert list(pred.index) == list(pd.date_range(y.index[-1], periods=4, freq="h")[1:])
    assert list(pred.columns) == ["y"]
    assert np.isfinite(pred.to_numpy()).all()
    q = f.predict_quantiles(alpha=[0.1, 0.5, 0.9])
    assert list(q.columns) == [("y", 0.1), ("y", 0.5), ("y", 0.9)]
    assert (q[("y", 0.1)] <= q[("y", 0.9)]).all()
    interval = f.predict_interval(coverage=0.8)
    assert interval.shape == (3, 2)


def test_horizon_longer_than_training_horizon():
    y = _series()
    f = LogSparseTransformerForecaster(**TINY).fit(y)
    pred = f.predict(fh=np.arange(1, 11))  # 10 steps, prediction_length 4
    assert len(pred) == 10 and np.isfinite(pred.to_numpy()).all()


def test_multivariate_columns_are_series_of_one_model():
    y = _series(columns=("a", "b", "c"))
    f = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2])
    pred = f.predict()
    assert list(pred.columns) == ["a", "b", "c"]
    assert f.model_.config.n_series == 3


def test_panel_is_fitted_globally():
    y = _panel()
    f = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2, 3])
    assert not f.is_vectorized if hasattr(f, "is_vectorized") else True
    assert f.model_.config.n_series == 3
    pred = f.predict()
    assert check_is_mtype(pred, "pd-multiindex")
    assert list(pred.index.get_level_values(0).unique()) == ["s0", "s1", "s2"]
    assert pred.index.names == ["instance", "time"]
    q = f.predict_quantiles(alpha=[0.25, 0.75])
    assert q.index.equals(pred.index)


def test_hierarchical_unequal_lengths():
    y = _make_hierarchical(
        hierarchy_levels=(2, 2), min_timepoints=20, max_timepoints=30, random_state=0
    )
    f = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2])
    pred = f.predict()
    assert check_is_mtype(pred, "pd_multiindex_hier")
    assert len(pred) == 4 * 2
    assert np.isfinite(pred.to_numpy()).all()


def test_pretrain_then_zero_shot_fit_on_unseen_series():
    panel = _panel(4)
    f = LogSparseTransformerForecaster(**TINY)
    f.pretrain(panel)
    weights = {
        k: v.clone() for k, v in f.pretrained_model_.network.state_dict().items()
    }
    new = _series(seed=42)
    f.fit(new, fh=[1, 2])
    assert f._panel.ids.tolist() == [-1]  # unseen: no series embedding
    for k, v in f.model_.network.state_dict().items():
        assert torch.equal(v, weights[k])
    assert np.isfinite(f.predict().to_numpy()).all()


def test_refit_after_fine_tune_starts_from_pretrained_weights():
    f = LogSparseTransformerForecaster(**{**TINY, "fine_tune_epochs": 2})
    f.pretrain(_panel(3))
    pre = {k: v.clone() for k, v in f.pretrained_model_.network.state_dict().items()}
    y = _series(seed=7)
    f.fit(y, fh=[1, 2])
    first = f.predict()
    tuned = f.model_.network.state_dict()
    assert any(not torch.equal(tuned[k], pre[k]) for k in pre)
    for k, v in f.pretrained_model_.network.state_dict().items():
        assert torch.equal(v, pre[k])  # fine-tuning left the pretrained net alone
    f.fit(y, fh=[1, 2])
    pd.testing.assert_frame_equal(f.predict(), first)


def test_update_without_and_with_params():
    y = _series(80)
    train, new = y.iloc[:70], y.iloc[70:]
    f = LogSparseTransformerForecaster(**TINY).fit(train, fh=[1, 2])
    before = {k: v.clone() for k, v in f.model_.network.state_dict().items()}
    f.update(new, update_params=False)
    assert f.cutoff[0] == y.index[-1]
    pred = f.predict()
    assert pred.index[0] == y.index[-1] + pd.Timedelta("1h")
    for k, v in f.model_.network.state_dict().items():
        assert torch.equal(v, before[k])
    f.update(_series(90).iloc[80:], update_params=True)
    assert any(
        not torch.equal(v, before[k]) for k, v in f.model_.network.state_dict().items()
    )


def test_exogenous_x_helps_when_it_drives_the_target():
    rng = np.random.default_rng(0)
    n, h = 400, 8
    index = pd.date_range("2021-01-01", periods=n + h, freq="D")
    x = pd.DataFrame({"x": rng.normal(size=n + h)}, index=index)
    y = pd.DataFrame(
        {"y": 5 + 2 * x["x"].to_numpy() + rng.normal(0, 0.1, n + h)}, index
    )
    params = {**TINY, "max_epochs": 15, "windows_per_epoch": 256, "context_length": 16}
    params["prediction_length"] = h
    fh = np.arange(1, h + 1)
    with_x = LogSparseTransformerForecaster(**params).fit(y[:n], X=x[:n], fh=fh)
    without = LogSparseTransformerForecaster(**params).fit(y[:n], fh=fh)
    err_x = np.abs(with_x.predict(X=x[n:]).to_numpy() - y[n:].to_numpy()).mean()
    err = np.abs(without.predict().to_numpy() - y[n:].to_numpy()).mean()
    assert err_x < 0.6 * err


def test_predict_needs_x_when_fit_had_x():
    y = _series()
    x = pd.DataFrame({"x": np.arange(len(y), dtype=float)}, index=y.index)
    f = LogSparseTransformerForecaster(**TINY).fit(y, X=x, fh=[1, 2])
    with pytest.raises(ValueError, match="X is required"):
        f.predict()
    short = pd.DataFrame(
        {"x": [1.0]}, index=pd.date_range(y.index[-1], periods=2, freq="h")[1:]
    )
    with pytest.raises(ValueError, match="does not cover"):
        f.predict(X=short)


def test_missing_values_in_y():
    y = _series(80)
    y.iloc[[3, 10, 11, 12, 40, 79]] = np.nan
    f = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2, 3])
    assert np.isfinite(f.predict().to_numpy()).all()


def test_same_seed_same_predictions_other_seed_different():
    y = _series()
    a = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2, 3]).predict()
    b = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2, 3]).predict()
    c = LogSparseTransformerForecaster(**{**TINY, "random_state": 1})
    c = c.fit(y, fh=[1, 2, 3]).predict()
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a.to_numpy(), c.to_numpy())


def test_global_rng_state_untouched():
    y = _series()
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()
    f = LogSparseTransformerForecaster(**{**TINY, "random_state": None})
    f.fit(y, fh=[1, 2]).predict_quantiles(alpha=[0.5])
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1])


def test_pickle_and_sktime_save_load_round_trip(tmp_path):
    from sktime.base import load

    y = _panel(2)
    f = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2])
    expected = f.predict()
    clone = pickle.loads(pickle.dumps(f))
    pd.testing.assert_frame_equal(clone.predict(), expected)
    path = tmp_path / "model"
    f.save(str(path))
    loaded = load(str(path))
    pd.testing.assert_frame_equal(loaded.predict(), expected)


def test_panel_forecasts_keep_the_instance_order_of_y():
    """As sktime's per-series forecasters: rows line up with a test panel."""
    frames = {k: _series(50, seed=i) for i, k in enumerate(["s2", "s10", "s1"])}
    y = pd.concat(frames, names=["instance", "time"])
    f = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2])
    for out in (f.predict(), f.predict_quantiles(alpha=[0.5]), f.predict_var()):
        assert out.index.get_level_values(0).unique().tolist() == ["s2", "s10", "s1"]


def test_magnitude_factor_is_fixed_at_fit():
    """Small-valued series: update must not change the factor trained with."""
    y = _series(60) * 1e-3  # mean |z| ~ 0.01: factor 1e-2
    f = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2])
    factor = f._panel.factors[0].copy()
    later = _series(120).iloc[60:] * 1e-1  # the level grows 100-fold
    f.update(later, update_params=False)
    np.testing.assert_array_equal(f._panel.factors[0], factor)
    assert np.isfinite(f.predict().to_numpy()).all()


def test_linear_ar_term_per_likelihood_and_kept_when_fine_tuning():
    y = _series(80)
    f = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2])
    assert f.lags_ == (2, 23, 24, 25, 48)  # 80 h: no weekly cycle covered
    skip = f.model_.network.skip
    assert skip is not None and skip.weight.abs().sum() > 0  # least squares
    counts = pd.DataFrame({"y": np.random.default_rng(0).poisson(5.0, 80)}, y.index)
    nb = LogSparseTransformerForecaster(**TINY, likelihood="negative_binomial")
    assert nb.fit(counts, fh=[1]).model_.network.skip is None  # no location
    plain = LogSparseTransformerForecaster(
        **TINY, model_kwargs={"linear_ar": False}
    ).fit(y, fh=[1])
    assert plain.model_.network.skip is None
    # fine-tuning a pretrained model keeps its linear term
    g = LogSparseTransformerForecaster(**{**TINY, "fine_tune_epochs": 1})
    g.pretrain(_panel(3, n=80))
    before = g.pretrained_model_.network.skip.weight.clone()
    g.fit(_series(80, seed=5), fh=[1])
    assert torch.equal(g.model_.network.skip.weight, before)


def test_series_embedding_off_leaves_no_id_table_through_save_update_pretrain(
    tmp_path,
):
    y = _panel(3, n=60)
    early = y[y.index.get_level_values("time") < y.index.get_level_values(1)[50]]
    later = y.drop(early.index)
    off = {**TINY, "model_kwargs": {"series_embedding": False}}
    f = LogSparseTransformerForecaster(**off).fit(early, fh=[1, 2])
    assert f.model_.config.n_series == 0 and f.model_.network.series_emb is None
    np.testing.assert_array_equal(f._panel.ids, [-1, -1, -1])
    f.save_model(tmp_path / "m")
    g = LogSparseTransformerForecaster.load_model(tmp_path / "m")
    pd.testing.assert_frame_equal(g.predict(), f.predict())
    f.update(later, update_params=True)  # a new point for every series
    np.testing.assert_array_equal(f._panel.ids, [-1, -1, -1])
    on = LogSparseTransformerForecaster(**TINY).fit(early, fh=[1, 2])
    assert on.model_.config.n_series == 3
    np.testing.assert_array_equal(on._panel.ids, [0, 1, 2])
    # fitted after a pretrain without ids: the known series get none either
    p = LogSparseTransformerForecaster(**{**off, "fine_tune_epochs": 1})
    p.pretrain(early)
    assert p.series_ids_ == {}
    p.save_model(tmp_path / "p")  # loads: no ids to number
    p = LogSparseTransformerForecaster.load_model(tmp_path / "p").fit(early, fh=[1])
    np.testing.assert_array_equal(p._panel.ids, [-1, -1, -1])


def test_standard_scaling_follows_a_series_whose_level_dwarfs_its_variation():
    # level 1e4, daily cycle of amplitude 3: mean scaling leaves the cycle at
    # 3e-4 of the inputs; standard scaling gives it unit size
    t = np.arange(24 * 14)
    values = 1e4 + 3 * np.sin(2 * np.pi * t / 24)
    y = pd.DataFrame(
        {"y": values}, pd.date_range("2020-01-01", periods=len(t), freq="h")
    )
    fit, truth = y.iloc[:-24], y.iloc[-24:, 0].to_numpy()
    f = LogSparseTransformerForecaster(
        **{**TINY, "context_length": 48, "prediction_length": 24},
        scaling="standard",
    )
    pred = f.fit(fit, fh=np.arange(1, 25)).predict().iloc[:, 0].to_numpy()
    # a tenth of the amplitude (mean scaling, same settings: about 1000)
    assert np.abs(pred - truth).mean() < 0.3
    assert f.model_.layout.scaling == "standard"
    with pytest.raises(ValueError, match="scaling='standard'"):
        LogSparseTransformerForecaster(
            scaling="standard", likelihood="negative_binomial"
        ).fit(y, fh=[1])
