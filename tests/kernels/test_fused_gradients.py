"""lstmkit's fused kernels (hand-written BPTT): torch.autograd.gradcheck in float64 for every cell,
and fused vs reference backend (plain ops under autograd) for every cell in float32."""

from __future__ import annotations

import contextlib

import pytest
import torch
from torch.func import functional_call

from lstmkit.kernels import _ext, _loops
from lstmkit.nn import LSTM

CELLS = ["lstm", "peephole", "coupled", "gru", "layernorm"]


def _loop_context(loops: str):
    """'cpp': lstmkit's C++ loops (skipped when they cannot be built); 'eager': _loops_py."""
    if loops == "eager":
        return _loops.eager()
    if not _ext.load():
        pytest.skip(f"C++ loops unavailable: {_ext.error()}")
    return contextlib.nullcontext()


def _gradcheck_model(model: LSTM, N: int, L: int, lengths, hx: bool) -> None:
    """gradcheck of (output, h_n[, c_n]) w.r.t. x, h0, c0 and every parameter, float64."""
    gen = torch.Generator().manual_seed(3)
    D = model.num_directions
    has_c = model.cell != "gru"
    shape = (D * model.num_layers, N, model.hidden_size)
    x = torch.randn(N, L, model.input_size, generator=gen, dtype=torch.float64)
    h0 = torch.randn(shape, generator=gen, dtype=torch.float64) if hx else torch.zeros(shape)
    c0 = torch.randn(shape, generator=gen, dtype=torch.float64) if hx else torch.zeros(shape)
    names = [n for n, _ in model.named_parameters()]

    def f(x, h0, c0, *params):
        state = (h0, c0) if has_c else h0
        out, (h_n, c_n) = functional_call(
            model, dict(zip(names, params, strict=True)), (x, state), {"lengths": lengths}
        )
        return (out, h_n, c_n) if has_c else (out, h_n)

    inputs = [x, h0.double(), c0.double()] + [p.detach().clone() for p in model.parameters()]
    inputs = [t.requires_grad_() for t in inputs]
    if not has_c:
        inputs[2].requires_grad_(False)  # gru has no cell state: c0 is not an input
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("loops", ["cpp", "eager"])
@pytest.mark.parametrize("cell", CELLS)
def test_gradcheck_bidirectional_with_lengths(cell, loops):
    torch.manual_seed(0)
    model = LSTM(2, 3, 1, cell=cell, bidirectional=True, backend="fused", batch_first=True).double()
    with _loop_context(loops):
        _gradcheck_model(model, N=2, L=3, lengths=torch.tensor([2, 3]), hx=True)


@pytest.mark.parametrize("cell", CELLS)
def test_gradcheck_two_layers_no_bias(cell):
    torch.manual_seed(1)
    model = LSTM(2, 3, 2, cell=cell, bias=False, backend="fused", batch_first=True).double()
    with _loop_context("cpp" if _ext.load() else "eager"):
        _gradcheck_model(model, N=2, L=3, lengths=None, hx=False)


