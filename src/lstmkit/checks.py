"""Self-checks of the core, used by ``lstmkit demo``: gradient check and parity with torch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lstmkit import reference as ref
from lstmkit.nn import LSTM

__all__ = ["ParityResult", "gradient_check", "parity_check"]


def gradient_check(
    cells: tuple[str, ...] = ref.CELLS, eps: float = 1e-6, seed: int = 0
) -> dict[str, float]:
    """Reference BPTT vs central finite differences in float64: worst relative error per cell.

    The error of a gradient is max|analytic - numeric| / max|numeric| over its entries; the worst
    over every parameter, the input and the initial state is reported.
    """
    worst: dict[str, float] = {}
    rng = np.random.default_rng(seed)
    for cell in cells:
        params = ref.init_params(3, 4, cell=cell, seed=seed)
        x = rng.standard_normal((2, 5, 3))
        h0 = rng.standard_normal((2, 4))
        c0 = None if cell == "gru" else rng.standard_normal((2, 4))
        weight = rng.standard_normal((2, 5, 4))  # loss = sum(h_seq * weight)
        inputs = {**params, "x": x, "h0": h0} | ({} if c0 is None else {"c0": c0})

        _, cache = ref.lstm_forward(x, params, h0, c0, cell=cell)
        grads = ref.lstm_backward(weight, cache)
        err = 0.0
        for key, base in inputs.items():
            num = np.zeros_like(base)
            for idx in np.ndindex(base.shape):
                old = base[idx]
                base[idx] = old + eps
                up = _loss(inputs, list(params), cell, weight)
                base[idx] = old - eps
                down = _loss(inputs, list(params), cell, weight)
                base[idx] = old
                num[idx] = (up - down) / (2 * eps)
            scale = max(1e-8, float(np.abs(num).max()))
            err = max(err, float(np.abs(grads[key] - num).max()) / scale)
        worst[cell] = err
    return worst


def _loss(v: dict[str, np.ndarray], keys: list[str], cell: str, weight: np.ndarray) -> float:
    h, _ = ref.lstm_forward(v["x"], {k: v[k] for k in keys}, v["h0"], v.get("c0"), cell=cell)
    return float((h * weight).sum())


@dataclass
class ParityResult:
    kind: str  # "lstm" or "gru"
    backend: str
    dtype: str
    max_abs_diff: float  # over output, final states and every gradient


def parity_check(seed: int = 0) -> list[ParityResult]:
    """lstmkit.nn.LSTM (every backend) vs torch.nn.LSTM / GRU with the same weights:
    2 layers, bidirectional, right-padded batch with lengths, random initial state."""
    results = []
    for kind in ("lstm", "gru"):
        for dtype in (torch.float32, torch.float64):
            for backend in ("auto", "fused", "reference"):
                torch.manual_seed(seed)
                diff = _parity_one(kind, backend, dtype)
                results.append(ParityResult(kind, backend, str(dtype).split(".")[-1], diff))
    return results


def _parity_one(kind: str, backend: str, dtype: torch.dtype) -> float:
    N, L, I, H, layers = 4, 9, 5, 7, 2
    torch_cls = torch.nn.LSTM if kind == "lstm" else torch.nn.GRU
    tm = torch_cls(I, H, layers, batch_first=True, bidirectional=True).to(dtype)
    lm = LSTM(I, H, layers, cell=kind, bidirectional=True, backend=backend, batch_first=True).to(
        dtype
    )
    lm.load_state_dict(tm.state_dict(), strict=True)
    x = torch.randn(N, L, I, dtype=dtype)
    lengths = torch.tensor([9, 5, 9, 1])
    h0 = torch.randn(2 * layers, N, H, dtype=dtype)
    hx = (h0, torch.randn_like(h0)) if kind == "lstm" else h0
    tx, lx = x.clone().requires_grad_(), x.clone().requires_grad_()
    packed = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, True, enforce_sorted=False)
    to, th = tm(packed, hx)
    to, _ = torch.nn.utils.rnn.pad_packed_sequence(to, batch_first=True, total_length=L)
    lo, (lh, lc) = lm(lx, hx, lengths=lengths)
    th_h = th[0] if kind == "lstm" else th
    diff = max((to - lo).abs().max().item(), (th_h - lh).abs().max().item())
    if kind == "lstm":
        diff = max(diff, (th[1] - lc).abs().max().item())
    w = torch.randn_like(to)
    names = [n for n, _ in tm.named_parameters()]
    lp = dict(lm.named_parameters())
    tg = torch.autograd.grad((to * w).sum() + th_h.sum(), [tx, *tm.parameters()])
    lg = torch.autograd.grad((lo * w).sum() + lh.sum(), [lx] + [lp[n] for n in names])
    return max([diff] + [(a - b).abs().max().item() for a, b in zip(tg, lg, strict=True)])
