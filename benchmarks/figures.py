"""The figures of the benchmark pages, drawn from ``benchmarks/results/*.json``.

Every figure is made from a results file of record, never from numbers typed
here, and written to ``docs/images/benchmarks/<stem>.png`` for the page
``docs/benchmarks/<stem>.md``. Nothing is measured.

Usage::

    python benchmarks/figures.py                  # every figure
    python benchmarks/figures.py m4_hourly etth1  # only these results files
    python benchmarks/figures.py --out /tmp/figs  # somewhere else

Results files without a page of their own (``etth1_validation``) have no
figure and are skipped.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path

import _results as R  # benchmarks/_results.py
import calibration_figures  # benchmarks/calibration_figures.py
import horizon_figures  # benchmarks/horizon_figures.py
import long_context_figures  # benchmarks/long_context_figures.py
import matplotlib
import scale_figures  # benchmarks/scale_figures.py
import seeds_figures  # benchmarks/seeds_figures.py
import volume_figures  # benchmarks/volume_figures.py

matplotlib.use("Agg")  # files only, no window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

OUT = R.ROOT / "docs" / "images" / "benchmarks"

OURS = "LogSparse Transformer"
C_OURS, C_BASE, C_PUBLISHED = "#3b5fc0", "#9a9a9a", "#e0a040"
METHOD_STYLE = {
    "sparse": ("sparse kernel (this package)", C_OURS, "o"),
    "sparse_eager": ("sparse kernel, never compiled", "#7fb2d9", "v"),
    "dense": ("dense L x L masked scores", "#c04040", "s"),
    "sdpa": ("full causal attention (torch SDPA)", "#909090", "^"),
}
LOWER_IS_BETTER = "lower is better"


def footer(fig, result: dict) -> None:
    """The command and CPU of the run, small, under the figure."""
    cpu = result.get("cpu", "CPU not recorded")
    cores = result.get("cpu_count")
    text = f"{cpu}, {cores} cores" if cores else cpu
    fig.text(
        0.01,
        0.005,
        f"benchmarks/results/{result['_stem']}.json · {text}",
        fontsize=7,
        color="#666666",
        ha="left",
        va="bottom",
    )


def hbars(ax, labels, values, colors, fmt, title, hatches=None):
    """Horizontal bars, first label on top, each bar annotated with its value."""
    y = np.arange(len(labels))[::-1]
    bars = ax.barh(y, values, color=colors, edgecolor="white", height=0.7)
    for bar, hatch in zip(bars, hatches or [None] * len(bars), strict=True):
        if hatch:
            bar.set_hatch(hatch)
            bar.set_edgecolor("#7a5a20")
    ax.set_yticks(y, labels, fontsize=8)
    top = max(v for v in values if np.isfinite(v))
    for yi, v in zip(y, values, strict=True):
        ax.text(v + 0.01 * top, yi, format(v, fmt), va="center", fontsize=7.5)
    ax.set_xlim(0, top * 1.22)
    ax.set_title(title, fontsize=9.5)
    ax.tick_params(axis="x", labelsize=8)
    grid(ax, "x")


def paired_hbars(ax, models: dict, pairs, fmt: str, title: str) -> None:
    """Two thin bars per model, one per ``(offset, key, alpha)`` of ``pairs``."""
    names = list(models)
    y = np.arange(len(names))[::-1]
    colors = [C_OURS if n == OURS else C_BASE for n in names]
    for offset, key, alpha in pairs:
        values = [models[n][key] for n in names]
        ax.barh(y + offset, values, height=0.34, color=colors, alpha=alpha, label=key)
        for yi, v in zip(y, values, strict=True):
            ax.text(v, yi + offset, f" {v:{fmt}}", va="center", fontsize=7)
    ax.set_yticks(y, names, fontsize=8)
    ax.set_title(title, fontsize=9.5)
    ax.tick_params(axis="x", labelsize=8)
    grid(ax, "x")


def grid(ax, axis: str) -> None:
    """Light grid lines along ``axis``, behind the bars."""
    ax.grid(axis=axis, alpha=0.3)
    ax.set_axisbelow(True)


# ------------------------------------------------------------------ pages --


def attention(result: dict, path: Path) -> None:
    """Time and peak memory of each method against L (log-log)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
    lengths = sorted(result["results"], key=int)
    skipped = []
    for method in result["methods"]:
        label, color, marker = METHOD_STYLE.get(method, (method, None, "o"))
        ok = [L for L in lengths if "time_s" in result["results"][L].get(method, {})]
        skipped += [
            (int(L), method, result["results"][L][method]["error"])
            for L in lengths
            if "error" in result["results"][L].get(method, {})
        ]
        for ax, key in zip(axes, ("time_s", "peak_mib"), strict=True):
            ax.plot(
                [int(L) for L in ok],
                [result["results"][L][method][key] for L in ok],
                marker=marker,
                color=color,
                label=label,
                lw=1.8,
            )
    last = lengths[-1]
    speedup = result["ratios"][last]["sdpa_over_sparse_time"]
    sparse_last = result["results"][last]["sparse"]["time_s"]
    axes[0].annotate(
        f"L={last}: {speedup:.1f}x faster than SDPA",
        (int(last), sparse_last),
        xytext=(-8, -18),
        textcoords="offset points",
        ha="right",
        fontsize=8,
        color=C_OURS,
    )
    for ax, ylabel, title in (
        (axes[0], "forward + backward time (s)", "Time of one step"),
        (axes[1], "peak memory added by the step (MiB)", "Peak memory"),
    ):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks([int(L) for L in lengths], lengths, fontsize=8)
        ax.minorticks_off()
        ax.set_xlabel("sequence length L")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper left")
    if skipped:
        note = "not run: " + "; ".join(
            f"{m} at L={L} {e.replace('skipped ', '')}" for L, m, e in skipped
        )
        axes[1].text(
            0.02, 0.97, textwrap.fill(note, 48), transform=axes[1].transAxes,
            fontsize=7.5, va="top", color="#c04040",
        )  # fmt: skip
    s = result["shape"]
    fig.suptitle(
        f"Causal attention, q, k, v of shape ({s['B']}, {s['H']}, L, {s['D']}), "
        f"{result.get('dtype', 'float32')}, CPU, {result.get('threads')} threads",
        fontsize=10,
    )
    finish(fig, result, path)


