"""Parameter creation and initialisation shared by ``LSTM`` and ``LSTMCell``."""

from __future__ import annotations

import math

import torch
from torch import nn

from lstmkit.kernels.cells import CellSpec

__all__ = ["INITS", "init_layer", "layer_param_names", "make_layer_params"]

INITS = ("uniform", "orthogonal")


def layer_param_names(spec: CellSpec, bias: bool, suffix: str = "") -> list[str | None]:
    """Names in kernel order [w_ih, w_hh, b_ih, b_hh, *extras]; None for an absent bias."""
    names: list[str | None] = [f"weight_ih{suffix}", f"weight_hh{suffix}"]
    names += [f"bias_ih{suffix}", f"bias_hh{suffix}"] if bias else [None, None]
    names += [f"{e.name}{suffix}" for e in spec.extras]
    return names


def make_layer_params(
    spec: CellSpec,
    input_size: int,
    hidden_size: int,
    bias: bool,
    suffix: str = "",
    proj_size: int = 0,
) -> dict[str, nn.Parameter]:
    """Uninitialised parameters of one layer and direction, keyed by their full names.

    With ``proj_size`` P > 0 (torch.nn.LSTM's projections) the recurrence reads the projected
    state: ``weight_hh`` is (G, P) and ``weight_hr`` (P, H) maps o⊙tanh(c) to h."""
    G = spec.blocks * hidden_size
    recurrent = proj_size or hidden_size
    shapes = {f"weight_ih{suffix}": (G, input_size), f"weight_hh{suffix}": (G, recurrent)}
    if bias:
        shapes[f"bias_ih{suffix}"] = (G,)
        shapes[f"bias_hh{suffix}"] = (G,)
    for e in spec.extras:
        shapes[f"{e.name}{suffix}"] = (e.blocks * hidden_size,)
    if proj_size:
        shapes[f"weight_hr{suffix}"] = (proj_size, hidden_size)
    return {n: nn.Parameter(torch.empty(s)) for n, s in shapes.items()}


@torch.no_grad()
def init_layer(
    spec: CellSpec,
    params: dict[str, nn.Parameter],
    hidden_size: int,
    suffix: str = "",
    forget_bias: float | None = None,
    recurrent_init: str = "uniform",
) -> None:
    """torch.nn.LSTM's init (uniform ±1/sqrt(H)), with the forget-bias and orthogonal options."""
    k = 1.0 / math.sqrt(hidden_size)
    init_of = {f"{e.name}{suffix}": e.init for e in spec.extras}
    for name, p in params.items():
        kind = init_of.get(name, "uniform")
        if kind == "ones":
            p.fill_(1.0)
        elif kind == "zeros":
            p.zero_()
        else:
            p.uniform_(-k, k)
    if recurrent_init == "orthogonal":
        for block in params[f"weight_hh{suffix}"].chunk(spec.blocks):
            nn.init.orthogonal_(block)
    if forget_bias is not None and f"bias_ih{suffix}" in params:
        H = hidden_size
        fb = spec.forget_block
        params[f"bias_ih{suffix}"][fb * H : (fb + 1) * H] = forget_bias
        params[f"bias_hh{suffix}"][fb * H : (fb + 1) * H] = 0.0
