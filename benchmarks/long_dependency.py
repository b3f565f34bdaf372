"""Long dependencies: LogSparse vs full attention vs an LSTM on the synthetic task.

Li et al. (2019, section 5.1): series whose last 24 points depend on
amplitudes seen in their first 24, ``t0`` steps earlier (see
:mod:`_long_dependency`). For each ``t0`` and method the worker process
trains one network on ``--train`` series with the package's training loop
(the same number of windows for every method) and forecasts the last 24
points of ``--test`` new series from their first ``t0``, 100 sample paths
each; it reports R0.5 and R0.9 (the paper's rho-risk), the fit time and the
peak memory of the fit (the process's peak resident set over the one before
the fit). A ``--validation`` split is scored the same way; nothing is chosen
on the test split.

    python benchmarks/long_dependency.py --markdown docs/benchmarks/long-context.md

A method is skipped at a ``t0`` where its estimated fit time (measured on a
few steps first) exceeds ``--max-fit-seconds``: the reason is recorded. The
results file is written after every run; ``--resume`` keeps its runs and
measures the rest (the command recorded is then that of the last run).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import _long_dependency as LD
import _report as R
import numpy as np
import torch

NAME = "long_dependency"
T0 = [24, 48, 96, 192, 384, 768, 2048, 8192]
#: windows trained per t0 (the same for every method): fewer where each
#: window costs more, so the whole run fits in about an hour on 2 cores
WINDOWS = {2048: 4096, 8192: 2048}
DEFAULT_WINDOWS = 16384

#: one setting for every method and t0 (the paper: lr 1e-3, batch 64, clip 1);
#: no dropout, for which CPU attention would take its slow path
BATCH_SIZE = 32
LEARNING_RATE = 1e-3


def worker(spec: dict) -> dict:
    """Train and score one method at one t0 (run in a fresh process)."""
    torch.set_num_threads(spec["threads"])
    t0, method = spec["t0"], spec["method"]
    layout = LD.layout_for(t0)
    train_values = LD.make_series(t0, spec["train"], seed=0)
    splits = {
        "validation": LD.make_series(t0, spec["validation"], seed=1),
        "test": LD.make_series(t0, spec["test"], seed=2),
    }
    torch.manual_seed(spec["seed"])
    network = LD.build_network(method, layout, dropout=0.0)
    base = R.proc_status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak resident set (VmHWM)
    begin = time.perf_counter()
    try:
        history = LD.fit(
            network, train_values, layout, spec["windows"], BATCH_SIZE,
            LEARNING_RATE, spec["seed"], spec["max_fit_seconds"],
        )  # fmt: skip
    except LD.TooSlow as err:
        return {"skipped": str(err), "estimated_fit_s": err.estimate}
    fit_s = time.perf_counter() - begin
    fit_peak = R.proc_status("VmHWM") - base
    row = {
        "fit_s": fit_s,
        "fit_peak_mib": fit_peak / 2**20,
        "windows": spec["windows"] // BATCH_SIZE * BATCH_SIZE,
        "train_nll": history,
        "parameters": sum(p.numel() for p in network.parameters()),
        "threads": spec["threads"],
    }
    torch.manual_seed(spec["seed"] + 1)
    begin = time.perf_counter()
    for split, values in splits.items():
        paths = LD.forecast(method, network, values, layout, 100, spec["batch"])
        y = values[:, t0:]
        row[split] = {
            "R0.5": LD.rho_risk(y, paths, 0.5),
            "R0.9": LD.rho_risk(y, paths, 0.9),
        }
    row["predict_s"] = time.perf_counter() - begin
    return row


def run_one(spec: dict) -> dict:
    """One worker in a fresh process; its row, or the error it died with."""
    cmd = [sys.executable, __file__, "--worker", json.dumps(spec)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail)}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def reference(t0: int, n: int) -> dict:
    """R0.5 of two reference forecasts on the test split, for scale.

    ``oracle``: the true A4 curve (only the N(0, 1) noise is left);
    ``no_memory``: the A4 curve with A4 replaced by its mean (40), what a model
    that cannot see the first 24 points can do at best in the mean.
    """
    values = LD.make_series(t0, n, seed=2)
    y = values[:, t0:]
    rng = np.random.default_rng(2)  # the same draws as make_series
    a1, a2, _ = rng.uniform(0, 60, size=(3, n, 1))
    slow = np.sin(np.pi * np.arange(t0, t0 + LD.HORIZON) / 12)
    oracle = np.maximum(a1, a2) * slow + 72.0
    flat = 40.0 * slow + 72.0 + 0 * oracle

    def r(f):
        return float(2 * np.abs(y - f).sum() * 0.5 / np.abs(y).sum())

    return {"oracle": r(oracle), "no_memory": r(flat)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--t0", type=int, nargs="+", default=T0)
    parser.add_argument("--methods", nargs="+", default=list(LD.METHODS))
    parser.add_argument("--train", type=int, default=4500)
    parser.add_argument("--validation", type=int, default=250)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument(
        "--windows", type=int, default=None, help="windows per fit (all t0)"
    )
    parser.add_argument("--max-fit-seconds", type=float, default=1800.0)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the runs of the results file and measure only the others",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    R.add_page_args(parser, json_of=NAME)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    path = R.results_file(args, NAME)
    previous = R.read_json(path) if args.resume and path and path.is_file() else {}
    # the threads of the record: those of its first run (a resumed run that
    # uses others says so in its rows)
    result = R.start_run(
        "long_dependency.py", threads=previous.get("threads", args.threads)
    )
    result.update(
        train=args.train,
        validation=args.validation,
        test=args.test,
        windows=args.windows or {"default": DEFAULT_WINDOWS, **WINDOWS},
        max_fit_seconds=args.max_fit_seconds,
        batch_size=BATCH_SIZE,
        learning_rate=LEARNING_RATE,
        runs=previous.get("runs", {}),
        reference=previous.get("reference", {}),
    )
    for t0 in args.t0:
        result["reference"][str(t0)] = reference(t0, args.test)
        for method in args.methods:
            if "test" in result["runs"].get(str(t0), {}).get(method, {}):
                continue  # --resume: measured by an earlier run
            spec = dict(
                t0=t0,
                method=method,
                train=args.train,
                validation=args.validation,
                test=args.test,
                windows=args.windows or WINDOWS.get(t0, DEFAULT_WINDOWS),
                max_fit_seconds=args.max_fit_seconds,
                threads=args.threads,
                seed=args.seed,
                batch=max(1, 8192 // 100 * 4 // max(1, t0 // 256)),
            )
            row = run_one(spec)
            result["runs"].setdefault(str(t0), {})[method] = row
            print(t0, method, json.dumps(row), flush=True)
            if path:  # after every run: an interrupted run keeps what it measured
                R.write_json(path, result)


if __name__ == "__main__":
    main()
