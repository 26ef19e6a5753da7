"""kernels.fused_lstm.bf16_gemms: the fused kernels' whole-sequence GEMMs on bf16 operands (fp32
accumulation, fp32 recurrence), for every cell: outputs and gradients close to float32, float32
results, and a kernel keeps the choice it made in its forward for its backward."""

from __future__ import annotations

import pytest
import torch

from lstmkit.kernels.fused_lstm import _gemm_dtype, bf16_gemms
from lstmkit.nn import LSTM

CELLS = ["lstm", "peephole", "coupled", "gru", "layernorm"]


def _run(model: LSTM, x: torch.Tensor, bf16_forward: bool, bf16_backward: bool):
    model.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_()
    with bf16_gemms(bf16_forward):
        out, _ = model(x)
    with bf16_gemms(bf16_backward):
        out.square().sum().backward()
    return out.detach(), x.grad, [p.grad for p in model.parameters()]


@pytest.mark.parametrize("cell", CELLS)
def test_bf16_gemms_close_to_float32(cell):
    torch.manual_seed(0)
    model = LSTM(12, 16, num_layers=2, cell=cell, backend="fused", batch_first=True)
    x = torch.randn(6, 9, 12)
    out32, dx32, g32 = _run(model, x, False, False)
    out16, dx16, g16 = _run(model, x, True, True)
    assert out16.dtype == torch.float32 and dx16.dtype == torch.float32
    assert not torch.equal(out16, out32)  # the bf16 GEMMs ran
    torch.testing.assert_close(out16, out32, rtol=0, atol=2e-2)
    for a, b in zip([dx16, *g16], [dx32, *g32], strict=True):
        assert a.dtype == torch.float32
        scale = b.abs().max().clamp_min(1e-3)
        assert ((a - b).abs().max() / scale) < 3e-2  # bf16 keeps ~3 significant digits


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_backward_keeps_the_forwards_choice(cell):
    torch.manual_seed(1)
    model = LSTM(5, 8, cell=cell, backend="fused", batch_first=True)
    x = torch.randn(7, 3, 5)
    inside = _run(model, x, True, True)
    outside = _run(model, x, True, False)  # backward outside the block: same GEMMs
    for a, b in zip([inside[1], *inside[2]], [outside[1], *outside[2]], strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_bf16_gemms_is_scoped():
    assert _gemm_dtype() is None
    with bf16_gemms():
        assert _gemm_dtype() == torch.bfloat16
        with bf16_gemms(False):  # False keeps what the outer block chose
            assert _gemm_dtype() == torch.bfloat16
    assert _gemm_dtype() is None
