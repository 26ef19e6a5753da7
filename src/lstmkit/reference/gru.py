"""One GRU time step (torch.nn.GRU's equations and layout), forward and backward side by side.

The signature matches the LSTM family's so the sequence loop treats every cell alike; the GRU
has no cell state, so ``c_prev`` is ``None`` and so is the returned ``c``.
Shapes: N batch, I input, H hidden.
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

__all__ = ["gru_step_backward", "gru_step_forward"]


def gru_step_forward(
    x: Array, h_prev: Array, c_prev: None, p: dict[str, Array]
) -> tuple[tuple[Array, None], Cache]:
    """One GRU step, gate rows r, z, n (torch.nn.GRU).

    gi = x W_ih^T + b_ih = [gi_r | gi_z | gi_n],   gh = h_{t-1} W_hh^T + b_hh = [gh_r | gh_z | gh_n]
    r = σ(gi_r + gh_r),  z = σ(gi_z + gh_z)
    n = tanh(gi_n + r ⊙ gh_n)        (the reset gate scales W_hn h + b_hn, bias included)
    h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}
    """
    gi, gh = affine_forward(x, h_prev, p)
    gi_r, gi_z, gi_n = np.split(gi, 3, axis=1)  # 3 x (N, H)
    gh_r, gh_z, gh_n = np.split(gh, 3, axis=1)  # 3 x (N, H)
    r = sigmoid(gi_r + gh_r)  # (N, H)
    z = sigmoid(gi_z + gh_z)  # (N, H)
    n = np.tanh(gi_n + r * gh_n)  # (N, H)
    h = (1.0 - z) * n + z * h_prev  # (N, H)
    cache = {"x": x, "h_prev": h_prev, "p": p, "r": r, "z": z, "n": n, "gh_n": gh_n, "h": h}
    return (h, None), cache


def gru_step_backward(dh: Array, dc: None, cache: Cache) -> StepGrads:
    """Backward of :func:`gru_step_forward` (``dc`` is unused: no cell state).

    dn = dh ⊙ (1 - z),  dz = dh ⊙ (h_{t-1} - n),  dh_{t-1} = dh ⊙ z + (recurrent part below)
    da_n = dn ⊙ (1 - n²),  dr = da_n ⊙ gh_n
    dgi = [dr r(1-r) | dz z(1-z) | da_n],   dgh = [dr r(1-r) | dz z(1-z) | da_n ⊙ r]
    """
    r, z, n, gh_n, h_prev = (cache[k] for k in ("r", "z", "n", "gh_n", "h_prev"))
    dn = dh * (1.0 - z)  # (N, H)
    dz = dh * (h_prev - n)  # (N, H)
    da_n = dn * (1.0 - n**2)  # (N, H)
    dr = da_n * gh_n  # (N, H)
    da_r = dr * r * (1.0 - r)  # (N, H)
    da_z = dz * z * (1.0 - z)  # (N, H)
    dgi = np.concatenate([da_r, da_z, da_n], axis=1)  # (N, 3H)
    dgh = np.concatenate([da_r, da_z, da_n * r], axis=1)  # (N, 3H)
    dx, dh_prev, dparams = affine_backward(dgi, dgh, cache["x"], h_prev, cache["p"])
    dh_prev = dh_prev + dh * z  # (N, H)  direct path h_{t-1} -> h_t
    return StepGrads(dx, dh_prev, None, dparams)
