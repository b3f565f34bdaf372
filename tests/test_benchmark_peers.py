"""What of benchmarks/peers.py runs in this venv: files, scores, page, figure.

Nothing here needs ``.venv-peers``, the network or a trained model.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _peers_page as G  # noqa: E402
import peers as P  # noqa: E402

# two series, horizon 2 (the scoring itself does not care), season 24
TIMES = {
    "H1": pd.date_range("2015-07-01 00:00", periods=50, freq="h"),
    "H10": pd.date_range("2010-05-01 12:00", periods=50, freq="h"),
}


def panel(values: dict) -> pd.DataFrame:
    frames = [
        pd.DataFrame(
            {"value": v},
            index=pd.MultiIndex.from_product(
                [[sid], TIMES[sid][: len(v)]], names=["instances", "timepoints"]
            ),
        )
        for sid, v in values.items()
    ]
    return pd.concat(frames).sort_index()


@pytest.fixture
def train_test():
    rng = np.random.default_rng(0)
    hist = {sid: rng.uniform(1, 10, 48).round(1) for sid in TIMES}
    train = panel(hist)
    future = {"H1": [10.0, 20.0], "H10": [4.0, 2.0]}
    test = pd.concat(
        pd.DataFrame(
            {"value": v},
            index=pd.MultiIndex.from_arrays(
                [[sid] * 2, TIMES[sid][48:]], names=["instances", "timepoints"]
            ),
        )
        for sid, v in future.items()
    ).sort_index()
    return train, test


def forecasts(test: pd.DataFrame, point) -> pd.DataFrame:
    frame = test.index.to_frame(index=False)
    frame.columns = ["unique_id", "ds"]
    p = np.asarray(point, float).ravel()
    return frame.assign(
        point=p, lo80=p - 1, hi80=p + 1, lo95=p - 2, hi95=p + 2, q50=p, q90=p + 1
    )


def test_panel_round_trip(tmp_path, train_test):
    train, test = train_test
    path = P.write_panel(train, tmp_path)
    back = pd.read_csv(path, dtype={"unique_id": str}, parse_dates=["ds"])
    assert list(back.columns) == ["unique_id", "ds", "y"]
    assert len(back) == len(train)
    np.testing.assert_array_equal(back["y"], train["value"])
    assert (back["ds"].to_numpy() == train.index.get_level_values(1).to_numpy()).all()

    # what run_peers.py writes back, read and laid out like as_matrix(test)
    table = forecasts(test, [[10, 20], [2, 2]]).assign(model="m")
    table.sample(frac=1, random_state=0).to_csv(tmp_path / "forecasts.csv")
    info = {"models": {"m": {"fit_s": 1.0, "predict_s": 0.5}}}
    (tmp_path / "peers.json").write_text(json.dumps(info))
    read, back_info = P.read_forecasts(tmp_path)
    assert back_info == info
    m = P.matrices(read["m"], test)
    np.testing.assert_array_equal(m["point"], [[10, 20], [2, 2]])
    np.testing.assert_array_equal(m["hi95"], [[12, 22], [4, 4]])


def test_matrices_reject_other_timestamps(train_test):
    _, test = train_test
    wrong = forecasts(test, [[1, 2], [3, 4]])
    wrong["ds"] = wrong["ds"] + pd.Timedelta(hours=1)
    with pytest.raises(ValueError, match="do not match the test set"):
        P.matrices(wrong, test)


def test_score_by_hand():
    # two series, horizon 2, histories of period 2 as in test_benchmark_metrics
    y = np.array([[10.0, 20.0], [4.0, 2.0]])
    f = np.array([[12.0, 20.0], [2.0, 2.0]])
    hist = [np.arange(30, dtype=float) % 5, np.arange(30, dtype=float) % 7]
    m = {"point": f, "q50": f, "q90": f + 1}
    m.update(lo80=f - 1, hi80=f + 1, lo95=f - 2, hi95=f + 2)
    row = P.score(y, hist, m, 3.0, 0.25)
    assert row["sMAPE"] == pytest.approx((200 / 22 + 200 / 6) / 2)
    # MASE at season 24 is the MAE over the in-sample seasonal naive MAE
    scale = [np.mean(np.abs(h[24:] - h[:-24])) for h in hist]
    assert row["MASE"] == pytest.approx((1 / scale[0] + 1 / scale[1]) / 2)
    assert row["R0.5"] == pytest.approx(4 / 36)
    # inside the 80% band: 20 and 2 (errors 0); 10 vs 12 +- 1, 4 vs 2 +- 1 out
    assert row["coverage80"] == 0.5
    assert row["coverage95"] == 1.0  # all errors <= 2
    assert (row["fit_s"], row["predict_s"]) == (3.0, 0.25)
    assert set(row) == {*P.NEEDS, "sMAPE", "MASE", "OWA", "fit_s", "predict_s"}

    m["q90"] = np.where(y > 5, np.nan, f)  # a missing quantile: no R0.9
    row = P.score(y, hist, m, 3.0, 0.25)
    assert row["R0.9"] is None and row["R0.5"] == pytest.approx(4 / 36)


RESULT = {
    "split": "test",
    "n_series": 3,
    "command": "python benchmarks/peers.py --series 3",
    "cpu": "Test CPU",
    "cpu_count": 2,
    "date": "2026-01-01 00:00 UTC",
    "neural_budget": {"max_steps": 5, "input_size": 96},
    "peers_versions": {"statsforecast": "9.9", "sktime": "1.0"},
    "ours": {"source": "rerun", "config": {"kernel_size": 6}},
    "models": {
        "LogSparse Transformer": {
            "sMAPE": 10.0,
            "MASE": 0.9,
            "OWA": 0.46,
            "MSIS": 7.0,
            "R0.5": 0.050,
            "R0.9": 0.020,
            "coverage80": 0.70,
            "coverage95": 0.86,
            "fit_s": 1000.0,
            "predict_s": 10.0,
        },
        "NHITS (neuralforecast)": {
            "sMAPE": 12.0,
            "MASE": 1.0,
            "OWA": 0.53,
            "MSIS": 9.0,
            "R0.5": 0.045,
            "R0.9": 0.030,
            "coverage80": 0.78,
            "coverage95": 0.99,
            "fit_s": 100.0,
            "predict_s": 1.0,
        },
    },  # fmt: skip
    "failures": {
        "DeepAR (pytorch-forecasting via sktime)": {
            "type": "TypeError",
            "message": "unsupported operand\nsecond line",
        }
    },
}


def test_comparison_names_who_leads():
    lines = G.comparison(RESULT["models"])
    text = "\n".join(lines)
    assert lines[0].startswith("Ours leads on sMAPE, MASE, OWA, MSIS, R0.9; a peer is")
    assert "ahead of ours on R0.5, 80% coverage, 95% coverage, fit (s)" in lines[0]
    r05 = next(line for line in lines if "**R0.5**" in line)
    assert "ahead of ours: NHITS (neuralforecast) 0.0450" in r05
    # 0.78 is 0.02 from 0.8, ours 0.10; 0.99 is 0.04 from 0.95, ours 0.09
    assert "**80% coverage** (closest to 0.8): ours 0.700; ahead" in text
    assert "**95% coverage** (closest to 0.95): ours 0.860; ahead" in text
    assert "**fit (s)** (lower is better): ours 1000; ahead of ours: NHITS" in text
    mase = next(line for line in lines if "**MASE**" in line)
    assert "ours leads; next: NHITS (neuralforecast) 1.000" in mase


def test_page_from_results(tmp_path):
    page = G.markdown(RESULT, "peers")
    assert page.startswith("# Peers on M4 Hourly")
    assert "python benchmarks/peers.py --series 3" in page
    assert "](../images/benchmarks/peers.png)" in page
    assert "| NHITS (neuralforecast) | 12.00 | 1.000 |" in page
    failed = "| DeepAR (pytorch-forecasting via sktime) | `TypeError` |"
    assert failed + " unsupported operand |" in page
    assert "second line" not in page
    assert "statsforecast 9.9" in page and "`max_steps=5`" in page
    assert "not from this run" not in page
    ours = {**RESULT, "ours": {"source": "benchmarks/results/m4_hourly.json"}}
    assert "Our row is not from this run" in G.markdown(ours, "peers")

    # --from-results: the page and the figure from a results file
    (tmp_path / "peers.json").write_text(json.dumps(RESULT))
    md, png = tmp_path / "peers.md", tmp_path / "peers.png"
    P.main(["--from-results", "--json", str(tmp_path / "peers.json"),
            "--markdown", str(md), "--figure", str(png)])  # fmt: skip
    assert md.read_text().startswith(page.rstrip())
    assert png.stat().st_size > 10_000


def test_ours_from_checks_the_run(tmp_path):
    path = tmp_path / "m4.json"
    row = RESULT["models"]["LogSparse Transformer"]
    source = {"split": "test", "n_series": 3, "date": "d", "cpu": "c"}
    source.update(config={"a": 1}, models={"LogSparse Transformer": row})
    path.write_text(json.dumps(source))
    got, about = P.ours_from(path, 3)
    assert got == row and about["source"] == path.as_posix()
    assert about["date"] == "d" and about["config"] == {"a": 1}
    with pytest.raises(ValueError, match="not the test split of 414"):
        P.ours_from(path, 414)
