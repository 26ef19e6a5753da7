"""Building blocks shared by the cells: activations, the gate affine map and layer norm.

Each operation's backward sits right below its forward. Shapes: N batch, I input, H hidden,
G number of gate blocks (4 for LSTM, 3 for coupled / GRU).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "LN_EPS",
    "Array",
    "Cache",
    "StepGrads",
    "affine_backward",
    "affine_forward",
    "layer_norm_backward",
    "layer_norm_forward",
    "sigmoid",
]

Array = NDArray[np.floating[Any]]
Cache = dict[str, Any]

LN_EPS = 1e-5  # layer-norm epsilon, added to the biased variance (as torch.nn.LayerNorm)


class StepGrads(NamedTuple):
    """Gradients returned by every ``*_step_backward``."""

    x: Array  # (N, I)  dL/dx_t
    h_prev: Array  # (N, H)  dL/dh_{t-1}
    c_prev: Array | None  # (N, H)  dL/dc_{t-1}; None for cells without a cell state (GRU)
    params: dict[str, Array]  # this step's contribution to dL/dparams (same shapes as params)


def sigmoid(a: Array) -> Array:
    """σ(a) = 1 / (1 + e^{-a}), written as (1 + tanh(a/2)) / 2 so it never overflows.

    Its derivative is σ'(a) = σ(a) (1 - σ(a)); backward code uses that form.
    """
    return 0.5 * (1.0 + np.tanh(0.5 * a))


# ---------------------------------------------------------------------------------------------
# gate pre-activations: gi = x W_ih^T + b_ih,  gh = h_{t-1} W_hh^T + b_hh
# ---------------------------------------------------------------------------------------------


def affine_forward(x: Array, h_prev: Array, p: dict[str, Array]) -> tuple[Array, Array]:
    """Input and recurrent parts of the gate pre-activations, kept apart (GRU needs them apart).

    gi = x W_ih^T + b_ih,    gh = h_{t-1} W_hh^T + b_hh.    LSTM-type cells use a = gi + gh.
    """
    gi = x @ p["weight_ih"].T + p["bias_ih"]  # (N, GH)
    gh = h_prev @ p["weight_hh"].T + p["bias_hh"]  # (N, GH)
    return gi, gh


def affine_backward(
    dgi: Array, dgh: Array, x: Array, h_prev: Array, p: dict[str, Array]
) -> tuple[Array, Array, dict[str, Array]]:
    """Backward of :func:`affine_forward`: returns (dx, dh_prev, {weight/bias grads}).

    dW_ih = dgi^T x,  db_ih = Σ_n dgi,  dW_hh = dgh^T h_{t-1},  db_hh = Σ_n dgh,
    dx = dgi W_ih,    dh_{t-1} = dgh W_hh.
    """
    dx = dgi @ p["weight_ih"]  # (N, I)
    dh_prev = dgh @ p["weight_hh"]  # (N, H)
    grads = {
        "weight_ih": dgi.T @ x,  # (GH, I)
        "weight_hh": dgh.T @ h_prev,  # (GH, H)
        "bias_ih": dgi.sum(axis=0),  # (GH,)
        "bias_hh": dgh.sum(axis=0),  # (GH,)
    }
    return dx, dh_prev, grads


# ---------------------------------------------------------------------------------------------
# layer norm over the last axis: y = (a - μ) / sqrt(σ² + eps) ⊙ γ + β
# ---------------------------------------------------------------------------------------------


def layer_norm_forward(a: Array, gamma: Array, beta: Array) -> tuple[Array, Cache]:
    """Layer norm over the last axis (biased variance, eps = 1e-5).

    μ = mean(a),  σ² = mean((a - μ)²),  â = (a - μ) / sqrt(σ² + eps),  y = â ⊙ γ + β.
    ``a`` is (N, ..., H); ``gamma`` / ``beta`` broadcast against its trailing axes.
    """
    mu = a.mean(axis=-1, keepdims=True)  # (N, ..., 1)
    rstd = 1.0 / np.sqrt(a.var(axis=-1, keepdims=True) + LN_EPS)  # (N, ..., 1)
    a_hat = (a - mu) * rstd  # (N, ..., H)
    y = a_hat * gamma + beta  # (N, ..., H)
    return y, {"a_hat": a_hat, "rstd": rstd, "gamma": gamma}


def layer_norm_backward(dy: Array, cache: Cache) -> tuple[Array, Array, Array]:
    """Backward of :func:`layer_norm_forward`: returns (da, dgamma, dbeta).

    dâ = dy ⊙ γ,   da = rstd (dâ - mean(dâ) - â mean(dâ ⊙ â)),
    dγ = Σ_n dy ⊙ â,   dβ = Σ_n dy.
    """
    a_hat, rstd, gamma = cache["a_hat"], cache["rstd"], cache["gamma"]
    da_hat = dy * gamma  # (N, ..., H)
    da = rstd * (
        da_hat
        - da_hat.mean(axis=-1, keepdims=True)
        - a_hat * (da_hat * a_hat).mean(axis=-1, keepdims=True)
    )  # (N, ..., H)
    dgamma = (dy * a_hat).sum(axis=0)  # gamma's shape
    dbeta = dy.sum(axis=0)  # beta's shape
    return da, dgamma, dbeta
