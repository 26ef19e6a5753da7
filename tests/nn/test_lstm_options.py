"""LSTM options: forget_bias, recurrent_init, inter-layer dropout, variant parameter names,
state_dict round trips."""

from __future__ import annotations

import pytest
import torch

from lstmkit.nn import LSTM

I, H, N, L = 3, 4, 2, 5
FORGET_BLOCK = {"lstm": 1, "peephole": 1, "layernorm": 1, "coupled": 0}
BLOCKS = {"lstm": 4, "peephole": 4, "coupled": 3, "gru": 3, "layernorm": 4}


def _suffixes(layers: int, bidir: bool) -> list[str]:
    return [f"_l{k}{r}" for k in range(layers) for r in ([""] + (["_reverse"] if bidir else []))]


@pytest.mark.parametrize("cell", list(FORGET_BLOCK))
def test_forget_bias_sets_forget_block(cell):
    torch.manual_seed(0)
    model = LSTM(I, H, 2, cell=cell, bidirectional=True, forget_bias=1.0, batch_first=True)
    fb = FORGET_BLOCK[cell]
    bound = 1 / H**0.5
    for sfx in _suffixes(2, True):
        b_ih = getattr(model, f"bias_ih{sfx}").detach().view(BLOCKS[cell], H)
        b_hh = getattr(model, f"bias_hh{sfx}").detach().view(BLOCKS[cell], H)
        assert torch.equal(b_ih[fb], torch.ones(H)), sfx
        assert torch.equal(b_hh[fb], torch.zeros(H)), sfx
        others = [k for k in range(BLOCKS[cell]) if k != fb]
        for b in (b_ih[others], b_hh[others]):  # untouched: torch's uniform(-1/sqrt(H), 1/sqrt(H))
            assert b.abs().max() <= bound and b.std() > 0.01


@pytest.mark.parametrize("cell", ["lstm", "peephole", "coupled"])
def test_forget_bias_drives_the_forget_gate(cell):
    """With zero weights, the recorded forget gate at t=0 is σ(forget_bias) (so the right block)."""
    model = LSTM(I, H, cell=cell, forget_bias=2.0, batch_first=True)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "weight" in name:
                p.zero_()
        _, _, rec = model(torch.randn(N, L, I), record=True)
    want = torch.sigmoid(torch.tensor(2.0))
    assert torch.allclose(rec["f"][0, 0, :, 0], want.expand(N, H), atol=1e-6)


def test_forget_bias_none_keeps_torch_init():
    torch.manual_seed(0)
    model = LSTM(I, H, batch_first=True)
    b = model.bias_ih_l0.detach().view(4, H)[1]
    assert not torch.equal(b, torch.ones(H)) and b.abs().max() <= 1 / H**0.5


@pytest.mark.parametrize("cell", list(BLOCKS))
def test_orthogonal_recurrent_init(cell):
    torch.manual_seed(0)
    model = LSTM(
        I, H, 2, cell=cell, bidirectional=True, recurrent_init="orthogonal", batch_first=True
    )
    eye = torch.eye(H)
    for sfx in _suffixes(2, True):
        w = getattr(model, f"weight_hh{sfx}").detach()
        assert w.shape == (BLOCKS[cell] * H, H)
        blocks = w.chunk(BLOCKS[cell])
        for block in blocks:
            assert torch.allclose(block @ block.T, eye, atol=1e-5), sfx
            assert torch.allclose(block.T @ block, eye, atol=1e-5), sfx
        assert not torch.allclose(blocks[0], blocks[1])  # each block drawn on its own
    uniform = LSTM(I, H, cell=cell, batch_first=True).weight_hh_l0.detach().chunk(BLOCKS[cell])[0]
    assert not torch.allclose(uniform @ uniform.T, eye, atol=1e-2)


def _dropout_model(backend, dropout=0.5, layers=3):
    torch.manual_seed(0)
    return LSTM(
        I, H, layers, dropout=dropout, bidirectional=True, backend=backend, batch_first=True
    )


@pytest.mark.parametrize("backend", ["fused", "reference", "auto"])
def test_dropout_eval_is_deterministic_and_off(backend):
    model = _dropout_model(backend).eval()
    plain = _dropout_model(backend, dropout=0.0).eval()
    plain.load_state_dict(model.state_dict())
    x = torch.randn(N, L, I)
    with torch.no_grad():
        a, b, c = model(x)[0], model(x)[0], plain(x)[0]
    assert torch.equal(a, b)
    assert torch.allclose(a, c, atol=1e-6)


@pytest.mark.parametrize("backend", ["fused", "reference", "auto"])
def test_dropout_train_is_random_and_seeded(backend):
    model = _dropout_model(backend).train()
    x = torch.randn(N, L, I)
    with torch.no_grad():
        torch.manual_seed(1)
        a, (ha, ca) = model(x)
        b, _ = model(x)
        torch.manual_seed(1)
        c, (hc, cc) = model(x)
    assert not torch.allclose(a, b), "two training calls must draw different dropout masks"
    assert torch.equal(a, c) and torch.equal(ha, hc) and torch.equal(ca, cc)
    model.eval()
    with torch.no_grad():
        d = model(x)[0]
    assert not torch.allclose(a, d)


