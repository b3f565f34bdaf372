"""The benchmark metrics against values computed by hand."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import metrics as M  # noqa: E402

# two series, horizon 2, season 2
Y = np.array([[10.0, 20.0], [4.0, 2.0]])
F = np.array([[12.0, 20.0], [2.0, 2.0]])
HIST = [np.array([1.0, 2.0, 3.0, 5.0]), np.array([4.0, 4.0, 6.0, 8.0, 6.0])]
# seasonal naive in-sample MAE: |3-1|,|5-2| -> 2.5 ; |6-4|,|8-4|,|6-6| -> 2.0


def test_seasonal_scale():
    np.testing.assert_allclose(M.seasonal_scale(HIST, 2), [2.5, 2.0])


def test_smape():
    # series 1: 200*(2/22 + 0)/2 = 9.0909 ; series 2: 200*(2/6 + 0)/2 = 33.333
    assert M.smape(Y, F) == pytest.approx((200 / 22 + 200 / 6) / 2)


def test_mase():
    # MAE 1 / 2.5 = 0.4 ; MAE 1 / 2 = 0.5
    assert M.mase(Y, F, HIST, 2) == pytest.approx(0.45)


def test_owa():
    assert M.owa(18.383, 2.395) == pytest.approx(1.0)
    assert M.owa(9.1915, 2.395) == pytest.approx(0.75)


def test_msis():
    lower = np.array([[9.0, 21.0], [3.0, 0.0]])
    upper = np.array([[11.0, 25.0], [5.0, 4.0]])
    # series 1: step 1 inside (width 2); step 2 y=20 < L=21: 4 + 40*1 = 44
    #           mean 23, / 2.5 = 9.2
    # series 2: both inside, widths 2 and 4: mean 3, / 2 = 1.5
    assert M.msis(Y, lower, upper, HIST, 2, alpha=0.05) == pytest.approx(
        (9.2 + 1.5) / 2
    )


def test_rho_risk():
    q = np.array([[12.0, 18.0], [4.0, 1.0]])
    # rho 0.9: D = (0.9 - 1{y<=q})(y - q)
    #   10 vs 12: (0.9-1)(-2) = 0.2 ; 20 vs 18: 0.9*2 = 1.8
    #   4 vs 4: (0.9-1)*0 = 0 ; 2 vs 1: 0.9*1 = 0.9
    assert M.rho_risk(Y, q, 0.9) == pytest.approx(2 * 2.9 / 36)
    # rho 0.5 of the median is the normalised absolute error
    assert M.rho_risk(Y, F, 0.5) == pytest.approx(np.abs(Y - F).sum() / 36)


def test_coverage():
    lower, upper = Y - 1, Y + 1
    lower[0, 0] = 10.5
    assert M.coverage(Y, lower, upper) == pytest.approx(0.75)
