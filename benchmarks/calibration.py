"""Which intervals the calibration should match, chosen on the M4 validation split.

The forecaster of record (``m4_hourly.CONFIG``) is fitted on the M4 Hourly
training series less their last 48 points (``m4_hourly.load("validation")``),
or loaded with ``--model`` from a folder saved by an earlier run. With its
widening switched off, it forecasts (a) its own validation windows, the 48
points before the end of what it was fitted on, on which the factors are
sized, and (b) the held-out last 48 points, on which each variant is scored:
widening factors per step matched to the central intervals of each set of
levels in :data:`VARIANTS`, and "per level": a factor of its own for each
level of :data:`PER_LEVEL`, interpolated between them by each path's rank
(:func:`widen_per_level`). The test split is never read.

Usage::

    python benchmarks/calibration.py                    # fit, then compare
    python benchmarks/calibration.py --model DIR        # a saved fit
    python benchmarks/calibration.py --save-model DIR   # fit and keep it
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import _report as R  # benchmarks/_report.py
import m4_hourly as H  # benchmarks/m4_hourly.py
import metrics as M  # benchmarks/metrics.py
import numpy as np

#: the sets of central-interval levels compared (None: no widening)
VARIANTS = {
    "none": None,
    "50-95%": (0.5, 0.8, 0.9, 0.95),
    "95%": (0.95,),
    "90-98%": (0.9, 0.95, 0.98),
    "95-98%": (0.95, 0.98),
}
#: one factor per level and step group, each level's interval matched alone
PER_LEVEL = (0.5, 0.8, 0.95, 0.98)


def level_factors(paths, target, observed, levels=PER_LEVEL) -> np.ndarray:
    """Factors ``(len(levels), P)``: per step group, one matching each level."""
    from sktime_logsparse._calibration import point_needs, pooled_factors

    need, ok = point_needs(paths, target, observed, levels)
    alone = [need[i : i + 1] for i in range(len(levels))]  # each level's own
    return np.stack(
        [
            pooled_factors(n, ok, levels=(lv,))
            for n, lv in zip(alone, levels, strict=True)
        ]
    )


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


def score(paths: np.ndarray, y: np.ndarray, history: list) -> dict:
    """Coverage, MSIS and rho-risks of paths ``(S, n, 48)`` against ``y``."""
    q = {a: np.quantile(paths, a, axis=1) for a in (0.025, 0.1, 0.5, 0.9, 0.975)}
    return {
        "coverage80": M.coverage(y, q[0.1], q[0.9]),
        "coverage95": M.coverage(y, q[0.025], q[0.975]),
        "MSIS": M.msis(y, q[0.025], q[0.975], history, H.SEASON),
        "R0.5": M.rho_risk(y, q[0.5], 0.5),
        "R0.9": M.rho_risk(y, q[0.9], 0.9),
    }


def main(argv=None) -> dict:
    from sktime.forecasting.base import ForecastingHorizon

    from sktime_logsparse import LogSparseTransformerForecaster
    from sktime_logsparse._calibration import fit_factors, widen

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="a saved fit")
    parser.add_argument("--save-model", type=Path, default=None)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    import torch

    info = R.start_run("calibration.py", threads=torch.get_num_threads())
    train, test = H.load("validation", None)
    if args.model is not None:
        forecaster = LogSparseTransformerForecaster.load_model(args.model)
    else:
        forecaster = H.make_forecaster({}, None, False)
        forecaster.fit(train, fh=np.arange(1, H.HORIZON + 1))
        if args.save_model is not None:
            forecaster.save_model(args.save_model)
    forecaster.calibration_ = None  # the network's own spread
    paths, target, observed = validation_paths(forecaster)
    fh = ForecastingHorizon(np.arange(1, H.HORIZON + 1), is_relative=True)
    sampled = forecaster._paths(fh, None)
    order = sorted(range(len(sampled.keys)), key=lambda i: sampled.keys[i])
    held_out = np.stack([sampled.paths[i][0] for i in order])  # rows as as_matrix
    y, history = H.as_matrix(test), H.histories(train)
    source = "fitted in this run" if args.model is None else "loaded (--model)"
    result = {**info, "model": source, "variants": {}}
    # the unwidened intervals on the windows the factors are sized on
    lo, hi = np.quantile(paths, [[0.1, 0.025], [0.9, 0.975]], axis=1)
    inside = (lo <= target) & (target <= hi)
    result["sizing_windows"] = {
        f"coverage{c}": float(inside[i][observed].mean())
        for i, c in enumerate((80, 95))
    }
    for name, levels in VARIANTS.items():
        factors = None
        if levels is not None:
            factors = fit_factors(paths, target, observed, levels=levels)
        row = score(widen(held_out, factors), y, history)
        row["mean_factor"] = 1.0 if factors is None else float(factors.mean())
        result["variants"][name] = row
        print(name, {k: round(v, 4) for k, v in row.items()}, flush=True)
    factors = level_factors(paths, target, observed)
    row = score(widen_per_level(held_out, factors), y, history)
    row["mean_factor"] = float(factors.mean())
    means = factors.mean(1).tolist()
    row["level_factors"] = dict(zip(map(str, PER_LEVEL), means, strict=True))
    result["variants"]["per level"] = row
    print("per level", row, flush=True)
    R.write_json(R.results_path("calibration"), result)
    return result


if __name__ == "__main__":
    main()
