"""One forward and backward pass with the recurrent layers recorded, under the model's own loss.

:func:`analyse` runs a model once with every recurrent layer recorded and probed (see
``trace.recording``) and differentiates the model's own loss (classify: cross-entropy against
the true class, or the predicted one; forecast: the training loss against the truth, or the
point forecast's sum; textgen: the next-token loss over the input) w.r.t. each step's hidden
state and w.r.t. the input. :func:`gate_trace`, :func:`hidden_grad_norms` and :func:`saliency`
are the parts of it most often wanted, for a model or a fitted estimator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lstmkit.models import ForecastModel, LanguageModel, SequenceClassifier, SequenceRegressor
from lstmkit.nn.recording import Recording, recording

__all__ = [
    "LOSSES",
    "Analysis",
    "analyse",
    "gate_trace",
    "hidden_grad_norms",
    "model_inputs",
    "saliency",
]


# ------------------------------------------------------------------ each model's call and loss
def _wide(t: Tensor) -> Tensor:
    """At least float32 (a bf16 output is widened; float64 stays float64)."""
    return t.to(torch.promote_types(t.dtype, torch.float32))


# loss(model, out, x, target) -> (per-sample loss (N,), the target it compared with or None)
def _classify_call(model: SequenceClassifier, x: Tensor, lengths: Tensor | None) -> Tensor:
    return model(x, lengths)  # (N, K) logits


def _classify_loss(model, out: Tensor, x: Tensor, target: Tensor | None):
    y = out.argmax(1).detach() if target is None else target  # (N,)
    return F.cross_entropy(_wide(out), y, reduction="none"), y


def _regress_loss(model: SequenceRegressor, out: Tensor, x: Tensor, target: Tensor | None):
    if target is None:  # no truth: how the prediction depends on the inputs
        return _wide(out).sum(1), None
    z = (_wide(out) - target.to(out.device)) / model.target_std  # standardised, as trained
    return z.pow(2).mean(1), target


def _forecast_call(model: ForecastModel, x: Tensor, lengths: Tensor | None) -> Tensor:
    if lengths is not None:
        raise ValueError("a forecaster reads whole look-back windows; lengths do not apply")
    return model(x)  # (N, horizon) or (N, horizon, Q | K)


def _forecast_loss(model: ForecastModel, out: Tensor, x: Tensor, target: Tensor | None):
    cfg = model.config
    if cfg.bins:
        y = out.argmax(-1).detach() if target is None else target  # (N, horizon)
        return F.cross_entropy(_wide(out).transpose(1, 2), y, reduction="none").mean(1), y
    if target is None:  # no truth: how the point forecast depends on the inputs
        qs = list(cfg.quantiles)
        point = out if not qs else out[..., qs.index(0.5)] if 0.5 in qs else out.mean(-1)
        return _wide(point).sum(1), None
    if cfg.quantiles:  # the pinball loss of training, per sample
        q = torch.tensor(cfg.quantiles, device=out.device)
        diff = target.unsqueeze(-1) - _wide(out)  # (N, horizon, Q)
        return torch.maximum(q * diff, (q - 1) * diff).mean((1, 2)), target
    return (_wide(out) - target).pow(2).mean(1), target  # squared error


def _text_call(model: LanguageModel, x: Tensor, lengths: Tensor | None) -> Tensor:
    if lengths is not None:
        raise ValueError("a language model reads whole token sequences; lengths do not apply")
    return model(x)[0]  # (N, L, V)


def _text_loss(model: LanguageModel, out: Tensor, x: Tensor, target: Tensor | None):
    if x.shape[1] < 2:
        raise ValueError(f"the next-token loss needs at least 2 tokens, got {x.shape[1]}")
    y = x[:, 1:]  # (N, L-1): each step predicts the next token
    return F.cross_entropy(_wide(out[:, :-1]).transpose(1, 2), y, reduction="none").mean(1), y


@dataclass(frozen=True)
class _Loss:
    call: Callable[[Any, Tensor, Tensor | None], Tensor]
    loss: Callable[[Any, Tensor, Tensor, Tensor | None], tuple[Tensor, Tensor | None]]
    text: str  # what the loss is, for captions


LOSSES: dict[type, _Loss] = {  # the first class a model is an instance of applies
    SequenceRegressor: _Loss(_classify_call, _regress_loss,
                             "squared error in standardised target units against the true "
                             "value (else the prediction's sum)"),
    SequenceClassifier: _Loss(_classify_call, _classify_loss,
                              "cross-entropy against the true class (else the predicted one)"),
    ForecastModel: _Loss(_forecast_call, _forecast_loss,
                         "the training loss against the known future (else the point "
                         "forecast's sum)"),
    LanguageModel: _Loss(_text_call, _text_loss, "the next-token cross-entropy over the input"),
}  # fmt: skip


def _loss_of(model: nn.Module) -> _Loss:
    for cls, loss in LOSSES.items():
        if isinstance(model, cls):
            return loss
    names = ", ".join(c.__name__ for c in LOSSES)
    raise TypeError(f"inspect works on {names} (or a fitted estimator), got {type(model).__name__}")


# ------------------------------------------------------------------ the pass
@dataclass
class Analysis:
    """What one pass over a batch found (every tensor detached, on the CPU).

    Attributes:
        recordings: one per recurrent layer call (gates and states, see ``Recording``).
        hidden_grads: per recording, dLoss/dh_t of shape (num_layers, D, N, L, H).
        inputs: (N, L, C) the float input the saliency is taken at (for token ids: their
            embedding vectors).
        input_grad: (N, L, C) dLoss/d inputs.
        output: the model's output. loss: (N,) each sample's loss. target: what the loss
            compared with (given, or the prediction), or None.
    """

    recordings: list[Recording]
    hidden_grads: list[Tensor]
    inputs: Tensor
    input_grad: Tensor
    output: Tensor
    loss: Tensor
    target: Tensor | None


def analyse(
    model: nn.Module, x: Tensor, target: Tensor | None = None, lengths: Tensor | None = None
) -> Analysis:
    """Run ``model`` on ``x`` in eval mode, recorded and probed, and differentiate its own loss.

    Args:
        model: a ``SequenceClassifier``, ``SequenceRegressor``, ``ForecastModel`` or
            ``LanguageModel``.
        x: its input: (N, L, C) float, or (N, L) int64 token ids for a language model.
        target: classify (N,) class indices; regress (N, T) values; forecast (N, horizon)
            scaled values (bins: bin indices); None: see the module docstring.
        lengths: (N,) valid lengths (classify).

    The loss is the sum of the per-sample losses, so each sample's gradients are its own.
    """
    spec = _loss_of(model)
    was_training = model.training
    model.eval()
    embedded: list[Tensor] = []
    handle = None
    if x.dtype == torch.int64:  # token ids: the saliency is taken at their embedding vectors

        def keep(module, args, out):
            embedded.append(out.detach().requires_grad_())
            return embedded[-1]

        handle = model.embedding.register_forward_hook(keep)
    else:
        x = x.detach().to(next(model.parameters()).dtype).requires_grad_()
    try:
        with torch.enable_grad(), recording(model, probe=True) as recs:
            out = spec.call(model, x, lengths)
            losses, used = spec.loss(model, out, x, target)  # (N,)
            inputs = embedded[0] if embedded else x
            wrt = [r.probe for r in recs] + [inputs]
            grads = torch.autograd.grad(losses.sum(), wrt, allow_unused=True)
    finally:
        if handle is not None:
            handle.remove()
        model.train(was_training)
    grads = [torch.zeros_like(w) if g is None else g for w, g in zip(wrt, grads, strict=True)]
    recordings = [
        Recording(r.name, r.cell, {k: v.detach().cpu() for k, v in r.values.items()}, None,
                  r.lengths)
        for r in recs
    ]  # fmt: skip
    return Analysis(
        recordings,
        [g.detach().cpu() for g in grads[:-1]],
        inputs.detach().cpu(),
        grads[-1].detach().cpu(),
        out.detach().cpu(),
        losses.detach().cpu(),
        None if used is None else used.detach().cpu(),
    )


# ------------------------------------------------------------------ the parts most wanted
def model_inputs(
    obj: Any, x: Any, y: Any = None, lengths: Any = None
) -> tuple[nn.Module, Tensor, Tensor | None, Tensor | None]:
    """``(model, x, lengths, target)`` for a model (its own tensors), or for a fitted estimator
    from its own kind of input: classify: X (N, L, C) or (N, L) as given and labels y (the
    values the data holds); forecast: a table (its last window is read) or windows
    (N, lookback, C) already scaled, with scaled truth y (N, horizon); textgen: text (its
    first 64 tokens are read)."""
    if isinstance(obj, nn.Module):
        return obj, _tensor(x), _tensor(lengths), _tensor(y)
    from lstmkit.inspect.inputs import INPUTS

    task = getattr(obj, "task", None)
    if not hasattr(obj, "model_") or task not in INPUTS:
        raise TypeError(f"expected a model or a fitted estimator, got {type(obj).__name__}")
    if task in ("classify", "regress"):
        return obj.model_, *INPUTS[task].from_labels(obj, x, y, lengths).batch()
    if task == "forecast" and isinstance(x, np.ndarray | Tensor):
        y = None if y is None else obj._encode(torch.as_tensor(y, dtype=torch.float32))
        return obj.model_, torch.as_tensor(x, dtype=torch.float32), None, y
    text = x if task == "textgen" else None
    return obj.model_, *INPUTS[task].from_source(obj, x, text=text).batch()


def _tensor(v: Any) -> Tensor | None:
    return None if v is None else torch.as_tensor(v)


def _pick(recs: list[Recording], rnn: str | None) -> int:
    names = [r.name for r in recs]
    if rnn is None:
        if len(set(names)) > 1:
            raise ValueError(f"the model has several recurrent layers {names}; choose with rnn=")
        return 0
    if rnn not in names:
        raise ValueError(f"no recurrent layer named {rnn!r}; the model has {names}")
    return names.index(rnn)


def gate_trace(
    obj: Any, x: Any, lengths: Any = None, *, rnn: str | None = None
) -> dict[str, np.ndarray]:
    """The recorded gates and states of the model's recurrent layer: ``"i", "f", "g", "o",
    "c", "h"`` (gru: ``"r", "z", "n", "h"``) -> arrays (num_layers, D, N, L, H).

    ``obj``: a model or a fitted estimator (see ``model_inputs`` for what ``x`` is then);
    ``rnn``: the layer's module name when the model has several (a per-series forecaster).
    """
    model, xt, lt, _ = model_inputs(obj, x, None, lengths)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), recording(model) as recs:
            _loss_of(model).call(model, xt, lt)
    finally:
        model.train(was_training)
    return {k: v.cpu().numpy() for k, v in recs[_pick(recs, rnn)].values.items()}


def hidden_grad_norms(
    obj: Any, x: Any, y: Any = None, lengths: Any = None, *, rnn: str | None = None
) -> np.ndarray:
    """||dLoss/dh_t|| per layer, direction, sample and step: (num_layers, D, N, L).

    The total gradient (through the layers above and every later step), under the model's
    own loss: how strongly the loss still reaches back to step t (the vanishing-gradient
    picture). Zeros at padded steps.
    """
    model, xt, lt, target = model_inputs(obj, x, y, lengths)
    a = analyse(model, xt, target, lt)
    return a.hidden_grads[_pick(a.recordings, rnn)].norm(dim=-1).numpy()


def saliency(
    obj: Any, x: Any, y: Any = None, lengths: Any = None, *, times_input: bool = False
) -> np.ndarray:
    """|dLoss/dx| per sample, step and input channel: (N, L, C), under the model's own loss.

    ``x`` is the model's input after the estimator's preprocessing (for token ids: their
    embedding vectors). ``times_input``: gradient x input instead (signed: positive where the
    input's value raises the loss).
    """
    model, xt, lt, target = model_inputs(obj, x, y, lengths)
    a = analyse(model, xt, target, lt)
    if times_input:
        return (a.input_grad * a.inputs).numpy()
    return a.input_grad.abs().numpy()
