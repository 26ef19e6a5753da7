"""lstmkit.data.series.prepare_frame: time column, parsing, frequency inference, gaps, checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmkit.data.series import load_table, prepare_frame, season_for


def _bad(df: pd.DataFrame, match: str, target: str = "y", **kwargs: object) -> None:
    with pytest.raises(ValueError, match=match) as info:
        prepare_frame(df, target, **kwargs)
    assert "\n" not in str(info.value)


def _monthly(n: int = 12, drop: tuple[int, ...] = (), start: str = "2000-01-01") -> pd.DataFrame:
    dates = pd.date_range(start, periods=n, freq="MS").strftime("%Y-%m-%d")
    df = pd.DataFrame({"month": dates, "y": np.arange(n, dtype=np.float64) * 10})
    return df.drop(index=list(drop)).reset_index(drop=True)


# --- time column -----------------------------------------------------------------------------


def test_regular_monthly_series() -> None:
    frame = prepare_frame(_monthly(), "y")
    assert frame.time_col == "month" and frame.freq == "MS" and frame.target == "y"
    assert isinstance(frame.data.index, pd.DatetimeIndex) and frame.data.index.freqstr == "MS"
    assert list(frame.data.columns) == ["y"] and frame.data["y"].dtype == np.float64
    assert frame.report == {"rows": 12, "rows_read": 12, "gaps_reindexed": 0, "missing": {"y": 0}}
    assert frame.observed.dtype == bool and frame.observed.all()
    assert season_for(frame.freq) == 12


def test_auto_detect_picks_the_first_time_name_case_insensitive() -> None:
    df = pd.DataFrame({"y": [1.0, 2.0, 3.0], "Date": ["2020-01-01", "2020-01-02", "2020-01-03"]})
    df["period"] = ["a", "b", "c"]  # also a time name, but later
    frame = prepare_frame(df, "y")
    assert frame.time_col == "Date" and frame.freq == "D"


def test_no_time_column_gives_a_range_index() -> None:
    df = pd.DataFrame({"y": [1.0, np.nan, 3.0], "x": ["4", " ", "6"]})
    frame = prepare_frame(df, "y", features=["x"])
    assert frame.time_col is None and frame.freq is None
    assert isinstance(frame.data.index, pd.RangeIndex)
    np.testing.assert_array_equal(frame.data["x"], [4.0, np.nan, 6.0])  # blank text: missing
    np.testing.assert_array_equal(frame.observed, [True, False, True])
    assert frame.report["missing"] == {"y": 1, "x": 1} and frame.report["gaps_reindexed"] == 0
    assert season_for(frame.freq) == 1


def test_datetime_index_is_used_when_there_is_no_time_column() -> None:
    index = pd.date_range("2021-03-01", periods=4, freq="h", name="stamp")
    frame = prepare_frame(pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0]}, index=index), "y")
    assert frame.freq == "h" and frame.time_col == "stamp"
    again = prepare_frame(pd.DataFrame({"y": [1.0, 2.0]}, index=index[:2]), "y", time_col="stamp")
    assert again.freq == "h"


def test_rows_are_sorted_by_time_and_features_follow_the_target() -> None:
    df = pd.DataFrame(
        {
            "x": [30.0, 10.0, 20.0],
            "date": ["2020-01-03", "2020-01-01", "2020-01-02"],
            "y": [3.0, 1.0, 2.0],
        }
    )
    frame = prepare_frame(df, "y", features=["x"])
    assert list(frame.data.columns) == ["y", "x"]
    np.testing.assert_array_equal(frame.data.to_numpy(), [[1, 10], [2, 20], [3, 30]])


def test_whole_years_as_numbers() -> None:
    df = pd.DataFrame({"year": [1990, 1991, 1993], "y": [1.0, 2.0, 3.0]})
    frame = prepare_frame(df, "y")
    assert frame.freq == "YS-JAN" and frame.report["gaps_reindexed"] == 1
    assert frame.data.index[2] == pd.Timestamp("1992-01-01") and season_for(frame.freq) == 1


def test_column_errors() -> None:
    df = pd.DataFrame({"date": ["2020-01-01"], "y": [1.0], "x": [2.0]})
    _bad(df, r"^target column 'z' not found; columns: date, y, x$", target="z")
    _bad(df, r"^feature column 'w' not found; columns: date, y, x$", features=["w"])
    _bad(df, r"^time column 't' not found; columns: date, y, x$", time_col="t")
    _bad(df, r"features must be distinct and exclude the target", features=["y"])
    _bad(df, r"time column 'x' is also the target or a feature", time_col="x", features=["x"])
    _bad(df.iloc[:0], r"the table has no rows")
    _bad(
        df[["y", "x"]],
        r"^freq 'MS' given but the table has no time column \(columns: y, x\)",
        freq="MS",
    )
    twice = pd.DataFrame([[1.0, 2.0]], columns=["y", "y"])
    _bad(twice, r"^column 'y' appears 2 times; columns: y, y$")
    with pytest.raises(TypeError, match=r"expected a pandas DataFrame, got list"):
        prepare_frame([1, 2], "y")  # type: ignore[arg-type]


def test_non_numeric_and_empty_columns() -> None:
    df = pd.DataFrame({"y": ["1", "", "abc", "4"], "x": [1.0, 2.0, 3.0, 4.0]})
    _bad(df, r"^column 'y' must be numeric; got 'abc' at row 2$")
    df = pd.DataFrame({"y": [1.0, 2.0], "x": ["1.5", "n/a?"]})
    _bad(df, r"^column 'x' must be numeric; got 'n/a\?' at row 1$", features=["x"])
    df = pd.DataFrame({"y": [1.0, 2.0], "x": [np.nan, np.nan]})
    _bad(df, r"^column 'x' has no values \(all 2 are missing\)$", features=["x"])
    df = pd.DataFrame({"y": pd.to_datetime(["2020-01-01", "2020-01-02"])})
    _bad(df, r"column 'y' must be numeric, got datetime64")


def test_time_parse_errors() -> None:
    df = pd.DataFrame({"date": ["2020-01-01", "2020-01-02", "soon", "2020-01-04"], "y": 1.0})
    _bad(df, r"^time column 'date': cannot read 'soon' \(row 2\) as a date$")
    df = pd.DataFrame({"date": ["2020-01-01", None, "2020-01-03"], "y": 1.0})
    _bad(df, r"^time column 'date': missing timestamp at row 1; every row needs one$")
    df = pd.DataFrame({"year": [1990.0, 1990.5], "y": 1.0})
    _bad(df, r"time column 'year': cannot read 1990\.5 \(row 1\) as a date")


def test_mixed_date_formats_are_parsed() -> None:
    df = pd.DataFrame({"date": ["2020-01-01", "2020/01/02", "3 Jan 2020"], "y": [1.0, 2.0, 3.0]})
    frame = prepare_frame(df, "y")
    assert frame.freq == "D" and frame.data.index[-1] == pd.Timestamp("2020-01-03")


def test_duplicate_timestamp_is_quoted() -> None:
    df = pd.DataFrame({"date": ["2020-01-01", "2020-01-02", "2020-01-01"], "y": [1.0, 2.0, 3.0]})
    _bad(df, r"^time column 'date': duplicate timestamp 2020-01-01 00:00:00 \(rows 0 and 2\);")


# --- frequency and gaps ----------------------------------------------------------------------


def test_missing_months_are_reindexed() -> None:
    frame = prepare_frame(_monthly(12, drop=(3, 4, 9)), "y")
    assert frame.freq == "MS" and len(frame.data) == 12
    assert frame.report == {"rows": 12, "rows_read": 9, "gaps_reindexed": 3, "missing": {"y": 3}}
    np.testing.assert_array_equal(np.flatnonzero(~frame.observed), [3, 4, 9])
    assert frame.data.index[3] == pd.Timestamp("2000-04-01")
    assert frame.data["y"].iloc[5] == 50.0  # values stay on their own dates


@pytest.mark.parametrize(
    ("freq", "drop", "expected"),
    [
        ("ME", (2, 5), "ME"),
        ("QS-OCT", (1, 4), "QS-OCT"),  # quarters starting Jan / Apr / Jul / Oct
        ("QS-NOV", (3,), "QS-NOV"),  # Feb / May / Aug / Nov
        ("QE-DEC", (2,), "QE-DEC"),
        ("YS-JAN", (1, 2), "YS-JAN"),
        ("W-WED", (2, 3, 6), "W-WED"),
        ("D", (1, 5), "D"),
        ("h", (2, 3, 4), "h"),
        ("30min", (7,), "30min"),
        ("2D", (3,), "2D"),
        ("B", (3, 8), "B"),  # weekdays; the weekends are not gaps
    ],
)
def test_frequency_inferred_across_gaps(freq: str, drop: tuple[int, ...], expected: str) -> None:
    dates = pd.date_range("2001-01-01", periods=10, freq=freq)
    df = pd.DataFrame({"date": dates, "y": np.arange(10.0)}).drop(index=list(drop))
    frame = prepare_frame(df, "y")
    assert frame.freq == expected and frame.data.index.freqstr == expected
    assert frame.report["gaps_reindexed"] == len(drop) and len(frame.data) == 10
    np.testing.assert_array_equal(frame.data["y"].dropna(), df["y"])


def test_given_freq_old_spellings() -> None:
    assert prepare_frame(_monthly(6, drop=(2,)), "y", freq="M").freq == "MS"  # month starts
    ends = pd.DataFrame({"d": pd.date_range("2000-01-31", periods=4, freq="ME"), "y": 1.0})
    assert prepare_frame(ends, "y", time_col="d", freq="M").freq == "ME"
    hours = pd.DataFrame({"date": pd.date_range("2000-01-01", periods=5, freq="h"), "y": 1.0})
    assert prepare_frame(hours, "y", freq="H").freq == "h"
    halves = pd.DataFrame({"date": pd.date_range("2000-01-01", periods=5, freq="30min")})
    halves["y"] = 1.0
    frame = prepare_frame(halves.drop(index=[2]), "y", freq="30T")
    assert frame.freq == "30min" and frame.report["gaps_reindexed"] == 1
    years = pd.DataFrame({"date": ["2000-01-01", "2001-01-01", "2003-01-01"], "y": 1.0})
    assert prepare_frame(years, "y", freq="A").freq == "YS-JAN"
    assert prepare_frame(years, "y", freq="YS").freq == "YS-JAN"
    quarters = pd.DataFrame({"date": pd.date_range("2000-01-01", periods=6, freq="QS")})
    quarters["y"] = 1.0
    assert prepare_frame(quarters.drop(index=[2]), "y", freq="Q").freq == "QS-OCT"  # starts
    assert season_for("QS-OCT") == 4


def test_given_freq_errors() -> None:
    _bad(
        _monthly(4),
        r"^unknown frequency 'fortnightly': expected a pandas offset alias",
        freq="fortnightly",
    )
    _bad(
        _monthly(4),
        r"^time column 'month': 2000-01-01 00:00:00 is not on the 'ME' grid starting at "
        r"2000-01-01 00:00:00; the timestamps look like 'MS'$",
        freq="ME",
    )
    daily = pd.DataFrame({"date": pd.date_range("2000-01-01", periods=30), "y": 1.0})
    _bad(
        daily,
        r"^frequency 'min' would turn 30 rows into 41761 \(41731 added for gaps\)",
        freq="min",
    )


def test_irregular_timestamps() -> None:
    df = pd.DataFrame({"date": ["2020-01-01", "2020-01-02", "2020-01-03 06:00"], "y": 1.0})
    _bad(
        df, r"2020-01-03 06:00:00 is not on the 'D' grid starting at 2020-01-01 00:00:00; the steps"
    )
    mid = pd.DataFrame({"date": ["2020-01-15", "2020-02-15", "2020-04-15"], "y": 1.0})
    _bad(mid, r"timestamps about 1 month\(s\) apart but not all on month starts or month ends")
    one = pd.DataFrame({"date": ["2020-01-15"], "y": 1.0})
    _bad(one, r"one timestamp gives no frequency; pass freq")
    assert prepare_frame(one, "y", freq="D").freq == "D"


# --- precision -------------------------------------------------------------------------------


def test_value_decimals_of_columns() -> None:
    from lstmkit.data.series import forecast_decimals, value_decimals

    airline = load_table("airline")[0]["passengers"]  # monthly counts
    assert value_decimals(airline) == 0 and forecast_decimals(airline) == 2
    assert value_decimals(np.array([316.1, 317.4, np.nan])) == 1  # 3161.0000000000005 is 1 place
    assert value_decimals(pd.Series([0.25, 1.5, 3.0])) == 2
    assert value_decimals(["1.125", "2", None, ""]) == 3  # text read as numbers, blanks ignored
    assert value_decimals(np.array([1e9 + 0.5, 3.0])) == 1
    assert value_decimals(np.array([np.pi])) == 6 and forecast_decimals([np.pi]) == 6  # capped
    assert forecast_decimals([0.001, 0.002]) == 5 and forecast_decimals([1.2345]) == 6
    assert value_decimals([np.nan, np.inf]) == 6  # nothing to go by: keep the precision