def test_dropout_acts_between_layers_only():
    """dropout applies to the outputs of every layer but the last: one layer is unaffected."""
    model = _dropout_model("fused", layers=1).train()
    x = torch.randn(N, L, I)
    with torch.no_grad():
        assert torch.equal(model(x)[0], model(x)[0])


def test_dropout_scales_kept_units_on_fused():
    """Inverted dropout between layers: layer 1 reads layer 0's output with each unit either
    zeroed or scaled by 1/(1-p); replaying layer 1 on that input reproduces the output."""
    torch.manual_seed(0)
    model = LSTM(I, H, 2, dropout=0.5, backend="fused", batch_first=True).train()
    layer1 = LSTM(H, H, 1, backend="reference", batch_first=True)
    layer1.load_state_dict({k.replace("_l1", "_l0"): v for k, v in model.state_dict().items()
                            if k.endswith("_l1")})  # fmt: skip
    x = torch.randn(N, L, I)
    with torch.no_grad():
        torch.manual_seed(3)
        got, _, rec = model(x, record=True)
        torch.manual_seed(3)  # the same draw as the module's one dropout call, (L, N, H)
        mask = torch.nn.functional.dropout(torch.ones(L, N, H), 0.5, training=True)
        want = layer1(rec["h"][0, 0] * mask.transpose(0, 1))[0]
    assert set(mask.unique().tolist()) == {0.0, 2.0}
    assert torch.allclose(got, want, atol=1e-5)


VARIANT_PARAMS = {
    "lstm": {"weight_ih": (16, I), "weight_hh": (16, H), "bias_ih": (16,), "bias_hh": (16,)},
    "peephole": {"weight_ih": (16, I), "weight_hh": (16, H), "bias_ih": (16,), "bias_hh": (16,),
                 "weight_peephole": (12,)},
    "coupled": {"weight_ih": (12, I), "weight_hh": (12, H), "bias_ih": (12,), "bias_hh": (12,)},
    "gru": {"weight_ih": (12, I), "weight_hh": (12, H), "bias_ih": (12,), "bias_hh": (12,)},
    "layernorm": {"weight_ih": (16, I), "weight_hh": (16, H), "bias_ih": (16,), "bias_hh": (16,),
                  "ln_gates_weight": (16,), "ln_gates_bias": (16,), "ln_cell_weight": (4,),
                  "ln_cell_bias": (4,)},
}  # fmt: skip


@pytest.mark.parametrize("cell", list(VARIANT_PARAMS))
def test_variant_parameter_names_and_shapes(cell):
    model = LSTM(I, H, 2, cell=cell, bidirectional=True, batch_first=True)
    got = {n: tuple(p.shape) for n, p in model.named_parameters()}
    want = {}
    for sfx in _suffixes(2, True):
        for name, shape in VARIANT_PARAMS[cell].items():
            if name == "weight_ih" and not sfx.startswith("_l0"):
                shape = (shape[0], 2 * H)  # layer k > 0 reads D*H features
            want[f"{name}{sfx}"] = shape
    assert got == want


def test_layernorm_gains_start_at_one_and_shifts_at_zero():
    model = LSTM(I, H, cell="layernorm", batch_first=True)
    assert torch.equal(model.ln_gates_weight_l0, torch.ones(4 * H))
    assert torch.equal(model.ln_cell_weight_l0, torch.ones(H))
    assert torch.equal(model.ln_gates_bias_l0, torch.zeros(4 * H))
    assert torch.equal(model.ln_cell_bias_l0, torch.zeros(H))


def test_bias_false_has_no_bias_parameters():
    model = LSTM(I, H, 2, cell="peephole", bias=False, batch_first=True)
    assert not [n for n, _ in model.named_parameters() if "bias" in n]


@pytest.mark.parametrize("cell", list(VARIANT_PARAMS))
def test_state_dict_round_trip(cell):
    torch.manual_seed(0)
    a = LSTM(I, H, 2, cell=cell, bidirectional=True, backend="fused", batch_first=True)
    torch.manual_seed(1)
    b = LSTM(I, H, 2, cell=cell, bidirectional=True, backend="reference", batch_first=True)
    x = torch.randn(N, L, I)
    with torch.no_grad():
        assert not torch.allclose(a(x)[0], b(x)[0])
        b.load_state_dict(a.state_dict(), strict=True)
        for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
            assert na == nb and torch.equal(pa, pb)
        assert torch.allclose(a(x)[0], b(x)[0], atol=1e-6)


def test_variant_state_dict_does_not_load_into_plain_lstm():
    peephole = LSTM(I, H, cell="peephole", batch_first=True)
    with pytest.raises(RuntimeError, match="weight_peephole_l0"):
        LSTM(I, H, batch_first=True).load_state_dict(peephole.state_dict(), strict=True)


def test_extra_repr_names_the_configuration():
    text = repr(
        LSTM(
            I,
            H,
            2,
            cell="coupled",
            bidirectional=True,
            dropout=0.25,
            backend="fused",
            batch_first=True,
        )
    )
    for part in ("3, 4", "num_layers=2", "cell='coupled'", "bidirectional=True",
                 "dropout=0.25", "backend='fused'"):  # fmt: skip
        assert part in text, text
