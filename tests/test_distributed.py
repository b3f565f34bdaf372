"""Data-parallel training: two gloo ranks train the model one process trains.

The ranks run ``tests/distributed_worker.py`` in subprocesses, under
``python -m torch.distributed.run`` (the forecaster sets up the process group
from torchrun's environment) or as two plain processes whose script sets up
the process group itself. Every launch has a timeout and its process group is
killed on expiry: a disagreement between ranks fails the test, it never hangs.
"""

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
from conftest import TINY

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse._distributed import SINGLE, Ranks, init_from_env, process_rank
from sktime_logsparse._series import shard_series

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="torch.distributed with gloo is unavailable",
)

WORKER = Path(__file__).resolve().parent / "distributed_worker.py"
TIMEOUT = 240  # seconds for a launch: about 20 on 2 busy cores
RTOL = 1e-4


def _launch(commands: list[list[str]], out: Path) -> None:
    """Run ``commands`` at once, each in its own session; kill all on timeout."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    procs = [
        subprocess.Popen(
            cmd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
        )
        for cmd in commands
    ]
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=TIMEOUT)[0])
    except subprocess.TimeoutExpired:
        pytest.fail(f"ranks still running after {TIMEOUT} s: killed")
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    logs = "".join(outputs) + "".join(p.read_text() for p in out.glob("*.err"))
    assert all(p.returncode == 0 for p in procs), logs[-6000:]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read(out: Path, mode: str) -> list[dict]:
    return [json.loads((out / f"{mode}{r}.json").read_text()) for r in range(2)]


def _worker():
    sys.path.insert(0, str(WORKER.parent))
    import distributed_worker

    return distributed_worker


@pytest.fixture(scope="module")
def torchrun(tmp_path_factory):
    """The two ranks' results under torchrun, and their output folder."""
    out = tmp_path_factory.mktemp("torchrun")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    cmd += ["--nproc_per_node", "2", str(WORKER), str(out), "torchrun"]
    _launch([cmd], out)
    return _read(out, "torchrun"), out


@pytest.fixture(scope="module")
def alone():
    """The same training in this process, alone: what the ranks must match."""
    worker = _worker()
    return worker.run(LogSparseTransformerForecaster(**worker.CONFIG), update=True)


def _same_training(ranked: dict, alone: dict) -> None:
    assert len(ranked["history"]) == len(alone["history"])
    for mine, one in zip(ranked["history"], alone["history"], strict=True):
        assert mine["train_loss"] == pytest.approx(one["train_loss"], rel=RTOL)
        assert mine["val_loss"] == pytest.approx(one["val_loss"], rel=RTOL)
    np.testing.assert_allclose(ranked["predict"], alone["predict"], rtol=RTOL)
    np.testing.assert_allclose(ranked["calibration"], alone["calibration"], rtol=RTOL)


@pytest.mark.parametrize("stage", ["fit", "update"])
def test_two_ranks_train_the_model_one_process_trains(torchrun, alone, stage):
    (rank0, rank1), _ = torchrun
    _same_training(rank0[stage], alone[stage])
    # the ranks hold the same model, bit for bit, and forecast alike
    assert rank0[stage] == rank1[stage]


def test_only_rank_0_writes_files_and_shows_progress(torchrun):
    (rank0, rank1), out = torchrun
    assert (out / "model-0" / "forecaster.json").is_file()
    assert not (out / "model-1").exists()
    assert rank1["saved"] == str(out / "model-1")  # the path, as on rank 0
    errors = [(out / f"torchrun{r}.err").read_text() for r in range(2)]
    assert "training" in errors[0] and "epoch 2: train" in errors[0]
    assert "training" not in errors[1] and "epoch" not in errors[1]


def test_sharded_ranks_train_one_model_that_predicts(torchrun):
    (rank0, rank1), _ = torchrun
    sharded = rank0["sharded"]
    assert sharded == rank1["sharded"]
    assert len(sharded["history"]) == 3
    assert np.isfinite(sharded["predict"]).all()
    assert all(np.isfinite(h["val_loss"]) for h in sharded["history"])


