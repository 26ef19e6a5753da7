"""Timing and scoring an exported model: latency at batch 1 and 64, the test metric through
the run's own preprocessing and metrics code (the exported model swapped in for the PyTorch one)."""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "RunnerModule",
    "as_tensors",
    "call_module",
    "latency_ms",
    "max_abs_diff",
    "scored_estimator",
]

Runner = Callable[..., Sequence]  # numpy arrays in, a sequence of numpy arrays out


def latency_ms(runners: dict[str, Runner], inputs: Sequence[np.ndarray | None], *,
               blocks: int = 5, block_time: float = 0.1) -> dict[str, float]:  # fmt: skip
    """Milliseconds per call of each runner: blocks of calls interleaved between the runners
    (so that a busy moment of the machine hits all of them), the median of each block, the
    lowest block median kept. Warm-up calls first (TorchScript optimises after a few)."""
    for run in runners.values():
        for _ in range(6):
            run(*inputs)
    best = dict.fromkeys(runners, float("inf"))
    for _ in range(blocks):
        for name, run in runners.items():
            times: list[float] = []
            start = time.perf_counter()
            while len(times) < 3 or (time.perf_counter() - start < block_time and len(times) < 50):
                t0 = time.perf_counter()
                run(*inputs)
                times.append(time.perf_counter() - t0)
            best[name] = min(best[name], statistics.median(times))
    return {name: round(1000 * t, 4) for name, t in best.items()}


def as_tensors(arrays: Sequence[np.ndarray | None]) -> list[Tensor | None]:
    """Numpy inputs in the graph's order as tensors; absent trailing optional inputs dropped
    (a graph's optional inputs come last: ``lengths``, ``c0``)."""
    tensors = [None if a is None else torch.from_numpy(np.asarray(a)) for a in arrays]
    while tensors and tensors[-1] is None:
        tensors.pop()
    return tensors


def call_module(module, arrays: Sequence[np.ndarray | None]) -> list[np.ndarray]:
    """``module(*tensors)`` on numpy inputs; every non-None output as a float32 array."""
    out = module(*as_tensors(arrays))
    out = out if isinstance(out, tuple | list) else (out,)
    return [o.detach().float().numpy() for o in out if o is not None]


def max_abs_diff(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    """Largest |a - b| over every output (shapes must agree)."""
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if x.shape != y.shape:
            raise ValueError(f"exported output shape {x.shape} differs from PyTorch's {y.shape}")
        worst = max(worst, float(np.abs(x - y).max()) if x.size else 0.0)
    return worst


class RunnerModule(nn.Module):
    """An exported model (ONNX session, TorchScript module) dressed as the estimator's
    ``model_``, so that the estimator's own predict / evaluate code runs it."""

    def __init__(self, task: str, runner: Runner, estimator, with_lengths: bool) -> None:
        super().__init__()
        self.task, self.runner, self.with_lengths = task, runner, with_lengths
        self._anchor = nn.Parameter(torch.zeros(0), requires_grad=False)  # a device to ask
        if task in ("classify", "regress"):
            self.mean = torch.as_tensor(estimator.mean_)
            self.std = torch.as_tensor(estimator.std_)
        if task == "textgen":
            rnn = estimator.model_.rnn
            self.state_shape = (rnn.num_layers, rnn.hidden_size)
            self.has_c = rnn.spec.has_cell_state
            self.embedding = nn.Embedding(1, 1)  # the estimator reads the weights' dtype here

    def _call(self, *tensors: Tensor | None) -> list[Tensor]:
        arrays = [None if t is None else t.detach().cpu().numpy() for t in tensors]
        return [torch.from_numpy(np.asarray(a)) for a in self.runner(*arrays)]

    def forward(self, x: Tensor, extra=None):
        if self.task in ("classify", "regress"):  # the estimator hands standardised inputs;
            raw = x * self.std + self.mean  # the graph standardises itself
            lengths = extra.to(torch.int64) if (extra is not None and self.with_lengths) else None
            return self._call(raw, lengths)[0]
        if self.task == "forecast":
            return self._call(x)[0]
        N = x.shape[0]
        if extra is None:
            zeros = x.new_zeros((self.state_shape[0], N, self.state_shape[1]), dtype=torch.float32)
            extra = (zeros, zeros if self.has_c else None)
        h0, c0 = extra
        outs = self._call(x, h0, c0 if self.has_c else None)
        return outs[0], (outs[1], outs[2] if self.has_c else None)


def scored_estimator(estimator, runner: Runner, with_lengths: bool = False):
    """A shallow copy of ``estimator`` whose model is the exported one."""
    est = copy.copy(estimator)
    est.model_ = RunnerModule(estimator.task, runner, estimator, with_lengths)
    return est
