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


def _loops(est, held, requested: str, native_problem: str | None = None) -> list[str]:
    """Loop forms to try: torch.nn modules (lstm / gru), scan, then the unrolled last resort.
    ``native_problem``: why the torch.nn form is known to fail in this format (then skipped)."""
    if requested != "auto":
        return [requested]
    native = all(m.spec.torch_native for m in est.model_.modules() if isinstance(m, LSTM))
    native = native and not held.with_lengths
    if native and native_problem:
        log.debug("loop=auto (torch.nn) skipped: %s", native_problem)
        native = False
    return (["auto"] if native else []) + ["scan", "unroll"]


def fixed_length(model: nn.Module) -> bool:
    """LSTM-FCN reading the dimension-shuffled input: its recurrent branch takes the training
    length L as its features, so every graph of it has that length fixed (with it fixed, the
    torch.nn form exports at once instead of after a failed dynamic-length attempt per form)."""
    from lstmkit.models.fcn import FCNBranches

    return any(isinstance(m, FCNBranches) and m.config.shuffle for m in model.modules())


def _strided_front_end(model: nn.Module) -> bool:
    """A Conv1d with stride > 1 (the ``conv_stride`` front end) shortens the sequence before
    the recurrent layers: they see a length of ``(L - 1) // stride + 1``."""
    return any(isinstance(m, nn.Conv1d) and max(m.stride) > 1 for m in model.modules())


def _onnx_native_problem(model: nn.Module) -> str | None:
    """Why torch.onnx cannot write ``model``'s recurrent layers as ONNX's own LSTM / GRU op.

    torch 2.13 captures aten.gru / aten.lstm with the strided length ``(L - 1) // s + 1``
    symbolic, then its decomposition step re-runs torch's RNN decomposition on that length and
    fails: "The size of tensor a (128) must match the size of tensor b (384)" for a GRU, a stack
    of unequal sizes for an LSTM of two or more layers (measured: every GRU, 1-3 layers, one or
    two directions, strides 2 and 3; a one-layer LSTM exports)."""
    if not _strided_front_end(model):
        return None
    rnns = [m for m in model.modules() if isinstance(m, LSTM)]
    if any(m.cell == "gru" or m.num_layers > 1 for m in rnns):
        return "torch.onnx cannot decompose a torch GRU or stacked LSTM op behind a strided Conv1d"
    return None


def _example(held, rows: int = 2) -> list[torch.Tensor]:
    return as_tensors(held.rows(rows))


class _Format:
    def input_names(self, task: str, held, est) -> list[str]:
        return graph_io(task, _has_cell_state(est), held.with_lengths)[0]

    def native_problem(self, est) -> str | None:
        """Why the torch.nn form cannot be written for ``est`` in this format (None: it can)."""
        return None

    def export(self, est, held, path: Path, loop: str) -> dict[str, Any]:
        errors = []
        fixed = fixed_length(est.model_)
        for form in _loops(est, held, loop, self.native_problem(est)):
            graph = build_graph(est, with_lengths=held.with_lengths, loop=form)
            try:
                self._write(est, held, graph, path, form, dynamic=form != "unroll" and not fixed)
            except ValueError as e:
                # an expected step of the fallback: the reason on one line, for --verbose
                reason = " ".join(str(e).split())
                log.debug("export with loop=%s failed (%s); trying the next form", form, reason)
                errors.append(f"loop={form}: {reason}")
                continue
            length = held.inputs[0].shape[1]
            dynamic = form != "unroll" and not fixed
            return {
                "loop": {"auto": "torch.nn", "scan": "scan", "unroll": "unrolled"}[form],
                "dynamic_length": dynamic,
                **({} if dynamic else {"length": length}),
            }
        raise ValueError("could not export: " + "; ".join(errors))


class OnnxFormat(_Format):
    """ONNX through torch.onnx; run and quantised with onnxruntime."""

    def native_problem(self, est) -> str | None:
        return _onnx_native_problem(est.model_)

    def _write(self, est, held, graph: nn.Module, path: Path, form: str, dynamic: bool) -> None:
        ins, outs = graph_io(est.task, _has_cell_state(est), held.with_lengths)
        to_onnx(graph, _example(held), ins, outs, path, dynamic_length=dynamic)

    def runner(self, path: Path) -> Runner:
        return OnnxRunner(path)

    def quantize(self, est, held, fp32_path: Path, path: Path, info: dict) -> Runner:
        quantize_onnx(fp32_path, path)
        return OnnxRunner(path)


class TorchScriptFormat(_Format):
    """torch.jit.trace of the graph; int8 by torch's dynamic quantisation (nn.LSTM, nn.GRU and
    nn.Linear get int8 weights; activations are quantised on the fly)."""

    def _write(self, est, held, graph: nn.Module, path: Path, form: str, dynamic: bool) -> None:
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
        self._write(est, held, q, path, form, dynamic=info["dynamic_length"])
        return self.runner(path)
