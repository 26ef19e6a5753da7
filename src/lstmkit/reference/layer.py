"""The sequence loop: forward over time with any registered cell, and BPTT back through it.

Shapes: N batch, L length, I input, H hidden.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from lstmkit.reference._ops import Array, Cache
from lstmkit.reference.registry import check_params, get_cell

__all__ = ["lstm_backward", "lstm_forward"]


def lstm_forward(
    x: ArrayLike,
    params: Mapping[str, ArrayLike],
    h0: ArrayLike | None = None,
    c0: ArrayLike | None = None,
    cell: str = "lstm",
) -> tuple[Array, Cache]:
    """Run ``cell`` over a batch of sequences, one step at a time.

    Args:
        x: inputs ``(N, L, I)``.
        params: the cell's parameters (see :func:`init_params`); ``I`` and ``H`` come from them.
        h0, c0: initial states ``(N, H)``; zeros when None. ``c0`` must be None for ``"gru"``.
        cell: one of :data:`CELLS`.

    Returns:
        ``h_seq`` ``(N, L, H)`` and ``cache``: everything :func:`lstm_backward` needs, plus for
        inspection ``cache["h_n"]``, ``cache["c_n"]`` (None for GRU) and ``cache["steps"]``, a
        dict of per-step values ``(N, L, H)`` keyed i, f, g, o, c, h (GRU: r, z, n, h).

    Computes in the promoted dtype of ``x`` and ``params`` (float64 if either is float64).
    The inputs are copied, so changing them afterwards does not affect the backward.
    """
    spec = get_cell(cell)
    input_size, hidden = check_params(params, cell)
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"x must be 3-D (N, L, I), got shape {x.shape}")
    if x.shape[-1] != input_size:
        raise ValueError(
            f"x.shape[-1] must equal the input size of params['weight_ih']. "
            f"Expected {input_size}, got {x.shape[-1]}"
        )
    dtype = np.result_type(x.dtype, *(np.asarray(v).dtype for v in params.values()), np.float32)
    n, length, _ = x.shape
    x = x.astype(dtype)  # (N, L, I)  a private copy
    p = {k: np.array(v, dtype=dtype) for k, v in params.items()}
    h = _state(h0, "h0", (n, hidden), dtype)  # (N, H)
    c = _cell_state(c0, "c0", spec.has_cell_state, spec.name, (n, hidden), dtype)  # (N, H) | None
    h_init, c_init = h, c

    step_caches: list[Cache] = []
    for t in range(length):
        (h, c), step = spec.step_forward(x[:, t], h, c, p)  # (N, H), (N, H) | None
        step_caches.append(step)

    steps = {  # each (N, L, H)
        k: np.stack([s[k] for s in step_caches], axis=1)
        if step_caches
        else np.zeros((n, 0, hidden), dtype)
        for k in spec.record
    }
    cache: Cache = {
        "cell": spec.name,
        "params": p,
        "x_shape": (n, length, input_size),
        "hidden_size": hidden,
        "dtype": dtype,
        "h0": h_init,
        "c0": c_init,
        "h_n": h,
        "c_n": c,
        "steps": steps,
        "step_caches": step_caches,
    }
    return steps["h"].copy(), cache


def lstm_backward(
    dh_seq: ArrayLike,
    cache: Cache,
    dh_n: ArrayLike | None = None,
    dc_n: ArrayLike | None = None,
) -> dict[str, Array]:
    """Backpropagation through time for :func:`lstm_forward`.

    Args:
        dh_seq: dL/dh_seq ``(N, L, H)``.
        cache: the second return value of :func:`lstm_forward`.
        dh_n, dc_n: optional extra gradients ``(N, H)`` on the final states h_n and c_n
            (``dc_n`` must be None for ``"gru"``).

    Returns:
        The gradient of every key of ``params`` (same shapes), plus ``"x"`` ``(N, L, I)``,
        ``"h0"`` ``(N, H)`` and, for cells with a cell state, ``"c0"`` ``(N, H)``.

    Walking t = L-1 .. 0, the gradient reaching h_t is dh_seq[:, t] plus what step t+1 sent
    back; the gradient reaching c_t comes from step t+1 only (or dc_n at t = L-1).
    """
    if not isinstance(cache, Mapping) or "step_caches" not in cache:
        raise TypeError("cache must be the dict returned by lstm_forward")
    spec = get_cell(cache["cell"])
    n, length, input_size = cache["x_shape"]
    hidden, dtype = cache["hidden_size"], cache["dtype"]
    dh_seq = np.asarray(dh_seq, dtype=dtype)
    if dh_seq.shape != (n, length, hidden):
        raise ValueError(
            f"dh_seq must have the shape of h_seq (N, L, H). "
            f"Expected {(n, length, hidden)}, got {dh_seq.shape}"
        )
    dh = _state(dh_n, "dh_n", (n, hidden), dtype)  # (N, H)
    dc = _cell_state(dc_n, "dc_n", spec.has_cell_state, spec.name, (n, hidden), dtype)

    grads = {k: np.zeros_like(v) for k, v in cache["params"].items()}
    dx = np.zeros((n, length, input_size), dtype)  # (N, L, I)
    for t in reversed(range(length)):
        step = spec.step_backward(dh_seq[:, t] + dh, dc, cache["step_caches"][t])
        dx[:, t] = step.x  # (N, I)
        dh, dc = step.h_prev, step.c_prev  # (N, H), (N, H) | None
        for k, g in step.params.items():
            grads[k] += g

    grads["x"] = dx
    grads["h0"] = dh
    if spec.has_cell_state:
        grads["c0"] = dc
    return grads


def _state(value: ArrayLike | None, name: str, shape: tuple[int, int], dtype: Any) -> Array:
    """``value`` as a ``(N, H)`` array of ``dtype`` (a copy), or zeros when None."""
    if value is None:
        return np.zeros(shape, dtype)
    arr = np.array(value, dtype=dtype)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape (N, H). Expected {shape}, got {arr.shape}")
    return arr


def _cell_state(
    value: ArrayLike | None,
    name: str,
    has_cell_state: bool,
    cell: str,
    shape: tuple[int, int],
    dtype: Any,
) -> Array | None:
    """Like :func:`_state` for the cell state; None (and must be None) for cells without one."""
    if has_cell_state:
        return _state(value, name, shape, dtype)
    if value is not None:
        raise ValueError(f"cell {cell!r} has no cell state; {name} must be None")
    return None