def m4_hourly(result: dict, path: Path) -> None:
    """Each M4 metric: our model, this run's baselines, the official M4 rows."""
    models = result["models"]
    official = {
        k: v
        for k, v in result.get("official", {}).items()
        if k not in ("sNaive", "Theta", "Naive2")  # run here, or the OWA unit
    }
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.8))
    panels = [
        ("sMAPE", ".2f", True),
        ("MASE", ".3f", True),
        ("OWA", ".3f", True),
        ("MSIS", ".2f", True),
        ("rho-risk", ".4f", False),
        ("interval coverage", ".2f", False),
    ]
    for ax, (metric, fmt, with_official) in zip(axes.flat, panels, strict=True):
        if metric == "rho-risk":
            rho_panel(ax, models)
            continue
        if metric == "interval coverage":
            coverage_panel(ax, models)
            continue
        labels, values, colors, hatches = [], [], [], []
        for name, row in models.items():
            labels.append(name)
            values.append(row[metric])
            colors.append(C_OURS if name == OURS else C_BASE)
            hatches.append(None)
        if with_official:
            for name, row in official.items():
                if np.isfinite(row.get(metric, np.nan)):
                    labels.append(f"{name} (M4, official)")
                    values.append(row[metric])
                    colors.append(C_PUBLISHED)
                    hatches.append("//")
        hbars(ax, labels, values, colors, fmt, f"{metric} ({LOWER_IS_BETTER})", hatches)
    fig.suptitle(
        f"M4 Hourly, {result['split']} split: {result['n_series']} series, horizon 48",
        fontsize=11,
    )
    finish(fig, result, path)


