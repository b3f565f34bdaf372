"""The per-level widening of ``benchmarks/calibration.py``, checked by hand."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import calibration as CB  # noqa: E402

from sktime_logsparse._calibration import widen  # noqa: E402


def test_equal_factors_widen_as_one_factor_does():
    rng = np.random.default_rng(0)
    paths = rng.normal(size=(3, 101, 4))
    factors = np.full((len(CB.PER_LEVEL), 4), 1.7)
    np.testing.assert_allclose(
        CB.widen_per_level(paths, factors), widen(paths, np.full(4, 1.7))
    )


def test_each_rank_takes_the_factor_of_its_level_and_order_is_kept():
    # 4 paths: ranks 0..3 lie at central levels 0.75, 0.25, 0.25, 0.75
    paths = np.array([[[-3.0], [-1.0], [1.0], [3.0]]])  # median 0
    factors = np.array([[2.0], [4.0]])  # at levels 0.5 and 0.75
    out = CB.widen_per_level(paths, factors, levels=(0.5, 0.75))
    # below level 0.5 the innermost factor (2), at 0.75 the outer one (4)
    np.testing.assert_allclose(out[0, :, 0], [-12.0, -2.0, 2.0, 12.0])
    # a factor that shrinks outward would cross paths: kept in order
    out = CB.widen_per_level(paths, factors[::-1] * [[1.0], [0.1]], levels=(0.5, 0.75))
    assert np.all(np.diff(out[0, :, 0]) >= 0)


def test_level_factors_match_each_level_alone():
    rng = np.random.default_rng(1)
    paths = rng.normal(size=(400, 200, 1))  # standard normal forecasts
    target = 2.0 * rng.normal(size=(400, 1))  # twice as spread
    factors = CB.level_factors(paths, target, np.ones((400, 1), bool))
    np.testing.assert_allclose(factors[:, 0], 2.0, rtol=0.15)


def test_cut_splits_every_series_at_its_own_end():
    import pandas as pd

    idx = pd.MultiIndex.from_tuples(
        [("a", t) for t in range(5)] + [("b", t) for t in range(3)],
        names=["id", "time"],
    )
    panel = pd.DataFrame({"y": np.arange(8.0)}, index=idx)
    head, tail = CB.cut(panel, 2)
    assert head.loc["a"].index.tolist() == [0, 1, 2]
    assert tail.loc["a"].index.tolist() == [3, 4]
    assert head.loc["b"].index.tolist() == [0]
    assert tail.loc["b"].index.tolist() == [1, 2]
    same, empty = CB.cut(panel, 0)
    assert same.equals(panel) and empty.empty


def test_central_factors_cover_as_claimed_on_the_points_they_are_sized_on():
    rng = np.random.default_rng(2)
    paths = rng.normal(size=(500, 100, 2))
    target = 1.5 * rng.normal(size=(500, 2))
    factors = CB.central_factors(paths, target, np.ones((500, 2), bool), (0.9,))
    wide = widen(paths, factors)
    lo, hi = np.quantile(wide, [0.05, 0.95], axis=1)
    assert abs(((lo <= target) & (target <= hi)).mean() - 0.9) < 0.01


def test_symmetric_moves_each_tail_towards_the_mean_of_its_level():
    from sktime_logsparse._calibration import KNOTS

    # knots 2.5%, 10%, 25% | 75%, 90%, 97.5%: the lower tail twice the upper
    factors = np.array([[4.0], [2.0], [1.0], [0.5], [1.0], [2.0]])
    assert len(KNOTS) == len(factors)
    np.testing.assert_allclose(CB.symmetric(factors, 0.0), factors)
    both = CB.symmetric(factors, 1.0)
    np.testing.assert_allclose(both[:, 0], [3.0, 1.5, 0.75, 0.75, 1.5, 3.0])
    half = CB.symmetric(factors, 0.5)
    np.testing.assert_allclose(half[:, 0], [3.5, 1.75, 0.875, 0.625, 1.25, 2.5])
