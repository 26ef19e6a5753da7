"""One time step of the LSTM family, forward and hand-written backward side by side.

Cells: plain ``lstm`` (torch.nn.LSTM layout), ``peephole`` (diagonal peepholes, Gers &
Schmidhuber) and ``coupled`` (input gate tied to the forget gate, i = 1 - f).

Every ``*_step_forward(x, h_prev, c_prev, p)`` returns ``((h, c), cache)`` and every
``*_step_backward(dh, dc, cache)`` returns :class:`StepGrads`. In the backward, ``dh`` is the
total gradient reaching h_t (from the output at t and from step t+1) and ``dc`` the gradient
reaching c_t from step t+1. Shapes: N batch, I input, H hidden.
"""

from __future__ import annotations

import numpy as np

from lstmkit.reference._ops import (
    Array,
    Cache,
    StepGrads,
    affine_backward,
    affine_forward,
    sigmoid,
)

__all__ = [
    "coupled_step_backward",
    "coupled_step_forward",
    "lstm_step_backward",
    "lstm_step_forward",
    "peephole_step_backward",
    "peephole_step_forward",
]


# ---------------------------------------------------------------------------------------------
# lstm
# ---------------------------------------------------------------------------------------------


def lstm_step_forward(
    x: Array, h_prev: Array, c_prev: Array, p: dict[str, Array]
) -> tuple[tuple[Array, Array], Cache]:
    """One LSTM step (torch.nn.LSTM), gate rows i, f, g, o.

    a = x W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh = [a_i | a_f | a_g | a_o]
    i = σ(a_i),  f = σ(a_f),  g = tanh(a_g),  o = σ(a_o)
    c_t = f ⊙ c_{t-1} + i ⊙ g
    h_t = o ⊙ tanh(c_t)
    """
    gi, gh = affine_forward(x, h_prev, p)
    a_i, a_f, a_g, a_o = np.split(gi + gh, 4, axis=1)  # 4 x (N, H)
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)  # 4 x (N, H)
    c = f * c_prev + i * g  # (N, H)
    tanh_c = np.tanh(c)  # (N, H)
    h = o * tanh_c  # (N, H)
    cache = {"x": x, "h_prev": h_prev, "c_prev": c_prev, "p": p}
    cache |= {"i": i, "f": f, "g": g, "o": o, "c": c, "tanh_c": tanh_c, "h": h}
    return (h, c), cache


def lstm_step_backward(dh: Array, dc: Array, cache: Cache) -> StepGrads:
    """Backward of :func:`lstm_step_forward`.

    do = dh ⊙ tanh(c_t);   dc_t = dc + dh ⊙ o ⊙ (1 - tanh²(c_t))
    di = dc_t ⊙ g,  df = dc_t ⊙ c_{t-1},  dg = dc_t ⊙ i,  dc_{t-1} = dc_t ⊙ f
    da = [di i(1-i) | df f(1-f) | dg (1-g²) | do o(1-o)], then through the affine map.
    """
    i, f, g, o, c_prev, tanh_c = (cache[k] for k in ("i", "f", "g", "o", "c_prev", "tanh_c"))
    do = dh * tanh_c  # (N, H)
    dc = dc + dh * o * (1.0 - tanh_c**2)  # (N, H)  total gradient on c_t
    di, df, dg = dc * g, dc * c_prev, dc * i  # 3 x (N, H)
    dc_prev = dc * f  # (N, H)
    da = np.concatenate(
        [di * i * (1.0 - i), df * f * (1.0 - f), dg * (1.0 - g**2), do * o * (1.0 - o)], axis=1
    )  # (N, 4H)
    dx, dh_prev, dparams = affine_backward(da, da, cache["x"], cache["h_prev"], cache["p"])
    return StepGrads(dx, dh_prev, dc_prev, dparams)


# ---------------------------------------------------------------------------------------------
# peephole
# ---------------------------------------------------------------------------------------------


def peephole_step_forward(
    x: Array, h_prev: Array, c_prev: Array, p: dict[str, Array]
) -> tuple[tuple[Array, Array], Cache]:
    """One peephole LSTM step; ``weight_peephole`` (3H,) = [p_i | p_f | p_o], diagonal.

    a = x W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh = [a_i | a_f | a_g | a_o]
    i = σ(a_i + p_i ⊙ c_{t-1}),  f = σ(a_f + p_f ⊙ c_{t-1}),  g = tanh(a_g)
    c_t = f ⊙ c_{t-1} + i ⊙ g
    o = σ(a_o + p_o ⊙ c_t)       (the output gate peeks at the new cell state)
    h_t = o ⊙ tanh(c_t)
    """
    p_i, p_f, p_o = np.split(p["weight_peephole"], 3)  # 3 x (H,)
    gi, gh = affine_forward(x, h_prev, p)
    a_i, a_f, a_g, a_o = np.split(gi + gh, 4, axis=1)  # 4 x (N, H)
    i = sigmoid(a_i + p_i * c_prev)  # (N, H)
    f = sigmoid(a_f + p_f * c_prev)  # (N, H)
    g = np.tanh(a_g)  # (N, H)
    c = f * c_prev + i * g  # (N, H)
    o = sigmoid(a_o + p_o * c)  # (N, H)
    tanh_c = np.tanh(c)  # (N, H)
    h = o * tanh_c  # (N, H)
    cache = {"x": x, "h_prev": h_prev, "c_prev": c_prev, "p": p}
    cache |= {"i": i, "f": f, "g": g, "o": o, "c": c, "tanh_c": tanh_c, "h": h}
    return (h, c), cache


