"""Figure of the M4 R0.5 breakdown page (``m4_volume`` results).

Registered in ``figures.PLOTS``; written to ``docs/images/benchmarks/m4_volume.png``.
Nothing is measured.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

C_MSTL, C_NAIVE = "#e0a040", "#9a9a9a"
#: our fits, in the order given
C_OURS = ("#3b5fc0", "#7fb2d9", "#2a9d8f", "#8ecfc4", "#8a3b9e", "#c9a0dc", "#1b1b6f")


def _color(model: str, k: int) -> str:
    if model.startswith("ours"):
        return C_OURS[k % len(C_OURS)]
    return C_MSTL if model.startswith("MSTL") else C_NAIVE


def m4_volume(result: dict, path: Path, finish) -> None:
    """Cumulative share of R0.5 by volume rank, and R0.5 per volume group."""
    ranked = result["ranked"]
    groups = [*result["volume_share"], "all"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5.2))
    for k, (model, shares) in enumerate(ranked.items()):
        rank = np.arange(1, len(shares) + 1)
        left.plot(rank, np.cumsum(shares), label=model, color=_color(model, k), lw=1.6)
    left.set_xscale("log")
    left.set_xlabel("series ranked by volume (log scale)")
    left.set_ylabel("part of the panel's R0.5, summed")
    left.set_title("R0.5 accumulated over the series, largest first")
    left.grid(True, alpha=0.3)
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8,
               bbox_to_anchor=(0.5, 0.03))  # fmt: skip
    width = 0.8 / len(ranked)
    x = np.arange(len(groups))
    for k, model in enumerate(ranked):
        values = [result["groups"][g][model]["R0.5"] for g in groups]
        right.bar(x + k * width, values, width, label=model, color=_color(model, k))
    labels = [
        f"{g}\n({result['volume_share'][g]:.0%} of volume)" if g != "all" else "all"
        for g in groups
    ]
    right.set_xticks(x + width * (len(ranked) - 1) / 2, labels, fontsize=8)
    right.set_ylabel("R0.5 of the group (lower is better)")
    right.set_title("R0.5 within each group of series")
    right.grid(True, axis="y", alpha=0.3)
    finish(fig, result, path, bottom=0.2)
