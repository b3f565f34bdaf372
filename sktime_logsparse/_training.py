"""Training: windows drawn from every series, early stopping, best weights.

All series of a panel are laid end to end in one flat tensor, each preceded by
``W`` NaN (padding), so that any window is one gather of ``W + 1`` consecutive
entries. Windows are described by the flat index of their last target.
"""

from __future__ import annotations

import copy
import logging
import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from ._sampling import sample_paths
from ._windows import WindowBatch, build_window

logger = logging.getLogger(__name__)


@dataclass
class SeriesTensors:
    """Every series of a panel in one flat layout.

    Attributes
    ----------
    z : torch.Tensor
        shape: ``(N,)``; values, NaN where missing or padding.
    cov : torch.Tensor
        shape: ``(N, C)``; covariates of each entry (zeros on padding).
    starts : torch.Tensor
        shape: ``(S,)``, long; flat index of each series' first value.
    lengths : torch.Tensor
        shape: ``(S,)``, long.
    series_id : torch.Tensor
        shape: ``(S,)``, long; embedding id, -1 for none.
    pad : int
        Padding before each series (the window length).
    """

    z: torch.Tensor
    cov: torch.Tensor
    starts: torch.Tensor
    lengths: torch.Tensor
    series_id: torch.Tensor
    pad: int

    @classmethod
    def from_arrays(
        cls,
        values: list[np.ndarray],
        covariates: list[np.ndarray],
        series_id: np.ndarray,
        pad: int,
    ) -> SeriesTensors:
        """Lay out ``values[i]`` ``(T_i,)`` with ``covariates[i]`` ``(T_i, C)``."""
        n_cov = covariates[0].shape[1]
        lengths = np.array([len(v) for v in values], dtype=np.int64)
        starts = np.cumsum(lengths + pad) - lengths
        total = int(lengths.sum() + pad * len(values))
        z = np.full(total, np.nan, dtype=np.float32)
        cov = np.zeros((total, n_cov), dtype=np.float32)
        for s, v, c in zip(starts, values, covariates, strict=True):
            z[s : s + len(v)] = v
            cov[s : s + len(v)] = c
        return cls(
            torch.from_numpy(z),
            torch.from_numpy(cov),
            torch.from_numpy(starts),
            torch.from_numpy(lengths),
            torch.as_tensor(series_id, dtype=torch.long),
            pad,
        )

    def to(self, device: torch.device) -> SeriesTensors:
        """Copy to ``device``."""
        return SeriesTensors(
            self.z.to(device),
            self.cov.to(device),
            self.starts.to(device),
            self.lengths.to(device),
            self.series_id.to(device),
            self.pad,
        )

    def windows(self, ends: torch.Tensor, length: int, lead: int = 1):
        """Raw values ``(B, lead + length)`` and covariates ``(B, length, C)``.

        The last ``length`` values are the window's targets, ending at ``ends``.
        """
        idx = ends.unsqueeze(1) + torch.arange(1 - length - lead, 1, device=ends.device)
        return self.z[idx], self.cov[idx[:, lead:]]


@dataclass
class WindowIndex:
    """Candidate windows.

    ``ends``: flat index of each window's last target; ``series``: its series;
    ``first_target``: per series, the first position whose target is trained on.
    """

    ends: torch.Tensor
    series: torch.Tensor
    first_target: torch.Tensor
    weights: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.ends.numel())


