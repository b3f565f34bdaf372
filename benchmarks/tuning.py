"""Parallel tuning: a grid search with backend=None, loky and dask side by side.

(a) ``ForecastingGridSearchCV`` of 4 candidates (``kernel_size`` 3 or 6 x
    ``attention`` "logsparse" or "local") x 3 folds (``ExpandingWindowSplitter``,
    forecasts of 48 hours, 48 hours apart) on ``--series`` M4 Hourly series
    (training split), scored by MASE, then the refit of the best candidate.
    Every fit is a tiny but real one: ``context_length=168``,
    ``prediction_length=48``, ``--epochs`` epochs of 512 windows with the
    default validation and calibration (a few seconds each on a 2-core CPU).
    Backends, each in this one run: ``None`` (one fit after another, in this
    process), ``"loky"`` with ``n_jobs=2``, and, if dask and distributed are
    installed, ``"dask"`` on a ``LocalCluster`` of 2 worker processes x 1
    thread, once with ``MALLOC_TRIM_THRESHOLD_`` left out of the workers'
    environment (as ``docs/how-to/scale-out.md`` advises) and once with
    dask's default (65536); cluster starts are timed apart; ``--ray`` adds
    ray, local, 2 CPUs, likewise. The forecaster keeps ``n_threads=None``:
    each backend's workers get the thread count the backend sets (loky:
    cores / workers; dask's nanny and ray: 1). Every backend must find the same best
    parameters and the same scores; the wall times and their ratios to
    ``None`` are the result.
(b) Oversubscription: two worker processes that share the cores and predict
    at once, as joblib's ``"multiprocessing"`` and ``"threading"`` backends
    and dask's threaded scheduler run them (none sets a thread count, so
    predict decodes in its default 2 threads per process: 4 threads on 2
    cores), against 1 decoding thread each, and one process alone: 20
    series, 48 steps x 100 paths, ``--repeats`` times each, medians.

The machine may be shared: the load average and the CPU time of the whole
machine during each measurement (in cores: busy time from ``/proc/stat``
divided by wall time) are recorded.

    python benchmarks/tuning.py
    python benchmarks/tuning.py --ray --json /tmp/tuning.json

Results: ``benchmarks/results/tuning.json`` (``--json PATH`` elsewhere). The
tables are on ``docs/benchmarks/scale.md``, written by ``benchmarks/scale.py
--markdown`` from this file and ``scale.json``.
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing as mp
import os
import pickle
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import _report as R  # benchmarks/_report.py
import numpy as np

NAME = "tuning"
#: the done-when: loky at least this many times faster than backend=None
TARGET = 1.3
HORIZON = 48
CONFIG = dict(
    context_length=168,
    prediction_length=HORIZON,
    windows_per_epoch=512,
    num_samples=100,
    device="cpu",
    random_state=0,
)
GRID = {"kernel_size": [3, 6], "attention": ["logsparse", "local"]}
#: dask's setting of the environment of its worker processes that glibc's
#: malloc reads: set (dask's default), it makes training about twice as slow
TRIM_KEY = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
FOLDS = 3
SCORE = "mean_test_MeanAbsoluteScaledError"


def load() -> float:
    """The 1-minute load average."""
    return round(os.getloadavg()[0], 2)


def _busy_seconds() -> float:
    """CPU time the whole machine spent busy so far (all cores), in seconds."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def timed(fn):
    """``fn()``, its wall time and the machine's busy cores meanwhile."""
    busy, start = _busy_seconds(), time.perf_counter()
    value = fn()
    wall = time.perf_counter() - start
    return value, {"wall_s": wall, "machine_cores": (_busy_seconds() - busy) / wall}


# ---------------------------------------------------------------- part (a) --


def search(y, backend, backend_params, epochs: int):
    """The grid search of part (a), fitted on ``y``."""
    from sktime.forecasting.model_selection import ForecastingGridSearchCV
    from sktime.performance_metrics.forecasting import MeanAbsoluteScaledError
    from sktime.split import ExpandingWindowSplitter

    from sktime_logsparse import LogSparseTransformerForecaster

    length = y.index.get_level_values(-1).nunique()
    fh = np.arange(1, HORIZON + 1)
    cv = ExpandingWindowSplitter(
        fh=fh, initial_window=length - FOLDS * HORIZON, step_length=HORIZON
    )
    grid = ForecastingGridSearchCV(
        LogSparseTransformerForecaster(**CONFIG, max_epochs=epochs),
        cv=cv,
        param_grid=GRID,
        scoring=MeanAbsoluteScaledError(sp=24),
        backend=backend,
        backend_params=backend_params,
    )
    return grid.fit(y, fh=fh)


