"""The page and figure of ``benchmarks/peers.py``, from its results dict.

Everything the page says is computed from the results: the tables, which
model is ahead of ours on which metric, the failures and the settings.
"""

from __future__ import annotations

import json
from pathlib import Path

import _report as R  # benchmarks/_report.py
import m4_hourly as H  # benchmarks/m4_hourly.py

NAME = "peers"
OURS = "LogSparse Transformer"
#: the page compares lower values, or for coverage the distance to nominal
NOMINAL = {"coverage80": 0.8, "coverage95": 0.95}
COMPARED = ["sMAPE", "MASE", "OWA", "MSIS", "R0.5", "R0.9", *NOMINAL]
COMPARED += ["fit_s", "predict_s"]


def gap(key: str, value: float) -> float:
    """How far a value is from the best: itself, or its distance to nominal."""
    return abs(value - NOMINAL[key]) if key in NOMINAL else value


def comparison(models: dict, ours: str = OURS) -> list[str]:
    """Per metric, the models ahead of ours or ours leading, as markdown lines."""
    if ours not in models:
        return ["Our model has no row in this run: nothing to compare."]
    lines, leads, behind = [], [], []
    for key in COMPARED:
        mine = models[ours].get(key)
        others = {n: r[key] for n, r in models.items() if r.get(key) is not None}
        others.pop(ours, None)
        if mine is None or not others:
            continue
        title, fmt = R.M4_COLUMNS[key]
        how = f"closest to {NOMINAL[key]:g}" if key in NOMINAL else "lower is better"
        head = f"- **{title}** ({how}): ours {format(mine, fmt)}"
        ranked = sorted((gap(key, v), n, v) for n, v in others.items())
        ahead = [f"{n} {format(v, fmt)}" for g, n, v in ranked if g < gap(key, mine)]
        if ahead:
            behind.append(title)
            lines.append(f"{head}; ahead of ours: {', '.join(ahead)}.")
        else:
            leads.append(title)
            _, name, value = ranked[0]
            lines.append(f"{head}, ours leads; next: {name} {format(value, fmt)}.")
    summary = f"Ours leads on {', '.join(leads) or 'no metric'}"
    summary += f"; a peer is ahead of ours on {', '.join(behind)}" if behind else ""
    return [summary + ". Per metric, computed from the tables below:", "", *lines]


def failure_table(failures: dict) -> str:
    """Model, error, first line of the message and the versions of each failure."""
    rows = []
    for name, e in failures.items():
        message = ((e.get("message") or "").splitlines() or [""])[0][:240]
        found = e.get("versions") or {}
        versions = ", ".join(
            f"{k} {found[k]}" for k in ("sktime", "pytorch-forecasting") if found.get(k)
        )
        rows.append([name, f"`{e.get('type')}`", message.replace("|", "\\|"), versions])
    return R.markdown_table(["model", "error", "message", "versions"], rows)


