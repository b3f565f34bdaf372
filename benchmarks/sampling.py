"""Sampling speed: the cached sampler against re-encoding, and M4 Hourly predict.

Three measurements, side by side in one run on the CPU:

(a) ``sample_paths`` (cached incremental decoding: one prefill of the
    conditioning range per series, then one position per step) against
    ``SamplerSettings(cache=False)`` (the same paths, re-encoding the whole window at
    every step), on a randomly initialised network: context 512, horizon 48,
    100 paths per series, 3 layers, d_model 64, 4 heads, kernel 3, LogSparse
    attention, ``--series`` series. Both run with the same generators, so they
    also draw the same paths; the largest difference is reported. The cached
    sampler is timed as the best of ``--repeats`` runs, the re-encoding one
    once (it is slow). Both run with ``--threads`` intra-op threads and one
    worker.

(b) The public API on all 414 M4 Hourly series: a ``LogSparseTransformerForecaster``
    of the benchmark's intended size (d_model 32, 3 layers, 4 heads, context
    168, prediction length 48, 100 paths) fitted for one short epoch, since
    only prediction time matters here; then ``predict`` over 48 steps (which
    samples the paths) and ``predict_quantiles`` after it (which reuses them).
    Timed once per thread setting in ``--threads-b``, each on a fresh copy of
    the fitted forecaster (copies carry no cached paths).

(c) Predicting past the trained horizon (``benchmarks/_horizon.py`` has the
    details): on ``--c-series`` M4 Hourly series, a forecaster fitted without
    ``fh`` (prediction length 24, so 48 steps take two chunks) against one
    fitted with ``fh=1..48`` (one chunk), same settings otherwise; each
    ``predict_quantiles`` over 48 steps runs in a fresh process that reports
    its time and peak memory, the two alternating over ``--c-repeats``
    repeats; with the MASE of both forecasts. ``--c-before PATH`` adds the
    part (c) of another results file (the same measurement of an older
    checkout, run with ``PYTHONPATH`` pointing at it and ``--json PATH``) as
    the figures before the change.

The machine is shared: other processes may use the cores meanwhile, so the
load average before and after each part is recorded.

With ``--markdown`` the run is the record: its results go to
``benchmarks/results/sampling.json`` (or ``--json PATH``), each part with the
command and date of the run that measured it (a part left out with ``--skip``
is kept from the existing file), the page is rendered from that same dict and
its figure redrawn; ``--from-results`` rewrites the page from the results file
without measuring.

    python benchmarks/sampling.py --markdown docs/benchmarks/sampling.md
    python benchmarks/sampling.py --from-results \
        --markdown docs/benchmarks/sampling.md
    python benchmarks/sampling.py --skip a b --markdown docs/benchmarks/sampling.md
"""

from __future__ import annotations

import argparse
import copy
import os
import time
import warnings
from pathlib import Path

import _horizon as H  # benchmarks/_horizon.py
import _report as R  # benchmarks/_report.py
import numpy as np
import torch

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse._sampling import SamplerSettings, sample_paths
from sktime_logsparse._windows import WindowLayout
from sktime_logsparse.datasets import load_m4_hourly_split
from sktime_logsparse.nn import LogSparseConfig, LogSparseTransformer

N_COVARIATES = 2
NAME = "sampling"
PARTS = ("a", "b", "c")


def load() -> str:
    """The 1-minute load average."""
    return f"{os.getloadavg()[0]:.2f}"


# ---------------------------------------------------------------- part (a) --


def sampler_inputs(args):
    """A random network and inputs of the configuration of part (a)."""
    torch.manual_seed(0)
    C, H, S = args.context, args.horizon, args.series
    config = LogSparseConfig(
        n_inputs=2 + N_COVARIATES,
        d_model=64,
        n_heads=4,
        n_layers=3,
        kernel_size=3,
        attention="logsparse",
        max_length=C + H,
        n_series=S,
    )
    net = LogSparseTransformer(config).eval()
    t = torch.arange(C + 1, dtype=torch.float32)
    phase = torch.rand(S, 1) * 24
    context = 10 + 3 * torch.sin(2 * torch.pi * (t + phase) / 24)
    context = context + 0.3 * torch.randn(S, C + 1)
    covariates = torch.randn(S, C + H, N_COVARIATES)
    ids = torch.arange(S)
    # the paper's setting: the previous value only, mean scaling, no lags
    layout = WindowLayout(C, H, (), "mean", N_COVARIATES)
    return net, (context, covariates, ids, layout)


def generators(n: int) -> list[torch.Generator]:
    """One generator per series, the same seeds every time."""
    return [torch.Generator().manual_seed(1000 + i) for i in range(n)]


