"""The training half of ``Classifier.fit`` and ``Regressor.fit``: the loss of a step, the
validation pass, and the members of an ensemble, each a Trainer of its own.

One model (``ensemble=1``) trains in the run directory itself, as it always has. An ensemble of
K trains its members one after another with seeds ``seed, seed + 1, ...`` (weights, dropout and
shuffling differ; the validation split and the standardisation are shared), each in
``members/<k>/`` of the run directory (checkpoint.pt, history.csv, model.pt), so that a killed
run resumes at the member and the epoch it was in; the run's own model.pt holds all K.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lstmkit.data import stratified_split
from lstmkit.models import SequenceClassifier
from lstmkit.train import distributed
from lstmkit.train.augment import mixup, window_slice
from lstmkit.train.batches import TensorBatches
from lstmkit.train.checkpoint import atomic_write_text, save_atomic
from lstmkit.train.config import TrainConfig
from lstmkit.train.trainer import EpochCallback, Trainer, history_csv

__all__ = [
    "REGRESSION_LOSSES",
    "evaluate",
    "evaluate_regression",
    "fit_members",
    "hold_out",
    "regression_loss",
    "regression_step",
    "step_loss",
]

REGRESSION_LOSSES = ("mse", "huber", "mae")


def hold_out(
    y_idx: np.ndarray | None, fraction: float, seed: int, n: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(training, validation) indices: a stratified ``fraction`` hold-out of the class indices
    ``y_idx``, or a random one of ``n`` items when ``y_idx`` is None (regression); none for 0."""
    n = n if y_idx is None else len(y_idx)
    if fraction == 0:
        return np.arange(n), np.array([], dtype=np.int64)
    if y_idx is not None:
        return stratified_split(y_idx, fraction, seed)
    order = np.random.default_rng(seed).permutation(n)
    k = min(max(1, round(n * fraction)), n - 1)
    return np.sort(order[k:]).astype(np.int64), np.sort(order[:k]).astype(np.int64)


def _augmented(batch: tuple, augment: str):
    """(x, lengths, mix): the batch's inputs augmented; ``mix`` is (perm, lam) for mixup, the
    targets to blend, else None."""
    x, _, lengths = batch
    if augment == "slice":
        return window_slice(x, lengths), lengths, None
    if augment == "mixup":
        x, lengths, perm, lam = mixup(x, lengths)
        return x, lengths, (perm, lam)
    return x, lengths, None


def plain_forward(model, batch) -> torch.Tensor:
    """The model's output for a training batch as it is (no augmentation): what the batch-norm
    refresh of stochastic weight averaging runs."""
    x, _, lengths = batch
    return model(x, lengths)


def step_loss(model, batch, weight: torch.Tensor | None = None, smoothing: float = 0.0,
              augment: str = "none"):  # fmt: skip
    y = batch[1]
    x, lengths, mix = _augmented(batch, augment)
    logits = model(x, lengths).float()
    w = None if weight is None else weight.to(logits.device)
    loss = F.cross_entropy(logits, y, weight=w, label_smoothing=smoothing)
    if mix is not None:
        perm, lam = mix
        other = F.cross_entropy(logits, y[perm], weight=w, label_smoothing=smoothing)
        loss = lam * loss + (1.0 - lam) * other
    return loss, len(y)


def evaluate(model, batches: TensorBatches, weight: torch.Tensor | None = None) -> dict[str, float]:
    """Validation loss (weighted as in training, so that the best epoch is the best by the
    objective being optimised; never smoothed) and accuracy."""
    total, mass, correct, n = 0.0, 0.0, 0, 0
    device = next(model.parameters()).device
    w = None if weight is None else weight.to(device)
    for x, y, lengths in batches.batches():
        x, y = x.to(device), y.to(device)
        logits = model(x, None if lengths is None else lengths.to(device))
        total += float(F.cross_entropy(logits.float(), y, weight=w, reduction="sum"))
        mass += len(y) if w is None else float(w[y].sum())
        correct += int((logits.argmax(1) == y).sum())
        n += len(y)
    return {"loss": total / max(mass, 1e-12), "accuracy": correct / max(n, 1)}