@pytest.mark.parametrize("cell", CELLS)
def test_gradcheck_kernel_function_directly(cell):
    """The fused layer itself (one layer, one direction, time-major), all its inputs."""
    torch.manual_seed(2)
    model = LSTM(2, 3, cell=cell, backend="fused", batch_first=True).double()
    spec = model.spec
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(3, 2, 2, generator=gen, dtype=torch.float64, requires_grad=True)  # (L, N, I)
    h0 = torch.randn(2, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(2, 3, generator=gen, dtype=torch.float64, requires_grad=spec.has_cell_state)
    params = [p.detach().clone().requires_grad_() for p in model._layer_params(0, 0)]
    assert torch.autograd.gradcheck(lambda *a: spec.fn(*a)[:-1] if spec.has_cell_state
                                    else spec.fn(*a)[0], (x, h0, c0, *params))  # fmt: skip


# ---------------------------------------------------------------- fused vs reference backend

# (num_layers, bidirectional, lengths, initial state)
VARIANT_CONFIGS = [
    pytest.param(1, False, False, False, id="l1-uni"),
    pytest.param(2, True, True, True, id="l2-bi-len-hx"),
    pytest.param(1, True, False, True, id="l1-bi-hx"),
]


def _pair(cell, layers, bidir, dtype=torch.float32):
    torch.manual_seed(7)
    fused = LSTM(
        4, 5, layers, cell=cell, bidirectional=bidir, backend="fused", batch_first=True
    ).to(dtype)
    ref = LSTM(
        4, 5, layers, cell=cell, bidirectional=bidir, backend="reference", batch_first=True
    ).to(dtype)
    ref.load_state_dict(fused.state_dict(), strict=True)
    return fused, ref


def _inputs(cell, layers, D, hx, N=3, L=6):
    gen = torch.Generator().manual_seed(9)
    x = torch.randn(N, L, 4, generator=gen)
    h0 = torch.randn(D * layers, N, 5, generator=gen) if hx else None
    c0 = torch.randn(D * layers, N, 5, generator=gen) if hx and cell != "gru" else None
    return {"x": x, "h0": h0, "c0": c0}


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(("layers", "bidir", "lengths", "hx"), VARIANT_CONFIGS)
def test_fused_matches_reference(parity, cell, layers, bidir, lengths, hx):
    """Loss on output, h_n and c_n together; every output and every gradient within 2e-5."""
    fused, ref = _pair(cell, layers, bidir)
    inputs = _inputs(cell, layers, 2 if bidir else 1, hx)
    lens = torch.tensor([6, 3, 1]) if lengths else None
    got = parity.run(fused, parity.rnn, inputs, lengths=lens)
    want = parity.run(ref, parity.rnn, inputs, lengths=lens)
    assert ("c_n" in got) == (cell != "gru")
    parity.check(got, want, parity.tol[torch.float32], f"{cell} fused vs reference")


def _final_state_only(which: str):
    """A ``call`` whose loss sees only h_n or only c_n (no gradient arrives at the outputs)."""

    def call(module, x, h0=None, c0=None, *, lengths=None):
        state = None if h0 is None else ((h0, c0) if c0 is not None else h0)
        _, (h_n, c_n) = module(x, state, lengths=lengths)
        return {which: h_n if which == "h_n" else c_n}

    return call


@pytest.mark.parametrize("which", ["h_n", "c_n"])
@pytest.mark.parametrize("cell", ["lstm", "peephole", "coupled", "layernorm"])
def test_fused_matches_reference_loss_on_final_state_only(parity, cell, which):
    """Gradient entering only through c_n (or h_n): the kernels' dcs / dhs=None paths."""
    fused, ref = _pair(cell, 2, True)
    inputs = _inputs(cell, 2, 2, hx=True)
    lens = torch.tensor([6, 3, 1])
    call = _final_state_only(which)
    got = parity.run(fused, call, inputs, lengths=lens)
    want = parity.run(ref, call, inputs, lengths=lens)
    assert got["dx"].abs().max() > 1e-4, "the loss must reach the input"
    parity.check(got, want, parity.tol[torch.float32], f"{cell} loss on {which}")


@pytest.mark.parametrize("cell", CELLS)
def test_fused_matches_reference_float64(parity, cell):
    fused, ref = _pair(cell, 2, True, torch.float64)
    inputs = {k: None if v is None else v.double() for k, v in _inputs(cell, 2, 2, True).items()}
    lens = torch.tensor([6, 3, 1])
    got = parity.run(fused, parity.rnn, inputs, lengths=lens)
    want = parity.run(ref, parity.rnn, inputs, lengths=lens)
    parity.check(got, want, parity.tol[torch.float64], f"{cell} fused vs reference float64")


FROZEN = {
    "input-side": ("weight_ih", "bias_ih", "weight_peephole", "ln_gates"),
    "recurrent-side": ("weight_hh", "bias_hh", "ln_cell"),
    "one-bias": ("bias_hh",),
}


@pytest.mark.parametrize("frozen", list(FROZEN))
@pytest.mark.parametrize("cell", CELLS)
def test_fused_matches_reference_with_frozen_parameters(parity, cell, frozen):
    """needs_input_grad paths: gradients of the trainable parameters stay right."""
    fused, ref = _pair(cell, 2, True)
    for model in (fused, ref):
        for name, p in model.named_parameters():
            p.requires_grad_(not name.startswith(FROZEN[frozen]))
    inputs = _inputs(cell, 2, 2, hx=True)
    got = parity.run(fused, parity.rnn, inputs)
    want = parity.run(ref, parity.rnn, inputs)
    assert not any(k.startswith(tuple(f"d{p}" for p in FROZEN[frozen])) for k in got)
    parity.check(got, want, parity.tol[torch.float32], f"{cell} frozen {frozen}")


@pytest.mark.parametrize("cell", CELLS)
def test_bias_gradients_are_separate_tensors(cell):
    """bias_ih and bias_hh share one gradient in the LSTM-family kernels: their .grad must still
    be separate tensors, so an in-place change of one (clipping, weight decay) leaves the other."""
    model = LSTM(3, 4, cell=cell, backend="fused", batch_first=True)
    out, _ = model(torch.randn(2, 5, 3))
    out.sum().backward()
    before = model.bias_hh_l0.grad.clone()
    model.bias_ih_l0.grad.mul_(0.5)
    assert torch.equal(model.bias_hh_l0.grad, before)


@pytest.mark.parametrize("cell", ["lstm", "peephole", "coupled", "gru", "layernorm"])
def test_second_derivative_is_a_clear_error(cell):
    """The hand-written backward is first order only: double backward says so."""
    m = LSTM(3, 4, cell=cell, backend="fused", batch_first=True)
    x = torch.randn(2, 5, 3, requires_grad=True)
    (g,) = torch.autograd.grad(m(x)[0].square().sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="differentiate twice"):
        g.sum().backward()
