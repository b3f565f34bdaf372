"""The training loop: windows drawn from every series, best weights kept.

An epoch draws ``windows_per_epoch`` windows at random from all series (see
:mod:`._series`), takes Adam steps on their negative log-likelihood, then
scores the held-out validation windows (:mod:`._early_stopping`). The network
is left holding the weights of the best epoch.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from ._early_stopping import (
    SCORES,
    EarlyStopping,
    make_scheduler,
    step_scheduler,
    window_loss,
)
from ._linear_ar import fit_skip
from ._memory import check_fit_memory
from ._model import GlobalModel, isolated_rng
from ._series import SeriesTensors, WindowIndex, make_windows, window_batch
from ._windows import WindowLayout

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run, built from the forecaster's parameters.

    ``early_stopping_patience`` None means no validation range is held out;
    ``keep_initial`` lets the starting weights compete with every epoch
    (fine-tuning); ``fit_skip`` fits the linear autoregressive term first;
    ``id_dropout`` is the share of windows trained without their series id.
    """

    max_epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    gradient_clip: float | None
    early_stopping_patience: int | None
    windows_per_epoch: int | None
    window_sampling: str
    lr_schedule: str | None
    max_fit_seconds: float | None
    validation_metric: str
    validation_samples: int
    id_dropout: float
    keep_initial: bool
    fit_skip: bool
    verbose: bool


@dataclass
class TrainResult:
    """What happened during :func:`train`."""

    history: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    best_loss: float = math.inf
    stop_reason: str = "max_epochs"


def fit_model(
    model: GlobalModel,
    values: list[np.ndarray],
    covariates: list[np.ndarray],
    series_id: np.ndarray,
    seed: int,
    config: TrainConfig,
) -> TrainResult:
    """Train ``model`` on series ``values[i]`` ``(T_i,)`` with ``covariates[i]``.

    ``covariates[i]`` is ``(T_i, n_covariates)``; ``series_id`` holds each
    series' embedding id (-1 for none). Runs with the global RNG isolated.

    Raises
    ------
    ValueError
        Before anything is laid out, if the run would need more memory than
        is available (naming the parameters that drive it; see :mod:`._memory`).
    """
    check_fit_memory(model, [len(v) for v in values], config)
    layout = model.layout
    data = SeriesTensors.from_arrays(
        values, covariates, series_id, pad=layout.length + layout.lead
    )
    with isolated_rng(seed, model.device):
        generator = torch.Generator().manual_seed(seed)
        return train(model.network, data.to(model.device), layout, config, generator)


