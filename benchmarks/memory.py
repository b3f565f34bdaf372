"""Peak memory of fit and predict, measured in fresh processes, against the estimate.

Every configuration runs in its own subprocess (``python benchmarks/memory.py
--worker SPEC``): it builds a synthetic hourly panel, notes its resident set
size (RSS) before ``fit``, resets the kernel's peak-RSS counter
(``/proc/self/clear_refs``), fits, reads the peak (``VmHWM``), resets it again,
predicts and reads the peak of ``predict``. The increase over the RSS before
``fit`` is what the forecaster itself needed; the totals include the
interpreter and the imported libraries. Next to each measurement the worker
records :mod:`sktime_logsparse._memory`'s estimate of the same run, which the
forecaster compares with the available memory before it starts.

Two parts:

``linear_ar`` (the default): fits at context 4096 (``--context``) with
batches of 4 and 8 windows (``--batches``), each with ``linear_ar=True`` and
with ``linear_ar=False``, side by side, each in its own process; the peak of
the least-squares fit of the linear term is also read on its own. The
results go to ``benchmarks/results/memory.json`` (``--json PATH``).

``--calibrate``: the estimate against the measured increase over a grid of
contexts (512 to 8192), batch sizes and model widths; the table is printed and,
with ``--calibration-json PATH``, written there.

    python benchmarks/memory.py
    python benchmarks/memory.py --calibrate --calibration-json \
        benchmarks/results/memory_calibration.json

Each fit is short (one epoch of two batches): memory, not accuracy, is
measured. The machine may be shared: other processes change the time a run
takes, not its memory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import _report as R  # benchmarks/_report.py

NAME = "memory"
GIB = 2.0**30
MIB = 2.0**20

#: a short fit: one epoch of two batches, a few sample paths
BASE = dict(
    prediction_length=24,
    d_model=32,
    n_heads=4,
    n_layers=3,
    batch_size=16,
    max_epochs=1,
    num_samples=20,
    device="cpu",
    random_state=0,
)


def _reset_peak() -> None:
    """Reset the peak RSS (``VmHWM``) to the current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def worker(spec: dict) -> dict:
    """Fit and predict one configuration; memory in bytes (run in a subprocess)."""
    import numpy as np
    import pandas as pd

    from sktime_logsparse import LogSparseTransformerForecaster
    from sktime_logsparse import _sampling as sampling
    from sktime_logsparse import _training as training

    estimates = {}

    def recorded(phase, check):
        def run(*args, **kwargs):
            estimates[phase] = estimate = check(*args, **kwargs)
            return estimate

        return run

    # the estimates the forecaster computes for its own checks
    training.check_fit_memory = recorded("fit", training.check_fit_memory)
    sampling.check_predict_memory = recorded("predict", sampling.check_predict_memory)
    phase = {}
    fit_skip = training.fit_skip

    def timed_fit_skip(*args, **kwargs):
        # the least-squares fit of the linear term on its own: its peak, reset
        # at its start (the peak of the fit so far is kept aside)
        phase["fit_peak_before"] = R.proc_status("VmHWM")
        phase["rss_before"] = R.proc_status("VmRSS")
        _reset_peak()
        fit_skip(*args, **kwargs)
        phase["peak"] = R.proc_status("VmHWM")

    training.fit_skip = timed_fit_skip
    params = {**BASE, **spec["params"]}
    n_series, length = spec["series"], spec["length"]
    rng = np.random.default_rng(0)
    frames = {}
    for i in range(n_series):
        t = np.arange(length)
        y = 10 + 3 * np.sin(2 * np.pi * t / 24 + i) + rng.normal(0, 0.3, length)
        index = pd.date_range("2020-01-01", periods=length, freq="h")
        frames[f"s{i}"] = pd.DataFrame({"y": y}, index=index)
    y = pd.concat(frames, names=["unit", "time"]) if n_series > 1 else frames["s0"]
    params.setdefault("windows_per_epoch", 2 * params["batch_size"])
    fh = list(range(1, spec.get("horizon", params["prediction_length"]) + 1))
    f = LogSparseTransformerForecaster(**params)
    before = R.proc_status("VmRSS")
    _reset_peak()
    f.fit(y, fh=fh)
    fit_peak = max(R.proc_status("VmHWM"), phase.get("fit_peak_before", 0))
    after_fit = R.proc_status("VmRSS")
    _reset_peak()
    f.predict()
    predict_peak = R.proc_status("VmHWM")
    out = {
        "rss_before_fit": before,
        "fit_peak": fit_peak,
        "rss_after_fit": after_fit,
        "predict_peak": predict_peak,
        "fit_increase": fit_peak - before,
        "predict_increase": predict_peak - after_fit,
    }
    if "peak" in phase:
        out["linear_ar_peak"] = phase["peak"]
        out["linear_ar_increase"] = phase["peak"] - phase["rss_before"]
    for name, estimate in estimates.items():
        out[f"{name}_estimate"] = estimate.total
        out[f"{name}_parts"] = {**estimate.persistent, **estimate.transient}
    return out


