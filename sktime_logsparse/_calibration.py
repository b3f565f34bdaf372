"""Calibrated intervals: the sample paths widened per horizon step and per tail.

A network trained by maximum likelihood on overlapping windows forecasts with
too little spread: the windows it scores itself on are the ones it was fitted
to, and the error of its own sampled inputs compounds over the horizon. Its
two tails are not wrong by the same amount either (on M4 Hourly the lower
tail falls far short and the upper one nearly holds). So after training the
forecaster measures, on data it never trained on (the validation range: the
last ``prediction_length`` points of every series), how far each tail of its
forecasts must reach, and moves the paths by that much.

The correction is one factor per horizon step ``h`` and quantile level ``a``
of :data:`KNOTS`: ``s_{a,h}`` is the factor at which the level-``a`` quantile
``m + s (q_a - m)`` of the paths (``m`` their median) has a share ``a`` of
the validation points below it, as with split-conformal calibration of each
quantile. A path at a step is moved to ``m + s (x - m)`` with ``s``
interpolated at the level of its rank among the paths over the knots of its
side of the median (the outermost factors beyond the outer knots), and the
moved paths are kept in the order they had.
So the median and the order of the paths stay (the joint paths stay paths),
and every output (quantiles, intervals, variance, the distribution) comes
from the same moved paths. Steps are pooled with their neighbours until a
group holds :data:`GROUP_POINTS` observed points (about 100 beyond each 2.5%
tail), so that a large panel gets a set of factors per few steps. A
validation range of fewer than :data:`MIN_POINTS` points in all (a single
series, a small panel) is too little to size a 2.5% tail on: there one
factor for every knot and step is matched to the central 95% and 98%
intervals (the earlier default), at split conformal's finite-sample levels.
A forecaster fitted for a horizon longer than its ``prediction_length`` (a
single series fitted with ``fh`` up to a week, trained on a day) forecasts
its validation windows that far from their origins, as far as the held-out
range reaches (a single series holds out several windows: the earliest
reach furthest), and gets factors out to that step: with few points, one
factor per ``prediction_length`` steps (each at least the one before), so
that the spread past the trained horizon, where the network's own grows too
slowly, is sized on the steps it is used for.

With ``trainer_kwargs={"calibration": "per_group"}``, a panel large enough
to hold :data:`GROUP_POINTS` points several times over is split into up to
:data:`MAX_GROUPS` groups of forecasts by their
:func:`relative_spread` (the first step's 80% range over the median's
magnitude: how wide a forecast is for its level, known before its target),
at the quartiles of the validation windows', and each group gets its own
factors (:class:`GroupedFactors`), for where the network is too narrow by
more for some kinds of series than for others. This is group-conditional
(Mondrian) split conformal calibration.

Chosen on the M4 Hourly validation split over three pairs of consecutive
held-out weeks (``benchmarks/calibration.py``): against one factor per step
matched to the central 95% and 98% intervals (the earlier default) and one
factor per central level, it brings the 80% and 95% intervals nearest their
levels on average, with the lowest interval score and quantile loss.
The groups by spread, against one set of factors for the panel, lowered the
interval score on each of the three pairs (by about 7% on average, with the
same coverage), and on those of a second fit; but a fit on the validation
split scored on its next 48 points, as the M4 benchmark does, did worse
with them (and so did the test split), so they are not the default.
Factors saved by earlier versions (one per step, shape ``(P,)``) move every
path by the same factor, as they did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np

#: quantile levels whose factors are sized (below the median: the lower tail)
KNOTS = (0.025, 0.1, 0.25, 0.75, 0.9, 0.975)
#: fewest observed validation points to size the tails apart
MIN_POINTS = 400
#: steps are pooled until a group holds this many points: about 100 beyond
#: each 2.5% tail, so that the outer factors do not follow a handful of points
GROUP_POINTS = 4000
#: at most this many groups of forecasts (by :func:`relative_spread`) are
#: sized apart, each on at least GROUP_POINTS points
MAX_GROUPS = 4
#: fewest observed validation points for any correction at all
MIN_TOTAL = 24
#: with fewer points than MIN_POINTS in all: one factor, matched to these
#: central intervals (the tails cannot be sized apart on so few points)
FEW_LEVELS = (0.95, 0.98)
#: the factors one matched factor is chosen from: 0.25 to 8, about 1.5% apart
GRID = np.geomspace(0.25, 8.0, 241)
#: the range a factor is kept in
LOW, HIGH = float(GRID[0]), float(GRID[-1])


def step_groups(counts: np.ndarray, min_points: int = GROUP_POINTS) -> list[slice]:
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


def point_ratios(
    paths: np.ndarray, target: np.ndarray, observed: np.ndarray, knots=KNOTS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What each point needs of each knot and of one central factor; where it counts.

    ``paths`` ``(B, n, P)``, ``target`` and ``observed`` ``(B, P)``. Returns
    the ``(len(knots), B, P)`` ratios ``(y - m) / (q_a - m)`` (NaN where the
    quantile is the median), the ``(len(FEW_LEVELS), B, P)``
    :func:`needed_factors` and ``(B, P)`` flags: observed, finite paths.
    Windows of different processes can be gathered here and pooled after.
    """
    ok = observed & np.isfinite(paths).all(axis=1)
    safe = np.where(ok[:, None, :], paths, 0.0)
    median = np.median(safe, axis=1)
    dev = np.quantile(safe, knots, axis=1) - median
    err = np.where(ok, target, 0.0) - median
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(dev != 0, err / dev, np.nan)
    return ratios, needed_factors(safe, np.where(ok, target, 0.0)), ok


