"""Part (c) of ``benchmarks/sampling.py``: predicting past the trained horizon.

Two forecasters on the same M4 Hourly series, with the same settings and seed
(d_model 32, 3 layers, 4 heads, context 168, 100 paths, one short epoch: only
prediction matters): ``past`` is fitted without ``fh``, so its prediction
length is one season (24) and a 48-step forecast is decoded in two chunks;
``within`` is fitted with ``fh=1..48`` (prediction length 48, one chunk).
Each is fitted once and saved (``save_model``). Every predict then runs in a
fresh process (``python benchmarks/_horizon.py MODEL_DIR``) that loads the
model and the data, resets the kernel's peak-RSS counter and times
``predict_quantiles(fh=1..48, alpha=[0.1, 0.5, 0.9])``; it reports the time,
the peak resident set size of the process during the predict (``VmHWM``: the
interpreter, libraries, data and model included) and its increase over the
RSS just before, with the predict-memory estimate the forecaster checked. The
two models alternate over the repeats. The worker also scores the forecast
(MASE of the mean path, season 24, against the M4 test values) over steps
1-24, 25-48 and 1-48: not timed.

The measurement runs whatever ``sktime_logsparse`` Python imports, so the
same script measures an older checkout (``PYTHONPATH=...``); the sha256 of
each saved weights file shows that both runs predicted from the same fitted
model.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _report as R  # benchmarks/_report.py
import numpy as np

FH = list(range(1, 49))
ALPHA = [0.1, 0.5, 0.9]
SEASON = 24
MODELS = {"past": None, "within": FH}  # the fh given to fit
LABELS = {
    "past": "fitted without fh (P = 24): two chunks",
    "within": "fitted with fh = 1..48 (P = 48): one chunk",
}


def forecaster_params(args) -> dict:
    """The settings both forecasters share."""
    return dict(
        context_length=168,
        d_model=32,
        n_heads=4,
        n_layers=3,
        max_epochs=1,
        windows_per_epoch=args.windows,
        early_stopping_patience=None,
        num_samples=args.samples,
        device="cpu",
        random_state=0,
    )


def worker(model_dir: str, n_series: int) -> dict:
    """Load a saved forecaster, predict once; time, memory, accuracy."""
    import gc
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    import torch

    from sktime_logsparse import LogSparseTransformerForecaster
    from sktime_logsparse import _sampling as sampling
    from sktime_logsparse.datasets import load_m4_hourly_split

    estimates = []
    check = sampling.check_predict_memory

    def recorded(*args, **kwargs):
        estimates.append(check(*args, **kwargs).total)
        return estimates[-1]

    sampling.check_predict_memory = recorded
    y_train, y_test = load_m4_hourly_split(series=n_series)
    f = LogSparseTransformerForecaster.load_model(model_dir)
    gc.collect()
    before = R.proc_status("VmRSS")
    with open("/proc/self/clear_refs", "w") as g:
        g.write("5")  # the peak is now the current RSS
    start = time.perf_counter()
    quantiles = f.predict_quantiles(fh=FH, alpha=ALPHA)
    seconds = time.perf_counter() - start
    peak = R.proc_status("VmHWM")
    point = f.predict(fh=FH)  # the mean of the same paths, not timed
    assert np.isfinite(quantiles.to_numpy()).all()
    return {
        "predict_s": seconds,
        "peak_rss": peak,
        "rss_before": before,
        "increase": peak - before,
        "estimate": estimates[0] if estimates else None,
        "threads": torch.get_num_threads(),
        "mase": mase_by_steps(y_train, y_test, point),
    }


def mase_by_steps(y_train, y_test, point) -> dict:
    """MASE (season 24) of steps 1-24, 25-48 and 1-48, averaged over series."""
    sys.path.insert(0, str(Path(__file__).parent))
    from metrics import mase  # benchmarks/metrics.py

    keys = y_train.index.get_level_values(0).unique()
    history = [y_train.loc[k].to_numpy().ravel() for k in keys]
    y = np.stack([y_test.loc[k].to_numpy().ravel() for k in keys])
    f = np.stack([point.loc[k].to_numpy().ravel() for k in keys])
    steps = {"1-24": slice(0, 24), "25-48": slice(24, 48), "1-48": slice(0, 48)}
    return {name: mase(y[:, s], f[:, s], history, SEASON) for name, s in steps.items()}


def measure(model_dir: Path, n_series: int) -> dict:
    """:func:`worker` in a fresh process."""
    done = subprocess.run(
        [sys.executable, __file__, str(model_dir), str(n_series)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"predict worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def part_c(args, load) -> dict:
    """Fit both forecasters once, then alternate their predicts in fresh processes."""
    import sktime_logsparse
    from sktime_logsparse import LogSparseTransformerForecaster
    from sktime_logsparse.datasets import load_m4_hourly_split

    y_train, _ = load_m4_hourly_split(series=args.c_series)
    n_series = y_train.index.get_level_values(0).nunique()
    models = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, fh in MODELS.items():
            f = LogSparseTransformerForecaster(**forecaster_params(args))
            start = time.perf_counter()
            f.fit(y_train, fh=fh)
            fit_s = time.perf_counter() - start
            folder = f.save_model(Path(tmp) / name)
            weights = sorted(folder.glob("*.safetensors"))
            digest = hashlib.sha256(b"".join(p.read_bytes() for p in weights))
            models[name] = {
                "label": LABELS[name],
                "prediction_length": int(f.prediction_length_),
                "fit_s": fit_s,
                "weights_sha256": digest.hexdigest()[:16],
                "runs": [],
                "dir": folder,
            }
        for _ in range(args.c_repeats):
            for name, model in models.items():
                before = load()
                got = measure(model["dir"], n_series)
                model["runs"].append(
                    {**got, "load_before": before, "load_after": load()}
                )
                gib = {k: _gib(got[k]) for k in ("peak_rss", "increase")}
                print(
                    f"(c) {name}: predict {got['predict_s']:.2f} s, peak RSS "
                    f"{gib['peak_rss']} GiB (+{gib['increase']})",
                    flush=True,
                )
    for model in models.values():
        del model["dir"]
        runs = model["runs"]
        for key in ("predict_s", "peak_rss", "increase"):
            model[key] = float(np.median([r[key] for r in runs]))
        model["best_s"] = min(r["predict_s"] for r in runs)
        model["mase"] = runs[0]["mase"]  # the same paths in every run
        model["estimate"] = runs[0]["estimate"]
    past, within = models["past"], models["within"]
    ratios = {
        key: past[key] / within[key]
        for key in ("predict_s", "best_s", "peak_rss", "increase")
    }
    return {
        "series": n_series,
        "samples": args.samples,
        "horizon": len(FH),
        "windows": args.windows,
        "repeats": args.c_repeats,
        "package": str(Path(sktime_logsparse.__file__).parent),
        "models": models,
        "ratios": ratios,
    }


if __name__ == "__main__":
    print(json.dumps(worker(sys.argv[1], int(sys.argv[2]))))


# ----------------------------------------------------------------- report --


def _gib(value) -> str:
    return "–" if value is None else f"{value / 2**30:.2f}"


def table_c(c: dict) -> str:
    """Part (c) as a table: one row per model and code version."""
    import _report as R

    head = [
        "model",
        "code",
        "`predict_quantiles` (s): median",
        "best",
        "peak RSS (GiB)",
        "increase (GiB)",
        "estimate (GiB)",
        "MASE 1-24",
        "MASE 25-48",
    ]
    rows = []
    for code, part in (("this change", c), ("before", c.get("before"))):
        if part is None:
            continue
        for model in part["models"].values():
            rows.append(
                [
                    model["label"],
                    code,
                    f"**{model['predict_s']:.1f}**",
                    f"{model['best_s']:.1f}" if "best_s" in model else "–",
                    _gib(model["peak_rss"]),
                    _gib(model["increase"]),
                    _gib(model.get("estimate")),
                    f"{model['mase']['1-24']:.3f}",
                    f"{model['mase']['25-48']:.3f}",
                ]
            )
    return R.markdown_table(head, rows)


def ratio_line(part: dict, code: str) -> str:
    """Past over within, as measured side by side."""
    r = part["ratios"]
    best = f", {r['best_s']:.2f}x best against best" if "best_s" in r else ""
    return (
        f"{code}: the two-chunk forecast takes **{r['predict_s']:.2f}x** the time "
        f"of the one-chunk one (medians{best}), **{r['peak_rss']:.2f}x** its peak "
        f"RSS ({r['increase']:.2f}x its increase over the RSS before the predict)."
    )


def markdown_c(c: dict, provenance: str) -> list[str]:
    """The section of part (c)."""
    past = c["models"]["past"]
    lines = [
        "",
        f"## (c) Predicting past the trained horizon: {c['series']} M4 Hourly series",
        "",
        f"{c['series']} series x {c['horizon']} steps x {c['samples']} paths, "
        "`predict_quantiles` (alpha 0.1, 0.5, 0.9) of two forecasters with the "
        "same settings and seed (d_model 32, 3 layers, 4 heads, context 168, "
        f"one epoch of {c['windows']} windows): one fitted without `fh`, whose "
        f"prediction length is one season ({past['prediction_length']}), so "
        "that 48 steps are decoded in two chunks, and one fitted with "
        "`fh=1..48` (one chunk). Each predict runs in a fresh process that "
        "loads the saved model; the two alternate over "
        f"{c['repeats']} repeats; the table gives the medians, and the best "
        "time (the least disturbed by other processes). Peak RSS is "
        "that of the whole process during the predict (interpreter, libraries, "
        "data and model included); the increase is over its RSS just before. "
        "The estimate is the forecaster's own predict-memory estimate "
        "(`sktime_logsparse/_memory.py`), which must bound the increase. MASE "
        "(season 24) is that of the mean of the same paths against the M4 test "
        "values." + provenance,
        "",
        table_c(c),
        "",
        "- " + ratio_line(c, "This change"),
    ]
    before = c.get("before")
    if before is not None:
        same = all(
            before["models"][k]["weights_sha256"] == m["weights_sha256"]
            for k, m in c["models"].items()
        )
        when = f" on {before['date']}" if "date" in before else ""
        lines += [
            "- " + ratio_line(before, "Before"),
            f"- The figures before were measured by `{before['command']}`{when}: "
            "this script, importing the package from "
            f"`{before['package']}`; the saved weights of both runs "
            + ("are identical (same sha256)." if same else "DIFFER (sha256)."),
        ]
    return lines
