"""ETTh1 benchmark: Informer's univariate protocol (target OT).

Rows [0, 8640) train, [8640, 11520) validation, [11520, 14400) test; a
StandardScaler fitted on the training rows; MSE and MAE of the scaled values
over rolling test windows, horizons 24, 48 and 168 (Zhou et al., 2021,
Table 1). A forecast origin ``s`` conditions on every row before ``s`` and is
scored at horizon ``h`` when ``s + h <= 14400``.

The model is fitted once, through the public sktime API, on the training rows
(its own early-stopping split is the last ``prediction_length`` of them); the
validation and test rows reach it only as context, through
``update(update_params=False)``, origin after origin. One 168-step forecast
per origin serves the three horizons. Origins are ``--stride`` hours apart
(default 24, i.e. one forecast a day: 120 origins; stride 1 would repeat the
same computation 24 times as often). The repeat-last baseline (sktime's
``NaiveForecaster(strategy="last")``) runs over the same origins in the same
run.

``--split validation`` forecasts over the validation rows instead (same fit
on the training rows), to choose settings without the test rows.

``--config`` takes forecaster parameters as JSON, in the forecaster's current
form or with the old flat keys (``{"lr_schedule": "cosine"}``), which
``benchmarks/_config.py`` maps. Every run writes
``benchmarks/results/etth1[_validation].json`` (``--name`` another results
file: another seed's run beside the one of record); ``--markdown`` also writes
the page from that same dict and redraws its figure; ``--from-results``
rewrites the page from the results file without running anything.

Usage::

    python benchmarks/etth1.py --markdown docs/benchmarks/etth1.md
    python benchmarks/etth1.py --split validation --config '{"max_epochs": 4}'
    python benchmarks/etth1.py --from-results --markdown docs/benchmarks/etth1.md
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

import _report as R  # benchmarks/_report.py
import metrics as M  # benchmarks/metrics.py
import numpy as np
import pandas as pd
from _config import add_forecaster_args, forecaster_params  # benchmarks/_config.py

DATA = R.ROOT.parent / "shared" / "data" / "ett"
TRAIN, VALID, TEST = 8640, 11520, 14400
HORIZONS = (24, 48, 168)
#: quantile levels forecast at every origin: the 80% and 95% intervals, the
#: median and the levels of the reliability diagram
QUANTILES = tuple(sorted({0.025, 0.975, *M.RELIABILITY_LEVELS}))

#: the configuration of record (chosen on the validation rows): twelve epochs
#: of 4096 windows, cosine-annealed, no early stopping, at most 400 s
CONFIG = {
    "context_length": 168,
    "prediction_length": 24,
    "random_state": 0,
    "early_stopping_patience": None,
    "max_epochs": 12,
    "windows_per_epoch": 4096,
    "trainer_kwargs": {"lr_schedule": "cosine"},
}
BUDGET = 400.0

# Zhou et al. (2021), Table 1, ETTh1 univariate: (MSE, MAE)
PUBLISHED = {
    "Informer": {24: (0.098, 0.247), 48: (0.158, 0.319), 168: (0.183, 0.346)},
    "LogTrans": {24: (0.103, 0.259), 48: (0.167, 0.328), 168: (0.207, 0.375)},
}


def load(name: str = "ETTh1") -> pd.DataFrame:
    """OT of ``name`` (ETTh1, ETTh2), standardised by the training rows."""
    from sklearn.preprocessing import StandardScaler

    raw = pd.read_csv(DATA / f"{name}.csv", parse_dates=["date"], index_col="date")
    ot = raw[["OT"]].iloc[:TEST].asfreq("h")
    scaler = StandardScaler().fit(ot.iloc[:TRAIN])
    return pd.DataFrame(scaler.transform(ot), index=ot.index, columns=["OT"])


def rolling(
    forecaster, y: pd.DataFrame, origins: list[int], fitted: bool, quantiles=None
):
    """Forecast 168 steps at every origin: ``{origin: values}``.

    With ``quantiles`` (levels), also ``{origin: (levels, 168) quantiles}``.
    """
    fh = np.arange(1, max(HORIZONS) + 1)
    if not fitted:
        forecaster.fit(y.iloc[:TRAIN], fh=fh)
    forecaster.update(y.iloc[TRAIN : origins[0]], update_params=False)
    out, qs, last = {}, {}, origins[0]
    for s in origins:
        if s > last:
            forecaster.update(y.iloc[last:s], update_params=False)
            last = s
        out[s] = forecaster.predict(fh).iloc[:, 0].to_numpy()
        if quantiles is not None:
            q = forecaster.predict_quantiles(fh, alpha=list(quantiles))
            qs[s] = q.to_numpy().T
    return (out, qs) if quantiles is not None else out


def calibration(y: pd.DataFrame, quantiles: dict, end: int = TEST) -> dict:
    """Interval coverage per horizon and step, rho-risks per step, reliability.

    Over the origins whose 168 steps all end by row ``end``.
    """
    truth = y.iloc[:, 0].to_numpy()
    kept = [s for s in quantiles if s + max(HORIZONS) <= end]
    actual = np.stack([truth[s : s + max(HORIZONS)] for s in kept])
    levels = list(QUANTILES)
    q = {a: np.stack([quantiles[s][i] for s in kept]) for i, a in enumerate(levels)}
    bands = {"coverage80": (q[0.1], q[0.9]), "coverage95": (q[0.025], q[0.975])}
    out = {
        "n_origins": len(kept),
        "per_step": M.per_step(actual, bands, {0.5: q[0.5], 0.9: q[0.9]}),
        "reliability": M.reliability(actual, {a: q[a] for a in M.RELIABILITY_LEVELS}),
    }
    for name, (lo, hi) in bands.items():
        out[name] = {
            str(h): M.coverage(actual[:, :h], lo[:, :h], hi[:, :h]) for h in HORIZONS
        }
    return out


def score(y: pd.DataFrame, forecasts: dict, end: int = TEST) -> dict:
    """MSE/MAE per horizon over the forecasts that end by row ``end``."""
    truth = y.iloc[:, 0].to_numpy()
    rows = {}
    for h in HORIZONS:
        err = np.stack(
            [f[:h] - truth[s : s + h] for s, f in forecasts.items() if s + h <= end]
        )
        rows[h] = {"MSE": float(np.mean(err**2)), "MAE": float(np.mean(np.abs(err)))}
    return rows


def markdown(result: dict, stem: str) -> str:
    """The generated part of the page (hand-written notes are kept apart)."""
    rows_name = "test" if result["split"] == "test" else "validation"
    horizons = sorted(next(iter(result["models"].values())), key=int)
    head = ["model"] + [f"{m}@{h}" for h in horizons for m in ("MSE", "MAE")]
    body = [
        [f"{name} (this run)"]
        + [f"{rows[h][m]:.4f}" for h in horizons for m in ("MSE", "MAE")]
        for name, rows in result["models"].items()
    ]
    body += [
        [f"{name} (published)"]
        + [f"{rows[h][m]:.3f}" for h in horizons for m in ("MSE", "MAE")]
        for name, rows in result.get("published", {}).items()
    ]
    t = result["timings"]
    budget = result.get("budget_s")
    protocol = (
        "Informer's univariate protocol (Zhou et al., 2021): train rows "
        "[0, 8640), validation [8640, 11520), test [11520, 14400), a "
        "StandardScaler fitted on the training rows; one forecast of 168 steps "
        f"every {result['stride']} h over the {rows_name} rows "
        f"({result['n_origins']} origins), scored at 24, 48 and 168 h by MSE "
        "and MAE of the scaled values (lower is better). The LogSparse forecast "
        f"is the mean of {result['config'].get('num_samples', 100)} sample "
        "paths; the model is fitted once on the training rows and later rows "
        "reach it only as context. The published rows are Table 1 of Zhou et "
        "al. (2021)."
    )
    lines = R.page_head(
        result,
        stem,
        title="ETTh1 (univariate, target OT)",
        protocol=protocol,
        figure="ETTh1 MSE and MAE per horizon",
    ) + [
        "",
        "## Results",
        "",
        R.markdown_table(head, body),
        "",
        *calibration_section(result, stem),
        "## Configuration",
        "",
        f"Fit {t['fit_s']:.0f} s ({result['epochs']} epochs"
        + (f", budget {budget:.0f} s" if budget else "")
        + f"), rolling prediction {t['predict_s']:.0f} s. The LogSparse "
        "Transformer's parameters (everything else is the class default):",
        "",
        "```json",
        json.dumps(result["config"], sort_keys=True),
        "```",
    ]
    return "\n".join(lines) + "\n"


def calibration_section(result: dict, stem: str) -> list[str]:
    """Coverage of the 80% and 95% intervals per horizon, and the figure."""
    entries = result.get("calibration")
    if not entries:
        return []
    horizons = sorted(next(iter(entries.values()))["coverage80"], key=int)
    head = ["model"] + [f"{c}% @{h}" for h in horizons for c in (80, 95)]
    body = [
        [name] + [f"{e[f'coverage{c}'][h]:.3f}" for h in horizons for c in (80, 95)]
        for name, e in entries.items()
    ]
    origins = next(iter(entries.values()))["n_origins"]
    return [
        "## Calibration",
        "",
        "Share of the actual values inside the 80% and 95% prediction "
        f"intervals up to each horizon ({origins} origins whose 168 steps lie in "
        "the rows scored); per step, with the quantile loss per step and the "
        "reliability of the quantiles, in the figure.",
        "",
        R.markdown_table(head, body),
        "",
        R.figure_markdown(f"{stem}_calibration", "Calibration of the ETTh1 forecasts"),
        "",
    ]


def main(argv=None) -> dict:
    from sktime.forecasting.naive import NaiveForecaster

    from sktime_logsparse import LogSparseTransformerForecaster

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stride", type=int, default=24)
    parser.add_argument(
        "--split",
        choices=["test", "validation"],
        default="test",
        help="forecast origins over the test rows, or the validation rows",
    )
    parser.add_argument(
        "--name",
        default=None,
        help="benchmarks/results/<name>.json (default: etth1, or etth1_validation)",
    )
    add_forecaster_args(parser, budget=BUDGET)
    R.add_page_args(parser)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    name = args.name or ("etth1" if args.split == "test" else "etth1_validation")
    if args.from_results:
        return R.page_from_results(parser, args, name, markdown)

    import torch

    info = R.start_run("etth1.py", threads=torch.get_num_threads())
    y = load()
    start, end = (VALID, TEST) if args.split == "test" else (TRAIN, VALID)
    origins = list(range(start, end - min(HORIZONS) + 1, args.stride))
    config = forecaster_params(CONFIG, json.loads(args.config))
    model = LogSparseTransformerForecaster(
        **forecaster_params(
            {"max_fit_seconds": args.budget, "verbose": args.verbose}, config
        )
    )
    t0 = time.perf_counter()
    model.fit(y.iloc[:TRAIN], fh=np.arange(1, max(HORIZONS) + 1))
    t1 = time.perf_counter()
    ours, quantiles = rolling(model, y, origins, fitted=True, quantiles=QUANTILES)
    t2 = time.perf_counter()
    naive = rolling(NaiveForecaster(strategy="last"), y, origins, fitted=False)
    result = {
        "split": args.split,
        "machine": f"{os.cpu_count()} CPU cores",
        **info,
        "budget_s": args.budget,
        "stride": args.stride,
        "n_origins": len(origins),
        "config": config,
        "epochs": len(model.training_history_),
        "timings": {"fit_s": t1 - t0, "predict_s": t2 - t1},
        "models": {
            "LogSparse Transformer": {
                str(h): v for h, v in score(y, ours, end).items()
            },
            "repeat last": {str(h): v for h, v in score(y, naive, end).items()},
        },
        "calibration": {"LogSparse Transformer": calibration(y, quantiles, end)},
        "published": {
            name: {str(h): {"MSE": m, "MAE": a} for h, (m, a) in rows.items()}
            for name, rows in PUBLISHED.items()
        },
    }
    for model, rows in result["models"].items():
        print(model, json.dumps(rows))
    R.record(args, name, result, markdown, R.results_path(name))
    return result


if __name__ == "__main__":
    main()
