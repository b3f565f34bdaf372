"""What a fit or a predict will need in memory, and a refusal before it starts.

A long context, a wide model or many sample paths can ask for more memory
than the machine has; left alone, the process then swaps or is killed long
after it started. :func:`fit_estimate` and :func:`predict_estimate` add up,
from the sizes alone, the tensors that the training loop, the least-squares
fit of the linear term, the validation score and the sampler hold at their
peaks. The checks compare that with the memory available
(:func:`available_memory`) and raise a ``ValueError`` naming the parameters
that drive it: :func:`check_model_memory` before a network is built,
:func:`check_fit_memory` before training lays out its data,
:func:`check_predict_memory` before sampling.

An estimate is of the memory a run adds to the process (the interpreter and
its libraries are loaded already). Its constants were calibrated against the
peak resident set size of fits and predicts on a CPU
(``benchmarks/memory.py --calibrate``): it is an upper bound within a small
factor, not an exact account.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ._batches import FORCED_BLOCK, MAX_BATCH, cached_positions, series_per_batch
from ._host import host_available as _host_available
from ._series import MAX_VALIDATION_WINDOWS

GIB = 2.0**30
#: bytes of a float32
F32 = 4
#: bytes beyond the tensors: first-use buffers of torch's kernels and thread
#: pools, allocator slack
FIT_OVERHEAD = 128 * 2**20
PREDICT_OVERHEAD = 8 * 2**20
#: float32 values per position of one layer's activations kept for the
#: backward pass, per unit of d_model (with the sparse kernel's transposed
#: copies of q, k and v) and per attention score (H * K of them)
TRAIN_PER_WIDTH = 30.0
TRAIN_PER_SCORE = 6.0
#: the same for a layer run without gradients (a prefill), transient; full
#: attention without gradients runs SDPA's math kernel, whose scores count
EVAL_PER_WIDTH = 16.0
EVAL_PER_SCORE = 4.0
#: the same for a block of known positions fed through the decoding caches
#: at once (``decode_positions``): the layer activations the block holds
FORCED_PER_WIDTH = 40.0
#: float32-sized values per path and position of a sampled trajectory: the
#: values, their forward-filled copy and its int64 temporaries
PATH_VALUES = 16.0
#: float32-sized values per flat training entry besides its covariates, per
#: point for the candidate windows (int64), per sampled value of a predict,
#: and per series and step of a predict's outputs (float64, with the index)
FLAT_VALUES, WINDOW_VALUES = 2.0, 8.0
PREDICT_PATH_VALUES, OUTPUT_VALUES = 3.0, 12.0
#: copies of the weights while training: the weights, their gradients, two
#: Adam moments, the best weights so far, a starting copy
MODEL_COPIES = 6
#: validation windows scored at once by the CRPS, and paths per window
#: (_early_stopping.evaluate_crps, _params.VALIDATION_SAMPLES)
VALIDATION_WINDOWS = 256
VALIDATION_SAMPLES = 16
#: paths decoded at once by the sampler (SamplerSettings.max_batch)
MAX_PATHS = MAX_BATCH
#: design entries per chunk of the least-squares fit (_linear_ar.CHUNK_ENTRIES)
LSQ_ENTRIES = 2**20
#: values at or below which a parameter is not named as a cause of a refusal
#: (unless none is above)
ORDINARY = {
    "context_length": 256,
    "prediction_length": 64,
    "batch_size": 64,
    "d_model": 32,
    "n_heads": 4,
    "n_layers": 3,
    "num_samples": 100,
}


@dataclass(frozen=True)
class NetworkSize:
    """The sizes of a network and of its windows that memory depends on."""

    d_model: int
    n_heads: int
    n_layers: int
    kernel_size: int
    attention: str
    context_length: int
    prediction_length: int
    n_inputs: int
    n_covariates: int
    lead: int
    n_embeddings: int = 0
    dropout: float = 0.1
    local_window: int | None = None
    sub_len: int | None = None

    @classmethod
    def of(cls, config, layout) -> NetworkSize:
        """The sizes of a ``LogSparseConfig`` and its ``WindowLayout``."""
        names = ("d_model", "n_heads", "n_layers", "kernel_size", "attention")
        names += ("n_inputs", "dropout", "local_window", "sub_len")
        return cls(
            **{name: getattr(config, name) for name in names},
            context_length=layout.context_length,
            prediction_length=layout.prediction_length,
            n_covariates=layout.n_covariates,
            lead=layout.lead,
            n_embeddings=config.n_series,
        )

    @property
    def length(self) -> int:
        """Window length ``W = context_length + prediction_length``."""
        return self.context_length + self.prediction_length

    def values(self, **more: int) -> dict[str, int]:
        """The parameters a refusal may name, with their values."""
        names = ("context_length", "prediction_length", "d_model", "n_heads")
        return {**{n: getattr(self, n) for n in (*names, "n_layers")}, **more}


@dataclass(frozen=True)
class Estimate:
    """Bytes a run needs, by part, and the parameters that drive each part.

    ``persistent`` parts are held throughout; of the ``transient`` ones (the
    phases of a run) only the largest is held at a time.
    """

    persistent: dict[str, float]
    transient: dict[str, float]
    drivers: dict[str, tuple[str, ...]]

    @property
    def total(self) -> float:
        """Bytes at the peak."""
        return sum(self.persistent.values()) + max(self.transient.values(), default=0)

    @property
    def largest(self) -> str:
        """The part that needs the most."""
        parts = {**self.persistent, **self.transient}
        return max(parts, key=parts.get)


def pattern_width(
    kind: str, length: int, local_window: int | None = None, sub_len: int | None = None
) -> int:
    """Offsets ``K`` of a pattern over ``length`` positions (as ``make_pattern``)."""
    if kind == "full":
        return length
    span = length
    if kind in ("restart", "local_restart"):
        span = min(length, sub_len or max(1, math.ceil(length / 4)))
    w = 0
    if kind in ("local", "local_restart"):
        if local_window is None:
            local_window = max(1, math.ceil(math.log2(max(span, 2))))
        w = min(local_window, span - 1)
    reach = span - 1 - w  # then offsets w + 2^j up to span - 1
    return w + 1 + max(0, reach).bit_length()


def model_bytes(net: NetworkSize) -> float:
    """The weights of a network (its likelihood head counted with 3 outputs)."""
    d, k = net.d_model, net.kernel_size
    block = (2 * k + 10) * d * d + 13 * d
    embeddings = (net.n_inputs + 1 + net.length + net.n_embeddings) * d
    return (net.n_layers * block + embeddings + 6 * d + net.n_inputs + 4) * F32


def _layer_values(net: NetworkSize, width: float, score: float) -> float:
    """Values per position of one layer: ``width * d + score * H * K``."""
    K = pattern_width(net.attention, net.length, net.local_window, net.sub_len)
    return width * net.d_model + score * net.n_heads * K


#: activations of one forward/backward pass above which a batch is split into
#: micro-batches whose gradients are accumulated (the same step)
MICRO_BATCH_BYTES = 512 * 2**20


def micro_batch_size(net: NetworkSize, batch_size: int, requested: int | None) -> int:
    """Windows per forward/backward pass of a batch of ``batch_size``.

    ``requested`` (``trainer_kwargs["micro_batch_size"]``) if given, else the
    whole batch where its activations stay within :data:`MICRO_BATCH_BYTES`,
    else as many windows as do (one at least): a long context then trains in
    the memory of a few windows, with the gradients of the whole batch.
    """
    if requested is not None:
        return max(1, min(int(requested), batch_size))
    per_window = training_step_bytes(net, 1)
    return max(1, min(batch_size, int(MICRO_BATCH_BYTES // per_window)))


def training_step_bytes(
    net: NetworkSize, batch_size: int, micro_batch: int | None = None
) -> float:
    """A gradient step on ``batch_size`` windows: inputs, activations, gradients.

    The inputs of the whole batch are built at once; the activations are
    those of ``micro_batch`` windows (the whole batch if None), the windows of
    one forward/backward pass.
    """
    W = net.length
    micro = batch_size if micro_batch is None else min(micro_batch, batch_size)
    per_layer = _layer_values(net, TRAIN_PER_WIDTH, TRAIN_PER_SCORE)
    if net.attention == "full":
        # counted by SDPA, which keeps no scores (without dropout) ...
        per_layer -= TRAIN_PER_SCORE * net.n_heads * W
        if net.dropout > 0:  # ... or its math kernel's (B, H, W, W) ones
            per_layer += 4.0 * net.n_heads * W
    # the backward pass holds about one more layer's gradients
    outside = 10 * net.d_model + 4 * net.n_inputs + 16
    window = (net.lead + W) / W * 14 + 3 * net.n_inputs
    values = micro * ((net.n_layers + 1) * per_layer + outside) + batch_size * window
    return W * values * F32


def sampling_bytes(
    net: NetworkSize, n_series: int, num_samples: int, horizon: int, workers: int
) -> float:
    """The sampler: ``workers`` concurrent batches of whole series.

    A batch (:func:`series_per_batch`) holds its trajectories and covariates,
    one prefill of each series' conditioning range at a time, and the caches
    of every layer for the positions each path decodes
    (:func:`cached_positions`). Past the first chunk, a path's own
    conditioning positions go through the caches :data:`FORCED_BLOCK` at a
    time, and past ``context_length + prediction_length`` steps (no observed
    value left in a window) the first position is prefilled per path.
    """
    C, P, n = net.context_length, net.prediction_length, num_samples
    cached = cached_positions(C, P, horizon)
    per_batch = series_per_batch(
        n_series, n, workers, MAX_PATHS, cached, min(P, horizon)
    )
    concurrent = min(max(1, workers), -(-n_series // per_batch))
    rows = per_batch * n
    eval_values = _layer_values(net, EVAL_PER_WIDTH, EVAL_PER_SCORE)
    cache = 2 * net.d_model * net.n_layers  # keys and values, every layer
    position = eval_values + cache + net.n_inputs + PATH_VALUES
    paths = rows * (net.lead + C + horizon) * PATH_VALUES
    paths += rows * (C + horizon) * net.n_covariates
    decode = rows * cached * cache
    encoded = per_batch * C * position
    if horizon > P:  # a block of a path's own positions, one prefilled per path
        forced = FORCED_PER_WIDTH * net.d_model + net.n_inputs + PATH_VALUES
        encoded += rows * min(FORCED_BLOCK, C) * forced
        encoded += rows * position if horizon > C + P else 0
    return concurrent * (paths + encoded + decode) * F32


def fit_estimate(
    net: NetworkSize,
    batch_size: int,
    lengths: Sequence[int],
    validation: bool = True,
    fit_skip: bool = True,
    calibration_samples: int = 0,
    scale_weights: bool = False,
    micro_batch: int | None = None,
) -> Estimate:
    """Bytes a training run needs: the series, the model, its largest phase.

    Parameters
    ----------
    net : NetworkSize
    batch_size : int
    lengths : sequence of int
        Length of every series trained on.
    validation : bool, default=True
        Whether validation windows are scored by the CRPS of sample paths.
    fit_skip : bool, default=True
        Whether the linear term is fitted by least squares first.
    calibration_samples : int, default=0
        Paths per validation window of the calibration after training, or 0.
    scale_weights : bool, default=False
        Whether windows are drawn with weights (``window_sampling="scale"``).
    micro_batch : int, optional
        Windows per forward/backward pass (default: the whole batch).
    """
    W, R, n_cov, P = net.length, net.lead, net.n_covariates, net.prediction_length
    points = float(sum(lengths))
    # the flat values and covariates (padding before each series), the
    # candidate windows (per-series arrays come one at a time, _arrays), and
    # with weights a float32 one per window and float64 sums over the flat
    flat = points + len(lengths) * (W + R)
    weights = points + flat * 10 if scale_weights else 0.0
    data = (flat * (FLAT_VALUES + n_cov) + points * WINDOW_VALUES + weights) * F32
    persistent = {"data": data, "model": MODEL_COPIES * model_bytes(net)}
    transient = {"training": training_step_bytes(net, batch_size, micro_batch)}
    drivers = {
        "data": ("context_length",),
        "model": ("context_length", "d_model", "n_layers"),
        "training": ("context_length", "batch_size", "d_model", "n_layers")
        + (("n_heads",) if net.attention == "full" else ()),
    }
    if fit_skip:
        rows = max(1, LSQ_ENTRIES // (W * (net.n_inputs + 2))) * W
        per_row = 7 * net.n_inputs + 8 + 14 * (W + R) / W
        transient["linear_ar"] = rows * per_row * F32
        drivers["linear_ar"] = ("context_length",)
    if validation:
        windows = min(VALIDATION_WINDOWS, len(lengths))
        raw = windows * (R + W) * (2 + n_cov) * F32
        paths = sampling_bytes(net, windows, VALIDATION_SAMPLES, P, 1)
        transient["validation"] = raw + paths
        drivers["validation"] = ("context_length", "d_model", "n_layers")
    if calibration_samples:
        # float64 paths of every scored window, and copies (needed_factors)
        windows = min(MAX_VALIDATION_WINDOWS, max(len(lengths), -(-200 // P)))
        transient["calibration"] = windows * calibration_samples * P * 2 * 5 * F32
        drivers["calibration"] = ("prediction_length",)
    persistent["overhead"] = FIT_OVERHEAD
    return Estimate(persistent, transient, drivers)


def predict_estimate(
    net: NetworkSize,
    n_series: int,
    num_samples: int,
    horizon: int,
    workers: int = 1,
    block: int | None = None,
) -> Estimate:
    """Bytes a predict needs: the sampler, the inputs and paths, the outputs.

    The inputs and float32 paths of ``block`` series (all if None), sampled
    at a time, and the outputs of every series (float64, with their index).
    """
    held = n_series if block is None else max(1, min(block, n_series))
    C, n_cov, H = net.context_length, net.n_covariates, horizon
    inputs = held * (3 * (net.lead + C) + 2 * (C + H) * n_cov)
    paths = (held * num_samples * PREDICT_PATH_VALUES + n_series * OUTPUT_VALUES) * H
    return Estimate(
        {"paths": (inputs + paths) * F32, "overhead": PREDICT_OVERHEAD},
        {"sampling": sampling_bytes(net, held, num_samples, horizon, workers)},
        {
            "sampling": ("num_samples", "context_length", "d_model", "n_layers"),
            "paths": ("num_samples",),
        },
    )


def available_memory(device: torch.device | str = "cpu") -> tuple[float | None, str]:
    """Bytes available to a run on ``device``, and where (for messages).

    CUDA: the free memory of the device. Otherwise the host's: the kernel's
    ``MemAvailable`` (else the free physical pages), capped by the room left
    under the control group's limit. None where nothing tells.
    """
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return float(free), f"the device {device}"
    return _host_available(), "this machine"


def check_memory(
    estimate: Estimate,
    action: str,
    values: dict[str, int],
    device: torch.device | str = "cpu",
    available: float | None = None,
) -> Estimate:
    """Raise a ``ValueError`` if ``estimate`` exceeds the available memory.

    ``values`` maps parameter names to their values; the message names those
    that drive the largest part of the estimate (those above
    :data:`ORDINARY` values, or all if none is), the estimate and the memory
    available. ``available`` (bytes) replaces :func:`available_memory`.
    Returns ``estimate``.
    """
    where = "this machine"
    if available is None:
        available, where = available_memory(device)
    if available is None or estimate.total <= available:
        return estimate
    named = [p for p in estimate.drivers.get(estimate.largest, ()) if p in values]
    named = [p for p in named if values[p] > ORDINARY.get(p, 0)] or named
    causes = "".join(f"{p}={values[p]}, " for p in named)[:-2]
    raise ValueError(
        f"{causes + ': ' if causes else ''}{action} would need about "
        f"{estimate.total / GIB:.1f} GiB, more than the {available / GIB:.1f} GiB "
        f"{where} has available; lower {' or '.join(named) or 'the data size'}"
    )


def check_model_memory(config, layout, device: torch.device) -> Estimate:
    """Refuse to build a network whose training copies alone would not fit.

    ``config`` is its ``LogSparseConfig``, ``layout`` its ``WindowLayout``.
    """
    net = NetworkSize.of(config, layout)
    estimate = Estimate(
        {"model": MODEL_COPIES * model_bytes(net)},
        {},
        {"model": ("context_length", "d_model", "n_layers")},
    )
    return check_memory(estimate, "fit", net.values(), device)


def check_fit_memory(model, lengths: Sequence[int], config) -> Estimate:
    """Refuse a training run of ``model`` that would not fit in memory.

    ``lengths`` are those of the series trained on, ``config`` the
    ``TrainConfig`` of the run. Returns the estimate.
    """
    net = NetworkSize.of(model.config, model.layout)
    micro = micro_batch_size(net, config.batch_size, config.micro_batch_size)
    estimate = fit_estimate(
        net,
        config.batch_size,
        lengths,
        validation=config.early_stopping_patience is not None
        and config.validation_metric == "crps",
        fit_skip=config.fit_skip and model.config.ar_skip,
        calibration_samples=config.calibration_samples,
        scale_weights=config.window_sampling == "scale",
        micro_batch=micro,
    )
    values = net.values(batch_size=config.batch_size)
    return check_memory(estimate, "fit", values, model.device)


def check_predict_memory(
    model,
    num_samples: int,
    n_series: int,
    horizon: int,
    workers: int,
    block: int | None = None,
) -> Estimate:
    """Refuse to draw ``num_samples`` paths of ``horizon`` steps for ``n_series``.

    ``model``: the fitted ``GlobalModel``; ``workers``: concurrent batches;
    ``block``: series sampled at a time (None: all). Returns the estimate.
    """
    net = NetworkSize.of(model.config, model.layout)
    estimate = predict_estimate(net, n_series, num_samples, horizon, workers, block)
    values = net.values(num_samples=num_samples)
    return check_memory(estimate, "predict", values, model.device)
