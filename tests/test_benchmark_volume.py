"""The R0.5 breakdown of ``benchmarks/m4_volume.py``, checked by hand."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import m4_volume as V  # noqa: E402


def test_groups_series_and_swaps_by_hand(monkeypatch):
    monkeypatch.setattr(V, "GROUPS", {"largest 1": (0, 1), "next 1": (1, 2)})
    monkeypatch.setattr(V, "SWAPS", (1,))
    monkeypatch.setattr(V, "SHOWN", 2)
    # volumes 100, 10, 1 (two points each); absolute errors summed per series
    y = np.array([[1.0, 1.0], [50.0, 50.0], [5.0, 5.0]])
    a = y + np.array([[0.0, 1.0], [10.0, 0.0], [1.0, 1.0]])  # errors 1, 10, 2
    b = y - np.array([[0.0, 0.0], [2.0, 2.0], [0.5, 0.5]])  # errors 0, 4, 1
    out = V.breakdown(y, {"a": a, "b": b}, ["s1", "s2", "s3"])
    assert out["volume_share"] == pytest.approx({"largest 1": 100 / 112,
                                                 "next 1": 10 / 112,
                                                 "the rest": 2 / 112})  # fmt: skip
    assert out["groups"]["all"]["a"]["R0.5"] == pytest.approx(13 / 112)
    assert out["groups"]["largest 1"]["a"] == pytest.approx(
        {"R0.5": 10 / 100, "share": 10 / 112}
    )
    assert out["groups"]["the rest"]["b"]["R0.5"] == pytest.approx(0.0)
    shares = sum(out["groups"][g]["b"]["share"] for g in out["volume_share"])
    assert shares == pytest.approx(out["groups"]["all"]["b"]["R0.5"])
    assert list(out["series"]) == ["s2", "s3"]  # the largest first
    assert out["series"]["s2"]["a"]["bias"] == pytest.approx(5 / 50)
    assert out["series"]["s3"]["b"]["R0.5"] == pytest.approx(1 / 10)
    # a with b's largest series: 4 instead of 10
    assert out["swaps"]["a with b's largest 1"] == pytest.approx(7 / 112)
    assert out["ranked"]["a"] == pytest.approx([10 / 112, 2 / 112, 1 / 112])


def test_seasonal_naive_repeats_the_last_season():
    import pandas as pd

    index = pd.MultiIndex.from_product([["H1"], pd.RangeIndex(30)])
    train = pd.DataFrame({"y": np.arange(30.0)}, index=index)
    out = V.seasonal_naive(train, np.zeros((1, 30)))
    np.testing.assert_allclose(out[0], np.tile(np.arange(6.0, 30.0), 2)[:30])


def test_page_shows_every_group_series_and_swap():
    y = np.array([[1.0, 1.0], [50.0, 50.0], [5.0, 5.0]])
    medians = {"ours (a)": y + 1.0, "MSTL (statsforecast)": y - 2.0}
    result = {"command": "python benchmarks/m4_volume.py --model a", "ours": "a"}
    result.update(V.breakdown(y, medians, ["s1", "s2", "s3"]))
    result["point"] = {m: {"sMAPE": 1.0, "MASE": 0.5} for m in medians}
    page = V.markdown(result, V.NAME)
    assert "python benchmarks/m4_volume.py --model a" in page
    for group in ("largest 2", "next 8", "all"):  # 3 series: no more groups
        assert f"| {group} |" in page
    assert "| next 30 |" not in page
    assert "| s2 | 89.3% |" in page  # the largest series first
    assert "ours (a) with MSTL (statsforecast)'s largest 2" in page
    assert "m4_volume.png" in page


def test_averaged_fits_take_the_mean_of_their_medians():
    medians = {"ours (a)": np.array([[1.0, 3.0]]), "ours (b)": np.array([[3.0, 7.0]])}
    out = V.averaged(medians, ["a", "b"])
    np.testing.assert_allclose(out["ours (a + b, averaged)"], [[2.0, 5.0]])
    with pytest.raises(ValueError, match="two or more fits"):
        V.averaged(medians, ["a", "c"])
