"""The training loop: windows drawn from every series, best weights kept.

An epoch draws ``windows_per_epoch`` windows at random from all series (see
:mod:`._series`), takes Adam steps on their negative log-likelihood, then
scores the held-out validation windows (:mod:`._early_stopping`). The network
is left holding the weights of the best epoch.

A run stops early, keeping the best weights so far, when the validation score
stops improving (``early_stopping_patience``), when ``max_fit_seconds`` leaves
no time for another step and the validation pass, on Ctrl-C
(:mod:`._interrupt`), or when the losses diverge: non-finite, or far above
their untrained level (:data:`DIVERGENCE`). A run that diverges before any
epoch was worth keeping raises, naming the learning rate to try. Under
``torchrun`` every rank runs this loop on its share of each batch, training
one model (:mod:`._distributed`); rank 0 alone shows progress.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from ._averaging import averaged_weights
from ._distributed import SINGLE, Ranks, join
from ._early_stopping import (
    SCORES,
    EarlyStopping,
    accumulate_loss,
    calibration_factors,
    make_scheduler,
    step_scheduler,
)
from ._interrupt import GracefulInterrupt
from ._linear_ar import fit_skip
from ._memory import NetworkSize, check_fit_memory, micro_batch_size
from ._model import GlobalModel, isolated_rng
from ._series import (
    SeriesTensors,
    WindowIndex,
    make_windows,
    validation_count,
    window_batch,
)
from ._windows import WindowLayout

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run, built from the forecaster's parameters.

    ``early_stopping_patience`` None: no early stopping (a validation range
    is still held out when calibrating); ``keep_initial`` lets the starting
    weights compete with every epoch (fine-tuning); ``fit_skip`` fits the
    linear autoregressive term first; ``id_dropout``: the share of windows
    trained without their series id; ``calibration_samples`` paths per
    validation window fit the forecasts' widening (0: none; :mod:`._calibration`);
    ``shard_series``: each rank trains on its series (:mod:`._distributed`);
    ``micro_batch_size`` windows go through one forward/backward pass, their
    gradients accumulated over the batch (None: the whole batch; see
    :func:`._memory.micro_batch_size`); ``ema_decay``: the weights scored,
    kept and returned are a moving average of the steps' (None: the last
    step's; see :mod:`._averaging`); ``calibration_horizon``: the farthest
    step the widening is sized for, where the held-out range reaches (None:
    the prediction length); ``calibration_groups``: most groups of forecasts.
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
    calibration_samples: int
    id_dropout: float
    keep_initial: bool
    fit_skip: bool
    verbose: bool
    shard_series: bool
    micro_batch_size: int | None = None
    ema_decay: float | None = None
    calibration_horizon: int | None = None
    calibration_groups: int = 1


@dataclass
class TrainResult:
    """What happened during :func:`train`."""

    history: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    best_loss: float = math.inf
    stop_reason: str = "max_epochs"
    #: per-step widening factors of the forecasts (None: not calibrated)
    calibration: np.ndarray | None = None


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
    series' embedding id (-1 for none). Runs with the global RNG isolated;
    in a process group of several ranks, as one of them (:func:`._distributed.join`).

    Raises
    ------
    ValueError
        Before anything is laid out, if the run would need more memory than
        is available (naming the parameters that drive it; see :mod:`._memory`).
    """
    ranks = join(model, config)
    values, covariates, series_id = ranks.own(values, covariates, series_id)
    check_fit_memory(model, [len(v) for v in values], config)
    net = NetworkSize.of(model.config, model.layout)
    micro = micro_batch_size(net, config.batch_size, config.micro_batch_size)
    config = dataclasses.replace(config, micro_batch_size=micro)
    layout = model.layout
    data = SeriesTensors.from_arrays(
        values, covariates, series_id, pad=layout.length + layout.lead
    )
    with isolated_rng(ranks.seed(seed), model.device):  # dropout masks: per rank
        generator = torch.Generator().manual_seed(ranks.window_seed(seed))
        data = data.to(model.device)
        return train(model.network, data, layout, config, generator, ranks)


