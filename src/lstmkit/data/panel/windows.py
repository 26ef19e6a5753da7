"""Windows over a panel as ``(series, origin)`` index pairs, gathered into batches on the fly.

A window of series k at origin o (a position inside the series: the first step forecast) reads
the look-back rows o - L .. o - 1 and forecasts rows o .. o + H - 1. The look-back of a series
that starts later than o - L is left-padded (``obs`` = 0 there), so short series still give
windows. Nothing of shape (windows, L) is ever stored: a batch is cut from the panel's long
arrays when it is needed, so memory grows with the observations, not with observations x L.

``TrainWindows`` samples the training origins of every epoch from a generator that depends on
(seed, epoch) only (``epoch_generator``), so a resumed run sees the same windows; it follows
the Trainer's batch protocol (``batches(generator)``, ``len``, ``shard``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from lstmkit.train.batches import check_rank, shard_indices

__all__ = ["OriginWindows", "TrainWindows", "gather", "train_origin_range"]


def gather(
    panel,
    series: np.ndarray,
    origins: np.ndarray,
    lookback: int,
    horizon: int,
    future_after: np.ndarray | None = None,
) -> tuple[torch.Tensor | None, ...]:
    """The inputs of ``PanelForecastModel`` for windows (series[i], origins[i]) of ``panel``
    (anything with a Panel's ``offsets``, ``target``, ``past``, ``future``, ``static``).

    Returns ``(y (N, L), obs (N, L), past (N, L, P) or None, future (N, L + H, F) or None,
    static (N, S) or None, series (N,), y_next (N, H), next_obs (N, H))``. Steps past a
    series' end are 0 with ``next_obs`` 0; their future covariates come from
    ``future_after (K, H, F)`` when given (the covariates known over each series' horizon at
    predict time), else they are 0.
    """
    series = np.asarray(series, dtype=np.int64)
    origins = np.asarray(origins, dtype=np.int64)
    start = panel.offsets[series]  # (N,)
    end = panel.offsets[series + 1]
    rows = (start + origins)[:, None] + np.arange(-lookback, horizon)[None, :]  # (N, L + H)
    inside = (rows >= start[:, None]) & (rows < end[:, None])
    safe = np.clip(rows, 0, max(len(panel.target) - 1, 0))
    values = np.where(inside, panel.target[safe], 0.0).astype(np.float32)  # (N, L + H)
    y, y_next = values[:, :lookback], values[:, lookback:]
    obs = inside[:, :lookback].astype(np.float32)
    next_obs = inside[:, lookback:].astype(np.float32)
    past = future = static = None
    if panel.past.shape[1]:
        past = np.where(inside[:, :lookback, None], panel.past[safe[:, :lookback]], 0.0)
    if panel.future.shape[1]:
        future = np.where(inside[..., None], panel.future[safe], 0.0).astype(np.float32)
        if future_after is not None:  # the horizon after the series' end: from the block
            steps = rows - end[:, None]  # (N, L + H): 0 = the first step after the end
            after = (steps >= 0) & (steps < future_after.shape[1])
            block = future_after[series[:, None], np.clip(steps, 0, future_after.shape[1] - 1)]
            future = np.where(after[..., None], block, future).astype(np.float32)
    if panel.static.shape[1]:
        static = panel.static[series]

    def t(a):
        return None if a is None else torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    return (t(y), t(obs), t(past), t(future), t(static), torch.from_numpy(series),
            t(y_next), t(next_obs))  # fmt: skip


def train_origin_range(
    lengths: np.ndarray, horizon: int, *, min_past: int = 1, history: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) per series: the origins whose horizon ends inside the series (o + H <= n) and
    with at least ``min_past`` observed look-back steps, limited to the last ``history`` origins
    (N-BEATS' history limit) when given. A series without one has hi < lo."""
    hi = lengths - horizon  # the last origin whose horizon fits
    lo = np.full_like(hi, min_past)
    if history is not None:
        lo = np.maximum(lo, hi - history + 1)
    return lo, hi


class TrainWindows:
    """Every epoch, ``per_series`` origins drawn uniformly from each series' ``(lo, hi)``
    range (all series weigh alike, however long), shuffled and cut into batches.

    ``per_series=None``: every origin of every series once per epoch."""

    def __init__(
        self,
        panel,
        lookback: int,
        horizon: int,
        lo: np.ndarray,
        hi: np.ndarray,
        batch_size: int,
        per_series: int | None = None,
    ) -> None:
        self.panel, self.lookback, self.horizon = panel, lookback, horizon
        usable = np.flatnonzero(hi >= lo)
        if len(usable) == 0:
            raise ValueError("no series holds a training window; lower lookback / horizon")
        self.series = usable.astype(np.int64)
        self.lo, self.count = lo[usable].astype(np.int64), (hi - lo + 1)[usable].astype(np.int64)
        self.batch_size, self.per_series = batch_size, per_series
        self.rank, self.world_size = 0, 1

    @property
    def progress_unit(self) -> tuple[str, int]:
        """The progress bar counts windows (a batch is ``batch_size`` of them)."""
        return "window", self.batch_size

    @property
    def windows(self) -> int:
        """Windows per epoch (all processes together)."""
        if self.per_series is None:
            return int(self.count.sum())
        return len(self.series) * self.per_series

    def shard(self, rank: int, world_size: int) -> TrainWindows:
        check_rank(rank, world_size)
        out = TrainWindows.__new__(TrainWindows)
        out.__dict__ = dict(self.__dict__)
        out.rank, out.world_size = rank, world_size
        return out

    def __len__(self) -> int:
        per_rank = -(-self.windows // self.world_size)
        return -(-per_rank // self.batch_size)

    def _epoch(self, generator: torch.Generator | None) -> tuple[np.ndarray, np.ndarray]:
        """(series, origins) of one epoch, in shuffled order."""
        if self.per_series is None:
            series = np.repeat(self.series, self.count)
            first = np.repeat(np.cumsum(self.count) - self.count, self.count)
            origins = np.repeat(self.lo, self.count) + np.arange(len(series)) - first
        else:
            series = np.repeat(self.series, self.per_series)
            count = np.repeat(self.count, self.per_series)
            u = torch.rand(len(series), generator=generator, dtype=torch.float64).numpy()
            origins = np.repeat(self.lo, self.per_series) + np.minimum(
                (u * count).astype(np.int64), count - 1
            )
        order = torch.randperm(len(series), generator=generator)
        if self.world_size > 1:
            order = shard_indices(order, self.rank, self.world_size)
        order = order.numpy()
        return series[order], origins[order]

    def batches(self, generator: torch.Generator | None = None) -> Iterator[tuple]:
        series, origins = self._epoch(generator)
        for i in range(0, len(series), self.batch_size):
            s = slice(i, i + self.batch_size)
            yield gather(self.panel, series[s], origins[s], self.lookback, self.horizon)


class OriginWindows:
    """Fixed windows (validation, test, forecasting) in order: the Trainer's ``evaluate``
    iterates over them with ``batches()``."""

    def __init__(
        self,
        panel,
        series,
        origins,
        lookback: int,
        horizon: int,
        batch_size: int = 512,
        future_after: np.ndarray | None = None,
    ) -> None:
        self.panel, self.lookback, self.horizon = panel, lookback, horizon
        self.series = np.asarray(series, dtype=np.int64)
        self.origins = np.asarray(origins, dtype=np.int64)
        self.batch_size, self.future_after = batch_size, future_after

    def __len__(self) -> int:
        return -(-len(self.series) // self.batch_size)

    def batches(self, generator: torch.Generator | None = None) -> Iterator[tuple]:
        for i in range(0, len(self.series), self.batch_size):
            s = slice(i, i + self.batch_size)
            yield gather(self.panel, self.series[s], self.origins[s], self.lookback,
                         self.horizon, self.future_after)  # fmt: skip
