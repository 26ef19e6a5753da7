"""lstmkit export end to end: files, export.json per SPEC 7, int8 beside fp32, bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

SPEC_KEYS = {"format", "path", "size_bytes", "max_abs_diff"}
INT8_KEYS = {"fp32_size_bytes", "latency_ms", "fp32_latency_ms"}


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "lstmkit", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=600)  # fmt: skip


def _one_line_error(r, code: int, needle: str) -> None:
    assert r.returncode == code, r.stderr
    assert "Traceback" not in r.stderr
    assert needle in r.stderr.strip().splitlines()[-1], r.stderr


@pytest.fixture
def copy_run(tiny_runs, tmp_path):
    def copy(task: str):
        return shutil.copytree(getattr(tiny_runs, task), tmp_path / task)

    return copy


def test_classify_onnx_int8(copy_run):
    run = copy_run("classify")
    model_before = (run / "model.pt").read_bytes()
    r = cli("export", run, "--quantize", "int8")
    assert r.returncode == 0, r.stderr
    info = json.loads((run / "export.json").read_text())
    assert SPEC_KEYS | INT8_KEYS <= set(info)
    assert info["format"] == "onnx" and info["quantize"] == "int8"
    assert info["path"].endswith("model.int8.onnx") and (run / "model.int8.onnx").is_file()
    assert info["size_bytes"] == (run / "model.int8.onnx").stat().st_size
    assert info["fp32_max_abs_diff"] <= 1e-4 and info["check_inputs"] == "test split"
    assert set(info["latency_ms"]) == {"batch_1", "batch_64"}
    assert all(v > 0 for v in info["latency_ms"].values())
    # the quantised model's test metric beside the fp32 one; both close to the run's own
    own = json.loads((run / "metrics.json").read_text())["test_accuracy"]
    assert info["fp32_test_accuracy"] == pytest.approx(own, abs=1e-6)
    assert abs(info["test_accuracy"] - own) < 0.05
    assert (run / "model.pt").read_bytes() == model_before  # the run's own files untouched
    # the ONNX file on its own: raw inputs (standardisation inside), dynamic batch and length
    import onnxruntime as ort

    from lstmkit import load
    from lstmkit.estimators._inputs import DriftWarning

    clf = load(run)
    X = np.random.default_rng(0).normal(8, 4, size=(3, 11, 8)).astype(np.float32)
    logits = ort.InferenceSession(str(run / "model.onnx")).run(None, {"input": X})[0]
    with pytest.warns(DriftWarning, match="far outside the training data"):  # X is N(8, 4)
        np.testing.assert_array_equal(clf.classes_[logits.argmax(1)], clf.predict(X))
    # again without --overwrite: refused, the file left as it was
    before = (run / "model.int8.onnx").read_bytes()
    r = cli("export", run, "--quantize", "int8")
    _one_line_error(r, 1, "exists; pass --overwrite")
    assert (run / "model.int8.onnx").read_bytes() == before


def test_forecast_torchscript(copy_run):
    run = copy_run("forecast")
    r = cli("export", run, "--format", "torchscript")
    assert r.returncode == 0, r.stderr
    info = json.loads((run / "export.json").read_text())
    assert info["format"] == "torchscript" and info["max_abs_diff"] <= 1e-4
    module = torch.jit.load(str(run / "model.torchscript.pt"))
    from lstmkit import load

    fc = load(run)
    x = torch.randn(4, fc.lookback_, fc.config_.features.input_size)
    with torch.no_grad():
        torch.testing.assert_close(module(x), fc.model_(x), atol=1e-5, rtol=0)
    assert info["test_mase"] == pytest.approx(
        json.loads((run / "metrics.json").read_text())["test_mase"], abs=1e-5
    )


def test_textgen_onnx_state_carries_across_calls(copy_run):
    from lstmkit import load
    from lstmkit.export import export_run
    from lstmkit.export.onnx_io import OnnxRunner

    run = copy_run("textgen")
    info = export_run(run, "onnx")
    assert info["inputs"] == ["input", "h0", "c0"]
    session = OnnxRunner(info["path"])
    gen = load(run)
    ids = np.array([gen.tokenizer_.encode("In the beginning God created")], dtype=np.int64)
    L, H = gen.model_.rnn.num_layers, gen.model_.rnn.hidden_size
    zeros = np.zeros((L, 1, H), dtype=np.float32)
    whole = session(ids, zeros, zeros)[0]
    _, h, c = session(ids[:, :10], zeros, zeros)
    second = session(ids[:, 10:], h, c)[0]
    np.testing.assert_allclose(second, whole[:, 10:], atol=1e-5)
    with torch.no_grad():
        ref, _ = gen.model_(torch.from_numpy(ids))
    np.testing.assert_allclose(whole, ref.numpy(), atol=1e-4)


def test_missing_data_falls_back_to_random_inputs(tiny_runs, tmp_path):
    from lstmkit.export import export_run

    run = shutil.copytree(tiny_runs.textgen, tmp_path / "textgen")
    config = json.loads((run / "config.json").read_text())
    config["data"]["source"] = str(tmp_path / "gone.txt")
    (run / "config.json").write_text(json.dumps(config))
    info = export_run(run, "torchscript", quantize="int8")
    assert info["check_inputs"] == "random"
    assert info["fp32_max_abs_diff"] <= 1e-4
    assert "test_bpc" not in info  # no test data, no test metric


def test_bad_input(tiny_runs, tmp_path, cli_main):
    """One mistake in a real process (exit status, stderr), the others in this one."""
    _one_line_error(cli("export", tmp_path / "nope"), 1, "does not exist")

    def run(*args):
        code, _, err = cli_main("export", *args)
        return SimpleNamespace(returncode=code, stderr=err)

    _one_line_error(run(tmp_path), 1, "not an lstmkit run directory")
    r = run(tiny_runs.classify, "--format", "keras")
    assert r.returncode == 2 and "invalid choice" in r.stderr and "Traceback" not in r.stderr
    r = run(tiny_runs.classify, "--output", tiny_runs.classify / "model.pt", "--overwrite")
    _one_line_error(r, 1, "would replace the run's own model.pt")
    r = run(tiny_runs.classify, "--output", tmp_path / "no" / "dir" / "m.onnx")
    _one_line_error(r, 1, "does not exist")
