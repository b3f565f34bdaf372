"""Seed to seed: the benchmarks of record rerun with other ``random_state`` values.

A benchmark of record is one fit, and one fit is one draw: the seed moves
the weights' initialisation, the windows drawn, dropout and the sample
paths. This script collects the run of record of each benchmark
(``m4_hourly.json``, ``etth1.json``) and every run of the same command with
another seed (``<stem>_seed<N>.json``, made with ``--name``),
checks that they differ in ``random_state`` only, and reports each seed's
scores beside their mean, standard deviation and range, so that a difference
between two configurations can be set against the spread of one.

Runs with other seeds are made once each, to measure the spread; a seed is
never chosen by its test scores (the run of record stays the page of record).

``--run 1 2`` first reruns each benchmark's recorded command (read from its
results file, the environment's ``OMP_NUM_THREADS`` included) with
``random_state`` 1 and 2, each writing ``<stem>_seed<N>.json`` (``--only
m4_hourly``: that benchmark's); M4's baselines, which no seed changes, are
left out. The runs of an earlier configuration of record are kept apart
(``m4_hourly_paths100``: M4 with 100 paths) and never rerun.

Usage::

    python benchmarks/seeds.py --run 1 2 --markdown docs/benchmarks/seeds.md
    python benchmarks/seeds.py --markdown docs/benchmarks/seeds.md

Results: ``benchmarks/results/seeds.json``; ``--from-results`` rewrites the
page (and its figure) from it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

import _report as R  # benchmarks/_report.py

OURS = "LogSparse Transformer"
M4_METRICS = [
    (m, ("models", OURS, m), R.M4_COLUMNS[m][1])
    for m in ("sMAPE", "MASE", "OWA", "MSIS", "R0.5", "coverage80", "coverage95")
]
#: per benchmark: its page's title, its short label in the figure, and its
#: metrics, each as (label, path of keys into a results file, number format);
#: a "frozen" one is an earlier configuration's runs, kept and never rerun
BENCHMARKS = {
    "m4_hourly": {
        "title": "M4 Hourly, test split",
        "label": "M4",
        "page": "m4_hourly.md",
        # the baselines do not depend on the seed: not run again
        "extra": ["--baselines", ""],
        "metrics": M4_METRICS,
    },
    # the record before its configuration drew 400 paths: kept, never rerun
    "m4_hourly_paths100": {
        "title": "M4 Hourly, test split, 100 paths (the record until 2026-12-05)",
        "label": "M4, 100 paths",
        "frozen": True,
        "page": "m4_hourly.md",
        "extra": [],
        "metrics": M4_METRICS,
    },
    "etth1": {
        "title": "ETTh1, test rows",
        "label": "ETTh1",
        "page": "etth1.md",
        "extra": [],
        "metrics": [
            *(
                (f"MSE {h} h", ("models", OURS, h, "MSE"), ".4f")
                for h in ("24", "48", "168")
            ),
            *(
                (f"{c} % to {h} h", ("calibration", OURS, f"coverage{c}", h), ".3f")
                for c in ("80", "95")
                for h in ("24", "168")
            ),
        ],
    },
}

#: the benchmarks ``--run`` reruns: all but the frozen ones
RERUN = [stem for stem, spec in BENCHMARKS.items() if not spec.get("frozen")]


def _get(result: dict, keys: tuple):
    for key in keys:
        result = result[key]
    return float(result)


def _without_seed(config: dict) -> dict:
    return {k: v for k, v in config.items() if k != "random_state"}


def runs_of(stem: str, results: Path = R.RESULTS) -> dict[int, tuple[str, dict]]:
    """The run of record of ``stem`` and its seed runs: ``{seed: (file, result)}``.

    Raises
    ------
    ValueError
        If a seed run's configuration differs from the record's in more than
        ``random_state``, or two runs have the same seed.
    """
    record = R.read_json(results / f"{stem}.json")
    pattern = re.compile(rf"{re.escape(stem)}_seed\d+\.json")
    files = [results / f"{stem}.json"]
    files += sorted(
        p for p in results.glob(f"{stem}_seed*.json") if pattern.fullmatch(p.name)
    )
    runs: dict[int, tuple[str, dict]] = {}
    for path in files:
        result = record if path.name == f"{stem}.json" else R.read_json(path)
        if _without_seed(result["config"]) != _without_seed(record["config"]):
            raise ValueError(
                f"{path.name}: its configuration differs from {stem}.json's in more "
                f"than random_state: {result['config']} against {record['config']}"
            )
        seed = int(result["config"].get("random_state", 0))
        if seed in runs:
            raise ValueError(f"{path.name} and {runs[seed][0]} both have seed {seed}")
        runs[seed] = (path.name, result)
    return dict(sorted(runs.items()))


#: options of a recorded command that write the page of record: not repeated
PAGE_OPTIONS = ("--markdown", "--figure", "--name", "--json")


def seed_command(stem: str, seed: int, results: Path = R.RESULTS):
    """The recorded command of ``stem``'s run of record, with ``seed``.

    Returns ``(env, argv)``: the environment (with the recorded
    ``OMP_NUM_THREADS``) and the arguments after ``python``. ``random_state``
    is set in its ``--config``; the run writes ``<stem>_seed<seed>.json``.
    """
    words = shlex.split(R.read_json(results / f"{stem}.json")["command"])
    env = dict(os.environ)
    while words and "=" in words[0]:
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    if words[:1] != ["python"]:
        raise ValueError(f"{stem}.json: not a recorded python command: {words}")
    argv, config, rest = [words[1]], {}, words[2:]
    while rest:
        word = rest.pop(0)
        if word in PAGE_OPTIONS:
            rest.pop(0)
        elif word == "--config":
            config = json.loads(rest.pop(0))
        else:
            argv.append(word)
    config["random_state"] = seed
    argv += ["--config", json.dumps(config), "--name", f"{stem}_seed{seed}"]
    return env, argv + BENCHMARKS[stem]["extra"]


def run_seeds(seeds: list[int], stems=None) -> None:
    """Each benchmark's recorded command once per seed (seed 0 is the record).

    ``stems``: those benchmarks only (all but the frozen ones by default).
    """
    for stem in stems or RERUN:
        if BENCHMARKS[stem].get("frozen"):
            raise ValueError(f"{stem}: an earlier configuration's runs, not rerun")
        for seed in seeds:
            env, argv = seed_command(stem, seed)
            print("running", shlex.join(argv), flush=True)
            subprocess.run([sys.executable, *argv], env=env, check=True, cwd=R.ROOT)


def summary(stem: str, results: Path = R.RESULTS) -> dict:
    """Each seed's metrics of ``stem``, their mean, deviation, least and most."""
    runs = runs_of(stem, results)
    metrics = BENCHMARKS[stem]["metrics"]
    scores = {
        str(seed): {label: _get(result, keys) for label, keys, _ in metrics}
        for seed, (_, result) in runs.items()
    }
    columns = {label: [s[label] for s in scores.values()] for label, _, _ in metrics}
    record = next(seed for seed, (name, _) in runs.items() if name == f"{stem}.json")
    return {
        "label": BENCHMARKS[stem]["label"],  # in the figure's panel titles
        "record_seed": record,
        "n_runs": len(runs),
        "files": {str(seed): name for seed, (name, _) in runs.items()},
        "runs": {str(seed): R.run_stamp(result) for seed, (_, result) in runs.items()},
        "scores": scores,
        "mean": {k: statistics.fmean(v) for k, v in columns.items()},
        # the sample deviation (n - 1); none for a single run
        "sd": {
            k: statistics.stdev(v) if len(v) > 1 else None for k, v in columns.items()
        },
        "min": {k: min(v) for k, v in columns.items()},
        "max": {k: max(v) for k, v in columns.items()},
    }


