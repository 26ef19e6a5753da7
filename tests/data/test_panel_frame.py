"""lstmkit.data.panel.frame: the Panel type (views, times, subsets, tail split) and shift_times."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmkit.data.panel import Panel, PanelNames, panel_from_long, shift_times


def _panel(freq: str | None = "MS") -> Panel:
    """Three series of 5, 3 and 4 steps with one past, one future and one static column."""
    lengths = np.array([5, 3, 4])
    t = int(lengths.sum())
    if freq is None:
        start = np.array([0, 2, 7], dtype=np.int64)
    else:
        start = pd.to_datetime(["2020-01-01", "2020-03-01", "2019-11-01"]).to_numpy()
    return Panel(
        ids=np.array(["a", "b", "c"], dtype=object),
        offsets=np.r_[0, np.cumsum(lengths)].astype(np.int64),
        target=np.arange(t, dtype=np.float32),
        past=np.arange(t, dtype=np.float32)[:, None] * 10,
        future=np.arange(t, dtype=np.float32)[:, None] * 100,
        static=np.array([[1.0], [2.0], [3.0]], dtype=np.float32),
        start=start,
        freq=freq,
        names=PanelNames("id", None if freq is None else "ds", "y", ("p",), ("f",), ("s",)),
        report={"series": 3},
    )


def _same(a: Panel, b: Panel) -> None:
    assert np.array_equal(a.ids, b.ids) and np.array_equal(a.offsets, b.offsets)
    for name in ("target", "past", "future", "static", "start"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.freq == b.freq and a.names == b.names


def test_access_views_and_lengths() -> None:
    p = _panel()
    assert len(p) == 3 and p.lengths().tolist() == [5, 3, 4]
    y, past, future = p.series(1)
    assert y.tolist() == [5, 6, 7] and past.shape == (3, 1) and future.shape == (3, 1)
    assert np.shares_memory(y, p.target) and np.shares_memory(past, p.past)
    assert p.past.dtype == np.float32 and p.offsets.dtype == np.int64


def test_times_and_future_times_continue_the_frequency() -> None:
    p = _panel("MS")
    assert list(p.times(1)) == list(pd.date_range("2020-03-01", periods=3, freq="MS"))
    assert p.times(1).name == "ds"
    assert list(p.future_times(2, 3)) == list(pd.date_range("2020-03-01", periods=3, freq="MS"))
    assert p.end_times()[0] == np.datetime64("2020-05-01")
    q = _panel(None)
    assert q.times(1).equals(pd.RangeIndex(2, 5)) and q.future_times(2, 2).equals(
        pd.RangeIndex(11, 13)
    )


def test_season_from_freq_or_report() -> None:
    assert _panel("MS").season == 12 and _panel(None).season == 1
    p = _panel(None)
    p.report["season"] = 4  # a built-in knows its period
    assert p.season == 4


def test_subset_by_indices_mask_and_slice() -> None:
    p = _panel()
    s = p.subset([2, 0])
    assert s.ids.tolist() == ["c", "a"] and s.lengths().tolist() == [4, 5]
    assert s.target.tolist() == [8, 9, 10, 11, 0, 1, 2, 3, 4]
    assert s.static[:, 0].tolist() == [3, 1] and s.start[0] == p.start[2]
    assert s.report["series"] == 2
    _same(p.subset(np.array([True, False, True])), p.subset([0, 2]))
    _same(p.subset(slice(1, None)), p.subset([1, 2]))
    with pytest.raises(IndexError):
        p.subset([3])


@pytest.mark.parametrize("freq", ["MS", "D", "W-SUN", None])
def test_split_tail_then_concat_tail_is_the_identity(freq: str | None) -> None:
    p = _panel(freq)
    if freq in ("D", "W-SUN"):
        p.start = pd.to_datetime(["2020-01-05", "2020-03-01", "2019-11-03"]).to_numpy()
    head, tail = p.split_tail(2)
    assert head.lengths().tolist() == [3, 1, 2] and tail.lengths().tolist() == [2, 2, 2]
    assert tail.target.tolist() == [3, 4, 6, 7, 10, 11]
    assert tail.past[:, 0].tolist() == [30, 40, 60, 70, 100, 110]
    for k in range(3):  # the tail's times are the head's future times
        assert list(tail.times(k)) == list(head.future_times(k, 2))
        assert list(head.times(k)) + list(tail.times(k)) == list(p.times(k))
    _same(head.concat_tail(tail), p)


def test_split_tail_names_the_short_series() -> None:
    with pytest.raises(ValueError, match=r"2 series have 4 steps or fewer.*'b' \(3\), 'c' \(4\)"):
        _panel().split_tail(4)
    with pytest.raises(ValueError, match="integer >= 1"):
        _panel().split_tail(0)


def test_concat_tail_checks_that_the_tail_continues() -> None:
    p = _panel()
    head, tail = p.split_tail(1)
    with pytest.raises(ValueError, match="same series"):
        head.concat_tail(tail.subset([0, 1]))
    with pytest.raises(
        ValueError, match=r"tail of series 'a' starts at 2020-04-01.*expected 2020-05-01"
    ):
        head.concat_tail(p.split_tail(2)[1])


def test_inconsistent_arrays_are_refused() -> None:
    p = _panel()
    with pytest.raises(ValueError, match=r"inconsistent Panel: past \(12, 2\)"):
        Panel(p.ids, p.offsets, p.target, np.zeros((12, 2), np.float32), p.future, p.static,
              p.start, p.freq, p.names)  # fmt: skip


@pytest.mark.parametrize("freq", ["h", "15min", "D", "B", "W-WED", "MS", "ME", "QS-OCT", "YS"])
def test_shift_times_matches_date_range(freq: str) -> None:
    first = pd.date_range("2019-12-30", periods=4, freq=freq)
    start = first.to_numpy()
    steps = np.array([0, 3, 17, 1])
    got = shift_times(start, steps, freq)
    want = [
        pd.date_range(s, periods=n + 1, freq=freq)[-1] for s, n in zip(first, steps, strict=True)
    ]
    assert list(pd.DatetimeIndex(got)) == want
    assert shift_times(np.array([3, 5]), np.array([1, 2]), None).tolist() == [4, 7]


def test_series_round_trip_through_a_loaded_panel() -> None:
    rng = np.random.default_rng(0)
    rows = [
        (k, d, rng.normal()) for k in range(4) for d in pd.date_range("2021-01-01", periods=3 + k)
    ]
    df = pd.DataFrame(rows, columns=["id", "ds", "y"])
    p = panel_from_long(df, target="y", id_col="id", time_col="ds")
    for k, (key, group) in enumerate(df.groupby("id")):
        assert p.ids[k] == key
        assert np.allclose(p.series(k)[0], group["y"].to_numpy(np.float32))
        assert list(p.times(k)) == list(group["ds"])
