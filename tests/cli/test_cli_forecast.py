"""lstmkit train forecast / predict / evaluate / backtest / resume, end to end.

Training, predict and backtest go through ``python -m lstmkit`` subprocesses, as does one bad
input; the other bad-input cases, evaluate and resume call ``lstmkit.cli.main.main`` in this
process (the same code without the ~3 s of interpreter and torch start-up each) and check the
same things: exit code, one error line, nothing written.
"""

import io
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from tests.cli.kill9 import assert_same_run, train_and_kill_9

import lstmkit
from lstmkit.cli.main import main
from lstmkit.data.series import load_table

FAST = ["--hidden", "16", "--epochs", "5"]
ENV = os.environ | {"OMP_NUM_THREADS": "1"}  # tiny models: one thread is faster, and steady
SPEC4 = ("task", "epochs_run", "train_seconds", "params")  # metrics.json keys of every task
METRICS = ("test_mae", "test_rmse", "test_smape", "test_mase",
           "baseline_mae", "baseline_rmse", "baseline_smape", "baseline_mase")  # fmt: skip


def cli(*args, cwd=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "lstmkit", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout, env=ENV)  # fmt: skip


def run_main(capsys, *args):
    """``lstmkit ARGS`` in this process: the same result fields as :func:`cli`."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:  # argparse: usage errors
        code = e.code
    out = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)


def _assert_user_error(r, code, needle):
    """Exit code, no traceback, and exactly one error line (the last; progress logs may precede)."""
    assert r.returncode == code, r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert [line for line in lines if "error:" in line] == lines[-1:], r.stderr
    assert needle in lines[-1], r.stderr


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def airline() -> pd.DataFrame:
    return load_table("airline")[0]  # month, passengers: 144 monthly rows


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "airline"
    r = cli("train", "forecast", "--data", "airline", *FAST, "--out", out)
    assert r.returncode == 0, r.stderr
    return SimpleNamespace(dir=out, stdout=r.stdout)


def _daily_csv(path, n=150, seed=0):
    """Daily target with a weekly season driven by a covariate; 3 missing days, 2 missing
    target values and 1 missing covariate value."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = np.sin(2 * np.pi * t / 7)
    y = 20 + 0.05 * t + 5 * x + rng.normal(0, 0.3, n)
    df = pd.DataFrame({"date": pd.date_range("2021-01-01", periods=n, freq="D"), "y": y, "x": x})
    df.loc[[10, 50], "y"] = np.nan
    df.loc[20, "x"] = np.nan
    df = df.drop(index=[30, 31, 80])
    df["date"] = df["date"].dt.strftime("%Y-%m-%d")
    df.to_csv(path, index=False)
    return df


# --- train -----------------------------------------------------------------------------------


def test_train_writes_the_run_directory(run):
    names = {p.name for p in run.dir.iterdir()}
    for f in ("config.json", "model.pt", "checkpoint.pt", "metrics.json", "history.csv",
              "loss.png", "forecast.png", "residuals.png"):  # fmt: skip
        assert f in names
        assert (run.dir / f).stat().st_size > 0
        if f.endswith(".png"):
            assert (run.dir / f).read_bytes()[:4] == b"\x89PNG"
    m = json.loads((run.dir / "metrics.json").read_text())
    assert set(SPEC4 + METRICS) <= set(m)
    assert m["task"] == "forecast" and m["epochs_run"] == 5
    state = torch.load(run.dir / "model.pt", weights_only=True)  # safe to load
    assert m["params"] == sum(v.numel() for v in state.values())
    assert (m["lookback"], m["horizon"], m["season"], m["freq"]) == (12, 12, 12, "MS")
    for key in METRICS:
        assert np.isfinite(m[key]) and m[key] > 0
    assert m["test_mase"] == pytest.approx(
        m["test_mae"] / m["baseline_mae"] * m["baseline_mase"], rel=1e-4
    )  # both scaled by the same in-sample seasonal-naive error
    assert len((run.dir / "history.csv").read_text().splitlines()) == 6
    config = json.loads((run.dir / "config.json").read_text())
    assert config["task"] == "forecast"
    assert config["data"]["source"] == "airline"
    assert (config["data"]["target"], config["data"]["time_col"]) == ("passengers", "month")
    assert "seasonal naive" in run.stdout and "MASE" in run.stdout


