"""``SequenceClassifier``: a ``FeatureExtractor`` with a linear head over the pooled features."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from torch import Tensor, nn

from lstmkit.models.features import FeatureConfig, FeatureExtractor

__all__ = ["ClassifierConfig", "SequenceClassifier"]


@dataclass(frozen=True)
class ClassifierConfig:
    features: FeatureConfig
    num_classes: int
    head_dropout: float = 0.0  # on the pooled features, before the linear layer
    classes: tuple[str, ...] = field(default_factory=tuple)  # names, for predictions

    def __post_init__(self) -> None:
        if not isinstance(self.num_classes, int) or self.num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {self.num_classes!r}")
        if self.features.pool == "none":
            raise ValueError("a classifier needs pooled features; pool='none' gives none")
        if self.classes and len(self.classes) != self.num_classes:
            raise ValueError(f"{len(self.classes)} class names for {self.num_classes} classes")
        if not 0.0 <= self.head_dropout < 1.0:
            raise ValueError(f"head_dropout must lie in [0, 1), got {self.head_dropout}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["classes"] = list(self.classes)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ClassifierConfig:
        d = dict(d)
        d["features"] = FeatureConfig.from_dict(d["features"])
        d["classes"] = tuple(d.get("classes", ()))
        return cls(**d)


class SequenceClassifier(nn.Module):
    """x (N, L, C), lengths (N,) or None -> logits (N, num_classes)."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        self.features = FeatureExtractor(config.features)
        self.dropout = nn.Dropout(config.head_dropout)
        self.head = nn.Linear(config.features.out_features, config.num_classes)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        pooled, _ = self.features(x, lengths)
        return self.head(self.dropout(pooled))  # (N, num_classes)
