"""Losses and validation in training: scores, early stopping, the lr schedule.

Each series long enough holds out its last ``prediction_length`` points; one
validation window ends there. After every epoch they are scored either by the
one-step negative log-likelihood with the true history fed in (``"nll"``) or by
the CRPS of sample paths decoded over the held-out range like a forecast
(``"crps"``). The NLL keeps improving while forecasts many steps ahead get
worse, so the forecast score picks better weights.

Under data-parallel training each rank scores its share of the windows (its
block, or its shard's windows) with the seeds one process would use, and the
sums are all-reduced (:class:`._distributed.Ranks`).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math

import numpy as np
import torch
import torch.nn.functional as F

from ._calibration import grouped_factors, point_ratios, relative_spread
from ._distributed import SINGLE, Ranks
from ._sampling import SamplerSettings, sample_paths
from ._series import SeriesTensors, WindowIndex, window_batch
from ._windows import WindowBatch, WindowLayout, build_window


def window_loss(
    network: torch.nn.Module,
    batch: WindowBatch,
    series_id: torch.Tensor | None,
    loss_from: int = 0,
) -> torch.Tensor:
    """Mean negative log-likelihood over the observed targets from ``loss_from``.

    ``network`` may be wrapped in ``DistributedDataParallel``.
    """
    params = network(batch.x, series_id)
    network = getattr(network, "module", network)  # the wrapped network
    mask = batch.observed.clone()
    mask[:, :loss_from] = False
    return network.likelihood.loss(params, batch.target, batch.loc, batch.scale, mask)


def accumulate_loss(
    network, batch: WindowBatch, ids, weight: float, micro: int | None
) -> torch.Tensor:
    """Backward of the weighted loss of ``batch``, ``micro`` windows at a time.

    Each micro-batch's mean NLL counts by its share of the batch's observed
    targets, so the accumulated gradient is that of the whole batch; under
    DDP the gradients are reduced once, with the last micro-batch. Returns
    the (detached) loss of the batch.
    """
    n = len(batch.target)
    micro = n if micro is None else max(1, micro)
    count = batch.observed.sum().clamp_min(1)
    total = batch.target.new_zeros(())
    for lo in range(0, n, micro):
        part = slice(lo, lo + micro)
        fields = dataclasses.fields(batch)
        piece = WindowBatch(*(getattr(batch, f.name)[part] for f in fields))
        share = piece.observed.sum() / count if micro < n else 1.0
        last = lo + micro >= n
        sync = getattr(network, "no_sync", None)
        with contextlib.nullcontext() if last or sync is None else sync():
            loss = window_loss(network, piece, ids[part]) * (weight * share)
            if loss.requires_grad:  # a non-finite loss is caught by the caller
                loss.backward()
        total = total + loss.detach()
    return total


@torch.no_grad()
def evaluate_nll(
    network,
    data: SeriesTensors,
    windows: WindowIndex,
    layout: WindowLayout,
    config,
    ranks: Ranks = SINGLE,
) -> float:
    """Mean NLL of the prediction range of ``windows`` (eval mode)."""
    was_training = network.training
    network.eval()
    C = layout.context_length
    total, count = 0.0, 0
    share, _ = ranks.validation_rows(len(windows))
    for rows in share.to(data.z.device).split(config.batch_size):
        batch, ids = window_batch(data, windows, rows, layout)
        n = int(batch.observed[:, C:].sum())
        loss = window_loss(network, batch, ids, loss_from=C)
        total, count = total + float(loss) * n, count + n
    network.train(was_training)
    total, count = ranks.all_sum([total, count])
    return total / max(count, 1)


@torch.no_grad()
def validation_paths(
    network,
    data: SeriesTensors,
    windows: WindowIndex,
    layout: WindowLayout,
    n: int,
    ranks: Ranks = SINGLE,
    horizon: int | None = None,
):
    """Sampled forecasts from the origins of ``windows``, in batches.

    Each window draws ``n`` paths from its own fixed seed (its row), so that
    repeated passes differ only by the weights; ``ranks`` each draw their
    share of the windows. A window forecasts its prediction range, or with
    ``horizon`` (longer than ``prediction_length``) that many steps from the
    same origin, as far as its series goes (in whole prediction lengths: a
    single series' earlier validation windows reach over the later ones).
    Yields ``(paths, target, observed, scale, rows)``: ``(B, n, H)`` paths,
    the ``(B, H)`` targets (0 where missing) and where they are observed, the
    ``(B,)`` window scales and the windows' rows (windows reaching as far go
    together); steps a window does not reach are NaN paths, not observed.
    """
    C, P, R = layout.context_length, layout.prediction_length, layout.lead
    H = max(P, horizon or P)
    # on the CPU, batches of windows decode in threads of one intra-op thread
    # each, as forecasts do (see _sampling.SamplerSettings.workers)
    workers = torch.get_num_threads() if data.z.device.type == "cpu" else 1
    was_training = network.training
    network.eval()
    share, offset = ranks.validation_rows(len(windows))
    share = share.to(data.z.device)
    # the steps each window reaches: from its origin to the end of its series
    last = (data.starts + data.lengths - 1).to(windows.ends.device)
    reach = last[windows.series[share]] - windows.ends[share] + P
    reach = reach.clamp(P, H)
    for h in torch.unique(reach).tolist():
        settings = SamplerSettings(horizon=h, num_samples=n, workers=workers)
        for rows in share[reach == h].split(256):
            ends = windows.ends[rows] + (h - P)
            raw, cov = data.windows(ends, C + h, R)
            ids = data.series_id[windows.series[rows]]
            scale = build_window(raw[:, : R + C + P], cov[:, : C + P], layout).scale
            gens = [
                torch.Generator(device=raw.device).manual_seed(int(i) + offset)
                for i in rows
            ]
            paths = sample_paths(
                network, raw[:, : R + C], cov, ids, layout, settings, gens
            )
            target = raw[:, R + C :]
            observed = ~torch.isnan(target)
            target = torch.where(observed, target, torch.zeros_like(target))
            if h < H:  # steps past the end of the series: not scored
                paths = F.pad(paths, (0, H - h), value=float("nan"))
                target = F.pad(target, (0, H - h))
                observed = F.pad(observed, (0, H - h))
            yield paths, target, observed, scale, rows
    network.train(was_training)


@torch.no_grad()
def evaluate_crps(
    network,
    data: SeriesTensors,
    windows: WindowIndex,
    layout: WindowLayout,
    config,
    ranks: Ranks = SINGLE,
) -> float:
    """Mean scaled CRPS of sampled forecasts of the prediction range of ``windows``.

    ``config.validation_samples`` paths per window are drawn with fixed seeds
    (the same noise at every epoch), so that differences between epochs are
    those of the weights. The CRPS of a sample is ``E|X - y| - E|X - X'| / 2``.
    """
    total, count = 0.0, 0
    n = config.validation_samples
    for paths, target, observed, scale, _ in validation_paths(
        network, data, windows, layout, n, ranks
    ):
        spread = (paths.unsqueeze(1) - paths.unsqueeze(2)).abs().mean((1, 2))
        crps = (paths - target.unsqueeze(1)).abs().mean(1) - 0.5 * spread
        crps = crps / scale.unsqueeze(-1)
        total += float((crps * observed).sum())
        count += int(observed.sum())
    total, count = ranks.all_sum([total, count])
    return total / max(count, 1)


def validation_arrays(
    network,
    data: SeriesTensors,
    windows: WindowIndex,
    layout: WindowLayout,
    n: int,
    ranks: Ranks = SINGLE,
    horizon: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`validation_paths` of all windows as numpy: paths, targets, observed.

    With ``ranks``, of this rank's share of the windows (possibly none), in
    the order of the windows.
    """
    H = max(layout.prediction_length, horizon or 0)
    parts = [
        tuple(t.cpu().double().numpy() for t in (*batch[:3], batch[4]))
        for batch in validation_paths(network, data, windows, layout, n, ranks, H)
    ]
    if not parts:
        parts = [(np.zeros((0, n, H)), np.zeros((0, H)), np.zeros((0, H)), [])]
    *arrays, rows = (np.concatenate(p) for p in zip(*parts, strict=True))
    paths, target, observed = (a[np.argsort(rows, kind="stable")] for a in arrays)
    return paths, target, observed.astype(bool)


