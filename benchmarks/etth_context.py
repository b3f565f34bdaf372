"""Long contexts on real data: ETTh1/ETTh2, Informer's protocol, contexts to 2,880 h.

Does a longer history help? For each context length in ``--contexts`` one
forecaster a seed (``--seeds``: an ensemble, its forecasts averaged) is
fitted on the training rows [0, 8640) of the target OT (standardised with
the training rows' mean and deviation, as ``benchmarks/etth1.py`` does) with
``prediction_length`` 720 (the longest horizon), the same number of training
windows for every context (``--epochs`` of ``--windows``; the best epoch on
the forecaster's own validation range is kept) and the class defaults
otherwise: a longer context costs more time, not fewer windows, and the
results do not depend on the machine's speed. Later rows reach the model
only as context (``update(update_params=False)``). At every origin,
``--stride`` hours apart, over the validation rows [8640, 11520) and the
test rows [11520, 14400), one forecast of 720 steps (the mean of the sample
paths and the 80% interval, each averaged over the seeds) is scored at
horizons 24, 48, 168, 336 and 720 where it ends inside its split: MSE and
MAE of the scaled values, interval coverage. Each seed's forecaster is
scored alone too. Repeat-last (the last observed value) is scored over the
same origins.

The context of each horizon is chosen on the validation rows (lowest MSE);
the test rows score that choice only. The published rows are Informer's
Table 1 (Zhou et al., 2021), univariate.

    python benchmarks/etth_context.py                       # ETTh1, every context
    python benchmarks/etth_context.py --data ETTh1 ETTh2 --contexts 168 720

Results: ``benchmarks/results/etth_context.json`` (``--json PATH``), written
after every fit, so that ``--resume`` measures only what is missing. The
section of ``docs/benchmarks/long-context.md`` is rendered from it by
``python benchmarks/long_context.py --page docs/benchmarks/long-context.md``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import _report as R  # benchmarks/_report.py
import numpy as np
import pandas as pd
from etth1 import TEST, TRAIN, VALID, load  # benchmarks/etth1.py

NAME = "etth_context"
SPLITS = {"validation": (TRAIN, VALID), "test": (VALID, TEST)}
HORIZONS = (24, 48, 168, 336, 720)
CONTEXTS = (168, 336, 720, 1440, 2880)
#: the forecaster of every context (the context, the epochs and the windows
#: an epoch are added); the rest are the class defaults
CONFIG = {
    "prediction_length": max(HORIZONS),
}
#: one forecaster a seed for every context, their forecasts averaged: the
#: choice of context on validation is not at the mercy of one training run
SEEDS = (0, 1, 2)

# Zhou et al. (2021), Table 1, univariate: {horizon: (MSE, MAE)}
PUBLISHED = {
    "ETTh1": {
        "Informer": {
            24: (0.098, 0.247),
            48: (0.158, 0.319),
            168: (0.183, 0.346),
            336: (0.222, 0.387),
            720: (0.269, 0.435),
        },
        "LogTrans": {
            24: (0.103, 0.259),
            48: (0.167, 0.328),
            168: (0.207, 0.375),
            336: (0.230, 0.398),
            720: (0.273, 0.463),
        },
    },
    "ETTh2": {
        "Informer": {
            24: (0.093, 0.240),
            48: (0.155, 0.314),
            168: (0.232, 0.389),
            336: (0.263, 0.417),
            720: (0.277, 0.431),
        },
        "LogTrans": {
            24: (0.102, 0.255),
            48: (0.169, 0.348),
            168: (0.246, 0.422),
            336: (0.267, 0.437),
            720: (0.303, 0.493),
        },
    },
}


def origins(split: str, stride: int) -> list[int]:
    """Forecast origins of ``split``: rows ``s`` whose first horizon ends inside it."""
    start, end = SPLITS[split]
    return list(range(start, end - min(HORIZONS) + 1, stride))


def score(truth: np.ndarray, forecasts: dict, end: int, bands: dict | None = None):
    """Per horizon over the origins whose ``h`` steps end by row ``end``.

    ``forecasts``: ``{origin: (720,) values}``; ``bands``: ``{origin: (lo, hi)}``
    of the 80% interval. MSE, MAE (and coverage) of the first ``h`` steps.
    """
    out = {}
    for h in HORIZONS:
        kept = [s for s in forecasts if s + h <= end]
        if not kept:
            continue
        actual = np.stack([truth[s : s + h] for s in kept])
        err = np.stack([forecasts[s][:h] for s in kept]) - actual
        row = {"MSE": float(np.mean(err**2)), "MAE": float(np.mean(np.abs(err)))}
        if bands is not None:
            lo = np.stack([bands[s][0][:h] for s in kept])
            hi = np.stack([bands[s][1][:h] for s in kept])
            row["coverage80"] = float(np.mean((actual >= lo) & (actual <= hi)))
        out[str(h)] = {**row, "origins": len(kept)}
    return out


def repeat_last(y: pd.DataFrame, stride: int) -> dict:
    """The last observed value, repeated, scored on both splits."""
    truth = y.iloc[:, 0].to_numpy()
    out = {}
    for split, (_, end) in SPLITS.items():
        forecasts = {
            s: np.full(max(HORIZONS), truth[s - 1]) for s in origins(split, stride)
        }
        out[split] = score(truth, forecasts, end)
    return out


def run_context(y: pd.DataFrame, context: int, args) -> dict:
    """Fit one forecaster a seed at ``context``, forecast every origin, score.

    The ensemble's forecast is the mean over the seeds of each one's mean
    path, its 80% interval the mean of their interval bounds (quantile
    averaging); each member is scored alone too.
    """
    from sktime_logsparse import LogSparseTransformerForecaster

    params = {
        **CONFIG,
        "context_length": context,
        "max_epochs": args.epochs,
        # every epoch runs, scored on the forecaster's validation range: the
        # best is kept
        "early_stopping_patience": args.epochs,
        "windows_per_epoch": args.windows,
        "num_samples": args.samples,
    }
    fh = np.arange(1, max(HORIZONS) + 1)
    truth = y.iloc[:, 0].to_numpy()
    members, forecasters = {}, {}
    for seed in args.seeds:
        forecaster = LogSparseTransformerForecaster(**{**params, "random_state": seed})
        begin = time.perf_counter()
        forecaster.fit(y.iloc[:TRAIN], fh=fh)
        members[str(seed)] = {
            "fit_s": time.perf_counter() - begin,
            "epochs": len(forecaster.training_history_),
            "best_val_loss": min(e["val_loss"] for e in forecaster.training_history_),
        }
        forecasters[str(seed)] = forecaster
    row = {
        "params": params,
        "seeds": list(args.seeds),
        "fit_s": sum(m["fit_s"] for m in members.values()),
        "epochs": max(m["epochs"] for m in members.values()),
        "members": members,
    }
    begin, last = time.perf_counter(), TRAIN
    for split, (_, end) in SPLITS.items():
        means = {seed: {} for seed in forecasters}
        bands = {seed: {} for seed in forecasters}
        for s in origins(split, args.stride):
            if s > last:  # the rows since the last origin, to every member
                for forecaster in forecasters.values():
                    forecaster.update(y.iloc[last:s], update_params=False)
                last = s
            for seed, forecaster in forecasters.items():
                means[seed][s] = forecaster.predict(fh).iloc[:, 0].to_numpy()
                interval = forecaster.predict_interval(fh, coverage=0.8).to_numpy()
                bands[seed][s] = (interval[:, 0], interval[:, 1])
        for seed in forecasters:
            members[seed][split] = score(truth, means[seed], end, bands[seed])
        mean, band = pool(means, bands)
        row[split] = score(truth, mean, end, band)
    row["predict_s"] = time.perf_counter() - begin
    row["forecasts"] = sum(len(origins(split, args.stride)) for split in SPLITS)
    return row


def pool(means: dict, bands: dict) -> tuple[dict, dict]:
    """The ensemble of ``{seed: {origin: forecast}}``: means and bands averaged."""
    seeds = list(means)
    mean = {s: np.mean([means[k][s] for k in seeds], axis=0) for s in means[seeds[0]]}
    band = {
        s: tuple(np.mean([bands[k][s][i] for k in seeds], axis=0) for i in (0, 1))
        for s in mean
    }
    return mean, band


def choose(data: dict) -> dict:
    """Per horizon: the context of lowest validation MSE, and its test scores."""
    out = {}
    for h in map(str, HORIZONS):
        scored = {c: r["validation"][h]["MSE"] for c, r in data["contexts"].items()}
        if not scored:
            continue
        best = min(scored, key=scored.get)
        test = data["contexts"][best]["test"][h]
        base = data["repeat_last"]["test"][h]
        out[h] = {
            "context": int(best),
            "test": test,
            "repeat_last": base,
            "beats_repeat_last": test["MSE"] < base["MSE"],
        }
    return out


def done_when(result: dict) -> str:
    """Every horizon of ETTh1 beats repeat-last with its chosen context."""
    best = result.get("datasets", {}).get("ETTh1", {}).get("best")
    if not best or len(best) < len(HORIZONS):
        return "Done-when (ETTh1): needs every context and horizon."
    met = all(b["beats_repeat_last"] for b in best.values())
    chosen = ", ".join(f"{h} h: {b['context']}" for h, b in best.items())
    verdict = "met" if met else "NOT met"
    return (
        f"Done-when (ETTh1, the context chosen on validation per horizon beats "
        f"repeat-last on the test rows at every horizon): {verdict} "
        f"(contexts chosen: {chosen})."
    )


def section(result: dict) -> list[str]:
    """The ETTh part of ``docs/benchmarks/long-context.md``."""
    lines = [
        "## Real data: ETTh1 and ETTh2 with contexts up to 2,880 hours",
        "",
        "Informer's univariate protocol (Zhou et al., 2021; target OT, rows "
        "[0, 8640) train, [8640, 11520) validation, [11520, 14400) test, "
        "standardised by the training rows). For each context length an "
        f"ensemble of {len(result.get('seeds', [0]))} forecasters (one a seed; "
        "their mean forecasts and interval bounds averaged), each trained on "
        f"as many windows ({result['epochs']} epochs of "
        f"{result['windows']}, the best epoch kept, `prediction_length=720`, "
        "the class defaults otherwise), fitted on the training rows; later rows "
        "reach it only as context. One 720-step forecast (mean of "
        f"{result['samples']} paths) every {result['stride']} h over the "
        "validation and the test rows, scored at each horizon where it ends "
        "inside its split. The context of each horizon is chosen on the "
        "validation rows; the test rows score that choice only.",
        "",
        "```bash",
        result.get("command", "(not recorded)"),
        "```",
        "",
        R.run_line(result, note=f"; {result['note']}" if result.get("note") else ""),
        "",
        R.figure_markdown(NAME, "MSE against the context length, per horizon"),
        "",
        done_when(result),
        "",
    ]
    for name, data in result.get("datasets", {}).items():
        lines += _dataset_tables(name, data)
    return lines


def _dataset_tables(name: str, data: dict) -> list[str]:
    horizons = [str(h) for h in HORIZONS]
    head = ["context (h)", "fit (s), all seeds", "epochs"] + [
        f"MSE@{h}" for h in horizons
    ]
    rows = [
        [c, f"{r['fit_s']:.0f}", str(r["epochs"])]
        + [f"{r['validation'][h]['MSE']:.4f}" for h in horizons]
        for c, r in sorted(data["contexts"].items(), key=lambda kv: int(kv[0]))
    ]
    base = data["repeat_last"]["validation"]
    rows.append(["repeat-last", "", ""] + [f"{base[h]['MSE']:.4f}" for h in horizons])
    test_head = ["model"] + [f"{m}@{h}" for h in horizons for m in ("MSE", "MAE")]
    best = data.get("best", {})
    test_rows = []
    if len(best) == len(horizons):
        test_rows.append(
            ["LogSparse, context chosen on validation"]
            + [f"{best[h]['test'][m]:.4f}" for h in horizons for m in ("MSE", "MAE")]
        )
        test_rows.append(
            ["(context)"] + [x for h in horizons for x in (str(best[h]["context"]), "")]
        )
    for c, r in sorted(data["contexts"].items(), key=lambda kv: int(kv[0])):
        test_rows.append(
            [f"LogSparse, context {c}"]
            + [f"{r['test'][h][m]:.4f}" for h in horizons for m in ("MSE", "MAE")]
        )
    test = data["repeat_last"]["test"]
    test_rows.append(
        ["repeat-last"]
        + [f"{test[h][m]:.4f}" for h in horizons for m in ("MSE", "MAE")]
    )
    for model, by_h in PUBLISHED.get(name, {}).items():
        test_rows.append(
            [f"{model} (published)"]
            + [f"{by_h[int(h)][i]:.3f}" for h in horizons for i in (0, 1)]
        )
    cover = [
        [f"context {c}"] + [f"{r['test'][h]['coverage80']:.3f}" for h in horizons]
        for c, r in sorted(data["contexts"].items(), key=lambda kv: int(kv[0]))
    ]
    return [
        f"### {name}",
        "",
        "Validation rows (where the context is chosen):",
        "",
        R.markdown_table(head, rows),
        "",
        "Test rows:",
        "",
        R.markdown_table(test_head, test_rows),
        "",
        "Coverage of the 80% interval on the test rows:",
        "",
        R.markdown_table(["model"] + [f"@{h}" for h in horizons], cover),
        "",
    ]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", nargs="+", default=["ETTh1"], choices=["ETTh1", "ETTh2"]
    )
    parser.add_argument("--contexts", type=int, nargs="+", default=list(CONTEXTS))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--windows", type=int, default=512, help="an epoch")
    parser.add_argument("--samples", type=int, default=100, help="paths a forecast")
    # 73 h: the origins cycle through the hours of the day
    parser.add_argument("--stride", type=int, default=73, help="hours between origins")
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=list(SEEDS), help="an ensemble's"
    )
    parser.add_argument("--json", default=str(R.results_path(NAME)))
    parser.add_argument("--resume", action="store_true", help="keep measured fits")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    import torch

    info = R.start_run("etth_context.py", threads=torch.get_num_threads())
    settings = {
        "epochs": args.epochs,
        "windows": args.windows,
        "samples": args.samples,
        "stride": args.stride,
        "seeds": args.seeds,
    }
    result = {**info, **settings, "datasets": {}}
    if args.resume and Path(args.json).is_file():
        old = json.loads(Path(args.json).read_text())
        if any(old.get(k) != v for k, v in settings.items()):
            parser.error("--resume: the results file was made with other settings")
        result["datasets"] = old["datasets"]
    for name in args.data:
        y = load(name)
        data = result["datasets"].setdefault(name, {"contexts": {}})
        data["repeat_last"] = repeat_last(y, args.stride)
        for context in args.contexts:
            if str(context) in data["contexts"]:
                continue
            print(f"{name}, context {context} ...", flush=True)
            row = run_context(y, context, args)
            data["contexts"][str(context)] = row
            data["best"] = choose(data)
            print(
                f"  fit {row['fit_s']:.0f} s ({row['epochs']} epochs), forecasts "
                f"{row['predict_s']:.0f} s; validation MSE "
                + ", ".join(
                    f"{h}: {v['MSE']:.4f}" for h, v in row["validation"].items()
                ),
                flush=True,
            )
            R.write_json(args.json, result)
    print(done_when(result), flush=True)
    R.write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
