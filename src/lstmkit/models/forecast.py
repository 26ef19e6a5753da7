"""``ForecastModel``: an LSTM encoder over a look-back window and a direct multi-step head.

The encoder is a ``FeatureExtractor`` (any cell, optionally bidirectional) over the window
``(N, lookback, C)``; a linear head maps its pooled features to all ``horizon`` steps at once
(direct multi-step forecasting, no feeding back of predictions). Three kinds of output:

- point forecasts ``(N, horizon)``, trained with the squared error;
- quantiles ``(N, horizon, Q)`` (``quantiles``), trained with the pinball loss: intervals;
- bins ``(N, horizon, K)`` logits (``bins``): seed 001's suggestion of turning the target into
  classes, trained with cross-entropy.

``anchor``: the window's target column is taken relative to its last value, and point and
quantile outputs are corrections to a baseline forecast: the last value (``"last"``, naive) or
the value one season earlier (``"season"``, seasonal naive). The model sees no absolute level,
so it follows levels it never saw in training (trends), and starts from a sound forecast.
``per_series``: seed 001's architecture for several input series: each input column through its
own encoder, the encodings concatenated and merged by a dense layer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import torch
from torch import Tensor, nn

from lstmkit.models.features import FeatureConfig, FeatureExtractor

__all__ = ["ANCHORS", "ForecastConfig", "ForecastModel", "pinball_loss"]

ANCHORS = ("last", "season", "none")


@dataclass(frozen=True)
class ForecastConfig:
    features: FeatureConfig  # the encoder over (N, lookback, C)
    horizon: int  # steps forecast at once
    quantiles: tuple[float, ...] = field(default_factory=tuple)  # () : point forecasts
    bins: int = 0  # > 0: the target as this many classes
    anchor: str = (
        "last"  # outputs are changes from: "last" value, "season" (seasonal naive), "none"
    )
    season: int = 1  # the season length, for anchor="season"
    per_series: bool = False  # one encoder per input column, merged by a dense layer
    target_index: int = 0  # the target's column in the inputs
    head_dropout: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.horizon, int) or isinstance(self.horizon, bool) or self.horizon < 1:
            raise ValueError(f"horizon must be a positive integer, got {self.horizon!r}")
        if self.features.pool == "none":
            raise ValueError("a forecaster needs pooled features; pool='none' gives none")
        qs = self.quantiles
        if any(not 0.0 < q < 1.0 for q in qs) or list(qs) != sorted(set(qs)):
            raise ValueError(f"quantiles must be increasing values in (0, 1), got {list(qs)}")
        if self.bins < 0 or self.bins == 1:
            raise ValueError(f"bins must be 0 (off) or at least 2, got {self.bins}")
        if self.bins and qs:
            raise ValueError("quantiles and bins cannot be combined: bins is a classification")
        if not 0 <= self.target_index < self.features.input_size:
            raise ValueError(
                f"target_index must lie in [0, {self.features.input_size}), got {self.target_index}"
            )
        if not 0.0 <= self.head_dropout < 1.0:
            raise ValueError(f"head_dropout must lie in [0, 1), got {self.head_dropout}")
        if self.anchor not in ANCHORS:
            raise ValueError(f"anchor must be one of {', '.join(ANCHORS)}, got {self.anchor!r}")
        if not isinstance(self.season, int) or self.season < 1:
            raise ValueError(f"season must be a positive integer, got {self.season!r}")

    @property
    def outputs_per_step(self) -> int:
        return self.bins or len(self.quantiles) or 1

    def to_dict(self) -> dict:
        d = asdict(self)
        d["quantiles"] = list(self.quantiles)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ForecastConfig:
        d = dict(d)
        d["features"] = FeatureConfig.from_dict(d["features"])
        d["quantiles"] = tuple(d.get("quantiles", ()))
        return cls(**d)


class ForecastModel(nn.Module):
    """x (N, lookback, C) -> (N, horizon) point forecasts, (N, horizon, Q) quantiles or
    (N, horizon, K) bin logits, in the scaled units of the inputs.

    Example::

        >>> cfg = ForecastConfig(FeatureConfig(input_size=3, hidden=32), horizon=12)
        >>> ForecastModel(cfg)(torch.randn(8, 24, 3)).shape
        torch.Size([8, 12])
    """

    def __init__(self, config: ForecastConfig) -> None:
        super().__init__()
        self.config = config
        c = config.features
        if config.per_series:
            one = replace(c, input_size=1)
            self.encoders = nn.ModuleList(FeatureExtractor(one) for _ in range(c.input_size))
            width = one.out_features * c.input_size
            self.merge = nn.Sequential(nn.Linear(width, c.out_features), nn.ReLU())
        else:
            self.encoders = nn.ModuleList([FeatureExtractor(c)])
            self.merge = nn.Identity()
        self.dropout = nn.Dropout(config.head_dropout)
        self.head = nn.Linear(c.out_features, config.horizon * config.outputs_per_step)

    def forward(self, x: Tensor) -> Tensor:
        cfg = self.config
        base = None
        if cfg.anchor != "none" and not cfg.bins:
            target = x[:, :, cfg.target_index].float()  # (N, L)
            L, m = target.shape[1], cfg.season
            if cfg.anchor == "season" and L >= m:  # seasonal naive: y[t + h - m * (h // m + 1)]
                steps = torch.arange(cfg.horizon, device=x.device)
                base = target[:, L - m + steps % m]  # (N, horizon)
            else:
                base = target[:, -1:].expand(-1, cfg.horizon)  # (N, horizon): the last value
            x = x.clone()  # level-free inputs: the target relative to its last value
            x[:, :, cfg.target_index] -= target[:, -1:].to(x.dtype)
        if cfg.per_series:
            parts = [enc(x[:, :, j : j + 1])[0] for j, enc in enumerate(self.encoders)]
            pooled = self.merge(torch.cat(parts, dim=1))  # (N, D*H)
        else:
            pooled = self.encoders[0](x)[0]  # (N, D*H)
        out = self.head(self.dropout(pooled))  # (N, horizon * outputs)
        if cfg.bins:
            return out.view(-1, cfg.horizon, cfg.bins)  # (N, horizon, K) logits
        if cfg.quantiles:
            out = out.view(-1, cfg.horizon, len(cfg.quantiles))  # (N, horizon, Q)
            return out if base is None else out + base[:, :, None]
        return out if base is None else out + base  # (N, horizon)


def pinball_loss(pred: Tensor, target: Tensor, quantiles: Tensor) -> Tensor:
    """Mean pinball (quantile) loss: pred (N, H, Q), target (N, H), quantiles (Q,)."""
    diff = target.unsqueeze(-1) - pred  # (N, H, Q)
    return torch.maximum(quantiles * diff, (quantiles - 1) * diff).mean()
