"""Likelihood heads: map raw network outputs to scaled predictive distributions.

Each likelihood has ``args_dim`` raw outputs per step, a ``domain_map`` that
makes them valid parameters in the *scaled* space (softplus for positive ones),
and ``distribution(params, scale)`` that returns a ``torch.distributions``
object on the original scale of the series. The maths is torch's own.

A likelihood also declares what it needs of the data and of the rest of the
model (the support of its data, the scalings it allows, whether a linear
autoregressive term can be added to its location) and computes its own
training loss, so that no other module names a likelihood.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import distributions as D

_EPS = 1e-6


class Likelihood:
    """Base class: a family of per-step predictive distributions."""

    name: str = ""
    args_dim: int = 0
    #: raw output that is the location in the scaled space, unchanged by
    #: ``domain_map`` (where a linear autoregressive term can be added), or None
    loc_index: int | None = None
    #: whether the data must be non-negative integers (counts)
    integer_data: bool = False
    #: the scalings (see ``get_scaler``) it allows; the first is "auto"'s
    scalings: tuple = ("standard", "mean", None)

    def resolve_scaling(self, scaling: str | None) -> str | None:
        """``scaling`` with ``"auto"`` resolved; a ValueError if not allowed."""
        if scaling == "auto":
            return self.scalings[0]
        if scaling not in self.scalings:
            raise ValueError(
                f"scaling={scaling!r} is not allowed with likelihood={self.name!r}"
                f" ({self.scaling_note}); use one of {self.scalings}"
            )
        return scaling

    #: why some scalings are not allowed
    scaling_note: str = ""

    def check_values(self, values) -> tuple | None:
        """Position ``(i, j)`` of the first observed value outside the support.

        ``values`` is a float array with NaN for missing values; None when
        every observed value is in the support.
        """
        if not self.integer_data:
            return None
        observed = ~np.isnan(values)
        bad = observed & ((values < 0) | (values != np.round(values)))
        return tuple(np.argwhere(bad)[0]) if bad.any() else None

    @property
    def support(self) -> str:
        """What its data must be, for messages."""
        return "non-negative integer counts" if self.integer_data else "real values"

    def loss(
        self,
        params: torch.Tensor,
        target: torch.Tensor,
        loc: torch.Tensor,
        scale: torch.Tensor,
        mask: torch.Tensor,
    ) -> torch.Tensor:
        """Mean negative log-likelihood of ``target`` over ``mask``.

        Parameters
        ----------
        params : torch.Tensor
            shape: ``(B, W, args_dim)``.
        target, mask : torch.Tensor
            shape: ``(B, W)``; the unscaled targets and where they count.
        loc, scale : torch.Tensor
            shape: ``(B,)``; the window's location and scale.
        """
        log_prob = self.log_prob(
            params, scale.unsqueeze(-1), target - loc.unsqueeze(-1)
        )
        return -(log_prob * mask).sum() / mask.sum().clamp_min(1)

    def domain_map(self, raw: torch.Tensor) -> torch.Tensor:
        """Map raw outputs ``(..., args_dim)`` to valid parameters (same shape)."""
        raise NotImplementedError

    def distribution(self, params: torch.Tensor, scale: torch.Tensor) -> D.Distribution:
        """Distribution of the unscaled target.

        Parameters
        ----------
        params : torch.Tensor
            shape: ``(..., args_dim)``, output of :meth:`domain_map`.
        scale : torch.Tensor
            shape: broadcastable to ``params.shape[:-1]``; the series scale.
        """
        raise NotImplementedError

    def log_prob(
        self, params: torch.Tensor, scale: torch.Tensor, target: torch.Tensor
    ) -> torch.Tensor:
        """Log-density (or mass) of ``target`` (shape ``params.shape[:-1]``)."""
        return self.distribution(params, scale).log_prob(target)

    def sample(
        self,
        params: torch.Tensor,
        scale: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Draw one value per step, reproducibly when ``generator`` is given."""
        raise NotImplementedError

    def sample_groups(
        self,
        params: torch.Tensor,
        scale: torch.Tensor,
        generators: list[torch.Generator],
    ) -> torch.Tensor:
        """Draw one value per row, group ``j`` of rows from ``generators[j]``.

        ``params`` is ``(G * n, args_dim)`` and ``scale`` ``(G * n,)``: ``G``
        consecutive groups of ``n`` rows (the paths of one series). Equals
        :meth:`sample` of each group with its generator, concatenated.
        """
        n = len(params) // len(generators)
        return torch.cat(
            [
                self.sample(params[j * n : (j + 1) * n], s, g)
                for j, (s, g) in enumerate(zip(scale.split(n), generators, strict=True))
            ]
        )

    def mean(self, params: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """Mean of the distribution, shape ``params.shape[:-1]``."""
        return self.distribution(params, scale).mean

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class GaussianLikelihood(Likelihood):
    """Normal(scale * mu, scale * sigma) with ``sigma = softplus(raw)``."""

    name = "gaussian"
    args_dim = 2
    loc_index = 0

    def domain_map(self, raw):
        mu, sigma = raw.unbind(-1)
        return torch.stack([mu, F.softplus(sigma) + _EPS], dim=-1)

    def distribution(self, params, scale):
        mu, sigma = params.unbind(-1)
        return D.Normal(mu * scale, sigma * scale, validate_args=False)

    def sample(self, params, scale, generator=None):
        mu, sigma = params.unbind(-1)
        eps = torch.randn(
            mu.shape, generator=generator, device=mu.device, dtype=mu.dtype
        )
        return (mu + sigma * eps) * scale

    def sample_groups(self, params, scale, generators):
        # the same draws as the base class, with the arithmetic done once
        mu, sigma = params.unbind(-1)
        n = len(mu) // len(generators)
        eps = torch.cat(
            [
                torch.randn(n, generator=g, device=mu.device, dtype=mu.dtype)
                for g in generators
            ]
        )
        return (mu + sigma * eps) * scale


class StudentTLikelihood(Likelihood):
    """Student-t with learned ``df = 2 + softplus(raw)`` (finite variance).

    Location and scale are multiplied by the series scale; ``df`` is not.
    """

    name = "student_t"
    args_dim = 3
    loc_index = 1

    def domain_map(self, raw):
        df, loc, sc = raw.unbind(-1)
        return torch.stack(
            [2.0 + F.softplus(df) + _EPS, loc, F.softplus(sc) + _EPS], -1
        )

    def distribution(self, params, scale):
        df, loc, sc = params.unbind(-1)
        return D.StudentT(df, loc * scale, sc * scale, validate_args=False)

    def sample(self, params, scale, generator=None):
        df, loc, sc = params.unbind(-1)
        # t = z / sqrt(chi2_df / df), chi2_df = 2 * Gamma(df / 2, 1)
        z = torch.randn(
            loc.shape, generator=generator, device=loc.device, dtype=loc.dtype
        )
        chi2 = 2 * _gamma(df / 2, generator)
        return (loc + sc * z * torch.rsqrt(chi2 / df)) * scale


class NegativeBinomialLikelihood(Likelihood):
    """Negative binomial for counts, parametrised by mean and dispersion.

    ``mu = softplus(raw_mu)`` and ``alpha = softplus(raw_alpha)`` live in the
    scaled space; on the series scale the mean is ``scale * mu`` and the
    dispersion ``alpha / sqrt(scale)`` (as in DeepAR), so the support stays the
    non-negative integers. Variance is ``m + alpha' * m^2``.
    """

    name = "negative_binomial"
    args_dim = 2
    loc_index = None  # the mean is positive (softplus): no additive location
    integer_data = True
    scalings = ("mean", None)
    scaling_note = "counts cannot be shifted by a mean"

    def domain_map(self, raw):
        mu, alpha = raw.unbind(-1)
        return torch.stack([F.softplus(mu) + _EPS, F.softplus(alpha) + _EPS], dim=-1)

    @staticmethod
    def _count_and_logits(params, scale):
        mu, alpha = params.unbind(-1)
        m = mu * scale
        a = alpha / torch.sqrt(scale)
        total_count = 1.0 / a
        # torch's NB counts successes with probability p: mean = r p / (1 - p)
        return total_count, torch.log(m * a)

    def distribution(self, params, scale):
        r, logits = self._count_and_logits(params, scale)
        return D.NegativeBinomial(total_count=r, logits=logits, validate_args=False)

    def sample(self, params, scale, generator=None):
        # Gamma-Poisson mixture: rate ~ Gamma(r, r / m), y ~ Poisson(rate)
        r, logits = self._count_and_logits(params, scale)
        rate = _gamma(r, generator) * torch.exp(logits)
        return torch.poisson(rate, generator=generator)


def _gamma(
    concentration: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """Gamma(concentration, 1) draws that honour ``generator``.

    ``torch._standard_gamma`` takes no generator, so draws are made by the
    Marsaglia-Tsang method from generator-driven normals and uniforms.
    """
    if generator is None:
        return torch._standard_gamma(concentration)
    boost = concentration < 1
    a = torch.where(boost, concentration + 1, concentration)
    d = a - 1.0 / 3.0
    c = torch.rsqrt(9.0 * d)
    out = torch.full_like(a, float("nan"))
    todo = torch.ones_like(a, dtype=torch.bool)
    while bool(todo.any()):
        x = torch.randn(a.shape, generator=generator, device=a.device, dtype=a.dtype)
        u = torch.rand(a.shape, generator=generator, device=a.device, dtype=a.dtype)
        v = (1 + c * x) ** 3
        ok = (v > 0) & (
            torch.log(u) < 0.5 * x**2 + d - d * v + d * torch.log(v.clamp_min(1e-30))
        )
        take = todo & ok
        out = torch.where(take, d * v, out)
        todo = todo & ~ok
    if bool(boost.any()):
        u = torch.rand(a.shape, generator=generator, device=a.device, dtype=a.dtype)
        out = torch.where(boost, out * u ** (1.0 / concentration), out)
    return out


#: The likelihood classes by name
LIKELIHOODS = {
    cls.name: cls
    for cls in (GaussianLikelihood, StudentTLikelihood, NegativeBinomialLikelihood)
}


def get_likelihood(name: str) -> Likelihood:
    """Likelihood by name: ``"gaussian"``, ``"student_t"`` or ``"negative_binomial"``.

    Examples
    --------
    >>> from sktime_logsparse.nn import get_likelihood
    >>> get_likelihood("student_t").args_dim
    3
    """
    if name not in LIKELIHOODS:
        raise ValueError(
            f"likelihood must be one of {sorted(LIKELIHOODS)}, got {name!r}"
        )
    return LIKELIHOODS[name]()