def rho_panel(ax, models: dict) -> None:
    """Pooled rho-risk R0.5 and R0.9 per model, grouped."""
    paired_hbars(
        ax,
        models,
        ((0.18, "R0.5", 1.0), (-0.18, "R0.9", 0.55)),
        ".3f",
        f"pooled rho-risk ({LOWER_IS_BETTER})\ndark: R0.5, light: R0.9",
    )
    top = max(max(m["R0.5"], m["R0.9"]) for m in models.values())
    ax.set_xlim(0, top * 1.3)


def coverage_panel(ax, models: dict) -> None:
    """Coverage of the 80% and 95% intervals against their nominal level."""
    paired_hbars(
        ax,
        models,
        ((0.18, "coverage80", 0.55), (-0.18, "coverage95", 1.0)),
        ".2f",
        "interval coverage (dashed: nominal)\nlight: 80% interval, dark: 95%",
    )
    for nominal in (0.8, 0.95):
        ax.axvline(nominal, color="black", lw=0.8, ls="--")
    ax.set_xlim(0.5, 1.05)


def etth1(result: dict, path: Path) -> None:
    """MSE and MAE per horizon: our model, repeat-last, published rows."""
    rows = [(name, r, "run") for name, r in result["models"].items()]
    rows += [(name, r, "published") for name, r in result.get("published", {}).items()]
    horizons = sorted(next(iter(result["models"].values())), key=int)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.8 / len(rows)
    x = np.arange(len(horizons))
    colors = {OURS: C_OURS, "repeat last": C_BASE}
    published = iter(["#e0a040", "#c07820"])
    for ax, metric in zip(axes, ("MSE", "MAE"), strict=True):
        for i, (name, r, kind) in enumerate(rows):
            color = colors.get(name) or next(published, "#c07820")
            colors.setdefault(name, color)
            values = [r[h][metric] for h in horizons]
            label = f"{name} ({'this run' if kind == 'run' else 'published'})"
            bars = ax.bar(
                x + (i - (len(rows) - 1) / 2) * width,
                values,
                width=width * 0.95,
                color=color,
                label=label,
                hatch="//" if kind == "published" else None,
                edgecolor="white" if kind == "run" else "#7a5a20",
            )
            for bar, v in zip(bars, values, strict=True):
                ax.text(
                    bar.get_x() + bar.get_width() / 2,
                    v,
                    f"{v:.3f}",
                    ha="center",
                    va="bottom",
                    fontsize=6.5,
                    rotation=90,
                )
        ax.set_xticks(x, [f"{h} h" for h in horizons])
        ax.set_xlabel("forecast horizon")
        ax.set_ylabel(f"{metric} (standardised OT)")
        ax.set_title(f"{metric} ({LOWER_IS_BETTER})", fontsize=10)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.15)
        grid(ax, "y")
    axes[0].legend(fontsize=7.5, loc="upper left")
    fig.suptitle(
        f"ETTh1 univariate (OT), {result['split']} rows, "
        f"{result['n_origins']} rolling origins",
        fontsize=10.5,
    )
    finish(fig, result, path)


def training(result: dict, path: Path) -> None:
    """Training windows per second per setting; time to accuracy on M4 Hourly."""
    rows = result["rows"]
    if "curves" in result:
        fig, (ax, ax_c) = plt.subplots(
            1, 2, figsize=(14, 4.3), gridspec_kw={"width_ratios": [1.1, 1]}
        )
        time_to_accuracy(ax_c, result["curves"])
    else:
        fig, ax = plt.subplots(figsize=(8.5, 4.3))
    x = np.arange(len(rows))
    for offset, key, label, color in (
        (-0.2, "logsparse_windows_per_s", "LogSparse attention", C_OURS),
        (0.2, "full_windows_per_s", "full attention (SDPA)", C_BASE),
    ):
        values = [r[key] for r in rows]
        ax.bar(x + offset, values, width=0.38, color=color, label=label)
        for xi, v in zip(x, values, strict=True):
            ax.text(xi + offset, v, f"{v:.1f}", ha="center", va="bottom", fontsize=8)
    for xi, r in zip(x, rows, strict=True):
        ax.text(
            xi, r["logsparse_windows_per_s"] * 2.2, f"{r['ratio']:.1f}x",
            ha="center", fontsize=9, fontweight="bold", color=C_OURS,
        )  # fmt: skip
    ax.set_yscale("log")
    ax.set_ylim(top=max(r["logsparse_windows_per_s"] for r in rows) * 6)
    ax.set_xticks(
        x, [f"window length {r['length']}\ndropout {r['dropout']}" for r in rows]
    )
    ax.tick_params(axis="x", labelsize=8)
    ax.set_ylabel("training windows per second (log)")
    ax.set_title(
        f"Complete training steps, batch {result['batch']}, best of "
        f"{result['repeats']} (bold: LogSparse over full)",
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="upper right")
    grid(ax, "y")
    finish(fig, result, path)


