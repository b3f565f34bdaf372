"""Per-window scaling of the target: one :class:`Scaler` per kind.

A scaler is fitted on the observed targets of a window's conditioning range
only (fitting on the prediction range too would leak the future into the
inputs, a bug of the authors' code) and gives a location and a scale per row;
the network models ``(z - loc) / scale``. ``"mean"`` is DeepAR's (and the
paper's) ``1 + mean |z|``; ``"standard"`` the mean and standard deviation, for
series whose level is large next to their variation. A scaling may add inputs
that are the same at every step of a window (:meth:`Scaler.inputs`).
"""

from __future__ import annotations

import torch

#: The scalings of :func:`get_scaler` (None: no scaling)
SCALINGS = ("mean", "standard", None)


class Scaler:
    """No scaling: ``loc = 0``, ``scale = 1``. Base class of the scalers."""

    name: str | None = None
    #: inputs per step that :meth:`inputs` adds
    n_inputs: int = 0

    def fit(
        self, target: torch.Tensor, observed: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Location and scale of each row from its observed entries.

        Parameters
        ----------
        target : torch.Tensor
            shape: ``(B, T)``; entries where ``observed`` is false are ignored
            (they may be NaN).
        observed : torch.Tensor
            shape: ``(B, T)``, bool.

        Returns
        -------
        loc, scale : torch.Tensor
            shape: ``(B,)`` each; ``scale > 0``.
        """
        loc = torch.zeros(target.shape[0], dtype=target.dtype, device=target.device)
        return loc, torch.ones_like(loc)

    @staticmethod
    def transform(
        values: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor
    ) -> torch.Tensor:
        """``(values - loc) / scale``; ``loc`` and ``scale`` broadcast."""
        return (values - loc) / scale

    @staticmethod
    def inverse(
        scaled: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor
    ) -> torch.Tensor:
        """``scaled * scale + loc``: the inverse of :meth:`transform`."""
        return scaled * scale + loc

    def inputs(self, loc: torch.Tensor, scale: torch.Tensor) -> list[torch.Tensor]:
        """Inputs ``(B,)`` each, the same at every step, that the scaling adds."""
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MeanScaler(Scaler):
    """DeepAR's scaling: ``loc = 0``, ``scale = 1 + mean |z|``."""

    name = "mean"

    def fit(self, target, observed):
        loc = torch.zeros(target.shape[0], dtype=target.dtype, device=target.device)
        return loc, mean_abs_scale(target, observed)


class StandardScaler(Scaler):
    """Mean and standard deviation (see :func:`standard_scale`).

    It removes the level, which can matter (a series that cannot go below
    zero, or reverts to a level shared by all series), so it adds one input:
    the ``origin`` ``asinh(-loc / scale)``, where zero lies after scaling
    (``asinh`` keeps it moderate for series whose level dwarfs their spread).
    """

    name = "standard"
    n_inputs = 1

    def fit(self, target, observed):
        return standard_scale(target, observed)

    def inputs(self, loc, scale):
        return [torch.asinh(-loc / scale)]


_SCALERS = {cls.name: cls for cls in (Scaler, MeanScaler, StandardScaler)}


def get_scaler(name: str | None) -> Scaler:
    """The scaler of a scaling: ``"mean"``, ``"standard"`` or None (none).

    Examples
    --------
    >>> from sktime_logsparse.nn import get_scaler
    >>> get_scaler("standard").n_inputs
    1
    """
    if not (name is None or isinstance(name, str)) or name not in _SCALERS:
        raise ValueError(f"scaling must be one of {SCALINGS}, got {name!r}")
    return _SCALERS[name]()


def mean_abs_scale(target: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """``1 + mean |z|`` over the observed entries of each row.

    Parameters
    ----------
    target : torch.Tensor
        shape: ``(B, T)``; entries where ``observed`` is false are ignored.
    observed : torch.Tensor
        shape: ``(B, T)``, bool.

    Returns
    -------
    torch.Tensor
        shape: ``(B,)``, every entry ``>= 1``.

    Examples
    --------
    >>> import torch
    >>> from sktime_logsparse.nn import mean_abs_scale
    >>> z = torch.tensor([[1.0, -3.0, float("nan")]])
    >>> mean_abs_scale(z, ~z.isnan())
    tensor([3.])
    """
    return 1.0 + _observed_mean(target.abs(), observed)


def _observed_mean(values: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """Mean over the observed entries of each row (0 for a row without any)."""
    total = torch.where(observed, values, torch.zeros_like(values)).sum(-1)
    return total / observed.sum(-1).clamp_min(1)


def standard_scale(
    target: torch.Tensor, observed: torch.Tensor, floor: float = 1e-4
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation over the observed entries of each row.

    The deviation is floored at ``floor`` times the row's mean ``|z|`` (a
    constant series keeps a finite scale). A row with one observed entry has
    no deviation: its scale is its ``|z|``; a row of zeros or without observed
    entries gets scale 1.

    Parameters
    ----------
    target, observed : torch.Tensor
        As for :func:`mean_abs_scale`.
    floor : float, default=1e-4
        Smallest scale, relative to the mean absolute value.

    Returns
    -------
    loc, scale : torch.Tensor
        shape: ``(B,)`` each; ``scale > 0``.

    Examples
    --------
    >>> import torch
    >>> from sktime_logsparse.nn import standard_scale
    >>> z = torch.tensor([[1.0, 3.0, float("nan")], [5.0, 5.0, 5.0]])
    >>> standard_scale(z, ~z.isnan())
    (tensor([2., 5.]), tensor([1.0000e+00, 5.0000e-04]))
    >>> one = torch.tensor([[-4.0, float("nan")]])
    >>> standard_scale(one, ~one.isnan())
    (tensor([-4.]), tensor([4.]))
    """
    loc = _observed_mean(target, observed)
    std = _observed_mean((target - loc.unsqueeze(-1)).square(), observed).sqrt()
    size = _observed_mean(target.abs(), observed)
    scale = torch.where(observed.sum(-1) > 1, torch.maximum(std, floor * size), size)
    return loc, torch.where(scale > 0, scale, torch.ones_like(scale))
