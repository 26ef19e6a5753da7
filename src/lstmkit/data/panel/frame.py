"""A panel: many series kept as one long array per column plus series offsets.

Series k is rows ``offsets[k]:offsets[k + 1]`` of ``target``, ``past`` and ``future``, on a
regular grid (one row per time step, no gaps) that starts at ``start[k]`` and continues with the
panel's common frequency ``freq`` (or integer positions when there is no time: ``freq`` None).
Nothing per series is stored but its id, offsets, start and static covariates, so a panel of
100,000 series costs its observations and little more; windows are cut from it on the fly
(:mod:`lstmkit.data.panel.windows`). Covariates are named by when they are known, as in
NeuralForecast: ``past`` (``hist_exog``: known up to the forecast origin), ``future``
(``futr_exog``: known over the horizon too, such as calendar or prices) and ``static``
(``stat_exog``: one value per series).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
import pandas as pd
from pandas.tseries import offsets as pd_offsets
from pandas.tseries.offsets import BaseOffset

from lstmkit.data.series._freq import parse_offset
from lstmkit.data.series.baselines import season_for

__all__ = ["Panel", "PanelNames", "shift_times"]

_SHOWN = 5  # ids named in an error message, at most


@dataclass(frozen=True)
class PanelNames:
    """The source's column names, to write forecasts in the same shape as the input."""

    id_col: str | None  # None: the table was one series (its id is the target's name)
    time_col: str | None  # None: no time column (integer positions)
    target: str
    past: tuple[str, ...] = ()  # columns of Panel.past, in order
    future: tuple[str, ...] = ()  # columns of Panel.future, in order
    static: tuple[str, ...] = ()  # columns of Panel.static, in order


