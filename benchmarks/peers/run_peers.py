"""Peer forecasters on a panel, run in their own virtual environment.

This script runs in ``.venv-peers`` (``benchmarks/peers/requirements.txt``),
never in the package's own venv, and must not import ``sktime_logsparse``:
the peers' dependencies conflict with the package's. ``benchmarks/peers.py``
writes the training panel, runs this script as a subprocess and scores what it
writes back with the package's metric code.

Input, in ``--in DIR``: ``train.csv`` with the columns ``unique_id, ds, y``
(hourly timestamps). Output, in ``--out DIR``:

- ``forecasts.csv``: ``model, unique_id, ds`` and the columns of
  :data:`COLUMNS` (point forecast, bounds of the 80% and 95% intervals, the
  0.5 and 0.9 quantiles), ``horizon`` rows per series and model;
- ``peers.json``: per model the fit and predict seconds, the parameters and
  which output became the point forecast, or the error (type, message,
  versions) of a model that failed; the versions and the training budget.

Usage (``benchmarks/peers.py`` does this)::

    .venv-peers/bin/python benchmarks/peers/run_peers.py --in DIR --out DIR \
        --horizon 48 --season 24 --max-steps 1000 --seed 0
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

LEVELS = (80, 95)
COLUMNS = ["point", "lo80", "hi80", "lo95", "hi95", "q50", "q90"]
PACKAGES = (
    "statsforecast",
    "neuralforecast",
    "pytorch-forecasting",
    "sktime",
    "scikit-base",
    "torch",
    "lightning",
    "pandas",
    "numpy",
)
STATS = ("AutoETS", "AutoTheta", "MSTL")
NEURAL = ("NHITS", "DeepAR")
ALL = (*STATS, *NEURAL, "pf-deepar")
#: the name of each peer in the results: the model and its library
DISPLAY = {
    **{name: f"{name} (statsforecast)" for name in STATS},
    **{name: f"{name} (neuralforecast)" for name in NEURAL},
    "pf-deepar": "DeepAR (pytorch-forecasting via sktime)",
}


def versions() -> dict:
    """Installed versions of the peers' packages and Python."""
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return found


def nixtla_columns(pred: pd.DataFrame, name: str, point: str) -> pd.DataFrame:
    """A statsforecast/neuralforecast prediction frame in :data:`COLUMNS`.

    The 0.9 quantile is the upper bound of the central 80% interval; the 0.5
    quantile is the ``-median`` output where the model has one, else the
    point forecast (the models' intervals are symmetric about it then).
    """
    pred = pred.reset_index() if "unique_id" not in pred.columns else pred
    median = f"{name}-median" if f"{name}-median" in pred.columns else point
    out = pd.DataFrame(
        {
            "unique_id": pred["unique_id"].astype(str),
            "ds": pd.to_datetime(pred["ds"]),
            "point": pred[point],
            "q50": pred[median],
            "q90": pred[f"{name}-hi-80"],
        }
    )
    for level in LEVELS:
        out[f"lo{level}"] = pred[f"{name}-lo-{level}"]
        out[f"hi{level}"] = pred[f"{name}-hi-{level}"]
    return out


def statsforecast_models(season: int) -> dict[str, tuple[Callable, str]]:
    """The statsforecast peers, with their documented defaults: ``(make, text)``."""
    from statsforecast.models import MSTL, AutoETS, AutoTheta

    week = 7 * season
    return {
        "AutoETS": (
            lambda: AutoETS(season_length=season),
            f"AutoETS(season_length={season})",
        ),
        "AutoTheta": (
            lambda: AutoTheta(season_length=season),
            f"AutoTheta(season_length={season})",
        ),
        "MSTL": (
            lambda: MSTL(
                season_length=[season, week], trend_forecaster=AutoETS(model="ZZN")
            ),
            f"MSTL(season_length=[{season}, {week}], "
            'trend_forecaster=AutoETS(model="ZZN"))',
        ),
    }


