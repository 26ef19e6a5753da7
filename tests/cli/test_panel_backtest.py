"""lstmkit backtest on a panel run: rolling origins per series, scored beside seasonal naive.

One tiny panel run (six daily series of 24-60 steps, weekly season, horizon 7) is trained once
per module, in this process; every backtest calls ``lstmkit.cli.main.main``. The scores of the
CSV are checked against MASE computed here from ``predict`` on the data cut at the origins.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from tests.cli.inproc import lstmkit_cli

import lstmkit
from lstmkit.estimators.panel_forecaster import PanelForecaster

H = 7
LENGTHS = (60, 52, 45, 38, 24, 56)  # s4 (24 steps): two windows of three, none in training
TINY = ["--hidden", "8", "--layers", "1", "--epochs", "3", "--batch-size", "64",
        "--no-baselines"]  # fmt: skip
COLS = ["--id-col", "unique_id", "--time-col", "ds", "--target", "y", "--horizon", str(H)]
FILES = {"backtest.csv", "backtest.json", "backtest.png"}

pytestmark = pytest.mark.usefixtures("one_thread")


def _panel() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frames = []
    for i, n in enumerate(LENGTHS):
        t = np.arange(n)
        y = 10 ** (i / 2) * (1 + 0.3 * np.sin(2 * np.pi * (t + i) / 7))
        y = y * (1 + 0.02 * rng.normal(size=n))
        days = pd.date_range("2022-01-01", periods=n).strftime("%Y-%m-%d")
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": days, "y": y}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("panel-backtest")
    df = _panel()
    df.to_csv(folder / "panel.csv", index=False)
    out = folder / "run"
    r = lstmkit_cli("train", "forecast", "--data", folder / "panel.csv", *COLS, *TINY,
                    "--out", out)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return SimpleNamespace(dir=out, df=df, csv=folder / "panel.csv")


def _independent_mase(history: np.ndarray, truth: np.ndarray, forecast: np.ndarray) -> float:
    """MASE by hand: the mean absolute error over the in-sample weekly seasonal naive error."""
    scale = np.mean(np.abs(history[7:] - history[:-7]))
    return float(np.mean(np.abs(truth - forecast)) / scale)


def test_one_row_per_series_and_origin_scored_as_predict_would(run, tmp_path) -> None:
    out = tmp_path / "bt"
    r = lstmkit_cli("backtest", run.dir, "--windows", 3, "--out", out)
    assert r.returncode == 0, r.stderr
    assert {p.name for p in out.iterdir()} == FILES
    assert (out / "backtest.png").read_bytes()[:4] == b"\x89PNG"
    assert not (run.dir / "backtest.csv").exists()  # --out, not the run directory
    table = pd.read_csv(out / "backtest.csv")
    assert list(table.columns[:6]) == ["unique_id", "window", "origin", "history", "smape", "mase"]
    assert {"baseline_smape", "baseline_mase", "naive2_mase"} <= set(table.columns)
    # every series has its last 3 origins, a horizon apart; s4 only 2 (7 steps before each)
    counts = table.groupby("unique_id").size()
    assert counts.to_dict() == {"s0": 3, "s1": 3, "s2": 3, "s3": 3, "s4": 2, "s5": 3}
    ends = pd.to_datetime(run.df.groupby("unique_id")["ds"].max())
    origin = pd.to_datetime(table["origin"])
    expected = ends[table["unique_id"]].to_numpy() - pd.to_timedelta(table["window"] * H - 1,
                                                                      unit="D")  # fmt: skip
    np.testing.assert_array_equal(origin.to_numpy(), expected.to_numpy())
    lengths = run.df.groupby("unique_id").size()
    assert (table["history"] == lengths[table["unique_id"]].to_numpy() - table["window"] * H).all()

    # origin 2 horizons back: predict on the data cut there, MASE computed here
    fc = lstmkit.load(run.dir)
    step = run.df.groupby("unique_id").cumcount()
    n = run.df["unique_id"].map(lengths)
    cut = run.df[step < n - 2 * H]
    pred = fc.predict(cut)
    rows = table[table["window"] == 2].set_index("unique_id")
    assert len(rows) == len(LENGTHS)
    for sid, g in run.df.groupby("unique_id"):
        y = g["y"].to_numpy()
        o = len(y) - 2 * H
        mase = _independent_mase(y[:o], y[o : o + H], pred.loc[pred["unique_id"] == sid, "y"])
        assert rows.loc[sid, "mase"] == pytest.approx(mase, rel=1e-4), sid
        sn = np.tile(y[o - 7 : o], 2)[:H]  # seasonal naive
        assert rows.loc[sid, "baseline_mase"] == pytest.approx(
            _independent_mase(y[:o], y[o : o + H], sn), rel=1e-4
        )

    summary = json.loads((out / "backtest.json").read_text())
    assert (summary["windows"], summary["horizon"], summary["refit"]) == (3, H, False)
    assert (summary["series"], summary["series_all_windows"], summary["series_fewer_windows"],
            summary["series_too_short"], summary["rows"]) == (6, 5, 1, 0, 17)  # fmt: skip
    assert [o["window"] for o in summary["origins"]] == [3, 2, 1]
    assert [o["series"] for o in summary["origins"]] == [5, 6, 6]
    for o in summary["origins"]:
        mean = table.loc[table["window"] == o["window"], "mase"].mean()
        assert o["mase"] == pytest.approx(mean, rel=1e-4)
    assert summary["mean"]["mase"] == pytest.approx(table["mase"].mean(), rel=1e-4)
    assert summary["mean"]["baseline_mase"] == pytest.approx(table["baseline_mase"].mean(),
                                                             rel=1e-4)  # fmt: skip
    assert "end-2H" in r.stdout and "seasonal naive" in r.stdout and "17 windows" in r.stdout
    assert "1 series with fewer windows" in r.stdout

    # the same data named with --data: the same table
    again = tmp_path / "again"
    r = lstmkit_cli("backtest", run.dir, "--windows", 3, "--data", run.csv, "--out", again)
    assert r.returncode == 0, r.stderr
    pd.testing.assert_frame_equal(pd.read_csv(again / "backtest.csv"), table)


def test_refit_trains_on_the_rows_before_each_origin(run, tmp_path, monkeypatch) -> None:
    seen = []
    fit = PanelForecaster.fit

    def recording_fit(self, data, *args, **kwargs):
        seen.append((data.ids.tolist(), data.lengths().tolist(), self.random_state,
                     self.hidden))  # fmt: skip
        return fit(self, data, *args, **kwargs)

    monkeypatch.setattr(PanelForecaster, "fit", recording_fit)
    out = tmp_path / "refit"
    r = lstmkit_cli("backtest", run.dir, "--windows", 2, "--refit", "--out", out)
    assert r.returncode == 0, r.stderr
    lengths = dict(zip([f"s{i}" for i in range(len(LENGTHS))], LENGTHS, strict=True))
    assert len(seen) == 2  # once per origin, oldest first
    for (ids, got, seed, hidden), k in zip(seen, (2, 1), strict=True):
        assert got == [lengths[i] - k * H for i in ids]  # every series cut at its origin
        assert (seed, hidden) == (0, 8)  # the run's options
    refit = pd.read_csv(out / "backtest.csv")
    plain_dir = tmp_path / "plain"
    assert lstmkit_cli("backtest", run.dir, "--windows", 2, "--out", plain_dir).returncode == 0
    plain = pd.read_csv(plain_dir / "backtest.csv")
    pd.testing.assert_frame_equal(refit.iloc[:, :4], plain.iloc[:, :4])
    pd.testing.assert_series_equal(refit["baseline_mase"], plain["baseline_mase"])
    assert not np.allclose(refit["mase"], plain["mase"])  # other models, other forecasts
    assert json.loads((out / "backtest.json").read_text())["refit"] is True


@pytest.mark.parametrize(
    ("windows", "code", "needle"),
    [
        (0, 2, "argument --windows: expected a positive integer"),
        (8, 1, "backtesting 8 windows of horizon 7 needs a series of at least 63 steps"),
    ],
)
def test_bad_windows_is_one_line_and_writes_nothing(run, tmp_path, windows, code, needle) -> None:
    out = tmp_path / "bt"
    before = sorted(p.name for p in run.dir.iterdir())
    r = lstmkit_cli("backtest", run.dir, "--windows", windows, "--out", out)
    assert r.returncode == code, r.stdout
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert [line for line in lines if "error:" in line] == lines[-1:], r.stderr
    assert needle in lines[-1], r.stderr
    assert not out.exists()
    assert sorted(p.name for p in run.dir.iterdir()) == before


def test_windows_below_one_is_refused_by_the_api(run) -> None:
    from lstmkit.tasks.panel_backtest import backtest_panel_run

    with pytest.raises(ValueError, match="windows must be a positive integer, got 0"):
        backtest_panel_run(run.dir, 0)
