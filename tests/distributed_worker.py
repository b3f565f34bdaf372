"""One rank of the data-parallel tests (``tests/test_distributed.py``).

``python -m torch.distributed.run --standalone --nproc_per_node 2
tests/distributed_worker.py OUT torchrun``: the forecaster sets up the process
group from torchrun's environment. ``python tests/distributed_worker.py OUT
user RANK WORLD PORT``: the script initialises the process group itself
(tcp://, no environment variables), as a user's script may.

Each rank writes what the tests compare to ``OUT/<mode><rank>.json``, and
its stderr (progress bars, logs) to ``OUT/<mode><rank>.err``.
"""

import datetime
import json
import logging
import os
import sys
from pathlib import Path

import pandas as pd
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import TINY, series  # noqa: E402

import sktime_logsparse._training as training  # noqa: E402
from sktime_logsparse import LogSparseTransformerForecaster  # noqa: E402

#: the forecaster of the tests: TINY, three epochs of four steps, no dropout
CONFIG = {
    **TINY,
    "max_epochs": 3,
    "windows_per_epoch": 32,
    "dropout": 0.0,
    "n_threads": 1,
}
FH = [1, 2]


def panel(n: int = 80, start: int = 0) -> pd.DataFrame:
    """Four hourly series: points ``start`` to ``n`` of each."""
    return pd.concat(
        {f"s{i}": series(n, seed=i, level=10 + 2 * i).iloc[start:] for i in range(4)}
    )


def run(forecaster, update: bool = False) -> dict:
    """Fit (and update), predict: the numbers the tests compare."""
    forecaster.fit(panel(), fh=FH)
    out = {"fit": outcome(forecaster)}
    if update:
        forecaster.update(panel(90, start=80), update_params=True)
        out["update"] = outcome(forecaster)
    return out


def outcome(forecaster) -> dict:
    calibration = forecaster.calibration_
    return {
        "history": [
            {k: h[k] for k in ("train_loss", "val_loss")}
            for h in forecaster.training_history_
        ],
        "predict": forecaster.predict().to_numpy().ravel().tolist(),
        "calibration": None if calibration is None else calibration.tolist(),
    }


def torchrun(out: Path) -> dict:
    rank = int(os.environ["RANK"])
    result = run(LogSparseTransformerForecaster(**CONFIG, verbose=True), update=True)
    f = LogSparseTransformerForecaster(**CONFIG)
    f.fit(panel(), fh=FH)
    result["saved"] = str(f.save_model(out / f"model-{rank}"))
    sharded = {**CONFIG, "trainer_kwargs": {"shard_series": True}}
    result["sharded"] = run(LogSparseTransformerForecaster(**sharded))["fit"]
    try:  # every rank must raise, none may wait for the others
        LogSparseTransformerForecaster(**{**CONFIG, "batch_size": 1}).fit(panel())
    except ValueError as err:
        result["batch_error"] = str(err)
    return result


def user(rank: int, world: int, port: int) -> dict:
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=60),
    )
    sizes = []
    window_batch = training.window_batch

    def recorded(data, windows, rows, layout):
        sizes.append(len(rows))
        return window_batch(data, windows, rows, layout)

    training.window_batch = recorded
    result = run(LogSparseTransformerForecaster(**CONFIG))
    result["batch_rows"] = sizes
    dist.destroy_process_group()
    return result


def main() -> None:
    out, mode = Path(sys.argv[1]), sys.argv[2]
    rank = int(sys.argv[3]) if mode == "user" else int(os.environ["RANK"])
    sys.stderr = open(out / f"{mode}{rank}.err", "w")  # noqa: SIM115
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    logging.getLogger("sktime_logsparse").setLevel(logging.INFO)
    if mode == "torchrun":
        result = torchrun(out)
    else:
        result = user(rank, int(sys.argv[4]), int(sys.argv[5]))
    (out / f"{mode}{rank}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
