"""lstmkit's fused layers as ``torch.library`` custom ops, so that PyTorch 2 sees each as one op.

Per cell, two ops in the ``lstmkit`` namespace, one layer and one direction, time-major:

* ``lstmkit::<cell>_layer``: the input projection and the time loop (lstmkit's C++ loops on the
  CPU when they build, the eager-PyTorch loops elsewhere), returning the hidden and cell states
  of every step, the gate values, and what the backward reads;
* ``lstmkit::<cell>_layer_backward``: the hand-written BPTT.

Each forward op has a fake kernel (shapes and dtypes only) and an autograd formula that calls its
backward op, so ``torch.compile`` (``fullgraph=True`` too) and ``torch.export.export`` treat a
layer as one node instead of tracing into Python, and run it eagerly inside compiled code. The
backward op has a fake kernel too (it appears in compiled backward graphs); it has no autograd
formula of its own: the kernels are differentiable once, as before. The gate values are outputs
that autograd does not differentiate through (recorded fused gates are detached).

``layer(cell)`` gives the uniform call ``(x, h0, c0, w_ih, w_hh, b_ih, b_hh, *extra, bf16=...)
-> (hs, cs or None, acts)`` that ``cells.run_fused`` uses: the custom op while the compiler
traces, and in eager mode the same forward and backward through a plain ``autograd.Function``
(the custom-op dispatch costs 90-360 us more per small layer forward and backward, measured
``benchmarks/compile.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from lstmkit.kernels.fused_gru import gru_backward, gru_forward
from lstmkit.kernels.fused_layernorm import layernorm_backward, layernorm_forward
from lstmkit.kernels.fused_lstm import family_backward, family_forward

__all__ = ["OPS", "layer", "run_layer"]

# Cell -> names of its extra parameters, after (w_ih, w_hh, b_ih, b_hh).
_EXTRAS: dict[str, tuple[str, ...]] = {
    "lstm": (),
    "coupled": (),
    "peephole": ("peep",),
    "layernorm": ("gw", "gb", "cw", "cb"),
    "gru": (),
}
# Cell -> names of the forward op's outputs; the first ``_DIFF[cell]`` are differentiable.
_OUTPUTS: dict[str, tuple[str, ...]] = {
    "lstm": ("hs", "cs", "acts"),
    "coupled": ("hs", "cs", "acts"),
    "peephole": ("hs", "cs", "acts"),
    "layernorm": ("hs", "cs", "acts", "tus", "xhat", "rstd", "chat", "crstd"),
    "gru": ("hs", "acts", "hn"),
}
_DIFF = {"lstm": 2, "coupled": 2, "peephole": 2, "layernorm": 2, "gru": 1}


def _inputs(cell: str) -> list[tuple[str, bool]]:
    """The forward op's tensor inputs of ``cell`` as (name, optional)."""
    state = [("h0", False)] if cell == "gru" else [("h0", False), ("c0", False)]
    base = [("x", False), *state, ("w_ih", False), ("w_hh", False), ("b_ih", True), ("b_hh", True)]
    return base + [(n, False) for n in _EXTRAS[cell]]


def _args(names: Sequence[tuple[str, bool]]) -> str:
    return ", ".join(f"Tensor{'?' if opt else ''} {n}" for n, opt in names)


def _operand_dtype(bf16: bool) -> torch.dtype | None:
    """The whole-sequence GEMMs' operand dtype for the ops' bf16 flag (None: the tensors' own)."""
    return torch.bfloat16 if bf16 else None


def _run_forward(cell: str, tensors: Sequence[Tensor | None], bf16: bool) -> tuple[Tensor, ...]:
    dtype = _operand_dtype(bf16)
    if cell == "gru":
        return gru_forward(*tensors, dtype)
    x, h0, c0, w_ih, w_hh, b_ih, b_hh, *extra = tensors
    fn = layernorm_forward if cell == "layernorm" else family_forward
    args = (x, h0, c0, w_ih, w_hh, b_ih, b_hh, tuple(extra), dtype)
    return fn(*args) if cell == "layernorm" else fn(cell, *args)


def _run_backward(
    cell: str,
    grads: Sequence[Tensor | None],
    tensors: Sequence[Tensor | None],
    outputs: Sequence[Tensor],
    need: tuple[bool, ...],
    bf16: bool,
) -> tuple[Tensor | None, ...]:
    dtype = _operand_dtype(bf16)
    if cell == "gru":
        x, h0, w_ih, w_hh = tensors[:4]
        return gru_backward(grads[0], (x, h0, w_ih, w_hh, *outputs), need, dtype)
    x, h0, c0, w_ih, w_hh, _, _, *extra = tensors
    saved = (x, h0, c0, w_ih, w_hh, *outputs)
    if cell == "layernorm":
        return layernorm_backward(grads[0], grads[1], saved, tuple(extra), need, dtype)
    return family_backward(cell, grads[0], grads[1], saved, tuple(extra), need, dtype)


def _fake_outputs(cell: str, x: Tensor, h0: Tensor, w_hh: Tensor) -> tuple[Tensor, ...]:
    """Empty tensors shaped like the forward op's outputs (what the loops allocate)."""
    (L, N), H, G = x.shape[:2], h0.shape[-1], w_hh.shape[0]
    states = x.new_empty(L, N, H)
    if cell == "gru":
        return states, x.new_empty(L, N, G), x.new_empty(L, N, H)
    head = (states, x.new_empty(L, N, H), x.new_empty(L, N, G))
    if cell != "layernorm":
        return head
    new = x.new_empty
    return (*head, new(L, N, H), new(L, N, 4, H), new(L, N, 4, 1), new(L, N, H), new(L, N, 1))


