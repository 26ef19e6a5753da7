"""``PanelForecastModel``: one LSTM trained across many series (a global forecaster).

Every window is put in its own units first: its target divided by the window's scale, the mean
absolute value of its observed look-back (DeepAR's ``MeanScaler``), and ``log(scale)`` is given
to the network as an input, so one network serves series of any level. Per step of the look-back
the encoder reads the scaled target, whether it was observed (short series are left-padded),
the past covariates (known up to the forecast origin), the future-known covariates, and per
window the log scale, the static covariates and an optional learned series embedding (series
unseen in training get a zero vector).

Two decoders:

- ``direct``: the encoder's last state (with the scaled look-back itself, the future covariates
  over the horizon and the window's static inputs) goes through a small MLP to all ``horizon``
  steps at once. ``anchor``: the outputs are corrections to the last value or the seasonal naive.
- ``autoregressive`` (DeepAR): the same LSTM runs on over the horizon; its input at step t holds
  the target at t - 1. Trained with teacher forcing (the true previous values); forecasts are
  sample paths, each step drawn from the head's distribution and fed back.

Shapes: N windows, L look-back, H horizon, P past covariates, F future covariates, S static.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor, nn

from lstmkit.kernels.cells import CELLS
from lstmkit.models.heads import HEADS, make_head
from lstmkit.nn import BACKENDS, LSTM

__all__ = [
    "DECODERS",
    "PANEL_ANCHORS",
    "PanelConfig",
    "PanelEnsemble",
    "PanelForecastModel",
    "mase_weights",
    "window_scale",
]

DECODERS = ("direct", "autoregressive")
PANEL_ANCHORS = ("none", "last", "season")


@dataclass(frozen=True)
class PanelConfig:
    lookback: int  # L
    horizon: int  # H
    past_size: int = 0  # P
    future_size: int = 0  # F
    static_size: int = 0  # S
    num_series: int = 0  # series the embedding knows (0: no embedding)
    embedding: int = 0  # E, the series embedding's size (0: none)
    hidden: int = 64
    layers: int = 2
    cell: str = "lstm"
    dropout: float = 0.0  # between recurrent layers, and in the direct head
    backend: str = "auto"
    forget_bias: float | None = 1.0
    decoder: str = "direct"
    loss: str = "pinball"
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)  # pinball's levels (the median is added)
    anchor: str = "none"  # direct decoder: outputs as corrections to a naive forecast
    season: int = 1
    skip: bool = True  # direct decoder: the scaled look-back also reaches the head
    members: int = 1  # PanelEnsemble: models trained from different seeds, forecasts combined
    log_scale_center: float = 0.0  # log(scale) is standardised with these (training windows')
    log_scale_spread: float = 1.0

    def __post_init__(self) -> None:
        for name in ("lookback", "horizon", "hidden", "layers", "season", "members"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        for name in ("past_size", "future_size", "static_size", "num_series", "embedding"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {v!r}")
        checks = {"decoder": DECODERS, "loss": tuple(HEADS), "anchor": PANEL_ANCHORS,
                  "cell": tuple(CELLS), "backend": BACKENDS}  # fmt: skip
        for name, allowed in checks.items():
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}"
                )
        if any(not 0.0 < q < 1.0 for q in self.quantiles):
            raise ValueError(f"quantiles must lie in (0, 1), got {list(self.quantiles)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.embedding and not self.num_series:
            raise ValueError("a series embedding needs num_series > 0")
        if self.anchor != "none" and self.decoder != "direct":
            raise ValueError("anchor applies to the direct decoder only")
        if self.anchor != "none" and self.loss == "negative-binomial":
            raise ValueError("anchor does not apply to the negative-binomial head (counts)")

    @property
    def levels(self) -> tuple[float, ...]:
        """The quantile levels the model forecasts natively."""
        return make_head(self.loss, self.quantiles).levels

    def to_dict(self) -> dict:
        d = asdict(self)
        d["quantiles"] = list(self.quantiles)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> PanelConfig:
        return cls(**(dict(d) | {"quantiles": tuple(d.get("quantiles", ()))}))


def window_scale(y: Tensor, obs: Tensor) -> Tensor:
    """(N,) each window's scale: the mean |y| of its observed look-back steps; 1 where that is 0
    (an all-zero window)."""
    total = (y.abs() * obs).sum(1)
    count = obs.sum(1).clamp_min(1)
    scale = total / count
    return torch.where(scale > 0, scale, torch.ones_like(scale))


def mase_weights(y: Tensor, obs: Tensor, season: int, floor: float = 0.01) -> Tensor:
    """(N,) loss weights that turn a loss in window-scaled units into a MASE-like one: each
    window's scale (mean |y|) over the mean absolute seasonal difference of its observed
    look-back (lag 1 where no seasonal pair is observed), that ratio floored at ``floor`` (a
    flat window does not outweigh the rest by more than ``1 / floor``)."""
    level = window_scale(y, obs)
    steps = level.new_zeros(len(y))
    found = torch.zeros(len(y), dtype=torch.bool, device=y.device)
    for lag in dict.fromkeys((season, 1)):
        if lag >= y.shape[1]:
            continue
        both = obs[:, lag:] * obs[:, :-lag]
        count = both.sum(1)
        d = ((y[:, lag:] - y[:, :-lag]).abs() * both).sum(1) / count.clamp_min(1)
        use = ~found & (count > 0)
        steps = torch.where(use, d, steps)
        found = found | use
    return 1.0 / torch.clamp(steps / level, min=floor)


class PanelForecastModel(nn.Module):
    """Raw head outputs ``(N, H, params)`` and the windows' scales ``(N,)`` from the inputs of
    ``forward``; ``self.head`` turns them into points, quantiles and samples.

    Example::

        >>> m = PanelForecastModel(PanelConfig(lookback=24, horizon=6))
        >>> out, scale = m(torch.rand(8, 24), torch.ones(8, 24))
        >>> m.head.point(out, scale).shape
        torch.Size([8, 6])
    """

    def __init__(self, config: PanelConfig) -> None:
        super().__init__()
        self.config = c = config
        self.head = make_head(c.loss, c.quantiles)
        self.embed = None  # row num_series: series unseen in training (zero, never trained)
        if c.embedding:
            self.embed = nn.Embedding(c.num_series + 1, c.embedding, padding_idx=c.num_series)
        window = 1 + c.static_size + c.embedding  # log scale, static, embedding
        if c.decoder == "direct":
            step_in = 2 + c.past_size + c.future_size + window  # y, observed, covariates
        else:
            step_in = 3 + c.past_size + c.future_size + window  # y[t-1], observed, known
        self.rnn = LSTM(step_in, c.hidden, c.layers, batch_first=True, dropout=c.dropout,
                        cell=c.cell, backend=c.backend, forget_bias=c.forget_bias)  # fmt: skip
        if c.decoder == "direct":
            width = c.hidden + window + c.horizon * c.future_size + (c.lookback if c.skip else 0)
            self.decode = nn.Sequential(
                nn.Linear(width, c.hidden),
                nn.ReLU(),
                nn.Dropout(c.dropout),
                nn.Linear(c.hidden, c.horizon * self.head.params),
            )
        else:
            self.decode = nn.Linear(c.hidden, self.head.params)

    # ------------------------------------------------------------------ inputs
    def _window_inputs(self, scale: Tensor, static: Tensor | None, series: Tensor | None):
        """(N, 1 + S + E): the standardised log scale, static covariates, embedding."""
        c = self.config
        parts = [((torch.log(scale) - c.log_scale_center) / c.log_scale_spread)[:, None]]
        if c.static_size:
            parts.append(static.to(scale.dtype))
        if self.embed is not None:
            parts.append(self.embed(series))
        return torch.cat(parts, dim=1)

    @staticmethod
    def _empty(n: int, steps: int, ref: Tensor) -> Tensor:
        return ref.new_zeros(n, steps, 0)

    def forward(
        self,
        y: Tensor,
        obs: Tensor,
        past: Tensor | None = None,
        future: Tensor | None = None,
        static: Tensor | None = None,
        series: Tensor | None = None,
        y_next: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """y, obs (N, L): the look-back (0 where not observed); past (N, L, P); future
        (N, L + H, F) over the look-back and the horizon; static (N, S); series (N,) int64 for
        the embedding; y_next (N, H): the true horizon, the autoregressive decoder's teacher
        forcing (needed there, ignored by the direct decoder)."""
        c = self.config
        N, L = y.shape
        scale = window_scale(y, obs)  # (N,)
        ys = y / scale[:, None]  # (N, L) the window in its own units
        past = self._empty(N, L, y) if past is None else past.to(y.dtype)
        future = self._empty(N, L + c.horizon, y) if future is None else future.to(y.dtype)
        win = self._window_inputs(scale, static, series)  # (N, W)
        if c.decoder == "direct":
            return self._direct(ys, obs, past, future, win), scale
        if y_next is None:
            raise ValueError("the autoregressive decoder trains with y_next (teacher forcing)")
        ys_next = y_next / scale[:, None]  # (N, H)
        prev = torch.cat([ys.new_zeros(N, 1), ys, ys_next[:, :-1]], dim=1)  # (N, L + H)
        prev_obs = torch.cat([obs.new_zeros(N, 1), obs, obs.new_ones(N, c.horizon - 1)], 1)
        steps = self._ar_steps(prev, prev_obs, past, future, win)  # (N, L + H, in)
        h, _ = self.rnn(steps)  # (N, L + H, hidden)
        out = self.decode(h[:, L:])  # (N, H, params)
        return out, scale

    def _direct(self, ys, obs, past, future, win) -> Tensor:
        c = self.config
        N, L = ys.shape
        steps = torch.cat(
            [ys[..., None], obs[..., None], past, future[:, :L], win[:, None].expand(N, L, -1)],
            dim=2,
        )  # (N, L, 2 + P + F + W)
        h, _ = self.rnn(steps)  # (N, L, hidden)
        parts = [h[:, -1], win, future[:, L:].reshape(N, -1)]
        if c.skip:
            parts.append(ys)
        out = self.decode(torch.cat(parts, dim=1)).view(N, c.horizon, self.head.params)
        if c.anchor == "none":
            return out
        if c.anchor == "season" and L >= c.season:
            base = ys[:, L - c.season + torch.arange(c.horizon, device=ys.device) % c.season]
        else:
            base = ys[:, -1:].expand(N, c.horizon)  # (N, H) the last value
        return self.head.shift(out, base)

    def _ar_steps(self, prev, prev_obs, past, future, win) -> Tensor:
        """Inputs of the autoregressive LSTM at each step of (N, T = L + H): the previous
        target and whether it was observed, past covariates of the previous step while they
        are known (the look-back; zeros and known = 0 over the horizon), future covariates of
        the step, the window inputs."""
        c = self.config
        N, T = prev.shape
        L = T - c.horizon
        known = prev.new_zeros(N, T)
        known[:, : L + 1] = 1.0
        past_prev = prev.new_zeros(N, T, c.past_size)
        if c.past_size:
            past_prev[:, 1 : L + 1] = past  # past covariates of step t - 1, up to the origin
        return torch.cat(
            [prev[..., None], prev_obs[..., None], past_prev, known[..., None],
             future[:, :T], win[:, None].expand(N, T, -1)],
            dim=2,
        )  # fmt: skip

    # ------------------------------------------------------------------ forecasting
    @torch.no_grad()
    def forecast(
        self,
        y: Tensor,
        obs: Tensor,
        past: Tensor | None = None,
        future: Tensor | None = None,
        static: Tensor | None = None,
        series: Tensor | None = None,
        *,
        samples: int = 100,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor | None, Tensor]:
        """``(point (N, H), paths (N, samples, H) or None, out-or-None)`` in the data's units.

        The direct decoder gives the head's outputs (``out``) and no paths. The autoregressive
        decoder gives sample paths (one path when the head has no distribution: the point is
        fed back) and their median as the point."""
        c = self.config
        if c.decoder == "direct":
            out, scale = self(y, obs, past, future, static, series)
            return self.head.point(out, scale), None, (out, scale)
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        S = samples if self.head.distribution else 1
        N, L = y.shape
        rep = lambda t: None if t is None else t.repeat_interleave(S, dim=0)  # noqa: E731
        y, obs, past, future, static, series = map(rep, (y, obs, past, future, static, series))
        scale = window_scale(y, obs)  # (N S,)
        ys = y / scale[:, None]
        NS = N * S
        past = self._empty(NS, L, y) if past is None else past.to(y.dtype)
        future = self._empty(NS, L + c.horizon, y) if future is None else future.to(y.dtype)
        win = self._window_inputs(scale, static, series)
        # as in forward: step t holds y[t - 1]; the horizon's values are filled in as drawn
        prev = torch.cat([ys.new_zeros(NS, 1), ys, ys.new_zeros(NS, c.horizon - 1)], dim=1)
        prev_obs = torch.cat([obs.new_zeros(NS, 1), obs, obs.new_ones(NS, c.horizon - 1)], 1)
        steps = self._ar_steps(prev, prev_obs, past, future, win)  # (NS, L + H, in)
        h, state = self.rnn(steps[:, : L + 1])  # the look-back and the first horizon step
        draws = []
        for t in range(c.horizon):
            out = self.decode(h[:, -1:])  # (NS, 1, params)
            value = self.head.sample(out, scale, gen)  # (NS, 1) data units
            draws.append(value)
            if t + 1 < c.horizon:
                step = steps[:, L + 1 + t : L + 2 + t].clone()
                step[:, 0, 0] = value[:, 0] / scale  # the drawn value, fed back
                h, state = self.rnn(step, state)
        paths = torch.cat(draws, dim=1).view(N, S, c.horizon)  # (N, S, H)
        return paths.median(dim=1).values, paths, None

    @torch.no_grad()
    def forecast_quantiles(
        self, inputs: tuple, levels: tuple[float, ...], *, samples: int = 100,
        generator: torch.Generator | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:  # fmt: skip
        """``(point (N, H), quantiles (N, H, Q) or None)`` as float64 arrays in the data's
        units: the head's quantiles (direct decoder) or those of the sample paths
        (autoregressive), sorted so that they never cross."""
        point, paths, out = self.forecast(*inputs, samples=samples, generator=generator)
        point = point.double().cpu().numpy()
        if not levels:
            return point, None
        if paths is not None and paths.shape[1] > 1:
            q = np.moveaxis(np.quantile(paths.double().cpu().numpy(), levels, axis=1), 0, -1)
        elif out is not None:
            q = self.head.quantiles(*out, levels).double().cpu().numpy()
        else:
            return point, None
        return point, np.sort(q, axis=-1)


class PanelEnsemble(nn.Module):
    """``config.members`` PanelForecastModels (trained from different seeds); the point
    forecast is the members' median, the quantiles their mean (as N-BEATS and the M4
    ensembles combine). With one member it is that member."""

    def __init__(self, config: PanelConfig) -> None:
        super().__init__()
        self.config = config
        self.members = nn.ModuleList(PanelForecastModel(config) for _ in range(config.members))
        self.head = self.members[0].head

    def forward(self, *args, **kwargs):
        if len(self.members) != 1:
            raise RuntimeError("an ensemble is trained member by member; call a member")
        return self.members[0](*args, **kwargs)

    @torch.no_grad()
    def forecast_quantiles(self, inputs: tuple, levels: tuple[float, ...], **kw):
        parts = [m.forecast_quantiles(inputs, levels, **kw) for m in self.members]
        if len(parts) == 1:
            return parts[0]
        point = np.median(np.stack([p for p, _ in parts]), axis=0)
        if parts[0][1] is None:
            return point, None
        return point, np.sort(np.mean(np.stack([q for _, q in parts]), axis=0), axis=-1)
