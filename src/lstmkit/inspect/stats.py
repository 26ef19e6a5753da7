"""Forget-gate statistics: how many units have saturated near 0 (forget) or 1 (keep)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["forget_stats", "keep_gate", "valid_mask"]


def keep_gate(values: Mapping[str, Any]) -> str:
    """The gate that decides how much of the old state survives a step: ``"f"`` (c_t = f⊙c_{t-1}
    + ...), or for a GRU its update gate ``"z"`` (h_t = (1 - z)⊙n + z⊙h_{t-1})."""
    for key in ("f", "z"):
        if key in values:
            return key
    raise ValueError(f"no forget gate ('f') or update gate ('z') among {sorted(values)}")


def valid_mask(n: int, length: int, lengths: Any = None) -> np.ndarray:
    """(N, L) True at the steps inside each sequence's length (all of them without lengths)."""
    if lengths is None:
        return np.ones((n, length), dtype=bool)
    lengths = np.asarray(lengths).reshape(n, 1)
    return np.arange(length)[None, :] < lengths


def forget_stats(
    values: Mapping[str, Any], lengths: Any = None, low: float = 0.1, high: float = 0.9
) -> dict[str, Any]:
    """Saturation of the forget gate per layer and direction, over the valid steps.

    Args:
        values: recorded arrays (``LSTM(..., record=True)``'s dict or a ``Recording.values``),
            each (num_layers, D, N, L, H); ``"f"`` is used, or ``"z"`` for a GRU.
        lengths: (N,) valid lengths; padded steps are left out. None: every step counts.
        low, high: a value below ``low`` saturates towards forgetting, above ``high`` towards
            keeping the old state.

    Returns:
        ``{"gate", "low", "high", "layers": [...]}``, one entry per layer and direction:
        ``layer``, ``direction``, ``count`` (values counted), ``share_low`` / ``share_high``
        (fractions of the values below ``low`` / above ``high``), ``mean`` and per unit
        ``unit_mean``, ``unit_share_low``, ``unit_share_high`` (lists of H floats).
    """
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"need 0 <= low < high <= 1, got low={low}, high={high}")
    gate = keep_gate(values)
    f = _numpy(values[gate])  # (num_layers, D, N, L, H)
    if f.ndim != 5:
        raise ValueError(f"{gate} must be (num_layers, D, N, L, H), got shape {f.shape}")
    num_layers, num_dirs, n, length, _ = f.shape
    mask = valid_mask(n, length, lengths)  # (N, L)
    layers = []
    for k in range(num_layers):
        for d in range(num_dirs):
            v = f[k, d][mask]  # (valid steps, H)
            layers.append({
                "layer": k,
                "direction": d,
                "count": int(v.size),
                "share_low": float((v < low).mean()),
                "share_high": float((v > high).mean()),
                "mean": float(v.mean()),
                "unit_mean": v.mean(0).tolist(),
                "unit_share_low": (v < low).mean(0).tolist(),
                "unit_share_high": (v > high).mean(0).tolist(),
            })  # fmt: skip
    return {"gate": gate, "low": low, "high": high, "layers": layers}


def _numpy(v: Any) -> np.ndarray:
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    return np.asarray(v, dtype=np.float64)
