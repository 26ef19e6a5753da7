"""Fused GRU kernel (torch.nn.GRU's equations) with a hand-written BPTT backward.

r = σ(x_r + h_r), z = σ(x_z + h_z), n = tanh(x_n + r⊙h_n), h' = n + z⊙(h - n), where
x_* = x W_i*^T + b_i* (one GEMM over all steps) and h_* = h W_h*^T + b_h* (one GEMM per step).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from lstmkit.kernels import _loops
from lstmkit.kernels.fused_lstm import (
    _gemm_dtype,
    _input_grads,
    _project,
    _recurrent_weight_grad,
)

__all__ = ["GATE_SLICES", "GRUFn"]

GATE_SLICES = {"gru": {"r": 0, "z": 1, "n": 2}}


class GRUFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        # x (L, N, I), h0 (N, H); c0 is unused (GRU has no cell state) and kept for a uniform call
        ctx.gemm_dtype = _gemm_dtype()
        xp = _project(x, w_ih, b_ih, ctx.gemm_dtype)  # (L, N, 3H)
        hs, acts, hn = _loops.get("gru_forward", x)(xp, h0, w_hh.t(), b_hh)
        ctx.save_for_backward(x, h0, w_ih, w_hh, hs, acts, hn)
        ctx.set_materialize_grads(False)
        ctx.mark_non_differentiable(acts)
        return hs, acts

    @staticmethod
    @once_differentiable
    def backward(ctx, dhs, _dacts):
        x, h0, w_ih, w_hh, hs, acts, hn = ctx.saved_tensors
        H = hs.shape[-1]
        if dhs is None:
            dhs = torch.zeros_like(hs)
        dGH, dXn, dh0 = _loops.get("gru_backward", x)(dhs.contiguous(), w_hh, acts, hs, h0, hn)
        dXP = dGH.clone()  # (L, N, 3H): r, z rows as for the recurrent part; n row without r
        dXP[..., 2 * H :] = dXn
        need = ctx.needs_input_grad
        dt = ctx.gemm_dtype
        low = dXP if dt is None else dXP.to(dt)  # cast once for the two GEMMs below
        dx, dw_ih = _input_grads(low, x, w_ih, dt, dXP.dtype, need[0], need[3])
        dw_hh = _recurrent_weight_grad(dGH, h0, hs, dt) if need[4] else None
        db_ih = dXP.view(-1, 3 * H).sum(0) if need[5] else None
        db_hh = dGH.view(-1, 3 * H).sum(0) if need[6] else None
        return dx, dh0 if need[1] else None, None, dw_ih, dw_hh, db_ih, db_hh