def peephole_step_backward(dh: Array, dc: Array, cache: Cache) -> StepGrads:
    """Backward of :func:`peephole_step_forward`.

    dz_o = dh ⊙ tanh(c_t) ⊙ o(1-o);   dc_t = dc + dh ⊙ o ⊙ (1 - tanh²(c_t)) + dz_o ⊙ p_o
    dz_i = dc_t ⊙ g ⊙ i(1-i),  dz_f = dc_t ⊙ c_{t-1} ⊙ f(1-f),  da_g = dc_t ⊙ i ⊙ (1-g²)
    dc_{t-1} = dc_t ⊙ f + dz_i ⊙ p_i + dz_f ⊙ p_f
    dp_i = Σ_n dz_i ⊙ c_{t-1},  dp_f = Σ_n dz_f ⊙ c_{t-1},  dp_o = Σ_n dz_o ⊙ c_t
    """
    i, f, g, o, c, c_prev, tanh_c = (
        cache[k] for k in ("i", "f", "g", "o", "c", "c_prev", "tanh_c")
    )
    p_i, p_f, p_o = np.split(cache["p"]["weight_peephole"], 3)  # 3 x (H,)
    dz_o = dh * tanh_c * o * (1.0 - o)  # (N, H)
    dc = dc + dh * o * (1.0 - tanh_c**2) + dz_o * p_o  # (N, H)  total gradient on c_t
    dz_i = dc * g * i * (1.0 - i)  # (N, H)
    dz_f = dc * c_prev * f * (1.0 - f)  # (N, H)
    da_g = dc * i * (1.0 - g**2)  # (N, H)
    dc_prev = dc * f + dz_i * p_i + dz_f * p_f  # (N, H)
    da = np.concatenate([dz_i, dz_f, da_g, dz_o], axis=1)  # (N, 4H)
    dx, dh_prev, dparams = affine_backward(da, da, cache["x"], cache["h_prev"], cache["p"])
    dparams["weight_peephole"] = np.concatenate(
        [(dz_i * c_prev).sum(axis=0), (dz_f * c_prev).sum(axis=0), (dz_o * c).sum(axis=0)]
    )  # (3H,)
    return StepGrads(dx, dh_prev, dc_prev, dparams)


# ---------------------------------------------------------------------------------------------
# coupled
# ---------------------------------------------------------------------------------------------


def coupled_step_forward(
    x: Array, h_prev: Array, c_prev: Array, p: dict[str, Array]
) -> tuple[tuple[Array, Array], Cache]:
    """One coupled-gate LSTM step, gate rows f, g, o (no input-gate rows).

    a = x W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh = [a_f | a_g | a_o]
    f = σ(a_f),  i = 1 - f,  g = tanh(a_g),  o = σ(a_o)
    c_t = f ⊙ c_{t-1} + (1 - f) ⊙ g
    h_t = o ⊙ tanh(c_t)
    """
    gi, gh = affine_forward(x, h_prev, p)
    a_f, a_g, a_o = np.split(gi + gh, 3, axis=1)  # 3 x (N, H)
    f, g, o = sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)  # 3 x (N, H)
    i = 1.0 - f  # (N, H)
    c = f * c_prev + i * g  # (N, H)
    tanh_c = np.tanh(c)  # (N, H)
    h = o * tanh_c  # (N, H)
    cache = {"x": x, "h_prev": h_prev, "c_prev": c_prev, "p": p}
    cache |= {"i": i, "f": f, "g": g, "o": o, "c": c, "tanh_c": tanh_c, "h": h}
    return (h, c), cache


def coupled_step_backward(dh: Array, dc: Array, cache: Cache) -> StepGrads:
    """Backward of :func:`coupled_step_forward`.

    do = dh ⊙ tanh(c_t);   dc_t = dc + dh ⊙ o ⊙ (1 - tanh²(c_t))
    df = dc_t ⊙ (c_{t-1} - g),  dg = dc_t ⊙ (1 - f),  dc_{t-1} = dc_t ⊙ f
    da = [df f(1-f) | dg (1-g²) | do o(1-o)], then through the affine map.
    """
    f, g, o, c_prev, tanh_c = (cache[k] for k in ("f", "g", "o", "c_prev", "tanh_c"))
    do = dh * tanh_c  # (N, H)
    dc = dc + dh * o * (1.0 - tanh_c**2)  # (N, H)  total gradient on c_t
    df = dc * (c_prev - g)  # (N, H)
    dg = dc * (1.0 - f)  # (N, H)
    dc_prev = dc * f  # (N, H)
    da = np.concatenate(
        [df * f * (1.0 - f), dg * (1.0 - g**2), do * o * (1.0 - o)], axis=1
    )  # (N, 3H)
    dx, dh_prev, dparams = affine_backward(da, da, cache["x"], cache["h_prev"], cache["p"])
    return StepGrads(dx, dh_prev, dc_prev, dparams)
