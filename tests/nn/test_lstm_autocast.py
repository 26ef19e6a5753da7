"""Under autocast (``--precision bf16``) on a CPU with bf16 instructions, torch's oneDNN LSTM runs
in bf16, and lstmkit's fused kernels run their whole-sequence GEMMs on bf16 operands (float32
recurrence, float32 out). Everywhere else (torch's GRU, any CPU without bf16, the reference
backend) the layer takes a bf16 input from an earlier autocast layer, computes in float32 and
gives float32 back: the float32 result of the bf16-rounded input.
"""

import pytest
import torch

import lstmkit.nn.lstm as lstm_module
from lstmkit.nn import LSTM, LSTMCell

ONEDNN_BF16 = lstm_module._mkldnn_bf16()


@pytest.fixture(params=[False, True], ids=["no-bf16-cpu", "bf16-cpu"])
def onednn_bf16(request, monkeypatch):
    """Both worlds on any machine: a CPU without bf16 LSTM (forced), and this one's if it has."""
    if request.param and not ONEDNN_BF16:
        pytest.skip("this CPU's oneDNN has no bf16 LSTM")
    monkeypatch.setattr(lstm_module, "_mkldnn_bf16", lambda: request.param)
    return request.param


@pytest.mark.parametrize("backend", ["auto", "torch", "fused", "reference"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "layernorm"])
def test_lstm_under_cpu_autocast(backend, cell, onednn_bf16):
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
    expected, _ = m(z.float())
    bf16 = onednn_bf16 and cell == "lstm" and backend in ("auto", "torch")
    fused_bf16 = onednn_bf16 and m.resolved_backend(False, x.device) == "fused"
    if bf16:  # oneDNN's bf16 LSTM: bf16 out, close to float32
        assert out.dtype == torch.bfloat16 and h.dtype == torch.bfloat16
        torch.testing.assert_close(out.float(), expected, rtol=0, atol=0.05)
    elif fused_bf16:  # lstmkit's kernels: bf16 operands in the big GEMMs, fp32 out
        assert out.dtype == torch.float32 and h.dtype == torch.float32
        torch.testing.assert_close(out, expected, rtol=0, atol=0.02)
        assert not torch.equal(out, expected)  # the bf16 GEMMs did run
    else:
        assert out.dtype == torch.float32 and h.dtype == torch.float32
        torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)
    out.float().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())
    assert all(p.grad.dtype == torch.float32 for p in m.parameters())  # fp32 master weights
    assert front.weight.grad is not None


def test_bf16_lstm_with_lengths(onednn_bf16):
    torch.manual_seed(1)
    m = LSTM(4, 6, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(5, 9, 4)
    lengths = torch.tensor([9, 3, 6, 1, 9])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = m(x, lengths=lengths)
    expected, _ = m(x, lengths=lengths)
    torch.testing.assert_close(out.float(), expected, rtol=0, atol=0.05 if onednn_bf16 else 1e-6)
    assert (out[1, 3:] == 0).all()  # padding stays zero


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
        LSTM(4, 5, batch_first=True)(torch.randn(3, 2, 4, dtype=torch.bfloat16))
