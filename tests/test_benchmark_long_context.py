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


def budget_results():
    def run(r05, windows):
        return {
            "test": {"R0.5": r05},
            "validation": {"R0.5": r05},
            "windows": windows,
            "fit_s": 10.0,
        }

    budget = {
        "windows": 65536,
        "threads": 1,
        "reference": {"192": {"no_memory": 0.105}, "768": {"no_memory": 0.105}},
        "runs": {
            "192": {"logsparse": run(0.088, 65536), "lstm": run(0.2, 65536)},
            "768": {"full": {"estimated_fit_s": 9000.0}},
        },
    }
    dep = {
        "windows": {"default": 16384, "8192": 2048},
        "runs": {"192": {"logsparse": run(0.16, 16384)}},
    }
    return budget, dep


def test_budget_section_names_the_runs_below_the_no_memory_error():
    text = "\n".join(LC.budget_section(*budget_results()))
    assert "65,536 training windows per fit instead of 16,384" in text
    assert "at t0 = 192 and 768" in text
    assert "carrying A4: logsparse at t0 = 192 (0.088 < 0.105)." in text
    assert "lstm at t0" not in text  # 0.2 is above the no-memory error
    # a skipped run says why, beside the record's figure (none for full here)
    assert "| 768 | full | not run: estimated fit 9000 s |" in text
    # the record's R0.5 at its own budget, beside the larger budget's
    assert (
        "| 192 | logsparse | 0.0880 | 0.0880 | 65536 | 10 | 0.1600 | 0.1050 |" in text
    )


def test_budget_section_says_when_no_run_carries_a4():
    budget, dep = budget_results()
    budget["runs"]["192"]["logsparse"]["test"]["R0.5"] = 0.12
    assert "No run is below the no-memory error." in "\n".join(
        LC.budget_section(budget, dep)
    )
