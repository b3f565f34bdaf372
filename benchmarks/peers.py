"""Peers on M4 Hourly: other libraries' forecasters beside the LogSparse Transformer.

One run on one machine, the protocol of ``benchmarks/m4_hourly.py`` (414
series, horizon 48, season 24, test split), every model scored here with
``benchmarks/metrics.py``:

- statsforecast's AutoETS, AutoTheta and MSTL, neuralforecast's NHITS and
  DeepAR, and pytorch-forecasting's DeepAR through sktime's adapter run in
  ``.venv-peers`` (``benchmarks/peers/requirements.txt``; their dependencies
  conflict with ours): the training panel goes to a folder, where
  ``benchmarks/peers/run_peers.py`` writes back each peer's forecasts
  (point, 80% and 95% intervals, 0.5 and 0.9 quantiles) and seconds, or its
  error;
- sktime's seasonal naive and the LogSparse Transformer (the configuration of
  record, ``m4_hourly.CONFIG``) run in this process through
  ``m4_hourly.run_model``; ``--ours-from benchmarks/results/m4_hourly.json``
  takes our row from the results of record instead of training again.

Usage::

    make bench-peers     # creates .venv-peers, then the run of record and page
    python benchmarks/peers.py --series 8 --max-steps 5 \
        --config '{"max_epochs": 1}' --json /tmp/peers.json \
        --markdown /tmp/peers.md --figure /tmp/peers.png    # a smoke run
    python benchmarks/peers.py --from-results --markdown docs/benchmarks/peers.md
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import tempfile
import warnings
from pathlib import Path

import _report as R  # benchmarks/_report.py
import m4_hourly as H  # benchmarks/m4_hourly.py
import metrics as M  # benchmarks/metrics.py
import numpy as np
import pandas as pd
from _config import add_forecaster_args, forecaster_params
from _peers_page import NAME, OURS, figure, markdown

PEERS_PYTHON = R.ROOT / ".venv-peers" / "bin" / "python"
RUN_PEERS = R.ROOT / "benchmarks" / "peers" / "run_peers.py"
PEERS = "AutoETS,AutoTheta,MSTL,NHITS,DeepAR,pf-deepar"
COLUMNS = ["point", "lo80", "hi80", "lo95", "hi95", "q50", "q90"]
NAIVE = "seasonal naive"
#: the forecast columns of each metric other than the point forecast's
NEEDS = {"MSIS": "lo95 hi95", "R0.5": "q50", "R0.9": "q90"}
NEEDS.update(coverage80="lo80 hi80", coverage95="lo95 hi95")


# ---------------------------------------------------------- file exchange --


def write_panel(train: pd.DataFrame, folder: Path) -> Path:
    """The training panel as ``folder/train.csv`` (``unique_id, ds, y``)."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = train.iloc[:, 0].rename("y").rename_axis(["unique_id", "ds"])
    frame.reset_index().to_csv(folder / "train.csv", index=False)
    return folder / "train.csv"


def read_forecasts(folder: Path) -> tuple[dict[str, pd.DataFrame], dict]:
    """``run_peers.py``'s output: the forecasts of each model, its peers.json."""
    info = json.loads((folder / "peers.json").read_text())
    table = pd.read_csv(folder / "forecasts.csv", dtype={"unique_id": str})
    table["ds"] = pd.to_datetime(table["ds"])
    return {m: g.drop(columns="model") for m, g in table.groupby("model")}, info


def matrices(forecasts: pd.DataFrame, test: pd.DataFrame) -> dict[str, np.ndarray]:
    """``(series, horizon)`` arrays of each column, rows as in ``as_matrix(test)``.

    The forecasts must cover exactly the test points (series and timestamps).
    """
    rows = forecasts.set_index(["unique_id", "ds"]).sort_index()
    expected = test.index.set_names(["unique_id", "ds"]).sort_values()
    if not rows.index.equals(expected):
        missing = len(expected.difference(rows.index))
        raise ValueError(
            f"the forecasts do not match the test set: {missing} of "
            f"{len(expected)} test points missing, {len(rows)} rows forecast"
        )
    n = expected.get_level_values(0).nunique()
    return {c: rows[c].to_numpy(np.float64).reshape(n, -1) for c in COLUMNS}


