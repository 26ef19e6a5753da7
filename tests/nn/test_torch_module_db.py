"""torch's own samples for nn.LSTM / GRU / LSTMCell / GRUCell, run against lstmkit's modules.

``torch.testing._internal.common_modules.module_db`` holds the constructor arguments and inputs
torch tests its recurrent modules with (52 samples: projections, unbatched inputs, no bias,
bidirectional, batch_first, given and default states). Each sample, in float32 and float64, builds
torch's module and lstmkit's with the same arguments, loads torch's ``state_dict`` into lstmkit's
and checks outputs, final states and every gradient (inputs, states, parameters) on every backend
that runs the configuration. The variant cells run the same samples against the ``reference``
backend (step by step under autograd), since torch has no module to compare them with.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.testing._internal.common_modules import module_db

import lstmkit.nn as lk

# common_utils freezes torch.backends' flags at import; give other tests back the right to set them
setattr(torch.backends, "__allow_nonbracketed_mutation_flag", True)

OURS = {nn.LSTM: lk.LSTM, nn.GRU: lk.GRU, nn.LSTMCell: lk.LSTMCell, nn.GRUCell: lk.GRUCell}
DTYPES = (torch.float32, torch.float64)


def _samples():
    torch.manual_seed(0)  # the samples' random inputs: the same whatever ran before
    out = []
    for info in module_db:
        if info.module_cls not in OURS:
            continue
        for dtype in DTYPES:
            made = info.module_inputs_func(
                info, device="cpu", dtype=dtype, requires_grad=True, training=True
            )
            for k, sample in enumerate(made):
                sid = f"{info.name}-{k}-{str(dtype).removeprefix('torch.')}"
                out.append(pytest.param(info.module_cls, dtype, sample, id=sid))
    return out


SAMPLES = _samples()
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")


def test_all_of_torchs_samples_are_here() -> None:
    assert len(SAMPLES) == 104  # 52 samples (32 LSTM, 16 GRU, 2 + 2 cells), two dtypes


def _fresh(v):
    """The sample's inputs, detached copies that collect their own gradients."""
    if isinstance(v, torch.Tensor):
        return v.detach().clone().requires_grad_(v.requires_grad)
    if isinstance(v, tuple | list):
        return type(v)(_fresh(t) for t in v)
    return v


def _tensors(v) -> list[torch.Tensor]:
    if isinstance(v, torch.Tensor):
        return [v]
    if isinstance(v, tuple | list):
        return [t for item in v for t in _tensors(item)]
    return []


def _run(module: nn.Module, sample, seed: int = 0):
    """Outputs, then the gradients of a fixed random weighting of them w.r.t. inputs and
    parameters (by name)."""
    args = _fresh(sample.forward_input.args)
    kwargs = _fresh(sample.forward_input.kwargs)
    outputs = _tensors(module(*args, **kwargs))
    g = torch.Generator().manual_seed(seed)
    loss = sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in outputs)
    inputs = [t for t in _tensors((args, list(kwargs.values()))) if t.requires_grad]
    params = dict(module.named_parameters())
    grads = torch.autograd.grad(loss, [*inputs, *params.values()], allow_unused=True)
    return outputs, list(grads[: len(inputs)]), dict(zip(params, grads[len(inputs) :], strict=True))


def _assert_same(ours, theirs, what: str, **tol) -> None:
    """Equal outputs and gradients; assert_close's tolerances for the dtype unless ``tol``,
    whose atol then scales with the largest expected value of each tensor (a float32 gradient
    summed over steps carries an error relative to its largest terms, not to each element: a
    layernorm gradient element of 0.2 beside ones of 15 measured 7.6e-5 off)."""
    (out_a, gin_a, gp_a), (out_b, gin_b, gp_b) = ours, theirs
    assert len(out_a) == len(out_b), f"{what}: {len(out_a)} outputs, expected {len(out_b)}"

    def close(a, b, msg):
        scaled = dict(tol)
        if b is not None and tol and b.numel():
            scaled["atol"] = tol["atol"] * max(1.0, b.detach().abs().max().item())
        torch.testing.assert_close(a, b, **scaled, msg=msg)

    for k, (a, b) in enumerate(zip(out_a, out_b, strict=True)):
        close(a, b, msg=lambda m, k=k: f"{what}: output {k}: {m}")
    for k, (a, b) in enumerate(zip(gin_a, gin_b, strict=True)):
        close(a, b, msg=lambda m, k=k: f"{what}: input grad {k}: {m}")
    assert gp_a.keys() == gp_b.keys()
    for name in gp_b:
        close(gp_a[name], gp_b[name], msg=lambda m, n=name: f"{what}: {n}: {m}")


