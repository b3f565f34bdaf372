"""The decoder-only convolutional LogSparse Transformer.

Blocks are pre-LayerNorm (``x + attn(ln(x))``, ``x + mlp(ln(x))``, a final
LayerNorm before the head), as in GPT-2. The authors' code is post-LayerNorm;
pre-LN trains stably without warm-up, which matters for a library whose users
will not tune a schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ._attention import ConvSelfAttention
from ._dropout import Dropout
from ._likelihoods import LIKELIHOODS, get_likelihood
from ._pattern import KINDS, AttentionPattern, make_pattern


@dataclass
class LogSparseConfig:
    """Hyperparameters of :class:`LogSparseTransformer`.

    Parameters
    ----------
    n_inputs : int
        Features per step: the scaled lagged target plus covariates.
    d_model : int, default=32
        Model width.
    n_heads : int, default=4
        Attention heads; must divide ``d_model``.
    n_layers : int, default=3
        Decoder blocks.
    kernel_size : int, default=3
        Kernel of the causal query/key convolution (1 = canonical attention).
    attention : str, default="logsparse"
        Pattern kind, see :func:`make_pattern`.
    local_window, sub_len : int, optional
        Pattern parameters. Fixed here from ``max_length`` when omitted, so
        that a row's attended set never depends on the window length.
    dropout : float, default=0.1
        Dropout on embeddings, attention weights and residual branches.
    max_length : int, default=256
        Longest sequence (size of the learned position embedding).
    n_series : int, default=0
        Size of the series-id embedding table; 0 disables it.
    likelihood : str, default="gaussian"
        Output distribution, see :func:`get_likelihood`.
    ar_skip : bool, default=False
        Add a linear function of the inputs (``skip``) to the location of the
        likelihood: a linear autoregressive model in the lagged targets, which
        the Transformer corrects. It is not trained by gradient: the training
        loop fits it by least squares first (see ``_training``). Needs a
        likelihood with an unconstrained location (Gaussian, Student-t).
    """

    n_inputs: int
    d_model: int = 32
    n_heads: int = 4
    n_layers: int = 3
    kernel_size: int = 3
    attention: str = "logsparse"
    local_window: int | None = None
    sub_len: int | None = None
    dropout: float = 0.1
    max_length: int = 256
    n_series: int = 0
    likelihood: str = "gaussian"
    ar_skip: bool = False

    def __post_init__(self):
        for name in ("n_inputs", "d_model", "n_heads", "n_layers", "kernel_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by "
                f"n_heads ({self.n_heads})"
            )
        if self.attention not in KINDS:
            raise ValueError(
                f"attention must be one of {KINDS}, got {self.attention!r}"
            )
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(
                f"likelihood must be one of {sorted(LIKELIHOODS)}, "
                f"got {self.likelihood!r}"
            )
        if self.ar_skip and LIKELIHOODS[self.likelihood].loc_index is None:
            raise ValueError(
                f"ar_skip needs a likelihood with a location parameter, "
                f"not {self.likelihood!r}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        # pin the pattern parameters so rows do not depend on the window length
        probe = make_pattern(
            self.attention,
            self.max_length,
            local_window=self.local_window,
            sub_len=self.sub_len,
        )
        if self.attention in ("local", "local_restart") and self.local_window is None:
            self.local_window = probe.local_window
        if self.attention in ("restart", "local_restart") and self.sub_len is None:
            self.sub_len = probe.sub_len


class MLP(nn.Module):
    """Position-wise feed-forward network, 4x wide, GELU."""

    def __init__(self, config: LogSparseConfig):
        super().__init__()
        self.fc = nn.Linear(config.d_model, 4 * config.d_model)
        self.act = nn.GELU()
        self.proj = nn.Linear(4 * config.d_model, config.d_model)
        self.dropout = Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(self.act(self.fc(x))))


class Block(nn.Module):
    """Pre-LN decoder block: convolutional sparse attention, then MLP."""

    def __init__(self, config: LogSparseConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.d_model)
        self.attn = ConvSelfAttention(
            config.d_model, config.n_heads, config.kernel_size, config.dropout
        )
        self.ln_2 = nn.LayerNorm(config.d_model)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, pattern: AttentionPattern) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), pattern)
        return x + self.mlp(self.ln_2(x))


class LogSparseTransformer(nn.Module):
    """Decoder-only convolutional LogSparse Transformer with a likelihood head.

    Step ``t`` of the input holds ``[z_{t-1} / scale, covariates_t]``; the
    output at ``t`` parametrises ``p(z_t | z_<t, x_<=t)`` in the scaled space.

    Parameters
    ----------
    config : LogSparseConfig

    Examples
    --------
    >>> import torch
    >>> from sktime_logsparse.nn import LogSparseConfig, LogSparseTransformer
    >>> net = LogSparseTransformer(LogSparseConfig(n_inputs=4, max_length=64))
    >>> net(torch.randn(8, 64, 4)).shape  # (B, L, args_dim): Gaussian mu, sigma
    torch.Size([8, 64, 2])
    """

    #: the dtype of autocast in forward and decoding (None: float32); a
    #: runtime setting, not saved (see ``_model.mixed_precision``)
    autocast_dtype: torch.dtype | None = None

    def __init__(self, config: LogSparseConfig):
        super().__init__()
        self.config = config
        self.likelihood = get_likelihood(config.likelihood)
        self.input_proj = nn.Linear(config.n_inputs, config.d_model)
        self.pos_emb = nn.Embedding(config.max_length, config.d_model)
        self.series_emb = (
            nn.Embedding(config.n_series, config.d_model) if config.n_series else None
        )
        self.drop = Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, self.likelihood.args_dim)
        self.skip = nn.Linear(config.n_inputs, 1) if config.ar_skip else None
        self._patterns: dict[int, AttentionPattern] = {}
        self.apply(self._init_weights)
        if self.skip is not None:
            # start as the linear model alone; the Transformer learns the rest
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.skip.weight)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Conv1d)):
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def pattern(self, length: int) -> AttentionPattern:
        """The attention pattern for sequences of ``length`` (memoised)."""
        if length not in self._patterns:
            c = self.config
            self._patterns[length] = make_pattern(
                c.attention, length, local_window=c.local_window, sub_len=c.sub_len
            )
        return self._patterns[length]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_patterns"] = {}  # a cache: cheap to rebuild, not worth pickling
        return state

    def embed(
        self,
        x: torch.Tensor,
        series_id: torch.Tensor | None = None,
        start: int = 0,
    ):
        """Input projection plus position (and series-id) embeddings.

        Parameters
        ----------
        x : torch.Tensor
            shape: ``(B, L, n_inputs)``.
        series_id : torch.Tensor, optional
            shape: ``(B,)``, long ids in ``[0, n_series)``, or -1 for a series
            without an embedding (its id embedding is then zero).
        start : int, default=0
            Position of the first step of ``x`` (for incremental decoding).

        Returns
        -------
        torch.Tensor
            shape: ``(B, L, d_model)``.
        """
        B, L, n = x.shape
        c = self.config
        if n != c.n_inputs:
            raise ValueError(f"x has {n} features per step, expected {c.n_inputs}")
        if start + L > c.max_length:
            raise ValueError(
                f"sequence length {start + L} exceeds max_length {c.max_length}"
            )
        positions = torch.arange(start, start + L, device=x.device)
        h = self.input_proj(x) + self.pos_emb(positions)
        if self.series_emb is not None and series_id is not None:
            # id -1 is "unknown series" (new at fit, or dropped in training)
            known = (series_id >= 0).unsqueeze(-1).to(h.dtype)
            h = h + (self.series_emb(series_id.clamp_min(0)) * known).unsqueeze(1)
        return self.drop(h)

    def forward(
        self, x: torch.Tensor, series_id: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Distribution parameters (scaled space) for every step.

        Parameters
        ----------
        x : torch.Tensor
            shape: ``(B, L, n_inputs)``.
        series_id : torch.Tensor, optional
            shape: ``(B,)``, long.

        Returns
        -------
        torch.Tensor
            shape: ``(B, L, likelihood.args_dim)``, after the likelihood's
            ``domain_map``.
        """
        with self.autocast(x.device.type):
            h = self.embed(x, series_id)
            pattern = self.pattern(x.shape[1])
            for block in self.blocks:
                h = block(h, pattern)
        return self.output(h, x)

    def autocast(self, device_type: str) -> torch.autocast:
        """Autocast to :attr:`autocast_dtype` (a no-op when it is None).

        Entered by every forward and decoding call rather than by the caller,
        because autocast is per thread and sampling decodes in worker threads.
        """
        dtype = self.autocast_dtype
        return torch.autocast(device_type, dtype=dtype, enabled=dtype is not None)

    def output(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Distribution parameters from the last hidden states ``h`` and inputs ``x``.

        The head, plus the linear autoregressive ``skip`` of the inputs on the
        location, then the likelihood's ``domain_map``. In float32 under
        autocast too: the scaled values and the likelihood need its precision.
        """
        with torch.autocast(h.device.type, enabled=False):
            return self._output(h.to(self.head.weight.dtype), x)

    def _output(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        out = self.head(self.ln_f(h))
        if self.skip is not None:
            i = self.likelihood.loc_index
            out = torch.cat(
                [out[..., :i], out[..., i : i + 1] + self.skip(x), out[..., i + 1 :]],
                dim=-1,
            )
        return self.likelihood.domain_map(out)

    def num_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
