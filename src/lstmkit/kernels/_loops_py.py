"""The time loops of the fused kernels, in eager PyTorch.

Only the work that must be sequential lives here: one recurrent GEMM per step plus a handful of
in-place pointwise ops into preallocated buffers. Everything that can be computed for all steps at
once (input projection, gate derivatives, weight gradients) is done by the callers. The C++
extension (``csrc/loops.cpp``) implements the same functions with the same signatures.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lstmkit.kernels.steps import LN_EPS

__all__ = [
    "coupled_backward",
    "coupled_forward",
    "gru_backward",
    "gru_forward",
    "layernorm_backward",
    "layernorm_forward",
    "lstm_backward",
    "lstm_forward",
    "peephole_backward",
    "peephole_forward",
]


def _buffers(xp: Tensor, h0: Tensor, states: int = 2, gates_over_xp: bool = True):
    """L, N, H, ``states`` (L, N, H) state buffers and the gate buffer. The lstm-family and
    layernorm loops turn the input projection xp into the gate values in place (as the C++ loops
    do; their schemas say so), so their gate buffer is xp itself."""
    L, N, _ = xp.shape
    H = h0.shape[1]
    acts = xp if gates_over_xp else torch.empty_like(xp)
    return (L, N, H, *(xp.new_empty(L, N, H) for _ in range(states)), acts)


def lstm_forward(xp: Tensor, h0: Tensor, c0: Tensor, w_hh_t: Tensor):
    """xp (L, N, 4H) rows i|f|o|g -> hs, cs (L, N, H) and gate values (L, N, 4H), the latter
    written over xp. tanh(cs) is not kept: the backward recomputes it (one (L, N, H) buffer less
    to write and read)."""
    L, _, H, hs, cs, acts = _buffers(xp, h0)
    h, c = h0, c0
    for t in range(L):
        a = acts[t].addmm_(h, w_hh_t)  # (N, 4H)
        a[:, : 3 * H].sigmoid_()
        g = a[:, 3 * H :].tanh_()
        c = torch.mul(a[:, H : 2 * H], c, out=cs[t]).addcmul_(a[:, :H], g)  # f⊙c + i⊙g
        tc = torch.tanh(c)
        h = torch.mul(a[:, 2 * H : 3 * H], tc, out=hs[t])  # o⊙tanh(c)
    return hs, cs, acts


def peephole_forward(xp: Tensor, h0: Tensor, c0: Tensor, w_hh_t: Tensor, peep: Tensor):
    """As lstm_forward, with a_i += p_i⊙c_{t-1}, a_f += p_f⊙c_{t-1}, a_o += p_o⊙c_t."""
    L, N, H, hs, cs, acts = _buffers(xp, h0)
    p_if = peep[: 2 * H].view(2, H)
    p_o = peep[2 * H :]
    h, c = h0, c0
    for t in range(L):
        a = acts[t].addmm_(h, w_hh_t)  # (N, 4H)
        a[:, : 2 * H].view(N, 2, H).addcmul_(p_if, c.unsqueeze(1)).sigmoid_()
        g = a[:, 3 * H :].tanh_()
        c = torch.mul(a[:, H : 2 * H], c, out=cs[t]).addcmul_(a[:, :H], g)
        o = a[:, 2 * H : 3 * H].addcmul_(p_o, c).sigmoid_()
        tc = torch.tanh(c)
        h = torch.mul(o, tc, out=hs[t])
    return hs, cs, acts


def coupled_forward(xp: Tensor, h0: Tensor, c0: Tensor, w_hh_t: Tensor):
    """xp (L, N, 3H) rows f|o|g; i = 1 - f, so c' = g + f⊙(c - g)."""
    L, _, H, hs, cs, acts = _buffers(xp, h0)
    h, c = h0, c0
    for t in range(L):
        a = acts[t].addmm_(h, w_hh_t)  # (N, 3H)
        a[:, : 2 * H].sigmoid_()
        g = a[:, 2 * H :].tanh_()
        c = torch.addcmul(g, a[:, :H], c - g, out=cs[t])
        tc = torch.tanh(c)
        h = torch.mul(a[:, H : 2 * H], tc, out=hs[t])
    return hs, cs, acts


