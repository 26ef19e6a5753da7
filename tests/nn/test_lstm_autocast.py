"""Under autocast (``--precision bf16``) the recurrence runs in the parameters' dtype.

lstmkit's kernels and torch's oneDNN LSTM have no bf16 path on the CPU, so the layer takes a bf16
input from an earlier autocast layer, computes in float32 and gives float32 back; the result is
the float32 result of the bf16-rounded input.
"""

import pytest
import torch

from lstmkit.nn import LSTM, LSTMCell


@pytest.mark.parametrize("backend", ["auto", "torch", "fused", "reference"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "layernorm"])
def test_lstm_under_cpu_autocast(backend, cell):
    if backend == "torch" and cell == "layernorm":
        pytest.skip("torch has no layer-normalised LSTM")
    torch.manual_seed(0)
    m = LSTM(6, 8, num_layers=2, cell=cell, backend=backend, batch_first=True)
    front = torch.nn.Linear(5, 6)
    x = torch.randn(3, 7, 5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        z = front(x)
        assert z.dtype == torch.bfloat16  # what an autocast front end hands over
        out, (h, _) = m(z)
    assert out.dtype == torch.float32 and h.dtype == torch.float32
    expected, _ = m(z.float())
    torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)
    out.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())
    assert front.weight.grad is not None


def test_cell_under_cpu_autocast():
    cell = LSTMCell(4, 5)
    x = torch.randn(2, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h, c = cell(x.to(torch.bfloat16), (torch.zeros(2, 5), torch.zeros(2, 5)))
    assert h.dtype == torch.float32 and c.dtype == torch.float32
    h2, _ = cell(x.to(torch.bfloat16).float())
    torch.testing.assert_close(h, h2)


def test_dtype_mismatch_without_autocast_is_still_an_error():
    with pytest.raises(TypeError, match="does not match the parameters' dtype"):
        LSTM(4, 5)(torch.randn(3, 2, 4, dtype=torch.bfloat16))
