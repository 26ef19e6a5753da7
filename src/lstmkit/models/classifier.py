"""``SequenceClassifier``: pooled sequence features and a linear head over them.

``arch`` picks the features: ``"encoder"`` (a ``FeatureExtractor``: optional Conv1d front end,
the recurrent stack, pooling), ``"lstm-fcn"`` and ``"mlstm-fcn"`` (``FCNBranches``: a fully
convolutional branch beside the recurrent stack, MLSTM-FCN with squeeze-and-excite blocks).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from torch import Tensor, nn

from lstmkit.models.fcn import FCNBranches, FCNConfig
from lstmkit.models.features import FeatureConfig, FeatureExtractor

__all__ = ["ARCHS", "ClassifierConfig", "SequenceClassifier"]

ARCHS = ("encoder", "lstm-fcn", "mlstm-fcn")


@dataclass(frozen=True)
class ClassifierConfig:
    features: FeatureConfig
    num_classes: int
    head_dropout: float = 0.0  # on the pooled features, before the linear layer
    classes: tuple[str, ...] = field(default_factory=tuple)  # names, for predictions
    arch: str = "encoder"
    fcn: FCNConfig | None = None  # the convolutional branch of lstm-fcn / mlstm-fcn

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if (self.fcn is None) != (self.arch == "encoder"):
            raise ValueError(f"arch={self.arch!r} {'needs' if self.fcn is None else 'takes no'} "
                             "fcn config")  # fmt: skip
        if self.fcn is not None and self.fcn.squeeze_excite != (self.arch == "mlstm-fcn"):
            raise ValueError("squeeze-and-excite blocks are what makes mlstm-fcn of lstm-fcn")
        if not isinstance(self.num_classes, int) or self.num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {self.num_classes!r}")
        if self.features.pool == "none":
            raise ValueError("a classifier needs pooled features; pool='none' gives none")
        if self.classes and len(self.classes) != self.num_classes:
            raise ValueError(f"{len(self.classes)} class names for {self.num_classes} classes")
        if not 0.0 <= self.head_dropout < 1.0:
            raise ValueError(f"head_dropout must lie in [0, 1), got {self.head_dropout}")

    @property
    def input_channels(self) -> int:
        """C, the channels per step the model reads."""
        return self.features.input_size if self.fcn is None else self.fcn.channels

    def to_dict(self) -> dict:
        d = asdict(self)
        d["classes"] = list(self.classes)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ClassifierConfig:
        d = dict(d)
        d["features"] = FeatureConfig.from_dict(d["features"])
        d["classes"] = tuple(d.get("classes", ()))
        if d.get("fcn") is not None:
            d["fcn"] = FCNConfig.from_dict(d["fcn"])
        return cls(**d)


class SequenceClassifier(nn.Module):
    """x (N, L, C), lengths (N,) or None -> logits (N, num_classes)."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        if config.fcn is None:
            self.features = FeatureExtractor(config.features)
            width = config.features.out_features
        else:
            self.features = FCNBranches(config.fcn, config.features)
            width = self.features.out_features
        self.dropout = nn.Dropout(config.head_dropout)
        self.head = nn.Linear(width, config.num_classes)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        pooled, _ = self.features(x, lengths)
        return self.head(self.dropout(pooled))  # (N, num_classes)