def train(
    network: torch.nn.Module,
    data: SeriesTensors,
    layout: WindowLayout,
    config: TrainConfig,
    generator: torch.Generator,
) -> TrainResult:
    """Fit ``network`` on windows of ``data`` and keep the best weights.

    The best epoch has the lowest validation score, or training NLL when no
    series is long enough to hold out a validation range.

    Parameters
    ----------
    network : LogSparseTransformer
        On the same device as ``data``; trained in place.
    data : SeriesTensors
    layout : WindowLayout
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
    train_w, val_w = make_windows(
        data, layout, config.early_stopping_patience is not None, config.window_sampling
    )
    skip = getattr(network, "skip", None)
    if skip is not None and config.fit_skip:
        fit_skip(network, data, train_w, layout, generator)
    # the linear skip is fitted by least squares, never by gradient
    fixed = set() if skip is None else {id(p) for p in skip.parameters()}
    trained = [p for p in network.parameters() if id(p) not in fixed]
    optimizer = torch.optim.Adam(
        trained, lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = make_scheduler(optimizer, config)
    score_fn = SCORES[config.validation_metric]
    patience = None if val_w is None else config.early_stopping_patience
    stopper = EarlyStopping(patience)
    if config.keep_initial and val_w is not None:
        # fine-tuning: a fine-tune that only hurts keeps the starting weights
        stopper.keep(network, score_fn(network, data, val_w, layout, config))
    result = TrainResult()
    deadline = math.inf
    if config.max_fit_seconds:
        deadline = time.perf_counter() + config.max_fit_seconds
    epochs = tqdm(
        range(config.max_epochs),
        disable=not config.verbose,
        desc="training",
        unit="epoch",
    )
    for epoch in epochs:
        losses, stop = _run_epoch(
            network,
            data,
            train_w,
            layout,
            config,
            optimizer,
            trained,
            generator,
            deadline,
        )
        if stop == "diverged":
            result.stop_reason = "diverged"
            _diverged(stopper, epoch)
            break
        train_loss = float(np.mean(losses)) if losses else math.nan
        val_loss = None
        if val_w is not None:
            val_loss = score_fn(network, data, val_w, layout, config)
        score = val_loss if val_loss is not None else train_loss
        result.history.append(
            {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss}
        )
        logger.info("epoch %d: train %.4f, validation %s", epoch, train_loss, val_loss)
        epochs.set_postfix(
            train=f"{train_loss:.4f}",
            val=f"{val_loss:.4f}" if val_loss is not None else "-",
        )
        stopper.update(network, epoch, score)
        if stop == "max_fit_seconds":
            result.stop_reason = stop
            break
        if stopper.should_stop:
            result.stop_reason = "early_stopping"
            break
        step_scheduler(scheduler, score)
    epochs.close()
    stopper.restore(network)
    network.eval()
    result.best_epoch, result.best_loss = stopper.best_epoch, stopper.best_loss
    return result


def _run_epoch(
    network: torch.nn.Module,
    data: SeriesTensors,
    windows: WindowIndex,
    layout: WindowLayout,
    config: TrainConfig,
    optimizer: torch.optim.Optimizer,
    trained: list[torch.nn.Parameter],
    generator: torch.Generator,
    deadline: float,
) -> tuple[list[float], str | None]:
    """One epoch of gradient steps: the losses, and why it stopped early if so.

    The reason is ``"diverged"`` (a non-finite loss, no step taken) or
    ``"max_fit_seconds"`` (the deadline passed after a step).
    """
    network.train()
    device = data.z.device
    steps = max(
        1, math.ceil((config.windows_per_epoch or len(windows)) / config.batch_size)
    )
    n = steps * config.batch_size
    if windows.weights is None:
        rows = torch.randint(len(windows), (n,), generator=generator)
    else:
        rows = torch.multinomial(
            windows.weights, n, replacement=True, generator=generator
        )
    drop = torch.rand(len(rows), generator=generator) < config.id_dropout
    losses = []
    for b in range(steps):
        sl = slice(b * config.batch_size, (b + 1) * config.batch_size)
        batch, ids = window_batch(data, windows, rows[sl].to(device), layout)
        ids = torch.where(drop[sl].to(device), torch.full_like(ids, -1), ids)
        loss = window_loss(network, batch, ids)
        if not torch.isfinite(loss):
            return losses, "diverged"
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.gradient_clip:
            torch.nn.utils.clip_grad_norm_(trained, config.gradient_clip)
        optimizer.step()
        losses.append(loss.item())
        if time.perf_counter() > deadline:
            return losses, "max_fit_seconds"
    return losses, None


def _diverged(stopper: EarlyStopping, epoch: int) -> None:
    """Warn that training stopped on a non-finite loss, or raise without weights."""
    if stopper.best_state is None:
        raise RuntimeError(
            "training diverged (non-finite loss) before the first epoch "
            "completed; try a lower learning_rate or gradient_clip"
        )
    kept = "the start" if stopper.best_epoch is None else f"epoch {stopper.best_epoch}"
    warnings.warn(
        f"training stopped at epoch {epoch}: non-finite loss; keeping the "
        f"weights of {kept}",
        RuntimeWarning,
        stacklevel=4,
    )