def make_windows(
    data: SeriesTensors,
    context_length: int,
    prediction_length: int,
    validation: bool,
    sampling: str = "uniform",
    lead: int = 1,
) -> tuple[WindowIndex, WindowIndex | None]:
    """Training and validation windows.

    With ``validation``, every series longer than ``prediction_length + 1``
    holds out its last ``prediction_length`` points: one validation window
    ends there, and no training target lies there.

    A target is trained on only from position ``lead`` of its series (the
    longest lag) on, where every lagged input lies inside the series; before
    that the lags would read padding, which never happens when forecasting
    series as long as the lags, and zeros there teach the network dynamics
    that damp its forecasts. Series shorter than ``2 * lead`` are trained on
    from their middle. Training windows end at any trained target whose
    window conditions on at least half a context of observed values (on
    fewer, the window's scale is a poor guess; a series too short for that
    has one window, at its end); where a series is short they are left-padded.
    """
    P, W = prediction_length, context_length + prediction_length
    lengths = data.lengths.cpu()
    held = (lengths > P + 1) & validation
    train_len = lengths - P * held
    first_target = torch.minimum(torch.full_like(lengths, lead), lengths // 2)
    val = None
    if bool(held.any()):
        sid = held.nonzero().flatten()
        val = WindowIndex(data.starts.cpu()[sid] + lengths[sid] - 1, sid, first_target)
    # the conditioning range of a window ending at e holds e - P + 1 values
    first = first_target.clamp_min(P - 1 + (context_length + 1) // 2)
    first = torch.minimum(first, train_len - 1)
    counts = train_len - first
    series = torch.repeat_interleave(torch.arange(len(lengths)), counts)
    offset = torch.arange(int(counts.sum())) - torch.repeat_interleave(
        torch.cumsum(counts, 0) - counts, counts
    )
    ends = data.starts.cpu()[series] + first[series] + offset
    weights = None
    if sampling == "scale":
        weights = _window_scales(data.z.cpu(), ends, W, context_length)
    return WindowIndex(ends, series, first_target, weights), val


def _window_scales(z: torch.Tensor, ends: torch.Tensor, W: int, C: int):
    """``1 + mean |z|`` over each window's conditioning targets (cumulative sums)."""
    observed = ~torch.isnan(z)
    absz = torch.where(observed, z.abs(), torch.zeros_like(z)).double()
    cs = torch.cat([absz.new_zeros(1), absz.cumsum(0)])
    cn = torch.cat([absz.new_zeros(1), observed.double().cumsum(0)])
    lo, hi = ends - W + 1, ends - W + C + 1  # conditioning targets [lo, hi)
    return (1 + (cs[hi] - cs[lo]) / (cn[hi] - cn[lo]).clamp_min(1)).float()


@dataclass
class TrainConfig:
    """Settings of :func:`train` (see the forecaster's parameters)."""

    context_length: int
    prediction_length: int
    max_epochs: int = 50
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    gradient_clip: float | None = 1.0
    early_stopping_patience: int | None = 5
    windows_per_epoch: int | None = None
    window_sampling: str = "uniform"
    lr_schedule: str | None = None
    max_fit_seconds: float | None = None
    scaling: str | None = "mean"
    id_dropout: float = 0.1
    lags: tuple[int, ...] = ()
    keep_initial: bool = False
    validation_metric: str = "nll"
    validation_samples: int = 16
    fit_skip: bool = False
    verbose: bool = False

    @property
    def lead(self) -> int:
        """History a window needs before its first target."""
        return max((1, *self.lags))


@dataclass
class TrainResult:
    """What happened during :func:`train`."""

    history: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    best_loss: float = math.inf
    stop_reason: str = "max_epochs"


def window_loss(
    network: torch.nn.Module,
    batch: WindowBatch,
    series_id: torch.Tensor | None,
    loss_from: int = 0,
) -> torch.Tensor:
    """Mean negative log-likelihood over the observed targets from ``loss_from``."""
    params = network(batch.x, series_id)
    log_prob = network.likelihood.log_prob(
        params, batch.scale.unsqueeze(-1), batch.target - batch.loc.unsqueeze(-1)
    )
    mask = batch.observed.clone()
    mask[:, :loss_from] = False
    return -(log_prob * mask).sum() / mask.sum().clamp_min(1)


def _batch(data, windows: WindowIndex, rows, config: TrainConfig):
    W = config.context_length + config.prediction_length
    raw, cov = data.windows(windows.ends[rows], W, config.lead)
    batch = build_window(
        raw, cov, config.context_length, config.scaling, lags=config.lags
    )
    device = raw.device
    series = windows.series[rows].to(device)
    ids = data.series_id[series]
    # targets before the first trained position of their series are not scored
    first = (
        windows.first_target.to(device)[series]
        + data.starts[series]
        - windows.ends[rows].to(device)
        + (W - 1)
    )
    batch.observed &= torch.arange(W, device=device) >= first.unsqueeze(1)
    return batch, ids


@torch.no_grad()
def evaluate(network, data, windows: WindowIndex, config: TrainConfig) -> float:
    """Mean NLL of the prediction range of ``windows`` (eval mode)."""
    was_training = network.training
    network.eval()
    total, count = 0.0, 0
    for rows in torch.arange(len(windows), device=data.z.device).split(
        config.batch_size
    ):
        batch, ids = _batch(data, windows, rows, config)
        n = int(batch.observed[:, config.context_length :].sum())
        loss = window_loss(network, batch, ids, loss_from=config.context_length)
        total, count = total + float(loss) * n, count + n
    network.train(was_training)
    return total / max(count, 1)


@torch.no_grad()
def evaluate_crps(network, data, windows: WindowIndex, config: TrainConfig) -> float:
    """Mean scaled CRPS of sampled forecasts of the prediction range of ``windows``.

    The paths are drawn with fixed seeds (the same noise at every epoch), so
    that differences between epochs are those of the weights.
    """
    C, P, R = config.context_length, config.prediction_length, config.lead
    n = config.validation_samples
    was_training = network.training
    network.eval()
    total, count = 0.0, 0
    for rows in torch.arange(len(windows), device=data.z.device).split(256):
        raw, cov = data.windows(windows.ends[rows], C + P, R)
        ids = data.series_id[windows.series[rows]]
        scale = build_window(raw, cov, C, config.scaling, lags=config.lags).scale
        gens = [torch.Generator(device=raw.device).manual_seed(int(i)) for i in rows]
        paths = sample_paths(
            network,
            raw[:, : R + C],
            cov,
            ids,
            P,
            n,
            C,
            P,
            config.scaling,
            config.lags,
            gens,
        )  # (B, n, P)
        target = raw[:, R + C :]
        observed = ~torch.isnan(target)
        target = torch.where(observed, target, torch.zeros_like(target))
        spread = (paths.unsqueeze(1) - paths.unsqueeze(2)).abs().mean((1, 2))
        crps = (paths - target.unsqueeze(1)).abs().mean(1) - 0.5 * spread
        crps = crps / scale.unsqueeze(-1)
        total += float((crps * observed).sum())
        count += int(observed.sum())
    network.train(was_training)
    return total / max(count, 1)


def train(
    network: torch.nn.Module,
    data: SeriesTensors,
    config: TrainConfig,
    generator: torch.Generator,
) -> TrainResult:
    """Fit ``network`` on windows of ``data`` and keep the best weights.

    The network is trained in place and left holding the weights of the best
    epoch (lowest validation NLL, or training NLL when no series is long
    enough to hold out a validation range).

    Parameters
    ----------
    network : LogSparseTransformer
        On the same device as ``data``.
    data : SeriesTensors
    config : TrainConfig
    generator : torch.Generator
        CPU generator for window sampling and id dropout.

    Returns
    -------
    TrainResult

    Raises
    ------
    RuntimeError
        If the loss is NaN or infinite before any epoch completed.
    """
    device = data.z.device
    validation = config.early_stopping_patience is not None
    train_w, val_w = make_windows(
        data,
        config.context_length,
        config.prediction_length,
        validation,
        config.window_sampling,
        config.lead,
    )
    skip = getattr(network, "skip", None)
    if skip is not None and config.fit_skip:
        fit_skip(network, data, train_w, config, generator)
    # the linear skip is fitted by least squares, never by gradient
    fixed = set() if skip is None else {id(p) for p in skip.parameters()}
    trained = [p for p in network.parameters() if id(p) not in fixed]
    n_windows = config.windows_per_epoch or len(train_w)
    steps = max(1, math.ceil(n_windows / config.batch_size))
    optimizer = torch.optim.Adam(
        trained, lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = _scheduler(optimizer, config)
    val_fn = evaluate_crps if config.validation_metric == "crps" else evaluate
    result = TrainResult()
    best_state, bad_epochs = None, 0
    if config.keep_initial and val_w is not None:
        # fine-tuning: the starting weights compete with every epoch, so that
        # a fine-tune that only hurts the validation loss leaves them in place
        result.best_loss = val_fn(network, data, val_w, config)
        best_state = copy.deepcopy(network.state_dict())
    start = time.perf_counter()
    epochs = tqdm(
        range(config.max_epochs),
        disable=not config.verbose,
        desc="training",
        unit="epoch",
    )
    for epoch in epochs:
        network.train()
        if train_w.weights is None:
            rows = torch.randint(
                len(train_w), (steps * config.batch_size,), generator=generator
            )
        else:
            rows = torch.multinomial(
                train_w.weights,
                steps * config.batch_size,
                replacement=True,
                generator=generator,
            )
        drop = torch.rand(len(rows), generator=generator) < config.id_dropout
        losses, diverged, timed_out = [], False, False
        for b in range(steps):
            sl = slice(b * config.batch_size, (b + 1) * config.batch_size)
            batch, ids = _batch(data, train_w, rows[sl].to(device), config)
            ids = torch.where(drop[sl].to(device), torch.full_like(ids, -1), ids)
            loss = window_loss(network, batch, ids)
            if not torch.isfinite(loss):
                diverged = True
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.gradient_clip:
                torch.nn.utils.clip_grad_norm_(trained, config.gradient_clip)
            optimizer.step()
            losses.append(loss.item())
            if (
                config.max_fit_seconds
                and time.perf_counter() - start > config.max_fit_seconds
            ):
                timed_out = True
                break
        if diverged:
            result.stop_reason = "diverged"
            if best_state is None:
                raise RuntimeError(
                    "training diverged (non-finite loss) before the first epoch "
                    "completed; try a lower learning_rate or gradient_clip"
                )
            warnings.warn(
                f"training stopped at epoch {epoch}: non-finite loss; keeping the "
                "weights of "
                + (
                    "the start"
                    if result.best_epoch is None
                    else f"epoch {result.best_epoch}"
                ),
                RuntimeWarning,
                stacklevel=3,
            )
            break
        train_loss = float(np.mean(losses)) if losses else math.nan
        val_loss = val_fn(network, data, val_w, config) if val_w is not None else None
        score = val_loss if val_loss is not None else train_loss
        result.history.append(
            {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss}
        )
        logger.info("epoch %d: train %.4f, validation %s", epoch, train_loss, val_loss)
        epochs.set_postfix(
            train=f"{train_loss:.4f}",
            val=f"{val_loss:.4f}" if val_loss is not None else "-",
        )
        if math.isfinite(score) and score < result.best_loss:
            result.best_loss, result.best_epoch, bad_epochs = score, epoch, 0
            best_state = copy.deepcopy(network.state_dict())
        else:
            bad_epochs += 1
        if timed_out:
            result.stop_reason = "max_fit_seconds"
            break
        if (
            validation
            and val_w is not None
            and bad_epochs >= config.early_stopping_patience
        ):
            result.stop_reason = "early_stopping"
            break
        if scheduler is not None:
            scheduler.step(
                score
            ) if config.lr_schedule == "plateau" else scheduler.step()
    epochs.close()
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return result


@torch.no_grad()
def fit_skip(
    network: torch.nn.Module,
    data: SeriesTensors,
    windows: WindowIndex,
    config: TrainConfig,
    generator: torch.Generator,
    n_windows: int = 4096,
) -> None:
    """Fit the network's linear skip by least squares on training windows.

    The skip maps a step's inputs (lagged targets, covariates) to the location
    of the scaled target; it is fitted to the trained targets of up to
    ``n_windows`` windows drawn at random, in float64.
    """
    rows = torch.randint(
        len(windows), (min(n_windows, len(windows)),), generator=generator
    )
    batch, _ = _batch(data, windows, rows.to(data.z.device), config)
    # on the CPU in float64, by gelsd: the minimum-norm solution, also where
    # inputs are constant or collinear (the observed flag and the intercept)
    x = batch.x[batch.observed].double().cpu()
    u = (batch.target - batch.loc.unsqueeze(-1)) / batch.scale.unsqueeze(-1)
    y = u[batch.observed].double().cpu()
    if len(y) == 0:
        return
    design = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
    coef = torch.linalg.lstsq(design, y.unsqueeze(1), driver="gelsd").solution[:, 0]
    skip = network.skip
    skip.weight.copy_(coef[:-1].to(skip.weight.dtype).unsqueeze(0))
    skip.bias.copy_(coef[-1:].to(skip.bias.dtype))


def _scheduler(optimizer, config: TrainConfig):
    if config.lr_schedule is None:
        return None
    if config.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=config.max_epochs
        )
    if config.lr_schedule == "plateau":
        patience = max(1, (config.early_stopping_patience or 4) // 2)
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=0.5, patience=patience
        )
    raise ValueError(
        f"lr_schedule must be None, 'cosine' or 'plateau', got {config.lr_schedule!r}"
    )
