"""Mixed precision: fit and predict in float32 against bfloat16 autocast, side by side.

The same small forecaster (context 512, ``d_model=32``, 2 epochs of 256
windows, ``random_state=0``) on a synthetic hourly panel of 20 series of
2,000 points (``scale.panel``: daily and weekly cycles, noise), fitted with
``trainer_kwargs={"precision": "32"}`` and with ``"bf16-mixed"``, in turn,
``--repeats`` times each (medians), then ``predict`` of 48 steps x 100 paths.
Also the mean absolute difference between the two models' forecasts, over
the panel's spread. On a GPU (``--device cuda``) the fits run there.

    python benchmarks/precision.py
    python benchmarks/precision.py --device cuda --json /tmp/precision.json

Results: ``benchmarks/results/precision.json`` (quoted by the user guide,
``docs/user-guide/training.md``).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import _report as R  # benchmarks/_report.py
import numpy as np
from scale import panel  # benchmarks/scale.py

NAME = "precision"
CONFIG = dict(
    context_length=512,
    prediction_length=48,
    d_model=32,
    max_epochs=2,
    windows_per_epoch=256,
    early_stopping_patience=None,
    random_state=0,
)


def one(y, precision: str, device: str) -> dict:
    """Fit and predict once; wall times and the mean forecast."""
    from sktime_logsparse import LogSparseTransformerForecaster

    forecaster = LogSparseTransformerForecaster(
        **CONFIG, device=device, trainer_kwargs={"precision": precision}
    )
    begin = time.perf_counter()
    forecaster.fit(y, fh=np.arange(1, 49))
    fit_s = time.perf_counter() - begin
    begin = time.perf_counter()
    mean = forecaster.predict().to_numpy()[:, 0]
    return {"fit_s": fit_s, "predict_s": time.perf_counter() - begin, "mean": mean}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=str(R.results_path(NAME)))
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    import torch

    info = R.start_run("precision.py", threads=torch.get_num_threads())
    y = panel(20, 2000)
    runs: dict[str, list[dict]] = {"32": [], "bf16-mixed": []}
    for _ in range(args.repeats):
        for precision in runs:  # in turn, so that both see the same machine
            got = one(y, precision, args.device)
            runs[precision].append(got)
            print(
                f"  {precision}: fit {got['fit_s']:.1f} s, predict "
                f"{got['predict_s']:.2f} s",
                flush=True,
            )
    out = {
        p: {
            "fit_s": statistics.median(r["fit_s"] for r in rs),
            "predict_s": statistics.median(r["predict_s"] for r in rs),
            "fit_runs_s": [r["fit_s"] for r in rs],
        }
        for p, rs in runs.items()
    }
    a, b = runs["32"][0]["mean"], runs["bf16-mixed"][0]["mean"]
    result = {
        **info,
        "device": args.device,
        "config": CONFIG,
        "repeats": args.repeats,
        "runs": out,
        # bf16 fit time over float32's: < 1 where bfloat16 pays
        "ratio": out["bf16-mixed"]["fit_s"] / out["32"]["fit_s"],
        "predict_ratio": out["bf16-mixed"]["predict_s"] / out["32"]["predict_s"],
        "forecast_mean_abs_diff_over_std": float(np.mean(np.abs(a - b)) / np.std(a)),
    }
    print(
        f"bf16-mixed / float32: fit {result['ratio']:.2f}x, predict "
        f"{result['predict_ratio']:.2f}x; forecasts differ by "
        f"{result['forecast_mean_abs_diff_over_std']:.3f} of their spread",
        flush=True,
    )
    R.write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
