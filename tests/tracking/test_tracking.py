"""Experiment tracking (``--log tensorboard|mlflow``): the event files and the MLflow store
read back, a resumed run continuing its MLflow run, the gate-saturation scalars, and the
mistakes (a missing extra, --log with tune)."""

from __future__ import annotations

import csv
import json
import sys

import numpy as np
import pytest
import torch

from lstmkit.models import ClassifierConfig, FeatureConfig, SequenceClassifier
from lstmkit.nn.recording import recording
from lstmkit.tracking.tracker import gate_scalars

FAST = ["--data", "digits", "--hidden", "8", "--layers", "1", "--epochs", "3",
        "--arch", "encoder", "--conv-channels", "0"]  # fmt: skip


def _history(run):
    with open(run / "history.csv") as f:
        return list(csv.DictReader(f))


def test_tensorboard_events_hold_every_epoch_the_gates_and_the_test_metrics(tmp_path, cli_main):
    event_accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator"
    )
    run = tmp_path / "run"
    code, _, err = cli_main("train", "classify", *FAST, "--log", "tensorboard", "--out", run)
    assert code == 0, err
    events = event_accumulator.EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"loss", "val_loss", "val_accuracy", "lr", "grad_norm"} <= tags
    history = _history(run)
    for key in ("loss", "val_loss", "grad_norm"):
        logged = [(e.step, e.value) for e in events.Scalars(key)]
        assert [s for s, _ in logged] == [1, 2, 3]
        np.testing.assert_allclose([v for _, v in logged], [float(r[key]) for r in history],
                                   rtol=2e-5)  # fmt: skip
    gates = sorted(t for t in tags if t.startswith("gates/"))
    assert gates == ["gates/features.rnn/0.0/mean", "gates/features.rnn/0.0/share_high",
                     "gates/features.rnn/0.0/share_low"]  # fmt: skip
    assert all(0.0 <= e.value <= 1.0 for t in gates for e in events.Scalars(t))
    metrics = json.loads((run / "metrics.json").read_text())
    assert events.Scalars("test/test_accuracy")[0].value == pytest.approx(metrics["test_accuracy"])
    assert json.loads((run / "config.json").read_text())["tracking"] == {"log": "tensorboard"}


def test_mlflow_run_has_params_metrics_per_epoch_and_the_run_as_artifacts(
    tmp_path, cli_main, monkeypatch
):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)  # the default store: ./mlruns
    run = tmp_path / "run"
    code, _, err = cli_main("train", "classify", *FAST, "--log", "mlflow", "--out", run)
    assert code == 0, err
    tracking = json.loads((run / "config.json").read_text())["tracking"]
    assert tracking["mlflow_uri"] == f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    client = MlflowClient(tracking["mlflow_uri"])
    logged = client.get_run(tracking["run_id"])
    assert logged.info.status == "FINISHED"
    assert logged.data.params["options.hidden"] == "8" and logged.data.params["task"] == "classify"
    losses = client.get_metric_history(tracking["run_id"], "val_loss")
    assert [m.step for m in losses] == [1, 2, 3]
    expected = [float(r["val_loss"]) for r in _history(run)]
    np.testing.assert_allclose([m.value for m in losses], expected, rtol=2e-5)
    metrics = json.loads((run / "metrics.json").read_text())
    assert logged.data.metrics["test/test_accuracy"] == pytest.approx(metrics["test_accuracy"])
    files = {a.path for a in client.list_artifacts(tracking["run_id"], "run")}
    assert {"run/config.json", "run/metrics.json", "run/model.pt", "run/history.csv"} <= files
    # lstmkit resume continues the same MLflow run (a finished run: no epoch left, re-evaluated)
    code, _, err = cli_main("resume", run)
    assert code == 0, err
    experiment = client.get_experiment_by_name("lstmkit-classify")
    runs = client.search_runs([experiment.experiment_id])
    assert [r.info.run_id for r in runs] == [tracking["run_id"]]
    assert runs[0].info.status == "FINISHED"


def test_a_missing_extra_is_one_line_and_nothing_is_written(tmp_path, cli_main, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard fails
    run = tmp_path / "run"
    code, out, err = cli_main("train", "classify", *FAST, "--log", "tensorboard", "--out", run)
    assert code == 1 and not out
    assert err.strip() == (
        "lstmkit train: error: --log tensorboard needs the tensorboard package, which is not "
        "installed: pip install 'lstmkit[tensorboard]'"
    )
    assert not run.exists()


def test_tune_refuses_log(tmp_path, cli_main):
    code, _, err = cli_main("tune", "classify", *FAST, "--trials", "1", "--log", "mlflow",
                            "--out", tmp_path / "t")  # fmt: skip
    assert code == 1 and "--log tracks one lstmkit train run" in err
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize(("cell", "gate"), [("lstm", "f"), ("gru", "z")])
def test_gate_scalars_are_the_keep_gate_shares_of_every_layer(cell, gate):
    torch.manual_seed(0)
    model = SequenceClassifier(ClassifierConfig(FeatureConfig(3, 6, 2, cell=cell), 2))
    x, y = torch.randn(5, 7, 3), torch.tensor([0, 1, 0, 1, 1])

    def evaluate(m, batches):
        for xb, _ in batches.batches():
            m(xb)
        return {}

    model.train()
    values = gate_scalars(model, evaluate, (x, y))
    assert model.training  # mode restored
    assert sorted(values) == sorted(f"gates/features.rnn/{k}.0/{s}" for k in (0, 1)
                                    for s in ("mean", "share_high", "share_low"))  # fmt: skip
    with torch.no_grad(), recording(model) as recs:
        model.eval()(x)
    keep = recs[0].values[gate][0, 0]  # layer 0, forward
    assert values["gates/features.rnn/0.0/mean"] == pytest.approx(float(keep.mean()), rel=1e-5)
    assert values["gates/features.rnn/0.0/share_low"] == pytest.approx(
        float((keep < 0.1).double().mean())
    )