def time_to_accuracy(ax, part: dict) -> None:
    """Validation CRPS per epoch against seconds since training began."""
    colors = {"before": C_BASE, "after": C_OURS}
    for name, run in part["settings"].items():
        seconds = [h["seconds"] for h in run["history"]]
        crps = [h["val_crps"] for h in run["history"]]
        ax.plot(
            seconds,
            crps,
            marker=".",
            color=colors.get(name),
            label=f"{name}: {run['epochs']} epochs, {run['fit_s']:.0f} s",
        )
    best = part["settings"]["before"]["best_val_crps"]
    ax.axhline(best, color=C_BASE, lw=0.8, ls="--")
    ax.set_xlabel("seconds since training began")
    ax.set_ylabel("validation CRPS (scaled)")
    ax.set_title(
        "Time to accuracy, M4 Hourly (dashed: best of before; lower is better)",
        fontsize=10,
    )
    ax.legend(fontsize=8)
    grid(ax, "both")


def sampling(result: dict, path: Path) -> None:
    """(a) cached sampler against re-encoding, (b) predict on M4 Hourly, (c)
    predicting past the trained horizon (when recorded)."""
    rows = 2 if "c" in result else 1
    fig, axes = plt.subplots(
        rows, 2, figsize=(11, 4.2 * rows), gridspec_kw={"width_ratios": [1, 1.2]}
    )
    (ax_a, ax_b), axes_c = axes.reshape(rows, 2)[0], axes.reshape(rows, 2)[1:]
    a = result["a"]
    values = [a["cached_s"], a["reencode_s"]]
    ax_a.bar([0, 1], values, color=[C_OURS, C_BASE], width=0.6)
    for xi, v in enumerate(values):
        ax_a.text(xi, v, f"{v:.3g} s", ha="center", va="bottom", fontsize=8.5)
    ax_a.set_yscale("log")
    ax_a.set_ylim(top=max(values) * 8)
    ax_a.set_xticks([0, 1], ["sample_paths\n(cached)", "reencode_sample_paths"])
    ax_a.set_ylabel("seconds (log)")
    ax_a.set_title(
        f"(a) {a['paths']} paths x {a['horizon']} steps, context {a['context']}: "
        f"{a['ratio']:.0f}x faster",
        fontsize=9.5,
    )
    b = result["b"]
    runs = b["runs"]
    x = np.arange(len(runs))
    predict = [r["predict_s"] for r in runs]
    quantiles = [r["quantiles_s"] for r in runs]
    ax_b.bar(x - 0.2, predict, width=0.38, color=C_OURS, label="predict")
    ax_b.bar(
        x + 0.2, quantiles, width=0.38, color="#8fa6e0",
        label="predict_quantiles after it (reuses the paths)",
    )  # fmt: skip
    for xi, p, q in zip(x, predict, quantiles, strict=True):
        ax_b.text(xi - 0.2, p, f"{p:.1f} s", ha="center", va="bottom", fontsize=8.5)
        ax_b.text(xi + 0.2, q, f"{q:.2f} s", ha="center", va="bottom", fontsize=8.5)
    ax_b.set_xticks(x, [f"{r['threads']} torch thread(s)" for r in runs])
    ax_b.set_ylabel("seconds")
    ax_b.set_ylim(0, max(predict) * 1.3)
    ax_b.set_title(
        f"(b) predict {b['series']} M4 Hourly series x {b['horizon']} steps x "
        f"{b['samples']} paths",
        fontsize=9.5,
    )
    ax_b.legend(fontsize=7.5, loc="upper left")
    for ax in (ax_a, ax_b):
        grid(ax, "y")
    if rows == 2:
        horizon_figures.panels(axes_c[0], result["c"], (C_OURS, C_BASE), grid)
    finish(fig, result, path)


