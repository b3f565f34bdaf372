"""The figure of ``docs/benchmarks/scale.md``, from ``benchmarks/results/scale.json``.

Three log-log panels against the number of series: time per epoch, the
peak memory ``fit`` adds, the peak memory ``predict`` adds (each with the
forecaster's estimate, and a line of linear growth from the smallest size
for comparison). Called by ``figures.py``; nothing is measured.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

GIB = 2.0**30
C_MEASURED, C_ESTIMATE, C_STREAMED = "#3b5fc0", "#9a9a9a", "#e0a040"


def _linear(ax, x, y0) -> None:
    """A dotted line of linear growth through the first point."""
    xs = np.array([x[0], x[-1]], dtype=float)
    ax.plot(xs, y0 * xs / xs[0], ":", color="#bbbbbb", lw=1.2, label="linear growth")


def _axes(ax, title: str, ylabel: str) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("series (1,000 points each)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9.5)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7.5)


def scale(result: dict, path: Path, finish) -> None:
    """Time per epoch, fit and predict peaks against the series (log-log)."""
    sizes = sorted(result["sizes"], key=int)
    x = [int(s) for s in sizes]
    runs = [result["sizes"][s] for s in sizes]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))

    epoch = [r["fit"].get("epoch_s", np.nan) for r in runs]
    axes[0].plot(x, epoch, "o-", color=C_MEASURED, label="time per epoch")
    _linear(axes[0], x, epoch[0])
    _axes(axes[0], f"Epoch of {result['windows']} windows + validation", "seconds")

    fit = [r["fit"]["increase"] / GIB for r in runs]
    fit_est = [r["fit"]["estimate"] / GIB for r in runs]
    axes[1].plot(x, fit, "o-", color=C_MEASURED, label="fit: peak increase")
    if all("checked_increase" in r["fit"] for r in runs):
        after = [r["fit"]["checked_increase"] / GIB for r in runs]
        axes[1].plot(x, after, "^-", color=C_STREAMED, label="after its memory check")
    axes[1].plot(x, fit_est, "s--", color=C_ESTIMATE, label="the check's estimate")
    _linear(axes[1], x, fit[0])
    _axes(axes[1], "Memory fit adds", "GiB")

    predict = [r["predict"]["increase"] / GIB for r in runs]
    streamed = [r.get("predict_streamed", r["predict"])["increase"] / GIB for r in runs]
    predict_est = [r["predict"]["estimate"] / GIB for r in runs]
    axes[2].plot(x, predict, "o-", color=C_MEASURED, label="predict: peak increase")
    axes[2].plot(
        x, streamed, "^-", color=C_STREAMED, label="a block of series at a time"
    )
    axes[2].plot(x, predict_est, "s--", color=C_ESTIMATE, label="predict: estimate")
    _linear(axes[2], x, predict[0])
    _axes(axes[2], "Memory predict adds (48 steps x 100 paths)", "GiB")
    finish(fig, result, path)