def part_a(args) -> dict:
    """Cached sampler against re-encoding."""
    torch.set_num_threads(args.threads)
    net, inputs = sampler_inputs(args)
    S = args.series
    before = load()
    H, n = args.horizon, args.samples
    # warm-up: libraries, thread pools, the attention pattern
    sample_paths(net, *inputs, SamplerSettings(2, 2), generators(S))
    cached_times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        cached = sample_paths(net, *inputs, SamplerSettings(H, n), generators(S))
        cached_times.append(time.perf_counter() - start)
    start = time.perf_counter()
    reencode = SamplerSettings(H, n, cache=False)
    slow = sample_paths(net, *inputs, reencode, generators(S))
    reencode_time = time.perf_counter() - start
    cached_time = min(cached_times)
    return {
        "series": S,
        "samples": args.samples,
        "paths": S * args.samples,
        "context": args.context,
        "horizon": args.horizon,
        "network": {
            "d_model": net.config.d_model,
            "n_heads": net.config.n_heads,
            "n_layers": net.config.n_layers,
            "kernel_size": net.config.kernel_size,
            "attention": net.config.attention,
        },
        "cached_s": cached_time,
        "cached_runs": len(cached_times),
        "reencode_s": reencode_time,
        "ratio": reencode_time / cached_time,
        "max_abs_diff": float((cached - slow).abs().max()),
        "max_abs_path": float(slow.abs().max()),
        "threads": args.threads,
        "load_before": before,
        "load_after": load(),
    }


# ---------------------------------------------------------------- part (b) --


def part_b(args) -> dict:
    """Predict all M4 Hourly series through the public API."""
    y_train, _ = load_m4_hourly_split(series=args.m4_series)
    n_series = y_train.index.get_level_values(0).nunique()
    fh = np.arange(1, 49)
    forecaster = LogSparseTransformerForecaster(
        prediction_length=48, **H.forecaster_params(args)
    )
    default_threads = torch.get_num_threads()
    start = time.perf_counter()
    forecaster.fit(y_train, fh=fh)
    fit_time = time.perf_counter() - start
    runs = []
    for threads in args.threads_b:
        torch.set_num_threads(threads)
        f = copy.deepcopy(forecaster)  # no cached paths
        before = load()
        start = time.perf_counter()
        pred = f.predict()
        predict_time = time.perf_counter() - start
        start = time.perf_counter()
        q = f.predict_quantiles(alpha=[0.1, 0.5, 0.9])
        quantiles_time = time.perf_counter() - start
        assert np.isfinite(pred.to_numpy()).all() and np.isfinite(q.to_numpy()).all()
        runs.append(
            {
                "threads": threads,
                "predict_s": predict_time,
                "quantiles_s": quantiles_time,
                "rows": len(pred),
                "load_before": before,
                "load_after": load(),
            }
        )
    torch.set_num_threads(default_threads)
    return {
        "series": n_series,
        "samples": args.samples,
        "horizon": len(fh),
        "windows": args.windows,
        "fit_s": fit_time,
        "runs": runs,
    }


# ----------------------------------------------------------------- report --


def table_a(a: dict) -> str:
    """Part (a) as a table."""
    head = ["sampler", "time (s)", "runs", "speed-up"]
    rows = [
        ["`sample_paths` (cached)", f"{a['cached_s']:.3f}", a["cached_runs"], ""],
        [
            "re-encoding (`cache=False`)",
            f"{a['reencode_s']:.2f}",
            1,
            f"**{a['ratio']:.0f}x**",
        ],
    ]
    return R.markdown_table(head, rows)


def table_b(b: dict) -> str:
    """Part (b) as a table."""
    head = [
        "torch threads",
        "`predict` (s)",
        "`predict_quantiles` after it (s)",
        "load before -> after",
    ]
    rows = [
        [
            r["threads"],
            f"**{r['predict_s']:.1f}**",
            f"{r['quantiles_s']:.3f}",
            f"{r['load_before']} -> {r['load_after']}",
        ]
        for r in b["runs"]
    ]
    return R.markdown_table(head, rows)


def provenance(part: dict, result: dict) -> str:
    """``Measured by `command` on date.`` where a part has its own run."""
    if "command" not in part or part["command"] == result.get("command"):
        return ""
    when = f" on {part['date']}" if "date" in part else ""
    note = f" ({part['note']})" if "note" in part else ""
    cpu = part.get("cpu")
    cpu = f", CPU: {cpu}" if cpu and cpu != result.get("cpu") else ""
    return f"\n\nMeasured by `{part['command']}`{when}{note}{cpu}."


