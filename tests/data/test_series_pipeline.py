"""SeriesPipeline: splits, per-split fill, warm-up rows, fitted state, and no leakage from the
validation / test rows into anything fitted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstmkit.data.series import prepare_frame
from lstmkit.data.series.pipeline import PipelineConfig, SeriesPipeline

N = 200  # rows; with lookback 12, horizon 6: 140 train, 30 validation, 30 test


def _table(n: int = N, seed: int = 0) -> pd.DataFrame:
    """Monthly target with trend, season and noise, a covariate, a few gaps in training."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 100 + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, n)
    x = np.cos(2 * np.pi * t / 12) + rng.normal(0, 0.1, n)
    y[[5, 6, 40]] = np.nan
    x[[7, 60]] = np.nan
    y[30] += 80  # an outlier in the training rows
    dates = pd.date_range("2000-01-01", periods=n, freq="MS")
    return pd.DataFrame({"date": dates, "y": y, "x": x})


def _fit(df: pd.DataFrame, **config) -> tuple[SeriesPipeline, object]:
    frame = prepare_frame(df, "y", time_col="date", features=["x"])
    pipeline = SeriesPipeline(PipelineConfig(lookback=12, horizon=6, **config))
    return pipeline, pipeline.fit_transform(frame)


def _wild_tail(df: pd.DataFrame, start: int, seed: int = 1) -> pd.DataFrame:
    """The same table with every row from ``start`` on replaced by wild values: huge spikes,
    another level and scale, NaN runs (also on the first row after the edge)."""
    rng = np.random.default_rng(seed)
    out = df.copy()
    k = len(df) - start
    out.loc[start:, "y"] = rng.normal(5e4, 3e4, k) * rng.choice([1, -1, 100], k)
    out.loc[start:, "x"] = rng.standard_cauchy(k) * 1e3
    out.loc[[start, start + 1, start + 9, len(df) - 1], "y"] = np.nan
    out.loc[[start, start + 20], "x"] = np.nan
    return out


# --- leakage ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        {"outliers": "hampel", "scaler": "standard"},
        {"outliers": "iqr", "scaler": "minmax", "lags": (1, 12), "windows": (6,)},
        {"outliers": "zscore", "scaler": "robust", "fill": "ffill", "windows": (3, 12)},
        {"outliers": "hampel", "scaler": "standard", "fill": "drop", "lags": (2,)},
    ],
)
def test_no_statistic_of_validation_or_test_rows_reaches_the_fitted_state(config) -> None:
    df = _table()
    pipeline, prep = _fit(df, **config)
    warm = len(df) - prep.report["split_rows"][0] - sum(prep.report["split_rows"][1:])
    train_rows = warm + prep.report["split_rows"][0]  # table rows before the validation edge
    wild_pipeline, wild = _fit(_wild_tail(df, train_rows), **config)

    # the wild rows did arrive (so the test compares something): other validation/test values
    a, b = prep.split("train")
    assert wild.split("train") == (a, b)
    assert np.abs(wild.y[b:]).max() > 1e4
    # ... and nothing fitted saw them: outlier rule, scaler, every training value
    assert wild_pipeline.state["outliers"] == pipeline.state["outliers"]
    assert wild_pipeline.state["scaler"] == pipeline.state["scaler"]
    assert wild_pipeline.state == pipeline.state
    np.testing.assert_array_equal(wild.values[a:b], prep.values[a:b])
    np.testing.assert_array_equal(wild.y[a:b], prep.y[a:b])
    np.testing.assert_array_equal(wild.observed[a:b], prep.observed[a:b])
    assert wild.report["filled"] != prep.report["filled"]  # the tail's NaN were filled too


