"""``make demo`` runs as shipped, and prints the same scores every time."""

import warnings

from sktime_logsparse import demo


def test_demo_runs_and_repeats_its_scores(tmp_path, capsys):
    args = ["--series", "3", "--epochs", "1", "--windows", "32", "--out"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = demo.main([*args, str(tmp_path / "a")])
    # the output a user reads: no warning per series from sktime's baseline
    assert not [w for w in caught if "remember_data" in str(w.message)]
    second = demo.main([*args, str(tmp_path / "b")])
    assert first == second  # a fixed training length: no wall-clock stop
    assert set(first) == {"LogSparse Transformer", "seasonal naive (sktime)"}
    for scores in first.values():
        assert set(scores) == {"MASE", "pinball"}
    assert (tmp_path / "a" / "fan_chart.png").stat().st_size > 0
    assert "MASE" in capsys.readouterr().out