def test_predict_csv_in_and_out(run, airline, tmp_path, capsys):
    inp, out = tmp_path / "history.csv", tmp_path / "forecast.csv"
    airline.iloc[:120].to_csv(inp, index=False)  # up to 1958-12
    r = cli("predict", run.dir, "--input", inp, "--output", out)
    assert r.returncode == 0, r.stderr
    pred = pd.read_csv(out)
    assert list(pred.columns) == ["month", "passengers"]
    assert list(pred["month"]) == [f"1959-{m:02d}-01" for m in range(1, 13)]
    expected = lstmkit.load(run.dir).predict(airline.iloc[:120])
    # written with the data's decimals + 2 (passenger counts: 2), not 15 digits of float noise
    assert json.loads((run.dir / "config.json").read_text())["frame"]["decimals"] == 2
    text = out.read_text().splitlines()[1:]
    assert all(len(line.split(",")[1].partition(".")[2]) <= 2 for line in text), text
    np.testing.assert_allclose(pred["passengers"], expected["passengers"].round(2), atol=1e-9)
    truth = airline["passengers"].iloc[120:132].to_numpy()
    assert np.abs(pred["passengers"] - truth).mean() < 0.25 * truth.mean()  # a sane forecast

    before = out.read_text()
    r = run_main(capsys, "predict", run.dir, "--input", inp, "--output", out)
    _assert_user_error(r, 1, "exists; pass --overwrite")
    assert out.read_text() == before


def test_predict_to_stdout_and_overwrite(run, airline, tmp_path, capsys):
    inp, out = tmp_path / "history.csv", tmp_path / "forecast.csv"
    airline.to_csv(inp, index=False)
    r = run_main(capsys, "predict", run.dir, "--input", inp)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "month,passengers" and len(lines) == 13
    assert lines[1].startswith("1961-01-01,")
    out.write_text("old")
    r = run_main(capsys, "predict", run.dir, "--input", inp, "--output", out, "--overwrite")
    assert r.returncode == 0, r.stderr
    assert out.read_text().strip().splitlines() == lines


def test_predict_bad_input_writes_nothing(run, airline, tmp_path, capsys):
    inp, out = tmp_path / "in.csv", tmp_path / "forecast.csv"
    airline.rename(columns={"passengers": "sales"}).to_csv(inp, index=False)
    r = run_main(capsys, "predict", run.dir, "--input", inp, "--output", out)
    _assert_user_error(r, 1, "target column 'passengers' not found; columns: month, sales")
    airline.iloc[:5].to_csv(inp, index=False)
    r = run_main(capsys, "predict", run.dir, "--input", inp, "--output", out)
    _assert_user_error(r, 1, "predict needs at least 12 rows")
    assert not out.exists()


# --- evaluate, backtest, resume --------------------------------------------------------------


def test_evaluate_repeats_the_test_metrics(run, capsys):
    r = run_main(capsys, "evaluate", run.dir)
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    saved = json.loads((run.dir / "metrics.json").read_text())
    for key in (*METRICS, "test_windows"):
        assert m[key] == pytest.approx(saved[key], rel=1e-6)


def test_evaluate_on_other_data_scores_every_window(run, airline, tmp_path, capsys):
    inp = tmp_path / "other.csv"
    airline.iloc[60:].to_csv(inp, index=False)  # 84 rows
    r = run_main(capsys, "evaluate", run.dir, "--data", inp)
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    assert m["task"] == "forecast"
    assert m["test_windows"] == 84 - 12 - 12 + 1
    assert set(METRICS) <= set(m)


def test_backtest_table_and_files(run, airline, tmp_path):
    out = tmp_path / "bt"
    r = cli("backtest", run.dir, "--windows", 3, "--out", out)
    assert r.returncode == 0, r.stderr
    assert {p.name for p in out.iterdir()} == {"backtest.csv", "backtest.json", "backtest.png"}
    table = pd.read_csv(out / "backtest.csv")
    assert list(table["origin"].str[:10]) == ["1958-01-01", "1959-01-01", "1960-01-01"]
    for origin in table["origin"]:
        assert origin in r.stdout
    assert "mean MASE" in r.stdout
    summary = json.loads((out / "backtest.json").read_text())
    assert summary["windows"] == 3 and summary["horizon"] == 12 and len(summary["rows"]) == 3
    assert summary["mean"]["mase"] == pytest.approx(table["mase"].mean(), abs=1e-6)  # 6 decimals

    # the last origin by hand: the loaded model from the history before it, and seasonal naive
    y = airline["passengers"].to_numpy(np.float64)
    pred = lstmkit.load(run.dir).predict(airline.iloc[:132])["passengers"].to_numpy()
    last = table.iloc[-1]
    # errors in passengers are written with the data's decimals + 2 (here 2)
    assert last["mae"] == pytest.approx(np.abs(pred - y[132:]).mean(), abs=0.0051)
    assert last["baseline_mae"] == pytest.approx(np.abs(y[120:132] - y[132:]).mean(), abs=0.0051)
    assert not (run.dir / "backtest.csv").exists()  # --out, not the run directory