def test_test_rows_do_not_reach_the_validation_rows_either() -> None:
    df = _table()
    _, prep = _fit(df, lags=(1,))
    _, val_end = prep.split("val")
    edge = len(df) - (len(prep.values) - val_end)  # first table row of the test split
    _, wild = _fit(_wild_tail(df, edge), lags=(1,))
    np.testing.assert_array_equal(wild.values[:val_end], prep.values[:val_end])
    np.testing.assert_array_equal(wild.y[:val_end], prep.y[:val_end])


def test_scaler_and_outlier_rule_are_fitted_on_the_training_rows() -> None:
    df = _table()
    df.loc[150:, "y"] += 1000  # a level the training rows never reach
    pipeline, prep = _fit(df, outliers="iqr", scaler="standard", calendar=False)
    a, b = prep.split("train")
    y_train = df.set_index("date")["y"].iloc[:b].interpolate("time").to_numpy()  # filled
    q1, q3 = np.percentile(y_train, [25, 75])
    assert pipeline.state["outliers"]["lower"][0] == pytest.approx(q1 - 1.5 * (q3 - q1))
    assert pipeline.state["outliers"]["upper"][0] == pytest.approx(q3 + 1.5 * (q3 - q1))
    cleaned = np.clip(y_train, q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1))
    scaler = pipeline.scaler
    assert scaler.center[0] == pytest.approx(cleaned.mean())
    assert scaler.scale[0] == pytest.approx(cleaned.std())
    # scaled training target: mean 0, std 1; the shifted test rows sit far above
    assert prep.values[a:b, 0].mean() == pytest.approx(0, abs=1e-5)
    assert prep.values[a:b, 0].std() == pytest.approx(1, abs=1e-5)


def _growing(n: int = N) -> pd.DataFrame:
    """A positive series whose training part spans more than a factor of 2."""
    t = np.arange(n)
    y = (10 + 0.3 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12))
    return pd.DataFrame({"date": pd.date_range("2000-01-01", periods=n, freq="MS"), "y": y})


def test_auto_transform_is_decided_on_the_training_rows() -> None:
    def fit(df):
        frame = prepare_frame(df, "y", time_col="date")
        config = PipelineConfig(lookback=12, horizon=6, transform="auto", season=12)
        pipeline = SeriesPipeline(config)
        return pipeline, pipeline.fit_transform(frame)

    grow = _growing()  # the seasonal swing grows with the level: multiplicative
    flat = grow.assign(y=100 + np.sin(np.arange(N)))  # no growth
    t = np.arange(N)
    additive = grow.assign(y=10 + 0.3 * t + 2 * np.sin(2 * np.pi * t / 12))  # trend, same swing
    for df, expected in ((grow, "log"), (flat, "none"), (additive, "none")):
        pipeline, prep = fit(df)
        assert pipeline.state["transform"] == expected
        wild = df.copy()
        wild.loc[140:, "y"] = np.random.default_rng(0).uniform(1e-3, 1e5, N - 140)
        wild_pipeline, wild_prep = fit(wild)
        assert wild_pipeline.state == pipeline.state
        np.testing.assert_array_equal(wild_prep.values[:140], prep.values[:140])


def test_log_transform_and_a_non_positive_value_later_is_a_clear_error() -> None:
    df = _growing()
    df.loc[180, "y"] = 0.0  # in the test rows; training is all positive
    frame = prepare_frame(df, "y", time_col="date")
    pipeline = SeriesPipeline(PipelineConfig(lookback=12, horizon=6, transform="auto"))
    with pytest.raises(ValueError, match=r"goes down to 0; .*transform 'none'") as e:
        pipeline.fit_transform(frame)
    assert "auto" in str(e.value) and "\n" not in str(e.value)


# --- fill and split edges --------------------------------------------------------------------


