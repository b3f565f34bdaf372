"""Calibrated intervals: the spread of the sample paths, widened per horizon step.

A network trained by maximum likelihood on overlapping windows forecasts with
too little spread: the windows it scores itself on are the ones it was fitted
to, and the error of its own sampled inputs compounds over the horizon. So
after training the forecaster measures how wide its forecasts must be on data
it never trained on, the validation range (the last ``prediction_length``
points of every series), and widens them by that much.

The correction is one factor ``s_h`` per horizon step ``h``: every path
``x`` is moved to ``m + s_h (x - m)``, with ``m`` the median of the paths at
that step. It keeps the median and the order of the paths (so the joint paths
stay paths), and every output (quantiles, intervals, variance, the
distribution) comes from the same corrected paths. ``s_h`` is the factor at
which the central intervals of :data:`LEVELS` cover, on the validation
points, closest to their nominal level (least squares over the levels), as
with split-conformal calibration; steps are pooled with their neighbours
until a group holds :data:`MIN_POINTS` observed points, so that a single
series gets one factor for all steps and a large panel one per step.

The levels matched are the outer ones, 95% and 98%. The network's paths have
tails too light for their centre (on M4 Hourly inner intervals need less
widening than outer ones), so one factor cannot make every interval exact;
sized for the tails, the inner intervals cover a little more than they
claim. Chosen on the M4 Hourly validation split among matching 50-95%, 95%,
90-98% and 95-98% (``benchmarks/calibration.py``).
"""

from __future__ import annotations

import numpy as np

#: central interval levels whose coverage the factors match
LEVELS = (0.95, 0.98)
#: fewest observed validation points behind one factor (steps are pooled)
MIN_POINTS = 200
#: fewest observed validation points for any correction at all
MIN_TOTAL = 24
#: the factors considered: 0.25 to 8, about 1.5% apart
GRID = np.geomspace(0.25, 8.0, 241)


def step_groups(counts: np.ndarray, min_points: int = MIN_POINTS) -> list[slice]:
    """Consecutive steps pooled until each group holds ``min_points`` points.

    ``counts[h]`` is the number of observed points at step ``h``; a short last
    group is merged into the one before it.
    """
    groups, start, held = [], 0, 0
    for h, n in enumerate(counts):
        held += int(n)
        if held >= min_points:
            groups.append(slice(start, h + 1))
            start, held = h + 1, 0
    if start < len(counts):
        if groups:
            groups[-1] = slice(groups[-1].start, len(counts))
        else:
            groups.append(slice(0, len(counts)))
    return groups


def needed_factors(paths: np.ndarray, target: np.ndarray, levels=LEVELS) -> np.ndarray:
    """The least factor at which each level's interval covers each target.

    Parameters
    ----------
    paths : np.ndarray
        shape: ``(B, n, P)``, sample paths.
    target : np.ndarray
        shape: ``(B, P)``, finite.

    Returns
    -------
    np.ndarray
        shape: ``(len(levels), B, P)``; 0 where the target is the median,
        ``inf`` where no factor covers it (all paths on one side).
    """
    median = np.median(paths, axis=1)
    dev = paths - median[:, None]
    alpha = np.asarray(levels, dtype=np.float64)
    lo = np.quantile(dev, (1 - alpha) / 2, axis=1)  # (levels, B, P), <= 0
    hi = np.quantile(dev, (1 + alpha) / 2, axis=1)  # >= 0
    err = target - median
    with np.errstate(divide="ignore", invalid="ignore"):
        above = np.where(hi > 0, err / hi, np.inf)
        below = np.where(lo < 0, err / lo, np.inf)
    need = np.where(err > 0, above, np.where(err < 0, below, 0.0))
    return need


def best_factor(need: np.ndarray, levels=LEVELS) -> float:
    """The factor of :data:`GRID` whose coverage is closest to ``levels``.

    ``need``: ``(len(levels), N)`` needed factors of N points. Among equally
    good factors (coverage is a step function) the middle one is taken.
    """
    alpha = np.asarray(levels, dtype=np.float64)[:, None]
    ordered = np.sort(need, axis=1)
    covered = np.stack([np.searchsorted(row, GRID, side="right") for row in ordered])
    loss = ((covered / need.shape[1] - alpha) ** 2).sum(0)
    best = np.flatnonzero(loss <= loss.min() + 1e-12)
    return float(GRID[best[len(best) // 2]])


def fit_factors(
    paths: np.ndarray,
    target: np.ndarray,
    observed: np.ndarray,
    min_points: int = MIN_POINTS,
    levels=LEVELS,
) -> np.ndarray | None:
    """Per-step factors ``(P,)`` from validation paths, or None if too few points.

    Parameters
    ----------
    paths : np.ndarray
        shape: ``(B, n, P)``, forecasts of the validation windows.
    target : np.ndarray
        shape: ``(B, P)``, the values they forecast.
    observed : np.ndarray
        shape: ``(B, P)``, bool: where ``target`` is observed.
    """
    need, ok = point_needs(paths, target, observed, levels)
    return pooled_factors(need, ok, min_points, levels)


def point_needs(
    paths: np.ndarray, target: np.ndarray, observed: np.ndarray, levels=LEVELS
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`needed_factors` ``(len(levels), B, P)`` and where they count ``(B, P)``.

    A point counts where its target is observed and its paths are finite.
    Windows of different processes can be gathered here and pooled after.
    """
    ok = observed & np.isfinite(paths).all(axis=1)
    return needed_factors(paths, np.where(ok, target, 0.0), levels), ok


def pooled_factors(
    need: np.ndarray, ok: np.ndarray, min_points: int = MIN_POINTS, levels=LEVELS
) -> np.ndarray | None:
    """Per-step factors from :func:`point_needs`, or None if too few points."""
    if int(ok.sum()) < MIN_TOTAL:
        return None
    factors = np.ones(ok.shape[1])
    for group in step_groups(ok.sum(0), min_points):
        mask = ok[:, group]
        factors[group] = best_factor(need[:, :, group][:, mask], levels)
    return factors


def widen(
    paths: np.ndarray, factors: np.ndarray | None, counts: bool = False
) -> np.ndarray:
    """Paths ``(..., n, H)`` moved to ``m + s_h (x - m)``, ``m`` their median.

    Steps past the calibrated ones take the factor of the last step. With
    ``counts`` (a count likelihood) the paths are rounded and kept >= 0.
    """
    if factors is None:
        return paths
    H = paths.shape[-1]
    s = factors[np.minimum(np.arange(H), len(factors) - 1)]
    median = np.median(paths, axis=-2, keepdims=True)
    out = median + (paths - median) * s
    return np.maximum(np.round(out), 0.0) if counts else out


def calibrated(draw, factors: np.ndarray | None, counts: bool):
    """``draw`` (returning paths ``(S, n, H)``) with its paths widened."""
    if factors is None:
        return draw
    return lambda **kwargs: widen(draw(**kwargs), factors, counts)
