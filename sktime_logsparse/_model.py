"""The global model behind the forecaster: network, device, seeds; numpy in and out.

This is the seam between the pandas side (the sktime adapter and ``_data``) and
the tensor side (network, training, sampling): everything crosses it as numpy
arrays, and every torch call runs with the global RNG state saved and restored.
"""

from __future__ import annotations

import contextlib
import copy
import secrets

import numpy as np
import torch

from ._sampling import sample_paths
from ._training import SeriesTensors, TrainConfig, TrainResult, train
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


def new_seed() -> int:
    """A fresh seed that does not touch any global RNG."""
    return secrets.randbits(63)


@contextlib.contextmanager
def isolated_rng(seed: int, device: torch.device):
    """Seed torch inside the block and restore the global RNG state after it."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class GlobalModel:
    """One LogSparse network shared by every series, with its window layout.

    Parameters
    ----------
    config : LogSparseConfig
        Network settings; ``max_length`` must equal the window length.
    context_length, prediction_length : int
        Window layout used in training and sampling.
    scaling : {"mean", "standard", None}
        How each window is scaled (see :func:`build_window`).
    lags : tuple of int
        Lagged targets in the input besides the previous one.
    device : torch.device
    seed : int
        Seed of the weight initialisation.
    """

    def __init__(
        self,
        config: LogSparseConfig,
        context_length: int,
        prediction_length: int,
        scaling: str | None,
        lags: tuple[int, ...],
        device: torch.device,
        seed: int,
    ):
        self.config = config
        self.context_length = context_length
        self.prediction_length = prediction_length
        self.scaling = scaling
        self.lags = tuple(lags)
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

    def train(
        self,
        values: list[np.ndarray],
        covariates: list[np.ndarray],
        series_id: np.ndarray,
        seed: int,
        **settings,
    ) -> TrainResult:
        """Train on series ``values[i]`` ``(T_i,)`` with ``covariates[i]`` ``(T_i, C)``.

        ``settings`` are the fields of :class:`TrainConfig` other than the
        window layout and scaling, which are the model's.
        """
        settings = TrainConfig(
            context_length=self.context_length,
            prediction_length=self.prediction_length,
            scaling=self.scaling,
            lags=self.lags,
            **settings,
        )
        W = self.context_length + self.prediction_length
        pad = W + settings.lead
        data = SeriesTensors.from_arrays(values, covariates, series_id, pad=pad)
        with isolated_rng(seed, self.device):
            generator = torch.Generator().manual_seed(seed)
            return train(self.network, data.to(self.device), settings, generator)

    def sample(
        self,
        context: np.ndarray,
        covariates: np.ndarray,
        series_id: np.ndarray,
        horizon: int,
        num_samples: int,
        seeds: np.ndarray,
    ) -> np.ndarray:
        """Sample paths ``(S, num_samples, horizon)`` (see :func:`sample_paths`).

        ``seeds`` holds one seed per series: a series' paths depend on its seed
        only, not on the other series sampled with it. On the CPU, batches of
        series are decoded by ``torch.get_num_threads()`` threads with one
        intra-op thread each (``workers`` of :func:`sample_paths`).
        """
        dev = self.device
        with isolated_rng(int(seeds[0]) if len(seeds) else 0, dev):
            generators = [
                torch.Generator(device=dev).manual_seed(int(s)) for s in seeds
            ]
            paths = sample_paths(
                self.network.eval(),
                torch.as_tensor(context, dtype=torch.float32, device=dev),
                torch.as_tensor(covariates, dtype=torch.float32, device=dev),
                torch.as_tensor(series_id, dtype=torch.long, device=dev),
                horizon,
                num_samples,
                self.context_length,
                self.prediction_length,
                self.scaling,
                self.lags,
                generators,
                # on the CPU: batches of series in parallel threads, each with
                # one intra-op thread (robust to other processes on the cores)
                workers=torch.get_num_threads() if dev.type == "cpu" else 1,
            )
        return paths.cpu().numpy().astype(np.float64)
