"""lstmkit.nn.LSTM (cell="lstm" / "gru") vs torch.nn.LSTM / torch.nn.GRU with the same weights.

Outputs, h_n, c_n and the gradients of x, h0, c0 and every parameter, on every backend, for a
representative cross product of layers, directions, lengths, initial state and layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from lstmkit.nn import LSTM

I, H, N, L = 4, 5, 3, 6
LENGTHS = torch.tensor([6, 2, 4])  # unsorted, one full-length and one short sequence
BACKENDS = ["auto", "torch", "fused", "reference"]
TORCH_RNN = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


@dataclass(frozen=True)
class Config:
    layers: int
    bidir: bool
    lengths: bool  # right-padded batch with LENGTHS (torch: pack_padded_sequence)
    hx: bool  # random initial state
    batch_first: bool
    bias: bool
    load: str  # whose state_dict the other loads: "torch->ours" or "ours->torch"


CONFIGS = [
    pytest.param(Config(1, False, False, False, True, True, "torch->ours"), id="l1-uni-bf"),
    pytest.param(Config(1, True, True, True, False, True, "ours->torch"), id="l1-bi-len-hx-tf"),
    pytest.param(Config(2, True, False, True, True, True, "torch->ours"), id="l2-bi-hx-bf"),
    pytest.param(Config(2, False, True, False, False, False, "ours->torch"), id="l2-len-tf-nobias"),
    pytest.param(Config(3, False, True, True, True, True, "torch->ours"), id="l3-uni-len-hx-bf"),
    pytest.param(Config(3, True, True, False, True, True, "ours->torch"), id="l3-bi-len-bf"),
]


def _models(kind: str, cfg: Config, backend: str, dtype):
    """A torch module and an lstmkit module with identical weights (state_dict, strict=True)."""
    torch.manual_seed(11)
    theirs = TORCH_RNN[kind](I, H, cfg.layers, batch_first=cfg.batch_first,
                             bidirectional=cfg.bidir, bias=cfg.bias)  # fmt: skip
    ours = LSTM(I, H, cfg.layers, cell=kind, bidirectional=cfg.bidir, batch_first=cfg.batch_first,
                bias=cfg.bias, backend=backend)  # fmt: skip
    theirs, ours = theirs.to(dtype), ours.to(dtype)
    if cfg.load == "torch->ours":
        ours.load_state_dict(theirs.state_dict(), strict=True)
    else:
        theirs.load_state_dict(ours.state_dict(), strict=True)
    for name, p in ours.named_parameters():
        assert torch.equal(p, getattr(theirs, name)), name
    return ours, theirs


def _inputs(kind: str, cfg: Config, dtype):
    D = 2 if cfg.bidir else 1
    shape = (D * cfg.layers, N, H)
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(N, L, I, generator=gen, dtype=dtype)  # (N, L, I)
    if not cfg.batch_first:
        x = x.transpose(0, 1).contiguous()  # (L, N, I)
    h0 = torch.randn(shape, generator=gen, dtype=dtype) if cfg.hx else None
    c0 = torch.randn(shape, generator=gen, dtype=dtype) if cfg.hx and kind == "lstm" else None
    return {"x": x, "h0": h0, "c0": c0}, (LENGTHS if cfg.lengths else None)


def _check_parity(parity, kind: str, backend: str, dtype, cfg: Config) -> None:
    ours, theirs = _models(kind, cfg, backend, dtype)
    inputs, lens = _inputs(kind, cfg, dtype)
    got = parity.run(ours, parity.rnn, inputs, lengths=lens)
    want = parity.run(theirs, parity.rnn, inputs, lengths=lens, packed=True)
    D = 2 if cfg.bidir else 1
    assert got["output"].shape == ((N, L, D * H) if cfg.batch_first else (L, N, D * H))
    assert got["h_n"].shape == (D * cfg.layers, N, H)
    assert ("c_n" in got) == (kind == "lstm")  # gru returns c_n = None
    if lens is not None:
        out, dx = got["output"], got["dx"]
        if not cfg.batch_first:
            out, dx = out.transpose(0, 1), dx.transpose(0, 1)  # (N, L, ·)
        padded = torch.arange(L)[None, :] >= lens[:, None]  # (N, L)
        assert padded.any()
        assert torch.count_nonzero(out[padded]) == 0, "padded outputs must be exactly zero"
        assert torch.count_nonzero(dx[padded]) == 0, "padded inputs must get no gradient"
    parity.check(got, want, parity.tol[dtype], f"{kind} backend={backend} {dtype}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("cfg", CONFIGS)
def test_parity_float32(parity, kind, backend, cfg):
    _check_parity(parity, kind, backend, torch.float32, cfg)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("cfg", [CONFIGS[1], CONFIGS[4]])
def test_parity_float64(parity, kind, backend, cfg):
    _check_parity(parity, kind, backend, torch.float64, cfg)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_parameter_names_and_shapes_match_torch(kind):
    ours = LSTM(I, H, 2, cell=kind, bidirectional=True, batch_first=True)
    theirs = TORCH_RNN[kind](I, H, 2, bidirectional=True)
    got = {n: tuple(p.shape) for n, p in ours.named_parameters()}
    want = {n: tuple(p.shape) for n, p in theirs.named_parameters()}
    assert got == want


def test_lengths_as_list_equal_lengths_as_tensor(parity):
    torch.manual_seed(0)
    model = LSTM(I, H, 2, bidirectional=True, backend="fused", batch_first=True)
    x = torch.randn(N, L, I)
    a = parity.run(model, parity.rnn, {"x": x}, lengths=LENGTHS)
    b = parity.run(model, parity.rnn, {"x": x}, lengths=LENGTHS.tolist())
    assert parity.check(a, b, 0.0) == 0.0


def test_full_lengths_equal_no_lengths(parity):
    """lengths == L everywhere must give exactly what no lengths gives."""
    torch.manual_seed(0)
    model = LSTM(I, H, 2, bidirectional=True, backend="fused", batch_first=True)
    x = torch.randn(N, L, I)
    a = parity.run(model, parity.rnn, {"x": x}, lengths=torch.full((N,), L))
    b = parity.run(model, parity.rnn, {"x": x})
    parity.check(a, b, 1e-6, "full lengths")


@pytest.mark.parametrize("backend", ["fused", "reference"])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize(("n", "length"), [(1, 1), (3, 1), (1, 4)])
def test_parity_tiny_sizes(parity, kind, backend, n, length):
    torch.manual_seed(0)
    theirs = TORCH_RNN[kind](I, H, 2, batch_first=True, bidirectional=True)
    ours = LSTM(I, H, 2, cell=kind, bidirectional=True, backend=backend, batch_first=True)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    inputs = {"x": torch.randn(n, length, I)}
    lens = torch.full((n,), length)
    got = parity.run(ours, parity.rnn, inputs, lengths=lens)
    want = parity.run(theirs, parity.rnn, inputs, lengths=lens, packed=True)
    parity.check(got, want, parity.tol[torch.float32], f"{kind} N={n} L={length}")


def _padding_run(parity, kind, backend, pad_value):
    """Outputs and gradients of a loss on the valid steps only, padding filled with pad_value."""
    torch.manual_seed(0)
    model = LSTM(I, H, 2, cell=kind, bidirectional=True, backend=backend, batch_first=True)
    x = torch.randn(N, L, I)
    padded = torch.arange(L)[None, :] >= LENGTHS[:, None]  # (N, L)
    x[padded] = pad_value

    def call(module, x):
        out, (h_n, c_n) = module(x, lengths=LENGTHS)
        # the loss sees only the valid steps: the padded outputs are returned detached
        return {"valid": out[~padded], "padded": out[padded].detach(), "h_n": h_n, "c_n": c_n}

    result = parity.run(model, call, {"x": x})
    result["dx"] = result["dx"][~padded]  # the padded inputs' own gradient aside
    return result


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_finite_padding_values_do_not_matter(parity, kind, backend):
    """What sits in the padded steps changes nothing: outputs there stay zero, and the valid
    outputs, final states and every gradient equal those with zero padding."""
    got = _padding_run(parity, kind, backend, 1e3)
    want = _padding_run(parity, kind, backend, 0.0)
    assert torch.count_nonzero(got["padded"]) == 0
    parity.check(got, want, 1e-6, f"{kind} {backend} padding 1e3 vs 0")


@pytest.mark.parametrize(
    "backend",
    [
        "torch",
        "fused",
        "reference",
    ],
)
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_nan_padding_does_not_leak(parity, kind, backend):
    got = _padding_run(parity, kind, backend, float("nan"))
    want = _padding_run(parity, kind, backend, 0.0)
    assert torch.count_nonzero(got["padded"]) == 0, "padded outputs must be exactly zero"
    parity.check(got, want, 1e-6, f"{kind} {backend} NaN padding")


def test_the_signature_is_torchs_positional_calls_mean_the_same() -> None:
    import inspect

    ours = list(inspect.signature(LSTM).parameters)
    theirs = ["input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
              "bidirectional", "proj_size", "device", "dtype"]  # fmt: skip
    assert ours[: len(theirs)] == theirs
    for name in theirs[2:]:  # torch's defaults
        assert inspect.signature(LSTM).parameters[name].default == {
            "num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
            "bidirectional": False, "proj_size": 0, "device": None, "dtype": None,
        }[name]  # fmt: skip
    positional = LSTM(I, H, 2, False, True, 0.0, True)  # torch's meaning of each position
    assert (positional.num_layers, positional.bias, positional.batch_first) == (2, False, True)
    assert positional.bidirectional and not hasattr(positional, "bias_ih_l0")  # bias=False


@pytest.mark.parametrize("batch_first", [False, True])
def test_the_default_reads_time_major_input_as_torch_does(batch_first: bool) -> None:
    torch.manual_seed(0)
    kw = {"batch_first": True} if batch_first else {}
    theirs = torch.nn.LSTM(I, H, 2, **kw).double()
    ours = LSTM(I, H, 2, **kw, dtype=torch.float64)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(L, N, I, dtype=torch.float64)  # (L, N, I): time-major, torch's default
    out, (h, c) = ours(x)
    ref, (rh, rc) = theirs(x)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(h, rh, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(c, rc, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"proj_size": -1}, r"proj_size should be a positive integer or zero"),
        ({"proj_size": H}, rf"proj_size has to be smaller than hidden_size, got {H} >= {H}"),
        ({"proj_size": 2, "cell": "gru"}, r"needs a cell with a cell state.*cell='gru'"),
        ({"proj_size": 2, "backend": "fused"}, r"fused kernels have no projection"),
    ],
)
def test_proj_size_rules(kwargs, pattern) -> None:
    with pytest.raises(ValueError, match=pattern):
        LSTM(I, H, **kwargs)