def run_search(y, name, backend, backend_params, epochs) -> dict:
    """One backend's search: wall time, best parameters, scores."""
    print(f"  {name}: searching ...", flush=True)
    before = load()
    grid, cost = timed(lambda: search(y, backend, backend_params, epochs))
    scores = {
        _label(p): float(s)
        for p, s in zip(
            grid.cv_results_["params"], grid.cv_results_[SCORE], strict=True
        )
    }
    out = {
        **cost,
        "load_before": before,
        "load_after": load(),
        "best_params": grid.best_params_,
        "best_score": float(grid.best_score_),
        "scores": scores,
    }
    print(
        f"  {name}: {cost['wall_s']:.1f} s (machine busy {cost['machine_cores']:.2f} "
        f"cores), best {grid.best_params_}, MASE {grid.best_score_:.4f}",
        flush=True,
    )
    return out


def _label(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()))


def part_a(args) -> dict:
    """Part (a): the search with every backend available."""
    import m4_hourly  # benchmarks/m4_hourly.py

    y, _ = m4_hourly.load("test", args.series)
    runs, startup = {}, {}
    runs["None"] = run_search(y, "None", None, None, args.epochs)
    runs["loky"] = run_search(y, "loky", "loky", {"n_jobs": 2}, args.epochs)
    try:
        import dask
        import distributed
    except ImportError:
        print("  dask: not installed, skipped", flush=True)
    else:
        # as docs/how-to/scale-out.md says, then with dask's default workers
        for name, trim in (("dask", None), ("dask, default environment", 65536)):
            with dask.config.set({TRIM_KEY: trim}):
                (cluster, client), cost = timed(lambda: _dask_cluster(distributed))
            startup[name] = cost["wall_s"]
            try:
                runs[name] = run_search(y, name, "dask", None, args.epochs)
            finally:
                client.close()
                cluster.close()
                # the nanny leaves the variable in this process: not for (b)
                os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    if args.ray:
        import ray

        _, cost = timed(
            lambda: ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        )
        startup["ray"] = cost["wall_s"]
        try:
            params = {"shutdown_ray": False, "mute_warnings": True}
            runs["ray"] = run_search(y, "ray", "ray", params, args.epochs)
        finally:
            ray.shutdown()
    base = runs["None"]
    for run in runs.values():
        run["speedup"] = base["wall_s"] / run["wall_s"]
        run["same_best"] = run["best_params"] == base["best_params"]
        run["max_score_rel_diff"] = max(
            abs(run["scores"][k] - v) / abs(v) for k, v in base["scores"].items()
        )
    return {
        "series": args.series,
        "epochs": args.epochs,
        "candidates": len(runs["None"]["scores"]),
        "folds": FOLDS,
        "config": {**CONFIG, "max_epochs": args.epochs},
        "grid": GRID,
        "startup_s": startup,
        "runs": runs,
    }


def _dask_cluster(distributed):
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=40,
    )
    return cluster, distributed.Client(cluster)


# ---------------------------------------------------------------- part (b) --


def _predict_worker(path, threads, repeats, barrier, queue) -> None:
    """Load the fitted forecaster, wait for the others, predict ``repeats`` times."""
    os.environ.pop("OMP_NUM_THREADS", None)
    warnings.filterwarnings("ignore")
    with open(path, "rb") as f:
        fitted = pickle.load(f)
    copies = [copy.deepcopy(fitted) for _ in range(repeats + 1)]
    for c in copies:
        c.n_threads = threads  # no set_params: that would unfit it
    copies[0].predict()  # warm-up
    barrier.wait()
    start = time.perf_counter()
    for c in copies[1:]:
        c.predict()  # a fresh copy: no cached paths
    queue.put(time.perf_counter() - start)