THREAD_LABELS = {"None": "None\n(default)", "unpinned": "unpinned\n(before)"}


def threads_panel(ax, settings: dict, title: str) -> None:
    """Quiet and loaded median times per ``n_threads`` setting, slow-down above."""
    names = list(settings)
    x = np.arange(len(names))
    quiet = [settings[n]["quiet"]["median_s"] for n in names]
    loaded = [settings[n]["loaded"]["median_s"] for n in names]
    ax.bar(x - 0.2, quiet, width=0.38, color=C_OURS, label="quiet")
    ax.bar(x + 0.2, loaded, width=0.38, color="#c04040", label="beside busy processes")
    for xi, n, top in zip(x, names, loaded, strict=True):
        ax.text(
            xi + 0.2, top, f"{settings[n]['slowdown']:.1f}x", ha="center",
            va="bottom", fontsize=8,
        )  # fmt: skip
    labels = [
        f"{THREAD_LABELS.get(n, n)}\n{settings[n]['threads']} thread(s)" for n in names
    ]
    ax.set_xticks(x, labels, fontsize=7.5)
    ax.set_ylabel("seconds (median)", fontsize=8)
    ax.set_ylim(0, max(loaded + quiet) * 1.2)
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="y", labelsize=8)
    grid(ax, "y")


def threads(result: dict, path: Path) -> None:
    """Each n_threads setting quiet and loaded: predict, fit, panel predict."""
    a, b = result["a"], result["b"]
    fig, axes = plt.subplots(
        1, 3, figsize=(13, 4.2), gridspec_kw={"width_ratios": [4, 3, 3]}
    )
    threads_panel(
        axes[0], a["settings"],
        f"(a) predict 1 series, context {a['context']}, "
        f"{a['horizon']} steps x {a['samples']} paths",
    )  # fmt: skip
    threads_panel(axes[1], b["fit"], f"(b) fit, {b['series']} M4 Hourly series")
    threads_panel(axes[2], b["predict"], f"(b) predict {b['series']} M4 Hourly series")
    axes[0].legend(fontsize=7.5, loc="upper left")
    finish(fig, result, path)


ABLATION_METRICS = [
    ("sMAPE", ".2f"),
    ("MASE", ".3f"),
    ("MSIS", ".2f"),
    ("R0.5", ".4f"),
    ("R0.9", ".4f"),
    ("fit_s", ".0f"),
]


def setting_label(name: str) -> str:
    """``'kernel_size: {"kernel_size": 6}'`` -> ``'kernel_size=6'``."""
    group, _, setting = name.partition(": ")
    try:
        values = json.loads(setting)
    except json.JSONDecodeError:
        return name
    return ", ".join(f"{k}={v}" for k, v in values.items()) or group


def ablation(result: dict, path: Path) -> None:
    """Each validation metric per ablation setting; the best one darker."""
    models = result["models"]
    labels = [setting_label(n) for n in models]
    fig, axes = plt.subplots(2, 3, figsize=(11.5, 5.6))
    for ax, (metric, fmt) in zip(axes.flat, ABLATION_METRICS, strict=True):
        values = [m[metric] for m in models.values()]
        best = int(np.argmin(values))
        colors = [C_OURS if i == best else "#a9b8e6" for i in range(len(values))]
        title = "fit seconds" if metric == "fit_s" else metric
        hbars(ax, labels, values, colors, fmt, f"{title} ({LOWER_IS_BETTER})")
    fig.suptitle(
        f"M4 Hourly, {result['split']} split: one setting changed at a time "
        f"(darker: best), {result['config'].get('max_epochs')} epochs or "
        f"{result['budget_s']:.0f} s",
        fontsize=10.5,
    )
    finish(fig, result, path)


