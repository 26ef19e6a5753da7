"""lstmkit.nn.GRU / GRUCell and LSTMCell against torch's modules: the same signature, the same
return structure (a GRU returns h_n, a GRUCell a tensor), the same numbers."""

from __future__ import annotations

import inspect

import pytest
import torch

from lstmkit.nn import GRU, GRUCell, LSTMCell, recording

I, H, N, L = 4, 5, 3, 6


@pytest.mark.parametrize("backend", ["auto", "fused", "reference"])
@pytest.mark.parametrize(("layers", "bidirectional", "batch_first"),
                         [(1, False, False), (2, True, False), (2, False, True)])  # fmt: skip
def test_gru_matches_torch(backend, layers, bidirectional, batch_first) -> None:
    torch.manual_seed(0)
    theirs = torch.nn.GRU(I, H, layers, True, batch_first, 0.0, bidirectional).double()
    ours = GRU(I, H, layers, True, batch_first, 0.0, bidirectional, dtype=torch.float64,
               backend=backend)  # fmt: skip
    ours.load_state_dict(theirs.state_dict(), strict=True)
    shape = (N, L, I) if batch_first else (L, N, I)
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(layers * (1 + bidirectional), N, H, dtype=torch.float64)
    out, h = ours(x, h0)
    ref, rh = theirs(x, h0)
    assert isinstance(h, torch.Tensor)  # torch's structure: h_n, not (h_n, None)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(h, rh, rtol=1e-10, atol=1e-10)
    g_ours = torch.autograd.grad(out.sum() + h.sum(), [x, *ours.parameters()])
    g_theirs = torch.autograd.grad(ref.sum() + rh.sum(), [x, *theirs.parameters()])
    for a, b in zip(g_ours, g_theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10)


def test_gru_records_its_gates() -> None:
    gru = GRU(I, H)
    out, h, rec = gru(torch.randn(L, N, I), record=True)
    assert rec["z"].shape == (1, 1, N, L, H) and h.shape == (1, N, H)
    torch.testing.assert_close(out[-1], h[0])  # the last step is h_n
    with recording(torch.nn.Sequential(gru)) as recs:
        gru(torch.randn(L, N, I))
    assert recs[0].cell == "gru"


def test_gru_cell_matches_torch() -> None:
    torch.manual_seed(0)
    theirs = torch.nn.GRUCell(I, H).double()
    ours = GRUCell(I, H, dtype=torch.float64)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x, h0 = torch.randn(N, I, dtype=torch.float64), torch.randn(N, H, dtype=torch.float64)
    torch.testing.assert_close(ours(x, h0), theirs(x, h0), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("ours", "theirs"), [(LSTMCell, torch.nn.LSTMCell),
                                              (GRUCell, torch.nn.GRUCell),
                                              (GRU, torch.nn.GRU)])  # fmt: skip
def test_signatures_follow_torch(ours, theirs) -> None:
    mine = list(inspect.signature(ours).parameters)
    torch_names = [p for p in inspect.signature(theirs).parameters if p not in ("args", "kwargs")]
    if theirs is torch.nn.GRU:  # torch's GRU hides its arguments behind *args
        torch_names = ["input_size", "hidden_size", "num_layers", "bias", "batch_first",
                       "dropout", "bidirectional", "device", "dtype"]  # fmt: skip
    assert mine[: len(torch_names)] == torch_names
    cell = LSTMCell(I, H, False)  # bias positional, as in torch
    assert not cell.bias and not hasattr(cell, "bias_ih")