@dataclass
class Panel:
    """K series on regular grids, T rows in all (see the module docstring).

    ``report`` records what loading did: ``"series"`` (K), ``"series_dropped"`` (too short),
    ``"rows_read"``, ``"rows"`` (T), ``"trimmed"`` (missing target values cut at series' ends),
    ``"gaps_reindexed"`` (rows added for missing time steps), ``"series_with_gaps"``,
    ``"filled"`` ({column: values filled}), ``"freq"``; built-in panels add ``"horizon"`` and
    ``"season"`` (the competition's), which :attr:`season` prefers to the frequency's.
    """

    ids: np.ndarray  # (K,) series ids, values as the data holds them (str or int)
    offsets: np.ndarray  # (K+1,) int64; series k is rows offsets[k]:offsets[k+1]
    target: np.ndarray  # (T,) float32, no NaN
    past: np.ndarray  # (T, P) float32 past covariates (known up to the forecast origin)
    future: np.ndarray  # (T, F) float32 future-known covariates (calendar, price, ...)
    static: np.ndarray  # (K, S) float32 static covariates (one value per series)
    start: np.ndarray  # (K,) first time: datetime64[ns], or int64 positions (freq None)
    freq: str | None  # the common pandas frequency alias; None for positions
    names: PanelNames
    report: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        k, t = len(self.ids), len(self.target)
        problems = []
        if self.offsets.shape != (k + 1,):
            problems.append(f"offsets {self.offsets.shape} (expected ({k + 1},))")
        elif self.offsets[0] != 0 or self.offsets[-1] != t or (np.diff(self.offsets) < 0).any():
            problems.append(f"offsets must rise from 0 to {t} (rows)")
        for name, cols in (("past", self.names.past), ("future", self.names.future)):
            a = getattr(self, name)
            if a.shape != (t, len(cols)):
                problems.append(f"{name} {a.shape} (expected ({t}, {len(cols)}))")
        if self.static.shape != (k, len(self.names.static)):
            problems.append(
                f"static {self.static.shape} (expected ({k}, {len(self.names.static)}))"
            )
        if self.start.shape != (k,):
            problems.append(f"start {self.start.shape} (expected ({k},))")
        if (self.freq is None) != (self.start.dtype.kind != "M"):
            problems.append(f"start is {self.start.dtype} with freq {self.freq!r}")
        if problems:
            raise ValueError(f"inconsistent Panel: {'; '.join(problems)}")

    # --- access --------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.ids)

    def lengths(self) -> np.ndarray:
        """(K,) int64: the steps of each series."""
        return np.diff(self.offsets)

    def series(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Views of series k: ``y (n,)``, ``past (n, P)``, ``future (n, F)``."""
        s = slice(int(self.offsets[k]), int(self.offsets[k + 1]))
        return self.target[s], self.past[s], self.future[s]

    def times(self, k: int) -> pd.DatetimeIndex | pd.RangeIndex:
        """The time of every step of series k (positions: a RangeIndex)."""
        n = int(self.offsets[k + 1] - self.offsets[k])
        if self.freq is None:
            first = int(self.start[k])
            return pd.RangeIndex(first, first + n, name=self.names.time_col)
        return pd.date_range(
            pd.Timestamp(self.start[k]), periods=n, freq=self.freq, name=self.names.time_col
        )

    def future_times(self, k: int, h: int) -> pd.DatetimeIndex | pd.RangeIndex:
        """The ``h`` times after series k's last one, continuing its frequency."""
        n = int(self.offsets[k + 1] - self.offsets[k])
        after = shift_times(self.start[k : k + 1], np.array([n]), self.freq)[0]
        if self.freq is None:
            return pd.RangeIndex(int(after), int(after) + h, name=self.names.time_col)
        return pd.date_range(
            pd.Timestamp(after), periods=h, freq=self.freq, name=self.names.time_col
        )

    def end_times(self) -> np.ndarray:
        """(K,) the time of each series' last step (datetime64[ns] or int64)."""
        return shift_times(self.start, self.lengths() - 1, self.freq)

    @property
    def season(self) -> int:
        """The season length: the source's when it knows one (built-ins), else the frequency's
        (:func:`lstmkit.data.series.baselines.season_for`; 1 for positions)."""
        known = self.report.get("season")
        return int(known) if known else season_for(self.freq)

    def index_of(self, ids) -> np.ndarray:
        """(N,) the series index of each id; -1 for ids not in the panel."""
        return pd.Index(self.ids).get_indexer(np.asarray(ids))

    # --- new panels ----------------------------------------------------------------------

    def subset(self, idx) -> Panel:
        """The series ``idx`` (indices, a boolean mask of length K, or a slice), in that order."""
        k = np.arange(len(self))[idx] if isinstance(idx, slice) else np.asarray(idx)
        if k.dtype == bool:
            if k.shape != (len(self),):
                raise ValueError(f"a boolean mask must have {len(self)} values, got {k.shape}")
            k = np.flatnonzero(k)
        k = k.astype(np.int64)
        if k.size and (k.min() < -len(self) or k.max() >= len(self)):
            raise IndexError(f"series index out of range for a panel of {len(self)} series")
        k = np.where(k < 0, k + len(self), k)
        lengths = self.lengths()[k]
        rows = _ranges(self.offsets[k], lengths)
        report = dict(self.report, series=len(k), rows=int(lengths.sum()))
        return replace(
            self,
            ids=self.ids[k],
            offsets=_offsets(lengths),
            target=self.target[rows],
            past=self.past[rows],
            future=self.future[rows],
            static=self.static[k],
            start=self.start[k],
            report=report,
        )

    def split_tail(self, h: int) -> tuple[Panel, Panel]:
        """``(head, tail)``: the last ``h`` steps of every series cut off (the test part).

        Raises:
            ValueError: ``h`` is not an integer >= 1, or a series has ``h`` steps or fewer
                (nothing would be left to learn from); the message names them.
        """
        if isinstance(h, bool) or not isinstance(h, int | np.integer) or h < 1:
            raise ValueError(f"the tail must be an integer >= 1 steps, got {h!r}")
        lengths = self.lengths()
        short = np.flatnonzero(lengths <= h)
        if short.size:
            shown = ", ".join(f"{self.ids[i]!r} ({lengths[i]})" for i in short[:_SHOWN])
            more = f" and {short.size - _SHOWN} more" if short.size > _SHOWN else ""
            raise ValueError(
                f"cannot hold out the last {h} steps: {short.size} series have {h} steps or "
                f"fewer, expected more than {h}: {shown}{more}; drop them (min_length={h + 1}) "
                "or shorten the horizon"
            )
        within = np.arange(len(self.target)) - np.repeat(self.offsets[:-1], lengths)  # (T,)
        in_head = within < np.repeat(lengths - h, lengths)
        tail_start = shift_times(self.start, lengths - h, self.freq)
        head = replace(
            self,
            offsets=_offsets(lengths - h),
            target=self.target[in_head],
            past=self.past[in_head],
            future=self.future[in_head],
            report=dict(self.report, rows=int((lengths - h).sum())),
        )
        tail = replace(
            self,
            offsets=_offsets(np.full_like(lengths, h)),
            target=self.target[~in_head],
            past=self.past[~in_head],
            future=self.future[~in_head],
            start=tail_start,
            report=dict(self.report, rows=h * len(self)),
        )
        return head, tail

    def concat_tail(self, tail: Panel) -> Panel:
        """The inverse of :meth:`split_tail`: ``tail``'s steps appended to every series.

        Raises:
            ValueError: ``tail`` has other series, columns or frequency, or does not start
                right after each series' end.
        """
        if len(tail) != len(self) or not np.array_equal(tail.ids, self.ids):
            raise ValueError(
                f"the tail must hold the same series in the same order: {len(self)} series "
                f"here, {len(tail)} in the tail"
            )
        if tail.names != self.names or tail.freq != self.freq:
            raise ValueError(
                f"the tail has other columns or frequency: {tail.names} freq {tail.freq!r}, "
                f"expected {self.names} freq {self.freq!r}"
            )
        lengths, tail_lengths = self.lengths(), tail.lengths()
        expected = shift_times(self.start, lengths, self.freq)
        wrong = np.flatnonzero(tail.start != expected)
        if wrong.size:
            i = wrong[0]
            raise ValueError(
                f"the tail of series {self.ids[i]!r} starts at {_show(tail.start[i])}, expected "
                f"{_show(expected[i])} (the step after its end); {wrong.size} series differ"
            )
        total = lengths + tail_lengths
        offsets = _offsets(total)
        head_rows = np.arange(len(self.target)) + np.repeat(tail.offsets[:-1], lengths)
        tail_rows = np.arange(len(tail.target)) + np.repeat(self.offsets[1:], tail_lengths)

        def merge(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            out = np.empty((len(a) + len(b), *a.shape[1:]), dtype=a.dtype)
            out[head_rows], out[tail_rows] = a, b
            return out

        return replace(
            self,
            offsets=offsets,
            target=merge(self.target, tail.target),
            past=merge(self.past, tail.past),
            future=merge(self.future, tail.future),
            report=dict(self.report, rows=int(total.sum())),
        )


# --- helpers ------------------------------------------------------------------------------


def _offsets(lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The row numbers ``starts[i] .. starts[i] + lengths[i] - 1`` of every i, concatenated."""
    lengths = np.asarray(lengths, dtype=np.int64)
    shift = np.repeat(np.asarray(starts, dtype=np.int64) - _offsets(lengths)[:-1], lengths)
    return np.arange(int(lengths.sum()), dtype=np.int64) + shift


def _show(value) -> str:
    return str(pd.Timestamp(value)) if isinstance(value, np.datetime64) else str(int(value))


@lru_cache(maxsize=64)
def _offset(freq: str) -> BaseOffset:
    return parse_offset(freq)


def shift_times(start: np.ndarray, steps: np.ndarray, freq: str | None) -> np.ndarray:
    """(N,) the time ``steps[i]`` steps of ``freq`` after ``start[i]`` (steps >= 0).

    Positions (``freq`` None) add; fixed steps (``"h"``, ``"D"``, ``"15min"``) multiply;
    calendar offsets (``"MS"``, ``"W-SUN"``, ``"B"``, ...) are applied once per distinct step
    count, so the cost is vectorised over the series.
    """
    steps = np.asarray(steps, dtype=np.int64)
    if freq is None:
        return np.asarray(start, dtype=np.int64) + steps
    start = np.asarray(start, dtype="datetime64[ns]")
    offset = _offset(freq)
    if isinstance(offset, pd_offsets.Tick):
        return start + (steps * offset.nanos).astype("timedelta64[ns]")
    out = start.copy()
    for s in np.unique(steps):
        if s == 0:
            continue
        mask = steps == s
        out[mask] = (pd.DatetimeIndex(start[mask]) + int(s) * offset).to_numpy("datetime64[ns]")
    return out
