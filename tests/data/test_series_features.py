"""lstmkit.data.series.add_features: lags, trailing rolling statistics and calendar cycles."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lstmkit.data.series import add_features, calendar_fields, warmup_rows

NAN = np.nan


def test_lags_and_rolling_statistics_by_hand() -> None:
    data = pd.DataFrame({"y": [1.0, 2.0, 4.0, 7.0, 11.0], "x": [0.0, 1.0, 0.0, 1.0, 0.0]})
    out = add_features(data, "y", None, lags=(1, 2), windows=(3,))
    assert list(out.columns) == ["y", "x", "lag_1", "lag_2", "roll_mean_3", "roll_std_3"]
    np.testing.assert_array_equal(out["lag_1"], [NAN, 1, 2, 4, 7])
    np.testing.assert_array_equal(out["lag_2"], [NAN, NAN, 1, 2, 4])
    np.testing.assert_allclose(out["roll_mean_3"], [NAN, NAN, 7 / 3, 13 / 3, 22 / 3])
    # sample std (ddof 1) of 1,2,4 / 2,4,7 / 4,7,11
    expected_std = [NAN, NAN, math.sqrt(7 / 3), math.sqrt(57) / 3, math.sqrt(111) / 3]
    np.testing.assert_allclose(out["roll_std_3"], expected_std)
    assert out.iloc[warmup_rows((1, 2), (3,)) :].notna().all().all()
    assert out.iloc[: warmup_rows((1, 2), (3,))].isna().any(axis=1).all()
    assert list(data.columns) == ["y", "x"]  # the input is not changed


def test_target_is_moved_first() -> None:
    data = pd.DataFrame({"x": [5.0, 6.0], "y": [1.0, 2.0]})
    assert list(add_features(data, "y", None, lags=(1,)).columns) == ["y", "x", "lag_1"]


def test_warmup_rows() -> None:
    assert warmup_rows() == 0
    assert warmup_rows((1, 2), (3,)) == 2
    assert warmup_rows((5,), (3,)) == 5
    assert warmup_rows((1,), (7,)) == 6


def test_features_never_use_later_rows() -> None:
    rng = np.random.default_rng(1)
    index = pd.date_range("2020-01-01", periods=40, freq="D")
    y = pd.DataFrame({"y": rng.normal(size=40)}, index=index)
    changed = y.copy()
    changed.iloc[25:, 0] += 100.0
    a = add_features(y, "y", "D", lags=(1, 3), windows=(4, 7))
    b = add_features(changed, "y", "D", lags=(1, 3), windows=(4, 7))
    pd.testing.assert_frame_equal(a.iloc[:25], b.iloc[:25])
    assert not np.allclose(a["roll_mean_4"].iloc[25], b["roll_mean_4"].iloc[25])


def _sin_cos(phase: float, period: float) -> tuple[float, float]:
    return math.sin(2 * math.pi * phase / period), math.cos(2 * math.pi * phase / period)


def test_calendar_hourly() -> None:
    index = pd.date_range("2021-01-04 06:00", periods=3, freq="h")  # a Monday
    out = add_features(pd.DataFrame({"y": [1.0, 2.0, 3.0]}, index=index), "y", "h")
    names = ["hour", "weekday", "month", "dayofyear"]
    assert list(out.columns) == ["y"] + [f"{n}_{f}" for n in names for f in ("sin", "cos")]
    row = out.iloc[0]
    assert (row["hour_sin"], row["hour_cos"]) == pytest.approx(_sin_cos(6, 24))  # (1, 0)
    assert (row["weekday_sin"], row["weekday_cos"]) == pytest.approx((0.0, 1.0))
    assert (row["month_sin"], row["month_cos"]) == pytest.approx((0.0, 1.0))
    assert (row["dayofyear_sin"], row["dayofyear_cos"]) == pytest.approx(_sin_cos(3, 365))
    assert out["hour_sin"].iloc[2] == pytest.approx(_sin_cos(8, 24)[0])


def test_calendar_half_hourly_uses_minutes() -> None:
    index = pd.date_range("2021-01-04 06:30", periods=2, freq="30min")
    out = add_features(pd.DataFrame({"y": [1.0, 2.0]}, index=index), "y", "30T")  # old spelling
    assert out["hour_sin"].iloc[0] == pytest.approx(_sin_cos(6.5, 24)[0])


def test_calendar_daily() -> None:
    index = pd.date_range("2020-12-31", periods=3, freq="D")  # Thu 31 Dec of a leap year
    out = add_features(pd.DataFrame({"y": [1.0, 2.0, 3.0]}, index=index), "y", "D")
    assert [c for c in out.columns if c.endswith("_sin")] == [
        "weekday_sin",
        "month_sin",
        "dayofyear_sin",
    ]
    assert out["weekday_sin"].iloc[0] == pytest.approx(_sin_cos(3, 7)[0])
    assert out["month_sin"].iloc[0] == pytest.approx(_sin_cos(11, 12)[0])
    assert out["dayofyear_sin"].iloc[0] == pytest.approx(_sin_cos(365, 366)[0])  # day 366 of 366
    assert out["dayofyear_cos"].iloc[1] == pytest.approx(1.0)  # 1 January


def test_calendar_monthly_and_coarser() -> None:
    index = pd.date_range("2021-04-01", periods=3, freq="MS")
    out = add_features(pd.DataFrame({"y": [1.0, 2.0, 3.0]}, index=index), "y", None)  # index freq
    assert list(out.columns) == ["y", "month_sin", "month_cos"]
    assert (out["month_sin"].iloc[0], out["month_cos"].iloc[0]) == pytest.approx((1.0, 0.0))
    assert calendar_fields("W-SUN") == ("month",)
    assert calendar_fields("QS-OCT") == () and calendar_fields("YS") == ()
    assert calendar_fields("B") == ("weekday", "month", "dayofyear")
    assert calendar_fields(None) == ()


def test_no_calendar_without_a_datetime_index_or_when_off() -> None:
    data = pd.DataFrame({"y": [1.0, 2.0]})
    assert list(add_features(data, "y", "h").columns) == ["y"]
    index = pd.date_range("2021-01-01", periods=2, freq="h")
    timed = pd.DataFrame({"y": [1.0, 2.0]}, index=index)
    assert list(add_features(timed, "y", "h", calendar=False).columns) == ["y"]


def test_feature_errors() -> None:
    data = pd.DataFrame({"y": [1.0, 2.0], "lag_1": [0.0, 0.0]})
    with pytest.raises(ValueError, match=r"^target column 'z' not found; columns: y, lag_1$"):
        add_features(data, "z", None)
    with pytest.raises(ValueError, match=r"^lags must be integers >= 1, got \[0, 2\]$"):
        add_features(data, "y", None, lags=(0, 2))
    with pytest.raises(ValueError, match=r"^windows must be integers >= 2, got \[1\]$"):
        add_features(data, "y", None, windows=(1,))
    with pytest.raises(ValueError, match=r"^lags must not repeat, got \[2, 2\]$"):
        add_features(data, "y", None, lags=(2, 2))
    with pytest.raises(ValueError, match=r"^feature columns \['lag_1'\] already exist in the data"):
        add_features(data, "y", None, lags=(1,))