def run_statsforecast(name: str, df: pd.DataFrame, args) -> tuple:
    """Fit and predict one statsforecast model.

    Returns ``(forecasts, fit seconds, predict seconds, info)``.
    """
    from statsforecast import StatsForecast

    make, text = statsforecast_models(args.season)[name]
    model = make()
    sf = StatsForecast(models=[model], freq="h", n_jobs=args.n_jobs)
    t0 = time.perf_counter()
    sf.fit(df)
    t1 = time.perf_counter()
    pred = sf.predict(h=args.horizon, level=list(LEVELS))
    t2 = time.perf_counter()
    alias = str(model)
    info = {"params": text, "point": f"{alias} (mean)", "n_jobs": args.n_jobs}
    return nixtla_columns(pred, alias, alias), t1 - t0, t2 - t1, info


LOSS_TEXT = {
    "NHITS": f"MQLoss(level={list(LEVELS)})",
    "DeepAR": f'DistributionLoss("StudentT", level={list(LEVELS)})',
}


def neural_models(args) -> dict[str, Callable]:
    """NHITS (multi-quantile loss) and DeepAR (its default distribution loss)."""
    from neuralforecast.losses.pytorch import DistributionLoss, MQLoss
    from neuralforecast.models import NHITS, DeepAR

    common = {
        "h": args.horizon,
        "max_steps": args.max_steps,
        "random_seed": args.seed,
        "accelerator": "cpu",
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "logger": False,
        "enable_checkpointing": False,
    }
    if args.neural_scaler:
        common["scaler_type"] = args.neural_scaler
    return {
        "NHITS": lambda: NHITS(
            input_size=args.input_size, loss=MQLoss(level=list(LEVELS)), **common
        ),
        # DeepAR's documented default loss is DistributionLoss("StudentT",
        # level=[80, 90]); only the levels change, to the two scored here
        "DeepAR": lambda: DeepAR(
            input_size=args.input_size,
            loss=DistributionLoss(
                distribution="StudentT", level=list(LEVELS), return_params=False
            ),
            **common,
        ),
    }


def run_neuralforecast(name: str, df: pd.DataFrame, args) -> tuple:
    """Fit and predict one neuralforecast model.

    Returns ``(forecasts, fit seconds, predict seconds, info)``.
    """
    from neuralforecast import NeuralForecast

    model = neural_models(args)[name]()
    name = type(model).__name__
    nf = NeuralForecast(models=[model], freq="h")
    t0 = time.perf_counter()
    nf.fit(df=df)
    t1 = time.perf_counter()
    pred = nf.predict()
    t2 = time.perf_counter()
    # the model's own point output: the mean for a distribution loss, the
    # median for a multi-quantile loss (which has no plain column)
    point = name if name in pred.columns else f"{name}-median"
    info = {
        "point": point,
        "max_steps": args.max_steps,
        "input_size": args.input_size,
        "scaler_type": args.neural_scaler or "identity (the class default)",
        "params": f"{name}(h={args.horizon}, input_size={args.input_size}, "
        f"loss={LOSS_TEXT[name]}, max_steps={args.max_steps}, "
        f"scaler_type={args.neural_scaler or 'identity'!r}, random_seed={args.seed})",
    }
    return nixtla_columns(pred, name, point), t1 - t0, t2 - t1, info