@pytest.mark.parametrize("fill", ["interpolate", "ffill"])
def test_fill_never_carries_a_value_across_a_split_edge(fill: str) -> None:
    df = _table()
    df["y"] = np.where(np.arange(N) < 140, 1.0, np.where(np.arange(N) < 170, 500.0, -500.0))
    df["y"] += np.arange(N) * 1e-3  # distinct values, so the source of a fill is visible
    for edge in (140, 170):  # the last row before and the first two after each edge are missing
        df.loc[[edge - 1, edge, edge + 1], "y"] = np.nan
    _, prep = _fit(df, fill=fill, outliers="none")
    assert prep.bounds == (0, 140, 170, 200)
    y = prep.y
    # within each split, a missing edge value comes from the same side of the edge
    assert y[139] == y[138]  # the last training row: the training value before it
    assert y[140] == y[141] == y[142]  # the first validation rows: the validation value after
    assert y[169] == y[168]
    assert y[170] == y[171] == y[172]
    assert np.all(y[:140] < 2) and np.all((y[140:170] > 400) & (y[140:170] < 600))
    assert np.all(y[170:] < -400)
    assert not prep.observed[[139, 140, 141, 169, 170, 171]].any()
    assert prep.report["filled"] == {"y": 6, "x": 2}


def test_drop_removes_rows_within_each_split() -> None:
    df = _table()
    _, prep = _fit(df, fill="drop", outliers="none")
    assert prep.report["split_rows"] == [140, 30, 30]
    assert prep.bounds == (0, 140 - 5, 170 - 5, 200 - 5)  # y at 5, 6, 40; x at 7, 60
    assert not np.isnan(prep.values).any()
    assert len(prep.index) == 195 and pd.Timestamp("2000-06-01") not in prep.index


# --- split bounds and warm-up rows -----------------------------------------------------------


def test_split_bounds_follow_split_sizes() -> None:
    df = _table()
    _, prep = _fit(df)
    assert prep.report["split_rows"] == [140, 30, 30]
    assert prep.bounds == (0, 140, 170, 200)
    assert prep.split("train") == (0, 140)
    assert prep.split("val") == (140, 170)
    assert prep.split("test") == (170, 200)
    assert prep.values.dtype == np.float32 and prep.values.shape[0] == N
    assert list(prep.index) == list(pd.date_range("2000-01-01", periods=N, freq="MS"))


def test_too_short_series_says_the_minimum_length() -> None:
    df = _table().iloc[:40]
    with pytest.raises(ValueError, match=r"needs at least 54 \(18 per split\)"):
        _fit(df)


def test_warm_up_rows_come_out_of_the_training_split() -> None:
    df = _table()
    lags, windows = (1, 12), (6,)
    pipeline, prep = _fit(df, lags=lags, windows=windows, outliers="none", scaler="none")
    warm = 12  # max(lags, windows - 1)
    n_train, n_val, n_test = prep.report["split_rows"]
    assert n_train + n_val + n_test == N - warm
    assert (n_val, n_test) == (28, 28)  # round(188 * 0.15)
    assert prep.bounds == (0, n_train, n_train + n_val, N - warm)
    assert len(prep.values) == N - warm and prep.index[0] == pd.Timestamp("2001-01-01")
    columns = pipeline.state["columns"]
    assert columns[:2] == ["y", "x"]
    assert {"lag_1", "lag_12", "roll_mean_6", "roll_std_6", "month_sin", "month_cos"} <= set(
        columns
    )
    assert not np.isnan(prep.values).any()
    filled = df["y"].interpolate().to_numpy()  # no NaN near the rows checked below
    v = prep.values.astype(np.float64)
    for i in (0, 50, 180):
        row = warm + i  # table row
        assert v[i, columns.index("y")] == pytest.approx(filled[row], rel=1e-6)
        assert v[i, columns.index("lag_1")] == pytest.approx(filled[row - 1], rel=1e-6)
        assert v[i, columns.index("lag_12")] == pytest.approx(filled[row - 12], rel=1e-6)
        mean6 = filled[row - 5 : row + 1].mean()
        assert v[i, columns.index("roll_mean_6")] == pytest.approx(mean6, rel=1e-6)


