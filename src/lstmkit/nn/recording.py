"""Recording what the recurrent layers inside a model do, through torch's module hooks.

While ``recording(model)`` is active, every ``lstmkit.nn.LSTM`` inside ``model`` runs with
``record=True`` (and, with ``probe=True``, with a zero ``probe`` whose gradient is dLoss/dh_t,
see ``LSTM.forward``) and each call leaves one :class:`Recording`. The model's own forward runs
unchanged, so any model built on ``lstmkit.nn.LSTM`` (or made of one by
:func:`lstmkit.nn.convert`) can be inspected without code of its own.

Differentiable: with ``backend="reference"`` every recorded tensor is part of the graph, so a
loss on the gates (a saturation penalty) trains; the ``"fused"`` kernels (what ``"auto"`` runs
when recording) return their gates detached (the states ``c`` and ``h`` stay differentiable).

Example::

    >>> with recording(model, probe=True) as recs:
    ...     loss = F.cross_entropy(model(x), y)
    >>> dh = torch.autograd.grad(loss, recs[0].probe)[0]   # (num_layers, D, N, L, H)
    >>> recs[0].values["f"].shape                          # forget gates, same shape
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from lstmkit.nn.lstm import LSTM

__all__ = ["SIGMOID_GATES", "TANH_GATES", "Recording", "recording"]

SIGMOID_GATES = ("i", "f", "o", "r", "z")  # values in (0, 1)
TANH_GATES = ("g", "n")  # values in (-1, 1)


@dataclass
class Recording:
    """One call of one recurrent layer: its gates and states at every step.

    Attributes:
        name: the layer's module path inside the model (``"features.rnn"``, ``"rnn"``).
        cell: the cell type (``"lstm"``, ``"gru"``, ...).
        values: ``"i", "f", "g", "o", "c", "h"`` (gru: ``"r", "z", "n", "h"``) -> tensors of
            shape (num_layers, D, N, L, H), time running forward, zeros at padded steps.
        probe: zeros of the same shape that require grad (``probe=True``), else None: the
            gradient of a loss w.r.t. it is dLoss/dh_t through every path.
        lengths: (N,) valid lengths as the layer saw them (after a strided front end), or None.
    """

    name: str
    cell: str
    values: dict[str, Tensor]
    probe: Tensor | None
    lengths: Tensor | None

    @property
    def gates(self) -> tuple[str, ...]:
        """The gate keys of the cell, in its order (no states)."""
        return tuple(k for k in self.values if k not in ("c", "h"))

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        """(num_layers, D, N, L, H)."""
        return tuple(self.values["h"].shape)  # type: ignore[return-value]


@contextmanager
def recording(model: nn.Module, probe: bool = False) -> Iterator[list[Recording]]:
    """Collect a :class:`Recording` for every call of every ``lstmkit.nn.LSTM`` in ``model``.

    Args:
        model: any module; its lstmkit recurrent layers are found by ``named_modules``.
        probe: also pass a zero probe that requires grad (the layers then run step by step);
            take the gradient of a loss w.r.t. ``Recording.probe`` for dLoss/dh_t.

    Yields the list the recordings are appended to, in call order. The hooks are removed on
    exit, also after an error.
    """
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, LSTM)]
    if not layers:
        raise ValueError(
            f"{type(model).__name__} holds no lstmkit.nn.LSTM layer; nothing to record"
        )
    recs: list[Recording] = []
    handles = []
    for name, module in layers:
        handles.append(module.register_forward_pre_hook(_pre_hook(probe), with_kwargs=True))
        handles.append(module.register_forward_hook(_post_hook(name, recs), with_kwargs=True))
    try:
        yield recs
    finally:
        for h in handles:
            h.remove()


def _pre_hook(probe: bool):
    def hook(module: LSTM, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        if len(args) > 3 or "record" in kwargs or "probe" in kwargs:
            raise ValueError("recording() sets record= and probe= itself; call the layer without")
        kwargs = dict(kwargs, record=True)
        if probe:
            shape = module.probe_shape(args[0])
            w = module.weight_ih_l0
            kwargs["probe"] = torch.zeros(shape, dtype=w.dtype, device=w.device,
                                          requires_grad=True)  # fmt: skip
        return args, kwargs

    return hook


def _post_hook(name: str, recs: list[Recording]):
    def hook(module: LSTM, args: tuple, kwargs: dict, output: tuple) -> tuple:
        out, state, values = output
        lengths = kwargs.get("lengths", args[2] if len(args) > 2 else None)
        if lengths is not None:
            lengths = torch.as_tensor(lengths).detach().cpu()
        recs.append(Recording(name, module.cell, values, kwargs.get("probe"), lengths))
        return out, state

    return hook
