"""Panel rows on regular grids: sorted, checked against one frequency, reindexed and filled.

Everything works on the long arrays of all series at once; a Python loop runs per series only
for the rare ones whose time stamps are off the panel's common grid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries import offsets as pd_offsets

from lstmkit.data.panel._columns import plain
from lstmkit.data.panel.frame import _offsets
from lstmkit.data.series._freq import parse_offset
from lstmkit.data.series.frame import _infer_frequency, _regular_index

_CANDIDATES = 5  # the longest series read for the common frequency


def sort_order(codes: np.ndarray, times: np.ndarray | None) -> np.ndarray | None:
    """The order that sorts rows by (id, time); None when they already are."""
    step = np.diff(codes)
    if times is None:
        return None if (step >= 0).all() else np.argsort(codes, kind="stable")
    if (step >= 0).all() and ((step > 0) | (np.diff(times) > 0)).all():
        return None
    return np.lexsort((times, codes))


def check_duplicates(codes, times, kind, ids, names) -> None:
    same = (codes[1:] == codes[:-1]) & (times[1:] == times[:-1])
    if same.any():
        i = int(np.argmax(same))
        when = pd.Timestamp(times[i]) if kind == "datetime" else int(times[i])
        raise ValueError(
            f"duplicate ({names.id_col or 'series'}, {names.time_col}) pair "
            f"({plain(ids[codes[i]])!r}, {when}): {int(same.sum())} duplicate rows in all; "
            "expected one row per series and time step: aggregate or drop the duplicates"
        )


def inner_rows(y: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(T,) bool: rows between each series' first and last observed target value."""
    valid = ~np.isnan(y)
    if valid.all():
        return valid
    idx = np.arange(len(y))
    series = np.repeat(np.arange(len(counts)), counts)
    big = np.iinfo(np.int64).max
    first = np.full(len(counts), big)
    last = np.full(len(counts), -1)
    np.minimum.at(first, series[valid], idx[valid])
    np.maximum.at(last, series[valid], idx[valid])
    return (idx >= first[series]) & (idx <= last[series])


def grid_positions(times, counts, ids, freq, time_col) -> tuple[str, np.ndarray]:
    """(alias, pos): the common frequency and each row's step from its series' start.

    The frequency comes from ``freq`` or the longest series (:func:`_common_frequency`); every
    row is then checked against it at once (fixed steps: arithmetic; calendar offsets: one grid
    and a searchsorted); only series off that grid are looked at one by one.
    """
    offsets = _offsets(counts)
    present = np.flatnonzero(counts > 0)
    if freq is None and counts.max() < 2:
        raise ValueError(
            f"time column {time_col!r}: every series has one timestamp, which gives no "
            "frequency; pass freq"
        )
    alias, rep = _common_frequency(times, counts, offsets, ids, freq, time_col)
    offset = parse_offset(alias)
    first = np.repeat(times[offsets[:-1][present]], counts[present])  # (T,) its series' start
    if isinstance(offset, pd_offsets.Tick):
        rel = times - first
        bad = rel % offset.nanos != 0
        pos = rel // offset.nanos
    else:
        grid = pd.date_range(pd.Timestamp(times.min()), pd.Timestamp(times.max()), freq=offset)
        grid = grid.asi8
        at = np.searchsorted(grid, times)
        bad = grid[np.minimum(at, len(grid) - 1)] != times
        pos = at - np.repeat(at[offsets[:-1][present]], counts[present])
    series_of = np.repeat(np.arange(len(counts)), counts)
    for k in np.unique(series_of[bad]):  # off the common grid: its own grid, same frequency
        s = slice(offsets[k], offsets[k + 1])
        pos[s] = _own_grid(times[s], offset, alias, ids, k, rep, freq, time_col)
    _check_steps(pos, counts, offsets, times, ids, rep, alias, time_col)
    return alias, pos


def _common_frequency(times, counts, offsets, ids, freq, time_col) -> tuple[str, int]:
    """(alias, series it was read from): ``freq``, else the one frequency of the longest
    series; when they differ (a daily series with its weekends missing reads as ``"B"``), the
    coarsest of their frequencies on whose grid every one of them lies."""

    def index(k: int) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(times[offsets[k] : offsets[k + 1]].view("datetime64[ns]"))

    def label(k: int) -> str:
        return f"time column {time_col!r} (series {plain(ids[k])!r})"

    longest = np.argsort(-counts, kind="stable")
    if freq is not None:
        rep = int(longest[0])
        if counts[rep] < 2:
            return parse_offset(freq).freqstr, rep
        return _regular_index(index(rep), label(rep), freq).freqstr, rep
    top = [int(k) for k in longest[:_CANDIDATES] if counts[k] >= 2]
    found: dict[str, int] = {}  # alias -> the first series read as it
    for k in top:
        try:
            found.setdefault(_regular_index(index(k), label(k), None).freqstr, k)
        except ValueError:
            if k == top[0]:
                raise
    if len(found) == 1:
        return next(iter(found.items()))
    fitting = []
    for alias, k in found.items():
        full = [pd.date_range(index(j)[0], index(j)[-1], freq=alias) for j in top]
        if all(index(j).isin(f).all() for j, f in zip(top, full, strict=True)):
            fitting.append((sum(map(len, full)), alias, k))
    if not fitting:
        (a, ka), (b, kb) = list(found.items())[:2]
        raise _mixed(ids[ka], a, ids[kb], b)
    _, alias, k = min(fitting)
    return alias, k


