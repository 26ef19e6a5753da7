"""``lstmkit train forecast --id-col ... --nproc 2``: a panel run trained by two processes (gloo,
CPU) through torch's launcher, end to end. The run ends with exit 0, rank 0 alone writes the
panel run directory and prints the result, both ranks trained (each its half of every epoch's
windows: half the single-process optimizer steps, an RNG state per rank in the checkpoint), and
the model loads with ``lstmkit.load`` and forecasts every series."""

import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from tests.panel_data import daily_panel

import lstmkit

H, EPOCHS, BATCH = 7, 3, 32
PANEL_RUN = {"checkpoint.pt", "config.json", "forecast.png", "history.csv", "loss.png",
             "metrics.json", "model.pt", "series_metrics.csv"}  # fmt: skip
ENV = os.environ | {"OMP_NUM_THREADS": "1"}  # one thread per process on a shared 2-core machine


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("panel-ddp")
    df = daily_panel(12)
    df.to_csv(root / "panel.csv", index=False)
    out = root / "run"
    cmd = [sys.executable, "-m", "lstmkit", "train", "forecast", "--data", str(root / "panel.csv"),
           "--id-col", "unique_id", "--time-col", "ds", "--target", "y", "--horizon", str(H),
           "--hidden", "8", "--layers", "1", "--epochs", str(EPOCHS), "--batch-size", str(BATCH),
           "--no-baselines", "--seed", "0", "--out", str(out), "--nproc", "2"]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=ENV)
    assert r.returncode == 0, r.stderr
    return out, r, df


def test_two_processes_write_one_panel_run(run):
    out, r, _ = run
    assert {p.name for p in out.iterdir()} == PANEL_RUN
    m = json.loads((out / "metrics.json").read_text())
    assert {"series", "series_dropped", "test_smape", "test_mase", "test_owa"} <= set(m)
    assert (m["series"], m["series_dropped"], m["world_size"], m["epochs_run"]) == (12, 0, 2, 3)
    assert math.isfinite(m["test_smape"]) and math.isfinite(m["test_mase"])
    config = json.loads((out / "config.json").read_text())
    assert config["panel"] is True and config["world_size"] == 2
    assert r.stdout.count("run directory:") == 1  # rank 0 alone prints the result
    assert r.stderr.count("epoch=1 ") == 1  # and logs the epochs


def test_both_ranks_trained_each_on_half_of_the_windows(run):
    out, r, _ = run
    windows = int(re.search(r"(\d+) training windows per epoch", r.stderr).group(1))
    ck = torch.load(out / "checkpoint.pt", weights_only=True)
    assert len(ck["rng_ranks"]) == 2  # every rank's RNG state, gathered from both
    steps = int(ck["optimizer"]["state"][0]["step"])  # rank 0's optimizer steps
    assert steps == EPOCHS * math.ceil(math.ceil(windows / 2) / BATCH)
    assert steps < EPOCHS * math.ceil(windows / BATCH)  # fewer than one process takes


def test_the_model_loads_and_forecasts_every_series(run):
    out, _, df = run
    fc = lstmkit.load(out)
    assert isinstance(fc, lstmkit.PanelForecaster)
    table = fc.predict(df)
    assert table["unique_id"].value_counts().to_dict() == {f"s{i:02d}": H for i in range(12)}
    assert list(table.columns) == ["unique_id", "ds", "y", "q0.1", "q0.5", "q0.9"]
    assert np.isfinite(table[["y", "q0.1", "q0.9"]].to_numpy()).all()
