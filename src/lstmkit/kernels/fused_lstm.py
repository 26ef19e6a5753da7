"""Fused LSTM-family kernels (lstm, peephole, coupled) with a hand-written BPTT backward.

Each kernel is a ``torch.autograd.Function`` over one layer and one direction, time-major:

* forward: the input projection of all steps in one GEMM, then per step one recurrent GEMM
  (``addmm``) and in-place pointwise gate math into preallocated buffers;
* backward: per step one GEMM for the recurrent gradient and a few pointwise ops whose
  coefficients (gate derivatives) were computed for all steps at once, before the loop;
  after the loop, the weight gradients and the input gradient are one GEMM each.

Internally the gate rows are permuted so that the sigmoid gates are contiguous and the tanh gate
comes last: ``i|f|o|g`` for lstm and peephole, ``f|o|g`` for coupled. ``acts`` (the gate values) are
returned in that internal order; ``GATE_SLICES`` says where each gate lives.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from lstmkit.kernels import _loops
from lstmkit.kernels._loops_py import _prev

__all__ = ["GATE_SLICES", "CoupledFn", "LSTMFn", "PeepholeFn"]

# Block index (in units of H) of each gate in the internal order.
GATE_SLICES = {
    "lstm": {"i": 0, "f": 1, "o": 2, "g": 3},
    "peephole": {"i": 0, "f": 1, "o": 2, "g": 3},
    "coupled": {"f": 0, "o": 1, "g": 2},
}
# Permutation from torch's row order (i|f|g|o, or f|g|o for coupled) to the internal one.
_PERM = {4: (0, 1, 3, 2), 3: (0, 2, 1)}


def _permute_rows(w: Tensor | None, blocks: int) -> Tensor | None:
    """Reorder the gate blocks of a (blocks*H, ...) weight or (blocks*H,) bias."""
    if w is None:
        return None
    return torch.cat([w.chunk(blocks)[k] for k in _PERM[blocks]])


def _unpermute_rows(w: Tensor, blocks: int) -> Tensor:
    parts = w.chunk(blocks)
    inverse = [0] * blocks
    for pos, k in enumerate(_PERM[blocks]):
        inverse[k] = pos
    return torch.cat([parts[k] for k in inverse])


def _project(x: Tensor, w_ih: Tensor, b_ih: Tensor | None, b_hh: Tensor | None) -> Tensor:
    """x W_ih^T + b_ih + b_hh for all steps in one GEMM: (L, N, I) -> (L, N, G)."""
    L, N, I = x.shape
    x2 = x.reshape(L * N, I)
    if b_ih is None and b_hh is None:
        xp = x2 @ w_ih.t()
    else:
        b = b_ih if b_hh is None else (b_hh if b_ih is None else b_ih + b_hh)
        xp = torch.addmm(b, x2, w_ih.t())
    return xp.view(L, N, -1)


def _layer_grads(
    dA: Tensor,
    x: Tensor,
    h0: Tensor,
    hs: Tensor,
    w_ih: Tensor,
    blocks: int,
    dh0: Tensor,
    dc0: Tensor | None,
    need: tuple[bool, ...],
) -> tuple:
    """After the loop, the gradients of (x, h0, c0, w_ih, w_hh, b_ih, b_hh) from dA (L, N, G),
    the gradient at the pre-activations: dx, dW_ih, dW_hh as single GEMMs, db one reduction,
    rows back in torch's order; None where no gradient is needed."""
    L, N, G = dA.shape
    dA2 = dA.reshape(L * N, G)
    hprev = _prev(h0, hs)
    dx = (dA2 @ w_ih).view(L, N, -1) if need[0] else None
    dw_ih = _unpermute_rows(dA2.t() @ x.reshape(L * N, -1), blocks) if need[3] else None
    dw_hh = _unpermute_rows(dA2.t() @ hprev.reshape(L * N, -1), blocks) if need[4] else None
    db = _unpermute_rows(dA2.sum(0), blocks) if (need[5] or need[6]) else None
    return (
        dx,
        dh0 if need[1] else None,
        dc0 if need[2] else None,
        dw_ih,
        dw_hh,
        db if need[5] else None,
        db if need[6] else None,
    )


class _LSTMFamilyFn(torch.autograd.Function):
    """Shared forward/backward of the LSTM-family kernels; subclasses name their loops."""

    blocks = 4
    loop = "lstm"  # _loops.get(f"{loop}_forward" / f"{loop}_backward")

    @classmethod
    def forward(cls, ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, *extra):
        # x (L, N, I), h0/c0 (N, H), weights in torch's row order; extra = (peephole weights,)
        nb = cls.blocks
        w_ih_p = _permute_rows(w_ih, nb)
        w_hh_p = _permute_rows(w_hh, nb)
        xp = _project(x, w_ih_p, _permute_rows(b_ih, nb), _permute_rows(b_hh, nb))  # (L, N, G)
        fwd = _loops.get(f"{cls.loop}_forward", x)
        hs, cs, acts = fwd(xp, h0, c0, w_hh_p.t(), *extra)
        ctx.save_for_backward(x, h0, c0, w_ih_p, w_hh_p, hs, cs, acts, *extra)
        ctx.kernel = cls
        ctx.set_materialize_grads(False)
        ctx.mark_non_differentiable(acts)
        return hs, cs, acts

    @staticmethod
    @once_differentiable
    def backward(ctx, dhs, dcs, _dacts):
        cls = ctx.kernel
        x, h0, c0, w_ih_p, w_hh_p, hs, cs, acts, *extra = ctx.saved_tensors
        if dhs is None:
            dhs = torch.zeros_like(hs)
        bwd = _loops.get(f"{cls.loop}_backward", x)
        dA, dh0, dc0 = bwd(dhs.contiguous(), dcs, w_hh_p, acts, cs, c0, *extra)
        need = ctx.needs_input_grad
        grads = _layer_grads(dA, x, h0, hs, w_ih_p, cls.blocks, dh0, dc0, need)
        return (*grads, *cls._extra_grads(dA, cs, c0, need[7:]))

    @classmethod
    def _extra_grads(cls, dA: Tensor, cs: Tensor, c0: Tensor, needed) -> tuple:
        return ()


class LSTMFn(_LSTMFamilyFn):
    """i, f, o = σ(a); g = tanh(a); c' = f⊙c + i⊙g; h' = o⊙tanh(c')."""

    blocks, loop = 4, "lstm"


class PeepholeFn(_LSTMFamilyFn):
    """Peepholes: i, f see c_{t-1} and o sees c_t through diagonal weights p_i|p_f|p_o."""

    blocks, loop = 4, "peephole"

    @classmethod
    def _extra_grads(cls, dA, cs, c0, needed):
        if not needed[0]:
            return (None,)
        H = cs.shape[-1]
        cprev = _prev(c0, cs)
        dpi = (dA[..., :H] * cprev).sum((0, 1))
        dpf = (dA[..., H : 2 * H] * cprev).sum((0, 1))
        dpo = (dA[..., 2 * H : 3 * H] * cs).sum((0, 1))
        return (torch.cat([dpi, dpf, dpo]),)


class CoupledFn(_LSTMFamilyFn):
    """Coupled gates: i = 1 - f, so c' = f⊙c + (1-f)⊙g (rows f|g|o)."""

    blocks, loop = 3, "coupled"
