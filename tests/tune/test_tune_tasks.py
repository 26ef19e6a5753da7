"""lstmkit tune with real (tiny) training: classify through the CLI, forecast on airline and
textgen through the Python API; the best run is a normal run directory; bad input is one line."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from tests.cli.inproc import lstmkit_cli

import lstmkit
from lstmkit.cli.main import main
from lstmkit.tune import tune


@pytest.fixture(scope="module")
def npz(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 10, 2)).astype(np.float32)
    y = (X[:, :, 0].mean(1) > 0).astype(int) + (X[:, -1, 1] > 0.7).astype(int)  # 3 classes
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    np.savez(path, X=X, y=y)
    return path


def _rows(out):
    with (out / "trials.csv").open() as f:
        return list(csv.DictReader(f))


def _check_outputs(out, trials: int) -> dict:
    best = json.loads((out / "best.json").read_text())
    assert len(_rows(out)) == trials == best["trials"]["total"]
    assert (out / "search.png").stat().st_size > 10_000
    assert not (out / "trials").exists()  # pruned and beaten trials are deleted
    run = out / "best"
    assert best["run_dir"] == str(run.resolve())
    for name in ("config.json", "model.pt", "metrics.json", "history.csv", "loss.png"):
        assert (run / name).is_file(), name
    return best


def test_tune_classify_cli_keeps_a_normal_best_run(npz, tmp_path, capsys):
    out = tmp_path / "search"
    argv = [
        "tune",
        "classify",
        "--data",
        str(npz),
        "--trials",
        "4",
        "--epochs",
        "3",
        "--hidden",
        "8",
        "--arch",
        "encoder",
        "--conv-channels",
        "0",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    best = _check_outputs(out, 4)
    assert best["task"] == "classify"
    assert best["metric"] == {"name": "val_loss", "direction": "minimize"}
    assert "hidden" not in best["best_params"] and best["options"]["hidden"] == 8
    assert {"layers", "cell", "lr", "batch_size"} <= set(best["best_params"])
    # the reported test accuracy is the best run's: its own predictions on the held-out split
    from lstmkit.tasks.classify import load_split

    config = json.loads((out / "best" / "config.json").read_text())
    _, test = load_split(config["data"])
    predicted = lstmkit.load(out / "best").predict(test.X, test.lengths)
    hits = predicted.astype(str) == np.asarray(test.classes)[test.y]  # classes: labels as str
    assert best["test_metrics"]["test_size"] == len(test.y) == 18  # 20 % of 90, stratified
    assert best["test_metrics"]["test_accuracy"] == pytest.approx(hits.mean(), abs=1e-6)
    assert best["best_value"] == pytest.approx(
        min(float(r["val_loss"]) for r in _rows(out) if r["state"] == "complete"), rel=1e-5
    )
    assert f"best trial {best['best_trial']}" in printed and "best run:" in printed
    # the best run: the config of its trial, evaluate and load work on it
    assert best["options"].items() <= config["options"].items()  # and every default beside
    assert main(["evaluate", str(out / "best")]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["test_accuracy"] == best["test_metrics"]["test_accuracy"]
    with np.load(npz) as z:
        assert lstmkit.load(out / "best").predict(z["X"][:5]).shape == (5,)


def test_tune_forecast_searches_lookback_in_seasons(tmp_path):
    out = tmp_path / "search"
    best = tune("forecast", {"source": "airline"}, {"hidden": 8, "layers": 1, "epochs": 2},
                out, trials=3, keep_study=False)  # fmt: skip
    _check_outputs(out, 3)
    assert {int(r["lookback"]) for r in _rows(out)} <= {12, 24}  # 36 leaves too few windows
    assert best["trials"]["failed"] == 0
    assert "test_mase" in best["test_metrics"] and "baseline_mase" in best["test_metrics"]
    fc = lstmkit.load(out / "best")
    assert fc.lookback_ == best["options"]["lookback"] and fc.horizon_ == 12


def test_tune_textgen_stays_unidirectional(tmp_path):
    from lstmkit.data.text import load_text

    text = load_text("kjv")
    path = tmp_path / "small.txt"
    path.write_text(text[: text.index("\n", 6000) + 1])
    out = tmp_path / "search"
    options = {"hidden": 16, "bptt": 16, "batch_size": 8, "epochs": 1}
    best = tune("textgen", {"source": str(path)}, options, out, trials=2, keep_study=False)
    _check_outputs(out, 2)
    assert "bidirectional" not in _rows(out)[0]
    assert "test_bpc" in best["test_metrics"]
    assert lstmkit.load(out / "best").generate("And", length=10, seed=0).startswith("And")


def _lstmkit(*args, cwd):
    return subprocess.run([sys.executable, "-m", "lstmkit", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["tune", "regress", "--data", "x"], 2, "invalid choice: 'regress'"),
        (["tune", "classify", "--data", "digits", "--trials", "0"], 2,
         "expected a positive integer, got 0"),
        (["tune", "classify", "--data", "missing.npz", "--out", "o"], 1, "missing.npz"),
    ],
)  # fmt: skip
def test_cli_bad_input_is_one_line(tmp_path, args, code, message, monkeypatch):
    monkeypatch.chdir(tmp_path)  # usage errors in this process, the data error in a real one
    r = _lstmkit(*args, cwd=tmp_path) if code == 1 else lstmkit_cli(*args)
    assert r.returncode == code, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()


def test_cli_refusals_leave_files_alone(npz, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    base = ["tune", "classify", "--data", str(npz), "--trials", "1", "--epochs", "1"]
    assert main([*base, "--out", str(out)]) == 1
    assert main([*base, "--out", str(out), "--continue"]) == 1
    assert main([*base, "--out", str(out), "--continue", "--overwrite"]) == 1
    assert main([*base, "--out", str(out), "--val-fraction", "0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("lstmkit tune: error: ") for line in err)
    assert "already exists and is not empty" in err[0]
    assert "--continue needs" in err[1]
    assert "--overwrite would delete it" in err[2]
    assert "val_fraction must be > 0" in err[3]
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    text = tmp_path / "t.txt"
    text.write_text("abc\n" * 50)
    with pytest.raises(SystemExit) as e:  # textgen has no --bidirectional: a usage error
        main(["tune", "textgen", "--data", str(text), "--bidirectional"])
    assert e.value.code == 2
    assert "unrecognized arguments: --bidirectional" in capsys.readouterr().err


def test_cli_continue_adds_trials(npz, tmp_path, capsys):
    out = tmp_path / "search"
    base = ["tune", "classify", "--data", str(npz), "--epochs", "1", "--hidden", "4",
            "--arch", "encoder", "--conv-channels", "0", "--out", str(out)]  # fmt: skip
    assert main([*base, "--trials", "2"]) == 0
    assert main([*base, "--trials", "1", "--continue"]) == 0
    assert json.loads((out / "best.json").read_text())["trials"]["total"] == 3
    assert len(_rows(out)) == 3
    assert main([*base, "--trials", "1", "--continue", "--lr", "0.01"]) == 1
    assert "differs in options" in capsys.readouterr().err