def train(
    network: torch.nn.Module,
    data: SeriesTensors,
    layout: WindowLayout,
    config: TrainConfig,
    generator: torch.Generator,
    ranks: Ranks = SINGLE,
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
    ranks : Ranks, default=SINGLE
        The processes training ``network`` together (:mod:`._distributed`).

    Returns
    -------
    TrainResult

    Raises
    ------
    RuntimeError
        If the loss diverged (non-finite, or far above its untrained level)
        before any epoch trained weights worth keeping.
    """
    started = time.perf_counter()
    deadline = started + (config.max_fit_seconds or math.inf)
    # a validation range is held out for early stopping and for calibration
    patience = config.early_stopping_patience
    n_val = 0
    if patience is not None or config.calibration_samples:
        n_val = validation_count(ranks.lengths(data), layout.prediction_length)
    train_w, val_w = make_windows(data, layout, n_val, config.window_sampling)
    val_w = ranks.validation(val_w, train_w)
    scored = val_w if patience is not None else None  # scored after every epoch
    skip = getattr(network, "skip", None)
    if skip is not None and config.fit_skip:
        fit_skip(network, data, train_w, layout, generator, ranks=ranks)
    # the linear skip is fitted by least squares, never by gradient
    fixed = set() if skip is None else {id(p) for p in skip.parameters()}
    trained = [p for p in network.parameters() if id(p) not in fixed]
    optimizer = torch.optim.Adam(
        trained, lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = make_scheduler(optimizer, config)
    score_fn = ranks.scorer(SCORES[config.validation_metric])  # rank 0's score
    stopper = EarlyStopping(None if scored is None else patience)
    watch = _Watch()
    if scored is not None and config.max_epochs > 0:
        # the untrained score: the level a diverging run is measured against
        watch.start_score = watch.timed(score_fn, network, data, scored, layout, config)
        if config.keep_initial:
            # fine-tuning: a fine-tune that only hurts keeps the starting weights
            stopper.keep(network, watch.start_score)
    result, cause = TrainResult(), None
    # sampling costs about as much per path as the validation pass's
    calibration = 0.0
    if scored is not None and config.validation_metric == "crps":
        calibration = config.calibration_samples / config.validation_samples
    # scored, kept and forecast with: the moving average of the weights
    averaged = averaged_weights(network, config.ema_decay)
    kept = network if averaged is None else averaged.module
    epochs = ranks.progress(config.max_epochs, config.verbose)  # rank 0's bar
    model = ranks.wrap(network)  # DistributedDataParallel on several ranks
    with GracefulInterrupt() as interrupt:
        for epoch in epochs:
            losses, stop = _run_epoch(
                model,
                data,
                train_w,
                layout,
                config,
                optimizer,
                trained,
                generator,
                _Stop(deadline, watch, interrupt, calibration, ranks),
                averaged,
            )
            if stop == "diverged":
                result.stop_reason, cause = stop, "non-finite loss"
                break
            if not losses:  # stopped before a step: the weights were scored
                if stopper.best_state is None and watch.start_score is not None:
                    stopper.keep(network, watch.start_score)
                if stopper.best_state is not None:
                    result.stop_reason = stop
                    break
            train_loss = float(np.mean(losses)) if losses else math.nan
            val_loss = None
            if scored is not None:
                val_loss = watch.timed(score_fn, kept, data, scored, layout, config)
            # every decision below is rank 0's: its numbers, any rank's Ctrl-C
            train_loss, interrupted = ranks.agree(train_loss, interrupt.requested)
            score = val_loss if val_loss is not None else train_loss
            cause = watch.diverging(train_loss, val_loss)
            if cause is not None:
                result.stop_reason = "diverged"
                break
            result.history.append(
                {
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "val_loss": val_loss,
                    # wall time since training started, validation included
                    "seconds": time.perf_counter() - started,
                }
            )
            (logger.info if ranks.leader else logger.debug)(
                "epoch %d: train %.4f, validation %s", epoch, train_loss, val_loss
            )
            epochs.set_postfix(
                train=f"{train_loss:.4f}",
                val=f"{val_loss:.4f}" if val_loss is not None else "-",
            )
            stopper.update(kept, epoch, score)
            if stop is not None or interrupted:
                result.stop_reason = stop or "interrupted"
                break
            if stopper.should_stop:
                result.stop_reason = "early_stopping"
                break
            step_scheduler(scheduler, score)
    epochs.close()
    with ranks.leader_warnings():
        if result.stop_reason == "diverged":
            _diverged(stopper, epoch, cause, config.learning_rate)
        elif result.stop_reason == "interrupted":
            _interrupted(stopper, epoch)
    stopper.restore(network)
    ranks.sync_weights(network)  # rank 0's weights, bit for bit, on every rank
    network.eval()
    result.best_epoch, result.best_loss = stopper.best_epoch, stopper.best_loss
    if val_w is not None and config.calibration_samples:
        n, h = config.calibration_samples, config.calibration_horizon
        result.calibration = calibration_factors(
            network, data, val_w, layout, n, ranks, h, config.calibration_groups
        )
    return result


#: a validation score this many times its scale (at least 1) above its
#: untrained level is a diverging run: a learning rate too high, not a slow
#: start. The training loss, a mean over batches of different windows (one
#: window with a flat context can dominate it), is allowed far more.
DIVERGENCE = {"validation score": 5.0, "training loss": 1000.0}


class _Watch:
    """Untrained levels of the losses, and how long a validation pass takes."""

    def __init__(self) -> None:
        self.start_loss: float | None = None  # loss of the first step
        self.start_score: float | None = None  # validation score untrained
        self.validation_seconds = 0.0  # of the last validation pass
        self.step_seconds = 0.0  # of the longest gradient step

    def timed(self, fn, *args) -> float:
        begin = time.perf_counter()
        value = fn(*args)
        self.validation_seconds = time.perf_counter() - begin
        return value

    def diverging(self, train_loss: float, val_loss: float | None) -> str | None:
        """Why an epoch's losses show divergence (None if they do not)."""
        pairs = [
            ("training loss", train_loss, self.start_loss),
            ("validation score", val_loss, self.start_score),
        ]
        for name, loss, start in pairs:
            if loss is None or start is None or not math.isfinite(start):
                continue
            if not math.isfinite(loss):
                return f"non-finite {name}"
            if loss > start + DIVERGENCE[name] * max(1, abs(start)):
                return f"{name} {loss:.4g}, against {start:.4g} untrained"
        return None


@dataclass
class _Stop:
    """When an epoch must stop early: the deadline, Ctrl-C."""

    deadline: float
    watch: _Watch
    interrupt: GracefulInterrupt
    #: cost of the calibration pass after training, in validation passes
    calibration: float = 0.0
    ranks: Ranks = SINGLE  # they agree on every step

    def reason(self, now: float) -> str | None:
        if self.interrupt.requested:
            return "interrupted"
        # the budget must leave room for the next step, the validation pass
        # and the calibration pass after training; the first step of a run
        # is always taken (the first steps of a process also pay one-off
        # costs, such as torch's lazy imports)
        left = self.deadline - now
        taken = self.watch.start_loss is not None
        passes = self.watch.validation_seconds * (1.0 + self.calibration)
        if taken and left < self.watch.step_seconds + passes:
            return "max_fit_seconds"
        return None


def _run_epoch(
    network: torch.nn.Module,
    data: SeriesTensors,
    windows: WindowIndex,
    layout: WindowLayout,
    config: TrainConfig,
    optimizer: torch.optim.Optimizer,
    trained: list[torch.nn.Parameter],
    generator: torch.Generator,
    stop: _Stop,
    averaged=None,
) -> tuple[list[float], str | None]:
    """One epoch of gradient steps: the losses, and why it stopped early if so.

    The reason is ``"diverged"`` (a non-finite loss, no step taken),
    ``"max_fit_seconds"`` (no time left for another step and the validation
    pass) or ``"interrupted"`` (Ctrl-C). Ranks agree on every step, and the
    losses are those of whole batches (:class:`._distributed.Ranks`).
    """
    network.train()
    device = data.z.device
    ranks = stop.ranks
    per_epoch = config.windows_per_epoch or ranks.total(len(windows))
    steps = max(1, math.ceil(per_epoch / config.batch_size))
    n = steps * ranks.draws(config.batch_size)  # rows drawn on this rank
    if windows.weights is None:
        rows = torch.randint(len(windows), (n,), generator=generator)
    else:
        rows = torch.multinomial(
            windows.weights, n, replacement=True, generator=generator
        )
    drop = torch.rand(len(rows), generator=generator) < config.id_dropout
    # a row per batch: the rows (and id dropout) of this rank's share of it
    rows, drop = ranks.local(rows.view(steps, -1)), ranks.local(drop.view(steps, -1))
    losses: list[float] = []
    watch = stop.watch
    for b in range(steps):
        begin = time.perf_counter()
        batch, ids = window_batch(data, windows, rows[b].to(device), layout)
        ids = torch.where(drop[b].to(device), -1, ids)
        weight, reason = ranks.step(batch.observed, stop.reason(begin))
        if reason is not None:
            return losses, reason
        # weighted by this rank's share of the batch's observed targets (1 alone)
        optimizer.zero_grad(set_to_none=True)
        loss = accumulate_loss(network, batch, ids, weight, config.micro_batch_size)
        value = ranks.value(loss)  # of the whole batch
        if not math.isfinite(value):
            optimizer.zero_grad(set_to_none=True)
            return losses, "diverged"
        if config.gradient_clip:
            torch.nn.utils.clip_grad_norm_(trained, config.gradient_clip)
        optimizer.step()
        if averaged is not None:
            averaged.update_parameters(network)
        losses.append(value)
        if watch.start_loss is None:
            watch.start_loss, _ = ranks.agree(losses[0])  # rank 0's, on every rank
        watch.step_seconds = max(watch.step_seconds, time.perf_counter() - begin)
    return losses, None


def _diverged(stopper: EarlyStopping, epoch: int, cause: str, lr: float) -> None:
    """Warn that training diverged and the best weights are kept, or raise."""
    # a tenth of the rate, and no more than Adam's usual step size
    advice = (
        f"training diverged ({cause}) in epoch {epoch} with learning_rate={lr:g}; "
        f"try learning_rate={min(lr / 10, 1e-3):g} or lower"
    )
    if stopper.best_state is None:
        raise RuntimeError(
            f"{advice}. No earlier epoch has weights worth keeping, so the "
            "forecaster is not fitted"
        )
    kept = "the start" if stopper.best_epoch is None else f"epoch {stopper.best_epoch}"
    warnings.warn(
        f"{advice}. Keeping the weights of {kept}", RuntimeWarning, stacklevel=4
    )


def _interrupted(stopper: EarlyStopping, epoch: int) -> None:
    """Warn that Ctrl-C stopped training, naming the weights kept."""
    kept = "the start" if stopper.best_epoch is None else f"epoch {stopper.best_epoch}"
    warnings.warn(
        f"training interrupted (Ctrl-C) in epoch {epoch}; keeping the weights of "
        f"{kept}, the best so far. The forecaster is fitted with them.",
        UserWarning,
        stacklevel=4,
    )
