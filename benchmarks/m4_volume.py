"""Where M4 Hourly's pooled R0.5 comes from: ours against MSTL, series by series.

R0.5, the pooled rho-risk of the median, divides the absolute errors of all
414 series by their summed absolute values, so a series counts by its volume:
the largest few decide it. This script breaks it down on the **validation
split** (the last 48 points of each training series; the test split is never
read): the forecaster of record (``m4_hourly.CONFIG``, one or more fits, e.g.
two seeds) against statsforecast's MSTL (run in ``.venv-peers`` as
``benchmarks/peers.py`` does) and seasonal naive.

For each model it reports R0.5 over groups of series ranked by volume (the
group's own pooled error, and its share of the panel's), the largest series
one by one (relative error and bias of the median), and what the panel's
R0.5 would be with the largest series' medians taken from the other model
(a swap: how much of the gap the largest series hold).

Usage::

    python benchmarks/m4_volume.py --save-model DIR            # fit, keep it
    python benchmarks/m4_volume.py --model DIR0 DIR1 --markdown \
        docs/benchmarks/m4_volume.md                          # saved fits
    python benchmarks/m4_volume.py --from-results --markdown \
        docs/benchmarks/m4_volume.md                          # page only
"""

from __future__ import annotations

import argparse
import json
import tempfile
import warnings
from pathlib import Path

import _report as R  # benchmarks/_report.py
import m4_hourly as H  # benchmarks/m4_hourly.py
import metrics as M  # benchmarks/metrics.py
import numpy as np
import peers as P  # benchmarks/peers.py

NAME = "m4_volume"
#: groups of series by volume rank: (first rank, last rank + 1)
GROUPS = {"largest 2": (0, 2), "next 8": (2, 10), "next 30": (10, 40)}
#: series shown one by one, the largest by volume
SHOWN = 10
#: how many of the largest series a swap exchanges
SWAPS = (2, 10, 40)
MSTL = "MSTL (statsforecast)"


def breakdown(y: np.ndarray, medians: dict[str, np.ndarray], ids: list) -> dict:
    """R0.5 by volume group and series, and the swaps, of each model's medians.

    ``y`` and each median are ``(series, horizon)`` with rows in the same order,
    that of the series ``ids``.
    """
    volume = np.abs(y).sum(1)
    order = np.argsort(-volume)
    total = volume.sum()
    n = len(volume)
    groups = {**GROUPS, "the rest": (max(hi for _, hi in GROUPS.values()), n)}
    out = {"volume_share": {}, "groups": {}, "series": {}, "swaps": {}}
    loss = {m: np.abs(y - q).sum(1) for m, q in medians.items()}  # 2 * 0.5 * |e|
    # each series' share of the panel's R0.5, the largest series first
    out["ranked"] = {m: (loss[m][order] / total).tolist() for m in medians}
    for g, (lo, hi) in groups.items():
        rows = order[lo:hi]
        if len(rows) == 0:  # a panel smaller than the groups
            continue
        out["volume_share"][g] = float(volume[rows].sum() / total)
        out["groups"][g] = {
            m: {
                "R0.5": float(loss[m][rows].sum() / volume[rows].sum()),
                "share": float(loss[m][rows].sum() / total),
            }
            for m in medians
        }
    for m in medians:
        out["groups"].setdefault("all", {})[m] = {
            "R0.5": float(loss[m].sum() / total),
            "share": float(loss[m].sum() / total),
        }
    for i in order[:SHOWN]:
        level = float(np.abs(y[i]).mean())
        out["series"][str(ids[i])] = {
            "volume_share": float(volume[i] / total),
            "level": level,
            **{
                m: {
                    "R0.5": float(loss[m][i] / volume[i]),
                    "bias": float((medians[m][i] - y[i]).mean() / level),
                }
                for m in medians
            },
        }
    # the first model (ours of record) and MSTL against every other one
    models = list(medians)
    pairs = [(a, b) for a in models for b in models if a != b]
    pairs = [p for p in pairs if models[0] == p[0] or MSTL in p]
    for a, b in pairs:
        for k in SWAPS:
            swapped = loss[a].copy()
            swapped[order[:k]] = loss[b][order[:k]]
            out["swaps"][f"{a} with {b}'s largest {k}"] = float(swapped.sum() / total)
    return out


def our_medians(models: list[Path], save: Path | None, config: dict, train):
    """Medians ``(series, horizon)`` of each saved fit, or of one fitted here."""
    from sktime_logsparse import LogSparseTransformerForecaster

    fh = np.arange(1, H.HORIZON + 1)
    fitted = []
    if models:
        for path in models:
            forecaster = LogSparseTransformerForecaster.load_model(path)
            fitted.append((f"ours ({path.name})", forecaster))
    else:
        forecaster = H.make_forecaster(config, None, False)
        forecaster.fit(train, fh=fh)
        if save is not None:
            forecaster.save_model(save)
        fitted.append(("ours", forecaster))
    out = {}
    for name, forecaster in fitted:
        q = forecaster.predict_quantiles(fh=fh, alpha=[0.5])
        out[name] = H.as_matrix(q, q.columns[0])
    return out


def averaged(medians: dict[str, np.ndarray], names: list[str]) -> dict:
    """The median of an ensemble of fits that averages their quantiles.

    Averaging the fits' quantile functions level by level (Vincentization)
    gives a median that is the mean of their medians.
    """
    keys = [f"ours ({name})" for name in names]
    missing = [k for k in keys if k not in medians]
    if len(keys) < 2 or missing:
        raise ValueError(f"--average needs two or more fits of --model; {missing}")
    label = f"ours ({' + '.join(names)}, averaged)"
    return {label: np.mean([medians[k] for k in keys], axis=0)}