def run_pf_deepar(df: pd.DataFrame, args) -> tuple:
    """pytorch-forecasting's DeepAR through sktime's adapter, on the panel."""
    import lightning.pytorch as pl
    from sktime.forecasting.pytorchforecasting import PytorchForecastingDeepAR

    y = df.set_index(["unique_id", "ds"])[["y"]].sort_index()
    trainer = {
        "max_steps": args.max_steps,
        "accelerator": "cpu",
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "logger": False,
        # checkpoints (the adapter reloads the best one) in the output folder
        "default_root_dir": str(args.out / "lightning"),
    }
    pl.seed_everything(args.seed, workers=True)
    forecaster = PytorchForecastingDeepAR(trainer_params=trainer, deterministic=True)
    fh = np.arange(1, args.horizon + 1)
    t0 = time.perf_counter()
    forecaster.fit(y, fh=fh)
    t1 = time.perf_counter()
    point = forecaster.predict()
    bands = forecaster.predict_interval(coverage=[level / 100 for level in LEVELS])
    quantiles = forecaster.predict_quantiles(alpha=[0.5, 0.9])
    t2 = time.perf_counter()
    var = bands.columns.get_level_values(0)[0]
    out = pd.DataFrame({"point": point.iloc[:, 0]})
    for level in LEVELS:
        out[f"lo{level}"] = bands[(var, level / 100, "lower")]
        out[f"hi{level}"] = bands[(var, level / 100, "upper")]
    out["q50"] = quantiles[(var, 0.5)]
    out["q90"] = quantiles[(var, 0.9)]
    out.index = out.index.set_names(["unique_id", "ds"])
    out = out.reset_index()
    out["unique_id"] = out["unique_id"].astype(str)
    info = {"point": "predict()", "trainer_params": trainer, "model_params": None}
    return out, t1 - t0, t2 - t1, info


def failure(error: BaseException) -> dict:
    """What a failed model records instead of forecasts."""
    return {
        "error": {
            "type": type(error).__name__,
            "message": str(error)[:2000],
            "traceback": traceback.format_exc(limit=6)[-4000:],
            "versions": versions(),
        }
    }


def run_peer(key: str, df: pd.DataFrame, args) -> tuple:
    """Run the peer ``key`` of :data:`ALL`: ``(forecasts, fit_s, predict_s, info)``."""
    if key in STATS:
        return run_statsforecast(key, df, args)
    if key in NEURAL:
        return run_neuralforecast(key, df, args)
    return run_pf_deepar(df, args)


def main(argv: list[str] | None = None) -> dict:
    """Run the chosen peers on ``--in``/train.csv, write ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in", dest="inp", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--horizon", type=int, default=48)
    parser.add_argument("--season", type=int, default=24)
    parser.add_argument("--models", default=",".join(ALL))
    parser.add_argument(
        "--max-steps", type=int, default=1000, help="training steps, neural peers"
    )
    parser.add_argument("--input-size", type=int, default=96, help="NHITS, DeepAR")
    parser.add_argument(
        "--neural-scaler", default=None, help="scaler_type of the neural peers"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=-1, help="statsforecast")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("NIXTLA_ID_AS_COL", "1")

    df = pd.read_csv(args.inp / "train.csv", dtype={"unique_id": str})
    df["ds"] = pd.to_datetime(df["ds"])
    args.out.mkdir(parents=True, exist_ok=True)
    import torch

    result = {
        "versions": versions(),
        "torch_threads": torch.get_num_threads(),
        "budget": {
            "max_steps": args.max_steps,
            "input_size": args.input_size,
            "scaler_type": args.neural_scaler,
            "seed": args.seed,
        },
        "models": {},
    }
    chosen = [m for m in args.models.split(",") if m]
    unknown = set(chosen) - set(ALL)
    if unknown:
        parser.error(f"unknown peers {sorted(unknown)}; known: {', '.join(ALL)}")
    frames = []
    for key in chosen:
        name = DISPLAY[key]
        print(f"[peers] {name} ...", flush=True)
        try:
            forecasts, fit_s, predict_s, info = run_peer(key, df, args)
        except Exception as error:  # recorded, the other peers still run
            result["models"][name] = failure(error)
            print(f"[peers] {name} failed: {type(error).__name__}: {error}", flush=True)
            continue
        frames.append(forecasts[["unique_id", "ds", *COLUMNS]].assign(model=name))
        result["models"][name] = {"fit_s": fit_s, "predict_s": predict_s, **info}
        print(
            f"[peers] {name}: fit {fit_s:.1f} s, predict {predict_s:.1f} s", flush=True
        )
    columns = ["model", "unique_id", "ds", *COLUMNS]
    table = pd.concat(frames) if frames else pd.DataFrame(columns=columns)
    table[columns].to_csv(args.out / "forecasts.csv", index=False)
    (args.out / "peers.json").write_text(json.dumps(result, indent=2, default=str))
    return result


if __name__ == "__main__":
    main()
