"""``SequenceClassifier``: pooled sequence features and a linear head over them.

``arch`` picks the features: ``"encoder"`` (a ``FeatureExtractor``: optional Conv1d front end,
the recurrent stack, pooling), ``"lstm-fcn"`` and ``"mlstm-fcn"`` (``FCNBranches``: a fully
convolutional branch beside the recurrent stack, MLSTM-FCN with squeeze-and-excite blocks).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import torch
from torch import Tensor, nn

from lstmkit.models.fcn import FCNBranches, FCNConfig
from lstmkit.models.features import FeatureConfig, FeatureExtractor

__all__ = ["ARCHS", "ClassifierConfig", "SequenceClassifier", "check_network"]

ARCHS = ("encoder", "lstm-fcn", "mlstm-fcn")


def check_network(config) -> None:
    """The checks a classifier's and a regressor's config share: ensemble, arch, fcn, pooling,
    head dropout."""
    if (
        isinstance(config.ensemble, bool)
        or not isinstance(config.ensemble, int)
        or (config.ensemble < 1)
    ):
        raise ValueError(f"ensemble must be an integer >= 1, got {config.ensemble!r}")
    if config.arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {config.arch!r}")
    if (config.fcn is None) != (config.arch == "encoder"):
        raise ValueError(f"arch={config.arch!r} {'needs' if config.fcn is None else 'takes no'} "
                         "fcn config")  # fmt: skip
    if config.fcn is not None and config.fcn.squeeze_excite != (config.arch == "mlstm-fcn"):
        raise ValueError("squeeze-and-excite blocks are what makes mlstm-fcn of lstm-fcn")
    if config.features.pool == "none":
        raise ValueError("a sequence model needs pooled features; pool='none' gives none")
    if not 0.0 <= config.head_dropout < 1.0:
        raise ValueError(f"head_dropout must lie in [0, 1), got {config.head_dropout}")


@dataclass(frozen=True)
class ClassifierConfig:
    features: FeatureConfig
    num_classes: int
    head_dropout: float = 0.0  # on the pooled features, before the linear layer
    classes: tuple[str, ...] = field(default_factory=tuple)  # names, for predictions
    arch: str = "encoder"
    fcn: FCNConfig | None = None  # the convolutional branch of lstm-fcn / mlstm-fcn
    ensemble: int = 1  # members, each this network; their probabilities are averaged

    def __post_init__(self) -> None:
        check_network(self)
        if not isinstance(self.num_classes, int) or self.num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {self.num_classes!r}")
        if self.classes and len(self.classes) != self.num_classes:
            raise ValueError(f"{len(self.classes)} class names for {self.num_classes} classes")

    @property
    def outputs(self) -> int:
        """Width of the linear head: one logit per class."""
        return self.num_classes

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
    """x (N, L, C), lengths (N,) or None -> logits (N, num_classes).

    With ``config.ensemble = K > 1`` it holds K members (``members``, each a one-model
    ``SequenceClassifier``) and returns the log of their mean class probabilities, so that a
    softmax of its output is the ensemble's probabilities; ``features`` is the first member's.
    """

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        self.members = None
        if config.ensemble > 1:
            one = replace(config, ensemble=1)
            self.members = nn.ModuleList(type(self)(one) for _ in range(config.ensemble))
            return
        if config.fcn is None:
            self.features = FeatureExtractor(config.features)
            width = config.features.out_features
        else:
            self.features = FCNBranches(config.fcn, config.features)
            width = self.features.out_features
        self.dropout = nn.Dropout(config.head_dropout)
        self.head = nn.Linear(width, config.outputs)

    def __getattr__(self, name: str):
        if name == "features" and self.__dict__["_modules"].get("members") is not None:
            return self.members[0].features
        return super().__getattr__(name)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        if self.members is not None:
            return self.combine([m(x, lengths) for m in self.members])
        pooled, _ = self.features(x, lengths)
        return self.head(self.dropout(pooled))  # (N, num_classes)

    @staticmethod
    def combine(outputs: list[Tensor]) -> Tensor:
        """The ensemble's output from its members' logits: log of the mean probabilities."""
        logp = torch.stack([torch.log_softmax(o.float(), -1) for o in outputs])
        return torch.logsumexp(logp, 0) - math.log(len(outputs))
