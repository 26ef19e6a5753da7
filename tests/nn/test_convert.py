"""lstmkit.nn.convert: a model's torch LSTMs / GRUs swapped for lstmkit's (same weights, same
outputs, same return structure), then recorded with lstmkit.nn.recording."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import lstmkit.nn as lnn


class Seq2One(nn.Module):
    """A user's model: a bidirectional LSTM encoder (batch first), a GRU over time-major
    input inside a Sequential, a linear head."""

    def __init__(self, bias: bool = True) -> None:
        super().__init__()
        self.enc = nn.LSTM(3, 5, 2, bias=bias, batch_first=True, bidirectional=True)
        self.dec = nn.Sequential(nn.GRU(10, 4, bias=bias))
        self.fc = nn.Linear(4, 1)

    def forward(self, x):
        o, (_, c) = self.enc(x)
        _, h2 = self.dec[0](o.transpose(0, 1))
        return self.fc(h2[-1]) + c.sum()


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("backend", ["auto", "fused", "reference"])
def test_outputs_and_gradients_match_torch(bias: bool, backend: str) -> None:
    torch.manual_seed(0)
    torch_model = Seq2One(bias).double()
    ours = lnn.convert(copy.deepcopy(torch_model), backend=backend)
    assert isinstance(ours.enc, lnn.LSTM) and isinstance(ours.dec[0], lnn.LSTM)
    assert list(ours.state_dict()) == list(torch_model.state_dict())  # checkpoints still load
    x = torch.randn(4, 7, 3, dtype=torch.float64)
    a, b = torch_model(x), ours(x)
    torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-10)
    a.sum().backward()
    b.sum().backward()
    for (name, p), q in zip(torch_model.named_parameters(), ours.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-8, atol=1e-10, msg=name)


def test_a_converted_gru_returns_what_torch_gru_returns() -> None:
    gru = nn.GRU(3, 6, 2)
    ours = lnn.convert(copy.deepcopy(gru))
    x, h0 = torch.randn(5, 2, 3), torch.randn(2, 2, 6)
    out, h = ours(x, h0)
    ref_out, ref_h = gru(x, h0)
    assert isinstance(h, torch.Tensor)  # not a (h, c) pair
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h, ref_h, rtol=1e-5, atol=1e-6)


def test_a_variant_cell_starts_from_the_torch_weights_and_trains() -> None:
    torch.manual_seed(0)
    model = Seq2One()
    before = model.enc.weight_hh_l1.detach().clone()
    lnn.convert(model, cell="peephole")
    assert model.enc.cell == "peephole" and model.dec[0].cell == "gru"
    torch.testing.assert_close(model.enc.weight_hh_l1.detach(), before)
    assert set(model.state_dict()) > {"enc.weight_hh_l1"}  # and the peephole weights
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.randn(8, 7, 3), torch.randn(8, 1)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_recording_a_converted_model_sees_every_layer_and_its_gates_train() -> None:
    torch.manual_seed(0)
    model = lnn.convert(Seq2One(), backend="reference")
    x = torch.randn(4, 7, 3)
    with lnn.recording(model) as recs:
        model(x)
    assert [(r.name, r.cell) for r in recs] == [("enc", "lstm"), ("dec.0", "gru")]
    assert recs[0].values["f"].shape == (2, 2, 4, 7, 5)  # (layers, D, N, L, H)
    assert recs[1].values["z"].shape == (1, 1, 4, 7, 4)  # the GRU read (L, N, I): N = 4
    # a saturation penalty on the forget gates reaches the weights (reference backend)
    penalty = (recs[0].values["f"] - 0.5).pow(2).mean()
    penalty.backward()
    assert model.enc.weight_hh_l0.grad.abs().sum() > 0


def test_a_lone_layer_converts_to_a_new_layer() -> None:
    lstm = nn.LSTM(2, 3)
    new = lnn.convert(lstm)
    assert isinstance(new, lnn.LSTM) and new.batch_first is False
    x = torch.randn(4, 1, 2)
    torch.testing.assert_close(new(x)[0], lstm(x)[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("model", "kw", "match"),
    [
        (nn.LSTM(2, 4, proj_size=2), {"backend": "fused"}, "fused kernels have no projection"),
        (nn.GRU(2, 4), {"cell": "peephole"}, "converts to cell='gru' only"),
        (nn.LSTM(2, 4), {"cell": "gru"}, "cannot become a GRU"),
        (nn.Linear(2, 4), {}, "Linear holds no torch.nn.LSTM or torch.nn.GRU"),
    ],
)
def test_what_cannot_be_converted_says_why(model, kw, match) -> None:
    with pytest.raises(ValueError, match=match):
        lnn.convert(model, **kw)
