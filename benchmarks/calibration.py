"""How the forecasts are widened, chosen on the M4 validation split over several weeks.

The forecaster of record (``m4_hourly.CONFIG``) is fitted on the M4 Hourly
training series less their last ``WEEKS * 48`` points (the test split is never
read), or loaded with ``--model`` from a folder saved by an earlier run. With
its widening switched off and its weights fixed, it forecasts every held-out
48-point range after that: its own validation range (the one the fit holds
out) and the ``WEEKS - 1`` ranges after it, moved to each origin with
``update(update_params=False)``. Each variant is sized on one range and scored
on the next, for every consecutive pair, as the forecaster sizes its factors
on its validation range and forecasts the range after it; a single pair would
let one week that happens to be harder or easier than the next decide. The
rows "point mean" and "point median" give sMAPE, MASE and OWA (over the
official Naive2 figures, as ``m4_hourly.py`` does on the validation split) of
the mean and of the median of the default's widened paths
(``point_forecast``).

The variants: no widening; one factor per step matched to the central
intervals of each set of levels in :data:`CENTRAL` (the default before: 95%
and 98%); one factor per central level of :data:`PER_LEVEL`, interpolated by
each path's rank (:func:`widen_per_level`); and the package's default, a
factor per quantile level and tail (``sktime_logsparse._calibration``), with
steps pooled until a group holds ``GROUP_POINTS`` points; the same with up
to ``MAX_GROUPS`` groups of forecasts by their relative spread sized apart
(``calibration="per_group"``; and with 1, 2, 3 and 5 groups at most); as
before, steps pooled to 400 points; and the default's factors drawn half or
all the way to the mean of each level's two tails ("symmetric": one factor
per central level, the tails' asymmetry dropped).

Usage::

    python benchmarks/calibration.py --save-model DIR   # fit, keep the fit
    python benchmarks/calibration.py --model DIR        # a saved fit
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import _report as R  # benchmarks/_report.py
import m4_hourly as H  # benchmarks/m4_hourly.py
import metrics as M  # benchmarks/metrics.py
import numpy as np
import pandas as pd

#: held-out ranges after the fitted part: ``WEEKS`` pairs of consecutive ones
WEEKS = 3
#: one factor per step, matched to the central intervals of these levels
CENTRAL = {
    "50-95%": (0.5, 0.8, 0.9, 0.95),
    "95%": (0.95,),
    "90-98%": (0.9, 0.95, 0.98),
    "95-98%": (0.95, 0.98),
}
#: one factor per level and step group, each level's interval matched alone
PER_LEVEL = (0.5, 0.8, 0.95, 0.98)
#: steps pooled until a group holds this many points (the central variants)
CENTRAL_POINTS = 200
#: the quantile levels whose share of points below is kept per range, unwidened
RELIABILITY = (0.025, 0.1, 0.5, 0.9, 0.975)
#: the quantile levels of the mean quantile loss
LOSS_LEVELS = tuple(np.round(np.arange(1, 20) / 20, 2))


# --------------------------------------------- the earlier, central variants


def central_factors(paths, target, observed, levels) -> np.ndarray:
    """One factor per step group ``(P,)`` matched to the central ``levels``."""
    from sktime_logsparse._calibration import best_factor, needed_factors, step_groups

    ok = observed & np.isfinite(paths).all(axis=1)
    need = needed_factors(paths, np.where(ok, target, 0.0), levels)
    factors = np.ones(ok.shape[1])
    for group in step_groups(ok.sum(0), CENTRAL_POINTS):
        factors[group] = best_factor(need[:, :, group][:, ok[:, group]], levels)
    return factors


def level_factors(paths, target, observed, levels=PER_LEVEL) -> np.ndarray:
    """Factors ``(len(levels), P)``: per step group, one matching each level."""
    return np.stack([central_factors(paths, target, observed, (lv,)) for lv in levels])


def widen_per_level(paths: np.ndarray, factors: np.ndarray, levels=PER_LEVEL):
    """Paths ``(S, n, H)`` widened about their median by a factor per level.

    A path of rank ``r`` at a step lies at the central level
    ``|2 (r + 0.5) / n - 1|``; its deviation from the median is scaled by the
    factors interpolated at that level (the outermost beyond the knots), and
    the deviations are kept monotone in rank, so that paths keep their order.
    """
    n = paths.shape[1]
    order = np.argsort(paths, axis=1, kind="stable")
    ranked = np.take_along_axis(paths, order, axis=1)
    median = np.median(paths, axis=1, keepdims=True)
    central = np.abs(2 * (np.arange(n) + 0.5) / n - 1)
    scale = np.stack([np.interp(central, levels, f) for f in factors.T], -1)
    moved = median + (ranked - median) * scale
    half = n // 2
    upper = np.maximum.accumulate(moved[:, half:], axis=1)
    lower = np.minimum.accumulate(moved[:, :half][:, ::-1], axis=1)[:, ::-1]
    out = np.empty_like(paths)
    np.put_along_axis(out, order, np.concatenate([lower, upper], axis=1), axis=1)
    return out


def symmetric(factors: np.ndarray, weight: float = 1.0) -> np.ndarray:
    """Per-tail factors ``(len(KNOTS), P)`` moved ``weight`` of the way to
    the mean of each level's two tails (the knots are symmetric about 0.5)."""
    mean = (factors + factors[::-1]) / 2
    return weight * mean + (1 - weight) * factors


