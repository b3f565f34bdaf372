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

Usage::

    python benchmarks/etth1.py --markdown docs/benchmarks/etth1.md
    python benchmarks/etth1.py --split validation --config '{"max_epochs": 4}'
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data" / "ett" / "ETTh1.csv"
TRAIN, VALID, TEST = 8640, 11520, 14400
HORIZONS = (24, 48, 168)

CONFIG = {
    "context_length": 168,
    "prediction_length": 24,
    "random_state": 0,
}

# Zhou et al. (2021), Table 1, ETTh1 univariate: (MSE, MAE)
PUBLISHED = {
    "Informer": {24: (0.098, 0.247), 48: (0.158, 0.319), 168: (0.183, 0.346)},
    "LogTrans": {24: (0.103, 0.259), 48: (0.167, 0.328), 168: (0.207, 0.375)},
}


def load() -> pd.DataFrame:
    """OT, standardised with the training rows' mean and deviation."""
    from sklearn.preprocessing import StandardScaler

    raw = pd.read_csv(DATA, parse_dates=["date"], index_col="date")
    ot = raw[["OT"]].iloc[:TEST].asfreq("h")
    scaler = StandardScaler().fit(ot.iloc[:TRAIN])
    return pd.DataFrame(scaler.transform(ot), index=ot.index, columns=["OT"])


def rolling(forecaster, y: pd.DataFrame, origins: list[int], fitted: bool) -> dict:
    """Forecast 168 steps at every origin; returns ``{origin: values}``."""
    fh = np.arange(1, max(HORIZONS) + 1)
    if not fitted:
        forecaster.fit(y.iloc[:TRAIN], fh=fh)
    forecaster.update(y.iloc[TRAIN : origins[0]], update_params=False)
    out, last = {}, origins[0]
    for s in origins:
        if s > last:
            forecaster.update(y.iloc[last:s], update_params=False)
            last = s
        out[s] = forecaster.predict(fh).iloc[:, 0].to_numpy()
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


def markdown(result: dict, command: str) -> str:
    lines = [
        "# ETTh1 (univariate, target OT)",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {result['machine']}. Informer's protocol: train rows [0, 8640), "
        "validation [8640, 11520), test [11520, 14400), StandardScaler fitted on "
        f"train; rolling origins every {result['stride']} h over the test rows "
        f"({result['n_origins']} origins); MSE/MAE of the scaled values; the "
        "LogSparse forecast is the mean of "
        f"{result['config'].get('num_samples', 100)} sample paths.",
        "",
        "| model | " + " | ".join(f"MSE@{h} | MAE@{h}" for h in HORIZONS) + " |",
        "|---|" + "---|---|" * len(HORIZONS),
    ]
    for name, rows in result["models"].items():
        cells = " | ".join(
            f"{rows[str(h)]['MSE']:.4f} | {rows[str(h)]['MAE']:.4f}" for h in HORIZONS
        )
        lines.append(f"| {name} (this run) | {cells} |")
    for name, rows in PUBLISHED.items():
        cells = " | ".join(f"{rows[h][0]:.3f} | {rows[h][1]:.3f}" for h in HORIZONS)
        lines.append(f"| {name} (published) | {cells} |")
    t = result["timings"]
    lines += [
        "",
        f"Fit {t['fit_s']:.0f} s ({result['epochs']} epochs), rolling prediction "
        f"{t['predict_s']:.0f} s. Configuration: `"
        + json.dumps(result["config"], sort_keys=True)
        + "`",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    from sktime.forecasting.naive import NaiveForecaster

    from sktime_logsparse import LogSparseTransformerForecaster

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stride", type=int, default=24)
    parser.add_argument("--budget", type=float, default=600.0, help="fit seconds")
    parser.add_argument(
        "--split",
        choices=["test", "validation"],
        default="test",
        help="forecast origins over the test rows, or the validation rows",
    )
    parser.add_argument("--config", default="{}", help="JSON forecaster overrides")
    parser.add_argument("--markdown", type=Path, default=None)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)

    y = load()
    start, end = (VALID, TEST) if args.split == "test" else (TRAIN, VALID)
    origins = list(range(start, end - min(HORIZONS) + 1, args.stride))
    config = {**CONFIG, **json.loads(args.config)}
    model = LogSparseTransformerForecaster(
        **{"max_fit_seconds": args.budget, "verbose": args.verbose, **config}
    )
    t0 = time.perf_counter()
    model.fit(y.iloc[:TRAIN], fh=np.arange(1, max(HORIZONS) + 1))
    t1 = time.perf_counter()
    ours = rolling(model, y, origins, fitted=True)
    t2 = time.perf_counter()
    naive = rolling(NaiveForecaster(strategy="last"), y, origins, fitted=False)
    result = {
        "split": args.split,
        "machine": f"{os.cpu_count()} CPU cores",
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
        "published": {
            name: {str(h): {"MSE": m, "MAE": a} for h, (m, a) in rows.items()}
            for name, rows in PUBLISHED.items()
        },
    }
    for name, rows in result["models"].items():
        print(name, json.dumps(rows))
    suffix = "" if args.split == "test" else "_validation"
    out = HERE / "results" / f"etth1{suffix}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    if args.markdown:
        command = "python benchmarks/etth1.py " + shlex.join(sys.argv[1:])
        args.markdown.write_text(markdown(result, command))
    return result


if __name__ == "__main__":
    main()
