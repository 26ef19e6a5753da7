"""``lstmkit export --format onnx`` of a classify run with lstmkit's default architecture
(Conv1d stride-2 front end, 2-layer GRU): no torch error text on the terminal, a checked graph.

torch 2.13's ONNX exporter cannot decompose a torch GRU (or a stacked LSTM) op behind a strided
Conv1d; the export used to try it anyway and print torch's shape error ("The size of tensor a
(128) must match the size of tensor b (384)") before falling back to the Scan loop."""

from __future__ import annotations

import json
import logging
import sys
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from torch import nn

from lstmkit.cli.main import main
from lstmkit.nn import LSTM

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

TORCH_NOISE = ("size of tensor", "must match", "Traceback", "torch.onnx could not", "failed")


@contextmanager
def terminal_log():
    """The CLI's log lines on stderr, as ``lstmkit`` shows them (pytest keeps basicConfig
    from installing its handler in this process); entered where capfd captures stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)  # as the CLI's basicConfig
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_default_classify_run_exports_to_onnx_quietly(tmp_path, capfd, caplog):
    run = tmp_path / "digits"
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        train = [
            "train",
            "classify",
            "--arch",
            "encoder",
            "--data",
            "digits",
            "--epochs",
            "1",
            "--out",
            str(run),
        ]
        assert main(train) == 0
        capfd.readouterr()  # the training's own report
        caplog.clear()
        with terminal_log(), caplog.at_level(logging.DEBUG, logger="lstmkit"):
            code = main(["export", str(run), "--format", "onnx"])
    finally:
        torch.set_num_threads(threads)
    out, err = capfd.readouterr()
    assert code == 0, err
    for needle in TORCH_NOISE:
        assert needle not in out + err, out + err
    assert "recurrence as scan" in out
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert not [m for m in loud if any(n in m for n in TORCH_NOISE)], loud
    quiet = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("skipped" in m and "strided Conv1d" in m for m in quiet), quiet
    info = json.loads((run / "export.json").read_text())
    assert info["loop"] == "scan" and info["dynamic_length"] is True
    assert info["max_abs_diff"] <= 1e-4 and info["check_inputs"] == "test split"
    own = json.loads((run / "metrics.json").read_text())["test_accuracy"]
    assert info["test_accuracy"] == pytest.approx(own, abs=1e-6)


def test_which_native_ops_are_known_to_fail_behind_a_strided_front_end():
    from lstmkit.export.formats import _onnx_native_problem

    def model(stride: int, cell: str, layers: int) -> nn.Module:
        return nn.Sequential(
            nn.Conv1d(3, 4, 3, stride=stride), LSTM(4, 8, layers, cell=cell, batch_first=True)
        )

    assert _onnx_native_problem(model(1, "gru", 2)) is None  # full length: torch exports it
    assert _onnx_native_problem(model(2, "lstm", 1)) is None  # a one-layer LSTM exports
    assert "strided Conv1d" in _onnx_native_problem(model(2, "gru", 1))
    assert "strided Conv1d" in _onnx_native_problem(model(3, "lstm", 2))


def test_one_layer_lstm_behind_a_strided_front_end_keeps_the_native_op(tmp_path):
    import onnx

    from lstmkit.estimators import Classifier
    from lstmkit.export.graph import build_graph, graph_io
    from lstmkit.export.onnx_io import OnnxRunner, to_onnx

    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 10, 3)).astype(np.float32)
    clf = Classifier(
        arch="encoder",
        hidden=6,
        layers=1,
        cell="lstm",
        conv_channels=4,
        conv_stride=2,
        epochs=1,
        batch_size=16,
        val_fraction=0.0,
    ).fit(X, rng.integers(0, 3, 32))
    ins, outs = graph_io("classify")
    path = tmp_path / "m.onnx"
    to_onnx(build_graph(clf), [torch.randn(2, 10, 3)], ins, outs, path)
    assert "LSTM" in {n.op_type for n in onnx.load(str(path)).graph.node}
    X2 = rng.normal(size=(5, 17, 3)).astype(np.float32)  # another batch and length
    logits = OnnxRunner(path)(X2)[0]
    p = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(p / p.sum(1, keepdims=True), clf.predict_proba(X2), atol=1e-5)


def test_lstm_fcn_exports_its_fixed_length_with_the_native_op_at_once(tmp_path, caplog):
    """LSTM-FCN (``arch auto`` below 10,000 sequences) reads the shuffled input: the training
    length is a feature size of its LSTM, so the graph takes that length only. Exported with it
    fixed, the torch.nn form works on the first try (a dynamic length used to fail in every
    form down to the unrolled one)."""
    import onnx

    from lstmkit.estimators import Classifier
    from lstmkit.export.run import export_run

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 12, 2)).astype(np.float32)
    clf = Classifier(hidden=8, epochs=1, batch_size=16, random_state=0)
    clf.fit(X, rng.integers(0, 2, 40))
    assert clf.arch_ == "lstm-fcn"
    clf.save(tmp_path / "run")
    with caplog.at_level(logging.DEBUG, logger="lstmkit"):
        info = export_run(tmp_path / "run")
    assert not [r for r in caplog.records if "failed" in r.getMessage()]
    assert info["loop"] == "torch.nn" and info["dynamic_length"] is False
    assert info["length"] == 12 and info["max_abs_diff"] <= 1e-4
    ops = {n.op_type for n in onnx.load(str(tmp_path / "run" / "model.onnx")).graph.node}
    assert "LSTM" in ops and "Scan" not in ops
