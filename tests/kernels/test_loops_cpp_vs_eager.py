"""lstmkit's C++ time loops (torch.ops.lstmkit.*) vs the eager-PyTorch loops (_loops_py), called
directly on the same random inputs; and the fused backend with the extension switched off."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch
from tests.conftest import torch_threads

from lstmkit.kernels import _ext, _loops, _loops_py

TOL = {torch.float32: 1e-5, torch.float64: 1e-12}
L, N, H = 5, 3, 4
BLOCKS = {"lstm": 4, "peephole": 4, "coupled": 3, "gru": 3, "layernorm": 4}


@pytest.fixture(scope="module")
def ops():
    if not _ext.load():
        pytest.skip(f"C++ loops unavailable: {_ext.error()}")
    return torch.ops.lstmkit


def _forward_args(
    cell: str,
    dtype,
    n: int = N,
    with_bias: bool = True,
    seed: int = 0,
    xp_scale: float = 1.0,
    H: int = H,
) -> tuple:
    """Arguments of ``<cell>_forward`` as the fused kernels pass them (w_hh_t a transposed view)."""
    gen = torch.Generator().manual_seed(seed)

    def r(*shape, scale=1.0):
        return torch.randn(*shape, generator=gen, dtype=dtype) * scale

    G = BLOCKS[cell] * H
    xp, h0, c0 = r(L, n, G, scale=xp_scale), r(n, H), r(n, H)  # (L, N, G), (N, H), (N, H)
    w_hh_t = r(G, H, scale=0.5).t()  # (H, G), non-contiguous like w_hh_p.t()
    if cell == "peephole":
        return xp, h0, c0, w_hh_t, r(3 * H, scale=0.5)
    if cell == "gru":
        return xp, h0, w_hh_t, (r(G, scale=0.5) if with_bias else None)
    if cell == "layernorm":
        return xp, h0, c0, w_hh_t, 1 + r(4 * H, scale=0.2), r(4 * H, scale=0.2), 1 + r(H), r(H)
    return xp, h0, c0, w_hh_t


def _backward_args(cell: str, fwd_args: tuple, fwd_out: tuple, with_dcs: bool, seed: int = 1):
    """Arguments of ``<cell>_backward``, built from the eager forward's outputs."""
    gen = torch.Generator().manual_seed(seed)
    like = fwd_out[0]  # hs (L, N, H)
    dhs = torch.randn(like.shape, generator=gen, dtype=like.dtype)
    dcs = torch.randn(like.shape, generator=gen, dtype=like.dtype) if with_dcs else None
    w_hh = fwd_args[3 if cell != "gru" else 2].t()  # (G, H)
    if cell == "gru":
        hs, acts, hn = fwd_out
        return dhs, w_hh, acts, hs, fwd_args[1], hn
    if cell == "layernorm":
        _, cs, tus, xhat, rstd, chat, crstd, acts = fwd_out
        gw, cw = fwd_args[4], fwd_args[6]
        return dhs, dcs, w_hh, acts, cs, tus, xhat, rstd, chat, crstd, fwd_args[2], gw, cw
    _, cs, acts = fwd_out
    extra = (fwd_args[4],) if cell == "peephole" else ()
    return dhs, dcs, w_hh, acts, cs, fwd_args[2], *extra


def _both_forwards(cell: str, ops, args: tuple) -> tuple[tuple, tuple]:
    """(C++, eager) outputs of ``<cell>_forward``, each given its own copy of the arguments (the
    lstm-family and layernorm loops write their gates over xp); checks that they do."""
    want = getattr(_loops_py, f"{cell}_forward")(*(a.clone() if a is not None else a for a in args))
    xp = args[0].clone()
    got = getattr(ops, f"{cell}_forward")(xp, *args[1:])
    if cell != "gru":
        assert got[-1].data_ptr() == xp.data_ptr(), "gates not written over xp"
    return got, want


def _as_dict(outputs: tuple) -> dict:
    return {f"out{k}": t for k, t in enumerate(outputs)}