def _family_backward(
    dhs: Tensor,
    dcs: Tensor | None,
    w_hh: Tensor,
    dh_coef: Tensor,
    o_coef: Tensor,
    gate_coef: Tensor,
    carry_coef: Tensor,
    o_block: int,
):
    """BPTT for lstm / peephole / coupled, given per-step coefficients.

    dhs (L, N, H) gradient arriving at each h_t from outside; dcs (L, N, H) or None at each c_t;
    dh_coef: dh_t -> dc_t; o_coef: dh_t -> d a_o; gate_coef (L, N, G, H): dc_t -> d a (o block 0);
    carry_coef: dc_t -> dc_{t-1}. Returns dA (L, N, G*H), dh0, dc0.
    """
    L, N, H = dhs.shape
    G = gate_coef.shape[2]
    dA = dhs.new_empty(L, N, G * H)
    o_lo, o_hi = o_block * H, (o_block + 1) * H
    dh = dhs[L - 1]
    dc = dcs[L - 1].clone() if dcs is not None else torch.zeros_like(dh)
    for t in range(L - 1, -1, -1):
        if t < L - 1:
            dh = torch.addmm(dhs[t], dA[t + 1], w_hh)  # (N, H)
            dc = (
                torch.addcmul(dcs[t], dc, carry_coef[t + 1])
                if dcs is not None
                else dc.mul_(carry_coef[t + 1])
            )
        dc.addcmul_(dh, dh_coef[t])
        torch.mul(dc.unsqueeze(1), gate_coef[t], out=dA[t].view(N, G, H))
        torch.mul(dh, o_coef[t], out=dA[t, :, o_lo:o_hi])
    dh0 = dA[0] @ w_hh
    dc0 = dc.mul_(carry_coef[0])
    return dA, dh0, dc0


def gru_forward(xp: Tensor, h0: Tensor, w_hh_t: Tensor, b_hh: Tensor | None):
    """xp (L, N, 3H) = x W_ih^T + b_ih, rows r|z|n -> hs (L, N, H), acts r|z|n, gh_n (L, N, H)."""
    L, N, H, hs, hn, acts = _buffers(xp, h0, gates_over_xp=False)
    gh = xp.new_empty(N, 3 * H)
    h = h0
    for t in range(L):
        if b_hh is None:
            torch.mm(h, w_hh_t, out=gh)
        else:
            torch.addmm(b_hh, h, w_hh_t, out=gh)  # (N, 3H)
        a = acts[t]
        torch.add(xp[t, :, : 2 * H], gh[:, : 2 * H], out=a[:, : 2 * H]).sigmoid_()
        hn[t].copy_(gh[:, 2 * H :])
        n = torch.addcmul(xp[t, :, 2 * H :], a[:, :H], hn[t], out=a[:, 2 * H :]).tanh_()
        h = torch.addcmul(n, a[:, H : 2 * H], h - n, out=hs[t])  # n + z⊙(h - n)
    return hs, acts, hn


def _prev(first: Tensor, seq: Tensor) -> Tensor:
    """The state before each step: cat(first, seq[:-1]) -> (L, N, H)."""
    return torch.cat([first.unsqueeze(0), seq[:-1]])


def lstm_backward(dhs, dcs, w_hh, acts, cs, c0):
    """acts rows i|f|o|g. Returns dA (L, N, 4H) at the pre-activations, dh0, dc0."""
    i, f, o, g = acts.chunk(4, dim=2)  # (L, N, H) each
    tcs = torch.tanh(cs)
    cprev = _prev(c0, cs)
    gate_coef = torch.stack(  # (L, N, 4, H): dc -> d a_i, d a_f, (o: 0), d a_g
        [g * i * (1.0 - i), cprev * f * (1.0 - f), torch.zeros_like(o), i * (1.0 - g * g)], dim=2
    )
    dh_coef, o_coef = o * (1.0 - tcs * tcs), tcs * o * (1.0 - o)
    return _family_backward(dhs, dcs, w_hh, dh_coef, o_coef, gate_coef, f.contiguous(), 2)


