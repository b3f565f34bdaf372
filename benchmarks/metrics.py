"""Forecast accuracy metrics of the M4 competition and of Li et al. (2019).

sMAPE and MASE come from sktime (``MeanAbsolutePercentageError(symmetric=True)``
and ``MeanAbsoluteScaledError``), averaged over series as in M4. The rest have
no sktime equivalent and are written out here from their definitions:

- OWA (M4): ``(sMAPE / sMAPE_Naive2 + MASE / MASE_Naive2) / 2`` of the averages.
- MSIS (M4): the mean scaled interval score of a ``(1 - a)`` interval
  ``[L, U]``, ``mean_t[(U - L) + 2/a (L - y) 1{y < L} + 2/a (y - U) 1{y > U}]``
  divided by the in-sample seasonal naive MAE, averaged over series.
- Pooled rho-risk (Li et al., 2019): ``2 sum D_rho(y, q) / sum |y|`` over all
  series and steps, with ``D_rho(y, q) = (rho - 1{y <= q}) (y - q)``.

Every function takes arrays of shape ``(series, horizon)``.
"""

from __future__ import annotations

import numpy as np

# M4 Hourly Naive2 (official results table)
NAIVE2_SMAPE = 18.383
NAIVE2_MASE = 2.395


def seasonal_scale(history: list[np.ndarray], season: int) -> np.ndarray:
    """In-sample MAE of the seasonal naive forecast, per series ``(S,)``."""
    return np.array([np.mean(np.abs(h[season:] - h[:-season])) for h in history])


def smape(y: np.ndarray, f: np.ndarray) -> float:
    """M4 sMAPE in percent: ``200 |y - f| / (|y| + |f|)``, averaged."""
    from sktime.performance_metrics.forecasting import MeanAbsolutePercentageError

    metric = MeanAbsolutePercentageError(symmetric=True)
    per_series = [metric(y_i, f_i) for y_i, f_i in zip(y, f, strict=True)]
    return 100.0 * float(np.mean(per_series))


def mase(y: np.ndarray, f: np.ndarray, history: list[np.ndarray], season: int):
    """M4 MASE: MAE over the in-sample seasonal naive MAE, averaged over series."""
    from sktime.performance_metrics.forecasting import MeanAbsoluteScaledError

    metric = MeanAbsoluteScaledError(sp=season)
    per_series = [
        metric(y_i, f_i, y_train=h_i)
        for y_i, f_i, h_i in zip(y, f, history, strict=True)
    ]
    return float(np.mean(per_series))


def owa(smape_value: float, mase_value: float) -> float:
    """M4 overall weighted average relative to Naive2 (Hourly figures)."""
    return 0.5 * (smape_value / NAIVE2_SMAPE + mase_value / NAIVE2_MASE)


def point_scores(y: np.ndarray, f: np.ndarray, history: list[np.ndarray], season: int):
    """sMAPE, MASE and OWA of point forecasts ``f``, as a dict."""
    smape_value, mase_value = smape(y, f), mase(y, f, history, season)
    return {
        "sMAPE": smape_value,
        "MASE": mase_value,
        "OWA": owa(smape_value, mase_value),
    }


def msis(
    y: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    history: list[np.ndarray],
    season: int,
    alpha: float = 0.05,
) -> float:
    """M4 mean scaled interval score of the ``1 - alpha`` interval."""
    score = (
        (upper - lower)
        + 2.0 / alpha * (lower - y) * (y < lower)
        + 2.0 / alpha * (y - upper) * (y > upper)
    )
    return float(np.mean(score.mean(axis=1) / seasonal_scale(history, season)))


def rho_risk(y: np.ndarray, q: np.ndarray, rho: float) -> float:
    """Pooled rho-risk of the ``rho`` quantile forecast ``q``."""
    loss = (rho - (y <= q)) * (y - q)
    return float(2.0 * loss.sum() / np.abs(y).sum())


def coverage(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of actual values inside ``[lower, upper]``."""
    return float(np.mean((y >= lower) & (y <= upper)))


#: quantile levels of the reliability diagram
RELIABILITY_LEVELS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def per_step(y: np.ndarray, bands: dict, quantiles: dict) -> dict:
    """Coverage of each interval and rho-risk of each quantile, per horizon step.

    ``bands``: ``{"coverage80": (lower, upper), ...}``; ``quantiles``:
    ``{rho: q}``. Every array is ``(series, horizon)``; the lists returned
    have one value per step (the rho-risk of a step pools its series).
    """
    out = {
        name: np.mean((y >= lo) & (y <= hi), axis=0).tolist()
        for name, (lo, hi) in bands.items()
    }
    for rho, q in quantiles.items():
        loss = (rho - (y <= q)) * (y - q)
        out[f"R{rho:g}"] = (2.0 * loss.sum(0) / np.abs(y).sum(0)).tolist()
    return out


def reliability(y: np.ndarray, quantiles: dict) -> dict:
    """Observed share of values at or below each quantile ``{level: q}``."""
    levels = sorted(quantiles)
    observed = [float(np.mean(y <= quantiles[a])) for a in levels]
    return {"levels": list(levels), "observed": observed}
