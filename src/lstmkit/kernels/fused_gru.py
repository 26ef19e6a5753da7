"""Fused GRU kernel (torch.nn.GRU's equations) with a hand-written BPTT backward.

r = σ(x_r + h_r), z = σ(x_z + h_z), n = tanh(x_n + r⊙h_n), h' = n + z⊙(h - n), where
x_* = x W_i*^T + b_i* (one GEMM over all steps) and h_* = h W_h*^T + b_h* (one GEMM per step).
"""

from __future__ import annotations

import torch
from torch import Tensor

from lstmkit.kernels import _loops
from lstmkit.kernels.fused_lstm import (
    _input_grads,
    _project,
    _recurrent_weight_grad,
)

__all__ = ["GATE_SLICES", "gru_backward", "gru_forward"]

GATE_SLICES = {"gru": {"r": 0, "z": 1, "n": 2}}


def gru_forward(
    x: Tensor,
    h0: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
    dtype: torch.dtype | None,
) -> tuple[Tensor, Tensor, Tensor]:
    """x (L, N, I), h0 (N, H) -> hs (L, N, H), the gate values acts (L, N, 3H, rows r|z|n) and
    the recurrent part of n's pre-activation h W_hn^T + b_hn (L, N, H), which the backward
    reads. ``dtype``: the operand dtype of the whole-sequence GEMMs (None: the tensors' own)."""
    xp = _project(x, w_ih, b_ih, dtype)  # (L, N, 3H)
    return _loops.get("gru_forward", x)(xp, h0, w_hh.t(), b_hh)


def gru_backward(
    dhs: Tensor | None,
    saved: tuple[Tensor, ...],
    need: tuple[bool, ...],
    dtype: torch.dtype | None,
) -> tuple[Tensor | None, ...]:
    """BPTT of :func:`gru_forward` from the gradient at hs (None: zero); ``saved`` = (x, h0,
    w_ih, w_hh, hs, acts, hn); ``need`` says which of (x, h0, w_ih, w_hh, b_ih, b_hh) need a
    gradient. Returns those gradients, None where not needed."""
    x, h0, w_ih, w_hh, hs, acts, hn = saved
    H = hs.shape[-1]
    if dhs is None:
        dhs = torch.zeros_like(hs)
    dGH, dXn, dh0 = _loops.get("gru_backward", x)(dhs.contiguous(), w_hh, acts, hs, h0, hn)
    dXP = dGH.clone()  # (L, N, 3H): r, z rows as for the recurrent part; n row without r
    dXP[..., 2 * H :] = dXn
    low = dXP if dtype is None else dXP.to(dtype)  # cast once for the two GEMMs below
    dx, dw_ih = _input_grads(low, x, w_ih, dtype, dXP.dtype, need[0], need[2])
    dw_hh = _recurrent_weight_grad(dGH, h0, hs, dtype) if need[3] else None
    db_ih = dXP.view(-1, 3 * H).sum(0) if need[4] else None
    db_hh = dGH.view(-1, 3 * H).sum(0) if need[5] else None
    return dx, dh0 if need[1] else None, dw_ih, dw_hh, db_ih, db_hh
