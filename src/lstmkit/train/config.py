"""``TrainConfig``: everything the Trainer needs, validated once, JSON round-trippable."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

__all__ = ["OPTIMIZERS", "PRECISIONS", "SCHEDULES", "TrainConfig"]

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
SCHEDULES = ("cosine", "step", "plateau", "constant")
PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9  # sgd and rmsprop only
    weight_decay: float = 0.0  # L2 (decoupled for adamw)
    l1: float = 0.0  # L1 penalty on the weights, added to the loss
    schedule: str = "cosine"  # after warm-up: cosine to lr * min_lr_ratio, step, plateau, constant
    warmup_epochs: float = 0.0  # linear warm-up from lr/10, in epochs (may be fractional)
    min_lr_ratio: float = 0.0  # cosine floor as a fraction of lr
    step_size: int = 10  # step schedule: epochs between decays
    gamma: float = 0.1  # step / plateau decay factor
    plateau_patience: int = 2  # epochs without validation improvement before a plateau decay
    clip_norm: float | None = 1.0  # gradient clipping by global norm; None: no clipping
    val_fraction: float = 0.1  # held out of the training data for validation (at most 0.5)
    patience: int | None = None  # early stopping after this many epochs without improvement
    swa: float = 0.0  # average the weights of this last fraction of the epochs (0: best epoch's)
    seed: int = 0
    device: str = "cpu"
    precision: str = "fp32"  # bf16: autocast

    def __post_init__(self) -> None:
        def positive(name: str, integer: bool = True) -> None:
            v = getattr(self, name)
            ok = (isinstance(v, int) and not isinstance(v, bool)) if integer else (
                isinstance(v, int | float) and not isinstance(v, bool))  # fmt: skip
            if not ok or v <= 0:
                kind = "a positive integer" if integer else "a positive number"
                raise ValueError(f"{name} must be {kind}, got {v!r}")

        positive("epochs")
        positive("batch_size")
        positive("step_size")
        positive("lr", integer=False)
        checks = {
            "optimizer": (self.optimizer, OPTIMIZERS),
            "schedule": (self.schedule, SCHEDULES),
            "precision": (self.precision, PRECISIONS),
        }
        for name, (v, allowed) in checks.items():
            if v not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {v!r}")
        for name in ("weight_decay", "l1", "warmup_epochs", "momentum"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.val_fraction <= 0.5:
            raise ValueError(
                f"val_fraction must lie in [0, 0.5] (the training part at least as large as the "
                f"validation part), got {self.val_fraction}"
            )
        if not 0.0 < self.gamma <= 1.0 or not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError(
                f"gamma must lie in (0, 1] and min_lr_ratio in [0, 1], got {self.gamma} and "
                f"{self.min_lr_ratio}"
            )
        if self.clip_norm is not None and self.clip_norm <= 0:
            raise ValueError(f"clip_norm must be positive or None, got {self.clip_norm}")
        if (
            isinstance(self.swa, bool)
            or not isinstance(self.swa, int | float)
            or not (0.0 <= self.swa <= 1.0)
        ):
            raise ValueError(f"swa must be a fraction of the epochs in [0, 1], got {self.swa!r}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be a positive integer or None, got {self.patience}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown training options: {', '.join(sorted(unknown))}")
        return cls(**d)
