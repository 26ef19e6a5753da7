"""``lstmkit.nn.LSTMStream``: online inference, one time step per call, the state carried.

A sensor reading arrives, the model updates its state and answers at once; the next reading
continues from there. ``LSTM.forward`` could do this with ``hx`` and a length-1 sequence, but it
pays for input checks, backend choice and the sequence machinery on every call; a stream keeps
each layer's parameters at hand and runs one step of the cell directly (torch's fused
``lstm_cell`` / ``gru_cell`` for plain cells, the step function of ``kernels.steps`` for the
variants).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from lstmkit.kernels.steps import STEPS
from lstmkit.nn.lstm import LSTM

__all__ = ["LSTMStream"]

State = tuple[Tensor, Tensor | None]


class LSTMStream:
    """Feed ``x_t`` (N, I) per call; get the top layer's ``h_t`` (N, H); ``(h, c)`` of every
    layer is carried to the next call. Unidirectional layers only (a stream has no future).

    Args:
        lstm: a trained ``lstmkit.nn.LSTM``; the stream reads its parameters live.
        state: the starting ``(h, c)``, each (num_layers, N, H) as ``LSTM`` returns it (c None
            for gru), or None for zeros on the first call.

    Stepping through a sequence gives ``LSTM.forward``'s output at every step and its final
    state (tested to 1e-6). Dropout between layers is not applied (a stream is inference).

    Example::

        >>> lstm = LSTM(3, 16, num_layers=2, batch_first=True).eval()
        >>> stream = LSTMStream(lstm)
        >>> with torch.no_grad():
        ...     for x_t in readings:  # each (1, 3)
        ...         h_t = stream.step(x_t)  # (1, 16): act on it now
        >>> h_n, c_n = stream.state  # (2, 1, 16) each
    """

    def __init__(self, lstm: LSTM, state: State | None = None) -> None:
        if not isinstance(lstm, LSTM):
            raise TypeError(f"LSTMStream needs a lstmkit.nn.LSTM, got {type(lstm).__name__}")
        if lstm.bidirectional:
            raise ValueError(
                "a bidirectional LSTM cannot stream: its backward direction reads the future; "
                "use forward() on whole sequences"
            )
        self.lstm = lstm
        self.spec = lstm.spec
        layers = range(lstm.num_layers)
        self._layers = [self.spec.layer_dict(lstm._layer_params(k, 0)) for k in layers]
        self._proj = [lstm._proj(k, 0) for k in layers]
        self.state: State | None = None
        if state is not None:
            self.state = (state[0], state[1] if self.spec.has_cell_state else None)

    def reset(self, state: State | None = None) -> None:
        """Start again from ``state`` (zeros when None)."""
        self.state = state

    def step(self, x: Tensor) -> Tensor:
        """One time step: x (N, I) -> the top layer's h (N, H); the state moves on."""
        lstm = self.lstm
        if x.dim() != 2 or x.shape[1] != lstm.input_size:
            raise ValueError(
                f"a stream step takes x of shape (N, {lstm.input_size}), got {tuple(x.shape)}"
            )
        p0 = self._layers[0]["weight_ih"]
        x = x.to(p0.dtype)
        if self.state is None:
            zeros = x.new_zeros((lstm.num_layers, x.shape[0], lstm.hidden_size))
            h0 = x.new_zeros((lstm.num_layers, x.shape[0], lstm.output_size))
            self.state = (h0, zeros if self.spec.has_cell_state else None)
        h_all, c_all = self.state
        hs, cs = [], []
        for k, p in enumerate(self._layers):
            h, c = h_all[k], None if c_all is None else c_all[k]
            h, c = self._cell(x, h, c, p)  # (N, H) each
            if self._proj[k] is not None:
                h = F.linear(h, self._proj[k])  # (N, P)
            hs.append(h)
            cs.append(c)
            x = h
        self.state = (torch.stack(hs), torch.stack(cs) if c_all is not None else None)
        return x

    __call__ = step

    def _cell(self, x: Tensor, h: Tensor, c: Tensor | None, p: dict) -> tuple[Tensor, Tensor]:
        if self.spec.name == "lstm" and h.shape[-1] == c.shape[-1]:
            # torch's fused one-step kernels for the plain cells (without projections)
            return torch.lstm_cell(x, (h, c), p["weight_ih"], p["weight_hh"],
                                   p.get("bias_ih"), p.get("bias_hh"))  # fmt: skip
        if self.spec.name == "gru":
            h = torch.gru_cell(x, h, p["weight_ih"], p["weight_hh"], p.get("bias_ih"),
                               p.get("bias_hh"))  # fmt: skip
            return h, None
        xp = F.linear(x, p["weight_ih"], p.get("bias_ih"))  # (N, G)
        h, c, _ = STEPS[self.spec.name](xp, h, c, p)
        return h, c
