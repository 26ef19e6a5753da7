"""Fused layer-normalised LSTM kernel (Ba et al. 2016) with a hand-written BPTT backward.

a = x W_ih^T + b_ih + h W_hh^T + b_hh; each gate block â_k = LN(a_k)⊙γ_k + β_k;
i, f, o = σ(â), g = tanh(â); c' = f⊙c + i⊙g; h' = o⊙tanh(LN(c')⊙γ_c + β_c).
Gate rows are kept internally in the order i|f|o|g, like the plain LSTM kernel.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from lstmkit.kernels import _loops
from lstmkit.kernels.fused_lstm import (
    _bias,
    _gemm_dtype,
    _layer_grads,
    _permute_rows,
    _project,
    _unpermute_rows,
)

__all__ = ["GATE_SLICES", "LayerNormFn"]

GATE_SLICES = {"layernorm": {"i": 0, "f": 1, "o": 2, "g": 3}}


class LayerNormFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, gw, gb, cw, cb):
        # x (L, N, I), h0/c0 (N, H); gw, gb (4H) per-gate LN gain/shift; cw, cb (H) for c_t
        w_ih_p, w_hh_p = _permute_rows(w_ih, 4), _permute_rows(w_hh, 4)
        gw_p, gb_p = _permute_rows(gw, 4), _permute_rows(gb, 4)
        ctx.gemm_dtype = _gemm_dtype()
        xp = _project(x, w_ih_p, _permute_rows(_bias(b_ih, b_hh), 4), ctx.gemm_dtype)  # (L, N, 4H)
        fwd = _loops.get("layernorm_forward", x)
        hs, cs, tus, xhat, rstd, chat, crstd, acts = fwd(
            xp, h0, c0, w_hh_p.t(), gw_p, gb_p, cw.contiguous(), cb.contiguous()
        )
        ctx.save_for_backward(
            x, h0, c0, w_ih_p, w_hh_p, gw_p, cw, hs, cs, tus, xhat, rstd, chat, crstd, acts
        )
        ctx.set_materialize_grads(False)
        ctx.mark_non_differentiable(acts)
        return hs, cs, acts

    @staticmethod
    @once_differentiable
    def backward(ctx, dhs, dcs, _dacts):
        (x, h0, c0, w_ih_p, w_hh_p, gw_p, cw, hs, cs, tus, xhat, rstd, chat, crstd, acts) = (
            ctx.saved_tensors
        )
        H = hs.shape[-1]
        if dhs is None:
            dhs = torch.zeros_like(hs)
        bwd = _loops.get("layernorm_backward", x)
        dA, sums, dh0, dc0 = bwd(
            dhs.contiguous(), dcs, w_hh_p, acts, cs, tus, xhat, rstd, chat, crstd, c0, gw_p, cw
        )
        need = ctx.needs_input_grad
        grads = _layer_grads(dA, x, h0, hs, w_ih_p, 4, dh0, dc0, need, ctx.gemm_dtype)
        dgw = _unpermute_rows(sums[: 4 * H], 4) if need[7] else None
        dgb = _unpermute_rows(sums[4 * H : 8 * H], 4) if need[8] else None
        dcw = sums[8 * H : 9 * H] if need[9] else None
        dcb = sums[9 * H :] if need[10] else None
        return (*grads, dgw, dgb, dcw, dcb)