def test_backtest_on_the_time_grid_of_unsorted_data_with_gaps(run, airline, tmp_path, capsys):
    inp, out = tmp_path / "gaps.csv", tmp_path / "bt"
    missing = (125, 134)  # one month missing in each of the last two years
    gappy = airline.drop(index=list(missing))
    gappy.sample(frac=1, random_state=0).to_csv(inp, index=False)  # rows in any order
    r = run_main(capsys, "backtest", run.dir, "--windows", 2, "--data", inp, "--out", out)
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(out / "backtest.csv")
    assert list(table["origin"].str[:10]) == ["1959-01-01", "1960-01-01"]
    y = airline["passengers"].to_numpy(np.float64)
    fc = lstmkit.load(run.dir)
    for row, cut in zip(table.itertuples(), (120, 132), strict=True):
        pred = fc.predict(gappy[gappy.index < cut])["passengers"].to_numpy()
        # scored: the steps with a truth and a seasonal-naive forecast, the same for both
        keep = [cut + h not in missing and cut - 12 + h not in missing for h in range(12)]
        got = np.abs(pred - y[cut : cut + 12])[keep].mean()
        assert row.mae == pytest.approx(got, abs=0.0051)  # 2 decimals: the data's + 2
        naive = np.abs(y[cut - 12 : cut] - y[cut : cut + 12])[keep]
        assert row.baseline_mae == pytest.approx(naive.mean(), abs=0.0051)


def test_backtest_refit_trains_on_the_history_before_each_origin(
    run, tmp_path, capsys, monkeypatch
):
    from lstmkit import Forecaster

    seen = []
    fit = Forecaster.fit

    def recording_fit(self, data, *args, **kwargs):
        seen.append(data.index.max())
        return fit(self, data, *args, **kwargs)

    monkeypatch.setattr(Forecaster, "fit", recording_fit)
    out = tmp_path / "bt"
    r = run_main(capsys, "backtest", run.dir, "--windows", 2, "--refit", "--out", out)
    assert r.returncode == 0, r.stderr
    assert seen == [pd.Timestamp("1958-12-01"), pd.Timestamp("1959-12-01")]
    summary = json.loads((out / "backtest.json").read_text())
    assert summary["refit"] is True
    assert [row["origin"][:10] for row in summary["rows"]] == ["1959-01-01", "1960-01-01"]


def test_backtest_needs_enough_rows(run, capsys, tmp_path):
    r = run_main(capsys, "backtest", run.dir, "--windows", 20, "--out", tmp_path / "bt")
    _assert_user_error(r, 1, "needs at least 253 rows, the data has 144")
    assert not (tmp_path / "bt").exists()


def test_interrupted_run_resumes_to_the_same_model(run, tmp_path, capsys, monkeypatch):
    from lstmkit.train.trainer import Trainer

    end_epoch = Trainer._end_epoch

    def stop_after_two(self, epoch, row, schedule):
        end_epoch(self, epoch, row, schedule)  # writes checkpoint.pt and history.csv
        if epoch + 1 == 2:
            raise KeyboardInterrupt

    cut = tmp_path / "cut"
    with monkeypatch.context() as m:
        m.setattr(Trainer, "_end_epoch", stop_after_two)
        r = run_main(capsys, "train", "forecast", "--data", "airline", *FAST, "--out", cut)
    assert r.returncode == 130
    assert (cut / "checkpoint.pt").exists() and not (cut / "metrics.json").exists()
    assert len((cut / "history.csv").read_text().splitlines()) == 3

    r = run_main(capsys, "resume", cut)
    assert r.returncode == 0, r.stderr
    assert "resumed" in r.stdout
    full = json.loads((run.dir / "metrics.json").read_text())
    resumed = json.loads((cut / "metrics.json").read_text())
    assert resumed["epochs_run"] == 5
    for key in METRICS:
        assert resumed[key] == full[key]
    sf = torch.load(run.dir / "model.pt", weights_only=True)
    sc = torch.load(cut / "model.pt", weights_only=True)
    assert all(torch.equal(sf[k], sc[k]) for k in sf)


