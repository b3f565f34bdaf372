"""``benchmarks/seeds.py``: seed runs collected, checked and summarised by hand."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import seeds as S  # noqa: E402

METRICS = ("sMAPE", "MASE", "OWA", "MSIS", "R0.5", "coverage80", "coverage95")


def _write(folder: Path, name: str, seed: int | None, smape: float, **config):
    config = {"max_epochs": 72, **config}
    if seed is not None:
        config["random_state"] = seed
    scores = {m: smape / 10 for m in METRICS} | {"sMAPE": smape}
    result = {
        "command": f"python benchmarks/m4_hourly.py --name {name}",
        "date": "2026-12-05 00:00 UTC",
        "cpu": "test CPU",
        "config": config,
        "models": {S.OURS: scores},
    }
    (folder / f"{name}.json").write_text(json.dumps(result))


def test_seed_runs_beside_the_record_with_mean_and_deviation(tmp_path):
    _write(tmp_path, "m4_hourly", 0, 10.0)
    _write(tmp_path, "m4_hourly_seed2", 2, 14.0)
    _write(tmp_path, "m4_hourly_seed1", 1, 12.0)
    # other experiments with a seed in their name are not seed runs
    _write(tmp_path, "m4_hourly_cost_record_seed1", 1, 99.0, max_epochs=20)
    out = S.summary("m4_hourly", tmp_path)
    assert list(out["scores"]) == ["0", "1", "2"]  # by seed
    assert (out["record_seed"], out["n_runs"]) == (0, 3)
    assert out["files"]["1"] == "m4_hourly_seed1.json"
    assert out["mean"]["sMAPE"] == pytest.approx(12.0)
    assert out["sd"]["sMAPE"] == pytest.approx(2.0)  # sample deviation of 10, 12, 14
    assert (out["min"]["MASE"], out["max"]["MASE"]) == pytest.approx((1.0, 1.4))
    assert out["runs"]["2"]["command"].endswith("m4_hourly_seed2")
    page = "\n".join(S.section("m4_hourly", out))
    assert "| 0 (record) | 10.00 |" in page
    assert "| mean | 12.00 |" in page


def test_a_record_alone_has_no_deviation(tmp_path):
    _write(tmp_path, "m4_hourly", None, 10.0)  # random_state unset: seed 0
    out = S.summary("m4_hourly", tmp_path)
    assert out["scores"] == {
        "0": pytest.approx({m: 1.0 for m in METRICS} | {"sMAPE": 10.0})
    }
    assert out["sd"]["MSIS"] is None


def test_a_run_with_another_configuration_is_refused(tmp_path):
    _write(tmp_path, "m4_hourly", 0, 10.0)
    _write(tmp_path, "m4_hourly_seed1", 1, 12.0, max_epochs=36)
    with pytest.raises(
        ValueError, match="m4_hourly_seed1.json.*more than random_state"
    ):
        S.summary("m4_hourly", tmp_path)


def test_two_runs_of_one_seed_are_refused(tmp_path):
    _write(tmp_path, "m4_hourly", 0, 10.0)
    _write(tmp_path, "m4_hourly_seed0", 0, 12.0)
    with pytest.raises(ValueError, match="both have seed 0"):
        S.summary("m4_hourly", tmp_path)


def test_the_recorded_command_rerun_with_a_seed(tmp_path):
    record = {
        "command": "OMP_NUM_THREADS=1 python benchmarks/etth1.py --budget 400 "
        "--config '{\"max_epochs\": 12}' --markdown docs/benchmarks/etth1.md",
        "config": {"max_epochs": 12},
    }
    (tmp_path / "etth1.json").write_text(json.dumps(record))
    env, argv = S.seed_command("etth1", 3, tmp_path)
    assert env["OMP_NUM_THREADS"] == "1"
    assert argv[:3] == ["benchmarks/etth1.py", "--budget", "400"]
    assert json.loads(argv[argv.index("--config") + 1]) == {
        "max_epochs": 12,
        "random_state": 3,
    }
    assert argv[argv.index("--name") + 1] == "etth1_seed3"
    assert "--markdown" not in argv  # the page of record is not rewritten
    m4 = {"command": "python benchmarks/m4_hourly.py --markdown x.md --figure y.png"}
    (tmp_path / "m4_hourly.json").write_text(json.dumps(m4))
    _, argv = S.seed_command("m4_hourly", 1, tmp_path)
    assert argv == [
        "benchmarks/m4_hourly.py",
        "--config",
        '{"random_state": 1}',
        "--name",
        "m4_hourly_seed1",
        "--baselines",
        "",
    ]


def test_an_earlier_configurations_runs_are_never_rerun(monkeypatch):
    calls = []
    monkeypatch.setattr(S, "seed_command", lambda stem, seed: ({}, [stem, str(seed)]))
    monkeypatch.setattr(S.subprocess, "run", lambda argv, **kw: calls.append(argv[1:]))
    S.run_seeds([1])
    assert calls == [["m4_hourly", "1"], ["etth1", "1"]]
    calls.clear()
    S.run_seeds([3], ["m4_hourly"])
    assert calls == [["m4_hourly", "3"]]
    with pytest.raises(ValueError, match="not rerun"):
        S.run_seeds([1], ["m4_hourly_paths100"])