def markdown(result: dict, stem: str) -> str:
    """The generated part of the page of a results dict."""
    models, ours = result["models"], result.get("ours", {})
    protocol = (
        f"{result['n_series']} hourly series of the M4 competition, horizon "
        f"{H.HORIZON}, test split. The peers run with their documented "
        "defaults, untuned, in the same run on the same machine, and every "
        "model is scored by the metric code of the [M4 Hourly page](m4_hourly.md) "
        "(`benchmarks/metrics.py`). The statsforecast, neuralforecast and "
        "pytorch-forecasting peers run in a virtual environment of their own "
        "and hand their forecasts back as files."
    )
    lines = R.page_head(
        result,
        stem,
        title="Peers on M4 Hourly",
        protocol=protocol,
        figure="OWA and MSIS of each model against its fit time",
    )
    if ours.get("source", "rerun") != "rerun":
        when = f"run on {ours.get('date', '?')}, {ours.get('cpu', 'CPU not recorded')}"
        lines += [
            "",
            '!!! note "Our row is not from this run"',
            f"    It is taken from `{ours['source']}` ({when}); every other row "
            "comes from this run.",
        ]
    lines += ["", "## Where the peers lead and where ours leads", ""]
    lines += [*comparison(models), "", "## Accuracy", ""]
    lines += [H.metric_table(models, H.ACCURACY), "", "## Calibration and cost", ""]
    lines += [H.metric_table(models, H.CALIBRATION)]
    if result.get("failures"):
        lines += ["", "## Peers that failed", "", failure_table(result["failures"])]
    versions = result.get("peers_versions") or {}
    budget = result.get("neural_budget") or {}
    lines += [
        "",
        "## Configuration",
        "",
        "The peers' packages: "
        + ", ".join(f"{k} {v}" for k, v in versions.items() if v)
        + ". The neural peers' training budget, the same for each: "
        + ", ".join(f"`{k}={v}`" for k, v in budget.items())
        + (
            " (`scaler_type` is the default of sktime's neuralforecast adapters;"
            " the classes' own is `identity`)"
            if budget.get("scaler_type", "identity") != "identity"
            else ""
        )
        + ". Each peer's settings and the output scored as its point forecast:",
        "",
        *[
            f"- {name}: `{d.get('params')}`; point forecast: `{d.get('point')}`"
            for name, d in (result.get("peers") or {}).items()
            if "error" not in d
        ],
        "",
        "The LogSparse Transformer's parameters:",
        "",
        "```json",
        json.dumps(ours.get("config"), sort_keys=True),
        "```",
    ]
    return "\n".join(lines) + "\n"


def label(ax, points: list) -> None:
    """Name each point, moving a label up until it covers no other label or point."""
    ax.figure.canvas.draw()  # the axes' final limits, for display coordinates
    scale = 72 / ax.figure.dpi  # display pixels to points
    xy = [ax.transData.transform((x, y)) for _, x, y in points]
    placed = [(px - 4, py - 4, px + 4, py + 4) for px, py in xy]  # the markers
    order = sorted(zip(points, xy, strict=True), key=lambda p: p[1][1])
    for (name, x, y), (px, py) in order:
        box = [px + 5, py + 3, px + 5 + 6.2 * len(name), py + 13]
        while any(b[0] < box[2] and box[0] < b[2] and b[1] < box[3] and box[1] < b[3]
                  for b in placed):  # fmt: skip
            box[1], box[3] = box[1] + 10, box[3] + 10
        placed.append(tuple(box))
        lift = box[1] - py - 3
        ax.annotate(name, (x, y), (5 * scale, (lift + 3) * scale), fontsize=7.5,
                    textcoords="offset points", arrowprops={"arrowstyle": "-",
                    "color": "#bbbbbb", "lw": 0.6} if lift else None)  # fmt: skip


def figure(result: dict, path: Path) -> None:
    """OWA and MSIS of each model against its fit seconds (log x), labelled."""
    import figures as F  # benchmarks/figures.py: colours, footer
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    for ax, key in zip(axes, ("OWA", "MSIS"), strict=True):
        points = [
            (name, row["fit_s"], row[key])
            for name, row in result["models"].items()
            if row.get(key) is not None and (row.get("fit_s") or 0) > 0
        ]
        for name, x, y in points:
            ax.scatter(x, y, s=40, color=F.C_OURS if name == OURS else F.C_BASE)
        ax.set_xscale("log")
        label(ax, points)
        ax.set_xlabel("fit seconds, all series (log scale)")
        ax.set_ylabel(key)
        ax.set_title(f"{key} against fit time ({F.LOWER_IS_BETTER})", fontsize=9.5)
        ax.grid(True, which="major", alpha=0.3)
    failed = ", ".join(result.get("failures") or {})
    fig.suptitle(
        f"Peers on M4 Hourly: {result['n_series']} series, horizon {H.HORIZON}"
        + (f"; failed, not shown: {failed}" if failed else ""),
        fontsize=10,
    )
    F.finish(fig, {**result, "_stem": NAME}, path)