def _build(cls, sample, dtype, **options) -> nn.Module:
    ca = sample.constructor_input
    return cls(*ca.args, **ca.kwargs, **options).to(dtype)


def _backends(cls, sample) -> tuple[str, ...]:
    if cls in (nn.LSTMCell, nn.GRUCell):
        return ("",)  # a cell has one path
    projected = sample.constructor_input.kwargs.get("proj_size", 0)
    return ("auto", "torch", "reference") if projected else ("auto", "torch", "fused", "reference")


# float32: the gradients sum products over steps and batch rows in another order than torch's
# kernels; measured differences reach 1.5e-5 on values near 1 (assert_close's default atol 1e-5)
FLOAT32_TOL = {"rtol": 5e-5, "atol": 5e-5}


@pytest.mark.parametrize(("cls", "dtype", "sample"), SAMPLES)
def test_matches_torch(cls, dtype, sample) -> None:
    torch.manual_seed(0)  # torch's initial weights
    theirs = _build(cls, sample, dtype)
    tol = FLOAT32_TOL if dtype == torch.float32 else {}
    expected = _run(theirs, sample)
    for backend in _backends(cls, sample):
        options = {"backend": backend} if backend else {}
        ours = _build(OURS[cls], sample, dtype, **options)
        ours.load_state_dict(theirs.state_dict())
        _assert_same(_run(ours, sample), expected, f"backend={backend or 'cell'}", **tol)


VARIANTS = ("peephole", "coupled", "layernorm")
LSTM_SAMPLES = [p for p in SAMPLES if p.values[0] in (nn.LSTM, nn.LSTMCell)]


@pytest.mark.parametrize(("cls", "dtype", "sample"), LSTM_SAMPLES)
@pytest.mark.parametrize("cell", VARIANTS)
def test_variant_cells_match_reference(cell, cls, dtype, sample) -> None:
    """Every backend of a variant cell against ``reference`` on torch's samples; a variant cell
    (LSTMCell) against a one-step ``reference`` layer."""
    if cls is nn.LSTMCell:
        _check_variant_cell(cell, dtype, sample)
        return
    ref = _build(lk.LSTM, sample, dtype, cell=cell, backend="reference")
    expected = _run(ref, sample)
    projected = sample.constructor_input.kwargs.get("proj_size", 0)
    for backend in ("auto",) if projected else ("auto", "fused"):
        ours = _build(lk.LSTM, sample, dtype, cell=cell, backend=backend)
        ours.load_state_dict(ref.state_dict())
        # fused kernels sum in another order than autograd (and multithreaded GEMMs in varying
        # orders): float32 layernorm gradients of ~15 differ by up to ~2e-5 relative
        tol = FLOAT32_TOL if dtype == torch.float32 else {}
        _assert_same(_run(ours, sample), expected, f"cell={cell} backend={backend}", **tol)


def _check_variant_cell(cell: str, dtype, sample) -> None:
    ours = _build(lk.LSTMCell, sample, dtype, cell=cell)
    ref = lk.LSTM(*sample.constructor_input.args, cell=cell, backend="reference").to(dtype)
    ref.load_state_dict({f"{k}_l0": v for k, v in ours.state_dict().items()})
    x, (h, c) = sample.forward_input.args
    a, b = _fresh([x, h, c]), _fresh([x, h, c])
    got = ours(a[0], (a[1], a[2]))
    _, (h_n, c_n) = ref(b[0][None], (b[1][None], b[2][None]))  # one step, unbatched
    expected = (h_n[0], c_n[0])
    weights = [torch.randn_like(t) for t in expected]
    grads = (_grads(got, weights, a, ours), _grads(expected, weights, b, ref))
    pairs = [(got, expected, "output"), (*grads, "grad")]
    for mine, theirs, named in pairs:
        for u, v in zip(mine, theirs, strict=True):
            torch.testing.assert_close(u, v, msg=lambda m, n=named: f"cell={cell} {n}: {m}")


def _grads(outputs, weights, inputs, module) -> list[torch.Tensor]:
    loss = sum((o * w).sum() for o, w in zip(outputs, weights, strict=True))
    params = [p for _, p in sorted(module.named_parameters(), key=lambda kv: kv[0].split("_l0")[0])]
    return list(torch.autograd.grad(loss, [*inputs, *params]))
