"""benchmarks/long_context.py: the synthetic task's verdict, from hand-made results."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import long_context as LC  # noqa: E402


def results(logsparse768, full768, lstm768, logsparse8192, lstm8192):
    def run(r05):
        return {"test": {"R0.5": r05, "R0.9": r05 / 2}}

    return {
        "runs": {
            "768": {
                "logsparse": run(logsparse768),
                "full": run(full768),
                "lstm": run(lstm768),
            },
            "8192": {
                "logsparse": run(logsparse8192),
                "full": {"error": "out of memory"},
                "lstm": run(lstm8192),
            },
        }
    }


def test_met_when_logsparse_ties_full_and_beats_the_lstm():
    assert ": met (" in LC.dependency_verdict(results(0.2, 0.2, 0.4, 0.3, 0.35))


def test_not_met_when_full_attention_is_better_at_768():
    text = LC.dependency_verdict(results(0.21, 0.2, 0.4, 0.3, 0.35))
    assert "NOT met" in text and "0.210 against 0.200" in text


def test_not_met_when_the_lstm_wins_at_8192():
    assert "NOT met" in LC.dependency_verdict(results(0.2, 0.2, 0.4, 0.36, 0.35))


def test_a_missing_run_is_named_not_judged():
    partial = results(0.2, 0.2, 0.4, 0.3, 0.35)
    del partial["runs"]["768"]["full"]
    assert "needs every method" in LC.dependency_verdict(partial)
