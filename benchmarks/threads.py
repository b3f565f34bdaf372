"""Thread policy under CPU contention: predict and fit, quiet and beside busy processes.

Issue 18 measured a single-series predict at context 2,048 slowing 3.2 to 3.4
times beside two busy processes on 2 cores (a fair share is 2 times). This
script measures the forecaster's ``n_threads`` settings side by side in one
run, each on the quiet machine and beside ``--busy`` processes running
``python -c "while True: pass"`` (started before the measurement, killed
after it):

(a) The done-when of the issue: a single-series predict, 48 steps x 100
    paths, of a forecaster with ``context_length=2048, prediction_length=48``
    (default network: d_model 32, 3 layers) fitted for one short epoch (64
    windows, no validation) on a noisy daily sine of 3,000 hourly points.
    Settings: ``n_threads`` None (the default), 1 and 2, and "unpinned": the
    code before the policy, which left torch's thread count as the process
    had it (``threads_for`` replaced by a no-op; torch's count is recorded).
    The forecaster is fitted once; each setting predicts from a copy whose
    ``n_threads`` attribute is set (``set_params`` would unfit it), and every
    timed predict starts from a fresh copy, which holds no cached paths.
(b) M4 Hourly, ``--m4-series`` series, the M4 configuration
    (``context_length=168, prediction_length=48, windows_per_epoch=512,
    max_epochs=1``, the default validation and early stopping): a ``fit``
    (8 steps of 64 windows and one validation pass), then a ``predict`` of
    every series (48 steps x 100 paths), for ``n_threads`` None, 1 and 2.

Each part repeats ``--repeats`` times; within a repeat every setting is
measured quiet and loaded, the order of the two swapped every other repeat,
and the tables give the medians and the slow-down loaded/quiet of the medians.
The machine may be shared with other work: the load average before and after
the run and each part is recorded, and so is, for every measurement, the CPU
time other processes used during it (in cores: the machine's busy time from
``/proc/stat`` less this process's own, divided by the wall time). In the
loaded runs it includes the busy processes.

    python benchmarks/threads.py --markdown docs/benchmarks/threads.md
    python benchmarks/threads.py --from-results --markdown docs/benchmarks/threads.md
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import signal
import statistics
import subprocess
import sys
import time
import warnings
from unittest import mock

import _report as R  # benchmarks/_report.py
import numpy as np
import pandas as pd
import torch

import sktime_logsparse.forecaster as forecaster_module
from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse._threads import predict_threads, resolve_threads
from sktime_logsparse.datasets import load_m4_hourly_split

NAME = "threads"
#: the slow-down of the done-when, and the part and setting it is read from
TARGET = 2.5
SETTINGS = [None, 1, 2]
PREDICT_CONFIG = dict(
    context_length=2048,
    prediction_length=48,
    max_epochs=1,
    windows_per_epoch=64,
    early_stopping_patience=None,
    num_samples=100,
    device="cpu",
    random_state=0,
)
M4_CONFIG = dict(
    context_length=168,
    prediction_length=48,
    windows_per_epoch=512,
    max_epochs=1,
    num_samples=100,
    device="cpu",
    random_state=0,
)
HORIZON = 48


def key(setting) -> str:
    """The results key of a setting: ``"None"``, ``"1"``, ``"unpinned"``."""
    return str(setting)


def load() -> float:
    """The 1-minute load average."""
    return round(os.getloadavg()[0], 2)


def _busy_jiffies() -> int:
    """CPU time the whole machine spent busy (all cores), in clock ticks."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return user + nice + system + irq + softirq + steal


def _own_seconds() -> float:
    """CPU time of this process (all its threads), in seconds."""
    t = os.times()
    return t.user + t.system


