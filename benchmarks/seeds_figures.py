"""The figure of the seeds page, from ``benchmarks/results/seeds.json``.

Registered in ``figures.PLOTS``; written to ``docs/images/benchmarks/seeds.png``.
Nothing is measured.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no window
import matplotlib.pyplot as plt  # noqa: E402


def draw(result: dict, path: Path, finish) -> None:
    """A panel per metric: each seed's score (the record's ringed), the mean."""
    panels = [
        (stem, label)
        for stem, part in result["benchmarks"].items()
        for label in part["mean"]
    ]
    cols = 7
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(2.1 * cols, 2.6 * rows), squeeze=False
    )
    for ax, (stem, label) in zip(axes.flat, panels, strict=False):
        part = result["benchmarks"][stem]
        seeds = list(part["scores"])
        values = [part["scores"][s][label] for s in seeds]
        ax.scatter(range(len(values)), values, color="#3b5fc0", s=22, zorder=3)
        record = seeds.index(str(part["record_seed"]))
        ax.scatter([record], [values[record]], s=90, facecolors="none",
                   edgecolors="#c0392b", lw=1.4, zorder=4, label="record")  # fmt: skip
        ax.axhline(part["mean"][label], color="#555555", lw=1, ls="--", label="mean")
        ax.set_xticks(range(len(seeds)), seeds, fontsize=7)
        ax.set_title(f"{part['label']}: {label}", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="best")
    fig.supxlabel("random_state", fontsize=9)
    finish(fig, result, path, bottom=0.05)
