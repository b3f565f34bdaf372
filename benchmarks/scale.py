"""Large panels: time per epoch and peak memory of fit and predict against the series.

Synthetic hourly panels of ``--sizes`` series (default 1,000, 10,000 and
100,000) of ``--length`` points each (1,000), generated here with a fixed
seed: per series a level, a daily and a weekly cycle of random amplitudes
and phases, and Gaussian noise of a random scale. Each size runs in a fresh
process (``python benchmarks/scale.py --worker S``), so that the peaks are
those of that size alone:

* ``fit`` of a small model (``d_model=16, n_heads=2, n_layers=2``, context
  168, ``prediction_length=48``) for 2 epochs of ``--windows`` windows (2048),
  with the default validation (at most 1,024 windows scored) and calibration.
  Time per epoch: the seconds between the ends of the two epochs (gradient
  steps and validation pass); the wall time of ``fit`` (its data preparation
  included); the peak resident set size (RSS, ``VmHWM`` after resetting it)
  and its increase over the RSS before ``fit``; and the estimate of the
  forecaster's memory check (``_memory``) of the same run.
* ``predict``: the mean of 48 steps x 100 paths of every series. Wall time,
  peak RSS and its increase over the RSS before it, and the estimate. A
  forecast whose paths fit in ``_outputs.CACHE_BYTES`` is sampled at once and
  its paths kept for the next output; for such sizes the predict is also
  measured as larger panels run, a block of series at a time
  (``streamed``), first, on a fresh forecaster.

The machine may be shared: times vary with the other work (the load average
is recorded), memory does not.

    python benchmarks/scale.py --sizes 1000 10000 --json /tmp/scale.json
    python benchmarks/scale.py --markdown docs/benchmarks/scale.md
    python benchmarks/scale.py --from-results --markdown docs/benchmarks/scale.md

The page also holds the tables of ``benchmarks/tuning.py``
(``benchmarks/results/tuning.json``, if it exists).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import _report as R  # benchmarks/_report.py
import numpy as np

NAME = "scale"
GIB = 2.0**30
#: done-when: predict's peak increase at 100k series against 10k, and time per
#: epoch at 100k against 1k
PREDICT_TARGET = 2.0
EPOCH_TARGET = 1.5
HORIZON, PATHS = 48, 100
MODEL = dict(
    d_model=16,
    n_heads=2,
    n_layers=2,
    context_length=168,
    prediction_length=HORIZON,
    max_epochs=2,
    num_samples=PATHS,
    device="cpu",
    random_state=0,
)


def panel(n_series: int, length: int, seed: int = 0):
    """The synthetic hourly panel: ``n_series`` x ``length`` points, float64."""
    import pandas as pd

    values = np.empty((n_series, length), dtype=np.float64)
    t = np.arange(length, dtype=np.float32)
    chunk = 10_000
    for lo in range(0, n_series, chunk):  # bounded temporaries
        rng = np.random.default_rng([seed, lo])
        n = min(chunk, n_series - lo)
        draw = _uniform(rng, n)
        level = rng.lognormal(3.0, 1.0, (n, 1)).astype(np.float32)
        daily, weekly = draw(0.05, 0.5) * level, draw(0.0, 0.3) * level
        phase_d, phase_w = draw(0, 2 * np.pi), draw(0, 2 * np.pi)
        noise = draw(0.02, 0.2) * level
        part = level + daily * np.sin(2 * np.pi * t / 24 + phase_d)
        part += weekly * np.sin(2 * np.pi * t / 168 + phase_w)
        part += noise * rng.standard_normal((n, length), dtype=np.float32)
        values[lo : lo + n] = part
    index = pd.MultiIndex.from_product(
        [
            pd.RangeIndex(n_series, name="series"),
            pd.date_range("2020-01-01", periods=length, freq="h", name="time"),
        ]
    )
    return pd.DataFrame({"y": values.reshape(-1)}, index=index, copy=False)


def _uniform(rng, n: int):
    """``draw(low, high)``: ``n`` uniform float32 values, as a column."""
    return lambda low, high: rng.uniform(low, high, (n, 1)).astype(np.float32)


def _reset_peak() -> None:
    """Reset the peak RSS (``VmHWM``) to the current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _meminfo(key: str) -> int:
    """A field of /proc/meminfo in bytes."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _measured(fn) -> dict:
    """Run ``fn`` with the peak RSS reset: wall time, peak, increase, RSS after."""
    before = R.proc_status("VmRSS")
    _reset_peak()
    start = time.perf_counter()
    fn()
    wall = time.perf_counter() - start
    peak = R.proc_status("VmHWM")
    return {
        "wall_s": wall,
        "rss_before": before,
        "peak": peak,
        "increase": peak - before,
        "rss_after": R.proc_status("VmRSS"),
    }


def worker(n_series: int, length: int, windows: int) -> dict:
    """Fit and predict one size in this process; times in s, memory in bytes."""
    warnings.filterwarnings("ignore")
    import sktime_logsparse._predicting as predicting
    import sktime_logsparse._sampling as sampling
    import sktime_logsparse._training as training
    from sktime_logsparse import LogSparseTransformerForecaster
    from sktime_logsparse._outputs import PathCache

    estimates: dict = {}
    at_check: dict = {}

    def recorded(name, check):
        def run(*args, **kwargs):
            # the peak so far, then what the run adds after its memory check
            at_check[name] = {
                "peak_before": R.proc_status("VmHWM"),
                "rss": R.proc_status("VmRSS"),
            }
            _reset_peak()
            estimates[name] = estimate = check(*args, **kwargs)
            return estimate

        return run

    def checked(measured: dict, name: str) -> dict:
        """``measured`` with the whole call's peak and the part after the check."""
        check = at_check[name]
        measured["checked_increase"] = measured["peak"] - check["rss"]
        measured["peak"] = max(measured["peak"], check["peak_before"])
        measured["increase"] = measured["peak"] - measured["rss_before"]
        measured["estimate"] = estimates[name].total
        return measured

    training.check_fit_memory = recorded("fit", training.check_fit_memory)
    sampling.check_predict_memory = recorded("predict", sampling.check_predict_memory)
    start = time.perf_counter()
    y = panel(n_series, length)
    out = {
        "series": n_series,
        "length": length,
        "points": n_series * length,
        "panel_s": time.perf_counter() - start,
        "rss_with_panel": R.proc_status("VmRSS"),
        "mem_total": _meminfo("MemTotal"),
        "mem_available": _meminfo("MemAvailable"),
        "load_before": round(os.getloadavg()[0], 2),
    }
    f = LogSparseTransformerForecaster(**MODEL, windows_per_epoch=windows)
    fh = np.arange(1, HORIZON + 1)
    out["fit"] = checked(_measured(lambda: f.fit(y, fh=fh)), "fit")
    history = f.training_history_
    out["fit"]["epochs"] = len(history)
    out["fit"]["train_s"] = history[-1]["seconds"]
    if len(history) > 1:
        out["fit"]["epoch_s"] = history[-1]["seconds"] - history[-2]["seconds"]
    out["fit"]["estimate_parts"] = {
        **estimates["fit"].persistent,
        **estimates["fit"].transient,
    }
    size = n_series * PATHS * HORIZON * 4  # float32 paths
    out["cached"] = size <= predicting.CACHE_BYTES
    if out["cached"]:  # also as a larger panel runs: a block at a time
        limit = predicting.CACHE_BYTES
        predicting.CACHE_BYTES = 0
        try:
            out["predict_streamed"] = checked(_measured(f.predict), "predict")
        finally:
            predicting.CACHE_BYTES = limit
            f._path_cache = PathCache()
    out["predict"] = checked(_measured(f.predict), "predict")
    out["load_after"] = round(os.getloadavg()[0], 2)
    return out


