"""lstmkit train forecast / predict / evaluate on a panel (many series, one model), end to end.

Everything calls ``lstmkit.cli.main.main`` in this process (no interpreter start-up per call);
two tiny runs are trained once per module, one plain and one with a future covariate. Bad input
ends in a non-zero exit code, one error line on stderr, no traceback and no run directory.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from tests.cli.inproc import lstmkit_cli
from tests.panel_data import daily_panel

import lstmkit

H = 7
TINY = ["--hidden", "8", "--layers", "1", "--epochs", "8", "--batch-size", "64",
        "--no-baselines"]  # fmt: skip
COLS = ["--id-col", "unique_id", "--time-col", "ds", "--target", "y", "--horizon", str(H)]
SPEC8 = ("series", "series_dropped", "test_smape", "test_mase", "test_owa",
         "baseline_smape", "baseline_mase", "naive_smape", "naive_mase", "test_coverage",
         "test_msis", "test_crps")  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_thread")


def _assert_user_error(r, needle: str) -> None:
    """A non-zero exit, no traceback, one error line (the last; log lines may precede it)."""
    assert r.returncode not in (0, None), r.stdout
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert [line for line in lines if "error:" in line] == lines[-1:], r.stderr
    assert needle in lines[-1], r.stderr


def _future(df: pd.DataFrame, value: int = 0) -> pd.DataFrame:
    last = pd.to_datetime(df.groupby("unique_id")["ds"].max())
    rows = [pd.DataFrame({"unique_id": sid, "promo": value,
                          "ds": pd.date_range(t + pd.Timedelta(days=1), periods=H)
                          .strftime("%Y-%m-%d")}) for sid, t in last.items()]  # fmt: skip
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("panel-data")
    df = daily_panel(20, noise=0.02)
    df.to_csv(folder / "panel.csv", index=False)
    promo = daily_panel(12, 1, noise=0.02, promo=True)
    promo.to_csv(folder / "promo.csv", index=False)
    return SimpleNamespace(dir=folder, df=df, csv=folder / "panel.csv", promo=promo,
                           promo_csv=folder / "promo.csv")  # fmt: skip


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "panel"
    r = lstmkit_cli("train", "forecast", "--data", data.csv, *COLS, *TINY, "--out", out)
    assert r.returncode == 0, r.stderr
    return SimpleNamespace(dir=out, stdout=r.stdout)


@pytest.fixture(scope="module")
def promo_run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "promo"
    r = lstmkit_cli("train", "forecast", "--data", data.promo_csv, *COLS, *TINY,
                    "--future-features", "promo", "--out", out)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return SimpleNamespace(dir=out, stdout=r.stdout)


# --- train, predict, evaluate -----------------------------------------------------------------


def test_train_writes_the_panel_run(run, data) -> None:
    names = {p.name for p in run.dir.iterdir()}
    for f in ("config.json", "model.pt", "metrics.json", "series_metrics.csv", "forecast.png",
              "loss.png"):  # fmt: skip
        assert f in names and (run.dir / f).stat().st_size > 0, f
        if f.endswith(".png"):
            assert (run.dir / f).read_bytes()[:4] == b"\x89PNG"
    m = json.loads((run.dir / "metrics.json").read_text())
    assert set(SPEC8) <= set(m)
    assert m["panel"] is True and m["task"] == "forecast"
    assert (m["series"], m["series_dropped"], m["horizon"], m["season"]) == (20, 0, H, 7)
    assert m["test_mase"] < m["naive_mase"]
    assert not any(k.startswith(("ets_", "theta_")) for k in m)  # --no-baselines
    table = pd.read_csv(run.dir / "series_metrics.csv")
    assert table.columns[0] == "unique_id" and len(table) == 20
    assert set(table["unique_id"]) == set(data.df["unique_id"])
    assert {"smape", "mase", "baseline_mase", "naive_mase"} <= set(table.columns)
    assert table["mase"].mean() == pytest.approx(m["test_mase"], rel=1e-4)
    config = json.loads((run.dir / "config.json").read_text())
    assert config["panel"] is True and config["task"] == "forecast"
    assert (config["data"]["id_col"], config["data"]["time_col"]) == ("unique_id", "ds")
    assert "20 series (0 dropped as too short)" in run.stdout and "seasonal naive" in run.stdout


def test_predict_writes_horizon_rows_per_series(run, data, tmp_path) -> None:
    out = tmp_path / "forecast.csv"
    r = lstmkit_cli("predict", run.dir, "--input", data.csv, "--output", out)
    assert r.returncode == 0, r.stderr
    pred = pd.read_csv(out)
    assert list(pred.columns) == ["unique_id", "ds", "y", "q0.1", "q0.5", "q0.9"]
    assert len(pred) == 20 * H and (pred.groupby("unique_id").size() == H).all()
    last = pd.to_datetime(data.df.groupby("unique_id")["ds"].max())
    first = pd.to_datetime(pred.groupby("unique_id")["ds"].min())
    assert (first - last == pd.Timedelta(days=1)).all()  # each series continues from its end
    q = pred[["q0.1", "q0.5", "q0.9"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
    expected = lstmkit.load(run.dir).predict(data.df)
    np.testing.assert_allclose(pred["y"], expected["y"], rtol=1e-5)
    r = lstmkit_cli("predict", run.dir, "--input", data.csv, "--output", out)
    _assert_user_error(r, "exists; pass --overwrite")


def test_evaluate_prints_the_test_scores(run) -> None:
    r = lstmkit_cli("evaluate", run.dir)
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    saved = json.loads((run.dir / "metrics.json").read_text())
    assert m["panel"] is True
    for key in ("test_mase", "test_smape", "naive_mase", "baseline_mase", "series"):
        assert m[key] == pytest.approx(saved[key], rel=1e-5), key


def test_future_covariates_flow(promo_run, data, tmp_path) -> None:
    config = json.loads((promo_run.dir / "config.json").read_text())
    assert config["data"]["future_features"] == ["promo"]
    preds = {}
    for value in (0, 1):
        future, out = tmp_path / f"future{value}.csv", tmp_path / f"out{value}.csv"
        _future(data.promo, value).to_csv(future, index=False)
        r = lstmkit_cli("predict", promo_run.dir, "--input", data.promo_csv, "--future", future,
                        "--output", out)  # fmt: skip
        assert r.returncode == 0, r.stderr
        preds[value] = pd.read_csv(out)
        assert len(preds[value]) == 12 * H
    ratio = preds[1]["y"].to_numpy() / preds[0]["y"].to_numpy()
    assert np.median(ratio) > 1.4, ratio  # the promotion lifts the forecast


def test_predict_of_a_future_run_needs_every_future_step(promo_run, data, tmp_path) -> None:
    out = tmp_path / "out.csv"
    r = lstmkit_cli("predict", promo_run.dir, "--input", data.promo_csv, "--output", out)
    _assert_user_error(r, "future covariates ['promo'] are needed")
    future = _future(data.promo)
    step = future.groupby("unique_id").cumcount()
    future = future[~((future["unique_id"] == "s04") & (step >= 5))]
    future.to_csv(tmp_path / "future.csv", index=False)
    r = lstmkit_cli("predict", promo_run.dir, "--input", data.promo_csv, "--future",
                    tmp_path / "future.csv", "--output", out)  # fmt: skip
    _assert_user_error(r, "missing for 1 of 12 series")
    assert "'s04' (steps 6, 7:" in r.stderr
    assert not out.exists()


def test_future_on_a_run_without_future_features_is_refused(run, data, tmp_path) -> None:
    _future(data.df).to_csv(tmp_path / "future.csv", index=False)
    given = tmp_path / "given.csv"
    r = lstmkit_cli("predict", run.dir, "--input", data.csv, "--future", tmp_path / "future.csv",
                    "--output", given)  # fmt: skip
    _assert_user_error(r, "trained without future_features")
    assert not given.exists()


# --- bad input --------------------------------------------------------------------------------


def _bad_tables(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    dup = pd.concat([df, df.iloc[[5]]], ignore_index=True)
    text = df.copy()
    text["y"] = text["y"].astype(object)
    text.loc[text.index[text["unique_id"] == "s03"][4], "y"] = "abc"
    mixed = df.copy()
    m = mixed["unique_id"] == "s04"
    mixed.loc[m, "ds"] = pd.date_range("2022-01-02", periods=int(m.sum()), freq="W").strftime(
        "%Y-%m-%d"
    )
    short = df.groupby("unique_id").head(20)
    return {"dup": dup, "text": text, "mixed": mixed, "short": short, "ok": df}


@pytest.mark.parametrize(
    ("table", "extra", "needle"),
    [
        ("ok", ["--id-col", "series"], "id column 'series' not found"),
        ("dup", [], "duplicate (unique_id, ds) pair ('s00', 2022-01-06"),
        ("text", [], "series 's03': target 'y' must be numeric, got 'abc'"),
        ("mixed", [], "different frequencies: 's05' is 'D' but 's04' is 'W-SUN'"),
        ("short", [], "expected at least 28"),
        ("ok", ["--bins", "4"], "--bins: single-series options, not for a panel"),
        ("ok", ["--loss", "normal", "--decoder", "autoregressive", "--anchor", "last"],
         "anchor applies to the direct decoder only"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_leaves_no_run(data, tmp_path, table, extra, needle) -> None:
    path = tmp_path / f"{table}.csv"
    _bad_tables(data.df)[table].to_csv(path, index=False)
    out = tmp_path / "run"
    r = lstmkit_cli("train", "forecast", "--data", path, *COLS, *TINY, *extra, "--out", out)
    _assert_user_error(r, needle)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # nothing half-made beside it