def test_lags_too_long_for_the_series_are_an_error() -> None:
    with pytest.raises(
        ValueError,
        match=r"^lags \[150\] and windows \[\] use the first 150 of the 200 rows; of the rest: "
        r"series has 50 rows; lookback 12 \+ horizon 6 needs at least 54 \(18 per split\)$",
    ):
        _fit(_table(), lags=(150,))
    with pytest.raises(ValueError, match=r"use the first 249 of the 200 rows; .* has 0 rows"):
        _fit(_table(), windows=(250,))


# --- transform with the fitted state ---------------------------------------------------------


def test_transform_reuses_the_fitted_state() -> None:
    df = _table()
    df[["y", "x"]] = df[["y", "x"]].interpolate()  # no NaN: per split or in one go, the same
    pipeline, prep = _fit(df, lags=(1,), windows=(4,))
    state = {k: v for k, v in pipeline.state.items()}
    frame = prepare_frame(df, "y", time_col="date", features=["x"])
    again = pipeline.transform(frame)
    np.testing.assert_array_equal(again.values, prep.values)
    np.testing.assert_array_equal(again.y, prep.y)
    T = len(prep.values)
    assert again.bounds == (0, 0, 0, T) and again.split("test") == (0, T)  # all of it test
    assert pipeline.state == state

    # new data in another range: scaled with the training statistics, not its own
    shifted = df.assign(y=df["y"] + 1000.0)
    out = pipeline.transform(prepare_frame(shifted, "y", time_col="date", features=["x"]))
    expected = prep.values[:, 0] + 1000.0 / pipeline.scaler.scale[0]
    np.testing.assert_allclose(out.values[:, 0], expected, rtol=1e-5)
    assert out.values[:, 0].mean() > 30  # 1000 is about 50 training std
    assert pipeline.state == state


def test_a_restored_pipeline_transforms_like_the_fitted_one() -> None:
    import json

    df = _table()
    pipeline, _ = _fit(df, windows=(3,))
    restored = SeriesPipeline(
        PipelineConfig.from_dict(json.loads(json.dumps(pipeline.config.to_dict()))),
        json.loads(json.dumps(pipeline.state)),
    )
    frame = prepare_frame(df.iloc[-60:], "y", time_col="date", features=["x"])
    a, b = pipeline.transform(frame), restored.transform(frame)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.report["outliers_replaced"] == b.report["outliers_replaced"]


def test_transform_column_mismatch_names_both_column_lists() -> None:
    df = _table()
    pipeline, _ = _fit(df)
    other = prepare_frame(df.rename(columns={"x": "z"}), "y", time_col="date", features=["z"])
    with pytest.raises(ValueError, match=r"^the data's columns \['y', 'z'\] differ from the "
                       r"training data's \['y', 'x'\]$"):  # fmt: skip
        pipeline.transform(other)
    without = prepare_frame(df, "y", time_col="date")
    with pytest.raises(ValueError, match=r"columns \['y'\] differ"):
        pipeline.transform(without)


def test_not_fitted_is_an_error() -> None:
    pipeline = SeriesPipeline(PipelineConfig(lookback=12, horizon=6))
    frame = prepare_frame(_table(), "y", time_col="date", features=["x"])
    with pytest.raises(ValueError, match="not fitted; call fit_transform first"):
        pipeline.transform(frame)
    with pytest.raises(ValueError, match="not fitted"):
        pipeline.scaler  # noqa: B018


def test_outliers_in_training_are_replaced_and_counted() -> None:
    df = _table()
    _, prep = _fit(df, outliers="hampel")
    assert prep.report["outliers_replaced"]["y"] >= 1
    row = 30  # the spike: the model input is cleaned, the truth is not
    assert prep.y[row] > 150
    _, raw = _fit(df, outliers="none")
    assert prep.values[row, 0] < raw.values[row, 0] - 2  # scaled units
    assert raw.report["outliers_replaced"] == {"y": 0, "x": 0}