def calibration_factors(
    network,
    data: SeriesTensors,
    windows: WindowIndex,
    layout: WindowLayout,
    n: int,
    ranks: Ranks = SINGLE,
    horizon: int | None = None,
    groups: int = 1,
):
    """Widening factors per quantile level and step (see :mod:`._calibration`).

    Fitted on ``n`` sampled paths of each validation window, out to
    ``horizon`` steps where the held-out range reaches (the horizon asked of
    the fit, when longer than the prediction length); None when there are
    too few validation points; up to ``groups`` groups of forecasts by
    spread sized apart. ``ranks`` sample their share of the windows
    and gather what each point needs, so all get the same factors.
    """
    arrays = validation_arrays(network, data, windows, layout, n, ranks, horizon)
    # the spreads as (B, 1), so that every part is joined on its axis -2
    parts = (*point_ratios(*arrays), relative_spread(arrays[0])[:, None])
    ratios, need, ok, spread = (
        np.concatenate(a, axis=-2) for a in zip(*ranks.gather(parts), strict=True)
    )
    return grouped_factors(
        ratios,
        need,
        ok,
        spread[:, 0],
        period=layout.prediction_length,
        max_groups=groups,
    )


SCORES = {"nll": evaluate_nll, "crps": evaluate_crps}


class EarlyStopping:
    """The best validation score so far, its weights, and when to stop.

    Parameters
    ----------
    patience : int or None
        Epochs without improvement before stopping; None never stops.
    """

    def __init__(self, patience: int | None):
        self.patience = patience
        self.best_loss = math.inf
        self.best_epoch: int | None = None
        self.best_state: dict | None = None
        self.bad_epochs = 0

    def keep(self, network: torch.nn.Module, score: float) -> None:
        """Let the current weights compete, with ``score``, as the start."""
        self.best_loss = score
        self.best_state = copy.deepcopy(network.state_dict())

    def update(self, network: torch.nn.Module, epoch: int, score: float) -> None:
        """Record an epoch: its weights are kept if ``score`` is the best."""
        if math.isfinite(score) and score < self.best_loss:
            self.best_loss, self.best_epoch, self.bad_epochs = score, epoch, 0
            self.best_state = copy.deepcopy(network.state_dict())
        else:
            self.bad_epochs += 1

    @property
    def should_stop(self) -> bool:
        """Whether ``patience`` epochs went by without improvement."""
        return self.patience is not None and self.bad_epochs >= self.patience

    def restore(self, network: torch.nn.Module) -> None:
        """Load the best weights, if any epoch (or the start) was kept."""
        if self.best_state is not None:
            network.load_state_dict(self.best_state)


def make_scheduler(optimizer: torch.optim.Optimizer, config):
    """The learning-rate schedule of ``config.lr_schedule`` (None for none)."""
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


def step_scheduler(scheduler, score: float) -> None:
    """Advance the schedule after an epoch (a plateau schedule reads ``score``)."""
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(score)
    elif scheduler is not None:
        scheduler.step()
