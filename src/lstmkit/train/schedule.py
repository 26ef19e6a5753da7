"""Learning-rate schedules: linear warm-up, then cosine, step or reduce-on-plateau decay.

The factor is a pure function of (step, epoch) for cosine and step, so a resumed run computes
the same rates; the plateau schedule's small state is saved in the checkpoint.
"""

from __future__ import annotations

import math

from lstmkit.train.config import TrainConfig

__all__ = ["LRSchedule"]


class LRSchedule:
    """Multiplier of the base learning rate, set on the optimizer before every step."""

    def __init__(self, config: TrainConfig, steps_per_epoch: int) -> None:
        self.c = config
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.total = config.epochs * self.steps_per_epoch
        self.warmup = round(config.warmup_epochs * self.steps_per_epoch)
        self.plateau_scale = 1.0  # reduce-on-plateau's accumulated decay
        self.best: float | None = None
        self.bad_epochs = 0

    def factor(self, step: int) -> float:
        """Multiplier at global step ``step`` (0-based)."""
        c = self.c
        if step < self.warmup:
            return 0.1 + 0.9 * (step + 1) / self.warmup
        if c.schedule == "cosine":
            span = max(1, self.total - self.warmup)
            progress = min(1.0, (step - self.warmup) / span)
            return c.min_lr_ratio + (1 - c.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
        if c.schedule == "step":
            return c.gamma ** (step // self.steps_per_epoch // c.step_size)
        if c.schedule == "plateau":
            return self.plateau_scale
        return 1.0

    def end_epoch(self, val_loss: float | None) -> None:
        """Reduce-on-plateau bookkeeping after each epoch's validation."""
        if self.c.schedule != "plateau" or val_loss is None:
            return
        if self.best is None or val_loss < self.best - 1e-12:
            self.best, self.bad_epochs = val_loss, 0
            return
        self.bad_epochs += 1
        if self.bad_epochs >= self.c.plateau_patience:
            self.plateau_scale *= self.c.gamma
            self.bad_epochs = 0

    def state_dict(self) -> dict:
        return {"plateau_scale": self.plateau_scale, "best": self.best, "bad": self.bad_epochs}

    def load_state_dict(self, d: dict) -> None:
        self.plateau_scale, self.best, self.bad_epochs = d["plateau_scale"], d["best"], d["bad"]
