"""The synthetic long-dependency task of Li et al. (2019, section 5.1), and its models.

Each series is a piecewise sinusoid of ``t0 + 24`` points (noise N(0, 1)):

* points 0-11: ``A1 sin(pi t / 6) + 72``, points 12-23: ``A2 sin(pi t / 6) + 72``,
* points 24 .. t0-1: ``A3 sin(pi t / 6) + 72``,
* the 24 points to forecast: ``A4 sin(pi t / 12) + 72`` with ``A4 = max(A1, A2)``,

``A1, A2, A3 ~ U[0, 60]``. The forecast depends on the first 24 points only,
``t0`` steps back: a model must condition on the whole series to get it.

Three networks share one training loop (:func:`fit`: whole series as
windows, as in the paper; the package's window scaling and Gaussian
likelihood; Adam, clipping, a cosine schedule) and the same inputs (the
scaled previous value, its observed flag, the scaling inputs and one
covariate, the time since the series started over ``t0``):

* ``logsparse`` and ``full``: the package's :class:`LogSparseTransformer`
  with LogSparse or full (causal) attention, sampled by the package's cached
  ancestral sampler;
* ``lstm``: a DeepAR-style recurrent network (2 LSTM layers of 40 cells, the
  DeepAR defaults) with the same likelihood head, sampled ancestrally from its
  recurrent state (:func:`sample_recurrent`).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from sktime_logsparse._sampling import SamplerSettings, _draw, _Paths, sample_paths
from sktime_logsparse._windows import WindowLayout, build_window
from sktime_logsparse.nn import LogSparseConfig, LogSparseTransformer
from sktime_logsparse.nn._likelihoods import get_likelihood

HORIZON = 24
METHODS = ("logsparse", "full", "lstm")


def make_series(t0: int, n: int, seed: int) -> np.ndarray:
    """``n`` synthetic series of ``t0 + 24`` points, float32 ``(n, t0 + 24)``."""
    rng = np.random.default_rng(seed)
    a1, a2, a3 = rng.uniform(0, 60, size=(3, n, 1))
    a4 = np.maximum(a1, a2)
    t = np.arange(t0 + HORIZON)
    fast, slow = np.sin(np.pi * t / 6), np.sin(np.pi * t / 12)
    amplitude = np.where(t < 12, a1, np.where(t < 24, a2, a3))
    values = np.where(t < t0, amplitude * fast, a4 * slow) + 72.0
    values += rng.normal(0.0, 1.0, size=values.shape)
    return values.astype(np.float32)


def layout_for(t0: int) -> WindowLayout:
    """Context ``t0``, horizon 24, no further lags, standard scaling, 1 covariate."""
    return WindowLayout(t0, HORIZON, (), "standard", 1)


def time_covariate(t0: int, n: int) -> np.ndarray:
    """Time since the series started over ``t0``: ``(n, t0 + 24, 1)`` float32."""
    t = np.arange(t0 + HORIZON, dtype=np.float32) / t0
    return np.broadcast_to(t[None, :, None], (n, t0 + HORIZON, 1)).copy()


class TooSlow(RuntimeError):
    """A fit that would exceed its time budget; ``estimate`` in seconds."""

    def __init__(self, estimate: float):
        super().__init__(f"estimated fit time {estimate:.0f} s")
        self.estimate = estimate


def fit(
    network: nn.Module,
    values: np.ndarray,
    layout: WindowLayout,
    windows: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    max_seconds: float | None = None,
) -> list[float]:
    """Train on whole series, as the paper does; the mean NLL of each epoch.

    Each window is one whole series (conditioning range: its first ``t0``
    points), drawn without replacement epoch after epoch until ``windows``
    were trained; every position is a target (teacher forcing), the loss the
    package's likelihood NLL, Adam with gradient-norm clipping at 1 and a
    cosine learning rate.

    Raises :class:`TooSlow` after the second step if the whole fit would take
    more than ``max_seconds`` at the pace of that step.
    """
    generator = torch.Generator().manual_seed(seed)
    raw, cov = _inputs(values, layout, whole=True)
    steps = max(1, windows // batch_size)
    optimizer = torch.optim.Adam(network.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    network.train()
    order, losses, history = torch.empty(0, dtype=torch.long), [], []
    for step in range(steps):
        begin = time.perf_counter()
        if len(order) < batch_size:
            if losses:
                history.append(float(np.mean(losses)))
                losses = []
            order = torch.randperm(len(values), generator=generator)
        rows, order = order[:batch_size], order[batch_size:]
        batch = build_window(raw[rows], cov[rows], layout)
        params = network(batch.x)
        loss = network.likelihood.loss(
            params, batch.target, batch.loc, batch.scale, batch.observed
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if step == 1 and max_seconds is not None:
            estimate = (time.perf_counter() - begin) * steps
            if estimate > max_seconds:
                raise TooSlow(estimate)
    history.append(float(np.mean(losses)))
    return history


class RecurrentNetwork(nn.Module):
    """DeepAR-style LSTM with the package's likelihood head.

    Takes the same inputs as :class:`LogSparseTransformer` and returns the
    same distribution parameters, so the package's training loop trains it.
    """

    def __init__(self, n_inputs: int, hidden: int = 40, layers: int = 2):
        super().__init__()
        self.likelihood = get_likelihood("gaussian")
        self.lstm = nn.LSTM(n_inputs, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, self.likelihood.args_dim)

    def forward(self, x: torch.Tensor, series_id=None, state=None):
        out, _ = self.lstm(x, state)
        return self.likelihood.domain_map(self.head(out))

    def step(self, x: torch.Tensor, state):
        """Parameters of the next position and the new recurrent state."""
        out, state = self.lstm(x, state)
        return self.likelihood.domain_map(self.head(out)), state


def build_network(method: str, layout: WindowLayout, dropout: float) -> nn.Module:
    """A fresh network of ``method`` for ``layout`` (seed the RNG before)."""
    if method == "lstm":
        return RecurrentNetwork(layout.n_inputs)
    config = LogSparseConfig(
        n_inputs=layout.n_inputs,
        d_model=32,
        n_heads=4,
        n_layers=3,
        kernel_size=6,
        attention="logsparse" if method == "logsparse" else "full",
        dropout=dropout,
        max_length=layout.length,
    )
    return LogSparseTransformer(config)


def _inputs(values: np.ndarray, layout: WindowLayout, whole: bool = False):
    """Values from the start (a NaN before it) and covariates, as tensors.

    The first ``t0`` values (a forecast's context), or ``whole`` series.
    """
    t0 = layout.context_length
    S = len(values)
    kept = values if whole else values[:, :t0]
    context = np.concatenate([np.full((S, 1), np.nan, np.float32), kept], 1)
    cov = time_covariate(t0, S)
    return torch.from_numpy(context), torch.from_numpy(cov)


@torch.no_grad()
def sample_recurrent(
    network: RecurrentNetwork, context, covariates, layout: WindowLayout, n: int
) -> torch.Tensor:
    """Ancestral sample paths ``(S, n, 24)`` of the LSTM.

    The conditioning range is run once per series; its state is then copied
    to the ``n`` paths, each feeding its own samples back.
    """
    C = layout.context_length
    first = build_window(context, covariates[:, :C], layout)
    _, (h, c) = network.lstm(first.x)
    state = (h.repeat_interleave(n, 1), c.repeat_interleave(n, 1))
    paths = _Paths(context, n, HORIZON, first.loc, first.scale, layout)
    for i in range(HORIZON):
        x = paths.inputs(covariates, 0, C + i, C + i + 1)
        params, state = network.step(x, state)
        paths.samples[:, i] = _draw(
            network.likelihood, params[:, 0], paths.scale, paths.loc, None
        )
    return paths.samples.reshape(len(context), n, HORIZON)


@torch.no_grad()
def forecast(
    method: str,
    network: nn.Module,
    values: np.ndarray,
    layout: WindowLayout,
    n: int,
    batch: int,
) -> np.ndarray:
    """Sample paths ``(S, n, 24)`` for series ``values`` (their first t0 points)."""
    network.eval()
    out = []
    for lo in range(0, len(values), batch):
        context, cov = _inputs(values[lo : lo + batch], layout)
        if method == "lstm":
            out.append(sample_recurrent(network, context, cov, layout, n))
        else:
            settings = SamplerSettings(HORIZON, n)
            out.append(sample_paths(network, context, cov, None, layout, settings))
    return torch.cat(out).numpy()


def rho_risk(y: np.ndarray, paths: np.ndarray, rho: float) -> float:
    """The paper's R_rho of the ``rho`` quantile of the paths (see metrics.py)."""
    q = np.quantile(paths, rho, axis=1)
    diff = y - q
    loss = np.where(diff >= 0, rho * diff, (rho - 1) * diff)
    return float(2 * loss.sum() / np.abs(y).sum())


def dense_attention_bytes(length: int, batch: int, heads: int = 4) -> float:
    """Bytes of one dense (L, L) float32 score tensor of a batch: for notes."""
    return 4.0 * batch * heads * length * length
