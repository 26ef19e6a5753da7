"""lstmkit.Forecaster: the Python API that `lstmkit train forecast` runs on (small, fast fits)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import lstmkit
from lstmkit import Forecaster

FAST = {"hidden": 16, "epochs": 10, "batch_size": 32, "lr": 0.01}
N = 240  # monthly rows: 20 years


def _series(n: int = N, seed: int = 0, covariate: bool = False) -> pd.DataFrame:
    """Monthly: trend + a 12-month season + noise (an easy series: seasonal naive misses the
    trend, a learnt correction to it does not)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 50 + 0.3 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, n)
    df = pd.DataFrame({"date": pd.date_range("2000-01-01", periods=n, freq="MS"), "y": y})
    if covariate:
        df["x"] = np.cos(2 * np.pi * t / 12) + rng.normal(0, 0.1, n)
    return df


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny models train several times faster on one thread (and do not stall when another
    process holds the cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return _series()


@pytest.fixture(scope="module")
def point(df) -> Forecaster:
    return _fc().fit(df, target="y", time_col="date")


@pytest.fixture(scope="module")
def quantile(df) -> Forecaster:
    return _fc(quantiles=(0.1, 0.9)).fit(df, target="y", time_col="date")


@pytest.fixture(scope="module")
def binned(df) -> Forecaster:
    return _fc(bins=8).fit(df, target="y", time_col="date")


def _fc(**options) -> Forecaster:
    return Forecaster(**(FAST | options))


def _one_line_error(match: str, **options) -> None:
    """``check_options`` (which fit runs first, and the CLI before writing anything) refuses
    the options in one line."""
    with pytest.raises(ValueError, match=match) as e:
        Forecaster(**options).check_options()
    assert "\n" not in str(e.value)


# --- fit / predict ---------------------------------------------------------------------------


def test_defaults_from_the_monthly_frequency(point) -> None:
    assert point.frame_meta_["freq"] == "MS"
    assert (point.season_, point.horizon_, point.lookback_) == (12, 12, 12)
    assert point.config_.anchor == "season"  # the look-back holds a season
    assert point.report_["split_rows"] == [168, 36, 36]
    assert len(point.history_) == 10


def test_predict_continues_the_series_in_spec_format(point, df) -> None:
    pred = point.predict(df)
    assert list(pred.columns) == ["date", "y"]
    expected = pd.date_range("2020-01-01", periods=12, freq="MS")
    assert list(pred["date"]) == list(expected)
    # the noiseless continuation: the forecast follows trend and season
    t = np.arange(N, N + 12)
    truth = 50 + 0.3 * t + 10 * np.sin(2 * np.pi * t / 12)
    assert np.all(np.isfinite(pred["y"]))
    assert np.abs(pred["y"].to_numpy() - truth).mean() < 3.0  # noise sd 1, season amplitude 10


def test_predict_from_an_earlier_end(point, df) -> None:
    pred = point.predict(df.iloc[:100])
    assert pred["date"].iloc[0] == df["date"].iloc[100]
    t = np.arange(100, 112)
    truth = 50 + 0.3 * t + 10 * np.sin(2 * np.pi * t / 12)
    assert np.abs(pred["y"].to_numpy() - truth).mean() < 3.0


def test_score_beats_seasonal_naive_and_matches_a_hand_computed_baseline(point) -> None:
    m = point.test_metrics_
    for key in ("mae", "rmse", "smape", "mase"):
        assert {f"test_{key}", f"baseline_{key}", f"naive_{key}"} <= set(m)
    assert m["test_mase"] < m["baseline_mase"]  # 0.79 vs 0.94 here
    assert m["test_mae"] < m["baseline_mae"] < m["naive_mae"]
    assert m["test_windows"] == 36 - 12 - 12 + 1  # every window of the 36 test rows

    # the baseline and MASE by hand from the prepared rows
    prep, s = point.prepared_, point.last_scored_
    y, origins = prep.y, s["origins"]
    a, b = prep.split("train")
    scale = np.abs(y[a + 12 : b] - y[a : b - 12]).mean()
    assert point.mase_scale_ == pytest.approx(scale)
    steps = origins[:, None] + np.arange(12)
    seasonal = y[steps - 12]
    assert m["baseline_mae"] == pytest.approx(np.abs(y[steps] - seasonal).mean())
    assert m["baseline_mase"] == pytest.approx(m["baseline_mae"] / scale)
    assert m["test_mae"] == pytest.approx(np.abs(y[steps] - s["point"]).mean())
    assert origins.min() >= prep.split("test")[0] + point.lookback_


def test_evaluate_on_new_data_scores_every_window(point) -> None:
    other = _series(seed=5)
    m = point.evaluate(other)
    assert m["test_windows"] == N - 12 - 12 + 1
    assert m["test_mase"] < m["baseline_mase"]


def test_a_series_without_time_column_forecasts_positions() -> None:
    df = _series().drop(columns="date")
    fc = _fc(epochs=2, season=12).fit(df, target="y")
    assert fc.frame_meta_["freq"] is None and fc.season_ == 12
    pred = fc.predict(df)
    assert list(pred.columns) == ["step", "y"]
    assert list(pred["step"]) == list(range(N, N + 12))


def test_covariates_are_inputs(df) -> None:
    data = _series(covariate=True)
    fc = _fc(epochs=2, calendar=False).fit(data, "y", "date", features=["x"])
    assert fc.pipeline_.state["columns"] == ["y", "x"]
    assert fc.config_.features.input_size == 2
    with pytest.raises(ValueError, match=r"feature column 'x' not found; columns: date, y"):
        fc.predict(df)


def test_min_steps_raises_the_epochs_only_without_epochs(df) -> None:
    fc = Forecaster(hidden=8, batch_size=256, min_steps=30).fit(df, "y", "date")
    assert fc.train_config_.epochs == 30  # one batch per epoch, 30 steps
    assert len(fc.history_) == 30
    fc = Forecaster(hidden=8, batch_size=256, min_steps=30, epochs=2).fit(df, "y", "date")
    assert len(fc.history_) == 2


# --- quantiles and bins ----------------------------------------------------------------------


def test_quantiles_add_the_median_and_give_sorted_intervals(quantile, df) -> None:
    assert quantile.config_.quantiles == (0.1, 0.5, 0.9)
    pred = quantile.predict(df)
    assert list(pred.columns) == ["date", "y", "q0.1", "q0.5", "q0.9"]
    assert np.array_equal(pred["y"], pred["q0.5"])  # the median is the point forecast
    assert np.all(pred["q0.1"] <= pred["q0.5"]) and np.all(pred["q0.5"] <= pred["q0.9"])
    assert np.all(pred["q0.9"] - pred["q0.1"] > 0)

    m = quantile.test_metrics_
    s = quantile.last_scored_
    qs, truth = s["quantiles"], s["truth"]
    assert qs.shape == (m["test_windows"], 12, 3)
    assert np.all(np.diff(qs, axis=-1) >= 0)  # never crossing
    inside = (qs[..., 0] <= truth) & (truth <= qs[..., -1])
    assert m["test_coverage"] == pytest.approx(inside.mean())
    assert 0.5 < m["test_coverage"] <= 1.0  # an 80% interval after a short fit
    assert m["test_mase"] < m["baseline_mase"]


def test_bins_train_a_classifier_within_the_training_range(binned, df) -> None:
    K = 8
    assert binned.config_.bins == K and binned.bin_edges_.shape == (K - 1,)
    x, y, _ = binned._windows(binned.prepared_, "train")
    with torch.no_grad():
        logits = binned.model_(x[:4])
    assert logits.shape == (4, 12, K)  # class scores per step
    classes = binned._encode(y)
    assert classes.dtype == torch.int64 and 0 <= classes.min() and classes.max() == K - 1
    counts = np.bincount(classes.flatten().numpy(), minlength=K)
    assert counts.min() > 0.5 * counts.mean()  # equal-frequency bins
    loss = binned._loss(logits, classes[:4])
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, K), classes[:4].reshape(-1))
    assert float(loss) == pytest.approx(float(expected))
    pred = binned.predict(df)["y"].to_numpy()
    a, b = binned.prepared_.split("train")
    train_y = binned.prepared_.y[a:b]
    assert np.all(np.isfinite(pred))
    assert np.all((pred >= train_y.min()) & (pred <= train_y.max()))
    assert {"test_mae", "baseline_mae"} <= set(binned.test_metrics_)