# ------------------------------------------------------------------ the runs


def cut(panel: pd.DataFrame, points: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every series less its last ``points`` points, and those points."""
    if points == 0:
        return panel, panel.iloc[:0]
    head = panel.groupby(level=0, sort=False).head(-points)
    tail = panel.groupby(level=0, sort=False).tail(points)
    return head.sort_index(), tail.sort_index()


def validation_paths(forecaster, n: int = 100):
    """Paths, targets and observed flags of the forecaster's validation windows."""
    from sktime_logsparse._arrays import training_arrays
    from sktime_logsparse._early_stopping import validation_arrays
    from sktime_logsparse._series import SeriesTensors, make_windows

    panel = forecaster._panel
    values, covs = training_arrays(
        forecaster.time_axis_, forecaster.exog_scaler_, panel.instances, panel.factors
    )
    layout = forecaster.model_.layout
    data = SeriesTensors.from_arrays(
        values, covs, panel.ids, pad=layout.length + layout.lead
    )
    _, windows = make_windows(data, layout, 1, "uniform")
    return validation_arrays(forecaster.model_.network, data, windows, layout, n)


def held_out_ranges(forecaster, full: pd.DataFrame, weeks: int) -> list[tuple]:
    """``(paths, target, observed, history)`` of each held-out range, in order.

    The first is the fit's own validation range (no history: it is only ever
    sized on); the forecaster is moved on by one range after each forecast.
    """
    from sktime.forecasting.base import ForecastingHorizon

    fh = ForecastingHorizon(np.arange(1, H.HORIZON + 1), is_relative=True)
    out = [(*validation_paths(forecaster), None)]
    for k in range(weeks, 0, -1):
        seen, rest = cut(full, k * H.HORIZON)
        ahead, _ = cut(rest, (k - 1) * H.HORIZON)
        sampled = forecaster._paths(fh, None)
        order = sorted(range(len(sampled.keys)), key=lambda i: sampled.keys[i])
        paths = np.stack([sampled.paths[i][0] for i in order])  # rows as as_matrix
        y = H.as_matrix(ahead)
        out.append((paths, y, np.isfinite(y), H.histories(seen)))
        forecaster.update(ahead, update_params=False)
    return out


def score(paths: np.ndarray, y: np.ndarray, history: list) -> dict:
    """Coverage, MSIS, rho-risks and mean quantile loss of paths ``(S, n, 48)``."""
    q = {a: np.quantile(paths, a, axis=1) for a in {0.025, 0.975, *LOSS_LEVELS}}
    return {
        "coverage80": M.coverage(y, q[0.1], q[0.9]),
        "coverage95": M.coverage(y, q[0.025], q[0.975]),
        "MSIS": M.msis(y, q[0.025], q[0.975], history, H.SEASON),
        "R0.5": M.rho_risk(y, q[0.5], 0.5),
        "R0.9": M.rho_risk(y, q[0.9], 0.9),
        "quantile_loss": float(np.mean([M.rho_risk(y, q[a], a) for a in LOSS_LEVELS])),
    }


def score_pair(sizing: tuple, scored: tuple) -> dict:
    """Every variant sized on the range ``sizing`` and scored on ``scored``."""
    from sktime_logsparse._calibration import MAX_GROUPS, fit_factors, widen

    paths, target, observed, _ = sizing
    held, y, _, history = scored
    rows = {"none": score(held, y, history)}
    for name, levels in CENTRAL.items():
        factors = central_factors(paths, target, observed, levels)
        rows[name] = score(widen(held, factors), y, history)
    factors = level_factors(paths, target, observed)
    rows["per level"] = score(widen_per_level(held, factors), y, history)
    # the default pools steps to GROUP_POINTS points; before, to 400
    factors = fit_factors(paths, target, observed, group_points=400, max_groups=1)
    rows["per tail, 400 points"] = score(widen(held, factors), y, history)
    # the default sizes up to four groups of forecasts by spread apart
    for groups in (1, 2, 3, 5):
        factors = fit_factors(paths, target, observed, max_groups=groups)
        name = "one group" if groups == 1 else f"{groups} groups"
        rows[f"per tail, {name}"] = score(widen(held, factors), y, history)
    wide = widen(held, fit_factors(paths, target, observed, max_groups=MAX_GROUPS))
    rows["per tail, per group"] = score(wide, y, history)
    wide = widen(held, fit_factors(paths, target, observed))  # the default
    rows["per tail"] = score(wide, y, history)
    # each level's two tails' factors drawn together (1: their mean)
    for weight in (0.5, 1.0):
        factors = symmetric(fit_factors(paths, target, observed), weight)
        name = "symmetric" if weight == 1 else f"{weight:g} symmetric"
        rows[f"per tail, {name}"] = score(widen(held, factors), y, history)
    # the point forecast of the widened paths: their mean moves with the
    # tails, their median does not (``point_forecast``)
    for name, point in (("mean", wide.mean(1)), ("median", np.median(wide, 1))):
        rows[f"point {name}"] = M.point_scores(y, point, history, H.SEASON)
    return rows


def main(argv=None) -> dict:
    from sktime_logsparse import LogSparseTransformerForecaster

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="a saved fit")
    parser.add_argument("--save-model", type=Path, default=None)
    parser.add_argument("--weeks", type=int, default=WEEKS)
    parser.add_argument(
        "--config", default="{}", help="JSON over the configuration of record"
    )
    parser.add_argument(
        "--name", default="calibration", help="results file stem (benchmarks/results)"
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    import torch

    info = R.start_run("calibration.py", threads=torch.get_num_threads())
    train, _ = H.load("validation", None)  # the test split is never read
    fitted, _ = cut(train, args.weeks * H.HORIZON)
    if args.model is not None:
        forecaster = LogSparseTransformerForecaster.load_model(args.model)
    else:
        forecaster = H.make_forecaster(json.loads(args.config), None, False)
        forecaster.fit(fitted, fh=np.arange(1, H.HORIZON + 1))
        if args.save_model is not None:
            forecaster.save_model(args.save_model)
    forecaster.calibration_ = None  # the network's own spread
    ranges = held_out_ranges(forecaster, train, args.weeks)
    pairs = {
        f"{k - 1}-{k}": score_pair(ranges[k - 1], ranges[k])
        for k in range(1, len(ranges))
    }
    first = pairs["0-1"]
    variants = {
        name: {m: float(np.mean([p[name][m] for p in pairs.values()])) for m in row}
        for name, row in first.items()
    }
    # the share of points below each unwidened quantile, per held-out range
    below = {
        str(k): {
            str(a): float((y <= np.quantile(p, a, axis=1))[ok].mean())
            for a in RELIABILITY
        }
        for k, (p, y, ok, _) in enumerate(ranges)
    }
    source = "fitted in this run" if args.model is None else "loaded (--model)"
    result = {**info, "model": source, "weeks": args.weeks, "config": args.config}
    result.update(variants=variants, pairs=pairs, unwidened_below=below)
    for name, row in variants.items():
        print(name, {m: round(v, 4) for m, v in row.items()}, flush=True)
    R.write_json(R.results_path(args.name), result)
    return result


if __name__ == "__main__":
    main()