def part_b(args) -> dict:
    """Part (b): two processes predicting at once, 2 or 1 decoding threads each."""
    import m4_hourly  # benchmarks/m4_hourly.py

    from sktime_logsparse import LogSparseTransformerForecaster

    y, _ = m4_hourly.load("test", args.series)
    fitted = LogSparseTransformerForecaster(
        **{**CONFIG, "windows_per_epoch": 128}, max_epochs=1, n_threads=1
    ).fit(y, fh=np.arange(1, HORIZON + 1))
    ctx = mp.get_context("spawn")
    cases = [(1, 2), (2, 1), (2, 2)]  # (processes, decoding threads each)
    found: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fitted.pkl"
        path.write_bytes(pickle.dumps(fitted))
        for rep in range(args.repeats):
            for workers, threads in cases if rep % 2 == 0 else cases[::-1]:
                barrier, queue = ctx.Barrier(workers), ctx.Queue()
                procs = [
                    ctx.Process(
                        target=_predict_worker,
                        args=(path, threads, args.predicts, barrier, queue),
                    )
                    for _ in range(workers)
                ]
                busy = _busy_seconds()
                for p in procs:
                    p.start()
                times = [queue.get() for _ in procs]
                for p in procs:
                    p.join()
                key = f"{workers}x{threads}"
                found.setdefault(key, []).append(max(times))
                print(
                    f"  repeat {rep + 1}: {workers} process(es) x {threads} decoding "
                    f"thread(s): {max(times):.2f} s for {args.predicts} predicts each "
                    f"(load {load()}, machine busy since start "
                    f"{_busy_seconds() - busy:.0f} core-s)",
                    flush=True,
                )
    out = {
        key: {"median_s": statistics.median(v), "runs_s": v} for key, v in found.items()
    }
    return {
        "series": args.series,
        "predicts": args.predicts,
        "repeats": args.repeats,
        "cases": out,
        "oversubscribed_over_shared": out["2x2"]["median_s"] / out["2x1"]["median_s"],
    }


# ------------------------------------------------------------------ report --


def done_when(result: dict) -> str:
    """The done-when line: loky's speed-up over backend=None."""
    runs = result["a"]["runs"]
    speedup = runs["loky"]["speedup"]
    same = all(run["same_best"] for run in runs.values())
    met = "met" if speedup >= TARGET and same else "NOT met"
    return (
        f"Done-when (grid search, loky with 2 workers at least {TARGET}x faster than "
        f"backend=None, same best parameters): {speedup:.2f}x, "
        f"{'same' if same else 'DIFFERENT'} best parameters: {met}."
    )


def tables(result: dict) -> str:
    """The markdown tables of both parts (used by ``scale.py --markdown``)."""
    a, b = result["a"], result.get("b")
    rows = []
    for name, run in a["runs"].items():
        rows.append(
            [
                f"`{name}`" if name != "None" else "`None` (one process)",
                f"{run['wall_s']:.1f}",
                f"**{run['speedup']:.2f}x**",
                f"{run['machine_cores']:.2f}",
                _label(run["best_params"]),
                f"{run['best_score']:.4f}",
                f"{run['max_score_rel_diff']:.1e}",
            ]
        )
    head = [
        "backend",
        "wall (s)",
        "speed-up",
        "machine busy (cores)",
        "best parameters",
        "best MASE",
        "largest score difference (relative)",
    ]
    startup = ", ".join(f"{k} {v:.1f} s" for k, v in a["startup_s"].items())
    lines = [
        R.markdown_table(head, rows),
        "",
        f"Cluster start-up, not included above: {startup or 'none'}.",
    ]
    if b is None:
        return "\n".join(lines)
    rows = [
        [key.replace("x", " x "), str(threads_in_all(key)), f"{v['median_s']:.2f}"]
        for key, v in b["cases"].items()
    ]
    lines += [
        "",
        f"Two processes predicting {b['series']} series at once (48 steps x 100 "
        f"paths, {b['predicts']} predicts each, medians of {b['repeats']} runs):",
        "",
        R.markdown_table(
            ["processes x decoding threads", "threads in all", "wall (s)"], rows
        ),
    ]
    return "\n".join(lines)


def threads_in_all(key: str) -> int:
    """Threads in all of a case ``"2x1"`` (processes x decoding threads)."""
    workers, threads = key.split("x")
    return int(workers) * int(threads)


def main() -> None:
    """Run both parts; print them, write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=20, help="M4 Hourly series")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of each fit")
    parser.add_argument("--ray", action="store_true", help="also ray (local)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of part (b)")
    parser.add_argument("--predicts", type=int, default=3, help="per run of (b)")
    parser.add_argument("--skip-b", action="store_true", help="part (a) only")
    parser.add_argument(
        "--json",
        type=Path,
        default=R.results_path(NAME),
        metavar="PATH",
        help="results file (default: benchmarks/results/tuning.json)",
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    info = R.start_run("tuning.py")
    result = {**info, "load_before": load()}
    start = time.perf_counter()
    print("(a) grid search, backend None, loky, dask", flush=True)
    result["a"] = part_a(args)
    if not args.skip_b:
        print("(b) two processes predicting at once", flush=True)
        result["b"] = part_b(args)
    result.update(elapsed_s=time.perf_counter() - start, load_after=load())
    print(tables(result), flush=True)
    print(done_when(result), flush=True)
    R.write_json(args.json, result)


if __name__ == "__main__":
    sys.exit(main())