def markdown(result: dict, stem: str = NAME) -> str:
    """The generated part of the page (hand-written notes are kept apart)."""
    versions = ", ".join(f"{k} {v}" for k, v in result.get("versions", {}).items())
    parts = R.page_head(
        result,
        stem,
        title="Sampling benchmark: cached decoding, and predicting M4 Hourly",
        protocol=None,
        figure="Cached sampler against re-encoding; predict time",
        command_intro="Produced by `benchmarks/sampling.py` (its docstring has the "
        "details) with",
        machine=f"{R.machine_line(result)}; Python {result.get('python', '?')}, "
        f"{versions}; run on {result.get('date', '?')}, "
        f"{result['elapsed_s']:.0f} s in all. The times are wall-clock seconds "
        "(lower is better); since other jobs may share the machine, the "
        "1-minute load average before and after each measurement is given: a "
        "load above the number of cores means other processes wanted them too.",
    )
    a, b = result.get("a"), result.get("b")
    if a is not None:
        net = a["network"]
        parts += [
            "",
            "## (a) Cached sampler against re-encoding",
            "",
            f"{a['series']} series x {a['samples']} paths = {a['paths']} paths, "
            f"context {a['context']}, horizon {a['horizon']} (one chunk), "
            f"{net['n_layers']} layers, d_model {net['d_model']}, "
            f"{net['n_heads']} heads, kernel {net['kernel_size']}, "
            f"{net['attention']} attention, randomly initialised weights, "
            f"{a['threads']} intra-op thread(s). "
            "Re-encoding runs the network over the window up to each "
            "step; `sample_paths` prefills the context once per series and then "
            "decodes one position per step from per-layer caches. With the same "
            "generators both draw the same paths: largest difference "
            f"{a['max_abs_diff']:.2e} (paths up to {a['max_abs_path']:.1f} in "
            "absolute value)." + provenance(a, result),
            "",
            table_a(a),
            "",
            f"Load average before -> after: {a['load_before']} -> {a['load_after']}.",
        ]
    if b is not None:
        fit = f" ({b['fit_s']:.1f} s)" if b.get("fit_s") is not None else ""
        parts += [
            "",
            f"## (b) Predicting {b['series']} M4 Hourly series",
            "",
            f"{b['series']} series x {b['horizon']} steps x {b['samples']} paths "
            "through `LogSparseTransformerForecaster` (d_model 32, 3 layers, 4 "
            "heads, context 168, prediction length 48, the default lags and "
            f"calendar features), fitted for one epoch of {b['windows']} "
            f"windows{fit}: only prediction time matters here. `predict` samples "
            "the paths; `predict_quantiles` after it on the same horizon reuses "
            "them (the forecaster keeps the paths of the last horizon). On the "
            "CPU the sampler decodes batches of series in "
            "`torch.get_num_threads()` threads with one intra-op thread each."
            + provenance(b, result),
            "",
            table_b(b),
        ]
    c = result.get("c")
    if c is not None:
        parts += H.markdown_c(c, provenance(c, result))
    return "\n".join(parts) + "\n"


def main() -> None:
    """Run the benchmark; print the tables, optionally write the page."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=4, help="series of part (a)")
    parser.add_argument("--context", type=int, default=512)
    parser.add_argument("--horizon", type=int, default=48)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3, help="cached runs (a)")
    parser.add_argument("--threads", type=int, default=1, help="threads of (a)")
    parser.add_argument(
        "--threads-b",
        type=int,
        nargs="+",
        default=sorted({torch.get_num_threads(), 1}, reverse=True),
        help="torch thread settings of (b), one predict each",
    )
    parser.add_argument("--m4-series", type=int, default=None, help="(b): all")
    parser.add_argument("--windows", type=int, default=256, help="(b, c) fit windows")
    parser.add_argument("--c-series", type=int, default=100, help="series of (c)")
    parser.add_argument("--c-repeats", type=int, default=5, help="predicts of (c)")
    parser.add_argument("--c-before", type=Path, help="(c) before the change")
    parser.add_argument("--note", help="a note kept with the parts measured now")
    parser.add_argument(
        "--skip", nargs="+", default=[], choices=PARTS, help="parts not measured"
    )
    R.add_page_args(parser, json_of=NAME)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    if args.from_results:
        R.page_from_results(parser, args, NAME, markdown)
        return

    json_path = R.results_file(args, NAME)
    info = R.start_run("sampling.py")
    stamp = {"command": info["command"], "date": info["date"], "cpu": info["cpu"]}
    if args.note:
        stamp["note"] = args.note
    start = time.perf_counter()
    result = {}
    if "a" not in args.skip:
        result["a"] = {**stamp, **part_a(args)}
        print(table_a(result["a"]))
        print(f"max |cached - reencoded| = {result['a']['max_abs_diff']:.2e}")
    if "b" not in args.skip:
        result["b"] = {**stamp, **part_b(args)}
        print(table_b(result["b"]), flush=True)
    if "c" not in args.skip:
        result["c"] = {**stamp, **H.part_c(args, load)}
        if args.c_before:
            before = R.read_json(args.c_before)
            result["c"]["before"] = {**R.run_stamp(before), **before["c"]}
        print(H.table_c(result["c"]), flush=True)
    result = {**info, "elapsed_s": time.perf_counter() - start, **result}
    if args.skip and json_path and Path(json_path).is_file():
        # the parts not measured now stay as recorded, with their own command,
        # and so do the other entries of the file (earlier runs, notes)
        old = R.read_json(json_path)
        for key, value in old.items():
            if key in args.skip and key not in result:
                result[key] = {**R.run_stamp(old), **value}
            elif key not in result and key not in info and key != "elapsed_s":
                result[key] = value
    # the run, then the parts in order, then the other entries kept
    head = [k for k in result if k in info or k in ("elapsed_s", "provenance")]
    order = head + [p for p in PARTS if p in result]
    result = {k: result[k] for k in order + [k for k in result if k not in order]}
    R.record(args, NAME, result, markdown, json_path)


if __name__ == "__main__":
    main()
