"""Training cost: throughput of the network, and time to accuracy on M4 Hourly.

Part (a), throughput. Windows per second of complete training steps (forward,
Gaussian NLL, backward, gradient clipping, Adam) of
:class:`LogSparseTransformer` at the forecaster's default size (d_model 32, 4
heads, 3 layers, kernel 3), with ``attention="logsparse"`` and
``attention="full"`` (SDPA, causal) side by side in one run, alternating
between them so that machine noise hits both alike.

Part (b), time to accuracy (``--curves``). The forecaster of the M4 Hourly
benchmark fitted on the 414 training series, once with the configuration of
record before the cost work of issue 18 (:data:`BEFORE`) and once with the
current one (``CONFIG`` of ``m4_hourly.py``), one after the other in one run,
each in a fresh process, "before" on the code before the cost work when
``--before-package`` names a checkout of it (``git worktree add``):
the validation CRPS (the score early stopping reads, on the last 48 points of
every training series) against the wall-clock seconds since training began,
epoch by epoch, from ``training_history_``. Each fit stops at ``--seconds``
(``max_fit_seconds``) or at its own end. A cProfile of three epochs of each
configuration gives where the time goes (the functions with the most time of
their own).

With ``--markdown`` the run is the record: its results go to
``benchmarks/results/training.json`` (or ``--json PATH``), the page is rendered
from that same dict and its figure redrawn; ``--from-results`` rewrites the page
from the results file without measuring.

Usage::

    python benchmarks/training.py --markdown docs/benchmarks/training.md
    python benchmarks/training.py --curves --seconds 600 \
        --before-package ../before --markdown docs/benchmarks/training.md
    python benchmarks/training.py --from-results \
        --markdown docs/benchmarks/training.md
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _report as R  # benchmarks/_report.py
import torch

from sktime_logsparse.nn import LogSparseConfig, LogSparseTransformer

NAME = "training"

#: the M4 Hourly configuration of record before the cost work of issue 18
#: (``m4_hourly.py``'s CONFIG then, on the class defaults of then)
BEFORE = {
    "context_length": 168,
    "prediction_length": 48,
    "windows_per_epoch": 4096,
    "kernel_size": 6,
    "dropout": 0.1,
    "batch_size": 64,
    "learning_rate": 5e-4,
    "max_epochs": 72,
    "early_stopping_patience": 15,
    "random_state": 0,
    "trainer_kwargs": {"lr_schedule": "cosine"},
    # torch's own default then: one intra-op thread per core
    "n_threads": 2,
}


def make_step(kind: str, length: int, batch: int, dropout: float, n_inputs: int = 8):
    torch.manual_seed(0)
    config = LogSparseConfig(
        n_inputs=n_inputs,
        attention=kind,
        max_length=length,
        n_series=16,
        dropout=dropout,
    )
    net = LogSparseTransformer(config).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.randn(batch, length, n_inputs)
    ids = torch.randint(0, 16, (batch,))
    target, scale = torch.randn(batch, length), torch.ones(batch, 1)

    def step():
        params = net(x, ids)
        loss = -net.likelihood.log_prob(params, scale, target).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()

    return step


def measure(length: int, batch: int, repeats: int, dropout: float) -> dict:
    steps = {
        kind: make_step(kind, length, batch, dropout) for kind in ("logsparse", "full")
    }
    for step in steps.values():
        step()  # warm-up
    times = {kind: [] for kind in steps}
    for _ in range(repeats):
        for kind, step in steps.items():
            t = time.perf_counter()
            step()
            times[kind].append(time.perf_counter() - t)
    return {kind: batch / min(ts) for kind, ts in times.items()}


# ------------------------------------------------------- (b) time to accuracy


def _m4():
    import m4_hourly  # benchmarks/m4_hourly.py: data and forecaster of record

    return m4_hourly


def fit_curve(config: dict, seconds: float | None) -> dict:
    """Fit the M4 Hourly training series; validation CRPS per epoch and time."""
    m4 = _m4()
    train, _ = m4.load("test", None)
    forecaster = m4.make_forecaster(config, seconds, False)
    load = os.getloadavg()[0]
    begin = time.perf_counter()
    forecaster.fit(train, fh=list(range(1, m4.HORIZON + 1)))
    fit_s = time.perf_counter() - begin
    history = [
        {
            "epoch": h["epoch"],
            "seconds": h["seconds"],
            "val_crps": h["val_loss"],
            "train_nll": h["train_loss"],
        }
        for h in forecaster.training_history_
    ]
    return {
        "config": config,
        "budget_s": seconds,
        "fit_s": fit_s,
        "epochs": len(history),
        "best_val_crps": min(h["val_crps"] for h in history),
        "history": history,
        "load_before": load,
        "load_after": os.getloadavg()[0],
    }


def _label(func: tuple) -> str:
    """``torch.dropout`` or ``_attention.py:98(backward)`` from a pstats key."""
    path, line, name = func
    if path == "~":  # a built-in: "<built-in method torch.dropout>"
        name = name.strip("<>{}").replace("built-in method ", "")
        return name.replace("method ", "").replace(" objects", "")
    return f"{Path(path).name}:{line}({name})"


def profile_epochs(config: dict, epochs: int = 3, top: int = 12) -> dict:
    """cProfile of ``epochs`` epochs: the functions with most time of their own."""
    m4 = _m4()
    train, _ = m4.load("test", None)
    short = {**config, "max_epochs": epochs, "early_stopping_patience": 100}
    forecaster = m4.make_forecaster(short, None, False)
    profiler = cProfile.Profile()
    begin = time.perf_counter()
    profiler.enable()
    forecaster.fit(train, fh=list(range(1, m4.HORIZON + 1)))
    profiler.disable()
    total = time.perf_counter() - begin
    stats = pstats.Stats(profiler).stats  # func -> (cc, nc, tottime, cumtime, ...)
    rows = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    return {
        "epochs": epochs,
        "total_s": total,
        "top": [
            {"function": _label(func), "calls": s[1], "own_s": s[2]} for func, s in rows
        ],
    }


def settings() -> dict:
    """The two configurations of part (b)."""
    return {"before": BEFORE, "after": _m4().CONFIG}


def one_setting(name: str, seconds: float | None) -> dict:
    """Fit curve and profile of one setting, in this process (``--one``)."""
    import sktime_logsparse

    config = settings()[name]
    run = fit_curve(config, seconds)
    print(
        f"{name}: {run['epochs']} epochs in {run['fit_s']:.0f} s, best "
        f"validation CRPS {run['best_val_crps']:.4f}",
        flush=True,
    )
    prof = profile_epochs(config)
    print(f"{name}: 3 epochs profiled, {prof['total_s']:.1f} s", flush=True)
    package = Path(sktime_logsparse.__file__).parent.parent
    return {"run": run, "profile": prof, "code": _commit(package)}


def _commit(folder: Path) -> str:
    """The commit checked out in ``folder``, ``-dirty`` with changes not committed."""
    out = subprocess.run(
        ["git", "-C", str(folder), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "unknown"


def curves(
    seconds: float | None, before_package: str | None, only=None, kept=None
) -> dict:
    """Part (b): time to accuracy and profile, before and after.

    Each setting runs in a fresh process, the "before" one on the package
    found in ``before_package`` (a checkout of the code before the cost
    work) when given, else on this one. With ``only``, the other setting is
    taken from ``kept`` (the part (b) of the results file).
    """
    out = {"settings": {}, "profile": {}, "code": {}}
    for name in settings():
        if only is not None and name != only:
            for key in out:
                out[key][name] = kept[key][name]
            continue
        with tempfile.TemporaryDirectory() as tmp:
            result = Path(tmp) / "one.json"
            cmd = [sys.executable, __file__, "--one", name, "--json", str(result)]
            if seconds is not None:
                cmd += ["--seconds", str(seconds)]
            env = dict(os.environ)
            if name == "before" and before_package:
                # a script's sys.path starts with its folder, then PYTHONPATH,
                # then the editable install of this checkout
                env["PYTHONPATH"] = str(before_package)
            subprocess.run(cmd, env=env, check=True)
            one = R.read_json(result)
        out["settings"][name], out["profile"][name] = one["run"], one["profile"]
        out["code"][name] = one["code"]
    before = out["settings"]["before"]["best_val_crps"]
    for run in out["settings"].values():
        # the first time the run's validation score reached the best "before"
        reached = [h["seconds"] for h in run["history"] if h["val_crps"] <= before]
        run["seconds_to_before_best"] = reached[0] if reached else None
    return out


def curves_markdown(part: dict) -> list[str]:
    """The page's section of part (b)."""
    runs = part["settings"]
    head = ["configuration", "epochs", "fit (s)", "best validation CRPS",
            "seconds to the best of before"]  # fmt: skip
    rows = [
        [
            name,
            run["epochs"],
            f"{run['fit_s']:.0f}",
            f"{run['best_val_crps']:.4f}",
            "-"
            if run["seconds_to_before_best"] is None
            else f"{run['seconds_to_before_best']:.0f}",
        ]  # fmt: skip
        for name, run in runs.items()
    ]
    lines = [
        "",
        "## Time to accuracy on M4 Hourly",
        "",
        "The forecaster of the M4 Hourly benchmark fitted on its 414 training "
        "series, with the configuration of record before the cost work (on the "
        "code of then) and with the current one, each in a fresh process: the "
        "validation CRPS that early stopping reads, epoch by epoch, against the "
        "seconds since training began (right panel of the figure). Command of "
        "the latest run (with `--only`, the other setting is kept from the "
        "previous run; see the notes below):",
        "",
        "```bash",
        part.get("command", "(not recorded)"),
        "```",
        "",
        R.run_line(part) + f" Load average {runs['before']['load_before']:.1f} "
        f"at the start.",
        "",
        R.markdown_table(head, rows),
        "",
        "Configurations:",
        "",
    ]
    code = part.get("code", {})
    for name, run in runs.items():
        at = f" on the code at {code[name]}" if name in code else ""
        lines.append(f"- {name}{at}: `{json.dumps(run['config'], sort_keys=True)}`")
    lines += ["", "### Where the time goes", ""]
    for name, prof in part["profile"].items():
        lines += [
            f"{name}: {prof['epochs']} epochs in {prof['total_s']:.1f} s "
            "(cProfile), the functions with the most time of their own:",
            "",
            R.markdown_table(
                ["function", "calls", "own time (s)", "share"],
                [
                    [
                        f"`{r['function']}`",
                        r["calls"],
                        f"{r['own_s']:.2f}",
                        f"{r['own_s'] / prof['total_s']:.0%}",
                    ]  # fmt: skip
                    for r in prof["top"]
                ],
            ),
            "",
        ]
    return lines


