"""Cell registry: name -> parameter layout and step functions; parameter init and validation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from lstmkit.reference._ops import Array, Cache, StepGrads
from lstmkit.reference.gru import gru_step_backward, gru_step_forward
from lstmkit.reference.layernorm import layernorm_step_backward, layernorm_step_forward
from lstmkit.reference.lstm_cells import (
    coupled_step_backward,
    coupled_step_forward,
    lstm_step_backward,
    lstm_step_forward,
    peephole_step_backward,
    peephole_step_forward,
)

__all__ = [
    "CELLS",
    "REGISTRY",
    "CellSpec",
    "check_params",
    "gate_names",
    "get_cell",
    "init_params",
    "param_shapes",
]

StepForward = Callable[[Array, Array, Any, dict[str, Array]], tuple[tuple[Array, Any], Cache]]
StepBackward = Callable[[Array, Any, Cache], StepGrads]
Init = Literal["uniform", "ones", "zeros"]


@dataclass(frozen=True)
class CellSpec:
    """What the sequence loop needs to know about one cell type."""

    name: str
    gates: tuple[str, ...]  # gate blocks of weight_ih / weight_hh rows, in row order
    record: tuple[str, ...]  # per-step (N, H) values exposed in cache["steps"]
    has_cell_state: bool  # False for GRU: no c0 / c_n
    step_forward: StepForward
    step_backward: StepBackward
    # cell-specific parameters: (name, length in multiples of H, initialisation)
    extra_params: tuple[tuple[str, int, Init], ...] = ()


_LSTM_RECORD = ("i", "f", "g", "o", "c", "h")

_SPECS = (
    CellSpec(
        name="lstm",
        gates=("i", "f", "g", "o"),
        record=_LSTM_RECORD,
        has_cell_state=True,
        step_forward=lstm_step_forward,
        step_backward=lstm_step_backward,
    ),
    CellSpec(
        name="peephole",
        gates=("i", "f", "g", "o"),
        record=_LSTM_RECORD,
        has_cell_state=True,
        step_forward=peephole_step_forward,
        step_backward=peephole_step_backward,
        extra_params=(("weight_peephole", 3, "uniform"),),  # [p_i | p_f | p_o]
    ),
    CellSpec(
        name="coupled",
        gates=("f", "g", "o"),  # i = 1 - f has no rows of its own
        record=_LSTM_RECORD,
        has_cell_state=True,
        step_forward=coupled_step_forward,
        step_backward=coupled_step_backward,
    ),
    CellSpec(
        name="gru",
        gates=("r", "z", "n"),
        record=("r", "z", "n", "h"),
        has_cell_state=False,
        step_forward=gru_step_forward,
        step_backward=gru_step_backward,
    ),
    CellSpec(
        name="layernorm",
        gates=("i", "f", "g", "o"),
        record=_LSTM_RECORD,
        has_cell_state=True,
        step_forward=layernorm_step_forward,
        step_backward=layernorm_step_backward,
        extra_params=(
            ("ln_gates_weight", 4, "ones"),  # gains of the i, f, g, o blocks
            ("ln_gates_bias", 4, "zeros"),
            ("ln_cell_weight", 1, "ones"),  # gain and bias of LN(c_t)
            ("ln_cell_bias", 1, "zeros"),
        ),
    ),
)

REGISTRY: dict[str, CellSpec] = {spec.name: spec for spec in _SPECS}

CELLS: tuple[str, ...] = tuple(REGISTRY)


def get_cell(cell: str) -> CellSpec:
    """The registry entry for ``cell``; a clear ``ValueError`` for an unknown name."""
    try:
        return REGISTRY[cell]
    except (KeyError, TypeError):
        raise ValueError(f"unknown cell {cell!r}; expected one of: {', '.join(CELLS)}") from None


def gate_names(cell: str) -> tuple[str, ...]:
    """Gate blocks of ``weight_ih`` / ``weight_hh`` rows, in row order (e.g. i, f, g, o)."""
    return get_cell(cell).gates


def param_shapes(
    input_size: int, hidden_size: int, cell: str = "lstm"
) -> dict[str, tuple[int, ...]]:
    """Shape of every parameter of ``cell`` (torch.nn.LSTM / GRU layout for the shared ones)."""
    spec = get_cell(cell)
    gh = len(spec.gates) * hidden_size  # rows of the stacked gate matrices
    shapes: dict[str, tuple[int, ...]] = {
        "weight_ih": (gh, input_size),
        "weight_hh": (gh, hidden_size),
        "bias_ih": (gh,),
        "bias_hh": (gh,),
    }
    shapes |= {name: (k * hidden_size,) for name, k, _ in spec.extra_params}
    return shapes


def init_params(
    input_size: int, hidden_size: int, cell: str = "lstm", seed: int | None = 0
) -> dict[str, Array]:
    """Float64 parameters for ``cell``.

    Weights, biases and peephole weights ~ U(-1/sqrt(H), 1/sqrt(H)) (as torch), drawn in key
    order from ``np.random.default_rng(seed)``; layer-norm gains are 1 and biases 0.
    """
    for arg, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{arg} must be a positive integer, got {value!r}")
    spec = get_cell(cell)
    inits: dict[str, Init] = {name: kind for name, _, kind in spec.extra_params}
    rng = np.random.default_rng(seed)
    bound = 1.0 / np.sqrt(hidden_size)
    params: dict[str, Array] = {}
    for name, shape in param_shapes(input_size, hidden_size, cell).items():
        kind = inits.get(name, "uniform")
        if kind == "uniform":
            params[name] = rng.uniform(-bound, bound, size=shape)
        else:
            params[name] = np.full(shape, 1.0 if kind == "ones" else 0.0)
    return params


def check_params(params: Mapping[str, Any], cell: str) -> tuple[int, int]:
    """Validate keys and shapes of ``params`` for ``cell``; returns (input_size, hidden_size)."""
    spec = get_cell(cell)
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    expected = param_shapes(1, 1, cell)
    missing = [k for k in expected if k not in params]
    if missing:
        raise ValueError(
            f"params for cell {cell!r} are missing {missing}; expected keys {list(expected)} "
            f"(init_params(input_size, hidden_size, cell={cell!r}) makes a complete set)"
        )
    unexpected = [k for k in params if k not in expected]
    if unexpected:
        raise ValueError(
            f"params hold keys {unexpected} that cell {cell!r} does not use; "
            f"expected keys {list(expected)}"
        )
    w_ih, w_hh = np.shape(params["weight_ih"]), np.shape(params["weight_hh"])
    if len(w_ih) != 2 or len(w_hh) != 2:
        raise ValueError(
            f"weight_ih and weight_hh must be 2-D, got shapes {w_ih} and {w_hh} for cell {cell!r}"
        )
    input_size, hidden_size = w_ih[1], w_hh[1]
    for name, shape in param_shapes(input_size, hidden_size, spec.name).items():
        if np.shape(params[name]) != shape:
            raise ValueError(
                f"params[{name!r}] has shape {np.shape(params[name])}, expected {shape} for "
                f"cell {cell!r} with input_size={input_size}, hidden_size={hidden_size}"
            )
    return input_size, hidden_size
