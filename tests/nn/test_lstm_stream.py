"""LSTMStream: stepping through a sequence one call at a time equals LSTM.forward."""

from __future__ import annotations

import pytest
import torch

from lstmkit.nn import LSTM, LSTMStream

CELLS = ["lstm", "peephole", "coupled", "gru", "layernorm"]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_steps_equal_the_whole_sequence(cell, dtype):
    torch.manual_seed(0)
    lstm = LSTM(3, 7, num_layers=3, cell=cell, dropout=0.3, batch_first=True).to(dtype).eval()
    x = torch.randn(4, 9, 3, dtype=dtype)
    with torch.no_grad():
        out, (h_n, c_n) = lstm(x)
        stream = LSTMStream(lstm)
        steps = torch.stack([stream.step(x[:, t]) for t in range(9)], 1)
    tol = 1e-6 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(steps, out, atol=tol, rtol=0)
    torch.testing.assert_close(stream.state[0], h_n, atol=tol, rtol=0)
    if cell == "gru":
        assert stream.state[1] is None and c_n is None
    else:
        torch.testing.assert_close(stream.state[1], c_n, atol=tol, rtol=0)


def test_continues_from_a_given_state_and_resets():
    torch.manual_seed(1)
    lstm = LSTM(2, 5, num_layers=2, batch_first=True).eval()
    x = torch.randn(1, 12, 2)
    with torch.no_grad():
        _, state = lstm(x[:, :8])  # the first 8 steps, as a batch
        whole, _ = lstm(x)
        stream = LSTMStream(lstm, state)
        rest = torch.stack([stream(x[:, t]) for t in range(8, 12)], 1)
        torch.testing.assert_close(rest, whole[:, 8:], atol=1e-6, rtol=0)
        stream.reset()
        first = stream.step(x[:, 0])
        torch.testing.assert_close(first, whole[:, 0], atol=1e-6, rtol=0)


def test_gradients_flow_through_steps():
    lstm = LSTM(2, 4, cell="peephole", batch_first=True)
    stream = LSTMStream(lstm)
    loss = sum(stream.step(torch.randn(3, 2)).sum() for _ in range(3))
    loss.backward()
    assert lstm.weight_hh_l0.grad is not None and lstm.weight_hh_l0.grad.abs().sum() > 0


def test_bad_input():
    with pytest.raises(ValueError, match="bidirectional LSTM cannot stream"):
        LSTMStream(LSTM(2, 4, bidirectional=True, batch_first=True))
    with pytest.raises(TypeError, match=r"needs a lstmkit\.nn\.LSTM"):
        LSTMStream(torch.nn.LSTM(2, 4))
    stream = LSTMStream(LSTM(2, 4, batch_first=True))
    with pytest.raises(ValueError, match=r"shape \(N, 2\), got \(3, 5\)"):
        stream.step(torch.randn(3, 5))
    with pytest.raises(ValueError, match="shape"):
        stream.step(torch.randn(3, 1, 2))
