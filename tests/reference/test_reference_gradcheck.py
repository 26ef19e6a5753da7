"""Hand-written BPTT of every reference cell vs central finite differences (float64)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from lstmkit import reference as ref

N, L, I, H = 2, 4, 3, 4
STEP = 1e-6
TOL = 1e-6


def _numeric_grad(loss: Callable[[], float], arr: np.ndarray) -> np.ndarray:
    """Central differences of ``loss()`` with respect to ``arr``, perturbed in place."""
    grad = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        old = arr[idx]
        arr[idx] = old + STEP
        plus = loss()
        arr[idx] = old - STEP
        minus = loss()
        arr[idx] = old
        grad[idx] = (plus - minus) / (2 * STEP)
    return grad


def _rel_err(analytic: np.ndarray, numeric: np.ndarray) -> float:
    return float(np.abs(analytic - numeric).max() / max(1e-8, np.abs(numeric).max()))


def gradcheck_errors(cell: str, seed: int = 0) -> dict[str, float]:
    """Relative error (max abs diff / max abs numeric) for every param key, x, h0 and c0.

    The loss weighs h_seq, h_n and (cells with a cell state) c_n with random weights, so the
    dh_n / dc_n inputs of lstm_backward are exercised too.
    """
    rng = np.random.default_rng(seed)
    params = ref.init_params(I, H, cell=cell, seed=seed)
    for key in params:  # move layer-norm gains / biases off 1 / 0 so nothing is special-cased
        if key.startswith("ln_"):
            params[key] += 0.3 * rng.standard_normal(params[key].shape)
    has_c = ref.REGISTRY[cell].has_cell_state
    x = rng.standard_normal((N, L, I))  # (N, L, I)
    h0 = rng.standard_normal((N, H))  # (N, H)
    c0 = rng.standard_normal((N, H)) if has_c else None  # (N, H)
    w_seq = rng.standard_normal((N, L, H))  # dL/dh_seq
    w_h = rng.standard_normal((N, H))  # dL/dh_n
    w_c = rng.standard_normal((N, H)) if has_c else None  # dL/dc_n

    def loss() -> float:
        h_seq, cache = ref.lstm_forward(x, params, h0=h0, c0=c0, cell=cell)
        total = (h_seq * w_seq).sum() + (cache["h_n"] * w_h).sum()
        if has_c:
            total += (cache["c_n"] * w_c).sum()
        return float(total)

    _, cache = ref.lstm_forward(x, params, h0=h0, c0=c0, cell=cell)
    grads = ref.lstm_backward(w_seq, cache, dh_n=w_h, dc_n=w_c)
    wrt = dict(params) | {"x": x, "h0": h0} | ({"c0": c0} if has_c else {})
    assert set(grads) == set(wrt)
    errors = {}
    for key, arr in wrt.items():
        assert grads[key].shape == arr.shape, key
        assert grads[key].dtype == np.float64, key
        errors[key] = _rel_err(grads[key], _numeric_grad(loss, arr))
    return errors


@pytest.mark.parametrize("cell", ref.CELLS)
def test_bptt_matches_finite_differences(cell: str) -> None:
    errors = gradcheck_errors(cell)
    bad = {k: e for k, e in errors.items() if not e < TOL}
    assert not bad, f"{cell}: relative errors above {TOL}: {bad}"


@pytest.mark.parametrize("cell", ref.CELLS)
def test_zero_initial_state_path(cell: str) -> None:
    """Default (zero) initial state and no dh_n / dc_n, as the conformance check calls it."""
    rng = np.random.default_rng(2)
    params = ref.init_params(I, H, cell=cell, seed=1)
    x = rng.standard_normal((N, L, I))
    w = rng.standard_normal((N, L, H))

    def loss() -> float:
        h_seq, _ = ref.lstm_forward(x, params, cell=cell)
        return float((h_seq * w).sum())

    _, cache = ref.lstm_forward(x, params, cell=cell)
    grads = ref.lstm_backward(w, cache)
    for key in [*params, "x"]:
        arr = x if key == "x" else params[key]
        assert _rel_err(grads[key], _numeric_grad(loss, arr)) < TOL, key
