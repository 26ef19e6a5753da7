"""record=True: per-step gates and states, shaped (num_layers, D, N, L, H), time running forward."""

from __future__ import annotations

import pytest
import torch

from lstmkit.nn import LSTM

CELLS = ["lstm", "peephole", "coupled", "gru", "layernorm"]
KEYS = {c: ("i", "f", "g", "o", "c", "h") for c in ("lstm", "peephole", "coupled", "layernorm")}
KEYS["gru"] = ("r", "z", "n", "h")
I, H, N, L = 3, 4, 3, 5
LENGTHS = torch.tensor([5, 2, 4])
TOL = 1e-6


def _record(cell, layers=2, bidir=True, backend="fused", lengths=None, hx=False, seed=0):
    torch.manual_seed(seed)
    model = LSTM(I, H, layers, cell=cell, bidirectional=bidir, backend=backend, batch_first=True)
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(N, L, I, generator=gen)
    D = 2 if bidir else 1
    state = None
    if hx:
        h0 = torch.randn(D * layers, N, H, generator=gen)
        c0 = torch.randn(D * layers, N, H, generator=gen)
        state = (h0, c0) if cell != "gru" else h0
    with torch.no_grad():
        out, (h_n, c_n), rec = model(x, state, lengths=lengths, record=True)
    return model, x, state, out, h_n, c_n, rec


def _shift(seq, first, direction):
    """The value before each step in processing order, laid out in forward time: (N, L, H).

    direction 0 processes t = 0..L-1 (before t is t-1); direction 1 (no lengths) processes
    t = L-1..0 (before t is t+1)."""
    first = first[:, None]
    if direction == 0:
        return torch.cat([first, seq[:, :-1]], 1)
    return torch.cat([seq[:, 1:], first], 1)


@pytest.mark.parametrize("backend", ["fused", "reference", "auto"])
@pytest.mark.parametrize("cell", CELLS)
def test_record_keys_and_shapes(cell, backend):
    *_, out, h_n, _, rec = _record(cell, backend=backend)
    assert set(rec) == set(KEYS[cell])
    for key, v in rec.items():
        assert isinstance(v, torch.Tensor), key
        assert v.shape == (2, 2, N, L, H), f"{key}: {tuple(v.shape)}"
    # the last layer's recorded h is the output; h_n is h at the last processed step
    assert torch.allclose(torch.cat([rec["h"][1, 0], rec["h"][1, 1]], -1), out, atol=TOL)
    assert torch.allclose(rec["h"][1, 0, :, -1], h_n[2], atol=TOL)
    assert torch.allclose(rec["h"][1, 1, :, 0], h_n[3], atol=TOL)


@pytest.mark.parametrize("cell", ["lstm", "peephole", "coupled", "layernorm"])
def test_recorded_lstm_states_obey_equations(cell):
    """c_t = f⊙c_{t-1} + i⊙g for every layer and direction (with an initial state), and
    h_t = o⊙tanh(c_t) except for layernorm (which normalises c_t first)."""
    _, _, (_, c0), _, _, c_n, rec = _record(cell, hx=True)
    i, f, g, o, c, h = (rec[k] for k in KEYS[cell])
    for k in range(2):
        for d in range(2):
            cprev = _shift(c[k, d], c0[2 * k + d], d)
            assert torch.allclose(c[k, d], f[k, d] * cprev + i[k, d] * g[k, d], atol=TOL)
            if cell != "layernorm":
                assert torch.allclose(h[k, d], o[k, d] * torch.tanh(c[k, d]), atol=TOL)
    # c_n is c at the last processed step of each direction
    assert torch.allclose(c[1, 0, :, -1], c_n[2], atol=TOL)
    assert torch.allclose(c[1, 1, :, 0], c_n[3], atol=TOL)
    for gate in (i, f, o):
        assert ((gate > 0) & (gate < 1)).all()
    assert (g.abs() < 1).all()


def test_coupled_input_gate_is_one_minus_forget():
    for backend in ("fused", "reference"):
        rec = _record("coupled", backend=backend)[-1]
        assert torch.allclose(rec["i"], 1 - rec["f"], atol=1e-7)


def test_recorded_gru_states_obey_equations():
    """h_t = (1 - z)⊙n + z⊙h_{t-1} for every layer and direction, r and z in (0, 1)."""
    _, _, h0, _, _, c_n, rec = _record("gru", hx=True)
    assert c_n is None
    r, z, n, h = (rec[k] for k in KEYS["gru"])
    for k in range(2):
        for d in range(2):
            hprev = _shift(h[k, d], h0[2 * k + d], d)
            assert torch.allclose(h[k, d], (1 - z[k, d]) * n[k, d] + z[k, d] * hprev, atol=TOL)
    assert ((r > 0) & (r < 1)).all() and ((z > 0) & (z < 1)).all()


