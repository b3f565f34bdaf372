"""The forecaster at long contexts: peak memory and time of fit and predict.

Two parts, every configuration in a fresh subprocess (peak resident set over
the one before the call, the peak reset through ``/proc/self/clear_refs``):

``forecaster``: one hourly series of 100,000 points (daily and weekly
seasonality, noise), context 8,192, horizon 48: fit (2 epochs of 64 windows,
batch 16, defaults otherwise) and ``predict_quantiles`` (48 steps x 100
paths).

``curve``: peak memory of a short fit (one epoch of two batches of 16
windows) against the context length, 512 to 16,384, with LogSparse and with
full attention, beside the package's own estimate of the same fit
(``sktime_logsparse._memory.fit_estimate``, the figure a fit is refused by).
A configuration whose estimate exceeds the available memory is refused by
the forecaster before it starts: recorded as such.

    python benchmarks/long_context.py
    python benchmarks/long_context.py --parts curve --contexts 512 1024

Results go to ``benchmarks/results/long_context.json`` (``--json PATH``).
The page ``docs/benchmarks/long-context.md`` is rendered from it, from
``long_dependency.json`` (``benchmarks/long_dependency.py``), from
``etth_context.json`` (``benchmarks/etth_context.py``) and from the
kernel's ``attention.json`` (``benchmarks/attention.py``):

    python benchmarks/long_context.py --page docs/benchmarks/long-context.md
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import _report as R
import etth_context  # benchmarks/etth_context.py

NAME = "long_context"
#: the synthetic task rerun with more training windows (long_dependency.py --json)
BUDGET = "long_dependency_budget"
CONTEXTS = [512, 1024, 2048, 4096, 8192, 16384]
GIB = 2.0**30

#: the forecaster part (the issue's configuration)
FORECASTER = dict(
    context_length=8192,
    prediction_length=48,
    max_epochs=2,
    windows_per_epoch=64,
    batch_size=16,
    random_state=0,
)


def hourly_series(n: int, seed: int = 0):
    """An hourly series of ``n`` points: daily and weekly cycles, noise."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 10 + 3 * np.sin(2 * np.pi * t / 24) + 2 * np.sin(2 * np.pi * t / 168)
    y += rng.normal(0, 0.5, n)
    index = pd.date_range("2010-01-01", periods=n, freq="h")
    return pd.Series(y, index=index)


def _reset_peak() -> int:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return R.proc_status("VmRSS")


def worker(spec: dict) -> dict:
    """Fit (and predict) one configuration in this process."""
    import numpy as np

    from sktime_logsparse import LogSparseTransformerForecaster
    from sktime_logsparse._memory import check_fit_memory

    params, length = spec["params"], spec["length"]
    y = hourly_series(length)
    forecaster = LogSparseTransformerForecaster(**params)
    row = {}
    base = _reset_peak()
    begin = time.perf_counter()
    try:
        forecaster.fit(y, fh=np.arange(1, params["prediction_length"] + 1))
    except ValueError as err:  # refused by the memory check
        return {"refused": str(err).split(". ")[0]}
    row["fit_s"] = time.perf_counter() - begin
    row["fit_peak_gib"] = (R.proc_status("VmHWM") - base) / GIB
    row["fit_total_gib"] = R.proc_status("VmHWM") / GIB
    # the estimate the forecaster checked before the fit, recomputed
    config = forecaster._settings().train_config(None)
    estimate = check_fit_memory(forecaster.model_, [length], config)
    row["fit_estimate_gib"] = estimate.total / GIB
    if spec.get("predict"):
        base = _reset_peak()
        begin = time.perf_counter()
        forecaster.predict_quantiles(alpha=[0.1, 0.5, 0.9])
        row["predict_s"] = time.perf_counter() - begin
        row["predict_peak_gib"] = (R.proc_status("VmHWM") - base) / GIB
    return row


