"""The global model: one network, its window layout and its device.

Also the device choice, the seeding rules (every torch call of training and
sampling runs inside :func:`isolated_rng`, so the global RNG state is saved
and restored around it) and mixed precision (:func:`mixed_precision`).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import secrets

import numpy as np
import torch

from ._memory import check_model_memory
from ._windows import WindowLayout
from .nn import LogSparseConfig, LogSparseTransformer


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"``: cuda, then mps, then cpu; otherwise the named device.

    Raises
    ------
    ValueError
        If the device is unknown or not available here.
    """
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"device must be 'auto' or a torch device, got {device!r}"
        ) from err
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": bool(getattr(torch.backends, "mps", None))
        and torch.backends.mps.is_available(),
    }
    if not available.get(dev.type, False):
        raise ValueError(f"device {device!r} is not available on this machine")
    if (
        dev.type == "cuda"
        and dev.index is not None
        and dev.index >= torch.cuda.device_count()
    ):
        raise ValueError(f"device {device!r} is not available on this machine")
    return dev


#: ``trainer_kwargs["precision"]``: the dtype the network computes in under
#: autocast (None: float32 throughout), named as Lightning names them
PRECISIONS: dict[str, torch.dtype | None] = {"32": None, "bf16-mixed": torch.bfloat16}


@contextlib.contextmanager
def mixed_precision(model: GlobalModel, precision: str):
    """Run ``model``'s network under autocast to ``precision`` inside the block.

    The network enters autocast in each forward and decoding call (autocast
    is per thread, and sampling decodes in worker threads); its head, the
    linear autoregression and the likelihood stay float32, and so do the
    weights, the optimiser state and the gradients. Restored on exit, so
    that nothing of it is saved with the model.
    """
    dtype = PRECISIONS[precision]
    network = model.network
    if dtype is not None and model.device.type not in ("cpu", "cuda"):
        raise ValueError(
            f"trainer_kwargs['precision']={precision!r} needs device 'cpu' or "
            f"'cuda', got {model.device}"
        )
    before = network.autocast_dtype
    network.autocast_dtype = dtype
    try:
        yield
    finally:
        network.autocast_dtype = before


def new_seed() -> int:
    """A fresh seed that does not touch any global RNG."""
    return secrets.randbits(63)


#: the purposes a forecaster draws seeds for, and their tags
_PURPOSES = {"init": 0, "train": 1, "predict": 2}


def seed_for(random_state: int | None, purpose: str) -> int:
    """Seed for ``purpose`` derived from ``random_state``, or fresh if None."""
    if random_state is None:
        return new_seed()
    seq = np.random.SeedSequence([int(random_state), _PURPOSES[purpose]])
    return int(seq.generate_state(1, dtype=np.uint64)[0] >> 1)


def stable_hash(obj) -> int:
    """A 63-bit hash of ``repr(obj)`` that is the same in every process."""
    digest = hashlib.blake2b(repr(obj).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def series_seeds(seed: int, keys: list) -> np.ndarray:
    """One sampling seed per series, from a model's seed and the series key.

    A series gets the same paths whether it is predicted alone or in a panel.
    """
    return np.array([stable_hash((seed, repr(key))) for key in keys], dtype=np.int64)


@contextlib.contextmanager
def isolated_rng(seed: int, device: torch.device):
    """Seed torch inside the block and restore the global RNG state after it."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class GlobalModel:
    """One LogSparse network shared by every series, with its window layout.

    Training (:func:`~sktime_logsparse._training.fit_model`) and sampling
    (:func:`~sktime_logsparse._sampling.forecast`) take it with numpy arrays.

    Parameters
    ----------
    config : LogSparseConfig
        Network settings; ``max_length`` must equal the window length.
    layout : WindowLayout
        Window layout used in training and sampling.
    device : torch.device
    seed : int
        Seed of the weight initialisation.
    """

    def __init__(
        self,
        config: LogSparseConfig,
        layout: WindowLayout,
        device: torch.device,
        seed: int,
    ):
        assert config.max_length == layout.length
        assert config.n_inputs == layout.n_inputs
        self.config = config
        self.layout = layout
        self.device = device
        with isolated_rng(seed, device):
            self.network = LogSparseTransformer(config).to(device).eval()

    def __getstate__(self):
        # pickles are device-free: weights travel on the CPU
        state = self.__dict__.copy()
        state["network"] = copy.deepcopy(self.network).cpu()
        state["device"] = torch.device("cpu")
        return state

    def to(self, device: torch.device) -> GlobalModel:
        """Move the network to ``device`` (in place)."""
        self.device = device
        self.network.to(device)
        return self

    def copy(self) -> GlobalModel:
        """An independent deep copy (weights included)."""
        return copy.deepcopy(self)


def build_model(
    settings, layout: WindowLayout, n_series: int, seed: int
) -> GlobalModel:
    """A new model for ``layout`` from the forecaster's resolved ``settings``.

    ``n_series`` is the size of the series-id embedding table.

    Raises
    ------
    ValueError
        If the weights would not fit in memory while training (before any is
        allocated; see :mod:`._memory`).
    """
    likelihood = settings.likelihood_

    def optional(value):  # numpy integers from a grid become Python ints
        return None if value is None else int(value)

    config = LogSparseConfig(
        n_inputs=layout.n_inputs,
        d_model=int(settings.d_model),
        n_heads=int(settings.n_heads),
        n_layers=int(settings.n_layers),
        kernel_size=int(settings.kernel_size),
        attention=settings.attention,
        local_window=optional(settings.local_window),
        sub_len=optional(settings.sub_len),
        dropout=float(settings.dropout),
        max_length=layout.length,
        n_series=n_series,
        likelihood=settings.likelihood,
        ar_skip=bool(settings.linear_ar) and likelihood.loc_index is not None,
    )
    device = resolve_device(settings.device)
    check_model_memory(config, layout, device)
    return GlobalModel(config, layout, device, seed)
