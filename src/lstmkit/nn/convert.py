"""``convert(model)``: every ``torch.nn.LSTM`` / ``torch.nn.GRU`` inside an existing model
replaced by lstmkit's, with the same weights, so that its gates can be recorded
(:func:`lstmkit.nn.recording`), its cell swapped or its kernels changed without touching the
model's code.

Each replacement keeps the torch module's arguments (sizes, layers, ``bias``, ``batch_first``,
dropout, direction), its parameter names (the model's ``state_dict`` keys do not change) and its
return structure: a converted GRU returns ``(output, h_n)`` as ``torch.nn.GRU`` does. With the
default cell the outputs are those of the torch module (to float rounding); a variant cell
(``cell="peephole"``, ``"coupled"``, ``"layernorm"``) starts from the torch weights and adds its
own parameters at their initial values.

Example::

    >>> model = MyTorchModel()                        # holds torch.nn.LSTM layers
    >>> convert(model)                                # the same model, lstmkit's layers
    >>> with recording(model) as recs:
    ...     model(x)
    >>> recs[0].values["f"]                           # its forget gates
"""

from __future__ import annotations

import torch
from torch import nn

from lstmkit.nn.lstm import GRU, LSTM

__all__ = ["convert"]


def _replacement(module: nn.RNNBase, cell: str | None, backend: str, options: dict) -> LSTM:
    """The lstmkit layer (``GRU`` for a GRU) with ``module``'s arguments and weights."""
    gru = isinstance(module, nn.GRU)
    if gru and cell not in (None, "gru"):
        raise ValueError(f"a torch.nn.GRU converts to cell='gru' only, got cell={cell!r}")
    kind = "gru" if gru else (cell or "lstm")
    if not gru and kind == "gru":
        raise ValueError("a torch.nn.LSTM cannot become a GRU: its weights have 4 gates, not 3")
    w = module.weight_ih_l0
    args = (module.input_size, module.hidden_size, module.num_layers, module.bias,
            module.batch_first, float(module.dropout), module.bidirectional)  # fmt: skip
    if gru:
        new = GRU(*args, backend=backend, **options)
    else:
        new = LSTM(*args, module.proj_size, cell=kind, backend=backend, **options)
    new = new.to(device=w.device, dtype=w.dtype)
    missing, unexpected = new.load_state_dict(module.state_dict(), strict=False)
    if unexpected:
        raise ValueError(f"cannot convert {module!r}: lstmkit has no parameter {unexpected[0]!r}")
    if kind in ("lstm", "gru") and missing:
        raise ValueError(f"cannot convert {module!r}: {missing[0]!r} was not filled")
    new.train(module.training)
    return new


def convert(
    model: nn.Module,
    *,
    cell: str | None = None,
    backend: str = "auto",
    **options,
) -> nn.Module:
    """Replace every ``torch.nn.LSTM`` and ``torch.nn.GRU`` in ``model`` (in place) by
    ``lstmkit.nn.LSTM`` with the same arguments and weights; returns the model (the new layer
    itself when ``model`` is one of them).

    Args:
        model: any module.
        cell: the LSTMs' new cell (None: ``"lstm"``, the same function); the GRUs of a model
            stay ``"gru"`` (a lone GRU given another cell is an error).
        backend: the new layers' backend.
        **options: other keyword options of ``lstmkit.nn.LSTM`` (``forget_bias``, ...).

    Raises:
        ValueError: a layer lstmkit cannot represent (``proj_size`` with a backend that has
            no projection), a GRU asked for an LSTM cell or the reverse, or ``model`` holds no
            torch LSTM / GRU.
    """
    kinds = (nn.LSTM, nn.GRU)
    if isinstance(model, kinds) and not isinstance(model, LSTM):
        return _replacement(model, cell, backend, options)
    found = [
        (name, m) for name, m in model.named_modules()
        if isinstance(m, kinds) and not isinstance(m, LSTM)
    ]  # fmt: skip
    if not found:
        raise ValueError(f"{type(model).__name__} holds no torch.nn.LSTM or torch.nn.GRU")
    for name, module in found:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        with torch.no_grad():
            kind = None if isinstance(module, nn.GRU) else cell  # GRUs stay GRUs
            setattr(parent, attr, _replacement(module, kind, backend, options))
    return model
