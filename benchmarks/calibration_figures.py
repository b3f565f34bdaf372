"""Calibration figures: coverage and rho-risk per horizon step, reliability.

Drawn from the ``per_step`` and ``reliability`` entries that ``m4_hourly.py``
and ``etth1.py`` record per model, to ``docs/images/benchmarks/<stem>_calibration.png``
beside the page's main figure (see ``figures.render``). Nothing is measured.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

OURS = "LogSparse Transformer"
C_OURS, C_BASE = "#3b5fc0", "#9a9a9a"
BASE_STYLES = ("--", ":", "-.")


def suffix() -> str:
    """The file name suffix of the calibration figure of a page."""
    return "_calibration"


def calibrated_models(result: dict) -> dict:
    """The models' calibration entries: ``result["calibration"]`` (ETTh1) or the
    models themselves (M4), keeping those with per-step data."""
    models = result.get("calibration") or result.get("models", {})
    return {k: m for k, m in models.items() if isinstance(m, dict) and "per_step" in m}


def has_calibration(result: dict) -> bool:
    """Whether any model of ``result`` recorded per-step calibration."""
    return bool(calibrated_models(result))


def _styles(models: dict):
    """``(name, row, color, linestyle, width)`` of each model."""
    base = iter(BASE_STYLES * 4)
    for name, row in models.items():
        if name == OURS:
            yield name, row, C_OURS, "-", 2.0
        else:
            yield name, row, C_BASE, next(base), 1.3


def draw(result: dict, path: Path, title: str, finish) -> None:
    """Three panels: coverage per step, rho-risk per step, reliability diagram.

    ``finish(fig, result, path)`` writes the figure (``figures.finish``).
    """
    models = calibrated_models(result)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.3))
    cov_ax, rho_ax, rel_ax = axes
    # (axes, per-step key, alpha, legend suffix): light 80% / R0.9, dark 95% / R0.5
    lines = [
        (cov_ax, "coverage80", 0.55, "80%"),
        (cov_ax, "coverage95", 1.0, "95%"),
        (rho_ax, "R0.5", 1.0, "R0.5"),
        (rho_ax, "R0.9", 0.55, "R0.9"),
    ]
    for name, row, color, ls, lw in _styles(models):
        steps = np.arange(1, len(row["per_step"]["coverage80"]) + 1)
        for ax, key, alpha, suffix in lines:
            ax.plot(
                steps, row["per_step"][key], color=color, ls=ls, lw=lw,
                alpha=alpha, label=f"{name}, {suffix}",
            )  # fmt: skip
        rel = row.get("reliability")
        if rel:
            rel_ax.plot(
                rel["levels"], rel["observed"], color=color, ls=ls, lw=lw,
                marker="o", ms=3, label=name,
            )  # fmt: skip
    for nominal in (0.8, 0.95):
        cov_ax.axhline(nominal, color="black", lw=0.8, ls="--")
    cov_ax.set(
        xlabel="horizon step",
        ylabel="share of actual values inside",
        title="interval coverage per step\n(dashed: nominal 80% and 95%)",
    )
    rho_ax.set(
        xlabel="horizon step",
        ylabel="pooled rho-risk",
        title="quantile loss per step (lower is better)\ndark: R0.5, light: R0.9",
    )
    rel_ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls="--")
    rel_ax.set(
        xlabel="quantile level",
        ylabel="share of actual values at or below",
        title="reliability (on the diagonal: calibrated)",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    for ax in axes:
        ax.grid(alpha=0.3)
    cov_ax.legend(fontsize=7, loc="lower left")
    rel_ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(title, fontsize=11)
    finish(fig, result, path)
