"""Time bookkeeping of a padded batch: reversing each sequence within its length, final states,
recorded values (helpers of ``LSTM._forward_layers``)."""

from __future__ import annotations

import torch
from torch import Tensor

from lstmkit.kernels.cells import CellSpec, LayerResult

__all__ = ["final_state", "record_values", "reverse_index", "reverse_result", "time_reverse"]


def reverse_index(L: int, N: int, lens: Tensor | None, device) -> Tensor | None:
    """Time index that reverses each sequence within its valid length (an involution)."""
    if lens is None:
        return None
    t = torch.arange(L, device=device)[:, None]  # (L, 1)
    return torch.where(t < lens, lens - 1 - t, t)  # (L, N)


def time_reverse(x: Tensor, rev: Tensor | None) -> Tensor:
    if rev is None:
        return x.flip(0)
    return x.gather(0, rev[..., None].expand_as(x))


def reverse_result(r: LayerResult, rev: Tensor | None) -> LayerResult:
    gates = None if r.gates is None else {k: time_reverse(v, rev) for k, v in r.gates.items()}
    cs = None if r.cs is None else time_reverse(r.cs, rev)
    return LayerResult(time_reverse(r.hs, rev), cs, gates)


def final_state(seq: Tensor, lens: Tensor | None) -> Tensor:
    """The state after each sequence's last valid step (in processing order): (N, H)."""
    if lens is None:
        return seq[-1]
    return seq[lens - 1, torch.arange(seq.shape[1], device=seq.device)]


def record_values(spec: CellSpec, r: LayerResult, mask: Tensor | None) -> dict[str, Tensor]:
    """(L, N, H) per key -> (N, L, H), zeros at padded steps."""
    values = dict(r.gates or {})
    values["h"] = r.hs
    if r.cs is not None:
        values["c"] = r.cs
    out = {}
    for key in spec.record_keys:
        v = values[key] if mask is None else torch.where(mask, values[key], 0.0)
        out[key] = v.transpose(0, 1)
    return out
