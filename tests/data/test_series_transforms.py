"""lstmkit.data.series fill_missing, OutlierRule and Scaler, against hand-computed values."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from lstmkit.data.series import FILL_METHODS, OutlierRule, Scaler, fill_missing

NAN = np.nan


# --- fill_missing ----------------------------------------------------------------------------


def test_fill_methods() -> None:
    assert FILL_METHODS == ("interpolate", "ffill", "drop")
    df = pd.DataFrame({"a": [NAN, 2.0, NAN, 6.0, NAN], "b": [1.0, 1.0, 1.0, 1.0, 1.0]})
    filled, counts = fill_missing(df)
    np.testing.assert_array_equal(filled["a"], [2, 2, 4, 6, 6])  # edges: the nearest value
    assert counts == {"a": 3, "b": 0}
    filled, counts = fill_missing(df, "ffill")
    np.testing.assert_array_equal(filled["a"], [2, 2, 2, 6, 6])  # start: back-filled
    assert counts == {"a": 3, "b": 0}
    assert df["a"].isna().sum() == 3  # the input is not changed


def test_interpolation_is_time_weighted() -> None:
    index = pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-04"])
    filled, _ = fill_missing(pd.DataFrame({"a": [0.0, NAN, 30.0]}, index=index))
    assert filled["a"].iloc[1] == pytest.approx(10.0)  # 1 day of 3, not half way
    filled, _ = fill_missing(pd.DataFrame({"a": [0.0, NAN, 30.0]}))
    assert filled["a"].iloc[1] == pytest.approx(15.0)  # no time index: by position


def test_drop_counts_the_missing_values_of_dropped_rows() -> None:
    df = pd.DataFrame({"a": [1.0, NAN, 3.0], "b": [NAN, NAN, 5.0]})
    filled, counts = fill_missing(df, "drop")
    assert filled.index.tolist() == [2] and counts == {"a": 1, "b": 2}


def test_fill_only_sees_the_rows_it_is_given() -> None:
    series = pd.DataFrame({"a": [1.0, NAN, NAN, 10.0]})
    head, _ = fill_missing(series.iloc[:3])  # a split ending before the 10
    np.testing.assert_array_equal(head["a"], [1, 1, 1])


def test_fill_errors() -> None:
    with pytest.raises(
        ValueError, match=r"^unknown fill method 'mean': expected one of interpolate, ffill, drop$"
    ):
        fill_missing(pd.DataFrame({"a": [1.0]}), "mean")
    df = pd.DataFrame({"a": [1.0, 2.0], "b": [NAN, NAN]})
    with pytest.raises(
        ValueError, match=r"^column 'b' has no value in these 2 rows; nothing to fill"
    ):
        fill_missing(df)
    with pytest.raises(TypeError, match=r"expected a pandas DataFrame, got ndarray"):
        fill_missing(np.zeros((2, 2)))  # type: ignore[arg-type]


# --- OutlierRule -----------------------------------------------------------------------------

SPIKE = np.array([10, 11, 10, 11, 10, 50, 10, 11], dtype=np.float64)[:, None]  # (8, 1)


def test_hampel_replaces_a_spike_by_the_trailing_median() -> None:
    rule = OutlierRule("hampel", window=4).fit(SPIKE)
    # floor: steps 1,-1,1,-1,40,-40,1 -> median 1, MAD 2 -> 2 * 1.4826 / sqrt(2)
    assert rule.floor[0] == pytest.approx(2 * 1.4826 / math.sqrt(2))
    cleaned, counts = rule.apply(SPIKE)
    expected = SPIKE.copy()
    expected[5] = 10.5  # median of the 4 values before it: 11, 10, 11, 10
    np.testing.assert_array_equal(cleaned, expected)
    assert counts.tolist() == [1]


def test_hampel_is_causal() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    x[[10, 30, 45], 0] += 8.0
    rule = OutlierRule("hampel", window=5).fit(x[:40])
    cleaned, counts = rule.apply(x)
    assert counts[0] >= 3
    changed = x.copy()
    changed[35:] = rng.normal(scale=50.0, size=(25, 2))  # anything after row 34
    cleaned_changed, _ = rule.apply(changed)
    np.testing.assert_array_equal(cleaned_changed[:35], cleaned[:35])


def test_hampel_floor_keeps_a_flat_window_from_flagging_small_changes() -> None:
    rule = OutlierRule("hampel", window=4).fit(np.array([[0.0], [1.0], [0.0], [1.0], [0.0]]))
    assert rule.floor[0] == pytest.approx(1.4826 / math.sqrt(2))  # steps +-1: MAD 1
    x = np.array([5, 5, 5, 5, 5, 5.5, 9])[:, None]
    cleaned, counts = rule.apply(x)
    # row 5: 0.5 < 3 * floor, kept; row 6: 4 > 3 * floor (window MAD 0), replaced by 5
    np.testing.assert_array_equal(cleaned[:, 0], [5, 5, 5, 5, 5, 5.5, 5])
    assert counts.tolist() == [1]
    constant = OutlierRule("hampel", window=4).fit(np.full((6, 1), 3.0))
    assert constant.apply(x)[1].tolist() == [0]  # no spread in training: never flagged


def test_iqr_bounds_come_from_the_training_rows_only() -> None:
    train = np.array([1, 2, 3, 4, 5], dtype=np.float64)[:, None]
    rule = OutlierRule("iqr").fit(train)  # Q1 2, Q3 4: fences -1 and 7
    assert rule.lower.tolist() == [-1.0] and rule.upper.tolist() == [7.0]
    test = np.array([0, 8, -2, NAN, 7, 100], dtype=np.float64)[:, None]
    cleaned, counts = rule.apply(test)
    np.testing.assert_array_equal(cleaned[:, 0], [0, 7, -1, NAN, 7, 7])
    assert counts.tolist() == [3]
    both = OutlierRule("iqr").fit(np.concatenate([train, test[~np.isnan(test[:, 0])]]))
    assert both.upper[0] != rule.upper[0]  # fitting on more rows would have moved them


def test_zscore_clips_to_training_mean_plus_minus_threshold_std() -> None:
    train = np.array([[1.0, 7.0], [2.0, 7.0], [3.0, 7.0], [4.0, 7.0], [5.0, 7.0]])
    rule = OutlierRule("zscore", threshold=1.0).fit(train)  # mean 3, std sqrt(2)
    cleaned, counts = rule.apply(np.array([[1.0, 7.0], [3.0, 100.0], [5.0, -5.0]]))
    np.testing.assert_allclose(cleaned[:, 0], [3 - math.sqrt(2), 3, 3 + math.sqrt(2)])
    np.testing.assert_array_equal(cleaned[:, 1], [7, 100, -5])  # constant in training: kept
    assert counts.tolist() == [2, 0]


def test_outlier_rule_round_trips_through_json() -> None:
    train = np.array([[1.0, 7.0], [2.0, 7.0], [3.0, 7.0], [9.0, 7.0]])
    x = np.array([[0.0, 1.0], [20.0, 7.0], [2.0, 9.0]])
    for method in ("hampel", "iqr", "zscore", "none"):
        rule = OutlierRule(method, window=2, threshold=2.0, iqr_k=1.0).fit(train)
        again = OutlierRule.from_dict(json.loads(json.dumps(rule.to_dict(), allow_nan=False)))
        assert again == rule
        np.testing.assert_array_equal(again.apply(x)[0], rule.apply(x)[0])
    assert OutlierRule("iqr").fit(train).to_dict()["upper"][1] is None  # inf as null


def test_outlier_rule_errors() -> None:
    with pytest.raises(
        ValueError,
        match=r"^unknown outlier method 'mad': expected one of hampel, iqr, zscore, none$",
    ):
        OutlierRule("mad")
    with pytest.raises(ValueError, match=r"^window must be an integer >= 1, got 0$"):
        OutlierRule(window=0)
    with pytest.raises(ValueError, match=r"^threshold must be > 0, got -1$"):
        OutlierRule(threshold=-1)
    with pytest.raises(ValueError, match=r"^iqr_k must be > 0, got 0$"):
        OutlierRule("iqr", iqr_k=0)
    with pytest.raises(
        ValueError, match=r"^OutlierRule\('iqr'\) is not fitted: call fit\(train\) first$"
    ):
        OutlierRule("iqr").apply(np.zeros((3, 1)))
    rule = OutlierRule("iqr").fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"^OutlierRule was fitted on 2 columns, got 1$"):
        rule.apply(np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"^train must be a 2-D array \(T, C\), got shape \(3,\)$"):
        OutlierRule().fit(np.zeros(3))
    with pytest.raises(ValueError, match=r"^fit needs at least one training row, got 0$"):
        OutlierRule().fit(np.zeros((0, 2)))
    with pytest.raises(ValueError, match=r"^column 1 has no value in the 2 training rows$"):
        OutlierRule().fit(np.array([[1.0, NAN], [2.0, NAN]]))
    with pytest.raises(ValueError, match=r"^unknown OutlierRule fields \['bounds'\]"):
        OutlierRule.from_dict({"method": "iqr", "bounds": [1]})


# --- Scaler ----------------------------------------------------------------------------------


def test_scaler_methods_by_hand() -> None:
    a = np.array([[1.0, 10.0], [3.0, 10.0]])
    standard = Scaler("standard").fit(a)  # mean 2, std 1; the constant column: scale 1
    np.testing.assert_array_equal(standard.transform(a), [[-1, 0], [1, 0]])
    minmax = Scaler("minmax").fit(np.array([[0.0], [5.0], [10.0]]))
    np.testing.assert_array_equal(
        minmax.transform(np.array([[0.0], [5.0], [20.0]])), [[0], [0.5], [2]]
    )
    robust = Scaler("robust").fit(np.arange(1.0, 6.0)[:, None])  # median 3, IQR 2
    np.testing.assert_array_equal(robust.transform(np.array([[3.0], [7.0]])), [[0], [2]])
    none = Scaler("none").fit(a)
    np.testing.assert_array_equal(none.transform(a), a)


def test_scaler_fits_on_training_rows_and_ignores_nan() -> None:
    train = np.array([[0.0], [NAN], [4.0]])
    scaler = Scaler("standard").fit(train)  # mean 2, std 2
    test = np.array([[100.0], [2.0]])
    np.testing.assert_array_equal(scaler.transform(test), [[49.0], [0.0]])
    assert scaler.center.tolist() == [2.0] and scaler.scale.tolist() == [2.0]


def test_scaler_transform_windows_and_inverse_one_column() -> None:
    scaler = Scaler("standard").fit(np.array([[0.0, 10.0], [2.0, 30.0]]))  # (1, 1), (20, 10)
    windows = np.ones((4, 3, 2))  # (N, L, C)
    np.testing.assert_array_equal(scaler.transform(windows)[0, 0], [0.0, -1.9])
    pred = np.array([[0.5, -1.0]])  # (N, H) of column 1, scaled
    np.testing.assert_array_equal(scaler.inverse(pred, column=1), [[25.0, 10.0]])
    np.testing.assert_array_equal(
        scaler.inverse(scaler.transform(windows)[..., 0]), np.ones((4, 3))
    )


def test_scaler_round_trips_through_json() -> None:
    scaler = Scaler("robust").fit(np.array([[1.0, 5.0], [2.0, 5.0], [4.0, 5.0]]))
    again = Scaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert again.method == "robust"
    x = np.array([[3.0, 6.0]])
    np.testing.assert_array_equal(again.transform(x), scaler.transform(x))


def test_scaler_errors() -> None:
    with pytest.raises(
        ValueError, match=r"^unknown scaler 'log': expected one of standard, minmax, robust, none$"
    ):
        Scaler("log")
    with pytest.raises(
        ValueError, match=r"^Scaler\('standard'\) is not fitted: call fit\(train\) first$"
    ):
        Scaler().transform(np.zeros((2, 1)))
    scaler = Scaler().fit(np.array([[1.0, 2.0], [3.0, 4.0]]))
    with pytest.raises(ValueError, match=r"^Scaler was fitted on 2 columns, got shape \(2, 3\)$"):
        scaler.transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"^column must be an integer in \[0, 2\), got 2$"):
        scaler.inverse(np.zeros(3), column=2)
    with pytest.raises(
        ValueError, match=r"^fit expects a 2-D array \(T, C\) with T >= 1, got shape \(0, 2\)$"
    ):
        Scaler().fit(np.zeros((0, 2)))
    with pytest.raises(ValueError, match=r"^column 0 has no value in the 1 training rows$"):
        Scaler().fit(np.array([[NAN]]))
