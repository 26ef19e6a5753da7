"""``lstmkit.nn.LSTMCell``: one step of any cell type."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmkit.kernels.cells import get_cell
from lstmkit.kernels.steps import STEPS
from lstmkit.nn._checks import (
    ShapeError,
    cast_state,
    check_cell_options,
    check_positive_int,
    check_state,
)
from lstmkit.nn.params import init_layer, make_layer_params

__all__ = ["GRUCell", "LSTMCell"]


class LSTMCell(nn.Module):
    r"""One recurrent step: ``(h, c) = cell(x, (h, c))``.

    Same equations and parameter names as ``torch.nn.LSTMCell`` / ``torch.nn.GRUCell``
    (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``) plus the variant's own parameters.

    Args (torch.nn.LSTMCell's in its order, then lstmkit's as keywords):
        input_size: I. hidden_size: H. bias: use ``bias_ih`` / ``bias_hh``.
        device, dtype: where and in which dtype the parameters are made.
        cell: ``"lstm" | "peephole" | "coupled" | "gru" | "layernorm"``.
        forget_bias: initial forget-gate bias, or None.

    Inputs: x (N, I) and the carry ``(h, c)``, each (N, H) (zeros when None; gru ignores c);
        or one unbatched step, x (I,) and states (H,), as torch's cells take.
    Outputs: ``(h, c)``, each (N, H) ((H,) unbatched); c is None for gru.

    Example::

        >>> cell = LSTMCell(8, 16, cell="coupled")
        >>> h, c = cell(torch.randn(4, 8))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        cell: str = "lstm",
        forget_bias: float | None = None,
    ) -> None:
        super().__init__()
        check_positive_int("input_size", input_size)
        check_positive_int("hidden_size", hidden_size)
        self.spec = get_cell(cell)
        check_cell_options(self.spec, cell, bias, forget_bias)
        self.input_size, self.hidden_size, self.cell, self.bias = (
            input_size,
            hidden_size,
            cell,
            bias,
        )
        params = make_layer_params(self.spec, input_size, hidden_size, bias)
        for n, p in params.items():
            self.register_parameter(n, p)
        init_layer(self.spec, params, hidden_size, forget_bias=forget_bias)
        if device is not None or dtype is not None:
            self.to(device=device, dtype=dtype)

    def forward(
        self, x: Tensor, hx: Tensor | tuple[Tensor, Tensor | None] | None = None
    ) -> tuple[Tensor, Tensor | None]:
        name = "GRUCell" if self.cell == "gru" else "LSTMCell"
        if not isinstance(x, Tensor):
            raise TypeError(f"{name} expects x, a tensor (N, I) or (I,), got {type(x).__name__}")
        if x.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {x.dim()}D instead")
        batched = x.dim() == 2
        hx = _cell_states(name, hx, batched)
        h, c = self._step(x if batched else x.unsqueeze(0), hx)
        if batched:
            return h, c
        return h.squeeze(0), None if c is None else c.squeeze(0)

    def _step(self, x: Tensor, hx) -> tuple[Tensor, Tensor | None]:
        if x.size(1) != self.input_size:
            raise ShapeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                f"got {x.size(1)}"
            )
        dtype = self.weight_ih.dtype
        if torch.is_autocast_enabled(x.device.type) and x.is_floating_point():
            # the step runs in the parameters' dtype under autocast (as nn.LSTM does)
            x = x.to(dtype)
            hx = cast_state(hx, dtype)
            with torch.autocast(x.device.type, enabled=False):
                return self._step(x, hx)
        if x.dtype != dtype:
            raise TypeError(
                f"input dtype {x.dtype} does not match the parameters' dtype {dtype}; "
                f"convert with x.to({dtype}) or the cell with .to({x.dtype})"
            )
        shape = (x.size(0), self.hidden_size)
        has_c = self.spec.has_cell_state
        if hx is None:
            h = x.new_zeros(shape)
            c = h if has_c else None
        elif isinstance(hx, Tensor) and not has_c:
            h, c = hx, None  # torch.nn.GRUCell's form
        elif isinstance(hx, tuple | list) and len(hx) == 2:
            h, c = hx
        else:
            need = "(h, c)" if has_c else "h or (h, None)"
            raise TypeError(f"hx must be {need} or None, got {type(hx).__name__}")
        if hx is not None:
            check_state("h", h, shape, x)
            if has_c:
                check_state("c", c, shape, x)
            else:
                c = None
        p = {n: t for n, t in self.named_parameters(recurse=False)}
        xp = F.linear(x, p["weight_ih"], p.get("bias_ih"))  # (N, G)
        h, c, _ = STEPS[self.cell](xp, h, c, p)
        return h, c


def _cell_states(name: str, hx: object, batched: bool) -> object:
    """torch's rule for a cell's states: 1-D or 2-D (given a batch dimension of 1 with an
    unbatched input). Anything else is left to the checks of ``_step``."""
    tensors = [hx] if isinstance(hx, Tensor) else list(hx) if isinstance(hx, tuple | list) else []
    for idx, v in enumerate(tensors):
        if isinstance(v, Tensor) and v.dim() not in (1, 2):
            what = "hidden" if isinstance(hx, Tensor) else f"hx[{idx}]"
            raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {v.dim()}D instead")
    if batched or hx is None:
        return hx
    if isinstance(hx, Tensor):
        return hx.unsqueeze(0)
    if isinstance(hx, tuple | list):
        return tuple(v.unsqueeze(0) if isinstance(v, Tensor) else v for v in hx)
    return hx


class GRUCell(LSTMCell):
    """``torch.nn.GRUCell``'s signature and results: ``h' = cell(x, h)``, a tensor (N, H).

    Example::

        >>> h = GRUCell(8, 16)(torch.randn(4, 8))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype, cell="gru")

    def forward(self, x: Tensor, hx: Tensor | None = None) -> Tensor:  # type: ignore[override]
        return super().forward(x, hx)[0]