def regression_loss(pred: torch.Tensor, y: torch.Tensor, scale: torch.Tensor, kind: str,
                    reduction: str = "mean") -> torch.Tensor:  # fmt: skip
    """The loss of predictions against targets, both (N, T), in standardised target units
    (divided by the training targets' spread ``scale`` (T,), so each target weighs alike)."""
    z, t = pred.float() / scale, y / scale
    if kind == "huber":
        return F.huber_loss(z, t, reduction=reduction, delta=1.0)
    if kind == "mae":
        return F.l1_loss(z, t, reduction=reduction)
    return F.mse_loss(z, t, reduction=reduction)


def regression_step(model, batch, kind: str = "mse", augment: str = "none"):
    y = batch[1]
    x, lengths, mix = _augmented(batch, augment)
    target = y
    if mix is not None:
        perm, lam = mix
        target = lam * y + (1.0 - lam) * y[perm]
    loss = regression_loss(model(x, lengths), target, model.target_std, kind)
    return loss, len(y)


@torch.no_grad()
def evaluate_regression(model, batches: TensorBatches, kind: str = "mse") -> dict[str, float]:
    """Validation loss (the training objective) and RMSE / MAE in the targets' units (over all
    targets)."""
    total, sq, ab, n, count = 0.0, 0.0, 0.0, 0, 0
    device = next(model.parameters()).device
    for x, y, lengths in batches.batches():
        x, y = x.to(device), y.to(device)
        pred = model(x, None if lengths is None else lengths.to(device)).float()
        total += float(regression_loss(pred, y, model.target_std, kind, "sum"))
        sq += float(((pred - y) ** 2).sum())
        ab += float((pred - y).abs().sum())
        n, count = n + y.numel(), count + len(y)
    return {"loss": total / max(n, 1), "rmse": (sq / max(n, 1)) ** 0.5, "mae": ab / max(n, 1)}


def fit_members(
    model: SequenceClassifier,
    config: TrainConfig,
    train: TensorBatches,
    val: TensorBatches | None,
    *,
    step: Callable,
    check: Callable,
    run_dir: str | Path | None,
    progress: bool,
    callbacks: Sequence[EpochCallback],
    resume: bool,
    wrap: Callable,
) -> list[Trainer]:
    """Train ``model`` (or each of its ensemble members) in place with the Trainer's
    ``step(model, batch)`` and ``check(model, batches)``; returns the Trainers, one per member.
    ``wrap(trainer)`` runs each member's ``fit`` (the caller's per-epoch lines)."""
    members = [model] if model.members is None else list(model.members)
    trainers = []
    for k, member in enumerate(members):
        folder = None if run_dir is None else Path(run_dir)
        if folder is not None and len(members) > 1:
            folder = folder / "members" / str(k)
        c = replace(config, seed=config.seed + k)
        if len(members) > 1:  # member k starts from seed + k's weights, as one model would
            torch.manual_seed(c.seed)
            member.load_state_dict(type(member)(member.config).state_dict())
        trainer = Trainer(member, c, step, check, folder, progress, callbacks, plain_forward)
        checkpoint = None if folder is None else folder / "checkpoint.pt"
        if resume and checkpoint is not None and (len(members) == 1 or checkpoint.exists()):
            trainer.resume_from(checkpoint)
        wrap(lambda trainer=trainer: trainer.fit(train, val))
        trainers.append(trainer)
    if run_dir is not None and len(members) > 1 and distributed.is_main():
        save_atomic(model.state_dict(), Path(run_dir) / "model.pt")
        atomic_write_text(Path(run_dir) / "history.csv", history_csv(trainers[0].history))
    return trainers
