"""The page of the M4 Hourly hyperparameter search, from its results file.

The search's runs are ``benchmarks/m4_hourly.py`` runs on the validation split
(``--split validation --baselines ''``), one per setting, recorded in
``benchmarks/results/m4_hourly_search.json``: each run's ``--config``
overrides, budget, epochs, timings and metrics. This script measures nothing:
it renders the page's tables and commands from that file, keeps the
hand-written notes below the page's notes marker, and redraws the figure.

Usage::

    python benchmarks/m4_hourly_search.py --markdown docs/benchmarks/m4_hourly_search.md
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

import _report as R  # benchmarks/_report.py

NAME = "m4_hourly_search"

ACCURACY = R.m4_columns("sMAPE", "MASE", "MSIS", "R0.5", "R0.9")
RUNS = R.m4_columns("budget_s", "epochs", "fit_s", "coverage80", "coverage95")


def table(runs: dict, columns: list) -> str:
    """One row per run (its setting), the given metric columns."""
    return R.column_table(
        "setting", columns, [(r["setting"], r) for r in runs.values()]
    )


def run_command(template: str, run: dict) -> str:
    """The benchmark command of one run, from the file's command template."""
    return template.format(
        budget_s=f"{run['budget_s']:g}",
        config=json.dumps(run["config"]),
    )


def markdown(result: dict, stem: str = NAME) -> str:
    """The generated part of the page (hand-written notes are kept apart)."""
    runs = result["runs"]
    template = result["command"]
    commands = [
        f"* {run['setting']}:\n\n  ```bash\n  {run_command(template, run)}\n  ```"
        for run in runs.values()
    ]
    protocol = (
        "Every setting of the [benchmark of record](m4_hourly.md) was chosen "
        "here, on a validation split carved from the training series only: the "
        f"last 48 points of each of the {result['n_series']} training series "
        "are held out and forecast from the rest, and the M4 metrics are "
        "computed as on the test split (lower is better). The test split was "
        "not used to choose anything on this page."
    )
    lines = R.page_head(
        result,
        stem,
        title="M4 Hourly: the hyperparameter search (validation split)",
        protocol=protocol,
        figure="Validation sMAPE, MASE and MSIS per setting",
        command_intro="Each run is one call of the benchmark on the validation "
        "split, with the base configuration of `benchmarks/m4_hourly.py` "
        "(`CONFIG`) and the overrides of its setting (listed below):",
        machine=R.run_line(result, note=f" ({result['machine']})"),
    ) + [
        "",
        "## Accuracy",
        "",
        table(runs, ACCURACY),
        "",
        "## Budget, training and calibration",
        "",
        "The fit budget of each run, the epochs it trained, its fit time in "
        "seconds, and the share of the held-out points inside its 80% and 95% "
        "prediction intervals.",
        "",
        table(runs, RUNS),
        "",
        "## Commands",
        "",
        "\n\n".join(commands),
        "",
        "This page is rendered from `benchmarks/results/m4_hourly_search.json` by",
        "",
        "```bash",
        "python benchmarks/m4_hourly_search.py --markdown "
        + shlex.quote(f"docs/benchmarks/{stem}.md"),
        "```",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path, required=True, help="page to write")
    parser.add_argument(
        "--json", type=Path, default=None, help="results file (default: of record)"
    )
    args = parser.parse_args(argv)
    result = R.read_json(args.json or NAME)
    R.write_page(args.markdown, markdown(result))
    if args.json is None:
        R.render_figure(NAME)


if __name__ == "__main__":
    main()