@pytest.mark.parametrize("cell", CELLS)
def test_reverse_direction_is_forward_time_ordered(cell):
    """The reverse direction's record equals a 1-layer forward model with the reverse weights run
    on the time-flipped sequence, flipped back."""
    model, x, _, _, _, _, rec = _record(cell, layers=1)
    fwd = LSTM(I, H, 1, cell=cell, backend="reference", batch_first=True)
    fwd.load_state_dict({k.replace("_reverse", ""): v for k, v in model.state_dict().items()
                         if k.endswith("_reverse")})  # fmt: skip
    with torch.no_grad():
        _, _, rec_rev = fwd(x.flip(1), record=True)
    for key in KEYS[cell]:
        assert torch.allclose(rec[key][0, 1], rec_rev[key][0, 0].flip(1), atol=TOL), key


@pytest.mark.parametrize("cell", ["lstm", "gru", "peephole"])
def test_reverse_direction_with_lengths(cell):
    """With lengths the reverse direction starts at each sequence's last valid step."""
    model, x, _, _, _, _, rec = _record(cell, layers=1, lengths=LENGTHS)
    fwd = LSTM(I, H, 1, cell=cell, backend="reference", batch_first=True)
    fwd.load_state_dict({k.replace("_reverse", ""): v for k, v in model.state_dict().items()
                         if k.endswith("_reverse")})  # fmt: skip
    for n, length in enumerate(LENGTHS.tolist()):
        with torch.no_grad():
            _, _, one = fwd(x[n : n + 1, :length].flip(1), record=True)
        for key in KEYS[cell]:
            want = one[key][0, 0, 0].flip(0)  # (length, H)
            assert torch.allclose(rec[key][0, 1, n, :length], want, atol=TOL), (key, n)


@pytest.mark.parametrize("backend", ["fused", "reference"])
@pytest.mark.parametrize("cell", CELLS)
def test_padded_steps_are_zero(cell, backend):
    *_, rec = _record(cell, backend=backend, lengths=LENGTHS)
    padded = torch.arange(L)[None, :] >= LENGTHS[:, None]  # (N, L)
    valid = ~padded
    for key, v in rec.items():
        assert torch.count_nonzero(v[:, :, padded]) == 0, key
        assert torch.count_nonzero(v[:, :, valid]) > 0, key


@pytest.mark.parametrize("cell", CELLS)
def test_fused_and_reference_record_the_same(cell):
    *_, a = _record(cell, backend="fused", lengths=LENGTHS, hx=True)
    *_, b = _record(cell, backend="reference", lengths=LENGTHS, hx=True)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], atol=2e-6), key


def test_record_is_differentiable_on_fused_backend():
    """Recording must not break training: the loss through the output still backpropagates."""
    torch.manual_seed(0)
    model = LSTM(I, H, 1, backend="fused", batch_first=True)
    x = torch.randn(N, L, I, requires_grad=True)
    out, _, _ = model(x, record=True)
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().max() > 0


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_record_on_torch_backend_raises(cell):
    model = LSTM(I, H, cell=cell, backend="torch", batch_first=True)
    with pytest.raises(ValueError, match=r"record=True needs lstmkit's kernels.*backend='auto'"):
        model(torch.randn(N, L, I), record=True)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_record_layout_ignores_batch_first(cell):
    """record is (num_layers, D, N, L, H) whatever the input layout."""
    torch.manual_seed(0)
    model = LSTM(I, H, 2, cell=cell, bidirectional=True, batch_first=False)
    x = torch.randn(L, N, I)  # (L, N, I)
    with torch.no_grad():
        out, _, rec = model(x, record=True)
    for key, v in rec.items():
        assert v.shape == (2, 2, N, L, H), key
    assert torch.allclose(rec["h"][1, 0].transpose(0, 1), out[..., :H], atol=TOL)


@pytest.mark.parametrize("cell", CELLS)
def test_record_in_float64_matches_float32(cell):
    model, x, _, _, _, _, rec = _record(cell, lengths=LENGTHS)
    with torch.no_grad():
        _, _, rec64 = model.double()(x.double(), lengths=LENGTHS, record=True)
    assert set(rec64) == set(rec)
    for key, v in rec64.items():
        assert v.dtype == torch.float64, key
        assert torch.allclose(v.float(), rec[key], atol=1e-5), key


def test_record_false_returns_two_items():
    model = LSTM(I, H, backend="fused", batch_first=True)
    result = model(torch.randn(N, L, I))
    assert len(result) == 2
