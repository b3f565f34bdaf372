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
