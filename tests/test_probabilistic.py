"""Probabilistic outputs: quantiles, intervals, variance, distribution, caching."""

import copy
import pickle

import numpy as np
import pandas as pd
import pytest
from conftest import TINY as SHARED
from scipy.stats import norm
from skpro.distributions.empirical import Empirical
from sktime.forecasting.model_evaluation import evaluate
from sktime.performance_metrics.forecasting.probabilistic import (
    CRPS,
    EmpiricalCoverage,
    LogLoss,
    PinballLoss,
)
from sktime.split import ExpandingWindowSplitter
from sktime.utils._testing.hierarchical import _make_hierarchical

from sktime_logsparse import LogSparseTransformerForecaster

# the shared tiny forecaster, a little larger for these tests
TINY = {
    **SHARED,
    "context_length": 12,
    "prediction_length": 4,
    "batch_size": 16,
    "windows_per_epoch": 32,
    "num_samples": 50,
}


def _series(n=60, seed=0, columns=("y",)):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    data = {
        c: 10 + 3 * np.sin(2 * np.pi * t / 24 + i) + rng.normal(0, 0.5, n)
        for i, c in enumerate(columns)
    }
    return pd.DataFrame(data, index=pd.date_range("2020-01-01", periods=n, freq="h"))


def _panel(n_instances=3, n=50):
    frames = {f"s{i}": _series(n, seed=i) for i in range(n_instances)}
    return pd.concat(frames, names=["instance", "time"])


def _hierarchy():
    return _make_hierarchical(
        hierarchy_levels=(2, 2), min_timepoints=30, max_timepoints=40, random_state=0
    )


DATA = {
    "single": _series,
    "multivariate": lambda: _series(columns=("a", "b")),
    "panel": _panel,
    "hierarchical": _hierarchy,
}


@pytest.fixture(scope="module")
def fitted():
    """One tiny forecaster per kind of y, fitted with fh=[1, 2, 3]."""
    out = {}
    for kind, make in DATA.items():
        y = make()
        out[kind] = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2, 3])
    return out


@pytest.mark.parametrize("kind", list(DATA))
def test_quantiles_monotone_in_alpha(fitted, kind):
    f = fitted[kind]
    alpha = [0.02, 0.1, 0.25, 0.5, 0.75, 0.9, 0.98]
    q = f.predict_quantiles(alpha=alpha)
    for var in f.predict().columns:
        values = q[var].to_numpy()
        assert list(q[var].columns) == alpha
        assert (np.diff(values, axis=1) >= 0).all()
        assert (values[:, -1] > values[:, 0]).all()  # paths are not degenerate


def test_median_point_forecast_equals_half_quantile():
    y = _series(columns=("a", "b"))
    f = LogSparseTransformerForecaster(**TINY, point_forecast="median")
    f.fit(y, fh=[1, 2, 3, 4, 5])
    pred = f.predict()
    q = f.predict_quantiles(alpha=[0.5])
    assert list(pred.columns) == ["a", "b"]
    np.testing.assert_allclose(pred.to_numpy(), q.to_numpy())
    # the mean (default) differs from the median on the same paths
    mean = f.clone().set_params(point_forecast="mean").fit(y, fh=[1, 2, 3, 4, 5])
    assert not np.allclose(mean.predict().to_numpy(), pred.to_numpy())
    np.testing.assert_allclose(
        mean.predict().to_numpy(), mean.predict_proba().mean().to_numpy()
    )


def test_point_forecast_is_validated():
    f = LogSparseTransformerForecaster(**TINY, point_forecast="mode")
    with pytest.raises(ValueError, match="point_forecast"):
        f.fit(_series(), fh=[1])


