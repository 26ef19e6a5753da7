"""lstmkit's fused kernels (backend="fused") against the NumPy reference (hand-written BPTT) in
float64, for every cell: the same parameters copied in, the same inputs and the same upstream
gradients give the reference's h_seq, h_n, c_n and every gradient to 1e-10."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from lstmkit import reference as ref
from lstmkit.kernels import _ext, _loops
from lstmkit.nn import LSTM

CELLS = ["lstm", "peephole", "coupled", "gru", "layernorm"]
N, L, I, H = 3, 5, 4, 6
TOL = 1e-10


def _loop_context(loops: str):
    """'cpp': lstmkit's C++ loops (skipped when they cannot be built); 'eager': _loops_py."""
    if loops == "eager":
        return _loops.eager()
    if not _ext.load():
        pytest.skip(f"C++ loops unavailable: {_ext.error()}")
    return contextlib.nullcontext()


def _reference_params(cell: str, seed: int) -> dict[str, np.ndarray]:
    """init_params, with the layer-norm gains and biases (1 and 0 there) drawn at random too,
    so that a kernel mixing them up cannot pass."""
    params = ref.init_params(I, H, cell=cell, seed=seed)
    rng = np.random.default_rng(seed + 100)
    for key in params:
        if key.startswith("ln_"):
            params[key] = rng.uniform(0.5, 1.5, params[key].shape) * rng.choice([-1, 1])
    return params


def _fused_layer(params: dict[str, np.ndarray], cell: str, batch_first: bool) -> LSTM:
    """A one-layer fused LSTM holding the reference's parameters: key ``k`` -> ``k_l0``."""
    model = LSTM(I, H, 1, cell=cell, backend="fused", batch_first=batch_first).double()
    names = {n for n, _ in model.named_parameters()}
    assert names == {f"{k}_l0" for k in params}, (sorted(names), sorted(params))
    with torch.no_grad():
        for key, value in params.items():
            getattr(model, f"{key}_l0").copy_(torch.from_numpy(value))
    return model


@pytest.mark.parametrize("loops", ["cpp", "eager"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero-state", "h0-c0"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["NLI", "LNI"])
@pytest.mark.parametrize("cell", CELLS)
def test_fused_matches_reference_forward_and_gradients(cell, batch_first, with_state, loops):
    has_c = cell != "gru"
    rng = np.random.default_rng(CELLS.index(cell))
    params = _reference_params(cell, seed=CELLS.index(cell) + 1)
    x = rng.standard_normal((N, L, I))  # (N, L, I)
    h0 = rng.standard_normal((N, H)) if with_state else None  # (N, H)
    c0 = rng.standard_normal((N, H)) if with_state and has_c else None  # (N, H)
    dh_seq = rng.standard_normal((N, L, H))  # upstream gradients
    dh_n = rng.standard_normal((N, H))
    dc_n = rng.standard_normal((N, H)) if has_c else None

    h_seq, cache = ref.lstm_forward(x, params, h0=h0, c0=c0, cell=cell)
    grads = ref.lstm_backward(dh_seq, cache, dh_n=dh_n, dc_n=dc_n)

    model = _fused_layer(params, cell, batch_first)
    tx = torch.from_numpy(x if batch_first else x.transpose(1, 0, 2).copy()).requires_grad_()
    zeros = np.zeros((N, H))
    th0 = torch.from_numpy(zeros if h0 is None else h0)[None].requires_grad_()  # (1, N, H)
    tc0 = torch.from_numpy(zeros if c0 is None else c0)[None].requires_grad_()
    with _loop_context(loops):
        out, (h_n, c_n) = model(tx, (th0, tc0) if has_c else th0)
        out_nlh = out if batch_first else out.transpose(0, 1)  # (N, L, H)
        loss = (out_nlh * torch.from_numpy(dh_seq)).sum() + (h_n[0] * torch.from_numpy(dh_n)).sum()
        if has_c:
            loss = loss + (c_n[0] * torch.from_numpy(dc_n)).sum()
        loss.backward()

    def close(theirs: np.ndarray, ours: torch.Tensor, what: str) -> None:
        ours = ours.detach().numpy()
        assert ours.shape == theirs.shape, f"{cell} {what}: shape {ours.shape} vs {theirs.shape}"
        err = np.abs(ours - theirs).max()
        assert err <= TOL, f"{cell} {what}: max abs diff {err:.2e}"

    assert out.dtype == torch.float64
    close(h_seq, out_nlh, "h_seq")
    close(cache["h_n"], h_n[0], "h_n")
    if has_c:
        close(cache["c_n"], c_n[0], "c_n")
    dx = tx.grad if batch_first else tx.grad.transpose(0, 1)
    close(grads["x"], dx, "dx")
    close(grads["h0"], th0.grad[0], "dh0")
    if has_c:
        close(grads["c0"], tc0.grad[0], "dc0")
    for key in params:
        close(grads[key], getattr(model, f"{key}_l0").grad, f"d{key}")
