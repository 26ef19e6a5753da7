"""``SequenceRegressor``: the classifier's networks with a linear head of T numeric targets.

The head's outputs are in standardised target units; the module maps them back with the
training targets' mean and standard deviation (kept in the config, not in the weights), so that
``forward`` returns values in the units of ``y``: the exported graph and the served model
answer in them too, with nothing to undo outside the model. An ensemble's output is the mean of
its members' outputs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor

from lstmkit.models.classifier import SequenceClassifier, check_network
from lstmkit.models.fcn import FCNConfig
from lstmkit.models.features import FeatureConfig

__all__ = ["RegressorConfig", "SequenceRegressor"]


@dataclass(frozen=True)
class RegressorConfig:
    features: FeatureConfig
    targets: int = 1  # T numeric targets per sequence
    head_dropout: float = 0.0
    target_mean: tuple[float, ...] = (0.0,)  # (T,) training targets' mean and spread
    target_std: tuple[float, ...] = (1.0,)
    names: tuple[str, ...] = field(default_factory=tuple)  # of the T targets, for predictions
    arch: str = "encoder"
    fcn: FCNConfig | None = None
    ensemble: int = 1

    def __post_init__(self) -> None:
        check_network(self)
        if isinstance(self.targets, bool) or not isinstance(self.targets, int) or self.targets < 1:
            raise ValueError(f"targets must be an integer >= 1, got {self.targets!r}")
        for key in ("target_mean", "target_std"):
            if len(getattr(self, key)) != self.targets:
                raise ValueError(f"{key} needs {self.targets} values, got {getattr(self, key)}")
        if min(self.target_std) <= 0:
            raise ValueError(f"target_std must be > 0, got {self.target_std}")
        if self.names and len(self.names) != self.targets:
            raise ValueError(f"{len(self.names)} target names for {self.targets} targets")

    @property
    def outputs(self) -> int:
        return self.targets

    @property
    def input_channels(self) -> int:
        return self.features.input_size if self.fcn is None else self.fcn.channels

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("target_mean", "target_std", "names"):
            d[key] = list(d[key])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RegressorConfig:
        d = dict(d)
        d["features"] = FeatureConfig.from_dict(d["features"])
        for key in ("target_mean", "target_std", "names"):
            if key in d:
                d[key] = tuple(d[key])
        if d.get("fcn") is not None:
            d["fcn"] = FCNConfig.from_dict(d["fcn"])
        return cls(**d)


class SequenceRegressor(SequenceClassifier):
    """x (N, L, C), lengths (N,) or None -> predictions (N, T) in the units of the targets."""

    def __init__(self, config: RegressorConfig) -> None:
        super().__init__(config)
        mean = torch.tensor(config.target_mean, dtype=torch.float32)
        std = torch.tensor(config.target_std, dtype=torch.float32)
        self.register_buffer("target_mean", mean, persistent=False)  # from the config
        self.register_buffer("target_std", std, persistent=False)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        if self.members is not None:
            return self.combine([m(x, lengths) for m in self.members])
        z = super().forward(x, lengths)  # (N, T), standardised units
        return z.float() * self.target_std + self.target_mean

    @staticmethod
    def combine(outputs: list[Tensor]) -> Tensor:
        """The ensemble's prediction: the mean of its members'."""
        return torch.stack([o.float() for o in outputs]).mean(0)
