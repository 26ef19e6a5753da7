"""Pick the time-loop implementation: the compiled C++ extension when it builds, else eager PyTorch."""

from __future__ import annotations

from lstmkit.kernels._loops_py import (
    coupled_forward,
    gru_backward,
    gru_forward,
    lstm_family_backward,
    lstm_forward,
    peephole_forward,
)

__all__ = [
    "coupled_forward",
    "gru_backward",
    "gru_forward",
    "lstm_family_backward",
    "lstm_forward",
    "peephole_forward",
]
