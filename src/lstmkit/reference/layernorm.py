"""One layer-normalised LSTM step (Ba et al. 2016), forward and backward side by side.

Each of the four gate blocks is normalised separately over its H units, and the cell state is
normalised before the output tanh. Shapes: N batch, I input, H hidden.
"""

from __future__ import annotations

import numpy as np

from lstmkit.reference._ops import (
    Array,
    Cache,
    StepGrads,
    affine_backward,
    affine_forward,
    layer_norm_backward,
    layer_norm_forward,
    sigmoid,
)

__all__ = ["layernorm_step_backward", "layernorm_step_forward"]


def layernorm_step_forward(
    x: Array, h_prev: Array, c_prev: Array, p: dict[str, Array]
) -> tuple[tuple[Array, Array], Cache]:
    """One layer-norm LSTM step, gate rows i, f, g, o.

    a = x W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh = [a_i | a_f | a_g | a_o]
    â_k = LN(a_k) ⊙ γ_k + β_k        for k in i, f, g, o  (γ, β: k-th H-slice of ln_gates_*)
    i = σ(â_i),  f = σ(â_f),  g = tanh(â_g),  o = σ(â_o)
    c_t = f ⊙ c_{t-1} + i ⊙ g
    h_t = o ⊙ tanh(LN(c_t) ⊙ γ_c + β_c)
    LN(v) = (v - mean(v)) / sqrt(var(v) + 1e-5) over the H units (biased variance).
    """
    hidden = h_prev.shape[1]
    gi, gh = affine_forward(x, h_prev, p)
    a = (gi + gh).reshape(-1, 4, hidden)  # (N, 4, H)
    gamma_g = p["ln_gates_weight"].reshape(4, hidden)  # (4, H)
    beta_g = p["ln_gates_bias"].reshape(4, hidden)  # (4, H)
    a_hat, ln_gates = layer_norm_forward(a, gamma_g, beta_g)  # (N, 4, H)
    i, f, o = sigmoid(a_hat[:, 0]), sigmoid(a_hat[:, 1]), sigmoid(a_hat[:, 3])  # 3 x (N, H)
    g = np.tanh(a_hat[:, 2])  # (N, H)
    c = f * c_prev + i * g  # (N, H)
    c_hat, ln_cell = layer_norm_forward(c, p["ln_cell_weight"], p["ln_cell_bias"])  # (N, H)
    tanh_c = np.tanh(c_hat)  # (N, H)
    h = o * tanh_c  # (N, H)
    cache = {"x": x, "h_prev": h_prev, "c_prev": c_prev, "p": p}
    cache |= {"i": i, "f": f, "g": g, "o": o, "c": c, "tanh_c": tanh_c, "h": h}
    cache |= {"ln_gates": ln_gates, "ln_cell": ln_cell}
    return (h, c), cache


def layernorm_step_backward(dh: Array, dc: Array, cache: Cache) -> StepGrads:
    """Backward of :func:`layernorm_step_forward`.

    do = dh ⊙ tanh(ĉ);   dĉ = dh ⊙ o ⊙ (1 - tanh²(ĉ));   dc_t = dc + LN_backward(dĉ)
    di = dc_t ⊙ g,  df = dc_t ⊙ c_{t-1},  dg = dc_t ⊙ i,  dc_{t-1} = dc_t ⊙ f
    dâ = [di i(1-i) | df f(1-f) | dg (1-g²) | do o(1-o)];  da = LN_backward(dâ) per block,
    then through the affine map.
    """
    i, f, g, o, c_prev, tanh_c = (cache[k] for k in ("i", "f", "g", "o", "c_prev", "tanh_c"))
    do = dh * tanh_c  # (N, H)
    dc_hat = dh * o * (1.0 - tanh_c**2)  # (N, H)
    dc_ln, dgamma_c, dbeta_c = layer_norm_backward(dc_hat, cache["ln_cell"])  # (N, H), 2 x (H,)
    dc = dc + dc_ln  # (N, H)  total gradient on c_t
    di, df, dg = dc * g, dc * c_prev, dc * i  # 3 x (N, H)
    dc_prev = dc * f  # (N, H)
    da_hat = np.stack(
        [di * i * (1.0 - i), df * f * (1.0 - f), dg * (1.0 - g**2), do * o * (1.0 - o)], axis=1
    )  # (N, 4, H)
    da, dgamma_g, dbeta_g = layer_norm_backward(da_hat, cache["ln_gates"])  # (N, 4, H), 2 x (4, H)
    da = da.reshape(da.shape[0], -1)  # (N, 4H)
    dx, dh_prev, dparams = affine_backward(da, da, cache["x"], cache["h_prev"], cache["p"])
    dparams["ln_gates_weight"] = dgamma_g.reshape(-1)  # (4H,)
    dparams["ln_gates_bias"] = dbeta_g.reshape(-1)  # (4H,)
    dparams["ln_cell_weight"] = dgamma_c  # (H,)
    dparams["ln_cell_bias"] = dbeta_c  # (H,)
    return StepGrads(dx, dh_prev, dc_prev, dparams)