@pytest.mark.parametrize("kind", list(DATA))
def test_predict_var_nonnegative_and_consistent_with_quantiles(fitted, kind):
    f = fitted[kind]
    var = f.predict_var()
    pred = f.predict()
    assert var.index.equals(pred.index)
    assert list(var.columns) == list(pred.columns)
    assert (var.to_numpy() >= 0).all() and np.isfinite(var.to_numpy()).all()
    # the variance of the paths is that of their empirical distribution
    np.testing.assert_allclose(var.to_numpy(), f.predict_proba().var().to_numpy())
    # and matches the spread of the quantiles: for near-Gaussian paths the
    # interquartile range is 1.349 sd; with 50 paths, allow a factor of 2
    q = f.predict_quantiles(alpha=[0.25, 0.75])
    for c in pred.columns:
        iqr = (q[(c, 0.75)] - q[(c, 0.25)]).to_numpy()
        ratio = iqr / (2 * norm.ppf(0.75) * np.sqrt(var[c].to_numpy()))
        assert ((ratio > 0.5) & (ratio < 2)).all()


def test_predict_var_cov_single_series():
    y = _series(columns=("a", "b"))
    f = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2, 3, 4])
    cov = f.predict_var(cov=True)
    var = f.predict_var()
    pred = f.predict()
    assert cov.index.equals(pred.index)
    assert list(cov.columns) == [(c, t) for c in ("a", "b") for t in pred.index]
    for c in ("a", "b"):
        block = cov[c].to_numpy()
        np.testing.assert_allclose(block, block.T, atol=1e-10)
        np.testing.assert_allclose(np.diag(block), var[c].to_numpy())
        assert np.linalg.eigvalsh(block).min() > -1e-8  # positive semi-definite
    # autoregressive paths: consecutive steps are positively correlated
    a = cov["a"].to_numpy()
    assert a[0, 1] > 0


def test_predict_var_cov_panel():
    y = _panel()
    f = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2])
    cov = f.predict_var(cov=True)
    pred = f.predict()
    assert cov.index.equals(pred.index)
    times = pred.loc["s0"].index
    assert list(cov.columns) == [("y", t) for t in times]
    for inst in ("s0", "s1", "s2"):
        block = cov.loc[inst]["y"].to_numpy()
        np.testing.assert_allclose(np.diag(block), f.predict_var().loc[inst, "y"])


@pytest.mark.parametrize("kind", list(DATA))
def test_predict_proba_is_empirical_with_index_and_columns_of_predict(fitted, kind):
    f = fitted[kind]
    pred = f.predict()
    dist = f.predict_proba()
    assert isinstance(dist, Empirical)
    assert dist.index.equals(pred.index)
    assert list(dist.columns) == list(pred.columns)
    assert dist.spl.index.nlevels == pred.index.nlevels + 1
    assert dist.spl.index.get_level_values(0).nunique() == TINY["num_samples"]
    mean = dist.mean()
    assert mean.index.equals(pred.index)
    np.testing.assert_allclose(mean.to_numpy(), pred.to_numpy(), rtol=1e-10)
    if kind == "single":  # its quantiles bracket the median of the paths
        lo, hi = dist.quantile([0.1, 0.9]).to_numpy().T
        q = f.predict_quantiles(alpha=[0.5]).to_numpy().ravel()
        assert ((lo <= q) & (q <= hi)).all()


def test_predict_proba_joint_paths():
    y = _series()
    f = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2, 3])
    joint = f.predict_proba(marginal=False)
    assert isinstance(joint, Empirical) and joint.time_indep is False
    draw = joint.sample(4)
    assert draw.shape == (4 * 3, 1) and np.isfinite(draw.to_numpy()).all()


@pytest.mark.parametrize("kind", list(DATA))
def test_predict_interval_columns(fitted, kind):
    f = fitted[kind]
    pred = f.predict()
    interval = f.predict_interval(coverage=[0.5, 0.9])
    assert interval.index.equals(pred.index)
    expected = [
        (c, cov, side)
        for c in pred.columns
        for cov in (0.5, 0.9)
        for side in ("lower", "upper")
    ]
    assert list(interval.columns) == expected
    q = f.predict_quantiles(alpha=[0.05, 0.25, 0.75, 0.95])
    for c in pred.columns:
        np.testing.assert_allclose(interval[(c, 0.9, "lower")], q[(c, 0.05)])
        np.testing.assert_allclose(interval[(c, 0.9, "upper")], q[(c, 0.95)])
        assert (interval[(c, 0.9, "lower")] <= interval[(c, 0.5, "lower")]).all()
        assert (interval[(c, 0.5, "upper")] <= interval[(c, 0.9, "upper")]).all()