def measure(fn) -> dict:
    """Wall time of ``fn()``, its CPU use and that of the rest of the machine."""
    tick = os.sysconf("SC_CLK_TCK")
    busy, own = _busy_jiffies(), _own_seconds()
    start = time.perf_counter()
    fn()
    wall = time.perf_counter() - start
    own = _own_seconds() - own
    busy = (_busy_jiffies() - busy) / tick
    return {
        "wall_s": wall,
        "own_cores": own / wall,
        "other_cores": max(0.0, busy - own) / wall,
    }


@contextlib.contextmanager
def busy_processes(n: int):
    """``n`` processes spinning a core each, for the duration of the block."""
    procs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)
    ]
    time.sleep(0.5)  # running before the measurement starts
    try:
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def summarise(runs: list[dict]) -> dict:
    """Medians of a list of :func:`measure` results, and the runs."""
    return {
        "median_s": statistics.median(r["wall_s"] for r in runs),
        "other_cores": statistics.median(r["other_cores"] for r in runs),
        "own_cores": statistics.median(r["own_cores"] for r in runs),
        "runs_s": [r["wall_s"] for r in runs],
    }


def alternate(settings, repeats: int, busy: int, run) -> dict:
    """``run(setting)`` quiet and loaded, alternating; medians per setting.

    ``run`` returns a dict of :func:`measure` results by name (``"fit"``,
    ``"predict"``); so does this function, each holding the settings.
    """
    runs: dict = {}
    for rep in range(repeats):
        for setting in settings:
            order = ("quiet", "loaded") if rep % 2 == 0 else ("loaded", "quiet")
            for condition in order:
                if condition == "loaded":
                    with busy_processes(busy):
                        measured = run(setting)
                else:
                    measured = run(setting)
                for name, m in measured.items():
                    cells = runs.setdefault(name, {}).setdefault(key(setting), {})
                    cells.setdefault(condition, []).append(m)
                    print(
                        f"  repeat {rep + 1} {name:7} n_threads={key(setting):8} "
                        f"{condition:6} {m['wall_s']:7.2f} s "
                        f"(others {m['other_cores']:.2f} cores)",
                        flush=True,
                    )
    out: dict = {}
    for name, by_setting in runs.items():
        for setting, cells in by_setting.items():
            quiet, loaded = summarise(cells["quiet"]), summarise(cells["loaded"])
            out.setdefault(name, {})[setting] = {
                "quiet": quiet,
                "loaded": loaded,
                "slowdown": loaded["median_s"] / quiet["median_s"],
            }
    return out


# ---------------------------------------------------------------- part (a) --


def long_series(n: int = 3000) -> pd.DataFrame:
    """A noisy daily sine of ``n`` hourly points."""
    rng = np.random.default_rng(0)
    t = np.arange(n)
    values = 10 + 3 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.3, n)
    return pd.DataFrame(
        {"y": values}, index=pd.date_range("2020-01-01", periods=n, freq="h")
    )


def _no_policy(*args, **kwargs):
    """``threads_for`` of the code before the policy: leave the count as it is."""
    return contextlib.nullcontext()


def part_a(args) -> dict:
    """Single-series predict at context 2,048, per setting, quiet and loaded."""
    before = load()
    f = LogSparseTransformerForecaster(**PREDICT_CONFIG, n_threads=1)
    start = time.perf_counter()
    f.fit(long_series())
    fit_s = time.perf_counter() - start
    fh = list(range(1, HORIZON + 1))
    settings = [*SETTINGS, "unpinned"]
    models = {}
    for setting in settings:
        g = copy.deepcopy(f)
        g.n_threads = None if setting == "unpinned" else setting
        models[key(setting)] = g

    def predict(setting) -> dict:
        g = copy.deepcopy(models[key(setting)])  # no cached paths
        patch = (
            mock.patch.object(forecaster_module, "threads_for", _no_policy)
            if setting == "unpinned"
            else contextlib.nullcontext()
        )
        with patch:
            return {"predict": measure(lambda: g.predict(fh=fh))}

    for setting in settings:  # warm-up: lazy imports, pattern caches, pools
        predict(setting)
    results = alternate(settings, args.repeats, args.busy, predict)["predict"]
    for setting in settings:
        threads = (
            torch.get_num_threads()
            if setting == "unpinned"
            else predict_threads(setting, 1)
        )
        results[key(setting)]["threads"] = threads
    return {
        "context": PREDICT_CONFIG["context_length"],
        "horizon": HORIZON,
        "samples": PREDICT_CONFIG["num_samples"],
        "series_length": 3000,
        "fit_windows": PREDICT_CONFIG["windows_per_epoch"],
        "fit_s": fit_s,
        "repeats": args.repeats,
        "settings": results,
        "load_before": before,
        "load_after": load(),
    }


