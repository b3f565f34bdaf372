"""benchmarks/etth_context.py: its scores and its choice, against hand computation."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import etth_context as E  # noqa: E402


def test_score_uses_only_the_origins_whose_horizon_ends_in_the_split():
    truth = np.arange(1000.0)
    # origin 100 ends by row 900 at every horizon; origin 500 only up to 336
    forecasts = {100: truth[100:820] + 1.0, 500: truth[500:1220] + 3.0}
    bands = {s: (f - 2.0, f + 2.0) for s, f in forecasts.items()}
    got = E.score(truth, forecasts, end=900, bands=bands)
    assert got["336"]["origins"] == 2
    assert got["336"]["MSE"] == pytest.approx((1 + 9) / 2)
    assert got["336"]["MAE"] == pytest.approx((1 + 3) / 2)
    assert got["336"]["coverage80"] == pytest.approx(0.5)  # |error| 1 in, 3 out
    assert got["720"] == {"MSE": 1.0, "MAE": 1.0, "coverage80": 1.0, "origins": 1}


def test_repeat_last_repeats_the_value_before_the_origin():
    y = pd.DataFrame({"OT": np.arange(float(E.TEST))})
    got = E.repeat_last(y, stride=500)
    # the value before origin s is s - 1: h steps ahead the error is 1 .. h
    for h in E.HORIZONS:
        assert got["test"][str(h)]["MAE"] == pytest.approx((h + 1) / 2)


def test_the_context_is_chosen_on_validation_and_scored_on_test():
    def row(val, test):
        return {
            "validation": {str(h): {"MSE": val} for h in E.HORIZONS},
            "test": {str(h): {"MSE": test} for h in E.HORIZONS},
        }

    data = {
        "contexts": {"168": row(0.2, 0.05), "720": row(0.1, 0.3)},
        "repeat_last": {"test": {str(h): {"MSE": 0.1} for h in E.HORIZONS}},
    }
    best = E.choose(data)
    assert {b["context"] for b in best.values()} == {720}  # not the test's best
    assert not any(b["beats_repeat_last"] for b in best.values())


def test_the_ensemble_averages_the_forecasts_and_the_bounds_of_its_seeds():
    ones = np.ones(3)
    means = {0: {10: 1.0 * ones, 20: 2.0 * ones}, 1: {10: 3.0 * ones, 20: 6.0 * ones}}
    bands = {
        0: {s: (m - 1.0, m + 1.0) for s, m in means[0].items()},
        1: {s: (m - 3.0, m + 3.0) for s, m in means[1].items()},
    }
    mean, band = E.pool(means, bands)
    np.testing.assert_allclose(mean[10], 2.0)
    np.testing.assert_allclose(mean[20], 4.0)
    np.testing.assert_allclose(band[20][0], 2.0)  # (2 - 1 + 6 - 3) / 2
    np.testing.assert_allclose(band[20][1], 6.0)  # (2 + 1 + 6 + 3) / 2
