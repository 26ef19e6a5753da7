"""The time loops of the fused kernels: lstmkit's C++ loops on the CPU when they build, else the
eager-PyTorch loops of ``_loops_py`` (also used on other devices). Same signatures and results."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from lstmkit.kernels import _ext, _loops_py

__all__ = ["eager", "get"]

_force_eager = False

_NAMES = (
    "lstm_forward",
    "peephole_forward",
    "coupled_forward",
    "lstm_backward",
    "peephole_backward",
    "coupled_backward",
    "gru_forward",
    "gru_backward",
    "layernorm_forward",
    "layernorm_backward",
)


def get(name: str, like: Tensor) -> Callable:
    """The implementation of loop ``name`` for tensors like ``like``."""
    cpu_float = like.device.type == "cpu" and like.dtype in (torch.float32, torch.float64)
    if cpu_float and not _force_eager and _ext.load():
        return getattr(torch.ops.lstmkit, name)
    return getattr(_loops_py, name)


@contextlib.contextmanager
def eager() -> Iterator[None]:
    """Run the fused kernels with the eager-PyTorch loops inside this block (for comparisons)."""
    global _force_eager
    before, _force_eager = _force_eager, True
    try:
        yield
    finally:
        _force_eager = before
