"""How many sample paths: saved M4 Hourly fits forecast with each ``num_samples``.

A fit of the configuration of record (``m4_hourly.CONFIG``) is trained on
the M4 Hourly training series less their last ``drop`` points (the test
split is never read; ``drop`` >= 48) and saved (``--fit``). Its weights
fixed, each saved fit (``--model``) is then, for every count of
``--samples``, calibrated again with that many paths (the widening is sized
on at most 256: ``calibration_samples``) and forecasts the 48 points after
its data, as the benchmark of record forecasts the test points after the
range its fit held out. The scores are those of ``m4_hourly.py`` (MSIS over
the seasonal naive scale of the data the fit saw, coverage of the 80% and
95% intervals, sMAPE of the median), with the seconds the calibration and
the forecast took. Several fits (other seeds, other ``drop``) make one
week that happens to be easier or harder than the next decide nothing.

Usage::

    python benchmarks/m4_paths.py --fit 48 DIR --config '{"random_state": 1}'
    python benchmarks/m4_paths.py --model 48 DIR --model 96 DIR2 --samples 100 400
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import _report as R  # benchmarks/_report.py
import m4_hourly as H  # benchmarks/m4_hourly.py
import metrics as M  # benchmarks/metrics.py
import numpy as np
from calibration import cut  # benchmarks/calibration.py

LEVELS = (0.025, 0.1, 0.5, 0.9, 0.975)


def split(drop: int):
    """The training series less their last ``drop`` points, and the 48 after."""
    from sktime_logsparse.datasets import load_m4_hourly_split

    if drop < H.HORIZON:
        raise ValueError(f"drop must be at least {H.HORIZON}, got {drop}")
    train, _ = load_m4_hourly_split()
    seen, rest = cut(train, drop)
    ahead, _ = cut(rest, drop - H.HORIZON)
    return seen, ahead


def score(forecaster, seen, ahead, samples: int) -> dict:
    """Calibrate ``forecaster`` with ``samples`` paths; score it on ``ahead``.

    ``seen``: the data it was fitted on (the scale of MSIS).
    """
    from sktime_logsparse._params import resolve_params

    forecaster.num_samples = samples
    settings = resolve_params(forecaster.get_params(deep=False))
    t0 = time.perf_counter()
    # epochs=0: no training, only the calibration pass on the held-out range
    forecaster.calibration_ = forecaster._train(
        forecaster.model_, forecaster._panel, settings, 0
    )
    t1 = time.perf_counter()
    q = forecaster.predict_quantiles(fh=np.arange(1, H.HORIZON + 1), alpha=list(LEVELS))
    t2 = time.perf_counter()
    var = q.columns.get_level_values(0)[0]
    Q = {a: H.as_matrix(q, (var, a)) for a in LEVELS}
    y, history = H.as_matrix(ahead), H.histories(seen)
    return {
        "MSIS": M.msis(y, Q[0.025], Q[0.975], history, H.SEASON),
        "coverage80": M.coverage(y, Q[0.1], Q[0.9]),
        "coverage95": M.coverage(y, Q[0.025], Q[0.975]),
        "sMAPE": M.point_scores(y, Q[0.5], history, H.SEASON)["sMAPE"],
        "calibrate_s": t1 - t0,
        "predict_s": t2 - t1,
    }


def main(argv=None) -> dict:
    from sktime_logsparse import LogSparseTransformerForecaster

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", nargs=2, metavar=("DROP", "DIR"))
    parser.add_argument(
        "--model", nargs=2, action="append", metavar=("DROP", "DIR"), default=[]
    )
    parser.add_argument("--samples", type=int, nargs="+", default=[100, 400])
    parser.add_argument("--config", default="{}", help="JSON over CONFIG (--fit)")
    parser.add_argument("--name", default="m4_hourly_paths")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    if args.fit:
        drop, folder = int(args.fit[0]), Path(args.fit[1])
        seen, _ = split(drop)
        forecaster = H.make_forecaster(json.loads(args.config), None, False)
        forecaster.fit(seen, fh=np.arange(1, H.HORIZON + 1))
        forecaster.save_model(folder)
        return {"saved": str(folder)}
    import torch

    info = R.start_run("m4_paths.py", threads=torch.get_num_threads())
    load = LogSparseTransformerForecaster.load_model
    fits = {}
    for drop, folder in args.model:
        seen, ahead = split(int(drop))
        # a fresh copy per count: the paths of a forecast are kept for the
        # next call of the same horizon (predict, then quantiles, ...)
        copies = [load(folder) for _ in args.samples]
        params = dict(copies[0].get_params(deep=False))  # as saved
        rows = {
            str(n): score(f, seen, ahead, n)
            for n, f in zip(args.samples, copies, strict=True)
        }
        name = f"drop {drop}, seed {params['random_state']}"
        fits[name] = {"drop": int(drop), "folder": folder, "params": params}
        fits[name]["rows"] = rows
        print(name, {n: round(r["MSIS"], 3) for n, r in rows.items()}, flush=True)
    mean = {
        str(n): {
            m: float(np.mean([f["rows"][str(n)][m] for f in fits.values()]))
            for m in next(iter(fits.values()))["rows"][str(n)]
        }
        for n in args.samples
    }
    result = {**info, "samples": args.samples, "fits": fits, "mean": mean}
    R.write_json(R.results_path(args.name), result)
    return result


if __name__ == "__main__":
    main()