def section(stem: str, part: dict) -> list[str]:
    """A benchmark's table: a row per seed, then the mean and the deviation."""
    spec = BENCHMARKS[stem]
    metrics = [(label, label, fmt) for label, _, fmt in spec["metrics"]]
    rows = []
    for seed, scores in part["scores"].items():
        mark = " (record)" if int(seed) == part["record_seed"] else ""
        rows.append((f"{seed}{mark}", scores))
    rows += [("mean", part["mean"]), ("standard deviation", part["sd"])]
    n = part["n_runs"]
    what = "an earlier command" if spec.get("frozen") else "the command"
    return [
        f"## {spec['title']}",
        "",
        f"{n} run{'s' if n != 1 else ''} of {what} of "
        f"[the page of record]({spec['page']}), "
        "files " + ", ".join(f"`{f}`" for f in part["files"].values()) + ".",
        "",
        R.column_table("`random_state`", metrics, rows),
    ]


def markdown(result: dict, stem: str) -> str:
    """The page: how it was made, the figure, a table per benchmark."""
    lines = R.page_head(
        result,
        stem,
        title="Seed to seed",
        protocol=(
            "Each benchmark of record is one fit with `random_state=0`. Here the "
            "same command is rerun with other seeds, once each, on the same split: "
            "the spread of the scores is what one fit's scores are uncertain by. "
            "A seed is never chosen by these scores; the pages of record stay "
            "seed 0's. The command collects the runs' results files (their own "
            "commands are in them; `--run` makes them first, from the recorded "
            "commands) and checks that they differ in `random_state` only."
        ),
        figure="Scores of each seed beside their mean",
        machine="Each run's CPU and date are in its results file.",
    )
    for name, part in result["benchmarks"].items():
        lines += ["", *section(name, part)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--run",
        type=int,
        nargs="+",
        default=[],
        metavar="SEED",
        help="first run each benchmark's recorded command with these seeds",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=RERUN,
        default=None,
        help="--run these benchmarks only",
    )
    R.add_page_args(parser, json_of="seeds")
    args = parser.parse_args(argv)
    if args.from_results:
        return R.page_from_results(parser, args, "seeds", markdown)
    if 0 in args.run:
        parser.error("--run: seed 0 is the run of record (make it with its own page)")
    run_seeds(args.run, args.only)
    result = {
        **R.run_info("seeds.py"),
        "benchmarks": {stem: summary(stem) for stem in BENCHMARKS},
    }
    for stem, part in result["benchmarks"].items():
        print(stem, {k: round(v, 4) for k, v in part["mean"].items()}, flush=True)
    R.record(args, "seeds", result, markdown, R.results_file(args, "seeds"))
    return result


if __name__ == "__main__":
    main()
