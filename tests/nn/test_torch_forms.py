"""The input forms torch's recurrent layers take, beyond torch's module_db samples: packed
sequences (in and out, any order, with states), projections with every cell, and what recording,
probes, streaming and convert() do with them."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pack_sequence

import lstmkit.nn as lk

I, H, P = 3, 5, 2
LENGTHS = (4, 6, 2, 6)
pytestmark = pytest.mark.filterwarnings(
    "ignore:LSTM with projections is not supported with oneDNN"
)  # ties and an unsorted order: the packing order matters


def _seqs(dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, I, generator=g, dtype=dtype) for n in LENGTHS]


def _grads(loss, tensors):
    return torch.autograd.grad(loss, tensors)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("backend", ["auto", "torch", "fused", "reference"])
@pytest.mark.parametrize("enforce_sorted", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_packed_in_packed_out_as_torch(kind, backend, enforce_sorted, batch_first) -> None:
    torch_cls, ours_cls = (nn.LSTM, lk.LSTM) if kind == "lstm" else (nn.GRU, lk.GRU)
    theirs = torch_cls(I, H, 2, batch_first=batch_first, bidirectional=True).double()
    ours = ours_cls(I, H, 2, batch_first=batch_first, bidirectional=True, backend=backend).double()
    ours.load_state_dict(theirs.state_dict())
    seqs = _seqs()
    if enforce_sorted:
        seqs = sorted(seqs, key=len, reverse=True)
    h0 = torch.randn(4, len(seqs), H, dtype=torch.float64)  # the caller's order, as torch
    hx = h0 if kind == "gru" else (h0, torch.randn_like(h0))
    results = []
    for module in (theirs, ours):
        xs = [s.clone().requires_grad_() for s in seqs]
        packed = pack_sequence(xs, enforce_sorted=enforce_sorted)
        out, state = module(packed, hx)
        assert isinstance(out, PackedSequence)
        h_n = state if kind == "gru" else state[0]
        loss = (out.data * out.data.detach().cos()).sum() + (h_n * h_n.detach().sin()).sum()
        results.append((out, h_n, _grads(loss, [*xs, *module.parameters()])))
    (out_t, h_t, g_t), (out_o, h_o, g_o) = results
    torch.testing.assert_close(out_o.data, out_t.data)
    assert torch.equal(out_o.batch_sizes, out_t.batch_sizes)
    for a, b in [(out_o.sorted_indices, out_t.sorted_indices),
                 (out_o.unsorted_indices, out_t.unsorted_indices)]:  # fmt: skip
        assert (a is None and b is None) or torch.equal(a, b)
    torch.testing.assert_close(h_o, h_t)
    for a, b in zip(g_o, g_t, strict=True):
        torch.testing.assert_close(a, b)


def test_packed_input_equals_lengths_path() -> None:
    """A PackedSequence and the same padded batch with lengths= give the same results."""
    lstm = lk.LSTM(I, H, batch_first=True, cell="peephole").double()
    seqs = _seqs()
    padded = nn.utils.rnn.pad_sequence(seqs, batch_first=True)
    lengths = torch.tensor(LENGTHS)
    out, (h, c), rec = lstm(pack_padded_sequence(padded, lengths, True, False), record=True)
    ref, (rh, rc), rrec = lstm(padded, lengths=lengths, record=True)
    unpacked, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
    torch.testing.assert_close(unpacked, ref)
    torch.testing.assert_close((h, c), (rh, rc))
    torch.testing.assert_close(rec, rrec)


def test_packed_input_with_lengths_is_refused() -> None:
    lstm = lk.LSTM(I, H)
    packed = pack_sequence([s.float() for s in _seqs()], enforce_sorted=False)
    with pytest.raises(ValueError, match=r"lengths= does not go with a PackedSequence input"):
        lstm(packed, lengths=[1, 1, 1, 1])


@pytest.mark.parametrize("cell", ["lstm", "peephole", "coupled", "layernorm"])
def test_projection_on_every_cell_with_a_cell_state(cell) -> None:
    """proj_size with a variant: auto (reference) forward and gradients equal reference, and
    the shapes are torch's: output and h are P wide, c is H wide."""
    lstm = lk.LSTM(I, H, 2, bidirectional=True, proj_size=P, cell=cell).double()
    assert lstm.weight_hr_l1_reverse.shape == (P, H)
    assert lstm.weight_hh_l0.shape[1] == P and lstm.weight_ih_l1.shape[1] == 2 * P
    x = torch.randn(6, 4, I, dtype=torch.float64, requires_grad=True)
    out, (h, c) = lstm(x)
    assert out.shape == (6, 4, 2 * P) and h.shape == (4, 4, P) and c.shape == (4, 4, H)
    ref = lk.LSTM(I, H, 2, bidirectional=True, proj_size=P, cell=cell, backend="reference")
    ref = ref.double()
    ref.load_state_dict(lstm.state_dict())
    out2, (h2, c2) = ref(x)
    torch.testing.assert_close((out, h, c), (out2, h2, c2))
    if cell != "lstm":
        return
    theirs = nn.LSTM(I, H, 2, bidirectional=True, proj_size=P).double()
    theirs.load_state_dict(lstm.state_dict())
    torch.testing.assert_close(theirs(x)[0], out)


