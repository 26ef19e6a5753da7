"""Batch sources: what the Trainer iterates over, deterministic for a (seed, epoch)."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

__all__ = ["TensorBatches", "epoch_generator"]


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The shuffling generator of one epoch: a function of (seed, epoch) only, so a resumed run
    sees exactly the batches the uninterrupted run would have seen."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


class TensorBatches:
    """Mini-batches of aligned tensors (first dimension N); ``None`` entries pass through."""

    def __init__(self, tensors: tuple[Tensor | None, ...], batch_size: int, shuffle: bool) -> None:
        present = [t for t in tensors if t is not None]
        if not present:
            raise ValueError("TensorBatches needs at least one tensor")
        self.n = present[0].shape[0]
        if any(t.shape[0] != self.n for t in present):
            raise ValueError(f"tensors differ in length: {[t.shape[0] for t in present]}")
        self.tensors, self.batch_size, self.shuffle = tensors, batch_size, shuffle

    def __len__(self) -> int:
        return (self.n + self.batch_size - 1) // self.batch_size

    def batches(self, generator: torch.Generator | None = None) -> Iterator[tuple]:
        if self.shuffle:
            order = torch.randperm(self.n, generator=generator)
        else:
            order = torch.arange(self.n)
        for start in range(0, self.n, self.batch_size):
            idx = order[start : start + self.batch_size]
            yield tuple(None if t is None else t[idx] for t in self.tensors)
