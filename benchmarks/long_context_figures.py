"""Figures of the long-context page: ``long_dependency`` and ``long_context`` results.

Registered in ``figures.PLOTS``; written to ``docs/images/benchmarks/<stem>.png``.
Nothing is measured.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no window
import _results as R  # noqa: E402  (benchmarks/_results.py)
import matplotlib.pyplot as plt  # noqa: E402

C_OURS = "#3b5fc0"
STYLE = {
    "logsparse": ("LogSparse attention", C_OURS, "o", "-"),
    "full": ("full attention", "#909090", "^", "--"),
    "lstm": ("LSTM (DeepAR-style)", "#e0a040", "s", ":"),
}


def _log2_axis(ax, ticks, label: str) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(ticks, [str(t) for t in ticks], fontsize=8)
    ax.minorticks_off()
    ax.set_xlabel(label)
    ax.grid(True, which="major", alpha=0.3)


def long_dependency(result: dict, path: Path, finish) -> None:
    """R0.5, R0.9 (test split), fit time and fit peak memory against t0."""
    runs = result["runs"]
    t0s = sorted(int(t) for t in runs)
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.9))
    panels = [
        (axes[0], lambda r: r["test"]["R0.5"], "R0.5 (test)", "log"),
        (axes[1], lambda r: r["test"]["R0.9"], "R0.9 (test)", "log"),
        (axes[2], lambda r: r["fit_s"], "fit time (s)", "log"),
        (axes[3], lambda r: r["fit_peak_mib"], "fit peak memory (MiB)", "log"),
    ]
    for method, (label, color, marker, line) in STYLE.items():
        done = [t for t in t0s if "test" in runs[str(t)].get(method, {})]
        for ax, value, _, _ in panels:
            ax.plot(
                done,
                [value(runs[str(t)][method]) for t in done],
                marker=marker,
                color=color,
                linestyle=line,
                label=label,
                lw=1.8,
            )
    reference = result.get("reference", {})
    ref = [t for t in t0s if str(t) in reference]
    axes[0].plot(
        ref,
        [reference[str(t)]["no_memory"] for t in ref],
        color="#c04040",
        lw=1,
        linestyle="-.",
        label="A4 unknown (its mean), exact shape",
    )
    for ax, _, title, scale in panels:
        ax.set_yscale(scale)
        _log2_axis(ax, t0s, "t0 (steps back to the information)")
        ax.set_title(title, fontsize=10)
    axes[0].legend(fontsize=7.5, loc="lower right")
    skipped = []
    for t in t0s:
        for m, r in runs[str(t)].items():
            if "test" not in r:
                skipped.append(f"{m} at t0={t} ({R.why_not_run(r)})")
    if skipped:  # beside the footer, bottom right
        fig.text(
            0.99, 0.005, "not run: " + "; ".join(skipped), ha="right", va="bottom",
            fontsize=7, color="#c04040",
        )  # fmt: skip
    fig.suptitle(
        "Synthetic long dependency (Li et al. 2019, 5.1): the last 24 points depend "
        "on the first 24, t0 steps back; lower is better",
        fontsize=10,
    )
    finish(fig, result, path)


def long_context(result: dict, path: Path, finish) -> None:
    """Peak memory of a short fit against the context, measured and estimated."""
    curve = result.get("curve", {})
    fig, ax = plt.subplots(figsize=(7.5, 4.3))
    contexts: set[int] = set()
    for attention, rows in curve.items():
        label, color, marker, _ = STYLE.get(attention, (attention, None, "o", "-"))
        ok = sorted(int(c) for c, r in rows.items() if "fit_peak_gib" in r)
        contexts.update(int(c) for c in rows)
        ax.plot(
            ok,
            [rows[str(c)]["fit_peak_gib"] for c in ok],
            marker=marker,
            color=color,
            lw=1.8,
            label=f"{label}: measured",
        )
        est = sorted(int(c) for c, r in rows.items() if "fit_estimate_gib" in r)
        ax.plot(
            est,
            [rows[str(c)]["fit_estimate_gib"] for c in est],
            color=color,
            lw=1,
            linestyle=":",
            label=f"{label}: the package's estimate",
        )
        refused = [int(c) for c, r in rows.items() if "refused" in r]
        for c in refused:
            ax.annotate(
                "refused", (c, ax.get_ylim()[1]), fontsize=7, color=color,
                ha="center", va="top",
            )  # fmt: skip
    ax.set_yscale("log")
    _log2_axis(ax, sorted(contexts), "context length")
    ax.set_ylabel("peak memory added by the fit (GiB)")
    ax.set_title(
        "Fit of 2 batches of 16 windows: peak memory against the context", fontsize=10
    )
    ax.legend(fontsize=7.5, loc="upper left")
    finish(fig, result, path)


def etth_context(result: dict, path: Path, finish) -> None:
    """Validation and test MSE against the context length, one panel per horizon."""
    datasets = result.get("datasets", {})
    horizons = sorted(
        {int(h) for d in datasets.values() for h in d["repeat_last"]["test"]}
    )
    n_rows, n_cols = len(datasets), len(horizons)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(2.3 * n_cols, 2.6 * n_rows), squeeze=False
    )
    for row, (name, data) in zip(axes, datasets.items(), strict=True):
        contexts = sorted(int(c) for c in data["contexts"])
        for ax, h in zip(row, map(str, horizons), strict=True):
            for split, style in (("validation", ":"), ("test", "-")):
                ax.plot(
                    contexts,
                    [data["contexts"][str(c)][split][h]["MSE"] for c in contexts],
                    marker="o", color=C_OURS, linestyle=style, lw=1.5,
                    label=f"LogSparse, {split}",
                )  # fmt: skip
                ax.axhline(
                    data["repeat_last"][split][h]["MSE"], color="#909090",
                    linestyle=style, lw=1, label=f"repeat-last, {split}",
                )  # fmt: skip
            best = data.get("best", {}).get(h)
            if best:
                c = best["context"]
                ax.plot([c], [best["test"]["MSE"]], marker="*", ms=12, color="#d04040",
                        linestyle="none", label="chosen on validation")  # fmt: skip
            last_row = name == list(datasets)[-1]
            _log2_axis(ax, contexts, "context (h)" if last_row else "")
            ax.set_title(f"{name}, {h} h ahead", fontsize=9)
        row[0].set_ylabel("MSE (scaled)")
    # one legend under the panels, where it hides no curve
    handles, labels = axes[0][-1].get_legend_handles_labels()
    fig.legend(
        handles, labels, fontsize=7.5, loc="lower center", ncol=len(labels),
        bbox_to_anchor=(0.5, 0.05), frameon=False,
    )  # fmt: skip
    fig.suptitle("ETTh: MSE against the context length (lower is better)", fontsize=10)
    finish(fig, result, path, bottom=0.12 / n_rows)