FORWARD_CASES = [
    pytest.param("lstm", True, id="lstm"),
    pytest.param("peephole", True, id="peephole"),
    pytest.param("coupled", True, id="coupled"),
    pytest.param("gru", True, id="gru-b_hh"),
    pytest.param("gru", False, id="gru-no-b_hh"),
    pytest.param("layernorm", True, id="layernorm"),
]
BACKWARD_CASES = [
    pytest.param("lstm", True, id="lstm-dcs"),
    pytest.param("lstm", False, id="lstm-no-dcs"),
    pytest.param("peephole", True, id="peephole-dcs"),
    pytest.param("peephole", False, id="peephole-no-dcs"),
    pytest.param("coupled", True, id="coupled-dcs"),
    pytest.param("coupled", False, id="coupled-no-dcs"),
    pytest.param("gru", False, id="gru"),
    pytest.param("layernorm", True, id="layernorm-dcs"),
    pytest.param("layernorm", False, id="layernorm-no-dcs"),
]
DTYPES = [pytest.param(torch.float32, id="f32"), pytest.param(torch.float64, id="f64")]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("cell", "with_bias"), FORWARD_CASES)
def test_forward_cpp_matches_eager(parity, ops, cell, with_bias, dtype):
    args = _forward_args(cell, dtype, with_bias=with_bias)
    got, want = _both_forwards(cell, ops, args)
    assert len(got) == len(want)
    assert torch.isfinite(want[0]).all() and want[0].abs().max() > 0.05
    parity.check(_as_dict(got), _as_dict(want), TOL[dtype], f"{cell}_forward {dtype}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("cell", "with_dcs"), BACKWARD_CASES)
def test_backward_cpp_matches_eager(parity, ops, cell, with_dcs, dtype):
    fwd_args = _forward_args(cell, dtype)
    fwd_out = getattr(_loops_py, f"{cell}_forward")(*(a.clone() for a in fwd_args))
    args = _backward_args(cell, fwd_args, fwd_out, with_dcs)
    want = getattr(_loops_py, f"{cell}_backward")(*args)
    got = getattr(ops, f"{cell}_backward")(*args)
    assert len(got) == len(want)
    assert want[0].abs().max() > 0.05  # a real gradient, not all zeros
    parity.check(_as_dict(got), _as_dict(want), TOL[dtype], f"{cell}_backward {dtype}")


PARALLEL_CASES = [
    # (dtype, batch, hidden), each thread's block of rows taking one GEMM path: tiny rows (the
    # plain loop), the register-blocked kernel (with edge rows and, for gru, edge columns), BLAS;
    # an odd batch, so that the two threads' blocks differ in size
    pytest.param(torch.float64, 1100, 4, id="f64-plain"),
    pytest.param(torch.float64, 37, 32, id="f64-blocked"),
    pytest.param(torch.float32, 37, 32, id="f32-blocked"),
    pytest.param(torch.float64, 37, 64, id="f64-blas"),
    pytest.param(torch.float32, 37, 64, id="f32-blas"),
]


@pytest.mark.parametrize(("dtype", "n", "hidden"), PARALLEL_CASES)
@pytest.mark.parametrize("cell", ["lstm", "peephole", "coupled", "gru", "layernorm"])
def test_cpp_matches_eager_with_parallel_rows(parity, ops, cell, dtype, n, hidden):
    """A batch big enough for the C++ loops to split its rows over two threads, each running
    every step of its own rows."""
    with torch_threads(2):
        fwd_args = _forward_args(cell, dtype, n=n, seed=5, H=hidden)
        got, want = _both_forwards(cell, ops, fwd_args)
        parity.check(_as_dict(got), _as_dict(want), TOL[dtype], f"{cell}_forward")
        args = _backward_args(cell, fwd_args, want, with_dcs=True)
        want_b = getattr(_loops_py, f"{cell}_backward")(*args)
        got_b = getattr(ops, f"{cell}_backward")(*args)
        parity.check(_as_dict(got_b), _as_dict(want_b), TOL[dtype], f"{cell}_backward")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cell", ["lstm", "peephole", "coupled", "gru", "layernorm"])
def test_cpp_matches_eager_when_gates_saturate(parity, ops, cell, dtype):
    """Pre-activations of a few hundred: the C++ sigmoid's clamp and -ffast-math stay exact."""
    fwd_args = _forward_args(cell, dtype, xp_scale=300.0)
    got, want = _both_forwards(cell, ops, fwd_args)
    assert all(torch.isfinite(t).all() for t in got)
    parity.check(_as_dict(got), _as_dict(want), TOL[dtype], f"{cell}_forward saturated")
    args = _backward_args(cell, fwd_args, want, with_dcs=True)
    want_b = getattr(_loops_py, f"{cell}_backward")(*args)
    got_b = getattr(ops, f"{cell}_backward")(*args)
    parity.check(_as_dict(got_b), _as_dict(want_b), TOL[dtype], f"{cell}_backward saturated")


@pytest.mark.parametrize("cell", ["lstm", "peephole", "coupled", "layernorm"])
def test_gates_over_xp_need_a_contiguous_xp(ops, cell):
    """The forwards write the gates over xp, so a view (whose copy would be written instead, not
    the caller's tensor the schema names) is refused."""
    args = _forward_args(cell, torch.float32)
    strided = args[0].transpose(0, 1).contiguous().transpose(0, 1)  # same values, not contiguous
    with pytest.raises(RuntimeError, match="xp must be contiguous"):
        getattr(ops, f"{cell}_forward")(strided, *args[1:])


def test_loop_dispatch(ops):
    """CPU float32/float64 take the C++ loops; other dtypes (and eager()) the eager ones."""
    x32, x64 = torch.zeros(1), torch.zeros(1, dtype=torch.float64)
    assert _loops.get("lstm_forward", x32) is ops.lstm_forward
    assert _loops.get("gru_backward", x64) is ops.gru_backward
    assert _loops.get("lstm_forward", x32.bfloat16()) is _loops_py.lstm_forward
    with _loops.eager():
        assert _loops.get("lstm_forward", x32) is _loops_py.lstm_forward
    assert _loops.get("lstm_forward", x32) is ops.lstm_forward


_NO_EXT_SCRIPT = textwrap.dedent(
    """
    import torch
    from lstmkit.kernels import _ext, _loops, _loops_py
    from lstmkit.nn import LSTM
    assert _ext.load() is False, "LSTMKIT_NO_EXT=1 must switch the extension off"
    x = torch.randn(2, 5, 3)
    assert _loops.get("lstm_forward", x) is _loops_py.lstm_forward
    worst = 0.0
    for kind, ref_cls in (("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)):
        torch.manual_seed(0)
        theirs = ref_cls(3, 4, 2, batch_first=True, bidirectional=True)
        ours = LSTM(3, 4, 2, batch_first=True, bidirectional=True, cell=kind, backend="fused")
        ours.load_state_dict(theirs.state_dict(), strict=True)
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        oa, sa = ours(xa)
        ob, sb = theirs(xb)
        ha, hb = sa[0], (sb[0] if kind == "lstm" else sb)
        ga = torch.autograd.grad(oa.square().sum() + ha.sum(), [xa, *ours.parameters()])
        gb = torch.autograd.grad(ob.square().sum() + hb.sum(), [xb, *theirs.parameters()])
        diffs = [(oa - ob).abs().max(), (ha - hb).abs().max()]
        diffs += [(a - b).abs().max() for a, b in zip(ga, gb, strict=True)]
        worst = max(worst, max(d.item() for d in diffs))
    print(f"WORST {worst:.3e}")
    """
)


def test_fused_backend_without_extension_matches_torch():
    env = {**os.environ, "LSTMKIT_NO_EXT": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _NO_EXT_SCRIPT], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    worst = float(proc.stdout.split("WORST")[-1])
    assert worst < 2e-5, f"fused (eager loops) vs torch: max abs diff {worst:.2e}"
