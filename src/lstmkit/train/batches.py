"""Batch sources: what the Trainer iterates over, deterministic for a (seed, epoch)."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

__all__ = ["BUCKET_BATCHES", "TensorBatches", "check_rank", "epoch_generator", "shard_indices"]

BUCKET_BATCHES = 8  # batches per length-sorted chunk of an epoch (bucket=True)


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The shuffling generator of one epoch: a function of (seed, epoch) only, so a resumed run
    sees exactly the batches the uninterrupted run would have seen."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def check_rank(rank: int, world_size: int) -> None:
    """A ValueError unless ``world_size`` is a positive integer and ``rank`` lies in [0, it)."""
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be a positive integer, got {world_size!r}")
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
        raise ValueError(f"rank must be an integer in [0, {world_size}), got {rank!r}")


def shard_indices(order: Tensor, rank: int, world_size: int) -> Tensor:
    """Rank ``rank``'s part of an epoch's sample ``order`` (N,) in a ``world_size``-process run,
    as torch's DistributedSampler deals it: the order is padded by wrapping around to a multiple
    of ``world_size``, then rank r takes positions r, r + W, r + 2W, ... Every rank gets
    ceil(N / W) indices (so all take the same number of steps); together they cover every sample,
    the at most W - 1 padding ones twice."""
    check_rank(rank, world_size)
    n = len(order)
    if n == 0:
        raise ValueError("cannot shard an empty order")
    per_rank = -(-n // world_size)  # ceil
    total = per_rank * world_size
    if total > n:
        order = order.repeat(-(-total // n))[:total]  # wrap around (repeatedly if N < W)
    return order[rank:total:world_size]


class TensorBatches:
    """Mini-batches of aligned tensors (first dimension N); ``None`` entries pass through.

    ``shard(rank, world_size)``: the same batches for one process of a data-parallel run, which
    sees only its ``shard_indices`` of every epoch's order (the same permutation on every rank).

    ``crop=(i, j)``: ``tensors[j]`` holds the lengths (N,) of the padded sequences ``tensors[i]``
    (N, L, ...); each batch's sequences are cut to the batch's longest length, so a batch of
    short series does not carry the padding of the longest series in the data (a model that
    respects its lengths computes the same thing, on fewer steps). ``bucket=True`` (with crop)
    also groups series of like length: each epoch's shuffled order is cut into chunks of
    ``BUCKET_BATCHES`` batches, each chunk sorted by length (ties keep their random order) and
    cut into batches, and the batches are shuffled; a batch then carries little padding.
    """

    def __init__(
        self,
        tensors: tuple[Tensor | None, ...],
        batch_size: int,
        shuffle: bool,
        crop: tuple[int, int] | None = None,
        bucket: bool = False,
    ) -> None:
        present = [t for t in tensors if t is not None]
        if not present:
            raise ValueError("TensorBatches needs at least one tensor")
        self.n = present[0].shape[0]
        if any(t.shape[0] != self.n for t in present):
            raise ValueError(f"tensors differ in length: {[t.shape[0] for t in present]}")
        self.tensors, self.batch_size, self.shuffle = tensors, batch_size, shuffle
        self.crop = None if crop is None or tensors[crop[1]] is None else crop
        self.bucket = bucket and self.crop is not None and shuffle
        self.rank, self.world_size = 0, 1

    def shard(self, rank: int, world_size: int) -> TensorBatches:
        """This process's batches in a ``world_size``-process run: ceil(N / world_size) samples
        per epoch, in batches of ``batch_size`` (the batch size is per process)."""
        check_rank(rank, world_size)
        out = TensorBatches(self.tensors, self.batch_size, self.shuffle, self.crop, self.bucket)
        out.rank, out.world_size = rank, world_size
        return out

    @property
    def samples(self) -> int:
        """Samples this process sees per epoch (N outside a data-parallel run)."""
        return -(-self.n // self.world_size)

    def __len__(self) -> int:
        return (self.samples + self.batch_size - 1) // self.batch_size

    def batches(self, generator: torch.Generator | None = None) -> Iterator[tuple]:
        if self.shuffle:
            order = torch.randperm(self.n, generator=generator)
        else:
            order = torch.arange(self.n)
        if self.world_size > 1:
            order = shard_indices(order, self.rank, self.world_size)
        starts = torch.arange(0, len(order), self.batch_size)
        if self.bucket:
            order = self._bucketed(order)
            starts = starts[torch.randperm(len(starts), generator=generator)]
        for start in starts.tolist():
            idx = order[start : start + self.batch_size]
            batch = [None if t is None else t[idx] for t in self.tensors]
            if self.crop is not None:
                i, j = self.crop
                batch[i] = batch[i][:, : int(batch[j].max())]
            yield tuple(batch)

    def _bucketed(self, order: Tensor) -> Tensor:
        """``order`` with each chunk of BUCKET_BATCHES batches sorted by length (stable)."""
        lengths = self.tensors[self.crop[1]]
        chunk = self.batch_size * BUCKET_BATCHES
        parts = []
        for start in range(0, len(order), chunk):
            part = order[start : start + chunk]
            parts.append(part[torch.sort(lengths[part], stable=True).indices])
        return torch.cat(parts)