# --- architecture options --------------------------------------------------------------------


def test_per_series_runs_one_encoder_per_input_column() -> None:
    data = _series(covariate=True)
    fc = _fc(epochs=3, per_series=True).fit(data, "y", "date", features=["x"])
    columns = fc.pipeline_.state["columns"]
    assert columns == ["y", "x", "month_sin", "month_cos"]
    assert len(fc.model_.encoders) == len(columns)
    assert all(e.config.input_size == 1 for e in fc.model_.encoders)
    pred = fc.predict(data)
    assert pred.shape == (12, 2) and np.all(np.isfinite(pred["y"]))


@pytest.mark.parametrize(("anchor", "baseline"), [("season", "baseline"), ("last", "naive")])
def test_anchor_with_a_zero_head_is_the_baseline(df, anchor: str, baseline: str) -> None:
    fc = _fc(epochs=1, anchor=anchor, outliers="none").fit(df, "y", "date")
    assert fc.config_.anchor == anchor
    with torch.no_grad():
        fc.model_.head.weight.zero_()
        fc.model_.head.bias.zero_()
    m = fc.score_prepared(fc.prepared_, "test")
    for key in ("mae", "rmse", "smape", "mase"):
        assert m[f"test_{key}"] == pytest.approx(m[f"{baseline}_{key}"], rel=1e-5)


