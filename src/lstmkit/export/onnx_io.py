"""ONNX: export a task graph through ``torch.onnx`` (dynamic batch and length), run it with
onnxruntime, quantise it to int8 with onnxruntime's dynamic quantisation."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lstmkit.train.checkpoint import atomic_write_file

__all__ = ["OnnxRunner", "quantize_onnx", "to_onnx"]

log = logging.getLogger(__name__)

_HINT = "ONNX export needs onnx, onnxscript and onnxruntime: pip install 'lstmkit[export]'"


def _require() -> None:
    missing = []
    for name in ("onnx", "onnxscript", "onnxruntime"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ValueError(f"{_HINT} (missing: {', '.join(missing)})")


def _dynamic_shapes(names: Sequence[str], dynamic_length: bool) -> tuple:
    """Batch (and length) dynamic for every input: ``input`` (N, L, ...), ``lengths`` (N,),
    a state (layers, N, H)."""
    batch, length = torch.export.Dim("batch"), torch.export.Dim("length")
    shapes = []
    for name in names:
        if name == "input":
            shapes.append({0: batch, 1: length} if dynamic_length else {0: batch})
        elif name == "lengths":
            shapes.append({0: batch})
        else:  # h0 / c0: (layers, N, H)
            shapes.append({1: batch})
    return tuple(shapes)


def _forget_rnn_dispatch() -> None:
    """Drop what torch's dispatcher cached for aten.lstm / aten.gru during earlier exports in
    this process. torch.onnx registers torch.export's while-loop RNN decompositions for the
    length of one export, but the op's dispatch cache keeps a Python decomposition afterwards
    (torch 2.13), so a later export decomposes aten.lstm and pins the length (to_onnx then
    refuses the graph, and export_run falls back to the scan loop): a long-lived process would
    export the scan loop where a fresh one exports ONNX's LSTM op."""
    for op in (torch.ops.aten.lstm.input, torch.ops.aten.gru.input):
        cache = getattr(op, "_dispatch_cache", None)
        if cache is not None:
            cache.clear()


def to_onnx(
    graph: nn.Module,
    example: Sequence[torch.Tensor],
    input_names: Sequence[str],
    output_names: Sequence[str],
    path: str | Path,
    *,
    dynamic_length: bool = True,
) -> Path:
    """Export ``graph`` called on ``example`` to ``path`` (written atomically) with dynamic batch
    (and length), through torch.onnx's exporter (torch.export underneath)."""
    _require()
    path = Path(path)

    def write(tmp: str) -> None:
        torch._dynamo.reset()  # an earlier export's caches can pin this one's sizes
        _forget_rnn_dispatch()
        with warnings.catch_warnings(), _quiet_exporter():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                graph,
                tuple(example),
                dynamo=True,
                input_names=list(input_names),
                output_names=list(output_names),
                dynamic_shapes=_dynamic_shapes(input_names, dynamic_length),
                external_data=False,
                optimize=True,
                verbose=False,
            )
            program.save(tmp)
        _check_dynamic(tmp, input_names, dynamic_length)

    try:
        atomic_write_file(path, write)
    except Exception as e:
        if isinstance(e, ValueError):
            raise
        summary = str(e).split("## Exception summary")[-1].strip().splitlines()
        raise ValueError(
            f"torch.onnx could not export this model: {summary[0] if summary else type(e)}"
        ) from e
    return path


def _check_dynamic(path: str, input_names: Sequence[str], dynamic_length: bool) -> None:
    """torch.onnx falls back to other capture strategies when torch.export fails, and one of
    them can fix a dynamic dimension to the example's size without an error: refuse that graph
    (the caller then tries another loop form)."""
    import onnx

    graph = onnx.load(path, load_external_data=False).graph
    for inp in graph.input:
        if inp.name not in input_names:
            continue
        dims = inp.type.tensor_type.shape.dim
        wanted = {"input": [0, 1] if dynamic_length else [0], "lengths": [0]}.get(inp.name, [1])
        fixed = [i for i in wanted if i < len(dims) and not dims[i].dim_param]
        if fixed:
            raise ValueError(
                f"torch.onnx made axis {fixed[0]} of {inp.name!r} a fixed size "
                f"({dims[fixed[0]].dim_value}) instead of a dynamic one"
            )


class _quiet_exporter:
    """torch.onnx logs its progress (and torchvision notes) at INFO/WARNING; keep them at DEBUG."""

    names = ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript", "onnx_ir")

    def __enter__(self):
        self.levels = {n: logging.getLogger(n).level for n in self.names}
        for n in self.names:
            logging.getLogger(n).setLevel(logging.ERROR)
        return self

    def __exit__(self, *exc):
        for n, level in self.levels.items():
            logging.getLogger(n).setLevel(level)


class OnnxRunner:
    """An onnxruntime session called with numpy arrays in the graph's input order."""

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        _require()
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or torch.get_num_threads()
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self.input_names = [i.name for i in self.session.get_inputs()]

    def __call__(self, *arrays: np.ndarray) -> list[np.ndarray]:
        feed = {n: a for n, a in zip(self.input_names, arrays, strict=False) if a is not None}
        return self.session.run(None, feed)


def quantize_onnx(src: str | Path, dst: str | Path) -> Path:
    """int8 weights, activations quantised on the fly (onnxruntime's dynamic quantisation of
    MatMul / Gemm / LSTM ...), written atomically to ``dst``."""
    _require()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    def write(tmp: str) -> None:
        root = logging.getLogger()  # onnxruntime's quantiser logs advice on the root logger
        level = root.level
        root.setLevel(logging.ERROR)
        try:
            quantize_dynamic(
                str(src),
                tmp,
                weight_type=QuantType.QInt8,
                # the recurrent MatMul of a Scan loop sits in a subgraph: quantise it too
                # (measured on Fashion-MNIST's default: 0.93x -> 0.76x of fp32 at batch 64)
                extra_options={"EnableSubgraph": True},
            )
        finally:
            root.setLevel(level)

    atomic_write_file(dst, write)
    return Path(dst)