def test_kill_9_mid_epoch_then_resume_matches_uninterrupted(run, tmp_path, capsys):
    """SIGKILL in the third epoch (two checkpointed), then `lstmkit resume`: the same model.pt
    and metrics.json as the uninterrupted run of the same command."""
    cut = tmp_path / "cut"
    train_and_kill_9(["train", "forecast", "--data", "airline", *FAST], cut, after=2, env=ENV)
    r = run_main(capsys, "resume", cut)
    assert r.returncode == 0, r.stderr
    assert json.loads((cut / "metrics.json").read_text())["epochs_run"] == 5
    assert_same_run(run.dir, cut)


# --- a CSV file with a date column, gaps, missing values and a covariate ---------------------


def test_csv_with_a_covariate(tmp_path, capsys):
    data = tmp_path / "daily.csv"
    df = _daily_csv(data)
    out = tmp_path / "run"
    r = cli("train", "forecast", "--data", data, "--target", "y", "--features", "x",
            "--quantiles", "0.1,0.9", "--hidden", "8", "--epochs", "3", "--out", out)  # fmt: skip
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert (m["freq"], m["season"], m["horizon"], m["lookback"]) == ("D", 7, 7, 8)
    assert m["gaps_reindexed"] == 3
    assert m["missing_filled"] == {"y": 5, "x": 4}  # the 3 missing days and the NaN values
    # the coverage of the 0.1-0.9 interval, recounted: every test window's forecast made with
    # `predict` from the rows before its origin, against the truths of the CSV
    fc, truth = lstmkit.load(out), df.set_index(pd.to_datetime(df["date"]))["y"]
    days = pd.date_range("2021-01-01", periods=m["rows"], freq="D")  # the reindexed grid
    first = m["rows"] - m["horizon"] - m["test_windows"] + 1  # origins: the test part's windows
    inside = []
    for origin in days[first : m["rows"] - m["horizon"] + 1]:
        f = fc.predict(df[pd.to_datetime(df["date"]) < origin])
        t = truth.reindex(pd.to_datetime(f["date"])).to_numpy()  # the test part has no gaps
        inside.append((f["q0.1"].to_numpy() <= t) & (t <= f["q0.9"].to_numpy()))
    assert np.shape(inside) == (m["test_windows"], 7) and m["test_windows"] == 8
    assert m["test_coverage"] == pytest.approx(np.mean(inside), abs=1e-6)
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["features"] == ["x"] and config["frame"]["time_col"] == "date"
    assert config["pipeline"]["state"]["columns"][:2] == ["y", "x"]
    assert config["model"]["features"]["input_size"] == len(config["pipeline"]["state"]["columns"])

    r = run_main(capsys, "predict", out, "--input", data)
    assert r.returncode == 0, r.stderr
    pred = pd.read_csv(io.StringIO(r.stdout))
    assert list(pred.columns) == ["date", "y", "q0.1", "q0.5", "q0.9"]
    assert list(pred["date"]) == [f"2021-05-{d:02d}" for d in range(31, 32)] + [
        f"2021-06-{d:02d}" for d in range(1, 7)
    ]
    assert np.all(pred["q0.1"] <= pred["y"]) and np.all(pred["y"] <= pred["q0.9"])
    assert np.array_equal(pred["y"], pred["q0.5"])
    r = run_main(capsys, "predict", out, "--input", tmp_path / "nope.csv")
    _assert_user_error(r, 1, "not found")
    df.drop(columns="x").to_csv(tmp_path / "nox.csv", index=False)
    r = run_main(capsys, "predict", out, "--input", tmp_path / "nox.csv")
    _assert_user_error(r, 1, "feature column 'x' not found; columns: date, y")


# --- bad input: one line, exit 1, nothing written --------------------------------------------


def _monthly(n=60, **columns):
    df = pd.DataFrame({"date": pd.date_range("2000-01-01", periods=n, freq="MS")})
    df["date"] = df["date"].dt.strftime("%Y-%m-%d")
    rng = np.random.default_rng(0)
    df["y"] = 100 + 10 * np.sin(np.arange(n) / 12 * 2 * np.pi) + rng.normal(0, 1, n)
    return df.assign(**columns)


def _write(df, path):
    df.to_csv(path, index=False)
    return path


def _with(column, row, value):
    """A writer of the monthly table with one cell replaced."""

    def make(path):
        df = _monthly().astype({column: object})
        df.loc[row, column] = value
        return _write(df, path)

    return make


