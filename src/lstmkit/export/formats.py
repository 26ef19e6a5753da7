"""The two export formats behind one small interface: write the fp32 file (trying the loop
forms in order until torch can trace one), open a file for running, write the int8 file."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lstmkit.export.graph import build_graph, graph_io
from lstmkit.export.measure import as_tensors, call_module
from lstmkit.export.onnx_io import OnnxRunner, quantize_onnx, to_onnx
from lstmkit.nn import LSTM
from lstmkit.train.checkpoint import atomic_write_file

__all__ = ["OnnxFormat", "TorchScriptFormat"]

log = logging.getLogger(__name__)

Runner = Callable[..., Sequence[np.ndarray]]


def _has_cell_state(est) -> bool:
    return est.task != "textgen" or est.model_.rnn.spec.has_cell_state


def _loops(est, held, requested: str) -> list[str]:
    """Loop forms to try: torch.nn modules (lstm / gru), scan, then the unrolled last resort."""
    if requested != "auto":
        return [requested]
    native = all(m.spec.torch_native for m in est.model_.modules() if isinstance(m, LSTM))
    return (["auto"] if native and not held.with_lengths else []) + ["scan", "unroll"]


def _example(held, rows: int = 2) -> list[torch.Tensor]:
    return as_tensors(held.rows(rows))


class _Format:
    def input_names(self, task: str, held, est) -> list[str]:
        return graph_io(task, _has_cell_state(est), held.with_lengths)[0]

    def export(self, est, held, path: Path, loop: str) -> dict[str, Any]:
        errors = []
        for form in _loops(est, held, loop):
            graph = build_graph(est, with_lengths=held.with_lengths, loop=form)
            try:
                self._write(est, held, graph, path, form)
            except ValueError as e:
                log.info("export with loop=%s failed (%s); trying the next form", form, e)
                errors.append(f"loop={form}: {e}")
                continue
            length = held.inputs[0].shape[1]
            return {
                "loop": {"auto": "torch.nn", "scan": "scan", "unroll": "unrolled"}[form],
                "dynamic_length": form != "unroll",
                **({} if form != "unroll" else {"length": length}),
            }
        raise ValueError("could not export: " + "; ".join(errors))


class OnnxFormat(_Format):
    """ONNX through torch.onnx; run and quantised with onnxruntime."""

    def _write(self, est, held, graph: nn.Module, path: Path, form: str) -> None:
        ins, outs = graph_io(est.task, _has_cell_state(est), held.with_lengths)
        to_onnx(graph, _example(held), ins, outs, path, dynamic_length=form != "unroll")

    def runner(self, path: Path) -> Runner:
        return OnnxRunner(path)

    def quantize(self, est, held, fp32_path: Path, path: Path, info: dict) -> Runner:
        quantize_onnx(fp32_path, path)
        return OnnxRunner(path)


class TorchScriptFormat(_Format):
    """torch.jit.trace of the graph; int8 by torch's dynamic quantisation (nn.LSTM, nn.GRU and
    nn.Linear get int8 weights; activations are quantised on the fly)."""

    def _write(self, est, held, graph: nn.Module, path: Path, form: str) -> None:
        if form == "scan":
            raise ValueError("TorchScript cannot trace a scan loop")
        example = tuple(_example(held, rows=2))
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                traced = torch.jit.trace(graph, example, check_trace=False)
        except Exception as e:  # tracing failures come as many exception types
            raise ValueError(f"torch.jit.trace failed: {str(e).strip().splitlines()[0]}") from e

        def save(tmp: str) -> None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.jit is deprecated in favour of export
                torch.jit.save(traced, tmp)

        atomic_write_file(path, save)

    def runner(self, path: Path) -> Runner:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = torch.jit.load(str(path), map_location="cpu").eval()

        def run(*arrays):
            # the profiling executor re-specialises per batch size and, measured, runs the
            # int8 graph at batch 64 1.6x slower than the plain interpreter; fp32 is unaffected
            with torch.no_grad(), torch.jit.optimized_execution(False):
                return call_module(module, arrays)

        return run

    def quantize(self, est, held, fp32_path: Path, path: Path, info: dict) -> Runner:
        from torch.ao.quantization import quantize_dynamic

        form = {"torch.nn": "auto", "unrolled": "unroll"}[info["loop"]]
        graph = build_graph(est, with_lengths=held.with_lengths, loop=form)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao's eager quantisation is deprecated
            q = quantize_dynamic(graph, {nn.LSTM, nn.GRU, nn.Linear}, dtype=torch.qint8)
        self._write(est, held, q, path, form)
        return self.runner(path)
