"""Averaged weights against the last step's: the demo's setting over several seeds.

The demo's forecaster (``sktime_logsparse.demo``: the first 60 M4 Hourly
series, a week of context, 48 steps, 12 epochs of 2,048 windows, defaults
otherwise) on the demo's validation split (each series' last 48 training
points held out, never the test range), fitted with ``--seeds`` values of
``random_state``, each with ``trainer_kwargs={"ema_decay": None}`` (the
weights of the last step, the earlier default) and with the default moving
average. Scores: MASE and pinball loss (10/50/90%) as the demo prints them,
beside sktime's seasonal naive; also the pinball loss of the three series of
highest level, which dominate the panel's (absolute) pinball loss.

Fits run ``--jobs`` at a time in separate processes, one thread each (the
fit default), so the scores do not depend on the machine's load.

    python benchmarks/averaging.py

Results: ``benchmarks/results/averaging.json`` (quoted by ``docs/design.md``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import warnings
from concurrent.futures import ProcessPoolExecutor

import _report as R  # benchmarks/_report.py
import numpy as np

NAME = "averaging"
SETTINGS = {"last step": {"ema_decay": None}, "averaged (default)": {}}
#: the series of highest level among the demo's 60 (they dominate its pinball)
BIG = ("H30", "H39", "H57")


def _split():
    from sktime_logsparse.datasets import HORIZON
    from sktime_logsparse.demo import demo_data

    return (*demo_data(60, "validation"), np.arange(1, HORIZON + 1))


def _per_series_pinball(y_test, quantiles) -> dict:
    from sktime.performance_metrics.forecasting.probabilistic import PinballLoss

    loss = PinballLoss(alpha=[0.1, 0.5, 0.9])
    return {sid: float(loss(y_test.loc[[sid]], quantiles.loc[[sid]])) for sid in BIG}


def one(trainer_kwargs: dict, seed: int) -> dict:
    """Fit the demo's forecaster once; its scores on the validation split."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    from sktime_logsparse.demo import ALPHAS, _scores, demo_forecaster

    y_train, y_test, fh = _split()
    forecaster = demo_forecaster(
        random_state=seed, trainer_kwargs=trainer_kwargs or None
    )
    forecaster.fit(y_train, fh=fh)
    quantiles = forecaster.predict_quantiles(alpha=ALPHAS)
    scores = _scores(y_test, y_train, forecaster.predict(), quantiles)
    scores["pinball_big"] = _per_series_pinball(y_test, quantiles)
    scores["epochs"] = len(forecaster.training_history_)
    return scores


def naive() -> dict:
    """sktime's seasonal naive on the same split, as the demo scores it."""
    warnings.filterwarnings("ignore")
    from sktime.forecasting.naive import NaiveForecaster

    from sktime_logsparse.demo import ALPHAS, _scores

    y_train, y_test, fh = _split()
    model = NaiveForecaster(strategy="last", sp=24).fit(y_train, fh=fh)
    quantiles = model.predict_quantiles(alpha=ALPHAS)
    scores = _scores(y_test, y_train, model.predict(), quantiles)
    scores["pinball_big"] = _per_series_pinball(y_test, quantiles)
    return scores


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2, help="fits at a time")
    parser.add_argument("--json", default=str(R.results_path(NAME)))
    args = parser.parse_args(argv)
    info = R.start_run("averaging.py", threads=1)
    seeds = list(range(args.seeds))
    with ProcessPoolExecutor(args.jobs) as pool:
        jobs = {
            (name, seed): pool.submit(one, kwargs, seed)
            for seed in seeds
            for name, kwargs in SETTINGS.items()
        }
        baseline = pool.submit(naive).result()
        runs = {name: [jobs[name, s].result() for s in seeds] for name in SETTINGS}
    summary = {}
    for name, rows in runs.items():
        pinball = [r["pinball"] for r in rows]
        summary[name] = {
            "MASE_mean": statistics.mean(r["MASE"] for r in rows),
            "pinball_mean": statistics.mean(pinball),
            "pinball_min": min(pinball),
            "pinball_max": max(pinball),
            "beats_naive_on_both": sum(
                r["pinball"] < baseline["pinball"] and r["MASE"] < baseline["MASE"]
                for r in rows
            ),
        }
        rounded = {k: round(v, 3) for k, v in summary[name].items()}
        print(f"{name}: {json.dumps(rounded)}")
    print(
        f"seasonal naive: MASE {baseline['MASE']:.3f}, "
        f"pinball {baseline['pinball']:.1f}"
    )
    result = {
        **info,
        "split": "validation",
        "seeds": seeds,
        "settings": SETTINGS,
        "runs": runs,
        "summary": summary,
        "seasonal_naive": baseline,
    }
    R.write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