def peephole_backward(dhs, dcs, w_hh, acts, cs, c0, peep):
    """As lstm_backward, with the peephole paths c_{t-1} -> a_i, a_f and c_t -> a_o."""
    pi, pf, po = peep.chunk(3)
    i, f, o, g = acts.chunk(4, dim=2)
    tcs = torch.tanh(cs)
    cprev = _prev(c0, cs)
    di, df = i * (1.0 - i), f * (1.0 - f)
    o_coef = tcs * o * (1.0 - o)  # dh -> d a_o
    dh_coef = o * (1.0 - tcs * tcs) + o_coef * po  # dh -> dc (through tanh(c) and a_o)
    gate_coef = torch.stack([g * di, cprev * df, torch.zeros_like(o), i * (1.0 - g * g)], dim=2)
    carry_coef = f + g * di * pi + cprev * df * pf  # dc_t -> dc_{t-1}
    return _family_backward(dhs, dcs, w_hh, dh_coef, o_coef, gate_coef, carry_coef, 2)


def coupled_backward(dhs, dcs, w_hh, acts, cs, c0):
    """acts rows f|o|g, i = 1 - f."""
    f, o, g = acts.chunk(3, dim=2)
    tcs = torch.tanh(cs)
    cprev = _prev(c0, cs)
    gate_coef = torch.stack(
        [(cprev - g) * f * (1.0 - f), torch.zeros_like(o), (1.0 - f) * (1.0 - g * g)], dim=2
    )
    dh_coef, o_coef = o * (1.0 - tcs * tcs), tcs * o * (1.0 - o)
    return _family_backward(dhs, dcs, w_hh, dh_coef, o_coef, gate_coef, f.contiguous(), 1)


def gru_backward(dhs: Tensor, w_hh: Tensor, acts: Tensor, hs: Tensor, h0: Tensor, hn: Tensor):
    """BPTT for gru (acts r|z|n, hn = W_hn h + b_hn per step).

    Returns dGH (L, N, 3H) at the recurrent pre-activations, dXn (L, N, H) at x_n, and dh0.
    """
    L, N, H = dhs.shape
    r, z, n = acts.chunk(3, dim=2)  # (L, N, H) each
    dn_pre = (1.0 - z) * (1.0 - n * n)  # dh -> d(x_n + r⊙h_n)
    hprev = _prev(h0, hs)
    coef = torch.stack([dn_pre * hn * r * (1.0 - r), (hprev - n) * z * (1.0 - z), dn_pre * r], 2)
    z = z.contiguous()
    dGH = dhs.new_empty(L, N, 3 * H)
    dH = torch.empty_like(dhs)
    dh = dH[L - 1].copy_(dhs[L - 1])
    for t in range(L - 1, -1, -1):
        if t < L - 1:
            dh = torch.addcmul(dhs[t], dh, z[t + 1], out=dH[t]).addmm_(dGH[t + 1], w_hh)
        torch.mul(dh.unsqueeze(1), coef[t], out=dGH[t].view(N, 3, H))
    dh0 = torch.addmm(dh * z[0], dGH[0], w_hh)
    return dGH, dH * dn_pre, dh0


def _ln_backward(dy: Tensor, xhat: Tensor, rstd: Tensor) -> Tensor:
    """Gradient through (v - mean) * rstd over the last dimension, given dy at xhat."""
    mean_dy = dy.mean(-1, keepdim=True)
    mean_dyx = (dy * xhat).mean(-1, keepdim=True)
    return rstd * (dy - mean_dy - xhat * mean_dyx)


