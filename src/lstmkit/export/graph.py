"""Exportable graphs of trained models: what ONNX, TorchScript and int8 quantisation consume.

lstmkit's own kernels (C++ loops behind an ``autograd.Function``) cannot be traced into a graph,
so an export first rewrites every ``lstmkit.nn.LSTM`` of a model:

- cells that torch itself computes (``lstm``, ``gru``) become ``torch.nn.LSTM`` / ``torch.nn.GRU``
  holding the same weights (the parameter names and layouts are torch's): ONNX gets its native
  ``LSTM`` / ``GRU`` op and int8 dynamic quantisation gets the modules it knows;
- variant cells (``peephole``, ``coupled``, ``layernorm``) run their step function
  (``lstmkit.kernels.steps``) inside torch's ``scan``, which ONNX exports as a ``Scan`` loop: one
  graph for any sequence length, not a copy of the step per time step.

The task graphs then give each model the signature its users call:

- classify: ``input`` (N, L, C) raw float32 -> ``output`` (N, classes) logits; the training
  split's standardisation is part of the graph;
- forecast: ``input`` (N, L, F) prepared windows (the run's pipeline: features and scaling, see
  its config.json) -> ``output`` (N, horizon[, Q or K]) in scaled units;
- textgen: ``input`` (N, L) int64 token ids, ``h0`` [and ``c0``] (layers, N, H) -> ``output``
  (N, L, V) logits, ``h_n`` [and ``c_n``]: the state goes in and out, so generation can continue.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from lstmkit.kernels.cells import CellSpec, LayerResult, run_reference
from lstmkit.kernels.steps import STEPS
from lstmkit.nn import LSTM

__all__ = ["LOOPS", "TorchRNN", "build_graph", "exportable", "graph_io", "run_scan", "task_graph"]


def run_scan(
    spec: CellSpec, x: Tensor, h0: Tensor, c0: Tensor | None, params: list, record: bool
) -> LayerResult:
    """One layer and direction as a ``scan`` over time: the same math as the reference runner
    (``steps.py``), as one loop op that ONNX can carry (x: time-major (L, N, I))."""
    from torch._higher_order_ops.scan import scan

    p = spec.layer_dict(params)
    step = STEPS[spec.name]
    xp = torch.nn.functional.linear(x, p["weight_ih"], p.get("bias_ih"))  # (L, N, G)
    if not spec.has_cell_state:  # gru: the carry is h alone

        def body_h(h: Tensor, xt: Tensor):
            h, _, _ = step(xt, h, None, p)
            return h, h.clone()

        _, hs = scan(body_h, h0, xp)  # (L, N, H)
        return LayerResult(hs, None, None)

    def body(carry: tuple[Tensor, Tensor], xt: Tensor):
        h, c, _ = step(xt, *carry, p)
        return (h, c), (h.clone(), c.clone())

    # no two carries may alias: LSTM's zero initial state hands the same tensor as h0 and c0
    _, (hs, cs) = scan(body, (h0, c0.clone()), xp)  # (L, N, H) each
    return LayerResult(hs, cs, None)


class TorchRNN(nn.Module):
    """``torch.nn.LSTM`` / ``GRU`` with a lstmkit LSTM's weights, called like lstmkit's LSTM."""

    def __init__(self, lstm: LSTM) -> None:
        super().__init__()
        if not lstm.spec.torch_native:
            raise ValueError(f"cell={lstm.cell!r} has no torch.nn counterpart; use the scan loop")
        cls = nn.LSTM if lstm.cell == "lstm" else nn.GRU
        self.cell = lstm.cell
        self.rnn = cls(
            lstm.input_size, lstm.hidden_size, lstm.num_layers, bias=lstm.bias,
            batch_first=lstm.batch_first, dropout=lstm.dropout, bidirectional=lstm.bidirectional,
        )  # fmt: skip
        self.rnn.load_state_dict(lstm.state_dict(), strict=True)

    def forward(self, x: Tensor, hx=None, lengths: Tensor | None = None, record: bool = False):
        if lengths is not None or record:
            raise ValueError("the torch.nn graph takes full-length inputs without recording")
        if self.cell == "gru":
            h0 = hx[0] if isinstance(hx, tuple) else hx
            out, h_n = self.rnn(x, h0)
            return out, (h_n, None)
        out, (h_n, c_n) = self.rnn(x, hx)
        return out, (h_n, c_n)


LOOPS = ("auto", "scan", "unroll")


def exportable(model: nn.Module, *, loop: str = "auto") -> nn.Module:
    """A deep copy of ``model`` in eval mode with every lstmkit LSTM made traceable.

    ``loop="auto"``: torch.nn modules for lstm / gru, the scan loop for variant cells;
    ``loop="scan"``: the scan loop for every cell (any length, and variable ``lengths``);
    ``loop="unroll"``: the step unrolled over the traced length (the graph then takes that
    length only; the last resort when torch cannot export a loop).
    """
    if loop not in LOOPS:
        raise ValueError(f"loop must be one of {', '.join(LOOPS)}, got {loop!r}")
    model = copy.deepcopy(model).eval()
    for name, module in list(model.named_modules()):
        if not isinstance(module, LSTM):
            continue
        if module.spec.torch_native and loop == "auto":
            _set_submodule(model, name, TorchRNN(module))
        else:  # same parameters, a forward that torch can trace
            module.__class__ = _UnrolledLSTM if loop == "unroll" else _ScanLSTM
    return model


class _ScanLSTM(LSTM):
    """lstmkit's LSTM whose layers run as ``scan`` loops (lengths and bidirectional included)."""

    runner = staticmethod(run_scan)

    def forward(self, x: Tensor, hx=None, lengths=None, record: bool = False):
        if record:
            raise ValueError("an exported graph does not record gates")
        N = x.shape[0] if self.batch_first else x.shape[1]
        h0, c0 = self._initial_state(hx, x, N)
        lens = None if lengths is None else lengths.to(torch.int64)
        return self._forward_layers(x, h0, c0, lens, False, self.runner)