def test_a_batch_smaller_than_the_ranks_fails_on_every_rank(torchrun):
    (rank0, rank1), _ = torchrun
    assert "batch_size must be at least the number of ranks (2)" in rank0["batch_error"]
    assert rank1["batch_error"] == rank0["batch_error"]


def test_a_process_group_the_script_set_up_is_used(tmp_path, alone):
    port = _free_port()
    cmds = [
        [sys.executable, str(WORKER), str(tmp_path), "user", str(r), "2", str(port)]
        for r in range(2)
    ]
    _launch(cmds, tmp_path)
    rank0, rank1 = _read(tmp_path, "user")
    # each rank trained on its half of every batch of 8 windows
    assert set(rank0["batch_rows"]) == set(rank1["batch_rows"]) == {4}
    _same_training(rank0["fit"], alone["fit"])
    assert rank0["fit"] == rank1["fit"]


# ------------------------------------------------------ in one process


def test_one_process_has_one_rank_whose_helpers_are_identities():
    rows = torch.arange(10)
    assert SINGLE.world == 1 and SINGLE.leader
    assert SINGLE.local(rows) is rows and SINGLE.draws(10) == 10
    assert SINGLE.seed(7) == SINGLE.window_seed(7) == 7
    assert SINGLE.all_sum([1, 2.5]) == [1.0, 2.5]
    assert SINGLE.agree(0.5, True) == (0.5, True)


def test_blocks_of_a_batch_cover_it_once():
    rows = torch.arange(2 * 7).view(2, 7)
    blocks = [Ranks(rank=r, world=3).local(rows) for r in range(3)]
    assert torch.equal(torch.cat(blocks, dim=1), rows)
    assert [b.shape[1] for b in blocks] == [3, 2, 2]
    draws = [Ranks(rank=r, world=3, shard=True).draws(8) for r in range(3)]
    assert draws == [3, 3, 2]
    seeds = {Ranks(rank=r, world=3).seed(5) for r in range(3)}
    assert len(seeds) == 3 and Ranks(rank=0, world=3).seed(5) == 5


def test_shards_hold_every_series_once_and_balance_their_points():
    lengths = [500, 40, 300, 200, 100, 90, 80]
    shards = [shard_series(lengths, r, 3) for r in range(3)]
    assert sorted(np.concatenate(shards).tolist()) == list(range(7))
    points = [sum(lengths[i] for i in s) for s in shards]
    assert max(points) - min(points) <= 120
    with pytest.raises(ValueError, match="2 series for 3 ranks"):
        shard_series([10, 20], 0, 3)


@pytest.mark.parametrize(
    "backend, device, match",
    [
        ("mpi", "cpu", "backend must be one of"),
        ("nccl", "cpu", "nccl backend needs a CUDA device"),
        (None, "cpu", "needs RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT"),
    ],
)
def test_bad_process_group_settings_are_named(monkeypatch, backend, device, match):
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match=match):
        init_from_env(torch.device(device), backend)


def test_rank_out_of_range_is_named(monkeypatch):
    env = {"RANK": "2", "WORLD_SIZE": "2", "MASTER_ADDR": "localhost"}
    for name, value in {**env, "MASTER_PORT": "1"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=r"RANK must be in \[0, WORLD_SIZE=2\)"):
        init_from_env(torch.device("cpu"))


def test_save_model_writes_nothing_on_another_rank(monkeypatch, tmp_path):
    f = LogSparseTransformerForecaster(**TINY).fit(_worker().panel(), fh=[1, 2])
    monkeypatch.setenv("RANK", "1")
    assert process_rank() == 1
    assert f.save_model(tmp_path / "model") == tmp_path / "model"
    assert not (tmp_path / "model").exists()
    monkeypatch.setenv("RANK", "0")
    f.save_model(tmp_path / "model")
    assert (tmp_path / "model" / "forecaster.json").is_file()


def test_shard_series_must_be_a_bool():
    f = LogSparseTransformerForecaster(**TINY, trainer_kwargs={"shard_series": 1})
    with pytest.raises(TypeError, match=r"trainer_kwargs\['shard_series'\] must be"):
        f.fit(_worker().panel(), fh=[1, 2])
