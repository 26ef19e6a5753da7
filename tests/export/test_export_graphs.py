"""Exported graphs (ONNX through onnxruntime, TorchScript) agree with lstmkit's own kernels for
every cell, both directions, other batch sizes and lengths than the traced example, and lengths."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmkit.estimators import Classifier
from lstmkit.export.graph import build_graph, exportable, graph_io
from lstmkit.nn import LSTM

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from lstmkit.export.onnx_io import OnnxRunner, to_onnx


def _fit(**options) -> Classifier:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(48, 10, 3)).astype(np.float32) * 2 + 1
    y = rng.integers(0, 3, 48)
    base = {
        "arch": "encoder",
        "hidden": 6,
        "layers": 2,
        "epochs": 1,
        "batch_size": 16,
        "conv_channels": 0,
        "val_fraction": 0.0,
        "random_state": 0,
    }
    return Classifier(**(base | options)).fit(X, y)


def _probabilities(logits: np.ndarray) -> np.ndarray:
    p = np.exp(logits - logits.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


LOOP_OPS = {"LSTM", "GRU", "Scan", "Loop"}  # the ONNX ops a recurrence can be exported as


def _loop_ops(path) -> set[str]:
    """The recurrence ops among the exported graph's top-level nodes (the Scan body is not
    looked into): {"LSTM"} / {"GRU"} for torch.nn's modules, {"Scan"}, or none when unrolled."""
    import onnx

    return {n.op_type for n in onnx.load(str(path)).graph.node} & LOOP_OPS


def _expected_ops(cell: str, loop: str, with_lengths: bool = False) -> set[str]:
    """What build_graph's loop forms promise: auto -> ONNX's own LSTM / GRU op for the cells
    torch computes (the scan loop with lengths), Scan for the variants; scan -> Scan for every
    cell; unroll -> no loop op at all."""
    if loop == "unroll":
        return set()
    if loop == "auto" and cell in ("lstm", "gru") and not with_lengths:
        return {cell.upper()}
    return {"Scan"}


def _onnx(clf: Classifier, tmp_path, loop="auto", with_lengths=False) -> OnnxRunner:
    """Export ``build_graph(clf, loop=loop)`` and check that the graph holds the loop op that
    form promises: an export that raises, or one that quietly came out as another loop kind
    (torch.onnx decomposing aten.lstm, say), fails the test instead of being worked around."""
    ins, outs = graph_io("classify", with_lengths=with_lengths)
    example = [torch.randn(2, 10, 3)] + ([torch.tensor([10, 6])] if with_lengths else [])
    path = tmp_path / "m.onnx"
    graph = build_graph(clf, with_lengths=with_lengths, loop=loop)
    to_onnx(graph, example, ins, outs, path, dynamic_length=loop != "unroll")
    (cell,) = {m.cell for m in clf.model_.modules() if isinstance(m, LSTM)}
    assert _loop_ops(path) == _expected_ops(cell, loop, with_lengths), f"{cell}, loop={loop}"
    return OnnxRunner(path)


CASES = [
    ({"cell": "lstm", "bidirectional": True}, "auto"),  # ONNX's LSTM op
    ({"cell": "gru", "pool": "mean"}, "auto"),  # ONNX's GRU op
    ({"cell": "peephole", "bidirectional": True}, "auto"),  # Scan loop
    ({"cell": "coupled", "pool": "max"}, "auto"),
    (
        {"arch": "encoder", "cell": "gru", "conv_channels": 4, "conv_stride": 2},
        "scan",
    ),  # strided front end
    ({"cell": "layernorm", "layers": 1}, "unroll"),  # one length only
]


@pytest.mark.parametrize(("options", "loop"), CASES, ids=[c[0]["cell"] + "-" + c[1] for c in CASES])
def test_onnx_matches_the_pytorch_model(tmp_path, options, loop):
    clf = _fit(**options)
    run = _onnx(clf, tmp_path, loop)
    rng = np.random.default_rng(1)
    L = 10 if loop == "unroll" else 17  # another length than the traced one (10)
    X = rng.normal(size=(5, L, 3)).astype(np.float32)  # another batch size than traced (2)
    got = _probabilities(run(X)[0])
    np.testing.assert_allclose(got, clf.predict_proba(X), atol=1e-5)


def test_onnx_with_lengths_matches_padded_batches(tmp_path):
    clf = _fit(cell="lstm", bidirectional=True, pool="last")
    run = _onnx(clf, tmp_path, with_lengths=True)
    rng = np.random.default_rng(2)
    lengths = np.array([13, 4, 9, 1, 13])
    X = rng.normal(size=(5, 13, 3)).astype(np.float32)
    X[np.arange(13)[None, :] >= lengths[:, None]] = 0.0
    got = _probabilities(run(X, lengths.astype(np.int64))[0])
    np.testing.assert_allclose(got, clf.predict_proba(X, lengths), atol=1e-5)


def test_exportable_copies_and_keeps_the_original():
    lstm = LSTM(3, 4, 2, cell="peephole", bidirectional=True, batch_first=True)
    x = torch.randn(2, 5, 3)
    before = lstm(x)[0]
    copy = exportable(torch.nn.Sequential(lstm))
    assert isinstance(lstm, LSTM) and type(lstm) is LSTM  # the original is untouched
    torch.testing.assert_close(copy[0](x)[0], before, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="loop must be one of"):
        exportable(lstm, loop="bogus")


def test_torchscript_trace_of_native_cells_takes_any_length(tmp_path):
    clf = _fit(cell="gru", bidirectional=True)
    graph = build_graph(clf)
    traced = torch.jit.trace(graph, (torch.randn(2, 10, 3),), check_trace=False)
    X = np.random.default_rng(3).normal(size=(4, 21, 3)).astype(np.float32)
    with torch.no_grad():
        got = _probabilities(traced(torch.from_numpy(X)).numpy())
    np.testing.assert_allclose(got, clf.predict_proba(X), atol=1e-5)


def test_a_graph_with_a_pinned_length_is_refused(tmp_path):
    """The guard behind the fallback: a graph whose length axis came out fixed is an error."""
    clf = _fit(cell="lstm")

    class Pinned(torch.nn.Module):  # reads the length as a Python int: torch.export pins it
        def __init__(self, graph):
            super().__init__()
            self.graph = graph

        def forward(self, x):
            return self.graph(x[:, : int(x.shape[1])].reshape(x.shape[0], 10, 3))

    with pytest.raises(ValueError, match=r"fixed size|could not export"):
        to_onnx(Pinned(build_graph(clf)), [torch.randn(2, 10, 3)], ["input"], ["output"],
                tmp_path / "p.onnx")  # fmt: skip
    assert not (tmp_path / "p.onnx").exists()
