"""Training data on tensors: every series in one flat layout, and its windows.

All series of a panel are laid end to end in one flat tensor, each preceded by
padding (NaN), so that any window is one gather of consecutive entries.
Windows are described by the flat index of their last target. Sharded
data-parallel training lays out only a rank's share of the series
(:func:`shard_series`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ._windows import WindowBatch, WindowLayout, build_window


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


#: validation windows scored at most (:func:`make_windows`): enough for a
#: precise score and per-step calibration, a bounded cost on any panel
MAX_VALIDATION_WINDOWS = 1024


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


def validation_count(lengths: torch.Tensor, P: int, points: int = 200) -> int:
    """Validation windows per series: ``points`` targets in all, if series allow.

    A panel of many series holds out one window each; a single series holds
    out several consecutive ones, so that its validation score and
    calibration rest on enough points, but never more than a tenth of its
    (median) length, and at least one.
    """
    held = lengths[lengths > P + 1]
    if not len(held):
        return 1
    wanted = math.ceil(points / (P * len(held)))
    cap = int(0.1 * float(held.double().median())) // P
    return max(1, min(wanted, cap))


def make_windows(
    data: SeriesTensors, layout: WindowLayout, validation: int, sampling: str
) -> tuple[WindowIndex, WindowIndex | None]:
    """Training and validation windows.

    ``sampling``: ``"uniform"``, or ``"scale"`` to weight each window by its
    scale (``WindowIndex.weights``), as DeepAR does.

    With ``validation`` = k > 0, every series longer than
    ``prediction_length + 1`` holds out its last ``k * prediction_length``
    points (fewer windows where it is short): k validation windows end there,
    ``prediction_length`` apart, and no training target lies there. Of those
    windows at most :data:`MAX_VALIDATION_WINDOWS` are scored, evenly spaced
    over the panel (a fixed choice, the same at every epoch), so that the
    validation pass and the calibration after training cost the same for a
    thousand series as for a million.

    A target is trained on only from position ``layout.lead`` of its series (the
    longest lag) on, where every lagged input lies inside the series; before
    that the lags would read padding, which never happens when forecasting
    series as long as the lags, and zeros there teach the network dynamics
    that damp its forecasts. Series shorter than ``2 * lead`` are trained on
    from their middle. Training windows end at any trained target whose
    window conditions on at least half a context of observed values (on
    fewer, the window's scale is a poor guess; a series too short for that
    has one window, at its end); where a series is short they are left-padded.
    """
    P, W, lead = layout.prediction_length, layout.length, layout.lead
    context_length = layout.context_length
    lengths = data.lengths.cpu()
    k = ((lengths - 2) // P).clamp(0, int(validation))
    train_len = lengths - P * k
    first_target = torch.minimum(torch.full_like(lengths, lead), lengths // 2)
    val = None
    if bool((k > 0).any()):
        # window j of series i ends j * P points before the end of i
        sid = torch.repeat_interleave(torch.arange(len(lengths)), k)
        j = torch.arange(len(sid)) - torch.repeat_interleave(torch.cumsum(k, 0) - k, k)
        ends = data.starts.cpu()[sid] + lengths[sid] - 1 - j * P
        if len(sid) > MAX_VALIDATION_WINDOWS:  # evenly spaced, whole panel
            kept = torch.arange(MAX_VALIDATION_WINDOWS) * len(sid)
            kept = kept // MAX_VALIDATION_WINDOWS
            ends, sid = ends[kept], sid[kept]
        val = WindowIndex(ends, sid, first_target)
    # the conditioning range of a window ending at e holds e - P + 1 values
    first = first_target.clamp_min(P - 1 + (context_length + 1) // 2)
    first = torch.minimum(first, train_len - 1)
    counts = train_len - first
    series = torch.repeat_interleave(torch.arange(len(lengths)), counts)
    # window r of series i ends at starts[i] + first[i] + (r - windows before i),
    # built in place: a large panel has hundreds of millions of windows
    shift = data.starts.cpu() + first - (torch.cumsum(counts, 0) - counts)
    ends = torch.repeat_interleave(shift, counts)
    ends += torch.arange(len(ends))
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


def window_batch(
    data: SeriesTensors, windows: WindowIndex, rows: torch.Tensor, layout: WindowLayout
) -> tuple[WindowBatch, torch.Tensor]:
    """The :class:`WindowBatch` and series ids of the windows ``rows``.

    Targets before the first trained position of their series are masked out
    of ``observed``.
    """
    W = layout.length
    raw, cov = data.windows(windows.ends[rows], W, layout.lead)
    batch = build_window(raw, cov, layout)
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


def shard_series(lengths: Sequence[int], rank: int, world: int) -> np.ndarray:
    """Indices of the series of shard ``rank`` of ``world``, shards of equal size.

    Longest first, each series goes to the shard holding the fewest points so
    far (the lowest rank among equals): the same split on every rank, and
    shards of about as many windows each.

    Raises
    ------
    ValueError
        If there are fewer series than shards.
    """
    if len(lengths) < world:
        raise ValueError(
            f"trainer_kwargs['shard_series'] needs a series per rank at least: "
            f"{len(lengths)} series for {world} ranks"
        )
    held = np.zeros(world, dtype=np.int64)
    owner = np.empty(len(lengths), dtype=np.int64)
    for i in np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable"):
        owner[i] = int(np.argmin(held))
        held[owner[i]] += int(lengths[i])
    return np.flatnonzero(owner == rank)