class _UnrolledLSTM(_ScanLSTM):
    """The reference runner's Python loop: traced, one copy of the step per time step."""

    runner = staticmethod(run_reference)


def _set_submodule(root: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, attr = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, attr, new)


# ---------------------------------------------------------------------------- task graphs
class ClassifyGraph(nn.Module):
    """Raw inputs (N, L, C) [and lengths (N,)] -> logits (N, classes), or for a regressor
    predictions (N, T) in the units of its targets."""

    def __init__(self, model: nn.Module, mean, std, with_lengths: bool) -> None:
        super().__init__()
        self.model = model
        self.with_lengths = with_lengths
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        xs = (x - self.mean) / self.std  # (N, L, C): the training split's standardisation
        if lengths is None:
            return self.model(xs)
        steps = torch.arange(x.shape[1], device=x.device)
        xs = xs * (steps[None, :] < lengths[:, None]).unsqueeze(-1).to(xs.dtype)
        return self.model(xs, lengths)


class ForecastGraph(nn.Module):
    """Prepared windows (N, L, F) -> (N, horizon[, Q or K]) in the pipeline's scaled units."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class TextGraph(nn.Module):
    """Token ids (N, L) and the state -> logits (N, L, V) and the new state."""

    def __init__(self, model: nn.Module, has_cell_state: bool) -> None:
        super().__init__()
        self.model = model
        self.has_cell_state = has_cell_state

    def forward(self, x: Tensor, h0: Tensor, c0: Tensor | None = None):
        state = (h0, c0 if self.has_cell_state else None)
        logits, (h_n, c_n) = self.model(x, state)
        return (logits, h_n, c_n) if self.has_cell_state else (logits, h_n)


def graph_io(task: str, has_cell_state: bool = True, with_lengths: bool = False):
    """(input names, output names) of a task's graph."""
    if task in ("classify", "regress"):
        return (["input", "lengths"] if with_lengths else ["input"]), ["output"]
    if task == "forecast":
        return ["input"], ["output"]
    if has_cell_state:
        return ["input", "h0", "c0"], ["output", "h_n", "c_n"]
    return ["input", "h0"], ["output", "h_n"]


def task_graph(estimator, model: nn.Module, *, with_lengths: bool = False) -> nn.Module:
    """``model`` (the estimator's own, or an exportable copy) behind the task's signature."""
    task = estimator.task
    if task in ("classify", "regress"):
        return ClassifyGraph(model, estimator.mean_, estimator.std_, with_lengths).eval()
    if task == "forecast":
        return ForecastGraph(model).eval()
    if task == "textgen":
        return TextGraph(model, estimator.model_.rnn.spec.has_cell_state).eval()
    raise ValueError(f"cannot export a {task!r} model")


def build_graph(estimator, *, with_lengths: bool = False, loop: str = "auto") -> nn.Module:
    """The exportable task graph of a fitted estimator (Classifier, Forecaster, TextGenerator).
    ``with_lengths`` (classify): a ``lengths`` input for right-padded batches (needs a loop
    that masks: "scan" or "unroll"; "auto" becomes "scan")."""
    if with_lengths and loop == "auto":
        loop = "scan"
    model = exportable(estimator.model_.cpu(), loop=loop)
    return task_graph(estimator, model, with_lengths=with_lengths)
