"""Reference ``lstm`` / ``gru`` vs torch.nn.LSTM / torch.nn.GRU in float64 (torch in tests only)."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit import reference as ref

torch = pytest.importorskip("torch")

N, L, I, H = 3, 6, 5, 7
TOL = 1e-10
TORCH_MODULES = {"lstm": "LSTM", "gru": "GRU"}


def _torch_state(state: np.ndarray | None) -> torch.Tensor:
    """torch's (num_layers * D, N, H) initial state; zeros (as the reference's default) if None."""
    value = np.zeros((N, H)) if state is None else state
    return torch.from_numpy(value.copy())[None].requires_grad_()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("with_state", [False, True])
def test_forward_and_gradients_match_torch(cell: str, with_state: bool) -> None:
    rng = np.random.default_rng(7)
    has_c = cell == "lstm"
    params = ref.init_params(I, H, cell=cell, seed=3)
    x = rng.standard_normal((N, L, I))  # (N, L, I)
    h0 = rng.standard_normal((N, H)) if with_state else None  # (N, H)
    c0 = rng.standard_normal((N, H)) if with_state and has_c else None  # (N, H)
    w_seq = rng.standard_normal((N, L, H))
    w_h = rng.standard_normal((N, H))
    w_c = rng.standard_normal((N, H)) if has_c else None

    # reference
    h_seq, cache = ref.lstm_forward(x, params, h0=h0, c0=c0, cell=cell)
    grads = ref.lstm_backward(w_seq, cache, dh_n=w_h, dc_n=w_c)

    # torch, with the same weights
    module = getattr(torch.nn, TORCH_MODULES[cell])(I, H, batch_first=True).double()
    with torch.no_grad():
        for key, value in params.items():
            getattr(module, f"{key}_l0").copy_(torch.from_numpy(value))
    tx = torch.from_numpy(x).requires_grad_()
    th0 = _torch_state(h0)  # (1, N, H)
    tc0 = _torch_state(c0)  # (1, N, H)
    out, state = module(tx, (th0, tc0) if has_c else th0)
    h_n = state[0] if has_c else state
    loss = (out * torch.from_numpy(w_seq)).sum() + (h_n[0] * torch.from_numpy(w_h)).sum()
    if has_c:
        loss = loss + (state[1][0] * torch.from_numpy(w_c)).sum()
    loss.backward()

    def close(ours: np.ndarray, theirs: torch.Tensor, what: str) -> None:
        err = np.abs(ours - theirs.detach().numpy()).max()
        assert err < TOL, f"{cell} {what}: max abs diff {err:.2e}"

    close(h_seq, out, "h_seq")
    close(cache["h_n"], h_n[0], "h_n")
    if has_c:
        close(cache["c_n"], state[1][0], "c_n")
    for key in params:
        close(grads[key], getattr(module, f"{key}_l0").grad, f"grad {key}")
    close(grads["x"], tx.grad, "grad x")
    close(grads["h0"], th0.grad[0], "grad h0")
    if has_c:
        close(grads["c0"], tc0.grad[0], "grad c0")
    else:
        assert "c0" not in grads