def _text(path, text):
    path.write_text(text)
    return path


BAD_INPUT = {
    "target missing": (
        lambda p: _write(_monthly().rename(columns={"y": "sales"}), p),
        ["--target", "y"],
        "target column 'y' not found; columns: date, sales",
    ),
    "non-numeric target": (
        _with("y", 3, "ten"),
        ["--target", "y"],
        "column 'y' must be numeric; got 'ten' at row 3",
    ),
    "too short": (
        lambda p: _write(_monthly(30), p),
        ["--target", "y", "--lookback", "12", "--horizon", "6"],
        "series has 30 rows; lookback 12 + horizon 6 needs at least 54 (18 per split)",
    ),
    "empty file": (
        lambda p: _text(p, ""),
        ["--target", "y"],
        "empty file (0 bytes)",
    ),
    "header only": (
        lambda p: _text(p, "date,y\n"),
        ["--target", "y"],
        "no rows (columns: date, y)",
    ),
    "unparseable timestamps": (
        _with("date", 7, "soon"),
        ["--target", "y"],
        "time column 'date': cannot read 'soon' (row 7) as a date",
    ),
    "duplicate timestamps": (
        _with("date", 5, "2000-05-01"),  # row 4's month
        ["--target", "y"],
        "time column 'date': duplicate timestamp 2000-05-01 00:00:00 (rows 4 and 5)",
    ),
    "all-NaN covariate": (
        lambda p: _write(_monthly(x=np.nan), p),
        ["--target", "y", "--features", "x"],
        "column 'x' has no values (all 60 are missing)",
    ),
    "all-NaN target": (
        lambda p: _write(_monthly().assign(y=np.nan), p),
        ["--target", "y"],
        "column 'y' has no values (all 60 are missing)",
    ),
    "missing time column": (
        lambda p: _write(_monthly(), p),
        ["--target", "y", "--time-col", "when"],
        "time column 'when' not found; columns: date, y",
    ),
    "missing file": (lambda p: p, ["--target", "y"], "data file not found"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_exit_1_and_writes_nothing(case, tmp_path, capsys):
    make, flags, needle = BAD_INPUT[case]
    data = make(tmp_path / "data.csv")
    out = tmp_path / "run"
    r = run_main(capsys, "train", "forecast", "--data", data, *flags, *FAST, "--out", out)
    _assert_user_error(r, 1, needle)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == (["data.csv"] if data.exists() else [])


def test_bad_input_through_the_process(tmp_path):
    data = _write(_monthly(30), tmp_path / "short.csv")
    out = tmp_path / "run"
    r = cli("train", "forecast", "--data", data, "--target", "y", "--out", out)
    _assert_user_error(r, 1, "needs at least")
    assert r.stderr.strip().splitlines()[-1].startswith("lstmkit train: error: ")
    assert not out.exists()


@pytest.mark.parametrize(
    "flags, needle",
    [
        (["--lookback", "0"], "--lookback: expected a positive integer, got 0"),
        (["--horizon", "two"], "--horizon: expected a positive integer, got 'two'"),
        (["--quantiles", "0.1,1.5"], "--quantiles: expected quantile levels in (0, 1)"),
        (["--quantiles", "low"], "--quantiles: expected comma-separated numbers, got 'low'"),
        (["--bins", "1"], "--bins: expected an integer >= 2, got 1"),
        (["--lags", "0,3"], "--lags: expected positive integers, got '0,3'"),
        (["--test-fraction", "1"], "--test-fraction: expected a fraction in (0, 0.5], got 1.0"),
        (["--fill", "linear"], "--fill: invalid choice: 'linear'"),
        (["--anchor", "mean"], "--anchor: invalid choice: 'mean'"),
        (["--min-steps", "-5"], "--min-steps: expected an integer >= 0, got -5"),
    ],
)
def test_bad_flag_values_exit_2(flags, needle, tmp_path, capsys):
    out = tmp_path / "run"
    r = run_main(capsys, "train", "forecast", "--data", "airline", *flags, "--out", out)
    _assert_user_error(r, 2, needle)
    assert not out.exists()


def test_quantiles_with_bins_is_one_line_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "run"
    r = run_main(capsys, "train", "forecast", "--data", "airline", "--bins", "4",
                 "--quantiles", "0.1,0.9", "--out", out)  # fmt: skip
    _assert_user_error(r, 1, "quantiles and bins cannot be combined")
    assert not out.exists()