# ---------------------------------------------------------------- part (b) --


def part_b(args) -> dict:
    """M4 Hourly fit and predict of every series, per setting, quiet and loaded."""
    before = load()
    y, _ = load_m4_hourly_split(series=args.m4_series)
    fh = list(range(1, HORIZON + 1))

    def fit_predict(setting) -> dict:
        f = LogSparseTransformerForecaster(**M4_CONFIG, n_threads=setting)
        fit = measure(lambda: f.fit(y))
        # the first predict of the fitted forecaster samples the paths
        return {"fit": fit, "predict": measure(lambda: f.predict(fh=fh))}

    fit_predict(1)  # warm-up
    results = alternate(SETTINGS, args.repeats, args.busy, fit_predict)
    fits, predicts = results["fit"], results["predict"]
    for setting in SETTINGS:
        fits[key(setting)]["threads"] = resolve_threads(setting)
        predicts[key(setting)]["threads"] = predict_threads(setting, args.m4_series)
    return {
        "series": args.m4_series,
        "config": M4_CONFIG,
        "horizon": HORIZON,
        "repeats": args.repeats,
        "fit": fits,
        "predict": predicts,
        "load_before": before,
        "load_after": load(),
    }


# ----------------------------------------------------------------- report --

LABELS = {
    "None": "None (default)",
    "1": "1",
    "2": "2",
    "unpinned": "unpinned (before the policy)",
}


def table(results: dict, unit: str = ".2f") -> str:
    """One row per setting: threads used, quiet, loaded, slow-down, others' CPU."""
    head = [
        "`n_threads`",
        "threads used",
        "quiet (s)",
        "beside busy processes (s)",
        "slow-down",
        "own CPU, quiet / loaded (cores)",
        "others' CPU, quiet / loaded (cores)",
    ]
    rows = []
    for name, r in results.items():
        quiet, loaded = r["quiet"], r["loaded"]
        rows.append(
            [
                LABELS.get(name, name),
                r["threads"],
                format(quiet["median_s"], unit),
                format(loaded["median_s"], unit),
                f"**{r['slowdown']:.2f}x**",
                f"{quiet['own_cores']:.2f} / {loaded['own_cores']:.2f}",
                f"{quiet['other_cores']:.2f} / {loaded['other_cores']:.2f}",
            ]
        )
    return R.markdown_table(head, rows)


def done_when(result: dict) -> str:
    """The done-when line: the default's slow-down against the target."""
    default = result["a"]["settings"]["None"]
    slowdown, others = default["slowdown"], default["quiet"]["other_cores"]
    met = "met" if slowdown <= TARGET else "NOT met"
    return (
        f"Done-when (single-series predict, default `n_threads`, slow-down beside "
        f"{result['busy']} busy processes at most {TARGET}x, on an otherwise idle "
        f"machine): {slowdown:.2f}x, {met}; other processes used {others:.2f} "
        "cores during the quiet runs."
    )


