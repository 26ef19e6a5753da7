"""Fused layer-normalised LSTM kernel (Ba et al. 2016) with a hand-written BPTT backward.

a = x W_ih^T + b_ih + h W_hh^T + b_hh; each gate block â_k = LN(a_k)⊙γ_k + β_k;
i, f, o = σ(â), g = tanh(â); c' = f⊙c + i⊙g; h' = o⊙tanh(LN(c')⊙γ_c + β_c).
Gate rows are kept internally in the order i|f|o|g, like the plain LSTM kernel.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lstmkit.kernels import _loops
from lstmkit.kernels.fused_lstm import (
    _bias,
    _layer_grads,
    _permute_rows,
    _project,
    _unpermute_rows,
)

__all__ = ["GATE_SLICES", "layernorm_backward", "layernorm_forward"]

GATE_SLICES = {"layernorm": {"i": 0, "f": 1, "o": 2, "g": 3}}


def layernorm_forward(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
    extra: tuple[Tensor, ...],
    dtype: torch.dtype | None,
) -> tuple[Tensor, ...]:
    """x (L, N, I), h0/c0 (N, H); ``extra`` = (gw, gb (4H): the per-gate LN gains and shifts,
    cw, cb (H): those of c_t). Returns hs, cs, acts (the gate values, internal order), then what
    the backward reads: tus, xhat, rstd, chat, crstd (``_loops_py.layernorm_forward``)."""
    gw, gb, cw, cb = extra
    w_hh_p = _permute_rows(w_hh, 4)
    xp = _project(x, _permute_rows(w_ih, 4), _permute_rows(_bias(b_ih, b_hh), 4), dtype)
    fwd = _loops.get("layernorm_forward", x)
    hs, cs, tus, xhat, rstd, chat, crstd, acts = fwd(
        xp, h0, c0, w_hh_p.t(), _permute_rows(gw, 4), _permute_rows(gb, 4), cw.contiguous(),
        cb.contiguous(),
    )  # fmt: skip
    return hs, cs, acts, tus, xhat, rstd, chat, crstd


def layernorm_backward(
    dhs: Tensor | None,
    dcs: Tensor | None,
    saved: tuple[Tensor, ...],
    extra: tuple[Tensor, ...],
    need: tuple[bool, ...],
    dtype: torch.dtype | None,
) -> tuple[Tensor | None, ...]:
    """BPTT of :func:`layernorm_forward`; ``saved`` = (x, h0, c0, w_ih, w_hh, hs, cs, acts, tus,
    xhat, rstd, chat, crstd); ``need`` says which of (x, h0, c0, w_ih, w_hh, b_ih, b_hh, gw, gb,
    cw, cb) need a gradient. Returns those gradients, None where not needed."""
    x, h0, c0, w_ih, w_hh, hs, cs, acts, tus, xhat, rstd, chat, crstd = saved
    gw, _, cw, _ = extra
    H = hs.shape[-1]
    if dhs is None:
        dhs = torch.zeros_like(hs)
    bwd = _loops.get("layernorm_backward", x)
    dA, sums, dh0, dc0 = bwd(
        dhs.contiguous(), dcs, _permute_rows(w_hh, 4), acts, cs, tus, xhat, rstd, chat, crstd, c0,
        _permute_rows(gw, 4), cw.contiguous(),
    )  # fmt: skip
    grads = _layer_grads(dA, x, h0, hs, _permute_rows(w_ih, 4), 4, dh0, dc0, need, dtype)
    dgw = _unpermute_rows(sums[: 4 * H], 4) if need[7] else None
    dgb = _unpermute_rows(sums[4 * H : 8 * H], 4) if need[8] else None
    dcw = sums[8 * H : 9 * H] if need[9] else None
    dcb = sums[9 * H :] if need[10] else None
    return (*grads, dgw, dgb, dcw, dcb)