# ---------------------------------------------------------------- scoring --


def score(y: np.ndarray, hist: list, m: dict, fit_s: float, predict_s: float):
    """The metrics of ``m4_hourly.run_model`` from forecast matrices ``m``.

    A metric whose forecast columns hold a missing value (NaN) is ``None``.
    """
    bad = {c for c in COLUMNS if not np.isfinite(m[c]).all()}
    m = {c: np.nan_to_num(v) for c, v in m.items()}
    row = {
        **M.point_scores(y, m["point"], hist, H.SEASON),
        "MSIS": M.msis(y, m["lo95"], m["hi95"], hist, H.SEASON, alpha=0.05),
        "R0.5": M.rho_risk(y, m["q50"], 0.5),
        "R0.9": M.rho_risk(y, m["q90"], 0.9),
        "coverage80": M.coverage(y, m["lo80"], m["hi80"]),
        "coverage95": M.coverage(y, m["lo95"], m["hi95"]),
    }
    for key in row:
        if bad & set(NEEDS.get(key, "point").split()):
            row[key] = None
    return {**row, "fit_s": fit_s, "predict_s": predict_s}


def peer_command(folder: Path, args) -> list[str]:
    """The command line of ``run_peers.py`` in the peers' venv."""
    command = [str(args.peers_python), str(RUN_PEERS), "--in", str(folder)]
    command += ["--out", str(folder), "--horizon", str(H.HORIZON)]
    command += ["--season", str(H.SEASON), "--models", args.peers]
    command += ["--max-steps", str(args.max_steps), "--seed", str(args.seed)]
    command += ["--input-size", str(args.input_size)]
    return command + ["--neural-scaler", args.neural_scaler or "identity"]


