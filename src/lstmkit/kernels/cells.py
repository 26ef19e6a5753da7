"""The registry of cell types (parameters, gates, kernels) and one layer's run per backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from lstmkit.kernels.fused_gru import GATE_SLICES as _GRU_SLICES
from lstmkit.kernels.fused_layernorm import GATE_SLICES as _LN_SLICES
from lstmkit.kernels.fused_lstm import GATE_SLICES as _LSTM_SLICES
from lstmkit.kernels.fused_lstm import _gemm_dtype
from lstmkit.kernels.ops import layer
from lstmkit.kernels.steps import STEPS

__all__ = ["CELLS", "CellSpec", "Extra", "LayerResult", "get_cell", "run_fused", "run_reference"]


@dataclass(frozen=True)
class Extra:
    """A variant-only parameter: ``name`` (without the layer suffix), size in units of H, init."""

    name: str
    blocks: int
    init: str  # "uniform" (±1/sqrt(H), like the weights), "ones" or "zeros"


@dataclass(frozen=True)
class CellSpec:
    name: str
    blocks: int  # gate blocks stacked in weight_ih / weight_hh rows (4 for i|f|g|o)
    gates: tuple[str, ...]  # torch's row order of the blocks (what record returns, plus c/h)
    has_cell_state: bool
    forget_block: int | None  # row block of the forget gate, for forget-bias initialisation
    fn: Callable  # the fused layer: ops.layer(name)
    slices: dict[str, int] = field(default_factory=dict)  # gate -> block in the kernel's acts
    extras: tuple[Extra, ...] = ()
    torch_native: bool = False  # torch.nn.LSTM / torch.nn.GRU compute exactly this cell

    @property
    def param_keys(self) -> tuple[str, ...]:
        """Names of one layer's parameters in kernel order, without the layer suffix."""
        return ("weight_ih", "weight_hh", "bias_ih", "bias_hh", *(e.name for e in self.extras))

    def layer_dict(self, params: list) -> dict[str, Tensor]:
        """[w_ih, w_hh, b_ih, b_hh, *extras] (None for an absent bias) -> {name: tensor}."""
        return {n: v for n, v in zip(self.param_keys, params, strict=True) if v is not None}

    @property
    def record_keys(self) -> tuple[str, ...]:
        gates = ("i", "f", "g", "o") if self.has_cell_state else self.gates
        return (*gates, "c", "h") if self.has_cell_state else (*gates, "h")


CELLS: dict[str, CellSpec] = {
    "lstm": CellSpec(
        "lstm",
        4,
        ("i", "f", "g", "o"),
        True,
        1,
        layer("lstm"),
        _LSTM_SLICES["lstm"],
        torch_native=True,
    ),
    "peephole": CellSpec(
        "peephole",
        4,
        ("i", "f", "g", "o"),
        True,
        1,
        layer("peephole"),
        _LSTM_SLICES["peephole"],
        (Extra("weight_peephole", 3, "uniform"),),
    ),
    "coupled": CellSpec(
        "coupled", 3, ("f", "g", "o"), True, 0, layer("coupled"), _LSTM_SLICES["coupled"]
    ),
    "gru": CellSpec(
        "gru", 3, ("r", "z", "n"), False, None, layer("gru"), _GRU_SLICES["gru"], (), True
    ),
    "layernorm": CellSpec(
        "layernorm",
        4,
        ("i", "f", "g", "o"),
        True,
        1,
        layer("layernorm"),
        _LN_SLICES["layernorm"],
        (
            Extra("ln_gates_weight", 4, "ones"),
            Extra("ln_gates_bias", 4, "zeros"),
            Extra("ln_cell_weight", 1, "ones"),
            Extra("ln_cell_bias", 1, "zeros"),
        ),
    ),
}


def get_cell(name: str) -> CellSpec:
    if name not in CELLS:
        raise ValueError(f"unknown cell {name!r}; expected one of {', '.join(CELLS)}")
    return CELLS[name]


@dataclass
class LayerResult:
    hs: Tensor  # (L, N, H) hidden state after each step
    cs: Tensor | None  # (L, N, H) cell state after each step (None for gru)
    gates: dict[str, Tensor] | None  # gate -> (L, N, H), only when recording


def run_fused(
    spec: CellSpec,
    x: Tensor,
    h0: Tensor,
    c0: Tensor | None,
    params: list,
    record: bool,
    bf16: bool | None = None,
) -> LayerResult:
    """One layer and direction, time-major x (L, N, I); params [w_ih, w_hh, b_ih, b_hh, *extras].

    ``bf16``: the whole-sequence GEMMs on bf16 operands (``fused_lstm.bf16_gemms``); None reads
    the enclosing ``bf16_gemms`` block in eager mode (compiled code passes it explicitly)."""
    if bf16 is None:
        bf16 = not torch.compiler.is_compiling() and _gemm_dtype() is not None
    hs, cs, acts = spec.fn(x, h0, c0, *params, bf16=bf16)
    gates = None
    if record:
        H = hs.shape[-1]
        gates = {k: acts[..., b * H : (b + 1) * H] for k, b in spec.slices.items()}
        if spec.name == "coupled":
            gates["i"] = 1.0 - gates["f"]
    return LayerResult(hs, cs, gates)


def run_reference(
    spec: CellSpec,
    x: Tensor,
    h0: Tensor,
    c0: Tensor | None,
    params: list,
    record: bool,
    probe: Tensor | None = None,
    proj: Tensor | None = None,
) -> LayerResult:
    """Step by step with the plain ops of ``steps.py``; autograd does the backward.

    ``proj`` (P, H), torch's ``weight_hr``: each step's h is projected, h = W_hr h (P wide),
    before anything reads it. ``probe`` (L, N, H or P), zeros, is added to each step's h
    before the next step reads it: its gradient is the total dLoss/dh_t (see
    ``LSTM.forward``)."""
    p = spec.layer_dict(params)
    step = STEPS[spec.name]
    xp = F.linear(x, p["weight_ih"], p.get("bias_ih"))  # (L, N, G)
    h, c = h0, c0
    hs, cs, gates = [], [], {k: [] for k in spec.gates} if record else None
    for t in range(x.shape[0]):
        h, c, g = step(xp[t], h, c, p)
        if proj is not None:
            h = F.linear(h, proj)
        if probe is not None:
            h = h + probe[t]
        hs.append(h)
        cs.append(c)
        if gates is not None:
            for k in gates:
                gates[k].append(g[k])
    stacked = {k: torch.stack(v) for k, v in gates.items()} if gates is not None else None
    if stacked is not None and spec.name == "coupled":
        stacked["i"] = 1.0 - stacked["f"]
    return LayerResult(torch.stack(hs), torch.stack(cs) if spec.has_cell_state else None, stacked)