def test_projection_records_and_probes_the_projected_h() -> None:
    lstm = lk.LSTM(I, H, batch_first=True, proj_size=P).double()
    x = torch.randn(2, 5, I, dtype=torch.float64)
    probe = torch.zeros(lstm.probe_shape(x), dtype=torch.float64, requires_grad=True)
    assert probe.shape == (1, 1, 2, 5, P)
    out, _, rec = lstm(x, record=True, probe=probe)
    assert rec["h"].shape == (1, 1, 2, 5, P) and rec["c"].shape == (1, 1, 2, 5, H)
    torch.testing.assert_close(rec["h"][0, 0], out)
    (dh,) = torch.autograd.grad(out[:, -1].sum(), probe)
    assert torch.equal(dh[0, 0, :, -1], torch.ones(2, P, dtype=torch.float64))


def test_unbatched_record_and_probe_drop_the_batch_dimension() -> None:
    lstm = lk.LSTM(I, H, 2, bidirectional=True).double()
    x = torch.randn(7, I, dtype=torch.float64)
    probe = torch.zeros(lstm.probe_shape(x), dtype=torch.float64, requires_grad=True)
    assert probe.shape == (2, 2, 7, H)
    out, (h, c), rec = lstm(x, record=True, probe=probe)
    assert out.shape == (7, 2 * H) and h.shape == (4, H) and rec["f"].shape == (2, 2, 7, H)
    batched, (bh, bc), brec = lstm(x[:, None], record=True)
    torch.testing.assert_close((out, h, c), (batched[:, 0], bh[:, 0], bc[:, 0]))
    torch.testing.assert_close(rec["f"], brec["f"][:, :, 0])
    with lk.recording(lstm, probe=True) as recs:
        lstm(x)
    assert recs[0].probe.shape == (2, 2, 7, H)


def test_stream_of_a_projected_lstm_equals_forward() -> None:
    lstm = lk.LSTM(I, H, 2, batch_first=True, proj_size=P).double().eval()
    x = torch.randn(3, 6, I, dtype=torch.float64)
    out, (h, c) = lstm(x)
    stream = lk.LSTMStream(lstm)
    steps = torch.stack([stream(x[:, t]) for t in range(6)], 1)
    torch.testing.assert_close(steps, out)
    torch.testing.assert_close(stream.state, (h, c))


def test_convert_keeps_a_projected_lstm() -> None:
    model = nn.Sequential(nn.LSTM(I, H, proj_size=P))
    x = torch.randn(5, 2, I)
    expected = model(x)[0]
    lk.convert(model)
    assert isinstance(model[0], lk.LSTM) and model[0].proj_size == P
    torch.testing.assert_close(model(x)[0], expected)
