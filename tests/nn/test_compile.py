"""torch.compile and torch.export of models holding lstmkit's layers, every cell and backend.

Outputs and every gradient (input, initial state, all parameters) of the compiled or exported
model must equal eager's. The fused layers are ``torch.library`` custom ops
(``lstmkit::<cell>_layer``) with fake kernels and autograd formulas; ``torch.library.opcheck``
checks each registration. Most compiles use the ``aot_eager`` backend (the same Dynamo capture
and AOT autograd split as inductor, without inductor's C++ code generation, which would cost
~10 s per case here); one model per cell goes through the default inductor backend.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from lstmkit.kernels.ops import OPS
from lstmkit.nn import GRU, LSTM

CELLS = ("lstm", "coupled", "peephole", "layernorm", "gru")
NATIVE = ("lstm", "gru")
CASES = [(c, b) for c in CELLS for b in ("auto", "fused", "reference", "torch")
         if b != "torch" or c in NATIVE]  # fmt: skip


class Tagger(nn.Module):
    """A two-layer recurrent encoder with a linear head, time-major as torch's default."""

    def __init__(self, cell: str, backend: str, bidirectional: bool = False) -> None:
        super().__init__()
        if cell == "gru":
            self.rnn = GRU(3, 5, 2, bidirectional=bidirectional, backend=backend)
        else:
            self.rnn = LSTM(3, 5, 2, bidirectional=bidirectional, cell=cell, backend=backend)
        self.head = nn.Linear(5 * (2 if bidirectional else 1), 2)

    def forward(self, x: Tensor, h0: Tensor) -> tuple[Tensor, Tensor]:
        hx = h0 if isinstance(self.rnn, GRU) else (h0, torch.tanh(h0))
        out, state = self.rnn(x, hx)
        h_n = state if isinstance(self.rnn, GRU) else state[0]
        return self.head(out), h_n


def _model(cell: str, backend: str, **kwargs) -> Tagger:
    torch.manual_seed(0)
    return Tagger(cell, backend, **kwargs)


def _inputs(model: Tagger) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(1)
    d = model.rnn.num_directions
    return torch.randn(6, 4, 3, generator=gen), torch.randn(2 * d, 4, 5, generator=gen)


def _outputs_and_grads(fn, model: nn.Module, x: Tensor, h0: Tensor) -> dict[str, Tensor]:
    model.zero_grad(set_to_none=True)
    x, h0 = x.clone().requires_grad_(), h0.clone().requires_grad_()
    y, h_n = fn(x, h0)
    gen = torch.Generator().manual_seed(2)
    loss = (y * torch.randn(y.shape, generator=gen)).sum() + (
        h_n * torch.randn(h_n.shape, generator=gen)
    ).sum()
    loss.backward()
    result = {"y": y.detach(), "h_n": h_n.detach(), "dx": x.grad, "dh0": h0.grad}
    result.update({f"d{n}": p.grad for n, p in model.named_parameters()})
    return result


def _assert_same(ours: dict[str, Tensor], eager: dict[str, Tensor], label: str) -> None:
    assert sorted(ours) == sorted(eager), label
    for key, value in eager.items():
        assert ours[key] is not None, f"{label}: no gradient {key}"
        torch.testing.assert_close(ours[key], value, rtol=1e-5, atol=1e-6, msg=f"{label} {key}")


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize(("cell", "backend"), CASES)
def test_compile_matches_eager(cell, backend):
    """One graph (fullgraph=True) for lstmkit's backends; backend='torch' compiles with the
    graph break that torch.nn.LSTM has too."""
    model = _model(cell, backend)
    x, h0 = _inputs(model)
    eager = _outputs_and_grads(model, model, x, h0)
    compiled = torch.compile(model, backend="aot_eager", fullgraph=backend != "torch")
    _assert_same(_outputs_and_grads(compiled, model, x, h0), eager, f"{cell}/{backend}")


@pytest.mark.parametrize("cell", NATIVE)
def test_backend_torch_breaks_the_graph_as_torch_does(cell):
    """backend='torch' runs torch's own RNN kernels, which Dynamo leaves out of the graph (as it
    does for torch.nn.LSTM): fullgraph=True refuses it, default compile runs it eagerly."""
    model = _model(cell, "torch")
    x, h0 = _inputs(model)
    with pytest.raises(Exception, match=r"disable|skipped"):
        torch.compile(model, backend="aot_eager", fullgraph=True)(x, h0)


@pytest.mark.parametrize("cell", ("lstm", "layernorm"))
def test_inductor_compile_of_fused_layers(cell):
    """The default backend: the custom op sits between inductor's generated kernels (two cells:
    inductor's first compile costs ~25 s on a cold cache)."""
    model = _model(cell, "auto", bidirectional=True)
    x, h0 = _inputs(model)
    eager = _outputs_and_grads(model, model, x, h0)
    compiled = torch.compile(model, fullgraph=True)
    _assert_same(_outputs_and_grads(compiled, model, x, h0), eager, f"{cell}/inductor")


def test_compile_with_lengths():
    """Padded batches (``lengths=``) and layers without biases compile too."""
    torch.manual_seed(0)
    rnn = LSTM(3, 5, bias=False, cell="peephole", backend="fused")
    x = torch.randn(6, 4, 3)
    lengths = torch.tensor([6, 2, 4, 1])
    eager = rnn(x, lengths=lengths)
    out, (h_n, c_n) = torch.compile(rnn, backend="aot_eager")(x, lengths=lengths)
    torch.testing.assert_close(out, eager[0])
    torch.testing.assert_close(h_n, eager[1][0])
    torch.testing.assert_close(c_n, eager[1][1])


@pytest.mark.parametrize(("cell", "backend"), CASES)
def test_export_matches_eager(cell, backend):
    model = _model(cell, backend)
    x, h0 = _inputs(model)
    program = torch.export.export(model, (x, h0))
    if backend != "reference" and not (backend in ("auto", "torch") and cell in NATIVE):
        # lstmkit's kernels are one node each: two layers, one op call per layer
        targets = [str(n.target) for n in program.graph.nodes if n.op == "call_function"]
        assert sum(f"lstmkit.{cell}_layer" in t for t in targets) == 2, targets
    eager = _outputs_and_grads(model, model, x, h0)
    exported = program.module()
    ours = _outputs_and_grads(exported, exported, x, h0)
    _assert_same(ours, eager, f"{cell}/{backend} exported")


def _op_args(cell: str, dtype: torch.dtype) -> tuple:
    gen = torch.Generator().manual_seed(0)
    L, N, I, H = 3, 2, 4, 5
    G = (3 if cell in ("gru", "coupled") else 4) * H

    def r(*shape):
        return torch.randn(*shape, generator=gen, dtype=dtype).requires_grad_()

    state = (r(N, H),) if cell == "gru" else (r(N, H), r(N, H))
    extra = {"peephole": (r(3 * H),), "layernorm": (r(4 * H), r(4 * H), r(H), r(H))}
    return (r(L, N, I), *state, r(G, I), r(G, H), r(G), r(G), *extra.get(cell, ()))


@pytest.mark.parametrize("cell", CELLS)
def test_opcheck(cell):
    """torch's own checks of a custom op: schema, fake kernel, autograd registration, AOT."""
    fwd = OPS[cell][0]
    for dtype, bf16 in ((torch.float64, False), (torch.float32, True)):
        torch.library.opcheck(fwd, (*_op_args(cell, dtype), bf16))
