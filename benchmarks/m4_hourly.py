"""M4 Hourly benchmark: the LogSparse Transformer against sktime baselines.

The M4 protocol: 414 hourly series, horizon 48, one global model trained on
the training part of every series through the public sktime API (a
``pd-multiindex`` panel with the real start timestamps, so calendar features
are right), scored on the competition's test part with the M4 metrics. The
baselines run in the same process through the same metric code; seasonal
naive must reproduce the official sMAPE 13.912 and MASE 1.193, which checks
the metric code.

``--split validation`` carves a validation split out of the training series
only (their last 48 points become the test): hyperparameters and ablations are
chosen there, never on the test set.

``--config`` takes forecaster parameters as JSON, in the forecaster's current
form (``{"trainer_kwargs": {"lr_schedule": "cosine"}}``) or with the old flat
keys (``{"lr_schedule": "cosine"}``), which ``benchmarks/_config.py`` maps.

Every run writes its results of record to ``benchmarks/results/<name>.json``;
``--markdown`` also writes the page, rendered from that same dict, and redraws
its figure (``benchmarks/figures.py``). ``--from-results`` rewrites the page
from the results file without running anything.

Usage::

    python benchmarks/m4_hourly.py                      # test split, record
    python benchmarks/m4_hourly.py --split validation --config '{"kernel_size": 1}'
    python benchmarks/m4_hourly.py --ablation           # validation ablations
    python benchmarks/m4_hourly.py --from-results \
        --markdown docs/benchmarks/m4_hourly.md       # page from the results file
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import _report as R  # benchmarks/_report.py
import metrics as M  # benchmarks/metrics.py
import numpy as np
import pandas as pd
from _config import add_forecaster_args, forecaster_params  # benchmarks/_config.py

DATA = R.ROOT.parent / "shared" / "data" / "m4_hourly"
SEASON, HORIZON = 24, 48

# The final configuration (chosen on the validation split, see
# docs/benchmarks/m4_hourly.md); everything else is the class default.
CONFIG = {
    "context_length": 168,
    "prediction_length": HORIZON,
    "windows_per_epoch": 4096,
    "kernel_size": 6,
    "learning_rate": 5e-4,
    "max_epochs": 72,
    "early_stopping_patience": 15,
    "random_state": 0,
    "n_threads": 2,  # the 2 cores of the machine of record, the run alone there
    "trainer_kwargs": {"lr_schedule": "cosine"},
    # M4's point metrics are absolute errors: the median of the paths, which
    # the widening of the tails leaves in place (benchmarks/calibration.py)
    "point_forecast": "median",
    # 400 paths (the widening sized on 256): lower MSIS than 100 on each of
    # five fits on the validation split (docs/benchmarks/m4_hourly.md)
    "num_samples": 400,
}

ABLATIONS = {
    "kernel_size": [{"kernel_size": 1}, {"kernel_size": 3}, {"kernel_size": 6}],
    "attention": [
        {"attention": "logsparse"},
        {"attention": "full"},
        {"attention": "local"},
        {"attention": "restart"},
    ],
}

OFFICIAL = ["Smyl", "Montero-Manso", "Doornik", "sNaive", "Naive2", "Theta"]


# ------------------------------------------------------------------- data


def load(split: str, n_series: int | None):
    """Training panel, test panel and histories ``(train, test, list)``."""
    from sktime_logsparse.datasets import load_m4_hourly_split

    train, test = load_m4_hourly_split(series=n_series)
    if split == "validation":
        parts = [(k, g.iloc[:-HORIZON], g.iloc[-HORIZON:]) for k, g in _groups(train)]
        train = pd.concat([p for _, p, _ in parts])
        test = pd.concat([t for _, _, t in parts])
    return train.sort_index(), test.sort_index()


def _groups(panel: pd.DataFrame):
    return panel.groupby(level=0, sort=False)


def as_matrix(panel: pd.DataFrame, column=None) -> np.ndarray:
    """``(series, horizon)`` values of a forecast or test panel (sorted ids)."""
    values = panel.iloc[:, 0] if column is None else panel[column]
    return np.stack([g.to_numpy(np.float64) for _, g in values.groupby(level=0)])


def histories(train: pd.DataFrame) -> list[np.ndarray]:
    return [g.to_numpy(np.float64) for _, g in train.iloc[:, 0].groupby(level=0)]


# ---------------------------------------------------------------- scoring


def run_model(name: str, forecaster, train, test) -> dict:
    """Fit, predict, score one forecaster through the sktime API."""
    fh = np.arange(1, HORIZON + 1)
    t0 = time.perf_counter()
    forecaster.fit(train, fh=fh)
    t1 = time.perf_counter()
    point = forecaster.predict()
    intervals = forecaster.predict_interval(coverage=[0.8, 0.95])
    quantiles = forecaster.predict_quantiles(alpha=[0.5, 0.9])
    t2 = time.perf_counter()
    # outside the timing: the quantiles of the reliability diagram
    levels = list(M.RELIABILITY_LEVELS)
    grid = forecaster.predict_quantiles(alpha=levels)
    y, hist = as_matrix(test), histories(train)
    var = intervals.columns.get_level_values(0)[0]

    def band(cov):
        return as_matrix(intervals, (var, cov, "lower")), as_matrix(
            intervals, (var, cov, "upper")
        )

    lo80, hi80 = band(0.8)
    lo95, hi95 = band(0.95)
    f = as_matrix(point)
    row = {
        **M.point_scores(y, f, hist, SEASON),
        "MSIS": M.msis(y, lo95, hi95, hist, SEASON, alpha=0.05),
        "R0.5": M.rho_risk(y, as_matrix(quantiles, (var, 0.5)), 0.5),
        "R0.9": M.rho_risk(y, as_matrix(quantiles, (var, 0.9)), 0.9),
        "coverage80": M.coverage(y, lo80, hi80),
        "coverage95": M.coverage(y, lo95, hi95),
        "fit_s": t1 - t0,
        "predict_s": t2 - t1,
    }
    print(f"{name}: " + ", ".join(f"{k} {v:.4g}" for k, v in row.items()), flush=True)
    q = {a: as_matrix(grid, (var, a)) for a in levels}
    row["per_step"] = M.per_step(
        y,
        {"coverage80": (lo80, hi80), "coverage95": (lo95, hi95)},
        {0.5: q[0.5], 0.9: q[0.9]},
    )
    row["reliability"] = M.reliability(y, q)
    return row


def baselines(names: list[str]) -> dict:
    from sktime.forecasting.ets import AutoETS
    from sktime.forecasting.naive import NaiveForecaster
    from sktime.forecasting.theta import ThetaForecaster

    known = {
        "seasonal naive": lambda: NaiveForecaster(strategy="last", sp=SEASON),
        "Theta": lambda: ThetaForecaster(sp=SEASON),
        # one ETS(A,N,A) per series: auto selection over 24 seasonal states
        # takes far longer than the few minutes a baseline may take here
        "ETS(A,N,A)": lambda: AutoETS(
            error="add", trend=None, seasonal="add", sp=SEASON, n_jobs=-1
        ),
    }
    alias = {"naive": "seasonal naive", "theta": "Theta", "ets": "ETS(A,N,A)"}
    return {alias[n]: known[alias[n]] for n in names}


def official_rows() -> pd.DataFrame:
    """The official M4 Hourly rows of a few methods, from the results table."""
    book = pd.ExcelFile(DATA / "M4_Evaluation_and_Ranks.xlsx")
    people = book.parse("Methods")
    ids = dict(zip(people["Last Name (1st author)"], people["User ID"], strict=False))
    point = book.parse("Point Forecasts-Frequency", header=None)
    pi = book.parse("Prediction Intervals-Frequency", header=None)
    # column 6 is Hourly sMAPE (and Hourly MSIS), 13 Hourly MASE, 20 Hourly OWA
    point = point.set_index(point[0].astype(str))
    pi = pi.set_index(pi[0].astype(str))
    rows = {}
    for name in OFFICIAL:
        key = str(ids.get(name, name))
        if key not in point.index:
            continue
        r = point.loc[key]
        rows[name] = {
            "sMAPE": float(r[6]),
            "MASE": float(r[13]),
            "OWA": float(r[20]),
            "MSIS": float(pi.loc[key, 6]) if key in pi.index else np.nan,
        }
    return pd.DataFrame(rows).T


# ------------------------------------------------------------------- main


def make_forecaster(config: dict, budget: float | None, verbose: bool):
    """The forecaster of :data:`CONFIG` with ``config`` on top (old keys mapped)."""
    from sktime_logsparse import LogSparseTransformerForecaster

    return LogSparseTransformerForecaster(
        **forecaster_params(
            CONFIG, {"max_fit_seconds": budget, "verbose": verbose}, config
        )
    )


def fan_chart(forecaster, train, test, path: Path, ids=("H1", "H105", "H300")):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    q = forecaster.predict_quantiles(alpha=[0.05, 0.1, 0.5, 0.9, 0.95])
    var = q.columns.get_level_values(0)[0]
    ids = [i for i in ids if i in test.index.get_level_values(0)]
    fig, axes = plt.subplots(len(ids), 1, figsize=(9, 2.5 * len(ids)))
    for ax, sid in zip(np.atleast_1d(axes), ids, strict=True):
        hist = train.loc[sid].iloc[-168:, 0]
        truth, qs = test.loc[sid].iloc[:, 0], q.loc[sid]
        ax.plot(hist.index, hist.to_numpy(), color="black", lw=1)
        ax.plot(truth.index, truth.to_numpy(), "k--", lw=1, label="actual")
        for lower, upper, alpha, label in (
            (0.05, 0.95, 0.2, "90%"),
            (0.1, 0.9, 0.35, "80%"),
        ):
            ax.fill_between(
                qs.index,
                qs[(var, lower)],
                qs[(var, upper)],
                alpha=alpha,
                color="C0",
                label=label,
            )
        ax.plot(qs.index, qs[(var, 0.5)], color="C0", lw=1.5, label="median")
        ax.set_title(f"M4 Hourly {sid}", fontsize=9)
    np.atleast_1d(axes)[0].legend(loc="upper left", fontsize=7, ncol=4)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


ACCURACY = R.m4_columns("sMAPE", "MASE", "OWA", "MSIS", "R0.5", "R0.9")
CALIBRATION = R.m4_columns("coverage80", "coverage95", "fit_s", "predict_s")
# the official table's figures, all to three decimals as published
OFFICIAL_COLUMNS = [(key, key, ".3f") for key in ("sMAPE", "MASE", "OWA", "MSIS")]


def display_name(name: str) -> str:
    """``'kernel_size: {"kernel_size": 6}'`` -> ``'`kernel_size=6`'``; else as is."""
    _, sep, setting = name.partition(": ")
    if sep:
        try:
            values = json.loads(setting)
        except json.JSONDecodeError:
            return name
        if isinstance(values, dict) and values:
            pairs = ", ".join(f"{k}={json.dumps(v)}" for k, v in values.items())
            return f"`{pairs}`"
    return name


def metric_table(rows: dict, columns: list, label: str = "model") -> str:
    """A markdown table of ``rows`` (name -> metrics) in ``columns``."""
    return R.column_table(
        label, columns, [(display_name(name), row) for name, row in rows.items()]
    )


def ablation_group(result: dict) -> str | None:
    """The ablation group of a results dict (``None`` for a plain run)."""
    if result.get("ablation"):
        return result["ablation"]
    groups = {name.partition(": ")[0] for name in result["models"]}
    if len(groups) == 1 and all(": " in n for n in result["models"]):
        return groups.pop()
    return None


def markdown(result: dict, stem: str) -> str:
    """The generated part of the page of a results dict (notes are kept apart)."""
    group = ablation_group(result)
    split = result["split"]
    config = result["config"]
    if group:
        title = f"M4 Hourly ablation: {group.replace('_', ' ')} ({split} split)"
        label = "setting"
    else:
        title = f"M4 Hourly ({split} split)"
        label = "model"
    protocol = (
        f"{result['n_series']} hourly series of the M4 competition, horizon "
        f"{HORIZON}, one global model trained through the sktime API. MASE and "
        f"MSIS are scaled by the in-sample seasonal naive error (period {SEASON}), "
        f"OWA is relative to the official Naive2 ({M.NAIVE2_SMAPE} / "
        f"{M.NAIVE2_MASE}), R0.5 and R0.9 are pooled rho-risks (Li et al., 2019); "
        "lower is better for all of them."
    )
    if split == "validation":
        protocol += (
            " Validation split: the last 48 points of each training series are "
            "forecast from the rest; the test split is not used. OWA still "
            "divides by Naive2's *test* figures, so compare it only within this "
            "page."
        )
    budget = result.get("budget_s")
    training = f"Training budget {budget:.0f} s" if budget else "No training budget"
    if "epochs" in result:
        training += f"; the run trained {result['epochs']} epochs"
    lines = R.page_head(
        result,
        stem,
        title=title,
        protocol=protocol,
        figure=f"M4 Hourly metrics of each {label}",
    ) + [
        "",
        "## Accuracy",
        "",
        metric_table(result["models"], ACCURACY, label),
        "",
        "## Calibration and cost",
        "",
        f"Share of the {'test' if split == 'test' else 'held-out'} points "
        "inside the 80% and 95% prediction intervals, and wall-clock seconds to "
        "fit and to predict (point forecast, intervals and quantiles) all series.",
        "",
        metric_table(result["models"], CALIBRATION, label),
        "",
        *per_step_section(result, stem),
        "## Configuration",
        "",
        f"{training}. The LogSparse Transformer's parameters (everything else "
        "is the class default):",
        "",
        "```json",
        json.dumps(config, sort_keys=True),
        "```",
    ]
    if result.get("fan_chart"):
        name = Path(result["fan_chart"]).name
        lines += [
            "",
            "Forecasts of a few series: the last week of history, the 80% and "
            "90% bands and the median of the sample paths, and the actual values "
            "(dashed).",
            "",
            f"![Fan charts of a few M4 Hourly series](../images/{name})",
        ]
    official = result.get("official")
    if official:
        lines += [
            "",
            "## Official M4 results",
            "",
            "Hourly rows of `M4_Evaluation_and_Ranks.xlsx` (the competition's "
            "published results), for comparison:",
            "",
            metric_table(official, OFFICIAL_COLUMNS, "method"),
        ]
    return "\n".join(lines) + "\n"


#: horizon steps shown in the per-step table (all 48 are in the figure)
SHOWN_STEPS = (1, 6, 12, 24, 36, 48)


def per_step_section(result: dict, stem: str) -> list[str]:
    """Coverage and rho-risk at a few horizon steps, and the calibration figure."""
    rows = {k: v for k, v in result["models"].items() if "per_step" in v}
    if not rows:
        return []
    keys = [("coverage80", "80%", ".2f"), ("coverage95", "95%", ".2f")]
    keys += [("R0.5", "R0.5", ".3f"), ("R0.9", "R0.9", ".3f")]
    head = ["model", "step"] + [title for _, title, _ in keys]
    body = [
        [display_name(name) if h == SHOWN_STEPS[0] else "", str(h)]
        + [format(row["per_step"][k][h - 1], fmt) for k, _, fmt in keys]
        for name, row in rows.items()
        for h in SHOWN_STEPS
    ]
    return [
        "### Per horizon step",
        "",
        "Coverage of the 80% and 95% intervals and the pooled rho-risks at a "
        "few steps ahead; the figure shows every step, and the reliability "
        "diagram: the share of actual values at or below each forecast "
        "quantile, against its level (calibrated quantiles lie on the "
        "diagonal).",
        "",
        R.markdown_table(head, body),
        "",
        R.figure_markdown(f"{stem}_calibration", "M4 Hourly calibration per step"),
        "",
    ]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["test", "validation"], default="test")
    parser.add_argument("--series", type=int, default=None, help="first N series")
    # no wall-clock budget by default: the run of record trains its 72 epochs
    # whatever the load on the machine, so that it reproduces digit for digit
    add_forecaster_args(parser, budget=None)
    parser.add_argument("--baselines", default="naive,theta,ets")
    parser.add_argument("--ablation", action="store_true")
    parser.add_argument(
        "--group",
        choices=sorted(ABLATIONS),
        default=None,
        help="with --ablation: only this group (run groups in parallel)",
    )
    parser.add_argument("--name", default=None, help="benchmarks/results/<name>.json")
    parser.add_argument("--figure", type=Path, default=None, help="fan chart PNG")
    R.add_page_args(parser, source="benchmarks/results/<name>.json")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)

    split = "validation" if args.ablation else args.split
    name = args.name or ("m4_hourly" if split == "test" else f"m4_hourly_{split}")
    if args.ablation:
        suffix = f"_{args.group}" if args.group else ""
        name = args.name or f"m4_hourly_ablations{suffix}"
    if args.from_results:
        return R.page_from_results(parser, args, name, markdown)

    import torch

    info = R.start_run("m4_hourly.py", threads=torch.get_num_threads())
    train, test = load(split, args.series)
    config = json.loads(args.config)
    forecaster_params(config)  # fail on a bad key before loading anything else
    result = {
        "split": split,
        "n_series": int(train.index.get_level_values(0).nunique()),
        "machine": f"{os.cpu_count()} CPU cores, {platform.processor() or 'cpu'}",
        **info,
        "budget_s": args.budget,
        "config": forecaster_params(CONFIG, config),
        "models": {},
    }
    if args.ablation:
        result["ablation"] = args.group or ", ".join(ABLATIONS)
        groups = [args.group] if args.group else list(ABLATIONS)
        for group in groups:
            for setting in ABLATIONS[group]:
                f = make_forecaster(
                    forecaster_params(config, setting), args.budget, args.verbose
                )
                model = f"{group}: " + json.dumps(setting)
                result["models"][model] = run_model(model, f, train, test)
    else:
        f = make_forecaster(config, args.budget, args.verbose)
        result["models"]["LogSparse Transformer"] = run_model(
            "LogSparse Transformer", f, train, test
        )
        result["epochs"] = len(f.training_history_)
        if args.figure:
            fan_chart(f, train, test, args.figure)
            result["fan_chart"] = args.figure.as_posix()
        names = [n for n in args.baselines.split(",") if n]
        for model, make in baselines(names).items():
            result["models"][model] = run_model(model, make(), train, test)
    official = official_rows() if split == "test" else None
    if official is not None:
        print(official.to_string())
        result["official"] = official.to_dict(orient="index")
    R.record(args, name, result, markdown, R.results_path(name))
    return result


if __name__ == "__main__":
    main()