def _count_sampling(monkeypatch, f):
    calls = []
    sample = f._sample_paths

    def counted(fh, X):
        calls.append(1)
        return sample(fh, X)

    monkeypatch.setattr(f, "_sample_paths", counted)
    return calls


def test_paths_are_sampled_once_per_horizon(monkeypatch):
    y = _series(80)
    f = LogSparseTransformerForecaster(**TINY).fit(y.iloc[:70], fh=[1, 2, 3])
    calls = _count_sampling(monkeypatch, f)
    pred = f.predict()
    f.predict_quantiles(alpha=[0.1, 0.9])
    f.predict_interval(coverage=0.8)
    f.predict_var()
    f.predict_proba()
    assert len(calls) == 1
    f.predict(fh=[1, 2])  # another horizon
    assert len(calls) == 2
    pd.testing.assert_frame_equal(f.predict(fh=[1, 2, 3]), pred)  # same paths
    assert len(calls) == 3
    f.update(y.iloc[70:], update_params=False)  # new data: new paths
    moved = f.predict()
    assert len(calls) == 4
    assert moved.index[0] == y.index[-1] + pd.Timedelta("1h")
    f.predict_interval()
    assert len(calls) == 4


def test_cache_is_keyed_on_x(monkeypatch):
    y = _series(60)
    x = pd.DataFrame({"x": np.sin(np.arange(63.0))}, index=_series(63).index)
    f = LogSparseTransformerForecaster(**TINY).fit(y, X=x.iloc[:60], fh=[1, 2, 3])
    calls = _count_sampling(monkeypatch, f)
    future = x.iloc[60:]
    first = f.predict(X=future)
    f.predict_quantiles(X=future.copy(), alpha=[0.5])
    assert len(calls) == 1  # equal X, other object: same key
    other = f.predict(X=future + 5)
    assert len(calls) == 2
    assert not np.allclose(first.to_numpy(), other.to_numpy())


def test_cache_stays_out_of_params_pickles_and_clones():
    y = _panel(2)
    f = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2])
    expected = f.predict_quantiles(alpha=[0.1, 0.9])
    assert f._path_cache.value is not None
    assert not any("cache" in name for name in f.get_params())
    restored = pickle.loads(pickle.dumps(f))
    assert restored._path_cache.value is None  # not pickled
    pd.testing.assert_frame_equal(
        restored.predict_quantiles(alpha=[0.1, 0.9]), expected
    )
    twin = copy.deepcopy(f)
    assert twin._path_cache.value is None
    pd.testing.assert_frame_equal(twin.predict_quantiles(alpha=[0.1, 0.9]), expected)
    fresh = f.clone()
    assert not hasattr(fresh, "_path_cache")
    pd.testing.assert_frame_equal(
        fresh.fit(y, fh=[1, 2]).predict_quantiles(alpha=[0.1, 0.9]), expected
    )


def _ar1_panel(c, phi, sigma, n_series, length, horizon, n_futures, seed):
    """AR(1) series and, after their end, independent continuations of each."""
    rng = np.random.default_rng(seed)
    z = np.empty((n_series, length))
    z[:, 0] = c + rng.normal(0, sigma / np.sqrt(1 - phi**2), n_series)
    for t in range(1, length):
        z[:, t] = c + phi * (z[:, t - 1] - c) + sigma * rng.normal(size=n_series)
    future = np.empty((n_series, n_futures, horizon))
    prev = np.repeat(z[:, -1:], n_futures, axis=1)
    for h in range(horizon):
        prev = c + phi * (prev - c) + sigma * rng.normal(size=prev.shape)
        future[:, :, h] = prev
    names = [f"s{i:02d}" for i in range(n_series)]
    y = pd.concat(
        {name: pd.DataFrame({"z": z[i]}) for i, name in enumerate(names)},
        names=["series", "t"],
    )
    return y, z, future


