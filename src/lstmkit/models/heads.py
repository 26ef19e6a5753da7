"""Output heads of the panel forecaster: what the network predicts for each future step, its
training loss, and the point forecast, quantiles and sample paths it gives.

The network works in each window's own units: targets divided by the window's scale (its mean
absolute level, see ``PanelForecastModel``). A head turns the network's raw outputs
``out (N, H, params)`` into a forecast in those units and back to the data's units with
``scale (N,)``:

- ``mse``: one value per step, trained with the squared error (the mean).
- ``pinball``: one value per quantile level, trained with the pinball loss; the levels are
  non-crossing by construction (the lowest, then positive increments), the median is the point.
- ``normal`` / ``student-t``: location, scale (and degrees of freedom), trained by likelihood.
- ``negative-binomial``: counts. Mean and dispersion are in the data's units (DeepAR's
  parametrisation: mean = scale * softplus(.), dispersion = softplus(.) / sqrt(scale)).

Quantiles of the distribution heads are computed from the distribution (its inverse CDF);
``sample`` draws from it (for the autoregressive decoder's paths).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["HEADS", "Head", "make_head"]

_EPS = 1e-6


class Head:
    """Base: ``params`` raw outputs per step; every method takes ``out (N, H, params)``."""

    name = ""
    params = 1
    distribution = False  # a likelihood head (sample paths make sense)

    def __init__(self, quantiles: tuple[float, ...] = ()) -> None:
        self.levels = tuple(quantiles)

    def loss(
        self,
        out: Tensor,
        y: Tensor,
        scale: Tensor,
        mask: Tensor | None = None,
        weight: Tensor | None = None,
    ) -> Tensor:
        """Mean loss over the observed steps; ``y (N, H)`` in the data's units; ``weight (N,)``
        each window's weight (None: all 1)."""
        per = self._loss(out, y, scale)  # (N, H)
        mask = torch.ones_like(per) if mask is None else mask
        if weight is not None:
            mask = mask * weight[:, None].to(mask.dtype)
            return (per * mask).sum() / mask.sum().clamp_min(1e-12)
        return (per * mask).sum() / mask.sum().clamp_min(1)

    def _loss(self, out: Tensor, y: Tensor, scale: Tensor) -> Tensor:
        raise NotImplementedError

    def point(self, out: Tensor, scale: Tensor) -> Tensor:
        """(N, H) point forecast in the data's units (the median where it is defined)."""
        raise NotImplementedError

    def quantiles(self, out: Tensor, scale: Tensor, levels: tuple[float, ...]) -> Tensor:
        """(N, H, Q) quantiles at ``levels`` in the data's units, non-decreasing in the level."""
        raise NotImplementedError

    def sample(self, out: Tensor, scale: Tensor, generator: torch.Generator) -> Tensor:
        """(N, H) one draw per row in the data's units (the point for non-likelihood heads)."""
        return self.point(out, scale)

    def shift(self, out: Tensor, base: Tensor) -> Tensor:
        """Outputs whose location is moved by ``base (N, H)`` (scaled units): an anchor."""
        out = out.clone()
        out[..., 0] = out[..., 0] + base
        return out


class MSEHead(Head):
    name = "mse"

    def _loss(self, out, y, scale):
        return (out[..., 0] - y / scale[:, None]) ** 2

    def point(self, out, scale):
        return out[..., 0] * scale[:, None]

    def quantiles(self, out, scale, levels):
        raise ValueError("the mse head forecasts one value per step; train with "
                         "loss='pinball' or a distribution for quantiles")  # fmt: skip


class PinballHead(Head):
    name = "pinball"

    def __init__(self, quantiles: tuple[float, ...] = ()) -> None:
        qs = tuple(sorted({float(q) for q in quantiles} | {0.5}))
        super().__init__(qs)
        self.params = len(qs)
        self.median = qs.index(0.5)

    def _ordered(self, out: Tensor) -> Tensor:
        """(N, H, Q) non-crossing: the lowest level, then softplus increments."""
        if self.params == 1:
            return out
        steps = F.softplus(out[..., 1:])
        return torch.cat([out[..., :1], out[..., :1] + steps.cumsum(-1)], dim=-1)

    def _loss(self, out, y, scale):
        q = torch.tensor(self.levels, device=out.device, dtype=torch.float32)
        diff = (y / scale[:, None])[..., None] - self._ordered(out.float())  # (N, H, Q)
        return torch.maximum(q * diff, (q - 1) * diff).mean(-1)

    def point(self, out, scale):
        return self._ordered(out)[..., self.median] * scale[:, None]

    def quantiles(self, out, scale, levels):
        missing = sorted(set(levels) - set(self.levels))
        if missing:
            raise ValueError(f"the model was trained for quantiles {list(self.levels)}, not "
                             f"{missing}")  # fmt: skip
        idx = [self.levels.index(q) for q in levels]
        return self._ordered(out)[..., idx] * scale[:, None, None]

    def shift(self, out, base):
        out = out.clone()
        out[..., 0] = out[..., 0] + base  # the lowest level moves; the increments follow it
        return out


