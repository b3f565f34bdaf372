"""Data-parallel training on ``torch.distributed``: one model, many processes.

Under ``torchrun`` a plain script's ``fit`` trains one model across all ranks.
:func:`join` uses the default process group the script initialised, or sets
one up from the launcher's environment (gloo on the CPU; nccl on CUDA, each
rank on ``cuda:LOCAL_RANK``), destroyed at exit. :class:`Ranks` then tells
the training loop what each rank does:

* Every rank draws the same windows from the same generator as one process
  and trains on the r-th of W contiguous blocks of each batch, its
  masked-mean loss weighted by ``W n_r / N`` (``n_r`` observed targets here,
  ``N`` all-reduced): the gradient DDP averages is that of one process.
* Validation and calibration windows are split alike and keep their seeds;
  sums are all-reduced, the calibration's per-point needs gathered. Epoch
  losses, scores and the deadline are rank 0's; any rank's Ctrl-C stops all
  at the same step: ranks never disagree on the number of steps.
* Sharded (``trainer_kwargs={"shard_series": True}``): each rank lays out its
  own series (:func:`._series.shard_series`) and draws its share of each
  batch from them, seeded from ``random_state`` and its rank.

Dropout masks are seeded per rank (rank 0 as one process). With one rank
every helper is the identity: training is exactly that of one process.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from ._series import WindowIndex, shard_series

logger = logging.getLogger(__name__)

#: the variables a launcher sets for ``env://`` rendezvous (torchrun does)
ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
BACKENDS = ("gloo", "nccl")
_CPU = torch.device("cpu")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    try:
        return int(value) if value else default
    except ValueError as err:
        raise ValueError(f"{name} must be an int, got {value!r}") from err


def process_rank() -> int:
    """The rank of this process: in the default process group, else ``RANK`` or 0."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return _env_int("RANK", 0)


def local_device(device: torch.device) -> torch.device:
    """``cuda`` without an index: this rank's GPU, ``cuda:LOCAL_RANK``."""
    if device.type != "cuda" or device.index is not None:
        return device
    local = os.environ.get("LOCAL_RANK")
    index = _env_int("LOCAL_RANK", 0) if local else torch.cuda.current_device()
    return torch.device("cuda", index)


def init_from_env(device: torch.device, backend: str | None = None) -> None:
    """Initialise the default process group from the launcher's environment.

    Parameters
    ----------
    device : torch.device
        The device this rank trains on (a CUDA one with nccl).
    backend : {"gloo", "nccl"} or None, default=None
        None: nccl on CUDA, gloo otherwise.

    Raises
    ------
    ValueError
        If ``backend`` is unknown, nccl is asked for without a CUDA device,
        or a variable of :data:`ENV` is missing or invalid.
    """
    if backend is None:
        backend = "nccl" if device.type == "cuda" else "gloo"
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} or None, got {backend!r}")
    if backend == "nccl" and device.type != "cuda":
        raise ValueError(f"the nccl backend needs a CUDA device, not {str(device)!r}")
    missing = [name for name in ENV if not os.environ.get(name)]
    if missing:
        raise ValueError(
            f"a process group set up from the environment needs {', '.join(missing)}"
            " (torchrun sets them all)"
        )
    rank, world = _env_int("RANK", 0), _env_int("WORLD_SIZE", 1)
    if not 0 <= rank < world:
        raise ValueError(f"RANK must be in [0, WORLD_SIZE={world}), got {rank}")
    options = {}
    if backend == "nccl":
        options["device_id"] = local_device(device)
        torch.cuda.set_device(options["device_id"])
    dist.init_process_group(backend, rank=rank, world_size=world, **options)
    atexit.register(_teardown)
    logger.debug("rank %d of %d: %s process group set up", rank, world, backend)