def run(spec: dict) -> dict:
    """:func:`worker` in a fresh subprocess."""
    cmd = [sys.executable, __file__, "--worker", json.dumps(spec)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit code {proc.returncode}: {tail}"}


def curve_spec(context: int, attention: str) -> dict:
    params = dict(
        context_length=context,
        prediction_length=24,
        max_epochs=1,
        windows_per_epoch=32,
        batch_size=16,
        attention=attention,
        early_stopping_patience=None,
        random_state=0,
        trainer_kwargs={"calibration": None},
    )
    return {"params": params, "length": 2 * context + 24}


def _fmt(value, fmt: str) -> str:
    return R.cell(value, fmt)


def kernel_section(att: dict) -> list[str]:
    rows = []
    for L, r in att.get("ratios", {}).items():
        res = att["results"][L]
        rows.append(
            [
                L,
                _fmt(res.get("sparse", {}).get("time_s"), ".3f"),
                _fmt(res.get("sparse_eager", {}).get("time_s"), ".3f"),
                _fmt(res.get("sdpa", {}).get("time_s"), ".3f"),
                _fmt(r.get("sdpa_over_sparse_time"), ".1f") + "x",
                _fmt(res.get("sparse", {}).get("peak_mib"), ".0f"),
                _fmt(res.get("sdpa", {}).get("peak_mib"), ".0f"),
            ]
        )
    head = ["L", "sparse (s)", "sparse, eager (s)", "SDPA (s)", "speed-up"]
    head += ["sparse peak MiB", "SDPA peak MiB"]
    return [
        "## The kernel at long lengths",
        "",
        "Forward + backward of causal attention, (B, H, L, D) = (8, 4, L, 32), "
        f"from `attention.json` ([the attention page](attention.md)); "
        f"{R.run_line(att)}",
        "",
        "```bash",
        att.get("command", "(not recorded)"),
        "```",
        "",
        R.markdown_table(head, rows),
        "",
    ]


def dependency_verdict(dep: dict) -> str:
    """The done-when of the synthetic task, from the results."""

    def r05(t0: int, method: str) -> float | None:
        run = dep.get("runs", {}).get(str(t0), {}).get(method, {})
        return run.get("test", {}).get("R0.5")

    at768 = {m: r05(768, m) for m in ("logsparse", "full", "lstm")}
    at8192 = {m: r05(8192, m) for m in ("logsparse", "lstm")}
    if None in at768.values() or None in at8192.values():
        return "Done-when (synthetic): needs every method at t0 = 768 and 8,192."
    met = (
        at768["logsparse"] <= at768["full"]
        and at768["logsparse"] < at768["lstm"]
        and at8192["logsparse"] < at8192["lstm"]
    )
    return (
        "Done-when (synthetic: LogSparse's test R0.5 at t0 = 768 no worse than "
        "full attention's and better than the LSTM's; at 8,192 trained on 2 "
        f"cores and better than the LSTM's): {'met' if met else 'NOT met'} "
        f"(768: {at768['logsparse']:.3f} against {at768['full']:.3f} and "
        f"{at768['lstm']:.3f}; 8,192: {at8192['logsparse']:.3f} against "
        f"{at8192['lstm']:.3f})."
    )


def _fit_time(run: dict, threads: int | None) -> str:
    """The fit time, with its thread count where it differs from the record's."""
    text = _fmt(run["fit_s"], ".0f")
    if run.get("threads") and run["threads"] != threads:
        text += f" ({run['threads']} thread{'s' if run['threads'] > 1 else ''})"
    return text


def _runs(result: dict):
    """``(t0, method, run)`` of a synthetic results file, in order of t0."""
    for t0 in sorted(result.get("runs", {}), key=int):
        for method, run in result["runs"][t0].items():
            yield t0, method, run


def _no_memory(result: dict, t0: str) -> float | None:
    """The R0.5 of the exact curve without A4 at ``t0``."""
    return result.get("reference", {}).get(t0, {}).get("no_memory")


def dependency_section(dep: dict) -> list[str]:
    rows = []
    for t0, method, r in _runs(dep):
        if "test" not in r:
            rows.append([t0, method, f"not run: {R.why_not_run(r)}"] + [""] * 6)
            continue
        rows.append(
            [
                t0,
                method,
                _fmt(r["test"]["R0.5"], ".4f"),
                _fmt(r["test"]["R0.9"], ".4f"),
                _fmt(r["validation"]["R0.5"], ".4f"),
                r["windows"],
                _fit_time(r, dep.get("threads")),
                _fmt(r["fit_peak_mib"], ".0f"),
                _fmt(_no_memory(dep, t0), ".4f"),
            ]
        )
    head = ["t0", "method", "R0.5 test", "R0.9 test", "R0.5 validation"]
    head += ["windows trained", "fit (s)", "fit peak MiB", "R0.5 without A4"]
    return [
        "## The paper's synthetic experiment",
        "",
        "Li et al. (2019, section 5.1): piecewise sinusoids whose last 24 points "
        "have the amplitude max(A1, A2) of their first 24, t0 steps back "
        f"({dep.get('train')} training, {dep.get('validation')} validation and "
        f"{dep.get('test')} test series per t0, 100 sample paths each). LogSparse "
        "and full attention (the package's network) and a DeepAR-style LSTM "
        "share the training loop, inputs and likelihood, and train on the same "
        "number of windows at each t0 (fewer at the longest t0). "
        "`R0.5 without A4` is the error of the exact curve with A4 replaced by "
        f"its mean: what no memory of the start allows. {R.run_line(dep)}",
        "",
        "```bash",
        dep.get("command", "(not recorded)"),
        "```",
        "",
        R.figure_markdown("long_dependency", "R0.5, R0.9, fit time and memory per t0"),
        "",
        dependency_verdict(dep),
        "",
        R.markdown_table(head, rows),
        "",
    ]


def _windows(result: dict) -> int | None:
    """Training windows of a synthetic run: one number, or the default of a dict."""
    windows = result.get("windows")
    return windows.get("default") if isinstance(windows, dict) else windows


def budget_section(budget: dict, dep: dict) -> list[str]:
    """More training windows at a few t0, against the record's runs."""
    windows, base_windows = _windows(budget), _windows(dep)
    rows, learned = [], []
    for t0, method, r in _runs(budget):
        ref = _no_memory(budget, t0)
        before = dep.get("runs", {}).get(t0, {}).get(method, {})
        before = _fmt(before.get("test", {}).get("R0.5"), ".4f")
        if "test" not in r:
            why = f"not run: {R.why_not_run(r)}"
            rows.append([t0, method, why, "", "", "", before, ""])
            continue
        r05 = r["test"]["R0.5"]
        rows.append(
            [
                t0,
                method,
                _fmt(r05, ".4f"),
                _fmt(r["validation"]["R0.5"], ".4f"),
                r["windows"],
                _fit_time(r, budget.get("threads")),
                before,
                _fmt(ref, ".4f"),
            ]
        )
        if ref is not None and r05 < ref:
            learned.append(f"{method} at t0 = {t0} ({r05:.3f} < {ref:.3f})")
    head = ["t0", "method", "R0.5 test", "R0.5 validation", "windows trained"]
    head += ["fit (s)", f"R0.5 test, {base_windows:,} windows", "R0.5 without A4"]
    t0s = " and ".join(sorted(budget.get("runs", {}), key=int))
    verdict = (
        "Below the no-memory error, so carrying A4: " + "; ".join(learned) + "."
        if learned
        else "No run is below the no-memory error."
    )
    return [
        f"### More training: {windows:,} windows",
        "",
        f"The same task with {windows:,} training windows per fit instead of "
        f"{base_windows:,}, at t0 = {t0s}. Same series, seeds and settings "
        "otherwise; full attention is run where its estimated fit time allows. "
        f"{verdict} {R.run_line(budget)} {budget.get('note', '')}".rstrip(),
        "",
        "```bash",
        budget.get("command", "(not recorded)"),
        "```",
        "",
        R.markdown_table(head, rows),
        "",
    ]


def forecaster_section(res: dict) -> list[str]:
    lines = [
        "## The forecaster at context 8,192",
        "",
        f"{R.run_line(res)}",
        "",
        "```bash",
        res.get("command", "(not recorded)"),
        "```",
        "",
    ]
    f = res.get("forecaster")
    if f:
        rows = [
            [
                "fit peak (GiB, over the process before fit)",
                _fmt(f.get("fit_peak_gib"), ".2f"),
            ],
            ["fit peak, whole process (GiB)", _fmt(f.get("fit_total_gib"), ".2f")],
            ["the package's estimate (GiB)", _fmt(f.get("fit_estimate_gib"), ".2f")],
            ["fit (s)", _fmt(f.get("fit_s"), ".0f")],
            ["predict 48 steps x 100 paths (s)", _fmt(f.get("predict_s"), ".2f")],
        ]
        lines += [
            f"One hourly series of {f['length']:,} points, "
            + ", ".join(f"`{k}={v}`" for k, v in f["params"].items())
            + ", defaults otherwise:",
            "",
            R.markdown_table(["", "value"], rows),
            "",
        ]
    curve = res.get("curve")
    if curve:
        rows = []
        for attention, by_context in curve.items():
            for c, r in sorted(by_context.items(), key=lambda kv: int(kv[0])):
                if "fit_peak_gib" not in r:
                    rows.append(
                        [c, attention, r.get("refused") or r.get("error"), "", ""]
                    )
                    continue
                rows.append(
                    [
                        c,
                        attention,
                        _fmt(r["fit_peak_gib"], ".2f"),
                        _fmt(r["fit_estimate_gib"], ".2f"),
                        _fmt(r["fit_s"], ".0f"),
                    ]
                )
        lines += [
            "Peak memory of a short fit (one epoch of two batches of 16 windows, "
            "defaults otherwise) against the context:",
            "",
            R.figure_markdown("long_context", "Fit peak memory against the context"),
            "",
            R.markdown_table(
                ["context", "attention", "fit peak (GiB)", "estimate (GiB)", "fit (s)"],
                rows,
            ),
            "",
        ]
    return lines


def page(res: dict) -> str:
    """The generated part of ``docs/benchmarks/long-context.md``."""
    lines = [
        "# Long contexts",
        "",
        "What LogSparse attention is for: histories long enough that dense "
        "attention runs out of time or memory. Every number below is read from "
        "a results file of record; each section names the command that made it.",
        "",
    ]
    for name, section in (
        ("attention", kernel_section),
        ("long_dependency", dependency_section),
        (BUDGET, lambda budget: budget_section(budget, R.read_json("long_dependency"))),
        ("etth_context", etth_context.section),
    ):
        if R.results_path(name).is_file():
            lines += section(R.read_json(name))
    lines += forecaster_section(res)
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument(
        "--parts",
        nargs="+",
        default=["forecaster", "curve"],
        choices=["forecaster", "curve"],
    )
    parser.add_argument("--contexts", type=int, nargs="+", default=CONTEXTS)
    parser.add_argument("--json", default=str(R.results_path(NAME)))
    parser.add_argument(
        "--page", default=None, help="only write this page from the results files"
    )
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    if args.page:
        R.write_page(args.page, page(R.read_json(args.json)))
        for stem in ("long_dependency", "etth_context", NAME):
            if R.results_path(stem).is_file():
                R.render_figure(stem)
        return
    result = R.start_run("long_context.py")
    if "forecaster" in args.parts:
        spec = {"params": FORECASTER, "length": 100_000, "predict": True}
        result["forecaster"] = {"params": FORECASTER, "length": 100_000, **run(spec)}
        print("forecaster", json.dumps(result["forecaster"]), flush=True)
    if "curve" in args.parts:
        curve = result.setdefault("curve", {})
        for context in args.contexts:
            for attention in ("logsparse", "full"):
                row = run(curve_spec(context, attention))
                curve.setdefault(attention, {})[str(context)] = row
                print(context, attention, json.dumps(row), flush=True)
    R.write_json(args.json, result)


if __name__ == "__main__":
    main()