def m4_hourly_search(result: dict, path: Path) -> None:
    """Validation sMAPE, MASE and MSIS of every setting of the search."""
    runs = result["runs"]
    labels = [textwrap.fill(r["setting"], 34) for r in runs.values()]
    scaling = [r["config"].get("scaling", "standard") for r in runs.values()]
    colors = [C_BASE if s == "mean" else C_OURS for s in scaling]
    fig, axes = plt.subplots(1, 3, figsize=(13, 6.2), sharey=True)
    reference = result.get("seasonal_naive", {})
    for ax, (metric, fmt) in zip(
        axes, (("sMAPE", ".2f"), ("MASE", ".3f"), ("MSIS", ".2f")), strict=True
    ):
        values = [r[metric] for r in runs.values()]
        hbars(ax, labels, values, colors, fmt, f"{metric} ({LOWER_IS_BETTER})")
        if metric in reference:
            ax.axvline(reference[metric], color="black", lw=0.9, ls="--")
            ax.text(
                reference[metric], len(labels) - 0.45,
                f"seasonal naive\n{reference[metric]:g}", fontsize=7.5,
                va="bottom", ha="center", bbox={"fc": "white", "ec": "none", "pad": 1},
            )  # fmt: skip
            ax.set_ylim(top=len(labels) + 0.5)
            ax.set_xlim(0, max(max(values), reference[metric]) * 1.25)
    axes[0].tick_params(axis="y", labelsize=7.5)
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=C_BASE),
        plt.Rectangle((0, 0), 1, 1, color=C_OURS),
    ]
    axes[2].legend(
        handles, ["mean scaling", "standard scaling"], fontsize=8, loc="lower right"
    )
    fig.suptitle(
        f"M4 Hourly hyperparameter search, {result['split']} split "
        f"({result['n_series']} series)",
        fontsize=10.5,
    )
    finish(fig, result, path)


def finish(fig, result: dict, path: Path, bottom: float = 0.03) -> None:
    """Footer, layout (the panels above ``bottom``), write, close."""
    footer(fig, result)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}", flush=True)


PLOTS = {
    "attention": attention,
    "m4_hourly": m4_hourly,
    "m4_hourly_search": m4_hourly_search,
    "etth1": etth1,
    "training": training,
    "sampling": sampling,
    "threads": threads,
    "scale": lambda r, p: scale_figures.scale(r, p, finish),
    "long_dependency": lambda r, p: long_context_figures.long_dependency(r, p, finish),
    "long_context": lambda r, p: long_context_figures.long_context(r, p, finish),
    "etth_context": lambda r, p: long_context_figures.etth_context(r, p, finish),
    "m4_volume": lambda r, p: volume_figures.m4_volume(r, p, finish),
    "seeds": lambda r, p: seeds_figures.draw(r, p, finish),
}


def plot_of(stem: str):
    """The plotting function of a results file, or None if it has no page."""
    if stem.startswith("m4_hourly_ablations"):
        return ablation
    return PLOTS.get(stem)


def render(stem: str, out: Path = OUT) -> Path | None:
    """Draw the figure of ``benchmarks/results/<stem>.json`` to ``out``."""
    plot = plot_of(stem)
    if plot is None:
        print(f"{stem}: no page figure, skipped", flush=True)
        return None
    result = {**R.read_json(stem), "_stem": stem}
    path = Path(out) / f"{stem}.png"
    plot(result, path)
    if calibration_figures.has_calibration(result):
        title = f"{stem.replace('_', ' ')}: calibration of the forecasts"
        extra = Path(out) / f"{stem}{calibration_figures.suffix()}.png"
        calibration_figures.draw(result, extra, title, finish)
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "stems", nargs="*", help="results files by stem (default: all of them)"
    )
    parser.add_argument("--out", type=Path, default=OUT, help="output folder")
    args = parser.parse_args(argv)
    stems = args.stems or sorted(p.stem for p in R.RESULTS.glob("*.json"))
    for stem in stems:
        if not R.results_path(stem).is_file():
            parser.error(f"no results file benchmarks/results/{stem}.json")
        render(stem, args.out)


if __name__ == "__main__":
    main()