@pytest.mark.slow
def test_calibrated_on_gaussian_ar1_panel():
    """Coverage and median against the known conditional distribution.

    z_t = c + phi (z_{t-1} - c) + sigma eps_t: given z_T, z_{T+h} is normal with
    median m_h = c + phi^h (z_T - c) and sd s_h = sigma sqrt((1 - phi^2h) /
    (1 - phi^2)). Held-out truth: 64 independent continuations of each series
    from its last value, so that the coverage measures calibration given z_T
    and not the luck of one realised path. Mean scaling: the series revert to
    a level they share, which standard scaling takes out of the inputs (and a
    16-step context estimates poorly).
    """
    c, phi, sigma, S, H = 1.0, 0.8, 1.0, 32, 8
    y, z, future = _ar1_panel(c, phi, sigma, S, 300, H, 64, seed=0)
    f = LogSparseTransformerForecaster(
        context_length=16,
        prediction_length=H,
        d_model=16,
        n_heads=2,
        n_layers=1,
        dropout=0.0,
        lags=None,
        model_kwargs={"time_features": None},
        scaling="mean",
        max_epochs=20,
        batch_size=64,
        windows_per_epoch=512,
        learning_rate=1e-2,
        trainer_kwargs={"lr_schedule": "cosine"},
        early_stopping_patience=None,
        num_samples=400,
        device="cpu",
        random_state=0,
    )
    f.fit(y, fh=np.arange(1, H + 1))
    q = f.predict_quantiles(alpha=[0.1, 0.5, 0.9])
    lower, median, upper = (
        q[("z", a)].to_numpy().reshape(S, H) for a in (0.1, 0.5, 0.9)
    )
    inside = (future >= lower[:, None]) & (future <= upper[:, None])
    assert 0.75 <= inside.mean() <= 0.85

    h = np.arange(1, H + 1)
    true_median = c + phi**h * (z[:, -1:] - c)
    sd = sigma * np.sqrt((1 - phi ** (2 * h)) / (1 - phi**2))
    d = (median - true_median) / sd
    # Tolerance, in conditional sds: the Monte Carlo sd of the median of 400
    # draws is sqrt(pi / 2) / 20 = 0.063; an offset d raises the expected
    # absolute error of the point forecast by (2 pdf(d) + d (2 cdf(d) - 1)) /
    # (2 pdf(0)) - 1, i.e. 3 % at d = 0.25, so a mean |d| <= 0.25 is within a
    # few percent of the true conditional median's accuracy; max |d| <= 1
    # rules out any single forecast a whole sd off.
    assert np.abs(d).mean() <= 0.25
    assert np.abs(d).max() <= 1.0
    # and the forecasts use z_T: much closer than the unconditional median c
    naive = (c - true_median) / sd
    assert np.abs(d[:, 0]).mean() < 0.5 * np.abs(naive[:, 0]).mean()


def test_evaluate_with_probabilistic_metrics():
    y = _series(72)
    cv = ExpandingWindowSplitter(initial_window=48, step_length=8, fh=[1, 2, 3])
    metrics = [PinballLoss(), EmpiricalCoverage(coverage=0.8), CRPS()]
    result = evaluate(LogSparseTransformerForecaster(**TINY), cv, y, scoring=metrics)
    assert len(result) == 3
    for name in ("PinballLoss", "EmpiricalCoverage", "CRPS"):
        scores = result[f"test_{name}"].to_numpy(dtype=float)
        assert np.isfinite(scores).all()
    coverage = result["test_EmpiricalCoverage"]
    assert ((coverage >= 0) & (coverage <= 1)).all()
    assert (result["test_CRPS"] > 0).all()


def test_evaluate_on_a_panel_with_log_loss():
    y = _panel(2, 48)
    cv = ExpandingWindowSplitter(initial_window=40, step_length=4, fh=[1, 2])
    metrics = [CRPS(), LogLoss()]
    result = evaluate(LogSparseTransformerForecaster(**TINY), cv, y, scoring=metrics)
    assert np.isfinite(result["test_CRPS"].to_numpy(dtype=float)).all()
    # an empirical distribution has no density: the log loss is +inf, not NaN
    log_loss = result["test_LogLoss"].to_numpy(dtype=float)
    assert not np.isnan(log_loss).any() and (log_loss > 0).all()
