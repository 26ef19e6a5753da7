"""The fused backend on CUDA (eager loops there) matches the same model on the CPU."""

from __future__ import annotations

import pytest
import torch

from lstmkit.nn import LSTM

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

CELLS = ["lstm", "peephole", "coupled", "gru", "layernorm"]


@pytest.fixture(autouse=True)
def _no_tf32():
    """Exact float32 matmuls on the GPU for the comparison."""
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32 = before


def _to(inputs: dict, device) -> dict:
    return {k: None if v is None else v.to(device) for k, v in inputs.items()}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("cell", CELLS)
def test_fused_cuda_matches_cpu(parity, cell, dtype):
    torch.manual_seed(0)
    cpu = LSTM(4, 8, 2, cell=cell, bidirectional=True, backend="fused", batch_first=True).to(dtype)
    gpu = LSTM(4, 8, 2, cell=cell, bidirectional=True, backend="fused", batch_first=True).to(dtype)
    gpu.load_state_dict(cpu.state_dict())
    gpu = gpu.cuda()
    gen = torch.Generator().manual_seed(1)
    inputs = {
        "x": torch.randn(3, 7, 4, generator=gen, dtype=dtype),
        "h0": torch.randn(4, 3, 8, generator=gen, dtype=dtype),
        "c0": None if cell == "gru" else torch.randn(4, 3, 8, generator=gen, dtype=dtype),
    }
    lens = torch.tensor([7, 2, 5])
    want = parity.run(cpu, parity.rnn, inputs, lengths=lens)
    got = parity.run(gpu, parity.rnn, _to(inputs, "cuda"), lengths=lens.cuda())
    assert got["output"].is_cuda
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    parity.check(got, want, tol, f"{cell} cuda vs cpu")
    with torch.no_grad():
        _, _, rec_gpu = gpu(inputs["x"].cuda(), lengths=lens, record=True)
        _, _, rec_cpu = cpu(inputs["x"], lengths=lens, record=True)
    for key in rec_cpu:
        assert torch.allclose(rec_gpu[key].cpu(), rec_cpu[key], atol=tol), key


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_auto_backend_on_cuda_matches_torch(parity, kind):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind.upper())(4, 8, 2, batch_first=True).cuda()
    ours = LSTM(4, 8, 2, cell=kind, backend="auto", batch_first=True).cuda()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    inputs = {"x": torch.randn(3, 7, 4, device="cuda")}
    got = parity.run(ours, parity.rnn, inputs)
    want = parity.run(theirs, parity.rnn, inputs, packed=True)
    parity.check(got, want, 1e-4, f"{kind} auto on cuda")