def markdown(result: dict, stem: str = NAME) -> str:
    """The generated part of the page (hand-written notes are kept apart)."""
    net = result["network"]
    rows = [
        [
            r["length"],
            r["dropout"],
            f"{r['logsparse_windows_per_s']:.1f}",
            f"{r['full_windows_per_s']:.1f}",
            f"{r['ratio']:.1f}x",
        ]
        for r in result["rows"]
    ]
    head = [
        "window length",
        "dropout",
        "LogSparse (windows/s)",
        "full (windows/s)",
        "LogSparse / full",
    ]
    protocol = (
        "Windows per second of complete training steps (forward, Gaussian NLL, "
        "backward, gradient clipping, Adam) of the network at the forecaster's "
        f"default width and depth (d_model {net['d_model']}, {net['n_heads']} "
        f"heads, {net['n_layers']} layers), convolution kernel "
        f"{net['kernel_size']}, batch "
        f"{result['batch']}, {result.get('dtype', 'float32')}, on the CPU: "
        "LogSparse attention against full causal attention (torch SDPA), the "
        f"two alternating, best of {result['repeats']} steps each. Dropout 0.1 "
        "is the default; 0.0 is shown too because SDPA with dropout is slow on "
        "a CPU. Higher is better."
    )
    torch_version = (
        f"; torch {result['versions']['torch']}" if "versions" in result else ""
    )
    lines = R.page_head(
        result,
        stem,
        title="Training throughput: LogSparse against full attention",
        protocol=protocol,
        figure="Training windows per second, LogSparse and full",
        machine=R.run_line(result, detail=torch_version),
    ) + [
        "",
        "## Results",
        "",
        R.markdown_table(head, rows),
    ]
    if "curves" in result:
        lines += curves_markdown(result["curves"])
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="512,2048")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--curves",
        action="store_true",
        help="run part (b), time to accuracy on M4 Hourly, instead of part (a)",
    )
    parser.add_argument(
        "--seconds", type=float, default=None, help="(b): budget of each fit"
    )
    parser.add_argument(
        "--before-package",
        metavar="DIR",
        help="(b): a checkout of the code before the cost work, run for 'before'",
    )
    parser.add_argument(
        "--only",
        choices=["before", "after"],
        help="(b): run this setting, keep the other from the results file",
    )
    parser.add_argument("--one", choices=["before", "after"], help=argparse.SUPPRESS)
    R.add_page_args(parser, json_of=NAME)
    args = parser.parse_args(argv)
    if args.from_results:
        R.page_from_results(parser, args, NAME, markdown)
        return
    if args.one:  # a child of --curves: one setting, written to --json
        R.write_json(Path(args.json), one_setting(args.one, args.seconds))
        return
    info = R.start_run("training.py", threads=torch.get_num_threads())
    path = R.results_file(args, NAME)
    if args.curves:  # part (b); part (a) is kept from the results file
        kept = R.read_json(path) if path and Path(path).is_file() else {}
        old = kept.get("curves") if args.only else None
        if args.only and old is None:
            parser.error("--only needs part (b) in the results file")
        part = curves(args.seconds, args.before_package, args.only, old)
        result = {**kept, "curves": {**info, **part}}
        R.record(args, NAME, result, markdown, path)
        return
    rows = []
    for length in map(int, args.lengths.split(",")):
        for dropout in (0.1, 0.0):
            r = measure(length, args.batch, args.repeats, dropout)
            ratio = r["logsparse"] / r["full"]
            rows.append(
                {
                    "length": length,
                    "dropout": dropout,
                    "logsparse_windows_per_s": r["logsparse"],
                    "full_windows_per_s": r["full"],
                    "ratio": ratio,
                }
            )
            print(
                f"L={length} dropout {dropout}: "
                f"logsparse {r['logsparse']:.1f} windows/s, "
                f"full {r['full']:.1f} windows/s, ratio {ratio:.2f}",
                flush=True,
            )
    config = LogSparseConfig(n_inputs=8, max_length=8, n_series=16)
    result = {
        **info,
        "network": {
            "d_model": config.d_model,
            "n_heads": config.n_heads,
            "n_layers": config.n_layers,
            "kernel_size": config.kernel_size,
        },
        "batch": args.batch,
        "repeats": args.repeats,
        "dtype": "float32",
        "rows": rows,
    }
    if path and Path(path).is_file() and "curves" in R.read_json(path):
        result["curves"] = R.read_json(path)["curves"]  # part (b) is kept
    R.record(args, NAME, result, markdown, path)


if __name__ == "__main__":
    main()
