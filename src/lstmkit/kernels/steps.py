"""One step of every cell in plain PyTorch ops, differentiated by autograd.

These are the readable definitions: ``backend="reference"`` runs them step by step and
``lstmkit.nn.LSTMCell`` calls them directly. The fused kernels must agree with them.
Every step takes ``xp`` (the input projection ``x W_ih^T + b_ih``), the carry ``(h, c)`` and the
layer's parameters, and returns ``(h, c, gates)`` where ``gates`` maps a gate name to its value.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["LN_EPS", "STEPS"]

LN_EPS = 1e-5

Params = dict[str, Tensor]
Gates = dict[str, Tensor]


def _rec(h: Tensor, p: Params) -> Tensor:
    """h W_hh^T + b_hh: the recurrent half of the pre-activations."""
    b = p.get("bias_hh")
    return F.linear(h, p["weight_hh"], b)


def lstm_step(xp: Tensor, h: Tensor, c: Tensor, p: Params) -> tuple[Tensor, Tensor, Gates]:
    """i, f, o = σ(a_i, a_f, a_o); g = tanh(a_g); c' = f⊙c + i⊙g; h' = o⊙tanh(c')."""
    a = xp + _rec(h, p)  # (N, 4H)
    ai, af, ag, ao = a.chunk(4, dim=1)
    i, f, g, o = ai.sigmoid(), af.sigmoid(), ag.tanh(), ao.sigmoid()
    c = f * c + i * g
    h = o * c.tanh()
    return h, c, {"i": i, "f": f, "g": g, "o": o}


def peephole_step(xp: Tensor, h: Tensor, c: Tensor, p: Params) -> tuple[Tensor, Tensor, Gates]:
    """Gers & Schmidhuber: i, f see c_{t-1}; o sees c_t (diagonal peephole weights p_i|p_f|p_o)."""
    a = xp + _rec(h, p)  # (N, 4H)
    ai, af, ag, ao = a.chunk(4, dim=1)
    pi, pf, po = p["weight_peephole"].chunk(3)
    i = (ai + pi * c).sigmoid()
    f = (af + pf * c).sigmoid()
    g = ag.tanh()
    c = f * c + i * g
    o = (ao + po * c).sigmoid()
    h = o * c.tanh()
    return h, c, {"i": i, "f": f, "g": g, "o": o}


def coupled_step(xp: Tensor, h: Tensor, c: Tensor, p: Params) -> tuple[Tensor, Tensor, Gates]:
    """Coupled input and forget gates: i = 1 - f (rows f|g|o)."""
    a = xp + _rec(h, p)  # (N, 3H)
    af, ag, ao = a.chunk(3, dim=1)
    f, g, o = af.sigmoid(), ag.tanh(), ao.sigmoid()
    i = 1.0 - f
    c = f * c + i * g
    h = o * c.tanh()
    return h, c, {"i": i, "f": f, "g": g, "o": o}


def gru_step(xp: Tensor, h: Tensor, c: Tensor | None, p: Params) -> tuple[Tensor, None, Gates]:
    """torch.nn.GRU: r, z = σ(·); n = tanh(x_n + r⊙(W_hn h + b_hn)); h' = (1-z)⊙n + z⊙h."""
    gh = _rec(h, p)  # (N, 3H)
    xr, xz, xn = xp.chunk(3, dim=1)
    hr, hz, hn = gh.chunk(3, dim=1)
    r = (xr + hr).sigmoid()
    z = (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    h = (1.0 - z) * n + z * h
    return h, None, {"r": r, "z": z, "n": n}


def _ln(v: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """Layer norm over the last dimension, then gain and shift."""
    return F.layer_norm(v, v.shape[-1:], eps=LN_EPS) * weight + bias


def layernorm_step(xp: Tensor, h: Tensor, c: Tensor, p: Params) -> tuple[Tensor, Tensor, Gates]:
    """Ba et al. 2016: each gate's pre-activation and c_t are layer-normalised over H."""
    a = xp + _rec(h, p)  # (N, 4H)
    n, four_h = a.shape
    hidden = four_h // 4
    gain = p["ln_gates_weight"].view(4, hidden)
    shift = p["ln_gates_bias"].view(4, hidden)
    a = _ln(a.view(n, 4, hidden), gain, shift)  # (N, 4, H)
    i, f, o = a[:, 0].sigmoid(), a[:, 1].sigmoid(), a[:, 3].sigmoid()
    g = a[:, 2].tanh()
    c = f * c + i * g
    h = o * _ln(c, p["ln_cell_weight"], p["ln_cell_bias"]).tanh()
    return h, c, {"i": i, "f": f, "g": g, "o": o}


STEPS = {
    "lstm": lstm_step,
    "peephole": peephole_step,
    "coupled": coupled_step,
    "gru": gru_step,
    "layernorm": layernorm_step,
}
