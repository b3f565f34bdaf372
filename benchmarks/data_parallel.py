"""Data-parallel training: 1 rank against 2 gloo ranks under torchrun, side by side.

Fits the forecaster on ``--series`` M4 Hourly series (training split, loaded
as ``m4_hourly.load`` does) with dropout 0, the same ``random_state`` and one
intra-op thread per rank, first under ``torchrun --nproc_per_node 1`` then
``--nproc_per_node 2`` (gloo), each in a fresh process, and records:

* the largest relative difference between the two runs' forecasts (mean of
  100 sample paths, every series and step; target 1e-4), and whether both
  ranks of the 2-rank run forecast exactly alike;
* the wall time of ``fit`` on rank 0 (target: 2 ranks <= 0.75 x 1 rank) and
  of the whole launch (interpreter start, imports and predict included), and
  the CPU time of ``fit`` in each rank (all its threads, gloo's included):
  how the work was split, whatever else the machine ran;
* both runs' loss curves.

The machine's cores must be free for the ratio to mean anything: 2 ranks need
2 cores, and every step waits for the slower rank, so a rank that another
process holds off a core stalls both. The load average before and after the
run is recorded. Results go to ``benchmarks/results/data_parallel.json``.

    python benchmarks/data_parallel.py
    python benchmarks/data_parallel.py --series 40 --epochs 3   # the defaults
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _report as R  # benchmarks/_report.py
import numpy as np

NAME = "data_parallel"
#: the forecaster of both runs (the rest are the class defaults)
CONFIG = {
    "context_length": 168,
    "prediction_length": 48,
    "dropout": 0.0,
    "learning_rate": 5e-4,
    "windows_per_epoch": 1024,
    "batch_size": 64,
    "device": "cpu",
    "random_state": 0,
    "n_threads": 1,
}
TARGETS = {"max_rel_diff": 1e-4, "time_ratio": 0.75}


def worker(out: Path, n_series: int, epochs: int) -> None:
    """One rank of a run: fit, predict, write ``rank<r>.json`` to ``out``."""
    from m4_hourly import HORIZON, load  # benchmarks/m4_hourly.py

    from sktime_logsparse import LogSparseTransformerForecaster

    rank = int(os.environ.get("RANK", "0"))
    train, _ = load("test", n_series)
    forecaster = LogSparseTransformerForecaster(**CONFIG, max_epochs=epochs)
    begin, cpu = time.perf_counter(), time.process_time()
    forecaster.fit(train, fh=np.arange(1, HORIZON + 1))
    fit_s, fit_cpu_s = time.perf_counter() - begin, time.process_time() - cpu
    forecast = forecaster.predict().to_numpy().ravel()
    result = {
        "fit_s": fit_s,
        "fit_cpu_s": fit_cpu_s,
        "predict_s": time.perf_counter() - begin - fit_s,
        "history": forecaster.training_history_,
        "forecast": forecast.tolist(),
    }
    (out / f"rank{rank}.json").write_text(json.dumps(result))


def launch(ranks: int, out: Path, args) -> dict:
    """Run the workers of ``ranks`` ranks under torchrun; their results."""
    out.mkdir()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    cmd += [f"--nproc_per_node={ranks}", __file__, "--worker", str(out)]
    cmd += ["--series", str(args.series), "--epochs", str(args.epochs)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    begin = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, timeout=1800)
    wall = time.perf_counter() - begin
    results = [json.loads((out / f"rank{r}.json").read_text()) for r in range(ranks)]
    print(f"{ranks} rank(s): fit {results[0]['fit_s']:.1f} s, launch {wall:.1f} s")
    return {"wall_s": wall, "ranks": results}


def section(dp: dict) -> list[str]:
    """The section of ``docs/benchmarks/scale.md``: 1 rank against 2."""
    c = dp["config"]
    rows = [
        [
            ranks,
            f"{dp['fit_s'][ranks]:.1f}",
            ", ".join(f"{t:.1f}" for t in dp["fit_cpu_s"][ranks]),
            f"{dp['predict_s'][ranks]:.1f}",
            f"{dp['launch_s'][ranks]:.1f}",
            f"{dp['history'][ranks][-1]['val_loss']:.6f}",
        ]
        for ranks in sorted(dp["fit_s"], key=int)
    ]
    head = ["ranks", "fit (s)", "fit CPU per rank (s)", "predict (s)", "launch (s)"]
    return [
        "",
        "## Data-parallel training",
        "",
        f"`torchrun --nproc_per_node 1` against `2` (gloo, one intra-op thread "
        f"a rank): {c['series']} M4 Hourly series, {c['max_epochs']} epochs of "
        f"{c['windows_per_epoch']} windows, global batch {c['batch_size']}, "
        "dropout 0, the same `random_state`. Produced by "
        "`benchmarks/data_parallel.py` with",
        "",
        "```bash",
        dp.get("command", "(not recorded)"),
        "```",
        "",
        R.run_line(dp),
        "",
        f"Done-when (forecasts within {dp['targets']['max_rel_diff']:.0e} relative, "
        f"both ranks alike, 2-rank fit at most {dp['targets']['time_ratio']}x the "
        f"1-rank wall time): largest relative difference "
        f"{dp['max_rel_diff']:.1e}, ranks identical: {dp['ranks_identical']}, "
        f"time ratio {dp['time_ratio']:.2f}: "
        + (
            "met."
            if dp["max_rel_diff"] <= dp["targets"]["max_rel_diff"]
            and dp["ranks_identical"]
            and dp["time_ratio"] <= dp["targets"]["time_ratio"]
            else "NOT met."
        ),
        "",
        R.markdown_table(head + ["last validation loss"], rows),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        return worker(args.worker, args.series, args.epochs)
    info = R.start_run("data_parallel.py", threads=1)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        one = launch(1, Path(tmp) / "one", args)
        two = launch(2, Path(tmp) / "two", args)
    alone, first, second = (
        np.array(r["forecast"]) for r in (one["ranks"][0], *two["ranks"])
    )
    diff = float(np.max(np.abs(first - alone) / np.maximum(np.abs(alone), 1e-12)))
    ratio = two["ranks"][0]["fit_s"] / one["ranks"][0]["fit_s"]
    cpu = {
        "1": [one["ranks"][0]["fit_cpu_s"]],
        "2": [r["fit_cpu_s"] for r in two["ranks"]],
    }
    cpu_ratio = max(cpu["2"]) / cpu["1"][0]
    losses = ("epoch", "train_loss", "val_loss")
    result = {
        **info,
        "config": {**CONFIG, "max_epochs": args.epochs, "series": args.series},
        "targets": TARGETS,
        "max_rel_diff": diff,
        "ranks_identical": bool(np.array_equal(first, second)),
        "fit_s": {"1": one["ranks"][0]["fit_s"], "2": two["ranks"][0]["fit_s"]},
        "predict_s": {
            "1": one["ranks"][0]["predict_s"],
            "2": two["ranks"][0]["predict_s"],
        },
        "launch_s": {"1": one["wall_s"], "2": two["wall_s"]},
        "time_ratio": ratio,
        "fit_cpu_s": cpu,
        "cpu_ratio": cpu_ratio,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "history": {
            str(n): [{k: h[k] for k in losses} for h in run["ranks"][0]["history"]]
            for n, run in (("1", one), ("2", two))
        },
    }
    print(
        f"max relative difference of the forecasts: {diff:.2e} "
        f"(target {TARGETS['max_rel_diff']:g}); ranks identical: "
        f"{result['ranks_identical']}; fit time 2 ranks / 1 rank: {ratio:.2f} "
        f"(target <= {TARGETS['time_ratio']}); CPU time of fit per rank, 2 ranks / "
        f"1 rank: {cpu_ratio:.2f}; load average before "
        f"{load_before[0]:.1f}, after {result['load_average']['after'][0]:.1f}"
    )
    R.write_json(R.results_path(NAME), result)


if __name__ == "__main__":
    main()
