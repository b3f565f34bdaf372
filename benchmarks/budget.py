"""Wall time of ``fit`` against ``max_fit_seconds`` (issue 17).

Fits an hourly series of 2,000 points with the default model and budgets of
2, 2 and 5 seconds, one after the other in one process (the first fit also
pays torch's one-off lazy imports), and prints the CPU and each fit's wall
time. Run: ``python benchmarks/budget.py``.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from _report import cpu_model

from sktime_logsparse import LogSparseTransformerForecaster


def main() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(2000)
    values = 10 + 3 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.3, len(t))
    y = pd.DataFrame(
        {"y": values}, index=pd.date_range("2020", periods=len(t), freq="h")
    )
    print(f"CPU: {cpu_model()}")
    for budget in (2.0, 2.0, 5.0):
        f = LogSparseTransformerForecaster(
            context_length=168,
            prediction_length=24,
            max_epochs=1000,
            max_fit_seconds=budget,
            random_state=0,
            device="cpu",
        )
        start = time.perf_counter()
        f.fit(y, fh=range(1, 25))
        wall = time.perf_counter() - start
        print(f"max_fit_seconds={budget}: fit took {wall:.2f} s")


if __name__ == "__main__":
    main()
