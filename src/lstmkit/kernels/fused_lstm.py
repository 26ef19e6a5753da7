"""Fused LSTM-family kernels (lstm, peephole, coupled) with a hand-written BPTT backward.

Each kernel is a forward and a backward function over one layer and one direction, time-major
(``kernels.ops`` registers them as custom ops with their autograd formula):

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

import contextlib
import functools
import threading
from collections.abc import Iterator

import torch
from torch import Tensor

from lstmkit.kernels import _loops
from lstmkit.kernels._loops_py import _prev

__all__ = ["BLOCKS", "GATE_SLICES", "bf16_gemms", "family_backward", "family_forward"]

# Block index (in units of H) of each gate in the internal order.
GATE_SLICES = {
    "lstm": {"i": 0, "f": 1, "o": 2, "g": 3},
    "peephole": {"i": 0, "f": 1, "o": 2, "g": 3},
    "coupled": {"f": 0, "o": 1, "g": 2},
}
# Gate blocks (in units of H) per cell: lstm and peephole i|f|g|o, coupled f|g|o.
BLOCKS = {"lstm": 4, "peephole": 4, "coupled": 3}
# Permutation from torch's row order (i|f|g|o, or f|g|o for coupled) to the internal one.
_PERM = {4: (0, 1, 3, 2), 3: (0, 2, 1)}


@functools.lru_cache(maxsize=64)
def _row_index(blocks: int, H: int, inverse: bool, device: torch.device) -> Tensor:
    """The row index that reorders gate blocks (torch's order -> internal, or back)."""
    order = list(_PERM[blocks])
    if inverse:
        order = [order.index(k) for k in range(blocks)]
    return torch.cat([torch.arange(k * H, (k + 1) * H) for k in order]).to(device)


def _permute_rows(w: Tensor | None, blocks: int) -> Tensor | None:
    """Reorder the gate blocks of a (blocks*H, ...) weight or (blocks*H,) bias (one gather)."""
    if w is None:
        return None
    return w.index_select(0, _row_index(blocks, w.shape[0] // blocks, False, w.device))


def _unpermute_rows(w: Tensor, blocks: int) -> Tensor:
    return w.index_select(0, _row_index(blocks, w.shape[0] // blocks, True, w.device))


def _bias(b_ih: Tensor | None, b_hh: Tensor | None) -> Tensor | None:
    """b_ih + b_hh (either may be None): the two biases act as one on the pre-activations."""
    if b_ih is None or b_hh is None:
        return b_hh if b_ih is None else b_ih
    return b_ih + b_hh


_gemm = threading.local()


@contextlib.contextmanager
def bf16_gemms(enabled: bool = True) -> Iterator[None]:
    """Inside, the fused kernels started here run their whole-sequence GEMMs (input projection,
    input and weight gradients) on bf16 operands, accumulating in float32; the recurrence (per-step
    products, gate math, states) stays float32. ``nn.LSTM`` turns it on under CPU bf16 autocast on
    CPUs with bf16 instructions; users may turn it on themselves. ``enabled=False`` changes nothing
    (an enclosing block's choice stands). A kernel keeps its forward's choice for its backward."""
    before = getattr(_gemm, "dtype", None)
    _gemm.dtype = torch.bfloat16 if enabled else before
    try:
        yield
    finally:
        _gemm.dtype = before


def _gemm_dtype() -> torch.dtype | None:
    """The operand dtype of the whole-sequence GEMMs (None: the tensors' own)."""
    return getattr(_gemm, "dtype", None)


def _mm(
    a: Tensor, b: Tensor, dtype: torch.dtype | None, c: Tensor | None = None, out=None
) -> Tensor:
    """[c +] a @ b; with ``dtype``, on operands of that dtype and the result cast to ``out``."""
    if dtype is None:
        return a @ b if c is None else torch.addmm(c, a, b)
    a, b = a.to(dtype), b.to(dtype)
    result = a @ b if c is None else torch.addmm(c.to(dtype), a, b)
    return result.to(out)


def _recurrent_weight_grad(
    dA: Tensor, h0: Tensor, hs: Tensor, dtype: torch.dtype | None = None
) -> Tensor:
    """Σ_t dA_t^T h_{t-1} (h_{-1} = h0) as two GEMMs, without concatenating h0 and hs[:-1]."""
    L, _, G = dA.shape
    H = hs.shape[-1]
    grad = _mm(dA[0].t(), h0, dtype, out=hs.dtype)
    if L > 1:
        grad = _mm(dA[1:].reshape(-1, G).t(), hs[:-1].reshape(-1, H), dtype, grad, out=hs.dtype)
    return grad


def _project(x: Tensor, w_ih: Tensor, b: Tensor | None, dtype: torch.dtype | None = None) -> Tensor:
    """x W_ih^T + b for all steps in one GEMM: (L, N, I) -> (L, N, G)."""
    L, N, I = x.shape
    return _mm(x.reshape(L * N, I), w_ih.t(), dtype, b, out=x.dtype).view(L, N, -1)


def _input_grads(
    dP: Tensor, x: Tensor, w_ih: Tensor, dtype: torch.dtype | None, out, need_x: bool, need_w: bool
) -> tuple[Tensor | None, Tensor | None]:
    """From dP (L, N, G), the gradient at the input projection (already in ``dtype`` when given):
    dx = dP W_ih (L, N, I) and dW_ih = dP^T x, one GEMM each, results in ``out``; None where not
    needed."""
    L, N, G = dP.shape
    dP2 = dP.reshape(L * N, G)
    dx = _mm(dP2, w_ih, dtype, out=out).view(L, N, -1) if need_x else None
    dw = _mm(dP2.t(), x.reshape(L * N, -1), dtype, out=out) if need_w else None
    return dx, dw


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
    dtype: torch.dtype | None = None,
) -> tuple:
    """After the loop, the gradients of (x, h0, c0, w_ih, w_hh, b_ih, b_hh) from dA (L, N, G),
    the gradient at the pre-activations: dx, dW_ih, dW_hh as single GEMMs, db one reduction,
    rows back in torch's order; None where no gradient is needed."""
    G = dA.shape[-1]
    low = dA if dtype is None else dA.to(dtype)  # cast once for the three GEMMs below
    dx, dw_ih = _input_grads(low, x, w_ih, dtype, dA.dtype, need[0], need[3])
    dw_ih = _unpermute_rows(dw_ih, blocks) if need[3] else None
    dw_hh = _unpermute_rows(_recurrent_weight_grad(low, h0, hs, dtype), blocks) if need[4] else None
    db = _unpermute_rows(dA.reshape(-1, G).sum(0), blocks) if (need[5] or need[6]) else None
    return (
        dx,
        dh0 if need[1] else None,
        dc0 if need[2] else None,
        dw_ih,
        dw_hh,
        db if need[5] else None,
        db if need[6] else None,
    )


def family_forward(
    cell: str,
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
    extra: tuple[Tensor, ...],
    dtype: torch.dtype | None,
) -> tuple[Tensor, Tensor, Tensor]:
    """One layer and direction of ``cell`` (lstm, peephole or coupled): x (L, N, I), h0/c0
    (N, H), weights in torch's row order, ``extra`` = (peephole weights,) for peephole; ``dtype``
    the operand dtype of the whole-sequence GEMMs (None: the tensors' own). Returns hs, cs (L, N, H)
    and the gate values acts (L, N, G) in the internal order."""
    nb = BLOCKS[cell]
    w_hh_p = _permute_rows(w_hh, nb)
    xp = _project(x, _permute_rows(w_ih, nb), _permute_rows(_bias(b_ih, b_hh), nb), dtype)
    return _loops.get(f"{cell}_forward", x)(xp, h0, c0, w_hh_p.t(), *extra)


def family_backward(
    cell: str,
    dhs: Tensor | None,
    dcs: Tensor | None,
    saved: tuple[Tensor, ...],
    extra: tuple[Tensor, ...],
    need: tuple[bool, ...],
    dtype: torch.dtype | None,
) -> tuple[Tensor | None, ...]:
    """BPTT of :func:`family_forward` from the gradients at hs and cs (None: zero); ``saved`` =
    (x, h0, c0, w_ih, w_hh, hs, cs, acts), ``need`` says which of (x, h0, c0, w_ih, w_hh, b_ih,
    b_hh, *extra) need a gradient. Returns those gradients, None where not needed."""
    x, h0, c0, w_ih, w_hh, hs, cs, acts = saved
    nb = BLOCKS[cell]
    if dhs is None:
        dhs = torch.zeros_like(hs)
    bwd = _loops.get(f"{cell}_backward", x)
    dA, dh0, dc0 = bwd(dhs.contiguous(), dcs, _permute_rows(w_hh, nb), acts, cs, c0, *extra)
    w_ih_p = _permute_rows(w_ih, nb)
    grads = _layer_grads(dA, x, h0, hs, w_ih_p, nb, dh0, dc0, need, dtype)
    if cell != "peephole":
        return grads
    return (*grads, _peephole_grad(dA, cs, c0) if need[7] else None)


def _peephole_grad(dA: Tensor, cs: Tensor, c0: Tensor) -> Tensor:
    """dL/d(p_i|p_f|p_o): i and f see c_{t-1}, o sees c_t."""
    H = cs.shape[-1]
    cprev = _prev(c0, cs)
    dpi = (dA[..., :H] * cprev).sum((0, 1))
    dpf = (dA[..., H : 2 * H] * cprev).sum((0, 1))
    dpo = (dA[..., 2 * H : 3 * H] * cs).sum((0, 1))
    return torch.cat([dpi, dpf, dpo])
