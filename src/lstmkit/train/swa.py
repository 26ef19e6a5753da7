"""Stochastic weight averaging (Izmailov et al. 2018): the mean of the weights at the end of the
last epochs of a run, which generalises better than any single one of them on small data.

``WeightAverage`` keeps a running mean of a model's floating-point state (parameters and
buffers); ``refresh_batch_norm`` recomputes the batch-norm statistics of the averaged weights
with one pass over the training batches, as ``torch.optim.swa_utils.update_bn`` does (the mean of
running statistics is not the statistics of the mean weights).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

__all__ = ["WeightAverage", "refresh_batch_norm", "swa_start_epoch"]


def swa_start_epoch(epochs: int, fraction: float) -> int:
    """The first epoch (counting from 1) whose end-of-epoch weights join the average of the last
    ``fraction`` of ``epochs`` (at least the last one)."""
    return min(epochs, epochs - round(epochs * fraction) + 1)


class WeightAverage:
    """Running mean of a model's floating-point state dict; integer entries (batch counts) keep
    their latest value."""

    def __init__(self) -> None:
        self.mean: dict[str, Tensor] | None = None
        self.count = 0

    def update(self, model: nn.Module) -> None:
        state = model.state_dict()
        self.count += 1
        if self.mean is None:
            self.mean = {k: v.detach().clone() for k, v in state.items()}
            return
        for k, v in state.items():
            if v.is_floating_point():
                self.mean[k] += (v.detach() - self.mean[k]) / self.count
            else:
                self.mean[k] = v.detach().clone()

    def state_dict(self) -> dict:
        return {"mean": self.mean, "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.mean, self.count = state["mean"], state["count"]


def has_batch_norm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


@torch.no_grad()
def refresh_batch_norm(model: nn.Module, batches: Iterable, forward: Callable) -> None:
    """Batch-norm running statistics of ``model``'s current weights: reset, then the cumulative
    mean over one pass of ``forward(model, batch)`` in training mode; the mode is restored."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    was_training = model.training
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the pass
    model.train()
    for batch in batches:
        forward(model, batch)
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    model.train(was_training)
