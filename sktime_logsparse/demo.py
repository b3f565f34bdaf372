"""The main job, end to end: ``python -m sktime_logsparse.demo`` (``make demo``).

Trains one global LogSparse Transformer on a subset of the M4 Hourly series
shipped with the package, forecasts the 48-hour M4 test horizon with 100
sample paths, and prints MASE and pinball loss beside sktime's seasonal naive
on the same series. Saves a fan chart of a few series as ``fan_chart.png`` in
the folder given by ``--out`` (default ``demo-output/`` under the current
directory, created if needed).

The forecaster keeps its defaults except for the M4 window (a week of context,
the 48-hour horizon) and a fixed training length: at most a set number of
epochs (the default early stopping may end it sooner, after the same epoch on
every machine), no wall-clock budget, a fixed seed. The printed scores
therefore do not depend on how fast or how busy the machine is; another kind
of CPU rounds floating point differently, and its scores differ slightly.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

ALPHAS = [0.1, 0.5, 0.9]
#: training length of the demo: fixed, so a fast and a slow machine train alike
EPOCHS, WINDOWS = 12, 2048


def _scores(y_test, y_train, point, quantiles) -> dict:
    from sktime.performance_metrics.forecasting import MeanAbsoluteScaledError
    from sktime.performance_metrics.forecasting.probabilistic import PinballLoss

    mase = MeanAbsoluteScaledError(sp=24, multilevel="uniform_average")
    pinball = PinballLoss(alpha=ALPHAS)
    return {
        "MASE": float(mase(y_test, point, y_train=y_train)),
        "pinball": float(pinball(y_test, quantiles)),
    }


def _without_clone_warnings(fn):
    """``fn()``, less the FutureWarning sktime 1.2 gives per forecaster.

    The baseline is fitted per series, and sktime 1.2 warns of a future
    config default for each clone: noise on a demo's screen. The warnings are
    recorded rather than filtered, because a library imported during the fit
    may reset the filters; any other warning is shown as usual.
    """
    with warnings.catch_warnings(record=True) as caught:
        result = fn()
    for w in caught:
        if "remember_data" not in str(w.message):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result


def _hold_out(panel: pd.DataFrame, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each series but its last ``n`` points, and those points."""
    groups = panel.groupby(level=0, sort=False)
    return groups.head(-n), groups.tail(n)


def demo_data(series: int = 60, split: str = "test"):
    """The demo's panel: training series and the 48 points scored after them.

    ``split="validation"`` scores each training series' last 48 points instead
    of the M4 test horizon. Both panels are lexsorted (sktime's probabilistic
    metrics want that).
    """
    from .datasets import HORIZON, load_m4_hourly_split

    y_train, y_test = load_m4_hourly_split(series=series)
    if split == "validation":
        y_train, y_test = _hold_out(y_train, HORIZON)
    return y_train.sort_index(), y_test.sort_index()


def demo_forecaster(**params):
    """The demo's forecaster, with ``params`` on top of its settings.

    Defaults but for a week of context, the M4 horizon, the fixed training
    length and the seed.
    """
    from . import LogSparseTransformerForecaster
    from .datasets import HORIZON

    settings = dict(
        context_length=168,  # one week
        prediction_length=HORIZON,
        max_epochs=EPOCHS,
        windows_per_epoch=WINDOWS,
        random_state=0,
    )
    return LogSparseTransformerForecaster(**{**settings, **params})


def fan_chart(y_train, y_test, quantiles, path: Path, n: int = 4) -> None:
    """Save a fan chart (10-90% band, median) of the first ``n`` series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ids = y_test.index.get_level_values(0).unique()[:n]
    fig, axes = plt.subplots(len(ids), 1, figsize=(9, 2.4 * len(ids)))
    for ax, sid in zip(np.atleast_1d(axes), ids, strict=True):
        hist = y_train.loc[sid].iloc[-168:, 0]
        truth = y_test.loc[sid].iloc[:, 0]
        q = quantiles.loc[sid]
        name = q.columns[0][0]
        ax.plot(hist.index, hist.to_numpy(), color="black", lw=1, label="history")
        ax.plot(
            truth.index, truth.to_numpy(), color="black", lw=1, ls="--", label="actual"
        )
        ax.fill_between(
            q.index, q[(name, 0.1)], q[(name, 0.9)], alpha=0.3, label="10-90%"
        )
        ax.plot(q.index, q[(name, 0.5)], lw=1.5, label="median")
        ax.set_title(str(sid), fontsize=9)
    np.atleast_1d(axes)[0].legend(loc="upper left", fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    """Run the demo; returns the scores."""
    from sktime.forecasting.naive import NaiveForecaster

    from .datasets import HORIZON

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=60, help="first N M4 series")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="training epochs")
    parser.add_argument(
        "--windows", type=int, default=WINDOWS, help="training windows per epoch"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("demo-output"),
        metavar="DIR",
        help="folder for the fan chart (created if needed; default: %(default)s)",
    )
    parser.add_argument(
        "--split",
        choices=["test", "validation"],
        default="test",
        help="score on the M4 test horizon, or on the last 48 training points "
        "(where the demo's settings were chosen)",
    )
    parser.add_argument(
        "--config",
        default="{}",
        metavar="JSON",
        help="forecaster parameters on top of the demo's, e.g. '{\"max_epochs\": 4}'",
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    y_train, y_test = demo_data(args.series, args.split)
    fh = np.arange(1, HORIZON + 1)
    forecaster = demo_forecaster(
        max_epochs=args.epochs,
        windows_per_epoch=args.windows,
        verbose=args.verbose,
        **json.loads(args.config),
    )
    t0 = time.perf_counter()
    forecaster.fit(y_train, fh=fh)
    t1 = time.perf_counter()
    point = forecaster.predict()
    quantiles = forecaster.predict_quantiles(alpha=ALPHAS)
    t2 = time.perf_counter()

    def baseline():
        naive = NaiveForecaster(strategy="last", sp=24).fit(y_train, fh=fh)
        return naive.predict(), naive.predict_quantiles(alpha=ALPHAS)

    rows = {
        "LogSparse Transformer": _scores(y_test, y_train, point, quantiles),
        "seasonal naive (sktime)": _scores(
            y_test, y_train, *_without_clone_warnings(baseline)
        ),
    }
    table = pd.DataFrame(rows).T
    epochs = len(forecaster.training_history_)
    print(f"M4 Hourly, first {args.series} series, horizon {HORIZON}")
    print(f"fit {t1 - t0:.1f} s ({epochs} epochs), predict {t2 - t1:.1f} s")
    print(table.round(3).to_string())
    args.out.mkdir(parents=True, exist_ok=True)
    chart = args.out / "fan_chart.png"
    fan_chart(y_train, y_test, quantiles, chart)
    print(f"fan chart: {chart}")
    return rows


if __name__ == "__main__":
    main()
