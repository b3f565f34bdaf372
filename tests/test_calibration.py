"""Calibrated intervals: the widening factors and the forecaster's use of them."""

import numpy as np
import pandas as pd
import pytest
from conftest import TINY, series

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse._calibration import (
    FEW_LEVELS,
    GRID,
    GROUP_POINTS,
    HIGH,
    KNOTS,
    LOW,
    MAX_GROUPS,
    MIN_POINTS,
    MIN_TOTAL,
    GroupedFactors,
    best_factor,
    conformal_levels,
    fit_factors,
    needed_factors,
    point_ratios,
    relative_spread,
    step_groups,
    widen,
)


def central(paths: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of the central ``level`` interval of paths ``(B, n, P)``."""
    lo, hi = np.quantile(paths, [(1 - level) / 2, (1 + level) / 2], axis=1)
    return lo, hi


def below(paths: np.ndarray, target: np.ndarray, a: float) -> float:
    """Share of the targets ``(B, P)`` at or below the paths' ``a`` quantile."""
    return float((target <= np.quantile(paths, a, axis=1)).mean())


def test_ratio_tells_where_the_moved_quantile_passes_the_target():
    rng = np.random.default_rng(0)
    paths = rng.normal(size=(30, 41, 5)) * rng.uniform(0.5, 2, (30, 1, 5))
    target = rng.normal(size=(30, 5)) * 1.7
    ratios, _, ok = point_ratios(paths, target, np.ones((30, 5), bool))
    assert ok.all()
    m = np.median(paths, 1)
    for i, a in enumerate(KNOTS):
        q = np.quantile(paths, a, axis=1)
        for s in (0.6, 1.0, 1.3, 2.5):
            # brute force: the knot's quantile moved by s, against the ratios
            held = target <= m + s * (q - m)
            expected = ratios[i] >= s if a < 0.5 else ratios[i] <= s
            assert np.array_equal(held, expected), (a, s)


def test_needed_factor_is_where_the_widened_interval_starts_to_cover():
    rng = np.random.default_rng(0)
    paths = rng.normal(size=(30, 40, 5)) * rng.uniform(0.5, 2, (30, 1, 5))
    target = rng.normal(size=(30, 5)) * 1.7
    need = needed_factors(paths, target)
    for i, level in enumerate(FEW_LEVELS):
        for c in (0.6, 1.0, 1.3, 2.5):
            lo, hi = central(widen(paths, np.full(5, c)), level)
            covered = (lo <= target) & (target <= hi)
            # brute force on the widened paths, against the needed factors
            assert np.array_equal(covered, need[i] <= c), (level, c)


def test_best_factor_takes_the_middle_of_equally_good_factors():
    # one point needing factor 1: every factor >= 1 covers it at every level
    need = np.ones((len(FEW_LEVELS), 1))
    assert best_factor(need) >= 1.0
    # half the points covered from factor 1 until 2: the middle of that run
    run = np.flatnonzero((GRID >= 1) & (GRID < 2))
    halves = np.array([[1.0, 2.0], [1.0, 2.0]])
    assert best_factor(halves, (0.5, 0.5)) == GRID[run[len(run) // 2]]
    # every factor covers every point, up to the top of the grid: the least
    assert best_factor(np.zeros((len(FEW_LEVELS), 1))) == GRID[0]


def test_step_groups_pool_neighbours_until_enough_points():
    assert step_groups(np.array([250, 250, 250]), 200) == [
        slice(0, 1),
        slice(1, 2),
        slice(2, 3),
    ]
    # a short last group joins the one before it
    assert step_groups(np.full(5, 100), 200) == [slice(0, 2), slice(2, 5)]
    assert step_groups(np.full(4, 10)) == [slice(0, 4)]


@pytest.mark.parametrize("truth", [0.5, 1.0, 1.6])
def test_factors_recover_the_missing_spread(truth):
    # forecasts N(0, 1) of values N(0, truth^2): with many paths every
    # knot's factor is about truth
    rng = np.random.default_rng(1)
    B, P = 6000, 3
    paths = rng.normal(size=(B, 400, P))
    target = rng.normal(size=(B, P)) * truth
    # one group: every forecast is alike here (groups: see below)
    factors = fit_factors(paths, target, np.ones((B, P), bool), max_groups=1)
    assert factors.shape == (len(KNOTS), P)
    np.testing.assert_allclose(factors, truth, rtol=0.08)
    # with 100 paths the outer empirical quantiles fall short of the true
    # ones, and the factors make up for that too: the quantiles hold
    paths = paths[:, :100]
    wide = widen(paths, fit_factors(paths, target, np.ones((B, P), bool)))
    for a in KNOTS:
        assert abs(below(wide, target, a) - a) < 0.012, a


def test_each_tail_gets_its_own_factors():
    # values spread twice as far below the median as the forecasts, as far
    # above it: the lower knots get about 2, the upper ones about 1
    rng = np.random.default_rng(5)
    paths = rng.normal(size=(3000, 400, 2))
    z = rng.normal(size=(3000, 2))
    target = np.where(z < 0, 2 * z, z)
    factors = fit_factors(paths, target, np.ones((3000, 2), bool))
    lower = np.array(KNOTS) < 0.5
    np.testing.assert_allclose(factors[lower], 2.0, rtol=0.1)
    np.testing.assert_allclose(factors[~lower], 1.0, rtol=0.1)
    wide = widen(paths, factors)
    for a in (0.1, 0.25, 0.75, 0.9):
        assert abs(below(wide, target, a) - a) < 0.015, a


def test_relative_spread_is_the_first_steps_range_over_its_median():
    # 11 paths 0..10 (+ level): quantiles 0.1 / 0.5 / 0.9 are 1, 5, 9 above it
    paths = np.arange(11.0)[None, :, None] + np.array([10.0, -5.0, 0.0])[:, None, None]
    paths = np.concatenate([paths, np.full((3, 11, 1), 7.0)], axis=2)  # step 2
    np.testing.assert_allclose(relative_spread(paths), [8 / 15, np.inf, 8 / 5])
    assert relative_spread(np.zeros((2, 4, 3, 5))).shape == (2, 4)


def test_groups_of_forecasts_by_spread_get_their_own_factors():
    # sharp forecasts (spread 0.1 of their level) miss by twice their spread,
    # wide ones (spread 1) by as much as they say: one set of factors for all
    # would widen the wide ones too much and the sharp ones too little
    rng = np.random.default_rng(7)
    B, n, P = 5400, 200, 6  # an even B: the middle edge falls between the kinds
    sharp = np.arange(B) % 2 == 0
    sd = np.where(sharp, 0.1, 1.0)[:, None]
    paths = 10 + rng.normal(size=(B, n, P)) * sd[:, :, None] * 10 / 1.2816
    target = (
        10 + rng.normal(size=(B, P)) * sd * 10 / 1.2816 * np.where(sharp, 2, 1)[:, None]
    )
    observed = np.ones((B, P), bool)
    assert not isinstance(fit_factors(paths, target, observed), GroupedFactors)
    grouped = fit_factors(paths, target, observed, max_groups=MAX_GROUPS)
    assert isinstance(grouped, GroupedFactors)
    assert grouped.factors.shape == (MAX_GROUPS, len(KNOTS), P)
    assert len(grouped.edges) == MAX_GROUPS - 1
    assert (np.diff(grouped.edges) > 0).all()
    groups = grouped.groups(paths)
    assert set(groups[sharp]) == {0, 1} and set(groups[~sharp]) == {2, 3}
    # (the outer knots also make up for 200 paths' short outer quantiles)
    np.testing.assert_allclose(grouped.factors[:2], 2.0, rtol=0.15)
    np.testing.assert_allclose(grouped.factors[2:], 1.0, rtol=0.15)
    # each forecast is moved by its group's factors
    wide = widen(paths, grouped)
    for g in range(MAX_GROUPS):
        rows = groups == g
        np.testing.assert_array_equal(
            wide[rows], widen(paths[rows], grouped.factors[g])
        )
    for part in (sharp, ~sharp):
        for a in (0.025, 0.1, 0.9, 0.975):
            assert abs(below(wide[part], target[part], a) - a) < 0.01, a
    # paths (series, columns, n, H) are grouped per forecast too
    np.testing.assert_array_equal(
        widen(paths.reshape(2, B // 2, n, P), grouped), wide.reshape(2, B // 2, n, P)
    )
    # one set of factors misses both kinds
    one = widen(paths, fit_factors(paths, target, observed, max_groups=1))
    assert below(one[sharp], target[sharp], 0.025) > 0.05
    assert below(one[~sharp], target[~sharp], 0.025) < 0.01
    # too few points for two groups of GROUP_POINTS: one set for all
    few = 2 * GROUP_POINTS // P - 1  # rows
    assert not isinstance(
        fit_factors(paths[:few], target[:few], observed[:few], max_groups=4),
        GroupedFactors,
    )
    # equal spreads cannot be split: one set for all
    same = np.broadcast_to(paths[:1], paths.shape)
    assert not isinstance(
        fit_factors(same, target, observed, max_groups=4), GroupedFactors
    )


def test_factors_differ_per_step_on_a_panel_and_are_shared_on_a_series():
    rng = np.random.default_rng(2)
    truth = np.array([0.8, 1.0, 1.5, 2.0])
    paths = rng.normal(size=(1000, 1000, 4))
    target = rng.normal(size=(1000, 4)) * truth
    observed = np.ones((1000, 4), bool)
    np.testing.assert_allclose(
        fit_factors(paths, target, observed, group_points=1000, max_groups=1),
        np.tile(truth, (len(KNOTS), 1)),
        rtol=0.12,
    )
    # by default, steps are pooled until a group holds GROUP_POINTS points
    pooled = fit_factors(paths, target, observed)
    assert GROUP_POINTS == 4000 and len(set(pooled[0].tolist())) == 1
    # one series: 48 points, too few to size the tails apart: one factor
    # for every knot and step, matched to the central FEW_LEVELS intervals
    paths = rng.normal(size=(1, 100, 48))
    target = rng.normal(size=(1, 48)) * 1.5
    factors = fit_factors(paths, target, np.ones((1, 48), bool))
    assert factors.shape == (len(KNOTS), 48)
    assert len(set(factors.ravel().tolist())) == 1
    need = needed_factors(paths, target)[:, 0]
    # at split conformal's finite-sample levels of 48 points: 47/48 and 1
    assert conformal_levels(FEW_LEVELS, 48) == (47 / 48, 1.0)
    assert conformal_levels(FEW_LEVELS, 216) == (207 / 216, 213 / 216)
    assert factors[0, 0] == best_factor(need, (47 / 48, 1.0))
    assert ((factors >= LOW) & (factors <= HIGH)).all()
    assert 48 < MIN_POINTS


def test_a_series_forecast_past_its_windows_gets_a_factor_per_span():
    # 9 windows of 4 steps forecast 12 steps: the model's spread falls short
    # by 1.5x in the windows' own steps, 3x in the next 4, and the last 4
    # steps are reached by too few windows to be sized: they keep the 3x
    rng = np.random.default_rng(5)
    paths = rng.normal(size=(9, 400, 12))
    observed = np.zeros((9, 12), bool)
    for j in range(9):
        observed[j, : min(12, 4 * (j + 1))] = True
    observed[:, 8:] &= np.arange(9)[:, None] >= 8  # one window reaches past 8
    target = rng.normal(size=(9, 12)) * np.repeat([1.5, 3.0, 9.0], 4)
    factors = fit_factors(paths, target, observed, period=4)
    assert factors.shape == (len(KNOTS), 12)
    spans = [factors[:, a : a + 4] for a in (0, 4, 8)]
    assert all(len(set(s.ravel().tolist())) == 1 for s in spans)
    # (on 36 and 32 points split conformal's levels ask for nearly all)
    assert 1.5 < spans[0][0, 0] < 3.0 and 3.0 < spans[1][0, 0] < 6.0
    assert spans[2][0, 0] == spans[1][0, 0]
    # a later span that seems to need less keeps the factor before
    target[:, 8:] /= 6
    observed[:, 8:] = np.arange(9)[:, None] >= 2
    dipped = fit_factors(paths, target, observed, period=4)
    assert dipped[0, 8] == dipped[0, 4] == factors[0, 4]
    # only the 36 points of the windows' own steps count towards MIN_POINTS
    wide = rng.normal(size=(120, 20, 12))
    many = fit_factors(wide, wide[:, 0] * 2, np.ones((120, 12), bool), period=4)
    assert 120 * 4 > MIN_POINTS and len(set(many[:, 0].tolist())) > 1
    few = np.zeros((120, 12), bool)
    few[:80] = True
    some = fit_factors(wide, wide[:, 0] * 2, few, period=4)
    assert 80 * 4 < MIN_POINTS < 80 * 12 and len(set(some[:, 0].tolist())) == 1


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
    # nor does a window whose paths are not finite
    paths[1, 3] = np.nan
    c = fit_factors(paths, target, observed)
    d = fit_factors(paths[2:], target[2:], observed[2:])
    np.testing.assert_array_equal(c, d)


def test_widen_keeps_median_and_order_and_counts():
    rng = np.random.default_rng(4)
    paths = rng.normal(size=(3, 20, 6))
    # one factor per step (files of earlier versions): steps past 3 use the last
    factors = np.array([0.5, 1.0, 2.0])
    wide = widen(paths, factors)
    np.testing.assert_allclose(np.median(wide, 1), np.median(paths, 1))
    assert np.array_equal(np.argsort(wide, 1), np.argsort(paths, 1))
    dev = wide[:, 0] - np.median(wide, 1)  # n even: no path is a median
    ratio = dev / (paths[:, 0] - np.median(paths, 1))
    np.testing.assert_allclose(ratio, np.tile([0.5, 1, 2, 2, 2, 2], (3, 1)))
    # the same factor at every knot moves the paths as one factor does
    same = widen(paths, np.tile(factors, (len(KNOTS), 1)))
    np.testing.assert_allclose(same, wide)
    counts = widen(np.abs(np.round(paths * 3)), factors, counts=True)
    assert (counts >= 0).all() and np.array_equal(counts, np.round(counts))
    assert widen(paths, None) is paths


def test_widen_per_knot_moves_each_tail_and_keeps_the_order():
    rng = np.random.default_rng(6)
    paths = rng.normal(size=(2, 101, 3))
    factors = np.tile(np.array([[3.0, 3.0, 3.0, 1.0, 1.0, 1.0]]).T, (1, 3))
    wide = widen(paths, factors)
    m = np.median(paths, 1, keepdims=True)
    np.testing.assert_allclose(np.median(wide, 1, keepdims=True), m)
    # each side moves by its own factor: the order is kept exactly
    assert np.array_equal(np.argsort(wide, 1), np.argsort(paths, 1))
    ranks = np.argsort(np.argsort(paths, 1), 1)
    # paths below the median move by 3, above it stay
    low, high = ranks < 50, ranks > 50
    np.testing.assert_allclose((wide - m)[low], 3 * (paths - m)[low])
    np.testing.assert_allclose(wide[high], paths[high])
    # factors that fall towards the tails: the order is kept all the same
    falling = np.tile(np.array([[0.3, 1.0, 2.0, 2.0, 1.0, 0.3]]).T, (1, 3))
    moved = widen(paths, falling)
    # (and with n even, the median is the mean of two paths: it stays too)
    even = widen(paths[:, :100], falling)
    np.testing.assert_allclose(np.median(even, 1), np.median(paths[:, :100], 1))
    in_order = np.take_along_axis(moved, np.argsort(paths, 1), 1)
    assert (np.diff(in_order, axis=1) >= 0).all()
    np.testing.assert_allclose(np.median(moved, 1), np.median(paths, 1))


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
    # 12 series x 4 steps of validation: one set of factors for all steps
    assert f.calibration_.shape == (len(KNOTS), 4)
    assert all(len(set(row.tolist())) == 1 for row in f.calibration_)
    assert ((f.calibration_ >= LOW) & (f.calibration_ <= HIGH)).all()


def paths_of(forecaster) -> np.ndarray:
    """The paths ``(series, n, 4)`` at fh 1..4 that every output reads."""
    from sktime.forecasting.base import ForecastingHorizon

    fh = ForecastingHorizon([1, 2, 3, 4], is_relative=True)
    sampled = forecaster._paths(fh, None)
    return np.stack([sampled.paths[i][0] for i in range(len(sampled.keys))])


def test_every_output_comes_from_the_widened_paths(fitted):
    f, _ = fitted
    raw = f.clone().set_params(trainer_kwargs={"calibration": None})
    raw.fit(fitted[1].groupby(level=0).head(112), fh=[1, 2, 3, 4])
    assert raw.calibration_ is None
    # same weights and noise: the widened paths are the raw ones moved
    wide = paths_of(f)
    np.testing.assert_allclose(wide, widen(paths_of(raw), f.calibration_), rtol=1e-6)
    med_f, med_r = (x.predict_quantiles(alpha=[0.5]) for x in (f, raw))
    np.testing.assert_allclose(med_f.values, med_r.values)
    q_f = f.predict_quantiles(alpha=[0.1, 0.9])
    expected = np.quantile(wide, [0.1, 0.9], axis=1)  # (2, series, 4)
    np.testing.assert_allclose(
        q_f.values, expected.transpose(1, 2, 0).reshape(-1, 2), rtol=1e-6
    )
    interval = f.predict_interval(coverage=0.8)
    np.testing.assert_allclose(interval.values, q_f.values)
    np.testing.assert_allclose(
        f.predict_var().values.ravel(), wide.var(axis=1).ravel(), rtol=1e-5
    )
    proba_f = f.predict_proba()
    np.testing.assert_allclose(proba_f.mean().values, f.predict().values)
    np.testing.assert_allclose(proba_f.var().values, f.predict_var().values, rtol=1e-6)


def test_calibration_after_update_and_save(fitted, tmp_path):
    f, y = fitted
    head, new = y.groupby(level=0).head(112), y.groupby(level=0).tail(8)
    kept = f.clone().fit(head, fh=[1, 2, 3, 4]).update(new, update_params=False)
    np.testing.assert_array_equal(kept.calibration_, f.calibration_)
    # an update that trains calibrates again, on the newest points
    g = f.clone().fit(head, fh=[1, 2, 3, 4]).update(new, update_params=True)
    assert g.calibration_.shape == (len(KNOTS), 4)
    g.save_model(tmp_path / "m")
    h = LogSparseTransformerForecaster.load_model(tmp_path / "m")
    np.testing.assert_array_equal(h.calibration_, g.calibration_)
    pd.testing.assert_frame_equal(h.predict_interval(), g.predict_interval())


@pytest.mark.parametrize(
    "bad",
    [
        np.full(4, 100.0),
        np.zeros(4),
        np.ones((2, 2)),
        np.ones((len(KNOTS), 4, 1)),
        np.ones(4, np.float32),
    ],
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


def test_factors_per_tail_reach_every_output(fitted):
    # a panel large enough for the tails to be sized apart, stood in for by
    # factors set by hand: the lower tail widened, the upper one narrowed
    from copy import deepcopy

    from sktime_logsparse._outputs import PathCache

    f, _ = fitted
    g = deepcopy(f)
    g.calibration_ = np.tile(np.array([[2.0, 1.5, 1.2, 1.0, 0.8, 0.7]]).T, (1, 4))
    g._path_cache = PathCache()
    raw = deepcopy(f)
    raw.calibration_ = None
    raw._path_cache = PathCache()
    wide = paths_of(g)
    np.testing.assert_allclose(wide, widen(paths_of(raw), g.calibration_), rtol=1e-6)
    q = g.predict_quantiles(alpha=[0.05, 0.5, 0.95])
    m = np.median(wide, axis=1).ravel()
    np.testing.assert_allclose(q.values[:, 1], m, rtol=1e-6)
    # the lower tail reaches further below the median than the upper above it
    assert ((m - q.values[:, 0]) > (q.values[:, 2] - m)).mean() > 0.9
    interval = g.predict_interval(coverage=0.9)
    np.testing.assert_allclose(interval.values, q.values[:, [0, 2]])
    np.testing.assert_allclose(
        g.predict_var().values.ravel(), wide.var(axis=1).ravel(), rtol=1e-5
    )
    np.testing.assert_allclose(g.predict_proba().mean().values, g.predict().values)


def test_groups_are_asked_for_by_trainer_kwargs():
    from sktime_logsparse._params import resolve_params

    params = LogSparseTransformerForecaster().get_params(deep=False)
    assert resolve_params(params).train_config(None).calibration_groups == 1
    params["trainer_kwargs"] = {"calibration": "per_group"}
    config = resolve_params(params).train_config(None)
    assert config.calibration_groups == MAX_GROUPS
    params["trainer_kwargs"] = {"calibration": "groups"}
    with pytest.raises(ValueError, match="calibration"):
        resolve_params(params)


def test_grouped_factors_reach_every_output_and_are_saved(fitted, tmp_path):
    # a panel large enough for groups, stood in for by factors set by hand:
    # the sharpest half of the forecasts widened twice, the rest unchanged
    from copy import deepcopy

    from sktime_logsparse._outputs import PathCache

    f, _ = fitted
    raw = deepcopy(f)
    raw.calibration_ = None
    raw._path_cache = PathCache()
    paths = paths_of(raw)
    edge = np.median(relative_spread(paths))
    g = deepcopy(f)
    g.calibration_ = GroupedFactors(
        np.stack([np.full((len(KNOTS), 4), 2.0), np.ones((len(KNOTS), 4))]),
        np.array([edge]),
    )
    g._path_cache = PathCache()
    wide = paths_of(g)
    sharp = relative_spread(paths) < edge
    assert 0 < sharp.sum() < len(sharp)
    np.testing.assert_allclose(wide[~sharp], paths[~sharp], rtol=1e-6)
    np.testing.assert_allclose(
        wide[sharp], widen(paths[sharp], g.calibration_.factors[0]), rtol=1e-6
    )
    q = g.predict_quantiles(alpha=[0.1, 0.9])
    expected = np.quantile(wide, [0.1, 0.9], axis=1)
    np.testing.assert_allclose(
        q.values, expected.transpose(1, 2, 0).reshape(-1, 2), rtol=1e-6
    )
    np.testing.assert_allclose(g.predict_interval(coverage=0.8).values, q.values)
    np.testing.assert_allclose(
        g.predict_var().values.ravel(), wide.var(axis=1).ravel(), rtol=1e-5
    )
    g.save_model(tmp_path / "m")
    h = LogSparseTransformerForecaster.load_model(tmp_path / "m")
    assert isinstance(h.calibration_, GroupedFactors)
    np.testing.assert_array_equal(h.calibration_.edges, g.calibration_.edges)
    pd.testing.assert_frame_equal(h.predict_interval(), g.predict_interval())


@pytest.mark.parametrize(
    "edges, factors",
    [
        (np.array([0.5, 0.2]), np.ones((3, len(KNOTS), 4))),  # not ascending
        (np.array([np.inf]), np.ones((2, len(KNOTS), 4))),
        (np.array([0.5]), np.ones((3, len(KNOTS), 4))),  # groups != edges + 1
        (np.array([0.5]), np.full((2, len(KNOTS), 4), 100.0)),
    ],
)
def test_crafted_grouped_factors_are_refused(fitted, tmp_path, edges, factors):
    from copy import deepcopy

    g = deepcopy(fitted[0])
    g.calibration_ = GroupedFactors(factors, edges)
    g.save_model(tmp_path / "m")
    with pytest.raises(ValueError, match="calibration_"):
        LogSparseTransformerForecaster.load_model(tmp_path / "m")


def test_calibration_reaches_the_horizon_of_the_fit():
    # a single series holds out several windows; fitted for three prediction
    # lengths, its earlier windows are forecast that far from their origins
    from sktime_logsparse._arrays import training_arrays
    from sktime_logsparse._early_stopping import validation_arrays
    from sktime_logsparse._series import SeriesTensors, make_windows, validation_count

    params = {**TINY, **dict(context_length=24, prediction_length=4, n_threads=1)}
    y = series(240)
    f = LogSparseTransformerForecaster(**params).fit(y, fh=range(1, 13))
    assert f.calibration_.shape == (len(KNOTS), 12)
    assert LogSparseTransformerForecaster(**params).fit(y).calibration_.shape[1] == 4
    panel, layout = f._panel, f.model_.layout
    values, covs = training_arrays(
        f.time_axis_, f.exog_scaler_, panel.instances, panel.factors
    )
    data = SeriesTensors.from_arrays(values, covs, panel.ids, pad=layout.length + 1)
    k = validation_count(data.lengths, 4)
    _, windows = make_windows(data, layout, k, "uniform")
    paths, target, observed = validation_arrays(
        f.model_.network, data, windows, layout, 5, horizon=12
    )
    assert k == 6 and paths.shape == (6, 5, 12)
    # window j (from the end) starts 4 (j + 1) points before the end: it
    # reaches min(12, 4 (j + 1)) steps, each the series' own value
    z = values[0][:, 0] if values[0].ndim == 2 else values[0]
    for row, end in enumerate(windows.ends.tolist()):
        origin = end - 3 - int(data.starts[0])
        reach = min(12, len(z) - origin)
        assert observed[row].sum() == reach
        np.testing.assert_allclose(target[row, :reach], z[origin : origin + reach])
        assert np.isfinite(paths[row, :, :reach]).all()
        assert np.isnan(paths[row, :, reach:]).all()
