"""Figure panels of ``sampling`` part (c): predicting past the trained horizon.

Drawn by ``figures.sampling`` from ``benchmarks/results/sampling.json`` (the
measurement is ``benchmarks/_horizon.py``'s). Nothing is measured.
"""

from __future__ import annotations

import numpy as np


def panels(axes, c: dict, colors, grid) -> None:
    """Panels of (c): time and peak RSS of the two predicts.

    ``colors`` of the two-chunk and one-chunk bars; ``grid(ax, axis)`` styles
    an axis as the other figures do.
    """
    versions = [("before", c.get("before")), ("this change", c)]
    versions = [(name, part) for name, part in versions if part is not None]
    x = np.arange(len(versions))
    for ax, key, unit, scale, fmt in (
        (axes[0], "predict_s", "s", 1.0, ".1f"),
        (axes[1], "peak_rss", "GiB", 2.0**30, ".2f"),
    ):
        # the two forecasters, "past" and "within", in the order they were run
        for offset, model, color in zip((-0.2, 0.2), c["models"], colors, strict=True):
            values = [part["models"][model][key] / scale for _, part in versions]
            label = c["models"][model]["label"]
            ax.bar(x + offset, values, width=0.38, color=color, label=label)
            for xi, v in zip(x, values, strict=True):
                ax.text(xi + offset, v, format(v, fmt), ha="center", va="bottom")
        ratios = [part["ratios"][key] for _, part in versions]
        ax.set_xticks(
            x, [f"{name}\npast / within: {r:.2f}x" for (name, _), r in zip(
                versions, ratios, strict=True)]
        )  # fmt: skip
        ax.set_ylabel(unit)
        what = "time" if key == "predict_s" else "peak RSS of the process"
        ax.set_title(
            f"(c) predict_quantiles, {c['series']} series x {c['horizon']} steps: "
            f"{what}",
            fontsize=9.5,
        )
        ax.legend(fontsize=7.5, loc="upper right")
        grid(ax, "y")
