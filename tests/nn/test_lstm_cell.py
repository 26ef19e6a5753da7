"""lstmkit.nn.LSTMCell vs torch.nn.LSTMCell / GRUCell, and a loop of cell steps vs LSTM."""

from __future__ import annotations

import pytest
import torch

from lstmkit.nn import LSTM, LSTMCell

I, H, N, L = 4, 5, 3, 4
CELLS = ["lstm", "peephole", "coupled", "gru", "layernorm"]
TORCH_CELL = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}


def _step(module, x, h=None, c=None):
    """One step, the torch way for torch's cells; (h, c) carry for lstmkit's."""
    if isinstance(module, torch.nn.GRUCell):
        return {"h": module(x, h)}
    if isinstance(module, torch.nn.LSTMCell):
        h, c = module(x, None if h is None else (h, c))
        return {"h": h, "c": c}
    h, c = module(x, None if h is None else (h, c))
    return {"h": h, "c": c}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("state", [True, False], ids=["hx", "no-hx"])
@pytest.mark.parametrize(("kind", "bias", "load"), [
    ("lstm", True, "torch->ours"), ("lstm", False, "ours->torch"),
    ("gru", True, "ours->torch"), ("gru", False, "torch->ours"),
])  # fmt: skip
def test_cell_matches_torch(parity, kind, bias, load, state, dtype):
    torch.manual_seed(0)
    theirs = TORCH_CELL[kind](I, H, bias=bias).to(dtype)
    ours = LSTMCell(I, H, cell=kind, bias=bias).to(dtype)
    if load == "torch->ours":
        ours.load_state_dict(theirs.state_dict(), strict=True)
    else:
        theirs.load_state_dict(ours.state_dict(), strict=True)
    gen = torch.Generator().manual_seed(1)
    inputs = {"x": torch.randn(N, I, generator=gen, dtype=dtype)}
    if state:
        inputs["h"] = torch.randn(N, H, generator=gen, dtype=dtype)
        if kind == "lstm":
            inputs["c"] = torch.randn(N, H, generator=gen, dtype=dtype)
    got = parity.run(ours, _step, inputs)
    want = parity.run(theirs, _step, inputs)
    assert got["h"].shape == (N, H)
    parity.check(got, want, parity.tol[dtype], f"{kind}Cell")


def _unrolled(cell: LSTMCell):
    """A ``call`` that runs ``cell`` once per time step over x (N, L, I)."""

    def call(module, x, h0=None, c0=None):
        h = None if h0 is None else h0[0]
        c = None if c0 is None else c0[0]
        carry = None if h is None else (h, c)
        hs = []
        for t in range(x.shape[1]):
            carry = module(x[:, t], carry)
            hs.append(carry[0])
        return {"output": torch.stack(hs, 1), "h_n": carry[0][None],
                "c_n": None if carry[1] is None else carry[1][None]}  # fmt: skip

    return call


@pytest.mark.parametrize("state", [True, False], ids=["hx", "no-hx"])
@pytest.mark.parametrize("cell", CELLS)
def test_cell_steps_reproduce_lstm(parity, cell, state):
    """LSTMCell with LSTM's layer-0 weights, one step per time step: same outputs and grads."""
    torch.manual_seed(0)
    layer = LSTM(I, H, cell=cell, backend="fused", batch_first=True)
    step = LSTMCell(I, H, cell=cell)
    step.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.state_dict().items()},
                         strict=True)  # fmt: skip
    gen = torch.Generator().manual_seed(2)
    inputs = {"x": torch.randn(N, L, I, generator=gen)}
    if state:
        inputs["h0"] = torch.randn(1, N, H, generator=gen)
        if cell != "gru":
            inputs["c0"] = torch.randn(1, N, H, generator=gen)
    want = parity.run(layer, parity.rnn, inputs)
    got = parity.run(step, _unrolled(step), inputs)
    got = {k if k in want else f"{k}_l0": v for k, v in got.items()}  # dweight_ih -> ..._l0
    parity.check(got, want, parity.tol[torch.float32], f"{cell} cell loop vs LSTM")


@pytest.mark.parametrize("cell", CELLS)
def test_cell_shapes_and_default_state(cell):
    torch.manual_seed(0)
    step = LSTMCell(I, H, cell=cell)
    x = torch.randn(N, I)
    h, c = step(x)
    assert h.shape == (N, H)
    if cell == "gru":
        assert c is None
        zeros = (torch.zeros(N, H), None)
    else:
        assert c.shape == (N, H)
        zeros = (torch.zeros(N, H), torch.zeros(N, H))
    h2, c2 = step(x, zeros)  # no state means zeros
    assert torch.equal(h, h2)
    assert (c is None and c2 is None) or torch.equal(c, c2)


def test_cell_forget_bias():
    step = LSTMCell(I, H, cell="coupled", forget_bias=1.0)
    assert torch.equal(step.bias_ih.detach().view(3, H)[0], torch.ones(H))
    assert torch.equal(step.bias_hh.detach().view(3, H)[0], torch.zeros(H))


def test_gru_cell_accepts_a_plain_tensor_state_like_torch():
    torch.manual_seed(0)
    ours = LSTMCell(3, 4, cell="gru")
    theirs = torch.nn.GRUCell(3, 4)
    theirs.load_state_dict(ours.state_dict())
    x, h = torch.randn(2, 3), torch.randn(2, 4)
    got, c = ours(x, h)
    assert c is None
    torch.testing.assert_close(got, theirs(x, h))