class NormalHead(Head):
    name = "normal"
    params = 2
    distribution = True

    def _parts(self, out):
        return out[..., 0], F.softplus(out[..., 1]) + _EPS

    def _loss(self, out, y, scale):
        mu, sigma = self._parts(out.float())
        z = (y / scale[:, None] - mu) / sigma
        return 0.5 * z**2 + torch.log(sigma) + 0.5 * math.log(2 * math.pi)

    def point(self, out, scale):
        return out[..., 0] * scale[:, None]

    def quantiles(self, out, scale, levels):
        mu, sigma = self._parts(out)
        z = torch.special.ndtri(torch.tensor(levels, device=out.device, dtype=out.dtype))
        return (mu[..., None] + sigma[..., None] * z) * scale[:, None, None]

    def sample(self, out, scale, generator):
        mu, sigma = self._parts(out)
        noise = torch.randn(mu.shape, generator=generator, device="cpu").to(mu)
        return (mu + sigma * noise) * scale[:, None]


class StudentTHead(Head):
    name = "student-t"
    params = 3
    distribution = True

    def _parts(self, out):
        return out[..., 0], F.softplus(out[..., 1]) + _EPS, 2.0 + F.softplus(out[..., 2])

    def _loss(self, out, y, scale):
        mu, sigma, nu = self._parts(out.float())
        z = (y / scale[:, None] - mu) / sigma
        return (
            -torch.lgamma((nu + 1) / 2)
            + torch.lgamma(nu / 2)
            + 0.5 * torch.log(nu * math.pi)
            + torch.log(sigma)
            + (nu + 1) / 2 * torch.log1p(z**2 / nu)
        )

    def point(self, out, scale):
        return out[..., 0] * scale[:, None]  # the median (and mean, nu > 2)

    def quantiles(self, out, scale, levels):
        from scipy.special import stdtrit

        mu, sigma, nu = (t.detach().cpu().double().numpy() for t in self._parts(out))
        t = stdtrit(nu[..., None], np.asarray(levels))  # (N, H, Q)
        q = mu[..., None] + sigma[..., None] * t
        return torch.from_numpy(q).to(out) * scale[:, None, None]

    def sample(self, out, scale, generator):
        mu, sigma, nu = self._parts(out)
        normal = torch.randn(mu.shape, generator=generator).to(mu)
        chi2 = _gamma(nu / 2, generator) * 2  # chi-squared with nu degrees of freedom
        return (mu + sigma * normal / torch.sqrt(chi2 / nu)) * scale[:, None]


class NegativeBinomialHead(Head):
    """Counts: y ~ NB(mean m, dispersion a), variance m + a m^2."""

    name = "negative-binomial"
    params = 2
    distribution = True

    def _parts(self, out, scale):
        mean = F.softplus(out[..., 0]) * scale[:, None] + _EPS
        alpha = F.softplus(out[..., 1]) / torch.sqrt(scale[:, None]) + _EPS
        return mean, alpha

    def _loss(self, out, y, scale):
        m, a = self._parts(out.float(), scale)
        r = 1.0 / a  # total count
        return (
            -(
                torch.lgamma(y + r)
                - torch.lgamma(r)
                - torch.lgamma(y + 1)
                + r * torch.log(r / (r + m))
                + y * torch.log(m / (r + m))
            )
            / scale[:, None]
        )  # per unit of level, so that large series do not dominate

    def point(self, out, scale):
        return self.quantiles(out, scale, (0.5,))[..., 0]

    def quantiles(self, out, scale, levels):
        from scipy.stats import nbinom

        m, a = (t.detach().cpu().double().numpy() for t in self._parts(out, scale))
        r = 1.0 / a
        q = nbinom.ppf(np.asarray(levels), r[..., None], (r / (r + m))[..., None])
        return torch.from_numpy(np.nan_to_num(q, nan=0.0)).to(out)

    def sample(self, out, scale, generator):
        m, a = self._parts(out, scale)
        r = 1.0 / a
        rate = _gamma(r, generator) * m / r  # gamma-Poisson mixture
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
            return torch.poisson(rate)

    def shift(self, out, base):
        raise ValueError("anchor does not apply to the negative-binomial head (counts)")


def _gamma(concentration: Tensor, generator: torch.Generator) -> Tensor:
    """Gamma(concentration, 1) draws, reproducible from ``generator``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
        return torch._standard_gamma(concentration.float()).to(concentration)


HEADS: dict[str, type[Head]] = {
    h.name: h for h in (MSEHead, PinballHead, NormalHead, StudentTHead, NegativeBinomialHead)
}


def make_head(loss: str, quantiles: tuple[float, ...] = ()) -> Head:
    if loss not in HEADS:
        raise ValueError(f"loss must be one of {', '.join(HEADS)}, got {loss!r}")
    return HEADS[loss](quantiles)