def _grad_list(grads: Sequence[Tensor | None], inputs: Sequence[Tensor | None]) -> list[Tensor]:
    """The backward op's list: a zero-size placeholder where no gradient was asked for, and no
    two entries (or an entry and an input) sharing memory, as custom ops require: b_ih and b_hh
    share one gradient, layernorm's parameter gradients are slices of one sum."""
    like = inputs[0]
    taken = {t.untyped_storage().data_ptr() for t in inputs if t is not None}
    out = []
    for g in grads:
        if g is None:
            g = like.new_empty(0)
        elif g.untyped_storage().data_ptr() in taken:
            g = g.clone()
        taken.add(g.untyped_storage().data_ptr())
        out.append(g)
    return out


def _define(cell: str):
    inputs = _inputs(cell)
    n_in, n_diff, outs = len(inputs), _DIFF[cell], _OUTPUTS[cell]
    returns = ", ".join("Tensor" for _ in outs)
    fwd = torch.library.custom_op(
        f"lstmkit::{cell}_layer",
        lambda *args: _run_forward(cell, args[:-1], args[-1]),
        mutates_args=(),
        schema=f"({_args(inputs)}, bool bf16) -> ({returns})",
    )
    grad_args = [(f"grad_{n}", True) for n in outs[:n_diff]]
    saved = [(n, False) for n in outs]

    def backward_impl(*args):  # every device: the loops pick C++ or eager PyTorch themselves
        grads, tensors = args[:n_diff], args[n_diff : n_diff + n_in]
        outputs, need, bf16 = args[n_diff + n_in : -2], tuple(args[-2]), args[-1]
        result = _run_backward(cell, grads, tensors, outputs, need, bf16)
        return _grad_list(result, args[:-2])

    bwd = torch.library.custom_op(
        f"lstmkit::{cell}_layer_backward",
        backward_impl,
        mutates_args=(),
        schema=f"({_args(grad_args + inputs + saved)}, bool[] need, bool bf16) -> Tensor[]",
    )

    @fwd.register_fake
    def _forward_fake(*args):
        x, h0, w_hh = args[0], args[1], args[3 if cell == "gru" else 4]
        return _fake_outputs(cell, x, h0, w_hh)

    @bwd.register_fake
    def _backward_fake(*args):
        tensors, need = args[n_diff : n_diff + n_in], args[-2]
        x = tensors[0]
        return [
            t.new_empty(t.shape) if n else x.new_empty(0)
            for t, n in zip(tensors, need, strict=True)
        ]

    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs[:-1], *output)
        ctx.bf16 = inputs[-1]
        ctx.mark_non_differentiable(*output[n_diff:])
        ctx.set_materialize_grads(False)

    def backward(ctx, *grads):
        saved = ctx.saved_tensors
        need = tuple(ctx.needs_input_grad[:n_in])
        result = bwd(*grads[:n_diff], *saved, list(need), ctx.bf16)
        return (*(g if n else None for g, n in zip(result, need, strict=True)), None)

    fwd.register_autograd(backward, setup_context=setup_context)
    return fwd, bwd


OPS: dict[str, tuple] = {cell: _define(cell) for cell in _EXTRAS}


class _EagerLayer(torch.autograd.Function):
    """The same forward and backward outside compiled code, without the custom-op dispatch
    (90-360 us per small layer forward and backward, ``benchmarks/compile.py``)."""

    @staticmethod
    def forward(ctx, cell, bf16, *tensors):
        outputs = _run_forward(cell, tensors, bf16)
        ctx.cell, ctx.bf16, ctx.n_in = cell, bf16, len(tensors)
        ctx.save_for_backward(*tensors, *outputs)
        ctx.mark_non_differentiable(*outputs[_DIFF[cell] :])
        ctx.set_materialize_grads(False)
        return outputs

    @staticmethod
    @once_differentiable
    def backward(ctx, *grads):
        saved = ctx.saved_tensors
        tensors, outputs = saved[: ctx.n_in], saved[ctx.n_in :]
        need = tuple(ctx.needs_input_grad[2:])
        result = _run_backward(ctx.cell, grads[: _DIFF[ctx.cell]], tensors, outputs, need, ctx.bf16)
        return (None, None, *result)


def run_layer(cell: str, x, h0, c0, w_ih, w_hh, b_ih, b_hh, *extra, bf16: bool = False):
    """One fused layer of ``cell``: the custom op while ``torch.compile`` or ``torch.export``
    traces, the same kernels through an ``autograd.Function`` in eager mode."""
    state = (h0,) if cell == "gru" else (h0, c0)
    tensors = (x, *state, w_ih, w_hh, b_ih, b_hh, *extra)
    if torch.compiler.is_compiling():
        out = OPS[cell][0](*tensors, bf16)
    else:
        out = _EagerLayer.apply(cell, bf16, *tensors)
    if cell == "gru":
        return out[0], None, out[1]
    return out[0], out[1], out[2]


def layer(cell: str) -> Callable[..., tuple[Tensor, Tensor | None, Tensor]]:
    """``(x, h0, c0, w_ih, w_hh, b_ih, b_hh, *extra, bf16=False) -> (hs, cs, acts)`` for
    ``cell`` (cs None for gru, whose c0 is ignored); picklable, as the modules holding it are."""
    return functools.partial(run_layer, cell)