def run_size(n_series: int, args) -> dict:
    """:func:`worker` in a fresh process; its result."""
    command = [sys.executable, __file__, "--worker", str(n_series)]
    command += ["--length", str(args.length), "--windows", str(args.windows)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{n_series} series failed:\n{done.stderr[-4000:]}")
    got = json.loads(done.stdout.strip().splitlines()[-1])
    for phase in ("fit", "predict", "predict_streamed"):
        for key in ("peak", "increase", "checked_increase", "estimate"):
            if key in got.get(phase, {}):  # GiB too, for the pages' placeholders
                got[phase][f"{key}_gib"] = round(got[phase][key] / GIB, 3)
    return got


def ratios(result: dict) -> dict:
    """The done-when ratios, where the sizes they compare were run."""
    sizes = result["sizes"]
    out = {}
    if "100000" in sizes and "10000" in sizes:
        out["predict_increase_100k_over_10k"] = (
            sizes["100000"]["predict"]["increase"]
            / sizes["10000"]["predict"]["increase"]
        )
    if "100000" in sizes and "1000" in sizes:
        epoch = [sizes[k]["fit"].get("epoch_s") for k in ("100000", "1000")]
        if None not in epoch:
            out["epoch_100k_over_1k"] = epoch[0] / epoch[1]
    return out


def done_when(result: dict) -> str:
    """The done-when lines (predict memory, time per epoch)."""
    r = result.get("ratios", {})
    lines = []
    if "predict_increase_100k_over_10k" in r:
        v = r["predict_increase_100k_over_10k"]
        met = "met" if v <= PREDICT_TARGET else "NOT met"
        lines.append(
            f"Done-when (predict's peak increase at 100,000 series at most "
            f"{PREDICT_TARGET}x that at 10,000): {v:.2f}x, {met}."
        )
    if "epoch_100k_over_1k" in r:
        v = r["epoch_100k_over_1k"]
        met = "met" if v <= EPOCH_TARGET else "NOT met"
        lines.append(
            f"Done-when (time per epoch at 100,000 series at most {EPOCH_TARGET}x "
            f"that at 1,000): {v:.2f}x, {met}."
        )
    return " ".join(lines) or "Done-when: needs the 1,000, 10,000 and 100,000 runs."


def _gib(value: float) -> str:
    return f"{value / GIB:.2f}"


def _checked(phase: dict) -> str:
    """``after the check / estimate`` in GiB ("–" where not recorded)."""
    after = phase.get("checked_increase")
    return "–" if after is None else f"{_gib(after)} / {_gib(phase['estimate'])}"


def table(result: dict) -> str:
    """One row per size."""
    head = [
        "series",
        "points",
        "fit (s)",
        "per epoch (s)",
        "fit peak (GiB)",
        "fit increase (GiB)",
        "fit after its check / estimate (GiB)",
        "predict (s)",
        "predict increase (GiB)",
        "predict after its check / estimate (GiB)",
        "streamed predict increase (GiB)",
    ]
    rows = []
    for size in sorted(result["sizes"], key=int):
        s = result["sizes"][size]
        fit, predict = s["fit"], s["predict"]
        streamed = s.get("predict_streamed")
        epoch = fit.get("epoch_s")
        rows.append(
            [
                f"{int(size):,}",
                f"{s['points']:,}",
                f"{fit['wall_s']:.0f}",
                "–" if epoch is None else f"{epoch:.1f}",
                _gib(fit["peak"]),
                _gib(fit["increase"]),
                _checked(fit),
                f"{predict['wall_s']:.0f}",
                _gib(predict["increase"]) + (" (kept)" if s["cached"] else ""),
                _checked(predict),
                _gib(streamed["increase"]) if streamed else "(as predict)",
            ]
        )
    return R.markdown_table(head, rows)


def markdown(result: dict, stem: str = NAME) -> str:
    """The generated part of the page, with the tables of tuning.json."""
    parts = R.page_head(
        result,
        stem,
        title="Scale: large panels and parallel tuning",
        protocol=(
            "Synthetic hourly panels of 1,000 points per series (daily and weekly "
            "cycles of random amplitudes, levels and noise): a small model "
            f"(`d_model=16, n_heads=2, n_layers=2`, context 168) fitted for 2 "
            f"epochs of {result['windows']} windows with the default validation "
            "and calibration, then `predict` of every series (48 steps x 100 "
            "paths). Each size runs in a fresh process; peaks are the resident "
            "set size (RSS), increases are over the RSS before the call "
            "(the panel and the fitted model are held already). The memory "
            "check of `fit` runs once the panel is split into series, after "
            "sktime's own checks of `y` (which hold the largest transient of a "
            "large fit); 'after its check' is the peak from there, over the RSS "
            "then, against the check's estimate. 'Kept': the paths were "
            "small enough to keep for the next output; the streamed column is "
            "the same predict a block of series at a time, as larger panels "
            "run. `benchmarks/scale.py`'s docstring has the details."
        ),
        figure="Time per epoch and peak memory of fit and predict against the "
        "number of series",
    )
    parts += ["", done_when(result), "", table(result)]
    try:
        tuning = R.read_json("tuning")
    except FileNotFoundError:
        tuning = None
    if tuning is not None:
        import tuning as T  # benchmarks/tuning.py

        a = tuning["a"]
        parts += [
            "",
            "## Parallel tuning",
            "",
            f"`ForecastingGridSearchCV` of {a['candidates']} candidates "
            f"(`kernel_size` x `attention`) x {a['folds']} folds "
            f"(`ExpandingWindowSplitter`, 48 h) on {a['series']} M4 Hourly "
            f"series, each fit {a['epochs']} epochs of "
            f"{a['config']['windows_per_epoch']} windows at context "
            f"{a['config']['context_length']}, then the refit of the best: "
            "`backend=None` against loky with 2 workers and a dask "
            "`LocalCluster` of 2 processes x 1 thread, `n_threads` left at "
            "its default. Produced by `benchmarks/tuning.py` with",
            "",
            "```bash",
            tuning.get("command", "(not recorded)"),
            "```",
            "",
            R.run_line(tuning),
            "",
            T.done_when(tuning),
            "",
            T.tables(tuning),
        ]
    if R.results_path("data_parallel").is_file():
        import data_parallel as DP  # benchmarks/data_parallel.py

        parts += DP.section(R.read_json("data_parallel"))
    return "\n".join(parts) + "\n"


def main() -> None:
    """Run every size (or one, ``--worker``); write the results and the page."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--length", type=int, default=1000, help="points a series")
    parser.add_argument("--windows", type=int, default=2048, help="per epoch")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    R.add_page_args(parser, json_of=NAME)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.worker, args.length, args.windows)), flush=True)
        return
    if args.from_results:
        R.page_from_results(parser, args, NAME, markdown)
        return
    json_path = R.results_file(args, NAME) or R.results_path(NAME)
    info = R.start_run("scale.py")
    result = {**info, "length": args.length, "windows": args.windows, "sizes": {}}
    for n in args.sizes:
        print(f"{n:,} series ...", flush=True)
        got = run_size(n, args)
        result["sizes"][str(n)] = got
        fit, predict = got["fit"], got["predict"]
        print(
            f"  fit {fit['wall_s']:.0f} s (per epoch {fit.get('epoch_s', 0):.1f} s), "
            f"peak {_gib(fit['peak'])} GiB (+{_gib(fit['increase'])}, estimate "
            f"{_gib(fit['estimate'])}); predict {predict['wall_s']:.0f} s, "
            f"+{_gib(predict['increase'])} GiB (estimate "
            f"{_gib(predict['estimate'])})",
            flush=True,
        )
        result["ratios"] = ratios(result)
        R.write_json(json_path, result)  # after every size: a long run keeps them
    print(table(result), flush=True)
    print(done_when(result), flush=True)
    R.record(args, NAME, result, markdown, json_path)


if __name__ == "__main__":
    main()