def needed_factors(paths: np.ndarray, target: np.ndarray, levels=FEW_LEVELS):
    """The least factor at which each central interval covers each target.

    ``(len(levels), B, P)`` for paths ``(B, n, P)``: 0 where the target is the
    median, ``inf`` where no factor covers it (all paths on one side).
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
    return np.where(err > 0, above, np.where(err < 0, below, 0.0))


def best_factor(need: np.ndarray, levels=FEW_LEVELS) -> float:
    """The factor of :data:`GRID` whose coverage is closest to ``levels``.

    ``need``: ``(len(levels), N)`` needed factors of N points. Among equally
    good factors (coverage is a step function) the middle one is taken; where
    they run to the top of the grid (every point covered, levels of 1), the
    least of them.
    """
    alpha = np.asarray(levels, dtype=np.float64)[:, None]
    ordered = np.sort(need, axis=1)
    covered = np.stack([np.searchsorted(row, GRID, side="right") for row in ordered])
    loss = ((covered / need.shape[1] - alpha) ** 2).sum(0)
    best = np.flatnonzero(loss <= loss.min() + 1e-12)
    if best[-1] == len(GRID) - 1:  # the last run of them reaches the top
        breaks = np.flatnonzero(np.diff(best) > 1)
        return float(GRID[best[breaks[-1] + 1] if len(breaks) else best[0]])
    return float(GRID[best[len(best) // 2]])


def conformal_levels(levels, n: int) -> tuple[float, ...]:
    """Split conformal's finite-sample levels ``ceil((n + 1) l) / n`` (at most 1).

    A factor matched to level ``l`` on ``n`` points covers ``l`` of the next
    point on average only with the level raised so: by half a percent on 200
    points, by more on the fewer points of the spans far out (on fewer than
    ``1 / (1 - l)`` points, every one of them).
    """
    return tuple(min(1.0, math.ceil((n + 1) * lv - 1e-9) / n) for lv in levels)


def pooled_factors(
    ratios: np.ndarray,
    need: np.ndarray,
    ok: np.ndarray,
    min_points: int = MIN_POINTS,
    knots=KNOTS,
    period: int | None = None,
    group_points: int = GROUP_POINTS,
) -> np.ndarray | None:
    """Factors ``(len(knots), H)`` from :func:`point_ratios`, or None if too few.

    Below the median, ``y <= m + s (q_a - m)`` holds where the ratio is at
    least ``s`` (the deviation is negative), so ``s`` is the ratios' ``1 - a``
    quantile; above it, where the ratio is at most ``s``: their ``a`` quantile.
    ``period``: the prediction length, when the windows are forecast further
    (``H`` steps): only their first ``period`` steps are distinct points (the
    later ones are points of later windows again), and they are counted.
    With fewer than ``min_points`` of them, every knot gets one factor per
    ``period`` steps, matched to the central :data:`FEW_LEVELS` intervals of
    those steps at the :func:`conformal_levels` of their points, and at
    least the factor of the span before: the spread the network lacks past
    its trained horizon does not shrink further out, and fewer windows reach
    the later spans (a dip is their noise; a span with fewer than
    :data:`MIN_TOTAL` points keeps the factor before). With more,
    the steps are pooled into groups of ``group_points`` points
    (:func:`step_groups`), a set of factors each.
    """
    total = int(ok[:, :period].sum())
    if total < MIN_TOTAL:
        return None
    if total < min_points:
        return np.tile(span_factors(need, ok, period or ok.shape[1]), (len(knots), 1))
    factors = np.ones((len(knots), ok.shape[1]))
    for group in step_groups(ok.sum(0), group_points):
        for i, a in enumerate(knots):
            r = ratios[i][:, group][ok[:, group]]
            r = r[np.isfinite(r)]
            if r.size:
                factors[i, group] = np.quantile(r, 1 - a if a < 0.5 else a)
    return np.clip(factors, LOW, HIGH)


def span_factors(need: np.ndarray, ok: np.ndarray, period: int) -> np.ndarray:
    """One factor ``(H,)`` per ``period`` steps, for few points (see above).

    ``need`` ``(len(FEW_LEVELS), B, H)`` from :func:`needed_factors`, ``ok``
    ``(B, H)``. The first span is always sized.
    """
    factors, factor = np.ones(ok.shape[1]), 0.0
    for a in range(0, ok.shape[1], period):
        span = slice(a, a + period)
        n = int(ok[:, span].sum())
        if a == 0 or n >= MIN_TOTAL:
            levels = conformal_levels(FEW_LEVELS, n)
            factor = max(factor, best_factor(need[:, :, span][:, ok[:, span]], levels))
        factors[span] = factor
    return factors


def fit_factors(
    paths: np.ndarray,
    target: np.ndarray,
    observed: np.ndarray,
    min_points: int = MIN_POINTS,
    period: int | None = None,
    group_points: int = GROUP_POINTS,
    max_groups: int = 1,
) -> np.ndarray | GroupedFactors | None:
    """Factors ``(len(KNOTS), H)`` from validation paths, or None if too few points.

    :class:`GroupedFactors` where ``max_groups`` > 1 and there are points
    enough to size groups of forecasts apart (:func:`grouped_factors`).

    Parameters
    ----------
    paths : np.ndarray
        shape: ``(B, n, H)``, forecasts of the validation windows.
    target : np.ndarray
        shape: ``(B, H)``, the values they forecast.
    observed : np.ndarray
        shape: ``(B, H)``, bool: where ``target`` is observed.
    """
    ratios = point_ratios(paths, target, observed)
    spread = relative_spread(paths)
    return grouped_factors(
        *ratios, spread, min_points, period, group_points, max_groups
    )


def relative_spread(paths: np.ndarray) -> np.ndarray:
    """The first step's 80% range over the median's magnitude, per forecast.

    ``(...,)`` for paths ``(..., n, H)``: how wide a forecast is for its
    level, known before its target. ``inf`` where that is not finite (a
    median of 0), so that such forecasts fall in the widest group.
    """
    q10, q50, q90 = np.quantile(paths[..., 0], (0.1, 0.5, 0.9), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = (q90 - q10) / np.abs(q50)
    return np.where(np.isfinite(spread), spread, np.inf)


@dataclass(frozen=True)
class GroupedFactors:
    """Factors per group of forecasts, the groups split by their spread.

    ``factors`` ``(G, len(KNOTS), H)``: the factors of each group; ``edges``
    ``(G - 1,)``, ascending: a forecast whose :func:`relative_spread` is
    below ``edges[0]`` is in group 0, from there below ``edges[1]`` in group
    1, and so on.
    """

    factors: np.ndarray
    edges: np.ndarray

    def groups(self, paths: np.ndarray) -> np.ndarray:
        """The group of each forecast of ``paths`` ``(..., n, H)``."""
        return np.digitize(relative_spread(paths), self.edges)


def grouped_factors(
    ratios: np.ndarray,
    need: np.ndarray,
    ok: np.ndarray,
    spread: np.ndarray,
    min_points: int = MIN_POINTS,
    period: int | None = None,
    group_points: int = GROUP_POINTS,
    max_groups: int = 1,
) -> np.ndarray | GroupedFactors | None:
    """:func:`pooled_factors` of each group of windows by ``spread`` ``(B,)``.

    As many groups as the observed points fill with ``group_points`` each,
    at most ``max_groups``, split at the quantiles of the windows' spreads;
    with fewer than two (or a group that would hold too few points, as
    where many spreads are equal) the factors of all windows together.
    """
    pool = partial(
        pooled_factors, min_points=min_points, period=period, group_points=group_points
    )
    counts = ok[:, :period].sum(1)
    n = min(max_groups, int(counts.sum()) // group_points)
    finite = spread[np.isfinite(spread)]
    if n >= 2 and finite.size:
        edges = np.unique(np.quantile(finite, np.arange(1, n) / n))
        groups = np.digitize(spread, edges)
        held = np.bincount(groups, weights=counts, minlength=len(edges) + 1)
        if (held >= group_points).all():
            factors = [
                pool(ratios[:, rows], need[:, rows], ok[rows])
                for rows in (groups == g for g in range(len(edges) + 1))
            ]
            return GroupedFactors(np.stack(factors), edges)
    return pool(ratios, need, ok)


def widen(
    paths: np.ndarray,
    factors: np.ndarray | GroupedFactors | None,
    counts: bool = False,
) -> np.ndarray:
    """Paths ``(..., n, H)`` moved about their median by the ``factors``.

    ``factors`` ``(len(KNOTS), P)``, or ``(P,)`` for one factor at every
    level, or :class:`GroupedFactors` (each forecast by its group's).
    Steps past the calibrated ones take the factors of the last step.
    With ``counts`` (a count likelihood) the paths are rounded and kept >= 0.
    """
    if factors is None:
        return paths
    if isinstance(factors, GroupedFactors):
        flat = paths.reshape(-1, *paths.shape[-2:])
        groups = factors.groups(flat)
        out = np.empty_like(flat)
        for g in np.unique(groups):
            out[groups == g] = widen(flat[groups == g], factors.factors[g], counts)
        return out.reshape(paths.shape)
    H, n = paths.shape[-1], paths.shape[-2]
    f = np.atleast_2d(factors)
    f = f[:, np.minimum(np.arange(H), f.shape[1] - 1)]  # (levels, H)
    median = np.median(paths, axis=-2, keepdims=True)
    if f.shape[0] == 1:
        out = median + (paths - median) * f[0]
    else:
        order = np.argsort(paths, axis=-2, kind="stable")
        ranked = np.take_along_axis(paths, order, axis=-2)
        scale = rank_scales(f, n)  # (n, H)
        moved = median + (ranked - median) * scale
        # the factors can fall faster than the paths spread out: keep each
        # half in the order of its ranks, away from the median
        half = n // 2
        upper = np.maximum.accumulate(moved[..., half:, :], axis=-2)
        lower = np.flip(
            np.minimum.accumulate(np.flip(moved[..., :half, :], -2), axis=-2), -2
        )
        out = np.empty_like(moved)
        np.put_along_axis(out, order, np.concatenate([lower, upper], -2), axis=-2)
    return np.maximum(np.round(out), 0.0) if counts else out


def rank_scales(factors: np.ndarray, n: int) -> np.ndarray:
    """The factor ``(n, H)`` of each of ``n`` ranked paths at each step.

    A rank's quantile level is ``(r + 0.5) / n``; below the median it takes
    the lower knots' factors interpolated at that level, above it the upper
    knots' (each side's innermost factor up to the median). With ``n`` even
    the two middle paths take the mean of their factors, so that the median,
    their mean, stays where it was.
    """
    level = (np.arange(n) + 0.5) / n
    knots = np.asarray(KNOTS)
    low, up = knots < 0.5, knots > 0.5
    below = np.stack([np.interp(level, knots[low], col[low]) for col in factors.T])
    above = np.stack([np.interp(level, knots[up], col[up]) for col in factors.T])
    scale = np.where(level < 0.5, below, above).T
    if n % 2 == 0 and n > 0:
        scale[n // 2 - 1 : n // 2 + 1] = scale[n // 2 - 1 : n // 2 + 1].mean(0)
    return scale


def calibrated(draw, factors: np.ndarray | GroupedFactors | None, counts: bool):
    """``draw`` (returning paths ``(S, n, H)``) with its paths widened."""
    if factors is None:
        return draw
    return lambda **kwargs: widen(draw(**kwargs), factors, counts)