def run_peers(train: pd.DataFrame, test: pd.DataFrame, folder: Path, args):
    """Run the peers in their venv; ``(metrics per model, details, failures)``."""
    write_panel(train, folder)
    tail = collections.deque(maxlen=30)
    with subprocess.Popen(
        peer_command(folder, args),
        cwd=folder,  # where lightning writes its logs and checkpoints
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        for line in process.stdout:
            tail.append(line.rstrip())
            if line.startswith("[peers]"):
                print(line.rstrip(), flush=True)
    if process.returncode != 0 or not (folder / "peers.json").is_file():
        message = f"exit code {process.returncode}:\n" + "\n".join(tail)
        return {}, {}, {"run_peers.py": {"type": "failed", "message": message}}
    forecasts, info = read_forecasts(folder)
    y, hist = H.as_matrix(test), H.histories(train)
    rows, failures = {}, {}
    for name, detail in info["models"].items():
        try:
            if "error" in detail:
                failures[name] = detail["error"]
                continue
            m = matrices(forecasts[name], test)
        except (KeyError, ValueError) as error:
            failures[name] = {"type": type(error).__name__, "message": str(error)}
            continue
        rows[name] = score(y, hist, m, detail["fit_s"], detail["predict_s"])
        print(f"{name}: " + ", ".join(f"{k} {v:.4g}" for k, v in rows[name].items()
                                      if v is not None), flush=True)  # fmt: skip
    return rows, info, failures


def ours_from(path: Path, n_series: int) -> tuple[dict, dict]:
    """Our row out of a results file of record, and where it comes from."""
    source = R.read_json(path)
    if source.get("split") != "test" or source.get("n_series") != n_series:
        raise ValueError(
            f"{path} holds the {source.get('split')} split of "
            f"{source.get('n_series')} series, not the test split of {n_series}"
        )
    about = {"source": Path(path).as_posix(), **R.run_stamp(source)}
    about.update(config=source.get("config"), epochs=source.get("epochs"))
    return source["models"][OURS], about


# ------------------------------------------------------------------- main --


def write_outputs(args, result: dict, path: Path | None) -> None:
    """The results file ``path``, the ``--markdown`` page and the figure."""
    if path:
        R.write_json(path, result)
    if args.markdown:
        R.write_page(args.markdown, markdown(result, NAME))
    default = R.ROOT / "docs" / "images" / "benchmarks" / f"{NAME}.png"
    if args.figure or args.markdown:
        figure(result, args.figure or default)


def parse(argv: list[str] | None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--series", default=None, help="first N series, or H1,H170,...")
    p.add_argument("--peers", default=PEERS, help="which peers ('' for none)")
    p.add_argument("--max-steps", type=int, default=1000, help="neural peers' steps")
    p.add_argument("--input-size", type=int, default=2 * H.HORIZON, help="neural")
    # sktime's neuralforecast adapters default to "robust"; the classes' own
    # default, "identity", feeds the networks raw values from 10 to 10^5
    p.add_argument("--neural-scaler", default="robust", help="their scaler_type")
    p.add_argument("--seed", type=int, default=0, help="neural peers' seed")
    p.add_argument("--peers-python", type=Path, default=PEERS_PYTHON)
    p.add_argument("--ours-from", type=Path, default=None, help="a results file")
    p.add_argument("--work", type=Path, default=None, help="exchange folder, kept")
    p.add_argument("--figure", type=Path, default=None, help="the figure's PNG")
    add_forecaster_args(p, budget=None)
    R.add_page_args(p, json_of=NAME)
    return p, p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    parser, args = parse(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    if args.from_results:
        if not args.markdown:
            parser.error("--from-results needs --markdown")
        result = R.read_json(args.json or NAME)
        write_outputs(args, result, None)
        return result
    if args.peers and not args.peers_python.is_file():
        parser.error(f"no {args.peers_python}: `make bench-peers` creates it")
    import torch

    info = R.start_run("peers.py", threads=torch.get_num_threads())
    series = args.series
    if series is not None:
        series = int(series) if series.isdigit() else series.split(",")
    train, test = H.load("test", series)
    config = json.loads(args.config)
    forecaster_params(config)  # fail on a bad key before running anything
    n_series = int(train.index.get_level_values(0).nunique())
    result = {"split": "test", "n_series": n_series, **info}
    result["neural_budget"] = {
        "max_steps": args.max_steps,
        "input_size": args.input_size,
        "scaler_type": args.neural_scaler or "identity",
        "random_seed": args.seed,
    }
    if args.ours_from:
        try:
            ours_row, result["ours"] = ours_from(args.ours_from, n_series)
        except (OSError, ValueError, KeyError) as error:
            parser.error(f"--ours-from: {error}")
    rows, details, failures = {}, {}, {}
    if args.peers:
        with tempfile.TemporaryDirectory(prefix="peers-") as tmp:
            folder = args.work or Path(tmp)
            rows, details, failures = run_peers(train, test, folder, args)
    naive = H.baselines(["naive"])[NAIVE]()
    rows[NAIVE] = H.run_model(NAIVE, naive, train, test)
    if not args.ours_from:
        f = H.make_forecaster(config, args.budget, args.verbose)
        ours_row = H.run_model(OURS, f, train, test)
        result["ours"] = {
            "source": "rerun",
            "config": forecaster_params(H.CONFIG, config),
            "budget_s": args.budget,
            "epochs": len(f.training_history_),
        }
    result["models"] = {OURS: ours_row, **rows}
    result["peers_versions"] = details.get("versions")
    result["peers_torch_threads"] = details.get("torch_threads")
    result["peers"], result["failures"] = details.get("models", {}), failures
    write_outputs(args, result, R.results_file(args, NAME))
    return result


if __name__ == "__main__":
    main()
