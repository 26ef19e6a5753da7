"""NumPy reference LSTM cells with hand-written backpropagation through time.

NumPy only (never imports torch), float64 by default, written to be read next to the equations:
each cell is one step's forward and that step's backward side by side
(``*_step_forward(x, h_prev, c_prev, p) -> ((h, c), cache)``,
``*_step_backward(dh, dc, cache) -> StepGrads``); :func:`lstm_forward` / :func:`lstm_backward`
run the loop over time. Cells (:data:`CELLS`): ``lstm``, ``peephole``, ``coupled``, ``gru``,
``layernorm``; ``lstm`` and ``gru`` use torch.nn.LSTM / torch.nn.GRU's parameter layout.

Example:
    >>> import numpy as np
    >>> from lstmkit import reference as ref
    >>> params = ref.init_params(3, 4, cell="lstm", seed=0)
    >>> x = np.random.default_rng(0).standard_normal((2, 5, 3))  # (N, L, I)
    >>> h_seq, cache = ref.lstm_forward(x, params)  # (N, L, H)
    >>> grads = ref.lstm_backward(np.ones_like(h_seq), cache)
    >>> sorted(grads)
    ['bias_hh', 'bias_ih', 'c0', 'h0', 'weight_hh', 'weight_ih', 'x']
"""

from __future__ import annotations

from lstmkit.reference._ops import StepGrads
from lstmkit.reference.gru import gru_step_backward, gru_step_forward
from lstmkit.reference.layer import lstm_backward, lstm_forward
from lstmkit.reference.layernorm import layernorm_step_backward, layernorm_step_forward
from lstmkit.reference.lstm_cells import (
    coupled_step_backward,
    coupled_step_forward,
    lstm_step_backward,
    lstm_step_forward,
    peephole_step_backward,
    peephole_step_forward,
)
from lstmkit.reference.registry import (
    CELLS,
    REGISTRY,
    CellSpec,
    gate_names,
    init_params,
    param_shapes,
)

__all__ = [
    "CELLS",
    "REGISTRY",
    "CellSpec",
    "StepGrads",
    "coupled_step_backward",
    "coupled_step_forward",
    "gate_names",
    "gru_step_backward",
    "gru_step_forward",
    "init_params",
    "layernorm_step_backward",
    "layernorm_step_forward",
    "lstm_backward",
    "lstm_forward",
    "lstm_step_backward",
    "lstm_step_forward",
    "param_shapes",
    "peephole_step_backward",
    "peephole_step_forward",
]