def layernorm_forward(xp, h0, c0, w_hh_t, gw, gb, cw, cb):
    """xp (L, N, 4H) rows i|f|o|g; gw, gb (4H) per-gate LN gains/shifts; cw, cb (H) for c_t.

    Returns hs, cs, tanh(LN(c)⊙γ_c + β_c), the normalised gates xhat (L, N, 4, H) with rstd
    (L, N, 4, 1), the normalised cell state chat (L, N, H) with crstd (L, N, 1), and the gates
    (written over xp).
    """
    L, N, H, hs, cs, tus, acts = _buffers(xp, h0, states=3)
    new = xp.new_empty
    xhat, rstd, chat, crstd = new(L, N, 4, H), new(L, N, 4, 1), new(L, N, H), new(L, N, 1)
    gw, gb = gw.view(4, H), gb.view(4, H)
    h, c = h0, c0
    for t in range(L):
        a = xp[t].addmm_(h, w_hh_t)  # (N, 4H), then the gate values over it
        xh, _, rs = torch.native_layer_norm(a.view(N, 4, H), [H], None, None, LN_EPS)
        xhat[t], rstd[t] = xh, rs
        act = torch.addcmul(gb, xh, gw, out=acts[t].view(N, 4, H)).view(N, 4 * H)
        act[:, : 3 * H].sigmoid_()
        g = act[:, 3 * H :].tanh_()
        c = torch.mul(act[:, H : 2 * H], c, out=cs[t]).addcmul_(act[:, :H], g)
        ch, _, crs = torch.native_layer_norm(c, [H], None, None, LN_EPS)
        chat[t], crstd[t] = ch, crs
        tu = torch.addcmul(cb, ch, cw, out=tus[t]).tanh_()
        h = torch.mul(act[:, 2 * H : 3 * H], tu, out=hs[t])
    return hs, cs, tus, xhat, rstd, chat, crstd, acts


def layernorm_backward(dhs, dcs, w_hh, acts, cs, tus, xhat, rstd, chat, crstd, c0, gw, cw):
    """Returns dA (L, N, 4H) at the pre-LN sum, the gain/shift sums (10H: Σ dâ⊙xhat | Σ dâ over
    the 4H gate units, then Σ du⊙chat | Σ du over H, u = LN(c)⊙γ_c + β_c), dh0 and dc0."""
    L, N, H = dhs.shape
    i, f, o, g = acts.chunk(4, dim=2)  # (L, N, H) each
    cprev = _prev(c0, cs)
    gw = gw.view(4, H)
    o_coef = tus * o * (1.0 - o)  # dh -> d â_o
    u_coef = o * (1.0 - tus * tus) * cw  # dh -> d chat
    gate_coef = torch.stack(  # dc -> d â (i, f, o=0, g)
        [g * i * (1.0 - i), cprev * f * (1.0 - f), torch.zeros_like(o), i * (1.0 - g * g)], 2
    )
    dA, dAH, dH = dhs.new_empty(L, N, 4 * H), dhs.new_empty(L, N, 4, H), torch.empty_like(dhs)
    dh = dhs[L - 1]
    dc = dcs[L - 1].clone() if dcs is not None else torch.zeros_like(dh)
    f = f.contiguous()
    for t in range(L - 1, -1, -1):
        if t < L - 1:
            dh = torch.addmm(dhs[t], dA[t + 1], w_hh)
            dc = dc * f[t + 1] if dcs is None else torch.addcmul(dcs[t], dc, f[t + 1])
        dH[t] = dh
        dc = dc + _ln_backward(dh * u_coef[t], chat[t], crstd[t])
        dah = torch.mul(dc.unsqueeze(1), gate_coef[t], out=dAH[t])
        torch.mul(dh, o_coef[t], out=dah[:, 2])
        dA[t] = _ln_backward(dah * gw, xhat[t], rstd[t]).view(N, 4 * H)
    dAH = dAH.view(L, N, 4 * H)
    du = dH * o * (1.0 - tus * tus)
    xhat = xhat.view(L, N, 4 * H)
    sums = [(dAH * xhat).sum((0, 1)), dAH.sum((0, 1)), (du * chat).sum((0, 1)), du.sum((0, 1))]
    return dA, torch.cat(sums), dA[0] @ w_hh, dc * f[0]