def mstl_median(train, test, args) -> np.ndarray:
    """MSTL's median forecasts, run in the peers' virtual environment."""
    peer_args = argparse.Namespace(
        peers_python=args.peers_python,
        peers="MSTL",
        max_steps=1,
        seed=0,
        input_size=2 * H.HORIZON,
        neural_scaler="robust",
    )
    with tempfile.TemporaryDirectory() as tmp:
        rows, _, failures = P.run_peers(train, test, Path(tmp), peer_args)
        if MSTL not in rows:
            raise RuntimeError(f"MSTL failed: {json.dumps(failures)[:2000]}")
        forecasts, _ = P.read_forecasts(Path(tmp))
        return P.matrices(forecasts[MSTL], test)["q50"]


def seasonal_naive(train, y: np.ndarray) -> np.ndarray:
    """The last season of each history, repeated over the horizon."""
    hist = H.histories(train)
    reps = -(-y.shape[1] // H.SEASON)
    return np.stack([np.tile(h[-H.SEASON :], reps)[: y.shape[1]] for h in hist])


# ------------------------------------------------------------------- page --


def markdown(result: dict, stem: str) -> str:
    """The page: groups by volume, the largest series, the swaps."""
    models = list(result["groups"]["all"])
    lines = R.page_head(
        result,
        stem,
        title="M4 Hourly: where the pooled R0.5 comes from",
        protocol=(
            "The validation split of M4 Hourly (each training series less its "
            "last 48 points, forecast over those 48; the test split is not "
            "read): the median forecasts of fits of the forecaster of record "
            f"({result['ours']}), statsforecast's MSTL and seasonal naive, "
            "R0.5 broken down by series ranked by volume (the sum of absolute "
            "values over the 48 points). R0.5 is each group's own pooled "
            "error; the share is its part of the panel's R0.5 (the shares of "
            "the groups add up to the panel's)."
        ),
        figure="Share of the pooled R0.5 by volume rank, per model",
    )
    head = ["series (by volume)", "volume share"]
    head += [f"{m} R0.5 / share" for m in models]
    rows = []
    for g, share in [*result["volume_share"].items(), ("all", 1.0)]:
        cells = [g, f"{share:.1%}"]
        for m in models:
            v = result["groups"][g][m]
            cells.append(f"{v['R0.5']:.4f} / {v['share']:.4f}")
        rows.append(cells)
    lines += ["", "## By volume", "", R.markdown_table(head, rows)]
    lines += [
        "",
        "The same medians' scale-free point scores, for the trade-off:",
        "",
        R.column_table("model", R.m4_columns("sMAPE", "MASE"), result["point"].items()),
    ]
    head = ["series", "volume share", "mean level"]
    head += [f"{m} R0.5 (bias)" for m in models]
    rows = []
    for sid, v in result["series"].items():
        cells = [sid, f"{v['volume_share']:.1%}", f"{v['level']:,.0f}"]
        cells += [f"{v[m]['R0.5']:.4f} ({v[m]['bias']:+.2%})" for m in models]
        rows.append(cells)
    lines += [
        "",
        "## The largest series",
        "",
        "Bias: the mean error of the median over the 48 points, relative to "
        "the series' mean level.",
        "",
        R.markdown_table(head, rows),
        "",
        "## Swaps",
        "",
        "The panel's R0.5 of one model with the medians of another's on the "
        "largest series (the first fit and MSTL against each other model):",
        "",
        R.markdown_table(
            ["swap", "R0.5"],
            [[k, f"{v:.4f}"] for k, v in result["swaps"].items()],
        ),
    ]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------- main --


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, nargs="*", default=[], help="fits")
    parser.add_argument("--save-model", type=Path, default=None)
    parser.add_argument("--config", default="{}", help="JSON over the record's")
    parser.add_argument(
        "--average",
        default=None,
        metavar="A,B,...",
        help="also the quantile average of these fits (folder names of --model)",
    )
    parser.add_argument("--peers-python", type=Path, default=P.PEERS_PYTHON)
    R.add_page_args(parser, json_of=NAME)
    args = parser.parse_args(argv)
    if args.from_results:
        return R.page_from_results(parser, args, NAME, markdown)
    warnings.filterwarnings("ignore", category=FutureWarning)
    info = R.start_run("m4_volume.py")
    train, test = H.load("validation", None)  # the test split is never read
    y = H.as_matrix(test)
    ids = sorted(test.index.get_level_values(0).unique())
    config = json.loads(args.config)
    medians = our_medians(args.model, args.save_model, config, train)
    if args.average:
        medians.update(averaged(medians, args.average.split(",")))
    ours = ", ".join(medians)
    medians[MSTL] = mstl_median(train, test, args)
    medians["seasonal naive"] = seasonal_naive(train, y)
    result = {**info, "split": "validation", "n_series": len(ids)}
    result.update(
        ours=ours, config={**H.CONFIG, **config}, **breakdown(y, medians, ids)
    )
    # the medians' scale-free scores beside: M4's point metrics of the median
    hist = H.histories(train)
    result["point"] = {
        m: M.point_scores(y, q, hist, H.SEASON) for m, q in medians.items()
    }
    for m, v in result["groups"]["all"].items():
        print(f"{m}: R0.5 {v['R0.5']:.4f}, {result['point'][m]}", flush=True)
    R.record(args, NAME, result, markdown, R.results_file(args, NAME))
    return result


if __name__ == "__main__":
    main()
