"""Calibrated intervals: the widening factors and the forecaster's use of them."""

import numpy as np
import pandas as pd
import pytest
from conftest import TINY, series

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse._calibration import (
    GRID,
    LEVELS,
    MIN_TOTAL,
    best_factor,
    fit_factors,
    needed_factors,
    step_groups,
    widen,
)


def central(paths: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of the central ``level`` interval of paths ``(B, n, P)``."""
    lo, hi = np.quantile(paths, [(1 - level) / 2, (1 + level) / 2], axis=1)
    return lo, hi


def test_needed_factor_is_where_the_widened_interval_starts_to_cover():
    rng = np.random.default_rng(0)
    paths = rng.normal(size=(30, 40, 5)) * rng.uniform(0.5, 2, (30, 1, 5))
    target = rng.normal(size=(30, 5)) * 1.7
    need = needed_factors(paths, target)
    for i, level in enumerate(LEVELS):
        for c in (0.6, 1.0, 1.3, 2.5):
            lo, hi = central(widen(paths, np.full(5, c)), level)
            covered = (lo <= target) & (target <= hi)
            # brute force on the widened paths, against the needed factors
            assert np.array_equal(covered, need[i] <= c), (level, c)


def test_step_groups_pool_neighbours_until_enough_points():
    assert step_groups(np.array([250, 250, 250])) == [
        slice(0, 1),
        slice(1, 2),
        slice(2, 3),
    ]
    # a short last group joins the one before it
    assert step_groups(np.full(5, 100)) == [slice(0, 2), slice(2, 5)]
    assert step_groups(np.full(4, 10)) == [slice(0, 4)]


@pytest.mark.parametrize("truth", [0.5, 1.0, 1.6])
def test_factors_recover_the_missing_spread(truth):
    # forecasts N(0, 1) of values N(0, truth^2): with many paths the factor
    # is about truth
    rng = np.random.default_rng(1)
    B, P = 2000, 3
    paths = rng.normal(size=(B, 1000, P))
    target = rng.normal(size=(B, P)) * truth
    factors = fit_factors(paths, target, np.ones((B, P), bool))
    assert factors.shape == (P,)
    np.testing.assert_allclose(factors, truth, rtol=0.06)
    # with 100 paths the outer empirical quantiles fall short of the true
    # ones, and the factor makes up for that too: the intervals cover as
    # often as they claim
    paths = paths[:, :100]
    wide = widen(paths, fit_factors(paths, target, np.ones((B, P), bool)))
    for level in LEVELS:
        lo, hi = central(wide, level)
        assert abs(((lo <= target) & (target <= hi)).mean() - level) < 0.01


def test_factors_differ_per_step_on_a_panel_and_are_shared_on_a_series():
    rng = np.random.default_rng(2)
    truth = np.array([0.8, 1.0, 1.5, 2.0])
    paths = rng.normal(size=(1000, 1000, 4))
    target = rng.normal(size=(1000, 4)) * truth
    np.testing.assert_allclose(
        fit_factors(paths, target, np.ones((1000, 4), bool)), truth, rtol=0.1
    )
    # one series: 48 points, one factor for all steps
    paths = rng.normal(size=(1, 100, 48))
    target = rng.normal(size=(1, 48)) * 1.5
    factors = fit_factors(paths, target, np.ones((1, 48), bool))
    assert len(set(factors.tolist())) == 1


def test_missing_and_too_few_points():
    rng = np.random.default_rng(3)
    paths = rng.normal(size=(4, 20, 8))
    target = rng.normal(size=(4, 8))
    observed = np.ones((4, 8), bool)
    observed[:, : 8 - MIN_TOTAL // 4 + 1] = False  # fewer than MIN_TOTAL points
    assert fit_factors(paths, target, observed) is None
    # a missing target never counts, whatever value stands in for it
    observed = np.ones((4, 8), bool)
    observed[0] = False
    a = fit_factors(paths, np.where(observed, target, 1e9), observed)
    b = fit_factors(paths, np.where(observed, target, -1e9), observed)
    np.testing.assert_array_equal(a, b)


def test_best_factor_takes_the_middle_of_equally_good_factors():
    # one point needing factor 1: every factor >= 1 covers it at every level
    need = np.ones((len(LEVELS), 1))
    assert best_factor(need) >= 1.0
    assert best_factor(np.zeros((len(LEVELS), 1))) == pytest.approx(
        GRID[len(GRID) // 2]
    )


def test_widen_keeps_median_and_order_and_counts():
    rng = np.random.default_rng(4)
    paths = rng.normal(size=(3, 20, 6))
    factors = np.array([0.5, 1.0, 2.0])  # steps past 3 use the last factor
    wide = widen(paths, factors)
    np.testing.assert_allclose(np.median(wide, 1), np.median(paths, 1))
    assert np.array_equal(np.argsort(wide, 1), np.argsort(paths, 1))
    dev = wide[:, 0] - np.median(wide, 1)  # n even: no path is a median
    ratio = dev / (paths[:, 0] - np.median(paths, 1))
    np.testing.assert_allclose(ratio, np.tile([0.5, 1, 2, 2, 2, 2], (3, 1)))
    counts = widen(np.abs(np.round(paths * 3)), factors, counts=True)
    assert (counts >= 0).all() and np.array_equal(counts, np.round(counts))
    assert widen(paths, None) is paths


# ------------------------------------------------------------- forecaster


def panel(n_series: int = 12, n: int = 120) -> pd.DataFrame:
    frames = {
        f"s{i}": series(n, seed=i, level=10 + i, scale=1 + i / 5)
        for i in range(n_series)
    }
    return pd.concat(frames, names=["id", "time"])


@pytest.fixture(scope="module")
def fitted():
    f = LogSparseTransformerForecaster(
        **{
            **TINY,
            **dict(context_length=24, prediction_length=4, max_epochs=2),
            **dict(batch_size=16, windows_per_epoch=64, num_samples=40, n_threads=1),
        }
    )
    y = panel()
    return f.fit(y.groupby(level=0).head(112), fh=[1, 2, 3, 4]), y


def test_forecaster_is_calibrated_by_default(fitted):
    f, _ = fitted
    # 12 series x 4 steps of validation: one factor for all steps
    assert f.calibration_.shape == (4,)
    assert len(set(f.calibration_.tolist())) == 1
    assert GRID[0] <= f.calibration_[0] <= GRID[-1]


def test_every_output_comes_from_the_widened_paths(fitted):
    f, _ = fitted
    raw = f.clone().set_params(trainer_kwargs={"calibration": None})
    raw.fit(fitted[1].groupby(level=0).head(112), fh=[1, 2, 3, 4])
    assert raw.calibration_ is None
    s = f.calibration_[0]
    # same weights and noise: the widened paths are the raw ones moved
    med_f, med_r = (x.predict_quantiles(alpha=[0.5]) for x in (f, raw))
    np.testing.assert_allclose(med_f.values, med_r.values)
    q_f, q_r = (x.predict_quantiles(alpha=[0.1, 0.9]) for x in (f, raw))
    width_f = q_f.values[:, 1] - q_f.values[:, 0]
    width_r = q_r.values[:, 1] - q_r.values[:, 0]
    np.testing.assert_allclose(width_f, s * width_r, rtol=1e-9)
    np.testing.assert_allclose(f.predict_var().values, s**2 * raw.predict_var().values)
    interval = f.predict_interval(coverage=0.8)
    np.testing.assert_allclose(interval.values, q_f.values)
    proba_f, proba_r = f.predict_proba(), raw.predict_proba()
    np.testing.assert_allclose(proba_f.mean().values, f.predict().values)
    np.testing.assert_allclose(proba_f.var().values, s**2 * proba_r.var().values)


def test_calibration_after_update_and_save(fitted, tmp_path):
    f, y = fitted
    head, new = y.groupby(level=0).head(112), y.groupby(level=0).tail(8)
    kept = f.clone().fit(head, fh=[1, 2, 3, 4]).update(new, update_params=False)
    np.testing.assert_array_equal(kept.calibration_, f.calibration_)
    # an update that trains calibrates again, on the newest points
    g = f.clone().fit(head, fh=[1, 2, 3, 4]).update(new, update_params=True)
    assert g.calibration_.shape == (4,)
    g.save_model(tmp_path / "m")
    h = LogSparseTransformerForecaster.load_model(tmp_path / "m")
    np.testing.assert_array_equal(h.calibration_, g.calibration_)
    pd.testing.assert_frame_equal(h.predict_interval(), g.predict_interval())


@pytest.mark.parametrize(
    "bad", [np.full(4, 100.0), np.zeros(4), np.ones((2, 2)), np.ones(4, np.float32)]
)
def test_crafted_factors_are_refused(fitted, tmp_path, bad):
    import json

    import safetensors.numpy

    f, _ = fitted
    f.save_model(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "forecaster.json").read_text())
    key = config["state"]["calibration_"]["key"]
    arrays = safetensors.numpy.load_file(tmp_path / "m" / "arrays.safetensors")
    arrays[key] = bad
    safetensors.numpy.save_file(arrays, tmp_path / "m" / "arrays.safetensors")
    config.pop("checksums")
    (tmp_path / "m" / "forecaster.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="calibration_"):
        LogSparseTransformerForecaster.load_model(tmp_path / "m")
