"""lstmkit train regress on real data (Tecator, from the sktime wheel), then evaluate, predict,
extract, export, serve and resume of that run, through the command line in this process."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from tests.cli.inproc import lstmkit_cli

pytest.importorskip("sktime")

SMALL = [
    "--arch",
    "encoder",
    "--hidden",
    "16",
    "--layers",
    "1",
    "--conv-channels",
    "16",
    "--min-steps",
    "150",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("regress") / "tecator"
    r = lstmkit_cli("train", "regress", "--data", "tecator", "--out", out, *SMALL)
    assert r.returncode == 0, r.stderr
    assert "test RMSE" in r.stdout
    return out


@pytest.fixture(scope="module")
def tecator_test():
    from lstmkit.data.regression import load_regression

    return load_regression("tecator")[1]


def test_run_directory_and_metrics_beside_the_mean_predictor(run):
    m = json.loads((run / "metrics.json").read_text())
    for key in ("test_rmse", "test_mae", "test_r2", "baseline_rmse", "baseline_mae"):
        assert isinstance(m[key], float), key
    assert m["task"] == "regress" and m["test_size"] == 43 and m["train_size"] == 172
    assert m["test_rmse"] < 0.95 * m["baseline_rmse"]  # learnt something beyond the mean
    assert abs(m["baseline_r2"]) < 0.05  # the training mean scores about 0 on the test split
    for name in ("config.json", "model.pt", "checkpoint.pt", "history.csv", "loss.png",
                 "predicted.png"):  # fmt: skip
        assert (run / name).is_file(), name
    assert (run / "predicted.png").read_bytes()[:4] == b"\x89PNG"
    config = json.loads((run / "config.json").read_text())
    assert config["task"] == "regress" and config["model"]["targets"] == 1


def test_evaluate_predict_and_extract(run, tmp_path, tecator_test):
    r = lstmkit_cli("evaluate", run)
    assert r.returncode == 0, r.stderr
    m = json.loads((run / "metrics.json").read_text())
    assert json.loads(r.stdout)["test_rmse"] == pytest.approx(m["test_rmse"], abs=1e-6)
    inputs = tmp_path / "in.npz"
    np.savez(inputs, X=tecator_test.X[:, :, 0])  # (N, L): X alone is enough
    r = lstmkit_cli("predict", run, "--input", inputs, "--output", tmp_path / "p.csv")
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(tmp_path / "p.csv")
    assert list(table.columns) == ["value"] and len(table) == 43
    rmse = float(np.sqrt(((table["value"] - tecator_test.y) ** 2).mean()))
    assert rmse == pytest.approx(m["test_rmse"], rel=1e-4)
    r = lstmkit_cli("extract", run, "--input", inputs, "--output", tmp_path / "f.npy")
    assert r.returncode == 0, r.stderr
    assert np.load(tmp_path / "f.npy").shape == (43, 16)


def test_export_onnx_answers_in_the_targets_units(run, tmp_path):
    pytest.importorskip("onnxruntime")
    copy = tmp_path / "run"
    import shutil

    shutil.copytree(run, copy)
    r = lstmkit_cli("export", copy, "--format", "onnx")
    assert r.returncode == 0, r.stderr
    info = json.loads((copy / "export.json").read_text())
    m = json.loads((copy / "metrics.json").read_text())
    assert info["max_abs_diff"] < 1e-3  # values of tens: the raw difference, in y's units
    assert info["test_rmse"] == pytest.approx(m["test_rmse"], rel=1e-4)


def test_serve_predict_returns_values(run, tecator_test):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    import lstmkit
    from lstmkit.serve.app import build_app

    reg = lstmkit.load(run)
    with TestClient(build_app(run, batch_window=0)) as client:
        health = client.get("/health").json()
        assert health["task"] == "regress" and health["endpoint"] == "/predict"
        X = tecator_test.X[:5]
        answer = client.post("/predict", json={"inputs": X.tolist()})
        assert answer.status_code == 200, answer.text
        np.testing.assert_allclose(answer.json()["values"], reg.predict(X), rtol=1e-5)
        assert answer.json()["targets"] == ["y"]
        bad = client.post("/predict", json={"inputs": [[[1.0, 2.0]]]})
        assert bad.status_code == 422 and "channels" in bad.json()["detail"]


def test_a_second_train_never_clobbers_and_resume_finishes(run, tmp_path):
    before = (run / "metrics.json").read_bytes()
    r = lstmkit_cli("train", "regress", "--data", "tecator", "--out", run, *SMALL)
    assert r.returncode == 1 and "--overwrite" in r.stderr.strip().splitlines()[-1]
    assert (run / "metrics.json").read_bytes() == before
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    r = lstmkit_cli("resume", copy)  # a finished run: nothing left to train, same metrics
    assert r.returncode == 0, r.stderr
    after = json.loads((copy / "metrics.json").read_text())
    assert after["test_rmse"] == pytest.approx(json.loads(before)["test_rmse"], abs=1e-6)