def measure(spec: dict) -> dict:
    """Run :func:`worker` on ``spec`` in a fresh process and return its result."""
    done = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"worker failed on {spec}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def spec_for(context: int, series: int = 2, horizon: int | None = None, **params):
    """A worker spec: ``series`` series long enough for one window and validation."""
    P = params.get("prediction_length", BASE["prediction_length"])
    spec = {
        "params": {"context_length": context, **params},
        "series": series,
        "length": context + 2 * P + 200,
    }
    if horizon is not None:
        spec["horizon"] = horizon
    return spec


def _gib(value):
    """Bytes (or a dict of bytes) in GiB, rounded."""
    if isinstance(value, dict):
        return {key: _gib(v) for key, v in value.items()}
    return round(value / GIB, 3)


def linear_ar_part(context: int, batch_size: int) -> dict:
    """Fit at ``context`` with and without the linear autoregressive term."""
    rows = {}
    for flag in (True, False):
        spec = spec_for(
            context, batch_size=batch_size, model_kwargs={"linear_ar": flag}
        )
        got = measure(spec)
        rows[f"linear_ar={flag}"] = {"spec": spec, **_gib(got)}
        gib = {key: f"{value / GIB:.3f} GiB" for key, value in got.items()
               if not isinstance(value, dict)}  # fmt: skip
        line = (
            f"batch_size={batch_size}, linear_ar={flag}: fit peak {gib['fit_peak']} "
            f"(RSS before fit {gib['rss_before_fit']}, increase "
            f"{gib['fit_increase']}, estimate {gib['fit_estimate']})"
        )
        if "linear_ar_increase" in got:
            line += (
                f"; its least-squares fit alone: peak {gib['linear_ar_peak']}, "
                f"increase {gib['linear_ar_increase']}"
            )
        print(line, flush=True)
    return rows


#: (label, spec) of the calibration grid
def calibration_grid() -> list[tuple[str, dict]]:
    """The configurations of ``--calibrate``."""
    grid = []
    for context in (512, 2048, 4096, 8192):
        grid.append((f"C={context} B=16 d=32", spec_for(context)))
    grid.append(("C=512 B=64 d=64", spec_for(512, batch_size=64, d_model=64)))
    grid.append(("C=2048 B=64 d=32", spec_for(2048, batch_size=64)))
    grid.append(("C=4096 B=16 d=64", spec_for(4096, d_model=64)))
    grid.append(("C=512 B=16 d=32 full", spec_for(512, attention="full")))
    grid.append(("C=1024 B=16 d=32 full", spec_for(1024, attention="full")))
    grid.append(
        ("C=2048 S=1 n=200 H=72", spec_for(2048, series=1, horizon=72, num_samples=200))
    )
    grid.append(("C=512 S=64 n=100", spec_for(512, series=64, num_samples=100)))
    grid.append(("C=512 S=300", spec_for(512, series=300)))
    grid.append(("C=4096 S=2 n=100 H=48", spec_for(4096, horizon=48, num_samples=100)))
    return grid


def calibrate(labels: list[str] | None) -> dict:
    """Measure the calibration grid; print estimate against measurement."""
    out = {}
    for label, spec in calibration_grid():
        if labels and label not in labels:
            continue
        got = measure(spec)
        out[label] = {"spec": spec, **got}
        parts = [f"{label:28s}"]
        for phase in ("fit", "predict"):
            inc = got[f"{phase}_increase"]
            est = got.get(f"{phase}_estimate")
            ratio = f" x{est / inc:.2f}" if est else ""
            est_s = f"{est / MIB:8.0f}" if est else "       -"
            parts.append(f"{phase} {inc / MIB:7.0f} MiB est {est_s}{ratio}")
        parts.append(f"peak {got['fit_peak'] / MIB:6.0f} MiB")
        print(" | ".join(parts), flush=True)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--context", type=int, default=4096)
    parser.add_argument("--batches", default="4,8", help="comma-separated")
    parser.add_argument("--json", type=Path, default=R.results_path(NAME))
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--only", nargs="*", help="calibration labels to run")
    parser.add_argument("--calibration-json", type=Path)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    info = {**R.start_run("memory.py"), "base_params": BASE}
    if args.calibrate:
        result = {**info, "calibration": calibrate(args.only)}
        if args.calibration_json:
            R.write_json(args.calibration_json, result)
        return
    fits = {
        f"batch_size={batch}": linear_ar_part(args.context, batch)
        for batch in map(int, args.batches.split(","))
    }
    result = {**info, "context": args.context, "fits": fits}
    R.write_json(args.json, result)


if __name__ == "__main__":
    main()