def _own_grid(times, offset, alias, ids, k, rep, freq, time_col) -> np.ndarray:
    index = pd.DatetimeIndex(times.view("datetime64[ns]"))
    if len(index) == 1:
        return np.zeros(1, np.int64)
    own = _frequency_of(index, time_col, ids[k])
    if freq is None and parse_offset(own) != offset:
        raise _mixed(ids[rep], alias, ids[k], own)
    full = pd.date_range(index[0], index[-1], freq=offset)
    at = full.get_indexer(index)
    if (at < 0).any():
        raise ValueError(
            f"time column {time_col!r}: series {plain(ids[k])!r} has "
            f"{index[int(np.argmax(at < 0))]}, which is not on the {alias!r} grid starting at "
            f"{index[0]}; its steps look like {own!r}"
        )
    return at.astype(np.int64)


def _check_steps(pos, counts, offsets, times, ids, rep, alias, time_col) -> None:
    """Series whose steps are all a multiple of the panel's: a coarser frequency (quarterly
    rows on a monthly grid), not gaps."""
    gaps = np.zeros(len(counts), bool)
    present = counts > 0
    gaps[present] = pos[offsets[1:][present] - 1] + 1 > counts[present]
    if not gaps.any():
        return
    d = np.zeros(len(pos), np.int64)
    d[:-1] = np.diff(pos)
    d[offsets[1:][present] - 1] = 0  # across series: not a step
    step = np.zeros(len(counts), np.int64)
    step[present] = np.gcd.reduceat(d, offsets[:-1][present])
    coarse = np.flatnonzero(gaps & (step > 1))
    if coarse.size:
        k = coarse[0]
        index = pd.DatetimeIndex(times[offsets[k] : offsets[k + 1]].view("datetime64[ns]"))
        raise _mixed(ids[rep], alias, ids[k], _frequency_of(index, time_col, ids[k]))


def _frequency_of(index: pd.DatetimeIndex, time_col, id_) -> str:
    try:
        return _infer_frequency(index, f"time column {time_col!r} (series {plain(id_)!r})")
    except ValueError as exc:
        raise ValueError(f"{exc}; every series needs the panel's one frequency") from None


def _mixed(id_a, freq_a, id_b, freq_b) -> ValueError:
    return ValueError(
        f"series have different frequencies: {plain(id_a)!r} is {freq_a!r} but "
        f"{plain(id_b)!r} is {freq_b!r}; expected one frequency for all series: resample "
        "them to one, or pass freq"
    )


def scatter(values: np.ndarray, dest: np.ndarray, total: int) -> np.ndarray:
    out = np.full((total, *values.shape[1:]), np.nan, dtype=values.dtype)
    out[dest] = values
    return out


def interpolate(y: np.ndarray) -> int:
    """Fill NaN in place by linear interpolation between the nearest values; every series
    starts and ends with a value, so the neighbours are in the same series. Returns the count."""
    nan = np.flatnonzero(np.isnan(y))
    if nan.size == 0:
        return 0
    valid = np.flatnonzero(~np.isnan(y))
    after = np.searchsorted(valid, nan)
    p, q = valid[after - 1], valid[after]
    w = ((nan - p) / (q - p)).astype(np.float64)
    y[nan] = (y[p] + w * (y[q].astype(np.float64) - y[p])).astype(y.dtype)
    return int(nan.size)


def fill_column(v: np.ndarray, offsets: np.ndarray, ids, col) -> int:
    """Forward then backward fill within each series, in place; the count filled."""
    nan = np.flatnonzero(np.isnan(v))
    if nan.size == 0:
        return 0
    valid = np.flatnonzero(~np.isnan(v))
    series = np.searchsorted(offsets, nan, side="right") - 1
    after = np.searchsorted(valid, nan)
    prev = np.where(after > 0, valid[np.maximum(after - 1, 0)], -1) if valid.size else \
        np.full(nan.size, -1)  # fmt: skip
    nxt = valid[np.minimum(after, valid.size - 1)] if valid.size else np.full(nan.size, -1)
    use_prev = prev >= offsets[series]
    use_next = ~use_prev & (nxt >= offsets[series]) & (nxt < offsets[series + 1]) & (nxt > nan)
    none = ~(use_prev | use_next)
    if none.any():
        raise ValueError(
            f"covariate {col!r} has no value in series "
            f"{plain(ids[series[int(np.argmax(none))]])!r}; expected at least one value per "
            "series to fill from (fill it or drop the column)"
        )
    v[nan] = np.where(use_prev, v[np.maximum(prev, 0)], v[np.maximum(nxt, 0)])
    return int(nan.size)
