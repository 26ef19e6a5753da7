"""Input validation for the recurrent modules: one clear error per user mistake."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "ShapeError",
    "check_cell_options",
    "check_input",
    "check_lengths",
    "check_positive_int",
    "check_state",
]


class ShapeError(ValueError, RuntimeError):
    """A tensor of the wrong shape. torch.nn.LSTM raises RuntimeError for these, lstmkit always
    raised ValueError: this is both, so code written against either keeps catching it."""


def check_positive_int(name: str, v: object) -> None:
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")


def check_cell_options(spec, cell: str, bias: bool, forget_bias: object) -> None:
    """forget_bias needs a forget gate and a bias to set."""
    if forget_bias is None:
        return
    if spec.forget_block is None:
        raise ValueError(f"forget_bias does not apply to cell={cell!r} (it has no forget gate)")
    if not bias:
        raise ValueError("forget_bias needs bias=True (there is no bias to set); drop one of them")
    if not isinstance(forget_bias, int | float) or isinstance(forget_bias, bool):
        raise TypeError(f"forget_bias must be a number or None, got {forget_bias!r}")


def check_input(x: Tensor, input_size: int, dtype: torch.dtype) -> None:
    """x is the 3-D batch (unbatched inputs already have their batch dimension)."""
    if x.size(-1) != input_size:
        raise ShapeError(
            f"input.size(-1) must be equal to input_size. Expected {input_size}, got {x.size(-1)}"
        )
    if not torch.is_floating_point(x):
        raise TypeError(f"input must be a floating-point tensor ({dtype}), got {x.dtype}")
    if x.dtype != dtype:
        raise TypeError(
            f"input dtype {x.dtype} does not match the parameters' dtype {dtype}; "
            f"convert with x.to({dtype}) or the module with .to({x.dtype})"
        )
    if x.size(0) == 0 or x.size(1) == 0:
        raise ShapeError(f"input must have a non-empty batch and length, got {tuple(x.shape)}")


def check_lengths(lengths: object, n: int, length: int, device: torch.device) -> Tensor:
    """Return lengths as an int64 tensor on ``device``, after checking 1 <= lengths <= L."""
    if isinstance(lengths, Tensor):
        if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
            raise TypeError(f"lengths must hold integers, got dtype {lengths.dtype}")
        t = lengths.to(device=device, dtype=torch.long)
    else:
        try:
            t = torch.as_tensor(lengths, device=device)
        except (TypeError, ValueError, RuntimeError) as e:
            raise TypeError(
                f"lengths must be a 1-D integer tensor or list, got {type(lengths).__name__}"
            ) from e
        if t.dtype.is_floating_point or t.dtype == torch.bool or t.is_complex():
            raise TypeError(f"lengths must hold integers, got {t.dtype} values")
        t = t.to(torch.long)
    if t.dim() != 1 or t.numel() != n:
        raise ValueError(
            f"lengths must have shape ({n},) (one length per sequence), got {tuple(t.shape)}"
        )
    lo, hi = int(t.min()), int(t.max())
    if lo < 1 or hi > length:
        raise ValueError(f"lengths must lie in [1, {length}] (the padded length), got {lo}..{hi}")
    return t


def check_state(
    name: str, s: object, shape: tuple[int, ...], x: Tensor, torch_name: str | None = None
) -> None:
    """``s`` is a tensor of ``shape`` in x's dtype. With ``torch_name`` (``"hidden[0]"``, ...) a
    wrong shape is reported in torch.nn.LSTM's words."""
    if not isinstance(s, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {shape}, got {type(s).__name__}")
    if tuple(s.shape) != shape:
        if torch_name is not None:
            raise ShapeError(f"Expected {torch_name} size {shape}, got {list(s.shape)}")
        raise ShapeError(f"{name} must have shape {shape}, got {tuple(s.shape)}")
    if s.dtype != x.dtype:
        raise TypeError(f"{name} dtype must match the input's ({x.dtype}), got {s.dtype}")


def cast_state(hx, dtype: torch.dtype):
    """hx (a tensor, an (h, c) pair with c possibly None, or None) in ``dtype``."""
    if isinstance(hx, Tensor):
        return hx.to(dtype)
    if isinstance(hx, tuple | list):
        return tuple(t.to(dtype) if isinstance(t, Tensor) else t for t in hx)
    return hx