def markdown(result: dict, stem: str = NAME) -> str:
    """The generated part of the page (hand-written notes are kept apart)."""
    versions = ", ".join(f"{k} {v}" for k, v in result.get("versions", {}).items())
    a, b = result["a"], result["b"]
    parts = R.page_head(
        result,
        stem,
        title="Threads under CPU contention: the `n_threads` policy",
        protocol=None,
        figure="Quiet and loaded times of each n_threads setting",
        command_intro="Produced by `benchmarks/threads.py` (its docstring has the "
        "details) with",
        machine=f"{R.machine_line(result)}; Python {result.get('python', '?')}, "
        f"{versions}; run on {result.get('date', '?')}, "
        f"{result['elapsed_s']:.0f} s in all. Load average (1 minute) before -> "
        f"after the run: {result['load_before']} -> {result['load_after']}. "
        f"Times are medians of {a['repeats']} wall-clock runs (lower is better); "
        f"'loaded' runs beside {result['busy']} processes spinning "
        '`python -c "while True: pass"`, the quiet and loaded runs alternating. '
        "The last two columns are the CPU time this process and other "
        "processes used meanwhile, in cores (the busy processes count as others "
        "in the loaded runs): the quiet runs are only as quiet as the machine "
        "was, and a call whose own share of the cores drops slows down by as "
        "much without any thread waiting on another.",
    )
    parts += [
        "",
        done_when(result),
        "",
        f"## (a) Single-series predict, context {a['context']}",
        "",
        f"{a['horizon']} steps x {a['samples']} paths of one series of "
        f"{a['series_length']} hourly points (noisy daily sine), by a forecaster "
        f"with `context_length={a['context']}, prediction_length=48` (d_model 32, "
        f"3 layers) fitted for one epoch of {a['fit_windows']} windows. "
        "'Unpinned' is the code before the policy: the call runs with torch's "
        "thread count as the process has it. Load average before -> after: "
        f"{a['load_before']} -> {a['load_after']}.",
        "",
        table(a["settings"]),
        "",
        f"## (b) M4 Hourly, {b['series']} series: fit and predict",
        "",
        "`fit` with the M4 configuration (`context_length=168, "
        "prediction_length=48, windows_per_epoch=512, max_epochs=1`, default "
        "validation: 8 steps of 64 windows and one validation pass), then "
        f"`predict` of the {b['series']} series ({b['horizon']} steps x 100 "
        "paths) by the same forecaster. Load average before -> after: "
        f"{b['load_before']} -> {b['load_after']}.",
        "",
        "`fit`:",
        "",
        table(b["fit"], ".1f"),
        "",
        f"`predict` of the {b['series']} series:",
        "",
        table(b["predict"]),
    ]
    return "\n".join(parts) + "\n"


def main() -> None:
    """Run the benchmark; print the tables, optionally write the page."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per cell")
    parser.add_argument("--busy", type=int, default=2, help="busy processes")
    parser.add_argument("--m4-series", type=int, default=100, help="series of (b)")
    R.add_page_args(parser, json_of=NAME)
    args = parser.parse_args()
    # a kill ends the run through its finally blocks: no busy process is left
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    warnings.filterwarnings("ignore", category=FutureWarning)
    if args.from_results:
        R.page_from_results(parser, args, NAME, markdown)
        return

    json_path = R.results_file(args, NAME)
    info = R.start_run("threads.py", threads=torch.get_num_threads())
    result = {**info, "busy": args.busy, "load_before": load()}
    print(f"load average {result['load_before']}", flush=True)
    start = time.perf_counter()
    print("(a) single-series predict, context 2048", flush=True)
    result["a"] = part_a(args)
    print(table(result["a"]["settings"]), flush=True)
    print(f"(b) M4 Hourly, {args.m4_series} series: fit and predict", flush=True)
    result["b"] = part_b(args)
    print(table(result["b"]["fit"], ".1f"), flush=True)
    print(table(result["b"]["predict"]), flush=True)
    result.update(elapsed_s=time.perf_counter() - start, load_after=load())
    print(done_when(result), flush=True)
    R.record(args, NAME, result, markdown, json_path)


if __name__ == "__main__":
    main()