def test_anchor_defaults_to_last_when_the_look_back_is_shorter_than_a_season(df) -> None:
    fc = _fc(epochs=1, lookback=6).fit(df, "y", "date")
    assert fc.config_.anchor == "last"
    fc = _fc(epochs=1, anchor="none").fit(df, "y", "date")
    assert fc.config_.anchor == "none"
    with torch.no_grad():
        fc.model_.head.weight.zero_()
        fc.model_.head.bias.zero_()
    fc.score_prepared(fc.prepared_, "test")
    point = fc.last_scored_["point"]  # no anchor: a zero head gives one level everywhere
    assert np.ptp(point) < 1e-4 * np.abs(point).max()
    a, b = fc.prepared_.split("train")
    assert fc.prepared_.y[a:b].min() < point[0, 0] < fc.prepared_.y[a:b].max()


# --- persistence and determinism -------------------------------------------------------------


@pytest.mark.parametrize("name", ["point", "quantile", "binned"])
def test_save_and_load_give_identical_predictions(request, name: str, df, tmp_path) -> None:
    fc = request.getfixturevalue(name)
    fc.save(tmp_path / "run")
    assert {p.name for p in (tmp_path / "run").iterdir()} == {"config.json", "model.pt"}
    again = lstmkit.load(tmp_path / "run")
    assert isinstance(again, Forecaster)
    for data in (df, df.iloc[:150]):
        pd.testing.assert_frame_equal(again.predict(data), fc.predict(data), check_exact=True)
    assert again.evaluate(df) == fc.evaluate(df)


def test_same_seed_same_result(df) -> None:
    def fit(seed: int) -> Forecaster:
        return _fc(epochs=3, random_state=seed).fit(df, "y", "date")

    a, b, c = fit(3), fit(3), fit(4)
    pd.testing.assert_frame_equal(a.predict(df), b.predict(df), check_exact=True)
    assert a.test_metrics_ == b.test_metrics_
    sa, sb = a.model_.state_dict(), b.model_.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not np.array_equal(a.predict(df)["y"], c.predict(df)["y"])


def test_nothing_fitted_sees_the_validation_or_test_rows(df) -> None:
    wild = df.copy()
    rng = np.random.default_rng(1)
    wild.loc[168:, "y"] = np.abs(rng.normal(0, 1e4, N - 168)) + 1  # val and test rows
    wild.loc[[168, 200], "y"] = np.nan
    a = _fc(epochs=1, bins=6).fit(df, "y", "date")
    b = _fc(epochs=1, bins=6).fit(wild, "y", "date")
    assert a.pipeline_.state == b.pipeline_.state
    assert a.mase_scale_ == b.mase_scale_
    np.testing.assert_array_equal(a.bin_edges_, b.bin_edges_)
    np.testing.assert_array_equal(a.bin_centers_, b.bin_centers_)


# --- errors ----------------------------------------------------------------------------------


def test_option_errors_are_one_line_value_errors() -> None:
    for bad in (0, -3, 2.5, True, "12"):
        _one_line_error(rf"^lookback must be a positive integer, got {bad!r}$", lookback=bad)
    _one_line_error(r"^horizon must be a positive integer, got 0$", horizon=0)
    _one_line_error(r"quantiles must be increasing values in \(0, 1\), got \[0.5, 1.2\]",
                    quantiles=(1.2,))  # fmt: skip
    _one_line_error(r"quantiles must be increasing values in \(0, 1\)", quantiles=(0.0, 0.9))
    _one_line_error(r"^bins must be 0 \(off\) or at least 2, got 1$", bins=1)
    _one_line_error(r"quantiles and bins cannot be combined", bins=4, quantiles=(0.1, 0.9))
    _one_line_error(r"^anchor must be one of last, season, none, got 'mean'$", anchor="mean")
    _one_line_error(r"^lags must be positive integers, got \[0\]$", lags=(0,))
    _one_line_error(r"^test_fraction must lie in \(0, 1\), got 1.5$", test_fraction=1.5)
    _one_line_error(r"^epochs must be a positive integer, got 0$", epochs=0)
    _one_line_error(r"^min_steps must be an integer >= 0, got -1$", min_steps=-1)


def test_unknown_option_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="lookbak"):
        Forecaster(lookbak=12)


def test_quantiles_in_any_order() -> None:
    assert Forecaster(quantiles=(0.9, 0.1)).check_options()[0]["quantiles"] == (0.1, 0.5, 0.9)
    model, _ = Forecaster(quantiles=(0.9, 0.5, 0.1)).check_options()
    assert model["quantiles"] == (0.1, 0.5, 0.9)


def test_data_errors_are_one_line_value_errors(df) -> None:
    fc = _fc()
    with pytest.raises(ValueError, match=r"^target column 'sales' not found; columns: date, y$"):
        fc.fit(df, "sales", "date")
    with pytest.raises(ValueError, match=r"needs at least 72 \(24 per split\)"):
        fc.fit(df.iloc[:50], "y", "date")
    with pytest.raises(ValueError, match="not fitted yet"):
        fc.predict(df)


def test_predict_errors(point, df) -> None:
    with pytest.raises(ValueError, match=r"predict needs at least 12 rows .* got 5"):
        point.predict(df.iloc[:5])
    with pytest.raises(ValueError, match=r"target column 'y' not found"):
        point.predict(df.rename(columns={"y": "sales"}))
