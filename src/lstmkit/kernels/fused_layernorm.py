"""Fused layer-normalised LSTM kernel (Ba et al. 2016) with a hand-written BPTT backward.

a = x W_ih^T + b_ih + h W_hh^T + b_hh; each gate block â_k = LN(a_k)⊙γ_k + β_k;
i, f, o = σ(â), g = tanh(â); c' = f⊙c + i⊙g; h' = o⊙tanh(LN(c')⊙γ_c + β_c).
Gate rows are kept internally in the order i|f|o|g, like the plain LSTM kernel.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lstmkit.kernels.fused_lstm import (
    _permute_rows,
    _prev,
    _project,
    _unpermute_rows,
    _weight_grads,
)
from lstmkit.kernels.steps import LN_EPS

__all__ = ["GATE_SLICES", "LayerNormFn"]

GATE_SLICES = {"layernorm": {"i": 0, "f": 1, "o": 2, "g": 3}}


def _ln_backward(dy: Tensor, xhat: Tensor, rstd: Tensor) -> Tensor:
    """Gradient through (v - mean) * rstd over the last dimension, given dy at xhat."""
    mean_dy = dy.mean(-1, keepdim=True)
    mean_dyx = (dy * xhat).mean(-1, keepdim=True)
    return rstd * (dy - mean_dy - xhat * mean_dyx)


class LayerNormFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, gw, gb, cw, cb):
        L, N, _ = x.shape
        H = h0.shape[1]
        w_ih_p, w_hh_p = _permute_rows(w_ih, 4), _permute_rows(w_hh, 4)
        gw_p, gb_p = _permute_rows(gw, 4).view(4, H), _permute_rows(gb, 4).view(4, H)
        xp = _project(x, w_ih_p, _permute_rows(b_ih, 4), _permute_rows(b_hh, 4))  # (L, N, 4H)
        w_hh_t = w_hh_p.t()
        new = x.new_empty
        hs, cs, tus = new(L, N, H), new(L, N, H), new(L, N, H)
        xhat, rstd = new(L, N, 4, H), new(L, N, 4, 1)  # normalised gate pre-activations
        chat, crstd = new(L, N, H), new(L, N, 1)  # normalised cell state
        acts = new(L, N, 4 * H)
        h, c = h0, c0
        for t in range(L):
            a = torch.addmm(xp[t], h, w_hh_t)  # (N, 4H)
            xh, _, rs = torch.native_layer_norm(a.view(N, 4, H), [H], None, None, LN_EPS)
            xhat[t], rstd[t] = xh, rs
            act = torch.addcmul(gb_p, xh, gw_p, out=acts[t].view(N, 4, H)).view(N, 4 * H)
            act[:, : 3 * H].sigmoid_()
            g = act[:, 3 * H :].tanh_()
            c = torch.mul(act[:, H : 2 * H], c, out=cs[t]).addcmul_(act[:, :H], g)
            ch, _, crs = torch.native_layer_norm(c, [H], None, None, LN_EPS)
            chat[t], crstd[t] = ch, crs
            tu = torch.addcmul(cb, ch, cw, out=tus[t]).tanh_()
            h = torch.mul(act[:, 2 * H : 3 * H], tu, out=hs[t])
        ctx.save_for_backward(
            x, h0, c0, w_ih_p, w_hh_p, gw_p, cw, hs, cs, tus, xhat, rstd, chat, crstd, acts
        )
        ctx.set_materialize_grads(False)
        ctx.mark_non_differentiable(acts)
        return hs, cs, acts

    @staticmethod
    def backward(ctx, dhs, dcs, _dacts):
        (x, h0, c0, w_ih_p, w_hh_p, gw_p, cw, hs, cs, tus, xhat, rstd, chat, crstd, acts) = (
            ctx.saved_tensors
        )
        L, N, H = hs.shape
        if dhs is None:
            dhs = torch.zeros_like(hs)
        i, f, o, g = acts.chunk(4, dim=2)  # (L, N, H) each, internal order i|f|o|g
        cprev = _prev(c0, cs)
        # coefficients for all steps at once
        o_coef = tus * o * (1.0 - o)  # dh -> d â_o
        u_coef = o * (1.0 - tus * tus) * cw  # dh -> d chat
        gate_coef = torch.stack(  # dc -> d â (i, f, o=0, g)
            [g * i * (1.0 - i), cprev * f * (1.0 - f), torch.zeros_like(o), i * (1.0 - g * g)], 2
        )
        dA = x.new_empty(L, N, 4 * H)  # gradient at the pre-LN sum a
        dAH = x.new_empty(L, N, 4, H)  # gradient at â (for γ, β)
        dH = torch.empty_like(hs)
        dh = dhs[L - 1]
        dc = dcs[L - 1].clone() if dcs is not None else torch.zeros_like(dh)
        for t in range(L - 1, -1, -1):
            if t < L - 1:
                dh = torch.addmm(dhs[t], dA[t + 1], w_hh_p)
                dc = dc * f[t + 1] if dcs is None else torch.addcmul(dcs[t], dc, f[t + 1])
            dH[t] = dh
            dc = dc + _ln_backward(dh * u_coef[t], chat[t], crstd[t])
            dah = torch.mul(dc.unsqueeze(1), gate_coef[t], out=dAH[t])
            torch.mul(dh, o_coef[t], out=dah[:, 2])
            dA[t] = _ln_backward(dah * gw_p, xhat[t], rstd[t]).view(N, 4 * H)
        dh0 = dA[0] @ w_hh_p
        dc0 = dc * f[0]
        need = ctx.needs_input_grad
        dx, dw_ih, dw_hh, db = _weight_grads(dA, x, _prev(h0, hs), w_ih_p, 4, need)
        dgw = _unpermute_rows((dAH * xhat).sum((0, 1)).view(-1), 4) if need[7] else None
        dgb = _unpermute_rows(dAH.sum((0, 1)).view(-1), 4) if need[8] else None
        du = dH * o * (1.0 - tus * tus)  # gradient at LN(c)⊙γ_c + β_c
        dcw = (du * chat).sum((0, 1)) if need[9] else None
        dcb = du.sum((0, 1)) if need[10] else None
        return (
            dx,
            dh0 if need[1] else None,
            dc0 if need[2] else None,
            dw_ih,
            dw_hh,
            db if need[5] else None,
            db if need[6] else None,
            dgw,
            dgb,
            dcw,
            dcb,
        )