def _teardown() -> None:
    """Destroy the process group :func:`init_from_env` set up (at exit)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def join(model, config) -> Ranks:
    """The ranks that train ``model`` (a ``GlobalModel``) with ``config``.

    One process (:data:`SINGLE`) without a process group of several ranks;
    the default group otherwise, set up from the environment where
    ``WORLD_SIZE`` > 1 and the script did not. A model on ``cuda`` moves to
    this rank's GPU.

    Raises
    ------
    ValueError
        If ``config.batch_size`` is below the number of ranks, or a CPU model
        would train over an nccl-only process group.
    RuntimeError
        If ``WORLD_SIZE`` > 1 but this torch has no ``torch.distributed``.
    """
    if not (dist.is_available() and dist.is_initialized()):
        if _env_int("WORLD_SIZE", 1) <= 1:
            return SINGLE
        if not dist.is_available():
            raise RuntimeError("WORLD_SIZE > 1, but torch.distributed is unavailable")
        init_from_env(local_device(model.device))
    world = dist.get_world_size()
    if world == 1:
        return SINGLE
    if config.batch_size < world:
        raise ValueError(
            f"batch_size must be at least the number of ranks ({world}), got "
            f"{config.batch_size}: every rank trains on a share of each batch"
        )
    device = local_device(model.device)
    backend = str(dist.get_backend())
    if device.type != "cuda" and backend == "nccl":
        raise ValueError(f"the nccl process group needs device='cuda', got {device}")
    if device.type == "cuda":  # collectives of objects use the current device
        torch.cuda.set_device(device)
    if device != model.device:
        model.to(device)
    comm = device if device.type == "cuda" and "nccl" in backend else _CPU
    return Ranks(dist.get_rank(), world, bool(config.shard_series), comm)


@dataclass(frozen=True)
class Ranks:
    """The processes that train one model, as the training loop sees them.

    ``device`` holds the tensors of collectives (the GPU with nccl, else the
    CPU).
    """

    rank: int = 0
    world: int = 1
    shard: bool = False
    device: torch.device = _CPU

    @property
    def leader(self) -> bool:
        """Rank 0: it shows progress and writes files."""
        return self.rank == 0

    def seed(self, seed: int) -> int:
        """Rank 0's is ``seed``; other ranks' are derived from it and the rank."""
        if self.rank == 0:
            return seed
        seq = np.random.SeedSequence([int(seed), self.rank])
        return int(seq.generate_state(1, dtype=np.uint64)[0] >> 1)

    def window_seed(self, seed: int) -> int:
        """Seed of the window draws: ``seed`` on every rank, per rank if sharded."""
        return self.seed(seed) if self.shard else seed

    def own(self, values: list, covariates: list, series_id: np.ndarray) -> tuple:
        """The series this rank lays out: its shard (:func:`shard_series`), or all."""
        if not self.shard:
            return values, covariates, series_id
        mine = shard_series([len(v) for v in values], self.rank, self.world)
        series_id = np.asarray(series_id)[mine]
        return [values[i] for i in mine], [covariates[i] for i in mine], series_id

    def progress(self, epochs: int, verbose: bool) -> tqdm:
        """The progress bar over ``epochs``: shown by rank 0 where ``verbose``."""
        disable = not (verbose and self.leader)
        return tqdm(range(epochs), disable=disable, desc="training", unit="epoch")

    def draws(self, n: int) -> int:
        """Rows this rank draws where one process draws ``n``."""
        if not self.shard:
            return n  # the same rows as every rank, then its block (local)
        return n // self.world + int(self.rank < n % self.world)

    def local(self, rows: torch.Tensor) -> torch.Tensor:
        """The block of the last axis of ``rows`` (drawn alike by all) of this rank."""
        if self.world == 1 or self.shard:
            return rows
        return rows.tensor_split(self.world, dim=-1)[self.rank]

    def total(self, n: int) -> int:
        """``n`` summed over the shards (as is unless sharded)."""
        return int(self.all_sum([n])[0]) if self.shard else n

    def lengths(self, data) -> torch.Tensor:
        """Series lengths of ``data`` (``SeriesTensors``), of every shard."""
        lengths = data.lengths.cpu()
        return torch.cat(self.gather(lengths)) if self.shard else lengths

    def validation(self, val: WindowIndex | None, like: WindowIndex):
        """``val``, empty where another shard holds validation windows."""
        # every shard takes part in the all-reduce, whatever it holds
        if not self.shard or not self.all_sum([val is not None])[0] or val is not None:
            return val
        empty = torch.zeros(0, dtype=torch.long)
        return WindowIndex(empty, empty, like.first_target)

    def validation_rows(self, n: int) -> tuple[torch.Tensor, int]:
        """The validation windows this rank scores, and the offset of their seeds."""
        rows = torch.arange(n)
        if not self.shard:
            return self.local(rows), 0
        return rows, sum(self.gather(n)[: self.rank])  # seeded after lower ranks

    def all_sum(self, values: Sequence[float]) -> list[float]:
        """``values`` summed over the ranks, in float64 (one all-reduce)."""
        if self.world == 1:
            return [float(v) for v in values]
        total = torch.tensor([float(v) for v in values], dtype=torch.float64)
        total = total.to(self.device)
        dist.all_reduce(total)
        return total.tolist()

    def gather(self, obj) -> list:
        """``obj`` of every rank, in rank order (pickled: for small objects)."""
        if self.world == 1:
            return [obj]
        out: list = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def agree(self, value: float, flag: bool = False) -> tuple[float, bool]:
        """Rank 0's ``value``, and whether any rank raised ``flag``."""
        if self.world == 1:
            return value, flag
        # the others add zeros: rank 0's value exactly, also inf or nan
        total, raised = self.all_sum([value if self.leader else 0.0, flag])
        return total, raised > 0

    def scorer(self, score):
        """``score(network, data, windows, layout, config)`` of all ranks: rank 0's.

        Every rank scores its share of the windows (``score(..., ranks=self)``).
        """
        if self.world == 1:
            return score
        return lambda *args: self.agree(score(*args, ranks=self))[0]

    def step(
        self, observed: torch.Tensor, reason: str | None
    ) -> tuple[float, str | None]:
        """The weight of this rank's loss of a step, and why to stop, agreed.

        ``observed``: the targets of this rank's share of the batch. Rank 0's
        clock decides ``max_fit_seconds``; any rank's Ctrl-C stops them all.
        """
        if self.world == 1:
            return 1.0, reason
        n = float(observed.sum())
        late = self.leader and reason == "max_fit_seconds"
        count, late, stop = self.all_sum([n, late, reason == "interrupted"])
        reason = "interrupted" if stop else ("max_fit_seconds" if late else None)
        return self.world * n / max(count, 1.0), reason

    def value(self, loss: torch.Tensor) -> float:
        """The loss of the whole batch: the mean of the ranks' weighted losses."""
        if self.world == 1:
            return loss.item()
        return self.all_sum([loss.item()])[0] / self.world

    def wrap(self, network: torch.nn.Module) -> torch.nn.Module:
        """``network`` in ``DistributedDataParallel`` (as is on one rank)."""
        if self.world == 1:
            return network
        ids = [self.device.index] if self.device.type == "cuda" else None
        ddp = torch.nn.parallel.DistributedDataParallel
        return ddp(network, device_ids=ids)  # the network has no buffers

    def sync_weights(self, network: torch.nn.Module) -> None:
        """Rank 0's parameters and buffers on every rank."""
        if self.world > 1:
            for tensor in network.state_dict().values():
                dist.broadcast(tensor, src=0)

    @contextlib.contextmanager
    def leader_warnings(self) -> Iterator[None]:
        """Warnings of the block shown by rank 0 only (logged at debug elsewhere)."""
        if self.leader:
            yield
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for w in caught:
            logger.debug("rank %d: %s", self.rank, w.message)


#: one process: every helper of :class:`Ranks` is the identity
SINGLE = Ranks()
