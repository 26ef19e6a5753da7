"""lstmkit.data.series splits, windows, seasons, baseline forecasts and forecast metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lstmkit.data.series import (
    SEASONS,
    forecast_metrics,
    make_windows,
    mase_scale,
    naive_forecast,
    season_for,
    seasonal_naive_forecast,
    split_sizes,
)

NAN = np.nan


# --- split_sizes -----------------------------------------------------------------------------


def test_split_sizes() -> None:
    assert split_sizes(100, 10, 5) == (70, 15, 15)
    assert split_sizes(108, 24, 12) == (36, 36, 36)  # the minimum: one window per split
    assert split_sizes(200, 24, 12, 0.1, 0.1) == (128, 36, 36)  # 20 raised to 36
    assert split_sizes(100, 10, 5, 0.0, 0.2) == (80, 0, 20)  # fraction 0: an empty split
    assert split_sizes(20, 10, 5, 0.0, 0.0) == (20, 0, 0)


def test_split_sizes_minimum_length_message() -> None:
    with pytest.raises(
        ValueError,
        match=r"^series has 30 rows; lookback 24 \+ horizon 12 needs at least 108 "
        r"\(36 per split\)$",
    ):
        split_sizes(30, 24, 12)
    with pytest.raises(
        ValueError,
        match=r"^series has 50 rows; lookback 24 \+ horizon 12 needs at least 72 \(36 per split\)$",
    ):
        split_sizes(50, 24, 12, val_fraction=0.0)
    with pytest.raises(
        ValueError,
        match=r"^series has 120 rows; val_fraction 0.45 and test_fraction 0.45 leave "
        r"training 12 rows",
    ):
        split_sizes(120, 24, 12, 0.45, 0.45)


def test_split_sizes_argument_errors() -> None:
    with pytest.raises(ValueError, match=r"^lookback must be an integer >= 1, got 0$"):
        split_sizes(100, 0, 5)
    with pytest.raises(ValueError, match=r"^horizon must be an integer >= 1, got 2.5$"):
        split_sizes(100, 5, 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^val_fraction must be in \[0, 1\), got 1.0$"):
        split_sizes(100, 5, 5, 1.0, 0.0)
    with pytest.raises(ValueError, match=r"^val_fraction \+ test_fraction must be < 1"):
        split_sizes(100, 5, 5, 0.5, 0.5)
    with pytest.raises(ValueError, match=r"^n must be an integer >= 0, got -1$"):
        split_sizes(-1, 5, 5)


# --- make_windows ----------------------------------------------------------------------------


def test_make_windows_by_hand() -> None:
    values = np.arange(20, dtype=np.float32).reshape(10, 2)  # row t: (2t, 2t + 1)
    target = np.arange(10, dtype=np.float64) * 10
    x, y, origins = make_windows(values, target, 2, 9, lookback=3, horizon=2)
    assert x.shape == (3, 3, 2) and y.shape == (3, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(origins, [5, 6, 7])
    np.testing.assert_array_equal(x[0], values[2:5])
    np.testing.assert_array_equal(y, [[50, 60], [60, 70], [70, 80]])
    x, y, origins = make_windows(values, target, 2, 9, lookback=3, horizon=2, stride=2)
    np.testing.assert_array_equal(origins, [5, 7])
    np.testing.assert_array_equal(x[1], values[4:7])
    x[0, 0, 0] = -1.0
    assert values[2, 0] == 4.0  # copies, not views


def test_windows_never_leave_start_stop() -> None:
    rng = np.random.default_rng(0)
    T = 50
    values = np.arange(T, dtype=np.float64)[:, None]  # the row number as the value
    for _ in range(200):
        start, stop = sorted(int(v) for v in rng.integers(0, T + 1, size=2))
        lookback, horizon, stride = (int(v) for v in rng.integers(1, 8, size=3))
        x, y, origins = make_windows(values, values[:, 0], start, stop, lookback, horizon, stride)
        if len(origins):
            assert x.min() >= start and y.max() < stop
            np.testing.assert_array_equal(x[:, -1, 0] + 1, origins)
            np.testing.assert_array_equal(y[:, 0], origins)
            assert origins[-1] + stride + horizon > stop  # no further window fits
        else:
            assert stop - start < lookback + horizon and x.shape == (0, lookback, 1)
            assert y.shape == (0, horizon) and origins.shape == (0,)


def test_make_windows_errors() -> None:
    values, target = np.zeros((10, 2)), np.zeros(10)
    with pytest.raises(
        ValueError, match=r"^values must be a 2-D array \(T, C\), got shape \(10,\)$"
    ):
        make_windows(target, target, 0, 10, 2, 1)
    with pytest.raises(
        ValueError, match=r"^target must be a 1-D array of 10 values \(T,\), got shape \(9,\)$"
    ):
        make_windows(values, target[:9], 0, 10, 2, 1)
    with pytest.raises(
        ValueError, match=r"^expected 0 <= start <= stop <= 10, got start 5, stop 11$"
    ):
        make_windows(values, target, 5, 11, 2, 1)
    with pytest.raises(ValueError, match=r"^stride must be an integer >= 1, got 0$"):
        make_windows(values, target, 0, 10, 2, 1, stride=0)


# --- season_for ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("freq", "season"),
    [
        (None, 1),
        ("MS", 12),
        ("ME", 12),
        ("M", 12),
        ("W-SUN", 52),
        ("W", 52),
        ("QS-OCT", 4),
        ("QE-DEC", 4),
        ("Q", 4),
        ("YS", 1),
        ("YS-JAN", 1),
        ("A", 1),
        ("Y", 1),
        ("h", 24),
        ("H", 24),
        ("2h", 12),
        ("5h", 1),  # does not divide a day
        ("30T", 48),
        ("30min", 48),
        ("15min", 96),
        ("D", 7),
        ("2D", 1),
        ("B", 5),
        ("3MS", 4),
        ("SMS", 1),
        ("fortnightly", 1),
    ],
)
def test_season_for(freq: str | None, season: int) -> None:
    assert season_for(freq) == season


def test_seasons_table() -> None:
    assert SEASONS["30min"] == 48 and SEASONS["h"] == 24 and SEASONS["M"] == 12


# --- baseline forecasts ----------------------------------------------------------------------


def test_naive_forecast() -> None:
    y = np.arange(1.0, 11.0)  # 1 .. 10
    np.testing.assert_array_equal(naive_forecast(y, np.array([3, 5]), 3), [[3, 3, 3], [5, 5, 5]])


def test_seasonal_naive_repeats_the_last_season() -> None:
    y = np.arange(10.0)  # y[i] = i
    pred = seasonal_naive_forecast(y, np.array([6, 9]), 7, season=3)
    np.testing.assert_array_equal(pred[0], [3, 4, 5, 3, 4, 5, 3])
    np.testing.assert_array_equal(pred[1], [6, 7, 8, 6, 7, 8, 6])
    origins = np.array([2, 4])
    np.testing.assert_array_equal(
        seasonal_naive_forecast(y, origins, 4, season=1), naive_forecast(y, origins, 4)
    )


def test_baseline_errors() -> None:
    y = np.arange(10.0)
    with pytest.raises(ValueError, match=r"^origin 2 needs 3 earlier values of y and at most 10"):
        seasonal_naive_forecast(y, np.array([5, 2]), 2, season=3)
    with pytest.raises(ValueError, match=r"^origin 0 needs 1 earlier values of y"):
        naive_forecast(y, np.array([0]), 2)
    with pytest.raises(ValueError, match=r"^season must be an integer >= 1, got 0$"):
        seasonal_naive_forecast(y, np.array([5]), 2, season=0)
    with pytest.raises(ValueError, match=r"^origins must be a 1-D integer array, got float64"):
        naive_forecast(y, np.array([5.0]), 2)


def test_mase_scale() -> None:
    y = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    assert mase_scale(y, 1) == pytest.approx(7 / 4)  # |2|, |1|, |3|, |1|
    assert mase_scale(y, 2) == pytest.approx(5 / 3)  # |1|, |2|, |2|
    assert mase_scale(np.array([1.0, NAN, 2.0, 4.0]), 1) == pytest.approx(2.0)  # NaN pairs skipped
    with pytest.raises(
        ValueError, match=r"^training split has 3 values; a season of 3 needs at least 4"
    ):
        mase_scale(np.array([1.0, 2.0, 3.0]), 3)


# --- forecast_metrics ------------------------------------------------------------------------


def test_forecast_metrics_by_hand() -> None:
    truth = np.array([[1.0, 2.0], [3.0, 4.0]])
    pred = np.array([[2.0, 2.0], [1.0, 4.0]])  # errors 1, 0, 2, 0
    m = forecast_metrics(truth, pred, 0.5, lower=pred - 1, upper=pred + 1)
    assert m["mae"] == pytest.approx(0.75)
    assert m["rmse"] == pytest.approx(math.sqrt(5 / 4))
    assert m["smape"] == pytest.approx(100 * (2 / 3 + 1) / 4)  # 2|e| / (|t| + |p|)
    assert m["mase"] == pytest.approx(1.5)
    assert m["coverage"] == pytest.approx(0.75)  # 3 is outside [0, 2]
    assert set(forecast_metrics(truth, pred, 1.0)) == {"mae", "rmse", "smape", "mase"}


def test_smape_zero_over_zero_and_mask() -> None:
    m = forecast_metrics(np.array([0.0, 2.0]), np.array([0.0, 0.0]), 1.0)
    assert m["smape"] == pytest.approx(100.0)  # 0 for the 0/0 entry, 200 for the other
    truth, pred = np.array([[1.0, NAN]]), np.array([[2.0, 5.0]])
    m = forecast_metrics(truth, pred, 2.0, mask=np.array([[True, False]]))
    assert m["mae"] == 1.0 and m["mase"] == 0.5
    assert math.isnan(forecast_metrics(truth[:, :1], pred[:, :1], 0.0)["mase"])


def test_forecast_metrics_errors() -> None:
    t = np.zeros((2, 3))
    with pytest.raises(
        ValueError, match=r"^pred shape \(2, 2\) does not match truth shape \(2, 3\)$"
    ):
        forecast_metrics(t, np.zeros((2, 2)), 1.0)
    with pytest.raises(ValueError, match=r"^coverage needs both lower and upper, got only one$"):
        forecast_metrics(t, t, 1.0, lower=t)
    with pytest.raises(ValueError, match=r"^no entries to score: mask selects none of 6$"):
        forecast_metrics(t, t, 1.0, mask=np.zeros((2, 3), dtype=bool))
    with pytest.raises(ValueError, match=r"^mask must be a bool array, got dtype int64$"):
        forecast_metrics(t, t, 1.0, mask=np.ones((2, 3), dtype=np.int64))
    with pytest.raises(
        ValueError, match=r"^truth has 1 NaN among the scored entries; exclude them with mask$"
    ):
        forecast_metrics(np.array([1.0, NAN]), np.zeros(2), 1.0)
